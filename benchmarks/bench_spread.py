"""What the hint spread (engine.spread.spread_hints) costs at the render sizes, optionally
side by side with another version of the module.

The lightness of a photo (a smooth synthetic one without ``--photo``) at each render size,
six 5 px hints at seeded positions; both versions run interleaved so a slow spell of a shared
machine hits both alike; medians over the repeats, and the largest difference of the results.

    python benchmarks/bench_spread.py --photo ../shared/data/historical/FarmWomen1895.jpg
    git show <commit>:colorizer_app/engine/spread.py > /tmp/spread_old.py
    python benchmarks/bench_spread.py --photo ... --against /tmp/spread_old.py
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorizer_app.engine import spread  # noqa: E402
from models.hints import PatchHint  # noqa: E402


def _module(path: Path):
    spec = importlib.util.spec_from_file_location("spread_other", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lightness(photo: Path | None) -> np.ndarray:
    if photo is None:
        y, x = np.mgrid[0:1200, 0:1600].astype(np.float32)
        return (50 + 30 * np.sin(x / 90) * np.cos(y / 70)).astype(np.float32) * 2.55
    gray = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise SystemExit(f"{photo}: cannot read it as an image")
    return gray.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, help="a photo (default: a synthetic one)")
    parser.add_argument("--against", type=Path, help="another spread.py to time beside it")
    parser.add_argument("--renders", type=int, nargs="+", default=[384, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    versions = {"this": spread}
    if args.against:
        versions["other"] = _module(args.against)
    full = _lightness(args.photo)
    rng = np.random.default_rng(1)
    for side in args.renders:
        k = side / max(full.shape)
        h, w = round(full.shape[0] * k), round(full.shape[1] * k)
        L = cv2.resize(full, (w, h), interpolation=cv2.INTER_AREA) * (100 / 255)
        ab = rng.normal(0, 10, (h, w, 2)).astype(np.float32)
        patches = [
            PatchHint(
                y=float(rng.uniform(0, h)), x=float(rng.uniform(0, w)), a=20.0, b=-10.0, size=5
            )
            for _ in range(6)
        ]
        times = {name: [] for name in versions}
        for _ in range(args.repeats):
            for name, module in versions.items():
                start = time.perf_counter()
                module.spread_hints(ab, L, patches)
                times[name].append(time.perf_counter() - start)
        line = f"render {side} ({w}x{h}):"
        for name in versions:
            line += f" {name} {statistics.median(times[name]) * 1000:.0f} ms"
        if args.against:
            ratio = statistics.median(times["other"]) / statistics.median(times["this"])
            diff = np.abs(
                spread.spread_hints(ab, L, patches) - versions["other"].spread_hints(ab, L, patches)
            ).max()
            line += f", other / this {ratio:.2f}, largest difference {diff:.2g}"
        print(line)


if __name__ == "__main__":
    main()
