"""The NumPy reference engine: gradients, trace vs step, determinism, the seed's Perceptron."""

from __future__ import annotations

import numpy as np
import pytest
from support.seed import SeedPerceptron

from engine.activations import ACTIVATION_NAMES
from engine.backends.numpy.model import NumpyModel
from engine.errors import NonFiniteError
from engine.gradcheck import gradient_check
from engine.graph import build_graph
from engine.project import from_dict


def make_model(
    layers,
    input_shape,
    loss="mean_squared_error",
    optimizer="sgd",
    dtype="float64",
    seed=0,
    metrics=(),
):
    project = from_dict({"model": {"input_shape": list(input_shape), "layers": layers}})
    graph = build_graph(project)
    return NumpyModel(graph, loss, list(metrics), optimizer, dtype, seed)


def dense(name, units, activation="linear", **kw):
    return {
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": activation, **kw},
    }


def targets_for(model, loss, n, rng):
    k = model.graph.output_shape[-1]
    loss = model.loss
    if loss in ("kl_divergence", "categorical_hinge"):
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss in ("mean_squared_logarithmic_error", "poisson"):
        return rng.uniform(0.1, 2.0, size=(n, k))
    if loss == "squared_hinge":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, k, size=n)
    if loss == "categorical_crossentropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], size=(n, k))
    return rng.normal(size=(n, k))


SMOOTH = [a for a in ACTIVATION_NAMES if a not in ("sign",)]


@pytest.mark.parametrize("activation", SMOOTH)
def test_gradcheck_every_activation(activation):
    rng = np.random.default_rng(1)
    model = make_model([dense("h", 5, activation), dense("out", 3)], (4,))
    x = rng.normal(size=(6, 4))
    checks = gradient_check(model, x, rng.normal(size=(6, 3)), entries=20)
    for c in checks:
        assert c.checked > 0
        assert c.max_rel_error < 1e-6, (activation, c)


@pytest.mark.parametrize(
    "loss, out_act",
    [
        ("mean_squared_error", "linear"),
        ("mean_absolute_error", "tanh"),
        ("binary_crossentropy", "sigmoid"),
        ("binary_crossentropy", "softplus"),  # not fused: the clipped probability path
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
        ("hinge", "tanh"),
        ("huber", "linear"),
        ("log_cosh", "linear"),
        ("mean_squared_logarithmic_error", "softplus"),
        ("mean_absolute_percentage_error", "linear"),
        ("squared_hinge", "tanh"),
        ("categorical_hinge", "linear"),
        ("kl_divergence", "softmax"),
        ("poisson", "softplus"),
        ("cosine_similarity", "linear"),
        ({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}, "linear"),
        ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, "linear"),
        (
            {"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.2}},
            "softmax",
        ),
        ({"class_name": "Huber", "config": {"delta": 0.3, "reduction": "sum"}}, "linear"),
    ],
    ids=str,
)
def test_gradcheck_every_loss(loss, out_act):
    rng = np.random.default_rng(2)
    units = 1 if loss == "binary_crossentropy" and out_act == "softplus" else 3
    model = make_model([dense("h", 6, "tanh"), dense("out", units, out_act)], (4,), loss=loss)
    x = rng.normal(size=(7, 4))
    y = targets_for(model, loss, 7, rng)
    if loss == "binary_crossentropy" and out_act == "softplus":
        y = np.full((7, 1), 0.5)
        x = x * 0.1
    for c in gradient_check(model, x, y, entries=20):
        assert c.max_rel_error < 1e-6, (loss, c)


GRAPHS = {
    "dropout": (
        [
            dense("h", 6, "tanh"),
            {"class_name": "Dropout", "config": {"name": "d", "rate": 0.4}},
            dense("o", 2),
        ],
        (4,),
    ),
    "activation_layer": (
        [
            dense("h", 6),
            {"class_name": "Activation", "config": {"name": "act", "activation": "softsign"}},
            dense("o", 2),
        ],
        (4,),
    ),
    "flatten": (
        [{"class_name": "Flatten", "config": {"name": "f"}}, dense("o", 2, "tanh")],
        (2, 3),
    ),
    "dense_on_rank3": (
        [dense("h", 3, "tanh"), {"class_name": "Flatten", "config": {"name": "f"}}, dense("o", 2)],
        (2, 3),
    ),
    "add_concat": (
        [
            {**dense("a", 4, "tanh"), "inbound": ["input"]},
            {**dense("b", 4, "elu"), "inbound": ["input"]},
            {"class_name": "Add", "config": {"name": "sum"}, "inbound": ["a", "b"]},
            {
                "class_name": "Concatenate",
                "config": {"name": "cat"},
                "inbound": ["sum", "a", "input"],
            },
            dense("o", 2, "sigmoid"),
        ],
        (3,),
    ),
    "no_bias": ([dense("h", 4, "tanh", use_bias=False), dense("o", 2)], (3,)),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_gradcheck_every_layer(name):
    layers, shape = GRAPHS[name]
    rng = np.random.default_rng(3)
    model = make_model(layers, shape)
    x = rng.normal(size=(5,) + shape)
    y = rng.normal(size=(5, 2))
    for c in gradient_check(model, x, y, entries=16):
        assert c.max_rel_error < 1e-6, (name, c)


def test_relu_gradcheck_skips_kinks_only():
    rng = np.random.default_rng(4)
    model = make_model([dense("h", 8, "relu"), dense("o", 2)], (3,))
    checks = gradient_check(model, rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), entries=24)
    assert all(c.max_rel_error < 1e-6 for c in checks)
    assert sum(c.checked for c in checks) > 30


