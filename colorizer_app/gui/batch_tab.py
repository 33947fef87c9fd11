"""The Batch tab: colorize a whole folder with the engine's batch runner (the CLI's runner).

The tab only gathers choices and shows results (:mod:`batch_table`); ``collect_inputs``,
``plan`` and ``run_batch`` do the work on a worker thread (:mod:`batch_job`), so skipping
existing outputs, refusing to replace originals, atomic writes and "one bad file never stops
the batch" are the same as on the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from colorizer_app.engine.batch import BatchItem, FileResult, note_hints, plan
from colorizer_app.engine.imageio import INPUT_EXTENSIONS, OUTPUT_FORMATS
from colorizer_app.engine.listing import REPORT_PREFIX, NotTaken, collect_inputs, not_taken_text
from colorizer_app.gui import workers
from colorizer_app.gui.batch_job import (
    UNITS,
    batch_job,
    is_inside,
    progress_text,
    summary_text,
)
from colorizer_app.gui.batch_table import BatchTable
from colorizer_app.gui.controls import ControlsPanel, row, side_panel
from models.errors import ColorizerError
from models.progress import Progress

IN_PLACE_SUFFIX = "_colorized"  # output names when the output folder is the input folder


class BatchTab(QWidget):
    finished = Signal(object)  # the BatchSummary (also after a cancel)
    failed = Signal(str)
    scanned = Signal()  # the latest scan ended: the list is filled, or the summary says why not

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._job: workers.Job | None = None
        self._scan_job: workers.Job | None = None
        self._items: list[BatchItem] = []
        self._results: list[FileResult] = []
        self._paused_since = 0.0
        self._paused_total = 0.0
        self._started = 0.0
        self.report_path: Path | None = None
        # The output folder follows the input folder (``<input>_colorized``) until the user
        # sets it: a stale output folder of another input would mix two folders' photos.
        self._output_follows_input = True

        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("folder of black-and-white scans")
        self.input_browse = QPushButton("Browse…")
        self.recursive = QCheckBox("Include subfolders")
        self.types = QLineEdit(" ".join(sorted(e.lstrip(".") for e in INPUT_EXTENSIONS)))
        self.types.setToolTip("file extensions to take, separated by spaces")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("where the colorized copies go")
        self.output_browse = QPushButton("Browse…")
        self.format = QComboBox()
        self.format.addItems(OUTPUT_FORMATS)
        self.overwrite = QCheckBox("Replace existing outputs (otherwise they are skipped)")
        self.use_hints = QCheckBox("Use colour hint files beside the photos (*.hints.json)")
        self.use_hints.setChecked(True)
        self.use_hints.setToolTip(
            "A photo's hints from the Colorize tab are saved beside it as <photo>.hints.json; "
            "off: every photo is colorized without hints"
        )
        self.controls = ControlsPanel(settings_group="batch")

        self.table = BatchTable()

        self.scan_button = QPushButton("Scan")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton("Open Output Folder")
        self.progress = QProgressBar()
        self.eta = QLabel("")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._set_running(False)

        form = QFormLayout()
        form.addRow("Input folder", row(self.input_edit, self.input_browse))
        form.addRow("", self.recursive)
        form.addRow("File types", self.types)
        form.addRow("Output folder", row(self.output_edit, self.output_browse))
        form.addRow("Output format", self.format)
        form.addRow("", self.overwrite)
        form.addRow("", self.use_hints)
        buttons = row(self.scan_button, self.start_button, self.pause_button, self.cancel_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.table, 1)
        left.addWidget(self.progress)
        left.addWidget(self.eta)
        left.addWidget(self.summary)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(side_panel(self.controls))

        self.input_browse.clicked.connect(self._browse_input)
        self.output_browse.clicked.connect(self._browse_output)
        self.input_edit.editingFinished.connect(self._on_input_changed)
        self.output_edit.textEdited.connect(self._on_output_typed)
        self.output_edit.editingFinished.connect(self._rescan)
        self.format.currentTextChanged.connect(self._rescan)
        self.recursive.toggled.connect(self._rescan)
        self.use_hints.toggled.connect(self._rescan)
        self.types.editingFinished.connect(self._rescan)
        self.scan_button.clicked.connect(self.scan)
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_output)

    # --- choices ---------------------------------------------------------------------------
    def _browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos", self.input_edit.text())
        if folder:
            self.input_edit.setText(folder)
            self._on_input_changed()

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Output folder", self.output_edit.text() or self.input_edit.text()
        )
        if folder:
            self.set_output(folder)

    def set_output(self, folder: str) -> None:
        """The user's choice of output folder: it no longer follows the input."""
        self.output_edit.setText(folder)
        self._on_output_typed(folder)
        self._rescan()

    def _on_output_typed(self, text: str) -> None:
        self._output_follows_input = not text.strip()  # cleared: follow the input again

    def _on_input_changed(self) -> None:
        text = self.input_edit.text().strip()
        if text and (self._output_follows_input or not self.output_edit.text().strip()):
            source = Path(text)
            self.output_edit.setText(str(source.with_name(source.name + IN_PLACE_SUFFIX)))
            self._output_follows_input = True
        if text:
            self.scan()

    def _rescan(self, *_) -> None:
        """The choices changed: list again, so the list never shows stale output names."""
        if self._job is None and Path(self.input_edit.text().strip() or "\0").is_dir():
            self.scan()

    def extensions(self) -> list[str]:
        words = self.types.text().replace(",", " ").split()
        return ["." + w.lower().lstrip(".") for w in words] or sorted(INPUT_EXTENSIONS)

    def _suffix(self, source: Path, out: Path) -> str:
        return IN_PLACE_SUFFIX if source.resolve() == out.resolve() else ""

    def _lister(self) -> Callable[[Progress], tuple[list[BatchItem], list[NotTaken]]]:
        """The current choices as a function that lists the batch and the files it leaves
        out, for a worker thread (a big tree on a slow network drive takes a while; the
        window must not freeze)."""
        source = Path(self.input_edit.text().strip())
        out = Path(self.output_edit.text().strip() or source.with_name(source.name + "_colorized"))
        suffix = self._suffix(source, out)
        recursive, extensions = self.recursive.isChecked(), self.extensions()
        fmt, sidecars = self.format.currentText(), self.use_hints.isChecked()

        def listing(progress: Progress) -> tuple[list[BatchItem], list[NotTaken]]:
            not_taken: list[NotTaken] = []
            try:
                found = collect_inputs(
                    [source],
                    recursive=recursive,
                    extensions=extensions,
                    outdir=out,
                    suffix=suffix,
                    progress=progress,
                    not_taken=not_taken,
                )
            except OSError as err:
                raise ColorizerError(f"cannot list {source}: {err.strerror or err}") from err
            items = plan(found, out, fmt, suffix, sidecars=sidecars)
            note_hints(items, progress)  # "3 hints" in the list before the run
            return items, not_taken

        return listing

    # --- the file list ---------------------------------------------------------------------
    def scan(self) -> None:
        """List what a batch would do, without running it (on a worker; a newer scan or a
        start replaces one still walking the folder)."""
        source = Path(self.input_edit.text().strip())
        if not source.is_dir():
            self.summary.setText(f"Not a folder: {source}")
            return
        self._stop_scan()
        listing = self._lister()
        self.summary.setText("Scanning…")
        self.scan_button.setEnabled(False)

        def listed(listed: tuple[list[BatchItem], list[NotTaken]]) -> None:
            items, not_taken = listed
            self._fill(items)
            left_out = f"; {not_taken_text(not_taken)}" if not_taken else ""
            self.summary.setText(f"{len(items)} photo(s) found{left_out}")
            self.scanned.emit()

        def unlisted(err: BaseException) -> None:
            self.summary.setText(f"Cannot list the folder: {workers.describe(err)}")
            self.scanned.emit()

        def ended() -> None:  # before listed/unlisted; a replaced scan reports nothing more
            if self._scan_job is handle:
                self._scan_job = None
                self.scan_button.setEnabled(self._job is None)

        handle = workers.start(
            lambda progress, emit: listing(progress),
            "scan",
            self,
            progress=lambda done, total, message: self.summary.setText(f"Scanning… {done} found"),
            finished=listed,
            failed=unlisted,
            done=ended,
        )
        self._scan_job = handle

    def _stop_scan(self) -> None:
        if self._scan_job is not None:
            self._scan_job.cancel()
            self._scan_job = None
            self.scan_button.setEnabled(self._job is None)

    @property
    def scanning(self) -> bool:
        return self._scan_job is not None

    def _fill(self, items: list[BatchItem]) -> None:
        self._items = items
        self.table.fill(items, Path(self.input_edit.text().strip()))

    def _on_item(self, item) -> None:
        """The batch job reports the listed files first, then one result per file."""
        if isinstance(item, FileResult):
            self._results.append(item)
            self.table.show_result(item)
            return
        self._fill(item)
        self.progress.setRange(0, len(item) * UNITS)
        self.progress.setValue(0)
        self.summary.setText("Running…")

    def status_of(self, row: int) -> str:
        return self.table.status_of(row)

    # --- running ---------------------------------------------------------------------------
    def start(self, *, confirm: bool = True) -> bool:
        """Start the batch; returns False when it cannot (and says why)."""
        if self._job is not None:
            return False
        in_text, out_text = self.input_edit.text().strip(), self.output_edit.text().strip()
        if not in_text:  # Path("") is the current folder: never take it for a choice
            return self._refuse("Choose an input folder", "Choose the folder of photos first.")
        source = Path(in_text)
        if not source.is_dir():
            return self._refuse("Choose an input folder", f"Not a folder: {source}")
        if not out_text:
            return self._refuse("Choose an output folder", "The output folder is empty.")
        out = Path(out_text)
        if confirm and is_inside(out, source):
            where = (
                f"into the input folder itself, as name{IN_PLACE_SUFFIX}.ext"
                if self._suffix(source, out)
                else "into a folder inside the input folder"
            )
            answer = QMessageBox.question(
                self,
                "Write into the input folder?",
                f"The colorized copies will be written {where}. Originals are never "
                "replaced. Continue?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        model_path = self.controls.model_path()
        if model_path is None:
            return self._refuse("No model", "No model is available: choose a model file.")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            return self._refuse("Cannot create the output folder", f"{out}: {err.strerror}")
        self._stop_scan()
        listing = self._lister()
        settings = self.controls.settings()
        overwrite = self.overwrite.isChecked()
        report = out / f"{REPORT_PREFIX}{datetime.now():%Y%m%d-%H%M%S}.csv"

        job = batch_job(listing, source, model_path, settings, overwrite=overwrite, report=report)

        self._results = []
        self.report_path = report
        self._started = time.monotonic()
        self._paused_total = 0.0
        self.progress.setRange(0, 0)  # busy until the folder is listed
        self.summary.setText("Listing the folder…")
        self._set_running(True)
        self._job = workers.start(
            job,
            "batch",
            self,
            preview=self._on_item,
            progress=self._on_progress,
            finished=self._on_finished,
            failed=lambda err: self._on_stopped(workers.describe(err)),
            cancelled=lambda: self._on_stopped("cancelled"),
            done=self._on_done,
        )
        return True

    def toggle_pause(self) -> None:
        if self._job is None:
            return
        if self._job.paused:
            self._job.resume()
            self._paused_total += time.monotonic() - self._paused_since
            self.pause_button.setText("Pause")
            self.summary.setText("Running…")
        else:
            self._job.pause()
            self._paused_since = time.monotonic()
            self.pause_button.setText("Resume")
            self.summary.setText("Paused (after the current tile)")

    @property
    def is_paused(self) -> bool:
        return self._job is not None and self._job.paused

    def cancel(self) -> None:
        """Stop after the current tile; the file in flight leaves nothing behind."""
        if self._job is not None:
            self._job.stop()
            self.summary.setText("Cancelling…")

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if message == "scanning":
            self.summary.setText(f"Listing the folder… {done} found")
            return
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        self.eta.setText(progress_text(self._results, len(self._items), done, self.is_paused))

    def _on_finished(self, result) -> None:
        summary, device, report_problem = result
        self.controls.device_used.setText(device)
        elapsed = time.monotonic() - self._started - self._paused_total
        self.summary.setText(summary_text(summary, elapsed, self.report_path, report_problem))
        self.progress.setValue(self.progress.maximum() if not summary.cancelled else 0)
        self.finished.emit(summary)

    def _on_stopped(self, why: str) -> None:
        self.summary.setText(f"Batch stopped: {why}")
        self.failed.emit(why)

    def _on_done(self) -> None:
        self._job = None
        self._set_running(False)
        self.eta.setText(f"{len(self._results)}/{len(self._items)} files")  # no time left now

    def _set_running(self, running: bool) -> None:
        for w in (self.start_button, self.scan_button, self.input_edit, self.output_edit):
            w.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.pause_button.setText("Pause")

    def open_output(self) -> bool:
        """Show the output folder in the file manager; where none can be started, or the
        folder does not exist yet, say where it is instead."""
        out = self.output_edit.text().strip()
        if not out:
            self.summary.setText("Choose an output folder first.")
            return False
        if not Path(out).is_dir():
            self.summary.setText(f"The output folder does not exist yet: {out}")
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(out)):
            self.summary.setText(f"No file manager could be started; the outputs are in {out}")
            return False
        return True

    def _refuse(self, title: str, why: str) -> bool:
        self.summary.setText(why)
        if self.isVisible():
            QMessageBox.warning(self, title, why)
        return False

    # --- window plumbing -------------------------------------------------------------------
    def has_unfinished_work(self) -> bool:
        return self._job is not None

    def shutdown(self) -> None:
        self._stop_scan()
        if self._job is not None:
            self._job.cancel()

    def save_settings(self, store: QSettings) -> None:
        store.setValue("batch/input", self.input_edit.text())
        store.setValue("batch/output", self.output_edit.text())
        store.setValue("batch/output_follows_input", self._output_follows_input)
        store.setValue("batch/recursive", self.recursive.isChecked())
        store.setValue("batch/types", self.types.text())
        store.setValue("batch/format", self.format.currentText())
        store.setValue("batch/use_hints", self.use_hints.isChecked())
        self.controls.save(store)

    def restore_settings(self, store: QSettings) -> None:
        self.input_edit.setText(str(store.value("batch/input", "")))
        self.output_edit.setText(str(store.value("batch/output", "")))
        self._output_follows_input = bool(
            store.value("batch/output_follows_input", True, type=bool)
        )
        self.recursive.setChecked(bool(store.value("batch/recursive", False, type=bool)))
        self.use_hints.setChecked(bool(store.value("batch/use_hints", True, type=bool)))
        types = store.value("batch/types")
        if types:
            self.types.setText(str(types))
        fmt = str(store.value("batch/format", "same"))
        if self.format.findText(fmt) >= 0:
            self.format.setCurrentText(fmt)
        self.controls.restore(store)
