"""The batch runner shared by ``colorizer colorize`` and the app's batch tab.

Inputs (files and folders) map to ``OUTDIR/<relative path>/<stem>.<ext>``. Each output gets
a record of what made it (:mod:`provenance`): a rerun skips an output made from the same
photo with the same model and settings (an interrupted batch resumes where it stopped), and
reports a *conflict* instead of skipping when the output came from another photo, a changed
photo or other settings. Outputs of ours are never taken as inputs. Originals are never
written to: an output path that is an input file is refused even with ``overwrite``. One bad
file never stops the batch; cancellation stops it between files or tiles, and the atomic
writer leaves no partial output behind (nor do temporary files of a killed run survive the
next run of that output).
"""

from __future__ import annotations

import csv
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from colorizer_app.engine import hints as hint_files
from colorizer_app.engine.imageio import (
    DEFAULT_MAX_PIXELS,
    output_bytes,
    output_suffix,
    read_image,
    write_image,
)
from colorizer_app.engine.listing import NotTaken, file_identity, not_taken_text, real_key
from colorizer_app.engine.pipeline import (
    ColorizeSettings,
    colorize,
    output_view,
    prepare_output,
)
from colorizer_app.engine.provenance import (
    RECORD_DIR,
    Recipe,
    Verdict,
    verdict,
    write_record,
)
from colorizer_app.engine.runner import GeneratorRunner
from models.atomic import Claim, leftover_targets, remove_stale_temps, write_atomically
from models.errors import Cancelled, ColorizerError, OutputExistsError
from models.progress import NullProgress, Progress, held_seconds

log = logging.getLogger(__name__)


Status = Literal["queued", "done", "skipped", "conflict", "failed"]


@dataclass
class BatchItem:
    """One input file and where its output goes."""

    source: Path
    output: Path | None  # None when no valid output path exists (see ``problem``)
    problem: str = ""  # why this item cannot run (reported as a failure)
    hints: Path | None = None  # its colour hint file, if it has one
    hint_note: str = ""  # "3 hints", or why its hint file cannot be used (see note_hints)


@dataclass
class FileResult:
    source: Path
    output: Path | None
    status: Status
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # read and write notes, one line each
    hints: int = 0  # colour hints the network used for this file


@dataclass
class BatchSummary:
    results: list[FileResult] = field(default_factory=list)
    cancelled: bool = False
    not_taken: list[NotTaken] = field(default_factory=list)  # files of the folders left out

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def conflicts(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "conflict"]

    @property
    def needs_attention(self) -> bool:
        """Some file has no up-to-date output: it failed, or another output is in its way."""
        return bool(self.failed or self.conflicts)

    @property
    def with_notes(self) -> list[FileResult]:
        return [r for r in self.results if r.notes]

    def line(self) -> str:
        """``3 done, 0 skipped, 1 failed; 2 files not taken: unsupported type .psd``"""
        text = f"{self.count('done')} done, {self.count('skipped')} skipped, "
        if self.conflicts:
            text += f"{len(self.conflicts)} conflict(s), "
        text += f"{self.count('failed')} failed"
        text += " (cancelled)" if self.cancelled else ""
        return text + (f"; {not_taken_text(self.not_taken)}" if self.not_taken else "")

    def write_csv(self, path: str | os.PathLike) -> None:
        """Write one row per file (source, output, status, reason, seconds, hints used,
        notes), then one per file not taken (status ``not taken``), atomically."""

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["source", "output", "status", "reason", "seconds", "hints", "notes"]
                )
                for r in self.results:
                    writer.writerow(
                        [
                            r.source,
                            r.output or "",
                            r.status,
                            r.reason,
                            f"{r.seconds:.2f}",
                            r.hints,
                            "; ".join(r.notes),
                        ]
                    )
                for n in self.not_taken:
                    writer.writerow([n.path, "", "not taken", n.reason, "", "", ""])

        write_atomically(path, write)


