"""What a layer type is: the base class that every module of :mod:`engine.layers` fills in.

A layer type is one subclass of :class:`LayerType` in one module of this package, holding
everything about it in Keras' vocabulary, so that nothing outside the package has to branch on a
class name:

- **spec** — ``class_name``, ``description``, ``params`` (config keys with kinds, ranges and
  defaults), :meth:`~LayerType.output_shape`, :meth:`~LayerType.param_count`,
  :meth:`~LayerType.flops`;
- **weights** — :meth:`~LayerType.weights`: names in Keras' order, shapes, initializers, trainable
  or not;
- **NumPy math** — :meth:`~LayerType.forward` and :meth:`~LayerType.backward` on arrays, in
  training and inference mode;
- **Keras** — :meth:`~LayerType.keras_layer` (build it, for the TensorFlow backend and the
  parity checks), ``code_positional`` and :meth:`~LayerType.code_args` (write it as code),
  :meth:`~LayerType.import_config` (read it back from a Keras layer's config);
- **explanation** — :meth:`~LayerType.explain_forward`, :meth:`~LayerType.explain_backward` and
  :meth:`~LayerType.explain_to_input`: what the step-through shows for one unit;
- **look** — ``new_config`` (a new block's config), ``color``, ``glyph`` (vector strokes in a
  unit square, drawn by the designer), :meth:`~LayerType.subtitle`;
- **traits** the views ask instead of the class name: ``merge``, ``has_activation``,
  ``fully_connected``, ``passes_values``, ``unit_by_unit``, ``random_in_training``,
  ``flattens``, ``image_input``, ``filter_weight``, ``affine``, ``normalizes``; ``group``
  (the palette's).

Shapes never include the batch axis. Arrays passed to the math hooks do.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.activations import ACTIVATION_NAMES, get_activation
from engine.constraints import check_constraint
from engine.initializers import check_initializer
from engine.regularizers import check_regularizer

if TYPE_CHECKING:  # pragma: no cover
    from engine.graph import Node

Shape = tuple[int, ...]


class ShapeProblem(Exception):
    """Raised by a shape rule; the validator attaches the layer's name. ``field`` is the
    setting at fault (``"axis"``), or None when it is the layer's inputs."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------ params
