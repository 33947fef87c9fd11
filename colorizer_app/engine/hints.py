"""Colour hints from users: the hint file format, and hints carried to the network's input.

A hint file (JSON, ``<photo file name>.hints.json`` beside the photo, or given explicitly)::

    {"format": "colorizer-hints", "version": 1, "width": 4000, "height": 3000,
     "hints": [{"x": 1203.5, "y": 880.0, "color": "#b04a2f", "radius": 6}]}

``x``, ``y``: pixels of the image as displayed (after EXIF orientation), origin top-left,
pixel centres at +0.5; ``radius``: in the same pixels, optional (the engine then uses a
5-pixel patch at the render size, the middle of what the network was trained with);
``color``: sRGB, of which only a,b are used (the lightness always comes from the photo).
``width``/``height`` are the image's: a file made for a resized copy of the same photo (same
aspect ratio within 1%) is scaled, with a warning; any other size is refused.

Hints outside the image are dropped with a warning. At the render size each hint becomes a
square patch of 1-9 pixels (:mod:`models.hints`); tiles see the hints that fall inside them,
margins included, so tiled and whole-image inference agree.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import hints as net_hints
from models.atomic import write_text_atomically
from models.color import ab_from_rgb, lab_to_rgb
from models.errors import ColorizerError

FORMAT = "colorizer-hints"
VERSION = 1
SUFFIX = ".hints.json"
DEFAULT_PATCH = 5  # render pixels, when a hint gives no radius
ASPECT_TOLERANCE = 0.01
MAX_HINTS = 10_000
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class HintFileError(ColorizerError):
    """A hint file is unreadable, of another format or version, or made for another image."""


@dataclass(frozen=True)
class Hint:
    """A colour hint in full-resolution pixel coordinates; colour as Lab a, b."""

    x: float
    y: float
    a: float
    b: float
    radius: float | None = None  # full-resolution pixels; None = the engine's default
    color: str | None = None  # the sRGB colour as given ("#rrggbb"), kept for saving

    @classmethod
    def from_rgb(cls, x: float, y: float, rgb, radius: float | None = None) -> Hint:
        """A hint of an sRGB colour (``(r, g, b)`` 0..255 or ``"#rrggbb"``)."""
        a, b = _ab_of(rgb)
        if not isinstance(rgb, str):
            rgb = "#{:02x}{:02x}{:02x}".format(*(int(round(v)) for v in rgb))
        return cls(float(x), float(y), a, b, radius, "#" + rgb.strip().lstrip("#").lower())

    def rgb(self, lightness: float = 60.0) -> tuple[int, int, int]:
        """The hint's colour as sRGB at a lightness (hints carry no lightness of their own)."""
        lab = np.array([[[lightness, self.a, self.b]]], np.float32)
        return tuple(int(v) for v in lab_to_rgb(lab, np.uint8)[0, 0])

    def hex(self, lightness: float = 60.0) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb(lightness))


def _ab_of(rgb) -> tuple[float, float]:
    if isinstance(rgb, str):
        match = _HEX.match(rgb.strip())
        if not match:
            raise ValueError(f"colour {rgb!r} is not #rrggbb")
        value = match.group(1)
        rgb = tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))
    pixel = np.asarray(rgb, np.float64).reshape(1, 1, 3)
    if not np.isfinite(pixel).all() or (pixel < 0).any() or (pixel > 255).any():
        raise ValueError(f"colour {tuple(pixel.ravel())} is not an sRGB colour (0..255)")
    a, b = ab_from_rgb(pixel.astype(np.uint8))[0, 0]
    return float(a), float(b)


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def parse_hints(
    data, width: int, height: int, *, source: str = "hints"
) -> tuple[list[Hint], list[str]]:
    """Validate a hint file's JSON for an image of ``width`` x ``height``.

    Returns the hints (scaled when the file was made for a resized copy) and warnings.

    Raises
    ------
    HintFileError
        Another format, a newer version, malformed hints, or another image's size.
    """

    def fail(why: str) -> HintFileError:
        return HintFileError(f"{source}: {why}")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise fail(f'not a colour hint file (expected "format": "{FORMAT}")')
    version = data.get("version")
    if version != VERSION:
        raise fail(f"hint file version {version!r} is not supported (this app reads {VERSION})")
    try:
        file_w = _number(data.get("width"), "width")
        file_h = _number(data.get("height"), "height")
    except ValueError as err:
        raise fail(str(err)) from None
    if file_w < 1 or file_h < 1:
        raise fail("width and height must be positive")
    raw = data.get("hints")
    if not isinstance(raw, list):
        raise fail('"hints" must be a list')
    if len(raw) > MAX_HINTS:
        raise fail(f"{len(raw)} hints; at most {MAX_HINTS} are accepted")
    warnings = []
    scale_x, scale_y = width / file_w, height / file_h
    if (file_w, file_h) != (width, height):
        if abs(scale_x / scale_y - 1.0) > ASPECT_TOLERANCE:
            raise fail(
                f"made for a {file_w:g}x{file_h:g} image; this one is {width}x{height} "
                "(another aspect ratio)"
            )
        warnings.append(
            f"{source}: made for {file_w:g}x{file_h:g}, scaled to this {width}x{height} image"
        )
    hints, outside = [], 0
    for i, item in enumerate(raw):
        try:
            if not isinstance(item, dict):
                raise ValueError("must be an object with x, y and color")
            x = _number(item.get("x"), "x") * scale_x
            y = _number(item.get("y"), "y") * scale_y
            radius = item.get("radius")
            if radius is not None:
                radius = _number(radius, "radius") * scale_x
                if not 0 < radius <= 10_000:
                    raise ValueError(f"radius must be in (0, 10000], got {item.get('radius')!r}")
            color = item.get("color")
            if not isinstance(color, str):
                raise ValueError(f"color must be a string '#rrggbb', got {color!r}")
            a, b = _ab_of(color)
        except ValueError as err:
            raise fail(f"hint {i + 1}: {err}") from None
        if not (0 <= x < width and 0 <= y < height):
            outside += 1
            continue
        hints.append(Hint(x, y, a, b, radius, "#" + color.strip().lstrip("#").lower()))
    if outside:
        warnings.append(f"{source}: {outside} hint(s) outside the image were ignored")
    return hints, warnings


