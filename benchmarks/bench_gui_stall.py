"""Benchmark: the longest GUI event-loop stall while the app opens and colorizes a 24 MP photo.

A QTimer fires every 5 ms on the GUI thread and records the gap since its previous tick; the
longest gap is the worst stall a user would feel. Phases: opening (decode + pyramid on a worker),
colorizing (tiles on a worker, live previews composed on the GUI thread), recomposing after a
strength change, and editing colour hints (--hint-edits hints placed one after another, each
waiting for its result; with a hint-capable model). For the hint edits the latency from the
change to the updated view (the network's result shown) is measured too. Offscreen Qt;
medians over --repeats runs.

Usage: QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_stall.py [--model FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--megapixels", type=float, default=24)
    parser.add_argument("--render-size", default="1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hint-edits", type=int, default=5)
    args = parser.parse_args()

    import cv2
    from PySide6.QtCore import QElapsedTimer, QSettings, QStandardPaths, QTimer
    from PySide6.QtWidgets import QApplication

    from colorizer_app.engine.hints import sidecar_path
    from colorizer_app.gui.main_window import MainWindow
    from models.modelfile import default_model_path

    app = QApplication.instance() or QApplication([])
    QStandardPaths.setTestModeEnabled(True)
    cache = ROOT / "bench-out"
    cache.mkdir(exist_ok=True)
    photo = cache / f"gui-{args.megapixels:g}mp.jpg"
    if not photo.exists():
        h = int((args.megapixels * 1e6 / 1.5) ** 0.5)
        rng = np.random.default_rng(0)
        small = cv2.resize(rng.random((12, 18), dtype=np.float32), (int(h * 1.5), h))
        img = np.clip(small * 180 + 40 + rng.normal(0, 10, small.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(photo), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    model = Path(args.model) if args.model else default_model_path()
    if model is None:
        sys.exit("no model: pass --model FILE")

    results: dict[str, list[float]] = {"open": [], "colorize": [], "strength": [], "hint edit": []}
    latencies: list[float] = []
    for _ in range(args.repeats):
        sidecar_path(photo).unlink(missing_ok=True)  # the last repeat's hints: start without
        win = MainWindow(QSettings(str(cache / "gui-bench.ini"), QSettings.Format.IniFormat))
        win.resize(1280, 800)
        win.show()
        ws = win.workspace
        ws.controls.add_model(model)
        ws.controls.render.setCurrentText(args.render_size)
        worst = {"gap": 0.0}
        clock = QElapsedTimer()
        clock.start()
        last = {"t": clock.nsecsElapsed()}

        def tick(last=last, worst=worst, clock=clock):
            now = clock.nsecsElapsed()
            worst["gap"] = max(worst["gap"], (now - last["t"]) / 1e6)
            last["t"] = now

        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(tick)
        timer.start()

        def phase(name, start, done, worst=worst, last=last, clock=clock):
            app.processEvents()
            last["t"] = clock.nsecsElapsed()
            worst["gap"] = 0.0
            start()
            deadline = time.monotonic() + 600
            while not done() and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.001)
            results[name].append(worst["gap"])

        # (the lambdas run inside this iteration: binding ws late is intended)
        phase("open", lambda: ws.open_path(photo), lambda: ws.doc is not None and not ws.busy())  # noqa: B023
        phase("colorize", ws.colorize, lambda: ws.doc.ab is not None and not ws.busy())  # noqa: B023
        phase("strength", lambda: ws.controls.strength.setValue(140), lambda: not ws.busy())  # noqa: B023
        if ws.hints.takes_hints:
            edits = args.hint_edits
            phase("hint edit", lambda: edit_hints(app, ws, edits, latencies), lambda: True)  # noqa: B023
        timer.stop()
        ws.shutdown()
        sidecar_path(photo).unlink(missing_ok=True)
        win.close()
        win.deleteLater()
        app.processEvents()

    print(
        f"Longest GUI event-loop stall, {args.megapixels:g} MP photo, render "
        f"{args.render_size}, model {model.name}, medians of {args.repeats} (max in brackets):"
    )
    print("| phase | longest stall ms |")
    print("|---|---|")
    for name, gaps in results.items():
        if gaps:
            print(f"| {name} | {statistics.median(gaps):.0f} ({max(gaps):.0f}) |")
    if latencies:
        print(
            "\nFrom a hint change to the updated view: "
            f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
            f"over {len(latencies)} edits (debounce included)"
        )
    else:
        print("\n(no hint edit rows: the model takes no hints)")


def edit_hints(app, ws, count: int, latencies: list[float]) -> None:
    """Place ``count`` hints as the editor does on a click and a colour choice, each time
    waiting until the network's result for it is shown (the signal after the view update)."""
    seen = []
    ws.network_runs.connect(seen.append)
    w, h = ws.doc.photo.width, ws.doc.photo.height
    rng = np.random.default_rng(1)
    for _ in range(count):
        before = len(seen)
        x, y = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        start = time.monotonic()
        ws.hint_editor.add(x, y, tuple(int(v) for v in rng.integers(0, 256, 3)))
        while len(seen) == before and time.monotonic() - start < 600:
            app.processEvents()
            time.sleep(0.001)
        latencies.append(time.monotonic() - start)
    ws.network_runs.disconnect(seen.append)
    while ws.busy():
        app.processEvents()
        time.sleep(0.001)


if __name__ == "__main__":
    main()
