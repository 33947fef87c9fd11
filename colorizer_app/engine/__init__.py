"""The Qt-free inference engine: image I/O, tiling, the colorize pipeline, the batch runner.

The error types, the progress protocol and ``resolve_device`` live one layer down in
``models`` (the trainer shares them); they are re-exported here as the engine's public API.
"""

from colorizer_app.engine.batch import (
    BatchItem,
    BatchSummary,
    FileResult,
    colorize_file,
    plan,
    run_batch,
)
from colorizer_app.engine.imageio import DEFAULT_MAX_PIXELS, Photo, read_image, write_image
from colorizer_app.engine.listing import NotTaken, collect_inputs, not_taken_text
from colorizer_app.engine.pipeline import (
    ColorizeSettings,
    colorize,
    compose,
    predict_ab,
    render_luminance,
    render_shape,
)
from colorizer_app.engine.runner import GeneratorRunner
from models.device import resolve_device
from models.errors import (
    Cancelled,
    ColorizerError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InferenceError,
    ModelFileError,
    SettingsError,
    UnsupportedFormatError,
)
from models.progress import CallbackProgress, NullProgress, Progress

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "BatchItem",
    "BatchSummary",
    "CallbackProgress",
    "Cancelled",
    "ColorizeSettings",
    "ColorizerError",
    "FileResult",
    "GeneratorRunner",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "InferenceError",
    "ModelFileError",
    "NotTaken",
    "NullProgress",
    "Photo",
    "Progress",
    "SettingsError",
    "UnsupportedFormatError",
    "collect_inputs",
    "colorize",
    "colorize_file",
    "compose",
    "not_taken_text",
    "plan",
    "predict_ab",
    "read_image",
    "render_luminance",
    "render_shape",
    "resolve_device",
    "run_batch",
    "write_image",
]
