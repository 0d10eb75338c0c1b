"""Graphics items of the network canvas: layer blocks, their ports, edges and the inline name
editor.

Items only draw and report gestures; every change of the spec goes through the scene, which
turns it into one undoable :meth:`~designer.document.Document.edit`.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsTextItem,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from designer.canvas.glyphs import activation_path, axes_path
from designer.canvas.paint import HoverHighlight, blend, font, is_dark, palette, with_alpha
from designer.panels.layer_icons import layer_color
from engine.layers import INPUT_CLASS_NAME, format_shape

BLOCK_W = 172.0
BLOCK_H = 86.0
RADIUS = 9.0
PORT_R = 6.0
PORT_HIT_R = 12.0
SLOT_SPACING = 14.0
STRIPE_W = 5.0
PAD = 12.0
GLYPH_W = 34.0
GLYPH_H = 24.0
NAME_H = 22.0
# The model input's block: Keras' class name (its colour is the engine's INPUT_COLOR) and the word
# shown under its name.
INPUT_CLASS = INPUT_CLASS_NAME
INPUT_SUBTITLE = "Input"
ERROR_COLOR = QColor("#dc2626")


# A block's hue is its layer type's colour (the palette's icon tile), blended into the palette's
# base colour for the fill so that blocks read well on light and dark themes alike.


class PortItem(HoverHighlight, QGraphicsItem):
    """A connection point on a block's side: ``kind`` is ``"in"`` or ``"out"``.

    A merge layer's input port is a pill tall enough for one slot per incoming edge.
    """

    hover_flag = "hot"

    def __init__(self, layer: LayerItem, kind: str) -> None:
        super().__init__(layer)
        self.layer = layer
        self.kind = kind
        self.slots = 1
        self.hot = False  # a link being dragged would attach here
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        self.setToolTip(
            "Drag to another block's input to connect"
            if kind == "out"
            else "Drag from another block's output to here to connect"
        )

    def set_slots(self, n: int) -> None:
        n = max(1, n)
        if n != self.slots:
            self.prepareGeometryChange()
            self.slots = n

    def _half_height(self) -> float:
        return PORT_R + (self.slots - 1) * SLOT_SPACING / 2

    def boundingRect(self) -> QRectF:  # Qt override
        h = max(self._half_height(), PORT_HIT_R)
        return QRectF(-PORT_HIT_R, -h, 2 * PORT_HIT_R, 2 * h)

    def shape(self) -> QPainterPath:  # Qt override
        path = QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:  # Qt override
        pal = palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = pal.color(QPalette.ColorRole.Highlight)
        ring = accent if self.hot else layer_color(self.layer.class_name)
        painter.setPen(QPen(ring, 2.2 if self.hot else 1.6))
        painter.setBrush(accent if self.hot else pal.color(QPalette.ColorRole.Base))
        r = PORT_R + (1.5 if self.hot else 0.0)
        h = self._half_height() + (1.5 if self.hot else 0.0)
        painter.drawRoundedRect(QRectF(-r, -h, 2 * r, 2 * h), r, r)


class LayerItem(HoverHighlight, QGraphicsItem):
    """One block: a layer (or the model input) with its name, type, output shape, parameter
    count and activation glyph. ``pos()`` is the block's centre, stored in the spec's layout."""

    def __init__(self, name: str, class_name: str) -> None:
        super().__init__()
        self.name = name
        self.class_name = class_name
        self.subtitle = INPUT_SUBTITLE if class_name == INPUT_CLASS else class_name
        self.activation: str | None = None
        self.shape_text = ""
        self.params_text = ""
        self.problems: list[str] = []
        self.notice = ""
        self.is_output = False
        self.edges: list[EdgeItem] = []
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._hover = False
        self.out_port = PortItem(self, "out")
        self.out_port.setPos(BLOCK_W / 2, 0)
        self.in_port: PortItem | None = None
        if class_name != INPUT_CLASS:
            self.in_port = PortItem(self, "in")
            self.in_port.setPos(-BLOCK_W / 2, 0)

    # ------------------------------------------------------------------ content
    @property
    def is_input(self) -> bool:
        return self.class_name == INPUT_CLASS

    def set_content(
        self,
        class_name: str,
        subtitle: str,
        activation: str | None,
        shape_text: str,
        params_text: str,
        problems: list[str],
        is_output: bool,
        in_slots: int = 1,
    ) -> None:
        """Update what the block shows; repaints only when something changed."""
        if self.in_port is not None:
            self.in_port.set_slots(in_slots)
        state = (class_name, subtitle, activation, shape_text, params_text, problems, is_output)
        if state == self._state():
            return
        if is_output != self.is_output:
            self.prepareGeometryChange()
        self.class_name, self.subtitle, self.activation = class_name, subtitle, activation
        self.shape_text, self.params_text = shape_text, params_text
        self.problems, self.is_output = problems, is_output
        self._update_tooltip()
        self.update()
        for port in (self.in_port, self.out_port):
            if port is not None:
                port.update()

    def _state(self) -> tuple:
        return (
            self.class_name,
            self.subtitle,
            self.activation,
            self.shape_text,
            self.params_text,
            self.problems,
            self.is_output,
        )

    def _update_tooltip(self) -> None:
        kind = "model input" if self.is_input else self.class_name
        lines = [f"<b>{_esc(self.name)}</b> ({_esc(kind)})"]
        if self.notice:
            lines.append(f"<span style='color:#dc2626'>{_esc(self.notice)}</span>")
        shape = self.shape_text
        if "×" in shape:
            shape += " (height × width × channels)"
        detail = " · ".join(t for t in (shape, self.params_text) if t)
        if detail:
            lines.append(_esc(detail))
        if self.problems:
            lines += [f"<span style='color:#dc2626'>⚠ {_esc(p)}</span>" for p in self.problems]
        elif not self.is_input:
            lines.append("<i>Double-click the name to rename</i>")
        self.setToolTip("<br>".join(lines))

    def set_notice(self, text: str) -> None:
        """A one-off message shown first in the tooltip (a refused rename), until replaced."""
        self.notice = text
        self._update_tooltip()

    def set_name(self, name: str) -> None:
        self.name = name
        self._update_tooltip()
        self.update()

    # ------------------------------------------------------------------ geometry
    def block_rect(self) -> QRectF:
        return QRectF(-BLOCK_W / 2, -BLOCK_H / 2, BLOCK_W, BLOCK_H)

    def name_rect(self) -> QRectF:
        """Where the name is drawn (item coordinates); double-click there to rename."""
        r = self.block_rect()
        rows = 3 if self.params_text else 2
        content = NAME_H + 5 + rows * _small_line_height()
        top = r.top() + max((r.height() - content) / 2, 4.0)
        return QRectF(r.left() + STRIPE_W + PAD - 2, top, r.width() - 2 * PAD - GLYPH_W, NAME_H)

    def boundingRect(self) -> QRectF:  # Qt override
        r = self.block_rect().adjusted(-3, -3, 5, 6)
        if self.is_output:
            r = r.adjusted(0, 0, 46, 0)
        return r

    def shape(self) -> QPainterPath:  # Qt override
        path = QPainterPath()
        path.addRoundedRect(self.block_rect(), RADIUS, RADIUS)
        return path

    def input_port_pos(self, slot: int = 0, slots: int = 1) -> QPointF:
        """Scene position of the input port (of incoming edge ``slot`` of ``slots``)."""
        dy = (slot - (slots - 1) / 2) * SLOT_SPACING if slots > 1 else 0.0
        return self.mapToScene(QPointF(-BLOCK_W / 2, dy))

    def output_port_pos(self) -> QPointF:
        return self.mapToScene(QPointF(BLOCK_W / 2, 0))

    def itemChange(self, change, value):  # Qt override
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)

    def mouseDoubleClickEvent(self, event) -> None:  # Qt override
        scene = self.scene()
        if (
            not self.is_input
            and self.name_rect().adjusted(-4, -4, 4, 4).contains(event.pos())
            and hasattr(scene, "start_rename")
        ):
            scene.start_rename(self.name)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ------------------------------------------------------------------ painting
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:  # Qt override
        pal = palette()
        dark = is_dark()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        rect = self.block_rect()
        hue = layer_color(self.class_name)
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        accent = pal.color(QPalette.ColorRole.Highlight)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        invalid = bool(self.problems)

        # Soft shadow: two translucent offset shapes are cheaper and crisper than an effect.
        painter.setPen(Qt.PenStyle.NoPen)
        for off, alpha in ((3.5, 0.07), (1.5, 0.10)):
            painter.setBrush(QColor(0, 0, 0, int(255 * alpha * (2.2 if dark else 1.0))))
            painter.drawRoundedRect(rect.translated(0.5, off), RADIUS, RADIUS)

        fill = blend(base, hue, 0.16 if dark else 0.09)
        if self._hover and not selected:
            fill = blend(fill, hue, 0.08)
        painter.setBrush(fill)
        if invalid:
            border = QPen(ERROR_COLOR, 2.4)
        elif selected:
            border = QPen(accent, 2.4)
        else:
            border = QPen(blend(base, hue, 0.55), 1.2)
        painter.setPen(border)
        painter.drawRoundedRect(rect, RADIUS, RADIUS)
        if selected and invalid:
            # Both states visible: the red outline plus a halo in the selection colour.
            painter.setPen(QPen(with_alpha(accent, 0.8), 2.0, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-4, -4, 4, 4), RADIUS + 3, RADIUS + 3)

        # Colour stripe on the left edge, clipped to the rounded block.
        clip = QPainterPath()
        clip.addRoundedRect(rect.adjusted(1, 1, -1, -1), RADIUS - 1, RADIUS - 1)
        painter.save()
        painter.setClipPath(clip)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ERROR_COLOR if invalid else hue)
        painter.drawRect(QRectF(rect.left(), rect.top(), STRIPE_W, rect.height()))
        painter.restore()

        left = rect.left() + STRIPE_W + PAD - 2
        right = rect.right() - PAD + 2
        muted = blend(text, base, 0.38)

        name_font = font(1.08, bold=True)
        small = font(0.92)
        painter.setFont(name_font)
        painter.setPen(text)
        nr = self.name_rect()
        fm = QFontMetricsF(name_font)
        painter.drawText(
            nr,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(self.name, Qt.TextElideMode.ElideRight, nr.width()),
        )

        painter.setFont(small)
        fs = QFontMetricsF(small)
        line_h = _small_line_height()
        y = nr.bottom() + 1
        kind = self.subtitle
        painter.setPen(hue if not dark else blend(hue, text, 0.25))
        painter.drawText(
            QRectF(left, y, right - left - GLYPH_W, line_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fs.elidedText(kind, Qt.TextElideMode.ElideRight, right - left - GLYPH_W),
        )
        y += line_h + 4
        known = self.shape_text != "?"
        painter.setPen(text if known else muted)
        painter.drawText(
            QRectF(left, y, right - left, line_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.shape_text if known else "shape unknown",
        )
        if self.params_text:
            y += line_h
            painter.setPen(muted)
            painter.drawText(
                QRectF(left, y, right - left, line_h),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                self.params_text,
            )

        if self.activation:
            g = QRectF(right - GLYPH_W, nr.top() + 3, GLYPH_W, GLYPH_H)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(with_alpha(muted, 0.45), 0.8))
            painter.drawPath(axes_path(self.activation, g))
            glyph = activation_path(self.activation, g)
            if self.activation == "softmax":
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(with_alpha(hue, 0.85))
            else:
                pen = QPen(hue if not dark else blend(hue, text, 0.2), 1.8)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
                painter.setPen(pen)
            painter.drawPath(glyph)

        if self.is_output:
            # A stub arrow out of the output port says "this is what the model returns".
            x0 = rect.right() + PORT_R + 2
            x1 = x0 + 30
            pen = QPen(muted, 1.6)
            painter.setPen(pen)
            painter.drawLine(QPointF(x0, 0), QPointF(x1, 0))
            painter.setBrush(muted)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawPolygon(QPolygonF([QPointF(x1 + 7, 0), QPointF(x1, -4), QPointF(x1, 4)]))
            painter.setPen(muted)
            painter.setFont(font(0.8))
            painter.drawText(
                QRectF(x0 - 4, 3, 44, 16),
                Qt.AlignmentFlag.AlignCenter,
                "output",
            )


def block_shape_text(shape) -> str:
    """A block's output shape: an image (height, width, channels) as ``28×28×6``, any other
    shape as Keras prints it, with the batch axis (``(None, 128)``); ``?`` when unknown."""
    if shape is None:
        return "?"
    shape = tuple(shape)
    if len(shape) == 3:
        return "×".join(str(int(d)) for d in shape)
    return format_shape(shape)


def _small_line_height() -> float:
    return QFontMetricsF(font(0.92)).height() + 1


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class EdgeItem(HoverHighlight, QGraphicsPathItem):
    """A connection ``src -> dst``: a bezier from the output port to the input port, with an
    arrowhead. Selectable (Delete disconnects); lights up as a drop target during a palette
    drag; red when the engine reports a problem with the destination's inputs."""

    def __init__(self, src: LayerItem, dst: LayerItem, slot: int = 0, slots: int = 1) -> None:
        super().__init__()
        self.src_item = src
        self.dst_item = dst
        self.slot = slot
        self.slots = slots
        self.drop_target = False
        self.problems: list[str] = []
        self._hover = False
        self._arrow = QPolygonF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self.update_path()

    @property
    def src(self) -> str:
        return self.src_item.name

    @property
    def dst(self) -> str:
        return self.dst_item.name

    def set_slot(self, slot: int, slots: int) -> None:
        if (slot, slots) != (self.slot, self.slots):
            self.slot, self.slots = slot, slots
            self.update_path()

    def set_problems(self, problems: list[str]) -> None:
        if problems != self.problems:
            self.problems = problems
            self.update()
        tip = f"{self.src} → {self.dst}"
        if problems:
            tip += "\n" + "\n".join(f"⚠ {p}" for p in problems)
        else:
            tip += "\n(select and press Delete to disconnect)"
        self.setToolTip(tip)

    def set_drop_target(self, on: bool) -> None:
        if on != self.drop_target:
            self.drop_target = on
            self.update()

    def update_path(self) -> None:
        a = self.src_item.output_port_pos()
        b = self.dst_item.input_port_pos(self.slot, self.slots)
        tip = QPointF(b.x() - PORT_R - 1, b.y())
        start, end = QPointF(a.x() + PORT_R, a.y()), QPointF(tip.x() - 7, tip.y())
        lift = BLOCK_H / 2 + 26
        if end.x() - start.x() < 2 * PORT_HIT_R:
            # Backwards (a cycle, a self-loop, or blocks dragged out of order): loop below.
            path = arch(start, end, lift)
        else:
            path = bezier(start, end)
            if self._blocked(path):
                # A long edge hidden behind blocks in between (a skip connection) arches around
                # them: above when that is free, else below, else above anyway.
                options = [arch(start, end, -lift), arch(start, end, lift)]
                path = next((p for p in options if not self._blocked(p)), options[0])
        # The arrowhead is part of boundingRect(): set it before setPath announces the change.
        self._arrow = QPolygonF(
            [tip, QPointF(tip.x() - 9, tip.y() - 4.5), QPointF(tip.x() - 9, tip.y() + 4.5)]
        )
        self.setPath(path)

    def _blocked(self, path: QPainterPath) -> bool:
        scene = self.scene()
        if scene is None:
            return False
        stroker = QPainterPathStroker()
        stroker.setWidth(4)
        return any(
            isinstance(it, LayerItem) and it is not self.src_item and it is not self.dst_item
            for it in scene.items(stroker.createStroke(path))
        )

    def midpoint(self) -> QPointF:
        return self.path().pointAtPercent(0.5)

    def boundingRect(self) -> QRectF:  # Qt override
        return self.shape().boundingRect().united(self._arrow.boundingRect()).adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:  # Qt override
        stroker = QPainterPathStroker()
        stroker.setWidth(14)
        return stroker.createStroke(self.path())

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:  # Qt override
        pal = palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = pal.color(QPalette.ColorRole.Highlight)
        text = pal.color(QPalette.ColorRole.Text)
        base = pal.color(QPalette.ColorRole.Base)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        width = 2.0
        if self.drop_target:
            color, width = accent, 4.0
        elif self.problems:
            color, width = ERROR_COLOR, 2.4
        elif selected:
            color, width = accent, 3.0
        elif self._hover:
            color, width = blend(text, base, 0.2), 2.6
        else:
            color = blend(text, base, 0.5)
        if self.drop_target or selected:
            halo = QPen(with_alpha(accent, 0.25), width + 6)
            halo.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(halo)
            painter.drawPath(self.path())
        pen = QPen(color, width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(color))
        painter.drawPolygon(self._arrow)


