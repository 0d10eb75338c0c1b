"""Feature maps: what every layer whose output is an image (H x W x C: the input, the
convolutions, the poolings, a BatchNormalization on images) makes of one selected sample, one
small image per channel."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from designer.training.colors import grid_columns, mosaic, values_to_rgb
from designer.training.views.base import (
    NOT_BUILT,
    LiveView,
    message_stack,
    plot_area,
    sample_bar,
)

#: A layer's maps get at least this many pixels of height (and its title LABEL_PX): with more
#: image layers than the dock holds, the view scrolls rather than shrink every map to a line.
ROW_MIN_PX = 80
LABEL_PX = 18


class FeatureMapsView(LiveView):
    """The feature maps of one probe sample (the sample selector, shared with the network
    activity view), live: a row per image layer, a tile per channel, orange negative, blue
    positive, as in every view. A layer's tiles share one scale (its largest |value|), so a
    weak or dead channel shows as such; "Each channel on its own scale" shows every channel's
    pattern instead. The worker sends at most :data:`engine.monitor.MAX_MAP_CHANNELS`
    channels a layer (the title says when there are more)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        bar, self.sample_spin, self.sample_label = sample_bar()
        self.own_scale = QCheckBox("Each channel on its own scale")
        self.own_scale.setToolTip(
            "Scale every channel to its own largest |value| (else a layer's channels share one)"
        )
        self.own_scale.toggled.connect(lambda _on: self.refresh(force=True))
        bar.addWidget(self.own_scale)
        self.graphics = plot_area()
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.graphics)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(0)
        inner.addLayout(bar)
        inner.addWidget(self.scroll)
        self.stack, self.message = message_stack(self, content)
        self.setLayout(self.stack)
        #: ``{layer: (title label, view box, image item)}``, in the order drawn.
        self.rows: dict[str, tuple] = {}
        #: The RGB mosaic each row shows now (tests).
        self.mosaics: dict[str, np.ndarray] = {}
        self.snapshot = None
        self.set_build(None)

    def set_build(self, info) -> None:
        self.snapshot = None
        self.graphics.clear()
        self.graphics.setMinimumHeight(0)
        self.rows = {}
        self.mosaics = {}
        sent = dict(getattr(info, "map_sent", None) or {}) if info is not None else {}
        if not sent:
            self.message.setText(
                NOT_BUILT.format(what="the feature maps")
                if info is None
                else "Feature maps need a layer whose output is an image (height × width × "
                "channels), such as a convolution."
            )
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        self.sample_spin.setRange(0, max(0, info.probe_size - 1))
        full = info.map_shapes
        for i, (name, (c, h, w)) in enumerate(sent.items()):
            H, W, C = full.get(name, (h, w, c))
            text = f"{name}: {H}×{W}×{C}"
            if C > c:
                text += f" (first {c} channels)"
            if (h, w) != (H, W):
                text += f", shown {h}×{w}"
            label = self.graphics.addLabel(text, row=2 * i, col=0, size="8pt")
            view = self.graphics.addViewBox(row=2 * i + 1, col=0, lockAspect=True)
            view.invertY(True)
            view.setMouseEnabled(False, False)
            image = pg.ImageItem(axisOrder="row-major")
            view.addItem(image)
            self.rows[name] = (label, view, image)
        self.graphics.setMinimumHeight(len(sent) * (ROW_MIN_PX + LABEL_PX) + 2 * LABEL_PX)
        left = len(info.map_shapes) - len(sent)
        if left:
            self.graphics.addLabel(
                f"{left} more image layer{'s' if left > 1 else ''} not shown (size cap)",
                row=2 * len(sent),
                col=0,
                size="8pt",
            )

    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def render(self) -> None:
        snap = self.snapshot
        if snap is None or not self.rows:
            return
        label = snap.sample_label
        self.sample_label.setText(
            f"probe sample {snap.sample_index}" + (f" · class {label}" if label else "")
        )
        maps = getattr(snap, "feature_maps", None) or {}
        own = self.own_scale.isChecked()
        # Each row gets its share of the area; its tiles are laid out in that row's shape.
        w = max(self.graphics.width(), 1)
        h = max(self.graphics.height() - LABEL_PX * len(self.rows), 1) / max(len(self.rows), 1)
        h = max(h, ROW_MIN_PX)
        for name, (_label, view, image) in self.rows.items():
            m = maps.get(name)
            if m is None or m.ndim != 3 or not m.size:
                continue
            t = np.asarray(m, dtype=np.float64)
            flat = np.abs(np.where(np.isfinite(t), t, 0.0)).reshape(len(t), -1)
            if own:
                scale = flat.max(axis=1)
                t = t / np.where(scale > 0, scale, 1.0)[:, None, None]
                rgb = values_to_rgb(t, scale=1.0)
            else:
                top = float(flat.max()) if flat.size else 1.0
                rgb = values_to_rgb(t, scale=top if top > 0 else 1.0)
            gap = 1 if t.shape[1] <= 12 else 2
            aspect = (w / h) * (t.shape[1] / t.shape[2])
            out = mosaic(rgb, min(len(t), grid_columns(len(t), aspect)), gap=gap)
            old = self.mosaics.get(name)
            self.mosaics[name] = out
            image.setImage(out, autoLevels=False)
            if old is None or old.shape != out.shape:
                view.autoRange(padding=0.02)
