"""Numerical gradient checks: backprop against central differences, in float64.

What is compared, per checked weight entry ``w``:

* the analytic gradient ``a`` (the backward pass), and
* a numerical one ``n``: central differences with the steps ``h`` and ``h/2``, combined by
  Richardson extrapolation (``n = (4·D(h/2) − D(h)) / 3``), which cancels the ``h²`` term of
  the truncation error. The step is chosen per entry, ``h ≈ 2·eps^(1/3)·max(1, |w|)`` rounded to
  a power of two so that ``w ± h`` and ``w ± h/2`` are exact.

Central differences cannot resolve a gradient smaller than the loss's own rounding divided by
the step. That rounding is measured, not guessed: the five points ``w − h … w + h`` the check
evaluates anyway are equally spaced, and their fourth difference is pure round-off for a smooth
loss (its truncation part is ~h⁴·L'''' ≈ 1e-20), so ``|Δ⁴L| / √70`` estimates the standard
deviation σ of one loss evaluation's rounding (Moré & Wild's ECnoise, with one table). σ is
pooled over the entries checked whose loss moved at all (root mean square) and never taken below
``eps·S``, where S is the size of the quantities the loss is computed from (1 for the
crossentropies and hinge: a probability near 1 resolves only to eps, so a confident network's
loss rounds to exactly 0 while its gradient is still about e^-margin); each entry uses the
larger of the pooled and its own value. The numerical gradient then carries a round-off of
about ``1.9·σ/h``; the absolute floor is ``atol = FLOOR_SIGMAS · 1.9·σ/h``.

An entry passes when ``|a − n| ≤ max(atol, rtol·|a|, rtol·|n|)`` (the absolute-plus-relative
criterion of torch.autograd.gradcheck, with max for sum). Its error is reported as the relative
error with a floored denominator, ``|a − n| / max(|a|, |n|, atol/rtol)``, so that "error ≤ rtol"
is exactly that criterion. An entry whose ``|a|`` and ``|n|`` both sit below the floor is "too
small to judge": it is counted, never failed and kept out of the worst error.

Entries whose perturbation moves a pre-activation across a kink (ReLU and leaky ReLU and SELU at
0, hard sigmoid at ±3) or the loss across one of its own (mean absolute error at ``ŷ = y``, hinge
at a zero margin, the probability clipping of the non-fused crossentropies) are skipped, because
there the numerical derivative is meaningless, and counted in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Kinks of the activations, as the pre-activation values where the derivative jumps.
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,),
    "leaky_relu": (0.0,),
    "selu": (0.0,),
    "hard_sigmoid": (-3.0, 3.0),
    "relu6": (0.0, 6.0),
    "hard_silu": (-3.0, 3.0),
    "hard_swish": (-3.0, 3.0),
    "sign": (0.0,),
}
KINKED = set(KINKS)

EPS64 = float(np.finfo(np.float64).eps)
#: The outer step is about twice the cube root of eps (relative to max(1, |w|)): the step that
#: balances truncation and round-off for a plain central difference; Richardson then removes
#: the truncation term that remains.
STEP_SCALE = 2.0 * EPS64 ** (1.0 / 3.0)
#: How many standard deviations of the numerical gradient's round-off the absolute floor is.
FLOOR_SIGMAS = 10.0
#: Default relative tolerance (float64, smooth functions: cs231n's "good" threshold).
RTOL = 1e-6
# Standard deviation of Δ⁴L = L₋₂ − 4L₋₁ + 6L₀ − 4L₁ + L₂ for iid rounding σ: σ·√70.
_D4_NORM = math.sqrt(70.0)
# Of n = [8(L₊½ − L₋½) − (L₊₁ − L₋₁)] / (6h): σ·√130 / (6h).
_N_NOISE = math.sqrt(130.0) / 6.0

PASS, FAIL, TOO_SMALL, SKIPPED = "pass", "fail", "too small to judge", "skipped"


@dataclass
class LayerCheck:
    """The check of one weight array.

    Attributes
    ----------
    layer, weight : str
        ``"dense"``, ``"kernel"``.
    max_rel_error : float
        The worst ``|a − n| / max(|a|, |n|, atol/rtol)`` over the entries judged (0 when none
        was; NaN when a loss or gradient was not finite).
    checked : int
        Entries compared, including those too small to judge.
    skipped : int
        Entries skipped because a perturbation crossed a kink.
    too_small : int
        Entries where both gradients sit below the absolute floor.
    max_abs_error : float
        The worst ``|a − n|`` over the entries judged.
    floor : float
        The largest absolute floor ``atol`` used for an entry of this array.
    rtol : float
        The relative tolerance the errors were measured against.
    """

    layer: str
    weight: str
    max_rel_error: float
    checked: int
    skipped: int
    too_small: int = 0
    max_abs_error: float = 0.0
    floor: float = 0.0
    rtol: float = RTOL

    @property
    def judged(self) -> int:
        """Entries whose gradients were large enough to be compared."""
        return self.checked - self.too_small

    @property
    def verdict(self) -> str:
        """``"pass"``, ``"fail"``, ``"too small to judge"`` or ``"skipped"`` (every entry
        crossed a kink)."""
        return grade(self.max_rel_error, self.checked, self.too_small, self.rtol)


def grade(rel_error: float, checked: int, too_small: int = 0, rtol: float = RTOL) -> str:
    """The verdict of a weight array from its worst error and its counts (see
    :class:`LayerCheck`)."""
    if checked == 0:
        return SKIPPED
    if not np.isfinite(rel_error):
        return FAIL
    if too_small >= checked:
        return TOO_SMALL
    return PASS if rel_error <= rtol else FAIL


def _step(w: float) -> float:
    # A power of two, so that w ± h and w ± h/2 are exact for any |w| below 2**52·h.
    return float(2.0 ** round(math.log2(STEP_SCALE * max(1.0, abs(w)))))


def _loss_regions(model, y: np.ndarray, out: np.ndarray) -> list[np.ndarray]:
    """Which side of each of the loss's own kinks every output sits on."""
    loss = model.loss
    if loss == "mean_absolute_error":
        return [out > y]
    if loss == "hinge":
        t = np.asarray(y, dtype=out.dtype)
        if np.all((t == 0) | (t == 1)):
            t = 2 * t - 1
        return [1 - t * out > 0]
    t = np.asarray(y, dtype=out.dtype) if loss != "sparse_categorical_crossentropy" else None
    if loss == "huber":
        return [np.abs(out - t) <= model.loss_config["delta"], out > t]
    if loss == "squared_hinge":
        h = 2 * t - 1 if np.all((t == 0) | (t == 1)) else t
        return [1 - h * out > 0]
    if loss == "categorical_hinge":
        other = (1 - t) * out
        return [np.argmax(other, axis=-1), np.max(other, axis=-1) - np.sum(t * out, axis=-1) > -1]
    if loss == "mean_absolute_percentage_error":
        return [out > t]
    if loss in ("mean_squared_logarithmic_error", "kl_divergence"):
        from engine.backends.numpy.losses import EPSILON

        return [np.digitize(out, (EPSILON, 1.0))]
    if model.fused or model.loss_config.get("from_logits"):
        return []
    if loss == "categorical_crossentropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            p = out / np.sum(out, axis=-1, keepdims=True)
    elif loss in ("binary_crossentropy", "sparse_categorical_crossentropy"):
        p = out
    else:
        return []
    from engine.backends.numpy.losses import EPSILON

    return [np.digitize(p, (EPSILON, 1 - EPSILON))]


