"""Weight initializers in Keras 3's vocabulary, drawing from a NumPy Generator.

A spec is either a Keras name (``"glorot_uniform"``, or the class name ``"GlorotUniform"``) or
Keras' serialized dict form ``{"class_name": "GlorotUniform", "config": {...}}`` (the extra
``module`` and ``registered_name`` keys that ``keras.initializers.serialize`` writes are
accepted). Every Keras 3 initializer but ``STFT`` is here: zeros, ones, constant, identity,
random normal / uniform, truncated normal, orthogonal, and variance scaling with its named
variants (Glorot, He, LeCun). Formulas and defaults are those of Keras 3: fans from
``compute_fans`` (a Dense kernel ``(in, out)`` has ``fan_in = in``, ``fan_out = out``; a 1-D
shape has both equal to its length), variance scaling with ``scale / max(1, fan)``, and a normal
distribution that is truncated at two standard deviations with the stddev divided by
0.87962566103423978 so that the truncated draw keeps the intended variance.

Keras' ``seed`` config key is accepted and ignored: draws come from the caller's Generator, so a
whole project is reproducible from one seed.

``Constant`` has no usable default ``value``: Keras' constructor says 0.0, but Keras builds an
initializer from a name or config through ``from_config``, which needs the key
(``keras.initializers.get("constant")`` and ``Dense(kernel_initializer="constant")`` raise
``KeyError: 'value'``). So a constant spec must give its value, and :func:`parse_initializer`
fills ``None`` for a missing one, which :func:`check_initializer` reports.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

INITIALIZER_NAMES: tuple[str, ...] = (
    "zeros",
    "ones",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "orthogonal",
    "lecun_uniform",
    "constant",
    "identity",
    "variance_scaling",
)

_CLASS_NAMES: dict[str, str] = {
    "Zeros": "zeros",
    "Ones": "ones",
    "GlorotUniform": "glorot_uniform",
    "GlorotNormal": "glorot_normal",
    "HeUniform": "he_uniform",
    "HeNormal": "he_normal",
    "LecunNormal": "lecun_normal",
    "RandomNormal": "random_normal",
    "RandomUniform": "random_uniform",
    "TruncatedNormal": "truncated_normal",
    "Orthogonal": "orthogonal",
    "LecunUniform": "lecun_uniform",
    "Constant": "constant",
    "Identity": "identity",
    "VarianceScaling": "variance_scaling",
    # Keras' aliases "for compatibility" (keras.initializers.get accepts them).
    "IdentityInitializer": "identity",
    "OrthogonalInitializer": "orthogonal",
}

# (scale, mode, distribution) of Keras' VarianceScaling subclasses.
_VARIANCE_SCALING: dict[str, tuple[float, str, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
}

# Keras' VarianceScaling choices; "normal" is Keras' alias of "truncated_normal", and Keras
# lower-cases the distribution (not the mode).
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

# Config keys and defaults per initializer, as keras.initializers.serialize writes them.
_CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "zeros": {},
    "ones": {},
    "random_normal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "random_uniform": {"seed": None, "minval": -0.05, "maxval": 0.05},
    **{name: {"seed": None, "input_axes": None, "output_axes": None} for name in _VARIANCE_SCALING},
    "truncated_normal": {"seed": None, "mean": 0.0, "stddev": 0.05},
    "orthogonal": {"seed": None, "gain": 1.0},
    # None: not given (see the module docstring); Keras needs the value.
    "constant": {"value": None},
    # Keras' Identity.get_config() writes {} (the gain is lost when Keras saves it); its
    # constructor and from_config take "gain".
    "identity": {"gain": 1.0},
    "variance_scaling": {
        "seed": None,
        "scale": 1.0,
        "mode": "fan_in",
        "distribution": "truncated_normal",
        "input_axes": None,
        "output_axes": None,
    },
}

_SPEC_KEYS = frozenset({"class_name", "config", "module", "registered_name"})

# Keras' constant: the stddev of a standard normal truncated to (-2, 2).
_TRUNCATED_STDDEV = 0.87962566103423978


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float: 10**400
        return False


def parse_initializer(spec: object) -> tuple[str, dict[str, Any]]:
    """Resolve a spec to ``(snake_name, full config)``; raise ValueError with a message.

    The config has every key of Keras' ``get_config()`` in its order, defaults filled in, and
    VarianceScaling's distribution as Keras stores it (lower case, ``"normal"`` read as
    ``"truncated_normal"``). A constant spec without its value resolves with ``value=None``;
    :func:`check_initializer` says that Keras needs it.
    """
    expected = ", ".join(INITIALIZER_NAMES)
    if isinstance(spec, str):
        class_name, config = spec, {}
    elif isinstance(spec, dict):
        unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} in initializer spec; expected 'class_name' "
                "and optionally 'config'"
            )
        if "class_name" not in spec:
            raise ValueError("initializer spec has no 'class_name'")
        class_name = spec["class_name"]
        if not isinstance(class_name, str):
            raise ValueError(
                f"initializer 'class_name' must be a string, got {type(class_name).__name__}"
            )
        config = spec.get("config", {})
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ValueError(f"initializer 'config' must be a mapping, got {type(config).__name__}")
    else:
        raise ValueError(
            "an initializer must be a name or a {'class_name': ..., 'config': {...}} mapping, "
            f"got {type(spec).__name__}"
        )

    name = _CLASS_NAMES.get(class_name, class_name)
    if name not in _CONFIG_DEFAULTS:
        raise ValueError(f"unknown initializer {class_name!r}; expected one of {expected}")

    defaults = _CONFIG_DEFAULTS[name]
    for key in config:
        if key not in defaults:
            known = ", ".join(defaults) if defaults else "none"
            raise ValueError(
                f"initializer {name!r} has no setting {key!r}; known settings: {known}"
            )
    full = {**defaults, **config}
    if name == "variance_scaling" and isinstance(full["distribution"], str):
        distribution = full["distribution"].lower()
        full["distribution"] = "truncated_normal" if distribution == "normal" else distribution
    _check_values(name, full)
    return name, full


_KERAS_CLASSES = {
    name: cls for cls, name in _CLASS_NAMES.items() if not cls.endswith("Initializer")
}


def changed_settings(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The settings of a resolved initializer that differ from Keras' defaults."""
    defaults = _CONFIG_DEFAULTS[name]
    return {k: v for k, v in config.items() if v != defaults[k]}


