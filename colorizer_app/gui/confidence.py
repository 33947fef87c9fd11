"""The Confidence view: the photo shaded by how unsure the model is of its colour.

Arrays in, arrays out (no Qt): the engine's uncertainty map (:func:`engine.suggest.uncertainty`,
0 = one colour certain, 1 = any colour equally likely) laid over the gray photo as a heat
colour, so the places where a hint is worth giving stand out.
"""

from __future__ import annotations

import cv2
import numpy as np

# certain -> unsure: dark blue, teal, yellow, red (sRGB)
RAMP = np.array([[30, 60, 160], [40, 170, 160], [250, 220, 60], [230, 40, 30]], np.float32)


def heat(u: np.ndarray) -> np.ndarray:
    """``u`` (H, W) in [0, 1] -> (H, W, 3) float32 sRGB along :data:`RAMP`."""
    pos = np.clip(u, 0.0, 1.0) * (len(RAMP) - 1)
    low = np.minimum(pos.astype(np.int32), len(RAMP) - 2)
    t = (pos - low)[..., None]
    return RAMP[low] * (1 - t) + RAMP[low + 1] * t


def stretch(u: np.ndarray, low_pct: float = 2.0, high_pct: float = 98.0):
    """``u`` rescaled so this photo's surest places are 0 and its least sure 1 (percentiles,
    so a few odd pixels do not set the scale); also returns that (low, high) range.

    A distribution over a few hundred colour bins rarely has low entropy anywhere: measured
    on a portrait with the shipped model, 0.65-0.96 of the maximum. On an absolute scale the
    whole photo looks equally unsure; relative to the photo, the places to hint stand out."""
    low, high = (float(v) for v in np.percentile(u, [low_pct, high_pct]))
    if high - low < 1e-6:
        return np.zeros_like(u), (low, high)
    return np.clip((u - low) / (high - low), 0.0, 1.0), (low, high)


def shade(photo: np.ndarray, uncertainty: np.ndarray, *, opacity: float = 0.6) -> np.ndarray:
    """The photo's lightness under the heat colour of ``uncertainty``.

    Parameters
    ----------
    photo : ndarray (H, W, 3) uint8, the display copy of the photo
    uncertainty : ndarray (h, w) float32 in [0, 1], at the render size (resized to H, W)

    Returns
    -------
    ndarray (H, W, 3) uint8
    """
    h, w = photo.shape[:2]
    u = cv2.resize(uncertainty.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    gray = photo.astype(np.float32).mean(axis=2, keepdims=True)
    out = gray * (1 - opacity) + heat(u) * opacity * (0.35 + 0.65 * gray / 255.0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
