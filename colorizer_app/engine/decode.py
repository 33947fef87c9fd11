"""Pixels out of an opened image file: format, bit depth, CMYK, pages and orientation.

Behind :func:`imageio.read_image`, which opens the file with Pillow and maps errors to ours.
Pillow decodes 8-bit images (HEIF through the pillow-heif plugin), OpenCV 16-bit PNG and
tifffile (:mod:`.tiff`) the TIFFs Pillow would reduce to 8 bits or cannot decode. Whatever
the decoder, the result is upright: the EXIF orientation applied once (Pillow turns the
TIFFs it decodes upright itself, tifffile never does), and reset to 1 in the EXIF that is
carried to the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from colorizer_app.engine import tiff
from models.errors import ImageReadError, ImageTooLargeError, UnsupportedFormatError

# Pillow format name -> the extension an output of that format gets with --format same.
READ_FORMATS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "WEBP": ".webp",
    "GIF": ".png",  # formats we read but do not write: their outputs are PNG
    "HEIF": ".png",
    "AVIF": ".png",
}
READ_FORMAT_NAMES = "JPEG, PNG, TIFF, BMP, WebP, GIF, HEIC/HEIF or AVIF"
# What a multi-image file is called in a note, and what its images are: "first page of 3 only".
_SEVERAL = {
    "TIFF": ("multi-page TIFF", "page"),
    "PNG": ("animated PNG", "frame"),
    "GIF": ("animated GIF", "frame"),
    "WEBP": ("animated WebP", "frame"),
    "AVIF": ("animated AVIF", "frame"),
    "HEIF": ("HEIF with several images", "image"),
}
_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825


class Decoded(NamedTuple):
    """An upright image: pixels (H, W) gray or (H, W, 3) RGB and alpha (H, W) or None, uint8
    or uint16; the EXIF and ICC profile to carry; notes for the user, one line each."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    format: str
    exif: bytes | None
    icc_profile: bytes | None
    notes: list[str]


def check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    """Refuse more than ``max_pixels`` pixels (:class:`ImageTooLargeError`)."""
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the "
            f"limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels if you trust the file)"
        )


def decode_with_tifffile(path: Path, max_pixels: int) -> Decoded:
    """A TIFF Pillow cannot open (16-bit JPEG-in-TIFF, floating-point RGB, ...)."""
    page = tiff.read_first_page(path, lambda w, h: check_pixels(path, w, h, max_pixels))
    pixels = _orient(page.pixels, page.orientation)
    alpha = None if page.alpha is None else _orient(page.alpha, page.orientation)
    notes = page.notes + _several_note("TIFF", page.pages)
    return Decoded(pixels, alpha, "TIFF", None, page.icc_profile, notes)


class _Pixels(NamedTuple):
    """Pixels as a decoder left them: ``upright`` when it applied the orientation itself."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    icc_profile: bytes | None
    notes: list[str]
    upright: bool = False


def decode(path: Path, im: Image.Image, max_pixels: int) -> Decoded:
    """Decode the image Pillow opened from ``path`` (its first page or frame).

    Raises
    ------
    UnsupportedFormatError, ImageTooLargeError, ImageReadError
        A format we do not read, too many pixels (from the header, before decoding), a
        decoded size that differs from the header. Pillow's own errors pass through.
    """
    fmt = im.format or "?"
    if fmt not in READ_FORMATS:
        raise UnsupportedFormatError(f"{path}: unsupported format {fmt} (use {READ_FORMAT_NAMES})")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{path}: zero width or height ({width}x{height})")
    check_pixels(path, width, height, max_pixels)
    exif, orientation = _exif_of(im)
    icc = im.info.get("icc_profile") or None
    if fmt == "TIFF":
        stored = (im.tag_v2.get(257, height), im.tag_v2.get(256, width))  # before orienting
        decoded = _decode_tiff(path, im, icc)
    else:
        stored = (height, width)
        decoded = _decode_other(path, im, icc)
    pixels, alpha = decoded.pixels, decoded.alpha
    if decoded.upright:
        stored = stored[::-1] if orientation in (5, 6, 7, 8) else stored
    if pixels.shape[:2] != stored:
        raise ImageReadError(f"{path}: decoded size differs from the header (corrupt file)")
    if not decoded.upright:
        pixels = _orient(pixels, orientation)
        alpha = None if alpha is None else _orient(alpha, orientation)
    return Decoded(pixels, alpha, fmt, exif, decoded.icc_profile, decoded.notes)


def _decode_other(path: Path, im: Image.Image, icc: bytes | None) -> _Pixels:
    """Every format but TIFF: Pillow, or OpenCV for 16-bit PNG."""
    several = _several_note(im.format, getattr(im, "n_frames", 1))
    if im.format == "PNG" and _png_bit_depth(path) > 8:
        return _Pixels(*_decode_16bit_png(path), icc, several)
    cmyk = _cmyk_notes(im, icc)
    pixels, alpha = _decode_8bit(path, im)
    return _Pixels(pixels, alpha, None if cmyk else icc, cmyk + several)


def _decode_tiff(path: Path, im: Image.Image, icc: bytes | None) -> _Pixels:
    """8-bit TIFF through Pillow where it can; deeper samples, floating point and layouts or
    compressions Pillow's libtiff lacks through tifffile."""
    several = _several_note("TIFF", tiff.count_pages(path))
    if _pillow_decodes_tiff(im):
        cmyk = _cmyk_notes(im, icc)
        tagged = _ORIENTATION in im.tag_v2
        try:
            pixels, alpha = _decode_8bit(path, im)
        except (OSError, ValueError):  # WebP compression, planar gray + alpha, ...: tifffile
            pass
        else:  # Pillow turns a TIFF upright as it loads it, then drops the tag (>= 10.1)
            upright = tagged and _ORIENTATION not in im.tag_v2
            return _Pixels(pixels, alpha, None if cmyk else icc, cmyk + several, upright)
    page = tiff.read_first_page(path)
    return _Pixels(page.pixels, page.alpha, page.icc_profile, page.notes + several)


