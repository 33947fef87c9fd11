"""The Hints tool of the Colorize tab: markers over the viewer, mouse and keys, undo, panel.

With the tool on: a click adds a hint (the colour popup opens at the point; choosing a colour
places it), dragging a marker moves it, a click on a marker recolours it, right-click or
Delete removes the marker under the cursor, the wheel over a marker sets its patch size (1-9
render pixels). Hovering shows a marker's colour. Markers keep their screen size at any zoom
and are painted over every view mode. Every edit is an undo command; the editor only emits
``changed`` (re-run the network) and ``edited`` (save): the workspace does the work.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPen, QUndoStack
from PySide6.QtWidgets import QGroupBox, QLabel, QToolButton, QToolTip, QVBoxLayout, QWidget

from colorizer_app.engine import hint_edit
from colorizer_app.engine.hint_edit import HintList
from colorizer_app.engine.hints import Hint
from colorizer_app.gui.color_popup import RGB, ColorPopup, ReferencePicker, hex_of, rgb_of
from colorizer_app.gui.controls import row
from colorizer_app.gui.hint_undo import RESIZE_ID, AddHint, ChangeHint, ClearHints, RemoveHint
from colorizer_app.gui.viewer import Mode, PhotoViewer

MARKER_PX = 7  # marker radius on screen, whatever the zoom
GRAB_PX = 10  # how near the cursor must be to a marker to take it
CLICK_SLOP_PX = 4  # a press that moves less than this is a click
MAX_RECENT = 8
TOOL_TIP = "Hints tool (H): click the photo to give a colour, drag to move, right-click removes"


class HintEditor(QObject):
    changed = Signal()  # the hints changed (an edit, an undo, a drag step): run again
    edited = Signal()  # the user edited the hints (undo stack): save them
    suggestions_wanted = Signal(float, float)  # the popup opened at (x, y), photo pixels
    note = Signal(str)  # a one-line message for the user

    def __init__(self, viewer: PhotoViewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.hints = HintList()
        self.stack = QUndoStack(self)
        self.size = (0, 0)  # the photo's full-resolution (width, height)
        self.render_width = 1  # the render size's width (patch sizes are in its pixels)
        self.sample_result: Callable[[float, float], RGB | None] = lambda x, y: None
        self.recent: list[RGB] = []
        self.hovered: int | None = None
        self.hover_text = ""
        self.picking = False  # eyedropper on the result: the next click picks
        self._drag: tuple[int, Hint] | None = None  # (index, the hint before the drag)
        self._press: QPointF | None = None  # a press on the photo that may become a click
        self._target: tuple | None = None  # ("add", x, y) or ("recolor", index, hint)
        self.popup = ColorPopup(viewer)

        self.tool_action = QAction("&Hints Tool", self, checkable=True)
        self.tool_action.setShortcut(QKeySequence("H"))
        self.tool_action.setToolTip(TOOL_TIP)
        self.show_action = QAction("&Show Hint Markers", self, checkable=True, checked=True)
        self.clear_action = QAction("C&lear Hints", self)
        # the Confidence view (also in the view modes): where a hint is worth placing
        self.confidence_action = QAction("Show &Confidence", self)
        self.confidence_action.setToolTip(
            "Shade the photo by how unsure the model is of its colour: hints help most there"
        )
        self.undo_action = self.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions = [
            self.tool_action,
            self.show_action,
            self.clear_action,
            self.undo_action,
            self.redo_action,
            self.confidence_action,
        ]
        self.buttons = {}
        for action in self.actions:
            # only while the Colorize tab has the focus: Ctrl+Z elsewhere is not a hint edit
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            button = QToolButton()
            button.setDefaultAction(action)
            self.buttons[action] = button
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.panel = QGroupBox("Colour hints")
        column = QVBoxLayout(self.panel)
        column.addLayout(row(self.buttons[self.tool_action], self.buttons[self.show_action]))
        column.addLayout(
            row(*(self.buttons[a] for a in (self.clear_action, self.undo_action, self.redo_action)))
        )
        column.addWidget(self.buttons[self.confidence_action])
        column.addWidget(self.status)

        self.tool_action.toggled.connect(self._on_tool_toggled)
        self.show_action.toggled.connect(lambda _: self.viewer.update())
        self.clear_action.triggered.connect(self.clear)
        self.confidence_action.triggered.connect(lambda: viewer.set_mode(Mode.CONFIDENCE))
        self.popup.chosen.connect(self._on_color_chosen)
        self.popup.pick_from_result.connect(self._start_picking)
        self.popup.pick_from_file.connect(self._pick_from_file)
        viewer.set_tool(self)

    # --- the document ----------------------------------------------------------------------
    def set_document(self, width: int, height: int, render_width: int, hints: list[Hint]) -> None:
        """A photo was opened: its hints, no undo history."""
        self.size, self.render_width = (width, height), max(1, render_width)
        self.stack.clear()
        self.hints.reset(hints)
        self.hovered, self._drag, self._press, self._target = None, None, None, None
        self.popup.hide()
        self.viewer.update()

    def set_allowed(self, allowed: bool, why: str = "") -> None:
        """The model takes hints (or not: the tool is off, ``why`` is its tooltip)."""
        if not allowed:
            self.tool_action.setChecked(False)
        self.tool_action.setEnabled(allowed)
        self.tool_action.setToolTip(TOOL_TIP if allowed else why)
        self.clear_action.setEnabled(allowed)

    @property
    def active(self) -> bool:
        return self.tool_action.isChecked() and self.tool_action.isEnabled()

    def fill_menu(self, menu) -> None:
        for action in self.actions:
            menu.addAction(action)

    def add_shortcuts_to(self, widget: QWidget) -> None:
        widget.addActions(self.actions)

    def save(self, store) -> None:
        """Recent colours and the markers' visibility, for the next session (QSettings)."""
        store.setValue("hints/recent", [hex_of(c) for c in self.recent])
        store.setValue("hints/show_markers", self.show_action.isChecked())

    def restore(self, store) -> None:
        value = store.value("hints/recent") or []
        recent = []
        for text in [value] if isinstance(value, str) else list(value):
            try:
                recent.append(rgb_of(str(text)))
            except ValueError:
                continue  # a settings file edited by hand: skip what is not a colour
        self.recent = recent[:MAX_RECENT]
        self.show_action.setChecked(bool(store.value("hints/show_markers", True, type=bool)))

    # --- edits (each one an undo command) --------------------------------------------------
    def _after_edit(self) -> None:
        self.viewer.update()
        self.changed.emit()
        self.edited.emit()

    def add(self, x: float, y: float, rgb: RGB) -> None:
        self.stack.push(AddHint(self.hints, Hint.from_rgb(x, y, rgb), self._after_edit))
        self._remember(rgb)

    def remove(self, index: int) -> None:
        self.stack.push(RemoveHint(self.hints, index, self._after_edit))
        self.hovered = None

    def move(self, index: int, x: float, y: float) -> None:
        old = self.hints[index]
        new = hint_edit.moved(old, x, y, *self.size)
        self.stack.push(ChangeHint(self.hints, index, old, new, self._after_edit, text="Move hint"))

    def recolor(self, index: int, rgb: RGB) -> None:
        old = self.hints[index]
        new = Hint.from_rgb(old.x, old.y, rgb, old.radius)
        self.stack.push(
            ChangeHint(self.hints, index, old, new, self._after_edit, text="Change hint colour")
        )
        self._remember(rgb)

    def resize(self, index: int, steps: int) -> None:
        old = self.hints[index]
        size = hint_edit.patch_size(old, self.size[0], self.render_width) + steps
        new = hint_edit.with_patch_size(old, size, self.size[0], self.render_width)
        if new != old:
            self.stack.push(
                ChangeHint(
                    self.hints,
                    index,
                    old,
                    new,
                    self._after_edit,
                    text="Resize hint",
                    merge_id=RESIZE_ID,
                )
            )

    def clear(self) -> None:
        if len(self.hints):
            self.stack.push(ClearHints(self.hints, self._after_edit))

    def _remember(self, rgb: RGB) -> None:
        rgb = tuple(rgb)
        self.recent = [rgb, *(c for c in self.recent if c != rgb)][:MAX_RECENT]

    # --- colour choice ---------------------------------------------------------------------
    def ask_color(self, target: tuple, x: float, y: float) -> None:
        """Open the popup at photo point (x, y) for ``target`` (add there, or recolour)."""
        self._target = target
        where = self.viewer.mapToGlobal(self.viewer.to_widget(QPointF(x, y)).toPoint())
        self.popup.open_at(
            where + QPointF(MARKER_PX + 4, MARKER_PX + 4).toPoint(),
            result=self.sample_result(x, y),
            recent=self.recent,
        )
        self.suggestions_wanted.emit(x, y)

    def _on_color_chosen(self, rgb: RGB) -> None:
        target, self._target = self._target, None
        if target is None:
            return
        if target[0] == "add":
            self.add(target[1], target[2], rgb)
        elif target[1] < len(self.hints) and self.hints[target[1]] == target[2]:
            self.recolor(target[1], rgb)  # (an undo meanwhile leaves the colour unused)

    def _start_picking(self) -> None:
        self.picking = True
        self.viewer.setCursor(Qt.CursorShape.CrossCursor)
        self.note.emit("Click the colorized photo to pick its colour (Esc: stop)")

    def _stop_picking(self) -> None:
        self.picking = False
        self._target = None
        self.viewer.setCursor(self.cursor())

    def pick_at(self, x: float, y: float) -> None:
        """The eyedropper on the result: its colour at (x, y) for the pending hint."""
        self.picking = False
        self.viewer.setCursor(self.cursor())
        rgb = self.sample_result(x, y)
        if rgb is None:
            self.note.emit("No result to pick from yet: colorize first")
            self._target = None
            return
        self._on_color_chosen(rgb)

    def _pick_from_file(self) -> None:
        rgb, why = ReferencePicker.ask(self.viewer)
        if why:
            self.note.emit(why)
        if rgb is None:
            self._target = None
            return
        self._on_color_chosen(rgb)

    # --- painting (called by the viewer after the photo, in every mode) --------------------
    def paint(self, painter: QPainter) -> None:
        if not self.show_action.isChecked():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        scale = self.viewer.zoom * self.size[0] / self.render_width  # render px -> screen px
        for i in range(len(self.hints)):
            h = self.hints[i]
            centre = self.viewer.to_widget(QPointF(h.x, h.y))
            hot = i == self.hovered
            if hot:  # the patch the network sees, at this zoom
                side = hint_edit.patch_size(h, self.size[0], self.render_width) * scale
                painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(centre.x() - side / 2, centre.y() - side / 2, side, side))
            radius = MARKER_PX + (2 if hot else 0)
            painter.setPen(QPen(QColor(0, 0, 0), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, radius, radius)
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(QColor(h.color or h.hex()))
            painter.drawEllipse(centre, radius, radius)

    # --- mouse and keys (the viewer asks first; False lets it zoom and pan) ----------------
    def _at(self, pos: QPointF) -> int | None:
        if not self.show_action.isChecked():
            return None
        p = self.viewer.to_image(pos)
        return self.hints.nearest(p.x(), p.y(), GRAB_PX / max(self.viewer.zoom, 1e-9))

    def _inside(self, p: QPointF) -> bool:
        return 0 <= p.x() < self.size[0] and 0 <= p.y() < self.size[1]

    def press(self, event) -> bool:
        pos, button = event.position(), event.button()
        if self.picking:
            p = self.viewer.to_image(pos)
            if button == Qt.MouseButton.LeftButton and self._inside(p):
                self.pick_at(p.x(), p.y())
            else:  # a right-click or a click beside the photo: no colour after all
                self._stop_picking()
            return True
        if not self.active:
            return False
        index = self._at(pos)
        if button == Qt.MouseButton.RightButton and index is not None:
            self.remove(index)
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        if index is not None:
            self._drag = (index, self.hints[index])
            self._press = pos
            return True
        self._press = pos  # maybe a click (add), maybe the start of a pan
        return False

    def move_event(self, event) -> bool:
        pos = event.position()
        if self._drag is not None:
            index, before = self._drag
            near = (pos - self._press).manhattanLength() < CLICK_SLOP_PX
            if near and self.hints[index] == before:
                return True  # not a drag yet: a click on the marker must not nudge it
            # the marker keeps its offset from the cursor (no jump when the drag starts)
            p = self.viewer.to_image(pos) - self.viewer.to_image(self._press)
            x, y = before.x + p.x(), before.y + p.y()
            self.hints.replace(index, hint_edit.moved(before, x, y, *self.size))
            self.viewer.update()
            self.changed.emit()  # live: the result follows the drag (debounced)
            return True
        hovered = self._at(pos)
        if hovered != self.hovered:
            self.hovered = hovered
            self._show_hover(pos)
            self.viewer.update()
        return False

    def _show_hover(self, pos: QPointF) -> None:
        if self.hovered is None:
            self.hover_text = ""
            QToolTip.hideText()
            return
        h = self.hints[self.hovered]
        size = hint_edit.patch_size(h, self.size[0], self.render_width)
        self.hover_text = f"{h.color or h.hex()}, patch {size} px"
        if self.active:
            self.hover_text += " (wheel: size, right-click or Delete: remove)"
        QToolTip.showText(self.viewer.mapToGlobal(pos.toPoint()), self.hover_text, self.viewer)

    def release(self, event) -> bool:
        pos, press, drag = event.position(), self._press, self._drag
        self._press, self._drag = None, None
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return False
        clicked = (pos - press).manhattanLength() < CLICK_SLOP_PX
        if drag is not None:
            index, before = drag
            now = self.hints[index]
            self.hints.replace(index, before)  # the command re-applies the move, undoable
            if clicked:
                self.ask_color(("recolor", index, before), before.x, before.y)
            else:
                self.move(index, now.x, now.y)
            return True
        p = self.viewer.to_image(press)
        if clicked and self.active and self._inside(p):
            self.ask_color(("add", p.x(), p.y()), p.x(), p.y())
        return False

    def wheel(self, event) -> bool:
        index = self._at(event.position()) if self.active else None
        steps = event.angleDelta().y() // 120
        if index is None or not steps:
            return False
        self.resize(index, steps)
        self._show_hover(event.position())
        return True

    def wants_key(self, event) -> bool:
        return self.picking and event.key() == Qt.Key.Key_Escape

    def key(self, event) -> bool:
        if self.wants_key(event):
            self._stop_picking()
            return True
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.active:
            if self.hovered is not None and self.hovered < len(self.hints):
                self.remove(self.hovered)
                return True
        return False

    def cursor(self) -> Qt.CursorShape:
        return (
            Qt.CursorShape.CrossCursor
            if self.picking or self.active
            else Qt.CursorShape.ArrowCursor
        )

    def _on_tool_toggled(self, on: bool) -> None:
        self.viewer.setCursor(self.cursor())
        if on and not self.show_action.isChecked():
            self.show_action.setChecked(True)  # placing hints you cannot see helps no one
