"""The doctor's checks of the data, from their statistics: scaling, class balance, samples
against parameters, constant features, labels that are not 0..k-1."""

from __future__ import annotations

import numpy as np

from engine.data import class_balance, scale_of
from engine.doctor.findings import HINT, WARNING, Finding, fix

#: Statistics are taken over at most this many samples, and this many values in all (evenly
#: spaced samples): bounded time and memory on every edit, MNIST included.
STAT_SAMPLES = 20_000
STAT_VALUES = 2_000_000
#: Flat features whose mean or spread exceeds this, or whose spreads differ by more than
#: SPREAD_RATIO, are "not scaled".
SCALE_LIMIT = 5.0
SPREAD_RATIO = 100.0
#: The largest class over the smallest above this is "imbalanced".
IMBALANCE_RATIO = 3.0
#: Trainable parameters above this many per training sample are "too few samples".
PARAMS_PER_SAMPLE = 10.0


def _sample(x: np.ndarray) -> np.ndarray:
    per_sample = max(1, int(np.prod(x.shape[1:])))
    step = max(1, -(-len(x) // STAT_SAMPLES), -(-len(x) * per_sample // STAT_VALUES))
    flat = np.asarray(x[::step], dtype=np.float64)
    return flat.reshape(len(flat), -1)


def _scaling(spec: dict, dataset, flat: np.ndarray) -> list[Finding]:
    if scale_of(spec) != "none" or flat.size == 0:
        return []
    if getattr(dataset, "image_shape", None) is not None:
        top = float(flat.max())
        if top <= 2.0:
            return []
        return [
            Finding(
                WARNING,
                "unscaled-features",
                f"the pixel values go up to {top:g}, not scaled to 0..1",
                "large inputs give large pre-activations: saturated units and steps that a "
                "learning rate tuned for 0..1 inputs overshoots",
                None,
                "dataset.scale",
                fix("Scale the pixels to 0..1", _scale("minmax")),
            )
        ]
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    spread = std[std > 0]
    ratio = float(spread.max() / spread.min()) if spread.size else 1.0
    worst = int(np.argmax(np.maximum(np.abs(mean), std)))
    big = max(float(np.abs(mean).max()), float(std.max()))
    if big <= SCALE_LIMIT and ratio <= SPREAD_RATIO:
        return []
    names = getattr(dataset, "feature_names", None) or []
    name = f"'{names[worst]}'" if worst < len(names) else f"{worst}"
    detail = (
        f"feature {name} has mean {mean[worst]:.4g} and spread {std[worst]:.4g}"
        if big > SCALE_LIMIT
        else f"the features' spreads differ {ratio:.0f}-fold"
    )
    return [
        Finding(
            WARNING,
            "unscaled-features",
            f"the features are not scaled: {detail}",
            "gradient descent takes steps of one size for every weight: features of very "
            "different scales make a long, narrow valley (LeCun et al., Efficient BackProp, 1998)",
            None,
            "dataset.scale",
            fix("Standardize the features", _scale("standardize")),
        )
    ]


def _scale(how: str) -> tuple[str, dict]:
    return ("set_setting", {"path": "dataset.scale", "value": how})


def _imbalance(project, dataset) -> list[Finding]:
    spec = project.data.get("dataset") or {}
    if project.fit.get("class_weight") or spec.get("sample_weight") is not None:
        return []  # weighed already
    counts = class_balance(dataset)
    present = [(n, c) for n, c in counts if c > 0]
    if len(present) < 2:
        return []
    small = min(present, key=lambda nc: nc[1])
    large = max(present, key=lambda nc: nc[1])
    ratio = large[1] / small[1]
    if ratio <= IMBALANCE_RATIO:
        return []
    total = sum(c for _, c in counts)
    k = len(counts)
    the_fix = None
    if "distribute" not in project.data:  # a strategy takes no class weights
        weights = {str(i): round(total / (k * c), 4) for i, (_, c) in enumerate(counts) if c > 0}
        the_fix = fix(
            "Weigh the classes (balanced)",
            ("set_setting", {"path": "fit.class_weight", "value": weights}),
        )
    return [
        Finding(
            WARNING,
            "class-imbalance",
            f"class '{large[0]}' has {large[1]} samples, class '{small[0]}' {small[1]} "
            f"({ratio:.1f} to 1): predicting '{large[0]}' always is {large[1] / total:.0%} "
            "accurate",
            "the loss is an average over samples, so the large class dominates it; weighing "
            "each class by n / (k * count) evens that out (scikit-learn's 'balanced')",
            None,
            "fit.class_weight",
            the_fix,
        )
    ]


def _few_samples(project, graph, dataset) -> list[Finding]:
    if graph is None:
        return []
    split = project.fit.get("validation_split", 0.0)
    split = split if isinstance(split, float) and 0 <= split < 1 else 0.0
    n_train = max(1, int(len(dataset.x) * (1 - split)))
    params = graph.trainable_params
    if params <= PARAMS_PER_SAMPLE * n_train:
        return []
    return [
        Finding(
            WARNING,
            "few-samples",
            f"{params:,} trainable parameters for {n_train:,} training samples "
            f"({params / n_train:.0f} per sample): the network can memorize the data",
            "with far more parameters than samples, training loss falls while validation "
            "loss does not; use fewer units, more data, or regularization (Dropout, L2)",
            None,
            "model",
            None,
        )
    ]


def _constant(dataset, flat: np.ndarray) -> list[Finding]:
    if getattr(dataset, "image_shape", None) is not None or flat.shape[0] < 2:
        return []  # an image's border pixels may well be constant
    constant = np.flatnonzero(flat.min(axis=0) == flat.max(axis=0))
    if constant.size == 0:
        return []
    names = getattr(dataset, "feature_names", None) or []
    shown = ", ".join(f"'{names[i]}'" if i < len(names) else str(int(i)) for i in constant[:5]) + (
        "..." if constant.size > 5 else ""
    )
    return [
        Finding(
            WARNING,
            "constant-features",
            f"feature{'s' if constant.size > 1 else ''} {shown} "
            f"{'have' if constant.size > 1 else 'has'} one value in every sample",
            "a constant input carries no information: its weight only duplicates the bias",
            None,
            "dataset.features",
            None,
        )
    ]


def _labels(project, dataset) -> list[Finding]:
    from engine.optimizers import is_perceptron
    from engine.validate import optimizer_class

    names = getattr(dataset, "class_names", None)
    k = int(getattr(dataset, "n_classes", 0) or 0)
    if dataset.task == "classification" and names and len(names) == k:
        try:
            numbers = [float(n) for n in names]
        except ValueError:
            return []
        if numbers == [float(i) for i in range(k)]:
            return []
        shown = ", ".join(names)
        seed = (
            "; the Perceptron trains on -1/+1 targets, as the seed does"
            if is_perceptron(optimizer_class(project))
            else ""
        )
        return [
            Finding(
                HINT,
                "labels-renumbered",
                f"the labels {shown} are not 0..{k - 1}: they are read as classes "
                f"0..{k - 1} in sorted order{seed}",
                "Keras' class losses take class indices 0..k-1; the class names keep the "
                "original labels for the views",
                None,
                "dataset",
                None,
            )
        ]
    spec = project.data.get("dataset") or {}
    y = np.asarray(dataset.y)
    if dataset.task != "regression" or "path" not in spec or y.ndim != 2 or y.shape[1] != 1:
        return []
    values = np.unique(y[: STAT_SAMPLES * 5])
    if 2 <= values.size <= 10 and np.all(values == np.round(values)):
        return [
            Finding(
                WARNING,
                "labels-as-numbers",
                f"the target takes only the whole values {', '.join(f'{v:g}' for v in values)}: "
                "class labels read as numbers to regress",
                "a regression loss treats class 3 as nearer to 2 than to 0",
                None,
                "dataset.task",
                fix(
                    "Read the target as classes",
                    ("set_setting", {"path": "dataset.task", "value": "classification"}),
                ),
            )
        ]
    return []


def data_findings(project, graph, dataset) -> list[Finding]:
    if dataset is None:
        return []
    spec = project.data.get("dataset") or {}
    flat = _sample(dataset.x)
    found = _scaling(spec, dataset, flat)
    if dataset.task == "classification":
        found += _imbalance(project, dataset)
    return (
        found
        + _few_samples(project, graph, dataset)
        + _constant(dataset, flat)
        + (_labels(project, dataset))
    )
