"""Encoders behind :func:`imageio.write_image`: pixels and metadata into one file's bytes.

PNG, JPEG and WebP go through OpenCV's metadata-aware encoder (EXIF + ICC), TIFF through
tifffile, BMP without metadata. A JPEG marker holds 64 KB: an ICC profile larger than one APP2
marker is split over several, as the JPEG (ICC) standard allows, by Pillow's encoder; an EXIF
block larger than one APP1 marker cannot be split and is dropped with a note. Metadata an
encoder refuses for any other reason is dropped with a note too: the photo is always written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorizer_app.engine import tiff
from models.errors import ImageWriteError

log = logging.getLogger(__name__)

JPEG_QUALITY = 95
# A JPEG marker holds 65,533 bytes: EXIF after its "Exif\0\0", an ICC chunk after a 14-byte
# "ICC_PROFILE\0" + sequence number + count header.
JPEG_MAX_EXIF = 65533 - 6
JPEG_ICC_CHUNK = 65533 - 14

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp"}
_PARAMS = {
    "JPEG": [
        cv2.IMWRITE_JPEG_QUALITY,
        JPEG_QUALITY,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ],
    "PNG": [cv2.IMWRITE_PNG_COMPRESSION, 3],
    "WEBP": [cv2.IMWRITE_WEBP_QUALITY, JPEG_QUALITY],
    "BMP": [],
}


def encode(tmp: Path, fmt: str, rgb, alpha, exif: bytes | None, icc: bytes | None) -> list[str]:
    """Write ``rgb`` (H, W, 3) and ``alpha`` (H, W) or None, in a dtype and with channels the
    format holds, as ``fmt`` into the file ``tmp``. Returns notes on metadata left out.

    Raises :class:`ImageWriteError` (without a path: the caller names the target) when the
    encoder fails on the pixels themselves.
    """
    if fmt == "TIFF":
        tiff.write_tiff(tmp, rgb, alpha, exif, icc)
        return []
    if fmt == "BMP":
        exif = icc = None
    notes = []
    if fmt == "JPEG" and exif and len(exif) > JPEG_MAX_EXIF:
        notes.append(f"EXIF of {len(exif) // 1024} KB dropped: a JPEG holds at most 64 KB")
        exif = None
    if fmt == "JPEG" and icc and len(icc) > JPEG_ICC_CHUNK:
        _jpeg_with_pillow(tmp, rgb, exif, icc)
        return notes
    buf = _opencv(fmt, rgb, alpha, exif, icc)
    if buf is None and (exif or icc):
        log.warning("the %s encoder refused the metadata; writing without it", fmt)
        notes.append(f"the {fmt} encoder refused the EXIF and colour profile: dropped")
        buf = _opencv(fmt, rgb, alpha, None, None)
    if buf is None:
        raise ImageWriteError(f"the {fmt} encoder failed")
    buf.tofile(tmp)
    return notes


def _opencv(fmt: str, rgb, alpha, exif, icc) -> np.ndarray | None:
    """The encoded bytes, or None when OpenCV's encoder fails."""
    channels = rgb if alpha is None else np.dstack([rgb, alpha])
    bgr = cv2.cvtColor(channels, cv2.COLOR_RGBA2BGRA if alpha is not None else cv2.COLOR_RGB2BGR)
    kinds, chunks = [], []
    if exif:
        kinds.append(cv2.IMAGE_METADATA_EXIF)
        chunks.append(np.frombuffer(exif, np.uint8))
    if icc:
        kinds.append(cv2.IMAGE_METADATA_ICCP)
        chunks.append(np.frombuffer(icc, np.uint8))
    try:
        if kinds:
            ok, buf = cv2.imencodeWithMetadata(_EXTENSIONS[fmt], bgr, kinds, chunks, _PARAMS[fmt])
        else:
            ok, buf = cv2.imencode(_EXTENSIONS[fmt], bgr, _PARAMS[fmt])
    except cv2.error:
        return None
    return buf if ok else None


def _jpeg_with_pillow(tmp: Path, rgb, exif: bytes | None, icc: bytes) -> None:
    """A JPEG like OpenCV's (quality 95, 4:4:4), its ICC profile split over APP2 markers."""
    Image.fromarray(rgb).save(
        tmp,
        format="JPEG",
        quality=JPEG_QUALITY,
        subsampling=0,
        icc_profile=icc,
        exif=b"Exif\x00\x00" + exif if exif else b"",
    )
