"""Weight and activity regularizers in Keras 3's vocabulary, with their penalty and its gradient
in NumPy.

A layer's ``kernel_regularizer``, ``bias_regularizer`` (``<weight>_regularizer`` for any
weight) and ``activity_regularizer`` hold a spec: Keras' name (``"l2"``, ``"L2"``) or its
serialized form ``{"class_name": "L2", "config": {"l2": 0.001}}``. The penalty is Keras' own
(``keras/src/regularizers/regularizers.py``):

- ``L1``: ``l1·Σ|w|`` (``l1`` 0.01 by default);
- ``L2``: ``l2·Σw²`` (``l2`` 0.01);
- ``L1L2``: both (``l1`` and ``l2`` 0 by default, as Keras' ``get("l1l2")`` builds it);
- ``OrthogonalRegularizer``: ``factor·0.5·Σ_{i≠j}|n_i·n_j| / (m(m−1)/2)`` over the m rows
  (``mode="rows"``) or columns of a 2-D weight, each normalized ``n = v·min(1/‖v‖, 1/ε)``.

Weight penalties join the loss the optimizer minimizes (and the ``loss`` Keras reports); an
activity penalty is the regularizer of the layer's output divided by the batch size. Keras
keeps the ``l1`` and ``factor`` coefficients in float32 tensors: a float64 model uses their
float32 values, as Keras does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.keras_objects import is_number, minimal_spec, problem_of, resolve_spec

#: The regularizers with Keras' defaults, in the order of its documentation.
REGULARIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "L1": {"l1": 0.01},
    "L2": {"l2": 0.01},
    "L1L2": {"l1": 0.0, "l2": 0.0},
    "OrthogonalRegularizer": {"factor": 0.01, "mode": "rows"},
}
REGULARIZER_NAMES: tuple[str, ...] = tuple(REGULARIZER_DEFAULTS)

# Keras' backend.epsilon(): the floor of a row's norm in OrthogonalRegularizer's normalize.
EPSILON = 1e-7


def resolve_regularizer(spec: Any) -> tuple[str, dict[str, Any]]:
    """``(class name, complete config)``; raises ValueError naming what is wrong."""
    cls, config = resolve_spec("regularizer", spec, REGULARIZER_DEFAULTS)
    for key in ("l1", "l2", "factor"):
        if key in config:
            if config[key] is None and key != "factor":
                config[key] = 0.0  # Keras reads None as 0
            if not is_number(config[key]) or config[key] < 0:
                raise ValueError(f"{cls}: '{key}' must be a number at least 0, got {config[key]!r}")
            config[key] = float(config[key])
    if cls == "OrthogonalRegularizer" and config["mode"] not in ("rows", "columns"):
        raise ValueError(f"{cls}: 'mode' must be 'rows' or 'columns', got {config['mode']!r}")
    return cls, config


def check_regularizer(value: Any) -> str | None:
    """None when ``value`` is a regularizer spec, else what is wrong with it."""
    return problem_of(resolve_regularizer, value)


def regularizer_spec(value: Any) -> Any:
    """The shortest spec of a regularizer (``"L2"`` for Keras' default L2)."""
    cls, config = resolve_regularizer(value)
    return minimal_spec(cls, config, REGULARIZER_DEFAULTS[cls])


def regularizer_text(value: Any) -> str:
    """A short label: ``L2(l2=0.001)``, ``L1``."""
    cls, config = resolve_regularizer(value)
    changed = {k: v for k, v in config.items() if v != REGULARIZER_DEFAULTS[cls][k]}
    inner = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in changed.items()
    )
    return f"{cls}({inner})" if inner else cls


def rank_problem(value: Any, shape: tuple[int, ...]) -> str | None:
    """Why the regularizer cannot apply to a weight or output shaped ``shape`` (Keras'
    OrthogonalRegularizer takes 2-D tensors only), or None."""
    cls, _ = resolve_regularizer(value)
    if cls == "OrthogonalRegularizer" and len(shape) != 2:
        return f"OrthogonalRegularizer needs a 2-D tensor; this one is {len(shape)}-D {shape}"
    return None


def _coefficient(value: float, dtype: np.dtype, through_float32: bool) -> Any:
    return dtype.type(np.float32(value)) if through_float32 else dtype.type(value)


