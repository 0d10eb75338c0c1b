"""Parity: the NumPy reference engine and the TensorFlow backend compute the same step.

From the same weights and batch, for every layer type, activation and loss, in float32 and
float64: layer outputs and loss agree (float32 rtol 1e-5, float64 rtol 1e-9), weight gradients
agree, and one optimizer step gives the same weights for every optimizer. The tolerances are
those of :data:`engine.parity.TOLERANCES`; the tests also pin the measured disagreement far
below them, so that a regression shows long before the user-facing check would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.activations import ACTIVATION_NAMES
from engine.errors import ValidationError
from engine.parity import TOLERANCES, compare_arrays, parity_report
from engine.project import from_dict
from engine.training import TrainingData

ACTIVATIONS = [a for a in ACTIVATION_NAMES if a != "sign"]
DTYPES = ("float32", "float64")
# Measured disagreement (max |a-b| / max|b| per array) stays below these; float32 rounding is
# 6e-8, float64 1.1e-16: a few ulps, as sums over the batch add in different orders. In float32
# the fused Adam/RMSprop kernels round 1 - beta_2 to float32 (see
# engine.backends.tensorflow.fused.fused_update), which makes a step up to 6.4e-6 larger; a
# zero-initialised bias is that step after one update.
MEASURED = {"float32": 2e-6, "float64": 1e-13}
MEASURED_STEP = {"float32": 1e-5, "float64": 1e-13}


def measured(row, dtype):
    return (MEASURED_STEP if row.kind == "after step" else MEASURED)[dtype]


def project_of(layers, input_shape, loss, dtype, optimizer="adam", metrics=("accuracy",)):
    return from_dict(
        {
            "name": "parity",
            "model": {"input_shape": list(input_shape), "layers": layers},
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": list(metrics)},
            "fit": {"seed": 3, "batch_size": 16, "shuffle": False},
            "dataset": {"name": "moons"},
            "dtype": dtype,
        }
    )


def targets(loss, units, n, dtype, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return np.eye(units, dtype=dtype)[rng.integers(0, units, n)]
    if loss in ("binary_crossentropy", "hinge"):
        return rng.integers(0, 2, (n, units)).astype(dtype)
    return rng.normal(size=(n, units)).astype(dtype)


def assert_close_report(report, dtype):
    assert report.ok, report.text()
    for row in report.rows:
        assert row.max_rel <= measured(row, dtype), (row, report.text())


# ------------------------------------------------------------------ every layer and activation
def every_layer_project(dtype):
    """Every activation in a Dense (on a 3-D input, so Dense works on the last axis) and in an
    Activation layer, joined by Add and Concatenate, then Flatten, Dropout and the output."""
    layers = []
    for act in ACTIVATIONS:
        layers += [
            {
                "class_name": "Dense",
                "config": {"name": f"lin_{act}", "units": 3, "use_bias": False},
                "inbound": ["input"],
            },
            {"class_name": "Activation", "config": {"name": f"act_{act}", "activation": act}},
            {
                "class_name": "Dense",
                "config": {"name": f"dense_{act}", "units": 3, "activation": act},
                "inbound": ["input"],
            },
            {
                "class_name": "Add",
                "config": {"name": f"add_{act}"},
                "inbound": [f"dense_{act}", f"act_{act}"],
            },
        ]
    layers += [
        {
            "class_name": "Concatenate",
            "config": {"name": "cat", "axis": -1},
            "inbound": [f"add_{act}" for act in ACTIVATIONS],
        },
        {"class_name": "Flatten", "config": {"name": "flat"}},
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.25}},
        {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "linear"}},
    ]
    return project_of(layers, (2, 4), "mean_squared_error", dtype)


_EVERY_LAYER_REPORTS: dict[str, object] = {}


def every_layer_report(dtype):
    if dtype not in _EVERY_LAYER_REPORTS:
        rng = np.random.default_rng(0)
        project = every_layer_project(dtype)
        x = rng.normal(size=(16, 2, 4)).astype(dtype)
        y = rng.normal(size=(16, 2)).astype(dtype)
        _EVERY_LAYER_REPORTS[dtype] = parity_report(project, 16, TrainingData(x, y, None, None))
    return _EVERY_LAYER_REPORTS[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_outputs_and_gradients_agree(tf_ready, activation, dtype):
    report = every_layer_report(dtype)
    rows = [
        r
        for r in report.rows
        if r.layer in (f"dense_{activation}", f"act_{activation}", f"add_{activation}")
    ]
    kinds = {(r.layer, r.kind) for r in rows}
    assert (f"dense_{activation}", "output") in kinds
    assert (f"act_{activation}", "output") in kinds
    assert (f"dense_{activation}", "gradient") in kinds
    assert (f"dense_{activation}", "after step") in kinds
    for row in rows:
        assert row.ok and row.max_rel <= measured(row, dtype), (row, report.text())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "layer", ["Dense", "Activation", "Add", "Concatenate", "Flatten", "Dropout", "loss"]
)
def test_every_layer_type_agrees(tf_ready, layer, dtype):
    report = every_layer_report(dtype)
    names = {
        "Dense": "out",
        "Activation": "act_tanh",
        "Add": "add_relu",
        "Concatenate": "cat",
        "Flatten": "flat",
        "Dropout": "drop",
        "loss": "(model)",
    }
    rows = [r for r in report.rows if r.layer == names[layer]]
    assert rows
    for row in rows:
        assert row.ok and row.max_rel <= measured(row, dtype), (row, report.text())


def test_dense_on_a_3d_input_and_flatten_shapes(tf_ready):
    report = every_layer_report("float32")
    shapes = {(r.layer, r.quantity): r.shape for r in report.rows}
    assert shapes[("dense_relu", "output")] == (16, 2, 3)
    assert shapes[("cat", "output")] == (16, 2, 3 * len(ACTIVATIONS))
    assert shapes[("flat", "output")] == (16, 6 * len(ACTIVATIONS))


# ------------------------------------------------------------------ every loss
LOSS_CASES = [
    ("mean_squared_error", "linear", 3),
    ("mean_absolute_error", "tanh", 3),
    ("hinge", "tanh", 3),
    ("binary_crossentropy", "sigmoid", 1),  # fused with the logits
    ("binary_crossentropy", "sigmoid", 3),
    ("binary_crossentropy", "softmax", 3),  # probability space, clipped
    ("categorical_crossentropy", "softmax", 4),  # fused
    ("categorical_crossentropy", "sigmoid", 4),  # renormalised and clipped
    ("sparse_categorical_crossentropy", "softmax", 4),  # fused
    ("sparse_categorical_crossentropy", "sigmoid", 4),  # clipped
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, out_act, units", LOSS_CASES)
def test_every_loss_agrees(tf_ready, loss, out_act, units, dtype):
    rng = np.random.default_rng(1)
    layers = [
        {"class_name": "Dense", "config": {"name": "hidden", "units": 5, "activation": "elu"}},
        {"class_name": "Dense", "config": {"name": "out", "units": units, "activation": out_act}},
    ]
    project = project_of(layers, (3,), loss, dtype)
    # Large inputs push some outputs into the clipped region of the probability-space losses.
    x = (rng.normal(size=(16, 3)) * 4).astype(dtype)
    y = targets(loss, units, 16, dtype, rng)
    report = parity_report(project, 16, TrainingData(x, y, None, None))
    assert_close_report(report, dtype)


# ------------------------------------------------------------------ every optimizer
OPTIMIZERS = [
    {"class_name": "SGD", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "momentum": 0.5, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "clipnorm": 0.01}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "global_clipnorm": 0.01}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "clipvalue": 0.001}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01, "weight_decay": 0.1}},
    {"class_name": "Adadelta", "config": {"learning_rate": 1.0}},
    {"class_name": "Adamax", "config": {"learning_rate": 0.01}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01}},
    {"class_name": "Lion", "config": {"learning_rate": 0.001}},
    {"class_name": "Ftrl", "config": {"learning_rate": 0.1}},
    {
        "class_name": "Ftrl",
        "config": {
            "learning_rate": 0.1,
            "learning_rate_power": -0.7,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 0.01,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.5,
        },
    },
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.1}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "weight_decay": 0.05}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1, "weight_decay": 0.05}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01, "weight_decay": 0.05}},
    {
        "class_name": "Adam",
        "config": {
            "learning_rate": {
                "class_name": "CosineDecay",
                "config": {
                    "initial_learning_rate": 0.01,
                    "decay_steps": 10,
                    "warmup_target": 0.1,
                    "warmup_steps": 2,
                },
            },
        },
    },
]


def _opt_id(spec):
    cfg = ",".join(f"{k}={v}" for k, v in spec["config"].items() if k != "learning_rate")
    return spec["class_name"] + (f"[{cfg}]" if cfg else "")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=_opt_id)
def test_one_optimizer_step_gives_the_same_weights(tf_ready, optimizer, dtype):
    rng = np.random.default_rng(2)
    layers = [
        {"class_name": "Dense", "config": {"name": "hidden", "units": 6, "activation": "tanh"}},
        {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}},
    ]
    project = project_of(layers, (4,), "sparse_categorical_crossentropy", dtype, optimizer)
    x = rng.normal(size=(16, 4)).astype(dtype)
    y = rng.integers(0, 3, 16)
    report = parity_report(project, 16, TrainingData(x, y, None, None))
    assert_close_report(report, dtype)
    steps = [r for r in report.rows if r.kind == "after step"]
    assert len(steps) == 4


# ------------------------------------------------------------------ the report itself
def test_report_text_says_dropout_is_off_and_lists_every_layer(tf_ready):
    report = every_layer_report("float32")
    text = report.text()
    assert "Dropout is off" in text and "This project has dropout" in text
    assert "the NumPy engine's initial weights for seed 3" in text
    assert "Result: the engines agree" in text
    for name in ("dense_gelu", "act_softmax", "cat", "flat", "drop", "out", "(model)"):
        assert name in text
    assert "rtol 1e-05" in text


def test_report_uses_the_projects_trained_weights_and_loads_its_data(tf_ready):
    project = from_dict(
        {
            "name": "moons parity",
            "model": {
                "input_shape": [2],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 8, "activation": "relu"}},
                    {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}},
                ],
            },
            "compile": {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy"},
            "fit": {"seed": 1, "validation_split": 0.25},
            "dataset": {"name": "moons", "n_samples": 64, "noise": 0.1},
        }
    )
    rng = np.random.default_rng(5)
    project.weights = {
        "dense/kernel": rng.normal(size=(2, 8)).astype(np.float32),
        "dense/bias": rng.normal(size=8).astype(np.float32),
        "dense_1/kernel": rng.normal(size=(8, 2)).astype(np.float32),
        "dense_1/bias": rng.normal(size=2).astype(np.float32),
    }
    report = parity_report(project, batch_size=10)
    assert report.weights_source == "the project's trained weights"
    assert report.batch_size == 10 and report.optimizer == "RMSprop"
    assert "This project has dropout" not in report.text()
    assert_close_report(report, "float32")


def test_report_flags_a_real_difference(tf_ready, monkeypatch):
    from engine.backends.tensorflow import TensorFlowModel

    original = TensorFlowModel.trace_compare

    def skewed(self, x, y, training=False):
        out = original(self, x, y, training)
        out["grads"]["out"]["kernel"] = out["grads"]["out"]["kernel"] * 1.001
        return out

    monkeypatch.setattr(TensorFlowModel, "trace_compare", skewed)
    rng = np.random.default_rng(0)
    layers = [{"class_name": "Dense", "config": {"name": "out", "units": 2}}]
    project = project_of(layers, (3,), "mean_squared_error", "float32")
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    report = parity_report(project, 8, TrainingData(x, y, None, None))
    assert not report.ok
    assert [(r.layer, r.quantity) for r in report.failures] == [("out", "gradient of kernel")]
    assert "DIFFER in 1 of" in report.text() and "out gradient of kernel" in report.text()


def test_parity_refuses_perceptron_before_importing_tensorflow():
    project = from_dict(
        {
            "model": {
                "input_shape": [2],
                "layers": [{"class_name": "Dense", "config": {"units": 1, "activation": "sign"}}],
            },
            "compile": {"optimizer": "perceptron"},
            "dataset": {"name": "blobs"},
        }
    )
    with pytest.raises(ValidationError, match="NumPy-only"):
        parity_report(project)


def test_compare_arrays_rules():
    a = np.array([1.0, 2.0, 3.0])
    assert compare_arrays("l", "q", "output", a, a, "float64").ok
    row = compare_arrays("l", "q", "output", a * (1 + 1e-7), a, "float64")
    assert not row.ok and row.max_rel == pytest.approx(1e-7, rel=1e-3)
    assert compare_arrays("l", "q", "output", a * (1 + 1e-7), a, "float32").ok
    nan = np.array([np.nan, 1.0])
    assert compare_arrays("l", "q", "output", nan, nan, "float32").ok
    assert not compare_arrays("l", "q", "output", np.array([0.0, 1.0]), nan, "float32").ok
    assert not compare_arrays("l", "q", "output", a[:2], a, "float32").ok
    # Weights after a step may differ by a gradient-tolerance share of the step.
    step = np.array([1e-3, -1e-3, 1e-3])
    after = a + 5e-8
    assert compare_arrays("l", "q", "after step", after, a, "float32", step=step).ok
    assert not compare_arrays("l", "q", "after step", a + 5e-5, a, "float32", step=step).ok
    # ... and by twice what the gradient differences explain, elementwise.
    explained = np.array([0.0, 3e-5, 0.0])
    near = a + np.array([0.0, 7e-5, 0.0])
    assert compare_arrays("l", "q", "after step", near, a, "float32", step, explained).ok
    assert not compare_arrays("l", "q", "after step", near, a, "float32", step, explained / 2).ok
    assert set(TOLERANCES) == set(DTYPES)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_seed_mlp_agrees(tf_ready, dtype):
    """784-128-10 on an MNIST-shaped batch: sums over 784 inputs, Adam's first step."""
    from engine.project import seed_project

    project = seed_project()
    project.data["dtype"] = dtype
    rng = np.random.default_rng(0)
    x = rng.random((32, 784)).astype(dtype)
    y = rng.integers(0, 10, 32)
    report = parity_report(project, 32, TrainingData(x, y, None, None))
    assert_close_report(report, dtype)
    assert report.optimizer == "Adam" and len(report.rows) == 12


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_gradient_that_is_zero_in_exact_arithmetic_is_judged_by_its_layer(tf_ready, dtype):
    """A Dense bias before a BatchNormalization has gradient 0 (the mean cancels it): both
    engines hold round-off there, which must not read as a disagreement; the moving
    statistics after the step agree too."""
    project = project_of(
        [
            {"class_name": "Dense", "config": {"name": "h", "units": 8}},
            {"class_name": "BatchNormalization", "config": {"name": "bn"}},
            {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax"}},
        ],
        [2],
        "sparse_categorical_crossentropy",
        dtype,
    )
    report = parity_report(project)
    assert report.ok, report.text()
    rows = {(r.layer, r.quantity): r for r in report.rows}
    assert rows[("h", "gradient of bias")].ok and rows[("h", "gradient of kernel")].ok
    assert rows[("bn", "moving_variance after the step")].ok


def test_a_layers_largest_gradient_sets_the_floor_of_its_round_off():
    noise = np.array([3e-9, -2e-9, 1e-9])  # two engines' round-off of an exact zero
    other = np.array([2e-9, 1e-9, -3e-9])
    assert not compare_arrays("h", "gradient of bias", "gradient", noise, other, "float32").ok
    floor = compare_arrays(
        "h", "gradient of bias", "gradient", noise, other, "float32", scale_floor=0.02
    )
    assert floor.ok and floor.max_rel < 1e-6
