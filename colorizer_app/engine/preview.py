"""Display pyramids for viewing huge photos (Qt-free, so it is testable and reusable).

A :class:`Pyramid` holds a photo at full size and at halved sizes down to ``min_side``; a viewer
draws from the coarsest level that still has at least one image pixel per screen pixel, so a
100-megapixel scan repaints from a level the size of the screen, never from the full image.
The GUI colours each level from the cached a,b (``pipeline.compose``), which is how a strength
change redraws without touching the network.
"""

from __future__ import annotations

import cv2
import numpy as np

from colorizer_app.engine.pipeline import render_luminance


class Pyramid:
    """Levels of one image: ``levels[0]`` is full size, each next level half the previous."""

    def __init__(self, levels: list[np.ndarray]) -> None:
        if not levels:
            raise ValueError("a pyramid needs at least one level")
        self.levels = levels

    @classmethod
    def build(cls, image: np.ndarray, *, min_side: int = 512) -> Pyramid:
        levels = [image]
        while min(levels[-1].shape[:2]) // 2 >= min_side:
            prev = levels[-1]
            size = (prev.shape[1] // 2, prev.shape[0] // 2)
            levels.append(cv2.resize(prev, size, interpolation=cv2.INTER_AREA))
        return cls(levels)

    @property
    def height(self) -> int:
        return self.levels[0].shape[0]

    @property
    def width(self) -> int:
        return self.levels[0].shape[1]

    def scale_of(self, level: int) -> float:
        """Level pixels per full-size pixel (horizontal)."""
        return self.levels[level].shape[1] / self.width


THUMB_SIDE = 640  # long side of the thumbnail coloured on the GUI thread


def thumbnail(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """A reduced copy (long side at most ``side``) for instant previews."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def to_display(pixels: np.ndarray) -> np.ndarray:
    """Photo pixels (gray/RGB, 8/16 bit) -> (H, W, 3) uint8 RGB for the screen."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:  # OpenCV: fast, and it releases the GIL (the GUI thread needs it)
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(pixels)


def luminance_preview(pixels: np.ndarray, render_size: int | None) -> np.ndarray:
    """What the network sees (L at the render size), as (h, w, 3) uint8 gray."""
    L = render_luminance(pixels, render_size)
    gray = np.rint(L * 2.55).clip(0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)
