"""The Train tab's "Photos" box: the colour (and gray) folders and the check of what training
would see there (counts, files left out and why, sample pairs), run on a worker thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from colorizer_app.gui import workers
from colorizer_app.gui.controls import row
from colorizer_app.gui.viewer import qimage_of


class FitLabel(QLabel):
    """A picture shrunk to the label's width (never cut): the sample pairs are wider than a
    narrow column."""

    def __init__(self, pixmap: QPixmap) -> None:
        super().__init__()
        self._full = pixmap
        self.setMinimumSize(1, 1)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._fit()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return round(self._full.height() * min(1.0, width / max(1, self._full.width())))

    def sizeHint(self) -> QSize:
        return self._full.size()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = min(self._full.width(), max(1, self.width()))
        self.setPixmap(self._full.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation))


class TrainDataBox(QGroupBox):
    inspected = Signal(object)  # the Inspection of the chosen data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Photos", parent)
        self.inspection = None  # the last data check (its count sizes the logging)
        self._job: workers.Job | None = None
        self.color_edit = QLineEdit()
        self.color_edit.setPlaceholderText("folder of colour photos (the look to learn)")
        self.color_browse = QPushButton("Browse…")
        self.gray_edit = QLineEdit()
        self.gray_edit.setPlaceholderText("optional: gray versions, paired by file name")
        self.gray_browse = QPushButton("Browse…")
        self.check_button = QPushButton("Check Data")
        self.summary = QLabel("Choose a folder of colour photos.")
        self.summary.setWordWrap(True)
        self.unmatched = QListWidget()
        self.unmatched.setMaximumHeight(90)
        self.samples_box = QGridLayout()
        samples = QWidget()
        samples.setLayout(self.samples_box)
        form = QFormLayout(self)
        form.addRow("Colour folder", row(self.color_edit, self.color_browse))
        form.addRow("Gray folder", row(self.gray_edit, self.gray_browse))
        form.addRow("", self.check_button)
        form.addRow(self.summary)
        form.addRow("Left out", self.unmatched)
        form.addRow("Sample pairs", samples)

        self.color_edit.textChanged.connect(self._on_folders_edited)
        self.gray_edit.textChanged.connect(self._on_folders_edited)
        self.color_browse.clicked.connect(lambda: self._on_browse(self.color_edit))
        self.gray_browse.clicked.connect(lambda: self._on_browse(self.gray_edit))
        self.check_button.clicked.connect(self.check)

    @property
    def checking(self) -> bool:
        """A data check is running."""
        return self._job is not None

    def folders(self) -> tuple[str, str]:
        """The colour folder and the (optional) gray folder, as typed."""
        return self.color_edit.text().strip(), self.gray_edit.text().strip()

    def _on_folders_edited(self, *_) -> None:
        """Another folder: the last check no longer describes it."""
        self.inspection = None
        self.summary.setText(
            "Check Data counts the photos, lists what would be left out and shows sample pairs."
            if self.folders()[0]
            else "Choose a folder of colour photos."
        )

    def _on_browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)
            self.check()

    def check(self) -> None:
        """Count pairs, list what is left out and why, show sample pairs (on a worker)."""
        color, gray = self.folders()
        if not color:
            self.summary.setText("Choose a folder of colour photos.")
            return
        from trainer.data import inspect_data

        self.summary.setText("Checking…")
        self.check_button.setEnabled(False)

        def job(progress, emit):
            return inspect_data(color, gray, samples=4, size=96)

        def done():
            self._job = None
            self.check_button.setEnabled(True)

        self._job = workers.start(
            job,
            "inspect",
            self,
            finished=self._on_inspected,
            failed=lambda err: self.summary.setText(
                f"Cannot use this data: {workers.describe(err)}"
            ),
            done=done,
        )

    def _on_inspected(self, result) -> None:
        if result.kind == "paired":
            text = f"{result.items} colour/gray pairs"
        else:
            text = f"{result.items} colour photos (the gray input is made from each)"
        if result.skipped:
            text += f"; {len(result.skipped)} file(s) left out (listed below)"
        if result.items < 2:
            text += ". One photo trains and validates on itself: add more for a real test."
        self.summary.setText(text)
        self.inspection = result
        self.unmatched.clear()
        for name, why in result.skipped[:500]:
            self.unmatched.addItem(f"{Path(name).name}: {why}")
        while self.samples_box.count():
            item = self.samples_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for col, (name, gray, rgb) in enumerate(result.samples):
            label = FitLabel(QPixmap.fromImage(qimage_of(np.hstack([gray, rgb])).copy()))
            label.setToolTip(f"{name}: gray | colour")
            self.samples_box.addWidget(label, col // 2, col % 2)
        self.inspected.emit(result)

    def shutdown(self) -> None:
        if self._job is not None:
            self._job.cancel()
