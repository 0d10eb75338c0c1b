"""Plot ranges set from the data, with hysteresis (:class:`Ranger`), and the finite-value
helpers it needs: a NaN never reaches a curve or a range."""

from __future__ import annotations

import math

import numpy as np


def finite_xy(x: np.ndarray, y: np.ndarray, positive: bool = False):
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


def data_bounds(*arrays, log: bool = False) -> tuple[float, float] | None:
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
