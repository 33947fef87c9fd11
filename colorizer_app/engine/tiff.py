"""TIFF through tifffile: what Pillow cannot decode (16-bit colour, floating point, CMYK at 16
bits, planar samples, WebP or 12-bit JPEG compression), and every TIFF output.

tifffile hands over the samples as stored; this module turns them into what the engine works
on: gray or RGB plus an optional alpha, 8 or 16 bits, with the notes a user should read about
what was converted (``CMYK converted to RGB``) and the page count behind ``first page of 3
only``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from models.errors import ColorizerError, ImageReadError, UnsupportedFormatError

ORIENTATION_TAG, ICC_TAG = 274, 34675
# IFD0 tags worth carrying from a TIFF input (its other tags describe the pixel layout).
DESCRIPTIVE_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, ...

_PHOTOMETRIC = tifffile.PHOTOMETRIC
_COLOUR_SAMPLES = {_PHOTOMETRIC.MINISWHITE: 1, _PHOTOMETRIC.MINISBLACK: 1, _PHOTOMETRIC.RGB: 3}
_INKSET_CMYK = 1


@dataclass
class TiffPage:
    """The first page of a TIFF, decoded but not yet turned upright.

    pixels : ndarray (H, W) gray or (H, W, 3) RGB, uint8 or uint16, as stored.
    alpha : ndarray (H, W) of the same dtype, or None.
    orientation : the TIFF's orientation tag (1-8), not applied.
    icc_profile : the embedded profile when it describes ``pixels`` (a CMYK one does not).
    pages : the number of pages that are images of their own (thumbnails not counted).
    notes : what the user should know about the conversion, one line each.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    orientation: int = 1
    icc_profile: bytes | None = None
    pages: int = 1
    notes: list[str] = field(default_factory=list)


