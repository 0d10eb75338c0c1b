"""The TensorFlow Playground view of any network the user built: neurons coloured by their
activation for one selected sample, edges coloured by the sign of their weight (blue positive,
orange negative, as in every training view) and as thick as its magnitude.

The fully connected layers are drawn as columns; the edges into one come from the column
before it, looking through layers that keep unit ``i`` at unit ``i`` (:func:`looks_through`).

Layers of up to :data:`~engine.monitor.MAX_NEURONS_SHOWN` units are drawn neuron by neuron;
larger ones as :data:`GROUPS` groups (a group's colour is its units' mean activation, an edge
between groups the mean weight). Items are made once per build and restyled in place.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsLineItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from designer.plots.theme import background_color, foreground_color
from designer.training.colors import NEGATIVE, POSITIVE, values_to_rgb
from designer.training.views.base import LiveView, PaintMeter, sample_bar
from engine.monitor import MAX_NEURONS_SHOWN

GROUPS = 16
COLUMN_GAP = 170.0
ROW_GAP = 22.0
RADIUS = 8.0
MAX_EDGE_WIDTH = 5.0


LEVELS = 12
_PENS: dict[int, QPen] = {}


def _edge_pen(key: int) -> QPen:
    """The pen of a quantized weight: ``key`` >= 0 positive level, < 0 negative."""
    pen = _PENS.get(key)
    if pen is None:
        level = key if key >= 0 else -key - 1
        t = level / (LEVELS - 1)
        c = QColor(POSITIVE if key >= 0 else NEGATIVE)
        c.setAlphaF(0.2 + 0.8 * t)
        pen = _PENS[key] = QPen(c, 0.4 + MAX_EDGE_WIDTH * t)
    return pen


def looks_through(layer) -> bool:
    """Whether the edges into a fully connected layer skip ``layer`` (a
    :class:`~engine.monitor.LayerInfo`) to the column before it: ``layer`` keeps unit ``i`` at
    unit ``i`` (the layer type's ``unit_by_unit``: Flatten, Dropout, Activation, ReLU)."""
    return layer.unit_by_unit


def _groups(n: int) -> list[np.ndarray]:
    """Unit indices of each displayed neuron: one each up to the limit, else GROUPS groups."""
    if n <= MAX_NEURONS_SHOWN:
        return [np.array([i]) for i in range(n)]
    return [g for g in np.array_split(np.arange(n), GROUPS) if len(g)]


class _MeteredView(QGraphicsView):
    def paintEvent(self, event) -> None:  # Qt override
        t0 = time.thread_time()
        super().paintEvent(event)
        PaintMeter.seconds += time.thread_time() - t0


class _Column:
    def __init__(self, name: str, units: int, x: float) -> None:
        self.name = name
        self.units = units
        self.groups = _groups(units)
        self.x = x
        self.neurons: list[QGraphicsEllipseItem] = []

    @property
    def aggregated(self) -> bool:
        return len(self.groups) < self.units


class NetworkActivityView(LiveView):
    """A dockable view: a sample selector above a QGraphicsView of the network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        bar, self.sample_spin, self.sample_label = sample_bar()
        self.scene = QGraphicsScene(self)
        self.view = _MeteredView(self.scene)
        self.view.setRenderHints(QPainter.RenderHint.Antialiasing)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setBackgroundBrush(QBrush(background_color(self)))
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)
        self.columns: list[_Column] = []
        #: (dst layer, src column, dst column, edge items[i][j], src groups, dst groups)
        self.links: list[tuple[str, _Column, _Column, list[list[QGraphicsLineItem]]]] = []
        self.snapshot = None
        self._edge_keys: dict[str, np.ndarray] = {}
        self.message.setText("Build or train the network to see its activity.")
        self.message.setVisible(True)

    # ------------------------------------------------------------------ structure
    def set_build(self, info) -> None:
        self.scene.clear()
        self.columns = []
        self.links = []
        self._edge_keys = {}
        self.snapshot = None
        if info is None:
            return
        self.sample_spin.setRange(0, max(0, info.probe_size - 1))
        connected = [layer for layer in info.layers if layer.fully_connected]
        if not connected:
            self.message.setText("The network has no Dense layer to draw.")
            self.message.setVisible(True)
            return
        self.message.setVisible(False)
        by_name = {layer.name: layer for layer in info.layers}
        cols = {"input": _Column("input", info.input_units, 0.0)}
        order = [cols["input"]]
        for i, layer in enumerate(connected):
            col = _Column(layer.name, layer.units, COLUMN_GAP * (i + 1))
            cols[layer.name] = col
            order.append(col)
        self.columns = order
        fg = foreground_color(self)
        font = QFont()
        font.setPointSizeF(8)
        for col in order:
            n = len(col.groups)
            top = -(n - 1) * ROW_GAP / 2
            for j in range(n):
                y = top + j * ROW_GAP
                item = QGraphicsEllipseItem(QRectF(-RADIUS, -RADIUS, 2 * RADIUS, 2 * RADIUS))
                item.setPos(col.x, y)
                item.setPen(QPen(fg, 1.0))
                item.setZValue(2)
                units = col.groups[j]
                tip = (
                    f"{col.name} unit {units[0]}"
                    if len(units) == 1
                    else f"{col.name} units {units[0]}–{units[-1]} (mean)"
                )
                item.setToolTip(tip)
                self.scene.addItem(item)
                col.neurons.append(item)
            title = col.name + (
                f"\n{col.units} units in {n} groups" if col.aggregated else f"\n{col.units} units"
            )
            text = QGraphicsSimpleTextItem(title)
            text.setFont(font)
            text.setBrush(QBrush(fg))
            r = text.boundingRect()
            text.setPos(col.x - r.width() / 2, top - ROW_GAP - r.height())
            self.scene.addItem(text)
        for layer in connected:
            src = self._source_column(layer, by_name, cols)
            dst = cols[layer.name]
            if src is None or src.units != layer.weight_shapes.get("kernel", (0,))[0]:
                continue
            edges = []
            for a in src.neurons:
                row = []
                for b in dst.neurons:
                    line = QGraphicsLineItem(
                        a.pos().x() + RADIUS, a.pos().y(), b.pos().x() - RADIUS, b.pos().y()
                    )
                    line.setZValue(1)
                    self.scene.addItem(line)
                    row.append(line)
                edges.append(row)
            self.links.append((layer.name, src, dst, edges))
        self.scene.setSceneRect(self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))
        self._fit()

    @staticmethod
    def _source_column(layer, by_name, cols) -> _Column | None:
        src = layer.inbound[0] if layer.inbound else None
        while src is not None and src not in cols:
            prev = by_name.get(src)
            if prev is None or not looks_through(prev) or not prev.inbound:
                return None
            src = prev.inbound[0]
        return cols.get(src) if src is not None else None

    def _fit(self) -> None:
        if not self.scene.items():
            return
        self.view.fitInView(self.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        self._fit()

    # ------------------------------------------------------------------ values
    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        self._fit()

    def neuron_values(self, name: str) -> np.ndarray | None:
        """The displayed values of a column (group means) in the current snapshot."""
        snap = self.snapshot
        col = next((c for c in self.columns if c.name == name), None)
        if snap is None or col is None or name not in snap.activations:
            return None
        a = snap.activations[name]
        if not col.aggregated:
            return np.asarray(a, dtype=np.float64).copy()
        return np.array([float(np.mean(a[g])) for g in col.groups])

    def edge_weights(self, layer: str) -> np.ndarray | None:
        """The displayed weights (group means) of the edges into ``layer``."""
        snap = self.snapshot
        if snap is None or layer not in snap.layers or snap.layers[layer].kernel is None:
            return None
        link = next((lk for lk in self.links if lk[0] == layer), None)
        if link is None:
            return None
        _, src, dst, _ = link
        k = snap.layers[layer].kernel
        if k.shape != (src.units, dst.units):
            return None
        if not src.aggregated and not dst.aggregated:
            return np.asarray(k, dtype=np.float64)
        out = np.empty((len(src.groups), len(dst.groups)))
        for i, gi in enumerate(src.groups):
            rows = k[gi]
            for j, gj in enumerate(dst.groups):
                out[i, j] = float(np.mean(rows[:, gj]))
        return out

    def render(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        label = snap.sample_label
        self.sample_label.setText(
            f"probe sample {snap.sample_index}" + (f" · class {label}" if label else "")
        )
        for col in self.columns:
            vals = self.neuron_values(col.name)
            if vals is None:
                continue
            rgb = values_to_rgb(vals)
            for item, c in zip(col.neurons, rgb, strict=True):
                item.setBrush(QBrush(QColor(int(c[0]), int(c[1]), int(c[2]))))
        for layer, _src, _dst, edges in self.links:
            w = self.edge_weights(layer)
            if w is None:
                continue
            m = float(np.max(np.abs(w))) if w.size else 0.0
            m = m if m > 0 and math.isfinite(m) else 1.0
            # Pens come in LEVELS steps of magnitude per sign; only edges whose step changed
            # are restyled (setPen on hundreds of lines per frame would cost the UI thread).
            level = np.minimum(np.round(np.abs(w) / m * (LEVELS - 1)), LEVELS - 1).astype(np.int64)
            keys = np.where(w >= 0, level, -level - 1)
            old = self._edge_keys.get(layer)
            changed = np.argwhere(keys != old) if old is not None else np.argwhere(keys == keys)
            for i, j in changed:
                edges[i][j].setPen(_edge_pen(int(keys[i, j])))
            self._edge_keys[layer] = keys

    def sizeHint(self) -> QSize:  # Qt override
        return QSize(480, 360)
