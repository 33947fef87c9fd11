"""Hints reach their surface: each hint's correction spread along the photo, after the network.

The network moves the colour towards a hint where it is, but only part of the way and not
far (docs/MODEL_CARD.md, "Colour hints"). Here the remaining difference at each hint (the
hint's a,b less the network's over its patch) is spread by normalised convolution with the
domain transform's recursive filter (Gastal and Oliveira 2011, "Domain Transform for
Edge-Aware Image and Video Processing"): distances are measured *along* the photo, where
every step of lightness counts as extra distance, so a correction covers the connected
surface the hint is on, fades with distance along it, and stops at strong edges (the
lightness that measures distance is slightly blurred first, so texture within a surface
costs little and an edge between surfaces its whole step). A patch
of the same lightness elsewhere, cut off by an edge, is not reached (a bilateral grid, the
first version, reached it: a red hint on a blouse reddened dark bushes across the photo).
Where the hints' filtered weight is high their weighted mean difference is applied in full;
below a floor it fades in proportion, so where no hint reaches nothing changes and a single
hint does not wash over the photo.

Measured on kodak24 (tuning) and bsds500-test (checking), shipped v3, 10 simulated hints,
and looked at on historical photos with a user's hints (docs/MODEL_CARD.md, "Choosing the
spread": the table the constants below were chosen from).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.hints import PatchHint, patch_bounds

SIGMA_SPACE = 0.2  # reach along a flat surface, as a fraction of the image's long side
SIGMA_L = 15.0  # a lightness step of this many L units counts as SIGMA_SPACE of distance
# hint weight, as a fraction of the highest, from which a pixel takes the hints' whole
# difference; below it the difference fades in proportion (so one hint stays on its surface)
FLOOR = 0.05
# the lightness that measures distance is first blurred by this fraction of the long side:
# fine texture (grass, fur, film grain) then costs little distance, while an edge between
# two surfaces costs its full step whatever the blur
GUIDE_BLUR = 0.01
ITERATIONS = 3  # passes of the recursive filter (the paper's choice)
WORK_SIDE = 1024  # the spread is worked out at most at this long side, then resized


def spread_hints(ab: np.ndarray, L: np.ndarray, patches: list[PatchHint]) -> np.ndarray:
    """``ab`` with each hint's remaining difference spread edge-aware around it.

    Parameters
    ----------
    ab : ndarray (h, w, 2) float32, Lab units: the network's a,b at the render size.
    L : ndarray float32 in [0, 100]: the lightness, at the same size or smaller (same
        aspect): the spread is worked out at its size, at most ``WORK_SIDE`` on the long side.
    patches : the hints at that size (:func:`engine.hints.to_render`), their a,b the
        targets for ``ab`` (divide by the colour strength first).

    Returns
    -------
    ndarray (h, w, 2) float32: a new array (``ab`` is not changed).
    """
    h, w = ab.shape[:2]
    targets = [(p, _patch_mean(ab, p)) for p in patches]
    targets = [(p, mean) for p, mean in targets if mean is not None]
    if not targets:
        return ab.copy()
    if max(L.shape) > WORK_SIDE:
        fit = WORK_SIDE / max(L.shape)
        L = cv2.resize(L, _size(*L.shape, fit), interpolation=cv2.INTER_AREA)
    sh, sw = L.shape
    scale = sw / w
    # each hint's difference and weight over its patch: a,b x weight, weight (1 per hint)
    field = np.zeros((sh, sw, 3), np.float32)
    for p, mean in targets:
        size = max(1, round(p.size * scale))
        y0, y1, x0, x1 = patch_bounds(p.y * scale, p.x * scale, size, sh, sw)
        weight = 1.0 / ((y1 - y0) * (x1 - x0))
        field[y0:y1, x0:x1] += (weight * (p.a - mean[0]), weight * (p.b - mean[1]), weight)
    side = max(sh, sw)
    guide = cv2.GaussianBlur(L, (0, 0), GUIDE_BLUR * side)
    field = domain_filter(field, guide, sigma_space=SIGMA_SPACE * side, sigma_l=SIGMA_L)
    # normalised where hints overlap (their weighted mean), faded where one barely reaches
    floor = FLOOR * float(field[..., 2].max())
    correction = field[..., :2] / np.maximum(field[..., 2:], floor)
    if (sh, sw) != (h, w):
        correction = cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
    return ab + correction


def domain_filter(
    values: np.ndarray,
    L: np.ndarray,
    *,
    sigma_space: float,
    sigma_l: float,
    iterations: int = ITERATIONS,
) -> np.ndarray:
    """Edge-aware smoothing of ``values`` along the photo (the domain transform's recursive
    filter): Gaussian-like with ``sigma_space`` pixels over flat lightness, where a step of
    ``sigma_l`` L units counts as ``sigma_space`` pixels of distance.

    Parameters
    ----------
    values : ndarray (h, w, c) float32.
    L : ndarray (h, w) float32 in [0, 100], the guide.

    Returns
    -------
    ndarray (h, w, c) float32, a new array.
    """
    out = np.array(values, np.float32)
    stretch = sigma_space / sigma_l
    # the distance from each pixel to its left / upper neighbour, along the photo; the
    # horizontal one transposed, so that both passes recurse along a contiguous first axis
    across = np.ascontiguousarray((1.0 + stretch * np.abs(np.diff(L, axis=1, prepend=L[:, :1]))).T)
    down = 1.0 + stretch * np.abs(np.diff(L, axis=0, prepend=L[:1]))
    for i in range(iterations):
        # the paper's per-pass sigmas: together they give a variance of sigma_space^2
        sigma = sigma_space * np.sqrt(3) * 2 ** (iterations - i - 1) / np.sqrt(4**iterations - 1)
        a = np.exp(-np.sqrt(2) / sigma)
        columns = np.ascontiguousarray(out.transpose(1, 0, 2))  # (w, h, c): along x
        _recursive_first_axis(columns, np.power(a, across, dtype=np.float32))
        out = np.ascontiguousarray(columns.transpose(1, 0, 2))  # (h, w, c): along y
        _recursive_first_axis(out, np.power(a, down, dtype=np.float32))
    return out


def _recursive_first_axis(values: np.ndarray, feedback: np.ndarray) -> None:
    """One causal and one anti-causal first-order recursive pass along the first axis, in
    place: ``J[i] = (1 - f[i]) I[i] + f[i] J[i - 1]``, then the same from the end. Each step
    reads and writes whole contiguous slices: a loop over strided columns was 2.2x (render
    384) to 3.4x (render 1024) slower, for the same result to the bit."""
    n = values.shape[0]
    f = feedback[..., None]
    for i in range(1, n):
        values[i] += f[i] * (values[i - 1] - values[i])
    for i in range(n - 2, -1, -1):
        values[i] += f[i + 1] * (values[i + 1] - values[i])


def _patch_mean(ab: np.ndarray, p: PatchHint):
    y0, y1, x0, x1 = patch_bounds(p.y, p.x, p.size, *ab.shape[:2])
    if y1 <= y0 or x1 <= x0:
        return None
    return ab[y0:y1, x0:x1].reshape(-1, 2).mean(axis=0)


def _size(h: int, w: int, scale: float) -> tuple[int, int]:
    return max(1, round(w * scale)), max(1, round(h * scale))
