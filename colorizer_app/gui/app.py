"""Starting the desktop app."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from colorizer_app import __version__
from colorizer_app.paths import sample_photo


def run(path: str | None = None) -> int:
    """Open the main window (with ``path``, or the bundled sample photo) and run the app."""
    from colorizer_app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Colorizer")
    app.setOrganizationName("Colorizer")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    window.open_path(Path(path) if path else sample_photo())
    return app.exec()
