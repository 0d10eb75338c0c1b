"""The registry of layer types.

A layer type is declared once, here: its parameters (Keras' config keys, types, ranges and
defaults), its shape rule, its parameter count and its FLOPs per sample. Validation, the
summary, the backends and (later) the inspector are all generated from this table.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.activations import ACTIVATION_NAMES
from engine.initializers import check_initializer

Shape = tuple[int, ...]


class ShapeProblem(Exception):
    """Raised by a shape rule; the validator attaches the layer's name."""


@dataclass(frozen=True)
class Param:
    """One config key of a layer type, with Keras' name and default.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``activation``, ``initializer``,
    ``name``. ``required`` params have no default. Ranges are inclusive unless
    ``exclusive_max`` is set; ``nullable`` allows ``None`` (Keras' "not set").
    """

    name: str
    kind: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_max: bool = False
    nullable: bool = False
    doc: str = ""

    def check(self, value: Any) -> str | None:
        """Return None when ``value`` is acceptable, else a message for the user."""
        if value is None:
            return None if self.nullable else "must be set"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {_short(value)}"
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {_short(value)}"
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an integer too large for a float: 10**400
                finite = False
            if not finite:
                return f"must be finite, got {_short(value)}"
        elif self.kind == "bool":
            if not isinstance(value, bool):
                return f"must be true or false, got {_short(value)}"
        elif self.kind == "activation":
            if not isinstance(value, str) or value not in ACTIVATION_NAMES:
                return (
                    f"unknown activation {_short(value)}; expected one of "
                    f"{', '.join(ACTIVATION_NAMES)}"
                )
        elif self.kind == "initializer":
            return check_initializer(value)
        elif self.kind == "name":
            if not isinstance(value, str) or not value.strip():
                return f"must be a non-empty text, got {_short(value)}"
            if value == "input" or "/" in value:
                return f"{_short(value)} cannot be used as a layer name"
        if self.kind in ("int", "float"):
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum:g}, got {_short(value)}"
            if self.maximum is not None:
                if self.exclusive_max and value >= self.maximum:
                    return f"must be below {self.maximum:g}, got {_short(value)}"
                if not self.exclusive_max and value > self.maximum:
                    return f"must be at most {self.maximum:g}, got {_short(value)}"
        return None


@dataclass(frozen=True)
class LayerType:
    """A layer class: its Keras name, parameters and rules.

    ``output_shape(config, input_shapes)``, ``param_count(config, input_shapes)`` and
    ``flops(config, input_shapes, output_shape)`` work on shapes without the batch axis.
    """

    class_name: str
    description: str
    params: tuple[Param, ...]
    output_shape: Callable[[dict, list[Shape]], Shape]
    param_count: Callable[[dict, list[Shape]], int] = lambda config, shapes: 0
    flops: Callable[[dict, list[Shape], Shape], int] = lambda config, shapes, out: 0
    merge: bool = False
    weight_names: Callable[[dict], tuple[str, ...]] = lambda config: ()
    # The shape of each weight, from the resolved config and the input shapes.
    weight_shapes: Callable[[dict, list[Shape]], dict[str, Shape]] = lambda config, shapes: {}
    has_activation: bool = False
    extra_keys: tuple[str, ...] = field(default=())

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params if not p.required}

    def resolve(self, config: dict) -> dict:
        """The config with every default filled in (the keys the backends read)."""
        full = self.defaults()
        full.update(config)
        return full

    def check_config(self, config: Any) -> list[tuple[str | None, str]]:
        """Return ``(field, message)`` problems of a config dict."""
        if not isinstance(config, dict):
            return [(None, f"'config' must be an object, got {type(config).__name__}")]
        problems: list[tuple[str | None, str]] = []
        known = {p.name for p in self.params}
        for key in config:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1)
                tip = f" (did you mean '{hint[0]}'?)" if hint else ""
                problems.append(
                    (
                        key,
                        f"unknown key for {self.class_name}{tip}; "
                        f"known keys: {', '.join(sorted(known))}",
                    )
                )
        for p in self.params:
            if p.name not in config:
                if p.required:
                    problems.append((p.name, f"is required for {self.class_name}"))
                continue
            msg = p.check(config[p.name])
            if msg:
                problems.append((p.name, msg))
        return problems


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about hostile values."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _prod(shape: Shape) -> int:
    return int(math.prod(shape))


def _activation_flops(activation: str | None, n: int) -> int:
    # One FLOP per element for cheap activations, a few for transcendental ones: an estimate
    # that keeps the summary honest about the order of magnitude, as Keras' summary has no FLOPs.
    if activation in (None, "linear"):
        return 0
    if activation in ("relu", "leaky_relu", "sign", "hard_sigmoid"):
        return n
    return 4 * n


def _same_shape(config: dict, shapes: list[Shape]) -> Shape:
    return shapes[0]


def _dense_shape(config: dict, shapes: list[Shape]) -> Shape:
    return shapes[0][:-1] + (int(config["units"]),)


def _dense_params(config: dict, shapes: list[Shape]) -> int:
    fan_in = shapes[0][-1]
    units = int(config["units"])
    return fan_in * units + (units if config.get("use_bias", True) else 0)


