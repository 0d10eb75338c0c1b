"""Classification: the confusion matrix of the last epoch end and each class's accuracy."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QWidget

from designer.plots.theme import curve_colors, style_plot_item
from designer.training.views.base import NOT_BUILT, LiveView, message_stack, plot_area
from designer.training.views.cell_label import CellLabel, drop_labels


class ConfusionMatrixView(LiveView):
    """Classification: the confusion matrix of the last epoch end (rows: true class, columns:
    predicted; colour: share of the row; text: counts) and the accuracy of each class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = plot_area()
        self.cm_plot = self.graphics.addPlot(row=0, col=0)
        self.cm_plot.invertY(True)
        self.cm_plot.setAspectLocked(True)
        self.cm_plot.setLabel("left", "true class")
        self.cm_plot.setLabel("bottom", "predicted class")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.cm_plot.addItem(self.image)
        # Per-class accuracy beside the matrix, one horizontal bar per row (true class).
        self.acc_plot = self.graphics.addPlot(row=0, col=1, title="Accuracy per class")
        self.acc_plot.invertY(True)
        self.acc_plot.setYLink(self.cm_plot)
        self.acc_plot.hideAxis("left")
        self.acc_plot.vb.disableAutoRange()
        self.acc_plot.setXRange(0, 1.0, padding=0.02)
        self.acc_bars = pg.BarGraphItem(
            x0=[], y=[], height=0.7, width=[], brush=curve_colors(self)[0]
        )
        self.acc_plot.addItem(self.acc_bars)
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        for p in (self.cm_plot, self.acc_plot):
            style_plot_item(p, self)
            p.showGrid(x=False, y=False)
        self.acc_plot.showGrid(x=True, y=False, alpha=0.15)
        self.stack, self.message = message_stack(self, self.graphics)
        self.setLayout(self.stack)
        self.texts: list[CellLabel] = []
        self.report = None
        self.matrix: np.ndarray | None = None
        self.per_class: np.ndarray | None = None
        self.n_classes = 0
        self.set_build(None)

    def set_build(self, info) -> None:
        self.report = None
        self.matrix = None
        self.per_class = None
        if info is None or info.task != "classification":
            self.message.setText(
                NOT_BUILT.format(what="the confusion matrix")
                if info is None
                else "The confusion matrix needs classification data."
            )
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        k = info.n_classes
        if k != self.n_classes:
            drop_labels(self.texts)
            self.texts = []
            if k <= 20:
                for i in range(k):
                    for j in range(k):
                        t = CellLabel((0.5, 0.5))
                        t.setPos(j + 0.5, i + 0.5)
                        t.setParentItem(self.cm_plot.vb.childGroup)
                        self.texts.append(t)
            self.n_classes = k
        names = info.class_names[:k]
        ticks = [[(i + 0.5, str(n)[:10]) for i, n in enumerate(names)]]
        self.cm_plot.getAxis("bottom").setTicks(ticks)
        self.cm_plot.getAxis("left").setTicks(ticks)
        self.cm_plot.vb.disableAutoRange()
        self.cm_plot.vb.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        self.image.clear()
        self.acc_bars.setOpts(x0=[], y=[], width=[], height=0.7)
        for t in self.texts:
            t.set_text("")

    def set_report(self, report) -> None:
        self.report = report
        self.mark_dirty()

    def data_tag(self):
        rep = self.report
        return (rep.run, rep.epoch) if rep is not None else None

    def render(self) -> None:
        rep = self.report
        if rep is None:
            return
        cm = rep.confusion
        self.matrix = cm
        self.per_class = rep.per_class_accuracy
        rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
        share = cm / np.where(rows > 0, rows, 1.0)
        self.image.setImage(share, autoLevels=False, levels=(0.0, 1.0))
        self.image.setRect(QRectF(0, 0, cm.shape[1], cm.shape[0]))
        k = cm.shape[0]
        if len(self.texts) == k * k:
            for i in range(k):
                for j in range(k):
                    t = self.texts[i * k + j]
                    t.set_text(str(int(cm[i, j])), "#000000" if share[i, j] > 0.6 else "#ffffff")
        acc = np.nan_to_num(rep.per_class_accuracy, nan=0.0)
        self.acc_bars.setOpts(x0=np.zeros(k), y=np.arange(k) + 0.5, width=acc, height=0.7)
        self.cm_plot.setTitle(f"Epoch {rep.epoch}, {rep.split} split: accuracy {rep.accuracy:.1%}")
