"""The Colorize tab: viewer + controls + progress; opens, colorizes, previews and saves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.engine.hint_edit import HintPlace
from colorizer_app.engine.imageio import Photo, as_rgb8, read_image
from colorizer_app.engine.pipeline import compose, predict_ab
from colorizer_app.engine.preview import Pyramid, luminance_preview, thumbnail
from colorizer_app.gui import workers
from colorizer_app.gui.controls import ControlsPanel, side_panel
from colorizer_app.gui.hint_editor import HintEditor
from colorizer_app.gui.hint_session import HintSession, hints_data_dir
from colorizer_app.gui.mode_bar import ModeActions
from colorizer_app.gui.model_store import load_runner
from colorizer_app.gui.viewer import Mode, PhotoViewer
from colorizer_app.gui.workspace_parts import RunChecks, SaveActions
from models.errors import ModelFileError
from models.modelfile import LoadedGenerator

THUMB = -1  # key of the coloured thumbnail among the coloured pyramid levels


@dataclass
class Document:
    """The open photo and what was computed for it."""

    photo: Photo
    display: Pyramid
    thumb: np.ndarray | None = None  # small display copy, coloured on the GUI thread
    ab: np.ndarray | None = None  # a,b at the render size of the last run (Lab units)
    colorized: dict[int, np.ndarray] | None = None  # display level -> coloured level
    made_with: tuple | None = None  # the model and look settings of ``ab`` (see _look)

    @property
    def path(self) -> Path | None:
        return self.photo.path


class ColorizeWorkspace(RunChecks, SaveActions, QWidget):
    photo_opened = Signal(str)
    network_runs = Signal(int)  # how many times the network ran (tests, status)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.strength = 1.0
        self._generator: LoadedGenerator | None = None
        self._jobs: dict[str, workers.Job] = {}
        self._run_count = 0
        self._started = 0.0

        self.viewer = PhotoViewer()
        self.controls = ControlsPanel()
        self.colorize_button = QPushButton("Colorize")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.eta = QLabel("")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.hint_editor = HintEditor(self.viewer, self)
        self.hint_editor.add_shortcuts_to(self)
        self.stale = QLabel("")  # the colours shown came from another model or settings
        self.stale.setObjectName("staleNote")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet("color: #b45309;")
        self._running_look: tuple | None = None
        self.save_folder: Path | None = None  # where the user last saved a result
        self._tile_seconds = 0.15  # a CPU's time per 256 px tile until a run measures it

        self.modes = ModeActions(self.viewer, self)  # the bar above the photo; the View menu
        photo_column = QVBoxLayout()
        photo_column.setContentsMargins(0, 0, 0, 0)
        photo_column.addWidget(self.modes.toolbar())
        photo_column.addWidget(self.viewer, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(photo_column, 1)
        layout.addWidget(
            side_panel(
                self.controls,
                self.colorize_button,
                self.cancel_button,
                self.progress,
                self.eta,
                self.stale,
                self.info,
                self.hint_editor.panel,
            )
        )
        self.hints = HintSession(self)

        self.colorize_button.clicked.connect(self.colorize)
        self.cancel_button.clicked.connect(self.cancel)
        self.controls.strength_changed.connect(self._on_strength_changed)
        self.controls.render_size_changed.connect(self._on_render_size_changed)
        self.controls.render_size_changed.connect(self._show_staleness)
        self.controls.model_changed.connect(self._show_staleness)

    # --- open ------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        path = Path(path)
        render, data_dir = self.controls.render_size(), hints_data_dir()

        def job(progress, emit):
            photo = read_image(path)
            display = Pyramid.build(as_rgb8(photo.pixels))
            place = HintPlace.of(path, data_dir)  # its hints: beside it, or in the data folder
            loaded = place.load(photo.width, photo.height)
            return photo, display, luminance_preview(photo.pixels, render), place, loaded

        self._start(
            "load",
            job,
            finished=self._on_loaded,
            failed=lambda err: self._error("Cannot open this photo", workers.describe(err)),
        )

    def _on_loaded(self, result) -> None:
        photo, display, lum, place, loaded = result
        self.cancel()  # a run on the previous photo is meaningless now
        self.hints.stop()
        self.doc = Document(photo, display, thumb=thumbnail(display.levels[-1]))
        self._show_staleness()
        self.viewer.set_photo_size(display.width, display.height)
        self.viewer.set_layer(
            Mode.ORIGINAL, [(lv, display.scale_of(i)) for i, lv in enumerate(display.levels)]
        )
        self._set_luminance(lum)
        self.viewer.set_mode(Mode.ORIGINAL)
        depth = f"{photo.bit_depth}-bit {'gray' if photo.is_gray else 'colour'}"
        notes = "".join(f"\n{note}" for note in photo.notes)  # first page only, CMYK, ...
        self.info.setText(f"{photo.path.name}: {photo.width}x{photo.height}, {depth}{notes}")
        self.hints.open(place, loaded, photo.width, photo.height)
        self.progress.setValue(0)
        self.eta.setText("")
        self.photo_opened.emit(str(photo.path))

    def _set_luminance(self, lum: np.ndarray) -> None:
        if self.doc is not None:
            self.viewer.set_layer(Mode.LUMINANCE, [(lum, lum.shape[1] / self.doc.display.width)])

    def _on_render_size_changed(self) -> None:
        if self.doc is None:
            return
        pixels, render = self.doc.photo.pixels, self.controls.render_size()
        self._start(
            "luminance",
            lambda progress, emit: luminance_preview(pixels, render),
            finished=self._set_luminance,
            failed=lambda err: None,
        )

    # --- colorize --------------------------------------------------------------------------
    def colorize(self) -> None:
        if self.doc is None or "colorize" in self._jobs:
            return
        self.run_network()

    def run_network(self) -> None:
        """Colorize with the current hints (a run still going is replaced: the hint editor
        calls this after each change)."""
        model_path = self.controls.model_path()
        if model_path is None:
            self._error("No model", "No model is available: choose a model file (Browse…).")
            return
        settings = self.controls.settings()
        doc, strength, cached = self.doc, self.strength, self._generator
        pixels, thumb = doc.photo.pixels, doc.thumb
        if not self._worth_the_wait(pixels.shape, settings):
            return
        hints, version = self.hint_editor.hints.snapshot(), self.hint_editor.hints.version
        source = f" from {self.hints.file.name}" if self.hints.file else ""

        def job(progress, emit):
            runner, generator = load_runner(model_path, settings, cached)
            used = hints if runner.takes_hints else []
            ab = predict_ab(
                pixels,
                runner,
                settings,
                progress,
                on_batch=workers.PreviewThrottle(emit, thumb, strength),
                hints=used,
            )
            described = runner.description
            if used:
                described += f", {len(used)} colour hint(s){source}"
            return ab, generator, described

        def current() -> bool:  # a result for another photo or older hints is never shown
            return self.doc is doc and self.hint_editor.hints.version == version

        if self.viewer.mode in (Mode.ORIGINAL, Mode.LUMINANCE):
            self.viewer.set_mode(Mode.COLORIZED)
        self._running_look = self._look()
        self._started = time.monotonic()
        self.colorize_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._start(
            "colorize",
            job,
            finished=lambda result: self._on_colorized(result, current()),
            failed=self._on_colorize_failed,
            progress=self._on_progress,
            preview=lambda item: self._on_tile_preview(item) if current() else None,
            cancelled=self._on_colorize_cancelled,
        )

    def cancel(self, *names: str) -> None:
        """Stop the colorize run (or the jobs ``names``: "colorize", "compose")."""
        for name in names or ("colorize",):
            job = self._jobs.get(name)
            if job is not None:
                job.cancel()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        if 0 < done < total:
            self.eta.setText(
                f"{done}/{total} tiles, about {elapsed / done * (total - done):.0f} s left"
            )
        else:
            self.eta.setText(f"{done}/{total} tiles")

    def _on_tile_preview(self, colored_thumb: np.ndarray) -> None:
        if self.doc is not None:
            scale = colored_thumb.shape[1] / self.doc.display.width
            self.viewer.set_layer(Mode.COLORIZED, [(colored_thumb, scale)])

    def _on_colorized(self, result, current: bool) -> None:
        ab, generator, device = result
        self.keep_generator(generator)
        if self.doc is not None and self.progress.maximum() > 1:  # measured: seconds a tile
            self._tile_seconds = (time.monotonic() - self._started) / self.progress.maximum()
        self._finish_run()
        if not current:  # the hints changed meanwhile: a newer run follows
            return
        self._run_count += 1
        self.controls.device_used.setText(device)
        if self.doc is not None:
            self.doc.ab = ab
            self.doc.made_with = self._running_look
            self._show_staleness()
            self.recompose()
        self.network_runs.emit(self._run_count)

    @property
    def generator(self) -> LoadedGenerator | None:
        return self._generator

    def keep_generator(self, generator: LoadedGenerator) -> None:
        """Cache the loaded model for the next run (a worker loaded it)."""
        self._generator = generator

    def _on_colorize_failed(self, err: BaseException) -> None:
        """A model file that cannot be used sends the picker back to the default model; any
        other failure (NaN in fp16, out of memory, a bad hint file) leaves the choice alone."""
        self._finish_run()
        why = workers.describe(err)
        model = self.controls.model_path()
        default = self.controls.default_entry()
        if isinstance(err, ModelFileError) and default is not None and model != default.path:
            self._error(
                "The model could not be used", f"{why}\n\nSwitching back to the default model."
            )
            self.controls.refresh_models(select=default.path)
        else:
            self._error("Colorization failed", why)

    def _on_colorize_cancelled(self) -> None:
        if "colorize" in self._jobs or self.hints.timer.isActive():
            return  # replaced by a run for newer hints: that one reports
        self._finish_run()
        self.eta.setText("cancelled")
        if self.doc is not None and self.doc.ab is not None:
            self.recompose()  # back to the last complete result
        elif self.doc is not None:
            self.viewer.set_layer(Mode.COLORIZED, None)

    def _finish_run(self) -> None:
        if "colorize" in self._jobs:
            return  # a newer run is going
        self.colorize_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # --- strength and composition ----------------------------------------------------------
    def _on_strength_changed(self, strength: float) -> None:
        self.strength = strength
        self.recompose()

    def recompose(self) -> None:
        """Colour the display levels from the cached a,b: coarsest now, the rest in the
        background (a newer request cancels the older one)."""
        doc = self.doc
        if doc is None or doc.ab is None:
            return
        ab, strength, display = doc.ab, self.strength, doc.display
        coarsest = len(display.levels) - 1
        # the thumbnail now (a few ms), every pyramid level on a worker
        doc.colorized = {THUMB: compose(doc.thumb, ab, strength)}
        self._show_colorized()

        def job(progress, emit):
            for level in range(coarsest, -1, -1):
                progress.check_cancelled()
                emit((level, compose(display.levels[level], ab, strength, progress=progress)))
            return None

        def on_level(item, doc=doc, strength=strength):
            if self.doc is doc and self.strength == strength and doc.colorized is not None:
                doc.colorized[item[0]] = item[1]
                self._show_colorized()

        self._start(
            "compose", job, finished=lambda _: None, failed=lambda err: None, preview=on_level
        )

    def _show_colorized(self) -> None:
        doc = self.doc
        if doc is not None and doc.colorized:
            levels = [(lv, lv.shape[1] / doc.display.width) for lv in doc.colorized.values()]
            self.viewer.set_layer(Mode.COLORIZED, levels)

    # --- plumbing --------------------------------------------------------------------------
    def _start(
        self, name, job, *, finished, failed, progress=None, preview=None, cancelled=None
    ) -> None:
        """Run ``job`` on a worker thread; one job per ``name`` (an older one is cancelled)."""
        running = self._jobs.get(name)
        if running is not None:
            running.cancel()
        handle: workers.Job | None = None

        def done() -> None:
            if self._jobs.get(name) is handle:
                del self._jobs[name]

        handle = workers.start(
            job,
            name,
            self,
            finished=finished,
            failed=failed,
            progress=progress,
            preview=preview,
            cancelled=cancelled,
            done=done,
        )
        self._jobs[name] = handle

    def busy(self) -> bool:
        return bool(self._jobs)

    def has_unfinished_work(self) -> bool:
        """A colorization or a save is running (worth asking before quitting)."""
        return "colorize" in self._jobs or "save" in self._jobs

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel every job and wait for the threads (called when the window closes)."""
        self.hints.stop()
        for job in list(self._jobs.values()):
            job.cancel()
        for thread in workers.live_threads():
            thread.wait(timeout_ms)
        self._jobs.clear()

    def _error(self, title: str, why: str) -> None:
        QMessageBox.warning(self, title, why)

    def save_settings(self, store: QSettings) -> None:
        self.controls.save(store)
        self.hint_editor.save(store)
        store.setValue("last_save_folder", str(self.save_folder or ""))

    def restore_settings(self, store: QSettings) -> None:
        self.controls.restore(store)
        self.hint_editor.restore(store)
        folder = str(store.value("last_save_folder", "") or "")
        self.save_folder = Path(folder) if folder else None
