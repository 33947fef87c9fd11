"""The colorize workspace's settings panel: model, render size, tiles, strength, device.

Defaults come from :class:`ColorizeSettings` (and the chosen model's recommendations).
"""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.engine.pipeline import ColorizeSettings
from colorizer_app.gui.model_store import ModelEntry, available_models
from models.device import DEVICES, PRECISION_CHOICES
from models.errors import ColorizerError
from models.modelfile import read_info

DEFAULTS = ColorizeSettings()
RENDER_SIZES = ["256", "384", "512", "768", "1024", "1536", "2048", "full"]
TILES = ["256", "512"]


class ControlsPanel(QWidget):
    render_size_changed = Signal()
    model_changed = Signal()  # another model is chosen (its recommendations applied)
    strength_changed = Signal(float)  # re-applied to the cached colour, no network

    def __init__(self, parent: QWidget | None = None, *, settings_group: str = "controls") -> None:
        super().__init__(parent)
        self._group = settings_group  # QSettings group, one per tab that has these controls
        self._extra_models: list[Path] = []
        # how the chosen model's colour is read (decoder, temperature): from its file, no
        # control of its own (the strength slider covers "more or less colour")
        self._decoding: dict = {}
        self.model = QComboBox()
        self.model.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model.setMinimumContentsLength(14)
        self.browse = QPushButton("…")
        self.browse.setToolTip("Choose a model file")
        self.browse.setFixedWidth(32)
        self.render = QComboBox()
        self.render.addItems(RENDER_SIZES)
        self.render.setCurrentText(_render_text(DEFAULTS.render_size))
        self.render.setToolTip(
            "The long side the network sees. The colour is computed at this size and laid on "
            "the photo's full-resolution lightness; larger is slower, and not better beyond "
            "what the model was tuned for."
        )
        self._recommended_render: int | None = DEFAULTS.render_size
        self.render_note = QLabel()  # what the chosen size costs, next to the recommendation
        self.render_note.setObjectName("renderNote")
        self.render_note.setWordWrap(True)
        self.tile = QComboBox()
        self.tile.addItems(TILES)
        self.tile.setCurrentText(str(DEFAULTS.tile))
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 128)
        self.overlap.setSingleStep(8)
        self.overlap.setValue(DEFAULTS.overlap)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 200)
        self.strength.setValue(round(DEFAULTS.strength * 100))
        self.strength_label = QLabel(f"{self.strength.value()}%")
        self.device = QComboBox()
        cuda = torch.cuda.is_available()
        self.device.addItems([d for d in DEVICES if d != "cuda" or cuda])
        self.device.setCurrentText(DEFAULTS.device)
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISION_CHOICES))
        self.precision.setCurrentText(DEFAULTS.precision)
        self.device_used = QLabel("–")

        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.browse)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(self.strength_label)
        form = QFormLayout(self)
        form.addRow("Model", model_row)
        form.addRow("Render size", self.render)
        form.addRow("", self.render_note)
        form.addRow("Tile", self.tile)
        form.addRow("Overlap", self.overlap)
        form.addRow("Colour strength", strength_row)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Ran on", self.device_used)

        self.browse.clicked.connect(self._on_browse)
        self.strength.valueChanged.connect(self._on_strength)
        self.render.currentTextChanged.connect(self.render_size_changed)
        self.render.currentTextChanged.connect(self._show_render_cost)
        self.model.currentIndexChanged.connect(self.apply_recommended)
        self.refresh_models()

    # --- models ----------------------------------------------------------------------------
    def refresh_models(self, select: Path | None = None) -> None:
        before = self.model_path()
        current = select or before
        entries = available_models(self._extra_models)
        self.model.blockSignals(True)
        self.model.clear()
        for entry in entries:
            self.model.addItem(entry.label, str(entry.path))
            self.model.setItemData(
                self.model.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole
            )
        if current is not None:
            index = self.model.findData(str(current))
            if index >= 0:
                self.model.setCurrentIndex(index)
        self.model.blockSignals(False)
        if self.model_path() != before:
            self.apply_recommended()

    def apply_recommended(self) -> None:
        """Show a newly chosen model at the render size and strength its file recommends (the
        shipped L1 model wants more strength than a GAN-trained one), and read its colour the
        way it recommends (decoder, temperature); app defaults otherwise."""
        path = self.model_path()
        recommended = {}
        if path is not None:
            try:
                recommended = read_info(path).recommended
            except ColorizerError:
                pass  # an unreadable file is reported when it is used
        self._recommended_render = recommended.get("render_size", DEFAULTS.render_size)
        text = _render_text(self._recommended_render)
        if self.render.findText(text) < 0:
            self.render.addItem(text)
        self.render.setCurrentText(text)
        self._show_render_cost()
        self.strength.setValue(round(recommended.get("strength", DEFAULTS.strength) * 100))
        self._decoding = {k: recommended[k] for k in ("decoder", "temperature") if k in recommended}
        self.model_changed.emit()

    def add_model(self, path: Path) -> None:
        path = Path(path)
        if path not in self._extra_models:
            self._extra_models.append(path)
        self.refresh_models(select=path)

    def model_path(self) -> Path | None:
        data = self.model.currentData()
        return Path(data) if data else None

    def default_entry(self) -> ModelEntry | None:
        entries = available_models()
        return entries[0] if entries and entries[0].label == "Default model" else None

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model file", "", "Colorizer models (*.safetensors)"
        )
        if not path:
            return
        try:
            read_info(path)  # a file that is not a usable model: say why, do not add it
        except ColorizerError as err:
            QMessageBox.warning(self, "Not a usable model", str(err))
            return
        self.add_model(Path(path))

    # --- values ----------------------------------------------------------------------------
    def _on_strength(self, value: int) -> None:
        self.strength_label.setText(f"{value}%")
        self.strength_changed.emit(value / 100.0)

    def recommended_render(self) -> int | None:
        """The chosen model's recommended render size (None: full)."""
        return self._recommended_render

    def _show_render_cost(self, *_) -> None:
        """``384 recommended by this model``, or what another size costs against it."""
        text, warn = render_cost(self.render_size(), self._recommended_render)
        self.render_note.setText(text)
        self.render_note.setStyleSheet("color: #b45309;" if warn else "color: palette(mid);")

    def render_size(self) -> int | None:
        text = self.render.currentText()
        return None if text == "full" else int(text)

    def settings(self) -> ColorizeSettings:
        return DEFAULTS.with_(
            render_size=self.render_size(),
            tile=int(self.tile.currentText()),
            overlap=self.overlap.value(),
            strength=self.strength.value() / 100.0,
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            **self._decoding,
        )

    # --- persistence -----------------------------------------------------------------------
    def save(self, store: QSettings) -> None:
        store.setValue(f"{self._group}/render", self.render.currentText())
        store.setValue(f"{self._group}/tile", self.tile.currentText())
        store.setValue(f"{self._group}/overlap", self.overlap.value())
        store.setValue(f"{self._group}/strength", self.strength.value())
        store.setValue(f"{self._group}/device", self.device.currentText())
        store.setValue(f"{self._group}/precision", self.precision.currentText())
        store.setValue(f"{self._group}/model", str(self.model_path() or ""))
        store.setValue(f"{self._group}/extra_models", [str(p) for p in self._extra_models])

    def restore(self, store: QSettings) -> None:
        # the model first: choosing it applies its recommendations, the user's values win
        extra = store.value(f"{self._group}/extra_models") or []
        self._extra_models = [
            Path(p) for p in (extra if isinstance(extra, list) else [extra]) if Path(p).is_file()
        ]
        model = store.value(f"{self._group}/model")
        self.refresh_models(select=Path(model) if model else None)
        for combo, key in (
            (self.render, "render"),
            (self.tile, "tile"),
            (self.device, "device"),
            (self.precision, "precision"),
        ):
            value = store.value(f"{self._group}/{key}")
            if value is not None and combo.findText(str(value)) >= 0:
                combo.setCurrentText(str(value))
        self.overlap.setValue(int(store.value(f"{self._group}/overlap", DEFAULTS.overlap)))
        strength = store.value(f"{self._group}/strength")
        if strength is not None:
            self.strength.setValue(int(strength))


