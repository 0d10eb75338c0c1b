"""The loss and metric curves of training: per step and per epoch, validation, earlier runs."""

from __future__ import annotations

import collections
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPushButton, QWidget

from designer.plots.fit import ElidedLabel
from designer.plots.theme import curve_colors, foreground_color, style_plot_item
from designer.training.colors import WRONG
from designer.training.views.base import CURVE_OPTS, LiveView, make_pen, plot_area_under
from designer.training.views.ranger import Ranger, data_bounds, finite_xy
from designer.training.views.run_overlays import RunOverlays
from designer.training.views.scrubber import Scrubber

VAL_COLOR = "#d62728"
MAX_EARLIER_RUNS = 5
MAX_EPOCH_SYMBOLS = 60


LR_COLOR = "#2ca02c"


_ACRONYMS = {"auc", "pr", "roc", "mse", "mae", "rmse", "msle", "mape", "f1", "r2", "kl"}


def metric_title(key: str) -> str:
    """``"pr_auc"`` -> ``"PR AUC"``, ``"top_k_categorical_accuracy"`` -> ``"Top k categorical
    accuracy"``: a metric key as a plot title."""
    words = [w.upper() if w in _ACRONYMS else w for w in key.split("_")]
    if words and words[0] == key.split("_")[0]:
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


