"""Hints reach further: each hint's correction spread over the pixels near it in place and
lightness, after the network.

The network moves the colour towards a hint where it is, but only part of the way and not
far (docs/MODEL_CARD.md, "Colour hints"). Here the remaining difference at each hint
(the hint's a,b less the network's over its patch) is spread by normalised convolution in a
bilateral grid (Chen, Paris and Durand 2007, "Real-time edge-aware image processing with
the bilateral grid"): splatted into cells of (lightness, y, x), blurred with Gaussians in
space and lightness, and read back at every pixel, divided by the blurred hint weight plus
a floor. So a correction travels over the surface a hint was put on (similar lightness,
nearby) and fades across edges and with distance; with no hint nearby nothing changes.

Measured on kodak24 (tuning) and bsds500-test (checking), shipped v3, 10 simulated hints,
fp32: +1.64 -> +2.22 dB and +1.93 -> +3.01 dB over gray (docs/MODEL_CARD.md, with the grid
the constants below were chosen from).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.hints import PatchHint, patch_bounds

SIGMA_SPACE = 0.15  # spatial reach, as a fraction of the image's long side
SIGMA_L = 4.0  # reach in lightness, L units
FLOOR = 0.01  # weight floor, as a fraction of the grid's highest hint weight
CELL = 8  # grid cell side, in pixels of the working size
L_BIN = 4.0  # grid bin height, L units
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
    small_L = L
    sh, sw = small_L.shape
    scale = sw / w
    bins = int(np.ceil(100.0 / L_BIN)) + 2
    grid = np.zeros((bins, sh // CELL + 2, sw // CELL + 2, 3), np.float32)  # a, b, weight
    for p, mean in targets:
        size = max(1, round(p.size * scale))
        y0, y1, x0, x1 = patch_bounds(p.y * scale, p.x * scale, size, sh, sw)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        cells = (
            np.rint(small_L[y0:y1, x0:x1] / L_BIN).astype(np.intp).ravel(),
            np.rint(ys / CELL).astype(np.intp).ravel(),
            np.rint(xs / CELL).astype(np.intp).ravel(),
        )
        np.add.at(grid, cells, (p.a - mean[0], p.b - mean[1], 1.0))
    grid = _blurred(grid, SIGMA_SPACE * max(sh, sw) / CELL, SIGMA_L / L_BIN)
    floor = FLOOR * float(grid[..., 2].max())
    correction = _sliced(grid, small_L)
    correction = correction[..., :2] / (correction[..., 2:] + floor)
    if (sh, sw) != (h, w):
        correction = cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
    return ab + correction


def _patch_mean(ab: np.ndarray, p: PatchHint):
    y0, y1, x0, x1 = patch_bounds(p.y, p.x, p.size, *ab.shape[:2])
    if y1 <= y0 or x1 <= x0:
        return None
    return ab[y0:y1, x0:x1].reshape(-1, 2).mean(axis=0)


def _size(h: int, w: int, scale: float) -> tuple[int, int]:
    return max(1, round(w * scale)), max(1, round(h * scale))


def _blurred(grid: np.ndarray, sigma_space: float, sigma_l: float) -> np.ndarray:
    """Gaussian blur of the grid in space (each lightness bin) and across the bins."""
    bins, gh, gw, c = grid.shape
    border = cv2.BORDER_CONSTANT
    for b in range(bins):
        if grid[b, ..., 2].any():
            grid[b] = cv2.GaussianBlur(grid[b], (0, 0), sigma_space, borderType=border)
    flat = grid.reshape(bins, gh * gw * c)
    k = 2 * int(np.ceil(3 * sigma_l)) + 1
    across = cv2.GaussianBlur(flat, (1, k), sigmaX=0.1, sigmaY=sigma_l, borderType=border)
    return across.reshape(bins, gh, gw, c)


def _sliced(grid: np.ndarray, L: np.ndarray) -> np.ndarray:
    """The grid read at every pixel: trilinear in (lightness, y, x)."""
    bins, gh, gw, c = grid.shape
    h, w = L.shape
    gy = (np.arange(h, dtype=np.float32) / CELL)[:, None]
    gx = (np.arange(w, dtype=np.float32) / CELL)[None, :]
    gl = np.clip(L / L_BIN, 0, bins - 1.001)
    y0, x0, l0 = np.floor(gy).astype(np.intp), np.floor(gx).astype(np.intp), gl.astype(np.intp)
    fy, fx, fl = gy - y0, gx - x0, (gl - l0)[..., None]
    flat = grid.reshape(-1, c)
    out = np.zeros((h, w, c), np.float32)
    for dl, wl in ((0, 1 - fl), (1, fl)):
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                index = ((l0 + dl) * gh + (y0 + dy)) * gw + (x0 + dx)
                out += flat[index] * (wl * (wy * wx)[..., None])
    return out
