"""The Train tab's "Settings" box: what to start from, how long, and the recipe; it turns the
choices into the :class:`TrainConfig` of a new run (:meth:`TrainSettingsBox.config`).

Defaults come from :data:`train_settings.FINE_TUNE` (a TrainConfig), never from numbers here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from colorizer_app.gui.controls import row
from colorizer_app.gui.model_store import available_models
from colorizer_app.gui.train_settings import (
    FINE_TUNE,
    estimated_steps,
    logging_settings,
    model_settings,
)
from models.device import DEVICES
from models.errors import ModelFileError
from models.modelfile import read_info
from trainer.config import TrainConfig

FROM_SCRATCH = "__scratch__"
# (label, key, the TrainConfig settings of the recipe). The first is the shipped model's
# recipe and the default. Fine-tuning a model that takes hints or has a distribution head
# keeps both whatever the recipe (its architecture wins).
RECIPES = (
    (
        "Colour distribution + hints (the default model's recipe)",
        "distribution",
        {"loss": "l1", "hints": True, "distribution": True, "degrade": FINE_TUNE.degrade},
    ),
    (
        "L1 only (safe, less colourful)",
        "l1",
        {"loss": "l1", "hints": False, "distribution": False, "degrade": FINE_TUNE.degrade},
    ),
    (
        "GAN + λ·L1 (Pix2Pix: more saturated, less accurate)",
        "gan_l1",
        {"loss": "gan_l1", "hints": False, "distribution": False, "degrade": 0.0},
    ),
)
RECIPE_SETTINGS = {key: settings for _, key, settings in RECIPES}


def recipe_of(config: TrainConfig) -> str:
    """The key of the recipe a config trains with."""
    if config.loss == "gan_l1":
        return "gan_l1"
    return "distribution" if config.distribution else "l1"


CROP_SIZES = (64, 128, 192, 256, 384, 512)


class TrainSettingsBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings", parent)
        self._extra_models: list[Path] = []
        self.base_model = QComboBox()
        self.base_browse = QPushButton("Browse…")
        self.length = QSpinBox()
        self.length.setRange(1, 10_000_000)
        self.length_unit = QComboBox()
        self.length_unit.addItems(["epochs", "steps"])
        self.image_size = QComboBox()
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 256)
        self.recipe = QComboBox()
        for label, key, _ in RECIPES:
            self.recipe.addItem(label, key)
        self.lambda_l1 = QDoubleSpinBox()
        self.lambda_l1.setRange(0.0, 10000.0)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(0.000001, 0.01)
        self.lr.setSingleStep(0.00005)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.0, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("name of this run and of its model")
        form = QFormLayout(self)
        form.addRow("Start from", row(self.base_model, self.base_browse))
        form.addRow("Length", row(self.length, self.length_unit))
        form.addRow("Image size", self.image_size)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Recipe", self.recipe)
        form.addRow("λ (L1 weight)", self.lambda_l1)
        form.addRow("Learning rate", self.lr)
        form.addRow("Validation share", self.val_fraction)
        form.addRow("Device", self.device)
        form.addRow("Run name", self.run_name)
        self.restore(None)

        self.base_browse.clicked.connect(self._on_browse)
        self.base_model.currentIndexChanged.connect(self._update_sizes)
        self.recipe.currentIndexChanged.connect(self._on_recipe)
        self.refresh_models()

    # --- the run's TrainConfig -------------------------------------------------------------
    def config(self, color: str, gray: str, *, run_dir: Path, name: str, items: int):
        """The :class:`TrainConfig` of a new run on ``color`` (+ ``gray``) photos; ``items``
        (the data check's count) estimates the steps of a run measured in epochs."""
        unit, length = self.length_unit.currentText(), self.length.value()
        steps = estimated_steps(
            length,
            unit,
            items=items,
            val_fraction=self.val_fraction.value(),
            batch_size=self.batch_size.value(),
        )
        base = self.base_model.currentData()
        return TrainConfig(
            data=color,
            **({"source": "paired", "gray_dir": gray} if gray else {}),
            **model_settings(base if base != FROM_SCRATCH else None, self.base_info()),
            **({"epochs": float(length)} if unit == "epochs" else {"steps": length}),
            image_size=int(self.image_size.currentText()),
            batch_size=self.batch_size.value(),
            **RECIPE_SETTINGS[self.recipe.currentData()],
            lambda_l1=self.lambda_l1.value(),
            lr=self.lr.value(),
            val_fraction=self.val_fraction.value(),
            device=self.device.currentText(),
            run_dir=str(run_dir),
            name=name,
            **logging_settings(steps),
        )

    def _on_recipe(self) -> None:
        self.lambda_l1.setEnabled(self.recipe.currentData() == "gan_l1")

    # --- the model to start from -----------------------------------------------------------
    def refresh_models(self, select: Path | None = None) -> None:
        current = select or self.base_model.currentData()
        self.base_model.blockSignals(True)
        self.base_model.clear()
        for entry in available_models(self._extra_models):
            self.base_model.addItem(f"Fine-tune: {entry.label}", str(entry.path))
        self.base_model.addItem("From scratch (the default model's architecture)", FROM_SCRATCH)
        index = self.base_model.findData(str(current)) if current else -1
        self.base_model.setCurrentIndex(max(0, index))
        self.base_model.blockSignals(False)
        self._update_sizes()

    def add_base_model(self, path: Path) -> None:
        self._extra_models.append(Path(path))
        self.refresh_models(select=Path(path))

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model to fine-tune", "", "Colorizer models (*.safetensors)"
        )
        if path:
            self.add_base_model(Path(path))

    def base_info(self):
        """The ``ModelInfo`` of the model to start from (from scratch: the default model's)."""
        data = self.base_model.currentData()
        path = None
        if data == FROM_SCRATCH:
            entries = available_models()
            path = entries[0].path if entries else None
        elif data:
            path = Path(data)
        if path is None:
            return None
        try:
            return read_info(path)
        except ModelFileError:
            return None

    def _update_sizes(self) -> None:
        """Offer the crop sizes the chosen architecture accepts (multiples of 2**depth)."""
        info = self.base_info()
        multiple = info.config.multiple if info is not None else 128
        current = self.image_size.currentText()
        sizes = [s for s in CROP_SIZES if s % multiple == 0] or [multiple]
        self.image_size.clear()
        self.image_size.addItems([str(s) for s in sizes])
        preferred = current if current in map(str, sizes) else str(sizes[min(1, len(sizes) - 1)])
        self.image_size.setCurrentText(preferred)

    # --- persistence -----------------------------------------------------------------------
    def save(self, store: QSettings) -> None:
        store.setValue("train/length", self.length.value())
        store.setValue("train/unit", self.length_unit.currentText())
        store.setValue("train/batch", self.batch_size.value())
        store.setValue("train/lambda", self.lambda_l1.value())
        store.setValue("train/lr", self.lr.value())
        store.setValue("train/val", self.val_fraction.value())
        store.setValue("train/recipe_key", self.recipe.currentData())
        store.setValue("train/image_size", self.image_size.currentText())

    def restore(self, store: QSettings | None) -> None:
        """The settings saved in ``store``; FINE_TUNE's for any not saved (or no store)."""

        def saved(key, default):
            return default if store is None else store.value(f"train/{key}", default)

        self.length.setValue(int(saved("length", int(FINE_TUNE.epochs))))
        unit = str(saved("unit", "epochs"))
        if self.length_unit.findText(unit) >= 0:
            self.length_unit.setCurrentText(unit)
        self.batch_size.setValue(int(saved("batch", FINE_TUNE.batch_size)))
        self.lambda_l1.setValue(float(saved("lambda", FINE_TUNE.lambda_l1)))
        self.lr.setValue(float(saved("lr", FINE_TUNE.lr)))
        self.val_fraction.setValue(float(saved("val", FINE_TUNE.val_fraction)))
        index = self.recipe.findData(str(saved("recipe_key", recipe_of(FINE_TUNE))))
        self.recipe.setCurrentIndex(max(0, index))
        size = str(saved("image_size", ""))  # kept if the base model's depth allows it
        if self.image_size.findText(size) >= 0:
            self.image_size.setCurrentText(size)
