"""The doctor's checks of the optimizer: a learning rate far outside its usual range, and the
Perceptron's settings."""

from __future__ import annotations

from engine.doctor.findings import HINT, WARNING, Finding, fix
from engine.optimizers import DEFAULT_OPTIMIZER, is_perceptron, resolve_optimizer

#: The learning rates each optimizer is usually run with (a decade either side of Keras'
#: default, wider for SGD). "Far outside" is ten times beyond these.
USUAL_RANGE: dict[str, tuple[float, float]] = {
    "SGD": (1e-4, 1.0),
    "Adam": (1e-5, 1e-2),
    "AdamW": (1e-5, 1e-2),
    "Adamax": (1e-5, 1e-2),
    "Nadam": (1e-5, 1e-2),
    "RMSprop": (1e-5, 1e-2),
    "Adagrad": (1e-4, 1.0),
    "Adadelta": (1e-4, 10.0),
    "Lion": (1e-6, 1e-3),
    "Ftrl": (1e-4, 1.0),
}
FAR = 10.0


def _rate_fix(spec, cls: str, value: float):
    new = dict(spec) if isinstance(spec, dict) else {}
    new["class_name"] = cls
    new["config"] = {**(new.get("config") or {}), "learning_rate": value}
    return fix(
        f"Set the learning rate to {value:g}",
        ("set_setting", {"path": "compile.optimizer", "value": new}),
    )


def optimizer_findings(project, graph) -> list[Finding]:
    spec = (project.data.get("compile") or {}).get("optimizer", DEFAULT_OPTIMIZER)
    try:
        cls, config = resolve_optimizer(spec)
        rate = float(config["learning_rate"])
    except (ValueError, TypeError, KeyError):
        return []  # a schedule, or validation names what is wrong
    if is_perceptron(cls):
        return _perceptron(project, graph, rate)
    if cls not in USUAL_RANGE:
        return []
    lo, hi = USUAL_RANGE[cls]
    if lo / FAR <= rate <= hi * FAR:
        return []
    default = float(resolve_optimizer(cls)[1]["learning_rate"])
    high = rate > hi * FAR
    return [
        Finding(
            WARNING,
            "learning-rate",
            f"learning rate {rate:g} is far {'above' if high else 'below'} {cls}'s usual "
            f"{lo:g} to {hi:g}",
            "too high, the loss jumps or diverges; too low, it barely moves (Keras' default "
            f"for {cls} is {default:g})",
            None,
            "compile.optimizer.learning_rate",
            _rate_fix(spec, cls, default),
        )
    ]


def _perceptron(project, graph, rate: float) -> list[Finding]:
    found = []
    batch = project.fit.get("batch_size", 32)
    if batch != 1:
        found.append(
            Finding(
                WARNING,
                "perceptron-batch",
                f"the Perceptron's rule corrects the weights after each sample; batch_size "
                f"{batch} adds up {batch} samples' corrections per step",
                "Rosenblatt's rule, as the seed writes it: w += lr * (target - predict) * x, "
                "one sample at a time",
                None,
                "fit.batch_size",
                fix(
                    "Train sample by sample",
                    ("set_setting", {"path": "fit.batch_size", "value": 1}),
                ),
            )
        )
    nodes = graph.nodes if graph else []
    dense = next((n for n in nodes if n.layer_type.fully_connected), None)
    zeros = dense is not None and all(
        dense.config.get(key, "glorot_uniform" if key == "kernel_initializer" else "zeros")
        == "zeros"
        for key in ("kernel_initializer", "bias_initializer")
    )
    if zeros and rate != 1.0:
        found.append(
            Finding(
                HINT,
                "perceptron-learning-rate",
                f"from zero weights, the learning rate {rate:g} only scales the weights: every "
                "prediction is the same for any rate above 0",
                "each step adds lr * (target - predict) * x to weights that start at 0, so "
                "w = lr * (a sum that does not depend on lr), and sign(w.x + b) does not either",
                dense.name,
                None,
                None,
            )
        )
    return found
