"""Keras' stateful metrics in training, against ``model.fit``: the same project, initial
weights and batches trained by each engine and by the exported script's compiled model, whose
history (every metric, on the training batches and on the validation data) must agree.

Three batches an epoch: a precision, an AUC or an R² over an epoch is not the mean of its
batches' values, so a metric computed per batch and averaged fails these cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.project import from_dict
from tests.support.keras_fit import assert_same_training, fit_both

N, FEATURES = 48, 4


def _project(units, activation, loss, metrics):
    return from_dict(
        {
            "name": "metrics",
            "model": {
                "input_shape": [FEATURES],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "h", "units": 6, "activation": "tanh"},
                    },
                    {
                        "class_name": "Dense",
                        "config": {"name": "out", "units": units, "activation": activation},
                    },
                ],
            },
            "compile": {
                "optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.1}},
                "loss": loss,
                "metrics": metrics,
            },
            "fit": {"seed": 3, "batch_size": 16, "shuffle": False, "epochs": 3},
            "dataset": {"name": "moons"},
        }
    )


def _targets(kind, units, rng, n):
    labels = rng.integers(0, max(units, 2), n)
    if kind == "binary":
        return (rng.random((n, 1)) < 0.4).astype("float32")
    if kind == "labels":
        return labels
    if kind == "onehot":
        return np.eye(units, dtype="float32")[labels]
    return rng.normal(size=(n, units)).astype("float32")


CASES = {
    "binary": (
        1,
        "sigmoid",
        "binary_crossentropy",
        "binary",
        [
            "accuracy",
            "precision",
            "recall",
            "auc",
            {"class_name": "AUC", "config": {"curve": "PR", "name": "pr_auc"}},
            {
                "class_name": "AUC",
                "config": {"num_thresholds": 9, "summation_method": "minoring", "name": "auc9"},
            },
            {"class_name": "F1Score", "config": {"average": "macro"}},
            {"class_name": "BinaryAccuracy", "config": {"threshold": 0.4}},
            {"class_name": "Precision", "config": {"thresholds": 0.3, "name": "p30"}},
        ],
    ),
    "onehot": (
        3,
        "softmax",
        "categorical_crossentropy",
        "onehot",
        [
            "acc",
            {"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}},
            {"class_name": "Precision", "config": {"top_k": 1}},
            {"class_name": "Recall", "config": {"class_id": 1}},
            {"class_name": "AUC", "config": {"multi_label": True}},
            {"class_name": "F1Score", "config": {"average": "weighted"}},
            {"class_name": "FBetaScore", "config": {"average": "micro", "beta": 2.0}},
            "categorical_accuracy",
        ],
    ),
    "labels": (
        3,
        "softmax",
        "sparse_categorical_crossentropy",
        "labels",
        [
            "accuracy",
            {"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 2}},
            "sparse_categorical_accuracy",
        ],
    ),
    "regression": (
        2,
        "linear",
        "mean_squared_error",
        "real",
        [
            "mae",
            "root_mean_squared_error",
            "r2_score",
            {
                "class_name": "R2Score",
                "config": {"class_aggregation": "variance_weighted_average", "name": "r2_var"},
            },
            "mse",
        ],
    ),
}


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("case", list(CASES))
def test_metrics_over_an_epoch_are_keras(tf_ready, case, backend):
    units, activation, loss, kind, metrics = CASES[case]
    rng = np.random.default_rng(11)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = _targets(kind, units, rng, N)
    xv = rng.normal(size=(20, FEATURES)).astype("float32")
    yv = _targets(kind, units, rng, 20)
    result = fit_both(_project(units, activation, loss, metrics), x, y, 3, backend, (xv, yv))
    history = result["ours"]["history"]
    assert set(history) == set(result["keras"]["history"])
    assert len(history) == 2 * (1 + len(metrics))  # each metric and its val_ twin
    assert_same_training(result)


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(("monitor", "metric"), [("val_auc", "auc"), ("val_mae", "mae")])
def test_a_callback_watching_a_metric_takes_its_direction_as_keras(
    tf_ready, monitor, metric, backend
):
    """mode="auto" reads the direction of the compiled metric the callback watches (AUC
    grows better, mean absolute error falls), as Keras' MonitorCallback does."""
    from engine.callbacks import make_callbacks

    rng = np.random.default_rng(2)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = _targets("binary", 1, rng, N)
    xv = rng.normal(size=(20, FEATURES)).astype("float32")
    yv = _targets("binary", 1, rng, 20)
    project = _project(1, "sigmoid", "binary_crossentropy", [metric])
    project.data["fit"]["callbacks"] = [
        {"class_name": "EarlyStopping", "config": {"monitor": monitor, "patience": 1}},
        {"class_name": "ReduceLROnPlateau", "config": {"monitor": monitor, "patience": 0}},
    ]
    lower = make_callbacks(project.fit["callbacks"], [metric])[0].lower
    assert lower == (metric == "mae")
    result = fit_both(project, x, y, 12, backend, (xv, yv))
    assert len(result["ours"]["history"]["loss"]) == len(result["keras"]["history"]["loss"])
    assert_same_training(result)


