"""What the model thinks a place could be: suggested colours and how sure it is.

Qt-free API for the hint editor, built on a model's colour distribution head
(:mod:`models.colorbins`): :func:`suggest_colors` gives the most probable colours at points
of a photo, :func:`uncertainty` the entropy of the distribution over the whole photo (where a
hint is worth placing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from colorizer_app.engine.hints import Hint
from colorizer_app.engine.pipeline import ColorizeSettings, _reader
from colorizer_app.engine.runner import GeneratorRunner
from colorizer_app.engine.tiling import pad_tile, tiled_apply
from models import colorbins
from models.color import L_SCALE, merge_l_ab
from models.errors import SettingsError
from models.progress import Progress


@dataclass(frozen=True)
class Suggestion:
    """A colour the model finds probable at a point: Lab a,b, its probability (the bins
    are 10 Lab units wide), and sRGB at the point's own lightness (what the result shows)."""

    a: float
    b: float
    probability: float
    rgb: tuple[int, int, int]


def _need_distribution(runner: GeneratorRunner) -> None:
    if not runner.info.has_distribution:
        raise SettingsError(
            "this model has no colour distribution head (suggested colours need a v3 model)"
        )


def suggest_colors(
    pixels: np.ndarray,
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    points: list[tuple[float, float]],
    *,
    hints: list[Hint] | None = None,
    k: int = 5,
) -> list[list[Suggestion]]:
    """The ``k`` most probable colours at each ``(x, y)`` point (full-resolution pixels).

    The network sees a tile-sized window of the photo at the render size around each point,
    with the given hints, exactly as colorizing would.
    """
    _need_distribution(runner)
    read, (h, w) = _reader(pixels, runner, settings, hints)
    scale_y, scale_x = h / pixels.shape[0], w / pixels.shape[1]
    t = settings.tile
    windows, where, lightness = [], [], []
    for x, y in points:
        if not (0 <= x < pixels.shape[1] and 0 <= y < pixels.shape[0]):
            raise SettingsError(f"point ({x:g}, {y:g}) is outside the image")
        ry, rx = min(h - 1, int(y * scale_y)), min(w - 1, int(x * scale_x))
        y0, x0 = min(max(0, ry - t // 2), max(0, h - t)), min(max(0, rx - t // 2), max(0, w - t))
        patch = np.asarray(read(y0, min(h, y0 + t), x0, min(w, x0 + t)), np.float32)
        patch = patch[..., None] if patch.ndim == 2 else patch
        windows.append(pad_tile(patch, t).transpose(2, 0, 1))
        where.append((ry - y0, rx - x0))
        lightness.append((float(patch[ry - y0, rx - x0, 0]) + 1.0) * L_SCALE)
    if not windows:
        return []
    probs = runner.distribution(np.stack(windows))
    factor = t // probs.shape[-1]
    bins = torch.from_numpy(runner.bins)
    out = []
    for p, (py, px), L in zip(probs, where, lightness, strict=True):
        at = torch.from_numpy(np.ascontiguousarray(p[:, py // factor, px // factor]))
        ab, prob = colorbins.top_colors(at, bins, k)
        rgb = merge_l_ab(np.full((1, len(ab)), L, np.float32), ab.numpy()[None], np.uint8)[0]
        out.append(
            [
                Suggestion(float(c[0]), float(c[1]), float(q), tuple(int(v) for v in col))
                for c, q, col in zip(ab, prob, rgb, strict=True)
            ]
        )
    return out


def uncertainty(
    pixels: np.ndarray,
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    *,
    hints: list[Hint] | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """How unsure the model is of the colour at every pixel, at the render size.

    Returns
    -------
    ndarray (h, w) float32 in [0, 1]: the distribution's entropy divided by its maximum
    (log Q); 0 = one colour certain, 1 = any colour equally likely.
    """
    _need_distribution(runner)
    read, (h, w) = _reader(pixels, runner, settings, hints)
    top = float(np.log(len(runner.bins)))

    def model(batch: np.ndarray) -> np.ndarray:
        probs = torch.from_numpy(runner.distribution(batch))
        ent = colorbins.entropy(probs)[:, None] / top
        return torch.nn.functional.interpolate(ent, size=batch.shape[-2:], mode="bilinear").numpy()

    out = tiled_apply(
        read,
        model,
        height=h,
        width=w,
        out_channels=1,
        tile=settings.tile,
        overlap=settings.overlap,
        batch_size=runner.batch_size,
        progress=progress,
    )
    return np.clip(out[..., 0], 0.0, 1.0)
