"""The view modes as checkable actions: a small bar above the photo and the View menu share
them, so the mode shown is always the one checked (in both)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar

from colorizer_app.gui.viewer import Mode, PhotoViewer

LABELS = {  # bar text, menu text, tooltip
    Mode.ORIGINAL: ("Original", "&Original", "The photo as opened"),
    Mode.LUMINANCE: ("L", "&L Channel (what the model sees)", "The lightness the model sees"),
    Mode.COLORIZED: ("Colorized", "&Colorized", "The colorized result"),
    Mode.SPLIT: ("Before / After", "&Before / After", "Drag the line to compare"),
}


class ModeActions(QObject):
    """One exclusive, checkable action per :class:`Mode` (shortcuts 1, 2, …), following the
    viewer: checked = shown, disabled = nothing to show yet."""

    def __init__(self, viewer: PhotoViewer, parent: QObject) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[Mode, QAction] = {}
        for number, mode in enumerate(Mode, start=1):
            short, text, tip = LABELS.get(
                mode, (mode.name.title(), "&" + mode.name.title(), mode.name.title())
            )
            action = QAction(text, self)
            action.setIconText(short)
            action.setToolTip(f"{tip} ({number})")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(str(number)))
            action.triggered.connect(lambda checked=False, m=mode: viewer.set_mode(m))
            self.group.addAction(action)
            self.actions[mode] = action
        viewer.mode_changed.connect(self._sync)
        viewer.layers_changed.connect(self._sync)
        self._sync()

    def _sync(self, *_) -> None:
        for mode, action in self.actions.items():
            action.setChecked(mode == self.viewer.mode)
            action.setEnabled(self.viewer.can_show(mode) or mode == self.viewer.mode)

    def toolbar(self) -> QToolBar:
        bar = QToolBar("View mode")
        bar.setObjectName("modeBar")
        for action in self.actions.values():
            bar.addAction(action)
        return bar
