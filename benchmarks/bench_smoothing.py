"""What the colour smoothing (models.guided, after each batch of tiles) costs next to the network.

The generator runs on a batch of 256 px tiles with the smoothing on and off, interleaved so a
slow spell of a shared machine hits both alike; the smoothing alone is timed on the same
batch. Medians over the repeats; the ratio is what docs/BENCHMARKS.md quotes.

    python benchmarks/bench_smoothing.py --model models/weights/default.safetensors
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

from colorizer_app.engine.pipeline import ColorizeSettings  # noqa: E402
from colorizer_app.engine.runner import GeneratorRunner  # noqa: E402
from models.modelfile import load_generator  # noqa: E402


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "weights" / "default.safetensors"))
    parser.add_argument("--tiles", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    generator = load_generator(args.model)
    runners = {
        on: ColorizeSettings.for_model(
            generator.info, precision=args.precision, device=args.device, chroma_filter=on
        ).make_runner(generator)
        for on in (False, True)
    }
    rng = np.random.default_rng(0)
    batch = np.zeros((args.tiles, runners[True].in_channels, 256, 256), np.float32)
    batch[:, 0] = rng.uniform(-1, 1, (args.tiles, 256, 256))
    ab = rng.uniform(-0.3, 0.3, (args.tiles, 2, 256, 256)).astype(np.float32)
    runners[True](batch)  # warm up both
    runners[False](batch)
    times = {False: [], True: []}
    for _ in range(args.repeats):
        for on, runner in runners.items():
            times[on].append(_median_seconds(lambda r=runner: r(batch), 1))
    off, on = statistics.median(times[False]), statistics.median(times[True])
    alone = _median_seconds(lambda: GeneratorRunner._smooth(batch, ab), args.repeats * 3)
    print(f"{runners[True].description}, {args.tiles} tiles of 256 px, median of {args.repeats}")
    print("| network + decode | with smoothing | ratio | smoothing alone |")
    print("|---|---|---|---|")
    print(f"| {off:.3f} s | {on:.3f} s | {on / off:.3f} | {alone * 1000:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
