"""The decision boundary over a plane of the input, with the data points and each hidden
fully connected layer's neuron maps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.plots.fit import SquareBox
from designer.plots.plane import PlanePicker
from designer.plots.theme import style_plot_item
from designer.training.colors import label_qcolor, mosaic, probabilities_to_rgb, values_to_rgb
from designer.training.views.base import NOT_BUILT, LiveView, message_stack, plot_area


class DecisionBoundaryView(LiveView):
    """The model's class probabilities (or output values) over a plane as a heatmap under the
    training points (filled) and validation points (rings), and for small nets each hidden
    neuron's output over the same plane.

    Data with two features is drawn on its own plane. With more, the plane is spanned by two
    chosen features (the others held at their training means) or by the first two principal
    components; the row above the plot chooses it and emits ``projection_requested(dict)``
    (``{"kind": "features", "features": [i, j]}`` or ``{"kind": "pca"}``); the view shows the
    plane the worker reports in :meth:`set_build`.
    """

    projection_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = plot_area()
        self.plot = self.graphics.addPlot(row=0, col=0)
        style_plot_item(self.plot, self)
        self.plot.setAspectLocked(False)
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(255, 255, 255, 160, width=0.8))
        self.val_points = pg.ScatterPlotItem(size=8, brush=None)
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.val_points)
        self.maps = plot_area()
        # An explicit minimum (1 px: 0 would mean "none" to Qt's layouts): the maps give way
        # to the boundary in a short dock rather than make the view taller.
        self.maps.setMinimumSize(1, 1)
        self.map_items: dict[str, tuple[pg.ViewBox, pg.ImageItem]] = {}
        # The plane (data with more than two features).
        self.plane_picker = PlanePicker()
        self.plane_picker.chosen.connect(self._on_plane_chosen)
        self.plane_combo = self.plane_picker.plane_combo
        self.x_combo = self.plane_picker.x_combo
        self.y_combo = self.plane_picker.y_combo
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: palette(mid);")
        self.plane_row = QWidget()
        row = QHBoxLayout(self.plane_row)
        row.setContentsMargins(4, 2, 4, 0)
        row.addWidget(self.plane_picker, 1)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.plane_row)
        inner.addWidget(self.caption)
        # Square (the extent fills it, see set_build) and centred: a strip shows nothing.
        self.square = SquareBox(self.graphics, minimum=120)
        inner.addWidget(self.square, 3)
        inner.addWidget(self.maps, 2)
        self.stack, self.message = message_stack(self, content)
        self.setLayout(self.stack)
        self.info = None
        self.snapshot = None
        self.boundary_image: np.ndarray | None = None
        self._rect = QRectF(0, 0, 1, 1)
        self.set_build(None)

    def set_build(self, info) -> None:
        self.info = info
        self.snapshot = None
        self.boundary_image = None
        pts = info.points if info is not None else None
        if pts is None:
            if info is None:
                text = NOT_BUILT.format(what="the decision boundary")
            elif info.image_shape is not None:
                text = "Image data has no decision boundary: see the weight tiles."
            else:
                n = info.input_units
                text = f"The decision boundary needs two or more features; this data has {n}."
            self.message.setText(text)
            self.stack.setCurrentIndex(1)
            self._set_maps([])
            return
        self.stack.setCurrentIndex(0)
        self._sync_plane(pts)
        x0, x1, y0, y1 = pts["extent"]
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.image.clear()
        self._points(self.train_points, pts["x_train"], pts["y_train"], info, filled=True)
        if pts["x_val"] is not None:
            self._points(self.val_points, pts["x_val"], pts["y_val"], info, filled=False)
        else:
            self.val_points.setData([])
        # The grid's extent fills the square plot: x and y scaled so that it is square.
        span_x, span_y = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
        self.plot.setAspectLocked(True, ratio=span_y / span_x)
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        labels = pts.get("axis_labels") or ("x0", "x1")
        self.plot.setLabel("bottom", labels[0])
        self.plot.setLabel("left", labels[1])
        hidden = [
            layer for layer in info.layers if layer.fully_connected and layer is not info.layers[-1]
        ]
        self._set_maps([(layer.name, layer.units) for layer in hidden])

    @staticmethod
    def _kind(pts: dict) -> str:
        return (pts.get("projection") or {}).get("kind", "features")

    def _sync_plane(self, pts: dict) -> None:
        """Show the reported plane in the row of choices (which only data with more than two
        features needs) and say what the plot holds."""
        names = list(pts.get("feature_names") or [])
        many = len(names) > 2
        self.plane_row.setVisible(many)
        choice = pts.get("projection") or {"kind": "features", "features": [0, 1]}
        pca = choice.get("kind") == "pca"
        self.plane_picker.set_features(names)
        self.plane_picker.show_choice(choice)
        parts = []
        n_train, shown = pts.get("n_train", 0), len(pts["x_train"])
        if n_train > shown:
            parts.append(f"{shown} of {n_train} training points shown")
        if many and not pca:
            parts.append(f"the other {len(names) - 2} features held at their training means")
        elif pca:
            parts.append("the inputs projected on their first two principal components")
        self.caption.setText("; ".join(parts))
        self.caption.setVisible(bool(parts))

    def _on_plane_chosen(self, choice: dict) -> None:
        if self.info is not None and self.info.points is not None:
            if choice != self.info.points.get("projection"):
                self.projection_requested.emit(choice)

    def _points(self, item, x, y, info, filled: bool) -> None:
        """Points coloured by class (or by value, in 32 shades, for regression). The brushes
        and pens are shared objects: pyqtgraph renders one symbol per distinct object, and a
        fresh brush per point costs ~0.1 ms a point (3000 points: 0.3 s on the UI thread)."""
        if info.task == "classification":
            labels = np.asarray(y, dtype=np.int64)
            colors = [label_qcolor(int(c)) for c in range(max(info.n_classes, 2))]
            index = labels % len(colors)
            if filled:
                palette = [pg.mkBrush(c) for c in colors]
                item.setData(pos=x, brush=[palette[c] for c in index])
            else:
                pens = [pg.mkPen(c, width=2) for c in colors]
                item.setData(
                    pos=x, pen=[pens[c] for c in index], brush=pg.mkBrush(255, 255, 255, 200)
                )
        else:
            v = np.asarray(y, dtype=np.float64)
            shades = np.linspace(-1.0, 1.0, 32)
            scale = float(np.max(np.abs(v - np.mean(v)))) if len(v) else 1.0
            rgb = values_to_rgb(shades, scale=1.0)
            palette = [pg.mkBrush(*map(int, c)) for c in rgb]
            t = (v - np.mean(v)) / (scale if scale > 0 else 1.0)
            index = np.clip(np.rint((t + 1.0) / 2.0 * 31), 0, 31).astype(np.int64)
            item.setData(pos=x, brush=[palette[i] for i in index])

    def _set_maps(self, layers: list[tuple[str, int]]) -> None:
        names = [n for n, _ in layers]
        if names == list(self.map_items):
            return
        self.maps.clear()
        self.map_items = {}
        for row, (name, units) in enumerate(layers):
            self.maps.addLabel(f"{name}<br>({units})", row=row, col=0, size="8pt")
            vb = self.maps.addViewBox(row=row, col=1, lockAspect=True, enableMouse=False)
            vb.invertY(True)
            img = pg.ImageItem(axisOrder="row-major")
            vb.addItem(img)
            self.map_items[name] = (vb, img)
        self.maps.setVisible(bool(layers))

    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def data_tag(self):
        snap = self.snapshot
        return (snap.run, snap.step, getattr(snap, "plane", 0)) if snap is not None else None

    def render(self) -> None:
        snap = self.snapshot
        if snap is None or snap.boundary is None or self.info is None:
            return
        b = snap.boundary
        if self.info.task == "classification":
            rgb = probabilities_to_rgb(b)
        else:
            rgb = values_to_rgb(b[..., 0] - np.mean(b[..., 0]))
        self.boundary_image = b
        self.image.setImage(rgb, autoLevels=False)
        self.image.setRect(self._rect)  # after setImage: the rect scales the image's pixels
        for name, (_vb, img) in self.map_items.items():
            maps = snap.neuron_maps.get(name)
            if maps is None:
                continue
            m = float(np.max(np.abs(maps))) if maps.size else 1.0
            tiles = values_to_rgb(maps[:, ::-1, :], scale=m if m > 0 else 1.0)
            img.setImage(mosaic(tiles, columns=len(maps), gap=2), autoLevels=False)