@dataclass(frozen=True)
class Param:
    """One config key of a layer type, with Keras' name and default.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``activation``, ``initializer``,
    ``regularizer``, ``constraint`` (Keras' specs, None: none), ``name``,
    ``choice`` (one of ``choices``), ``int_tuple`` (``length`` integers, each checked against
    the range; a single integer stands for all of them, as in Keras' ``kernel_size=3``),
    ``shape`` (a sample's shape without the batch axis: 1 to :data:`MAX_RANK` sizes, each at
    least 1, one of them −1 at most, "infer this one": Keras' ``Reshape(target_shape)``).
    ``required`` params have no default. Ranges are inclusive unless ``exclusive_max`` is set;
    ``nullable`` allows ``None`` (Keras' "not set"); ``none_text`` is how an editor shows it
    (``"same as pool_size"``; empty: "None").
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
    choices: tuple[str, ...] = ()
    length: int = 0
    none_text: str = ""

    def check(self, value: Any) -> str | None:
        """Return None when ``value`` is acceptable, else a message for the user."""
        if value is None:
            return None if self.nullable else "must be set"
        if self.kind == "int_tuple":
            return self._check_tuple(value)
        if self.kind == "shape":
            return check_shape(value)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {short_repr(value)}"
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {short_repr(value)}"
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an integer too large for a float: 10**400
                finite = False
            if not finite:
                return f"must be finite, got {short_repr(value)}"
        elif self.kind == "bool":
            if not isinstance(value, bool):
                return f"must be true or false, got {short_repr(value)}"
        elif self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                case = (
                    f" (write {value.lower()!r}: lower case, as Keras saves it)"
                    if isinstance(value, str) and value.lower() in self.choices
                    else ""
                )
                return f"must be one of {', '.join(self.choices)}, got {short_repr(value)}{case}"
        elif self.kind == "activation":
            if not isinstance(value, str) or value not in ACTIVATION_NAMES:
                return (
                    f"unknown activation {short_repr(value)}; expected one of "
                    f"{', '.join(ACTIVATION_NAMES)}"
                )
        elif self.kind == "initializer":
            return check_initializer(value)
        elif self.kind == "regularizer":
            return check_regularizer(value)
        elif self.kind == "constraint":
            return check_constraint(value)
        elif self.kind == "name":
            if not isinstance(value, str) or not value.strip():
                return f"must be a non-empty text, got {short_repr(value)}"
            if value == "input" or "/" in value:
                return f"{short_repr(value)} cannot be used as a layer name"
        if self.kind in ("int", "float"):
            return self._check_range(value)
        return None

    def _check_range(self, value: float) -> str | None:
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum:g}, got {short_repr(value)}"
        if self.maximum is not None:
            if self.exclusive_max and value >= self.maximum:
                return f"must be below {self.maximum:g}, got {short_repr(value)}"
            if not self.exclusive_max and value > self.maximum:
                return f"must be at most {self.maximum:g}, got {short_repr(value)}"
        return None

    def _check_tuple(self, value: Any) -> str | None:
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(items, (list, tuple)) or len(items) not in (1, self.length):
            return f"must be an integer or {self.length} integers, got {short_repr(value)}"
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int):
                return f"must hold integers, got {short_repr(value)}"
            problem = self._check_range(item)
            if problem:
                return problem
        return None

    def is_default(self, value: Any) -> bool:
        """Whether ``value`` is the default: ``True`` is not ``1``, ``1`` is ``1.0``, and an
        ``int_tuple`` matches in any spelling (``3``, ``[3, 3]``, ``(3, 3)``), a ``shape`` as a
        list or a tuple."""
        default = self.default
        if self.kind == "int_tuple" and value is not None and default is not None:
            if self.check(value) is None and self.check(default) is None:
                return self.as_tuple(value) == self.as_tuple(default)
        if self.kind == "shape" and value is not None and default is not None:
            if check_shape(value) is None and check_shape(default) is None:
                return tuple(value) == tuple(default)
            return False
        if isinstance(value, bool) != isinstance(default, bool):
            return False
        if isinstance(value, (int, float)) and isinstance(default, (int, float)):
            return value == default
        return type(value) is type(default) and value == default

    def as_tuple(self, value: Any) -> tuple[int, ...]:
        """An ``int_tuple`` value as ``length`` integers (``3`` -> ``(3, 3)``)."""
        if isinstance(value, int):
            return (value,) * self.length
        items = tuple(int(v) for v in value)
        return items * self.length if len(items) == 1 else items


NAME = Param("name", "name", nullable=True, doc="Unique layer name; auto-assigned like Keras.")

#: The kinds a :class:`Param` may have (the inspector has an editor for each).
PARAM_KINDS = frozenset(
    {
        "int",
        "float",
        "bool",
        "activation",
        "initializer",
        "regularizer",
        "constraint",
        "name",
        "choice",
        "int_tuple",
        "shape",
    }
)


def weight_rules(*weights: str) -> tuple[Param, ...]:
    """Keras' ``<weight>_regularizer`` and ``<weight>_constraint`` config keys of the named
    weights, in Keras' order (the regularizers, then the constraints); None: none."""
    regs = tuple(
        Param(
            f"{w}_regularizer",
            "regularizer",
            nullable=True,
            doc=f"A penalty on the {w} added to the loss (L1, L2, L1L2, OrthogonalRegularizer).",
        )
        for w in weights
    )
    cons = tuple(
        Param(
            f"{w}_constraint",
            "constraint",
            nullable=True,
            doc=f"Projects the {w} after each update (MaxNorm, NonNeg, UnitNorm, MinMaxNorm).",
        )
        for w in weights
    )
    return regs + cons


#: Keras' ``activity_regularizer``: a penalty on the layer's output, divided by the batch size.
ACTIVITY_REGULARIZER = Param(
    "activity_regularizer",
    "regularizer",
    nullable=True,
    doc="A penalty on the layer's output (per sample of the batch) added to the loss.",
)

#: The most axes a ``shape`` param may have (a sample's, without the batch axis).
MAX_RANK = 8


