"""The losses' and metrics' vocabulary: Keras 3's names, aliases and fused pairs, for every backend.

:func:`canonical_loss` and :func:`canonical_metric` resolve Keras' short names (``"mse"``,
``"mae"``, ``"acc"``) to the canonical ones. :data:`FUSED` lists the (output activation, loss)
pairs that Keras' TensorFlow backend computes from the logits instead of the activation's
output (a fused, numerically stable loss): a softmax or sigmoid output with any of the three
crossentropies. :func:`is_mismatched` names the pairs where the loss scores another function of
the logits than the output shows (sigmoid with a categorical crossentropy, softmax with binary
crossentropy). Every backend and view asks this module which pairs those are.

No arithmetic here: the formulas live with each backend (:mod:`engine.backends.numpy.losses`,
Keras' own for the TensorFlow backend).
"""

from __future__ import annotations

LOSS_NAMES: tuple[str, ...] = (
    "mean_squared_error",
    "mean_absolute_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
)

METRIC_NAMES: tuple[str, ...] = ("accuracy", "mean_squared_error", "mean_absolute_error")

_LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
_METRIC_ALIASES = {"acc": "accuracy", "mse": "mean_squared_error", "mae": "mean_absolute_error"}

#: loss -> the function of the logits it scores (a cross-entropy of probabilities).
SCORED_ACTIVATION: dict[str, str] = {
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
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


def canonical_loss(name: str) -> str:
    """Return the canonical Keras name of a loss, resolving ``"mse"`` and ``"mae"``.

    Raises
    ------
    KeyError
        For an unknown loss; its single argument is a message for people.
    """
    if isinstance(name, str):
        name = _LOSS_ALIASES.get(name, name)
        if name in LOSS_NAMES:
            return name
    raise KeyError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_NAMES)}, mse, mae")


def canonical_metric(name: str) -> str:
    """Return the canonical name of a metric, resolving ``"acc"``, ``"mse"`` and ``"mae"``.

    Raises
    ------
    KeyError
        For an unknown metric; its single argument is a message for people.
    """
    if isinstance(name, str):
        name = _METRIC_ALIASES.get(name, name)
        if name in METRIC_NAMES:
            return name
    raise KeyError(
        f"unknown metric {name!r}; expected one of {', '.join(METRIC_NAMES)}, acc, mse, mae"
    )


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
