"""The photo viewer: fit / 100% / wheel zoom around the cursor / drag to pan, view modes and a
draggable before/after split line, drawing from display pyramids (never a full-size pixmap
rebuilt per repaint)."""

from __future__ import annotations

from enum import Enum

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class Mode(str, Enum):
    ORIGINAL = "original"
    LUMINANCE = "luminance"
    COLORIZED = "colorized"
    SPLIT = "split"
    CONFIDENCE = "confidence"  # shaded by how unsure the model is (hint editor)


def qimage_of(array: np.ndarray) -> QImage:
    """A QImage viewing an (H, W, 3) uint8 array (the caller keeps the array alive)."""
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)


class Layer:
    """One picture at several resolutions: (array, scale) pairs, scale = level px / full px."""

    def __init__(self, levels: list[tuple[np.ndarray, float]]) -> None:
        self._levels = sorted(levels, key=lambda lv: -lv[1])  # finest first
        self._images = [qimage_of(a) for a, _ in self._levels]

    def pick(self, zoom: float) -> tuple[QImage, float]:
        """The coarsest level that still has at least one pixel per screen pixel."""
        best = 0
        for i, (_, scale) in enumerate(self._levels):
            if scale >= zoom:
                best = i
        return self._images[best], self._levels[best][1]


class PhotoViewer(QWidget):
    split_moved = Signal(float)
    zoom_changed = Signal(float)
    mode_changed = Signal(object)  # the Mode now shown
    layers_changed = Signal()  # a layer appeared or went (which modes can be shown)

    SPLIT_GRAB_PX = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._layers: dict[Mode, Layer] = {}
        self._size = (0, 0)  # full-size (width, height)
        self._mode = Mode.ORIGINAL
        self._zoom = 1.0
        self._origin = QPointF(0, 0)  # image point at the widget's top-left corner
        self._split = 0.5  # fraction of the widget width
        self._drag: str | None = None
        self._drag_last = QPointF()
        self._fitted = True
        # a tool over the photo (the hint editor): paints after the photo in every mode and
        # sees mouse and key events first; its handlers return True when they used the event
        self._tool = None

    def set_tool(self, tool) -> None:
        self._tool = tool
        self.update()

    # --- content -------------------------------------------------------------------------
    def set_photo_size(self, width: int, height: int) -> None:
        self._size = (width, height)
        self._layers.clear()
        self.layers_changed.emit()
        self.fit()

    def set_layer(self, mode: Mode, levels: list[tuple[np.ndarray, float]] | None) -> None:
        had = mode in self._layers
        if levels:
            self._layers[mode] = Layer(levels)
        else:
            self._layers.pop(mode, None)
        if had != (mode in self._layers):
            self.layers_changed.emit()
        self.update()

    def can_show(self, mode: Mode) -> bool:
        """Whether ``mode`` has something to show (before/after needs a colorized result)."""
        return (Mode.COLORIZED if mode == Mode.SPLIT else Mode(mode)) in self._layers

    # --- view state ------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        mode = Mode(mode)
        changed = mode != self._mode
        self._mode = mode
        self.update()
        if changed:
            self.mode_changed.emit(mode)

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        self._split = float(min(1.0, max(0.0, fraction)))
        self.split_moved.emit(self._split)
        self.update()

    def fit(self) -> None:
        w, h = self._size
        if not w or not h:
            return
        zoom = min(self.width() / w, self.height() / h)
        self._set_view(zoom, QPointF(w / 2, h / 2))
        self._fitted = True

    def actual_size(self) -> None:
        self._set_view(1.0, self._center())

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (widget coords) where it is."""
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        image_pt = self.to_image(anchor)
        zoom = min(64.0, max(0.005, self._zoom * factor))
        self._zoom = zoom
        self._origin = image_pt - anchor / zoom
        self._fitted = False
        self.zoom_changed.emit(zoom)
        self.update()

    def to_image(self, p: QPointF) -> QPointF:
        return self._origin + p / self._zoom

    def to_widget(self, p: QPointF) -> QPointF:
        """The inverse of :meth:`to_image`: a photo point in widget coordinates."""
        return (p - self._origin) * self._zoom

    def _center(self) -> QPointF:
        return self.to_image(QPointF(self.width() / 2, self.height() / 2))

    def _set_view(self, zoom: float, center: QPointF) -> None:
        self._zoom = zoom
        self._origin = center - QPointF(self.width() / 2, self.height() / 2) / zoom
        self.zoom_changed.emit(zoom)
        self.update()

    # --- painting --------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        if self._mode == Mode.SPLIT:
            x = self._split * self.width()
            self._draw(painter, Mode.ORIGINAL, QRectF(0, 0, x, self.height()))
            self._draw(painter, Mode.COLORIZED, QRectF(x, 0, self.width() - x, self.height()))
            painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
            painter.setBrush(QColor(255, 255, 255, 220))
            painter.drawEllipse(QPointF(x, self.height() / 2), 7, 7)
        else:
            self._draw(painter, self._mode, QRectF(self.rect()))
        if self._tool is not None:
            self._tool.paint(painter)
        painter.end()

    def _draw(self, painter: QPainter, mode: Mode, clip: QRectF) -> None:
        layer = self._layers.get(mode) or (
            self._layers.get(Mode.ORIGINAL) if mode in (Mode.COLORIZED, Mode.CONFIDENCE) else None
        )
        if layer is None or not self._size[0]:
            return
        image, scale = layer.pick(self._zoom)
        # visible part of the image, in full-size coordinates, clipped to the photo
        top_left = self.to_image(clip.topLeft())
        bottom_right = self.to_image(clip.bottomRight())
        visible = QRectF(top_left, bottom_right).intersected(
            QRectF(0, 0, self._size[0], self._size[1])
        )
        if visible.isEmpty():
            return
        sx = image.width() / self._size[0]
        sy = image.height() / self._size[1]
        source = QRectF(
            visible.left() * sx, visible.top() * sy, visible.width() * sx, visible.height() * sy
        )
        target = QRectF(
            (visible.topLeft() - self._origin) * self._zoom, visible.size() * self._zoom
        )
        smooth = self._zoom / max(scale, 1e-9) < 2.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, image, source)

    # --- interaction -----------------------------------------------------------------------
    def wheelEvent(self, event) -> None:  # noqa: N802
        if self._tool is not None and self._tool.wheel(event):
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, event.position())

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._tool is not None and self._tool.press(event):
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        near_split = abs(event.position().x() - self._split * self.width()) <= self.SPLIT_GRAB_PX
        self._drag = "split" if self._mode == Mode.SPLIT and near_split else "pan"
        self._drag_last = event.position()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._tool is not None and self._tool.move_event(event):
            return
        if self._drag == "split":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag == "pan":
            delta = pos - self._drag_last
            self._origin -= delta / self._zoom
            self._fitted = False
            self.update()
        self._drag_last = pos
        near = self._mode == Mode.SPLIT and abs(pos.x() - self._split * self.width()) <= 8
        self.setCursor(
            Qt.CursorShape.SplitHCursor
            if near or self._drag == "split"
            else self._tool.cursor()
            if self._tool is not None
            else Qt.CursorShape.ArrowCursor
        )

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._tool is not None:
            self._tool.release(event)
        self._drag = None

    def event(self, event) -> bool:
        # a key the tool needs (Esc while it picks a colour) wins over the window's shortcut
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and self._tool is not None
            and self._tool.wants_key(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self._tool is not None and self._tool.key(event):
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._fitted:
            self.fit()
        super().resizeEvent(event)
