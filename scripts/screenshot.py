"""Screenshots of the real window under Xvfb for the README and the user guide.

Usage (from the repository root; X = xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python):
  X scripts/screenshot.py colorize PHOTO OUT.png [--hints HINTS.json] [--tool] [--mode split]
  X scripts/screenshot.py batch FOLDER OUT.png
  X scripts/screenshot.py train FOLDER OUT.png

colorize: the photo colorized, before/after split (``--hints``: with that hint file as the
photo's sidecar, its markers shown; ``--tool``: the Hints tool on). batch: FOLDER colorized
into a temporary folder. train: a short fine-tune of the default model on the colour photos
in FOLDER, captured after a few validations. Settings and runs go to a temporary app-data folder.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from colorizer_app.gui.app import apply_style  # noqa: E402
from colorizer_app.gui.main_window import MainWindow  # noqa: E402
from colorizer_app.gui.viewer import Mode  # noqa: E402

W, H = 1400, 900


def wait(app, condition, seconds=600):
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["colorize", "batch", "train"])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--hints", type=Path, help="a hint file: the photo's sidecar")
    parser.add_argument("--tool", action="store_true", help="the Hints tool on")
    parser.add_argument("--mode", choices=["colorized", "split"], default="split")
    args = parser.parse_args()
    kind, source, out = args.kind, args.source, args.out
    scratch = Path(tempfile.mkdtemp(prefix="colorizer-shot-"))
    if args.hints:  # the photo and its sidecar side by side, in a scratch folder
        photo = scratch / "photos" / source.name
        photo.parent.mkdir()
        shutil.copy(source, photo)
        shutil.copy(args.hints, photo.with_name(photo.name + ".hints.json"))
        source = photo
    os.environ["XDG_DATA_HOME"] = str(scratch / "data")  # user models, runs: not the real ones
    app = QApplication([])
    app.setApplicationName("Colorizer")
    app.setOrganizationName("Colorizer")
    apply_style(app)
    print(
        "app data:",
        QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation),
    )
    win = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
    win.setGeometry(0, 0, W, H)
    win.show()
    if kind == "colorize":
        ws = win.workspace
        ws.open_path(source)
        wait(app, lambda: ws.doc is not None and not ws.busy())
        ws.hint_editor.tool_action.setChecked(args.tool)
        ws.colorize()
        wait(app, lambda: ws.doc.ab is not None and not ws.busy())
        if args.mode == "split":
            ws.viewer.set_mode(Mode.SPLIT)
            ws.viewer.set_split(0.45)
    elif kind == "batch":
        tab = win.batch
        win.tabs.setCurrentWidget(tab)
        tab.input_edit.setText(str(source))
        tab.output_edit.setText(str(scratch / "colorized"))
        tab.start(confirm=False)
        wait(app, lambda: not tab.has_unfinished_work())
    elif kind == "train":
        tab = win.train
        win.tabs.setCurrentWidget(tab)
        tab.color_edit.setText(str(source))
        tab.check_data()
        wait(app, lambda: not tab.data.checking)
        tab.length_unit.setCurrentText("steps")
        tab.length.setValue(60)
        tab.image_size.setCurrentText("128")
        tab.run_name.setText("Family album")
        tab.start()
        evals = []
        tab.process.event.connect(lambda e: evals.append(e) if e.get("event") == "eval" else None)
        wait(app, lambda: len(evals) >= 4 or not tab.process.running, 900)
        wait(app, lambda: False, 1.0)
    wait(app, lambda: False, 1.0)
    app.primaryScreen().grabWindow(0, 0, 0, W, H).save(str(out))
    for t in win._tabs():
        t.shutdown()
    print("saved", out)


if __name__ == "__main__":
    main()
