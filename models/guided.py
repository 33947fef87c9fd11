"""Edge-aware smoothing of the predicted colour, guided by the photo's lightness.

The guided filter of He, Sun and Tang (2010, "Guided Image Filtering"): within every window
of side ``2 * radius + 1`` the output is the best linear function of the guide, ``q = A * I
+ B``; where the guide is flat (its variance well below ``eps``) that is the window's mean
(smoothing), across a strong edge of the guide the colour keeps the edge. The coefficients
are averaged over the windows covering a pixel, so it costs a few box filters (OpenCV's,
constant time per pixel) whatever the radius.

Used on a,b read off the network (:class:`colorizer_app.engine.runner.GeneratorRunner`): the
distribution head predicts at half resolution and its annealed mean flickers a little from
pixel to pixel where the model is unsure; the filter removes that speckle, which SSIM counts
against a colorization, and lines colour edges up with the photo's own edges. Measured on
kodak24 and bsds500-test in docs/MODEL_CARD.md ("Colour smoothing").
"""

from __future__ import annotations

import cv2
import numpy as np

RADIUS = 4  # pixels of the network's input (render size): two pixels of the half-res head
EPS = 1e-3  # guide variance (lightness in [0, 1]) below which a window counts as flat


def box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over ``(2 * radius + 1)``-pixel squares of an (H, W) or (H, W, C) float32 array,
    edges replicated; same shape."""
    side = 2 * radius + 1
    out = cv2.boxFilter(x, -1, (side, side), borderType=cv2.BORDER_REPLICATE)
    return out.reshape(x.shape)  # OpenCV drops a trailing axis of 1


def guided_filter(
    src: np.ndarray, guide: np.ndarray, *, radius: int = RADIUS, eps: float = EPS
) -> np.ndarray:
    """Smooth ``src`` where ``guide`` is flat, keep the edges of ``guide``.

    Parameters
    ----------
    src : ndarray (H, W, C) float, e.g. a,b.
    guide : ndarray (H, W) float in about [0, 1], e.g. L / 100.
    radius : window half-side in pixels (0 returns ``src`` unchanged, as float32).
    eps : regularisation; larger smooths across weaker edges.

    Returns
    -------
    ndarray (H, W, C) float32.
    """
    if radius < 0 or eps <= 0:
        raise ValueError(f"radius must be >= 0 and eps > 0, got {radius}, {eps}")
    src = np.asarray(src, np.float32)
    if radius == 0:
        return src
    guide = np.asarray(guide, np.float32)[..., None]
    channels = src.shape[2]
    # the window means of I, I^2, p and I*p in one pass, then those of A and B in another
    means = box(np.concatenate([guide, guide * guide, src, guide * src], axis=2), radius)
    mean_i, mean_ii = means[..., :1], means[..., 1:2]
    mean_p, mean_ip = means[..., 2 : 2 + channels], means[..., 2 + channels :]
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    coeffs = box(np.concatenate([a, b], axis=2), radius)
    return coeffs[..., :channels] * guide + coeffs[..., channels:]
