"""The losses' vocabulary: Keras 3's names, aliases and fused pairs, for every backend (the
metrics' is :mod:`engine.metrics`).

:func:`canonical_loss` resolves Keras' short names (``"mse"``, ``"mae"``) to the canonical
ones. :data:`FUSED` lists the (output activation, loss)
pairs that Keras' TensorFlow backend computes from the logits instead of the activation's
output (a fused, numerically stable loss): a softmax or sigmoid output with any of the three
crossentropies. :func:`is_mismatched` names the pairs where the loss scores another function of
the logits than the output shows (sigmoid with a categorical crossentropy, softmax with binary
crossentropy). Every backend and view asks this module which pairs those are.

No arithmetic here: the formulas live with each backend (:mod:`engine.backends.numpy.losses`,
Keras' own for the TensorFlow backend).
"""

from __future__ import annotations

import math
from typing import Any

#: The losses, by Keras' function names (the string identifiers ``model.compile`` takes),
#: the common ones first (the inspector's order).
LOSS_NAMES: tuple[str, ...] = (
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
    "huber",
    "log_cosh",
    "mean_squared_logarithmic_error",
    "mean_absolute_percentage_error",
    "squared_hinge",
    "categorical_hinge",
    "kl_divergence",
    "poisson",
    "cosine_similarity",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
)

#: Keras' loss class of each loss (``keras.losses.<class>``, the serialized ``class_name``).
LOSS_CLASSES: dict[str, str] = {
    "mean_squared_error": "MeanSquaredError",
    "mean_absolute_error": "MeanAbsoluteError",
    "binary_crossentropy": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "hinge": "Hinge",
    "huber": "Huber",
    "log_cosh": "LogCosh",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
    "kl_divergence": "KLDivergence",
    "poisson": "Poisson",
    "cosine_similarity": "CosineSimilarity",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
}

#: Keras' reductions that give one number per batch; for an unweighted batch the three
#: means are the same: the sum over the batch divided by its size.
REDUCTIONS: tuple[str, ...] = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight")
_DEFAULT_REDUCTION = "sum_over_batch_size"

# Each loss class's own settings with Keras 3's defaults (besides name, reduction and dtype).
_LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    "binary_crossentropy": {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "categorical_crossentropy": {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "sparse_categorical_crossentropy": {
        "from_logits": False,
        "ignore_class": None,
        "axis": -1,
    },
    "huber": {"delta": 1.0},
    "cosine_similarity": {"axis": -1},
    "binary_focal_crossentropy": {
        "apply_class_balancing": False,
        "alpha": 0.25,
        "gamma": 2.0,
        "from_logits": False,
        "label_smoothing": 0.0,
        "axis": -1,
    },
    "categorical_focal_crossentropy": {
        "alpha": 0.25,
        "gamma": 2.0,
        "from_logits": False,
        "label_smoothing": 0.0,
        "axis": -1,
    },
}

_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "msle": "mean_squared_logarithmic_error",
    "mape": "mean_absolute_percentage_error",
    "kld": "kl_divergence",
    "logcosh": "log_cosh",
}
_BY_CLASS = {cls.lower(): name for name, cls in LOSS_CLASSES.items()}
_SPEC_KEYS = frozenset({"class_name", "config", "module", "registered_name"})


def loss_defaults(name: str) -> dict[str, Any]:
    """The complete config of loss ``name`` (canonical) with Keras' defaults: its own settings
    and ``reduction``."""
    return {**_LOSS_DEFAULTS.get(name, {}), "reduction": _DEFAULT_REDUCTION}


def _check_loss_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    cls = LOSS_CLASSES[name]

    def fail(key: str, requirement: str) -> ValueError:
        return ValueError(f"{cls}: '{key}' must be {requirement}, got {config[key]!r}")

    def is_number(value: object) -> bool:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )

    if config["reduction"] not in REDUCTIONS:
        raise fail("reduction", f"one of {', '.join(REDUCTIONS)} (one loss per batch)")
    if "from_logits" in config and not isinstance(config["from_logits"], bool):
        raise fail("from_logits", "true or false")
    if "label_smoothing" in config:
        value = config["label_smoothing"]
        if not is_number(value) or not 0 <= value <= 1:
            raise fail("label_smoothing", "a number in [0, 1]")
        config["label_smoothing"] = float(value)
    if "apply_class_balancing" in config and not isinstance(config["apply_class_balancing"], bool):
        raise fail("apply_class_balancing", "true or false")
    for key in ("alpha", "gamma"):
        if key in config:
            if not is_number(config[key]) or config[key] < 0:
                raise fail(key, "a number at least 0")
            config[key] = float(config[key])
    if "delta" in config:
        if not is_number(config["delta"]) or config["delta"] <= 0:
            raise fail("delta", "a number greater than 0")
        config["delta"] = float(config["delta"])
    if "axis" in config and config["axis"] != -1:
        raise fail("axis", "-1 (NN Designer's outputs have their units on the last axis)")
    if config.get("ignore_class") is not None:
        raise fail("ignore_class", "null (every label counts in NN Designer)")
    return config


