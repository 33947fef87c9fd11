"""The Batch tab's file list: one row per photo (file, status, details, seconds)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from colorizer_app.engine.batch import BatchItem, FileResult

COLUMNS = ("File", "Status", "Details", "Seconds")
STATUS_COLOURS = {
    "done": "#2e7d32",
    "skipped": "#757575",
    "conflict": "#e65100",
    "failed": "#c62828",
}


class BatchTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self._rows: dict[Path, int] = {}
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 320)

    def fill(self, items: list[BatchItem], root: Path) -> None:
        """One queued row per item, named relative to ``root`` where it lies below it."""
        self._rows = {}
        self.setRowCount(len(items))
        for i, item in enumerate(items):
            try:
                name = str(item.source.relative_to(root))
            except ValueError:
                name = str(item.source)
            details = item.problem or (str(item.output) if item.output else "")
            if item.hint_note and not item.problem:
                details = f"{item.hint_note}; {details}"
            cells = (name, "queued", details, "")
            for col, text in enumerate(cells):
                self.setItem(i, col, QTableWidgetItem(text))
            self._rows[item.source] = i

    def show_result(self, result: FileResult) -> None:
        row = self._rows.get(result.source)
        if row is None:
            return
        details = result.reason or "; ".join(result.notes) or str(result.output or "")
        if result.hints:
            details = f"{result.hints} colour hint(s); {details}"
        for col, text in ((1, result.status), (2, details), (3, f"{result.seconds:.1f}")):
            cell = QTableWidgetItem(text)
            if col == 1:
                cell.setForeground(QColor(STATUS_COLOURS.get(result.status, "#000000")))
            self.setItem(row, col, cell)
        self.scrollToItem(self.item(row, 0))

    def status_of(self, row: int) -> str:
        return self.item(row, 1).text()
