"""The Backprop view: the network drawn neuron by neuron, coloured by the numbers of the phase
being shown.

Layers of up to :data:`NEURON_MAX` units are drawn unit by unit (as pills with their value for
up to :data:`PILL_MAX` units, as dots above that); larger ones as heatmaps (coloured with NumPy,
so a Flatten of hundreds of units stays fast). A layer whose output is an image (height, width,
channels), and the model input when it is one, is drawn as feature maps, one image per channel,
and a layer with a ``filter_weight`` shows its filters in the update (:mod:`.maps`); a map's
pixel picks the unit (h, w, c), a filter's pixel the weight entry (``param_pinned``). The wheel
zooms about the mouse, dragging pans. During the forward
pass the neurons show their activations ``a`` (the data flows left to right), during the
backward pass ``δ = ∂L/∂z`` (or ∂L/∂a where a layer has no z; the error flows right to left),
and during the update the edges show each weight's change. Colours are a symmetric diverging
map per layer (red negative, blue positive, as in the live views), its scale in the layer's
header. Hovering a neuron or an edge shows its exact values; clicking pins it (signals
``neuron_pinned`` and ``weight_pinned``), and the math panel explains it.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from designer.canvas.paint import HoverHighlight, blend, font, palette, with_alpha
from designer.panels.layer_icons import layer_color
from designer.stepper.colors import diverging, diverging_rgb32, neutral, text_on
from designer.stepper.maps import MapsItem, to_image
from engine.formula import exact_text, fmt, one_based
from engine.graph import INPUT
from engine.layers import INPUT_CLASS_NAME

PILL_MAX = 12
NEURON_MAX = 32
PILL_W, PILL_H, PILL_GAP = 84.0, 28.0, 12.0
PILL_PAD = 8.0
PILL_FONT = 0.95
DOT_R, DOT_GAP = 9.0, 6.0
CELL = 9.0
COL_GAP = 210.0
EDGE_ROOM = 110.0
BUNDLE_GAP = 120.0
BUNDLE_ROOM = 56.0
CAPTION_GAP = 24.0
HEADER_H = 64.0
MAX_ZOOM = 1.6
# The widest number a pill shows at full precision (fmt's 4 digits, a two-digit exponent);
# pills are made this wide, and a rarer wider one (a three-digit exponent) drops digits.
WIDEST_VALUE = "−8.888×10⁻⁸⁸"
# The widest "colours ±…" caption line, so that columns are spaced for any phase's scale.
WIDEST_SCALE = "colours ±8.888×10⁻⁸⁸"
CAPTION_MAX_W = 240.0


def _font(scale: float = 1.0, bold: bool = False) -> QFont:
    return font(scale, bold, unsized=10.0)


def _width(text: str, scale: float = 1.0, bold: bool = False) -> float:
    return QFontMetricsF(_font(scale, bold)).horizontalAdvance(text)


def pill_width() -> float:
    """The width of a value pill: room for :data:`WIDEST_VALUE` in the pill font."""
    return max(PILL_W, math.ceil(_width(WIDEST_VALUE, PILL_FONT)) + 2 * PILL_PAD)


def fitted_value(value: float, width: float) -> str:
    """``value`` as :func:`fmt` writes it, with fewer significant digits when it would not
    fit in ``width`` in the pill font: a number is shortened, never cut (the tooltip keeps
    the exact value)."""
    metrics = QFontMetricsF(_font(PILL_FONT))
    text = fmt(value)
    for digits in (3, 2, 1):
        if metrics.horizontalAdvance(text) <= width:
            break
        text = fmt(value, digits)
    return text


def _values_row(arr, sample: int) -> np.ndarray:
    a = np.asarray(arr)
    return a[min(sample, len(a) - 1)].reshape(-1).astype(np.float64)


def _scale(values: np.ndarray | None) -> float:
    if values is None or values.size == 0:
        return 1.0
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    return m if m > 0 else 1.0


# --------------------------------------------------------------------------------- items
class NeuronItem(HoverHighlight, QGraphicsItem):
    """One unit: a pill with its value (small layers) or a dot (up to 32 units)."""

    def __init__(
        self,
        view: BackpropView,
        layer: str,
        unit: int,
        pill: bool,
        hue: QColor,
        width: float = PILL_W,
    ):
        super().__init__()
        self.view = view
        self.layer = layer
        self.unit = unit
        self.pill = pill
        self.pill_w = width
        self.hue = hue
        self.value: float | None = None
        self.scale = 1.0
        self.faded = False
        self.pinned = False
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(3)

    @property
    def half_width(self) -> float:
        return self.pill_w / 2 if self.pill else DOT_R

    def boundingRect(self) -> QRectF:  # Qt override
        w = self.half_width + 4
        h = (PILL_H / 2 if self.pill else DOT_R) + 4
        return QRectF(-w, -h, 2 * w, 2 * h)

    def shape(self) -> QPainterPath:  # Qt override
        path = QPainterPath()
        if self.pill:
            path.addRoundedRect(
                QRectF(-self.pill_w / 2, -PILL_H / 2, self.pill_w, PILL_H), PILL_H / 2, PILL_H / 2
            )
        else:
            path.addEllipse(QPointF(0, 0), DOT_R, DOT_R)
        return path

    def text_rect(self) -> QRectF:
        """Where the value is written (item coordinates): the pill less its padding."""
        return QRectF(-self.pill_w / 2 + PILL_PAD, -PILL_H / 2, self.pill_w - 2 * PILL_PAD, PILL_H)

    def text(self) -> str:
        if self.value is None:
            return ""
        return fitted_value(self.value, self.text_rect().width())

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:  # Qt
        pal = palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = diverging(self.value, self.scale) if self.value is not None else neutral()
        if self.faded:
            fill = blend(fill, neutral(), 0.6)
        accent = pal.color(QPalette.ColorRole.Highlight)
        if self.pinned:
            border = QPen(accent, 3.0)
        elif self._hover:
            border = QPen(accent, 2.0)
        else:
            border = QPen(blend(self.hue, pal.color(QPalette.ColorRole.Text), 0.25), 1.3)
        painter.setPen(border)
        painter.setBrush(fill)
        painter.drawPath(self.shape())
        if self.pill and self.value is not None:
            color = text_on(fill)
            if self.faded:
                color = blend(color, fill, 0.45)
            painter.setPen(color)
            painter.setFont(_font(PILL_FONT))
            painter.drawText(self.text_rect(), Qt.AlignmentFlag.AlignCenter, self.text())

    def mousePressEvent(self, event) -> None:  # Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.pin_neuron(self.layer, self.unit)
            event.accept()
            return
        super().mousePressEvent(event)


class HeatmapItem(QGraphicsItem):
    """A large layer: one cell per unit, in the layer's own 2-D shape when it has one."""

    def __init__(self, view: BackpropView, layer: str, shape: tuple[int, ...], hue: QColor):
        super().__init__()
        self.view = view
        self.layer = layer
        self.n = int(np.prod(shape))
        if len(shape) >= 2:
            self.rows, self.cols = int(shape[0]), int(np.prod(shape[1:]))
        else:
            self.cols = int(math.ceil(math.sqrt(self.n)))
            self.rows = int(math.ceil(self.n / self.cols))
        self.cell = CELL if max(self.rows, self.cols) <= 40 else max(2.0, 360.0 / self.rows)
        self.hue = hue
        self.values: np.ndarray | None = None
        self.scale = 1.0
        self.faded = False
        self.pinned_unit: int | None = None
        self.hover_unit: int | None = None
        self._image: QImage | None = None
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(3)

    @property
    def half_width(self) -> float:
        return self.cols * self.cell / 2

    @property
    def half_height(self) -> float:
        return self.rows * self.cell / 2

    def boundingRect(self) -> QRectF:  # Qt override
        return QRectF(
            -self.half_width - 3, -self.half_height - 3, 2 * self.half_width + 6,
            2 * self.half_height + 6,
        )  # fmt: skip

    def set_values(self, values: np.ndarray | None, scale: float, faded: bool) -> None:
        self.values, self.scale, self.faded = values, scale, faded
        # Coloured with NumPy, all units at once (a Flatten of hundreds of units stays fast).
        fill = neutral()
        pix = np.full(self.rows * self.cols, 0xFF000000 | (fill.rgb() & 0xFFFFFF), np.uint32)
        if values is not None:
            k = min(self.n, values.size)
            pix[:k] = diverging_rgb32(np.asarray(values[:k]), scale, 0.6 if faded else 0.0)
        self._image = to_image(pix.reshape(self.rows, self.cols))
        self.update()

    def unit_at(self, pos: QPointF) -> int | None:
        col = int((pos.x() + self.half_width) // self.cell)
        row = int((pos.y() + self.half_height) // self.cell)
        if 0 <= col < self.cols and 0 <= row < self.rows:
            u = row * self.cols + col
            return u if u < self.n else None
        return None

    def unit_center(self, unit: int) -> QPointF:
        return QPointF(
            -self.half_width + (unit % self.cols + 0.5) * self.cell,
            -self.half_height + (unit // self.cols + 0.5) * self.cell,
        )

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:  # Qt
        rect = QRectF(
            -self.half_width, -self.half_height, 2 * self.half_width, 2 * self.half_height
        )
        if self._image is not None:
            painter.drawImage(rect, self._image)
        pal = palette()
        painter.setPen(QPen(blend(self.hue, pal.color(QPalette.ColorRole.Text), 0.25), 1.3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        accent = pal.color(QPalette.ColorRole.Highlight)
        for unit, width in ((self.hover_unit, 1.5), (self.pinned_unit, 2.5)):
            if unit is not None:
                c = self.unit_center(unit)
                painter.setPen(QPen(accent, width))
                h = self.cell / 2 + 1
                painter.drawRect(QRectF(c.x() - h, c.y() - h, 2 * h, 2 * h))

    def hoverMoveEvent(self, event) -> None:  # Qt override
        unit = self.unit_at(event.pos())
        if unit != self.hover_unit:
            self.hover_unit = unit
            self.setToolTip(self.view.neuron_tooltip(self.layer, unit) if unit is not None else "")
            self.update()

    def hoverLeaveEvent(self, event) -> None:  # Qt override
        self.hover_unit = None
        self.update()

    def mousePressEvent(self, event) -> None:  # Qt override
        unit = self.unit_at(event.pos())
        if event.button() == Qt.MouseButton.LeftButton and unit is not None:
            self.view.pin_neuron(self.layer, unit)
            event.accept()
            return
        super().mousePressEvent(event)


class EdgeItem(QGraphicsPathItem):
    """A connection. ``weight`` = (layer, i, j) for a Dense kernel entry (hover shows it, a
    click pins it); None for an identity link or a bundle between large layers."""

    def __init__(self, view: BackpropView, a: QPointF, b: QPointF, weight=None, bundle=False):
        super().__init__()
        self.view = view
        self.weight = weight
        self.bundle = bundle
        self.value: float | None = None
        self.mode = "plain"
        self.pinned = False
        path = QPainterPath(a)
        dx = (b.x() - a.x()) * 0.45
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.setPath(path)
        self.setZValue(1)
        if weight is not None:
            self.setAcceptHoverEvents(True)
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def shape(self) -> QPainterPath:  # Qt override
        stroker = QPainterPathStroker()
        stroker.setWidth(max(7.0, self.pen().widthF() + 4))
        return stroker.createStroke(self.path())

    def hoverEnterEvent(self, event) -> None:  # Qt override
        if self.weight is not None:
            self.setToolTip(self.view.weight_tooltip(*self.weight))
        self.setZValue(2)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # Qt override
        self.setZValue(1.5 if self.pinned else 1)
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event) -> None:  # Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.weight is not None:
            self.view.pin_weight(*self.weight)
            event.accept()
            return
        super().mousePressEvent(event)


class CaptionItem(QGraphicsSimpleTextItem):
    """Lines of text, each centred on the widest (a column's caption under its name)."""

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:  # Qt
        painter.setFont(self.font())
        painter.setPen(self.brush().color())
        metrics = QFontMetricsF(self.font())
        width = self.boundingRect().width()
        y = 0.0
        for line in self.text().split("\n"):
            rect = QRectF(0.0, y, width, metrics.height())
            painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, line)
            y += metrics.lineSpacing()


class _Column:
    """Where one layer is drawn."""

    def __init__(self, name: str, class_name: str, shape: tuple[int, ...], x: float, y: float):
        self.name = name
        self.class_name = class_name
        self.shape = shape
        self.n = int(np.prod(shape))
        self.x, self.y = x, y
        self.neurons: list[NeuronItem] = []
        self.heatmap: HeatmapItem | None = None
        # An image (height, width, channels) is drawn as feature maps (designer.stepper.maps).
        self.image = len(shape) == 3
        self.maps: MapsItem | None = None
        self.header: QGraphicsSimpleTextItem | None = None
        self.legend: CaptionItem | None = None
        self.highlight: QGraphicsRectItem | None = None
        self.pill_w = PILL_W
        self.caption_w = 0.0  # the widest its caption can get, whatever the phase

    @property
    def small(self) -> bool:
        return not self.image and self.n <= NEURON_MAX

    @property
    def pill(self) -> bool:
        return self.small and self.n <= PILL_MAX

    @property
    def block(self):
        """The item that draws a large layer: its feature maps or its heatmap."""
        return self.maps if self.maps is not None else self.heatmap

    def unit_offset(self, u: int) -> float:
        step = (PILL_H + PILL_GAP) if self.pill else (2 * DOT_R + DOT_GAP)
        return (u - (self.n - 1) / 2) * step

    def half_height(self) -> float:
        if self.small:
            step = (PILL_H + PILL_GAP) if self.pill else (2 * DOT_R + DOT_GAP)
            return (self.n - 1) / 2 * step + (PILL_H / 2 if self.pill else DOT_R)
        assert self.block is not None
        return self.block.half_height

    def half_width(self) -> float:
        if self.small:
            return self.pill_w / 2 if self.pill else DOT_R
        assert self.block is not None
        return self.block.half_width

    def port(self, u: int | None, side: str) -> QPointF:
        dx = self.half_width() if side == "out" else -self.half_width()
        if u is None or not self.small:
            return QPointF(self.x + dx, self.y)
        return QPointF(self.x + dx, self.y + self.unit_offset(u))

    def extent(self) -> float:
        """Half the width the column takes with its caption."""
        return max(self.half_width(), self.caption_w / 2)


# --------------------------------------------------------------------------------- the view
class BackpropView(QGraphicsView):
    """The network of a :class:`~engine.stepper.StepSession`, coloured by the phase shown.

    Call :meth:`set_session` once per session and :meth:`refresh` after every move.

    Signals
    -------
    neuron_pinned(str, int) : a neuron was clicked (layer or "input", unit; a feature map's
        pixel (h, w, c) gives its flat unit).
    weight_pinned(str, int, int) : an edge was clicked (layer, i, j).
    param_pinned(str, str, object) : a weight entry of any shape was clicked (layer, weight
        name, index tuple): a filter's pixel.
    """

    neuron_pinned = Signal(str, int)
    weight_pinned = Signal(str, int, int)
    param_pinned = Signal(str, str, object)
    next_requested = Signal()
    previous_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backprop_view")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.session = None
        self.sample = 0
        self.pinned: tuple | None = None
        self.active_layer: str | None = None
        self.columns: dict[str, _Column] = {}
        self.edges: dict[str, list[EdgeItem]] = {}
        self.weight_edges: dict[tuple[str, int, int], EdgeItem] = {}
        self._edge_scales: dict[str, float] = {}
        self.edge_labels: list[QGraphicsRectItem] = []
        self.banner: QGraphicsSimpleTextItem | None = None
        self.loss_box: QGraphicsRectItem | None = None
        self.loss_text: QGraphicsSimpleTextItem | None = None
        self.header_h = HEADER_H
        self.placeholder = self._scene.addSimpleText(
            "Turn on Backprop mode on a valid project to step through a training step."
        )

    # ------------------------------------------------------------------ building
    def set_session(self, session) -> None:
        """Draw ``session``'s network (rebuilds the scene)."""
        self.session = session
        self.sample = 0
        self.pinned = None
        self._build()
        self.refresh()
        self.fit()

    def _build(self) -> None:
        self._scene.clear()
        self.edge_labels = []
        self.columns, self.edges, self.weight_edges = {}, {}, {}
        self.placeholder = None
        s = self.session
        if s is None:
            return
        graph = s.graph
        nodes = [n for n in graph.nodes]
        depth: dict[str, int] = {INPUT: 0}
        for n in nodes:
            depth[n.name] = 1 + max(depth[src] for src in n.inbound)
        by_depth: dict[int, list[tuple[str, str, tuple[int, ...]]]] = {}
        by_depth.setdefault(0, []).append((INPUT, INPUT_CLASS_NAME, tuple(graph.input_shape)))
        for n in nodes:
            by_depth.setdefault(depth[n.name], []).append((n.name, n.class_name, n.output_shape))
        pill_w = pill_width()
        head = QFontMetricsF(_font(1.05, bold=True))
        sub = QFontMetricsF(_font(0.85))
        # The caption: the name, then three lines (type, quantity shown, colour scale).
        self.header_h = head.height() + 2 + 3 * sub.lineSpacing() + 8
        row_gap = self.header_h + 22
        groups: list[list[_Column]] = []
        for _d, entries in sorted(by_depth.items()):
            cols = []
            for name, cls, shape in entries:
                col = _Column(name, cls, shape, 0.0, 0.0)
                col.pill_w = pill_w
                hue = layer_color(cls)
                if col.image:
                    fshape, fname = self._filter_of(name)
                    col.maps = MapsItem(self, name, shape, hue, fshape, fname)
                    self._scene.addItem(col.maps)
                elif col.small:
                    for u in range(col.n):
                        item = NeuronItem(self, name, u, col.pill, hue, pill_w)
                        col.neurons.append(item)
                        self._scene.addItem(item)
                else:
                    col.heatmap = HeatmapItem(self, name, shape, hue)
                    self._scene.addItem(col.heatmap)
                lines = [self._subtitle(col), "shows δ = ∂L/∂z", "shows ∂L/∂a", WIDEST_SCALE]
                if col.maps is not None and col.maps.filter_weight is not None:
                    lines.append("shows filters w, Δw")
                widest = max(
                    head.horizontalAdvance(name), *(sub.horizontalAdvance(t) for t in lines)
                )
                col.caption_w = min(CAPTION_MAX_W, math.ceil(widest))
                cols.append(col)
            groups.append(cols)
        # Columns far enough apart that neither their captions nor their units meet, with
        # room between them for the edges to read.
        x = 0.0
        for d, cols in enumerate(groups):
            if d:
                prev = groups[d - 1]
                # Edges one by one need room to read; a bundle into or out of a block (feature
                # maps, heatmaps) needs less, and the columns of a CNN then fit closer.
                bundles = not any(c.small for c in prev) or not any(c.small for c in cols)
                x += max(
                    BUNDLE_GAP if bundles else COL_GAP,
                    max(c.extent() for c in prev) + max(c.extent() for c in cols) + CAPTION_GAP,
                    max(c.half_width() for c in prev)
                    + max(c.half_width() for c in cols)
                    + (BUNDLE_ROOM if bundles else EDGE_ROOM),
                )
            total = sum(2 * c.half_height() for c in cols) + row_gap * (len(cols) - 1)
            y = -total / 2
            for col in cols:
                col.x = x
                col.y = y + col.half_height()
                y += 2 * col.half_height() + row_gap
                for u, item in enumerate(col.neurons):
                    item.setPos(col.x, col.y + col.unit_offset(u))
                if col.block is not None:
                    col.block.setPos(col.x, col.y)
                self.columns[col.name] = col
        for col in self.columns.values():
            self._add_header(col)
        for n in nodes:
            self._add_edges(n)
        self._add_loss_box()
        accent = palette().color(QPalette.ColorRole.Highlight)
        self.banner = self._scene.addSimpleText("", _font(1.25, bold=True))
        self.banner.setBrush(accent)

    def _filter_of(self, layer: str) -> tuple[tuple[int, ...] | None, str | None]:
        """(shape, name) of ``layer``'s filter weight (the layer type's ``filter_weight``,
        shaped (rows, columns, input channels, filters)); (None, None) when it has none."""
        if layer == INPUT:
            return None, None
        node = self.session.graph.by_name[layer]
        name = node.layer_type.filter_weight
        if not name:
            return None, None
        for w in node.weights:
            if w.name == name and len(w.shape) == 4:
                return tuple(w.shape), name
        return None, None

    def _add_header(self, col: _Column) -> None:
        pal = palette()
        text = pal.color(QPalette.ColorRole.Text)
        top = col.y - col.half_height()
        hl = QGraphicsRectItem(
            QRectF(col.x - col.half_width() - 14, top - self.header_h - 6,
                   2 * col.half_width() + 28, 2 * col.half_height() + self.header_h + 20)
        )  # fmt: skip
        accent = pal.color(QPalette.ColorRole.Highlight)
        hl.setPen(QPen(accent, 2.0, Qt.PenStyle.DashLine))
        hl.setBrush(with_alpha(accent, 0.08))
        hl.setZValue(0)
        hl.setVisible(False)
        self._scene.addItem(hl)
        col.highlight = hl
        title = col.name if col.name != INPUT else "input"
        head_font = _font(1.05, bold=True)
        elided = QFontMetricsF(head_font).elidedText(
            title, Qt.TextElideMode.ElideMiddle, col.caption_w
        )
        header = self._scene.addSimpleText(elided, head_font)
        header.setBrush(text)
        if elided != title:
            header.setToolTip(title)
        legend = CaptionItem(self._legend_text(col, "", None))
        legend.setFont(_font(0.85))
        self._scene.addItem(legend)
        legend.setBrush(blend(text, pal.color(QPalette.ColorRole.Base), 0.35))
        legend_dy = QFontMetricsF(head_font).height() + 2
        for item, dy in ((header, 0.0), (legend, legend_dy)):
            w = item.boundingRect().width()
            item.setPos(col.x - w / 2, top - self.header_h + dy)
            item.setZValue(4)
        col.header = header
        col.legend = legend

    def _legend_text(self, col: _Column, quantity: str, scale: float | None) -> str:
        """The caption under a column's name: its type, what it shows, its colour scale, one
        per line (so that captions stay narrow), each elided to the column's caption width."""
        metrics = QFontMetricsF(_font(0.85))
        width = col.caption_w or CAPTION_MAX_W
        lines = [self._subtitle(col)]
        if quantity and scale is not None:
            names = {
                "x": "x",
                "a": "a",
                "δ": "δ = ∂L/∂z",
                "∂L/∂a": "∂L/∂a",
                "filters": "filters w, Δw",
            }
            lines += [f"shows {names[quantity]}", f"colours ±{fmt(scale)}"]
        return "\n".join(metrics.elidedText(t, Qt.TextElideMode.ElideRight, width) for t in lines)

    def _subtitle(self, col: _Column) -> str:
        units = "×".join(str(d) for d in col.shape)
        if col.name == INPUT:
            return f"{units} {'image' if col.image else 'features'}"
        node = self.session.graph.by_name[col.name]
        act = f" · {node.activation}" if node.activation and node.activation != "linear" else ""
        return f"{node.class_name}{act} · {units}"

    def _add_edges(self, node) -> None:
        dst = self.columns[node.name]
        items: list[EdgeItem] = []
        for k, src_name in enumerate(node.inbound):
            src = self.columns[src_name]
            both_small = src.small and dst.small
            fully_connected = node.layer_type.fully_connected
            if fully_connected and both_small and len(node.input_shapes[0]) == 1:
                for i in range(src.n):
                    for j in range(dst.n):
                        e = EdgeItem(self, src.port(i, "out"), dst.port(j, "in"), (node.name, i, j))
                        self.weight_edges[(node.name, i, j)] = e
                        items.append(e)
            elif both_small and not fully_connected:
                offset = node.layer_type.input_unit_offset(node, k)
                for u in range(src.n):
                    v = u + offset
                    if v < dst.n:
                        items.append(EdgeItem(self, src.port(u, "out"), dst.port(v, "in")))
            else:
                items.append(
                    EdgeItem(self, src.port(None, "out"), dst.port(None, "in"), bundle=True)
                )
        for e in items:
            self._scene.addItem(e)
        self.edges[node.name] = items

    def _add_loss_box(self) -> None:
        s = self.session
        out = self.columns[s.graph.output]
        x = out.x + out.extent() + 40
        pal = palette()
        box = QGraphicsRectItem(QRectF(x, out.y - 60, 190, 120))
        box.setPen(
            QPen(
                blend(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.5),
                1.3,
            )
        )
        box.setBrush(pal.color(QPalette.ColorRole.Base))
        box.setZValue(2)
        self._scene.addItem(box)
        txt = QGraphicsSimpleTextItem("")
        txt.setFont(_font(0.95))
        txt.setBrush(pal.color(QPalette.ColorRole.Text))
        txt.setParentItem(box)
        txt.setPos(x + 10, out.y - 52)
        txt.setZValue(3)
        link = EdgeItem(self, out.port(None, "out"), QPointF(x, out.y), bundle=True)
        self._scene.addItem(link)
        self.edges["(loss)"] = [link]
        self.loss_box, self.loss_text = box, txt

    # ------------------------------------------------------------------ state
    def set_sample(self, sample: int) -> None:
        self.sample = max(0, int(sample))
        self.refresh()

    def set_pinned(self, pinned: tuple | None) -> None:
        """``("neuron", layer, unit)``, ``("weight", layer, i, j)``, ``("param", layer,
        weight, index)`` or None."""
        self.pinned = pinned
        self._show_pins()

    def pin_neuron(self, layer: str, unit: int) -> None:
        self.set_pinned(("neuron", layer, unit))
        self.neuron_pinned.emit(layer, unit)

    def pin_weight(self, layer: str, i: int, j: int) -> None:
        self.set_pinned(("weight", layer, i, j))
        self.weight_pinned.emit(layer, i, j)

    def pin_param(self, layer: str, weight: str, index) -> None:
        index = tuple(int(k) for k in index)
        self.set_pinned(("param", layer, weight, index))
        self.param_pinned.emit(layer, weight, index)

    def _show_pins(self) -> None:
        p = self.pinned
        for col in self.columns.values():
            for item in col.neurons:
                on = p is not None and p[0] == "neuron" and p[1] == col.name and p[2] == item.unit
                if item.pinned != on:
                    item.pinned = on
                    item.update()
            if col.block is not None:
                unit = p[2] if p is not None and p[0] == "neuron" and p[1] == col.name else None
                col.block.pinned_unit = unit
                col.block.update()
            if col.maps is not None:
                on = p is not None and p[0] == "param" and p[1] == col.name
                col.maps.pinned_weight = (
                    tuple(p[3]) if on and p[2] == col.maps.filter_weight else None
                )
        for key, e in self.weight_edges.items():
            on = p is not None and p[0] == "weight" and tuple(p[1:]) == key
            if e.pinned != on:
                e.pinned = on
                self._style_edge(e, e.value, self._edge_scales.get(key[0], 1.0), key[0])
        self._label_pinned_edges()

    _MODE_NAMES = {"flow": "w·x", "grad": "∂L/∂w", "update": "Δw"}

    def _label_pinned_edges(self) -> None:
        """The numbers on the edges that the math panel talks about: those into a pinned
        neuron (up to 12), or the pinned weight."""
        for item in self.edge_labels:
            self._scene.removeItem(item)
        self.edge_labels = []
        p = self.pinned
        if p is None:
            return
        if p[0] == "weight":
            edges = [self.weight_edges.get(tuple(p[1:]))]
        else:
            edges = [e for (layer, _i, j), e in self.weight_edges.items()
                     if layer == p[1] and j == p[2]]  # fmt: skip
            if len(edges) > PILL_MAX:
                return
        pal = palette()
        for e in edges:
            if e is None or e.value is None:
                continue
            text = QGraphicsSimpleTextItem(f"{self._MODE_NAMES.get(e.mode, '')} {fmt(e.value)}")
            text.setFont(_font(0.78))
            text.setBrush(pal.color(QPalette.ColorRole.Text))
            r = text.boundingRect()
            box = QGraphicsRectItem(QRectF(-4, -2, r.width() + 8, r.height() + 4))
            box.setBrush(with_alpha(pal.color(QPalette.ColorRole.Base), 0.92))
            box.setPen(
                QPen(
                    blend(
                        pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.7
                    ),
                    0.8,
                )
            )
            text.setParentItem(box)
            mid = e.path().pointAtPercent(0.3)
            box.setPos(mid.x() - r.width() / 2, mid.y() - r.height() / 2)
            box.setZValue(5)
            self._scene.addItem(box)
            self.edge_labels.append(box)

    # ------------------------------------------------------------------ the phase shown
    def neuron(self, layer: str, unit: int) -> NeuronItem | None:
        col = self.columns.get(layer)
        return col.neurons[unit] if col is not None and unit < len(col.neurons) else None

    def edge(self, layer: str, i: int, j: int) -> EdgeItem | None:
        return self.weight_edges.get((layer, i, j))

    def layer_values(self, layer: str) -> tuple[str, np.ndarray | None]:
        """What a layer's neurons show now for the chosen sample: (quantity, values)."""
        s = self.session
        if layer == INPUT:
            return "x", _values_row(s.batch_x, self.sample)
        kind = self.phase_kind()
        bwd = s.event("backward", layer)
        if kind in ("backward", "update") and bwd is not None:
            if "grad_z" in bwd.data:
                return "δ", _values_row(bwd.data["grad_z"], self.sample)
            return "∂L/∂a", _values_row(bwd.data["grad_a"], self.sample)
        fwd = s.event("forward", layer)
        if fwd is not None:
            return "a", _values_row(fwd.data["a"], self.sample)
        return "", None

    def phase_kind(self) -> str:
        s = self.session
        if s is None or s.index < 0:
            return "ready"
        return s.plan()[s.index][0]

    def refresh(self) -> None:
        """Recolour everything for the session's current phase and the chosen sample."""
        s = self.session
        if s is None or not self.columns:
            return
        self.sample = min(self.sample, len(s.batch_x) - 1)
        kind = self.phase_kind()
        plan = s.plan()
        active = None
        if s.index >= 0:
            active = plan[s.index][1] or s.graph.output
        self.active_layer = active
        for col in self.columns.values():
            quantity, values = self.layer_values(col.name)
            faded = kind in ("backward", "update") and col.name != INPUT and quantity == "a"
            scale = _scale(values)
            for item in col.neurons:
                item.value = None if values is None else float(values[item.unit])
                item.scale, item.faded = scale, faded
                item.setToolTip(self.neuron_tooltip(col.name, item.unit))
                item.update()
            if col.heatmap is not None:
                col.heatmap.set_values(values, scale, faded)
            if col.maps is not None:
                col.maps.set_values(values, scale, faded)
                # In the update its filters (before, after, Δw) take the maps' place.
                filters = kind == "update" and col.maps.filter_weight is not None
                col.maps.set_showing("filters" if filters else "maps")
                if filters:
                    quantity = "filters"
                if col.maps.filter_weight is not None:
                    fw = col.maps.filter_weight
                    upd = s.event("update", col.name)
                    col.maps.set_filters(
                        s.weights_before[col.name][fw],
                        upd.data["after"][fw] if upd is not None else None,
                    )
            if quantity == "filters":
                scale = col.maps.filter_scales[0]
            col.legend.setText(
                self._legend_text(col, quantity, scale if values is not None else None)
            )
            w = col.legend.boundingRect().width()
            col.legend.setPos(col.x - w / 2, col.legend.pos().y())
            half = (
                max(
                    col.half_width(),
                    col.legend.boundingRect().width() / 2,
                    col.header.boundingRect().width() / 2,
                )
                + 14
            )
            top = col.y - col.half_height() - self.header_h - 6
            col.highlight.setRect(
                QRectF(col.x - half, top, 2 * half, 2 * col.half_height() + self.header_h + 20)
            )
            col.highlight.setVisible(col.name == active and kind != "loss")
        self._refresh_edges(kind, active)
        self._refresh_loss(kind)
        self._refresh_banner(kind, active)
        self._show_pins()
        self._scene.setSceneRect(self._scene.itemsBoundingRect().adjusted(-30, -30, 30, 30))
        self.viewport().update()

    def _refresh_edges(self, kind: str, active: str | None) -> None:
        s = self.session
        self._edge_scales = {}
        for node in s.graph.nodes:
            name = node.name
            upd = s.event("update", name)
            bwd = s.event("backward", name)
            fwd = s.event("forward", name)
            mode, values = "plain", None
            if node.layer_type.fully_connected and (node.name, 0, 0) in self.weight_edges:
                if kind == "update" and upd is not None:
                    mode = "update"
                    values = upd.data["after"]["kernel"].astype(np.float64) - upd.data["before"][
                        "kernel"
                    ].astype(np.float64)
                elif kind in ("backward", "update") and bwd is not None:
                    mode, values = "grad", np.asarray(bwd.data["grad_kernel"], np.float64)
                elif fwd is not None and kind in ("forward", "loss") and name == active:
                    x = _values_row(fwd.data["inputs"], self.sample)
                    w = s.weights_before[name]["kernel"].astype(np.float64)
                    mode, values = "flow", w * x[:, None]
            scale = _scale(values)
            self._edge_scales[name] = scale
            for e in self.edges.get(name, []):
                if e.weight is not None and values is not None:
                    e.value = float(values[e.weight[1], e.weight[2]])
                else:
                    e.value = None
                e.mode = mode
                self._style_edge(e, e.value, scale, name, active)
        for e in self.edges.get("(loss)", []):
            self._style_edge(e, None, 1.0, "(loss)", active)

    def _style_edge(self, e: EdgeItem, value, scale: float, layer: str, active=None) -> None:
        pal = palette()
        text = pal.color(QPalette.ColorRole.Text)
        base = pal.color(QPalette.ColorRole.Base)
        active = self.active_layer if active is None else active
        if value is not None:
            t = min(1.0, abs(value) / scale) if scale > 0 else 0.0
            color = diverging(value, scale)
            width = 0.8 + 4.2 * t
            color.setAlphaF(0.35 + 0.65 * t)
        else:
            on = layer == active
            color = blend(text, base, 0.55 if on else 0.8)
            width = 6.0 if e.bundle else (1.4 if on else 0.9)
            if e.bundle:
                color = with_alpha(color, 0.5)
        if e.pinned:
            color = pal.color(QPalette.ColorRole.Highlight)
            width = max(width, 3.5)
            e.setZValue(1.5)
        pen = QPen(color, width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        e.setPen(pen)

    def _refresh_loss(self, kind: str) -> None:
        s = self.session
        loss_ev = s.event("loss")
        name = "perceptron error" if s.perceptron else (s.loss_name or "")
        lines = [f"Loss · {name}"]
        if loss_ev is not None:
            targets = np.asarray(loss_ev.data["targets"])
            row = targets[min(self.sample, len(targets) - 1)].reshape(-1)
            shown = ", ".join(fmt(v) for v in row[:6]) + (" …" if row.size > 6 else "")
            lines.append(f"target y = {shown}")
            label = "misclassified" if s.perceptron else "L"
            lines.append(f"{label} = {fmt(loss_ev.data['value'])}")
            lines.append(f"(batch of {len(s.batch_x)})")
        else:
            lines.append("not computed yet")
        self.loss_text.setText("\n".join(lines))
        pal = palette()
        accent = pal.color(QPalette.ColorRole.Highlight)
        on = kind == "loss"
        self.loss_box.setPen(
            QPen(accent, 2.5)
            if on
            else QPen(
                blend(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.5),
                1.3,
            )
        )
        self.loss_box.setBrush(
            with_alpha(accent, 0.1) if on else QBrush(pal.color(QPalette.ColorRole.Base))
        )
        r = self.loss_text.boundingRect()
        rect = self.loss_box.rect()
        self.loss_box.setRect(
            QRectF(rect.x(), rect.y(), max(190.0, r.width() + 20), r.height() + 16)
        )

    def _refresh_banner(self, kind: str, active: str | None) -> None:
        s = self.session
        step = f"Step {s.step_number}"
        texts = {
            "ready": f"{step} · the batch is loaded: press Next phase to start the forward pass",
            "forward": f"{step} · Forward pass through '{active}': data flows left to right  →",
            "loss": f"{step} · Loss: compare the output with the target",
            "backward": f"{step} · Backward pass through '{active}': the error flows right to left"
            "  ←",
            "update": f"{step} · Update of '{active}': edges show each weight's change Δw",
        }
        if kind == "update" and self._filter_of(active)[0] is not None:
            texts["update"] = (
                f"{step} · Update of '{active}': its filters before and after, and their change Δw"
            )
        text = texts[kind]
        if kind == "update" and s.committed and s.at_end:
            text += " (applied)"
        self.banner.setText(text)
        top = min((c.y - c.half_height() for c in self.columns.values()), default=0.0)
        left = min((c.x - c.half_width() for c in self.columns.values()), default=0.0)
        self.banner.setPos(left - 10, top - self.header_h - 52)

    # ------------------------------------------------------------------ tooltips
    def neuron_tooltip(self, layer: str, unit: int) -> str:
        s = self.session
        if s is None:
            return ""
        sample = self.sample
        if layer == INPUT:
            v = np.asarray(s.batch_x)[sample].reshape(-1)[unit]
            where = self._unit_text(tuple(s.graph.input_shape), unit)
            return f"input {where} (sample {sample + 1})\nx = {exact_text(v)}"
        shape = tuple(s.graph.by_name[layer].output_shape)
        lines = [f"{layer} · {self._unit_text(shape, unit)} (sample {sample + 1})"]
        fwd = s.event("forward", layer)
        if fwd is not None:
            for key, label in (("z", "z"), ("a", "a"), ("mask", "dropout mask m")):
                if key in fwd.data:
                    v = np.asarray(fwd.data[key])[sample].reshape(-1)[unit]
                    lines.append(f"{label} = {exact_text(v)}")
        bwd = s.event("backward", layer)
        if bwd is not None:
            for key, label in (("grad_a", "∂L/∂a"), ("grad_z", "δ = ∂L/∂z")):
                if key in bwd.data:
                    v = np.asarray(bwd.data[key])[sample].reshape(-1)[unit]
                    lines.append(f"{label} = {exact_text(v)}")
            if "grad_bias" in bwd.data:
                v = np.asarray(bwd.data["grad_bias"]).reshape(-1)[unit % bwd.data["grad_bias"].size]
                lines.append(f"∂L/∂b = {exact_text(v)} (summed over the batch)")
        upd = s.event("update", layer)
        if upd is not None and "bias" in upd.data["before"]:
            j = unit % upd.data["before"]["bias"].size
            b0, b1 = upd.data["before"]["bias"][j], upd.data["after"]["bias"][j]
            lines.append(f"b: {exact_text(b0)} → {exact_text(b1)}")
        if len(lines) == 1:
            lines.append("not computed yet in this step")
        lines.append("Click to explain it in the math panel")
        return "\n".join(lines)

    @staticmethod
    def _unit_text(shape: tuple[int, ...], unit: int) -> str:
        """How a unit is named: ``unit 3`` in a flat layer, ``pixel (h 2, w 5) of channel 3``
        in an image, ``unit 1,3`` otherwise (1-based)."""
        if len(shape) <= 1:
            return f"unit {unit + 1}"
        idx = tuple(int(i) for i in np.unravel_index(int(unit), shape))
        if len(shape) == 3:
            return f"pixel (h {idx[0] + 1}, w {idx[1] + 1}) of channel {idx[2] + 1}"
        return f"unit {one_based(idx)}"

    def param_tooltip(self, layer: str, weight: str, index) -> str:
        """A weight entry of any shape (a filter's pixel): its value before the step, its
        gradient, its value after the update; every input channel's for a filter pixel."""
        s = self.session
        if s is None or weight is None:
            return ""
        index = tuple(int(k) for k in index)
        before = s.weights_before[layer][weight]
        lines = [f"{layer} · {weight}[{one_based(index)}]"]
        if len(index) == 4:
            i, j, _c, f = index
            lines[0] += f" (filter {f + 1}, row {i + 1}, column {j + 1}, input channel 1)"
        lines.append(f"before: {exact_text(before[index])}")
        bwd = s.event("backward", layer)
        if bwd is not None and f"grad_{weight}" in bwd.data:
            lines.append(f"∂L/∂w = {exact_text(bwd.data[f'grad_{weight}'][index])}")
        upd = s.event("update", layer)
        if upd is not None:
            after = upd.data["after"][weight][index]
            lines.append(f"after: {exact_text(after)}")
            lines.append(f"Δw = {float(after) - float(before[index]):.9g}")
        if len(index) == 4 and before.shape[2] > 1:
            i, j, _c, f = index
            row = before[i, j, :, f]
            shown = ", ".join(fmt(v) for v in row[:8]) + (" …" if row.size > 8 else "")
            lines.append(f"before, every input channel: {shown}")
        lines.append("Click to explain it in the math panel")
        return "\n".join(lines)

    def weight_tooltip(self, layer: str, i: int, j: int) -> str:
        s = self.session
        if s is None:
            return ""
        w = s.weights_before[layer]["kernel"][i, j]
        lines = [f"{layer} · weight w{i + 1},{j + 1} (from unit {i + 1} to unit {j + 1})"]
        lines.append(f"w = {exact_text(w)}")
        fwd = s.event("forward", layer)
        if fwd is not None:
            x = np.asarray(fwd.data["inputs"])[self.sample][i]
            lines.append(f"x{i + 1} = {exact_text(x)} (sample {self.sample + 1})")
        bwd = s.event("backward", layer)
        if bwd is not None:
            lines.append(f"∂L/∂w = {exact_text(bwd.data['grad_kernel'][i, j])}")
        upd = s.event("update", layer)
        if upd is not None:
            after = upd.data["after"]["kernel"][i, j]
            before = upd.data["before"]["kernel"][i, j]
            lines.append(f"after the update: {exact_text(after)}")
            lines.append(f"Δw = {float(after) - float(before):.9g}")
        lines.append("Click to explain it in the math panel")
        return "\n".join(lines)

    # ------------------------------------------------------------------ view
    preferred_size = QSize(900, 640)

    def sizeHint(self) -> QSize:  # Qt override
        # Large: in place of a main window's canvas the view should keep the canvas's room.
        return self.preferred_size

    def fit(self) -> None:
        rect = self._scene.sceneRect()
        if rect.isNull():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > MAX_ZOOM:
            self.resetTransform()
            self.scale(MAX_ZOOM, MAX_ZOOM)
        self.centerOn(rect.center())

    def wheelEvent(self, event) -> None:  # Qt override
        """The wheel zooms about the mouse (a large network fits small; zoom in to read it)."""
        steps = event.angleDelta().y() / 120.0
        if not steps:
            super().wheelEvent(event)
            return
        factor = 1.15**steps
        zoom = self.transform().m11() * factor
        if zoom > 4 * MAX_ZOOM or zoom < 0.05:
            event.accept()
            return
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        event.accept()

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        self.fit()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # Qt override
        pal = palette()
        painter.fillRect(
            rect,
            blend(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Window), 0.35),
        )

    def keyPressEvent(self, event) -> None:  # Qt override
        if event.key() in (Qt.Key.Key_Right, Qt.Key.Key_Space):
            self.next_requested.emit()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Left:
            self.previous_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)
