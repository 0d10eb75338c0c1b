"""Losses and metrics of the NumPy backend: Keras 3's formulas and reduction on arrays.

The names, aliases and fused pairs are :mod:`engine.losses`' (shared by every backend).

Reduction is Keras' default ``"sum_over_batch_size"``: each loss is first reduced to one value
per sample (the mean over the last axis for mean_squared_error, mean_absolute_error, hinge and
binary_crossentropy; the sum over classes for the crossentropies), then averaged over the
samples. Every gradient is the gradient of that scalar.

When the output layer's activation is softmax or sigmoid and the loss a crossentropy, the
pairs of :data:`engine.losses.FUSED`, Keras' TensorFlow backend does not use the activation's
output: it takes the logits the activation stored and computes a fused, numerically stable loss
from them, with the loss's own function of the logits (softmax for the categorical
crossentropies, sigmoid for binary crossentropy, even after the other activation).
:func:`compute_loss` does the same when given ``z`` and returns the gradient with respect to
the logits directly; otherwise it clips the output to ``[1e-7, 1 - 1e-7]`` exactly as Keras does
and lets the caller backpropagate through the activation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

# The vocabulary (names, aliases, canonical forms) lives in engine.losses; only the math is here.
from engine.losses import (
    canonical_loss,
    is_fused,
    resolve_loss,
    scored_activation,
)

# keras.backend.epsilon(): the clipping bound of the probability-space crossentropies.
EPSILON = 1e-7

Array = np.ndarray


class LossResult(NamedTuple):
    """What :func:`compute_loss` returns.

    Attributes
    ----------
    value : float
        The loss, averaged over the batch.
    grad_a : ndarray of shape (n, k)
        Gradient of ``value`` with respect to the network output ``a``. On the fused paths it
        is Keras' clipped probability-space gradient with respect to the probabilities the
        loss scores (:func:`scored_probabilities`: ``a``, or on a mismatched pair softmax(z)
        or sigmoid(z)), for display only.
    grad_z : ndarray of shape (n, k) or None
        Gradient of ``value`` with respect to the output layer's pre-activation ``z`` on the
        fused paths (softmax + categorical/sparse crossentropy, sigmoid + binary
        crossentropy), else None: the caller then backpropagates ``grad_a`` through the
        activation.
    per : ndarray of shape (n,) or None
        Each sample's loss (its mean over the units), before the reduction: what a sample
        weight multiplies.
    """

    value: float
    grad_a: Array
    grad_z: Array | None
    per: Array | None = None


def _float_array(x: object) -> Array:
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _sparse_labels(y_true: object, shape: tuple[int, ...]) -> Array:
    """Integer class labels of shape ``shape[:-1]`` (a trailing axis of 1 is squeezed)."""
    labels = np.asarray(y_true)
    if labels.ndim == len(shape) and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy needs one integer label per sample, shape "
            f"{shape[:-1]}, but the labels have shape {labels.shape}"
        )
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("sparse_categorical_crossentropy labels must be whole numbers")
    elif labels.dtype.kind not in "iub":
        raise ValueError(
            f"sparse_categorical_crossentropy labels must be integers, not {labels.dtype}"
        )
    labels = labels.astype(np.intp)
    k = shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = labels[(labels < 0) | (labels >= k)].ravel()[0]
        raise ValueError(
            f"label {bad} is out of range for {k} classes (labels must be in 0..{k - 1})"
        )
    return labels


def _one_hot(labels: Array, k: int, dtype: np.dtype) -> Array:
    out = np.zeros(labels.shape + (k,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _mean_value(per_sample: Array, count: int) -> float:
    # sum_over_batch_size: the sum of the per-sample losses divided by their number.
    return float(np.sum(per_sample) / count)


def _log_softmax(z: Array) -> tuple[Array, Array]:
    """Return ``(log_softmax(z), softmax(z))`` over the last axis, without overflow."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    total = np.sum(exp, axis=-1, keepdims=True)
    exp /= total
    return shifted - np.log(total), exp


