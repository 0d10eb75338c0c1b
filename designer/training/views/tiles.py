"""Image data: the first convolution's filters as one image tile per filter, or else the first
fully connected layer's weights as one image tile per unit."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from designer.training.colors import grid_columns, mosaic, values_to_rgb
from designer.training.views.base import NOT_BUILT, LiveView, message_stack, plot_area
from engine.monitor import MAX_FILTERS_SHOWN


class WeightTilesView(LiveView):
    """Image data: the first layer's weights, one tile per hidden unit (each scaled to its own
    largest |w|; orange negative, blue positive). By default the change since training
    started: the random start hides the strokes a unit learns, most of all on pixels that never
    vary (digits' corners), whose weights never move.

    A network with a convolution shows its first one's filters instead (the first layer whose
    type has a ``filter_weight``), one tile per filter: the (kh, kw) window of each input
    channel side by side."""

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
        self._kw: int | None = None
        self.set_build(None)

    def set_build(self, info) -> None:
        self.snapshot = None
        self.tiles = None
        filters = info is not None and getattr(info, "tiles_kind", "units") == "filters"
        if info is None or info.tiles_layer is None or (info.image_shape is None and not filters):
            self.message.setText(
                NOT_BUILT.format(what="the weight tiles")
                if info is None
                else "Weight tiles need a convolution, or image data whose first layer is Dense."
            )
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        units = next(x.units for x in info.layers if x.name == info.tiles_layer)
        if filters:
            shown, total = info.tile_inputs
            h, w = info.tile_shape
            kw = w // max(shown, 1)
            per = (
                f"{h}×{kw}"
                + (f", {shown} input channels side by side" if shown > 1 else "")
                + (f" (of {total})" if total > shown else "")
            )
            shown_f = min(units, MAX_FILTERS_SHOWN)
            count = f"{units} filters" + (f" (first {shown_f})" if shown_f < units else "")
            self.title.setText(f"Filters of '{info.tiles_layer}': {count}, {per}")
        else:
            h, w = info.image_shape
            self.title.setText(
                f"First-layer weights of '{info.tiles_layer}': {units} units, {h}×{w} each"
            )
        self._kw = (
            None if not filters else max(1, info.tile_shape[1] // max(info.tile_inputs[0], 1))
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
        kw = getattr(self, "_kw", None)
        if kw and t.shape[2] > kw:  # input channels side by side: a thin line between them
            rgb = _separate(rgb, kw)
        # As many columns as make the mosaic the shape of the view (biggest tiles).
        w, h = max(self.graphics.width(), 1), max(self.graphics.height() - 30, 1)
        aspect = (w / h) * (rgb.shape[1] / rgb.shape[2])
        self.image.setImage(mosaic(rgb, grid_columns(len(t), aspect), gap=gap), autoLevels=False)


def _separate(rgb: np.ndarray, kw: int) -> np.ndarray:
    """Tiles (n, h, c * kw, 3) with a one-pixel grey column between the ``c`` channel windows
    of each (so that two channels' windows do not read as one wide filter)."""
    n, h, w, _ = rgb.shape
    c = w // kw
    out = np.full((n, h, c * (kw + 1) - 1, 3), 128, dtype=rgb.dtype)
    for j in range(c):
        out[:, :, j * (kw + 1) : j * (kw + 1) + kw] = rgb[:, :, j * kw : (j + 1) * kw]
    return out