def check_shape(value: Any) -> str | None:
    """None when ``value`` is a ``shape`` param's value (1 to :data:`MAX_RANK` integers, each
    at least 1 or −1, one −1 at most), else what is wrong with it."""
    if not isinstance(value, (list, tuple)):
        return f"must be a list of 1 to {MAX_RANK} sizes, e.g. [8, 8, 1], got {short_repr(value)}"
    if not 1 <= len(value) <= MAX_RANK:
        return f"must hold 1 to {MAX_RANK} sizes, got {len(value)}"
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            return f"must hold integers, got {short_repr(item)} in {short_repr(value)}"
        if item < 1 and item != -1:
            return f"sizes must be at least 1 (or -1: inferred), got {item} in {short_repr(value)}"
    if sum(1 for item in value if item == -1) > 1:
        return f"may infer one size only (one -1), got {short_repr(value)}"
    return None


# ------------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class Weight:
    """One weight of a layer: Keras' name, its shape (None when asked without input shapes),
    the config key of its initializer, and whether the optimizer updates it."""

    name: str
    shape: Shape | None
    initializer: str
    trainable: bool = True


# ---------------------------------------------------------------------------- NumPy math
@dataclass
class LayerState:
    """What a layer keeps between steps besides its weights, in the NumPy engine.

    ``activation`` is the layer's activation function (layers with ``has_activation``);
    ``rng`` the generator of a layer that draws random numbers in training (Dropout's masks).
    """

    activation: Any = None
    rng: np.random.Generator | None = None


@dataclass
class Cache:
    """What a layer's forward pass keeps for its backward pass and for the step trace.

    ``inputs`` (one array per inbound layer), ``z`` (pre-activation, where the layer has one),
    ``a`` (output), ``mask`` (Dropout's multiplier, where one was drawn) and ``extra`` (named
    arrays a layer type adds to its forward trace event).
    """

    inputs: list[np.ndarray]
    a: np.ndarray | None = None
    z: np.ndarray | None = None
    mask: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def trace_data(self) -> dict[str, np.ndarray]:
        """The arrays of the forward trace event besides ``inputs`` (not copies)."""
        out: dict[str, np.ndarray] = {}
        if self.z is not None:
            out["z"] = self.z
        out["a"] = self.a
        if self.mask is not None:
            out["mask"] = self.mask
        out.update(self.extra)
        return out


# ----------------------------------------------------------------------------- Keras
@dataclass
class KerasContext:
    """What :meth:`LayerType.keras_layer` needs from the caller: the ``keras`` module, the
    compute dtype, ``activation(name)`` (the Keras activation to pass; the TensorFlow backend
    swaps two of them in float64) and ``seed`` (the project's seed)."""

    keras: Any
    dtype: str = "float32"
    activation: Any = None
    seed: int = 0

    def activation_for(self, name: str | None) -> Any:
        return self.activation(name) if self.activation is not None else name

    def rule_kwargs(self, layer_type: LayerType, config: dict) -> dict[str, Any]:
        """Keras' regularizer and constraint objects for the layer's ``regularizer`` and
        ``constraint`` params that are set, by config key (``kernel_regularizer=L2(...)``),
        each built from its resolved class and complete config."""
        from engine.constraints import resolve_constraint
        from engine.regularizers import resolve_regularizer

        keras, out = self.keras, {}
        for p in layer_type.params:
            value = config.get(p.name)
            if value is None:
                continue
            if p.kind == "regularizer":
                cls, cfg = resolve_regularizer(value)
                out[p.name] = keras.regularizers.get({"class_name": cls, "config": cfg})
            elif p.kind == "constraint":
                cls, cfg = resolve_constraint(value)
                out[p.name] = keras.constraints.get({"class_name": cls, "config": cfg})
        return out


# ------------------------------------------------------------------------------- look
@dataclass(frozen=True)
class Stroke:
    """One element of a layer's glyph, in the unit square (0..1, y down).

    ``kind``: ``line`` (points: two), ``polyline``, ``curve`` (a cubic Bézier: start, two
    control points, end), ``dot`` (points: the centre; ``size`` the radius; ``filled``),
    ``circle`` (outline; centre and radius ``size``), ``box`` (filled rounded rectangle, points:
    two corners). ``weight``: ``bold`` (the glyph's main pen), ``thin`` or ``faint``.
    """

    kind: str
    points: tuple[tuple[float, float], ...]
    weight: str = "bold"
    size: float = 0.0
    filled: bool = True


