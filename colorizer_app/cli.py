"""The ``colorizer`` command line: ``colorizer colorize INPUT... -o OUTDIR``.

Exit status: 0 all done or skipped, 1 some files failed or met a conflicting output (one made
from another photo or with other settings), 2 bad usage or unusable model, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import NoReturn

from colorizer_app import __version__

log = logging.getLogger("colorizer")

RAY_EXTRA = 'pip install "colorizer[cluster]"'


def _megapixels(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected megapixels, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the pixel limit must be positive")
    return int(value * 1_000_000)


def build_parser() -> argparse.ArgumentParser:
    from colorizer_app.engine.imageio import DEFAULT_MAX_PIXELS, OUTPUT_FORMATS
    from colorizer_app.engine.options import add_colorize_options

    parser = argparse.ArgumentParser(
        prog="colorizer", description="Bring black-and-white photographs back to colour."
    )
    parser.add_argument("--version", action="version", version=f"colorizer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more details")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="colorize the bundled sample offscreen, check the result, build the window; "
        "exit 0 if this installation works",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    g = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    g.add_argument("path", nargs="?", help="a photo to open")

    c = sub.add_parser(
        "colorize",
        help="colorize photos and folders",
        description="Colorize photos at full resolution. Outputs go to "
        "OUTDIR/<relative path>/<stem>.<ext>; originals are never modified.",
    )
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    c.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    c.add_argument("--model", metavar="FILE", help="generator file (default: the shipped model)")
    add_colorize_options(c)
    c.add_argument("--format", default="same", choices=OUTPUT_FORMATS, help="output format")
    c.add_argument(
        "--hints",
        metavar="FILE",
        help="colour hint file (JSON, see the README) for the one input photo; otherwise "
        "each photo's sidecar <file name>.hints.json is used when present",
    )
    c.add_argument(
        "--hints-dir",
        metavar="DIR",
        help="read each input's hints from DIR/<relative path>.hints.json",
    )
    c.add_argument(
        "--suffix",
        default="",
        help="append this to output names (e.g. _color), so that outputs may share a folder "
        "with their originals",
    )
    c.add_argument("--recursive", action="store_true", help="descend into subfolders")
    c.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    c.add_argument(
        "--max-pixels",
        type=_megapixels,
        default=DEFAULT_MAX_PIXELS,
        metavar="MP",
        help=f"refuse images above this many megapixels (default {DEFAULT_MAX_PIXELS // 10**6})",
    )
    c.add_argument("--report", metavar="CSV", help="write a per-file CSV report here")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    cluster = c.add_argument_group(
        "cluster", f"make the photos on a Ray cluster (needs the extra: {RAY_EXTRA})"
    )
    cluster.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="auto (the cluster this machine belongs to), ray://HOST:PORT, HOST:PORT (the "
        "head), or local[:N] (a throwaway cluster of N CPUs here); inputs and outputs must be "
        "on a file system every node sees",
    )
    cluster.add_argument(
        "--cpus-per-worker", type=float, default=1.0, help="CPUs per worker (default 1)"
    )
    cluster.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        help="GPUs per worker (default 0: workers run on CPUs)",
    )
    cluster.add_argument(
        "--workers", type=int, help="at most this many workers (default: as many as fit)"
    )

    from trainer.cli import add_evaluate_arguments, add_train_arguments

    t = sub.add_parser(
        "train",
        help="train or fine-tune a generator",
        description="Train a Pix2Pix colorizer (or a baseline). Resumes from "
        "RUN_DIR/checkpoints/last.pt when it exists.",
    )
    add_train_arguments(t)
    e = sub.add_parser(
        "evaluate",
        help="score a model against ground-truth colour photos",
        description="PSNR, SSIM and colourfulness through the app's engine, "
        "next to the gray baseline.",
    )
    add_evaluate_arguments(e)
    return parser


class Interrupted(KeyboardInterrupt):
    """Ctrl+C, raised by our own SIGINT handler.

    A subclass on purpose: CPython remembers a plain ``KeyboardInterrupt`` that passed through
    certain internal frames (``exec`` of generated code during imports, for one) and, at exit,
    kills the process with SIGINT even though we caught it and returned 130.
    """


def _interrupt(*_) -> None:
    raise Interrupted


_held: list[int] = []  # signals that arrived while the command was starting


def _hold(number: int, _) -> None:
    _held.append(number)


def _interruptible() -> None:
    """From here on Ctrl+C (and SIGTERM, where it was held) raise :class:`Interrupted` at
    once; one that arrived while starting is raised now.

    Until then they are only noted: raised inside the imports of torch or Qt, the exception
    can land in C++ code that calls back into Python, which aborts the whole process
    ("terminate called after throwing an instance of 'pybind11::error_already_set'")."""
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is _hold:
            signal.signal(number, _interrupt)
    if _held:
        _held.clear()
        raise Interrupted


def main(argv: list[str] | None = None) -> int:
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:  # not when the parent made us ignore Ctrl+C
        signal.signal(signal.SIGINT, _hold)  # see _interruptible
    _held.clear()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl+C while starting (imports, parsing): one line, no trace
        print("\ncolorizer: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)


def entry() -> NoReturn:
    """The ``colorizer`` program (console script, ``python -m colorizer_app``, the bundle)."""
    code = main()
    # the work is over and reported: a Ctrl+C or SIGTERM during shutdown must not change the
    # exit status
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # `colorizer` alone, or `colorizer PHOTO`, opens the desktop app
    if not argv or (
        len(argv) == 1
        and not argv[0].startswith("-")
        and argv[0] not in ("colorize", "train", "evaluate", "gui")
    ):
        return _gui(argv[0] if argv else None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if args.self_test:
        from colorizer_app.selftest import run_self_test

        _interruptible()
        return run_self_test()
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "gui":
        return _gui(args.path)
    if args.command == "colorize":
        return _colorize(args)
    if args.command == "train":
        from trainer.cli import run_train

        _interruptible()
        return run_train(args)
    if args.command == "evaluate":
        from trainer.cli import run_evaluate

        _interruptible()
        return run_evaluate(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _gui(path: str | None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        from colorizer_app.gui.app import run
    except ImportError as err:
        print(
            f"colorizer: the desktop app cannot start ({err}); see the README's "
            "troubleshooting for Qt's system libraries",
            file=sys.stderr,
        )
        return 2
    _interruptible()
    return run(path)


def _colorize(args: argparse.Namespace) -> int:
    """The colorize command; Ctrl+C or SIGTERM at any moment ends it with one line and 130
    (the atomic writes leave no half-written output, claims are released)."""

    previous = signal.signal(signal.SIGTERM, _hold)  # raising once started: _interruptible
    try:
        return _colorize_files(args)
    except KeyboardInterrupt:
        from models.atomic import release_all

        release_all()  # a claim taken just before the interrupt, not yet in a `with`
        print(
            "\ncolorizer: interrupted; finished outputs are kept, none is half-written",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _colorize_files(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from colorizer_app.engine import (
        ColorizerError,
        ColorizeSettings,
        collect_inputs,
        not_taken_text,
        plan,
        run_batch,
    )
    from colorizer_app.engine.options import settings_from_args
    from models.modelfile import default_model_path, load_generator

    _interruptible()
    try:
        model_path = args.model or default_model_path()
        if model_path is None:
            raise ColorizerError("no default model is shipped in this build; pass --model FILE")
        generator = load_generator(model_path)
        settings = ColorizeSettings.for_model(generator.info, **settings_from_args(args))
        runner = settings.make_runner(generator)
    except ColorizerError as err:
        print(f"colorizer: error: {err}", file=sys.stderr)
        return 2

    not_taken = []
    sources = collect_inputs(
        args.inputs,
        recursive=args.recursive,
        outdir=args.output,
        suffix=args.suffix,
        not_taken=not_taken,
    )
    for file in not_taken:
        log.info("not taken: %s (%s)", file.path, file.reason)
    if args.hints and (len(sources) != 1 or args.hints_dir):
        print(
            "colorizer: error: --hints FILE goes with exactly one input photo "
            "(use --hints-dir or sidecar files for several)",
            file=sys.stderr,
        )
        return 2
    items = plan(
        sources,
        args.output,
        args.format,
        args.suffix,
        hints_file=args.hints,
        hints_dir=args.hints_dir,
    )
    if not items:
        why = f" ({not_taken_text(not_taken)})" if not_taken else ""
        print(f"colorizer: no images found in the inputs{why}", file=sys.stderr)
        return 1
    log.info("model %s on %s, %d file(s)", model_path, runner.description, len(items))
    quiet = args.quiet or not sys.stderr.isatty()
    files_bar = tqdm(total=len(items), unit="file", disable=quiet, position=0)

    def tile_bar(item):
        return _TqdmProgress(item.source.name, disable=quiet)

    def on_result(result) -> None:
        files_bar.update(1)
        if result.status in ("failed", "conflict"):
            kind = "error" if result.status == "failed" else "conflict"
            tqdm.write(f"{kind}: {result.source}: {result.reason}", file=sys.stderr)
        for note in result.notes:
            tqdm.write(f"note: {result.source}: {note}", file=sys.stderr)

    try:
        if args.cluster:
            summary = _colorize_on_cluster(
                args, items, model_path, settings, runner, on_result, not_taken, files_bar
            )
        else:
            summary = run_batch(
                items,
                runner,
                settings,
                overwrite=args.overwrite,
                max_pixels=args.max_pixels,
                file_progress=tile_bar,
                on_result=on_result,
                not_taken=not_taken,
            )
    except ColorizerError as err:  # the cluster cannot be reached or cannot start workers
        print(f"colorizer: error: {err}", file=sys.stderr)
        return 2
    finally:
        files_bar.close()
    report_failed = False
    if args.report:
        try:
            summary.write_csv(args.report)
        except OSError as err:  # a missing folder, a read-only or full disk: say so, go on
            report_failed = True
            print(
                f"colorizer: error: the report {args.report} could not be written "
                f"({err.strerror or err})",
                file=sys.stderr,
            )
    print(f"colorizer: {summary.line()}", file=sys.stderr)
    if summary.conflicts:
        print(
            f"colorizer: {len(summary.conflicts)} existing output(s) came from another photo "
            "or other settings and were kept; --overwrite replaces them",
            file=sys.stderr,
        )
    return 1 if summary.needs_attention or report_failed else 0


def _colorize_on_cluster(args, items, model_path, settings, runner, on_result, not_taken, bar):
    """The batch with its photos made on Ray workers; the same summary as on one machine.
    Without a progress bar (a log file, -q), a line every 30 s says how far it got."""
    from tqdm import tqdm

    from colorizer_app.engine.cluster import ClusterOptions, run_batch_on_cluster
    from colorizer_app.engine.provenance import Recipe

    options = ClusterOptions(args.cluster, args.cpus_per_worker, args.gpus_per_worker, args.workers)
    return run_batch_on_cluster(
        items,
        model_path,
        settings,
        Recipe.of(runner, settings),
        options,
        overwrite=args.overwrite,
        max_pixels=args.max_pixels,
        progress=_RateLines(quiet=args.quiet or not bar.disable),
        on_result=on_result,
        on_note=lambda text: tqdm.write(f"colorizer: {text}", file=sys.stderr),
        not_taken=not_taken,
    )


class _RateLines:
    """Files done, files/s and time left, one line every ``every`` seconds (Progress)."""

    def __init__(self, *, quiet: bool, every: float = 30.0) -> None:
        import time

        self._clock = time.monotonic
        self._quiet, self._every = quiet, every
        self._started = self._last = self._clock()

    def update(self, done: int, total: int, message: str = "") -> None:
        now = self._clock()
        if self._quiet or now - self._last < self._every or done >= total:
            return
        self._last = now
        rate = done / max(now - self._started, 1e-9)
        left = (total - done) / rate if rate > 0 else float("inf")
        when = f"about {_duration(left)} left" if rate > 0 else "time left unknown"
        print(f"colorizer: {done}/{total} files, {rate:.2f} files/s, {when}", file=sys.stderr)

    def check_cancelled(self) -> None:
        pass


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _TqdmProgress:
    """A per-file tile progress bar (implements the engine's Progress protocol)."""

    def __init__(self, name: str, *, disable: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=name[:30], unit="tile", leave=False, disable=disable, position=1)

    def update(self, done: int, total: int, message: str = "") -> None:
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if done >= total:
            self._bar.close()

    def check_cancelled(self) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
