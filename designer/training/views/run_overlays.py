"""Runs drawn over the loss and metric plots: each selected run of the project's Runs table
in its own colour (loss solid, val_loss dashed; the metric plot likewise), its fork point
marked with a ring on its parent's curve where it started."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from designer.training.views.base import CURVE_OPTS, make_pen
from designer.training.views.ranger import finite_xy

#: A colour per run (by its number), distinct from the live run's blue and the validation red.
RUN_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e", "#7f7f7f")


def run_color(number: int) -> str:
    return RUN_COLORS[(number - 1) % len(RUN_COLORS)]


class RunOverlays:
    """The overlay items of ``loss_plot`` and ``metric_plot`` for a list of runs."""

    def __init__(self, loss_plot: pg.PlotItem, metric_plot: pg.PlotItem) -> None:
        self.loss_plot, self.metric_plot = loss_plot, metric_plot
        self.runs: list[dict] = []
        self._items: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []

    def set_runs(self, runs: list[dict]) -> None:
        """``runs``: each ``{"number", "x" (its epochs), "history" (its own), "fork": (epoch,
        {key: value at that epoch}) or None}``."""
        for plot, item in self._items:
            plot.removeItem(item)
        self._items = []
        self.runs = list(runs)

    def _add(self, plot, item) -> None:
        plot.addItem(item)
        self._items.append((plot, item))

    def draw(self, metric_key: str | None, log: bool) -> tuple[list, list]:
        """(Re)draw every run for the metric plot's ``metric_key``; returns the values drawn
        on each plot, for their ranges."""
        for plot, item in self._items:
            plot.removeItem(item)
        self._items = []
        loss_values: list = []
        metric_values: list = []
        for run in self.runs:
            color = run_color(run["number"])
            x = np.asarray(run["x"], dtype=np.float64)
            for plot, keys, bucket in (
                (self.loss_plot, ("loss", "val_loss"), loss_values),
                (self.metric_plot, (metric_key, f"val_{metric_key}"), metric_values),
            ):
                for key in keys:
                    values = run["history"].get(key) if key else None
                    if not values:
                        continue
                    n = min(len(values), len(x))
                    style = (
                        Qt.PenStyle.DashLine if key.startswith("val_") else Qt.PenStyle.SolidLine
                    )
                    curve = pg.PlotDataItem(
                        **CURVE_OPTS,
                        pen=make_pen(color, 1.6, style),
                        name=f"run {run['number']}" if key in ("loss", metric_key) else None,
                    )
                    curve.setData(
                        *finite_xy(
                            x[:n], np.asarray(values[:n], float), log and plot is self.loss_plot
                        )
                    )
                    self._add(plot, curve)
                    bucket.append(values[:n])
                    fork = run.get("fork")
                    if fork is not None and key in fork[1]:
                        y = float(fork[1][key])
                        if log and plot is self.loss_plot:
                            y = float(np.log10(y)) if y > 0 else 0.0
                        ring = pg.ScatterPlotItem(
                            [float(fork[0])],
                            [y],
                            symbol="o",
                            size=11,
                            pen=pg.mkPen(color, width=2),
                            brush=None,
                        )
                        ring.setToolTip(f"run {run['number']} forked here")
                        self._add(plot, ring)
        return loss_values, metric_values
