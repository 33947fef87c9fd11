"""The Train tab: fine-tune a model on the user's own colour (and gray) photos.

The tab is three boxes and a view: the photos and their check (:mod:`train_data`), the
settings that become the run's :class:`TrainConfig` (:mod:`train_form`), the run controls,
and the live plots (:mod:`train_plots`), log and sample preview. A new run's TrainConfig is
written into its folder as ``run.json`` and run as ``colorizer train --config run.json
--json-progress`` in a child process (:mod:`train_process`). "Use This Model" exports the
latest checkpoint into the user models folder, where the Colorize and Batch tabs' model
pickers find it.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.gui import workers
from colorizer_app.gui.ask import ask
from colorizer_app.gui.controls import row
from colorizer_app.gui.model_store import user_models_dir
from colorizer_app.gui.train_data import TrainDataBox
from colorizer_app.gui.train_form import TrainSettingsBox
from colorizer_app.gui.train_plots import TrainPlots
from colorizer_app.gui.train_process import TrainProcess
from colorizer_app.gui.train_settings import new_run_dir, runs_root, safe_name, write_run_file
from trainer.cli import comparison_line, describe_event
from trainer.runs import RunInfo, describe_run, history, last_comparison, list_runs


class TrainTab(QWidget):
    model_added = Signal(object)  # Path of a model file put into the user models folder
    run_ended = Signal(int, str)  # exit code, reason (tests, status bar)
    inspected = Signal(object)  # the Inspection of the chosen data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_root()
        self.run_dir: Path | None = None
        self.total_steps = 0
        self._started = 0.0
        self._compared: dict | None = None  # the running/last run's comparison with its base
        self._held = 0.0  # seconds paused since the process started
        self._paused_at = 0.0
        self._start_step = 0
        self._paused = False
        self._has_checkpoint = False
        self._export_job: workers.Job | None = None
        self.process = TrainProcess(self)
        self.data = TrainDataBox()
        self.settings = TrainSettingsBox()
        self.plots = TrainPlots()
        # the boxes' widgets under the tab's own names (the window, the tests, the guide)
        for name in ("color_edit", "gray_edit", "check_button", "unmatched", "samples_box"):
            setattr(self, name, getattr(self.data, name))
        self.data_summary = self.data.summary
        for name in (
            "base_model", "length", "length_unit", "image_size", "batch_size", "recipe",
            "lambda_l1", "lr", "val_fraction", "device", "run_name",
        ):  # fmt: skip
            setattr(self, name, getattr(self.settings, name))

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
            row(self.start_button, self.pause_button, self.cancel_button, self.use_button)
        )
        run_layout.addLayout(row(QLabel("Earlier runs"), self.runs, self.resume_button))
        run_layout.addWidget(self.progress)
        run_layout.addWidget(self.status)
        # the finished fine-tune next to its base on the held-out photos (worse: a warning)
        self.comparison = QLabel("")
        self.comparison.setWordWrap(True)
        run_layout.addWidget(self.comparison)

        # --- plots, preview, log
        self.preview = QLabel("The preview (gray | current output | truth) appears here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(160)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        views = QTabWidget()
        titles = ("Losses", "PSNR", "Colourfulness")
        for plot, title in zip(self.plots.widgets(), titles, strict=True):
            views.addTab(plot, title)
        views.addTab(self.log, "Log")

        left = QVBoxLayout()
        left.addWidget(self.data)
        left.addWidget(self.settings)
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

        self.data.inspected.connect(self.inspected)
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(lambda: self.use_model())
        self.resume_button.clicked.connect(lambda: self.resume())
        self.runs.currentIndexChanged.connect(self._on_run_selected)
        self.process.event.connect(self._on_event)
        self.process.log_line.connect(self.log.appendPlainText)
        self.process.ended.connect(self._on_ended)
        self.refresh_runs()
        self._set_running(False)

    @property
    def series(self) -> dict[str, tuple[list[float], list[float]]]:
        """Plotted points per series (``g_l1``, ``psnr``, ...): steps and values."""
        return self.plots.series

    @property
    def curves(self) -> dict:
        return self.plots.curves

    def check_data(self) -> None:
        """Count pairs, list what is left out and why, show sample pairs (on a worker)."""
        self.data.check()

    def refresh_models(self, select: Path | None = None) -> None:
        self.settings.refresh_models(select)

    def add_base_model(self, path: Path) -> None:
        self.settings.add_base_model(path)

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

    def _on_run_selected(self) -> None:
        """An earlier run chosen while nothing trains: its model can be taken (a finished
        run too, after a restart), as long as it has a checkpoint."""
        if self.process.running:
            return
        chosen = self.runs.currentData()
        has = bool(chosen) and (Path(chosen) / "checkpoints" / "last.pt").is_file()
        self.use_button.setEnabled(has or self._has_checkpoint)
        if chosen:  # how that run measured against its base, if it was a fine-tune
            self._show_comparison(last_comparison(chosen))

    def start(self) -> bool:
        """Start a new run in its own folder; False (with a message) when it cannot."""
        if self.process.running:
            return False
        color, gray = self.data.folders()
        if not color or not Path(color).is_dir():
            return self._refuse("Choose photos", f"Not a folder: {color or '(empty)'}")
        if gray and not Path(gray).is_dir():
            return self._refuse("Gray folder", f"Not a folder: {gray}")
        name = self.run_name.text().strip() or f"{Path(color).name} fine-tune"
        run_dir = new_run_dir(self.runs_dir, name)
        try:
            run_file = write_run_file(self.config(run_dir, name))
        except ValueError as err:
            return self._refuse("Settings", str(err))
        except OSError as err:
            return self._refuse("Run folder", f"{run_dir}: {err.strerror or err}")
        self._launch(run_dir, ["--config", str(run_file)], fresh=True)
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

    def config(self, run_dir: Path, name: str):
        """The :class:`TrainConfig` of a new run in ``run_dir`` with the current choices."""
        items = self.data.inspection.items if self.data.inspection is not None else 0
        color, gray = self.data.folders()
        return self.settings.config(color, gray, run_dir=run_dir, name=name, items=items)

    def _launch(self, run_dir: Path, args: list[str], *, fresh: bool) -> None:
        self.run_dir = run_dir
        self._has_checkpoint = (run_dir / "checkpoints" / "last.pt").is_file()
        self.plots.clear()
        if not fresh:  # show what the run did before it stopped
            for record in history(run_dir):
                self.plots.add(record)
        self.log.clear()
        self.status.setText("Starting the training process…")
        self._show_comparison(None if fresh else last_comparison(run_dir))
        self.preview.clear()  # never the previous run's samples under this run
        self.preview.setText(
            "The preview (gray | current output | truth) appears at the first validation."
            if fresh or not (run_dir / "samples" / "latest.png").is_file()
            else ""
        )
        if not fresh:
            self._show_preview()  # a resumed run: its own latest samples
        self._started = time.monotonic()
        self._held = 0.0
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
        every = max(1, self.total_steps // 20)  # about 20 step lines a run; all other events
        if kind != "step" or int(event.get("step", 0)) % every == 0:
            self.log.appendPlainText(describe_event(event))
        if kind == "start":
            self.total_steps = int(event.get("total_steps", 0))
            self._start_step = int(event.get("step", 0))
            self._started = time.monotonic()
            self._held = 0.0
            self.progress.setRange(0, max(1, self.total_steps))
            self.progress.setValue(self._start_step)
            self.status.setText(
                f"Training on {event.get('train_images')} photos "
                f"({event.get('val_images')} for validation) on {event.get('device')}"
            )
        elif kind == "resume":  # drop points logged after the checkpoint (they are redone)
            step = int(event.get("step", 0))
            self.plots.clear()
            for record in history(self.run_dir, up_to_step=step) if self.run_dir else []:
                self.plots.add(record)
        elif kind in ("step", "eval"):
            self.plots.add(event)
            if kind == "step":
                self._show_step(event)
            else:
                self._show_preview()
        elif kind == "checkpoint":
            self._has_checkpoint = True
            self.use_button.setEnabled(True)
        elif kind == "paused":
            self._paused = True
            self._paused_at = time.monotonic()
            self.pause_button.setText("Resume")
            self.status.setText("Paused (the process keeps its memory; Cancel frees it)")
        elif kind == "resumed":
            if self._paused:  # paused time is not training time: keep it out of the estimate
                self._held += time.monotonic() - self._paused_at
            self._paused = False
            self.pause_button.setText("Pause")
            self.status.setText("Training…")
        elif kind == "done":
            self.progress.setValue(self.progress.maximum())
        elif kind == "compare":
            self._show_comparison(event)

    def _show_comparison(self, event: dict | None) -> None:
        self._compared = event
        self.comparison.setText(comparison_line(event) if event else "")
        worse = bool(event and event.get("worse"))
        self.comparison.setStyleSheet("color: #c62828; font-weight: bold;" if worse else "")

    def _show_step(self, event: dict) -> None:
        step = int(event.get("step", 0))
        total = int(event.get("total_steps", self.total_steps) or self.total_steps)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(step)
        elapsed = time.monotonic() - self._started - self._held
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
        compared = self._compared if run == self.run_dir else last_comparison(run)
        question = f"{comparison_line(compared or {})}.\n\nUse it anyway?" if compared else ""
        if compared and compared.get("worse") and not ask(self, "Use a worse model?", question):
            return False
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
            failed=lambda err: self._refuse("Cannot export the model", workers.describe(err)),
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
        self.data.shutdown()
        if self._export_job is not None:
            self._export_job.cancel()

    def save_settings(self, store: QSettings) -> None:
        store.setValue("train/color", self.color_edit.text())
        store.setValue("train/gray", self.gray_edit.text())
        self.settings.save(store)

    def restore_settings(self, store: QSettings) -> None:
        self.color_edit.setText(str(store.value("train/color", "")))
        self.gray_edit.setText(str(store.value("train/gray", "")))
        self.settings.restore(store)
