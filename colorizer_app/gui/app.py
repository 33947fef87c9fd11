"""Starting the desktop app."""

from __future__ import annotations

import sys
from pathlib import Path

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from colorizer_app import __version__
from colorizer_app.paths import ICON, STYLESHEET, resource, sample_photo


def application_icon() -> QIcon:
    return QIcon(str(resource(ICON)))


def apply_style(app: QApplication) -> None:
    """The app's icon and its small stylesheet on top of the platform style."""
    app.setWindowIcon(application_icon())
    app.setStyleSheet(resource(STYLESHEET).read_text(encoding="utf-8"))


def run(path: str | None = None) -> int:
    """Open the main window (with ``path``, or the bundled sample photo) and run the app."""
    from colorizer_app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Python's cyclic GC only on the GUI thread: a collection that happens to run on a worker
    # thread and frees Qt objects crashes Qt (pyqtgraph's documented remedy).
    collector = GarbageCollector(interval=1.0)  # noqa: F841 - kept alive until exec() returns
    app.setApplicationName("Colorizer")
    app.setOrganizationName("Colorizer")
    app.setApplicationVersion(__version__)
    apply_style(app)
    window = MainWindow()
    window.show()
    window.open_path(Path(path) if path else sample_photo())
    return app.exec()