OPTIMIZERS = [
    "sgd",
    {"class_name": "SGD", "config": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}},
    "adam",
    {"class_name": "RMSprop", "config": {"momentum": 0.5, "centered": True}},
    "adagrad",
]


@pytest.mark.parametrize(
    "optimizer", OPTIMIZERS, ids=lambda o: o if isinstance(o, str) else o["class_name"]
)
@pytest.mark.parametrize("graph", ["dropout", "add_concat"])
def test_trace_equals_train_step_bit_for_bit(optimizer, graph):
    layers, shape = GRAPHS[graph]
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8,) + shape).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    a = make_model(layers, shape, optimizer=optimizer, dtype="float32")
    b = make_model(layers, shape, optimizer=optimizer, dtype="float32")
    for _ in range(3):  # several steps so optimizer state matters too
        a.train_step(x, y)
        events = list(b.trace_step(x, y))
        assert [e.phase for e in events].count("update") == len(b.weights)
    for key, arr in a.weight_arrays().items():
        np.testing.assert_array_equal(arr, b.weight_arrays()[key])


def test_trace_phase_order_and_contents():
    layers, shape = GRAPHS["add_concat"]
    model = make_model(layers, shape, dtype="float32")
    rng = np.random.default_rng(6)
    events = list(model.trace_step(rng.normal(size=(4, 3)), rng.normal(size=(4, 2))))
    names = [n.name for n in model.graph.nodes]
    expected = (
        [("forward", n) for n in names]
        + [("loss", "o")]
        + [("backward", n) for n in reversed(names)]
        + [("update", n) for n in names if n in model.weights]
    )
    assert [(e.phase, e.layer) for e in events] == expected
    by = {(e.phase, e.layer): e.data for e in events}
    # Merge layers show every input and split the error: Add passes it to each input unchanged.
    assert len(by[("forward", "sum")]["inputs"]) == 2
    g = by[("backward", "sum")]
    np.testing.assert_array_equal(g["grad_inputs"][0], g["grad_a"])
    # The forward z of a Dense is x @ kernel + bias with the numbers shown.
    f = by[("forward", "a")]
    before = by[("update", "a")]["before"]
    np.testing.assert_allclose(f["z"], f["inputs"] @ before["kernel"] + before["bias"], rtol=1e-6)
    # dL/d kernel = inputs^T · dL/dz
    bw = by[("backward", "o")]
    np.testing.assert_allclose(
        bw["grad_kernel"], by[("forward", "o")]["inputs"].T @ bw["grad_z"], rtol=1e-5
    )


def test_stopping_trace_part_way_changes_nothing():
    layers, shape = GRAPHS["dropout"]
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    a = make_model(layers, shape, optimizer="adam")
    b = make_model(layers, shape, optimizer="adam")
    for stop_after in (1, 4, 8, 9):  # inside forward, backward, and the update phase
        gen = b.trace_step(x, y)
        for _ in range(stop_after):
            next(gen)
        gen.close()
    assert b.optimizer.iterations == 0
    a.train_step(x, y)
    b.train_step(x, y)  # same dropout mask as a's: the RNG was restored too
    for key in a.weight_arrays():
        np.testing.assert_array_equal(a.weight_arrays()[key], b.weight_arrays()[key])


def test_same_seed_same_weights_different_seed_differs():
    layers, shape = GRAPHS["dropout"]
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    runs = []
    for seed in (0, 0, 1):
        m = make_model(layers, shape, optimizer="adam", seed=seed)
        for _ in range(5):
            m.train_step(x, y)
        runs.append(m.flat_weights())
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_dropout_identity_at_inference_and_scaled_in_training():
    model = make_model(
        [{"class_name": "Dropout", "config": {"name": "d", "rate": 0.5}}, dense("o", 2)],
        (1000,),
        dtype="float32",
    )
    x = np.ones((4, 1000), np.float32)
    out, caches = model.forward(x, training=False)
    np.testing.assert_array_equal(caches["d"].a, x)
    _, caches = model.forward(x, training=True)
    vals = np.unique(caches["d"].a)
    assert set(vals.tolist()) == {0.0, 2.0}
    assert 0.4 < (caches["d"].a == 0).mean() < 0.6