# --------------------------------------------------------------------------- the base
class LayerType:
    """A layer class: its Keras name, parameters, rules, math, Keras form, explanation, look.

    Subclasses set the class attributes and override the hooks their layer needs; the defaults
    are those of a layer without weights that passes its (single) input through.
    """

    class_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = (NAME,)
    # Where the palette lists it (lower first).
    order: ClassVar[int] = 100

    # ---- traits
    merge: ClassVar[bool] = False  # takes two or more inputs
    has_activation: ClassVar[bool] = False  # applies config["activation"]
    # A kernel (input units, units) joins every input unit to every unit: views draw it as
    # weighted edges, weight tiles and per-unit maps.
    fully_connected: ClassVar[bool] = False
    # The output holds the input's values, at most reshaped or masked (no arithmetic of its own):
    # views look through it to the layer before.
    passes_values: ClassVar[bool] = False
    # Output unit i depends on input unit i alone (an element-wise function, a mask, a reshape
    # of flat order): views that draw units look through it to the layer before.
    unit_by_unit: ClassVar[bool] = False
    # Draws random numbers in training mode (a seeded generator per layer; parity checks and the
    # stepper turn it off or replay it).
    random_in_training: ClassVar[bool] = False
    # Turns an input of any rank into one axis: what Match network to data inserts before a
    # layer that needs flat input.
    flattens: ClassVar[bool] = False
    # Needs inputs shaped (height, width, channels): a window slides over them (convolutions,
    # pooling). Match network to data keeps an image's shape for a network that starts with
    # one, built-in image datasets come as images, validation offers a Reshape for flat input.
    image_input: ClassVar[bool] = False
    # Adds no non-linearity: its output is an affine function of its input (values passed,
    # reshaped, masked, or scaled and shifted per unit). The doctor looks through it for two
    # fully connected layers that compute one linear map.
    affine: ClassVar[bool] = False
    # Standardizes its input over the batch (BatchNormalization): the doctor's check of where
    # it sits against the activation.
    normalizes: ClassVar[bool] = False
    # The weight shaped (kernel rows, kernel columns, input channels, filters) that views draw
    # as one small image per filter (Conv2D's ``kernel``); None for layers without filters.
    filter_weight: ClassVar[str | None] = None
    # The palette's group ("Core", "Convolution", ...), in Keras' grouping of its layers.
    group: ClassVar[str] = "Core"

    # ---- look
    new_config: ClassVar[dict] = {}
    color: ClassVar[str] = "#6b7280"
    glyph: ClassVar[tuple[Stroke, ...]] = ()

    # ---- Keras code: config keys written as positional arguments, in order
    code_positional: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ spec
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

    def output_shape(self, config: dict, shapes: list[Shape]) -> Shape:
        """The output shape from the resolved config and the input shapes; raises
        :class:`ShapeProblem` when the inputs do not fit."""
        return shapes[0]

    def param_count(self, config: dict, shapes: list[Shape]) -> int:
        return sum(math.prod(w.shape) for w in self.weights(config, shapes))

    def flops(self, config: dict, shapes: list[Shape], out: Shape) -> int:
        """Floating-point operations per sample (an estimate: Keras' summary has none)."""
        return 0

    # ------------------------------------------------------------------ weights
    def weights(self, config: dict, shapes: list[Shape] | None) -> tuple[Weight, ...]:
        """The layer's weights in Keras' order; ``shapes`` None asks for the names only."""
        return ()

    def weight_names(self, config: dict) -> tuple[str, ...]:
        return tuple(w.name for w in self.weights(config, None))

    def weight_shapes(self, config: dict, shapes: list[Shape]) -> dict[str, Shape]:
        return {w.name: w.shape for w in self.weights(config, shapes)}

    def activation_of(self, config: dict, shapes: list[Shape]) -> str | None:
        """The activation the layer applies last (what a crossentropy on the model's output
        takes logits through, as Keras does): ``config["activation"]`` for ``has_activation``
        types, else None. A layer that is an activation of its own (Softmax) says which."""
        if not self.has_activation:
            return None
        return config.get("activation") or "linear"

    def weight_rule(self, config: dict, weight: str, kind: str) -> Any:
        """The spec of weight ``weight``'s ``kind`` (``"regularizer"`` or ``"constraint"``:
        Keras' ``<weight>_regularizer`` key), or None where the layer has none."""
        key = f"{weight}_{kind}"
        return config.get(key) if self.param(key) is not None else None

    # ------------------------------------------------------------------ NumPy math
    def numpy_state(self, node: Node, seed: int) -> LayerState:
        """The layer's non-weight state in the NumPy engine, made when weights are."""
        act = get_activation(node.activation) if self.has_activation else None
        return LayerState(activation=act)

    def forward(
        self, node: Node, weights: dict, state: LayerState, inputs: list, training: bool
    ) -> Cache:
        """The output for a batch: ``inputs`` one array (batch, *input shape) per inbound
        layer; returns a :class:`Cache` whose ``a`` is (batch, *output shape)."""
        return Cache(inputs, a=inputs[0])

    def backward(
        self,
        node: Node,
        weights: dict,
        state: LayerState,
        cache: Cache,
        grad_a: np.ndarray | None,
        grad_z: np.ndarray | None,
        need_input_grad: bool,
    ) -> tuple[list[np.ndarray | None], dict[str, np.ndarray], np.ndarray | None]:
        """From dL/d output (``grad_a``, shaped like ``cache.a``; or dL/dz given directly, as
        the fused softmax/sigmoid losses do) return (dL/d each input, dL/d each trainable
        weight by name, dL/dz where the layer has a z). ``need_input_grad`` False lets a layer
        that reads only the model input skip its input gradient (return None)."""
        return [grad_a], {}, None

    def state_updates(
        self, node: Node, weights: dict, state: LayerState, cache: Cache
    ) -> dict[str, np.ndarray]:
        """New values of the layer's non-trainable weights after a training step whose forward
        pass left ``cache`` (BatchNormalization's moving statistics), by weight name; applied by
        the engine after the optimizer's update. ``forward`` itself never writes a weight: a
        traced step that is closed early, and the probes that run training-mode passes
        (gradient checks, the live views' gradients), must leave the model as it was."""
        return {}

    # ------------------------------------------------------------------ Keras
    def keras_layer(self, ctx: KerasContext, node: Node) -> Any:
        """The Keras layer for ``node`` (built from its resolved config)."""
        raise NotImplementedError(self.class_name)

    def code_args(self, config: dict, lit, keras_object) -> list:
        """The arguments of ``layers.<class_name>(...)`` in the exported script, without
        ``dtype`` and ``name``: strings (positional) and ``(key, expression)`` pairs for the
        settings that differ from Keras' defaults. ``lit(value)`` writes a literal,
        ``keras_object(spec, kind)`` an initializer, regularizer or constraint (``kind``)."""
        args: list[Any] = [lit(config[key]) for key in self.code_positional]
        for p in self.params:
            if p.name == "name" or p.name in self.code_positional or p.name not in config:
                continue
            value = config[p.name]
            if p.kind == "initializer":
                expr = keras_object(value, p.kind)
                if expr != lit(p.default):
                    args.append((p.name, expr))
                continue
            if p.kind in ("regularizer", "constraint"):
                if value is not None:
                    args.append((p.name, keras_object(value, p.kind)))
                continue
            if p.is_default(value) or (value is None and p.nullable and p.kind == "activation"):
                continue
            args.append((p.name, lit(value)))
        return args

    def import_config(self, raw: dict) -> dict:
        """A Keras layer's ``get_config()`` as this layer type's config keys (before the
        importer's generic pass: activations and initializers by name, defaults dropped)."""
        return raw

    # ------------------------------------------------------------------ explanation
    # What Backprop mode's math panel shows for one unit. ``b`` is the explanation's trace
    # reader (engine.explain.builder.Builder): ``b.num(source)`` a number of the step trace
    # (``source`` = (phase, layer, key, index), see engine.explain.lookup), ``b.calc(value)``
    # one computed for the learner, ``b.value(source)`` a raw trace value, ``b.ev(phase,
    # layer)`` a phase event (None until reached), ``b.s`` the StepSession. ``sec`` is an
    # engine.formula.Section to add lines to; ``idx`` the unit's index without the batch axis
    # (0-based); ``sample`` its row in the step's batch. Build the lines from engine.formula
    # and engine.explain_parts (never import engine.explain or engine.graph here: they import
    # this package). Every number read from the trace must be a ``b.num``, so that the panel
    # can show it in full and the tests can check it is the engine's.
    def explain_forward(self, b, sec, node: Node, sample: int, idx: tuple[int, ...]) -> None:
        """Add to ``sec`` (titled "Forward pass through <name>") how unit ``idx`` of ``node``
        got its output for ``sample``; reached once the layer's forward phase is."""
        sec.remark(f"{self.class_name} passes its input through.")

    def explain_backward(self, b, sec, node: Node, sample: int, idx: tuple[int, ...]) -> None:
        """Add to ``sec`` what unit ``idx`` does with its error (``∂L/∂a``, already shown: from
        the loss or summed over the layers it feeds), e.g. δ = ∂L/∂a·f′(z) and what goes back
        to each input."""

    def explain_to_input(self, b, consumer: Node, k: int, sample: int, idx) -> list:
        """The chain of terms (each a list of parts) by which ``consumer`` (this type) sends its
        error back to unit ``idx`` of its input ``k``, shown before the value received (the
        trace's ``grad_inputs``); empty when there is nothing to expand."""
        return [[f"∂L/∂(input) of {consumer.name}"]]

    def without_randomness(self, config: dict) -> dict:
        """For ``random_in_training`` types: the config with its randomness turned off (an
        identity layer), for comparisons between engines whose random streams differ."""
        return config

    def input_unit_offset(self, node: Node, k: int) -> int:
        """For per-unit layers on flat inputs: where input ``k``'s first unit lands in the
        output (Concatenate stacks its inputs)."""
        return 0

    def subtitle(self, config: dict) -> str:
        """The setting that tells one block of this type from another, shown under its name
        (the activation is shown by the caller)."""
        return ""