def initializer_spec(name: str, settings: dict[str, Any]) -> object:
    """The shortest spec of initializer ``name`` (snake) with ``settings``: the name when
    every setting is Keras' default (and Keras can build it from the name), else
    ``{"class_name": "RandomNormal", "config": {the settings that differ}}``. Raises
    ValueError naming a setting it does not have or a value it refuses."""
    cls = _KERAS_CLASSES[name]
    resolved, config = _resolve({"class_name": cls, "config": settings})
    changed = changed_settings(resolved, config)
    return {"class_name": cls, "config": changed} if changed else resolved


def _resolve(spec: object) -> tuple[str, dict[str, Any]]:
    """:func:`parse_initializer`, also refusing a constant spec that lacks its value."""
    name, config = parse_initializer(spec)
    if name == "constant" and config["value"] is None:
        raise ValueError(
            "initializer 'constant' needs a 'value': Keras builds Constant from a name or "
            "config only when the config has one (keras.initializers.get('constant') fails); "
            "write {'class_name': 'Constant', 'config': {'value': 0.0}}"
        )
    return name, config


def _check_values(name: str, config: dict[str, Any]) -> None:
    seed = config.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"initializer {name!r}: 'seed' must be an integer or null, got {seed!r}")
    for key in ("mean", "stddev", "minval", "maxval", "gain", "scale", "value"):
        if key in config:
            value = config[key]
            if key == "value" and value is None:
                continue  # not given: _resolve reports it
            if not _is_number(value) or not _is_finite(value):
                raise ValueError(
                    f"initializer {name!r}: {key!r} must be a finite number, got {value!r}"
                )
    if name in ("random_normal", "truncated_normal") and config["stddev"] < 0:
        raise ValueError(f"initializer {name!r}: 'stddev' must be >= 0, got {config['stddev']!r}")
    if name == "random_uniform" and config["minval"] > config["maxval"]:
        raise ValueError(
            f"initializer {name!r}: 'minval' ({config['minval']!r}) must not exceed "
            f"'maxval' ({config['maxval']!r})"
        )
    if name == "variance_scaling":
        if config["scale"] <= 0:
            raise ValueError(
                f"initializer {name!r}: 'scale' must be a positive number, got {config['scale']!r}"
            )
        for key, choices in (("mode", _MODES), ("distribution", _DISTRIBUTIONS)):
            if config[key] not in choices:
                raise ValueError(
                    f"initializer {name!r}: {key!r} must be one of {', '.join(choices)}, "
                    f"got {config[key]!r}"
                )
    for key in ("input_axes", "output_axes"):
        axes = config.get(key)
        if axes is None:
            continue
        if not isinstance(axes, (list, tuple)) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in axes
        ):
            raise ValueError(
                f"initializer {name!r}: {key!r} must be a list of integers or null, got {axes!r}"
            )
    if (config.get("input_axes") is None) != (config.get("output_axes") is None):
        # Keras silently ignores one without the other; say so instead of guessing.
        raise ValueError(
            f"initializer {name!r}: 'input_axes' and 'output_axes' must be given together"
        )


