"""``colorizer train`` and ``colorizer evaluate`` (also ``python -m trainer`` for torchrun).

Training options are generated from :class:`~trainer.config.TrainConfig`'s fields, so the
command line, the JSON config and the GUI share one list of settings.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import typing
from dataclasses import MISSING, fields
from pathlib import Path

from trainer.config import TrainConfig
from trainer.report import losses

_HIDDEN = {"extra"}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="JSON", help="settings file; options override it")
    parser.add_argument(
        "--json-progress",
        action="store_true",
        help="print one JSON object per event on stdout and obey 'pause', 'resume' and "
        "'cancel' lines on stdin (for the GUI)",
    )
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        if f.name in _HIDDEN:
            continue
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        default = f.default if f.default is not MISSING else None
        kwargs: dict = {
            "dest": f.name,
            "default": argparse.SUPPRESS,
            "help": f"{f.metadata.get('help', '')} (default: {default!r})".lstrip(),
        }
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) is typing.Literal:
            kwargs["choices"] = typing.get_args(hint)
        else:
            kwargs["type"] = hint
        parser.add_argument(flag, **kwargs)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The settings file (``--config``), then the options given, over TrainConfig's defaults.

    The one default the command line chooses itself: the autoencoder baseline trains with
    ``mse`` (its recipe) when no loss is given, since it has no discriminator for ``gan_l1``.
    """
    base = json.loads(Path(args.config).read_text()) if getattr(args, "config", None) else {}
    names = {f.name for f in fields(TrainConfig)}
    base.update({k: v for k, v in vars(args).items() if k in names})
    if base.get("architecture") == "autoencoder" and "loss" not in base:
        base["loss"] = "mse"
    return TrainConfig.from_dict(base)


def run_train(args: argparse.Namespace) -> int:
    from models.errors import Cancelled, ColorizerError, ModelFileError
    from models.progress import CallbackProgress
    from trainer.checkpoint import BadCheckpointError
    from trainer.loop import train

    try:
        config = config_from_args(args)
    except (ValueError, OSError, json.JSONDecodeError) as err:
        print(f"colorizer train: error: {err}", file=sys.stderr)
        return 2
    progress = CallbackProgress(on_hold=lambda: on_event({"event": "paused"}))
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the step, checkpoint, stop
        signal.signal(sig, lambda *_: progress.cancel())

    lock = threading.Lock()  # events come from the loop and from the command reader

    def on_event(event: dict) -> None:
        with lock:
            if args.json_progress:
                print(json.dumps(event), flush=True)
            else:
                print(describe_event(event), file=sys.stderr, flush=True)

    if args.json_progress:
        threading.Thread(
            target=_obey_commands, args=(sys.stdin, progress, on_event), daemon=True
        ).start()

    try:
        out = train(config, progress, on_event)
    except Cancelled:
        print("colorizer train: cancelled; checkpoint saved, run again to resume", file=sys.stderr)
        return 130
    except ColorizerError as err:
        if args.json_progress:
            print(json.dumps({"event": "error", "message": str(err)}), flush=True)
        print(f"colorizer train: error: {err}", file=sys.stderr)
        # an unusable --init-from model or checkpoint to resume is bad input, like a setting
        return 2 if isinstance(err, ModelFileError | BadCheckpointError) else 1
    print(f"colorizer train: model written to {out}", file=sys.stderr)
    return 0


def _obey_commands(stream, progress, on_event) -> None:
    """Read 'pause' / 'resume' / 'cancel' lines (the GUI's controls) until end of input."""
    try:
        for line in stream:
            command = line.strip().lower()
            if command == "pause":  # "paused" is reported once the loop really holds
                progress.pause()
            elif command == "resume":
                progress.resume()
                on_event({"event": "resumed"})
            elif command == "cancel":
                progress.cancel()
            elif command:
                on_event({"event": "warning", "message": f"unknown command {command!r}"})
    except (OSError, ValueError):  # stdin closed or not readable: no commands then
        pass


def comparison_line(event: dict) -> str:
    """``Your model: +0.80 dB over gray, 62% of the truth's colour; the base: … (N held-out
    photos)``, and a warning when the new model measures worse."""

    def scores(s: dict) -> str:
        colour = s["colourfulness"] / max(s["truth_colourfulness"], 1e-6)
        return f"{s['psnr'] - s['gray_psnr']:+.2f} dB over gray, {colour:.0%} of the truth's colour"

    text = (
        f"Your model: {scores(event['model'])}; the base: {scores(event['base'])} "
        f"({event['images']} held-out photos)"
    )
    if event.get("worse"):
        text += ". WARNING: the new model measures worse than the model it started from"
    return text


