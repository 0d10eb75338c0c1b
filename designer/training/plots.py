"""The live plots of training (pyqtgraph): loss and metrics, per-layer statistics, the
decision boundary, first-layer weight tiles, sample predictions and the confusion matrix.

Every pyqtgraph item is created once (per model build at most, when the set of layers or
classes changes) and updated with ``setData``/``setImage``/``setOpts``; nothing is cleared and
re-plotted per update (pyqtgraph #2348, #2665). A view renders only while it is visible; a
hidden one keeps the latest data and renders when shown. Views read plain arrays handed to
them; none of them sees the model.
"""

from __future__ import annotations

import collections
import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QTransform
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from designer.plots.fit import ElidedLabel, SquareBox
from designer.plots.plane import PlanePicker
from designer.plots.theme import (
    configure_pyqtgraph,
    curve_colors,
    foreground_color,
    is_dark,
    style_plot_item,
)
from designer.training.colors import (
    WRONG,
    class_qcolor,
    diverging_colormap,
    grid_columns,
    mosaic,
    probabilities_to_rgb,
    values_to_rgb,
)
from engine.monitor import GRAD_EXPLODING, GRAD_LOG_EDGES, GRAD_VANISHING

VAL_COLOR = "#d62728"
MAX_EARLIER_RUNS = 5
MAX_EPOCH_SYMBOLS = 60


#: Antialiased long curves cost the UI thread ~6x more to paint (Qt's raster engine); the
#: live curves are drawn without it.
CURVE_OPTS = {"antialias": False}


def _pen(color, width: float = 1.5, style=Qt.PenStyle.SolidLine, alpha: int = 255):
    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=width, style=style)


def _finite_xy(x: np.ndarray, y: np.ndarray, positive: bool = False):
    """Points whose y is finite (and > 0 on a log axis): a NaN never reaches a curve."""
    keep = np.isfinite(y)
    if positive:
        keep &= y > 0
    if keep.all():
        return x, y
    return x[keep], y[keep]


class Ranger:
    """Sets a plot's range from the data itself, with hysteresis, instead of pyqtgraph's
    auto-range: auto-range re-ranges (and so re-lays out the axes and paints again) after every
    ``setData``. The range only moves when the data leaves it or fills less than ``fill`` of
    it. When the user pans or zooms, the plot is theirs until they press pyqtgraph's "A"."""

    def __init__(self, plot, fill: float = 0.6, headroom: float = 0.12) -> None:
        self.plot = plot
        self.fill = fill
        self.headroom = headroom
        self.user = False
        self.current: list[tuple[float, float] | None] = [None, None]
        plot.vb.sigRangeChangedManually.connect(self._manual)
        plot.vb.disableAutoRange()

    def _manual(self, *_args) -> None:
        self.user = True

    def _axis(self, i: int, lo: float, hi: float, grow_only: bool) -> tuple[float, float] | None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if hi <= lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        cur = self.current[i]
        if cur is not None:
            inside = cur[0] <= lo and hi <= cur[1]
            full = (hi - lo) >= self.fill * (cur[1] - cur[0]) or grow_only
            if inside and full:
                return cur
        span = hi - lo
        if grow_only:
            new = (lo, hi + span * self.headroom)
        else:
            new = (lo - span * self.headroom / 2, hi + span * self.headroom / 2)
        self.current[i] = new
        return new

    def apply(self, x=None, y=None, x_grow_only: bool = True) -> None:
        """``x``/``y``: (min, max) of the data in view coordinates (log10 on a log axis)."""
        vb = self.plot.vb
        if any(vb.autoRangeEnabled()):  # "A" pressed: ours again
            self.user = False
            vb.disableAutoRange()
            self.current = [None, None]
        if self.user:
            return
        xr = self._axis(0, *x, x_grow_only) if x is not None else None
        yr = self._axis(1, *y, False) if y is not None else None
        vb.setRange(xRange=xr, yRange=yr, padding=0)


