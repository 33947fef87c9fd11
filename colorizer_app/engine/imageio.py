"""Reading and writing photos: formats, bit depth, alpha, orientation and metadata.

Reading: Pillow identifies the file from its header (format, size, EXIF, ICC profile) before any
pixel is decoded, so empty, foreign and oversized files are refused cheaply. 8-bit images are
decoded by Pillow (which raises on truncated data; HEIF through the pillow-heif plugin); 16-bit
PNG by OpenCV and 16-bit, floating-point or 16-bit CMYK TIFF by tifffile, because Pillow
reduces 16-bit colour to 8 bits (:mod:`.decode`, :mod:`.tiff`). The EXIF orientation is
applied to the pixels and reset to 1 in the metadata that is carried to the output. Of a
multi-page or animated file the first page is read; the photo's ``notes`` say so, and say what
was converted (CMYK, floating point).

Writing (:mod:`.encode`): PNG, JPEG and WebP through OpenCV's metadata-aware encoder (EXIF +
ICC), TIFF through tifffile (ICC + the descriptive EXIF tags), BMP without metadata. What a
format cannot hold (alpha, 16 bits, EXIF over 64 KB in a JPEG) and a profile that does not
describe RGB (a gray scan's) are dropped with a note, never the photo. Always atomic: the
bytes go to a temporary file in the target folder, renamed over the target only when complete.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, features

from colorizer_app.engine import decode, encode
from colorizer_app.engine.tiff import reason as _reason
from models.atomic import write_atomically
from models.errors import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    UnsupportedFormatError,
)

log = logging.getLogger(__name__)

# A guard against decompression bombs: 250 megapixels (about 1 GB as 8-bit RGB). Callers can
# raise it (CLI: --max-pixels).
DEFAULT_MAX_PIXELS = 250_000_000

HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
INPUT_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".dib", ".webp", ".gif", ".avif"}
    | HEIF_EXTENSIONS
)
WRITE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".dib": "BMP",
    ".webp": "WEBP",
}
# What ``--format`` (and the Batch tab's format picker) offers: "same" keeps the input's format.
OUTPUT_FORMATS = ("same", "png", "jpg", "tif", "webp", "bmp")
SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
ALPHA_FORMATS = frozenset({"PNG", "TIFF", "WEBP"})
# The colour space an ICC profile describes (header bytes 16-20), as a note names it.
_PROFILE_SPACES = {b"GRAY": "gray", b"CMYK": "CMYK", b"Lab ": "Lab", b"XYZ ": "XYZ"}


@dataclass
class Photo:
    """A decoded photo, upright.

    pixels : ndarray (H, W) gray or (H, W, 3) RGB, uint8 or uint16.
    alpha : ndarray (H, W) of the same dtype, or None.
    exif : raw EXIF (TIFF structure, no ``Exif\\0\\0`` prefix), orientation reset to 1.
    icc_profile : the embedded ICC profile, carried to the output (when it fits RGB).
    notes : what the user should know about the reading, one line each (``first page of 3
        only``, ``CMYK converted to RGB``).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    format: str = "PNG"
    exif: bytes | None = None
    icc_profile: bytes | None = None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Decode an image file into an upright :class:`Photo` (its first page or frame).

    Raises
    ------
    ImageReadError
        Missing, unreadable, empty, truncated or corrupt file, or not an image.
    UnsupportedFormatError
        An image in a format or pixel type the engine does not handle.
    ImageTooLargeError
        More than ``max_pixels`` pixels (checked from the header, before decoding).
    """
    path = Path(path)
    _check_readable(path)
    _register_heif_opener()
    try:
        try:
            decoded = _decode(path, max_pixels)
        except Image.DecompressionBombError:  # Pillow's guard, below our own limit: ours rules
            with _pillow_limit(max_pixels):
                decoded = _decode(path, max_pixels)
    except Image.UnidentifiedImageError:
        if not _is_tiff(path):
            _refuse_missing_codec(path)
            raise ImageReadError(f"{path}: not an image, or a damaged one") from None
        # a TIFF Pillow cannot open (16-bit JPEG-in-TIFF, floating-point RGB, ...): tifffile
        decoded = decode.decode_with_tifffile(path, max_pixels)
    except Image.DecompressionBombError:  # Pillow's own guard trips above twice our limit
        raise ImageTooLargeError(
            f"{path}: far above the limit of {max_pixels / 1e6:.0f} megapixels "
            "(raise it with --max-pixels if you trust the file)"
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as err:  # Pillow reports damage with these
        raise ImageReadError(f"{path}: truncated or corrupt ({_reason(err)})") from None
    return Photo(**decoded._asdict(), path=path)


def output_bytes(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> int | None:
    """The size in bytes of the RGB output colorizing ``path`` will make, from its header
    alone (pixel count and bit depth), or None when the header does not tell or the photo is
    above ``max_pixels``. A guess for preparing memory ahead: :func:`read_image` decides."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height, mode = *im.size, im.mode
    except Exception:  # noqa: BLE001 - any failure is read_image's to report
        return None
    if width * height > max_pixels:
        return None
    depth = 2 if mode.startswith("I;16") else 1 if mode in _EIGHT_BIT_MODES else None
    return width * height * 3 * depth if depth else None


