"""The doctor's checks of the output layer against the loss: what a cross-entropy needs, the
fused pairs Keras scores as another function of the logits, MSE on classes, the output's
width against the data's classes."""

from __future__ import annotations

from engine.doctor.findings import ERROR, WARNING, Finding, fix
from engine.errors import NNDError
from engine.losses import is_mismatched, resolve_loss
from engine.validate import (
    BINARY_LOSSES,
    CATEGORICAL_LOSSES,
    compile_section,
    optimizer_class,
    probability_activation,
)

_CROSS_ENTROPIES = CATEGORICAL_LOSSES + BINARY_LOSSES
_REGRESSION_LOSSES = ("mean_squared_error", "mean_absolute_error")
_SQUASHING = ("softmax", "sigmoid")
_WHY_FUSED = (
    "Keras computes a cross-entropy from the output's logits z, as softmax(z) for a categorical "
    "loss and sigmoid(z) for a binary one, whatever the output's activation says "
    "(keras/src/backend/tensorflow/nn.py)"
)


def _loss(project) -> tuple[str | None, bool]:
    spec = compile_section(project).get("loss")
    if spec is None:
        return None, False
    try:
        name, config = resolve_loss(spec)
    except (KeyError, ValueError, TypeError, NNDError):
        return None, False  # validation names it
    return name, bool(config.get("from_logits", False))


def _loss_fix(label: str, loss: str, out: str | None = None, activation: str | None = None):
    steps = [("set_setting", {"path": "compile.loss", "value": loss})]
    if out is not None:
        steps.append(("set_param", {"layer": out, "key": "activation", "value": activation}))
    return fix(label, *steps)


def output_findings(project, graph, dataset) -> list[Finding]:
    """Output activation and width against the loss and, with ``dataset``, the classes."""
    from engine.optimizers import is_perceptron

    if graph is None or graph.output_node is None or is_perceptron(optimizer_class(project)):
        return []
    loss, from_logits = _loss(project)
    if loss is None:
        return []
    out = graph.output_node
    act = out.activation
    width = out.output_shape[-1] if out.output_shape else 0
    has_activation = out.layer_type.has_activation
    cls = getattr(dataset, "task", None) == "classification"
    k = int(getattr(dataset, "n_classes", 0) or 0)
    found: list[Finding] = []

    def on_output(level, code, message, why, the_fix=None, field="activation"):
        found.append(Finding(level, code, message, why, out.name, field, the_fix))

    want = probability_activation(loss, width, act)
    if loss in _CROSS_ENTROPIES and from_logits:
        if act in _SQUASHING:
            on_output(
                ERROR,
                "logits-of-probabilities",
                f"the loss takes logits (from_logits=True) but the output applies {act}, so "
                f"{act} is applied twice",
                "with from_logits=True Keras applies softmax/sigmoid inside the loss itself",
                fix(f"Make '{out.name}' output logits", _act(out.name, "linear"))
                if has_activation
                else None,
            )
    elif is_mismatched(act, loss):
        if act == "softmax" and width > 1:
            the_fix = _loss_fix("Use categorical_crossentropy", "categorical_crossentropy")
        else:
            the_fix = fix(f"Use {want} on '{out.name}'", _act(out.name, want))
        on_output(
            ERROR,
            f"{act}-{'binary' if loss in BINARY_LOSSES else 'categorical'}-crossentropy",
            f"a {act} output with {loss}: the loss scores {want}(z), not the {act} outputs "
            "the network shows",
            _WHY_FUSED,
            the_fix,
        )
    elif want is not None and act != want:
        on_output(
            ERROR,
            "output-not-probabilities",
            f"{loss} needs probabilities but the output's activation is '{act or 'linear'}'"
            + (" (negative values have no logarithm)" if act in (None, "linear", "tanh") else ""),
            "a cross-entropy is -log of the probability given to the true class",
            fix(f"Use {want} on '{out.name}'", _act(out.name, want)) if has_activation else None,
        )

    if loss in _REGRESSION_LOSSES and (cls or act == "softmax"):
        if width > 1:
            the_fix = _loss_fix(
                "Use softmax + categorical_crossentropy",
                "categorical_crossentropy",
                out.name if has_activation else None,
                "softmax",
            )
        else:
            the_fix = _loss_fix(
                "Use sigmoid + binary_crossentropy",
                "binary_crossentropy",
                out.name if has_activation else None,
                "sigmoid",
            )
        found.append(
            Finding(
                WARNING,
                "mse-classification",
                f"{loss} on class labels: it learns, but slowly, and its outputs are not "
                "probabilities",
                "with a sigmoid or softmax output, MSE's gradient vanishes when the output is "
                "confidently wrong; cross-entropy's does not (Goodfellow et al., Deep Learning, "
                "6.2.2)",
                None,
                "compile.loss",
                the_fix,
            )
        )

    if cls and k == 2 and width == 2 and act == "sigmoid" and loss in BINARY_LOSSES:
        on_output(
            WARNING,
            "two-unit-sigmoid",
            "two classes on two sigmoid units: two independent probabilities that need not sum "
            "to 1",
            "one sigmoid unit is P(class 1), and P(class 0) = 1 - P(class 1)",
            fix(f"Give '{out.name}' one unit", ("set_param", _units(out.name, 1))),
            "units",
        )
    return found


def _act(layer: str, activation: str) -> tuple[str, dict]:
    return ("set_param", {"layer": layer, "key": "activation", "value": activation})


def _units(layer: str, n: int) -> dict:
    return {"layer": layer, "key": "units", "value": n}