# --------------------------------------------------------------------------- helpers
def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about hostile values."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def prod(shape: Shape) -> int:
    return int(math.prod(shape))


def activation_flops(activation: str | None, n: int) -> int:
    """One FLOP per element for cheap activations, a few for transcendental ones: an estimate
    that keeps the summary honest about the order of magnitude."""
    if activation in (None, "linear"):
        return 0
    if activation in ("relu", "leaky_relu", "sign", "hard_sigmoid", "relu6"):
        return n
    return 4 * n


def layer_seed(node: Node, seed: int) -> int:
    """The seed of a layer's random stream in Keras: its config's ``seed``, else one derived
    from the project's seed and the layer's index (one independent stream per layer)."""
    own = node.config.get("seed")
    if own is not None:
        return int(own)
    return int(np.random.SeedSequence([int(seed), node.index + 1]).generate_state(1)[0])


def sample_axis(axis: int, rank: int) -> int:
    """Keras' ``axis`` (it counts the batch axis; negative ones count from the end) as an index
    into a sample's ``rank`` axes; a :class:`ShapeProblem` on the ``axis`` field when out of
    range."""
    ax = axis + rank + 1 if axis < 0 else axis
    if not 1 <= ax <= rank:
        raise ShapeProblem(
            f"axis {axis} is out of range for inputs of rank {rank} (plus batch)", field="axis"
        )
    return ax - 1


def format_shape(shape: Shape) -> str:
    """A shape as Keras prints it, with the batch axis: ``(None, 128)``."""
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


def listed_shapes(shapes: list[Shape]) -> str:
    return " and ".join(format_shape(s) for s in shapes)


def snake_name(class_name: str) -> str:
    """Keras' auto-name stem (its ``to_snake_case``): ``Dense`` -> ``dense``, ``Conv2D`` ->
    ``conv2d``, ``GlobalAveragePooling2D`` -> ``global_average_pooling2d``, ``ReLU`` ->
    ``re_lu``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
