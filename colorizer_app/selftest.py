"""``colorizer --self-test``: prove that this installation (or bundle) works, offscreen.

Checks, in order: the shipped model loads; the bundled sample photo colorizes through the
engine with its luminance kept and real colour added; the result survives an atomic write and
a read back; the desktop window (Qt, pyqtgraph, resources, every tab) builds offscreen. Prints
one line per check and exits 0 only if all pass.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIN_COLOURFULNESS = 3.0  # Hasler-Suesstrunk; a gray image scores 0
MAX_LUMINANCE_ERROR = 2.0  # mean |L_out - L_in| in L* units (8-bit rounding is ~0.3)


def run_self_test(out=None, gui: bool = True) -> int:
    out = out or sys.stdout
    results: list[bool] = []
    state: dict = {}

    def check(name: str, fn: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail = fn()
            ok = True
        except Exception as err:  # a self-test reports every failure, whatever its type
            detail, ok = f"{type(err).__name__}: {err}", False
        took = time.perf_counter() - started
        print(f"[{'ok' if ok else 'FAIL'}] {name} ({took:.1f} s): {detail}", file=out, flush=True)
        results.append(ok)

    def load_model() -> str:
        from models.modelfile import default_model_path, load_generator

        path = default_model_path()
        if path is None:
            raise RuntimeError("no default model is shipped in this build")
        state["generator"] = load_generator(path)
        info = state["generator"].info
        return f"{path.name}, {info.name or 'unnamed'}, {info.color_space}"

    def colorize_sample() -> str:
        import numpy as np

        from colorizer_app.engine import ColorizeSettings, colorize, read_image
        from colorizer_app.paths import sample_photo
        from models.color import luminance
        from trainer.metrics import colourfulness

        photo = read_image(sample_photo())
        settings = ColorizeSettings(device="cpu")
        rgb = colorize(photo.pixels, settings.make_runner(state["generator"]), settings)
        if rgb.shape[:2] != photo.pixels.shape[:2]:
            raise RuntimeError(f"output size {rgb.shape[:2]} != input {photo.pixels.shape[:2]}")
        error = float(np.abs(luminance(rgb) - luminance(photo.pixels)).mean())
        colour = colourfulness(rgb)
        if error > MAX_LUMINANCE_ERROR:
            raise RuntimeError(f"luminance changed by {error:.2f} L* on average")
        if colour < MIN_COLOURFULNESS:
            raise RuntimeError(f"the output is nearly gray (colourfulness {colour:.1f})")
        state["rgb"] = rgb
        return f"{rgb.shape[1]}x{rgb.shape[0]}, colourfulness {colour:.1f}, L error {error:.2f}"

    def write_and_read() -> str:
        import numpy as np

        from colorizer_app.engine import read_image, write_image

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "selftest.png"
            write_image(path, state["rgb"])
            back = read_image(path).pixels
            leftovers = [p.name for p in Path(folder).iterdir() if p.name != path.name]
        if not np.array_equal(back, state["rgb"]):
            raise RuntimeError("the written PNG reads back different")
        if leftovers:
            raise RuntimeError(f"temporary files left behind: {leftovers}")
        return "PNG written atomically and read back identical"

    def build_window() -> str:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from colorizer_app.gui.app import application_icon
        from colorizer_app.gui.main_window import MainWindow

        app = QApplication.instance() or QApplication(["colorizer", "--self-test"])
        with tempfile.TemporaryDirectory() as folder:
            store = QSettings(str(Path(folder) / "selftest.ini"), QSettings.Format.IniFormat)
            window = MainWindow(store)
            window.show()
            app.processEvents()
            tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
            icon_ok = not application_icon().isNull()
            window.close()
            app.processEvents()
        if not icon_ok:
            raise RuntimeError("the application icon did not load")
        return f"{app.platformName()} platform, tabs: {', '.join(tabs)}"

    check("load the default model", load_model)
    if results[-1]:
        check("colorize the sample photo", colorize_sample)
        if results[-1]:
            check("write and read back", write_and_read)
    if gui:
        check("build the window offscreen", build_window)
    passed = all(results)
    print(
        f"self-test {'passed' if passed else 'FAILED'}: {sum(results)}/{len(results)} checks",
        file=out,
    )
    return 0 if passed else 1