def check_initializer(spec: object) -> str | None:
    """Say what is wrong with an initializer spec.

    Parameters
    ----------
    spec : str or dict
        A Keras initializer name or ``{"class_name": ..., "config": {...}}``.

    Returns
    -------
    str or None
        None when the spec is valid, else a message for people naming the problem.
    """
    try:
        _resolve(spec)
    except ValueError as exc:
        return str(exc)
    return None


def shape_problem(spec: object, shape: tuple[int, ...]) -> str | None:
    """Say what keeps a valid spec from initializing a weight of ``shape``.

    ``input_axes`` and ``output_axes`` index the weight's axes (negative ones from the end, as
    in Keras' ``compute_fans``); an axis beyond the weight's rank has no size. Orthogonal needs
    a weight of rank 2 or more, Identity a 2-D one (a matrix), as in Keras.

    Parameters
    ----------
    spec : str or dict
        A spec that :func:`check_initializer` accepts.
    shape : tuple of int
        The weight's shape, e.g. ``(n_in, n_out)`` for a Dense kernel, ``(n_out,)`` for a bias.

    Returns
    -------
    str or None
        None when the spec can initialize the weight, else a message naming the axis.
    """
    try:
        name, config = _resolve(spec)
    except ValueError as exc:
        return str(exc)
    rank = len(shape)
    axes = f"{rank} ax{'is' if rank == 1 else 'es'}"
    if name == "orthogonal" and rank < 2:
        return (
            f"initializer 'orthogonal' needs a weight of at least 2 axes, but the weight has "
            f"{axes} (shape {tuple(shape)}); Keras' Orthogonal draws a matrix of "
            "shape (product of all axes but the last, last axis)"
        )
    if name == "identity" and rank != 2:
        return (
            f"initializer 'identity' makes only 2-D weights (a matrix), but the weight has "
            f"{axes} (shape {tuple(shape)})"
        )
    for key in ("input_axes", "output_axes"):
        for axis in config.get(key) or ():
            if not -rank <= axis < rank:
                return (
                    f"initializer {name!r}: {key!r} holds axis {axis}, but the weight has "
                    f"{axes} (shape {tuple(shape)}); use axes "
                    f"from {-rank} to {rank - 1}"
                )
    return None