def read_first_page(path: Path, check_size: Callable[[int, int], None] | None = None) -> TiffPage:
    """Decode the first page of the TIFF at ``path`` (LZW, Deflate, Zstd, LZMA, JPEG, WebP...
    through the imagecodecs package); ``check_size(width, height)`` may refuse it first.

    Raises
    ------
    ImageReadError
        A damaged file.
    UnsupportedFormatError
        Samples with no gray, RGB or CMYK meaning, or signed integers.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if check_size is not None:
                check_size(int(page.imagewidth), int(page.imagelength))
            array = page.asarray()
            photometric, samples = int(page.photometric), int(page.samplesperpixel)
            bits, planar = int(page.bitspersample), int(page.planarconfig)
            icc = page.tags.valueof(ICC_TAG) or None
            inkset = page.tags.valueof(332, _INKSET_CMYK)
            orientation = int(page.tags.valueof(ORIENTATION_TAG, 1) or 1)
            pages = _image_pages(tif)
    except ColorizerError:
        raise
    except Exception as err:  # tifffile raises many types for damaged files
        raise ImageReadError(f"{path}: truncated or corrupt TIFF ({reason(err)})") from None
    if planar == tifffile.PLANARCONFIG.SEPARATE and array.ndim == 3 and array.shape[0] == samples:
        array = np.moveaxis(array, 0, -1)  # stored one plane per sample
    colour, extra = _colour_and_extra(path, array, photometric, inkset)
    colour, notes = to_integer_samples(path, colour, bits)
    alpha = None if extra is None else to_integer_samples(path, extra, bits, alpha=True)[0]
    if photometric == _PHOTOMETRIC.MINISWHITE:
        colour = np.iinfo(colour.dtype).max - colour
    elif photometric == _PHOTOMETRIC.SEPARATED:
        colour = cmyk_to_rgb(colour)
        notes.append(cmyk_note(icc))
        icc = None  # it describes the inks, not the RGB pixels
    return TiffPage(
        np.ascontiguousarray(colour),
        alpha,
        orientation=orientation if orientation in range(1, 9) else 1,
        icc_profile=icc,
        pages=pages,
        notes=notes,
    )


def count_pages(path: Path) -> int:
    """The number of pages of a TIFF that are images of their own (thumbnails not counted)."""
    try:
        with tifffile.TiffFile(path) as tif:
            return _image_pages(tif)
    except Exception:  # Pillow decoded the first page; a damaged later page is not our concern
        return 1


def _image_pages(tif: tifffile.TiffFile) -> int:
    return max(1, sum(1 for page in tif.pages if not page.is_reduced))


def _colour_and_extra(path: Path, array: np.ndarray, photometric: int, inkset):
    """(colour samples, the first extra sample or None) by what the photometric tag says."""
    if photometric == _PHOTOMETRIC.SEPARATED:
        if inkset != _INKSET_CMYK or array.ndim != 3 or array.shape[2] < 4:
            raise UnsupportedFormatError(f"{path}: only CMYK separations are supported")
        colours = 4
    else:
        colours = _COLOUR_SAMPLES.get(photometric, 0)
    stored = 1 if array.ndim == 2 else array.shape[2]
    if not colours or stored < colours:  # YCbCr decoded to RGB, ...
        return split_alpha(path, array)
    if array.ndim == 2:
        return array, None
    colour = array[..., 0] if colours == 1 else array[..., :colours]
    extra = array[..., colours] if array.shape[2] > colours else None
    return colour, extra


def split_alpha(path: Path, array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Gray, gray + alpha, RGB or RGBA pixels of any type -> (pixels, alpha)."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return array, None
    if array.ndim != 3 or array.shape[2] not in (2, 3, 4):
        raise UnsupportedFormatError(f"{path}: unsupported channel layout {array.shape}")
    if array.shape[2] == 2:  # gray + alpha
        return np.ascontiguousarray(array[..., 0]), np.ascontiguousarray(array[..., 1])
    alpha = np.ascontiguousarray(array[..., 3]) if array.shape[2] == 4 else None
    return np.ascontiguousarray(array[..., :3]), alpha


def to_integer_samples(
    path: Path, array: np.ndarray, bits: int, *, alpha: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Samples as uint8 or uint16, and a note when they were converted.

    Integers of fewer bits than their type (1-bit, 12-bit...) are scaled to its full range;
    32-bit integers keep their top 16 bits; floating point is taken as 0-1 (or 0 to its
    largest value when that is above 1; alpha always 0-1), NaN as 0, and rounded to 16 bits.
    """
    if array.dtype == np.bool_:  # 1-bit, unpacked
        return array.astype(np.uint8) * np.uint8(255), []
    if array.dtype in (np.uint8, np.uint16):
        top = np.iinfo(array.dtype).max
        if 0 < bits < top.bit_length():
            wide = array.astype(np.uint32) * top // (2**bits - 1)
            array = np.minimum(wide, top).astype(array.dtype)
        return np.ascontiguousarray(array), []
    if array.dtype == np.uint32:
        return (array >> 16).astype(np.uint16), ["32-bit samples reduced to 16 bits"]
    if array.dtype.kind != "f":
        raise UnsupportedFormatError(f"{path}: {array.dtype} samples are not supported")
    values = np.nan_to_num(array.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(values.max()) if values.size else 0.0
    scale = 65535.0 if alpha or top <= 1.0 else 65535.0 / top
    out = np.clip(values * scale + 0.5, 0, 65535).astype(np.uint16)
    note = f"{array.dtype.itemsize * 8}-bit floating-point samples converted to 16 bits"
    if scale != 65535.0:
        note += f" (values up to {top:g} scaled to the full range)"
    return out, [note]


def cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """CMYK ink amounts to RGB, ``R = (1 - C)(1 - K)`` (Pillow's conversion), same dtype.

    cmyk : ndarray (H, W, 4) uint8 or uint16. Returns (H, W, 3) of the same dtype.
    """
    top = np.iinfo(cmyk.dtype).max
    paper = top - cmyk[..., 3].astype(np.uint32)  # what the black ink leaves
    rgb = np.empty((*cmyk.shape[:2], 3), cmyk.dtype)
    for channel in range(3):  # one channel at a time: uint32 products, bounded memory
        rgb[..., channel] = ((top - cmyk[..., channel]) * paper + top // 2) // top
    return rgb


def cmyk_note(icc: bytes | None) -> str:
    """The note for a CMYK photo read as RGB; its profile, if any, is dropped with it."""
    return "CMYK converted to RGB" + ("; its CMYK colour profile dropped" if icc else "")


def write_tiff(tmp: Path, rgb, alpha, exif: bytes | None, icc: bytes | None) -> None:
    """RGB(A) TIFF, zlib-compressed, with the ICC profile and the descriptive EXIF tags."""
    data = rgb if alpha is None else np.dstack([rgb, alpha])
    extratags, software = [], "colorizer"
    if exif:
        carried = Image.Exif()
        carried.load(b"Exif\x00\x00" + exif)
        for tag in DESCRIPTIVE_TAGS:
            value = carried.get(tag)
            if not isinstance(value, str) or not value:
                continue
            if tag == 305:  # Software: tifffile writes this one itself
                software = value
            else:
                extratags.append((tag, "s", 0, value, True))
    tifffile.imwrite(
        tmp,
        data,
        photometric="rgb",
        extrasamples=("unassalpha",) if alpha is not None else None,
        compression="zlib",
        iccprofile=icc,
        metadata=None,
        software=software,
        extratags=extratags or None,
    )


def reason(err: BaseException) -> str:
    """One short line saying why ``err`` happened."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]