def _bounds(*arrays, log: bool = False) -> tuple[float, float] | None:
    """(min, max) of the finite values of ``arrays`` (of log10 of the positive ones)."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        if a is None or len(a) == 0:
            continue
        a = np.asarray(a, dtype=np.float64)
        a = a[np.isfinite(a)]
        if log:
            a = a[a > 0]
            a = np.log10(a) if a.size else a
        if a.size:
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    return (lo, hi) if lo <= hi else None


class LiveView(QWidget):
    """Base of the live views: keeps the latest data, renders while visible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self._dirty = False
        self.renders = 0
        #: What the last render drew (:meth:`data_tag` then) and when (``time.monotonic()``):
        #: how far behind the run the view is (tests and tests/benchmarks/bench_view_lag.py).
        self.shown = None
        self.shown_at = 0.0
        #: Render as soon as data arrives (standalone use). A controller that paces rendering
        #: itself turns this off and calls :meth:`refresh` on its own schedule.
        self.auto_refresh = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self) -> None:
        """New data: render now (auto_refresh) or at the owner's next refresh."""
        self._dirty = True
        if self.auto_refresh:
            self.refresh()

    def refresh(self, force: bool = False) -> None:
        """Render now if visible (or ``force``); otherwise when next shown."""
        if force or self.isVisible():
            self._dirty = False
            self.renders += 1
            self.render()
            self.shown = self.data_tag()
            self.shown_at = time.monotonic()
        else:
            self._dirty = True

    def render(self) -> None:  # pragma: no cover - overridden
        pass

    def data_tag(self):
        """What the view holds, as ``(run, global step)`` (or None): a snapshot's, by
        default."""
        snap = getattr(self, "snapshot", None)
        return (snap.run, snap.step) if snap is not None else None

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if self._dirty:
            self.refresh(force=True)

    @property
    def empty(self) -> bool:
        """True while the view shows only its sentence of what it needs."""
        stack = getattr(self, "stack", None)
        return isinstance(stack, QStackedLayout) and stack.currentIndex() == 1

    def sizeHint(self):  # Qt override
        hint = super().sizeHint()
        if self.empty:  # a sentence: a line or two, not a plot's worth of room
            return hint.boundedTo(QSize(320, 60))
        return hint


def _message_stack(parent: QWidget, content: QWidget) -> tuple[QStackedLayout, QLabel]:
    """A layout that shows ``content`` or, when a view has nothing to show, one sentence
    saying what it needs (wrapped when the dock is narrow). The view then asks for little
    room (:meth:`LiveView.sizeHint`)."""
    stack = QStackedLayout()
    message = QLabel()
    message.setAlignment(Qt.AlignmentFlag.AlignCenter)
    message.setWordWrap(True)
    message.setMargin(6)
    message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    stack.addWidget(content)
    stack.addWidget(message)
    stack.currentChanged.connect(lambda _i: parent.updateGeometry())
    return stack, message


#: What a view that has nothing to show yet says (before the first build).
NOT_BUILT = "Train (Play or Step) to see {what}."


class CellLabel(QGraphicsSimpleTextItem):
    """A text label at a point of a plot, drawn at a fixed pixel size and anchored (0..1 of its
    width/height). Plain Qt: pyqtgraph's TextItem re-maps itself on every view change, and a
    confusion matrix needs a hundred of them."""

    def __init__(self, anchor: tuple[float, float] = (0.5, 0.5), font: QFont | None = None):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self._anchor = anchor
        if font is not None:
            self.setFont(font)

    def set_text(self, text: str, color=None) -> None:
        if text != self.text():
            self.setText(text)
            r = self.boundingRect()
            self.setTransform(
                QTransform.fromTranslate(
                    -r.width() * self._anchor[0], -r.height() * self._anchor[1]
                )
            )
        if color is not None:
            self.setBrush(QBrush(QColor(color)))


def _drop_labels(labels: list[CellLabel]) -> None:
    for t in labels:
        scene = t.scene()
        t.setParentItem(None)
        if scene is not None:
            scene.removeItem(t)


