"""Comparing the values that editor fields show, without Qt (the Dataset panel's state uses it
too)."""

from __future__ import annotations

from typing import Any


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``True`` from ``1`` and ``1`` from ``"1"``."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b
