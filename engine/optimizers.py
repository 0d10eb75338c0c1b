"""The optimizers' vocabulary: Keras 3's names, defaults and settings, shared by every backend.

:func:`resolve_optimizer` turns what a project file says (``"adam"`` or
``{"class_name": "Adam", "config": {...}}``, as ``keras.optimizers.serialize`` writes it) into a
class name and a complete config, rejecting anything the NumPy backend cannot honour with a
message for people (the NumPy engine is the reference: what it cannot compute, no backend is
asked to). :func:`is_perceptron` says whether a project or spec trains with the seed
Perceptron's rule, which is not a Keras optimizer and only the NumPy engine has.

No arithmetic here: the update formulas live with each backend
(:mod:`engine.backends.numpy.optimizers`, Keras' own for the TensorFlow backend).
"""

from __future__ import annotations

import math
import re
from typing import Any

from engine.schedules import is_schedule, resolve_schedule

#: The seed Perceptron's learning rule: not a Keras optimizer, and only the NumPy engine has it.
PERCEPTRON = "Perceptron"
#: The optimizers, the common ones first (the inspector's order).
OPTIMIZER_NAMES: tuple[str, ...] = (
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Lion",
    "Ftrl",
    PERCEPTRON,
)
#: What a project without ``compile.optimizer`` trains with: Keras' ``compile()`` default.
DEFAULT_OPTIMIZER = "rmsprop"

_ADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
# Keras 3's defaults of each optimizer's own arguments, in the order of its signature.
_OWN_DEFAULTS: dict[str, dict[str, Any]] = {
    "SGD": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "Adam": {**_ADAM, "amsgrad": False},
    # AdamW is Adam with a weight decay that must be set (Keras refuses None).
    "AdamW": {"learning_rate": 0.001, "weight_decay": 0.004, **_ADAM, "amsgrad": False},
    "RMSprop": {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": False,
    },
    "Adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "Adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "Adamax": dict(_ADAM),
    "Nadam": dict(_ADAM),
    "Lion": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99},
    "Ftrl": {
        "learning_rate": 0.001,
        "learning_rate_power": -0.5,
        "initial_accumulator_value": 0.1,
        "l1_regularization_strength": 0.0,
        "l2_regularization_strength": 0.0,
        "l2_shrinkage_regularization_strength": 0.0,
        "beta": 0.0,
    },
    PERCEPTRON: {"learning_rate": 0.01},
}

#: Each optimizer's slot variables (Keras' names, as in ``optimizer.variables``), with the
#: value they start from: a number, or the config key that holds it.
SLOTS: dict[str, dict[str, float | str]] = {
    "SGD": {"momentum": 0.0},
    "Adam": {"momentum": 0.0, "velocity": 0.0, "velocity_hat": 0.0},
    "AdamW": {"momentum": 0.0, "velocity": 0.0, "velocity_hat": 0.0},
    "RMSprop": {"velocity": 0.0, "momentum": 0.0, "average_gradient": 0.0},
    "Adagrad": {"accumulator": "initial_accumulator_value"},
    "Adadelta": {"accumulated_grad": 0.0, "accumulated_delta_var": 0.0},
    "Adamax": {"momentum": 0.0, "norm": 0.0},
    "Nadam": {"momentum": 0.0, "velocity": 0.0},
    "Lion": {"momentum": 0.0},
    "Ftrl": {"accumulator": "initial_accumulator_value", "linear": 0.0},
    PERCEPTRON: {},
}

#: Optimizer-wide numbers an optimizer keeps besides its step count, with their start values.
SCALARS: dict[str, dict[str, float]] = {"Nadam": {"u_product": 1.0}}

# Settings that must be >= 0 (Ftrl's strengths and beta) and <= 0 (its learning_rate_power).
_NON_NEGATIVE = (
    "l1_regularization_strength",
    "l2_regularization_strength",
    "l2_shrinkage_regularization_strength",
    "beta",
)

# The arguments every Keras 3 optimizer takes (keras.optimizers.Optimizer.get_config), with
# their defaults. The NumPy backend implements the clipping ones and accepts the others only
# at values that leave the update unchanged.
_GENERIC_DEFAULTS: dict[str, Any] = {
    "name": None,
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}

