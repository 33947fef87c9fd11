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

from colorizer_app.engine.imageio import as_rgb8
from colorizer_app.engine.pipeline import fit_long_side, render_luminance
from models.color import l_to_gray8


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
    return fit_long_side(image, side)


def luminance_preview(pixels: np.ndarray, render_size: int | None) -> np.ndarray:
    """What the network sees (L at the render size), as (h, w, 3) uint8 gray."""
    return as_rgb8(l_to_gray8(render_luminance(pixels, render_size)))