def render_cost(size: int | None, recommended: int | None) -> tuple[str, bool]:
    """A note on a render size next to the model's recommendation, and whether it is a
    warning (much slower, or a size the model was not tuned for)."""
    if size == recommended:
        return f"{_render_text(size)} recommended by this model", False
    if recommended is None:
        return "this model recommends full: smaller sizes lose colour detail", True
    if size is None:
        return (
            f"full: the network sees every pixel, many times slower than {recommended} (minutes "
            f"for a large scan), and this model was tuned at {recommended}: colour may blotch",
            True,
        )
    work = (size / recommended) ** 2
    if work < 1:
        return f"about {1 / work:.1f}x faster than {recommended}, recommended by this model", False
    return (
        f"about {work:.1f}x the work of {recommended}, recommended by this model",
        work >= 4,
    )


def _render_text(render_size: int | None) -> str:
    return "full" if render_size is None else str(render_size)


def row(*widgets: QWidget) -> QHBoxLayout:
    """Widgets side by side; line edits and combo boxes take the spare width."""
    box = QHBoxLayout()
    for w in widgets:
        box.addWidget(w, 1 if isinstance(w, (QLineEdit, QComboBox)) else 0)
    return box


def side_panel(*widgets: QWidget, width: int = 300) -> QWidget:
    """The fixed-width column on the right of a tab: settings, then buttons and status."""
    column = QVBoxLayout()
    for widget in widgets:
        column.addWidget(widget)
    column.addStretch(1)
    panel = QWidget()
    panel.setLayout(column)
    panel.setFixedWidth(width)
    return panel
