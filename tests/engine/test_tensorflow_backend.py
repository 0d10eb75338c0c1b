"""The TensorFlow backend: same interface and same numbers as the NumPy engine.

The per-layer parity of one step is in test_parity.py; here: the compiled fast path over many
steps and whole epochs, determinism, the non-finite stop, weights in and out, switching
backends, the refusals and the behaviour without TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.backends.numpy.model import NumpyModel
from engine.errors import BackendUnavailableError, DataError, NonFiniteError, ValidationError
from engine.graph import build_graph
from engine.project import from_dict
from engine.training import Trainer, TrainingData

ROOT = Path(__file__).resolve().parents[2]


def mlp_graph(n_in=4, hidden=8, out=3, act="tanh", out_act="softmax", dropout=0.0):
    layers = [
        {"class_name": "Dense", "config": {"name": "hidden", "units": hidden, "activation": act}}
    ]
    if dropout:
        layers.append({"class_name": "Dropout", "config": {"name": "drop", "rate": dropout}})
    layers.append(
        {"class_name": "Dense", "config": {"name": "out", "units": out, "activation": out_act}}
    )
    return build_graph(from_dict({"model": {"input_shape": [n_in], "layers": layers}}))


_ARGS = dict(
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
    optimizer={"class_name": "Adam", "config": {"learning_rate": 0.01}},
    dtype="float32",
    seed=0,
)


def both(graph, **kw):
    """A NumPy and a TensorFlow model built alike (same seed: same initial weights)."""
    from engine.backends.tensorflow import TensorFlowModel

    args = {**_ARGS, **kw}
    return NumpyModel(graph, **args), TensorFlowModel(graph, **args)


def classification_data(n=100, n_in=4, k=3, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)).astype(dtype)
    y = (np.abs(x[:, 0] * 2 + x[:, 1]).astype(int) % k).astype(np.int64)
    return x, y


def assert_weights_close(a, b, rtol, atol=0.0):
    assert a.keys() == b.keys()
    for layer in a:
        assert a[layer].keys() == b[layer].keys()
        for w in a[layer]:
            np.testing.assert_allclose(a[layer][w], b[layer][w], rtol=rtol, atol=atol)


# ------------------------------------------------------------------ availability and refusals
def test_available_reports_version_and_device(tf_ready):
    assert tf_ready.startswith("TensorFlow ") and "Keras 3" in tf_ready
    assert tf_ready.endswith("on CPU") or "on GPU" in tf_ready


def sign_graph():
    return build_graph(
        from_dict(
            {
                "model": {
                    "input_shape": [2],
                    "layers": [
                        {
                            "class_name": "Dense",
                            "config": {"name": "p", "units": 1, "activation": "sign"},
                        }
                    ],
                }
            }
        )
    )


def test_perceptron_and_sign_are_refused_with_a_clear_message():
    from engine.backends.tensorflow import TensorFlowModel, unsupported_problems

    problems = unsupported_problems(sign_graph(), "perceptron")
    assert [(p.layer, p.field) for p in problems] == [
        (None, "compile.optimizer"),
        ("p", "activation"),
    ]
    with pytest.raises(ValidationError) as info:
        TensorFlowModel(sign_graph(), None, [], "perceptron")
    message = str(info.value)
    assert "Perceptron optimizer is NumPy-only" in message
    assert "layer 'p', field 'activation': activation 'sign' is NumPy-only" in message
    assert "choose the NumPy backend" in message
    with pytest.raises(ValidationError, match="'sign' is NumPy-only"):
        TensorFlowModel(sign_graph(), "mse", [], "sgd")
    assert unsupported_problems(mlp_graph(), "adam") == []


WITHOUT_TF = """
import sys
{shim}
from engine.backends.tensorflow import TensorFlowModel, tensorflow_available, tensorflow_installed
from engine.errors import BackendUnavailableError
from engine.project import from_dict
from engine.training import train_project
ok, message = tensorflow_available()
print("AVAILABLE", ok)
print("MESSAGE", message)
print("INSTALLED", tensorflow_installed())
project = from_dict({{
    "model": {{"input_shape": [2], "layers": [
        {{"class_name": "Dense", "config": {{"units": 4, "activation": "tanh"}}}},
        {{"class_name": "Dense", "config": {{"units": 2, "activation": "softmax"}}}}]}},
    "compile": {{"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}},
    "fit": {{"epochs": 2, "batch_size": 16}},
    "dataset": {{"name": "xor", "n_samples": 64}},
}})
model, trainer = train_project(project, backend="numpy")
print("NUMPY_TRAINED", len(trainer.history["loss"]))
from engine.graph import build_graph
try:
    TensorFlowModel(build_graph(project), "mse")
except BackendUnavailableError as exc:
    print("BUILD_ERROR", exc)
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
"""

BLOCK_IMPORT = """
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def run_without_tf(shim: str, extra_path: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT)) if p)
    r = subprocess.run(
        [sys.executable, "-c", WITHOUT_TF.format(shim=shim)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(ROOT),
    )
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def test_without_tensorflow_the_numpy_backend_still_trains():
    out = run_without_tf(BLOCK_IMPORT)
    assert out["AVAILABLE"] == "False" and out["INSTALLED"] == "False"
    assert out["MESSAGE"] == (
        "TensorFlow is not installed: no module named 'tensorflow'; the NumPy backend still "
        "works. Install with: pip install tensorflow"
    )
    assert out["NUMPY_TRAINED"] == "2"
    assert out["BUILD_ERROR"] == out["MESSAGE"]
    assert out["LOADED"] == "[]"


def test_a_broken_tensorflow_gives_one_clear_message(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        'raise ImportError("libcudnn.so.9: cannot open shared object file")\n'
    )
    out = run_without_tf("", extra_path=str(tmp_path))
    assert out["AVAILABLE"] == "False"
    assert out["MESSAGE"].startswith(
        "TensorFlow failed to import: ImportError: libcudnn.so.9: cannot open shared object file;"
    )
    assert out["MESSAGE"].endswith(
        "the NumPy backend still works. Install with: pip install tensorflow"
    )
    assert out["NUMPY_TRAINED"] == "2"
    assert out["BUILD_ERROR"] == out["MESSAGE"]


# ------------------------------------------------------------------ weights
def test_initial_weights_equal_numpy_and_round_trip(tf_ready):
    graph = mlp_graph()
    np_model, tf_model = both(graph, seed=7)
    assert_weights_close(tf_model.get_weights(), np_model.get_weights(), rtol=0)
    assert tf_model.keras_model.get_layer("hidden").kernel.shape == (4, 8)

    rng = np.random.default_rng(1)
    new = {
        layer: {w: rng.normal(size=a.shape) for w, a in ws.items()}
        for layer, ws in np_model.get_weights().items()
    }
    tf_model.set_weights(new)
    got = tf_model.get_weights()
    assert got["hidden"]["kernel"].dtype == np.float32
    assert_weights_close(got, new, rtol=1e-7)
    flat = tf_model.flat_weights()
    assert set(flat) == {"hidden/kernel", "hidden/bias", "out/kernel", "out/bias"}
    tf_model.set_flat_weights({k: v * 2 for k, v in flat.items()})
    np.testing.assert_array_equal(tf_model.flat_weights()["out/bias"], flat["out/bias"] * 2)

    with pytest.raises(DataError, match=r"layer 'out' kernel: expected shape \(8, 3\)"):
        tf_model.set_weights({**new, "out": {"kernel": np.zeros((3, 8)), "bias": np.zeros(3)}})
    with pytest.raises(DataError, match="no weights given for layer 'hidden'"):
        tf_model.set_weights({"out": new["out"]})

    tf_model.initialize(5)
    other = NumpyModel(graph, "sparse_categorical_crossentropy", [], "adam", "float32", 5)
    assert_weights_close(tf_model.get_weights(), other.get_weights(), rtol=0)


def test_predict_and_evaluate_match_numpy(tf_ready):
    np_model, tf_model = both(mlp_graph(), metrics=["accuracy", "mse"])
    x, y = classification_data(70)
    np.testing.assert_allclose(
        tf_model.predict(x, batch_size=32), np_model.predict(x), rtol=1e-5, atol=1e-6
    )
    got, want = tf_model.evaluate(x, y, batch_size=32), np_model.evaluate(x, y, batch_size=32)
    assert got.keys() == want.keys() == {"loss", "accuracy", "mse"}
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-6)
    assert tf_model.predict(x[:0]).shape == (0, 3)
    assert tf_model.evaluate(x[:0], y[:0]) == {}


