"""Fixtures shared by the GUI tests (imported by each test_gui_* module)."""

import time

import pytest
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


@pytest.fixture
def messages(monkeypatch):
    seen = []

    def record(parent, title, text, *args, **kwargs):
        seen.append((title, text))
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "warning", record)
    return seen


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_file):
    QStandardPaths.setTestModeEnabled(True)
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.resize(900, 600)
    win.show()
    win.workspace.controls.add_model(tiny_model_file)
    win.batch.controls.add_model(tiny_model_file)
    yield win
    for tab in win._tabs():
        tab.shutdown()
    win.workspace.shutdown()
