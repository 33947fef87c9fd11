"""The Batch tab's job (run on a worker thread) and its time estimates; no widgets here.

The job lists the folder, loads the model and runs the engine's ``run_batch``, reporting
progress in :data:`UNITS` per file so the bar also moves with the tiles of the file in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from colorizer_app.engine.batch import BatchItem, run_batch
from colorizer_app.engine.listing import NotTaken, not_taken_text
from colorizer_app.engine.pipeline import ColorizeSettings
from models.errors import ColorizerError
from models.modelfile import load_generator
from models.progress import OffsetProgress, Progress

UNITS = 1000  # progress units per file (tiles of the file in flight count as a fraction)


def batch_job(
    listing: Callable[[Progress], tuple[list[BatchItem], list[NotTaken]]],
    source: Path,
    model_path: Path,
    settings: ColorizeSettings,
    *,
    overwrite: bool,
    report: Path,
):
    """A ``job(progress, emit)`` for :func:`workers.start`: emits the listed items, then each
    ``FileResult``; returns (summary, where the model ran, a problem writing the report)."""

    def job(progress: Progress, emit) -> tuple:
        items, not_taken = listing(progress)  # listed on the worker too: the window stays live
        if not items:
            why = f" ({not_taken_text(not_taken)})" if not_taken else ""
            raise ColorizerError(f"nothing to do: no photos with these file types in {source}{why}")
        emit(items)
        position = {id(item): i for i, item in enumerate(items)}
        total = len(items) * UNITS
        runner = settings.make_runner(load_generator(model_path))
        summary = run_batch(
            items,
            runner,
            settings,
            overwrite=overwrite,
            progress=OffsetProgress(progress, 0, total, span=total),
            file_progress=lambda item: OffsetProgress(
                progress, position[id(item)] * UNITS, total, span=UNITS
            ),
            on_result=emit,
            not_taken=not_taken,
        )
        try:  # the results stand even if the report cannot be written
            summary.write_csv(report)
            problem = ""
        except OSError as err:
            problem = f"the report {report} could not be written ({err.strerror})"
        return summary, runner.description, problem

    return job


def is_inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies below it."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def progress_text(results: list, count: int, done_units: int, paused: bool) -> str:
    """``3/10 files, about 2 min 05 s left``: the estimate once a file took time, not paused."""
    finished = len(results)
    text = f"{finished}/{count} files"
    measured = [r.seconds for r in results if r.status in ("done", "failed")]
    left = time_left(measured, finished, count, done_units / UNITS - finished)
    if left is not None and not paused:
        text += f", about {duration(left)} left"
    return text


def summary_text(summary, elapsed: float, report: Path | None, report_problem: str) -> str:
    """The line after a batch: counts, time, failures, and where the report is (or why not)."""
    text = f"{summary.line()} in {duration(elapsed)}."
    if summary.failed:
        text += f" {len(summary.failed)} file(s) failed: see the list."
    if summary.conflicts:
        text += (
            f" {len(summary.conflicts)} output(s) came from another photo or other settings:"
            " see the list; tick “Replace existing outputs” to remake them."
        )
    if summary.with_notes:
        text += f" {len(summary.with_notes)} file(s) with notes: see the list."
    return text + (f" Note: {report_problem}." if report_problem else f" Report: {report}")


def time_left(seconds: list[float], finished: int, total: int, in_flight: float) -> float | None:
    """Seconds left: the mean time of the files really processed (skips cost nothing) times
    the files still to go, less the fraction ``in_flight`` of the current one already done."""
    if not seconds or finished >= total:
        return None
    per_file = sum(seconds) / len(seconds)
    return max(0.0, per_file * (total - finished - min(max(in_flight, 0.0), 1.0)))


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
