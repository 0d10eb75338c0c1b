"""Image data: the first fully connected layer's weights as one image tile per unit."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from designer.training.colors import grid_columns, mosaic, values_to_rgb
from designer.training.views.base import NOT_BUILT, LiveView, message_stack, plot_area


class WeightTilesView(LiveView):
    """Image data: the first layer's weights, one tile per hidden unit (each scaled to its own
    largest |w|; orange negative, blue positive). By default the change since training
    started: the random start hides the strokes a unit learns, most of all on pixels that never
    vary (digits' corners), whose weights never move."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.change_box = QCheckBox("Change since start")
        self.change_box.setChecked(True)
        self.change_box.setToolTip(
            "Show what training changed (weights minus their random start) rather than the "
            "weights themselves"
        )
        self.change_box.toggled.connect(lambda _on: self.refresh(force=True))
        self.graphics = plot_area()
        self.title = self.graphics.addLabel("", row=0, col=0, size="9pt")
        self.view = self.graphics.addViewBox(row=1, col=0, lockAspect=True)
        self.view.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.change_box)
        bar.addStretch(1)
        inner.addLayout(bar)
        inner.addWidget(self.graphics)
        self.stack, self.message = message_stack(self, content)
        self.setLayout(self.stack)
        self.tiles: np.ndarray | None = None
        self.snapshot = None
        self.set_build(None)

    def set_build(self, info) -> None:
        self.snapshot = None
        self.tiles = None
        if info is None or info.image_shape is None or info.tiles_layer is None:
            self.message.setText(
                NOT_BUILT.format(what="the weight tiles")
                if info is None
                else "Weight tiles need image data whose first layer is Dense."
            )
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        h, w = info.image_shape
        units = next(x.units for x in info.layers if x.name == info.tiles_layer)
        self.title.setText(
            f"First-layer weights of '{info.tiles_layer}': {units} units, {h}×{w} each"
        )
        self.image.clear()

    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def render(self) -> None:
        snap = self.snapshot
        if snap is None or snap.tiles is None:
            return
        self.tiles = snap.tiles
        change = self.change_box.isChecked() and snap.tiles_change is not None
        t = np.asarray(snap.tiles_change if change else snap.tiles, dtype=np.float64)
        scale = np.max(np.abs(t.reshape(len(t), -1)), axis=1)
        norm = t / np.where(scale > 0, scale, 1.0)[:, None, None]
        rgb = values_to_rgb(norm, scale=1.0)
        gap = 1 if t.shape[1] <= 10 else 2
        # As many columns as make the mosaic the shape of the view (biggest tiles).
        w, h = max(self.graphics.width(), 1), max(self.graphics.height() - 30, 1)
        aspect = (w / h) * (t.shape[1] / t.shape[2])
        self.image.setImage(mosaic(rgb, grid_columns(len(t), aspect), gap=gap), autoLevels=False)