class PaintMeter:
    """CPU seconds the live views spent painting (the controller paces rendering by it)."""

    seconds = 0.0

    @classmethod
    def take(cls) -> float:
        s, cls.seconds = cls.seconds, 0.0
        return s


class MeteredGraphicsLayoutWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that adds its paint time to :class:`PaintMeter`."""

    def paintEvent(self, event) -> None:  # Qt override
        t0 = time.thread_time()
        super().paintEvent(event)
        PaintMeter.seconds += time.thread_time() - t0


def _graphics_under(view: QWidget, bar: QHBoxLayout) -> pg.GraphicsLayoutWidget:
    """``view``'s layout: ``bar`` (a row of controls) above a new plot area, which it returns."""
    graphics = _graphics()
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addLayout(bar)
    layout.addWidget(graphics)
    return graphics


def _graphics() -> pg.GraphicsLayoutWidget:
    w = MeteredGraphicsLayoutWidget()
    w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    w.ci.setContentsMargins(4, 4, 4, 4)
    return w


# ---------------------------------------------------------------------------------- loss
class LossPlot(LiveView):
    """Loss (per step: batch values faint, smoothed solid; per epoch: train and validation)
    and the first metric likewise; earlier runs faint; a log-scale toggle; a marker where
    training diverged."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = None
        self._earlier: collections.deque = collections.deque(maxlen=MAX_EARLIER_RUNS)
        main, deriv = curve_colors(self)
        self.log_box = QCheckBox("Log scale")
        self.log_box.toggled.connect(self.set_log_scale)
        self.clear_button = QPushButton("Clear earlier runs")
        self.clear_button.clicked.connect(self.clear_earlier)
        # One line that elides (the whole of it in the tooltip): the long "best val_loss …
        # · best loss …" must not widen the window (issue 13).
        self.best_label = ElidedLabel()
        self.best_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.log_box)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.best_label, 1)
        self.graphics = _graphics_under(self, bar)

        self.loss_plot = self.graphics.addPlot(row=0, col=0, title="Loss")
        self.metric_plot = self.graphics.addPlot(row=0, col=1, title="Accuracy")
        for p, corner in ((self.loss_plot, (-8, 8)), (self.metric_plot, (-8, -8))):
            style_plot_item(p, self)
            p.setDownsampling(auto=True, mode="peak")
            p.setClipToView(True)
            p.setLabel("bottom", "epoch")
            # Loss falls and metrics rise: their legends sit where the curves are not.
            p.addLegend(offset=corner, labelTextSize="8pt")
            p.getAxis("left").setWidth(46)  # no re-layout when the tick labels change
        self.loss_range = Ranger(self.loss_plot)
        self.metric_range = Ranger(self.metric_plot)
        fg = foreground_color(self)

        def earlier(plot):
            return [plot.plot(**CURVE_OPTS, pen=_pen(fg, 1.0, alpha=60)) for _ in range(5)]

        def per_epoch(plot, name):  # dots, no line
            return plot.plot(
                **CURVE_OPTS,
                pen=None,
                symbol="o",
                symbolSize=6,
                symbolBrush=main,
                symbolPen=None,
                name=name,
            )

        def validation(plot, name):  # a line with squares
            return plot.plot(
                **CURVE_OPTS,
                pen=_pen(VAL_COLOR, 1.5),
                symbol="s",
                symbolSize=6,
                symbolBrush=VAL_COLOR,
                symbolPen=None,
                name=name,
            )

        self.earlier_loss = earlier(self.loss_plot)
        self.earlier_metric = earlier(self.metric_plot)
        self.raw_loss = self.loss_plot.plot(
            **CURVE_OPTS, pen=_pen(main, 1.0, alpha=70), name="batch loss"
        )
        self.smooth_loss = self.loss_plot.plot(
            **CURVE_OPTS, pen=_pen(main, 2.0), name="loss (smoothed)"
        )
        self.epoch_loss = per_epoch(self.loss_plot, "loss/epoch")
        self.val_loss = validation(self.loss_plot, "val_loss")
        self.step_metric = self.metric_plot.plot(
            **CURVE_OPTS, pen=_pen(main, 1.5), name="running mean"
        )
        self.epoch_metric = per_epoch(self.metric_plot, "per epoch")
        self.val_metric = validation(self.metric_plot, "validation")
        for item in (self.raw_loss, self.smooth_loss, self.step_metric, *self.earlier_loss):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.nan_marker = pg.ScatterPlotItem(
            symbol="x", size=16, pen=pg.mkPen(WRONG, width=3), brush=None
        )
        self.loss_plot.addItem(self.nan_marker)
        self.nan_line = pg.InfiniteLine(
            angle=90,
            pen=_pen(WRONG, 1.5, Qt.PenStyle.DashLine),
            label="non-finite",
            labelOpts={"position": 0.9, "color": WRONG},
        )
        self.nan_line.setVisible(False)
        self.loss_plot.addItem(self.nan_line, ignoreBounds=True)
        self.metric_key = "accuracy"
        self._few_epochs = True
        _ = deriv
        self._empty(True)

    # ------------------------------------------------------------------ data in
    def set_history(self, history) -> None:
        self.history = history
        self.mark_dirty()

    def data_tag(self):
        h = self.history
        return (h.run_id, h.gsteps) if h is not None else None

    def archive(self, history) -> None:
        """Keep ``history``'s curves as a faint earlier run (bounded: the oldest goes)."""
        if history is None or len(history.step_x) == 0:
            return
        metric = history.step_metrics.get(self.metric_key)
        self._earlier.append(
            (
                history.step_x.data.copy(),
                history.smooth_loss.data.copy(),
                metric.data.copy() if metric is not None else None,
            )
        )
        self._render_earlier()

    def clear_earlier(self) -> None:
        self._earlier.clear()
        self._render_earlier()

    @property
    def earlier_runs(self) -> int:
        return len(self._earlier)

    def set_log_scale(self, on: bool) -> None:
        if self.log_box.isChecked() != on:
            self.log_box.setChecked(on)
            return
        self.loss_plot.setLogMode(y=on)
        self.loss_range.current = [None, None]
        self.refresh(force=True)
        self._render_earlier()

    # ------------------------------------------------------------------ drawing
    def _symbols(self, n_epochs: int) -> None:
        """Markers per epoch while there are few epochs; a plain line for long runs."""
        few = n_epochs <= MAX_EPOCH_SYMBOLS
        if few == self._few_epochs:
            return
        self._few_epochs = few
        main = curve_colors(self)[0]
        self.epoch_loss.setSymbol("o" if few else None)
        self.epoch_loss.setPen(None if few else _pen(main, 1.2, Qt.PenStyle.DashLine))
        self.epoch_metric.setSymbol("o" if few else None)
        self.epoch_metric.setPen(None if few else _pen(main, 1.2, Qt.PenStyle.DashLine))
        self.val_loss.setSymbol("s" if few else None)
        self.val_metric.setSymbol("s" if few else None)

    def _empty(self, empty: bool) -> None:
        """Before any data: the x axis shows epochs 0 and 1 only (pyqtgraph's fifths overlap
        in a narrow plot: "0.20.40.60.8") and the legends of empty curves are hidden (they
        do not fit a small plot and say nothing yet)."""
        for p in (self.loss_plot, self.metric_plot):
            p.getAxis("bottom").setTicks([[(0.0, "0"), (1.0, "1")], []] if empty else None)
            if p.legend is not None:
                p.legend.setVisible(not empty)

    def _render_earlier(self) -> None:
        log = self.log_box.isChecked()
        runs = list(self._earlier)
        for i in range(MAX_EARLIER_RUNS):
            if i < len(runs):
                x, loss, metric = runs[i]
                self.earlier_loss[i].setData(*_finite_xy(x, loss, log))
                if metric is not None:
                    self.earlier_metric[i].setData(*_finite_xy(x, metric))
                else:
                    self.earlier_metric[i].setData([], [])
            else:
                self.earlier_loss[i].setData([], [])
                self.earlier_metric[i].setData([], [])

    def render(self) -> None:
        h = self.history
        if h is None:
            for item in (
                self.raw_loss,
                self.smooth_loss,
                self.epoch_loss,
                self.val_loss,
                self.step_metric,
                self.epoch_metric,
                self.val_metric,
            ):
                item.setData([], [])
            self.nan_marker.setData([], [])
            self.nan_line.setVisible(False)
            self.best_label.setText("")
            self._empty(True)
            return
        self._empty(len(h.step_x) == 0 and not h.epoch_x)
        log = self.log_box.isChecked()
        x = h.step_x.data
        self.raw_loss.setData(*_finite_xy(x, h.batch_loss.data, log))
        self.smooth_loss.setData(*_finite_xy(x, h.smooth_loss.data, log))
        ex = np.asarray(h.epoch_x, dtype=np.float64)
        for item, key in ((self.epoch_loss, "loss"), (self.val_loss, "val_loss")):
            vals = np.asarray(h.epochs.get(key, []), dtype=np.float64)
            n = min(len(vals), len(ex))
            item.setData(*_finite_xy(ex[:n], vals[:n], log))
        keys = h.metric_keys()
        if keys and keys[0] != self.metric_key:
            self.metric_key = keys[0]
        self.metric_plot.setTitle(self.metric_key.replace("_", " ").capitalize() if keys else "")
        step_metric = h.step_metrics.get(self.metric_key)
        if step_metric is not None:
            self.step_metric.setData(*_finite_xy(x[: len(step_metric)], step_metric.data))
        else:
            self.step_metric.setData([], [])
        for item, key in (
            (self.epoch_metric, self.metric_key),
            (self.val_metric, f"val_{self.metric_key}"),
        ):
            vals = np.asarray(h.epochs.get(key, []), dtype=np.float64)
            n = min(len(vals), len(ex))
            item.setData(*_finite_xy(ex[:n], vals[:n]))
        self._symbols(len(ex))
        x_end = max(float(x[-1]) if len(x) else 0.0, float(ex[-1]) if len(ex) else 0.0, 1.0)
        y_loss = _bounds(
            h.batch_loss.data,
            h.epochs.get("loss"),
            h.epochs.get("val_loss"),
            *(run[1] for run in self._earlier),
            log=log,
        )
        self.loss_range.apply(x=(0.0, x_end), y=y_loss)
        y_metric = _bounds(
            step_metric.data if step_metric is not None else None,
            h.epochs.get(self.metric_key),
            h.epochs.get(f"val_{self.metric_key}"),
        )
        self.metric_range.apply(x=(0.0, x_end), y=y_metric)
        div = h.divergence
        if div is not None:
            finite = h.smooth_loss.data[np.isfinite(h.smooth_loss.data)]
            y = float(finite[-1]) if finite.size else 1.0
            if log:
                y = math.log10(y) if y > 0 else 0.0
            self.nan_marker.setData([div["x"]], [y])
            self.nan_line.setValue(div["x"])
            self.nan_line.label.setFormat(f"non-finite at epoch {div['epoch']}, step {div['step']}")
            self.nan_line.setVisible(True)
        else:
            self.nan_marker.setData([], [])
            self.nan_line.setVisible(False)
        parts = []
        for key in ("val_loss", "loss", f"val_{self.metric_key}"):
            best = h.best(key)
            if best is not None:
                parts.append(f"best {key} {best[0]:.4g} (epoch {best[1]})")
        self.best_label.setText(" · ".join(parts[:2]))