def _sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _clip_mask(p: Array) -> tuple[Array, Array]:
    """Keras' clip to [eps, 1 - eps] and where its gradient passes (bounds inclusive, as TF)."""
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    mask = (p >= EPSILON) & (p <= 1 - EPSILON)
    return clipped, mask


# ---------------------------------------------------------------------------------------------
# Probability-space (non-fused) losses. Each returns (per-sample loss, grad of the mean wrt a).
# ---------------------------------------------------------------------------------------------


def _mse(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    diff = a - y
    per = np.mean(diff * diff, axis=-1)
    return per, diff * (2 / (count * a.shape[-1]))


def _mae(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    diff = a - y
    per = np.mean(np.abs(diff), axis=-1)
    return per, np.sign(diff) * (1 / (count * a.shape[-1]))


def _hinge(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    # keras.losses.hinge turns 0/1 labels into -1/+1, but only when every label is 0 or 1.
    if np.all((y == 0) | (y == 1)):
        y = 2 * y - 1
    margin = 1 - y * a
    per = np.mean(np.maximum(margin, 0), axis=-1)
    # tf.maximum sends the gradient to its first argument on ties, so a zero margin counts.
    grad = np.where(margin >= 0, -y, 0).astype(a.dtype) * (1 / (count * a.shape[-1]))
    return per, grad


def _bce(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    c, mask = _clip_mask(a)
    per = -np.mean(y * np.log(c) + (1 - y) * np.log(1 - c), axis=-1)
    grad = np.where(mask, (1 - y) / (1 - c) - y / c, 0).astype(a.dtype)
    grad *= 1 / (count * a.shape[-1])
    return per, grad


def _cce(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    # Keras renormalises the output to sum to 1 over the classes before clipping.
    with np.errstate(divide="ignore", invalid="ignore"):
        # An all-zero row gives NaN, as in Keras; the training loop reports it.
        total = np.sum(a, axis=-1, keepdims=True)
        p = a / total
        c, mask = _clip_mask(p)
        per = -np.sum(y * np.log(c), axis=-1)
        grad_p = np.where(mask, -y / c, 0).astype(a.dtype)
        grad = (grad_p - np.sum(grad_p * p, axis=-1, keepdims=True)) / total
    grad *= 1 / count
    return per, grad


def _scce(labels: Array, a: Array, count: int) -> tuple[Array, Array]:
    # Keras clips, takes the log and feeds it to sparse_softmax_cross_entropy_with_logits, which
    # renormalises: loss = log(sum(c)) - log(c[label]).
    c, mask = _clip_mask(a)
    total = np.sum(c, axis=-1, keepdims=True)
    picked = np.take_along_axis(c, labels[..., None], axis=-1)
    per = (np.log(total) - np.log(picked))[..., 0]
    grad = 1 / total - _one_hot(labels, a.shape[-1], a.dtype) / c
    grad = np.where(mask, grad, 0).astype(a.dtype)
    grad *= 1 / count
    return per, grad


# ---------------------------------------------------------------------------------------------
# Fused losses from the logits. Each returns (per-sample loss, grad of the mean wrt z).
# ---------------------------------------------------------------------------------------------


def _cce_logits(y: Array, z: Array, count: int) -> tuple[Array, Array]:
    log_sm, sm = _log_softmax(z)
    per = -np.sum(y * log_sm, axis=-1)
    # tf.nn.softmax_cross_entropy_with_logits' gradient is softmax - labels, which assumes each
    # label row sums to 1; keep it so that both backends agree.
    sm -= y
    sm *= 1 / count
    return per, sm


def _scce_logits(labels: Array, z: Array, count: int) -> tuple[Array, Array]:
    log_sm, sm = _log_softmax(z)
    per = -np.take_along_axis(log_sm, labels[..., None], axis=-1)[..., 0]
    sm -= _one_hot(labels, z.shape[-1], z.dtype)
    sm *= 1 / count
    return per, sm


def _bce_logits(y: Array, z: Array, count: int) -> tuple[Array, Array]:
    # tf.nn.sigmoid_cross_entropy_with_logits: max(z, 0) - z*y + log1p(exp(-|z|)).
    per = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), axis=-1)
    grad = _sigmoid(z) - y
    grad *= 1 / (count * z.shape[-1])
    return per, grad


def _squared_hinge(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    if np.all((y == 0) | (y == 1)):
        y = 2 * y - 1
    margin = np.maximum(1 - y * a, 0)
    per = np.mean(margin * margin, axis=-1)
    return per, (-2 * y * margin) * (1 / (count * a.shape[-1]))


def _categorical_hinge(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    # max(neg − pos + 1, 0) with pos = Σ y·ŷ and neg = max((1 − y)·ŷ); TF's reduce_max shares
    # its gradient among tied maxima, tf.maximum gives it to its first argument on ties.
    other = (1 - y) * a
    neg = np.max(other, axis=-1, keepdims=True)
    pos = np.sum(y * a, axis=-1, keepdims=True)
    margin = neg - pos + 1
    per = np.maximum(margin, 0)[..., 0]
    ties = (other == neg).astype(a.dtype)
    ties /= np.sum(ties, axis=-1, keepdims=True)
    grad = np.where(margin >= 0, ties * (1 - y) - y, 0).astype(a.dtype) * (1 / count)
    return per, grad


def _huber(y: Array, a: Array, count: int, delta: float = 1.0) -> tuple[Array, Array]:
    err = a - y
    small = np.abs(err) <= delta
    d = a.dtype.type(delta)
    per = np.mean(np.where(small, 0.5 * err * err, d * np.abs(err) - 0.5 * d * d), axis=-1)
    grad = np.where(small, err, d * np.sign(err)) * (1 / (count * a.shape[-1]))
    return per, grad.astype(a.dtype)


def _log_cosh(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    # Keras: x + softplus(−2x) − log 2, whose derivative is 1 − 2·sigmoid(−2x) = tanh(x).
    x = a - y
    per = np.mean(x + np.logaddexp(0, -2 * x) - np.log(a.dtype.type(2)), axis=-1)
    grad = (1 - 2 * _sigmoid(-2 * x)) * (1 / (count * a.shape[-1]))
    return per, grad.astype(a.dtype)


def _msle(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    pa = np.maximum(a, EPSILON)
    diff = np.log(pa + 1) - np.log(np.maximum(y, EPSILON) + 1)
    per = np.mean(diff * diff, axis=-1)
    # tf.maximum passes the gradient to ŷ where ŷ ≥ ε.
    grad = np.where(a >= EPSILON, 2 * diff / (pa + 1), 0) * (1 / (count * a.shape[-1]))
    return per, grad.astype(a.dtype)


def _mape(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    scale = np.maximum(np.abs(y), EPSILON)
    per = 100 * np.mean(np.abs((y - a) / scale), axis=-1)
    grad = (100 * np.sign(a - y) / scale) * (1 / (count * a.shape[-1]))
    return per, grad.astype(a.dtype)


def _kl_divergence(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    yt = np.clip(y, EPSILON, 1)
    yp = np.clip(a, EPSILON, 1)
    per = np.sum(yt * np.log(yt / yp), axis=-1)
    # tf.clip_by_value passes the gradient where the value lies within the bounds.
    grad = np.where((a >= EPSILON) & (a <= 1), -yt / yp, 0) * (1 / count)
    return per, grad.astype(a.dtype)


def _poisson(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    with np.errstate(invalid="ignore", divide="ignore"):
        # A negative rate gives NaN, as in Keras; the training loop reports it.
        per = np.mean(a - y * np.log(a + EPSILON), axis=-1)
    grad = (1 - y / (a + EPSILON)) * (1 / (count * a.shape[-1]))
    return per, grad.astype(a.dtype)


def _cosine_similarity(y: Array, a: Array, count: int) -> tuple[Array, Array]:
    # Keras' normalize: x·min(rsqrt(Σx²), 1/ε); the loss is −Σ ŷₙ·yₙ.
    limit = a.dtype.type(1 / EPSILON)
    with np.errstate(divide="ignore"):
        inv_a = 1 / np.sqrt(np.sum(a * a, axis=-1, keepdims=True))
        inv_y = 1 / np.sqrt(np.sum(y * y, axis=-1, keepdims=True))
    free = inv_a <= limit
    inv_a, inv_y = np.minimum(inv_a, limit), np.minimum(inv_y, limit)
    yn = y * inv_y
    dot = np.sum(yn * a, axis=-1, keepdims=True)
    per = -(dot * inv_a)[..., 0]
    grad = -yn * inv_a + np.where(free, dot * inv_a**3 * a, 0)
    return per, (grad * (1 / count)).astype(a.dtype)


_PROBABILITY_LOSSES = {
    "mean_squared_error": _mse,
    "mean_absolute_error": _mae,
    "binary_crossentropy": _bce,
    "categorical_crossentropy": _cce,
    "sparse_categorical_crossentropy": _scce,
    "hinge": _hinge,
    "huber": _huber,
    "log_cosh": _log_cosh,
    "mean_squared_logarithmic_error": _msle,
    "mean_absolute_percentage_error": _mape,
    "squared_hinge": _squared_hinge,
    "categorical_hinge": _categorical_hinge,
    "kl_divergence": _kl_divergence,
    "poisson": _poisson,
    "cosine_similarity": _cosine_similarity,
}

# The fused losses from the logits of a softmax or sigmoid output (engine.losses.FUSED).
_FUSED_LOSSES = {
    "categorical_crossentropy": _cce_logits,
    "sparse_categorical_crossentropy": _scce_logits,
    "binary_crossentropy": _bce_logits,
}


def scored_probabilities(loss: str, activation: str | None, a: Array, z: Array) -> Array:
    """The probabilities a fused ``loss`` scores after an output ``activation``: the output
    ``a`` itself, or on a mismatched pair (:func:`engine.losses.is_mismatched`) the loss's own
    function of the logits ``z`` (softmax(z) for the categorical crossentropies, sigmoid(z)
    for binary crossentropy)."""
    scored = scored_activation(activation, loss)
    if scored is None or scored == activation:
        return a
    if scored == "softmax":
        return _log_softmax(z)[1]
    return _sigmoid(z)


def smoothed_targets(loss: str, config: dict, target: Array) -> Array:
    """The targets a crossentropy with ``label_smoothing`` ε scores, as Keras moves them:
    ``y·(1 − ε) + ε/k`` (categorical, k classes) or ``y·(1 − ε) + ε/2`` (binary); the targets
    themselves otherwise."""
    smoothing = config.get("label_smoothing") or 0.0
    if not smoothing:
        return target
    target = np.asarray(target)
    dt = target.dtype.type if target.dtype.kind == "f" else np.float64
    categorical = loss in ("categorical_crossentropy", "categorical_focal_crossentropy")
    share = 1 / target.shape[-1] if categorical else 0.5
    return target * dt(1 - smoothing) + dt(smoothing * share)


def compute_loss(
    name: str,
    y_true: Array,
    a: Array,
    z: Array | None = None,
    activation: str | None = None,
    want_grad_a: bool = True,
    config: dict | None = None,
    sample_weight: Array | None = None,
) -> LossResult:
    """Loss value and gradients for one batch, as Keras 3 computes them.

    Parameters
    ----------
    name : str or dict
        A loss spec (:func:`engine.losses.resolve_loss`): a name from :data:`LOSS_NAMES`, an
        alias (``"mse"``), or ``{"class_name": ..., "config": ...}``.
    y_true : ndarray
        Targets: integer class labels of shape (n,) for sparse_categorical_crossentropy
        (shape (n, 1) is accepted too, as in Keras); otherwise of shape (n, k) like ``a``.
        Cast to the dtype of ``a``.
    a : ndarray of shape (n, k)
        The network's output (after the output activation).
    z : ndarray of shape (n, k), optional
        The output layer's pre-activation (logits). Used, together with ``activation``, for
        the fused crossentropy paths of a softmax or sigmoid output.
    activation : str, optional
        The output layer's activation name.
    want_grad_a : bool
        When False and a fused path applies, ``grad_a`` (only shown, never used for the update)
        is not computed and is None: the fast training path skips that work.
    config : dict, optional
        The loss's resolved config, instead of the one ``name`` gives: ``from_logits`` (a
        crossentropy of the output taken as logits), ``label_smoothing`` (targets moved
        towards uniform first), ``delta`` (Huber), ``reduction`` (``"sum"``: not divided by
        the batch size).
    sample_weight : ndarray of shape (n,), optional
        Each sample's weight (Keras' ``fit(sample_weight=...)``, or its ``class_weight`` turned
        into them): the sample's loss and gradient are multiplied by it.

    Returns
    -------
    LossResult
        ``(value, grad_a, grad_z)``; gradients have the shape and dtype of ``a``; ``grad_z`` is
        None unless a fused path was taken.

    Raises
    ------
    KeyError
        For an unknown loss name.
    ValueError
        When shapes do not fit or sparse labels are not valid class indices.
    """
    loss, resolved = resolve_loss(name)
    config = resolved if config is None else config
    a = _float_array(a)
    if a.ndim < 2:
        raise ValueError(f"the network output must have shape (n, k), got {a.shape}")
    count = a.size // a.shape[-1] if a.shape[-1] else 0
    if count == 0:
        raise ValueError(f"cannot compute a loss on an empty batch (output shape {a.shape})")

    if loss == "sparse_categorical_crossentropy":
        target = _sparse_labels(y_true, a.shape)
    else:
        target = np.asarray(y_true, dtype=a.dtype)
        if target.shape != a.shape:
            raise ValueError(
                f"{loss} needs targets of the output's shape {a.shape}, got {target.shape}"
            )

    target = smoothed_targets(loss, config, target)
    result = _batch_loss(loss, config, target, a, z, activation, count, want_grad_a)
    reduction = config.get("reduction")
    if sample_weight is not None:
        result = _weighted(result, sample_weight, a, count, reduction)
    # Keras' reduction "sum" does not divide by the batch size: the mean's gradients times it.
    scale = count if reduction == "sum" else 1
    if scale == 1:
        return result
    return LossResult(
        result.value * scale,
        None if result.grad_a is None else result.grad_a * a.dtype.type(scale),
        None if result.grad_z is None else result.grad_z * a.dtype.type(scale),
        result.per,
    )


def _weighted(result: LossResult, sample_weight, a: Array, count: int, reduction) -> LossResult:
    """Keras' reduce_weighted_values: each sample's loss times its weight, summed and divided
    by the batch size (``sum_over_batch_size``, ``mean``), or by the sum of the weights
    (``mean_with_sample_weight``; 0 when they sum to 0); the gradients' rows likewise."""
    w = np.asarray(sample_weight, dtype=a.dtype).reshape(-1)
    if len(w) != count or result.per is None or result.per.shape != (count,):
        raise ValueError(
            f"sample weights need one weight per sample of a (n, k) output: {len(w)} weights "
            f"for an output of shape {a.shape}"
        )
    per = result.per * w
    factor = a.dtype.type(1)
    if reduction == "mean_with_sample_weight":
        total = float(np.sum(w))
        factor = a.dtype.type(count / total) if total else a.dtype.type(0)
    rows = w[:, None] * factor if a.ndim == 2 else w.reshape((-1,) + (1,) * (a.ndim - 1)) * factor

    def scaled(g):
        return None if g is None else (g * rows).astype(a.dtype)

    value = float(np.sum(per) * factor / count)
    return LossResult(value, scaled(result.grad_a), scaled(result.grad_z), per)


def _batch_loss(loss, config, target, a, z, activation, count, want_grad_a) -> LossResult:
    """The mean loss of a batch (see :func:`compute_loss`), its targets already smoothed."""
    if loss in _FOCAL_LOSSES:
        return _FOCAL_LOSSES[loss](target, a, z, activation, config, count)
    fused = _FUSED_LOSSES.get(loss)
    if fused is not None and config.get("from_logits") and not is_fused(activation, loss):
        # The output itself is the logits (a linear output, say): the fused formula on it.
        per, grad = fused(target, a, count)
        return LossResult(_mean_value(per, count), grad, None, per)
    if z is None or fused is None or not is_fused(activation, loss):
        if loss == "huber":
            per, grad_a = _huber(target, a, count, config["delta"])
        else:
            per, grad_a = _PROBABILITY_LOSSES[loss](target, a, count)
        return LossResult(_mean_value(per, count), grad_a, None, per)
    z = np.asarray(z, dtype=a.dtype)
    if z.shape != a.shape:
        raise ValueError(f"the logits have shape {z.shape} but the output has shape {a.shape}")
    grad_a = None
    if want_grad_a:
        grad_a = _PROBABILITY_LOSSES[loss](
            target, scored_probabilities(loss, activation, a, z), count
        )[1]
    per, grad_z = fused(target, z, count)
    return LossResult(_mean_value(per, count), grad_a, grad_z, per)


def _softmax_rows(x: Array) -> Array:
    return _log_softmax(x)[1]


def _softmax_vjp(p: Array, g: Array) -> Array:
    return p * (g - np.sum(g * p, axis=-1, keepdims=True))


def _categorical_focal(y, a, z, activation, config, count) -> LossResult:
    """Keras' categorical_focal_crossentropy: the output renormalized to sum to 1 and
    clipped to [ε, 1 − ε], then Σ_classes α·(1 − p)^γ·(−y·log p), mean over the batch
    (``from_logits``: softmax of the output first)."""
    alpha, gamma = a.dtype.type(config["alpha"]), a.dtype.type(config["gamma"])
    probs = _softmax_rows(a) if config["from_logits"] else a
    total = np.sum(probs, axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = probs / total
    c, mask = _clip_mask(o)
    log_c = np.log(c)
    modulating = (1 - c) ** gamma
    per = np.sum(modulating * alpha * (-y * log_c), axis=-1)
    # d/dc of α(1 − c)^γ·(−y log c); (1 − c)^(γ−1) only where γ > 0
    d_mod = gamma * (1 - c) ** (gamma - 1) if gamma else np.zeros_like(c)
    g_c = alpha * (d_mod * y * log_c - modulating * y / c)
    g_o = np.where(mask, g_c, 0)
    g_p = (g_o - np.sum(g_o * o, axis=-1, keepdims=True)) / total
    grad = _softmax_vjp(probs, g_p) if config["from_logits"] else g_p
    return LossResult(_mean_value(per, count), (grad * (1 / count)).astype(a.dtype), None, per)


def _binary_focal(y, a, z, activation, config, count) -> LossResult:
    """Keras' binary_focal_crossentropy: ``w·(1 − p_t)^γ·bce`` averaged over the units and
    the batch, ``p_t = y·p + (1 − y)·(1 − p)``, ``w = y·α + (1 − y)·(1 − α)`` with
    ``apply_class_balancing`` (else 1). Its crossentropy is Keras' binary_crossentropy of the
    output: from the logits of a sigmoid or softmax output (Keras' ``_keras_logits``; the
    gradient then comes back as dL/dz), or of ``sigmoid(output)`` with ``from_logits``, else
    from the probabilities clipped to [ε, 1 − ε]."""
    dt = a.dtype.type
    gamma = dt(config["gamma"])
    n = count * a.shape[-1]
    if config["from_logits"]:
        s, p, fused = a, _sigmoid(a), False
    elif z is not None and is_fused(activation, "binary_focal_crossentropy"):
        s, p, fused = np.asarray(z, dtype=a.dtype), a, True
    else:
        s, p, fused = None, a, False
    if s is not None:  # tf.nn.sigmoid_cross_entropy_with_logits
        bce = np.maximum(s, 0) - s * y + np.log1p(np.exp(-np.abs(s)))
        d_bce_s = _sigmoid(s) - y
    else:
        c, mask = _clip_mask(p)
        bce = -(y * np.log(c) + (1 - y) * np.log(1 - c))
        d_bce_p = np.where(mask, (1 - y) / (1 - c) - y / c, 0)
    p_t = y * p + (1 - y) * (1 - p)
    focal = (1 - p_t) ** gamma
    weight = 1
    if config["apply_class_balancing"]:
        alpha = dt(config["alpha"])
        weight = y * alpha + (1 - y) * (1 - alpha)
    per = np.mean(weight * focal * bce, axis=-1)
    d_focal = -gamma * (1 - p_t) ** (gamma - 1) * (2 * y - 1) if gamma else np.zeros_like(p)
    via_p = weight * d_focal * bce  # d(elementwise loss)/dp through the focal factor
    if s is None:
        grad = (via_p + weight * focal * d_bce_p) / n
        return LossResult(_mean_value(per, count), grad.astype(a.dtype), None, per)
    via_s = weight * focal * d_bce_s
    if not fused:  # from_logits: p = sigmoid(output), the crossentropy of the output
        grad = (via_p * p * (1 - p) + via_s) / n
        return LossResult(_mean_value(per, count), grad.astype(a.dtype), None, per)
    if activation == "sigmoid":
        back = via_p * p * (1 - p)
    else:  # a softmax output: p is softmax(z), mixing the units
        back = _softmax_vjp(p, via_p)
    grad_z = ((back + via_s) / n).astype(a.dtype)
    # dL/d output, shown only: the crossentropy's part as if taken from the output itself
    c, mask = _clip_mask(p)
    d_bce_p = np.where(mask, (1 - y) / (1 - c) - y / c, 0)
    grad_a = ((via_p + weight * focal * d_bce_p) / n).astype(a.dtype)
    return LossResult(_mean_value(per, count), grad_a, grad_z, per)


_FOCAL_LOSSES = {
    "binary_focal_crossentropy": _binary_focal,
    "categorical_focal_crossentropy": _categorical_focal,
}


def metric_value(metric: Any, loss: str | None, y_true: Array, y_pred: Array) -> float:
    """One metric over one batch, as Keras' ``compile(metrics=[...])`` computes it (a fresh
    state updated once: see :mod:`engine.metric_state`).

    Parameters
    ----------
    metric
        A metric spec (:mod:`engine.metrics`): ``"accuracy"``, ``"mse"``, ``"auc"``, ...
    loss : str or None
        The compiled loss; None for the Perceptron, whose accuracy is the fraction of ±1
        predictions equal to the ±1 targets.
    y_true, y_pred : ndarray
        Targets (integer labels with sparse_categorical_crossentropy, else the output's
        shape) and the network's output.
    """
    from engine.metric_state import batch_metrics
    from engine.metrics import resolve_metric

    if loss is not None:
        canonical_loss(loss)
    try:
        key = resolve_metric(metric).key
    except ValueError as exc:
        raise KeyError(str(exc)) from None
    return batch_metrics([metric], loss, y_true, y_pred)[key]
