"""Numerical gradient checks: backprop against central differences, in float64.

Relative error |a - n| / max(|a|, |n|, 1e-10) per weight entry (cs231n, with a floor so that
round-off on gradients of ~0 does not count as an error). Entries
whose perturbation moves a pre-activation across a kink (ReLU at 0 and the like) are skipped,
because there the numerical derivative is meaningless, and counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DENOM_FLOOR = 1e-10
KINKED = {"relu", "leaky_relu", "hard_sigmoid", "sign"}


@dataclass
class LayerCheck:
    layer: str
    weight: str
    max_rel_error: float
    checked: int
    skipped: int


def gradient_check(
    model, x: np.ndarray, y: np.ndarray, entries: int = 24, eps: float = 1e-6, seed: int = 0
) -> list[LayerCheck]:
    """Compare ``model``'s backprop gradients with central differences.

    Parameters
    ----------
    model : NumpyModel
        Must be float64 (build it with ``dtype="float64"``); its weights are left unchanged.
    x : ndarray of shape (n, *input_shape)
    y : ndarray
        Targets encoded for the loss.
    entries : int
        How many entries of each weight array to check (all when the array is smaller).
    """
    rng = np.random.default_rng(seed)
    states = {k: r.bit_generator.state for k, r in model._dropout_rngs.items()}

    def reset_masks() -> None:
        # The same dropout mask for every evaluation, so the function being differentiated is fixed.
        for k, r in model._dropout_rngs.items():
            r.bit_generator.state = states[k]

    kinked = [n.name for n in model.graph.nodes if n.activation in KINKED]

    def loss_and_signs(xb: np.ndarray) -> tuple[float, list[np.ndarray]]:
        reset_masks()
        out, caches = model.forward(xb, training=True)
        value = float(model._loss(y, out, caches).value)
        return value, [caches[name].z > 0 for name in kinked]

    reset_masks()
    _, grads = model.loss_and_grads(x, y)
    results = []
    for key, weight in model._flat.items():
        layer, _, wname = key.rpartition("/")
        grad = grads[key]
        flat = weight.reshape(-1)
        count = min(entries, flat.size)
        picks = rng.choice(flat.size, size=count, replace=False)
        worst, checked, skipped = 0.0, 0, 0
        for i in picks:
            old = flat[i]
            flat[i] = old + eps
            plus, s_plus = loss_and_signs(x)
            flat[i] = old - eps
            minus, s_minus = loss_and_signs(x)
            flat[i] = old
            if any((a != b).any() for a, b in zip(s_plus, s_minus, strict=True)):
                skipped += 1
                continue
            numeric = (plus - minus) / (2 * eps)
            analytic = float(grad.reshape(-1)[i])
            # The floor keeps round-off on gradients that are ~0 from reading as a large error.
            denom = max(abs(numeric), abs(analytic), DENOM_FLOOR)
            rel = abs(numeric - analytic) / denom
            worst = max(worst, rel)
            checked += 1
        results.append(LayerCheck(layer, wname, worst, checked, skipped))
    reset_masks()
    return results
