"""The open photo's hints in the Colorize tab: loaded with the photo, saved after each edit,
the network re-run after each change (debounced), suggestions for the colour popup, the
Confidence view, and the tool switched off for a model without hint input.

Runs go through the workspace's jobs (one per name; a newer one cancels the older), and
every result carries the hint version it was computed for: a result for hints that have
changed since is dropped, never shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer

from colorizer_app.engine.hint_edit import HintPlace, LoadedHints
from colorizer_app.engine.pipeline import render_shape
from colorizer_app.engine.suggest import suggest_colors, uncertainty
from colorizer_app.gui import workers
from colorizer_app.gui.confidence import shade, stretch
from colorizer_app.gui.model_store import load_runner
from colorizer_app.gui.viewer import Mode
from models.errors import ColorizerError
from models.modelfile import read_info

DEBOUNCE_MS = 150
SUGGESTIONS = 6
NO_HINTS_WHY = (
    "This model takes no colour hints (it has no hint input, like the v2 models). "
    "Choose a model trained with hints to place them."
)


def hints_data_dir() -> Path:
    """Where hints go when a photo's folder cannot be written: the app's data folder."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


class HintSession(QObject):
    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.ws = workspace
        self.editor = workspace.hint_editor
        self.place: HintPlace | None = None
        self.file: Path | None = None  # the hint file that holds the hints shown, if any
        self.takes_hints = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)

        self.timer.timeout.connect(self._on_timer)
        self.editor.changed.connect(self._on_changed)
        self.editor.edited.connect(self.save)
        self.editor.suggestions_wanted.connect(self._on_suggestions_wanted)
        self.editor.note.connect(self._say)
        self.editor.sample_result = self.result_color
        self.ws.viewer.mode_changed.connect(self._on_mode_changed)
        self.ws.network_runs.connect(lambda _: self._on_mode_changed(self.ws.viewer.mode))
        self.ws.controls.model_changed.connect(self.check_model)
        self.ws.controls.render_size_changed.connect(self._on_render_size_changed)
        self.check_model()

    # --- a photo opened --------------------------------------------------------------------
    def open(self, place: HintPlace, loaded: LoadedHints, width: int, height: int) -> None:
        self.timer.stop()
        self.place = place
        self.file = loaded.path if loaded.error is None else None
        self.editor.set_document(width, height, self._render_width(width, height), loaded.hints)
        if loaded.error is not None:
            self._say(
                f"The hint file cannot be used: {loaded.error}\nIt is left as it is until you "
                "place hints (then it is replaced).",
                warn=True,
            )
        elif loaded.path is not None:
            extra = "".join(f"\n{w}" for w in loaded.warnings or [])
            self._say(f"{_count(len(loaded.hints))} from {loaded.path}{extra}")
        else:
            self._say(f"No hints yet; they will be saved {self._where_text()}")
        if loaded.hints and not self.takes_hints:
            self._say(f"{_count(len(loaded.hints))} kept but not used: {NO_HINTS_WHY}", warn=True)

    def _render_width(self, width: int, height: int) -> int:
        return render_shape(height, width, self.ws.controls.render_size())[1]

    def _on_render_size_changed(self) -> None:
        w, h = self.editor.size
        if w:
            self.editor.render_width = self._render_width(w, h)
            self.ws.viewer.update()

    def _where_text(self) -> str:
        place = self.place
        if place is None:
            return ""
        sidecar = place.sidecar
        if os.access(sidecar.parent, os.W_OK | os.X_OK):
            return f"beside the photo ({sidecar.name})"
        return f"in the app data folder, as the photo's folder is read-only ({place.fallback})"

    # --- edits -----------------------------------------------------------------------------
    def save(self) -> None:
        """After each edit by the user (never merely on opening: a file that could not be
        read stays as it was until then)."""
        doc, place = self.ws.doc, self.place
        if doc is None or place is None:
            return
        hints = self.editor.hints.snapshot()
        try:
            path = place.save(hints, doc.photo.width, doc.photo.height)
        except OSError as err:
            self.file = None
            self._say(f"The hints could not be saved: {err}", warn=True)
            return
        where = "beside the photo" if path == place.sidecar else "in the app data folder"
        self.file = path if hints else None
        if not hints:
            self._say(f"No hints (the hint file {path.name} {where} was removed)")
        else:
            self._say(f"{_count(len(hints))}, saved {where}: {path}")

    def _on_changed(self) -> None:
        """Hints changed: the running result is for old hints (stop it), run again soon.

        The finer display levels still being coloured for the old result are stopped too: on
        a big photo they take longer than the network itself, and would share the cores with
        the new run (the view keeps the levels it has until the new result)."""
        self.ws.cancel()
        if self.ws.viewer.mode != Mode.CONFIDENCE:  # shown: kept until the new one (no flicker)
            self.ws.viewer.set_layer(Mode.CONFIDENCE, None)  # else made anew when shown
        if self.ws.doc is not None and self.takes_hints:
            self.ws.cancel("compose")
            self.timer.start()  # restarts: a burst of changes gives one run

    def _on_timer(self) -> None:
        if self.ws.doc is not None:
            self.ws.run_network()

    def stop(self) -> None:
        self.timer.stop()

    # --- the model -------------------------------------------------------------------------
    def check_model(self, *_) -> None:
        path = self.ws.controls.model_path()
        try:
            self.takes_hints = path is not None and read_info(path).takes_hints
        except ColorizerError:
            self.takes_hints = False
        self.editor.set_allowed(self.takes_hints, NO_HINTS_WHY)

    # --- colours at a point ----------------------------------------------------------------
    def result_color(self, x: float, y: float) -> tuple[int, int, int] | None:
        """The current result's colour at photo point (x, y), from its finest display level."""
        doc = self.ws.doc
        if doc is None or not doc.colorized:
            return None
        level = max(doc.colorized.values(), key=lambda lv: lv.shape[1])
        s = level.shape[1] / doc.display.width
        row = min(level.shape[0] - 1, int(y * s))
        col = min(level.shape[1] - 1, int(x * s))
        return tuple(int(v) for v in level[row, col, :3])

    def _on_suggestions_wanted(self, x: float, y: float) -> None:
        doc, popup = self.ws.doc, self.editor.popup
        model_path = self.ws.controls.model_path()
        if doc is None or model_path is None:
            popup.show_note("no model")
            return
        pixels, settings, cached = doc.photo.pixels, self.ws.controls.settings(), self.ws.generator
        hints = self.editor.hints.snapshot()

        def job(progress, emit):
            runner, generator = load_runner(model_path, settings, cached)
            found = suggest_colors(pixels, runner, settings, [(x, y)], hints=hints, k=SUGGESTIONS)
            return found[0], generator

        def shown(result) -> None:
            found, generator = result
            self.ws.keep_generator(generator)
            if self.ws.doc is doc:
                popup.show_suggestions([(s.rgb, s.probability) for s in found])

        self.ws._start(
            "suggest",
            job,
            finished=shown,
            failed=lambda err: popup.show_note(workers.describe(err)),
        )

    # --- the Confidence view ---------------------------------------------------------------
    def _on_mode_changed(self, mode) -> None:
        if mode == Mode.CONFIDENCE and self.ws.doc is not None:
            self.refresh_confidence()

    def refresh_confidence(self) -> None:
        doc = self.ws.doc
        model_path = self.ws.controls.model_path()
        if doc is None or model_path is None:
            return
        pixels, settings, cached = doc.photo.pixels, self.ws.controls.settings(), self.ws.generator
        hints, version = self.editor.hints.snapshot(), self.editor.hints.version
        level = len(doc.display.levels) - 1
        photo = doc.display.levels[level]

        def job(progress, emit):
            runner, generator = load_runner(model_path, settings, cached)
            unsure = uncertainty(pixels, runner, settings, hints=hints, progress=progress)
            relative, (low, high) = stretch(unsure)
            return shade(photo, relative), (low, high), generator

        def shown(result) -> None:
            shaded, (low, high), generator = result
            self.ws.keep_generator(generator)
            if self.ws.doc is doc and self.editor.hints.version == version:
                self.ws.viewer.set_layer(Mode.CONFIDENCE, [(shaded, doc.display.scale_of(level))])
                self._say(
                    "Confidence: blue = surest in this photo, red = least sure (hint there); "
                    f"entropy {low:.0%}-{high:.0%} of its maximum"
                )

        self.ws._start(
            "confidence",
            job,
            finished=shown,
            failed=lambda err: self._say(f"No confidence view: {workers.describe(err)}", warn=True),
        )

    def _say(self, text: str, warn: bool = False) -> None:
        self.editor.status.setText(text)
        self.editor.status.setStyleSheet("color: #b45309;" if warn else "")


def _count(n: int) -> str:
    return f"{n} hint" + ("" if n == 1 else "s")
