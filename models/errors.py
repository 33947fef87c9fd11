"""Error types shared by the core packages (models, trainer, the engine) and the front ends.

Each message is one line that names the file or the setting. They live in the bottom layer so
that the trainer and the engine raise and catch the same types without importing each other
upward; ``colorizer_app.engine`` re-exports them as part of its public surface.
"""


class ColorizerError(Exception):
    """Base class of every error the colorizer reports to a user (one clear line)."""


class ModelFileError(ColorizerError):
    """A model file is missing, truncated, foreign or incompatible with this version."""


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


class OutputExistsError(ImageWriteError):
    """The output appeared while it was being made (another process wrote it): kept as is."""


class InferenceError(ColorizerError):
    """The network could not run, even after the out-of-memory fallbacks."""