def _read_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintFileError(f"{path}: hint file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise HintFileError(f"{path}: cannot read the hint file ({err})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise HintFileError(f"{path}: not valid JSON ({err})") from None


def load_hints(path: str | os.PathLike, width: int, height: int) -> tuple[list[Hint], list[str]]:
    """Read and validate a hint file for an image of ``width`` x ``height`` (see module)."""
    path = Path(path)
    return parse_hints(_read_json(path), width, height, source=str(path))


def count_hints(path: str | os.PathLike) -> int:
    """How many hints a hint file holds, for a listing (its format and version are checked;
    the hints themselves and the image size when it is used)."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HintFileError(f'{path}: not a colour hint file (expected "format": "{FORMAT}")')
    if data.get("version") != VERSION or not isinstance(data.get("hints"), list):
        raise HintFileError(f"{path}: not a hint file of version {VERSION} with a hint list")
    return len(data["hints"])


def save_hints(
    path: str | os.PathLike, hints: list[Hint], width: int, height: int, *, lightness=60.0
) -> Path:
    """Write a hint file atomically (each hint's sRGB colour as given; a hint made from a,b
    alone is stored as the sRGB colour of that a,b at ``lightness``)."""
    path = Path(path)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "width": width,
        "height": height,
        "hints": [
            {"x": h.x, "y": h.y, "color": h.color or h.hex(lightness)}
            | ({"radius": h.radius} if h.radius is not None else {})
            for h in hints
        ],
    }
    return write_text_atomically(path, json.dumps(data, indent=1))


def sidecar_path(photo: str | os.PathLike) -> Path:
    """``photo.jpg`` -> ``photo.jpg.hints.json`` beside it."""
    photo = Path(photo)
    return photo.with_name(photo.name + SUFFIX)


def to_render(
    hints: list[Hint], full_shape: tuple[int, int], render_shape: tuple[int, int]
) -> list[net_hints.PatchHint]:
    """Hints in the network's pixels: positions scaled to the render size, the radius turned
    into a patch of 1-9 render pixels (``DEFAULT_PATCH`` when a hint has none)."""
    scale_y = render_shape[0] / full_shape[0]
    scale_x = render_shape[1] / full_shape[1]
    out = []
    for h in hints:
        if h.radius is None:
            size = DEFAULT_PATCH
        else:
            size = int(round(2 * h.radius * scale_x))
            size = min(net_hints.MAX_PATCH, max(net_hints.MIN_PATCH, size))
        out.append(net_hints.PatchHint(h.y * scale_y, h.x * scale_x, h.a, h.b, size))
    return out


def from_patches(
    patches: list[net_hints.PatchHint],
    full_shape: tuple[int, int],
    render_shape: tuple[int, int],
) -> list[Hint]:
    """The inverse of :func:`to_render` (for simulated hints given at the render size)."""
    scale_y = full_shape[0] / render_shape[0]
    scale_x = full_shape[1] / render_shape[1]
    return [Hint(p.x * scale_x, p.y * scale_y, p.a, p.b, p.size / 2 * scale_x) for p in patches]


def window(patches: list[net_hints.PatchHint], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """The hint channels of the window rows y0:y1, columns x0:x1 ((h, w, 3) float32)."""
    reach = net_hints.MAX_PATCH
    inside = [
        net_hints.PatchHint(p.y - y0, p.x - x0, p.a, p.b, p.size)
        for p in patches
        if y0 - reach <= p.y < y1 + reach and x0 - reach <= p.x < x1 + reach
    ]
    return net_hints.rasterize(y1 - y0, x1 - x0, inside)