class LossPlot(LiveView):
    """Loss (per step: batch values faint, smoothed solid; per epoch: train and validation)
    and a metric likewise (the first, or the one chosen in the bar's combo: any of the
    compiled metrics); earlier runs faint; a log-scale toggle; a marker where
    training diverged; the learning rate of every step on its own axis at the right (a
    toggle: a schedule's rates, or the constant rate and its live changes)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = None
        self._earlier: collections.deque = collections.deque(maxlen=MAX_EARLIER_RUNS)
        main, deriv = curve_colors(self)
        self.log_box = QCheckBox("Log scale")
        self.log_box.toggled.connect(self.set_log_scale)
        self.lr_box = QCheckBox("η")  # short: the bar must fit a narrow dock
        self.lr_box.setToolTip("Show the learning rate of every step, on the axis at the right")
        self.lr_box.toggled.connect(self.show_learning_rate)
        self.clear_button = QPushButton("Clear earlier runs")
        self.clear_button.clicked.connect(self.clear_earlier)
        # Which metric the right plot shows; filled from the history's metrics.
        self.metric_box = QComboBox()
        self.metric_box.setToolTip("The metric the right-hand plot shows")
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_box.setMinimumContentsLength(8)
        self.metric_box.setVisible(False)
        self.metric_box.activated.connect(self._choose_metric)
        self._chosen_metric: str | None = None
        # One line that elides (the whole of it in the tooltip): the long "best val_loss …
        # · best loss …" must not widen the window (issue 13).
        self.best_label = ElidedLabel()
        self.best_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.log_box)
        bar.addWidget(self.lr_box)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.metric_box)
        bar.addWidget(self.best_label, 1)
        self.graphics = plot_area_under(self, bar)
        #: The timeline scrubber under the plots (the controller gives it a run's epochs).
        self.scrubber = Scrubber()
        self.layout().addWidget(self.scrubber)

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
            return [plot.plot(**CURVE_OPTS, pen=make_pen(fg, 1.0, alpha=60)) for _ in range(5)]

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
                pen=make_pen(VAL_COLOR, 1.5),
                symbol="s",
                symbolSize=6,
                symbolBrush=VAL_COLOR,
                symbolPen=None,
                name=name,
            )

        self.earlier_loss = earlier(self.loss_plot)
        self.earlier_metric = earlier(self.metric_plot)
        self.raw_loss = self.loss_plot.plot(
            **CURVE_OPTS, pen=make_pen(main, 1.0, alpha=70), name="batch loss"
        )
        self.smooth_loss = self.loss_plot.plot(
            **CURVE_OPTS, pen=make_pen(main, 2.0), name="loss (smoothed)"
        )
        self.epoch_loss = per_epoch(self.loss_plot, "loss/epoch")
        self.val_loss = validation(self.loss_plot, "val_loss")
        # The regularizers' part of the epoch loss: made when a run reports one (a legend
        # entry only for networks that have regularizers).
        self.reg_loss: pg.PlotDataItem | None = None
        self._main = main
        self.step_metric = self.metric_plot.plot(
            **CURVE_OPTS, pen=make_pen(main, 1.5), name="running mean"
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
            pen=make_pen(WRONG, 1.5, Qt.PenStyle.DashLine),
            label="non-finite",
            labelOpts={"position": 0.9, "color": WRONG},
        )
        self.nan_line.setVisible(False)
        self.loss_plot.addItem(self.nan_line, ignoreBounds=True)
        # The epoch the scrubber shows, on both plots.
        self.rewind_lines = []
        for plot in (self.loss_plot, self.metric_plot):
            line = pg.InfiniteLine(angle=90, pen=make_pen(fg, 1.2, Qt.PenStyle.DotLine))
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self.rewind_lines.append(line)
        # The learning rate: a second view box over the loss plot, its axis at the right.
        self.lr_view = pg.ViewBox()
        self.loss_plot.scene().addItem(self.lr_view)
        self.loss_plot.getAxis("right").linkToView(self.lr_view)
        self.lr_view.setXLink(self.loss_plot)
        self.lr_curve = pg.PlotDataItem(**CURVE_OPTS, pen=make_pen(LR_COLOR, 1.5))
        self.lr_view.addItem(self.lr_curve)
        self.loss_plot.vb.sigResized.connect(self._align_lr_view)
        self.lr_view.setVisible(False)
        self.metric_key = "accuracy"
        #: The project's runs selected in the Runs table, drawn over both plots.
        self.overlays = RunOverlays(self.loss_plot, self.metric_plot)
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

    def _choose_metric(self, index: int) -> None:
        self.choose_metric(self.metric_box.itemText(index))

    def choose_metric(self, key: str) -> None:
        """Show ``key`` on the metric plot (a key of the history's metrics), now: a choice
        of the user's does not wait for the controller's next refresh."""
        self._chosen_metric = key
        self.refresh()

    def _sync_metric_box(self, keys: list[str]) -> None:
        box = self.metric_box
        if [box.itemText(i) for i in range(box.count())] != keys:
            box.blockSignals(True)
            box.clear()
            box.addItems(keys)
            box.blockSignals(False)
        box.setVisible(len(keys) > 1)
        shown = self._chosen_metric if self._chosen_metric in keys else (keys or [None])[0]
        if shown is not None and box.currentText() != shown:
            box.blockSignals(True)
            box.setCurrentText(shown)
            box.blockSignals(False)

    def clear_earlier(self) -> None:
        self._earlier.clear()
        self._render_earlier()

    @property
    def earlier_runs(self) -> int:
        return len(self._earlier)

    def _align_lr_view(self) -> None:
        self.lr_view.setGeometry(self.loss_plot.vb.sceneBoundingRect())
        self.lr_view.linkedViewChanged(self.loss_plot.vb, self.lr_view.XAxis)

    def show_learning_rate(self, on: bool) -> None:
        """Show or hide the learning rate per step (the right axis, labelled)."""
        if self.lr_box.isChecked() != on:
            self.lr_box.setChecked(on)
            return
        self.loss_plot.showAxis("right", on)
        self.loss_plot.setLabel("right", "learning rate" if on else "", color=LR_COLOR)
        self.lr_view.setVisible(on)
        self._align_lr_view()
        self.refresh(force=True)

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
        self.epoch_loss.setPen(None if few else make_pen(main, 1.2, Qt.PenStyle.DashLine))
        self.epoch_metric.setSymbol("o" if few else None)
        self.epoch_metric.setPen(None if few else make_pen(main, 1.2, Qt.PenStyle.DashLine))
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
                self.earlier_loss[i].setData(*finite_xy(x, loss, log))
                if metric is not None:
                    self.earlier_metric[i].setData(*finite_xy(x, metric))
                else:
                    self.earlier_metric[i].setData([], [])
            else:
                self.earlier_loss[i].setData([], [])
                self.earlier_metric[i].setData([], [])

    def mark_epoch(self, epoch: int | None) -> None:
        """A dotted line at the epoch the scrubber shows (None: none)."""
        for line in self.rewind_lines:
            line.setVisible(epoch is not None)
            if epoch is not None:
                line.setValue(float(epoch))

    def show_runs(self, runs: list[dict]) -> None:
        """Draw these runs over the plots (see :class:`RunOverlays`), now."""
        self.overlays.set_runs(runs)
        self.refresh()

    def _render_runs_only(self) -> None:
        """No live run: the selected runs alone, the metric plot on their first metric."""
        keys = []
        for run in self.overlays.runs:
            for k in run["history"]:
                if not k.startswith("val_") and k not in ("loss", "regularization_loss"):
                    keys.append(k)
        keys = list(dict.fromkeys(keys))
        self._sync_metric_box(keys)
        if keys:
            self.metric_key = self._chosen_metric if self._chosen_metric in keys else keys[0]
        self.metric_plot.setTitle(metric_title(self.metric_key) if keys else "")
        log = self.log_box.isChecked()
        loss_values, metric_values = self.overlays.draw(self.metric_key if keys else None, log)
        x_end = max((float(r["x"][-1]) for r in self.overlays.runs if len(r["x"])), default=1.0)
        self._empty(False)
        self.loss_range.apply(x=(0.0, x_end), y=data_bounds(*loss_values, log=log))
        self.metric_range.apply(x=(0.0, x_end), y=data_bounds(*metric_values))

    def render(self) -> None:
        h = self.history
        if h is None and self.overlays.runs:
            self._render_runs_only()
            return
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
        if self.lr_box.isChecked():
            rates = h.learning_rate.data
            lx, ly = finite_xy(x[: len(rates)], rates)
            self.lr_curve.setData(lx, ly)
            if len(ly):
                low, high = float(np.min(ly)), float(np.max(ly))
                pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
                self.lr_view.setYRange(max(low - pad, 0.0), high + pad, padding=0)
        self.raw_loss.setData(*finite_xy(x, h.batch_loss.data, log))
        self.smooth_loss.setData(*finite_xy(x, h.smooth_loss.data, log))
        ex = np.asarray(h.epoch_x, dtype=np.float64)
        if "regularization_loss" in h.epochs and self.reg_loss is None:
            self.reg_loss = self.loss_plot.plot(
                **CURVE_OPTS,
                pen=make_pen(self._main, 1.2, Qt.PenStyle.DashLine),
                name="regularization",
            )
        curves = [(self.epoch_loss, "loss"), (self.val_loss, "val_loss")]
        if self.reg_loss is not None:
            curves.append((self.reg_loss, "regularization_loss"))
        for item, key in curves:
            vals = np.asarray(h.epochs.get(key, []), dtype=np.float64)
            n = min(len(vals), len(ex))
            item.setData(*finite_xy(ex[:n], vals[:n], log))
        keys = h.metric_keys()
        self._sync_metric_box(keys)
        if keys:
            self.metric_key = self._chosen_metric if self._chosen_metric in keys else keys[0]
        self.metric_plot.setTitle(metric_title(self.metric_key) if keys else "")
        step_metric = h.step_metrics.get(self.metric_key)
        if step_metric is not None:
            self.step_metric.setData(*finite_xy(x[: len(step_metric)], step_metric.data))
        else:
            self.step_metric.setData([], [])
        for item, key in (
            (self.epoch_metric, self.metric_key),
            (self.val_metric, f"val_{self.metric_key}"),
        ):
            vals = np.asarray(h.epochs.get(key, []), dtype=np.float64)
            n = min(len(vals), len(ex))
            item.setData(*finite_xy(ex[:n], vals[:n]))
        self._symbols(len(ex))
        over_loss, over_metric = self.overlays.draw(self.metric_key if keys else None, log)
        x_end = max(float(x[-1]) if len(x) else 0.0, float(ex[-1]) if len(ex) else 0.0, 1.0)
        for run in self.overlays.runs:
            if len(run["x"]):
                x_end = max(x_end, float(run["x"][-1]))
        y_loss = data_bounds(
            h.batch_loss.data,
            h.epochs.get("loss"),
            h.epochs.get("val_loss"),
            h.epochs.get("regularization_loss"),  # the dashed curve stays in view
            *(run[1] for run in self._earlier),
            *over_loss,
            log=log,
        )
        self.loss_range.apply(x=(0.0, x_end), y=y_loss)
        y_metric = data_bounds(
            step_metric.data if step_metric is not None else None,
            h.epochs.get(self.metric_key),
            h.epochs.get(f"val_{self.metric_key}"),
            *over_metric,
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
