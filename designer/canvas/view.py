"""The canvas widget: a zoomable, pannable view of the network scene that accepts layer types
dragged from the palette and offers the editing actions (delete, copy/paste, rename, layout)."""

from __future__ import annotations

import json
import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QGraphicsView, QMenu, QWidget

from designer.canvas.items import EdgeItem, LayerItem
from designer.canvas.paint import blend, palette
from designer.canvas.scene import (
    LAYER_MIME,
    NetworkScene,
    clipboard_payload,
    put_on_clipboard,
)

MIN_ZOOM = 0.2
MAX_ZOOM = 3.0
FIT_MAX_ZOOM = 1.2
GRID = 24.0
PASTE_STEP = 40.0
SCENE_MARGIN = 1200.0


class NetworkView(QGraphicsView):
    """The network canvas. Owns its :class:`NetworkScene`.

    Signals
    -------
    status_message(str) : a transient message for the status bar.
    """

    status_message = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.network_scene = NetworkScene(document, self)
        self.setScene(self.network_scene)
        self.network_scene.status_message.connect(self.status_message)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self._pan_from: QPointF | None = None
        self._paste_key: str | None = None
        self._paste_count = 0
        self._fitted = False
        document.changed.connect(self._update_scene_rect)
        document.replaced.connect(self.fit_all)
        self._update_scene_rect()

    # ------------------------------------------------------------------ public API
    def scene_(self) -> NetworkScene:
        return self.network_scene

    def delete_selection(self) -> bool:
        return self.network_scene.delete_selection()

    def copy_selection(self) -> bool:
        payload = self.network_scene.selection_payload()
        if payload is None:
            self.status_message.emit("Select one or more layers to copy")
            return False
        put_on_clipboard(payload)
        self._paste_key, self._paste_count = None, 0
        n = len(payload["layers"])
        self.status_message.emit(f"Copied {n} layer{'s' if n > 1 else ''}")
        return True

    def cut_selection(self) -> bool:
        return self.copy_selection() and self.delete_selection()

    def paste(self) -> list[str]:
        payload = clipboard_payload()
        if payload is None:
            self.status_message.emit("The clipboard holds no layers to paste")
            return []
        # Pasting the same layers again steps each copy further, so copies never stack.
        key = json.dumps(payload, sort_keys=True)
        self._paste_count = self._paste_count + 1 if key == self._paste_key else 1
        self._paste_key = key
        step = PASTE_STEP * self._paste_count
        return self.network_scene.paste_payload(payload, (step, step))

    def duplicate_selection(self) -> list[str]:
        payload = self.network_scene.selection_payload()
        if payload is None:
            self.status_message.emit("Select one or more layers to duplicate")
            return []
        return self.network_scene.paste_payload(payload, (PASTE_STEP, PASTE_STEP))

    def select_all(self) -> None:
        self.network_scene.select_all()

    def auto_layout(self) -> bool:
        return self.network_scene.auto_layout()

    def rename_selected(self) -> bool:
        names = self.network_scene.selected_layer_names()
        if len(names) != 1:
            self.status_message.emit("Select exactly one layer to rename")
            return False
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        return self.network_scene.start_rename(names[0])

    def fit_all(self) -> None:
        """Zoom to show every block (never enlarging past a readable maximum)."""
        items = self.network_scene.layer_items()
        if not items:
            return
        rect = QRectF()
        for it in items:
            rect = rect.united(it.sceneBoundingRect())
        rect = rect.adjusted(-40, -40, 40, 40)
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > FIT_MAX_ZOOM:
            self.resetTransform()
            self.scale(FIT_MAX_ZOOM, FIT_MAX_ZOOM)
        elif self.zoom() < MIN_ZOOM:
            self.resetTransform()
            self.scale(MIN_ZOOM, MIN_ZOOM)
        self.centerOn(rect.center())
        self._fitted = True

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        factor = min(max(factor, MIN_ZOOM), MAX_ZOOM)
        self.scale(factor / self.zoom(), factor / self.zoom())

    # ------------------------------------------------------------------ internals
    def _update_scene_rect(self) -> None:
        rect = self.network_scene.itemsBoundingRect()
        if rect.isNull():
            rect = QRectF(-200, -150, 400, 300)
        self.network_scene.setSceneRect(
            rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        )

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if not self._fitted:
            self.fit_all()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # Qt override
        pal = palette()
        base = pal.color(QPalette.ColorRole.Base)
        window = pal.color(QPalette.ColorRole.Window)
        painter.fillRect(rect, blend(base, window, 0.35))
        if self.zoom() < 0.45:
            return
        dots = blend(blend(base, window, 0.35), pal.color(QPalette.ColorRole.Text), 0.16)
        pen = painter.pen()
        pen.setColor(dots)
        pen.setWidthF(1.6 / self.zoom())
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        points = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                points.append(QPointF(x, y))
                x += GRID
            y += GRID
        if len(points) < 40000:
            painter.drawPoints(points)

    # ------------------------------------------------------------------ palette drops
    @staticmethod
    def _layer_class(event) -> str | None:
        mime = event.mimeData()
        if mime is None or not mime.hasFormat(LAYER_MIME):
            return None
        return bytes(mime.data(LAYER_MIME).data()).decode("utf-8", "replace").strip()

    def _drop_pos(self, event) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def _drag_over(self, event) -> None:
        # Only palette layers: project files dragged in are left to the main window.
        if self._layer_class(event) is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.network_scene.set_drop_edge(self.network_scene.edge_at(self._drop_pos(event)))

    def dragEnterEvent(self, event) -> None:  # Qt override
        self._drag_over(event)

    def dragMoveEvent(self, event) -> None:  # Qt override
        self._drag_over(event)

    def dragLeaveEvent(self, event) -> None:  # Qt override
        self.network_scene.set_drop_edge(None)
        event.accept()

    def dropEvent(self, event) -> None:  # Qt override
        class_name = self._layer_class(event)
        scene = self.network_scene
        scene.set_drop_edge(None)
        if class_name is None:
            event.ignore()
            return
        pos = self._drop_pos(event)
        edge = scene.edge_at(pos)
        consumer = edge.dst if edge is not None else None
        name = scene.add_layer_at(class_name, pos, edge)
        item = scene.item_for(name) if name else None
        if item is not None and consumer is not None:
            # The insert moved its consumer on to make room: keep both in sight.
            rect = item.sceneBoundingRect()
            moved = scene.item_for(consumer)
            if moved is not None:
                rect = rect.united(moved.sceneBoundingRect())
            self.ensureVisible(rect, 40, 40)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ mouse & keys
    def wheelEvent(self, event) -> None:  # Qt override
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self.set_zoom(self.zoom() * (1.15**steps))
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:  # Qt override
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # Qt override
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # Qt override
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        # The view handled it (rubber band, click on empty space) even when no item did.
        event.accept()

    _OWN_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Escape, Qt.Key.Key_F2)

    def event(self, event) -> bool:  # Qt override
        # Keys the canvas handles itself (and every key while a name is being edited) must not
        # be taken by a window-wide shortcut first.
        if event.type() == QEvent.Type.ShortcutOverride and (
            self.network_scene.rename_editor is not None
            or (
                event.key() in self._OWN_KEYS
                and event.modifiers() == Qt.KeyboardModifier.NoModifier
            )
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # Qt override
        scene = self.network_scene
        if scene.rename_editor is not None:
            super().keyPressEvent(event)
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selection()
            event.accept()
            return
        if event.key() == Qt.Key.Key_F2:
            self.rename_selected()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            scene.cancel_link()
            scene.clearSelection()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:  # Qt override
        scene = self.network_scene
        hit = self.itemAt(event.pos())
        while hit is not None and not isinstance(hit, (LayerItem, EdgeItem)):
            hit = hit.parentItem()
        if hit is not None and not hit.isSelected():
            scene.clearSelection()
            hit.setSelected(True)
        menu = QMenu(self)
        layers = scene.selected_layer_names()

        def add(text: str, slot, shortcut=None, enabled: bool = True) -> None:
            action = QAction(text, menu)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            action.setEnabled(enabled)
            action.triggered.connect(slot)
            menu.addAction(action)

        if hit is not None:
            add("Rename", self.rename_selected, "F2", len(layers) == 1)
            add("Duplicate", self.duplicate_selection, "Ctrl+D", bool(layers))
            add("Copy", self.copy_selection, QKeySequence.StandardKey.Copy, bool(layers))
            add("Cut", self.cut_selection, QKeySequence.StandardKey.Cut, bool(layers))
            add("Delete", self.delete_selection, QKeySequence.StandardKey.Delete)
            menu.addSeparator()
        add("Paste", self.paste, QKeySequence.StandardKey.Paste, clipboard_payload() is not None)
        add("Select all", self.select_all, QKeySequence.StandardKey.SelectAll)
        add("Auto layout", self.auto_layout)
        add("Fit to window", self.fit_all)
        menu.exec(event.globalPos())
