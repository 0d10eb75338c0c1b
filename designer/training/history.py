"""The UI side's record of a training run, built from the drained batches.

Every step's loss is kept (the worker never drops one); per-step curves are growable float64
arrays (float64 x: pyqtgraph's clipToView searches them, and float32 searches are slow, per
pyqtgraph discussion #2710). Snapshot series (gradient norms, update ratios) are kept per layer
and thinned by half when they reach :data:`MAX_SERIES` points, so a long run stays bounded.
"""

from __future__ import annotations

import math

import numpy as np

from engine.metrics import grows_better

#: Smoothing weight of the per-step loss curve (TensorBoard-style, debiased EMA).
SMOOTHING = 0.9
#: Snapshot series longer than this are thinned by half (every other point dropped).
MAX_SERIES = 20_000


class Series:
    """A growable float64 array (amortised O(1) appends, a view for plotting)."""

    __slots__ = ("_buf", "n")

    def __init__(self, capacity: int = 256) -> None:
        self._buf = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        need = self.n + len(values)
        if need > len(self._buf):
            cap = max(need, 2 * len(self._buf))
            buf = np.empty(cap, dtype=np.float64)
            buf[: self.n] = self._buf[: self.n]
            self._buf = buf
        self._buf[self.n : need] = values
        self.n = need

    def append(self, value: float) -> None:
        self.extend((value,))

    @property
    def data(self) -> np.ndarray:
        return self._buf[: self.n]

    def thin(self) -> None:
        """Keep every other value (used together on an x series and its y series)."""
        kept = self._buf[: self.n : 2].copy()
        self.n = len(kept)
        self._buf[: self.n] = kept

    def __len__(self) -> int:
        return self.n


class RunHistory:
    """One run (from a build or a reset until the next): steps, epochs and layer series.

    Attributes
    ----------
    step_x : Series
        Position of each step in epochs (``epoch - 1 + step / steps_per_epoch``).
    batch_loss, smooth_loss : Series
        The batch loss of every step and its debiased exponential moving average.
    learning_rate : Series
        The learning rate each step's update used (a schedule's rate at that step).
    step_metrics : dict of str to Series
        Running means of the epoch so far (``accuracy``...), per step.
    epochs : dict of str to list of float
        The Keras-style history (``loss``, ``val_loss``, ``accuracy``...), one per epoch.
    grad_norm, update_ratio : dict of str to Series
        Per layer, one value per snapshot, at ``snap_x`` (epochs).
    divergence : dict or None
        Where training produced a non-finite value (``x``, ``epoch``, ``step``, ``layer``,
        ``message``).
    """

    def __init__(self, run_id: int = 0) -> None:
        self.run_id = run_id
        self.step_x = Series()
        self.gsteps = 0
        self.batch_loss = Series()
        self.smooth_loss = Series()
        self.learning_rate = Series()
        self.step_metrics: dict[str, Series] = {}
        self.epochs: dict[str, list[float]] = {}
        self.epoch_x: list[float] = []
        self.snap_x = Series()
        self.grad_norm: dict[str, Series] = {}
        self.update_ratio: dict[str, Series] = {}
        self.divergence: dict | None = None
        self.samples = 0
        self.last_step = None
        self._ema = 0.0
        self._ema_n = 0

    # ------------------------------------------------------------------ feeding
    def add_steps(self, records) -> None:
        if not records:
            return
        n = len(records)
        xs = np.fromiter((r.x for r in records), dtype=np.float64, count=n)
        losses = np.fromiter((r.batch_loss for r in records), dtype=np.float64, count=n)
        smooth = np.empty(n, dtype=np.float64)
        ema, k = self._ema, self._ema_n
        for i, v in enumerate(losses):
            if math.isfinite(v):
                ema = SMOOTHING * ema + (1 - SMOOTHING) * v
                k += 1
            smooth[i] = ema / (1 - SMOOTHING**k) if k else math.nan
        self._ema, self._ema_n = ema, k
        self.step_x.extend(xs)
        self.batch_loss.extend(losses)
        self.smooth_loss.extend(smooth)
        self.learning_rate.extend([getattr(r, "learning_rate", math.nan) for r in records])
        keys = [key for key in records[-1].logs if key != "loss"]
        for key in keys:
            series = self.step_metrics.get(key)
            if series is None:
                series = self.step_metrics[key] = Series()
                if len(self.step_x) - n:  # a metric that appears late: pad with NaN
                    series.extend(np.full(len(self.step_x) - n, np.nan))
            series.extend([r.logs.get(key, math.nan) for r in records])
        self.gsteps = records[-1].gstep
        self.samples = records[-1].samples
        self.last_step = records[-1]

    def add_epochs(self, epochs) -> None:
        for epoch, logs, *_run in epochs:
            self.epoch_x.append(float(epoch))
            for key, v in logs.items():
                vals = self.epochs.setdefault(key, [])
                while len(vals) < len(self.epoch_x) - 1:
                    vals.append(math.nan)
                vals.append(float(v))

    def load_epochs(self, history: dict | None) -> None:
        """Start from an earlier history (a continued run, or one loaded with the project)."""
        self.epochs = {k: [float(v) for v in vals] for k, vals in (history or {}).items()}
        n = max((len(v) for v in self.epochs.values()), default=0)
        self.epoch_x = [float(i + 1) for i in range(n)]

    def add_snapshot(self, snap) -> None:
        x = (
            snap.epoch
            - 1
            + (
                self.last_step.step / self.last_step.steps_per_epoch
                if self.last_step is not None and self.last_step.epoch == snap.epoch
                else 1.0
                if snap.epoch > 0
                else 0.0
            )
        )
        self.snap_x.append(x)
        n = len(self.snap_x)
        for name, st in snap.layers.items():
            if not math.isfinite(st.grad_norm) and name not in self.grad_norm:
                continue
            for store, value in (
                (self.grad_norm, st.grad_norm),
                (self.update_ratio, st.update_ratio),
            ):
                series = store.get(name)
                if series is None:
                    series = store[name] = Series()
                    series.extend(np.full(n - 1, np.nan))
                series.append(value)
        for store in (self.grad_norm, self.update_ratio):
            for series in store.values():
                while len(series) < n:
                    series.append(math.nan)
        if n >= MAX_SERIES:
            self.snap_x.thin()
            for store in (self.grad_norm, self.update_ratio):
                for series in store.values():
                    series.thin()

    # ------------------------------------------------------------------ queries
    def best(self, key: str) -> tuple[float, int] | None:
        """The best finite value of ``key`` and its epoch (min for losses and errors, max for
        metrics that grow better: :func:`engine.metrics.grows_better`); NaN and inf never
        count as best."""
        vals = self.epochs.get(key, [])
        best = None
        lower = not grows_better(key)
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                continue
            if best is None or (v < best[0] if lower else v > best[0]):
                best = (v, i + 1)
        return best

    def metric_keys(self) -> list[str]:
        """Epoch metrics other than the losses (``loss`` and its ``regularization_loss``
        part, drawn on the loss plot), without the ``val_`` prefix."""
        losses = ("loss", "regularization_loss")
        keys = [k for k in self.epochs if not k.startswith("val_") and k not in losses]
        for k in self.step_metrics:
            if k not in keys and k not in losses:
                keys.append(k)
        return keys
