"""The colour contract: sRGB (8 or 16 bit) <-> CIE Lab (D65), and the networks' normalisation.

Networks see ``L / 50 - 1`` (L in [0, 100]) and predict ``ab / 110``. The conversions follow
``skimage.color`` (sRGB transfer curve, D65 white, same matrices) to within 1e-3 Lab units, but
run in float32, vectorised, over horizontal strips with lookup tables for the transfer curve,
so a 100-megapixel photo never needs a full-size float64 copy and 16-bit pixels survive a
round trip to within two levels. (OpenCV's float Lab is faster but off by up to 0.4 Lab units,
about 24 levels of a 16-bit channel.) Results are clamped back into the sRGB gamut.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

L_SCALE = 50.0  # L in [0, 100] <-> [-1, 1]
AB_SCALE = 110.0  # a, b in about [-110, 110] <-> [-1, 1]
STRIP_PIXELS = 1 << 20  # pixels per strip in the full-resolution loops

# sRGB (linear) -> XYZ, D65, normalised by the white point so that white is (1, 1, 1).
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZN = (_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)
_XYZN_TO_RGB = np.linalg.inv(_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)
_EPS = (6.0 / 29.0) ** 3
_KAPPA = 3.0 * (6.0 / 29.0) ** 2
# resolution of the linear -> sRGB lookup table per output type: one step of the table
# moves the output by at most 12.92 * levels / steps where the curve is steepest, 0.05 of a
# level for 8 bits (a 64 KB table, which stays in the cache) and 0.8 for 16 bits
_ENCODE_BITS = {"uint8": 16, "uint16": 20}


def _max_value(dtype: np.dtype) -> float:
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    raise TypeError(f"expected uint8 or uint16 pixels, got {dtype}")


def strips(height: int, width: int, pixels: int | None = None):
    """Yield ``slice`` objects covering ``range(height)`` in strips of about ``pixels``."""
    rows = max(1, (pixels or STRIP_PIXELS) // max(1, width))
    for y0 in range(0, height, rows):
        yield slice(y0, min(height, y0 + rows))


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


@lru_cache(maxsize=2)
def _decode_table(levels: int) -> np.ndarray:
    table = _srgb_decode(np.arange(levels, dtype=np.float64) / (levels - 1))
    table.setflags(write=False)
    return table


@lru_cache(maxsize=2)
def _encode_table(dtype_name: str) -> np.ndarray:
    bits = _ENCODE_BITS[dtype_name]
    lin = np.arange(2**bits, dtype=np.float64) / (2**bits - 1)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    dtype = np.dtype(dtype_name)
    table = np.rint(srgb * _max_value(dtype)).astype(dtype)
    table.setflags(write=False)
    return table


def _linear(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype in (np.uint8, np.uint16):
        return np.take(_decode_table(int(_max_value(rgb.dtype)) + 1), rgb)
    return _srgb_decode(np.clip(rgb, 0.0, 1.0))


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(t), t / _KAPPA + 4.0 / 29.0).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB -> Lab.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8 / uint16, or float32 in [0, 1].

    Returns
    -------
    lab : ndarray (H, W, 3) float32; L in [0, 100], a and b in about [-128, 128].
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) pixels, got {rgb.shape}")
    out = np.empty(rgb.shape, np.float32)
    for rows in strips(*rgb.shape[:2]):
        xyz = _f(_linear(rgb[rows]) @ _RGB_TO_XYZN.T)
        fx, fy, fz = xyz[..., 0], xyz[..., 1], xyz[..., 2]
        out[rows, :, 0] = 116.0 * fy - 16.0
        out[rows, :, 1] = 500.0 * (fx - fy)
        out[rows, :, 2] = 200.0 * (fy - fz)
    return out


def lab_to_rgb(lab: np.ndarray, dtype: np.dtype = np.float32) -> np.ndarray:
    """Lab -> sRGB, clamped into the gamut.

    Parameters
    ----------
    lab : ndarray (H, W, 3) float32; L in [0, 100].
    dtype : np.float32 (then in [0, 1]), np.uint8 or np.uint16.

    Returns
    -------
    rgb : ndarray (H, W, 3) of ``dtype``.
    """
    L, ab = lab[..., 0], lab[..., 1:]
    return merge_l_ab(L, ab, dtype)


def luminance(image: np.ndarray) -> np.ndarray:
    """The Lab lightness of a gray or colour image.

    Parameters
    ----------
    image : ndarray (H, W) gray or (H, W, 3) RGB, uint8 or uint16.

    Returns
    -------
    L : ndarray (H, W) float32 in [0, 100].

    A gray value v is the sRGB colour (v, v, v); gray input goes through one lookup table.
    """
    if image.ndim == 2:
        if image.dtype == np.uint8 and image.size:  # OpenCV: 2.5x faster than np.take
            return cv2.LUT(image, _gray_l_table("uint8"))
        return np.take(_gray_l_table(image.dtype.name), image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (H, W) or (H, W, 3) pixels, got {image.shape}")
    out = np.empty(image.shape[:2], np.float32)
    y_row = _RGB_TO_XYZN[1]
    for rows in strips(*image.shape[:2]):
        out[rows] = 116.0 * _f(_linear(image[rows]) @ y_row) - 16.0
    return out


@lru_cache(maxsize=2)
def _gray_l_table(dtype_name: str) -> np.ndarray:
    levels = int(_max_value(np.dtype(dtype_name))) + 1
    y = _decode_table(levels).astype(np.float64)  # Y of (v, v, v) is the linear value itself
    table = (116.0 * np.where(y > _EPS, np.cbrt(y), y / _KAPPA + 4.0 / 29.0) - 16.0).astype(
        np.float32
    )
    table.setflags(write=False)
    return table


def l_to_gray8(L: np.ndarray) -> np.ndarray:
    """Lightness as an 8-bit gray picture (``L * 2.55``, rounded): what a person sees of L.

    Parameters
    ----------
    L : ndarray (H, W) float32 in [0, 100].

    Returns
    -------
    gray : ndarray (H, W) uint8.
    """
    return np.rint(np.asarray(L, np.float32) * 2.55).clip(0, 255).astype(np.uint8)


def normalize_l(L: np.ndarray) -> np.ndarray:
    """L in [0, 100] -> network input in [-1, 1] (float32)."""
    return (np.asarray(L, np.float32) / L_SCALE) - 1.0


def normalize_ab(ab: np.ndarray) -> np.ndarray:
    """a, b in Lab units -> network target in about [-1, 1] (float32)."""
    return np.asarray(ab, np.float32) / AB_SCALE


def denormalize_ab(ab: np.ndarray) -> np.ndarray:
    """Network output in [-1, 1] -> a, b in Lab units (float32)."""
    return np.clip(np.asarray(ab, np.float32), -1.0, 1.0) * AB_SCALE


def merge_l_ab(
    L: np.ndarray,
    ab: np.ndarray,
    dtype: np.dtype = np.uint8,
    *,
    ab_scale: float = 1.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Combine lightness and chroma into an sRGB image.

    Parameters
    ----------
    L : ndarray (H, W) float32 in [0, 100].
    ab : ndarray (H, W, 2) float32, Lab units.
    dtype : np.uint8, np.uint16, or np.float32 (then in [0, 1]).
    ab_scale : factor on a and b (the colour strength), applied on the way.
    out : ndarray (H, W, 3) of ``dtype``, C-contiguous, to write into (default: a new one).

    Returns
    -------
    rgb : ndarray (H, W, 3) of ``dtype``, clamped into the gamut (``out`` when given).

    Works in row blocks of about :data:`BLOCK_PIXELS` with work arrays made once per call, so
    that every pass over a block stays in the core's cache. 8-bit outputs: OpenCV's own
    float Lab -> sRGB conversion (SIMD, its sRGB curve a spline within 1e-5 of the exact
    one: within 1 level of the exact path), then a rounding conversion to 8 bits, 2-3x
    faster. 16-bit and float outputs, where that spline is not exact enough: OpenCV's
    ``merge`` and ``transform`` (Lab -> f(XYZ) and XYZ -> scaled linear RGB as 3x4
    matrices) and in-place float32 NumPy in between, then the lookup table of the sRGB
    curve.
    """
    if ab.ndim != 3 or ab.shape[2] != 2 or L.shape != ab.shape[:2]:
        raise ValueError(f"L {L.shape} and ab {ab.shape} do not match")
    dtype = np.dtype(dtype)
    if out is None:
        out = np.empty((*L.shape, 3), dtype)
    elif out.shape != (*L.shape, 3) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {(*L.shape, 3)} {dtype} array")
    if L.size == 0:
        return out
    block_rows = max(1, BLOCK_PIXELS // L.shape[1])
    if dtype == np.uint8:
        size = min(L.shape[0], block_rows) * L.shape[1]
        lab, scaled = np.empty((size, 3), np.float32), np.empty((size, 2), np.float32)
        for rows in strips(*L.shape, BLOCK_PIXELS):
            _merge_block_8bit(L[rows], ab[rows], out[rows], np.float32(ab_scale), lab, scaled)
        return out
    scratch = _MergeScratch(min(L.shape[0], block_rows) * L.shape[1])
    to_f = _lab_to_f(ab_scale)
    to_rgb = _xyz_to_scaled_rgb(dtype)
    for rows in strips(*L.shape, BLOCK_PIXELS):
        _merge_block(L[rows], ab[rows], out[rows], to_f, to_rgb, scratch)
    return out


# pixels per block of the merge: its work arrays (60 bytes a pixel, 4 MB) stay in the cache.
# 2**16, not 2**14: the full-size merge hands over blocks of about 17,000 pixels (two rows of
# a 48 MP photo), which 2**14 split into a block and a sliver; measured 20% faster at 48 MP
BLOCK_PIXELS = 1 << 16
_STEP = 6.0 / 29.0  # f(t) is cbrt(t) above _STEP**3, linear below; its inverse: t**3 above


def _lab_to_f(ab_scale: float) -> np.ndarray:
    """3x4 matrix: (L, a, b, 1) -> (f(X/Xn), f(Y), f(Z/Zn)), a and b times ``ab_scale``."""
    return np.array(
        [
            [1 / 116, ab_scale / 500, 0.0, 16 / 116],
            [1 / 116, 0.0, 0.0, 16 / 116],
            [1 / 116, 0.0, -ab_scale / 200, 16 / 116],
        ],
        np.float32,
    )


@lru_cache(maxsize=3)
def _xyz_to_scaled_rgb(dtype: np.dtype) -> np.ndarray:
    """3x4 matrix: normalised XYZ -> linear RGB, for integer outputs already scaled to the
    index of the encoding table and offset by 0.5 (so truncation rounds)."""
    if dtype == np.float32:
        matrix = np.concatenate([_XYZN_TO_RGB, np.zeros((3, 1), np.float32)], 1)
        matrix.setflags(write=False)
        return matrix
    top = np.float32(2 ** _ENCODE_BITS[dtype.name] - 1)
    half = np.full((3, 1), 0.5, np.float32)
    matrix = np.concatenate([_XYZN_TO_RGB * top, half], 1).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


class _MergeScratch:
    """Work arrays of one :func:`merge_l_ab` call, for blocks of up to ``size`` pixels."""

    def __init__(self, size: int) -> None:
        self.lab = np.empty((size, 3), np.float32)
        self.f = np.empty((size, 3), np.float32)
        self.above = np.empty((size, 3), np.float32)
        self.cube = np.empty((size, 3), np.float32)
        self.index = np.empty((size, 3), np.int32)


def _merge_block(L, ab, out, to_f, to_rgb, s: _MergeScratch) -> None:
    h, w = L.shape
    n = h * w
    lab, f, above, cube = (a[:n].reshape(h, w, 3) for a in (s.lab, s.f, s.above, s.cube))
    cv2.merge([np.ascontiguousarray(L, np.float32), np.ascontiguousarray(ab, np.float32)], lab)
    cv2.transform(lab, to_f, f)
    # f -> XYZ without branches: the linear segment is the tangent of t**3 at _STEP, and
    # t**3 - tangent = d*d*(d + 3*_STEP) with d = t - _STEP, added where d > 0
    np.subtract(f, np.float32(_STEP), out=above)
    np.maximum(above, np.float32(0.0), out=above)
    np.multiply(above, above, out=cube)
    above += np.float32(3 * _STEP)
    cube *= above
    f -= np.float32(4.0 / 29.0)
    f *= np.float32(_KAPPA)
    f += cube
    cv2.transform(f, to_rgb, f)  # linear RGB (integer outputs: table index + 0.5)
    if out.dtype == np.float32:
        out[:] = _srgb_encode(f)
        return
    index = s.index[:n].reshape(h, w, 3)
    np.copyto(index, f, casting="unsafe")  # truncation; the gamut clamp is the table's ends
    np.take(_encode_table(out.dtype.name), index, out=out, mode="clip")


def _merge_block_8bit(L, ab, out, ab_scale, lab, scaled) -> None:
    h, w = L.shape
    lab = lab[: h * w].reshape(h, w, 3)
    if ab_scale != 1:  # on the 2-channel a,b: scaling two channels of `lab` in place is
        ab = np.multiply(ab, ab_scale, out=scaled[: h * w].reshape(h, w, 2))  # 40x slower
    cv2.merge([np.ascontiguousarray(L, np.float32), np.ascontiguousarray(ab, np.float32)], lab)
    cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, lab)  # sRGB in [0, 1], clamped into the gamut
    cv2.convertScaleAbs(lab, out, 255.0)  # rounds to nearest (the values are not negative)


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> sRGB in [0, 1], float32 (``linear`` is clipped in place)."""
    linear = np.clip(linear, 0.0, 1.0, out=linear)
    return np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055
    ).astype(np.float32)


def ab_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """a, b of an RGB image: ``(H, W, 3)`` float32 in [0, 1] -> ``(H, W, 2)`` float32."""
    return rgb_to_lab(rgb)[..., 1:]
