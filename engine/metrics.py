"""The metrics' vocabulary in Keras 3's terms: names, serialized forms, defaults, log keys.

A project's ``compile.metrics`` is a list of specs, each a name as ``compile(metrics=[...])``
takes it (``"accuracy"``, ``"acc"``, ``"mse"``, ``"auc"``, ``"Precision"``) or Keras'
serialized form ``{"class_name": "AUC", "config": {"curve": "PR"}}``. :func:`resolve_metric`
checks a spec and gives a :class:`MetricSpec`: the Keras class, its complete config (Keras'
defaults filled in) and the key the history logs it under, which is Keras' own: the string
itself for a name (``"acc"`` logs ``acc``, as Keras 3's ``compile_utils.get_metric`` names
it), the config's ``name`` (else the class's default name) for a serialized metric.

``"accuracy"``/``"acc"`` is Keras' shape-resolved accuracy (binary, sparse categorical or
categorical, chosen from the targets and the output). The values themselves are computed by
:mod:`engine.metric_state`, one implementation for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.keras_objects import is_number, resolve_spec, snake_case

_CONFUSION = {"thresholds": None, "top_k": None, "class_id": None}

#: The metric classes NN Designer computes, with Keras 3's defaults (``name`` and ``dtype``,
#: which every Keras metric takes, are read apart).
METRIC_DEFAULTS: dict[str, dict[str, Any]] = {
    "BinaryAccuracy": {"threshold": 0.5},
    "CategoricalAccuracy": {},
    "SparseCategoricalAccuracy": {},
    "TopKCategoricalAccuracy": {"k": 5},
    "SparseTopKCategoricalAccuracy": {"k": 5, "from_sorted_ids": False},
    "Precision": dict(_CONFUSION),
    "Recall": dict(_CONFUSION),
    "AUC": {
        "num_thresholds": 200,
        "curve": "ROC",
        "summation_method": "interpolation",
        "thresholds": None,
        "multi_label": False,
        "num_labels": None,
        "label_weights": None,
        "from_logits": False,
    },
    "F1Score": {"average": None, "threshold": None},
    "FBetaScore": {"average": None, "beta": 1.0, "threshold": None},
    "MeanSquaredError": {},
    "MeanAbsoluteError": {},
    "RootMeanSquaredError": {},
    "R2Score": {"class_aggregation": "uniform_average", "num_regressors": 0},
}

#: The name each class logs under when its config names none (Keras' class defaults).
DEFAULT_KEYS: dict[str, str] = {
    "BinaryAccuracy": "binary_accuracy",
    "CategoricalAccuracy": "categorical_accuracy",
    "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
    "TopKCategoricalAccuracy": "top_k_categorical_accuracy",
    "SparseTopKCategoricalAccuracy": "sparse_top_k_categorical_accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "AUC": "auc",
    "F1Score": "f1_score",
    "FBetaScore": "fbeta_score",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "RootMeanSquaredError": "root_mean_squared_error",
    "R2Score": "r2_score",
}

#: The shape-resolved accuracy: Keras' ``"accuracy"`` and ``"acc"``.
ACCURACY = "accuracy"

#: Names ``compile(metrics=[...])`` takes beside the classes' own and their snake-case forms.
_ALIASES = {"mse": "MeanSquaredError", "mae": "MeanAbsoluteError"}

#: The metrics the Inspector offers, common first, with the spec each adds: Keras' name, or a
#: serialized metric where Keras' default would not give one number (F1Score's average).
METRIC_CHOICES: dict[str, Any] = {
    "accuracy": "accuracy",
    "mean_squared_error": "mean_squared_error",
    "mean_absolute_error": "mean_absolute_error",
    "precision": "precision",
    "recall": "recall",
    "auc": "auc",
    "f1_score": {"class_name": "F1Score", "config": {"average": "macro"}},
    "top_k_categorical_accuracy": "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy": "sparse_top_k_categorical_accuracy",
    "root_mean_squared_error": "root_mean_squared_error",
    "r2_score": "r2_score",
}
#: How many of METRIC_CHOICES stay in front; the rest fold under "More metrics".
COMMON_CHOICES = 6

#: Metrics whose targets have the output's shape (Keras raises, or counts nonsense, on
#: integer labels): everything but the accuracies and the sparse top-k.
_DENSE_TARGETS = frozenset(
    {"Precision", "Recall", "AUC", "F1Score", "FBetaScore", "TopKCategoricalAccuracy", "R2Score"}
)


@dataclass(frozen=True)
class MetricSpec:
    """A resolved metric: ``cls`` is Keras' class (``"accuracy"`` for the shape-resolved
    one), ``config`` its complete settings, ``key`` the name the history logs."""

    cls: str
    key: str
    config: dict[str, Any] = field(default_factory=dict)


def _class_of(name: str) -> str | None:
    if name in METRIC_DEFAULTS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    for cls in METRIC_DEFAULTS:
        if snake_case(cls) == name:
            return cls
    return None


def resolve_metric(spec: Any) -> MetricSpec:
    """A :class:`MetricSpec` from a name or a serialized metric; raises ValueError naming what
    is wrong (an unknown metric, an unknown or invalid setting)."""
    if isinstance(spec, str):
        if spec.lower() in ("accuracy", "acc"):
            return MetricSpec(ACCURACY, spec)
        cls = _class_of(spec)
        if cls is None:
            raise ValueError(f"unknown metric {spec!r}; expected one of {', '.join(names())}")
        return MetricSpec(cls, spec, _checked(cls, dict(METRIC_DEFAULTS[cls])))
    if isinstance(spec, dict):
        raw = spec.get("class_name")
        cls = _class_of(raw) if isinstance(raw, str) else None
        if cls is None and isinstance(raw, str) and raw.lower() in ("accuracy", "acc"):
            raise ValueError(
                f"{raw!r} is Keras' shape-resolved metric name, not a class; write it as the "
                "string 'accuracy', or use BinaryAccuracy, CategoricalAccuracy or "
                "SparseCategoricalAccuracy"
            )
        config = dict(spec.get("config") or {}) if isinstance(spec.get("config"), dict) else None
        name = dtype = None
        if config is not None:
            name, dtype = config.pop("name", None), config.pop("dtype", None)
        given = {**spec, "class_name": cls or raw}
        if config is not None:
            given["config"] = config
        cls, config = resolve_spec("metric", given, METRIC_DEFAULTS)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"{cls}: 'name' must be a non-empty string, got {name!r}")
        if dtype is not None and dtype not in ("float32", "float64", "float16", "bfloat16"):
            raise ValueError(f"{cls}: 'dtype' must be a float dtype name, got {dtype!r}")
        return MetricSpec(cls, name or DEFAULT_KEYS[cls], _checked(cls, config))
    raise ValueError(
        "a metric must be a name like 'accuracy' or {'class_name': ..., 'config': {...}}, "
        f"got {type(spec).__name__}"
    )


def metric_spec(spec: MetricSpec) -> Any:
    """The shortest spec of a resolved metric: Keras' name when every setting is its default
    and the key is that name, else ``{"class_name": ..., "config": {the settings that
    differ, and "name" when the key is not the class's default}}``."""
    if spec.cls == ACCURACY:
        return spec.key
    defaults = METRIC_DEFAULTS[spec.cls]
    changed = {k: v for k, v in spec.config.items() if v != defaults[k]}
    if not changed and _class_of(spec.key) == spec.cls:  # "mae", "auc", "Precision"
        return spec.key
    if spec.key != DEFAULT_KEYS[spec.cls]:
        changed["name"] = spec.key
    return {"class_name": spec.cls, "config": changed} if changed else {"class_name": spec.cls}


#: The classes whose value falls as the model improves (Keras' ``_direction == "down"``).
_DOWN = frozenset({"MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError"})


def grows_better(key: str, metrics: list | None = None) -> bool:
    """Whether the logged value ``key`` (``val_`` or not) improves as it grows, as Keras'
    ``mode="auto"`` decides it: from the compiled metric logged under that key (its
    ``_direction``), else from the name itself (a Keras metric name: ``"mae"`` falls,
    ``"auc"`` grows); else a loss or an error falls and any other name grows."""
    name = key.removeprefix("val_")
    candidates = []
    for m in metrics or []:
        try:
            candidates.append(resolve_metric(m))
        except ValueError:
            continue
    try:
        candidates.append(resolve_metric(name))
    except ValueError:
        pass
    for spec in candidates:
        if spec.key == name:
            return spec.cls not in _DOWN
    return not ("loss" in name or "error" in name)


def names() -> list[str]:
    """Every metric name NN Designer knows, for messages."""
    return [ACCURACY, "acc", *(snake_case(c) for c in METRIC_DEFAULTS), "mse", "mae"]


def _int_at_least(cls: str, key: str, value: Any, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{cls}: '{key}' must be a whole number at least {low}, got {value!r}")


def _threshold_list(cls: str, value: Any) -> list[float] | None:
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not is_number(v) or not 0 <= v <= 1:
            raise ValueError(f"{cls}: thresholds must be numbers in [0, 1], got {value!r}")
    return [float(v) for v in values]


def _checked(cls: str, config: dict[str, Any]) -> dict[str, Any]:
    """Keras' own checks of a metric's settings (its constructor's), and the ones that keep
    the metric one number per epoch (the history's form)."""
    if cls == "BinaryAccuracy":
        if not is_number(config["threshold"]):
            raise ValueError(f"{cls}: 'threshold' must be a number, got {config['threshold']!r}")
    elif cls in ("TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy"):
        _int_at_least(cls, "k", config["k"], 1)
        if config.get("from_sorted_ids"):
            raise ValueError(
                f"{cls}: from_sorted_ids=True reads the output as sorted class ids; a "
                "network's output holds scores, so NN Designer takes from_sorted_ids=False"
            )
    elif cls in ("Precision", "Recall"):
        thresholds = _threshold_list(cls, config["thresholds"])
        if thresholds is not None and len(thresholds) != 1:
            raise ValueError(
                f"{cls}: one threshold gives one number per epoch; {len(thresholds)} "
                "thresholds give a vector, which the history cannot plot"
            )
        config["thresholds"] = thresholds[0] if thresholds else None
        _int_at_least(cls, "top_k", config["top_k"], 1, allow_none=True)
        _int_at_least(cls, "class_id", config["class_id"], 0, allow_none=True)
    elif cls == "AUC":
        _check_auc(config)
    elif cls in ("F1Score", "FBetaScore"):
        if config["average"] not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{cls}: 'average' must be None, 'micro', 'macro' or 'weighted', got "
                f"{config['average']!r}"
            )
        beta = config.get("beta", 1.0)
        if not is_number(beta) or beta <= 0:
            raise ValueError(f"{cls}: 'beta' must be a number above 0, got {beta!r}")
        t = config["threshold"]
        if t is not None and (not is_number(t) or not 0 < t <= 1):
            raise ValueError(f"{cls}: 'threshold' must be None or in (0, 1], got {t!r}")
    elif cls == "R2Score":
        if config["class_aggregation"] not in ("uniform_average", "variance_weighted_average"):
            raise ValueError(
                f"{cls}: 'class_aggregation' must be 'uniform_average' or "
                "'variance_weighted_average' (None gives a vector per output, which the "
                f"history cannot plot), got {config['class_aggregation']!r}"
            )
        _int_at_least(cls, "num_regressors", config["num_regressors"], 0)
    return config


def _check_auc(config: dict[str, Any]) -> None:
    curve = config["curve"]
    if not isinstance(curve, str) or curve.upper() not in ("ROC", "PR", "PRGAIN"):
        raise ValueError(f"AUC: 'curve' must be 'ROC', 'PR' or 'PRGAIN', got {curve!r}")
    config["curve"] = curve.upper()
    method = config["summation_method"]
    if not isinstance(method, str) or method.lower() not in (
        "interpolation",
        "minoring",
        "majoring",
    ):
        raise ValueError(
            "AUC: 'summation_method' must be 'interpolation', 'minoring' or 'majoring', got "
            f"{method!r}"
        )
    config["summation_method"] = method.lower()
    thresholds = config["thresholds"]
    if thresholds is not None:
        if not isinstance(thresholds, (list, tuple)) or not thresholds:
            raise ValueError(f"AUC: 'thresholds' must be a list of numbers, got {thresholds!r}")
        config["thresholds"] = _threshold_list("AUC", thresholds)
    else:
        _int_at_least("AUC", "num_thresholds", config["num_thresholds"], 2)
    for key in ("multi_label", "from_logits"):
        if not isinstance(config[key], bool):
            raise ValueError(f"AUC: '{key}' must be true or false, got {config[key]!r}")
    if config["num_labels"] is not None:
        if not config["multi_label"]:
            raise ValueError("AUC: 'num_labels' is needed only when 'multi_label' is true")
        _int_at_least("AUC", "num_labels", config["num_labels"], 1)
    weights = config["label_weights"]
    if weights is not None and (
        not isinstance(weights, (list, tuple)) or not all(is_number(w) for w in weights)
    ):
        raise ValueError(f"AUC: 'label_weights' must be a list of numbers, got {weights!r}")


def metric_problem(
    spec: MetricSpec, width: int, sparse_targets: bool, perceptron: bool
) -> str | None:
    """Why a resolved metric cannot score this network's output (``width`` units) against its
    targets (``sparse_targets``: integer labels, as sparse_categorical_crossentropy takes
    them), or None."""
    cls, cfg = spec.cls, spec.config
    if perceptron and cls not in (ACCURACY, "MeanSquaredError", "MeanAbsoluteError"):
        return (
            f"{spec.key}: the Perceptron's output and targets are -1/+1 signs; it takes "
            "accuracy, mean_squared_error or mean_absolute_error"
        )
    if cls == "SparseTopKCategoricalAccuracy" and not sparse_targets:
        return (
            f"{spec.key} reads integer class labels, but this loss takes targets shaped like "
            "the output; use TopKCategoricalAccuracy, or sparse_categorical_crossentropy"
        )
    if cls == "SparseCategoricalAccuracy" and not sparse_targets:
        return (
            f"{spec.key} reads integer class labels, but this loss takes targets shaped like "
            "the output; use CategoricalAccuracy (or 'accuracy', which Keras resolves)"
        )
    if cls in _DENSE_TARGETS and sparse_targets:
        return (
            f"{spec.key} compares each output unit with its target, but "
            "sparse_categorical_crossentropy takes integer labels (Keras raises on them); use "
            "categorical_crossentropy (one-hot targets)"
            + (", or SparseTopKCategoricalAccuracy" if "TopK" in cls else "")
        )
    if cls in ("TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy") and width < 2:
        return f"{spec.key} needs an output of 2 units or more, not {width}"
    if cls in ("Precision", "Recall"):
        if cfg["class_id"] is not None and cfg["class_id"] >= width:
            return f"{spec.key}: class_id={cfg['class_id']} is outside the {width} output units"
        if cfg["top_k"] is not None and cfg["top_k"] > width:
            return f"{spec.key}: top_k={cfg['top_k']} is more than the {width} output units"
    if cls == "AUC":
        if cfg["num_labels"] is not None and cfg["num_labels"] != width:
            return f"{spec.key}: num_labels={cfg['num_labels']} but the output has {width} units"
        weights = cfg["label_weights"]
        if weights is not None and len(weights) != width:
            return f"{spec.key}: {len(weights)} label_weights for {width} output units"
    if cls in ("F1Score", "FBetaScore") and cfg["average"] is None and width > 1:
        return (
            f"{spec.key}: average=None gives one score per class, which the history cannot "
            "plot; set average to 'macro', 'micro' or 'weighted'"
        )
    return None
