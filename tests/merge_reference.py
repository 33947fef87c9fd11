"""The merge as it was before issue #17 (remap with full maps, 1-megapixel strips, float
passes over whole strips), kept only as the reference the faster merge is checked against
(``tests/test_pipeline.py``) and timed against (``benchmarks/bench_merge.py``)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from models.color import _KAPPA, _XYZN_TO_RGB, luminance, strips

_ENCODE_BITS = 20


def _encode_table(dtype_name: str) -> np.ndarray:
    lin = np.arange(2**_ENCODE_BITS, dtype=np.float64) / (2**_ENCODE_BITS - 1)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.rint(srgb * np.iinfo(dtype_name).max).astype(dtype_name)


def _finv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6.0 / 29.0, t**3, _KAPPA * (t - 4.0 / 29.0)).astype(np.float32)


def _encode(linear: np.ndarray, dtype: np.dtype) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0, out=linear)
    linear *= np.float32(2**_ENCODE_BITS - 1)
    linear += np.float32(0.5)
    return np.take(_TABLES[dtype.name], linear.astype(np.int32))


_TABLES = {name: _encode_table(name) for name in ("uint8", "uint16")}


def upsample_rows(ab: np.ndarray, rows: slice, height: int, width: int) -> np.ndarray:
    h, w = ab.shape[:2]
    if (h, w) == (height, width):
        return ab[rows]
    ys = (np.arange(rows.start, rows.stop, dtype=np.float32) + 0.5) * (h / height) - 0.5
    xs = (np.arange(width, dtype=np.float32) + 0.5) * (w / width) - 0.5
    map_x = np.broadcast_to(xs[None, :], (len(ys), width)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (len(ys), width)).astype(np.float32)
    return cv2.remap(ab, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def merge_l_ab(L: np.ndarray, ab: np.ndarray, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    out = np.empty((*L.shape, 3), dtype)
    for rows in strips(*L.shape):
        fy = (np.asarray(L[rows], np.float32) + 16.0) / 116.0
        f = np.empty((*fy.shape, 3), np.float32)
        f[..., 0] = fy + ab[rows, :, 0] / 500.0
        f[..., 1] = fy
        f[..., 2] = fy - ab[rows, :, 1] / 200.0
        out[rows] = _encode(_finv(f) @ _XYZN_TO_RGB.T, dtype)
    return out


def compose(pixels: np.ndarray, ab: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The old ``pipeline.compose``: strips merged on all cores (no progress reports)."""
    height, width = pixels.shape[:2]
    out = np.empty((height, width, 3), pixels.dtype)

    def merge_strip(rows: slice) -> None:
        ab_rows = upsample_rows(ab, rows, height, width)
        if strength != 1.0:
            ab_rows = ab_rows * np.float32(strength)
        out[rows] = merge_l_ab(luminance(pixels[rows]), ab_rows, pixels.dtype)

    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for future in [pool.submit(merge_strip, rows) for rows in strips(height, width)]:
            future.result()
    return out