def plan(
    sources: list[tuple[Path, Path]],
    outdir: str | os.PathLike,
    fmt: str = "same",
    suffix: str = "",
    *,
    hints_file: str | os.PathLike | None = None,
    hints_dir: str | os.PathLike | None = None,
    sidecars: bool = True,
) -> list[BatchItem]:
    """Decide each output path (``OUTDIR/<relative dir>/<stem><suffix>.<ext>``); flag
    collisions and outputs that would replace an input.

    Colour hints: ``hints_file`` for every item (the command line allows it with one input),
    else ``HINTS_DIR/<relative path>.hints.json`` when it exists, else the sidecar
    ``<photo file name>.hints.json`` beside the photo when it exists and ``sidecars``."""
    outdir = Path(outdir)
    inputs = {real_key(src) for src, _ in sources}
    inputs |= {ident for src, _ in sources if (ident := file_identity(src)) is not None}
    claimed: dict[str, Path] = {}
    items = []
    for source, rel in sources:
        output = outdir / rel.parent / (rel.stem + suffix + output_suffix(source, fmt))
        key = real_key(output)
        if key in inputs or file_identity(output) in inputs:
            items.append(BatchItem(source, None, f"output {output} would replace an original"))
        elif key in claimed:
            items.append(
                BatchItem(source, None, f"output {output} is already the output of {claimed[key]}")
            )
        else:
            claimed[key] = source
            hints = _hints_for(source, rel, hints_file, hints_dir, sidecars)
            items.append(BatchItem(source, output, hints=hints))
    return items


def _hints_for(source: Path, rel: Path, hints_file, hints_dir, sidecars: bool) -> Path | None:
    if hints_file is not None:
        return Path(hints_file)
    if hints_dir is not None:
        candidate = Path(hints_dir) / rel.parent / (rel.name + hint_files.SUFFIX)
        if candidate.is_file():
            return candidate
    if not sidecars:
        return None
    sidecar = hint_files.sidecar_path(source)
    return sidecar if sidecar.is_file() else None


def note_hints(items: list[BatchItem], progress: Progress | None = None) -> None:
    """Fill each item's ``hint_note`` for the file list: "3 hints", or why its hint file
    cannot be used (the photo then fails with that reason when it runs)."""
    for item in items:
        if progress is not None:
            progress.check_cancelled()
        if item.hints is None:
            continue
        try:
            n = hint_files.count_hints(item.hints)
        except hint_files.HintFileError as err:
            item.hint_note = f"hint file unusable: {err}"
        else:
            item.hint_note = f"{n} hint" + ("" if n == 1 else "s")


def colorize_file(
    source: Path,
    output: Path,
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    hints: Path | None = None,
    replace: bool = True,
) -> tuple[list[str], int]:
    """Read, colorize and atomically write one photo, carrying alpha, EXIF and ICC.

    ``hints``: a hint file for this photo (validated against its displayed size). Returns the
    notes for the user and the number of hints the network used. ``replace=False``: an output
    that appeared meanwhile is kept (:class:`OutputExistsError`).
    """
    photo, buffer = read_for_colorizing(source, max_pixels)
    notes = list(photo.notes)  # first page only, CMYK converted, ...
    used: list[hint_files.Hint] = []
    if hints is not None:
        height, width = photo.pixels.shape[:2]
        used, warnings = hint_files.load_hints(hints, width, height)
        notes += warnings
        if used and not runner.takes_hints:
            notes.append(
                f"this model takes no colour hints; {len(used)} hint(s) in {hints.name} "
                "were not used"
            )
            used = []
    out = output_view(buffer, photo.pixels.shape, photo.pixels.dtype)
    rgb = colorize(photo.pixels, runner, settings, progress, hints=used, out=out)
    del buffer, out  # the output is rgb now (or, for another size, the buffer is let go)
    notes += write_image(
        output,
        rgb,
        alpha=photo.alpha,
        exif=photo.exif,
        icc_profile=photo.icc_profile,
        replace=replace,
    )
    return notes, len(used)