def describe_event(event: dict) -> str:
    """One human line for a trainer event (the CLI's output, the Train tab's log)."""
    kind = event.get("event")
    if kind == "step":
        parts = [
            f"step {event['step']}/{event.get('total_steps', '?')}",
            f"epoch {event['epoch']:.2f}",
        ]
        parts += [f"{k} {v:.4f}" for k, v in losses(event).items()]
        if "images_per_s" in event:
            parts.append(f"{event['images_per_s']:.1f} img/s")
        return "  ".join(parts)
    if kind == "eval":
        return (
            f"validation @ step {event['step']}: PSNR {event['psnr']:.2f} "
            f"(gray {event['gray_psnr']:.2f})  SSIM {event['ssim']:.4f} "
            f"(gray {event['gray_ssim']:.4f})  colourfulness {event['colourfulness']:.1f} "
            f"(truth {event['truth_colourfulness']:.1f})"
        )
    if kind == "start":
        return (
            f"training on {event.get('train_images')} photos ({event.get('val_images')} for "
            f"validation) on {event.get('device')}, step {event.get('step', 0)} of "
            f"{event.get('total_steps')}"
        )
    if kind == "resume":
        return f"resumed from the checkpoint at step {event.get('step')}"
    if kind == "checkpoint":
        return f"checkpoint saved at step {event.get('step')}"
    if kind == "done":
        return f"done at step {event.get('step')}: model {event.get('model')}"
    if kind == "data":
        return f"data: {event['items']} image(s) used; {event['message']}"
    if kind in ("warning", "error"):
        return f"{kind}: {event['message']}"
    if kind == "compare":
        return comparison_line(event)
    if kind in ("paused", "resumed", "cancelled"):
        return str(kind)
    return json.dumps(event)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", metavar="FILE", help="generator file (default: the shipped model)"
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="DIR|TAR",
        help="folder of colour photos (ground truth) or the CIFAR-10 tar.gz",
    )
    from colorizer_app.engine.options import add_colorize_options

    add_colorize_options(parser)
    parser.add_argument(
        "--hints",
        type=int,
        default=0,
        metavar="N",
        help="give each image N colour hints simulated from its truth (seeded, as in training)",
    )
    parser.add_argument(
        "--resize",
        type=int,
        default=0,
        help="resize truths to NxN first (CIFAR-10 seed experiment: 64)",
    )
    parser.add_argument("--limit", type=int, default=0, help="evaluate the first N images")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="N",
        help="take every N-th image (in name order: a subset covering every class)",
    )
    parser.add_argument("--csv", metavar="FILE", help="per-image CSV (default: none)")
    parser.add_argument("--json", metavar="FILE", help="write the summary as JSON")


def run_evaluate(args: argparse.Namespace) -> int:
    from colorizer_app.engine.options import settings_from_args
    from colorizer_app.engine.pipeline import ColorizeSettings
    from models.atomic import write_text_atomically
    from models.errors import ColorizerError
    from models.modelfile import default_model_path, read_info
    from trainer.evaluate import evaluate

    for option, target in (("--csv", args.csv), ("--json", args.json)):
        folder = Path(target).parent if target else None
        if folder is not None and not folder.is_dir():  # before the evaluation, not after it
            print(f"colorizer evaluate: error: {option}: no folder {folder}", file=sys.stderr)
            return 2
    try:
        model = args.model or default_model_path()
        if model is None:
            raise ColorizerError("no default model is shipped in this build; pass --model FILE")
        settings = ColorizeSettings.for_model(read_info(model), **settings_from_args(args))
        result = evaluate(
            model,
            args.data,
            settings,
            resize=args.resize,
            limit=args.limit,
            every=args.every,
            hints=args.hints,
        )
    except (ColorizerError, ValueError) as err:
        print(f"colorizer evaluate: error: {err}", file=sys.stderr)
        return 2
    for name, why in result.skipped:
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(result.table())
    summary = {**result.summary(), "settings": result.settings, "ran_on": result.ran_on}
    written = True
    for target, write in (
        (args.csv, result.write_csv),
        (args.json, lambda path: write_text_atomically(path, json.dumps(summary, indent=2))),
    ):
        if not target:
            continue
        try:
            write(Path(target))
        except OSError as err:  # read-only or full disk: the table above still holds it all
            written = False
            print(
                f"colorizer evaluate: error: {target} could not be written ({err.strerror or err})",
                file=sys.stderr,
            )
    return 0 if written else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer [options]``: the train command alone (what torchrun launches)."""
    import logging

    parser = argparse.ArgumentParser(prog="python -m trainer", description="Train a colorizer.")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return run_train(args)