# ------------------------------------------------------------------ the compiled fast path
FAST_PATH_OPTIMIZERS = [
    {"class_name": "Adam", "config": {"learning_rate": 0.01}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1, "clipnorm": 0.5}},
]


@pytest.mark.parametrize(
    "optimizer", FAST_PATH_OPTIMIZERS, ids=lambda o: o["class_name"] + str(len(o["config"]))
)
def test_train_steps_equal_numpy_steps_in_float64(tf_ready, optimizer):
    """Nine steps in three calls (4 + 4 + a ragged batch), against nine NumPy steps."""
    np_model, tf_model = both(
        mlp_graph(), optimizer=optimizer, dtype="float64", metrics=["accuracy"]
    )
    x, y = classification_data(100, dtype="float64")
    batches = [(x[i : i + 12], y[i : i + 12]) for i in range(0, 100, 12)]  # last one has 4
    want = [np_model.train_step(xb, yb) for xb, yb in batches]
    got = []
    for start in (0, 4, 8):
        chunk = batches[start : start + 4]
        got += tf_model.train_steps(
            [b[0] for b in chunk], [b[1] for b in chunk], epoch=1, first_step=start + 1
        )
    assert len(got) == len(want) == 9
    for g, w in zip(got, want, strict=True):
        assert g.loss == pytest.approx(w.loss, rel=1e-12)
        # the step's output comes back for the metrics, the same as NumPy's
        np.testing.assert_allclose(g.y_pred, w.y_pred, rtol=1e-10, atol=1e-13)
    assert_weights_close(tf_model.get_weights(), np_model.get_weights(), rtol=1e-10, atol=1e-13)
    assert int(tf_model.optimizer.iterations.numpy()) == np_model.optimizer.iterations == 9


