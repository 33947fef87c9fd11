"""Edge-aware smoothing of the predicted colour, guided by the photo's lightness.

The guided filter of He, Sun and Tang (2010, "Guided Image Filtering"): within every window
of side ``2 * radius + 1`` the output is the best linear function of the guide, ``q = A * I
+ B``; where the guide is flat (its variance well below ``eps``) that is the window's mean
(smoothing), across a strong edge of the guide the colour keeps the edge. The coefficients
are averaged over the windows covering a pixel, so it costs a few box filters whatever the
radius.

Used on a,b read off the network (:class:`colorizer_app.engine.runner.GeneratorRunner`): the
distribution head predicts at half resolution and its annealed mean flickers a little from
pixel to pixel where the model is unsure; the filter removes that speckle, which SSIM counts
against a colorization, and lines colour edges up with the photo's own edges. Measured on
kodak24 and bsds500-test in docs/MODEL_CARD.md ("Colour smoothing").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RADIUS = 4  # pixels of the network's input (render size): two pixels of the half-res head
EPS = 1e-3  # guide variance (lightness in [0, 1]) below which a window counts as flat


def box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over ``(2 * radius + 1)``-pixel squares, edges replicated; same shape as ``x``."""
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(padded, 2 * radius + 1, stride=1)


def guided_filter(
    src: torch.Tensor, guide: torch.Tensor, *, radius: int = RADIUS, eps: float = EPS
) -> torch.Tensor:
    """Smooth ``src`` where ``guide`` is flat, keep the edges of ``guide``.

    Parameters
    ----------
    src : (N, C, H, W) float, e.g. a,b.
    guide : (N, 1, H, W) float in about [0, 1], e.g. L / 100.
    radius : window half-side in pixels (0 returns ``src`` unchanged).
    eps : regularisation; larger smooths across weaker edges.

    Returns
    -------
    (N, C, H, W) float32.
    """
    if radius < 0 or eps <= 0:
        raise ValueError(f"radius must be >= 0 and eps > 0, got {radius}, {eps}")
    src = src.float()
    if radius == 0:
        return src
    guide = guide.float()
    mean_i = box(guide, radius)
    var_i = box(guide * guide, radius) - mean_i * mean_i
    mean_p = box(src, radius)
    cov_ip = box(guide * src, radius) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a, radius) * guide + box(b, radius)