@pytest.mark.parametrize(
    "loss, act",
    [
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
        ("binary_crossentropy", "sigmoid"),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_overflow_at_huge_logits(loss, act, dtype):
    model = make_model(
        [dense("o", 3 if act == "softmax" else 1, act)], (2,), loss=loss, dtype=dtype
    )
    model.weights["o"]["kernel"][...] = (
        np.array([[1e4], [-1e4]])
        if act == "sigmoid"
        else np.array([[1e4, -1e4, 0], [-1e4, 1e4, 0]])
    )
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = targets_for(model, loss, 2, np.random.default_rng(0))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        value, grads = model.loss_and_grads(x, y)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads.values())


def test_nonfinite_loss_stops_before_update_naming_layer():
    model = make_model([dense("h", 4, "linear"), dense("o", 1)], (2,), dtype="float32")
    model.weights["h"]["kernel"][...] = 10.0  # 3e38 * 10 overflows inside layer 'h'
    before = model.flat_weights()
    x = np.array([[np.float32(3e38), 1.0]], np.float32)
    with pytest.raises(NonFiniteError) as err:
        with np.errstate(all="ignore"):
            model.train_step(x, np.zeros((1, 1), np.float32), epoch=2, step=7)
    assert err.value.epoch == 2 and err.value.step == 7 and err.value.layer == "h"
    assert "epoch 2, step 7" in str(err.value)
    for key, arr in before.items():
        np.testing.assert_array_equal(model.weight_arrays()[key], arr)


@pytest.mark.parametrize("n_features, lr, seed", [(2, 0.01, 0), (5, 0.1, 1), (3, 0.003, 2)])
def test_perceptron_reproduces_seed_exactly(n_features, lr, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, n_features))
    # Noisy labels so that updates keep happening in every epoch.
    y = np.where(X @ rng.normal(size=n_features) + 0.3 * rng.normal(size=40) > 0, 1, -1)
    ref = SeedPerceptron(learning_rate=lr, n_iterations=15)
    ref.fit(X, y)
    model = make_model(
        [dense("p", 1, "sign", kernel_initializer="zeros")],
        (n_features,),
        loss=None,
        optimizer={"class_name": "Perceptron", "config": {"learning_rate": lr}},
        dtype="float64",
    )
    for _ in range(15):
        model.train_step(X, y.astype(float))  # the whole set as one batch, in order
    np.testing.assert_array_equal(model.weights["p"]["kernel"][:, 0], ref.weights[1:])
    np.testing.assert_array_equal(model.weights["p"]["bias"], ref.weights[:1])
    np.testing.assert_array_equal(model.predict(X)[:, 0], ref.predict(X))


def test_perceptron_trace_is_the_seed_rule_on_one_sample():
    model = make_model(
        [dense("p", 1, "sign", kernel_initializer="zeros")],
        (2,),
        loss=None,
        optimizer={"class_name": "Perceptron", "config": {"learning_rate": 0.5}},
    )
    model.weights["p"]["kernel"][:, 0] = [1.0, -1.0]
    x, t = np.array([[1.0, 2.0]]), np.array([1.0])
    events = list(model.trace_step(x, t))
    assert [e.phase for e in events] == ["forward", "loss", "backward", "update"]
    assert events[0].data["z"][0, 0] == -1.0 and events[0].data["a"][0, 0] == -1.0
    # w <- w + eta (t - y_hat) x = [1, -1] + 0.5 * 2 * [1, 2]
    np.testing.assert_array_equal(events[3].data["after"]["kernel"][:, 0], [2.0, 1.0])
    np.testing.assert_array_equal(events[3].data["after"]["bias"], [1.0])
    np.testing.assert_array_equal(model.weights["p"]["kernel"][:, 0], [2.0, 1.0])


def test_predict_and_evaluate_shapes():
    model = make_model(
        [dense("h", 4, "relu"), dense("o", 3, "softmax")],
        (2,),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        dtype="float32",
    )
    x = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    p = model.predict(x, batch_size=3)
    assert p.shape == (10, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    res = model.evaluate(x, np.arange(10) % 3, batch_size=4)
    assert set(res) == {"loss", "accuracy"} and 0 <= res["accuracy"] <= 1
