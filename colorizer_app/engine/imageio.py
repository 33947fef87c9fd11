"""Reading and writing photos: formats, bit depth, alpha, orientation and metadata.

Reading: Pillow identifies the file from its header (format, size, EXIF, ICC profile) before any
pixel is decoded, so empty, foreign and oversized files are refused cheaply. 8-bit images are
decoded by Pillow (which raises on truncated data); 16-bit PNG by OpenCV and 16-bit TIFF by
tifffile, because Pillow reduces 16-bit colour to 8 bits. The EXIF orientation is applied to
the pixels and reset to 1 in the metadata that is carried to the output.

Writing: PNG, JPEG and WebP through OpenCV's metadata-aware encoder (EXIF + ICC), TIFF through
tifffile (ICC + the descriptive EXIF tags), BMP without metadata. Always atomic: the bytes go to
a temporary file in the target folder, which is renamed over the target only when complete.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

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

# Pillow format name -> the extension an output of that format gets with --format same.
READ_FORMATS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "WEBP": ".webp",
}
INPUT_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".dib", ".webp"}
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
JPEG_QUALITY = 95

_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# IFD0 tags worth carrying from a TIFF input (its other tags describe the pixel layout).
_DESCRIPTIVE_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, ...


@dataclass
class Photo:
    """A decoded photo, upright.

    pixels : ndarray (H, W) gray or (H, W, 3) RGB, uint8 or uint16.
    alpha : ndarray (H, W) of the same dtype, or None.
    exif : raw EXIF (TIFF structure, no ``Exif\\0\\0`` prefix), orientation reset to 1.
    icc_profile : the embedded ICC profile, carried to the output untouched.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    format: str = "PNG"
    exif: bytes | None = None
    icc_profile: bytes | None = None
    path: Path | None = None

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
    """Decode an image file into an upright :class:`Photo`.

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
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # our own limit, checked below, is the authority
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return _decode(path, im, max_pixels)
    except Image.UnidentifiedImageError:
        if _is_tiff(path):  # a TIFF Pillow cannot open (16-bit JPEG-in-TIFF, ...): tifffile
            return _read_with_tifffile(path, max_pixels)
        raise ImageReadError(f"{path}: not an image, or a damaged one") from None
    except Image.DecompressionBombError:  # Pillow's own guard trips above twice our limit
        raise ImageTooLargeError(
            f"{path}: far above the limit of {max_pixels / 1e6:.0f} megapixels "
            "(raise it with --max-pixels if you trust the file)"
        ) from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as err:  # Pillow reports damage with these
        raise ImageReadError(f"{path}: truncated or corrupt ({_reason(err)})") from None


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def _read_with_tifffile(path: Path, max_pixels: int) -> Photo:
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            height, width = page.shape[:2]
            tags = {tag.code: tag.value for tag in page.tags.values()}
    except Exception as err:  # tifffile raises many types for damaged files
        raise ImageReadError(f"{path}: not an image, or a damaged one ({_reason(err)})") from None
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the "
            f"limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels if you trust the file)"
        )
    array = _tiff_pixels(path)
    if array.dtype not in (np.uint8, np.uint16):
        raise UnsupportedFormatError(f"{path}: {array.dtype} pixels are not supported")
    pixels, alpha = _split_alpha(path, array)
    orientation = int(tags.get(274, 1) or 1)
    orientation = orientation if orientation in range(1, 9) else 1
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    icc = tags.get(34675) or None
    return Photo(pixels=pixels, alpha=alpha, format="TIFF", icc_profile=icc, path=path)


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


def _decode(path: Path, im: Image.Image, max_pixels: int) -> Photo:
    fmt = im.format or "?"
    if fmt not in READ_FORMATS:
        raise UnsupportedFormatError(
            f"{path}: unsupported format {fmt} (use JPEG, PNG, TIFF, BMP or WebP)"
        )
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{path}: zero width or height ({width}x{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the "
            f"limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels if you trust the file)"
        )
    exif, orientation = _exif_of(im)
    icc = im.info.get("icc_profile") or None
    if _bit_depth(path, im) > 8:
        pixels, alpha = _decode_16bit(path, fmt)
    elif fmt == "TIFF":
        try:
            pixels, alpha = _decode_8bit(path, im)
        except OSError:  # a compression Pillow's libtiff lacks (WebP, ...): tifffile's codecs
            pixels, alpha = _split_alpha(path, _tiff_pixels(path))
    else:
        pixels, alpha = _decode_8bit(path, im)
    if pixels.shape[:2] != (height, width):
        raise ImageReadError(f"{path}: decoded size differs from the header (corrupt file)")
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    return Photo(pixels=pixels, alpha=alpha, format=fmt, exif=exif, icc_profile=icc, path=path)


def _bit_depth(path: Path, im: Image.Image) -> int:
    if im.format == "PNG":
        with open(path, "rb") as handle:  # IHDR: 8-byte signature, length, type, w, h, depth
            header = handle.read(25)
        return header[24] if len(header) == 25 else 8
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        fmt = im.tag_v2.get(339, 1)  # SampleFormat: 1 unsigned, 3 float
        if 3 in (fmt if isinstance(fmt, tuple) else (fmt,)) or max(bits) > 16:
            raise UnsupportedFormatError(
                f"{path}: {max(bits)}-bit or floating-point TIFF is not supported "
                "(use 8 or 16 bits per channel)"
            )
        return max(bits)
    return 8


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


def _decode_16bit(path: Path, fmt: str) -> tuple[np.ndarray, np.ndarray | None]:
    if fmt == "PNG":
        array = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
        if array is None:
            raise ImageReadError(f"{path}: truncated or corrupt PNG")
        if array.ndim == 3:
            array = cv2.cvtColor(
                array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
            )
    else:
        array = _tiff_pixels(path)
    if array.dtype != np.uint16:
        array = array.astype(np.uint16)
    return _split_alpha(path, array)


def _tiff_pixels(path: Path) -> np.ndarray:
    """The first page of a TIFF through tifffile, which decodes LZW, Deflate, Zstd, LZMA,
    JPEG, WebP and more with the imagecodecs package."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            array, bits = page.asarray(), int(page.bitspersample)
    except Exception as err:  # tifffile raises many types for damaged files
        raise ImageReadError(f"{path}: truncated or corrupt TIFF ({_reason(err)})") from None
    if array.dtype == np.uint16 and 8 < bits < 16:  # 10/12/14-bit samples: to the full range
        scaled = array.astype(np.uint32) * 65535 // (2**bits - 1)
        array = np.minimum(scaled, 65535).astype(np.uint16)
    return array


