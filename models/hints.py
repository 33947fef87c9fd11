"""Colour hints as network input: square patches of a,b with a mask (Zhang et al. 2017).

A hint is a point, a colour (its a, b in Lab units; lightness always comes from the photo) and
a patch size. The network sees three extra channels at its own resolution: hint a and b,
normalised like its output (``ab / 110``), and a mask that is 1 inside hint patches, 0
elsewhere. Training simulates hints from the truth; the engine rasterises the user's hints at
the render size. Both use :func:`rasterize`, so they draw patches identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.color import AB_SCALE

HINT_CHANNELS = 3
MIN_PATCH, MAX_PATCH = 1, 9  # patch sides (pixels at the network's resolution) in training


@dataclass(frozen=True)
class PatchHint:
    """A hint at the network's resolution: centre (y, x) in pixels, a,b in Lab units."""

    y: float
    x: float
    a: float
    b: float
    size: int = 3  # side of the square patch, pixels


def patch_bounds(y: float, x: float, size: int, height: int, width: int):
    """Rows and columns ``(y0, y1, x0, x1)`` of a ``size`` patch centred at (y, x), clipped
    to the image (pixel centres at integer + 0.5)."""
    y0 = int(np.floor(y - size / 2 + 0.5))
    x0 = int(np.floor(x - size / 2 + 0.5))
    return max(0, y0), min(height, y0 + size), max(0, x0), min(width, x0 + size)


def rasterize(height: int, width: int, hints: list[PatchHint]) -> np.ndarray:
    """The hint channels for an image of ``height`` x ``width`` at the network's resolution.

    Returns
    -------
    ndarray (height, width, 3) float32: a / 110, b / 110 and the 0/1 mask. Where patches
    overlap, the later hint wins.
    """
    out = np.zeros((height, width, HINT_CHANNELS), np.float32)
    for h in hints:
        y0, y1, x0, x1 = patch_bounds(h.y, h.x, h.size, height, width)
        if y1 <= y0 or x1 <= x0:
            continue
        out[y0:y1, x0:x1] = (h.a / AB_SCALE, h.b / AB_SCALE, 1.0)
    return out


def simulate(
    ab: np.ndarray,
    rng: np.random.Generator,
    *,
    count: int | None = None,
    p_none: float = 0.5,
    p_more: float = 1 / 8,
) -> list[PatchHint]:
    """Hints drawn from a true colour image as a user might give them (training, evaluation).

    Parameters
    ----------
    ab : ndarray (H, W, 2) float32, the truth's a,b in Lab units.
    count : how many hints; None draws it: none with probability ``p_none``, otherwise
        geometric with success ``p_more`` (mean 1 / p_more = 8 hints).

    Positions are uniform, patch sides uniform in 1..9 px, and each hint's colour is the
    truth's mean a,b over its patch.
    """
    h, w = ab.shape[:2]
    if count is None:
        count = 0 if rng.random() < p_none else int(rng.geometric(p_more))
    hints = []
    for _ in range(count):
        size = int(rng.integers(MIN_PATCH, MAX_PATCH + 1))
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        y0, y1, x0, x1 = patch_bounds(y, x, size, h, w)
        if y1 <= y0 or x1 <= x0:
            continue
        a, b = ab[y0:y1, x0:x1].reshape(-1, 2).mean(0)
        hints.append(PatchHint(y, x, float(a), float(b), size))
    return hints