_SPEC_KEYS = frozenset({"class_name", "config", "module", "registered_name"})
# TensorFlow opens a name scope with the optimizer's name, whose pattern is this (a root scope
# name); Keras refuses "/" in variable names, which the optimizer's slots are prefixed with.
_KERAS_OPTIMIZER_NAME = re.compile(r"(?:[A-Za-z0-9.][A-Za-z0-9_.>-]*)?")
_BY_LOWER = {name.lower(): name for name in OPTIMIZER_NAMES}


def _defaults(class_name: str) -> dict[str, Any]:
    if class_name == PERCEPTRON:
        return {"name": None, **_OWN_DEFAULTS[PERCEPTRON]}
    return {
        "name": None,
        "learning_rate": _OWN_DEFAULTS[class_name]["learning_rate"],
        **{k: v for k, v in _GENERIC_DEFAULTS.items() if k != "name"},
        **_OWN_DEFAULTS[class_name],
    }


def _is_number(value: object) -> bool:
    """A finite JSON number; an integer too large for a float (10**400) is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_config(cls: str, config: dict[str, Any]) -> dict[str, Any]:
    """Validate a complete config; return it with numbers as floats. Raise ValueError."""

    def fail(key: str, requirement: str) -> ValueError:
        return ValueError(f"{cls}: '{key}' must be {requirement}, got {config[key]!r}")

    def number(key: str, low: float, high: float, low_open: bool, high_open: bool) -> None:
        value = config[key]
        ok = _is_number(value)
        if ok:
            ok = (value > low if low_open else value >= low) and (
                value < high if high_open else value <= high
            )
        if not ok:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            if high == math.inf:
                span = f"{'greater than' if low_open else 'at least'} {low:g}"
            elif low == -math.inf:
                span = f"{'less than' if high_open else 'at most'} {high:g}"
            else:
                span = f"in {left}{low:g}, {high:g}{right}"
            raise fail(key, f"a number {span}")
        config[key] = float(value)

    if config["name"] is not None and not isinstance(config["name"], str):
        raise fail("name", "a string or null")
    if isinstance(config["name"], str) and not _KERAS_OPTIMIZER_NAME.fullmatch(config["name"]):
        raise fail(
            "name",
            "a name Keras accepts: letters, digits and _ . - > (starting with a letter, a digit "
            "or .), or null",
        )
    if is_schedule(config["learning_rate"]) and cls != PERCEPTRON:
        try:
            config["learning_rate"] = dict(
                zip(
                    ("class_name", "config"), resolve_schedule(config["learning_rate"]), strict=True
                )
            )
        except ValueError as exc:
            raise ValueError(f"{cls}: 'learning_rate': {exc}") from None
    else:
        number("learning_rate", 0.0, math.inf, True, True)
    if "momentum" in config:
        number("momentum", 0.0, 1.0, False, True)
    if cls == "Lion":
        # Keras: beta_1 in (0, 1]; at 0 Lion degenerates to SignSGD.
        number("beta_1", 0.0, 1.0, True, False)
        number("beta_2", 0.0, 1.0, False, True)
    for key in ("beta_1", "beta_2", "rho"):
        if key in config and cls != "Lion":
            number(key, 0.0, 1.0, False, True)
    if "epsilon" in config:
        number("epsilon", 0.0, math.inf, True, True)
    if "initial_accumulator_value" in config:
        number("initial_accumulator_value", 0.0, math.inf, False, True)
    if "learning_rate_power" in config:
        number("learning_rate_power", -math.inf, 0.0, True, False)
    for key in _NON_NEGATIVE:
        if key in config:
            number(key, 0.0, math.inf, False, True)
    for key in ("nesterov", "amsgrad", "centered"):
        if key in config and not isinstance(config[key], bool):
            raise fail(key, "true or false")
    if cls == PERCEPTRON:
        return config

    if config["weight_decay"] is not None or cls == "AdamW":
        if config["weight_decay"] is None:
            raise fail("weight_decay", "a number >= 0 (AdamW decays the weights; Adam does not)")
        number("weight_decay", 0.0, math.inf, False, True)
    clips = [k for k in ("clipnorm", "global_clipnorm", "clipvalue") if config[k] is not None]
    for key in clips:
        number(key, 0.0, math.inf, True, True)
    if len(clips) > 1:
        raise ValueError(
            f"{cls}: only one of 'clipnorm', 'clipvalue' and 'global_clipnorm' can be set, "
            f"got {', '.join(clips)}"
        )
    if config["use_ema"] is not False:
        raise fail("use_ema", "false (the NumPy backend has no weight averaging)")
    number("ema_momentum", 0.0, 1.0, False, False)
    freq = config["ema_overwrite_frequency"]
    if freq is not None and (not isinstance(freq, int) or isinstance(freq, bool) or freq < 1):
        raise fail("ema_overwrite_frequency", "null or an integer >= 1")
    if config["loss_scale_factor"] is not None:
        raise fail("loss_scale_factor", "null (the NumPy backend computes in full precision)")
    if config["gradient_accumulation_steps"] is not None:
        raise fail(
            "gradient_accumulation_steps",
            "null (the NumPy backend updates after every batch)",
        )
    return config


def resolve_optimizer(spec: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Resolve an optimizer spec to its class name and complete config.

    Parameters
    ----------
    spec : str or dict
        A name (``"adam"``, ``"SGD"``..., case-insensitive) or Keras' serialized form
        ``{"class_name": "Adam", "config": {...}}`` (``module`` and ``registered_name`` keys are
        accepted and ignored).

    Returns
    -------
    class_name : str
        One of :data:`OPTIMIZER_NAMES`.
    config : dict
        Every argument of the Keras 3 optimizer with its default filled in (for
        ``Perceptron``: ``name`` and ``learning_rate``); numbers are floats.

    Raises
    ------
    ValueError
        For an unknown optimizer, an unknown setting, a value of the wrong type or out of
        range, or a Keras feature the NumPy backend does not implement.
    """
    if isinstance(spec, str):
        given_name, given_config = spec, {}
    elif isinstance(spec, dict):
        unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} in the optimizer; expected 'class_name' and "
                "optionally 'config'"
            )
        if not isinstance(spec.get("class_name"), str):
            raise ValueError("the optimizer needs a 'class_name' such as 'Adam'")
        given_name = spec["class_name"]
        given_config = spec.get("config") or {}
        if not isinstance(given_config, dict):
            raise ValueError(
                f"the optimizer's 'config' must be a mapping, got {type(given_config).__name__}"
            )
    else:
        raise ValueError(
            "an optimizer must be a name or a {'class_name': ..., 'config': {...}} mapping, "
            f"got {type(spec).__name__}"
        )

    cls = _BY_LOWER.get(given_name.lower())
    if cls is None:
        raise ValueError(
            f"unknown optimizer {given_name!r}; expected one of {', '.join(OPTIMIZER_NAMES)}"
        )
    config = _defaults(cls)
    for key in given_config:
        if key not in config:
            raise ValueError(f"{cls} has no setting {key!r}; known settings: {', '.join(config)}")
    config.update(given_config)
    return cls, _check_config(cls, config)


