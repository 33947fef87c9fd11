"""The Train tab: fine-tune a model on the user's own colour (and gray) photos.

Checking the data runs the trainer's Qt-free ``inspect_data`` on a worker thread; training
runs ``colorizer train --json-progress`` in a child process (:mod:`train_process`). Losses and
validation numbers are plotted live with pyqtgraph; the trainer's sample grid (gray | output |
truth) is shown after each validation. "Use This Model" exports the latest checkpoint into
the user models folder, where the Colorize and Batch tabs' model pickers find it.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.gui import workers
from colorizer_app.gui.model_store import available_models, user_models_dir
from colorizer_app.gui.train_process import TrainProcess
from colorizer_app.gui.viewer import qimage_of
from models.errors import ModelFileError
from models.modelfile import read_info
from trainer.runs import RunInfo, describe_run, history, list_runs

FROM_SCRATCH = "__scratch__"
LOSS_KEYS = ("g_l1", "g_mse", "g_adv", "d_real", "d_fake")
LOSS_COLOURS = {
    "g_l1": "#1f77b4",
    "g_mse": "#1f77b4",
    "g_adv": "#ff7f0e",
    "d_real": "#2ca02c",
    "d_fake": "#d62728",
}
EVAL_KEYS = ("psnr", "gray_psnr", "colourfulness", "truth_colourfulness")


def runs_root() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "runs"


def safe_name(text: str) -> str:
    """A file-system-safe version of a user's model or run name."""
    name = re.sub(r"[^\w\- ]+", "", text, flags=re.UNICODE).strip().replace(" ", "-")
    return name[:60] or "model"


