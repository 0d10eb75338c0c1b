"""NN Designer trains as Keras' ``model.fit`` does: the same project, initial weights and
batches trained by each engine and by the exported script's Keras model, live.

Each case builds a small network, trains it a few epochs on data made here with NN Designer
(NumPy and TensorFlow) and with ``model.fit`` on the exported ``build_model()``, and compares
every weight and the history within float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.project import from_dict
from tests.support.keras_fit import assert_same_training, fit_both, keras_twin, keras_weights

N, FEATURES, UNITS = 48, 4, 3


def project_of(activation, loss, optimizer="sgd", units=UNITS, metrics=()):
    return from_dict(
        {
            "name": "twin",
            "model": {
                "input_shape": [FEATURES],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "h", "units": 5, "activation": "tanh"},
                    },
                    {
                        "class_name": "Dense",
                        "config": {"name": "out", "units": units, "activation": activation},
                    },
                ],
            },
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": list(metrics)},
            "fit": {"seed": 4, "batch_size": 16, "shuffle": False, "epochs": 3},
            "dataset": {"name": "moons"},
        }
    )


def data_for(loss, units=UNITS, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    labels = rng.integers(0, units, N)
    if loss == "sparse_categorical_crossentropy":
        return x, labels
    if loss == "binary_crossentropy":
        return x, rng.integers(0, 2, (N, units)).astype("float32")
    return x, np.eye(units, dtype="float32")[labels]


MISMATCHED = [
    ("sigmoid", "categorical_crossentropy"),
    ("sigmoid", "sparse_categorical_crossentropy"),
    ("softmax", "binary_crossentropy"),
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(("activation", "loss"), MISMATCHED)
def test_a_mismatched_pair_trains_as_keras_does(tf_ready, activation, loss, backend):
    """Keras scores a sigmoid output with a categorical crossentropy as softmax(z), a softmax
    output with binary crossentropy as sigmoid(z): the app and its exported script train the
    same (the issue's case was 1.944666 in the app against 3.601469 in Keras)."""
    x, y = data_for(loss)
    project = project_of(activation, loss, {"class_name": "SGD", "config": {"learning_rate": 0.5}})
    assert_same_training(fit_both(project, x, y, 3, backend))


# Every Keras optimizer NN Designer has, at settings that move the weights visibly in a few
# steps, and the weight decay on optimizers that are not AdamW.
OPTIMIZERS = [
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01}},
    {"class_name": "AdamW", "config": {"learning_rate": 0.01, "weight_decay": 0.2}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "Adadelta", "config": {"learning_rate": 1.0, "rho": 0.9}},
    {"class_name": "Adamax", "config": {"learning_rate": 0.02}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01}},
    {"class_name": "Lion", "config": {"learning_rate": 0.002}},
    {"class_name": "Ftrl", "config": {"learning_rate": 0.2}},
    {
        "class_name": "Ftrl",
        "config": {
            "learning_rate": 0.2,
            "l1_regularization_strength": 0.001,
            "l2_regularization_strength": 0.01,
            "l2_shrinkage_regularization_strength": 0.01,
            "beta": 0.5,
        },
    },
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "weight_decay": 0.3}},
    {"class_name": "Nadam", "config": {"learning_rate": 0.01, "weight_decay": 0.1}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 0.1}},
]


def _id(spec):
    cfg = ",".join(f"{k}={v}" for k, v in spec["config"].items() if k != "learning_rate")
    return spec["class_name"] + (f"[{cfg}]" if cfg else "")


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=_id)
def test_every_optimizer_trains_as_keras_does(tf_ready, optimizer, backend):
    loss = "categorical_crossentropy"
    x, y = data_for(loss)
    project = project_of("softmax", loss, optimizer, metrics=["accuracy"])
    assert_same_training(fit_both(project, x, y, 3, backend))


def test_optimizers_by_name_train_as_keras_does(tf_ready):
    """The string form (``"nadam"``) exports as Keras' identifier and trains the same."""
    x, y = data_for("mean_squared_error")
    for name in ("adamw", "nadam", "adamax", "lion"):
        project = project_of("linear", "mean_squared_error", name)
        assert_same_training(fit_both(project, x, y, 2))


def _targets(kind, rng):
    if kind == "onehot":
        return np.eye(UNITS, dtype="float32")[rng.integers(0, UNITS, N)]
    if kind == "binary":
        return rng.integers(0, 2, (N, UNITS)).astype("float32")
    if kind == "labels":
        return rng.integers(0, UNITS, N)
    if kind == "positive":
        return rng.uniform(0.1, 3.0, (N, UNITS)).astype("float32")
    return rng.normal(size=(N, UNITS)).astype("float32")


