"""Typed errors of the inference engine. Each message is one line that names the file."""

from models.errors import ColorizerError, ModelFileError


class Cancelled(Exception):  # noqa: N818 - the name reads as what happened
    """Raised by ``Progress.check_cancelled`` when the user cancelled the job."""


class SettingsError(ColorizerError, ValueError):
    """An option is out of range or inconsistent with the model."""


class ImageReadError(ColorizerError):
    """An input image is missing, empty, truncated, corrupt or not an image."""


class UnsupportedFormatError(ImageReadError):
    """An image in a format (or pixel type) the engine does not handle."""


class ImageTooLargeError(ImageReadError):
    """An image above the pixel limit (a guard against decompression bombs)."""


class ImageWriteError(ColorizerError):
    """An output could not be written (folder not writable, disk full, ...)."""


class InferenceError(ColorizerError):
    """The network could not run, even after the out-of-memory fallbacks."""


__all__ = [
    "Cancelled",
    "ColorizerError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "InferenceError",
    "ModelFileError",
    "SettingsError",
    "UnsupportedFormatError",
]
