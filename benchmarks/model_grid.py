"""Evaluate a model over a grid of settings on validation sets (model card tables).

Every cell is a full ``colorizer evaluate`` run through the app's engine (render size, tiles,
merge with the full-resolution L), scored next to the gray baseline. Results are appended as
JSON lines (one per cell, so an interrupted grid keeps what it measured) and printed as a
markdown table of gains over gray: PSNR dB / SSIM / colourfulness % of the truth's / share of
images more than 1 dB below gray.

    python benchmarks/model_grid.py --model models/weights/default.safetensors \
        --data ../shared/data/photos-val/kodak24 ../shared/data/photos-val/bsds500-test \
        --temperature 0.2 0.3 0.38 0.5 --decoder annealed_mean --out runs/eval/grid.jsonl
    # hints curve: --hints 0 1 2 5 10 20 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorizer_app.engine.pipeline import ColorizeSettings  # noqa: E402
from models.modelfile import read_info  # noqa: E402
from trainer.evaluate import evaluate  # noqa: E402


def _render(text: str):
    return None if text == "full" else int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--render-size", nargs="*", type=_render, default=[])
    parser.add_argument("--strength", nargs="*", type=float, default=[])
    parser.add_argument("--decoder", nargs="*", default=[])
    parser.add_argument("--temperature", nargs="*", type=float, default=[])
    parser.add_argument("--hints", nargs="*", type=int, default=[0])
    parser.add_argument("--hint-spread", nargs="*", choices=("on", "off"), default=[])
    parser.add_argument("--chroma-filter", nargs="*", choices=("on", "off"), default=[])
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--out", help="append one JSON line per cell here")
    args = parser.parse_args(argv)

    axes = {
        "render_size": args.render_size,
        "strength": args.strength,
        "decoder": args.decoder,
        "temperature": args.temperature,
        "hint_spread": [value == "on" for value in args.hint_spread],
        "chroma_filter": [value == "on" for value in args.chroma_filter],
    }
    axes = {k: v for k, v in axes.items() if v}
    info = read_info(args.model)
    names = list(axes)
    print("| set | " + " | ".join(names + ["hints"]) + " | PSNR / SSIM gain | colour | <-1 dB |")
    print("|---" * (len(names) + 5) + "|")
    for data in args.data:
        for values in itertools.product(*axes.values()):
            given = dict(zip(names, values, strict=True))
            settings = ColorizeSettings.for_model(info, precision=args.precision, **given)
            for hints in args.hints:
                started = time.perf_counter()
                s = evaluate(args.model, data, settings, hints=hints).summary()
                cell = {
                    "model": args.model,
                    "data": Path(data).name,
                    **given,
                    "hints": hints,
                    "seconds": round(time.perf_counter() - started, 1),
                    **s,
                }
                if args.out:
                    with open(args.out, "a", encoding="utf-8") as handle:
                        handle.write(json.dumps(cell) + "\n")
                shown = " | ".join(str(v) for v in values)
                print(
                    f"| {Path(data).name} | {shown} | {hints} | {s['psnr_gain']:+.2f} / "
                    f"{s['ssim_gain']:+.4f} | {s['colourfulness_ratio']:.0%} | "
                    f"{s['share_1db_below_gray']:.0%} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
