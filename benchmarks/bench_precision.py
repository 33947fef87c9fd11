"""Precision ``auto`` against ``fp32``: validation scores and speed, side by side in one run.

Runs ``colorizer evaluate`` (a fresh child process each time, the shipped model unless
``--model``) on a validation folder, alternating the precisions so that the machine's load
falls on both alike, and prints each run's scores and wall time, then the medians and the
time ratio. Usage::

    python benchmarks/bench_precision.py [--data ../shared/data/photos-val/kodak24] [--runs 3]
    python benchmarks/bench_precision.py --network [--runs 9]

``--network``: the network alone, in one warm process: the shipped model's runner in fp32
and in ``auto``, batches of 4 tiles of 256 px (hint channels empty), interleaved batch by
batch so that the machine's load falls on both alike; tiles/s and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "photos-val" / "kodak24"


def evaluate(data: Path, precision: str, model: str | None, out: Path) -> tuple[dict, float]:
    """One ``colorizer evaluate`` run: (its JSON summary, its wall time in seconds)."""
    command = [sys.executable, "-m", "colorizer_app", "evaluate", "--data", str(data)]
    command += ["--precision", precision, "--json", str(out)]
    command += ["--model", model] if model else []
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    ran_on = done.stdout.splitlines()[0]
    summary = json.loads(out.read_text())
    summary["ran_on"] = ran_on
    return summary, wall


def network(model: str | None, runs: int) -> None:
    """Tiles/s of the runner in fp32 and in auto, interleaved."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from colorizer_app.engine.pipeline import ColorizeSettings
    from models import load_generator
    from models.modelfile import default_model_path

    generator = load_generator(model or default_model_path())
    runners = {}
    for precision in ("fp32", "auto"):
        settings = ColorizeSettings.for_model(generator.info, device="cpu", precision=precision)
        runners[precision] = settings.make_runner(generator)
    batch = np.zeros((4, runners["fp32"].in_channels, 256, 256), np.float32)
    batch[:, 0] = np.random.default_rng(0).uniform(-1, 1, (4, 256, 256))
    times: dict[str, list[float]] = {name: [] for name in runners}
    for runner in runners.values():
        runner(batch)  # warm-up: oneDNN builds its kernels on the first batch
    for _ in range(runs):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(batch)
            times[name].append(time.perf_counter() - start)
    rates = {name: 4 / statistics.median(t) for name, t in times.items()}
    print(f"| precision | ran on | tiles/s (median of {runs} batches of 4) |")
    print("|---|---|---|")
    for name, runner in runners.items():
        print(f"| {name} | {runner.description} | {rates[name]:.2f} |")
    print(f"\nauto / fp32 tiles/s = {rates['auto'] / rates['fp32']:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each precision")
    parser.add_argument("--network", action="store_true", help="the network alone, tiles/s")
    args = parser.parse_args()
    if args.network:
        network(args.model, args.runs)
        return 0
    if not args.data.is_dir():
        print(f"{args.data} is absent: nothing to measure", file=sys.stderr)
        return 0
    walls: dict[str, list[float]] = {"fp32": [], "auto": []}
    scores: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for precision in ("fp32", "auto") if run % 2 == 0 else ("auto", "fp32"):
                summary, wall = evaluate(args.data, precision, args.model, Path(tmp) / "s.json")
                walls[precision].append(wall)
                first = scores.setdefault(precision, summary)
                spread = max(abs(first[k] - summary[k]) for k in ("psnr", "ssim"))
                if spread:
                    print(f"note: {precision} PSNR/SSIM differ from run 1 by {spread:.2g}")
                print(
                    f"run {run + 1} {precision:>4}: {summary['ran_on']}, "
                    f"PSNR {summary['psnr']:.4f} SSIM {summary['ssim']:.5f}, {wall:.1f} s",
                    flush=True,
                )
    fp32, auto = scores["fp32"], scores["auto"]
    print("\n| precision | ran on | PSNR dB (gain) | SSIM (gain) | wall s (median) |")
    print("|---|---|---|---|---|")
    for name, s in (("fp32", fp32), ("auto", auto)):
        print(
            f"| {name} | {s['ran_on'].partition('ran on ')[2]} | {s['psnr']:.4f} "
            f"({s['psnr_gain']:+.4f}) | {s['ssim']:.5f} ({s['ssim_gain']:+.5f}) | "
            f"{statistics.median(walls[name]):.1f} |"
        )
    ratio = statistics.median(walls["fp32"]) / statistics.median(walls["auto"])
    pairs = [f"{a / b:.2f}" for a, b in zip(walls["fp32"], walls["auto"], strict=True)]
    print(
        f"\nauto - fp32: PSNR {auto['psnr'] - fp32['psnr']:+.4f} dB, "
        f"SSIM {auto['ssim'] - fp32['ssim']:+.5f}; fp32 time / auto time = {ratio:.2f}x "
        f"(medians of {args.runs}, whole evaluate runs including start-up; run by run: "
        f"{', '.join(pairs)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