# Fit settings: class_weight (as sample weights on the training loss only), steps_per_epoch
# (an epoch goes on through the same pass over the data, Keras' EpochIterator), initial_epoch.
FIT_CASES = {
    "class_weight binary": ("binary", {"class_weight": {"0": 0.5, "1": 3.0}}),
    "class_weight one-hot": ("onehot", {"class_weight": {"0": 2.0, "2": 0.25}}),
    "class_weight labels": ("labels", {"class_weight": {"1": 4.0}}),
    "steps_per_epoch 2 of 3": ("labels", {"steps_per_epoch": 2}),
    "steps_per_epoch 5 > 3": ("onehot", {"steps_per_epoch": 5}),
    "initial_epoch": ("binary", {"initial_epoch": 2}),
    "all three": ("onehot", {"class_weight": {"1": 2.0}, "steps_per_epoch": 2, "initial_epoch": 1}),
}


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("case", list(FIT_CASES))
def test_fit_settings_train_as_model_fit(tf_ready, case, backend):
    kind, settings = FIT_CASES[case]
    units, activation, loss = {
        "binary": (1, "sigmoid", "binary_crossentropy"),
        "onehot": (3, "softmax", "categorical_crossentropy"),
        "labels": (3, "softmax", "sparse_categorical_crossentropy"),
    }[kind]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = _targets(kind, units, rng, N)
    xv = rng.normal(size=(20, FEATURES)).astype("float32")
    yv = _targets(kind, units, rng, 20)
    project = _project(units, activation, loss, ["accuracy"])
    project.data["fit"].update(settings)
    result = fit_both(project, x, y, 5, backend, (xv, yv))
    epochs = 5 - settings.get("initial_epoch", 0)
    assert len(result["ours"]["history"]["loss"]) == epochs
    assert_same_training(result)


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(
    ("kind", "loss"),
    [
        ("labels", "sparse_categorical_crossentropy"),
        ("binary", "binary_crossentropy"),
        ("real", "mean_squared_error"),
        ("real", {"class_name": "MeanSquaredError", "config": {"reduction": "sum"}}),
        (
            "binary",
            {
                "class_name": "BinaryCrossentropy",
                "config": {"reduction": "mean_with_sample_weight"},
            },
        ),
    ],
    ids=str,
)
def test_sample_weights_train_as_model_fit(tf_ready, kind, loss, backend):
    """Keras' fit(sample_weight=...): each training sample's loss and gradient weighted; the
    validation data's own weights weigh val_loss; the metrics are not weighted."""
    units, activation = {"labels": (3, "softmax"), "binary": (1, "sigmoid"), "real": (2, "linear")}[
        kind
    ]
    rng = np.random.default_rng(8)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = _targets(kind, units, rng, N)
    w = rng.uniform(0, 3, N).astype("float32")
    w[::7] = 0.0  # a weight of 0 drops the sample's loss
    xv = rng.normal(size=(20, FEATURES)).astype("float32")
    yv = _targets(kind, units, rng, 20)
    wv = rng.uniform(0, 2, 20).astype("float32")
    metric = "accuracy" if kind != "real" else "mae"
    project = _project(units, activation, loss, [metric])
    if kind == "real" and isinstance(loss, dict):  # reduction "sum": gradients ×batch size
        project.data["compile"]["optimizer"]["config"]["learning_rate"] = 0.005
    result = fit_both(project, x, y, 3, backend, (xv, yv, wv), sample_weight=w)
    assert_same_training(result)