def _dense_flops(config: dict, shapes: list[Shape], out: Shape) -> int:
    rows = _prod(shapes[0][:-1])
    units = int(config["units"])
    mac = 2 * shapes[0][-1] * units + (units if config.get("use_bias", True) else 0)
    return rows * mac + _activation_flops(config.get("activation"), _prod(out))


def _dense_weights(config: dict) -> tuple[str, ...]:
    return ("kernel", "bias") if config.get("use_bias", True) else ("kernel",)


def _dense_weight_shapes(config: dict, shapes: list[Shape]) -> dict[str, Shape]:
    units = int(config["units"])
    out = {"kernel": (shapes[0][-1], units)}
    if config.get("use_bias", True):
        out["bias"] = (units,)
    return out


def _flatten_shape(config: dict, shapes: list[Shape]) -> Shape:
    return (_prod(shapes[0]),)


def _add_shape(config: dict, shapes: list[Shape]) -> Shape:
    if len(shapes) < 2:
        raise ShapeProblem(f"Add needs at least 2 inputs, got {len(shapes)}")
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            listed = " and ".join(str(_fmt(x)) for x in shapes)
            raise ShapeProblem(f"Add needs inputs of the same shape, got {listed}")
    return first


def _add_flops(config: dict, shapes: list[Shape], out: Shape) -> int:
    return (len(shapes) - 1) * _prod(out)


def _concat_shape(config: dict, shapes: list[Shape]) -> Shape:
    if len(shapes) < 2:
        raise ShapeProblem(f"Concatenate needs at least 2 inputs, got {len(shapes)}")
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        listed = " and ".join(str(_fmt(x)) for x in shapes)
        raise ShapeProblem(f"Concatenate needs inputs of the same rank, got {listed}")
    axis = int(config.get("axis", -1))
    # Keras' axis counts the batch axis; -1 and rank are the last axis.
    ax = axis + rank + 1 if axis < 0 else axis
    if not 1 <= ax <= rank:
        raise ShapeProblem(f"axis {axis} is out of range for inputs of rank {rank} (plus batch)")
    i = ax - 1
    for s in shapes[1:]:
        if s[:i] + s[i + 1 :] != shapes[0][:i] + shapes[0][i + 1 :]:
            listed = " and ".join(str(_fmt(x)) for x in shapes)
            raise ShapeProblem(
                f"Concatenate on axis {axis} needs the other axes equal, got {listed}"
            )
    out = list(shapes[0])
    out[i] = sum(s[i] for s in shapes)
    return tuple(out)


def _activation_layer_flops(config: dict, shapes: list[Shape], out: Shape) -> int:
    return _activation_flops(config.get("activation"), _prod(out))


def _fmt(shape: Shape) -> str:
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


NAME = Param("name", "name", nullable=True, doc="Unique layer name; auto-assigned like Keras.")

LAYER_TYPES: dict[str, LayerType] = {
    t.class_name: t
    for t in (
        LayerType(
            "Dense",
            "Fully connected layer: a = activation(x · kernel + bias).",
            (
                NAME,
                Param("units", "int", required=True, minimum=1, doc="Number of neurons."),
                Param("activation", "activation", default="linear", nullable=True),
                Param("use_bias", "bool", default=True),
                Param("kernel_initializer", "initializer", default="glorot_uniform"),
                Param("bias_initializer", "initializer", default="zeros"),
            ),
            _dense_shape,
            _dense_params,
            _dense_flops,
            weight_names=_dense_weights,
            weight_shapes=_dense_weight_shapes,
            has_activation=True,
        ),
        LayerType(
            "Dropout",
            "Randomly zeroes a fraction `rate` of inputs while training; identity at inference.",
            (
                NAME,
                Param("rate", "float", required=True, minimum=0.0, maximum=1.0, exclusive_max=True),
                Param("seed", "int", default=None, nullable=True, minimum=0),
            ),
            _same_shape,
        ),
        LayerType(
            "Activation",
            "Applies an activation function element-wise.",
            (NAME, Param("activation", "activation", required=True)),
            _same_shape,
            flops=_activation_layer_flops,
            has_activation=True,
        ),
        LayerType(
            "Flatten",
            "Flattens each sample to one axis.",
            (NAME,),
            _flatten_shape,
        ),
        LayerType(
            "Add",
            "Adds several inputs of the same shape.",
            (NAME,),
            _add_shape,
            flops=_add_flops,
            merge=True,
        ),
        LayerType(
            "Concatenate",
            "Joins several inputs along an axis.",
            (NAME, Param("axis", "int", default=-1)),
            _concat_shape,
            merge=True,
        ),
    )
}

LAYER_CLASS_NAMES: tuple[str, ...] = tuple(LAYER_TYPES)


def snake_name(class_name: str) -> str:
    """Keras' auto-name stem: ``Dense`` -> ``dense``, ``GlobalAveragePooling2D`` -> ..."""
    out = []
    for i, ch in enumerate(class_name):
        if ch.isupper() and i and not class_name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def format_shape(shape: Shape) -> str:
    """A shape as Keras prints it, with the batch axis: ``(None, 128)``."""
    return _fmt(shape)