def _orthogonal_parts(w: np.ndarray, mode: str):
    rows = w if mode == "rows" else w.T
    dtype = w.dtype
    square = np.sum(rows * rows, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.minimum(1.0 / np.sqrt(square), dtype.type(1.0 / EPSILON)).astype(dtype)
    n = rows * inv
    product = n @ n.T
    size = rows.shape[0]
    off = product * (1.0 - np.eye(size, dtype=dtype))
    pairs = size * (size - 1.0) / 2.0
    return rows, square, inv, n, off, pairs


def penalty(spec: Any, w: np.ndarray) -> Any:
    """The regularizer's penalty of ``w`` (a scalar of ``w``'s dtype), as Keras computes it."""
    return penalty_of(*resolve_regularizer(spec), w)


def penalty_gradient(spec: Any, w: np.ndarray) -> np.ndarray:
    """∂(penalty)/∂w, shaped like ``w`` (the sign of 0 is 0, as TensorFlow's |x|′)."""
    return penalty_gradient_of(*resolve_regularizer(spec), w)


def penalty_of(cls: str, cfg: dict[str, Any], w: np.ndarray) -> Any:
    """:func:`penalty` of a resolved regularizer (the training step's: resolved once)."""
    dtype = w.dtype
    if cls == "L1":
        return _coefficient(cfg["l1"], dtype, True) * np.sum(np.abs(w))
    if cls == "L2":
        return dtype.type(cfg["l2"]) * np.sum(w * w)
    if cls == "L1L2":
        total = dtype.type(0.0)
        if cfg["l1"] != 0.0:
            total = total + dtype.type(cfg["l1"]) * np.sum(np.abs(w))
        if cfg["l2"] != 0.0:
            total = total + dtype.type(cfg["l2"]) * np.sum(w * w)
        return dtype.type(total)
    *_, off, pairs = _orthogonal_parts(w, cfg["mode"])
    factor = _coefficient(cfg["factor"], dtype, True)
    return dtype.type(factor * dtype.type(0.5) * np.sum(np.abs(off)) / dtype.type(pairs))


def penalty_gradient_of(cls: str, cfg: dict[str, Any], w: np.ndarray) -> np.ndarray:
    """:func:`penalty_gradient` of a resolved regularizer."""
    dtype = w.dtype
    if cls == "L1":
        return (_coefficient(cfg["l1"], dtype, True) * np.sign(w)).astype(dtype)
    if cls == "L2":
        return (dtype.type(2.0 * cfg["l2"]) * w).astype(dtype)
    if cls == "L1L2":
        g = np.zeros_like(w)
        if cfg["l1"] != 0.0:
            g = g + dtype.type(cfg["l1"]) * np.sign(w)
        if cfg["l2"] != 0.0:
            g = g + dtype.type(2.0 * cfg["l2"]) * w
        return g.astype(dtype)
    rows, square, inv, n, off, pairs = _orthogonal_parts(w, cfg["mode"])
    factor = _coefficient(cfg["factor"], dtype, True)
    c = factor * dtype.type(0.5) / dtype.type(pairs)
    g_product = c * np.sign(off)
    g_n = (g_product + g_product.T) @ n
    # n = rows·inv, inv = min(1/‖row‖, 1/ε): through the norm where it is above ε.
    with np.errstate(divide="ignore"):
        scaled = 1.0 / np.sqrt(square) <= dtype.type(1.0 / EPSILON)
    radial = np.sum(g_n * rows, axis=1, keepdims=True) * inv * inv * inv
    g_rows = g_n * inv - np.where(scaled, radial * rows, 0.0)
    return (g_rows if cfg["mode"] == "rows" else g_rows.T).astype(dtype)


def gradient_text(spec: Any) -> str:
    """The penalty's gradient as a formula for the math panel."""
    cls, cfg = resolve_regularizer(spec)
    if cls == "L1":
        return f"∂R/∂w = l1·sign(w) = {cfg['l1']:g}·sign(w)"
    if cls == "L2":
        return f"∂R/∂w = 2·l2·w = 2·{cfg['l2']:g}·w"
    if cls == "L1L2":
        return f"∂R/∂w = l1·sign(w) + 2·l2·w = {cfg['l1']:g}·sign(w) + 2·{cfg['l2']:g}·w"
    return (
        f"∂R/∂w of factor·½·Σ|nᵢ·nⱼ|/pairs (factor {cfg['factor']:g}, over the normalized "
        f"{cfg['mode']})"
    )