def read_for_colorizing(
    source: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    *,
    decoded: Callable[[], None] | None = None,
):
    """Decode ``source`` while a spare core prepares the output's memory (the decoder uses
    one core): ``(photo, buffer)``, the buffer None when the header did not tell the size.
    See :func:`pipeline.prepare_output`. ``decoded()`` is called as soon as the photo is
    (benchmarks time the decoding apart from the wait for the buffer)."""
    size = output_bytes(source, max_pixels=max_pixels)
    if size is None:
        return read_image(source, max_pixels=max_pixels), None
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as spare:
        ready = spare.submit(prepare_output, size, stop)
        try:
            photo = read_image(source, max_pixels=max_pixels)
        except BaseException:  # a bad file: said at once, not after the buffer is touched
            stop.set()
            raise
        if decoded is not None:
            decoded()
        try:
            return photo, ready.result()
        except MemoryError:  # the merge will say so if it also cannot get the memory
            return photo, None


def run_batch(
    items: list[BatchItem],
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    *,
    overwrite: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    file_progress: Callable[[BatchItem], Progress] | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    recipe: Recipe | None = None,
    not_taken: Iterable[NotTaken] = (),
) -> BatchSummary:
    """Colorize every item; report each result through ``on_result``. ``not_taken``: the
    files :func:`collect_inputs` left out, for the summary and its report.

    ``recipe`` (what the outputs' records name) defaults to the runner's model and the
    settings' look.

    ``progress`` counts files; ``file_progress(item)`` may supply a per-file (per-tile)
    progress. Cancellation (``Cancelled`` from either) ends the batch with
    ``summary.cancelled`` set; the file in flight leaves no output.
    """
    progress = progress or NullProgress()
    summary = BatchSummary(not_taken=list(not_taken))

    def report(result: FileResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    recipe = recipe or Recipe.of(runner, settings)
    clean_up_after_killed_runs({item.output.parent for item in items if item.output})
    for index, item in enumerate(items):
        try:
            progress.check_cancelled()
        except Cancelled:
            summary.cancelled = True
            break
        opened = open_item(item, recipe, overwrite)
        if isinstance(opened, FileResult):
            report(opened)
        else:
            with opened:
                tiles = file_progress(item) if file_progress else progress
                result = make_item(
                    item,
                    runner,
                    settings,
                    recipe,
                    overwrite=overwrite,
                    max_pixels=max_pixels,
                    progress=tiles,
                )
            if result is None:
                summary.cancelled = True
                break
            report(result)
        progress.update(index + 1, len(items), str(item.source))
    return summary


def settled(item: BatchItem, recipe: Recipe, overwrite: bool) -> FileResult | None:
    """The result of an item with nothing to make (no valid output; an output to keep or in
    conflict), without claiming anything; None when its output is to be made."""
    if item.output is None:
        return FileResult(item.source, None, "failed", item.problem)
    return _existing(item, recipe, overwrite)


def open_item(item: BatchItem, recipe: Recipe, overwrite: bool) -> FileResult | Claim:
    """The first half of one item's work, done where the batch is planned: its result when
    nothing is to be made (no valid output; an output to keep or in conflict; another
    process making it now), else the output's :class:`Claim`, held, for :func:`make_item`."""
    if (result := settled(item, recipe, overwrite)) is not None:
        return result
    claim = Claim(item.output)
    holder = _acquire(claim)
    if holder is not None:
        return FileResult(item.source, item.output, "skipped", f"being made by process {holder}")
    try:
        existing = _existing(item, recipe, overwrite)
    except BaseException:  # an interrupt or a failure while reading the output's record
        claim.release()
        raise
    if existing is not None:
        claim.release()  # another process finished it meanwhile
        return existing
    return claim


def make_item(
    item: BatchItem,
    runner: GeneratorRunner,
    settings: ColorizeSettings,
    recipe: Recipe,
    *,
    overwrite: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
) -> FileResult | None:
    """The second half, run while the output's claim is held (by this process or by the one
    that dispatched the item): colorize, write atomically, record what made the output.
    Never raises for a bad file; None when cancelled (nothing written)."""
    result = _run_item(item, runner, settings, overwrite, max_pixels, progress or NullProgress())
    if result is not None and result.status == "done":
        note = write_record(item.output, item.source, recipe, item.hints)
        result.notes += [note] if note else []
    return result


def clean_up_after_killed_runs(folders: Iterable[Path]) -> int:
    """Remove what a killed run (kill -9, power loss) left in output ``folders``: temporary
    files and claims of outputs no live process is making now (each output's claim is taken
    before its leftovers go). Returns how many files were removed."""
    removed = 0
    for folder in folders:
        records = folder / RECORD_DIR
        by_target = {name: [(folder, name)] for name in leftover_targets(folder)}
        for name in leftover_targets(records):  # a record is written under its output's claim
            by_target.setdefault(name.removesuffix(".json"), []).append((records, name))
        for target, places in by_target.items():
            claim = Claim(folder / target)
            if _acquire(claim) is not None:
                continue  # a live process is making it: its files are not leftovers
            with claim:
                removed += sum(len(remove_stale_temps(where, name)) for where, name in places)
    return removed


def _existing(item: BatchItem, recipe: Recipe, overwrite: bool) -> FileResult | None:
    """The result for an item whose output exists and is not to be replaced; None to make it.
    Only an output made from this photo with this recipe (or one of unknown origin, or
    edited by the user) is skipped; one from another photo or other settings is a
    conflict, reported so that nobody takes it for this photo's."""
    if overwrite:
        return None
    found, why = verdict(item.output, item.source, recipe, item.hints)
    if found is Verdict.ABSENT:
        return None
    return FileResult(item.source, item.output, "conflict" if found.conflict else "skipped", why)


def _acquire(claim: Claim) -> int | None:
    """Claim an output; None when ours, else the other process's pid. A folder we cannot
    write a claim into is reported by the write itself, so it counts as ours."""
    try:
        claim.path.parent.mkdir(parents=True, exist_ok=True)
        return claim.acquire()
    except OSError:
        return None


def _run_item(item, runner, settings, overwrite, max_pixels, tiles) -> FileResult | None:
    """Colorize one planned item; its result (never raises for a bad file), None if cancelled."""
    started, held = time.perf_counter(), held_seconds(tiles)
    try:
        notes, used = colorize_file(
            item.source,
            item.output,
            runner,
            settings,
            max_pixels=max_pixels,
            progress=tiles,
            hints=item.hints,
            replace=overwrite,
        )
    except Cancelled:
        return None
    except OutputExistsError:
        reason = "output appeared meanwhile (another process); kept as it is"
        return FileResult(item.source, item.output, "skipped", reason)
    except ColorizerError as err:
        return FileResult(item.source, item.output, "failed", _strip_path(err, item))
    except MemoryError:
        reason = "out of memory (try a smaller --render-size)"
        return FileResult(item.source, item.output, "failed", reason)
    except Exception as err:  # a bug must not stop the other files
        log.exception("unexpected error on %s", item.source)
        reason = f"internal error: {type(err).__name__}: {err}"
        return FileResult(item.source, item.output, "failed", reason)
    seconds = time.perf_counter() - started - (held_seconds(tiles) - held)  # paused: not work
    return FileResult(item.source, item.output, "done", seconds=seconds, notes=notes, hints=used)


def _strip_path(err: Exception, item: BatchItem) -> str:
    """The reason without a leading ``<source>: `` (the report names the source itself)."""
    text, prefix = str(err), f"{item.source}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
