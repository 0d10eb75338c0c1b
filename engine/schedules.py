"""Learning-rate schedules' vocabulary: Keras 3's names, settings and defaults.

An optimizer's ``learning_rate`` may be a number or a schedule in Keras' serialized form,
``{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, ...}}``.
:func:`resolve_schedule` validates one and fills in Keras' defaults. No arithmetic here: the
values per step are :mod:`engine.backends.numpy.schedules`' (Keras' own for the TensorFlow
backend).
"""

from __future__ import annotations

import math
from typing import Any

#: The schedules, in Keras' order of its documentation.
SCHEDULE_NAMES: tuple[str, ...] = (
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "CosineDecay",
    "CosineDecayRestarts",
)

# Each schedule's settings with Keras' defaults (None: required), in its signature's order.
_REQUIRED = object()
_DEFAULTS: dict[str, dict[str, Any]] = {
    "ExponentialDecay": {
        "initial_learning_rate": _REQUIRED,
        "decay_steps": _REQUIRED,
        "decay_rate": _REQUIRED,
        "staircase": False,
    },
    "InverseTimeDecay": {
        "initial_learning_rate": _REQUIRED,
        "decay_steps": _REQUIRED,
        "decay_rate": _REQUIRED,
        "staircase": False,
    },
    "PiecewiseConstantDecay": {"boundaries": _REQUIRED, "values": _REQUIRED},
    "PolynomialDecay": {
        "initial_learning_rate": _REQUIRED,
        "decay_steps": _REQUIRED,
        "end_learning_rate": 0.0001,
        "power": 1.0,
        "cycle": False,
    },
    "CosineDecay": {
        "initial_learning_rate": _REQUIRED,
        "decay_steps": _REQUIRED,
        "alpha": 0.0,
        "warmup_target": None,
        "warmup_steps": 0,
    },
    "CosineDecayRestarts": {
        "initial_learning_rate": _REQUIRED,
        "first_decay_steps": _REQUIRED,
        "t_mul": 2.0,
        "m_mul": 1.0,
        "alpha": 0.0,
    },
}
_BY_LOWER = {n.lower(): n for n in SCHEDULE_NAMES}
_SPEC_KEYS = frozenset({"class_name", "config", "module", "registered_name"})


def is_schedule(value: Any) -> bool:
    """Whether an optimizer's ``learning_rate`` is a schedule spec (a mapping)."""
    return isinstance(value, dict)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(cls: str, config: dict[str, Any]) -> dict[str, Any]:
    def fail(key: str, requirement: str) -> ValueError:
        return ValueError(f"{cls}: '{key}' must be {requirement}, got {config[key]!r}")

    for key in ("initial_learning_rate", "warmup_target"):
        if key in config and config[key] is not None:
            if not _number(config[key]) or config[key] <= 0:
                raise fail(key, "a number greater than 0")
            config[key] = float(config[key])
    for key in ("decay_steps", "first_decay_steps"):
        if key in config:
            if not _number(config[key]) or config[key] <= 0:
                raise fail(key, "a number greater than 0 (Keras: decay_steps > 0)")
    if "warmup_steps" in config:
        if not _number(config["warmup_steps"]) or config["warmup_steps"] < 0:
            raise fail("warmup_steps", "a number at least 0")
    for key in ("decay_rate", "end_learning_rate", "power", "alpha", "t_mul", "m_mul"):
        if key in config:
            if not _number(config[key]) or config[key] < 0:
                raise fail(key, "a number at least 0")
            config[key] = float(config[key])
    for key in ("staircase", "cycle"):
        if key in config and not isinstance(config[key], bool):
            raise fail(key, "true or false")
    if cls == "PiecewiseConstantDecay":
        bounds, values = config["boundaries"], config["values"]
        if not isinstance(bounds, list) or not all(_number(b) for b in bounds) or not bounds:
            raise fail("boundaries", "a non-empty list of step numbers")
        if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:], strict=False)):
            raise fail("boundaries", "increasing")
        if not isinstance(values, list) or not all(_number(v) and v > 0 for v in values):
            raise fail("values", "a list of learning rates greater than 0")
        if len(values) != len(bounds) + 1:
            raise ValueError(
                f"{cls}: 'values' must have one more entry than 'boundaries' "
                f"({len(bounds)} boundaries, {len(values)} values)"
            )
        config["values"] = [float(v) for v in values]
    return config


def resolve_schedule(spec: Any) -> tuple[str, dict[str, Any]]:
    """Resolve a schedule spec to its class name and complete config.

    Parameters
    ----------
    spec : dict
        Keras' serialized form ``{"class_name": ..., "config": {...}}`` (``module`` and
        ``registered_name`` are ignored, and so is the config's ``name``).

    Raises
    ------
    ValueError
        For an unknown schedule, a missing, unknown or out-of-range setting; a message for
        people.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a learning-rate schedule must be a mapping, got {type(spec).__name__}")
    unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r} in the learning-rate schedule; expected 'class_name' "
            "and 'config'"
        )
    raw = spec.get("class_name")
    cls = _BY_LOWER.get(raw.lower()) if isinstance(raw, str) else None
    if cls is None:
        raise ValueError(
            f"unknown learning-rate schedule {raw!r}; expected one of {', '.join(SCHEDULE_NAMES)}"
        )
    given = spec.get("config") or {}
    if not isinstance(given, dict):
        raise ValueError(f"{cls}: 'config' must be a mapping, got {type(given).__name__}")
    config = dict(_DEFAULTS[cls])
    for key, value in given.items():
        if key == "name":
            continue
        if key not in config:
            raise ValueError(f"{cls} has no setting {key!r}; known settings: {', '.join(config)}")
        config[key] = value
    missing = [k for k, v in config.items() if v is _REQUIRED]
    if missing:
        raise ValueError(f"{cls} needs '{missing[0]}'")
    return cls, _check(cls, config)


def required_settings(cls: str) -> tuple[str, ...]:
    """The settings schedule ``cls`` has no default for (Keras' required arguments)."""
    return tuple(k for k, v in _DEFAULTS[cls].items() if v is _REQUIRED)


def schedule_spec(cls: str, config: dict[str, Any]) -> dict[str, Any]:
    """The spec of a resolved schedule: the required settings and those that differ from
    Keras' defaults."""
    defaults = _DEFAULTS[cls]
    kept = {k: v for k, v in config.items() if defaults[k] is _REQUIRED or v != defaults[k]}
    return {"class_name": cls, "config": kept}
