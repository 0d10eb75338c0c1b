"""One layer's weights and gradients, and every layer's gradient norm and update ratio over
time."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from designer.plots.theme import curve_colors, style_plot_item
from designer.training.colors import NEGATIVE, POSITIVE, WRONG, diverging_colormap, label_qcolor
from designer.training.views.base import CURVE_OPTS, LiveView, make_pen, plot_area_under
from designer.training.views.ranger import Ranger, data_bounds, finite_xy
from engine.monitor import GRAD_EXPLODING, GRAD_LOG_EDGES, GRAD_VANISHING


class LayerStatsView(LiveView):
    """One layer's weights (heatmap, histogram, bias bars) and gradients (histogram of
    log10 |g|), with every layer's gradient norm and update/weight ratio over time on log axes
    (vanishing 1e-7 and exploding 1e3 marked), and its activation statistics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_combo = QComboBox()
        self.layer_combo.currentTextChanged.connect(lambda _t: self.refresh())
        self.stats_label = QLabel()
        self.stats_label.setWordWrap(True)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(QLabel("Layer"))
        bar.addWidget(self.layer_combo)
        bar.addWidget(self.stats_label, 1)
        self.graphics = plot_area_under(self, bar)
        g = self.graphics
        main, _ = curve_colors(self)
        self._main = main

        # The kernel, and beside it (image layers) the health per channel: one column, so that
        # the view is no wider for a convolution.
        self.side = g.addLayout(row=0, col=0)
        self.side.setContentsMargins(0, 0, 0, 0)
        self.heat_plot = self.side.addPlot(
            row=0, col=0, title="Kernel (rows: inputs, columns: units)"
        )
        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap.setColorMap(diverging_colormap())
        self.heat_plot.addItem(self.heatmap)
        self.heat_plot.invertY(True)
        self.weight_hist_plot = g.addPlot(row=0, col=1, title="Weights")
        self.weight_hist = self.weight_hist_plot.plot(
            **CURVE_OPTS,
            stepMode="center",
            fillLevel=0,
            brush=(80, 140, 220, 120),
            pen=make_pen(main, 1.2),
        )
        self.bias_plot = g.addPlot(row=0, col=2, title="Bias")
        self.bias_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=main)
        self.bias_plot.addItem(self.bias_bars)
        # Image layers with an activation: the dead (or saturated) share per channel, shown
        # beside the kernel while such a layer is selected (added to the layout then).
        self.health_plot = pg.PlotItem(title="Dead ReLU per channel")
        self.health_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=WRONG)
        self.health_plot.addItem(self.health_bars)
        self.health_plot.setYRange(0.0, 1.0, padding=0.02)
        self.health_plot.setMouseEnabled(False, False)
        self.health_plot.hideAxis("bottom")  # channel 0, 1, ... as the bias bars above
        self._health_shown = False
        self.grad_hist_plot = g.addPlot(row=1, col=0, title="Gradient |g| (log10)")
        self.grad_hist = self.grad_hist_plot.plot(
            **CURVE_OPTS,
            stepMode="center",
            fillLevel=0,
            brush=(220, 120, 60, 120),
            pen=make_pen("#e8710a", 1.2),
        )
        for v in (math.log10(GRAD_VANISHING), math.log10(GRAD_EXPLODING)):
            self.grad_hist_plot.addItem(
                pg.InfiniteLine(v, angle=90, pen=make_pen(WRONG, 1.0, Qt.PenStyle.DashLine)),
                ignoreBounds=True,
            )
        self.norm_plot = g.addPlot(row=1, col=1, title="Gradient norm per layer")
        self.ratio_plot = g.addPlot(row=1, col=2, title="Update / weight per step")
        for p in (self.norm_plot, self.ratio_plot):
            p.setLogMode(y=True)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.setLabel("bottom", "epoch")
            p.addLegend(offset=(-6, 6), labelTextSize="7pt")
        self.threshold_lines = []
        for v, text, anchor in (
            (GRAD_VANISHING, "vanishing < 1e-7", (0, 1)),  # label above the low line
            (GRAD_EXPLODING, "exploding > 1e3", (0, 0)),  # and below the high one
        ):
            line = pg.InfiniteLine(
                math.log10(v),
                angle=0,
                pen=make_pen(WRONG, 1.2, Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.02, "color": WRONG, "anchors": [anchor, anchor]},
            )
            self.norm_plot.addItem(line, ignoreBounds=True)
            self.threshold_lines.append(line)
        self.ratio_plot.addItem(
            pg.InfiniteLine(
                -3.0,
                angle=0,
                pen=make_pen("#888888", 1.0, Qt.PenStyle.DotLine),
                label="1e-3",
                labelOpts={"position": 0.08, "anchors": [(0, 1), (0, 1)]},
            ),
            ignoreBounds=True,
        )
        for p in (
            self.heat_plot,
            self.weight_hist_plot,
            self.bias_plot,
            self.grad_hist_plot,
            self.health_plot,
        ):
            style_plot_item(p, self)
        for p in (self.norm_plot, self.ratio_plot):
            style_plot_item(p, self)
            p.getAxis("left").setWidth(46)
        # Axes that say nothing useful cost paint time: counts and kernel indices go.
        self.heat_plot.hideAxis("left")
        self.heat_plot.hideAxis("bottom")
        self.heat_plot.vb.disableAutoRange()
        self.heat_plot.showGrid(x=False, y=False)
        for p in (self.weight_hist_plot, self.grad_hist_plot):
            p.hideAxis("left")
        self.grad_hist_plot.vb.disableAutoRange()
        self.grad_hist_plot.setXRange(GRAD_LOG_EDGES[0], GRAD_LOG_EDGES[-1], padding=0.02)
        self.weight_range = Ranger(self.weight_hist_plot)
        self.bias_range = Ranger(self.bias_plot)
        self.grad_range = Ranger(self.grad_hist_plot)
        self.norm_range = Ranger(self.norm_plot)
        self.ratio_range = Ranger(self.ratio_plot)
        self._pos_brush = pg.mkBrush(POSITIVE)
        self._neg_brush = pg.mkBrush(NEGATIVE)
        self.norm_curves: dict[str, pg.PlotDataItem] = {}
        self.ratio_curves: dict[str, pg.PlotDataItem] = {}
        self._pens: dict[str, tuple] = {}
        self._bold: str | None = None
        self._kernel_shape: tuple | None = None
        self.snapshot = None
        self.history = None
        self._layers: list[str] = []

    def set_layers(self, names: list[str]) -> None:
        """The layers with weights (a new build): one norm/ratio curve each."""
        if names == self._layers:
            return
        for store, plot in (
            (self.norm_curves, self.norm_plot),
            (self.ratio_curves, self.ratio_plot),
        ):
            for item in store.values():
                plot.removeItem(item)
            store.clear()
            legend = plot.legend
            if legend is not None:
                legend.clear()
        self._layers = list(names)
        self._bold = None
        for i, name in enumerate(names):
            color = label_qcolor(i + 1)
            self._pens[name] = (make_pen(color, 1.2), make_pen(color, 3.0))
            for store, plot in (
                (self.norm_curves, self.norm_plot),
                (self.ratio_curves, self.ratio_plot),
            ):
                item = plot.plot(**CURVE_OPTS, pen=self._pens[name][0], name=name)
                item.setClipToView(True)
                item.setDownsampling(auto=True, method="peak")
                store[name] = item
        current = self.layer_combo.currentText()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(names)
        if current in names:
            self.layer_combo.setCurrentText(current)
        self.layer_combo.blockSignals(False)

    def set_snapshot(self, snap) -> None:
        self.snapshot = snap
        self.mark_dirty()

    def set_history(self, history) -> None:
        self.history = history
        self.mark_dirty()

    @property
    def layer(self) -> str:
        return self.layer_combo.currentText()

    def render(self) -> None:
        h = self.history
        if h is not None:
            x = h.snap_x.data
            bold = self.layer
            for store, series, ranger in (
                (self.norm_curves, h.grad_norm, self.norm_range),
                (self.ratio_curves, h.update_ratio, self.ratio_range),
            ):
                for name, item in store.items():
                    s = series.get(name)
                    if s is None:
                        item.setData([], [])
                        continue
                    n = min(len(s), len(x))
                    item.setData(*finite_xy(x[:n], s.data[:n], positive=True))
                    if bold != self._bold:
                        item.setPen(self._pens[name][1 if name == bold else 0])
                x_end = float(x[-1]) if len(x) else 1.0
                if ranger is self.norm_range:
                    ranger.apply(x=(0.0, max(x_end, 1e-3)), y=(-9.0, 4.0))
                else:
                    ranger.apply(
                        x=(0.0, max(x_end, 1e-3)),
                        y=data_bounds(*(v.data for v in series.values()), log=True),
                    )
            self._bold = bold
        snap = self.snapshot
        st = snap.layers.get(self.layer) if snap is not None else None
        if st is None:
            return
        if st.kernel is not None:
            k = st.kernel
            m = float(np.max(np.abs(k))) if k.size else 1.0
            m = m if m > 0 and math.isfinite(m) else 1.0
            self.heatmap.setImage(k, autoLevels=False, levels=(-m, m))
            if k.shape != self._kernel_shape:
                self._kernel_shape = k.shape
                self.heat_plot.vb.setRange(
                    xRange=(0, k.shape[1]), yRange=(0, k.shape[0]), padding=0
                )
            shape = st.kernel_shape or k.shape
            if len(shape) > 2:  # a window kernel (kh, kw, in, filters) as its matrix
                window = "×".join(str(d) for d in shape[:-1])
                self.heat_plot.setTitle(f"Kernel {window} → {shape[-1]} (±{m:.3g})")
                self.heat_plot.setToolTip(
                    "The kernel as the matrix it multiplies by: a row per window cell and "
                    "input channel, a column per filter"
                )
            else:
                self.heat_plot.setTitle(f"Kernel {k.shape[0]}×{k.shape[1]} (±{m:.3g})")
        if st.weight_hist is not None:
            counts, edges = st.weight_hist
            self.weight_hist.setData(edges, counts)
            self.weight_range.apply(
                x=(float(edges[0]), float(edges[-1])),
                y=(0.0, float(counts.max()) if counts.size else 1.0),
                x_grow_only=False,
            )
        if st.bias is not None:
            b = np.asarray(st.bias, dtype=np.float64)
            self.bias_bars.setOpts(
                x=np.arange(len(b)),
                height=b,
                width=0.8,
                brushes=[self._pos_brush if v >= 0 else self._neg_brush for v in b],
            )
            lo, hi = (float(min(b.min(), 0.0)), float(max(b.max(), 0.0))) if b.size else (0, 1)
            self.bias_range.apply(x=(-0.6, len(b) - 0.4), y=(lo, hi), x_grow_only=False)
        else:
            self.bias_bars.setOpts(x=[], height=[])
        self._show_health(st)
        if st.grad_hist is not None:
            self.grad_hist.setData(GRAD_LOG_EDGES, st.grad_hist)
            top = float(st.grad_hist.max()) if st.grad_hist.size else 1.0
            self.grad_range.apply(y=(0.0, max(top, 1.0)))
        parts = [
            f"‖W‖ {st.weight_norm:.3g}",
            f"‖∇‖ {st.grad_norm:.3g}" if math.isfinite(st.grad_norm) else "",
            f"update/weight {st.update_ratio:.2g}" if math.isfinite(st.update_ratio) else "",
            f"dead ReLU {st.dead_fraction:.0%}" if st.dead_fraction is not None else "",
            f"saturated {st.saturated_fraction:.0%}" if st.saturated_fraction is not None else "",
            _dead_channels(st),
            f"activation mean {st.act_mean:.3g} ± {st.act_std:.3g}",
        ]
        text = " · ".join(p for p in parts if p)
        warn = snap.warnings().get(self.layer)
        if warn:
            text += f" · <span style='color:{WRONG}'>⚠ {warn}</span>"
        self.stats_label.setText(text)

    def _show_health(self, st) -> None:
        """The per-channel health bars of an image layer (dead share for ReLU, saturated share
        for sigmoid/tanh); the plot leaves the layout for other layers."""
        per = st.dead_per_channel if st.dead_per_channel is not None else st.saturated_per_channel
        if per is None:
            if self._health_shown:
                self.side.removeItem(self.health_plot)
                self._health_shown = False
            return
        if not self._health_shown:
            self.side.addItem(self.health_plot, row=0, col=1)
            self._health_shown = True
        what = "Dead ReLU" if st.dead_per_channel is not None else "Saturated"
        v = np.asarray(per, dtype=np.float64)
        top = float(np.max(v)) if v.size else 0.0
        self.health_plot.setTitle(f"{what}/channel ≤{top:.0%}")
        self.health_bars.setOpts(x=np.arange(len(v)), height=v, width=0.8)
        self.health_plot.setXRange(-0.6, len(v) - 0.4, padding=0)
        self.health_plot.setYRange(0.0, 1.0, padding=0.02)

    @property
    def health_values(self) -> np.ndarray | None:
        """The per-channel bars drawn now (None while the plot is not shown; tests)."""
        if not self._health_shown:
            return None
        return np.asarray(self.health_bars.opts.get("height"), dtype=np.float64)


def _dead_channels(st) -> str:
    """ "k/C channels dead" for an image layer with ReLU (a channel dead at every position)."""
    per = st.dead_per_channel
    if per is None or not len(per):
        return ""
    return f"{int(np.sum(np.asarray(per) >= 1.0))}/{len(per)} channels dead"