def run_epochs(model, x, y, xv, yv, epochs=2, batch=16, shuffle=False, seed=0):
    trainer = Trainer(model, TrainingData(x, y, xv, yv), batch, shuffle, seed)
    events = list(trainer.run(epochs))
    return trainer, events


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-3), ("float64", 1e-9)])
def test_epochs_through_the_trainer_give_the_same_history(tf_ready, dtype, tol):
    graph = mlp_graph(n_in=4, hidden=16, out=3)
    np_model, tf_model = both(graph, dtype=dtype, metrics=["accuracy", "mae"])
    x, y = classification_data(150, dtype=dtype)
    xv, yv = classification_data(40, dtype=dtype, seed=1)
    t_np, ev_np = run_epochs(np_model, x, y, xv, yv)
    t_tf, ev_tf = run_epochs(tf_model, x, y, xv, yv)
    assert set(t_tf.history) == {"loss", "accuracy", "mae", "val_loss", "val_accuracy", "val_mae"}
    for key, values in t_np.history.items():
        np.testing.assert_allclose(t_tf.history[key], values, rtol=tol, atol=tol, err_msg=key)
    # The same events, step by step (the fast path runs several steps per call).
    assert [(e.kind, e.epoch, e.step) for e in ev_tf] == [(e.kind, e.epoch, e.step) for e in ev_np]
    steps_np = [e.batch_loss for e in ev_np if e.kind == "step"]
    steps_tf = [e.batch_loss for e in ev_tf if e.kind == "step"]
    np.testing.assert_allclose(steps_tf, steps_np, rtol=tol, atol=tol)
    assert_weights_close(tf_model.get_weights(), np_model.get_weights(), rtol=tol, atol=tol)


