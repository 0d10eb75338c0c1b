"""Weight constraints in Keras 3's vocabulary, applied in NumPy as Keras applies them.

A layer's ``kernel_constraint``, ``bias_constraint`` (``<weight>_constraint`` for any weight)
holds a spec: Keras' name (``"max_norm"``, ``"NonNeg"``) or ``{"class_name": "MaxNorm",
"config": {"max_value": 3}}``. Keras' optimizer projects each trainable weight that has one right
after its update (``BaseOptimizer.apply``), with these formulas
(``keras/src/constraints/constraints.py``), norms taken along ``axis`` (0 by default: a Dense
kernel's column, the weights into one unit), ε = 1e-7:

- ``MaxNorm(max_value=2)``: ``w·clip(‖w‖, 0, max_value)/(ε + ‖w‖)``;
- ``NonNeg``: ``max(w, 0)``;
- ``UnitNorm``: ``w/(ε + ‖w‖)``;
- ``MinMaxNorm(min_value=0, max_value=1, rate=1)``:
  ``w·(rate·clip(‖w‖, min, max) + (1 − rate)·‖w‖)/(ε + ‖w‖)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.keras_objects import is_number, minimal_spec, problem_of, resolve_spec

#: The constraints with Keras' defaults.
CONSTRAINT_DEFAULTS: dict[str, dict[str, Any]] = {
    "MaxNorm": {"max_value": 2, "axis": 0},
    "NonNeg": {},
    "UnitNorm": {"axis": 0},
    "MinMaxNorm": {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0},
}
CONSTRAINT_NAMES: tuple[str, ...] = tuple(CONSTRAINT_DEFAULTS)

# Keras' backend.epsilon().
EPSILON = 1e-7


def _axes(value: Any) -> tuple[int, ...] | None:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or any(isinstance(a, bool) or not isinstance(a, int) for a in items):
        return None
    return tuple(items)


def resolve_constraint(spec: Any) -> tuple[str, dict[str, Any]]:
    """``(class name, complete config)``; raises ValueError naming what is wrong."""
    cls, config = resolve_spec("constraint", spec, CONSTRAINT_DEFAULTS)
    for key in ("max_value", "min_value", "rate"):
        if key in config and (not is_number(config[key]) or config[key] < 0):
            raise ValueError(f"{cls}: '{key}' must be a number at least 0, got {config[key]!r}")
    if cls == "MinMaxNorm":
        if config["min_value"] > config["max_value"]:
            raise ValueError(
                f"MinMaxNorm: 'min_value' ({config['min_value']}) is above 'max_value' "
                f"({config['max_value']})"
            )
        if config["rate"] > 1:
            raise ValueError(f"MinMaxNorm: 'rate' must be at most 1, got {config['rate']!r}")
    if "axis" in config and _axes(config["axis"]) is None:
        raise ValueError(f"{cls}: 'axis' must be an axis or a list of axes, got {config['axis']!r}")
    return cls, config


def check_constraint(value: Any) -> str | None:
    """None when ``value`` is a constraint spec, else what is wrong with it."""
    return problem_of(resolve_constraint, value)


def constraint_spec(value: Any) -> Any:
    """The shortest spec of a constraint (``"MaxNorm"`` for Keras' default one)."""
    cls, config = resolve_constraint(value)
    if isinstance(config.get("axis"), tuple):
        config["axis"] = list(config["axis"])
    return minimal_spec(cls, config, CONSTRAINT_DEFAULTS[cls])


def constraint_text(value: Any) -> str:
    """A short label: ``MaxNorm(max_value=3)``, ``NonNeg``."""
    cls, config = resolve_constraint(value)
    changed = {k: v for k, v in config.items() if v != CONSTRAINT_DEFAULTS[cls][k]}
    inner = ", ".join(f"{k}={v}" for k, v in changed.items())
    return f"{cls}({inner})" if inner else cls


def axis_problem(value: Any, shape: tuple[int, ...]) -> str | None:
    """Why the constraint's ``axis`` does not fit a weight shaped ``shape``, or None."""
    _, config = resolve_constraint(value)
    if "axis" not in config:
        return None
    rank = len(shape)
    for a in _axes(config["axis"]) or ():
        if not -rank <= a < rank:
            axes = "axis" if rank == 1 else "axes"
            return f"axis {a} is outside the weight's {rank} {axes} {shape}"
    return None


def apply_constraint(spec: Any, w: np.ndarray) -> np.ndarray:
    """The projected weight (a new array of ``w``'s dtype)."""
    return project(*resolve_constraint(spec), w)


def project(cls: str, cfg: dict[str, Any], w: np.ndarray) -> np.ndarray:
    """:func:`apply_constraint` of a resolved constraint (the training step's: resolved once)."""
    dtype = w.dtype
    if cls == "NonNeg":
        return np.maximum(w, dtype.type(0))
    axes = _axes(cfg["axis"])
    norms = np.sqrt(np.sum(w * w, axis=axes, keepdims=True))
    eps = dtype.type(EPSILON)
    if cls == "UnitNorm":
        return (w / (eps + norms)).astype(dtype)
    if cls == "MaxNorm":
        desired = np.clip(norms, dtype.type(0), dtype.type(cfg["max_value"]))
    else:
        rate = dtype.type(cfg["rate"])
        clipped = np.clip(norms, dtype.type(cfg["min_value"]), dtype.type(cfg["max_value"]))
        desired = rate * clipped + dtype.type(1 - cfg["rate"]) * norms
    return (w * (desired / (eps + norms))).astype(dtype)
