"""Image-quality metrics, always reported next to the gray baseline.

PSNR and SSIM compare an output with the ground truth (scikit-image's implementations, on
8-bit RGB, data range 255). Colourfulness is Hasler and Suesstrunk's (2003) M, computed on the
output alone; its ratio to the truth's colourfulness tells whether a model colours at all (a
gray image scores 0). The *gray baseline* output is the input luminance itself, i.e. the truth
with its a, b set to zero: a model that only wins PSNR by staying gray is not a colorizer.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from models.color import luminance, merge_l_ab

PSNR_CAP = 100.0  # dB reported for identical images (infinite PSNR)


def psnr(output: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB between two (H, W, 3) uint8 images; capped at ``PSNR_CAP`` when identical."""
    _check_pair(output, truth)
    if np.array_equal(output, truth):
        return PSNR_CAP
    return float(min(PSNR_CAP, peak_signal_noise_ratio(truth, output, data_range=255)))


def ssim(output: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over the three channels (7x7 window; smaller images use their odd side)."""
    _check_pair(output, truth)
    side = min(output.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float(np.array_equal(output, truth))
    return float(structural_similarity(truth, output, data_range=255, channel_axis=2, win_size=win))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness M of an (H, W, 3) uint8 image (gray = 0)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def gray_baseline(truth: np.ndarray) -> np.ndarray:
    """The truth's own luminance as an RGB image: what 'no colorization' scores."""
    L = luminance(truth)
    return merge_l_ab(L, np.zeros((*L.shape, 2), np.float32), np.uint8)


def score(output: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM, colourfulness of ``output``, the gray baseline's, and the truth's."""
    gray = gray_baseline(truth)
    return {
        "psnr": psnr(output, truth),
        "ssim": ssim(output, truth),
        "colourfulness": colourfulness(output),
        "gray_psnr": psnr(gray, truth),
        "gray_ssim": ssim(gray, truth),
        "truth_colourfulness": colourfulness(truth),
    }


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected two (H, W, 3) images of one size, got {a.shape}, {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("metrics take uint8 images")