def test_same_seed_same_results_with_dropout(tf_ready):
    from engine.backends.tensorflow import TensorFlowModel

    graph = mlp_graph(dropout=0.5)
    x, y = classification_data(64)
    args = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="adam")
    runs = []
    for _ in range(2):
        model = TensorFlowModel(graph, seed=3, **args)
        trainer, _ = run_epochs(model, x, y, None, None, epochs=2, shuffle=True, seed=3)
        runs.append((trainer.history, model.flat_weights()))
    (h1, w1), (h2, w2) = runs
    assert h1 == h2
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    # initialize() rewinds weights, optimizer and dropout streams: the run repeats exactly.
    model.initialize(3)
    trainer, _ = run_epochs(model, x, y, None, None, epochs=2, shuffle=True, seed=3)
    assert trainer.history == h1
    # Another seed draws other masks (and other initial weights).
    other = TensorFlowModel(graph, seed=4, **args)
    trainer, _ = run_epochs(other, x, y, None, None, epochs=2, shuffle=True, seed=3)
    assert trainer.history != h1


def test_dropout_is_identity_at_inference_and_scaled_in_training(tf_ready):
    from engine.backends.tensorflow import TensorFlowModel

    graph = mlp_graph(n_in=4, hidden=400, dropout=0.3)
    model = TensorFlowModel(graph, "sparse_categorical_crossentropy", seed=1)
    x, y = classification_data(50)
    off = model.trace_compare(x, y, training=False)["outputs"]
    np.testing.assert_array_equal(off["drop"], off["hidden"])
    on = model.trace_compare(x, y, training=True)["outputs"]
    kept = on["drop"] != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02  # 20 000 draws
    np.testing.assert_allclose(on["drop"][kept], on["hidden"][kept] / 0.7, rtol=1e-6)
    again = model.trace_compare(x, y, training=True)["outputs"]
    np.testing.assert_array_equal(again["drop"], on["drop"])  # trace_compare rewinds dropout


# ------------------------------------------------------------------ non-finite values
def test_nonfinite_loss_stops_at_that_step_keeping_the_last_finite_weights(tf_ready):
    np_model, tf_model = both(mlp_graph(), optimizer="sgd")
    x, y = classification_data(64)
    xs = [x[i : i + 16].copy() for i in range(0, 64, 16)]
    ys = [y[i : i + 16] for i in range(0, 64, 16)]
    xs[2][3, 1] = np.nan
    for xb, yb in zip(xs[:2], ys[:2], strict=True):
        np_model.train_step(xb, yb)
    with pytest.raises(NonFiniteError) as info:
        tf_model.train_steps(xs, ys, epoch=2, first_step=5)
    err = info.value
    assert (err.epoch, err.step, err.layer, err.what) == (2, 7, "hidden", "the loss")
    assert "epoch 2, step 7: the loss in layer 'hidden' became non-finite" in str(err)
    assert_weights_close(tf_model.get_weights(), np_model.get_weights(), rtol=1e-5, atol=1e-7)


def test_nonfinite_gradient_names_the_first_layer_backwards(tf_ready):
    from engine.backends.tensorflow import TensorFlowModel

    graph = build_graph(
        from_dict(
            {
                "model": {
                    "input_shape": [2],
                    "layers": [
                        {"class_name": "Dense", "config": {"name": "first", "units": 1}},
                        {"class_name": "Dense", "config": {"name": "last", "units": 1}},
                    ],
                }
            }
        )
    )
    model = TensorFlowModel(graph, "mse", optimizer="sgd")
    # Tiny weights keep the output (and the loss) finite; the huge inputs overflow the first
    # layer's kernel gradient, x^T (dL/dz), in float32.
    weights = {
        "first": {"kernel": np.full((2, 1), 1e-20), "bias": np.zeros(1)},
        "last": {"kernel": np.ones((1, 1)), "bias": np.zeros(1)},
    }
    model.set_weights(weights)
    x = np.full((4, 2), 1e30, dtype=np.float32)
    y = np.zeros((4, 1), dtype=np.float32)
    with pytest.raises(NonFiniteError) as info:
        model.train_step(x, y, epoch=1, step=3)
    assert (info.value.step, info.value.layer, info.value.what) == (3, "first", "the gradient")
    assert_weights_close(model.get_weights(), weights, rtol=1e-7)  # as float32