def compute_fans(
    shape: tuple[int, ...],
    input_axes: list[int] | tuple[int, ...] | None = None,
    output_axes: list[int] | tuple[int, ...] | None = None,
) -> tuple[int, int]:
    """Number of input and output units of a weight shape, as Keras' ``compute_fans``.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape; a Dense kernel is ``(n_in, n_out)``.
    input_axes, output_axes : sequence of int, optional
        Axes counted as inputs and outputs; both or neither.

    Returns
    -------
    (fan_in, fan_out) : tuple of int
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (
            int(math.prod(shape[a] for a in input_axes)),
            int(math.prod(shape[a] for a in output_axes)),
        )
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


def _truncated_standard_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws, each one outside (-2, 2) redrawn until it falls inside."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def _orthogonal(shape: tuple[int, ...], gain: float, rng: np.random.Generator) -> np.ndarray:
    """Keras' Orthogonal: Q of the QR of a normal matrix, sign-corrected, times ``gain``.

    The weight is flattened to ``(rows, cols) = (prod(shape[:-1]), shape[-1])``; the normal
    matrix is ``(max(rows, cols), min(rows, cols))``, so Q has orthonormal columns, transposed
    (orthonormal rows) when ``rows < cols``. Multiplying Q's columns by the signs of R's
    diagonal makes the draw uniform over orthogonal matrices.
    """
    rows = math.prod(shape[:-1])
    cols = shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)


def initialize(
    spec: object,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    dtype: npt.DTypeLike = np.float32,
) -> np.ndarray:
    """Draw a weight array from an initializer spec.

    Parameters
    ----------
    spec : str or dict
        A Keras initializer name (``"he_normal"``, ``"HeNormal"``) or
        ``{"class_name": ..., "config": {...}}``.
    shape : tuple of int
        Shape of the weight, e.g. ``(n_in, n_out)`` for a Dense kernel or ``(n_out,)`` for a
        bias.
    rng : numpy.random.Generator
        Source of randomness; Keras' ``seed`` config key is ignored in favour of it.
    dtype : dtype, default float32
        Floating dtype of the result.

    Returns
    -------
    ndarray of shape ``shape`` and dtype ``dtype``

    Raises
    ------
    ValueError
        When the spec is invalid or cannot initialize a weight of ``shape`` (the message is
        :func:`check_initializer`'s or :func:`shape_problem`'s).
    """
    shape = tuple(int(s) for s in shape)
    problem = shape_problem(spec, shape)
    if problem is not None:
        raise ValueError(problem)
    name, config = parse_initializer(spec)
    dtype = np.dtype(dtype)
    if name == "zeros":
        return np.zeros(shape, dtype=dtype)
    if name == "ones":
        return np.ones(shape, dtype=dtype)
    if name == "random_normal":
        values = rng.normal(config["mean"], config["stddev"], size=shape)
        return values.astype(dtype, copy=False)
    if name == "random_uniform":
        values = rng.uniform(config["minval"], config["maxval"], size=shape)
        return values.astype(dtype, copy=False)
    if name == "truncated_normal":
        # Keras' truncated normal: redrawn outside mean +- 2 stddev, stddev not rescaled.
        values = config["mean"] + config["stddev"] * _truncated_standard_normal(shape, rng)
        return values.astype(dtype, copy=False)
    if name == "constant":
        return np.full(shape, config["value"], dtype=dtype)
    if name == "identity":
        # Keras: gain * eye(rows, cols), ones on the main diagonal of a non-square matrix too.
        return (config["gain"] * np.eye(shape[0], shape[1])).astype(dtype, copy=False)
    if name == "orthogonal":
        return _orthogonal(shape, config["gain"], rng).astype(dtype, copy=False)

    if name == "variance_scaling":
        scale, mode, distribution = config["scale"], config["mode"], config["distribution"]
    else:
        scale, mode, distribution = _VARIANCE_SCALING[name]
    fan_in, fan_out = compute_fans(shape, config["input_axes"], config["output_axes"])
    if mode == "fan_in":
        scale /= max(1.0, fan_in)
    elif mode == "fan_out":
        scale /= max(1.0, fan_out)
    else:
        scale /= max(1.0, (fan_in + fan_out) / 2.0)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale)
        values = rng.uniform(-limit, limit, size=shape)
    elif distribution == "untruncated_normal":
        values = rng.standard_normal(shape) * math.sqrt(scale)
    else:
        stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
        values = _truncated_standard_normal(shape, rng) * stddev
    return values.astype(dtype, copy=False)
