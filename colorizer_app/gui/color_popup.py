"""Choosing a hint's colour: the popup at the point, and a reference photo to pick from.

The popup shows (1) the model's suggested colours at the point, each at the pixel's own
lightness (filled in when the worker has them), (2) the colour the current result has there,
(3) recently used colours, and "More…" (QColorDialog); two eyedroppers hand over to the
editor: one picks from the result in the viewer, one from an image file.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.engine.imageio import INPUT_EXTENSIONS

RGB = tuple[int, int, int]
IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(INPUT_EXTENSIONS)) + ")"
SWATCH_PX = 26
REFERENCE_MAX_SIDE = 720


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def rgb_of(text: str) -> RGB:
    """``"#rrggbb"`` -> (r, g, b); ValueError for anything else."""
    color = QColor(text)
    if not color.isValid() or not text.startswith("#") or len(text) != 7:
        raise ValueError(f"{text!r} is not #rrggbb")
    return color.red(), color.green(), color.blue()


class ColorPopup(QFrame):
    chosen = Signal(tuple)  # (r, g, b)
    pick_from_result = Signal()
    pick_from_file = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._initial: RGB = (128, 128, 128)
        self.suggested_row, self.result_row, self.recent_row = (QHBoxLayout() for _ in range(3))
        self.suggested_note = QLabel("")
        self.more_button = QPushButton("More…")
        self.pick_button = QPushButton("Pick from result")
        self.pick_button.setToolTip("Eyedropper: click a place of the colorized photo")
        self.file_button = QPushButton("From image…")
        self.file_button.setToolTip("Eyedropper: pick a colour from a reference photo")

        grid = QGridLayout()
        for row, (label, layout) in enumerate(
            (
                ("Suggested", self.suggested_row),
                ("Result here", self.result_row),
                ("Recent", self.recent_row),
            )
        ):
            grid.addWidget(QLabel(label), row, 0)
            grid.addLayout(layout, row, 1)
        self.suggested_row.addWidget(self.suggested_note)
        buttons = QHBoxLayout()
        for b in (self.more_button, self.pick_button, self.file_button):
            buttons.addWidget(b)
        column = QVBoxLayout(self)
        column.addLayout(grid)
        column.addLayout(buttons)

        self.more_button.clicked.connect(self._on_more)
        self.pick_button.clicked.connect(lambda: self._hand_over(self.pick_from_result))
        self.file_button.clicked.connect(lambda: self._hand_over(self.pick_from_file))

    # --- content ---------------------------------------------------------------------------
    def open_at(self, where: QPoint, *, result: RGB | None, recent: list[RGB]) -> None:
        """Show at ``where`` (global) with the result's colour there and the recent colours;
        the suggestions follow through :meth:`show_suggestions` or :meth:`show_note`."""
        self._initial = result or (recent[0] if recent else (128, 128, 128))
        self._fill(self.suggested_row, [], keep=self.suggested_note)
        self.suggested_note.setText("computing…")
        self.suggested_note.show()
        self._fill(self.result_row, [(result, "the result's colour here")] if result else [])
        if result is None:
            self.result_row.addWidget(QLabel("no result yet"))
        self._fill(self.recent_row, [(rgb, "used recently") for rgb in recent])
        self.adjustSize()
        self.move(where)
        self.show()

    def show_suggestions(self, suggestions: list[tuple[RGB, float]]) -> None:
        """(sRGB at the pixel's lightness, probability) pairs, most probable first."""
        self.suggested_note.hide()
        self._fill(
            self.suggested_row,
            [(rgb, f"{p:.0%} likely here") for rgb, p in suggestions],
            keep=self.suggested_note,
        )
        self.adjustSize()

    def show_note(self, text: str) -> None:
        self._fill(self.suggested_row, [], keep=self.suggested_note)
        self.suggested_note.setText(text)
        self.suggested_note.show()
        self.adjustSize()

    def swatches(self, row: str) -> list[QToolButton]:
        """The swatch buttons of a row: "suggested", "result" or "recent"."""
        layout = {
            "suggested": self.suggested_row,
            "result": self.result_row,
            "recent": self.recent_row,
        }[row]
        items = (layout.itemAt(i).widget() for i in range(layout.count()))
        return [w for w in items if isinstance(w, QToolButton)]

    def _fill(self, layout: QHBoxLayout, colours, keep: QWidget | None = None) -> None:
        while layout.count():
            widget = layout.takeAt(0).widget()
            if widget is not None and widget is not keep:
                widget.deleteLater()
        if keep is not None:
            layout.addWidget(keep)
        for rgb, why in colours:
            layout.addWidget(self._swatch(rgb, why))
        layout.addStretch(1)

    def _swatch(self, rgb: RGB, why: str) -> QToolButton:
        button = QToolButton()
        button.setFixedSize(SWATCH_PX, SWATCH_PX)
        button.setStyleSheet(f"background: {hex_of(rgb)}; border: 1px solid #222;")
        button.setToolTip(f"{hex_of(rgb)}: {why}")
        button.clicked.connect(lambda checked=False, c=tuple(rgb): self.choose(c))
        return button

    # --- choosing --------------------------------------------------------------------------
    def choose(self, rgb: RGB) -> None:
        self.hide()
        self.chosen.emit(tuple(int(v) for v in rgb))

    def _on_more(self) -> None:
        self.hide()
        colour = QColorDialog.getColor(QColor(*self._initial), self.parentWidget(), "Hint colour")
        if colour.isValid():
            self.chosen.emit((colour.red(), colour.green(), colour.blue()))

    def _hand_over(self, signal) -> None:
        self.hide()
        signal.emit()


class ReferencePicker(QDialog):
    """A reference photo shown small; a click picks the colour under the cursor."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pick a colour from a reference photo")
        self.picked: RGB | None = None
        reader = QImageReader(path)
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > REFERENCE_MAX_SIDE:
            reader.setScaledSize(
                size.scaled(
                    REFERENCE_MAX_SIDE, REFERENCE_MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio
                )
            )
        self.image: QImage = reader.read().convertToFormat(QImage.Format.Format_RGB888)
        self.error = "" if not self.image.isNull() else reader.errorString()
        self.picture = QLabel()
        self.picture.setPixmap(QPixmap.fromImage(self.image))
        self.picture.setFixedSize(self.image.size())  # label pixels = image pixels
        self.picture.setCursor(Qt.CursorShape.CrossCursor)
        self.picture.mousePressEvent = self._on_click  # a plain label: a click is all it does
        self.swatch = QLabel("click the photo")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        column = QVBoxLayout(self)
        column.addWidget(self.picture)
        column.addWidget(self.swatch)
        column.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def pick(self, x: int, y: int) -> RGB | None:
        if not (0 <= x < self.image.width() and 0 <= y < self.image.height()):
            return None
        c = self.image.pixelColor(x, y)
        self.picked = (c.red(), c.green(), c.blue())
        self.swatch.setText(hex_of(self.picked))
        self.swatch.setStyleSheet(f"background: {hex_of(self.picked)};")
        return self.picked

    def _on_click(self, event) -> None:
        pos = event.position().toPoint()
        self.pick(pos.x(), pos.y())

    @classmethod
    def ask(cls, parent: QWidget | None) -> tuple[RGB | None, str]:
        """Choose a file, then a colour in it: (colour or None, why not)."""
        path, _ = QFileDialog.getOpenFileName(parent, "A reference photo", "", IMAGE_FILTER)
        if not path:
            return None, ""
        dialog = cls(path, parent)
        if dialog.error:
            return None, f"cannot read {path}: {dialog.error}"
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None, ""
        return dialog.picked, ""
