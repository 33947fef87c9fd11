"""Benchmark: colorizing generated photos of 1-100 megapixels, and generator throughput.

Usage:
    python benchmarks/bench_colorize.py                 # everything, results to stdout (markdown)
    python benchmarks/bench_colorize.py --sizes 1 12 --renders 512 1024 --repeats 3
    python benchmarks/bench_colorize.py --throughput-only
    python benchmarks/bench_colorize.py --compare OLD.safetensors NEW.safetensors  # per tile
    python benchmarks/bench_colorize.py --model FILE --sizes 100 --renders 1024 --no-throughput

Each colorize measurement runs in a fresh child process (so its peak RSS is its own) and does
exactly what ``colorizer colorize`` does for one file: read, predict a,b on tiles at the render
size, merge with the full-resolution L, write atomically. The child times every phase; the
network time is measured around the generator calls only. Medians over ``--repeats``.

The generator has random weights of the shipped size (ngf 32, 8 levels, 13.6 M parameters)
unless ``--ngf`` says otherwise: speed and memory do not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench-out"


def make_photo(megapixels: int, path: Path) -> Path:
    """A gray 3:2 'scan' with smooth shading plus grain, saved as JPEG (quality 90)."""
    if path.exists():
        return path
    import cv2

    height = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    width = int(round(height * 1.5))
    rng = np.random.default_rng(megapixels)
    small = cv2.resize(
        rng.random((12, 18), dtype=np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )
    img = np.empty((height, width), np.uint8)
    for y0 in range(0, height, 512):  # in strips, to keep the generator's own memory small
        rows = small[y0 : y0 + 512] * 180 + 40 + rng.normal(0, 12, (min(512, height - y0), width))
        img[y0 : y0 + 512] = np.clip(rows, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def model_file(ngf: int) -> Path:
    import torch

    from models import GeneratorConfig, ModelInfo, UNetGenerator, save_generator

    path = CACHE / f"bench-ngf{ngf}.safetensors"
    if not path.exists():
        torch.manual_seed(0)
        config = GeneratorConfig(ngf=ngf)
        CACHE.mkdir(exist_ok=True)
        save_generator(
            path, UNetGenerator(config), ModelInfo(config, name="benchmark"), dtype=torch.float16
        )
    return path


def one_run(
    photo: Path,
    model: Path,
    render: int | None,
    out_dir: Path,
    *,
    precision: str = "auto",
    merge: str = "new",
) -> dict:
    """Child process: colorize one file with timers on every phase. ``merge="old"``: the
    merge as it was before issue #17 (``tests/merge_reference.py``), for before/after ratios."""
    from colorizer_app.engine.batch import read_for_colorizing
    from colorizer_app.engine.imageio import read_image, write_image
    from colorizer_app.engine.pipeline import ColorizeSettings, compose, output_view, predict_ab
    from models import load_generator

    if merge == "old":
        from tests.merge_reference import compose

    timings = {}
    start = time.perf_counter()
    generator = load_generator(model)
    settings = ColorizeSettings.for_model(
        generator.info, render_size=render, device="cpu", precision=precision
    )
    runner = settings.make_runner(generator)
    timings["load_model"] = time.perf_counter() - start

    network = 0.0
    tiles = 0

    class Timed:
        batch_size = runner.batch_size
        takes_hints = runner.takes_hints

        def __call__(self, batch):
            nonlocal network, tiles
            t0 = time.perf_counter()
            result = runner(batch)
            network += time.perf_counter() - t0
            tiles += len(batch)
            return result

    t0 = time.perf_counter()
    if merge == "old":
        photo_data, buffer = read_image(photo), None
        timings["read"] = time.perf_counter() - t0
    else:  # as colorize_file does: the output's memory is prepared while the photo decodes

        def decoded():
            timings["read"] = time.perf_counter() - t0

        photo_data, buffer = read_for_colorizing(photo, decoded=decoded)
    timings["prepare"] = time.perf_counter() - t0 - timings["read"]  # waited for beyond it
    t0 = time.perf_counter()
    ab = predict_ab(photo_data.pixels, Timed(), settings)
    timings["network"] = network
    timings["tiling"] = time.perf_counter() - t0 - network  # render L, tile cut, blend
    t0 = time.perf_counter()
    if merge == "old":
        rgb = compose(photo_data.pixels, ab, settings.strength)
    else:
        out = output_view(buffer, photo_data.pixels.shape, photo_data.pixels.dtype)
        rgb = compose(photo_data.pixels, ab, settings.strength, out=out)
    timings["compose"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_image(
        out_dir / (photo.stem + ".jpg"),
        rgb,
        exif=photo_data.exif,
        icc_profile=photo_data.icc_profile,
    )
    timings["write"] = time.perf_counter() - t0
    timings["total"] = sum(v for k, v in timings.items() if k != "load_model")
    return {
        "tiles": tiles,
        "timings": timings,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "shape": list(photo_data.pixels.shape),
        "ran_on": runner.description,
    }


def run_child(
    photo: Path, model: Path, render: int | None, *, precision: str = "auto", merge: str = "new"
) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(photo),
            str(model),
            "full" if render is None else str(render),
            out,
            precision,
            merge,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def colorize_table(sizes, renders, repeats, ngf, model=None) -> list[str]:
    model = Path(model) if model else model_file(ngf)
    lines = [
        "| photo | render | tiles | wall s | network s | tiling s | merge s | read s | write s "
        "| outside network | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mp in sizes:
        photo = make_photo(mp, CACHE / f"photo-{mp}mp.jpg")
        for render in renders:
            n = repeats if (render is not None or mp <= 12) else 1
            runs = [run_child(photo, model, render) for _ in range(n)]
            med = {k: statistics.median(r["timings"][k] for r in runs) for k in runs[0]["timings"]}
            rss = max(r["peak_rss_mb"] for r in runs)
            outside = 1 - med["network"] / med["total"]
            h, w = runs[0]["shape"][:2]
            lines.append(
                f"| {mp} MP ({w}x{h}) | {render or 'full'} | {runs[0]['tiles']} | "
                f"{med['total']:.2f} | {med['network']:.2f} | {med['tiling']:.2f} | "
                f"{med['compose']:.2f} | {med['read']:.2f} | {med['write']:.2f} | "
                f"{outside:.0%} | {rss:.0f} |" + ("" if n > 1 else " (1 run)")
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def throughput_table(ngfs, repeats) -> list[str]:
    """Generator tiles/s (batch 4 of 256x256) in fp32, bf16, channels_last; ours vs plain torch."""
    import torch

    from colorizer_app.engine.pipeline import ColorizeSettings, predict_ab
    from colorizer_app.engine.runner import GeneratorRunner
    from colorizer_app.engine.tiling import TileGrid
    from models import load_generator

    lines = [
        "| generator | mode | plain torch tiles/s | our runner tiles/s | runner / plain |",
        "|---|---|---|---|---|",
    ]
    batch = np.random.default_rng(0).uniform(-1, 1, (4, 1, 256, 256)).astype(np.float32)
    for ngf in ngfs:
        generator = load_generator(model_file(ngf))
        params = sum(p.numel() for p in generator.module.parameters()) / 1e6
        for mode, precision, cl in (
            ("fp32", "fp32", False),
            ("bf16", "bf16", False),
            ("fp32 channels_last", "fp32", True),
            ("bf16 channels_last", "bf16", True),
        ):
            runner = GeneratorRunner(
                generator, device="cpu", precision=precision, batch_size=4, channels_last=cl
            )
            module = runner.module
            x = torch.from_numpy(batch)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)

            def plain(module=module, x=x, precision=precision):
                with (
                    torch.inference_mode(),
                    torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"),
                ):
                    module(x)

            def ours(runner=runner):
                runner(batch)

            plain(), ours()  # warm-up
            plain_t, ours_t = [], []
            for _ in range(repeats):  # interleaved, so a slow spell hits both
                t0 = time.perf_counter()
                plain()
                plain_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ours()
                ours_t.append(time.perf_counter() - t0)
            p, o = 4 / statistics.median(plain_t), 4 / statistics.median(ours_t)
            lines.append(
                f"| ngf {ngf} ({params:.1f} M) | {mode} | {p:.2f} | {o:.2f} | {o / p:.2f} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)

    # Tiled vs one-shot on the same 1024x1024 render (the U-Net takes any multiple of 256).
    generator = load_generator(model_file(ngfs[0]))
    settings = ColorizeSettings(render_size=None, device="cpu", overlap=64)
    runner = settings.make_runner(generator)
    image = np.random.default_rng(1).integers(0, 256, (1024, 1024), dtype=np.uint8)
    from models.color import luminance, normalize_l

    x = torch.from_numpy(normalize_l(luminance(image)))[None, None]
    tiled_t, shot_t = [], []
    for _ in range(max(1, repeats // 2)):
        t0 = time.perf_counter()
        predict_ab(image, runner, settings)
        tiled_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with torch.inference_mode():
            runner.module(x)
        shot_t.append(time.perf_counter() - t0)
    ratio = statistics.median(tiled_t) / statistics.median(shot_t)
    lines.append("")
    lines.append(
        f"Tiled (256 px, overlap 64: {len(TileGrid(1024, 1024, 256, 64))} tiles) vs one-shot "
        f"forward on a 1024x1024 render, "
        f"ngf {ngfs[0]}: tiled/one-shot time = **{ratio:.2f}x** (medians of "
        f"{len(tiled_t)}; one-shot needs the whole activation pyramid in memory)."
    )
    return lines


def compare_table(models: list[str], repeats: int) -> list[str]:
    """Tiles/s of real model files (each with its recommended decoder: a v3 model runs both
    heads and the annealed mean; hint channels are present but empty), side by side."""
    from colorizer_app.engine.pipeline import ColorizeSettings
    from models import load_generator

    rng = np.random.default_rng(0)
    lines = [
        "| model | decoder | precision | tiles/s (batch 4 of 256 px) | time per tile vs first |",
        "|---|---|---|---|---|",
    ]
    for precision in ("fp32", "bf16"):
        runners = []
        for path in models:
            generator = load_generator(path)
            settings = ColorizeSettings.for_model(generator.info, device="cpu", precision=precision)
            runner = settings.make_runner(generator)
            batch = np.zeros((4, runner.in_channels, 256, 256), np.float32)
            batch[:, 0] = rng.uniform(-1, 1, (4, 256, 256))
            runner(batch)  # warm-up
            runners.append((path, generator.info.name, runner, batch, []))
        for _ in range(repeats):  # interleaved, so a slow spell hits every model alike
            for _, _, runner, batch, times in runners:
                t0 = time.perf_counter()
                runner(batch)
                times.append(time.perf_counter() - t0)
        first = statistics.median(runners[0][4])
        for _, name, runner, _, times in runners:
            median = statistics.median(times)
            lines.append(
                f"| {name} | {runner.decoder} | {precision} | {4 / median:.2f} | "
                f"{median / first:.2f}x |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        photo, model, render, out, precision, merge = sys.argv[2:8]
        result = one_run(
            Path(photo),
            Path(model),
            None if render == "full" else int(render),
            Path(out),
            precision=precision,
            merge=merge,
        )
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 12, 48, 100])
    parser.add_argument("--renders", nargs="+", default=["512", "1024", "full"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--model", help="a real model file for the colorize table")
    parser.add_argument(
        "--compare", nargs="+", metavar="FILE", help="only: tiles/s of these model files"
    )
    args = parser.parse_args()
    renders = [None if r == "full" else int(r) for r in args.renders]

    import torch

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    if args.compare:
        print("\n".join(compare_table(args.compare, max(5, args.repeats))))
        return
    if not args.throughput_only:
        print("\n".join(colorize_table(args.sizes, renders, args.repeats, args.ngf, args.model)))
        print()
    if not args.no_throughput:
        print("\n".join(throughput_table([args.ngf, 64], max(5, args.repeats))))


if __name__ == "__main__":
    main()