def resolve_loss(spec: Any) -> tuple[str, dict[str, Any]]:
    """Resolve a loss spec to its canonical name and complete config.

    Parameters
    ----------
    spec : str or dict
        A name or alias (``"huber"``, ``"mse"``, ``"kld"``...), or Keras' serialized form
        ``{"class_name": "Huber", "config": {"delta": 2.0}}`` (the class name in any case, or a
        function name; ``module`` and ``registered_name`` are ignored, and so are the config's
        ``name`` and ``dtype``).

    Returns
    -------
    name : str
        One of :data:`LOSS_NAMES`.
    config : dict
        The loss's own settings and ``reduction``, defaults filled in.

    Raises
    ------
    KeyError
        For an unknown loss; its argument is a message for people.
    ValueError
        For an unknown setting or a value NN Designer cannot honour.
    """
    given: dict[str, Any] = {}
    if isinstance(spec, dict):
        unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} in the loss; expected 'class_name' and "
                "optionally 'config'"
            )
        raw = spec.get("class_name")
        given = spec.get("config") or {}
        if not isinstance(given, dict):
            raise ValueError(f"the loss's 'config' must be a mapping, got {type(given).__name__}")
        name = _BY_CLASS.get(raw.lower()) if isinstance(raw, str) else None
        if name is None and isinstance(raw, str):
            name = (
                _LOSS_ALIASES.get(raw, raw) if _LOSS_ALIASES.get(raw, raw) in LOSS_NAMES else None
            )
        if name is None:
            raise KeyError(
                f"unknown loss {raw!r}; expected one of {', '.join(LOSS_CLASSES.values())}"
            )
    elif isinstance(spec, str):
        name = _LOSS_ALIASES.get(spec, spec)
        if name not in LOSS_NAMES:
            raise KeyError(
                f"unknown loss {spec!r}; expected one of {', '.join(LOSS_NAMES)}, "
                f"{', '.join(_LOSS_ALIASES)}"
            )
    else:
        raise KeyError(f"unknown loss {spec!r}; expected a name such as 'mean_squared_error'")
    config = loss_defaults(name)
    for key in given:
        if key in ("name", "dtype"):
            continue
        if key not in config:
            raise ValueError(
                f"{LOSS_CLASSES[name]} has no setting {key!r}; known settings: {', '.join(config)}"
            )
        config[key] = given[key]
    return name, _check_loss_config(name, config)


def loss_spec(name: str, config: dict[str, Any]) -> str | dict[str, Any]:
    """The shortest spec of a resolved loss: its name when every setting is Keras' default,
    else ``{"class_name": ..., "config": {the settings that differ}}``."""
    defaults = loss_defaults(name)
    changed = {k: v for k, v in config.items() if k in defaults and v != defaults[k]}
    return {"class_name": LOSS_CLASSES[name], "config": changed} if changed else name


#: loss -> the function of the logits it scores (a cross-entropy of probabilities).
SCORED_ACTIVATION: dict[str, str] = {
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
    # its crossentropy part (Keras' ops.binary_crossentropy on the output) takes the logits
    "binary_focal_crossentropy": "sigmoid",
}

#: The output activations whose logits Keras stores on their output (``_keras_logits``).
LOGIT_ACTIVATIONS: tuple[str, ...] = ("softmax", "sigmoid")

#: The ``(output activation, loss)`` pairs computed from the logits. Keras' TensorFlow backend
#: takes the logits stored on any softmax or sigmoid output, whichever cross-entropy follows
#: (``keras/src/backend/tensorflow/nn.py``, ``_get_logits``): a sigmoid output with categorical
#: cross-entropy is scored as softmax(z), a softmax output with binary cross-entropy as
#: sigmoid(z). Every backend computes the same.
FUSED: frozenset[tuple[str, str]] = frozenset(
    (activation, loss) for loss in SCORED_ACTIVATION for activation in LOGIT_ACTIVATIONS
)


def canonical_loss(spec: Any) -> str:
    """Return the canonical Keras name of a loss spec (see :func:`resolve_loss`): ``"mse"``
    gives ``"mean_squared_error"``, ``{"class_name": "Huber", ...}`` gives ``"huber"``.

    Raises
    ------
    KeyError
        For an unknown loss or one whose settings are not valid; its single argument is a
        message for people.
    """
    try:
        return resolve_loss(spec)[0]
    except ValueError as exc:
        raise KeyError(str(exc)) from None


def is_fused(activation: str | None, loss: str | None) -> bool:
    """Whether ``loss`` (canonical name) after an output ``activation`` is computed from the
    logits (see :data:`FUSED`)."""
    return (activation, loss) in FUSED


def scored_activation(activation: str | None, loss: str | None) -> str | None:
    """The function of the logits that ``loss`` scores after an output ``activation``: on a
    fused pair the loss's own (softmax for the categorical crossentropies, sigmoid for binary
    crossentropy), whatever the output shows; else None (the loss scores the output itself)."""
    return SCORED_ACTIVATION[loss] if is_fused(activation, loss) else None


def is_mismatched(activation: str | None, loss: str | None) -> bool:
    """Whether a fused pair scores another function of the logits than the output shows
    (sigmoid + categorical crossentropy, softmax + binary crossentropy): the loss then does not
    measure the probabilities the network predicts."""
    scored = scored_activation(activation, loss)
    return scored is not None and scored != activation
