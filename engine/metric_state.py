"""Metrics as Keras computes them over an epoch: state that batches update, and its result.

Keras' metrics are stateful (``update_state`` per batch, ``result`` at any time, ``reset_state``
per epoch): a mean metric (accuracy, mean squared error, top-k) keeps a total and a count;
Precision and Recall keep true and false positives; AUC a confusion matrix per threshold;
F1Score per-class counts; R2Score per-output sums. A precision over an epoch is not the mean of
its batch precisions, so the training loop keeps one :class:`MetricSet` per epoch and asks it
for the running results after every batch, as ``model.fit`` shows them.

Every backend hands its outputs to the same code here (the TensorFlow backend copies each
step's output back), so the engines cannot disagree on a metric. The formulas follow
``keras/src/metrics`` (Keras 3.15): thresholds compared strictly (``y_pred > t``), evenly spaced
thresholds (AUC's) counted by Keras' bucket method on predictions clipped to [0, 1], values in
float32 as Keras' metric variables hold them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.metrics import ACCURACY, MetricSpec, resolve_metric

#: Keras' backend.epsilon().
EPSILON = 1e-7
#: Keras' metrics_utils.NEG_INF, the score top_k gives the units it drops.
NEG_INF = -1e10
F32 = np.float32


def _same_rank(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras' squeeze_or_expand_to_same_rank for ranks that differ by one."""
    if a.ndim == b.ndim - 1:
        a = a[..., None]
    elif b.ndim == a.ndim - 1:
        b = b[..., None]
    return a, b


def _per_sample(values: np.ndarray) -> np.ndarray:
    """Keras' reduce_to_samplewise_values: the mean over every axis but the first."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim > 1:
        values = values.reshape(len(values), -1).mean(axis=1)
    return values.reshape(-1)


def _divide_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


class _Mean:
    """A mean of per-sample values over every batch (Keras' MeanMetricWrapper)."""

    def __init__(self, fn, finish=None) -> None:
        self.fn, self.finish = fn, finish
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        values = _per_sample(self.fn(y_true, y_pred))
        self.total += float(values.sum())
        self.count += len(values)

    def result(self) -> float:
        mean = self.total / self.count if self.count else 0.0
        return float(self.finish(mean)) if self.finish else mean


def _accuracy(loss: str | None):
    """Keras' ``"accuracy"``: binary (threshold 0.5) on a width-1 output, sparse categorical on
    integer labels, else categorical (argmax equal); the Perceptron's ±1 predictions against
    its ±1 targets."""

    def fn(y_true, y_pred):
        if loss is None:
            y_true, y_pred = _same_rank(y_true, y_pred)
            return (y_pred == y_true).astype(np.float64)
        is_sparse = y_true.ndim < y_pred.ndim or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
        if y_pred.shape[-1] == 1:
            return _binary_accuracy(0.5)(y_true, y_pred)
        if is_sparse:
            return _sparse_accuracy(y_true, y_pred)
        return _categorical_accuracy(y_true, y_pred)

    return fn


def _binary_accuracy(threshold: float):
    def fn(y_true, y_pred):
        y_true, y_pred = _same_rank(y_true, y_pred)
        return ((y_pred > threshold) == y_true).astype(np.float64)

    return fn


def _sparse_accuracy(y_true, y_pred):
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0]
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float64)


def _categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)).astype(np.float64)


def _in_top_k(labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """TensorFlow's in_top_k: a label is in the top k when fewer than k scores beat its own
    (ties at the boundary all count); a row with a non-finite score, or a label outside the
    row, never is."""
    scores = scores.reshape(-1, scores.shape[-1])
    labels = labels.reshape(-1).astype(np.int64)
    ok = (labels >= 0) & (labels < scores.shape[-1]) & np.isfinite(scores).all(axis=-1)
    own = scores[np.arange(len(labels)), np.clip(labels, 0, scores.shape[-1] - 1)]
    beaten = (scores > own[:, None]).sum(axis=-1)
    return ((beaten < k) & ok).astype(np.float64)


def _squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true.astype(y_pred.dtype), y_pred)
    d = y_true - y_pred
    return d * d