def test_an_overflowing_update_is_undone(tf_ready):
    np_model, tf_model = both(
        mlp_graph(act="linear"), optimizer={"class_name": "SGD", "config": {"learning_rate": 1e38}}
    )
    x, y = classification_data(32)
    x *= 1000
    before = tf_model.get_weights()
    with pytest.raises(NonFiniteError) as info:
        tf_model.train_steps([x[:16], x[16:]], [y[:16], y[16:]], epoch=1, first_step=1)
    assert (info.value.step, info.value.what) == (1, "the weights")
    with pytest.raises(NonFiniteError) as np_info:
        np_model.train_step(x[:16], y[:16], epoch=1, step=1)
    assert info.value.layer == np_info.value.layer
    assert_weights_close(tf_model.get_weights(), before, rtol=0)
    # Through the trainer: an "end" event carrying the error, finite weights kept.
    trainer, events = run_epochs(tf_model, x, y, None, None, epochs=1)
    assert events[-1].kind == "end" and isinstance(events[-1].error, NonFiniteError)
    assert trainer.error is events[-1].error
    assert all(np.isfinite(w).all() for w in tf_model.flat_weights().values())


# ------------------------------------------------------------------ live use
def test_switching_backends_mid_training_carries_the_weights(tf_ready):
    graph = mlp_graph(hidden=16)
    np_model, tf_model = both(graph)
    x, y = classification_data(120)
    xv, yv = classification_data(40, seed=2)
    trainer = Trainer(np_model, TrainingData(x, y, xv, yv), 16, True, 0)
    list(trainer.run(1))
    tf_model.set_weights(np_model.get_weights())
    assert tf_model.evaluate(xv, yv) == pytest.approx(np_model.evaluate(xv, yv), rel=1e-5)
    trainer.model = tf_model  # weights only: the optimizer state restarts
    list(trainer.run(1))
    np_model.set_weights(tf_model.get_weights())
    assert_weights_close(np_model.get_weights(), tf_model.get_weights(), rtol=0)
    trainer.model = np_model
    list(trainer.run(1))
    assert trainer.epochs_done == 3 and len(trainer.history["val_loss"]) == 3
    assert trainer.history["loss"][2] < trainer.history["loss"][0]