def bezier(a: QPointF, b: QPointF) -> QPainterPath:
    """A horizontal S-curve from ``a`` to ``b``; loops around when ``b`` is left of ``a``."""
    path = QPainterPath(a)
    dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


def arch(a: QPointF, b: QPointF, lift: float) -> QPainterPath:
    """From ``a`` to ``b`` over a flat crest ``lift`` above (negative) or below both ends."""
    y = min(a.y(), b.y()) + lift if lift < 0 else max(a.y(), b.y()) + lift
    span = b.x() - a.x()
    r = 30.0 if span < 90 else min(60.0, span / 3)
    path = QPainterPath(a)
    path.cubicTo(
        QPointF(a.x() + r * 0.7, a.y()), QPointF(a.x() + r * 0.3, y), QPointF(a.x() + r, y)
    )
    path.lineTo(QPointF(b.x() - r, y))
    path.cubicTo(QPointF(b.x() - r * 0.3, y), QPointF(b.x() - r * 0.7, b.y()), b)
    return path


class NameEditorItem(QGraphicsTextItem):
    """Inline editor over a block's name: Enter commits, Esc cancels, leaving it commits."""

    committed = Signal(str)
    cancelled = Signal()

    def __init__(self, layer: LayerItem) -> None:
        super().__init__(layer.name, layer)
        self.layer = layer
        self.done = False
        self.setFont(font(1.08, bold=True))
        self.setDefaultTextColor(palette().color(QPalette.ColorRole.Text))
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextEditorInteraction)
        self.setZValue(5)
        nr = layer.name_rect()
        self.setTextWidth(nr.width() + 4)
        self.setPos(nr.left() - 4, nr.center().y() - self.boundingRect().height() / 2)

    def text(self) -> str:
        return self.toPlainText().strip()

    def finish(self, commit: bool) -> None:
        if self.done:
            return
        self.done = True
        if commit:
            self.committed.emit(self.text())
        else:
            self.cancelled.emit()

    def keyPressEvent(self, event) -> None:  # Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish(True)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.finish(False)
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # Qt override
        super().focusOutEvent(event)
        self.finish(True)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:  # Qt override
        pal = palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 1.4))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        # The text item draws its own dashed focus frame; drop the state to keep our frame only.
        opt = QStyleOptionGraphicsItem(option)
        opt.state &= ~(QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_HasFocus)
        super().paint(painter, opt, widget)
