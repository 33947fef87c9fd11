"""Take the README's screenshot: the real window under Xvfb, a historical photo colorized.

Usage: xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshot.py PHOTO OUT.png
"""

import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from colorizer_app.gui.main_window import MainWindow  # noqa: E402
from colorizer_app.gui.viewer import Mode  # noqa: E402


def wait(app, condition, seconds=300):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    photo, out = sys.argv[1], sys.argv[2]
    app = QApplication([])
    win = MainWindow()
    win.setGeometry(0, 0, 1400, 900)
    win.show()
    ws = win.workspace
    ws.open_path(photo)
    wait(app, lambda: ws.doc is not None and not ws.busy())
    ws.colorize()
    wait(app, lambda: ws.doc.ab is not None and not ws.busy())
    ws.viewer.set_mode(Mode.SPLIT)
    ws.viewer.set_split(0.45)
    wait(app, lambda: False, 1.0)
    shot = app.primaryScreen().grabWindow(0, 0, 0, 1400, 900)
    shot.save(out)
    ws.shutdown()
    print("saved", out)


if __name__ == "__main__":
    main()