# Every loss with an output it goes with and its targets; the settings Keras has.
LOSSES = [
    ("mean_squared_error", "linear", "real"),
    ("mean_absolute_error", "linear", "real"),
    ("hinge", "tanh", "binary"),
    ("huber", "linear", "real"),
    ({"class_name": "Huber", "config": {"delta": 0.4}}, "linear", "real"),
    ("log_cosh", "linear", "real"),
    ("mean_squared_logarithmic_error", "softplus", "positive"),
    ("mean_absolute_percentage_error", "linear", "positive"),
    ("squared_hinge", "tanh", "binary"),
    ("categorical_hinge", "linear", "onehot"),
    ("kl_divergence", "softmax", "onehot"),
    ("poisson", "softplus", "positive"),
    ("cosine_similarity", "linear", "real"),
    (
        {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}},
        "linear",
        "onehot",
    ),
    (
        {"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.1}},
        "softmax",
        "onehot",
    ),
    (
        {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}},
        "linear",
        "labels",
    ),
    ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, "linear", "binary"),
    ({"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 0.2}}, "sigmoid", "binary"),
    ({"class_name": "MeanSquaredError", "config": {"reduction": "sum"}}, "linear", "real"),
    # The focal crossentropies; the binary one's crossentropy takes a sigmoid or softmax
    # output's logits, as Keras' ops.binary_crossentropy does.
    ("binary_focal_crossentropy", "sigmoid", "binary"),
    ("binary_focal_crossentropy", "softmax", "binary"),
    ("binary_focal_crossentropy", "hard_sigmoid", "binary"),
    (
        {
            "class_name": "BinaryFocalCrossentropy",
            "config": {"apply_class_balancing": True, "gamma": 1.5, "label_smoothing": 0.1},
        },
        "sigmoid",
        "binary",
    ),
    (
        {"class_name": "BinaryFocalCrossentropy", "config": {"from_logits": True}},
        "linear",
        "binary",
    ),
    ("categorical_focal_crossentropy", "softmax", "onehot"),
    (
        {
            "class_name": "CategoricalFocalCrossentropy",
            "config": {"from_logits": True, "alpha": 0.5, "gamma": 3.0},
        },
        "linear",
        "onehot",
    ),
    (
        {"class_name": "CategoricalFocalCrossentropy", "config": {"label_smoothing": 0.2}},
        "softmax",
        "onehot",
    ),
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(("loss", "activation", "targets"), LOSSES, ids=str)
def test_every_loss_trains_as_keras_does(tf_ready, loss, activation, targets, backend):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = _targets(targets, rng)
    # MAPE's gradients are a hundred times the others': the same step size for it.
    lr = 0.0005 if loss == "mean_absolute_percentage_error" else 0.05
    project = project_of(activation, loss, {"class_name": "SGD", "config": {"learning_rate": lr}})
    assert_same_training(fit_both(project, x, y, 3, backend))


def _schedule(cls, **config):
    return {"class_name": cls, "config": config}


# Every learning-rate schedule, with settings whose changes show within 9 steps.
SCHEDULES = [
    _schedule("ExponentialDecay", initial_learning_rate=0.2, decay_steps=3, decay_rate=0.5),
    _schedule(
        "ExponentialDecay", initial_learning_rate=0.2, decay_steps=3, decay_rate=0.5, staircase=True
    ),
    _schedule("InverseTimeDecay", initial_learning_rate=0.2, decay_steps=2, decay_rate=0.7),
    _schedule("PiecewiseConstantDecay", boundaries=[2, 5], values=[0.3, 0.1, 0.02]),
    _schedule("PolynomialDecay", initial_learning_rate=0.2, decay_steps=6, power=2.0),
    _schedule(
        "PolynomialDecay",
        initial_learning_rate=0.2,
        decay_steps=4,
        end_learning_rate=0.01,
        cycle=True,
    ),
    _schedule("CosineDecay", initial_learning_rate=0.2, decay_steps=7, alpha=0.1),
    _schedule(
        "CosineDecay", initial_learning_rate=0.01, decay_steps=5, warmup_target=0.3, warmup_steps=3
    ),
    _schedule("CosineDecayRestarts", initial_learning_rate=0.2, first_decay_steps=2),
    _schedule(
        "CosineDecayRestarts", initial_learning_rate=0.2, first_decay_steps=3, t_mul=1.0, m_mul=0.5
    ),
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize(
    "schedule", SCHEDULES, ids=lambda s: s["class_name"] + str(len(s["config"]))
)
def test_every_schedule_trains_as_keras_does(tf_ready, schedule, backend):
    x, y = data_for("categorical_crossentropy")
    optimizer = {"class_name": "SGD", "config": {"learning_rate": schedule, "momentum": 0.5}}
    project = project_of("softmax", "categorical_crossentropy", optimizer)
    assert_same_training(fit_both(project, x, y, 3, backend))


def test_a_schedule_drives_adamw_and_its_weight_decay(tf_ready):
    x, y = data_for("categorical_crossentropy")
    # AdamW's usual scale. (The TensorFlow backend's fused Adam kernel forms 1 - beta_2 in
    # float32, a step up to 6.4e-6 larger: at a learning rate of 0.2 that exceeds 1e-6.)
    schedule = _schedule(
        "ExponentialDecay", initial_learning_rate=0.02, decay_steps=3, decay_rate=0.5
    )
    optimizer = {"class_name": "AdamW", "config": {"learning_rate": schedule, "weight_decay": 0.1}}
    project = project_of("softmax", "categorical_crossentropy", optimizer)
    for backend in ("numpy", "tensorflow"):
        assert_same_training(fit_both(project, x, y, 3, backend))


def _validation(loss, seed=9):
    return data_for(loss, seed=seed)


CALLBACKS = [
    [{"class_name": "EarlyStopping", "config": {"patience": 1}}],
    [{"class_name": "EarlyStopping", "config": {"patience": 2, "restore_best_weights": True}}],
    [
        {
            "class_name": "EarlyStopping",
            "config": {"monitor": "val_accuracy", "patience": 1, "min_delta": 0.05},
        }
    ],
    [
        {
            "class_name": "EarlyStopping",
            "config": {"patience": 1, "baseline": 0.5, "start_from_epoch": 2},
        }
    ],
    [{"class_name": "ReduceLROnPlateau", "config": {"patience": 1, "factor": 0.5}}],
    [
        {
            "class_name": "ReduceLROnPlateau",
            "config": {"patience": 1, "cooldown": 1, "min_lr": 0.05},
        },
        {"class_name": "EarlyStopping", "config": {"patience": 3, "restore_best_weights": True}},
        "TerminateOnNaN",
    ],
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
@pytest.mark.parametrize("callbacks", CALLBACKS, ids=lambda c: "+".join(str(e)[:40] for e in c))
def test_callbacks_stop_and_steer_as_keras_does(tf_ready, callbacks, backend):
    """The same epoch ends the run, the same weights come out (the best ones restored), the
    same learning rates: a learning rate too high to settle makes the validation loss wobble."""
    loss = "categorical_crossentropy"
    x, y = data_for(loss)
    project = project_of(
        "softmax",
        loss,
        {"class_name": "SGD", "config": {"learning_rate": 0.8}},
        metrics=["accuracy"],
    )
    project.data["fit"]["callbacks"] = callbacks
    result = fit_both(project, x, y, 12, backend, validation=_validation(loss))
    ran = len(result["keras"]["history"]["loss"])
    assert len(result["ours"]["history"]["loss"]) == ran
    assert_same_training(result)
    assert (result["stop_reason"] is not None) is (ran < 12)


def test_a_keras_model_with_the_issues_vocabulary_imports_and_trains_as_model_fit(
    tf_ready, tmp_path
):
    """The issue's "done means": a Keras model compiled with AdamW and an ExponentialDecay
    schedule, L2 on its kernels, a Huber loss, trained with an EarlyStopping callback, imports;
    the imported project trains on both engines, and its exported script trains, to the same
    weights and history as ``model.fit`` of the original model on the same data."""
    import keras

    from engine.export.keras_import import import_keras_model
    from engine.validate import check_project
    from tests.support.keras_fit import keras_fit, set_initial

    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.6)
    l2 = keras.regularizers.L2(0.01)
    original = keras.Sequential(
        [
            keras.Input(shape=(FEATURES,)),
            keras.layers.Dense(6, activation="tanh", kernel_regularizer=l2, name="hidden"),
            keras.layers.Dense(2, kernel_regularizer=l2, name="out"),
        ]
    )
    original.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=0.05),
        loss=keras.losses.Huber(),
    )
    original.save(tmp_path / "model.keras")

    project = import_keras_model(tmp_path / "model.keras")
    assert project.compile["optimizer"]["class_name"] == "AdamW"
    assert project.compile["optimizer"]["config"]["learning_rate"]["class_name"] == (
        "ExponentialDecay"
    )
    assert project.compile["loss"] == "huber"
    assert project.data["model"]["layers"][0]["config"]["kernel_regularizer"] == "L2"
    # Callbacks are fit settings, not part of a saved model: set as the app's Fit form does.
    # min_delta: the run stops where the loss clearly stalls, not on a float32 tie.
    early = {"class_name": "EarlyStopping", "config": {"monitor": "loss", "min_delta": 5e-3}}
    fit = project.data.setdefault("fit", {})
    fit.update({"batch_size": 16, "shuffle": False, "seed": 2, "callbacks": [early]})
    project.data["dataset"] = {"name": "moons"}  # the data below is given directly
    graph = check_project(project)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1).astype("float32")
    epochs = 40
    # TensorFlow's fused Adam kernel (ResourceApplyAdam) orders its float32 arithmetic
    # unlike Keras' Adam.update_step: over 18 steps the weights drift up to 1.7e-6 apart, with
    # or without the regularizers (measured); the NumPy engine stays within 6e-8.
    atol = {"numpy": 1e-6, "tensorflow": 3e-6}
    for backend in ("numpy", "tensorflow"):
        result = fit_both(project, x, y, epochs, backend)
        assert_same_training(result, atol=atol[backend])  # the engine and the exported script
        loaded = keras.saving.load_model(tmp_path / "model.keras")
        set_initial(loaded, graph, result["initial"])
        result["keras"] = keras_fit(loaded, graph, project, x, y, epochs)
        assert_same_training(result, atol=atol[backend])  # the engine and the original model
        assert result["stop_reason"] is not None  # EarlyStopping ended the run
        assert len(result["ours"]["history"]["loss"]) < epochs
        assert "regularization_loss" in result["ours"]["history"]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_keras_activation_layers_train_as_model_fit(tf_ready, backend):
    """PReLU (its alpha trained), LeakyReLU, ELU and a Softmax output layer, whose logits the
    crossentropy takes as Keras does."""
    layers = [
        {"class_name": "Dense", "config": {"name": "d1", "units": 6}},
        {
            "class_name": "PReLU",
            "config": {
                "name": "prelu",
                "alpha_initializer": {
                    "class_name": "RandomUniform",
                    "config": {"minval": 0.1, "maxval": 0.4},
                },
            },
        },
        {"class_name": "Dense", "config": {"name": "d2", "units": 5}},
        {"class_name": "LeakyReLU", "config": {"name": "leaky", "negative_slope": 0.1}},
        {"class_name": "Dense", "config": {"name": "d3", "units": 5}},
        {"class_name": "ELU", "config": {"name": "elu", "alpha": 0.7}},
        {"class_name": "Dense", "config": {"name": "d4", "units": UNITS}},
        {"class_name": "Softmax", "config": {"name": "probs"}},
    ]
    project = project_of("softmax", "categorical_crossentropy", "adam")
    project.data["model"]["layers"] = layers
    x, y = data_for("categorical_crossentropy")
    assert_same_training(fit_both(project, x, y, 3, backend))


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_model_checkpoint_keeps_the_weights_keras_saves(tf_ready, backend, tmp_path):
    """ModelCheckpoint(save_best_only=True): the project ends with the weights of the best
    val_loss epoch, the ones Keras' callback writes to its file (loaded back here), while
    Keras' model itself ends with the last epoch's; the history is the same."""
    loss = "categorical_crossentropy"
    x, y = data_for(loss)
    project = project_of(
        "softmax", loss, {"class_name": "SGD", "config": {"learning_rate": 0.8}}, metrics=[]
    )
    path = tmp_path / "best.weights.h5"
    checkpoint = {"filepath": str(path), "save_best_only": True, "save_weights_only": True}
    project.data["fit"]["callbacks"] = [{"class_name": "ModelCheckpoint", "config": checkpoint}]
    result = fit_both(project, x, y, 10, backend, validation=_validation(loss))
    val = result["keras"]["history"]["val_loss"]
    best = int(np.argmin(val))
    assert best < len(val) - 1  # the best epoch is not the last: the test can tell them apart
    last = result["keras"]["weights"]
    twin, graph = keras_twin(project, result["initial"])
    twin.load_weights(path)
    result["keras"]["weights"] = keras_weights(twin, graph)
    assert_same_training(result)
    assert any(not np.allclose(last[k], result["keras"]["weights"][k]) for k in last)
    assert result["stop_reason"] is None