def _loss_scale(model, y: np.ndarray, out: np.ndarray, value: float) -> float:
    """The magnitude of the quantities the loss is computed from: its round-off is about eps
    times this, however small the loss itself (a confident softmax's loss rounds to exactly 0
    while its gradient is still e^-margin, because 1 + e^-margin rounds to 1)."""
    loss = model.loss
    if loss == "mean_squared_error":
        scale = float(np.mean(2 * np.abs(out) * np.abs(out - np.asarray(y, dtype=out.dtype))))
    elif loss == "mean_absolute_error":
        scale = float(np.mean(np.abs(out)) + np.mean(np.abs(np.asarray(y, dtype=out.dtype))))
    else:
        # Crossentropies resolve probabilities near 1 to eps; hinge's margin is 1 - y*a.
        scale = 1.0
    return max(scale, abs(value))


def gradient_check(
    model,
    x: np.ndarray,
    y: np.ndarray,
    entries: int = 24,
    seed: int = 0,
    rtol: float = RTOL,
) -> list[LayerCheck]:
    """Compare ``model``'s backprop gradients with central differences.

    Parameters
    ----------
    model : NumpyModel
        Must be float64 (build it with ``dtype="float64"``); its weights are left unchanged.
    x : ndarray of shape (n, *input_shape)
    y : ndarray
        Targets encoded for the loss: shape (n,) class labels or (n, k).
    entries : int
        How many entries of each weight array to check (all when the array is smaller): the
        quarter with the largest analytic gradients, the rest drawn at random (``seed``).
    rtol : float
        The relative tolerance; it also sets the denominator's floor ``atol/rtol``.

    Returns
    -------
    list of LayerCheck
        One per weight array, in the model's order.
    """
    if entries < 1:
        raise ValueError(f"entries must be at least 1, got {entries}")
    if not (rtol > 0 and math.isfinite(rtol)):
        raise ValueError(f"rtol must be a positive number, got {rtol}")
    rng = np.random.default_rng(seed)
    states = model.rng_states()

    def reset_masks() -> None:
        # The same dropout mask for every evaluation, so the function being differentiated is fixed.
        model.set_rng_states(states)

    kinked = [(n.name, KINKS[n.activation]) for n in model.graph.nodes if n.activation in KINKS]

    def evaluate(xb: np.ndarray) -> tuple[float, list[np.ndarray], np.ndarray]:
        reset_masks()
        out, caches = model.forward(xb, training=True)
        value = float(model.loss_result(y, out, caches, want_grad_a=False).value)
        value += float(model.penalties(caches)[0])  # the regularizers' part of the loss
        regions = [np.digitize(caches[name].z, kinks) for name, kinks in kinked]
        return value, regions + _loss_regions(model, y, out), out

    reset_masks()
    _, grads = model.loss_and_grads(x, y)
    base, base_regions, base_out = evaluate(x)
    scale = _loss_scale(model, y, base_out, base)

    # Pass 1: evaluate the stencils; a row is (analytic, D(h), D(h/2), h, own sigma).
    per_key: dict[str, tuple[list, int]] = {}
    sigmas: list[float] = []
    for key, weight in model.weight_arrays().items():
        if key not in grads:
            continue  # a weight the optimizer does not train (moving statistics) has none
        grad = grads[key].reshape(-1)
        size = weight.size
        count = min(entries, size)
        # The largest gradients judge the backward pass best; a random rest keeps the others
        # honest (a gradient wrongly zero would never be among the largest).
        order = np.argsort(-np.abs(grad), kind="stable")
        top = order[: count // 4]
        rest = np.setdiff1d(np.arange(size), top)
        picks = np.concatenate([top, rng.choice(rest, size=count - top.size, replace=False)])
        rows, skipped = [], 0
        for i in picks:
            # Index the live array itself (a reshape of a non-contiguous one would be a copy).
            at = np.unravel_index(int(i), weight.shape)
            old = float(weight[at])
            h = _step(old)
            values, crossed = [], False
            for d in (-h, -h / 2, h / 2, h):
                weight[at] = old + d
                value, regions, _ = evaluate(x)
                values.append(value)
                crossed = crossed or any(
                    (r != b).any() for r, b in zip(regions, base_regions, strict=True)
                )
            weight[at] = old
            if crossed:
                skipped += 1
                continue
            m2, m1, p1, p2 = values
            d_h = (p2 - m2) / (2 * h)
            d_half = (p1 - m1) / h
            sigma = abs(m2 - 4 * m1 + 6 * base - 4 * p1 + p2) / _D4_NORM
            # An entry the loss does not depend on (a dead unit) says nothing about round-off.
            if math.isfinite(sigma) and any(v != base for v in values):
                sigmas.append(sigma)
            rows.append((float(grad[i]), d_h, d_half, h, sigma))
        per_key[key] = (rows, skipped)
    reset_masks()

    # Pass 2: the pooled round-off, the floors and the verdicts.
    pooled = math.sqrt(sum(s * s for s in sigmas) / len(sigmas)) if sigmas else 0.0
    pooled = max(pooled, EPS64 * scale) if math.isfinite(scale) else math.nan
    results = []
    for key, (rows, skipped) in per_key.items():
        layer, _, wname = key.rpartition("/")
        worst, worst_abs, small, top_floor = 0.0, 0.0, 0, 0.0
        for analytic, d_h, d_half, h, sigma in rows:
            numeric = (4 * d_half - d_h) / 3
            atol = FLOOR_SIGMAS * _N_NOISE * max(pooled, sigma) / h
            top_floor = max(top_floor, atol)
            diff = abs(analytic - numeric)
            if not (math.isfinite(diff) and math.isfinite(atol)):
                worst = math.nan
                continue
            if abs(analytic) <= atol and abs(numeric) <= atol:
                small += 1
                continue
            rel = diff / max(abs(analytic), abs(numeric), atol / rtol)
            if not math.isnan(worst):
                worst = max(worst, rel)
            worst_abs = max(worst_abs, diff)
        results.append(
            LayerCheck(layer, wname, worst, len(rows), skipped, small, worst_abs, top_floor, rtol)
        )
    return results
