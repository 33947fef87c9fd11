"""``colorizer evaluate``: a model against ground truth, through the app's own engine.

Every image goes through exactly what the app does (render size, tiles, blending, merge with
the full-resolution L). The input is the photo itself: the engine uses its L only. Scores are
reported next to the gray baseline (the photo's own L, no colour) on the same images, with
the share of images more than 1 dB below gray (where the model does harm).

``hints=N`` gives every image N colour hints simulated from its truth exactly as training
does (:func:`models.hints.simulate`: uniform positions, 1-9 px patches at the render size,
the truth's mean a,b over each patch), seeded per image, so runs are comparable.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.imageio import as_rgb8, read_image
from colorizer_app.engine.pipeline import ColorizeSettings, colorize, fit_long_side, render_shape
from models import hints as net_hints
from models.atomic import write_atomically
from models.color import rgb_to_lab
from models.errors import ColorizerError, SettingsError
from models.modelfile import load_generator
from models.progress import NullProgress, Progress
from trainer import metrics
from trainer.data import Cifar10Tar, DataError, _image_files

COLUMNS = [
    "image",
    "psnr",
    "ssim",
    "colourfulness",
    "gray_psnr",
    "gray_ssim",
    "truth_colourfulness",
    "hints",
]
HARM_DB = 1.0  # an image this much below the gray baseline counts as harmed


@dataclass
class Evaluation:
    rows: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ran_on: str = ""  # the runner's device and the precision that ran, e.g. "cpu (bf16)"
    # the settings that change the pixels, as they ran (decoder "auto" resolved), see recipe()
    settings: dict = field(default_factory=dict)

    def mean(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.rows])) if self.rows else float("nan")

    def summary(self) -> dict[str, float]:
        out = {k: self.mean(k) for k in COLUMNS[1:]}
        out["images"] = len(self.rows)
        harmed = sum(1 for r in self.rows if r["psnr"] < r["gray_psnr"] - HARM_DB)
        out["share_1db_below_gray"] = harmed / len(self.rows) if self.rows else float("nan")
        out["psnr_gain"] = out["psnr"] - out["gray_psnr"]
        out["ssim_gain"] = out["ssim"] - out["gray_ssim"]
        out["colourfulness_ratio"] = out["colourfulness"] / max(out["truth_colourfulness"], 1e-9)
        return out

    def table(self) -> str:
        s = self.summary()
        return "\n".join(
            [
                f"{s['images']} images" + (f", ran on {self.ran_on}" if self.ran_on else ""),
                *([describe(self.settings)] if self.settings else []),
                "| | PSNR dB | SSIM | colourfulness |",
                "|---|---|---|---|",
                f"| model | {s['psnr']:.2f} ({s['psnr_gain']:+.2f}) | {s['ssim']:.4f} "
                f"({s['ssim_gain']:+.4f}) | {s['colourfulness']:.1f} "
                f"({s['colourfulness_ratio']:.0%} of truth) |",
                f"| gray baseline | {s['gray_psnr']:.2f} | {s['gray_ssim']:.4f} | 0.0 |",
                f"| ground truth | - | - | {s['truth_colourfulness']:.1f} |",
                f"{s['share_1db_below_gray']:.0%} of images more than {HARM_DB:g} dB below gray"
                + (f"; {s['hints']:g} simulated hints per image" if s["hints"] else ""),
            ]
        )

    def write_csv(self, path: str | os.PathLike) -> None:

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                writer.writeheader()
                for row in self.rows:
                    writer.writerow(
                        {k: (f"{v:.5f}" if isinstance(v, float) else v) for k, v in row.items()}
                    )

        write_atomically(path, write)


def recipe(runner, settings: ColorizeSettings) -> dict:
    """The settings of a run that change its pixels, as the runner resolved them."""
    out = {"render_size": settings.render_size, "strength": settings.strength}
    out["decoder"] = runner.decoder
    if runner.decoder == "annealed_mean":
        out["temperature"] = runner.temperature
    return {**out, "chroma_filter": runner.chroma_filter, "hint_spread": settings.hint_spread}


def describe(settings: dict) -> str:
    """One line for a :func:`recipe`: 'render 384, annealed mean T 0.7, strength 1, ...'."""
    size = settings["render_size"]
    parts = [f"render {'full' if size is None else size}"]
    decoder = settings["decoder"].replace("_", " ")
    if "temperature" in settings:
        decoder += f" T {settings['temperature']:g}"
    parts += [decoder, f"strength {settings['strength']:g}"]
    parts.append(f"colour smoothing {'on' if settings['chroma_filter'] else 'off'}")
    parts.append(f"hint spread {'on' if settings['hint_spread'] else 'off'}")
    return ", ".join(parts)


def iter_truths(data: str | os.PathLike, *, resize: int = 0, limit: int = 0, every: int = 1):
    """Yield (name, RGB uint8 truth) from a folder of photos or the CIFAR-10 test split.

    ``every`` takes every N-th image in name order (a subset that still covers every class
    or folder), ``limit`` then stops after that many."""
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    data = Path(data)
    if data.is_file() and data.name.endswith((".tar.gz", ".tgz", ".tar")):
        source = Cifar10Tar(data, "test")
        items = ((source.name(i), lambda i=i: source.load(i).rgb) for i in range(len(source)))
    elif data.is_dir():
        files = _image_files(data)
        if not files:
            raise DataError(f"{data}: no images found")
        items = (
            (str(p.relative_to(data)), lambda p=p: as_rgb8(read_image(p).pixels)) for p in files
        )
    else:
        raise DataError(f"{data}: evaluation data not found")
    taken = 0
    for index, (name, load) in enumerate(items):
        if index % every:
            continue
        if limit and taken >= limit:
            return
        taken += 1
        try:
            truth = load()
        except ColorizerError as err:
            yield name, err
            continue
        if resize:
            truth = cv2.resize(truth, (resize, resize), interpolation=cv2.INTER_CUBIC)
        yield name, truth


def evaluate(
    model: str | os.PathLike,
    data: str | os.PathLike,
    settings: ColorizeSettings | None = None,
    *,
    resize: int = 0,
    limit: int = 0,
    every: int = 1,
    hints: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
) -> Evaluation:
    progress = progress or NullProgress()
    settings = settings or ColorizeSettings()
    runner = settings.make_runner(load_generator(model))
    if hints < 0:
        raise SettingsError(f"hints must be >= 0, got {hints}")
    if hints and not runner.takes_hints:
        raise SettingsError(f"{model}: this model takes no colour hints")
    result = Evaluation()
    for done, (name, truth) in enumerate(
        iter_truths(data, resize=resize, limit=limit, every=every), 1
    ):
        progress.check_cancelled()
        if isinstance(truth, Exception):
            result.skipped.append((name, str(truth)))
            continue
        given = simulated_hints(truth, settings, hints, seed=(seed, done)) if hints else []
        output = colorize(truth, runner, settings, hints=given)
        result.rows.append({"image": name, **metrics.score(output, truth), "hints": len(given)})
        progress.update(done, limit or 0, name)
    if not result.rows:
        raise DataError(f"{data}: no image could be evaluated")
    result.ran_on = runner.description  # after the run: a fallback to the CPU shows
    result.settings = recipe(runner, settings)
    return result


def simulated_hints(
    truth: np.ndarray, settings: ColorizeSettings, count: int, *, seed
) -> list[hint_files.Hint]:
    """``count`` hints drawn from a true colour photo at the render size, as training draws
    them, returned in the photo's pixel coordinates (as a user's hint file would give them)."""
    full = truth.shape[:2]
    shape = render_shape(*full, settings.render_size)
    small = fit_long_side(truth, settings.render_size)
    ab = rgb_to_lab(small)[..., 1:]
    patches = net_hints.simulate(ab, np.random.default_rng(list(seed)), count=count)
    return hint_files.from_patches(patches, full, shape)
