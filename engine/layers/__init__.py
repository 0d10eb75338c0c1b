"""The registry of layer types: one module of this package per type (or small family).

Every module that defines ``LAYER`` (one :class:`~engine.layers.base.LayerType` instance) or
``LAYERS`` (a tuple of them) is found and registered when this package is imported; nothing else
has to be edited to add a type. :data:`LAYER_TYPES` maps Keras class names to the instances, in
the palette's order. See ``docs/adding-a-layer-type.md``.
"""

from __future__ import annotations

import importlib
import pkgutil

from engine.layers.base import (
    NAME,
    Cache,
    KerasContext,
    LayerState,
    LayerType,
    Param,
    Shape,
    ShapeProblem,
    Stroke,
    Weight,
    format_shape,
    snake_name,
)
from engine.layers.input import INPUT_CLASS_NAME, INPUT_COLOR, INPUT_GLYPH

_NOT_TYPES = {"base", "input"}


def _discover() -> dict[str, LayerType]:
    found: list[LayerType] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_TYPES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "LAYERS", ()))
        if hasattr(module, "LAYER"):
            found.append(module.LAYER)
    found.sort(key=lambda t: (t.order, t.class_name))
    out: dict[str, LayerType] = {}
    for t in found:
        if not t.class_name or t.class_name in out:
            raise RuntimeError(f"layer type {t.class_name!r} is registered twice or has no name")
        out[t.class_name] = t
    return out


LAYER_TYPES: dict[str, LayerType] = _discover()
LAYER_CLASS_NAMES: tuple[str, ...] = tuple(LAYER_TYPES)

__all__ = [
    "INPUT_CLASS_NAME",
    "INPUT_COLOR",
    "INPUT_GLYPH",
    "LAYER_CLASS_NAMES",
    "LAYER_TYPES",
    "NAME",
    "Cache",
    "KerasContext",
    "LayerState",
    "LayerType",
    "Param",
    "Shape",
    "ShapeProblem",
    "Stroke",
    "Weight",
    "format_shape",
    "snake_name",
]
