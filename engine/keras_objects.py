"""Reading a Keras object spec: a name or Keras' serialized ``{"class_name": ..., "config":
{...}}`` form (with the ``module`` and ``registered_name`` keys ``keras.*.serialize`` adds).

:func:`resolve_spec` checks the form, finds the class by its Keras name (the class name, or its
snake-case alias as Keras' ``get()`` accepts it: ``"l1l2"`` for ``L1L2``, ``"max_norm"`` for
``MaxNorm``) and fills in the class's defaults. What the values must be is the caller's check.
"""

from __future__ import annotations

import math
import re
from typing import Any

_SPEC_KEYS = frozenset({"class_name", "config", "module", "registered_name"})


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: ``"L1L2"`` -> ``"l1l2"``, ``"MaxNorm"`` -> ``"max_norm"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def resolve_spec(
    what: str, spec: Any, defaults: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """``(class name, complete config)`` of a ``what`` (``"regularizer"``) spec whose classes
    and their defaults are ``defaults``; raises ValueError with a message for people."""
    names = {**{snake_case(c): c for c in defaults}, **{c: c for c in defaults}}
    expected = ", ".join(defaults)
    if isinstance(spec, str):
        raw, given = spec, {}
    elif isinstance(spec, dict):
        unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} in a {what}; expected 'class_name' and 'config'"
            )
        raw = spec.get("class_name")
        given = spec.get("config") or {}
        if not isinstance(given, dict):
            raise ValueError(f"a {what}'s 'config' must be a mapping, got {type(given).__name__}")
    else:
        raise ValueError(
            f"a {what} must be a name or {{'class_name': ..., 'config': {{...}}}}, "
            f"got {type(spec).__name__}"
        )
    cls = names.get(raw) if isinstance(raw, str) else None
    if cls is None:
        raise ValueError(f"unknown {what} {raw!r}; expected one of {expected}")
    config = dict(defaults[cls])
    for key, value in given.items():
        if key not in config:
            known = ", ".join(config) or "none"
            raise ValueError(f"{cls} has no setting {key!r}; its settings: {known}")
        config[key] = value
    return cls, config


def problem_of(resolve, value: Any) -> str | None:
    """None when ``resolve(value)`` accepts the spec, else its message."""
    try:
        resolve(value)
    except ValueError as exc:
        return str(exc)
    return None


def minimal_spec(cls: str, config: dict[str, Any], defaults: dict[str, Any]) -> Any:
    """The shortest spec of a resolved object: its class name when every setting is Keras'
    default, else ``{"class_name": cls, "config": {the settings that differ}}``."""
    changed = {k: v for k, v in config.items() if k not in defaults or v != defaults[k]}
    return {"class_name": cls, "config": changed} if changed else cls