def _split_alpha(path: Path, array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Gray, gray + alpha, RGB or RGBA pixels of any integer type -> (pixels, alpha)."""
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


def _exif_of(im: Image.Image) -> tuple[bytes | None, int]:
    exif = im.getexif()
    orientation = int(exif.get(_ORIENTATION, 1) or 1)
    if orientation not in range(1, 9):
        orientation = 1
    if im.format == "TIFF":  # the TIFF's own tags are its EXIF IFD0: keep the descriptive ones
        carried = Image.Exif()
        for tag in _DESCRIPTIVE_TAGS:
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

    Returns notes about what the format could not keep (16-bit, alpha), for the caller to show.
    Raises :class:`ImageWriteError` with the reason when the file cannot be written; a failed
    write leaves neither a partial file nor a changed target. ``replace=False``: a file that
    appeared at ``path`` meanwhile is kept and :class:`OutputExistsError` raised.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(f"{path}: unknown output format {path.suffix!r}")
    notes = []
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
            lambda tmp: _encode_to(tmp, fmt, rgb, alpha, exif, icc_profile),
            fsync=True,
            replace=replace,
        )
    except ImageWriteError:
        raise
    except FileExistsError:
        raise OutputExistsError(f"{path}: appeared while this photo was colorized") from None
    except OSError as err:
        raise ImageWriteError(f"{path}: cannot write ({_reason(err)})") from None
    return notes


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


def _encode_to(tmp: Path, fmt, rgb, alpha, exif, icc) -> None:
    if fmt == "TIFF":
        _write_tiff(tmp, rgb, alpha, exif, icc)
        return
    channels = rgb if alpha is None else np.dstack([rgb, alpha])
    bgr = cv2.cvtColor(channels, cv2.COLOR_RGBA2BGRA if alpha is not None else cv2.COLOR_RGB2BGR)
    ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp"}[fmt]
    params = {
        "JPEG": [
            cv2.IMWRITE_JPEG_QUALITY,
            JPEG_QUALITY,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        ],
        "PNG": [cv2.IMWRITE_PNG_COMPRESSION, 3],
        "WEBP": [cv2.IMWRITE_WEBP_QUALITY, JPEG_QUALITY],
        "BMP": [],
    }[fmt]
    kinds, chunks = [], []
    if fmt != "BMP":
        if exif:
            kinds.append(cv2.IMAGE_METADATA_EXIF)
            chunks.append(np.frombuffer(exif, np.uint8))
        if icc:
            kinds.append(cv2.IMAGE_METADATA_ICCP)
            chunks.append(np.frombuffer(icc, np.uint8))
    if kinds:
        ok, buf = cv2.imencodeWithMetadata(ext, bgr, kinds, chunks, params)
    else:
        ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ImageWriteError(f"{tmp.name}: the {fmt} encoder failed")
    buf.tofile(tmp)


def _write_tiff(tmp: Path, rgb, alpha, exif, icc) -> None:
    data = rgb if alpha is None else np.dstack([rgb, alpha])
    extratags, software = [], "colorizer"
    if exif:
        carried = Image.Exif()
        carried.load(b"Exif\x00\x00" + exif)
        for tag in _DESCRIPTIVE_TAGS:
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


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]
