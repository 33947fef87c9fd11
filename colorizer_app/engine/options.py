"""Command-line options of a colorize run, shared by ``colorizer colorize`` and ``evaluate``.

The options and their defaults come from :class:`ColorizeSettings` (the one place a default is
written); the render size and the strength default to what the model file recommends, so they
are only put into the settings when given (:func:`settings_from_args`).
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from colorizer_app.engine.pipeline import ColorizeSettings
from models.device import DEVICES, PRECISION_CHOICES
from models.modelfile import DECODERS

DEFAULTS = ColorizeSettings()
_SETTINGS = {f.name for f in fields(ColorizeSettings)}


def render_size_arg(text: str) -> int | None:
    """``--render-size``: a number of pixels (at least 16) or ``full`` (None)."""
    if text.lower() == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of pixels or 'full', got {text!r}"
        ) from None
    if value < 16:
        raise argparse.ArgumentTypeError("render size must be at least 16")
    return value


def add_colorize_options(parser: argparse.ArgumentParser, *, hardware: bool = True) -> None:
    """Add --render-size, --tile, --overlap, --strength, --decoder, --temperature and --device
    (and, with ``hardware``, --precision and --batch-size) with the defaults of
    :class:`ColorizeSettings`."""
    parser.add_argument(
        "--render-size",
        type=render_size_arg,
        default=argparse.SUPPRESS,
        metavar="N|full",
        help="long side the network sees ('full' = original; default: what the model file "
        f"recommends, else {DEFAULTS.render_size})",
    )
    _number(parser, "tile", "tile size in pixels")
    _number(parser, "overlap", "tile overlap in pixels")
    parser.add_argument(
        "--strength",
        type=float,
        default=argparse.SUPPRESS,
        help="colour strength 0..2: 0 gray, 1 as the model predicts (default: what the model "
        f"file recommends, else {DEFAULTS.strength})",
    )
    parser.add_argument(
        "--decoder",
        choices=("auto", *DECODERS),
        default=argparse.SUPPRESS,
        help="how colour is read off the network: the annealed mean of its colour "
        "distribution (models that have one) or its regression head (default: what the model "
        "file recommends, else auto)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=argparse.SUPPRESS,
        help="annealed-mean temperature, lower = bolder colour (default: what the model file "
        f"recommends, else {DEFAULTS.temperature})",
    )
    parser.add_argument(
        "--no-hint-spread",
        dest="hint_spread",
        action="store_false",
        default=argparse.SUPPRESS,
        help="colour hints only as the network's input, without spreading each hint's colour "
        "over its surface afterwards",
    )
    parser.add_argument(
        "--no-chroma-filter",
        dest="chroma_filter",
        action="store_false",
        default=argparse.SUPPRESS,
        help="the network's colour as it is, without smoothing it where the photo's lightness "
        "is flat (edges kept)",
    )
    parser.add_argument(
        "--device",
        default=DEFAULTS.device,
        help=f"{', '.join(DEVICES[:-1])} or {DEVICES[-1]} (default {DEFAULTS.device})",
    )
    if hardware:
        parser.add_argument(
            "--precision",
            default=DEFAULTS.precision,
            choices=PRECISION_CHOICES,
            help="auto = bf16 on a CPU with native bf16 (AVX-512 BF16, AMX, Arm BF16), else "
            f"fp32 (default {DEFAULTS.precision})",
        )
        _number(parser, "batch_size", "tiles per forward pass")


def _number(parser: argparse.ArgumentParser, name: str, what: str) -> None:
    default = getattr(DEFAULTS, name)
    flag = "--" + name.replace("_", "-")
    parser.add_argument(flag, type=int, default=default, help=f"{what} (default {default})")


def settings_from_args(args: argparse.Namespace) -> dict:
    """The :class:`ColorizeSettings` keywords given in ``args``, for
    ``ColorizeSettings.for_model(info, **settings_from_args(args))``: the render size, the
    strength, the decoder and the temperature only when given on the command line (absent:
    the model's own)."""
    return {name: getattr(args, name) for name in _SETTINGS if hasattr(args, name)}
