"""The main window: menus, tabs, drag and drop, recent files, persistent settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget

from colorizer_app import __version__
from colorizer_app.engine.imageio import INPUT_EXTENSIONS
from colorizer_app.gui.about import AboutDialog, GuideDialog
from colorizer_app.gui.ask import ask
from colorizer_app.gui.batch_tab import BatchTab
from colorizer_app.gui.train_tab import TrainTab
from colorizer_app.gui.workspace import ColorizeWorkspace
from colorizer_app.gui.workspace_parts import pictures_folder
from colorizer_app.paths import sample_photo

MAX_RECENT = 8


def _is_sample(path: str | Path) -> bool:
    try:
        return Path(path).resolve() == sample_photo().resolve()
    except OSError:
        return False


IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(INPUT_EXTENSIONS)) + ")"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.store = settings or QSettings("Colorizer", "Colorizer")
        self.setWindowTitle("Colorizer")
        self.setAcceptDrops(True)
        self.workspace = ColorizeWorkspace()
        self.tabs = QTabWidget()
        self.batch = BatchTab()
        self.tabs.addTab(self.workspace, "Colorize")
        self.tabs.addTab(self.batch, "Batch")
        self.train = TrainTab()
        self.tabs.addTab(self.train, "Train")
        self.train.model_added.connect(self._on_model_added)
        self.setCentralWidget(self.tabs)
        self._build_menus()
        self.workspace.photo_opened.connect(self._on_photo_opened)
        self.workspace.restore_settings(self.store)
        self.batch.restore_settings(self.store)
        self.train.restore_settings(self.store)
        geometry = self.store.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self.statusBar().showMessage(f"Colorizer {__version__}")

    # --- menus -----------------------------------------------------------------------------
    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._action(
            file_menu,
            "&Save As…",
            lambda: self.workspace.save_as(),
            QKeySequence.StandardKey.SaveAs,
        )
        self._action(
            file_menu,
            "&Copy Colorized Image",
            self.workspace.copy_to_clipboard,
            QKeySequence.StandardKey.Copy,
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        run_menu = self.menuBar().addMenu("&Colorize")
        self._action(run_menu, "&Colorize", self.workspace.colorize, "Ctrl+R")
        self._action(run_menu, "C&ancel", self.workspace.cancel, "Esc")
        self.workspace.hint_editor.fill_menu(self.menuBar().addMenu("&Hints"))

        view = self.menuBar().addMenu("&View")
        for action in self.workspace.modes.actions.values():  # the mode bar's own actions
            view.addAction(action)
            self.addAction(action)
        view.addSeparator()
        self._action(view, "&Fit to Window", self.workspace.viewer.fit, "F")
        self._action(view, "&Actual Size (100%)", self.workspace.viewer.actual_size, "Ctrl+1")
        self._action(
            view,
            "Zoom &In",
            lambda: self.workspace.viewer.zoom_by(1.25),
            QKeySequence.StandardKey.ZoomIn,
        )
        self._action(
            view,
            "Zoom &Out",
            lambda: self.workspace.viewer.zoom_by(0.8),
            QKeySequence.StandardKey.ZoomOut,
        )
        help_menu = self.menuBar().addMenu("&Help")
        self._action(
            help_menu, "&User Guide", self.show_guide, QKeySequence.StandardKey.HelpContents
        )
        self._action(help_menu, "&About Colorizer", self.show_about)
        self._refresh_recent()

    def show_guide(self) -> GuideDialog:
        dialog = GuideDialog(self)
        dialog.show()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.workspace.controls.model_path(), self)
        dialog.show()
        return dialog

    # --- open ------------------------------------------------------------------------------
    def open_folder(self) -> str:
        """Where Open starts: the folder of the last photo the user opened, else Pictures
        (never the install folder's sample)."""
        last = str(self.store.value("last_folder", "") or "")
        return last if last and Path(last).is_dir() else str(pictures_folder())

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a photo", self.open_folder(), f"{IMAGE_FILTER};;All files (*)"
        )
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        if Path(path).is_dir():
            self.offer_batch(Path(path))
            return
        self.workspace.open_path(path)

    def offer_batch(self, folder: Path, *, confirm: bool = True) -> bool:
        """A folder dropped or opened: offer to colorize it all in the Batch tab."""
        question = f"{folder.name} is a folder. Colorize all its photos in the Batch tab?"
        if confirm and not ask(self, "Colorize a whole folder?", question):
            return False
        self.batch.input_edit.setText(str(folder))
        self.batch.input_edit.editingFinished.emit()  # the output follows, the list fills
        self.tabs.setCurrentWidget(self.batch)
        return True

    def _on_photo_opened(self, path: str) -> None:
        self.setWindowTitle(f"{Path(path).name} – Colorizer")
        if _is_sample(path):  # the bundled sample is no photo of the user's
            return
        self.store.setValue("last_folder", str(Path(path).parent))
        recent = [p for p in self._recent() if p != path]
        self.store.setValue("recent", [path, *recent][:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.store.value("recent") or []
        listed = [value] if isinstance(value, str) else list(value)
        return [p for p in listed if not _is_sample(p)]

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self._recent()))

    # --- drag and drop ---------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.open_path(files[0])
            event.acceptProposedAction()

    def _on_model_added(self, path: Path) -> None:
        """A model made in the Train tab: offer it everywhere, select it for colorizing."""
        self.workspace.controls.refresh_models(select=path)
        self.batch.controls.refresh_models()
        self.train.refresh_models()
        self.statusBar().showMessage(f"New model: {path.name}", 10000)

    def _tabs(self) -> list:
        # the workspace last: its shutdown waits for every worker thread, once all are cancelled
        return [self.train, self.batch, self.workspace]

    # --- close -----------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802
        if any(tab.has_unfinished_work() for tab in self._tabs()):
            answer = QMessageBox.question(
                self,
                "Quit Colorizer?",
                "Work is still running. Stop it and quit?\n\nA training run stops with a "
                "checkpoint and can be resumed from the Train tab; finished photos are kept.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        for tab in self._tabs():
            tab.shutdown()
        self.store.setValue("window/geometry", self.saveGeometry())
        for tab in self._tabs():
            tab.save_settings(self.store)
        self.store.sync()
        event.accept()