class TrainTab(QWidget):
    model_added = Signal(object)  # Path of a model file put into the user models folder
    run_ended = Signal(int, str)  # exit code, reason (tests, status bar)
    inspected = Signal(object)  # the Inspection of the chosen data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_root()
        self.run_dir: Path | None = None
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.total_steps = 0
        self._started = 0.0
        self._start_step = 0
        self._paused = False
        self._has_checkpoint = False
        self._extra_models: list[Path] = []
        self._inspection = None  # the last data check (its count sizes the logging)
        self._inspect_job: workers.Job | None = None
        self._export_job: workers.Job | None = None
        self.process = TrainProcess(self)

        # --- data
        self.color_edit = QLineEdit()
        self.color_edit.setPlaceholderText("folder of colour photos (the look to learn)")
        self.color_browse = QPushButton("Browse…")
        self.gray_edit = QLineEdit()
        self.gray_edit.setPlaceholderText("optional: gray versions, paired by file name")
        self.gray_browse = QPushButton("Browse…")
        self.check_button = QPushButton("Check Data")
        self.data_summary = QLabel("Choose a folder of colour photos.")
        self.data_summary.setWordWrap(True)
        self.unmatched = QListWidget()
        self.unmatched.setMaximumHeight(90)
        self.samples_box = QGridLayout()
        data_box = QGroupBox("Photos")
        data_form = QFormLayout(data_box)
        data_form.addRow("Colour folder", _row(self.color_edit, self.color_browse))
        data_form.addRow("Gray folder", _row(self.gray_edit, self.gray_browse))
        data_form.addRow("", self.check_button)
        data_form.addRow(self.data_summary)
        data_form.addRow("Left out", self.unmatched)
        samples = QWidget()
        samples.setLayout(self.samples_box)
        data_form.addRow("Sample pairs", samples)

        # --- settings
        self.base_model = QComboBox()
        self.base_browse = QPushButton("Browse…")
        self.length = QSpinBox()
        self.length.setRange(1, 10_000_000)
        self.length.setValue(5)
        self.length_unit = QComboBox()
        self.length_unit.addItems(["epochs", "steps"])
        self.image_size = QComboBox()
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 256)
        self.batch_size.setValue(8)
        self.recipe = QComboBox()
        self.recipe.addItem("GAN + λ·L1 (Pix2Pix)", "gan_l1")
        self.recipe.addItem("L1 only (safe, less colourful)", "l1")
        self.lambda_l1 = QDoubleSpinBox()
        self.lambda_l1.setRange(0.0, 10000.0)
        self.lambda_l1.setValue(100.0)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(0.000001, 0.01)
        self.lr.setSingleStep(0.00005)
        self.lr.setValue(0.0002)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.0, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.1)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("name of this run and of its model")
        settings_box = QGroupBox("Settings")
        form = QFormLayout(settings_box)
        form.addRow("Start from", _row(self.base_model, self.base_browse))
        form.addRow("Length", _row(self.length, self.length_unit))
        form.addRow("Image size", self.image_size)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Recipe", self.recipe)
        form.addRow("λ (L1 weight)", self.lambda_l1)
        form.addRow("Learning rate", self.lr)
        form.addRow("Validation share", self.val_fraction)
        form.addRow("Device", self.device)
        form.addRow("Run name", self.run_name)

        # --- runs
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton("Use This Model…")
        self.runs = QComboBox()
        self.resume_button = QPushButton("Resume")
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        run_layout.addLayout(
            _row(self.start_button, self.pause_button, self.cancel_button, self.use_button)
        )
        run_layout.addLayout(_row(QLabel("Earlier runs"), self.runs, self.resume_button))
        run_layout.addWidget(self.progress)
        run_layout.addWidget(self.status)

        # --- plots, preview, log
        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        self.loss_plot = pg.PlotWidget(title="Losses")
        self.psnr_plot = pg.PlotWidget(title="Validation PSNR (dB)")
        self.colour_plot = pg.PlotWidget(title="Validation colourfulness")
        self.curves: dict[str, pg.PlotDataItem] = {}  # made when a series first has data
        self._curve_styles = {
            key: (self.loss_plot, key, LOSS_COLOURS[key], {}) for key in LOSS_KEYS
        }
        self._curve_styles.update(
            psnr=(self.psnr_plot, "model", "#1f77b4", {"symbol": "o"}),
            gray_psnr=(self.psnr_plot, "gray input", "#7f7f7f", {"dash": True}),
            colourfulness=(self.colour_plot, "model", "#d62728", {"symbol": "o"}),
            truth_colourfulness=(self.colour_plot, "truth", "#7f7f7f", {"dash": True}),
        )
        for plot in (self.loss_plot, self.psnr_plot, self.colour_plot):
            plot.setLabel("bottom", "step")
            plot.showGrid(x=True, y=True, alpha=0.3)
        self.preview = QLabel("The preview (gray | current output | truth) appears here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(160)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        views = QTabWidget()
        views.addTab(self.loss_plot, "Losses")
        views.addTab(self.psnr_plot, "PSNR")
        views.addTab(self.colour_plot, "Colourfulness")
        views.addTab(self.log, "Log")

        left = QVBoxLayout()
        left.addWidget(data_box)
        left.addWidget(settings_box)
        left.addStretch(1)
        left_panel = QWidget()
        left_panel.setLayout(left)
        left_panel.setFixedWidth(420)
        right = QVBoxLayout()
        right.addWidget(run_box)
        right.addWidget(views, 2)
        right.addWidget(self.preview, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(left_panel)
        layout.addLayout(right, 1)

        self.color_browse.clicked.connect(lambda: self._browse(self.color_edit))
        self.gray_browse.clicked.connect(lambda: self._browse(self.gray_edit))
        self.check_button.clicked.connect(self.check_data)
        self.base_browse.clicked.connect(self._browse_model)
        self.base_model.currentIndexChanged.connect(self._update_sizes)
        self.recipe.currentIndexChanged.connect(
            lambda: self.lambda_l1.setEnabled(self.recipe.currentData() == "gan_l1")
        )
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(lambda: self.use_model())
        self.resume_button.clicked.connect(lambda: self.resume())
        self.process.event.connect(self._on_event)
        self.process.log_line.connect(self.log.appendPlainText)
        self.process.ended.connect(self._on_ended)
        self.refresh_models()
        self.refresh_runs()
        self._set_running(False)

    def _curve_for(self, key: str) -> pg.PlotDataItem:
        if key not in self.curves:
            plot, name, colour, style = self._curve_styles[key]
            self.curves[key] = self._curve(plot, name, colour, **style)
        return self.curves[key]

    @staticmethod
    def _curve(plot, name, colour, *, symbol=None, dash=False):
        if plot.plotItem.legend is None:
            plot.addLegend(offset=(-10, 10))
        pen = pg.mkPen(
            colour, width=2, style=Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine
        )
        kwargs = {"symbol": symbol, "symbolSize": 6, "symbolBrush": colour} if symbol else {}
        return plot.plot([], [], pen=pen, name=name, **kwargs)

    # --- data ------------------------------------------------------------------------------
    def _browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)
            self.check_data()

    def check_data(self) -> None:
        """Count pairs, list what is left out and why, show sample pairs (on a worker)."""
        color = self.color_edit.text().strip()
        gray = self.gray_edit.text().strip()
        if not color:
            self.data_summary.setText("Choose a folder of colour photos.")
            return
        from trainer.data import inspect_data

        self.data_summary.setText("Checking…")
        self.check_button.setEnabled(False)

        def job(progress, emit):
            return inspect_data(color, gray, samples=4, size=96)

        def done():
            self._inspect_job = None
            self.check_button.setEnabled(True)

        self._inspect_job = workers.start(
            job,
            "inspect",
            self,
            finished=self._show_inspection,
            failed=lambda why: self.data_summary.setText(f"Cannot use this data: {why}"),
            done=done,
        )

    def _show_inspection(self, result) -> None:
        if result.kind == "paired":
            text = f"{result.items} colour/gray pairs"
        else:
            text = f"{result.items} colour photos (the gray input is made from each)"
        if result.skipped:
            text += f"; {len(result.skipped)} file(s) left out (listed below)"
        if result.items < 2:
            text += ". One photo trains and validates on itself: add more for a real test."
        self.data_summary.setText(text)
        self._inspection = result
        self.unmatched.clear()
        for name, why in result.skipped[:500]:
            self.unmatched.addItem(f"{Path(name).name}: {why}")
        while self.samples_box.count():
            item = self.samples_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for col, (name, gray, rgb) in enumerate(result.samples):
            label = QLabel()
            label.setPixmap(QPixmap.fromImage(qimage_of(np.hstack([gray, rgb])).copy()))
            label.setToolTip(name)
            self.samples_box.addWidget(label, col // 2, col % 2)
        self.inspected.emit(result)

    # --- models ----------------------------------------------------------------------------
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

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model to fine-tune", "", "Colorizer models (*.safetensors)"
        )
        if path:
            self.add_base_model(Path(path))

    def _base_info(self):
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
        info = self._base_info()
        multiple = info.config.multiple if info is not None else 128
        current = self.image_size.currentText()
        sizes = [s for s in (64, 128, 192, 256, 384, 512) if s % multiple == 0] or [multiple]
        self.image_size.clear()
        self.image_size.addItems([str(s) for s in sizes])
        preferred = current if current in map(str, sizes) else str(sizes[min(1, len(sizes) - 1)])
        self.image_size.setCurrentText(preferred)

    # --- runs ------------------------------------------------------------------------------
    def refresh_runs(self) -> list[RunInfo]:
        found = list_runs(self.runs_dir)
        self.runs.clear()
        for run in found:
            self.runs.addItem(run.label, str(run.path))
        resumable = [r for r in found if r.state == "resumable"]
        self.resume_button.setEnabled(bool(resumable) and not self.process.running)
        if resumable and not self.process.running:
            self.runs.setCurrentIndex(self.runs.findData(str(resumable[0].path)))
            self.status.setText(f"An interrupted run can be resumed: {resumable[0].name}")
        return found

    def arguments(self) -> list[str]:
        """The ``colorizer train`` options for the current choices (new run)."""
        color = self.color_edit.text().strip()
        gray = self.gray_edit.text().strip()
        args = ["--data", color]
        if gray:
            args += ["--source", "paired", "--gray-dir", gray]
        data = self.base_model.currentData()
        info = self._base_info()
        if data != FROM_SCRATCH and data:
            args += ["--init-from", data]
        elif info is not None:  # from scratch with the shipped architecture
            config = info.config
            args += ["--ngf", str(config.ngf), "--num-downs", str(config.num_downs)]
            args += ["--upsample", config.upsample]
        if info is not None:
            args += ["--color-space", info.color_space]
        unit = "--epochs" if self.length_unit.currentText() == "epochs" else "--steps"
        args += [unit, str(self.length.value())]
        args += ["--image-size", self.image_size.currentText()]
        args += ["--batch-size", str(self.batch_size.value())]
        args += ["--loss", self.recipe.currentData(), "--lambda-l1", str(self.lambda_l1.value())]
        args += ["--lr", f"{self.lr.value():g}", "--val-fraction", str(self.val_fraction.value())]
        args += ["--device", self.device.currentText()]
        return args

    def start(self) -> bool:
        """Start a new run in its own folder; False (with a message) when it cannot."""
        if self.process.running:
            return False
        color = self.color_edit.text().strip()
        if not color or not Path(color).is_dir():
            return self._refuse("Choose photos", f"Not a folder: {color or '(empty)'}")
        gray = self.gray_edit.text().strip()
        if gray and not Path(gray).is_dir():
            return self._refuse("Gray folder", f"Not a folder: {gray}")
        name = self.run_name.text().strip() or f"{Path(color).name} fine-tune"
        run_dir = self.runs_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{safe_name(name)}"
        args = self.arguments() + ["--run-dir", str(run_dir), "--name", name]
        args += self._logging_args()
        self._launch(run_dir, args, fresh=True)
        return True

    def resume(self, run: Path | None = None) -> bool:
        """Continue an interrupted run from its last checkpoint."""
        if self.process.running:
            return False
        run = Path(run or self.runs.currentData() or "")
        if not (run / "config.json").is_file():
            return self._refuse("Resume", "Choose an earlier run to resume.")
        if not (run / "checkpoints" / "last.pt").is_file():
            return self._refuse("Resume", f"{run.name} has no checkpoint to resume from.")
        args = ["--config", str(run / "config.json"), "--run-dir", str(run)]
        self._launch(run, args, fresh=False)
        return True

    def _logging_args(self) -> list[str]:
        # enough points for the plots and a preview every few percent, but not thousands
        steps = self.length.value()
        if self.length_unit.currentText() == "epochs":  # estimated from the data check
            items = self._inspection.items if self._inspection is not None else 0
            per_epoch = items * (1.0 - self.val_fraction.value()) / self.batch_size.value()
            steps = int(steps * per_epoch)
        log_every = max(1, min(5, steps // 100)) if steps else 5
        eval_every = max(1, steps // 10) if steps else 0  # per epoch by default
        checkpoint_every = max(1, min(200, steps // 5)) if steps else 200
        return [
            "--log-every",
            str(log_every),
            "--eval-every",
            str(eval_every),
            "--checkpoint-every",
            str(checkpoint_every),
        ]

    def _launch(self, run_dir: Path, args: list[str], *, fresh: bool) -> None:
        self.run_dir = run_dir
        self.series = {}
        self._has_checkpoint = (run_dir / "checkpoints" / "last.pt").is_file()
        for curve in self.curves.values():
            curve.setData([], [])
        if not fresh:  # show what the run did before it stopped
            for record in history(run_dir):
                self._record(record)
        self.log.clear()
        self.status.setText("Starting the training process…")
        self._started = time.monotonic()
        self._start_step = 0
        self._set_running(True)
        self.process.start(args)

    def toggle_pause(self) -> None:
        if not self.process.running:
            return
        if self._paused:
            self.process.resume()
        else:
            self.process.pause()

    def cancel(self) -> None:
        """Stop after the current step with a checkpoint (the run stays resumable)."""
        if self.process.running:
            self.status.setText("Stopping after this step and saving a checkpoint…")
            self.process.cancel()

    # --- events from the process -----------------------------------------------------------
    def _on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "start":
            self.total_steps = int(event.get("total_steps", 0))
            self._start_step = int(event.get("step", 0))
            self._started = time.monotonic()
            self.progress.setRange(0, max(1, self.total_steps))
            self.progress.setValue(self._start_step)
            self.status.setText(
                f"Training on {event.get('train_images')} photos "
                f"({event.get('val_images')} for validation) on {event.get('device')}"
            )
        elif kind == "resume":  # drop points logged after the checkpoint (they are redone)
            step = int(event.get("step", 0))
            self.series = {}
            for curve in self.curves.values():
                curve.setData([], [])
            for record in history(self.run_dir, up_to_step=step) if self.run_dir else []:
                self._record(record)
        elif kind in ("step", "eval"):
            self._record(event)
            if kind == "step":
                self._show_step(event)
            else:
                self._show_preview()
        elif kind == "checkpoint":
            self._has_checkpoint = True
            self.use_button.setEnabled(True)
        elif kind == "paused":
            self._paused = True
            self.pause_button.setText("Resume")
            self.status.setText("Paused (the process keeps its memory; Cancel frees it)")
        elif kind == "resumed":
            self._paused = False
            self.pause_button.setText("Pause")
            self.status.setText("Training…")
        elif kind == "done":
            self.progress.setValue(self.progress.maximum())
        elif kind == "error":
            self.log.appendPlainText(f"error: {event.get('message')}")

    def _record(self, record: dict) -> None:
        step = float(record.get("step", 0))
        keys = LOSS_KEYS if record.get("event") == "step" else EVAL_KEYS
        for key in keys:
            if key in record:
                xs, ys = self.series.setdefault(key, ([], []))
                xs.append(step)
                ys.append(float(record[key]))
                self._curve_for(key).setData(xs, ys)

    def _show_step(self, event: dict) -> None:
        step = int(event.get("step", 0))
        total = int(event.get("total_steps", self.total_steps) or self.total_steps)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(step)
        elapsed = time.monotonic() - self._started
        done_here = step - self._start_step
        text = f"Step {step}/{total}, {event.get('images_per_s', 0):.1f} images/s"
        if done_here > 0 and step < total:
            left = elapsed / done_here * (total - step)
            text += f", about {left / 60:.0f} min left" if left >= 60 else f", {left:.0f} s left"
        self.status.setText(text)

    def _show_preview(self) -> None:
        if self.run_dir is None:
            return
        pixmap = QPixmap(str(self.run_dir / "samples" / "latest.png"))
        if not pixmap.isNull():
            self.preview.setPixmap(
                pixmap.scaled(
                    self.preview.width(),
                    max(160, self.preview.height()),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def _on_ended(self, code: int, reason: str) -> None:
        self._set_running(False)
        self.status.setText(
            "Finished. Use This Model adds it to the model pickers." if code == 0 else reason
        )
        if code not in (0,):
            self.log.appendPlainText(reason)
        self.refresh_runs()
        self.run_ended.emit(code, reason)

    # --- use a model -----------------------------------------------------------------------
    def use_model(self, name: str | None = None) -> bool:
        """Export the run's latest checkpoint into the user models folder (on a worker)."""
        run = self.run_dir or (Path(self.runs.currentData()) if self.runs.currentData() else None)
        if run is None or not (run / "checkpoints" / "last.pt").is_file():
            return self._refuse("Use this model", "There is no checkpoint yet.")
        if name is None:
            info = describe_run(run)
            default = info.name if info is not None else run.name
            name, ok = QInputDialog.getText(self, "Use this model", "Model name:", text=default)
            if not ok or not name.strip():
                return False
        name = name.strip()
        target = user_models_dir() / f"{safe_name(name)}.safetensors"
        if target.exists():
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            target = target.with_name(f"{safe_name(name)}-{stamp}.safetensors")
        from trainer.loop import export_checkpoint

        def job(progress, emit):
            return export_checkpoint(run, target, name=name)

        def finished(path):
            self.status.setText(f"Model “{name}” added to the model pickers ({path.name}).")
            self.model_added.emit(path)

        self._export_job = workers.start(
            job,
            "export",
            self,
            finished=finished,
            failed=lambda why: self._refuse("Cannot export the model", why),
            done=lambda: setattr(self, "_export_job", None),
        )
        return True

    # --- plumbing --------------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running and self.runs.count() > 0)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.use_button.setEnabled(self._has_checkpoint)
        self._paused = False
        self.pause_button.setText("Pause")

    def _refuse(self, title: str, why: str) -> bool:
        self.status.setText(why)
        if self.isVisible():
            QMessageBox.warning(self, title, why)
        return False

    def has_unfinished_work(self) -> bool:
        return self.process.running

    def shutdown(self) -> None:
        """Stop a running training with a checkpoint (it can be resumed next time)."""
        if self.process.running:
            self.process.cancel()
            if not self.process.wait(60000):
                self.process._kill()
        for job in (self._inspect_job, self._export_job):
            if job is not None:
                job.cancel()

    def save_settings(self, store: QSettings) -> None:
        store.setValue("train/color", self.color_edit.text())
        store.setValue("train/gray", self.gray_edit.text())
        store.setValue("train/length", self.length.value())
        store.setValue("train/unit", self.length_unit.currentText())
        store.setValue("train/batch", self.batch_size.value())
        store.setValue("train/lambda", self.lambda_l1.value())
        store.setValue("train/lr", self.lr.value())
        store.setValue("train/val", self.val_fraction.value())
        store.setValue("train/recipe", self.recipe.currentIndex())

    def restore_settings(self, store: QSettings) -> None:
        self.color_edit.setText(str(store.value("train/color", "")))
        self.gray_edit.setText(str(store.value("train/gray", "")))
        self.length.setValue(int(store.value("train/length", 5)))
        unit = str(store.value("train/unit", "epochs"))
        if self.length_unit.findText(unit) >= 0:
            self.length_unit.setCurrentText(unit)
        self.batch_size.setValue(int(store.value("train/batch", 8)))
        self.lambda_l1.setValue(float(store.value("train/lambda", 100.0)))
        self.lr.setValue(float(store.value("train/lr", 0.0002)))
        self.val_fraction.setValue(float(store.value("train/val", 0.1)))
        self.recipe.setCurrentIndex(int(store.value("train/recipe", 0)))


def _row(*widgets) -> QHBoxLayout:
    box = QHBoxLayout()
    for w in widgets:
        box.addWidget(w, 1 if isinstance(w, (QLineEdit, QComboBox)) else 0)
    return box