def optimizer_spec(project: Any) -> Any:
    """What ``project`` says its optimizer is: ``compile.optimizer``, else the default.

    Parameters
    ----------
    project : Project
        Anything with a ``data`` dict (the spec); a missing or malformed ``compile`` section
        counts as empty (the validator reports it).
    """
    comp = project.data.get("compile")
    comp = comp if isinstance(comp, dict) else {}
    return comp.get("optimizer", DEFAULT_OPTIMIZER)


def optimizer_class(spec: Any) -> str | None:
    """The class name an optimizer spec resolves to, or None when it is not valid.

    Parameters
    ----------
    spec : str, dict or Project
        An optimizer spec (see :func:`resolve_optimizer`), a class name in any case, or a
        project (its :func:`optimizer_spec`).
    """
    if hasattr(spec, "data"):
        spec = optimizer_spec(spec)
    try:
        return resolve_optimizer(spec)[0]
    except (ValueError, TypeError):
        return None


def is_perceptron(spec: Any) -> bool:
    """Whether ``spec`` trains with the seed Perceptron's rule (one sample per step, ±1 outputs,
    no loss; the NumPy engine only).

    Parameters
    ----------
    spec : str, dict or Project
        As :func:`optimizer_class`; an invalid spec is not the Perceptron.
    """
    return optimizer_class(spec) == PERCEPTRON
