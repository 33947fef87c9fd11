"""Benchmark: training images/s (Pix2Pix step: G + PatchGAN D) at 64, 128 and 256 px.

Runs the real training loop (``trainer.loop.train``) on generated photos for a few steps per
setting and reports the median images/s over the measured steps (the first steps are warm-up).
U-Net depth follows the crop (64 -> 6 levels, 128 -> 7, 256 -> 8), ngf 32, batch 16.

Usage: python benchmarks/bench_train.py [--sizes 64 128 256] [--steps 12]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.config import TrainConfig  # noqa: E402
from trainer.loop import train  # noqa: E402

MODES = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "fp32 channels_last": {"channels_last": True},
    "bf16 channels_last": {"precision": "bf16", "channels_last": True},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    levels = {64: 6, 128: 7, 256: 8}
    rng = np.random.default_rng(0)
    print("| crop | mode | images/s (median) |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "photos"
        data.mkdir()
        for i in range(64):
            Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(
                data / f"{i}.png"
            )
        for size in args.sizes:
            for mode, extra in MODES.items():
                speeds = []

                def on_event(event, speeds=speeds):
                    if event.get("event") == "step" and event["step"] > 4:
                        speeds.append(event["images_per_s"])

                config = TrainConfig(
                    data=str(data),
                    run_dir=str(Path(tmp) / f"r{size}{mode}"),
                    image_size=size,
                    ngf=32,
                    num_downs=levels.get(size, 7),
                    batch_size=args.batch_size,
                    steps=args.steps,
                    log_every=1,
                    eval_every=10**9,
                    checkpoint_every=10**9,
                    val_max=1,
                    device=args.device,
                    **extra,
                )
                train(config, on_event=on_event)
                print(f"| {size} | {mode} | {statistics.median(speeds):.1f} |", flush=True)


if __name__ == "__main__":
    main()