# ---------------------------------------------------------------------------------- layers
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
        self.graphics = _graphics_under(self, bar)
        g = self.graphics
        main, _ = curve_colors(self)
        self._main = main

        self.heat_plot = g.addPlot(row=0, col=0, title="Kernel (rows: inputs, columns: units)")
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
            pen=_pen(main, 1.2),
        )
        self.bias_plot = g.addPlot(row=0, col=2, title="Bias")
        self.bias_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=main)
        self.bias_plot.addItem(self.bias_bars)
        self.grad_hist_plot = g.addPlot(row=1, col=0, title="Gradient |g| (log10)")
        self.grad_hist = self.grad_hist_plot.plot(
            **CURVE_OPTS,
            stepMode="center",
            fillLevel=0,
            brush=(220, 120, 60, 120),
            pen=_pen("#e8710a", 1.2),
        )
        for v in (math.log10(GRAD_VANISHING), math.log10(GRAD_EXPLODING)):
            self.grad_hist_plot.addItem(
                pg.InfiniteLine(v, angle=90, pen=_pen(WRONG, 1.0, Qt.PenStyle.DashLine)),
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
                pen=_pen(WRONG, 1.2, Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.02, "color": WRONG, "anchors": [anchor, anchor]},
            )
            self.norm_plot.addItem(line, ignoreBounds=True)
            self.threshold_lines.append(line)
        self.ratio_plot.addItem(
            pg.InfiniteLine(
                -3.0,
                angle=0,
                pen=_pen("#888888", 1.0, Qt.PenStyle.DotLine),
                label="1e-3",
                labelOpts={"position": 0.08, "anchors": [(0, 1), (0, 1)]},
            ),
            ignoreBounds=True,
        )
        for p in (self.heat_plot, self.weight_hist_plot, self.bias_plot, self.grad_hist_plot):
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
        self._pos_brush = pg.mkBrush("#0877bd")
        self._neg_brush = pg.mkBrush("#f59322")
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
            color = class_qcolor(i + 1)
            self._pens[name] = (_pen(color, 1.2), _pen(color, 3.0))
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
                    item.setData(*_finite_xy(x[:n], s.data[:n], positive=True))
                    if bold != self._bold:
                        item.setPen(self._pens[name][1 if name == bold else 0])
                x_end = float(x[-1]) if len(x) else 1.0
                if ranger is self.norm_range:
                    ranger.apply(x=(0.0, max(x_end, 1e-3)), y=(-9.0, 4.0))
                else:
                    ranger.apply(
                        x=(0.0, max(x_end, 1e-3)),
                        y=_bounds(*(v.data for v in series.values()), log=True),
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
            f"activation mean {st.act_mean:.3g} ± {st.act_std:.3g}",
        ]
        text = " · ".join(p for p in parts if p)
        warn = snap.warnings().get(self.layer)
        if warn:
            text += f" · <span style='color:{WRONG}'>⚠ {warn}</span>"
        self.stats_label.setText(text)


# ---------------------------------------------------------------------------------- boundary
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
        self.graphics = _graphics()
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
        self.maps = _graphics()
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
        self.stack, self.message = _message_stack(self, content)
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
            layer
            for layer in info.layers
            if layer.class_name == "Dense" and layer is not info.layers[-1]
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
            colors = [class_qcolor(int(c)) for c in range(max(info.n_classes, 2))]
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


# ---------------------------------------------------------------------------------- tiles
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
        self.graphics = _graphics()
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
        self.stack, self.message = _message_stack(self, content)
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


# ---------------------------------------------------------------------------------- predictions
class PredictionsGrid(LiveView):
    """Image classification: a fixed set of validation samples with the predicted class;
    wrong ones framed red and labelled with the true class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = _graphics()
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True)
        self.view.invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.stack, self.message = _message_stack(self, self.graphics)
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
        _drop_labels(self.texts)
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


# ---------------------------------------------------------------------------------- confusion
class ConfusionMatrixView(LiveView):
    """Classification: the confusion matrix of the last epoch end (rows: true class, columns:
    predicted; colour: share of the row; text: counts) and the accuracy of each class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = _graphics()
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
        self.stack, self.message = _message_stack(self, self.graphics)
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
            _drop_labels(self.texts)
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