def _absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true.astype(y_pred.dtype), y_pred)
    return np.abs(y_true - y_pred)


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Keras' _filter_top_k: the k highest units of each row kept, the rest NEG_INF."""
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros_like(x, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return np.where(mask, x, F32(NEG_INF)).astype(x.dtype)


def _evenly_spaced(thresholds: np.ndarray) -> bool:
    """Keras' is_evenly_distributed_thresholds."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


class _Confusion:
    """True/false positives and negatives per threshold (Keras'
    update_confusion_matrix_variables), per label when ``multi_label``."""

    def __init__(
        self,
        thresholds: np.ndarray,
        evenly: bool,
        top_k: int | None = None,
        class_id: int | None = None,
        multi_label: bool = False,
        label_weights: np.ndarray | None = None,
    ) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.evenly = evenly
        self.top_k, self.class_id = top_k, class_id
        self.multi_label = multi_label
        self.label_weights = label_weights
        self.tp = self.fp = self.tn = self.fn = None

    def reset(self) -> None:
        self.tp = self.fp = self.tn = self.fn = None

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y_true = np.asarray(y_true, dtype=np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        y_pred, y_true = _same_rank(y_pred, y_true)
        if self.top_k is not None:
            y_pred = _filter_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            y_true = y_true[..., self.class_id, None]
            y_pred = y_pred[..., self.class_id, None]
        weights = None
        if self.label_weights is not None and not self.multi_label:
            weights = np.broadcast_to(self.label_weights.astype(np.float32), y_pred.shape)
        if self.multi_label:
            labels = y_true.reshape(len(y_true), -1) != 0  # (n, L)
            preds = y_pred.reshape(len(y_pred), -1)
        else:
            labels = y_true.reshape(-1) != 0
            preds = y_pred.reshape(-1)
            if weights is not None:
                weights = weights.reshape(-1)
        if self.evenly:
            pos = self._positive_evenly(preds)
        else:
            t = self.thresholds.reshape((-1,) + (1,) * preds.ndim)
            pos = preds[None] > t  # (T, ...)
        w = np.ones(preds.shape, dtype=np.float64) if weights is None else weights
        lab = labels[None]
        counts = {
            "tp": (pos & lab) * w,
            "fp": (pos & ~lab) * w,
            "tn": (~pos & ~lab) * w,
            "fn": (~pos & lab) * w,
        }
        for name, c in counts.items():
            total = c.sum(axis=1).astype(np.float32)  # over the samples (and, flat, the units)
            old = getattr(self, name)
            setattr(self, name, total if old is None else (old + total).astype(np.float32))

    def _positive_evenly(self, preds: np.ndarray) -> np.ndarray:
        """Keras' bucket method for evenly spaced thresholds: predictions clipped to [0, 1],
        bucket ceil(p·(T−1))−1 (at least 0 when the end thresholds hold ±ε), positive at
        threshold i when the bucket is at least i."""
        t = self.thresholds
        n = len(t)
        with_eps = bool(t[0] < 0.0 or t[-1] > 1.0)
        p = np.clip(preds, 0.0, 1.0).astype(np.float32)
        bucket = np.ceil(p * F32(n - 1)) - 1
        if with_eps:
            bucket = np.maximum(bucket, 0)
        idx = np.arange(n).reshape((-1,) + (1,) * preds.ndim)
        return bucket[None].astype(np.int64) >= idx


class _Precision:
    def __init__(self, cfg: dict[str, Any], recall: bool = False) -> None:
        default = 0.5 if cfg["top_k"] is None else NEG_INF
        t = cfg["thresholds"]
        thresholds = np.array([default if t is None else t])
        self.recall = recall
        self.conf = _Confusion(thresholds, False, cfg["top_k"], cfg["class_id"])

    def reset(self) -> None:
        self.conf.reset()

    def update(self, y_true, y_pred) -> None:
        self.conf.update(y_true, y_pred)

    def result(self) -> float:
        c = self.conf
        if c.tp is None:
            return 0.0
        other = c.fn if self.recall else c.fp
        return float(_divide_no_nan(c.tp, c.tp + other)[0])


class _AUC:
    def __init__(self, cfg: dict[str, Any]) -> None:
        if cfg["thresholds"] is not None:
            inner = sorted(cfg["thresholds"])
            self.n = len(inner) + 2
            evenly = _evenly_spaced(np.array([0.0, *inner, 1.0]))
        else:
            self.n = cfg["num_thresholds"]
            inner = [(i + 1) * 1.0 / (self.n - 1) for i in range(self.n - 2)]
            evenly = True
        thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON])
        self.curve, self.method = cfg["curve"], cfg["summation_method"]
        self.multi_label = cfg["multi_label"]
        self.from_logits = cfg["from_logits"]
        lw = cfg["label_weights"]
        self.label_weights = None if lw is None else np.asarray(lw, dtype=np.float32)
        self.conf = _Confusion(
            thresholds,
            evenly,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
        )

    def reset(self) -> None:
        self.conf.reset()

    def update(self, y_true, y_pred) -> None:
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-np.asarray(y_pred, dtype=np.float64)))
        self.conf.update(y_true, y_pred)

    def _by_label(self, terms: np.ndarray) -> float:
        if not self.multi_label:
            return float(terms.sum())
        per_label = terms.sum(axis=0)
        if self.label_weights is None:
            return float(per_label.mean())
        return float(
            _divide_no_nan((per_label * self.label_weights).sum(), self.label_weights.sum())
        )

    def result(self) -> float:
        c = self.conf
        if c.tp is None:
            return 0.0
        tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (c.tp, c.fp, c.tn, c.fn))
        n = self.n
        if self.curve == "PR" and self.method == "interpolation":
            dtp = tp[: n - 1] - tp[1:]
            p = tp + fp
            dp = p[: n - 1] - p[1:]
            slope = _divide_no_nan(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            both = (p[: n - 1] > 0) & (p[1:] > 0)
            ratio = np.where(both, _divide_no_nan(p[: n - 1], np.maximum(p[1:], 0)), 1.0)
            with np.errstate(divide="ignore"):
                log_ratio = np.log(ratio)
            inc = _divide_no_nan(
                slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0)
            )
            return self._by_label(inc)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            rg = 1.0 - scale * _divide_no_nan(fn, tp)
            pg = 1.0 - scale * _divide_no_nan(fp, tp)
            x = np.maximum(np.where(tp == 0, 0.0, rg), 0.0)
            y = np.where(tp == 0, 1.0, pg)
        if self.method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.method == "minoring":
            heights = np.minimum(y[: n - 1], y[1:])
        else:
            heights = np.maximum(y[: n - 1], y[1:])
        return self._by_label((x[: n - 1] - x[1:]) * heights)


class _FBeta:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.average = cfg["average"]
        self.beta = float(cfg.get("beta", 1.0))
        self.threshold = cfg["threshold"]
        self.reset()

    def reset(self) -> None:
        self.tp = self.fp = self.fn = self.weights = None

    def update(self, y_true, y_pred) -> None:
        y_true = np.asarray(y_true, dtype=np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            pred = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(np.float32)
        axis = None if self.average == "micro" else 0
        sums = {
            "tp": (pred * y_true).sum(axis=axis),
            "fp": (pred * (1 - y_true)).sum(axis=axis),
            "fn": ((1 - pred) * y_true).sum(axis=axis),
            "weights": y_true.sum(axis=axis),
        }
        for name, v in sums.items():
            old = getattr(self, name)
            setattr(self, name, v if old is None else old + v)

    def result(self) -> float:
        if self.tp is None:
            return 0.0
        precision = self.tp / (self.tp + self.fp + EPSILON)
        recall = self.tp / (self.tp + self.fn + EPSILON)
        b2 = self.beta**2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            return float(np.sum(score * self.weights / (np.sum(self.weights) + EPSILON)))
        return float(np.mean(score))


class _R2:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.aggregation = cfg["class_aggregation"]
        self.num_regressors = int(cfg["num_regressors"])
        self.reset()

    def reset(self) -> None:
        self.sum = self.squared_sum = self.total_mse = self.count = None
        self.num_samples = 0

    def update(self, y_true, y_pred) -> None:
        y_true = np.asarray(y_true, dtype=np.float32)
        y_pred = np.asarray(y_pred, dtype=np.float32)
        y_true, y_pred = _same_rank(y_true, y_pred)
        parts = {
            "sum": y_true.sum(axis=0),
            "squared_sum": (y_true * y_true).sum(axis=0),
            "total_mse": ((y_true - y_pred) ** 2).sum(axis=0),
            "count": np.full(y_true.shape[1:], len(y_true), dtype=np.float32),
        }
        for name, v in parts.items():
            old = getattr(self, name)
            setattr(self, name, v if old is None else old + v)
        self.num_samples += y_true.size

    def result(self) -> float:
        if self.sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.aggregation == "uniform_average":
            r2 = float(np.mean(raw))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = float(np.sum(total * raw) / np.sum(total))
        n, p = self.num_samples, self.num_regressors
        if p != 0 and p < n - 1:  # Keras falls back to the plain R² otherwise
            r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0)
        return r2


def make_state(spec: MetricSpec, loss: str | None):
    """The stateful computation of one resolved metric (``update``, ``result``, ``reset``)."""
    cls, cfg = spec.cls, spec.config
    if cls == ACCURACY:
        return _Mean(_accuracy(loss))
    if cls == "BinaryAccuracy":
        return _Mean(_binary_accuracy(float(cfg["threshold"])))
    if cls == "CategoricalAccuracy":
        return _Mean(_categorical_accuracy)
    if cls == "SparseCategoricalAccuracy":
        return _Mean(_sparse_accuracy)
    if cls == "TopKCategoricalAccuracy":
        k = cfg["k"]
        return _Mean(lambda t, p: _in_top_k(np.argmax(t, axis=-1), p, k))
    if cls == "SparseTopKCategoricalAccuracy":
        k = cfg["k"]
        return _Mean(lambda t, p: _in_top_k(np.asarray(t).reshape(-1), p, k))
    if cls == "MeanSquaredError":
        return _Mean(_squared_error)
    if cls == "MeanAbsoluteError":
        return _Mean(_absolute_error)
    if cls == "RootMeanSquaredError":
        return _Mean(_squared_error, math.sqrt)
    if cls in ("Precision", "Recall"):
        return _Precision(cfg, recall=cls == "Recall")
    if cls == "AUC":
        return _AUC(cfg)
    if cls in ("F1Score", "FBetaScore"):
        return _FBeta(cfg)
    if cls == "R2Score":
        return _R2(cfg)
    raise ValueError(f"no computation for the metric {cls}")


class MetricSet:
    """A model's compiled metrics over one epoch (or one evaluation): :meth:`update` with each
    batch's targets and output, :meth:`results` for the running values by history key,
    :meth:`reset` at an epoch's start.

    Parameters
    ----------
    specs : list
        The project's ``compile.metrics`` (names or serialized metrics).
    loss : str or None
        The canonical loss; None for the Perceptron.
    """

    def __init__(self, specs: list | None, loss: str | None) -> None:
        self.specs = [resolve_metric(s) for s in specs or []]
        self.keys = [s.key for s in self.specs]
        self.states = [make_state(s, loss) for s in self.specs]

    def __bool__(self) -> bool:
        return bool(self.states)

    def reset(self) -> None:
        for s in self.states:
            s.reset()

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if y_true.size == 0:
            raise ValueError("cannot compute a metric on an empty batch")
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(np.float64)
        for s in self.states:
            s.update(y_true, y_pred)

    def results(self) -> dict[str, float]:
        return {k: float(s.result()) for k, s in zip(self.keys, self.states, strict=True)}


def batch_metrics(specs: list | None, loss: str | None, y_true, y_pred) -> dict[str, float]:
    """The metrics of one batch alone (a fresh state updated once)."""
    ms = MetricSet(specs, loss)
    if ms:
        ms.update(y_true, y_pred)
    return ms.results()
