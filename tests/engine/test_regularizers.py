"""Regularizers and constraints as Keras has them: each penalty, gradient and projection against
Keras' own objects on the same arrays; whole training runs against ``model.fit`` on the
exported script, on both engines; the history's regularization part; validation, export,
import, the gradient check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backends.numpy.model import NumpyModel
from engine.constraints import CONSTRAINT_DEFAULTS, apply_constraint, resolve_constraint
from engine.errors import ValidationError
from engine.export import keras_code
from engine.gradcheck import FAIL, gradient_check
from engine.graph import analyze_model, build_graph
from engine.project import from_dict
from engine.regularizers import (
    penalty,
    penalty_gradient,
    regularizer_spec,
    resolve_regularizer,
)
from engine.validate import check_project
from tests.support.keras_fit import assert_same_training, fit_both

REGULARIZERS = [
    "l1",
    "L2",
    "l1l2",
    {"class_name": "L1", "config": {"l1": 0.3}},
    {"class_name": "L2", "config": {"l2": 0.07}},
    {"class_name": "L1L2", "config": {"l1": 0.02, "l2": 0.05}},
    {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.4}},
    {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.2, "mode": "columns"}},
]
CONSTRAINTS = [
    "max_norm",
    {"class_name": "MaxNorm", "config": {"max_value": 0.6, "axis": 1}},
    "NonNeg",
    "unit_norm",
    {"class_name": "UnitNorm", "config": {"axis": [0, 1]}},
    {"class_name": "MinMaxNorm", "config": {"min_value": 0.9, "max_value": 1.2, "rate": 0.6}},
]


def _keras_spec(spec):
    return spec if isinstance(spec, str) else {**spec, "config": dict(spec["config"])}


@pytest.fixture(scope="module")
def keras(tf_ready):
    import keras

    return keras


@pytest.mark.parametrize("spec", REGULARIZERS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_penalty_and_its_gradient_are_keras(keras, spec, dtype):
    """The penalty of a weight and its gradient, against Keras' regularizer and TensorFlow's
    tape on the same array (a zero row too: OrthogonalRegularizer's normalize floors it)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = rng.normal(size=(5, 4)).astype(dtype)
    w[2] = 0.0
    w[0, 1] = 0.0
    if dtype == "float64" and "Orthogonal" in str(spec):
        pytest.skip("Keras' OrthogonalRegularizer fails on float64 (see the validation test)")
    reg = keras.regularizers.get(_keras_spec(spec))
    var = tf.Variable(w)
    with tf.GradientTape() as tape:
        theirs = reg(var)
    grad = tape.gradient(theirs, var)
    grad = np.zeros_like(w) if grad is None else grad.numpy()  # L1L2() is a constant 0
    rtol = 2e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(penalty(spec, w), theirs.numpy(), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(penalty_gradient(spec, w), grad, rtol=rtol, atol=1e-7)
    assert penalty(spec, w).dtype == np.dtype(dtype)


def test_keras_golden_values():
    """Keras' own regularizers_test values: L1(0.1) and L2(0.1) of [[1, -2], [3, 4]]...
    computed here by hand, as its tests do: 0.1·10 and 0.1·30; L1L2 defaults to nothing."""
    x = np.array([[1.0, -2.0], [3.0, 4.0]], dtype="float32")
    assert penalty({"class_name": "L1", "config": {"l1": 0.1}}, x) == pytest.approx(1.0)
    assert penalty({"class_name": "L2", "config": {"l2": 0.1}}, x) == pytest.approx(3.0)
    assert penalty("l1l2", x) == 0.0  # Keras' get("l1l2") is L1L2() with l1 = l2 = 0
    with pytest.raises(ValueError, match="unknown regularizer 'l1_l2'"):
        resolve_regularizer(
            "l1_l2"
        )  # keras.regularizers.l1_l2 is a function, not a name get() takes
    assert resolve_regularizer("l2") == ("L2", {"l2": 0.01})
    # An orthogonal pair of rows has no penalty; a parallel pair has factor·0.5·2/1.
    orth = np.array([[1.0, 0.0], [0.0, 2.0]], dtype="float64")
    par = np.array([[1.0, 1.0], [2.0, 2.0]], dtype="float64")
    spec = {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.5}}
    assert penalty(spec, orth) == 0.0
    assert penalty(spec, par) == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("spec", CONSTRAINTS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_constraint_projects_as_keras(keras, spec, dtype):
    rng = np.random.default_rng(5)
    w = (rng.normal(size=(4, 3)) * 1.5).astype(dtype)
    theirs = np.asarray(keras.constraints.get(_keras_spec(spec))(w))
    ours = apply_constraint(spec, w)
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=2e-6 if dtype == "float32" else 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    cls=st.sampled_from(sorted(CONSTRAINT_DEFAULTS)),
    value=st.one_of(st.none(), st.integers(-3, 3), st.floats(-2, 4), st.text(max_size=3)),
    key=st.sampled_from(["max_value", "min_value", "rate", "axis", "l2", "bogus"]),
)
def test_a_constraint_spec_is_accepted_or_named_never_crashes(cls, value, key):
    spec = {"class_name": cls, "config": {key: value}}
    try:
        name, config = resolve_constraint(spec)
    except ValueError as exc:
        assert cls in str(exc) or key in str(exc)
        return
    w = np.ones((3, 2), dtype="float32")
    assert name == cls and apply_constraint(spec, w).shape == w.shape


# ----------------------------------------------------------------------------- training
N, FEATURES = 48, 4


def _dense(name, units, activation, **rules):
    return {
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": activation, **rules},
    }


def _project(layers, loss, optimizer, input_shape=(FEATURES,), dtype="float32"):
    return from_dict(
        {
            "name": "regularized",
            "model": {"input_shape": list(input_shape), "layers": layers},
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": []},
            "fit": {"seed": 4, "batch_size": 16, "shuffle": False, "epochs": 3},
            "dataset": {"name": "moons"},
            "dtype": dtype,
        }
    )


def _data(n=N, seed=0, shape=(FEATURES,), classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype("float32")
    return x, rng.integers(0, classes, n)


SGD = {"class_name": "SGD", "config": {"learning_rate": 0.3}}
ADAM = {"class_name": "Adam", "config": {"learning_rate": 0.05}}

# (hidden layer's rules, output layer's rules, optimizer): every regularizer and constraint on
# a kernel, a bias and an output; Adam runs the TensorFlow backend's fused kernels, which apply
# the constraints themselves.
RUNS = [
    ({"kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.05}}}, {}, SGD),
    (
        {
            "kernel_regularizer": "l1",
            "bias_regularizer": {"class_name": "L1L2", "config": {"l2": 0.1}},
        },
        {"kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 0.5}}},
        ADAM,
    ),
    (
        {"kernel_regularizer": {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.5}}},
        {
            "kernel_regularizer": {
                "class_name": "OrthogonalRegularizer",
                "config": {"mode": "columns"},
            }
        },
        SGD,
    ),
    (
        {"activity_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}},
        {"activity_regularizer": "l1", "kernel_regularizer": "l2"},
        ADAM,
    ),
    (
        {"kernel_constraint": "non_neg", "bias_constraint": "unit_norm"},
        {
            "kernel_constraint": {
                "class_name": "MinMaxNorm",
                "config": {"min_value": 0.5, "rate": 0.7},
            }
        },
        SGD,
    ),
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(("hidden", "out", "optimizer"), RUNS, ids=lambda v: str(v)[:60])
def test_training_with_rules_is_model_fit(tf_ready, hidden, out, optimizer, backend):
    """Three epochs with validation data: weights, loss and val_loss (both with the penalties,
    as Keras reports them) as ``model.fit`` on the exported script."""
    layers = [_dense("h", 5, "tanh", **hidden), _dense("out", 3, "softmax", **out)]
    project = _project(layers, "sparse_categorical_crossentropy", optimizer)
    x, y = _data()
    result = fit_both(project, x, y, 3, backend, validation=_data(20, seed=7))
    assert_same_training(result)
    regularized = any(k.endswith("regularizer") for k in {**hidden, **out})
    assert ("regularization_loss" in result["ours"]["history"]) is regularized


def test_a_convolution_with_batch_normalization_trains_as_model_fit(tf_ready):
    layers = [
        {
            "class_name": "Conv2D",
            "config": {
                "name": "conv",
                "filters": 3,
                "kernel_size": 3,
                "activation": "relu",
                "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.02}},
                "kernel_constraint": {"class_name": "MaxNorm", "config": {"axis": [0, 1, 2]}},
                "activity_regularizer": "l1",
            },
        },
        {
            "class_name": "BatchNormalization",
            "config": {"name": "bn", "gamma_regularizer": "l2", "beta_constraint": "non_neg"},
        },
        {"class_name": "Flatten", "config": {"name": "flat"}},
        _dense("out", 2, "softmax", bias_regularizer="l2"),
    ]
    project = _project(layers, "sparse_categorical_crossentropy", SGD, input_shape=(6, 6, 1))
    x, y = _data(24, shape=(6, 6, 1), classes=2)
    for backend in ("numpy", "tensorflow"):
        assert_same_training(fit_both(project, x, y, 2, backend))


def test_float64_training_keeps_keras_float32_coefficients(tf_ready):
    """Keras keeps L1's l1 in a float32 tensor: a float64 model uses that value too
    (0.10000000149...; float64's 0.1 would move the kernel 3e-9 away in these 9 steps), on
    both engines, as in Keras. Keras cannot fit a float64 model with regularizers under floatx
    float32 (it sums the float64 penalties with a float32 loss and raises), so the exported
    script sets floatx to float64 first."""
    l1 = {"kernel_regularizer": {"class_name": "L1", "config": {"l1": 0.1}}}
    l2 = {"bias_regularizer": {"class_name": "L2", "config": {"l2": 0.1}}}
    layers = [_dense("h", 5, "tanh", **l1), _dense("out", 3, "softmax", **l2)]
    project = _project(layers, "sparse_categorical_crossentropy", SGD, dtype="float64")
    assert 'keras.config.set_floatx("float64")' in keras_code(project)
    x, y = _data()
    for backend in ("numpy", "tensorflow"):
        assert_same_training(fit_both(project, x, y, 3, backend), rtol=1e-8, atol=5e-10)


def test_orthogonal_regularizer_on_float64_is_refused_as_keras_fails(keras):
    """Keras' own OrthogonalRegularizer raises on float64 weights; the project says so first."""
    orth = {"class_name": "OrthogonalRegularizer", "config": {"factor": 0.1}}
    import tensorflow as tf

    with pytest.raises((TypeError, tf.errors.InvalidArgumentError)):
        keras.regularizers.get(orth)(np.ones((3, 2), dtype="float64"))
    layers = [_dense("h", 5, "tanh", kernel_regularizer=orth)]
    with pytest.raises(ValidationError, match="OrthogonalRegularizer works on float32 models"):
        check_project(_project(layers, "mean_squared_error", SGD, dtype="float64"))
    check_project(_project(layers, "mean_squared_error", SGD))


def test_the_history_reports_the_regularization_part(tf_ready):
    """One batch per epoch: the first epoch's regularization_loss is the penalty of the initial
    weights, l2·Σw² of the kernel, on both engines; the loss includes it."""
    from engine.training import Trainer, TrainingData, build_model

    l2 = 0.05
    layers = [_dense("h", 5, "tanh", kernel_regularizer={"class_name": "L2", "config": {"l2": l2}})]
    layers.append(_dense("out", 3, "softmax"))
    project = _project(layers, "sparse_categorical_crossentropy", SGD)
    project.data["fit"]["batch_size"] = N
    x, y = _data()
    reported = {}
    for backend in ("numpy", "tensorflow"):
        project.data["backend"] = backend
        model = build_model(project, check_project(project))
        kernel = model.get_weights()["h"]["kernel"].astype("float64")
        trainer = Trainer(model, TrainingData(x, y, None, None), batch_size=N, shuffle=False)
        for _ in trainer.run(2):
            pass
        reg = trainer.history["regularization_loss"]
        assert reg[0] == pytest.approx(l2 * float(np.sum(kernel**2)), rel=1e-6)
        assert reg[1] < reg[0]  # the penalty pulls the kernel in
        assert all(lo > r for lo, r in zip(trainer.history["loss"], reg, strict=True))
        reported[backend] = reg
    np.testing.assert_allclose(reported["numpy"], reported["tensorflow"], rtol=1e-6)


def test_the_gradient_check_covers_the_penalties():
    layers = [
        _dense("h", 4, "tanh", kernel_regularizer="l2", activity_regularizer="l2"),
        _dense(
            "out",
            2,
            "linear",
            kernel_regularizer={"class_name": "OrthogonalRegularizer", "config": {"factor": 1}},
        ),
    ]
    graph = build_graph(_project(layers, "mean_squared_error", SGD))
    model = NumpyModel(graph, "mean_squared_error", [], "sgd", "float64", 2)
    rng = np.random.default_rng(0)
    checks = gradient_check(model, rng.normal(size=(5, FEATURES)), rng.normal(size=(5, 2)))
    assert all(c.verdict != FAIL for c in checks), checks
    # The check sees the penalty: a wrong penalty gradient fails it.
    original = model.rules.weight_gradients
    model.rules.weight_gradients = lambda flat: {k: 3 * g for k, g in original(flat).items()}
    bad = gradient_check(model, rng.normal(size=(5, FEATURES)), rng.normal(size=(5, 2)))
    assert any(c.verdict == FAIL for c in bad)


# ----------------------------------------------------------------------------- validation
def _problems(config, cls="Dense", shape=(4,)):
    _, problems = analyze_model(
        {"input_shape": list(shape), "layers": [{"class_name": cls, "config": config}]}
    )
    return [(p.layer, p.field, p.message) for p in problems]


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"kernel_regularizer": "l3"}, "kernel_regularizer", "unknown regularizer 'l3'"),
        (
            {"kernel_regularizer": {"class_name": "L2", "config": {"l2": -1}}},
            "kernel_regularizer",
            "at least 0",
        ),
        (
            {"kernel_regularizer": {"class_name": "L2", "config": {"l1": 1}}},
            "kernel_regularizer",
            "has no setting 'l1'",
        ),
        (
            {"bias_constraint": {"class_name": "MaxNorm", "config": {"axis": 1}}},
            "bias_constraint",
            "axis 1 is outside",
        ),
        (
            {"kernel_constraint": {"class_name": "MinMaxNorm", "config": {"min_value": 3}}},
            "kernel_constraint",
            "above 'max_value'",
        ),
        ({"kernel_constraint": 7}, "kernel_constraint", "must be a name"),
    ],
)
def test_a_rule_that_cannot_apply_is_named_with_its_layer_and_key(config, field, words):
    problems = _problems({"name": "d", "units": 3, **config})
    assert len(problems) == 1, problems
    layer, key, message = problems[0]
    assert (layer, key) == ("d", field) and words in message


def test_orthogonal_regularizer_needs_a_2d_tensor():
    conv = {
        "name": "c",
        "filters": 2,
        "kernel_size": 3,
        "kernel_regularizer": "orthogonal_regularizer",
        "activity_regularizer": "orthogonal_regularizer",
    }
    problems = _problems(conv, "Conv2D", (6, 6, 1))
    assert {p[1] for p in problems} == {"kernel_regularizer", "activity_regularizer"}
    assert all("needs a 2-D tensor" in p[2] for p in problems)
    # A Dense kernel and output are 2-D: fine.
    assert (
        _problems({"name": "d", "units": 3, "activity_regularizer": "orthogonal_regularizer"}) == []
    )


def test_a_hostile_project_is_refused_with_a_message():
    layers = [_dense("h", 3, "tanh", kernel_regularizer={"class_name": "__import__", "config": {}})]
    with pytest.raises(ValidationError, match="unknown regularizer '__import__'"):
        check_project(_project(layers, "mean_squared_error", SGD))


# ----------------------------------------------------------------------------- export, import
def test_export_writes_keras_classes(tf_ready):
    rules = {
        "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.001}},
        "bias_regularizer": "l1",
        "activity_regularizer": {"class_name": "L1L2", "config": {"l1": 0.01}},
        "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 3}},
        "bias_constraint": "non_neg",
    }
    code = keras_code(_project([_dense("h", 3, "tanh", **rules)], "mean_squared_error", SGD))
    for text in (
        "kernel_regularizer=keras.regularizers.L2(l2=0.001)",
        "bias_regularizer=keras.regularizers.L1()",
        "activity_regularizer=keras.regularizers.L1L2(l1=0.01)",
        "kernel_constraint=keras.constraints.MaxNorm(max_value=3)",
        "bias_constraint=keras.constraints.NonNeg()",
    ):
        assert text in code, code


def test_a_keras_model_with_rules_imports_with_them(tf_ready, tmp_path):
    import keras

    from engine.export.keras_import import import_keras_model

    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(
                4,
                kernel_regularizer=keras.regularizers.L2(0.002),
                bias_regularizer="l1l2",
                activity_regularizer=keras.regularizers.OrthogonalRegularizer(0.1, "columns"),
                kernel_constraint=keras.constraints.MinMaxNorm(0.1, 2.0, 0.5),
                bias_constraint="unit_norm",
                name="d",
            ),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.keras")
    project = import_keras_model(tmp_path / "m.keras")
    config = project.data["model"]["layers"][0]["config"]
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.002}}
    assert config["bias_regularizer"] == "L1L2"
    assert config["activity_regularizer"] == {
        "class_name": "OrthogonalRegularizer",
        "config": {"factor": pytest.approx(0.1), "mode": "columns"},
    }
    assert config["kernel_constraint"] == {
        "class_name": "MinMaxNorm",
        "config": {"min_value": 0.1, "max_value": 2.0, "rate": 0.5},
    }
    assert config["bias_constraint"] == "UnitNorm"
    check_project(project, training=False)


def test_a_rule_on_a_layer_without_the_setting_is_named(tf_ready, tmp_path):
    import keras

    from engine.errors import NNDError
    from engine.export.keras_import import import_keras_model

    model = keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dropout(0.1, activity_regularizer="l2", name="drop")]
    )
    model.save(tmp_path / "m.keras")
    with pytest.raises(NNDError, match=r"layer 'drop' \(Dropout\) sets activity_regularizer"):
        import_keras_model(tmp_path / "m.keras", strict=True)


def test_the_shortest_spec_round_trips():
    assert regularizer_spec({"class_name": "L2", "config": {"l2": 0.01}}) == "L2"
    assert regularizer_spec("l1l2") == "L1L2"
    spec = {"class_name": "L1L2", "config": {"l1": 0.5}}
    assert regularizer_spec(spec) == spec
