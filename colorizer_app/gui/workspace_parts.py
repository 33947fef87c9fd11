"""Two parts of the Colorize tab, kept apart from its run plumbing (workspace.py): the checks
around a run (a run that takes minutes asks first; a result from another model or render
size is marked stale) and saving or copying the result. Mixins of ``ColorizeWorkspace``: they
use its ``doc``, ``controls``, ``viewer``, labels and ``_start``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from colorizer_app.engine.imageio import write_image
from colorizer_app.engine.pipeline import compose, num_tiles
from colorizer_app.gui import workers
from colorizer_app.gui.ask import ask
from colorizer_app.gui.viewer import qimage_of


class RunChecks:
    """Before and after a run: its cost, and whether the result shown is still current."""

    LONG_RUN_S = 60.0  # a run expected to take longer asks first

    def _worth_the_wait(self, shape: tuple[int, ...], settings) -> bool:
        """A run that will take minutes (a big photo at a large render size) asks first,
        with what the model's recommended size would take."""
        tiles = num_tiles(shape, settings)
        seconds = tiles * self._tile_seconds
        recommended = self.controls.recommended_render()
        if seconds < self.LONG_RUN_S or settings.render_size == recommended:
            return True
        quick = num_tiles(shape, settings.with_(render_size=recommended)) * self._tile_seconds
        size = settings.render_size or "full"
        question = (
            f"At render size {size} this photo takes {tiles} network tiles: about "
            f"{seconds / 60:.0f} min here ({recommended or 'full'}, recommended by this model: "
            f"about {max(1, round(quick))} s). Colorize at {size} anyway?"
        )
        return self.confirm("This will take minutes", question)

    def confirm(self, title: str, question: str) -> bool:
        return not self.isVisible() or ask(self, title, question)  # hidden: nobody to ask

    def _look(self) -> tuple:
        """What the colours depend on, besides the photo: the model and the look settings
        (the strength is re-applied live, so it is not one of them)."""
        settings = self.controls.settings()
        model = self.controls.model_path()
        return (str(model), settings.render_size, settings.decoder, settings.temperature)

    def _show_staleness(self, *_) -> None:
        """Mark a result made with another model or render size, until it is made again."""
        doc = self.doc
        if doc is None or doc.ab is None or doc.made_with is None or doc.made_with == self._look():
            self.stale.setText("")
            return
        model, render = Path(doc.made_with[0]).name, doc.made_with[1] or "full"
        self.stale.setText(
            f"The colours shown were made with another model or render size ({model}, "
            f"{render}): Colorize (Ctrl+R) to update them."
        )


class SaveActions:
    """Save As (in the background, never over the original without asking) and Copy."""

    def save_as(self, path: str | Path | None = None, *, confirm: bool = True) -> None:
        doc = self.doc
        if doc is None or doc.ab is None:
            self._error("Nothing to save", "Colorize the photo first.")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self,
                "Save colorized photo",
                str(self.save_suggestion()),
                "PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff)",
            )
            if not path:
                return
        path = Path(path)
        if doc.path is not None and path.resolve() == doc.path.resolve() and confirm:
            answer = QMessageBox.warning(
                self,
                "Replace the original?",
                f"{path.name} is the original photo. Replacing it cannot be undone.",
                QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Save,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Save:
                return
        photo, ab, strength = doc.photo, doc.ab, self.strength

        def job(progress, emit):
            rgb = compose(photo.pixels, ab, strength, progress=progress)
            return path, write_image(
                path, rgb, alpha=photo.alpha, exif=photo.exif, icc_profile=photo.icc_profile
            )

        self._start(
            "save",
            job,
            finished=self._on_saved,
            failed=lambda err: self._error("Could not save", workers.describe(err)),
        )

    def save_suggestion(self) -> Path:
        """Where Save As starts: the folder the user last saved into (else the photo's own,
        else Pictures), with ``<photo>-colorized.png``."""
        doc = self.doc
        stem = doc.path.stem if doc is not None and doc.path else "photo"
        folder = self.save_folder or (doc.path.parent if doc is not None and doc.path else None)
        if folder is None or not Path(folder).is_dir():
            folder = pictures_folder()
        return Path(folder) / f"{stem}-colorized.png"

    def _on_saved(self, result) -> None:
        path, notes = result
        self.save_folder = Path(path).parent
        self.info.setText(f"Saved {path}" + "".join(f"\n{n}" for n in notes))

    def copy_to_clipboard(self) -> bool:
        doc = self.doc
        if doc is None or not doc.colorized:
            return False
        finest = max(doc.colorized.values(), key=lambda lv: lv.shape[1])
        QGuiApplication.clipboard().setImage(qimage_of(finest).copy())
        return True


def pictures_folder() -> Path:
    """The user's Pictures folder (home where there is none)."""
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(found) if found and Path(found).is_dir() else Path.home()