_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"})


def _decode(path: Path, max_pixels: int) -> decode.Decoded:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            return decode.decode(path, im, max_pixels)


_PILLOW_LIMIT = threading.Lock()


@contextlib.contextmanager
def _pillow_limit(max_pixels: int):
    """Pillow's process-wide bomb limit raised to ``max_pixels`` for one read, then put back
    (only for a photo above Pillow's own limit that the user allowed; never left changed)."""
    with _PILLOW_LIMIT:
        before = Image.MAX_IMAGE_PIXELS
        if before is not None and before < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


@functools.cache
def _register_heif_opener() -> bool:
    """Teach Pillow HEIC/HEIF (phone photos) through pillow-heif, once; False without it."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _refuse_missing_codec(path: Path) -> None:
    """Say which missing piece would read ``path`` when Pillow could not identify it."""
    suffix = path.suffix.lower()
    if suffix in HEIF_EXTENSIONS and not _register_heif_opener():
        raise UnsupportedFormatError(f"{path}: reading HEIF needs the pillow-heif package")
    if suffix == ".avif" and not features.check("avif"):
        raise UnsupportedFormatError(f"{path}: this Pillow cannot read AVIF (Pillow 11.3 can)")


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def _check_readable(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({_reason(err)})") from None
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image")
    if size == 0:
        raise ImageReadError(f"{path}: empty file")
    if not os.access(path, os.R_OK):
        raise ImageReadError(f"{path}: permission denied")


def output_suffix(source: Path, fmt: str) -> str:
    """Output extension for ``--format`` (same, png, jpg, tif, webp, bmp)."""
    if fmt == "same":
        suffix = source.suffix.lower()
        return suffix if suffix in WRITE_FORMATS else ".png"
    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in WRITE_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}")
    return suffix


def write_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    replace: bool = True,
) -> list[str]:
    """Encode ``rgb`` (H, W, 3) uint8/uint16 into ``path`` atomically; format from the suffix.

    Returns notes about what the format could not keep (16-bit, alpha, metadata too large
    for it) and about an ICC profile that does not describe RGB (a gray scan's), which is
    dropped, for the caller to show.
    Raises :class:`ImageWriteError` with the reason when the file cannot be written; a failed
    write leaves neither a partial file nor a changed target. ``replace=False``: a file that
    appeared at ``path`` meanwhile is kept and :class:`OutputExistsError` raised.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(f"{path}: unknown output format {path.suffix!r}")
    icc_profile, notes = _rgb_profile(icc_profile)
    if rgb.dtype == np.uint16 and fmt not in SIXTEEN_BIT_FORMATS:
        rgb = to_8bit(rgb)
        alpha = None if alpha is None else to_8bit(alpha)
        notes.append(f"{fmt} holds 8 bits per channel: saved at 8 bits")
    if alpha is not None and fmt not in ALPHA_FORMATS:
        alpha = None
        notes.append(f"{fmt} has no transparency: alpha channel dropped")
    if alpha is not None and alpha.dtype != rgb.dtype:
        alpha = alpha.astype(rgb.dtype)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file where the folder should be, no permission, ...
        raise ImageWriteError(f"{path}: cannot write ({_reason(err)})") from None
    try:
        write_atomically(
            path,
            lambda tmp: notes.extend(encode.encode(tmp, fmt, rgb, alpha, exif, icc_profile)),
            fsync=True,
            replace=replace,
        )
    except ImageWriteError as err:  # the encoder's reason; the target, not the temporary file
        raise ImageWriteError(f"{path}: {err}") from None
    except FileExistsError:
        raise OutputExistsError(f"{path}: appeared while this photo was colorized") from None
    except OSError as err:
        raise ImageWriteError(f"{path}: cannot write ({_reason(err)})") from None
    return notes


def _rgb_profile(icc: bytes | None) -> tuple[bytes | None, list[str]]:
    """The ICC profile for an RGB output: an RGB one is kept; another (gray, CMYK) describes
    other pixels and is dropped with a note."""
    if icc is None or icc[16:20] == b"RGB ":
        return icc, []
    space = _PROFILE_SPACES.get(icc[16:20], "unrecognised")
    return None, [f"{space} colour profile dropped: it cannot describe an RGB output"]


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels of any shape: uint16 rounded to uint8 (``v * 255 / 65535``), uint8 as is."""
    if pixels.dtype != np.uint16:
        return pixels
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def as_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Photo pixels as 8-bit RGB (for the screen, training crops, thumbnails).

    Parameters
    ----------
    pixels : ndarray (H, W) gray or (H, W, 3) RGB, uint8 or uint16.

    Returns
    -------
    rgb : ndarray (H, W, 3) uint8, C-contiguous; gray is repeated into the three channels.
    """
    pixels = to_8bit(pixels)
    if pixels.ndim == 2:  # OpenCV: fast, and it releases the GIL (the GUI thread needs it)
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(pixels)
