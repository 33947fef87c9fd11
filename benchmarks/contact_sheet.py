"""Contact sheets for the model card: Kodak (gray | ours | truth) and historical photos.

Every photo is colorized at full resolution through the app's engine at default settings
(``colorize_file`` exactly as the CLI), then shown reduced on the sheet; historical photos
also get a 100% crop, so the full-resolution detail and the colour edges can be judged.

Usage: python benchmarks/contact_sheet.py --model FILE --data ../shared/data --out docs/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorizer_app.engine.imageio import as_rgb8, read_image  # noqa: E402
from colorizer_app.engine.pipeline import ColorizeSettings, colorize  # noqa: E402
from models.modelfile import load_generator  # noqa: E402
from trainer.metrics import gray_baseline  # noqa: E402


def _fit(img: np.ndarray, width: int) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def _grid(rows: list[np.ndarray], pad: int = 6) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    out = []
    for r in rows:
        r = np.pad(r, ((0, pad), (0, width - r.shape[1]), (0, 0)), constant_values=255)
        out.append(r)
    return np.vstack(out)


def _hstack(images: list[np.ndarray], pad: int = 6) -> np.ndarray:
    height = max(i.shape[0] for i in images)
    parts = []
    for img in images:
        img = np.pad(img, ((0, height - img.shape[0]), (0, pad), (0, 0)), constant_values=255)
        parts.append(img)
    return np.hstack(parts)


def kodak_sheet(models, folder: Path, count: int, thumb: int) -> np.ndarray:
    """``models``: (label, runner, settings) per column between gray and the truth."""
    rows = []
    files = sorted(folder.glob("*.png"))[:count]
    names = " | ".join(label for label, _, _ in models)
    for pair in range(0, len(files), 2):
        cells = []
        for f in files[pair : pair + 2]:
            truth = as_rgb8(read_image(f).pixels)
            outs = [colorize(truth, runner, settings) for _, runner, settings in models]
            cells.append(
                _label(
                    _hstack(
                        [_fit(gray_baseline(truth), thumb)]
                        + [_fit(o, thumb) for o in outs]
                        + [_fit(truth, thumb)],
                        pad=2,
                    ),
                    f"{f.stem}: gray | {names} | truth",
                )
            )
        rows.append(_hstack(cells, pad=12))
    return _grid(rows)


def _two_per_row(cells: list[np.ndarray]) -> np.ndarray:
    return _grid([_hstack(cells[i : i + 2], pad=12) for i in range(0, len(cells), 2)])


def hints_sheet(model, folder: Path, count: int, hints: int, thumb: int) -> np.ndarray:
    """Kodak images with ``hints`` colour hints simulated from the truth (as ``evaluate
    --hints`` draws them): gray | automatic | with hints, the network alone | with hints,
    spread (the default; hints marked) | truth."""
    from trainer.evaluate import simulated_hints

    _, runner, settings = model
    cells = []
    for index, f in enumerate(sorted(folder.glob("*.png"))[:count]):
        truth = as_rgb8(read_image(f).pixels)
        given = simulated_hints(truth, settings, hints, seed=(0, index + 1))
        auto = colorize(truth, runner, settings)
        network = colorize(truth, runner, settings.with_(hint_spread=False), hints=given)
        hinted = colorize(truth, runner, settings.with_(hint_spread=True), hints=given)
        marked = [_fit(network, thumb).copy(), _fit(hinted, thumb).copy()]
        scale = marked[0].shape[1] / truth.shape[1]
        for h in given:  # a ring in the hint's colour (at mid lightness) with a dark edge
            centre = (int(h.x * scale), int(h.y * scale))
            for image in marked:
                cv2.circle(image, centre, 4, (0, 0, 0), 2)
                cv2.circle(image, centre, 3, h.rgb(60.0), -1)
        row = [_fit(gray_baseline(truth), thumb), _fit(auto, thumb), *marked, _fit(truth, thumb)]
        cells.append(
            _label(
                _hstack(row, pad=2),
                f"{f.stem}: gray | automatic | {hints} hints, network | spread | truth",
            )
        )
    return _two_per_row(cells)


def historical_sheet(models, folder: Path, thumb: int, crop: int) -> np.ndarray:
    """Input, then each model's result and a 100% crop of it (the last model's crop only
    when there are several) at the same place."""
    cells = []
    names = " | ".join(label for label, _, _ in models)
    for f in sorted(folder.glob("*.jpg")):
        photo = read_image(f)
        outs = [colorize(photo.pixels, r, s) for _, r, s in models]  # full resolution
        h, w = outs[-1].shape[:2]
        y, x = max(0, h // 3 - crop // 2), max(0, w // 2 - crop // 2)
        details = [o[y : y + crop, x : x + crop] for o in outs]
        cells.append(
            _label(
                _hstack(
                    [_fit(as_rgb8(photo.pixels), thumb)] + [_fit(o, thumb) for o in outs] + details,
                    pad=2,
                ),
                f"{f.stem} ({w}x{h}): input | {names} | 100% crops",
            )
        )
    return _two_per_row(cells)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--render-size", default=None)
    parser.add_argument(
        "--baseline", metavar="FILE", help="an earlier model shown in a column before the model"
    )
    parser.add_argument("--labels", nargs=2, default=("baseline", "ours"), metavar=("OLD", "NEW"))
    parser.add_argument(
        "--sheets",
        nargs="+",
        choices=("hints", "kodak", "historical"),
        default=("hints", "kodak", "historical"),
    )
    args = parser.parse_args()
    given = {}
    if args.render_size is not None:
        given["render_size"] = None if args.render_size == "full" else int(args.render_size)
    models = []
    for path, label in ((args.baseline, args.labels[0]), (args.model, args.labels[1])):
        if path:
            generator = load_generator(path)  # at the settings the model file recommends
            settings = ColorizeSettings.for_model(generator.info, precision="bf16", **given)
            models.append(
                (label if args.baseline else "ours", settings.make_runner(generator), settings)
            )
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(name: str, sheet: np.ndarray) -> None:
        path = out / name
        if not cv2.imwrite(
            str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
        ):
            raise SystemExit(f"could not write {path}")  # OpenCV itself says nothing
        written.append(str(path))

    kodak = data / "photos-val" / "kodak24"
    if "hints" in args.sheets and models[-1][1].takes_hints:
        save("contact_hints.png", hints_sheet(models[-1], kodak, 6, 10, 128))
    if "kodak" in args.sheets:
        save("contact_kodak.png", kodak_sheet(models, kodak, 12, 128))
    if "historical" in args.sheets:
        save("contact_historical.png", historical_sheet(models, data / "historical", 160, 160))
    print("wrote", *written)


if __name__ == "__main__":
    main()
