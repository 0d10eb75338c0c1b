"""Image classification: a fixed set of samples with the predicted class."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from designer.plots.theme import foreground_color, is_dark
from designer.training.colors import WRONG, grid_columns
from designer.training.views.base import NOT_BUILT, LiveView, message_stack, plot_area
from designer.training.views.cell_label import CellLabel, drop_labels


class PredictionsGrid(LiveView):
    """Image classification: a fixed set of validation samples with the predicted class;
    wrong ones framed red and labelled with the true class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = plot_area()
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True)
        self.view.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.stack, self.message = message_stack(self, self.graphics)
        self.setLayout(self.stack)
        self.texts: list[CellLabel] = []
        self.info = None
        self.snapshot = None
        self.wrong: np.ndarray | None = None
        self.set_build(None)

    def set_build(self, info) -> None:
        self.info = info
        self.snapshot = None
        self.wrong = None
        drop_labels(self.texts)
        self.texts = []
        if info is None or info.sample_images is None:
            self.message.setText(
                NOT_BUILT.format(what="sample predictions")
                if info is None
                else "Sample predictions need image classification data."
            )
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        n, h, w = info.sample_images.shape
        self._cols = grid_columns(n, 2.0)
        self._cell = (h + 2 + max(4, h // 2), w + 2 + 2)
        font = QFont()
        font.setPointSizeF(8)
        for i in range(n):
            r, c = divmod(i, self._cols)
            t = CellLabel((0.5, 0.0), font)
            t.setPos(c * self._cell[1] + (w + 2) / 2, r * self._cell[0] + h + 2)
            t.setParentItem(self.view.childGroup)  # no auto-range bookkeeping: labels only
            self.texts.append(t)
        self._draw(None)

    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def _draw(self, pred: np.ndarray | None) -> None:
        info = self.info
        imgs = info.sample_images
        n, h, w = imgs.shape
        ch, cw = self._cell
        rows = -(-n // self._cols)
        out = np.empty((rows * ch, self._cols * cw, 3), dtype=np.ubyte)
        out[:] = 40 if is_dark(self) else 255
        wrong_rgb = np.array(QColor(WRONG).getRgb()[:3], dtype=np.ubyte)
        labels = info.sample_labels
        for i in range(n):
            r, c = divmod(i, self._cols)
            y, x = r * ch, c * cw
            bad = pred is not None and int(pred[i]) != int(labels[i])
            frame = wrong_rgb if bad else np.array([150, 150, 150], dtype=np.ubyte)
            out[y : y + h + 2, x : x + w + 2] = frame
            gray = (255 * (1.0 - imgs[i])).astype(np.ubyte)  # ink dark on light
            out[y + 1 : y + 1 + h, x + 1 : x + 1 + w] = gray[..., None]
        self.image.setImage(out, autoLevels=False)

    def render(self) -> None:
        snap = self.snapshot
        if snap is None or snap.predictions is None or self.info is None:
            return
        pred = snap.predictions
        labels = self.info.sample_labels
        names = self.info.class_names
        self.wrong = pred != labels
        self._draw(pred)
        for i, t in enumerate(self.texts):
            p = int(pred[i])
            name = names[p] if p < len(names) else str(p)
            if self.wrong[i]:
                true = names[int(labels[i])] if int(labels[i]) < len(names) else str(labels[i])
                t.set_text(f"{name} ✗ ({true})", WRONG)
            else:
                t.set_text(f"{name} {snap.confidence[i]:.0%}", foreground_color(self))