def _pillow_decodes_tiff(im: Image.Image) -> bool:
    """Unsigned samples of 8 bits at most (Pillow reduces deeper colour to 8 bits)."""
    bits = im.tag_v2.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    formats = im.tag_v2.get(339, (1,))  # SampleFormat: 1 unsigned, 2 signed, 3 float
    formats = formats if isinstance(formats, tuple) else (formats,)
    return max(bits) <= 8 and set(formats) <= {1}


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as handle:  # IHDR: 8-byte signature, length, type, w, h, depth
        header = handle.read(25)
    return header[24] if len(header) == 25 else 8


def _cmyk_notes(im: Image.Image, icc: bytes | None) -> list[str]:
    """Pillow converts CMYK to RGB; the CMYK profile then describes nothing we keep."""
    return [tiff.cmyk_note(icc)] if im.mode == "CMYK" else []


def _several_note(fmt: str | None, count: int) -> list[str]:
    if count <= 1 or fmt not in _SEVERAL:
        return []  # an MPO's second image is a preview or a depth map, not a photo
    what, unit = _SEVERAL[fmt]
    first = "primary" if fmt == "HEIF" else "first"
    return [f"{what}: {first} {unit} of {count} only"]


def _decode_8bit(path: Path, im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    im.load()  # raises OSError on truncated data
    mode = im.mode
    if mode in ("I", "F", "I;32", "I;32B"):
        raise UnsupportedFormatError(f"{path}: {mode} pixels (32-bit) are not supported")
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), None
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("1", "L"):
        return np.asarray(im.convert("L")), None
    elif mode == "LA":
        return np.asarray(im.getchannel("L")), np.asarray(im.getchannel("A"))
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in mode else "RGB")  # CMYK, YCbCr, LAB, RGBX, ...
    array = np.asarray(im)
    if array.shape[2] == 4:
        return np.ascontiguousarray(array[..., :3]), np.ascontiguousarray(array[..., 3])
    return array, None


def _decode_16bit_png(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    array = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(f"{path}: truncated or corrupt PNG")
    if array.ndim == 3:
        array = cv2.cvtColor(
            array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        )
    return tiff.split_alpha(path, array.astype(np.uint16, copy=False))


def _exif_of(im: Image.Image) -> tuple[bytes | None, int]:
    exif = im.getexif()
    orientation = int(exif.get(_ORIENTATION, 1) or 1)
    if orientation not in range(1, 9):
        orientation = 1
    if im.format == "TIFF":  # the TIFF's own tags are its EXIF IFD0: keep the descriptive ones
        carried = Image.Exif()
        for tag in tiff.DESCRIPTIVE_TAGS:
            if tag in exif:
                carried[tag] = exif[tag]
        for ifd in (_EXIF_IFD, _GPS_IFD):
            sub = exif.get_ifd(ifd)
            if sub:
                carried.get_ifd(ifd).update(sub)
        exif = carried
    if not len(exif):
        return None, orientation
    if _ORIENTATION in exif:
        exif[_ORIENTATION] = 1
    raw = exif.tobytes()
    return (raw[6:] if raw.startswith(b"Exif\x00\x00") else raw), orientation


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the pixels are upright (as ImageOps.exif_transpose)."""
    if orientation in (5, 6, 7, 8):
        array = np.swapaxes(array, 0, 1)  # transpose first, then flip
    flip_rows = orientation in (3, 4, 7, 8)
    flip_cols = orientation in (2, 3, 6, 7)
    if flip_rows:
        array = array[::-1]
    if flip_cols:
        array = array[:, ::-1]
    return np.ascontiguousarray(array) if orientation != 1 else array