@pytest.mark.parametrize(
    "optimizer",
    [
        {"class_name": "Adam", "config": {"learning_rate": 0.01}},
        {"class_name": "RMSprop", "config": {"learning_rate": 0.01, "centered": True}},
        {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    ],
    ids=lambda o: o["class_name"],
)
def test_switching_with_the_optimizer_state_continues_exactly(tf_ready, optimizer):
    """NumPy for an epoch, TensorFlow for the next, NumPy again: in float64 the history is
    that of three NumPy epochs, to rounding, when the optimizer state travels too."""
    graph = mlp_graph(hidden=16)
    np_model, tf_model = both(graph, optimizer=optimizer, dtype="float64")
    reference = NumpyModel(graph, **{**_ARGS, "optimizer": optimizer, "dtype": "float64"})
    x, y = classification_data(120, dtype="float64")
    xv, yv = classification_data(40, dtype="float64", seed=2)
    ref_trainer = Trainer(reference, TrainingData(x, y, xv, yv), 16, True, 0)
    list(ref_trainer.run(3))

    trainer = Trainer(np_model, TrainingData(x, y, xv, yv), 16, True, 0)
    list(trainer.run(1))
    tf_model.set_weights(np_model.get_weights())
    tf_model.set_optimizer_state(np_model.optimizer.get_state())
    trainer.model = tf_model
    list(trainer.run(1))
    state = tf_model.get_optimizer_state()
    assert state["iterations"] == 16 and set(state["slots"]) == set(tf_model.flat_weights())
    np_model.set_weights(tf_model.get_weights())
    np_model.optimizer.set_state(state)
    trainer.model = np_model
    list(trainer.run(1))
    for key, values in ref_trainer.history.items():
        np.testing.assert_allclose(trainer.history[key], values, rtol=1e-9, err_msg=key)
    assert_weights_close(np_model.get_weights(), reference.get_weights(), rtol=1e-8, atol=1e-12)
    with pytest.raises(DataError, match="optimizer slot"):
        bad = {"iterations": 1, "learning_rate": 0.1, "slots": {"out/bias": {}}}
        bad["slots"]["out/bias"] = dict.fromkeys(state["slots"]["out/bias"], np.zeros(5))
        tf_model.set_optimizer_state(bad)


def test_learning_rate_is_live(tf_ready):
    np_model, tf_model = both(mlp_graph(), optimizer="sgd")
    assert tf_model.learning_rate == pytest.approx(0.01)
    x, y = classification_data(32)
    tf_model.train_steps([x[:16]], [y[:16]])  # compiled before the change
    np_model.train_step(x[:16], y[:16])
    tf_model.learning_rate = np_model.learning_rate = 0.5
    assert tf_model.learning_rate == 0.5
    tf_model.train_steps([x[16:]], [y[16:]])
    np_model.train_step(x[16:], y[16:])
    assert_weights_close(tf_model.get_weights(), np_model.get_weights(), rtol=1e-5, atol=1e-7)


def test_layer_gradients_match_numpy_and_leave_training_alone(tf_ready):
    graph = mlp_graph(dropout=0.4)
    _, tf_model = both(graph)
    x, y = classification_data(32)
    plain = mlp_graph()
    np_plain = NumpyModel(plain, "sparse_categorical_crossentropy", [], "adam", "float32", 0)
    _, np_grads = np_plain.loss_and_grads(x, y)
    grads = tf_model.layer_gradients(x, y, training=False)
    assert set(grads) == {"hidden", "out"} and set(grads["out"]) == {"kernel", "bias"}
    for key, g in np_grads.items():
        layer, _, w = key.partition("/")
        np.testing.assert_allclose(grads[layer][w], g, rtol=1e-4, atol=1e-7)
    # Asking for gradients (dropout on) does not change what training does next.
    xs, ys = [x[:16], x[16:]], [y[:16], y[16:]]
    tf_model.initialize(0)
    tf_model.train_steps(xs, ys)
    undisturbed = tf_model.flat_weights()
    tf_model.initialize(0)
    before = tf_model.flat_weights()
    tf_model.layer_gradients(x, y)
    tf_model.trace_compare(x, y, training=True)
    for k, v in tf_model.flat_weights().items():
        np.testing.assert_array_equal(v, before[k])
    tf_model.train_steps(xs, ys)
    for k, v in tf_model.flat_weights().items():
        np.testing.assert_array_equal(v, undisturbed[k])


def test_steps_per_call_starts_from_the_flops_and_adapts_within_bounds(tf_ready):
    from engine.backends.tensorflow import initial_steps_per_call

    assert initial_steps_per_call(mlp_graph()) == 32
    assert initial_steps_per_call(mlp_graph(n_in=784, hidden=128, out=10)) == 16  # seed MLP
    assert initial_steps_per_call(mlp_graph(n_in=4096, hidden=4096, out=4096)) == 1
    _, tf_model = both(mlp_graph())
    x, y = classification_data(96)
    assert tf_model.steps_per_call == 32
    trainer = Trainer(tf_model, TrainingData(x, y, None, None), 4, False, 0)
    events = list(trainer.run(2))  # the first call traces: only later calls are measured
    assert [e.step for e in events if e.kind == "step"] == list(range(1, 25)) * 2
    k = tf_model.steps_per_call
    assert 1 <= k <= 32 and k & (k - 1) == 0


def test_import_does_not_load_tensorflow():
    code = textwrap.dedent(
        """
        import sys
        import engine.backends.tensorflow, engine.parity
        from engine.backends.tensorflow import tensorflow_installed
        tensorflow_installed()
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_unavailable_error_is_the_engine_family():
    from engine.backends.tensorflow.runtime import _unavailable

    err = _unavailable("failed to import", "OSError: bad\n  ELF header")
    assert isinstance(err, BackendUnavailableError)
    assert str(err) == (
        "TensorFlow failed to import: OSError: bad ELF header; the NumPy backend still works. "
        "Install with: pip install tensorflow"
    )
