"""Fixtures shared by the GUI tests (imported by each test_gui_* module)."""

import gc
import time

import pytest
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QApplication, QMessageBox

from colorizer_app.gui import workers
from colorizer_app.gui.main_window import MainWindow


@pytest.fixture(autouse=True)
def no_dangling_threads(request):
    """Fail a Qt test that leaves worker threads running (napari's _dangling_qthreads idea)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    deadline = time.monotonic() + 20
    while workers.live_threads():
        QApplication.processEvents()  # let finished threads deliver their last signals
        time.sleep(0.01)
        if time.monotonic() > deadline:
            pytest.fail(f"worker threads still running: {workers.live_threads()}")
    gc.collect()  # free this test's Qt objects here, not later on some worker thread


@pytest.fixture
def messages(monkeypatch):
    seen = []

    def record(parent, title, text, *args, **kwargs):
        seen.append((title, text))
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "warning", record)
    return seen


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_file, monkeypatch):
    QStandardPaths.setTestModeEnabled(True)
    # closing with work still running asks first; a test that failed mid-run must not hang there
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes, raising=True
    )
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.resize(900, 600)
    win.show()
    win.workspace.controls.add_model(tiny_model_file)
    win.batch.controls.add_model(tiny_model_file)
    # Python's cyclic GC only on this (GUI) thread: a collection on a worker thread that
    # frees Qt objects (an earlier test's window) crashes Qt. The app does the same.
    collector = GarbageCollector(interval=0.5)
    yield win
    for tab in win._tabs():
        tab.shutdown()
    win.workspace.shutdown()
    win.close()
    collector.timer.stop()
    gc.enable()
    gc.collect()
