"""The gradient check: correct networks pass (untrained, trained, and trained until their
gradients sit at round-off), wrong backward passes fail, bad options exit 2."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.backends.numpy import model as model_mod
from engine.backends.numpy.model import NumpyModel
from engine.cli import main
from engine.gradcheck import FAIL, PASS, SKIPPED, TOO_SMALL, grade, gradient_check
from engine.graph import build_graph
from engine.project import from_dict, load_project, save_project
from engine.training import build_model, load_training_data
from engine.validate import check_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
#: Every shipped example with a gradient, and epochs that train it well past its first steps
#: (iris and spiral for their full run: that is where the gradients become tiny).
TRAINED_EPOCHS = {
    "iris": 50,
    "spiral": 200,
    "xor": 60,
    "skip_connection": 5,
    "seed_mlp_digits": 3,
}


def first_batch(project, n: int = 8):
    """A float64 model of ``project`` and the first ``n`` training samples (as the CLI)."""
    project.data["dtype"] = "float64"
    project.data["fit"] = dict(project.fit, validation_split=0.0)
    graph = check_project(project)
    data = load_training_data(project, graph)
    return build_model(project, graph, backend="numpy"), data.x_train[:n], data.y_train[:n]


def train_to(tmp_path: Path, name: str, epochs: int) -> Path:
    out = tmp_path / f"{name}.nnd"
    argv = ["train", str(EXAMPLES / f"{name}.json"), "-o", str(out), "--quiet"]
    assert main([*argv, "--epochs", str(epochs)]) == 0
    return out


def sharpened(path: Path, tmp_path: Path, factor: float = 8.0) -> Path:
    """The trained project with its output layer scaled: a network that is still correct, only
    far more confident, so that its gradients are ~1e-13 or less and its loss rounds to 0."""
    project = load_project(path)
    out_layer = check_project(project).output
    for key in project.weights:
        if key.startswith(f"{out_layer}/"):
            project.weights[key] = project.weights[key] * factor
    out = tmp_path / f"sharp-{path.name}"
    save_project(project, out)
    return out


def broken_backward(monkeypatch, layer: str | None, fn) -> None:
    """Make the backward pass of ``layer`` (every layer when None) return fn(kernel grad)."""
    real = model_mod.NumpyModel._backward_node

    def broken(self, node, c, grad_a, grad_z, need):
        gins, wgrads, gz = real(self, node, c, grad_a, grad_z, need)
        if "kernel" in wgrads and (layer is None or node.name == layer):
            wgrads = dict(wgrads, kernel=fn(wgrads["kernel"]))
        return gins, wgrads, gz

    monkeypatch.setattr(model_mod.NumpyModel, "_backward_node", broken)


# --------------------------------------------------------------------------------- correct nets
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRAINED_EPOCHS))
def test_every_example_passes_untrained_and_trained(name, tmp_path, capsys):
    assert main(["gradcheck", str(EXAMPLES / f"{name}.json")]) == 0
    assert "PASSED" in capsys.readouterr().out
    trained = train_to(tmp_path, name, TRAINED_EPOCHS[name])
    assert main(["gradcheck", str(trained)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "PASSED" in out and "FAIL" not in out
    # The checked figures themselves, not only the exit status.
    model, x, y = first_batch(load_project(trained))
    checks = gradient_check(model, x, y)
    assert all(c.verdict in (PASS, TOO_SMALL) for c in checks), checks
    assert any(c.verdict == PASS for c in checks)
    assert max(c.max_rel_error for c in checks) < 1e-6


def test_the_perceptron_has_no_gradient_exit_2(capsys):
    assert main(["gradcheck", str(EXAMPLES / "perceptron.json")]) == 2
    err = capsys.readouterr().err
    assert "no gradient" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def trained_iris(tmp_path_factory):
    return train_to(tmp_path_factory.mktemp("iris"), "iris", 50)


def test_trained_iris_with_tiny_gradients_passes_where_the_old_check_failed(trained_iris):
    """The issue's case: the trained iris failed with 2.8e-2 (relative error of round-off on
    gradients of ~1e-12). Its gradients are that small here too, and it passes."""
    model, x, y = first_batch(load_project(trained_iris))
    _, grads = model.loss_and_grads(x, y)
    smallest = min(float(np.abs(g).min()) for g in grads.values())
    assert smallest < 1e-10  # the premise: some gradients sit at round-off
    checks = gradient_check(model, x, y)
    assert all(c.verdict == PASS for c in checks), checks
    assert sum(c.too_small for c in checks) > 0  # ... and those are said to be too small
    # A fixed 1e-6 step and a plain relative error read the same network as broken.
    old = max(_plain_relative_error(model, x, y, key) for key in grads)
    assert old > 1e-3


def _plain_relative_error(model, x, y, key: str, eps: float = 1e-6) -> float:
    _, grads = model.loss_and_grads(x, y)
    flat = model.weight_arrays()[key].reshape(-1)
    worst = 0.0
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = model.loss_and_grads(x, y)[0]
        flat[i] = old - eps
        minus = model.loss_and_grads(x, y)[0]
        flat[i] = old
        n, a = (plus - minus) / (2 * eps), float(grads[key].reshape(-1)[i])
        worst = max(worst, abs(n - a) / max(abs(n), abs(a), 1e-10))
    return worst


def test_a_confident_spiral_is_too_small_to_judge_never_failed(tmp_path, capsys):
    """Trained spiral, made confident: its loss rounds to exactly 0 and every gradient is below
    1e-13. The old check said FAIL with 8.8e-1 on every layer."""
    trained = sharpened(train_to(tmp_path, "spiral", 60), tmp_path)
    model, x, y = first_batch(load_project(trained), n=1)
    loss, grads = model.loss_and_grads(x, y)
    assert 0 < max(float(np.abs(g).max()) for g in grads.values()) < 1e-13
    checks = gradient_check(model, x, y)
    assert [c.verdict for c in checks] == [TOO_SMALL] * len(checks)
    assert all(c.too_small == c.checked > 0 for c in checks)
    assert main(["gradcheck", str(trained), "--batch-size", "1"]) == 0
    out = capsys.readouterr().out
    assert "TOO SMALL TO JUDGE" in out and "FAIL" not in out
    assert out.count("too small to judge") == len(checks)  # one per weight array


def test_floor_follows_the_loss_round_off():
    """A larger loss scale means more round-off: the floor grows with it (and with nothing
    the analytic side could influence)."""
    rng = np.random.default_rng(0)
    model = _mlp(["tanh"], "mean_squared_error", seed=1)
    x = rng.normal(size=(6, 3))
    small = gradient_check(model, x, rng.normal(size=(6, 2)), entries=8)
    big = gradient_check(model, x, 1e6 * rng.normal(size=(6, 2)), entries=8)
    assert all(b.floor > 100 * s.floor for s, b in zip(small, big, strict=True))
    assert all(c.verdict == PASS for c in small + big)


def _mlp(acts, loss="mean_squared_error", units=4, seed=0, out_act="linear", k=2):
    layers = [
        {"class_name": "Dense", "config": {"name": f"h{i}", "units": units, "activation": a}}
        for i, a in enumerate(acts)
    ]
    layers.append(
        {"class_name": "Dense", "config": {"name": "out", "units": k, "activation": out_act}}
    )
    graph = build_graph(from_dict({"model": {"input_shape": [3], "layers": layers}}))
    return NumpyModel(graph, loss, [], "sgd", "float64", seed)


LOSSES = {
    "mean_squared_error": ("linear", lambda r, n, k: r.normal(size=(n, k))),
    "mean_absolute_error": ("tanh", lambda r, n, k: r.normal(size=(n, k))),
    "hinge": ("tanh", lambda r, n, k: r.choice([-1.0, 1.0], size=(n, k))),
    "binary_crossentropy": ("sigmoid", lambda r, n, k: r.integers(0, 2, (n, k)).astype(float)),
    "categorical_crossentropy": ("softmax", lambda r, n, k: np.eye(k)[r.integers(0, k, n)]),
    "sparse_categorical_crossentropy": ("softmax", lambda r, n, k: r.integers(0, k, n)),
}


SMOOTHISH = ["tanh", "sigmoid", "relu", "elu", "selu", "gelu"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    acts=st.lists(
        st.sampled_from(["tanh", "sigmoid", "relu", "elu", "selu", "gelu"]), min_size=1, max_size=2
    ),
    loss=st.sampled_from(sorted(LOSSES)),
    weight_scale=st.sampled_from([0.1, 1.0, 3.0, 10.0, 40.0]),
    seed=st.integers(0, 2**16),
)
def test_correct_networks_never_fail_at_any_weight_scale(acts, loss, weight_scale, seed):
    """Large weights stand for trained or saturated networks (gradients down to round-off and
    below); whatever the scale, a correct backward pass is never FAIL."""
    out_act, targets = LOSSES[loss]
    model = _mlp(acts, loss, seed=seed, out_act=out_act, k=3)
    for arr in model.weight_arrays().values():
        arr *= weight_scale
    rng = np.random.default_rng(seed)
    checks = gradient_check(model, rng.normal(size=(5, 3)), targets(rng, 5, 3), entries=6)
    assert all(c.verdict != FAIL for c in checks), checks


def test_kinks_of_activations_and_losses_are_skipped_not_failed():
    rng = np.random.default_rng(5)
    # hard_sigmoid's kinks are at ±3: inputs that put pre-activations right at 3.
    model = _mlp(["hard_sigmoid"], units=3, seed=2)
    model.weight_arrays()["h0/kernel"][...] = 0.0
    model.weight_arrays()["h0/bias"][...] = 3.0
    checks = gradient_check(model, rng.normal(size=(4, 3)), rng.normal(size=(4, 2)))
    assert sum(c.skipped for c in checks) > 0
    assert all(c.verdict != FAIL for c in checks)
    # Mean absolute error with targets equal to the outputs: |ŷ − y| has its kink there.
    model = _mlp(["tanh"], "mean_absolute_error", seed=3)
    x = rng.normal(size=(4, 3))
    y = model.forward(x)[0].copy()
    checks = gradient_check(model, x, y)
    assert all(c.verdict == SKIPPED and c.checked == 0 for c in checks)


def test_the_same_seed_checks_the_same_entries():
    rng = np.random.default_rng(6)
    model = _mlp(["tanh"], units=12)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    a, b = gradient_check(model, x, y, entries=5), gradient_check(model, x, y, entries=5)
    assert a == b
    assert gradient_check(model, x, y, entries=5, seed=1) != a


def test_grade():
    assert grade(1e-9, 4) == PASS and grade(2e-6, 4) == FAIL and grade(2e-6, 4, rtol=1e-5) == PASS
    assert grade(math.nan, 4) == FAIL and grade(math.nan, 4, 4) == FAIL
    assert grade(0.0, 4, 4) == TOO_SMALL and grade(0.0, 0) == SKIPPED


# --------------------------------------------------------------------------------- wrong grads
@pytest.fixture(scope="module")
def trained_spiral(tmp_path_factory):
    return train_to(tmp_path_factory.mktemp("spiral"), "spiral", 60)


@pytest.mark.parametrize(
    "how, fn",
    [
        ("scaled by 1.01", lambda g: g * 1.01),
        ("plus 1e-4", lambda g: g + 1e-4),
        ("the largest entry's sign", lambda g: np.where(np.abs(g) == np.abs(g).max(), -g, g)),
    ],
)
@pytest.mark.parametrize(
    "net", ["xor", "spiral", "skip_connection", "trained iris", "trained spiral"]
)
def test_a_broken_backward_pass_fails(net, how, fn, monkeypatch, trained_iris, trained_spiral):
    if net.startswith("trained"):
        path = trained_iris if net.endswith("iris") else trained_spiral
    else:
        path = EXAMPLES / f"{net}.json"
    project = load_project(path)
    model, x, y = first_batch(project)
    layers = [n.name for n in model.graph.nodes if n.class_name == "Dense"]
    target = layers[0] if how != "the largest entry's sign" else layers[-1]
    # The check picks the largest gradients first, so one wrong entry cannot hide.
    broken_backward(monkeypatch, target, fn)
    checks = {f"{c.layer}/{c.weight}": c for c in gradient_check(model, x, y)}
    assert checks[f"{target}/kernel"].verdict == FAIL, (how, checks[f"{target}/kernel"])
    # The other layers' gradients are still right (the wrong kernel gradient is not passed on).
    others = [c for k, c in checks.items() if not k.startswith(f"{target}/")]
    assert all(c.verdict != FAIL for c in others)


def test_a_broken_backward_pass_exits_1_with_fail(monkeypatch, trained_iris, capsys):
    broken_backward(monkeypatch, None, lambda g: g * 1.01)
    assert main(["gradcheck", str(trained_iris)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "FAIL" in out.splitlines()[2]


def test_a_broken_activation_derivative_fails(monkeypatch):
    from engine import activations

    real = activations.Activation.backward

    def off(self, z, a, grad_a):
        return real(self, z, a, grad_a) * 1.001

    monkeypatch.setattr(activations.Activation, "backward", off)
    rng = np.random.default_rng(7)
    model = _mlp(["tanh"], seed=4)
    checks = gradient_check(model, rng.normal(size=(6, 3)), rng.normal(size=(6, 2)))
    assert {c.layer for c in checks if c.verdict == FAIL} == {"h0"}


# --------------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--entries", "-5", "--entries must be at least 1"),
        ("--entries", "0", "--entries must be at least 1"),
        ("--tolerance", "nan", "--tolerance must be a number above 0"),
        ("--tolerance", "-0.001", "--tolerance must be a number above 0"),
        ("--tolerance=-1e-6", None, "--tolerance must be a number above 0"),
        ("--tolerance", "0", "--tolerance must be a number above 0"),
        ("--tolerance", "inf", "--tolerance must be a number above 0"),
        ("--batch-size", "0", "--batch-size must be at least 1"),
        ("--batch-size", "-3", "--batch-size must be at least 1"),
    ],
)
def test_bad_options_exit_2_with_a_message(option, value, words, capsys):
    args = [option] if value is None else [option, value]
    assert main(["gradcheck", str(EXAMPLES / "xor.json"), *args]) == 2
    captured = capsys.readouterr()
    assert words in captured.err and "Traceback" not in captured.err and not captured.out


def test_the_tolerance_option_is_the_relative_tolerance(monkeypatch, capsys):
    path = str(EXAMPLES / "xor.json")
    broken_backward(monkeypatch, "hidden", lambda g: g * (1 + 1e-5))
    assert main(["gradcheck", path]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["gradcheck", path, "--tolerance", "1e-4"]) == 0
    assert "PASSED" in capsys.readouterr().out
    monkeypatch.undo()
    assert main(["gradcheck", path, "--entries", "2"]) == 0
    out = capsys.readouterr().out
    assert "checked  too small  kink" in out and "hidden/kernel        2" in out
