"""The step-through session and the math explanations: the seed's Perceptron rule, weights
that change only with the update, equality with a normal training step, merges, the checks,
the saved trace, and every number of an explanation equal to the trace."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from support.trace_numbers import trace_numbers

from engine.errors import BackendUnavailableError, NNDError
from engine.explain import Num, explain_neuron, explain_weight, fmt
from engine.graph import INPUT
from engine.project import from_dict, load_project
from engine.stepper import StepSession, gradcheck_grade
from engine.training import build_model, load_training_data
from engine.validate import check_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def example(name: str):
    return load_project(EXAMPLES / f"{name}.json")


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def check_numbers(session: StepSession, exp, upto: int | None = None) -> int:
    """Every trace number shown equals the trace, is written with fmt, and was reached."""
    assert all(isinstance(num, Num) for num in exp.numbers())
    return len(trace_numbers(session, exp, session.index if upto is None else upto))


# --------------------------------------------------------------------------------- perceptron
class SeedPerceptron:
    """The seed document's Perceptron, its fit() loop unrolled one sample at a time."""

    def __init__(self, learning_rate: float, n_features: int) -> None:
        self.learning_rate = learning_rate
        self.weights = np.zeros(1 + n_features)

    def net_input(self, X):
        return np.dot(X, self.weights[1:]) + self.weights[0]

    def predict(self, X):
        return np.where(self.net_input(X) >= 0.0, 1, -1)

    def learn(self, xi, target) -> None:
        update = self.learning_rate * (target - self.predict(xi))
        self.weights[1:] += update * xi
        self.weights[0] += update


def test_perceptron_steps_sample_by_sample_with_the_seeds_rule():
    session = StepSession(example("perceptron"), batch_size=8)
    assert session.batch_size == 1  # the rule is per sample
    assert session.strip() == [
        "Forward perceptron",
        "Loss",
        "Backward perceptron",
        "Update perceptron",
    ]
    seed = SeedPerceptron(0.01, 2)
    x, t = session.data.x_train, session.data.y_train.reshape(-1)
    changed = 0
    for k in range(30):
        assert session.batch_indices.tolist() == [k]
        before = session.model.get_weights()
        prediction = seed.predict(x[k])
        seed.learn(x[k], t[k])
        session.next()
        session.next()
        loss = session.current
        assert loss.phase == "loss"
        assert loss.data["value"] == float(prediction != t[k])
        session.next()
        session.next()
        assert session.at_end
        w = session.model.get_weights()["perceptron"]
        np.testing.assert_array_equal(w["kernel"][:, 0], seed.weights[1:])
        np.testing.assert_array_equal(w["bias"], seed.weights[:1])
        changed += not weights_equal(before["perceptron"], w)
        update = session.current.data
        np.testing.assert_array_equal(update["after"]["kernel"][:, 0], seed.weights[1:])
        exp = explain_weight(session, "perceptron", 0, 0)
        assert "w₁,₁ ← w₁,₁ + η·(t − ŷ)·x₁" in exp.text()
        check_numbers(session, exp)
        check_numbers(session, explain_neuron(session, "perceptron", 0, 0))
        session.next_step()
    assert changed > 0  # some samples were misclassified and moved the weights


def test_perceptron_explanation_shows_the_rule_with_the_numbers():
    session = StepSession(example("perceptron"))
    session.run_to_end()
    exp = explain_neuron(session, "perceptron", 0, 0)
    text = exp.text()
    fwd = session.phases[0].data
    assert f"= {fmt(fwd['z'][0, 0])}" in text
    assert "ŷ = 1 if net ≥ 0 else −1" in text
    assert "b ← b + η·(t − ŷ)" in text
    after = session.phases[-1].data["after"]["bias"][0]
    assert f"= {fmt(after)}" in text


# --------------------------------------------------------------------------------- XOR
def test_xor_previous_and_next_never_change_the_weights_before_the_update():
    project = example("xor")
    session = StepSession(project)
    w0 = session.model.flat_weights()
    opt0 = session.model.optimizer.get_state()
    moves = ["n", "n", "p", "n", "n", "n", "p", "p", "p", "n", "n", "n", "n", "n", "p", "n"]
    seen: dict[int, object] = {}
    last = session.total_phases - 1
    for move in moves:
        session.next() if move == "n" else session.previous()
        if session.index >= 0:
            # Previous re-shows the same event object: nothing was recomputed.
            seen.setdefault(session.index, session.current)
            assert session.current is seen[session.index]
        if not (session.index == last and session.committed):
            assert weights_equal(session.model.flat_weights(), w0)
            assert session.model.optimizer.iterations == opt0["iterations"]
    assert session.index == last - 1
    assert weights_equal(session.model.flat_weights(), w0)
    session.next()
    assert session.at_end and session.committed

    # The same batch on a fresh model with a normal training step: equal bit for bit.
    graph = check_project(project)
    data = load_training_data(project, graph)
    fresh = build_model(project, graph, "numpy")
    fresh.train_step(data.x_train[:1], data.y_train[:1])
    assert weights_equal(session.model.flat_weights(), fresh.flat_weights())
    # Going back after the update shows old phases but changes nothing.
    after = session.model.flat_weights()
    for _ in range(4):
        session.previous()
    assert weights_equal(session.model.flat_weights(), after)
    session.run_to_end()
    assert weights_equal(session.model.flat_weights(), after)


def test_xor_steps_walk_the_training_set_in_order_and_equal_training_steps():
    project = example("xor")
    session = StepSession(project, batch_size=64)
    graph = check_project(project)
    data = load_training_data(project, graph)
    fresh = build_model(project, graph, "numpy")
    n = len(data.x_train)
    expected = [np.arange(0, 64), np.arange(64, 128), np.r_[np.arange(128, n), np.arange(0, 32)]]
    for k, rows in enumerate(expected):
        assert session.step_number == k + 1
        assert session.batch_indices.tolist() == rows.tolist()
        np.testing.assert_array_equal(session.batch_x, data.x_train[rows])
        fresh.train_step(data.x_train[rows], data.y_train[rows])
        session.next_step()  # runs the step to its end first
        assert weights_equal(session.model.flat_weights(), fresh.flat_weights())


def test_batch_size_changes_apply_to_the_next_step_and_reset_starts_over():
    session = StepSession(example("xor"))
    w0 = session.model.flat_weights()
    session.batch_size = 3
    assert len(session.batch_x) == 1
    session.rebatch()  # nothing computed yet: the step can take the new size
    assert session.batch_indices.tolist() == [0, 1, 2] and session.step_number == 1
    session.next()
    with pytest.raises(NNDError):
        session.rebatch()
    session.next_step()
    session.next_step()
    assert session.step_number == 3 and session.batch_indices.tolist() == [6, 7, 8]
    session.reset()
    assert session.step_number == 1 and session.index == -1
    assert session.batch_indices.tolist() == [0, 1, 2]
    assert weights_equal(session.model.flat_weights(), w0)
    with pytest.raises(NNDError):
        session.batch_size = 0


def test_xor_explanations_equal_the_trace_at_every_phase():
    session = StepSession(example("xor"), batch_size=2)
    total = 0
    for _ in range(session.total_phases + 1):
        items = [explain_neuron(session, INPUT, 1, 0)]
        for layer, units in (("hidden", 4), ("output", 1)):
            for u in range(units):
                for sample in (0, 1):
                    items.append(explain_neuron(session, layer, sample, u))
        for i, j in ((0, 0), (1, 3)):
            items.append(explain_weight(session, "hidden", i, j, sample=1))
        items.append(explain_weight(session, "output", 2, 0))
        for exp in items:
            total += check_numbers(session, exp)
        session.next()
    assert total > 500


def test_xor_math_of_a_hidden_neuron_reads_like_the_textbook():
    session = StepSession(example("xor"))
    session.run_to_end()
    fwd, bwd = session.phases[0].data, session.phases[4].data
    w = session.weights_before["hidden"]["kernel"]
    x = fwd["inputs"][0]
    exp = explain_neuron(session, "hidden", 0, 1)
    text = exp.text()
    assert "z₂ = w₁,₂·x₁ + w₂,₂·x₂ + b₂" in text
    assert f"= {fmt(w[0, 1])}·{fmt(x[0])} + {fmt(w[1, 1])}·({fmt(x[1])}) + 0" in text
    assert f"= {fmt(fwd['z'][0, 1])}" in text
    assert f"tanh({fmt(fwd['z'][0, 1])})" in text
    assert f"= {fmt(fwd['a'][0, 1])}" in text
    assert f"= {fmt(bwd['grad_z'][0, 1])}" in text
    assert "δ₂ = ∂L/∂z₂ = ∂L/∂a₂ · f′(z₂)" in text
    # The output's δ for the fused sigmoid + binary cross-entropy: (ŷ − y)/(n·k).
    out = explain_neuron(session, "output", 0, 0).text()
    assert "∂L/∂z = (ŷ − y) / (n·k)" in out
    assert "L = mean of ℓ over the batch and outputs" in out
    loss = session.phases[2].data["value"]
    assert f"= {fmt(loss)}" in out
    # Adam's update with Keras' α form and the real hyper-parameters.
    wexp = explain_weight(session, "hidden", 1, 0).text()
    assert "α = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)" in wexp
    assert "= 0.03·√(1 − 0.999¹) / (1 − 0.9¹)" in wexp
    after = session.phases[5].data["after"]["kernel"][1, 0]
    assert f"= {fmt(after)}" in wexp.splitlines()[-1]


def test_explanations_show_only_what_was_reached():
    session = StepSession(example("xor"))
    exp = explain_neuron(session, "hidden", 0, 0)
    assert [s.phase for s in exp.sections] == ["forward"] and not exp.numbers()
    session.next()
    assert [s.phase for s in explain_neuron(session, "hidden", 0, 0).sections] == ["forward"]
    session.run_to_end()
    full = explain_neuron(session, "hidden", 0, 0)
    assert [s.phase for s in full.sections] == ["forward", "backward", "update"]
    earlier = explain_neuron(session, "hidden", 0, 0, phase=2)
    assert [s.phase for s in earlier.sections] == ["forward"]
    check_numbers(session, earlier, upto=2)


# --------------------------------------------------------------------------------- merges
def test_merge_graph_splits_the_error_at_add_and_sums_it_at_the_fan_out():
    session = StepSession(example("skip_connection"), batch_size=4)
    session.run_to_end()
    bwd = {ev.layer: ev.data for ev in session.phases if ev.phase == "backward"}
    skip = bwd["skip"]
    assert isinstance(skip["grad_inputs"], list) and len(skip["grad_inputs"]) == 2
    for g in skip["grad_inputs"]:
        np.testing.assert_array_equal(g, skip["grad_a"])  # Add copies the error
    # stem feeds branch and skip: its error is the sum of what both send back.
    np.testing.assert_array_equal(
        bwd["stem"]["grad_a"], bwd["branch"]["grad_inputs"] + skip["grad_inputs"][0]
    )
    text = explain_neuron(session, "skip", 1, 3).text()
    assert "Add splits the error" in text
    assert "∂L/∂stem₄ = ∂L/∂a₄" in text and "∂L/∂branch₄ = ∂L/∂a₄" in text
    stem = explain_neuron(session, "stem", 1, 3)
    stem_text = stem.text()
    assert "∂L/∂a₄ via branch" in stem_text and "∂L/∂a₄ via skip" in stem_text
    assert "(fan-out)" in stem_text
    parts = [fmt(bwd["branch"]["grad_inputs"][1, 3]), fmt(skip["grad_inputs"][0][1, 3])]
    total = fmt(bwd["stem"]["grad_a"][1, 3])
    assert any(parts[0] in ln and total not in ln for ln in stem_text.splitlines())
    assert f"= {total}" in stem_text
    check_numbers(session, stem)
    check_numbers(session, explain_neuron(session, "output", 2, 1))
    check_numbers(session, explain_weight(session, "output", 5, 1, sample=3))


def layer(cls, name, inbound=None, **config):
    out = {"class_name": cls, "config": {"name": name, **config}}
    if inbound is not None:
        out["inbound"] = inbound
    return out


def small_project(layers, loss, optimizer, dataset=None, input_shape=(2,), dtype="float64"):
    return from_dict(
        {
            "format_version": 1,
            "name": "test",
            "model": {"input_shape": list(input_shape), "layers": layers},
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": []},
            "fit": {"batch_size": 4, "validation_split": 0.0, "shuffle": False, "seed": 3},
            "dataset": dataset or {"name": "moons", "n_samples": 40},
            "dtype": dtype,
        }
    )


OPTIMIZERS = [
    {"class_name": "SGD", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
    {"class_name": "RMSprop", "config": {"learning_rate": 0.01}},
    {"class_name": "RMSprop", "config": {"momentum": 0.5, "centered": True}},
    {"class_name": "Adagrad", "config": {"learning_rate": 0.1}},
    {"class_name": "SGD", "config": {"learning_rate": 0.1, "clipnorm": 0.01}},
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: str(o["config"]))
def test_every_optimizer_update_is_explained_with_its_slots(optimizer):
    layers = [layer("Dense", "h", units=3, activation="tanh"), layer("Dense", "out", units=1,
              activation="sigmoid")]  # fmt: skip
    session = StepSession(small_project(layers, "binary_crossentropy", optimizer), batch_size=2)
    session.next_step()  # the second step starts from non-zero slots
    session.run_to_end()
    for j in range(3):
        exp = explain_weight(session, "h", 1, j, sample=1)
        assert exp.section("update") is not None
        check_numbers(session, exp)
        check_numbers(session, explain_neuron(session, "h", 1, j))
    text = explain_weight(session, "h", 0, 0).text()
    cls = optimizer["class_name"]
    assert "w₁,₁ ← " in text
    assert {"SGD": "w₁,₁ ←", "Adam": "v̂ ←", "RMSprop": "v ←", "Adagrad": "s ←"}[cls] in text
    if optimizer["config"].get("clipnorm"):
        assert "g′ = clip(g)" in text
    if optimizer["config"].get("momentum"):
        assert "m ← " in text


def test_sgd_update_line_reproduces_the_new_weight():
    layers = [layer("Dense", "out", units=1, activation="linear")]
    data = {"name": "diabetes"}
    project = small_project(layers, "mse", {"class_name": "SGD", "config": {"learning_rate": 0.01}},
                            dataset=data, input_shape=(10,))  # fmt: skip
    session = StepSession(project)
    session.run_to_end()
    up = session.phases[-1].data
    g = session.phases[2].data["grad_kernel"][4, 0]
    assert up["after"]["kernel"][4, 0] == up["before"]["kernel"][4, 0] - 0.01 * g
    text = explain_weight(session, "out", 4, 0).text()
    assert f"= {fmt(up['before']['kernel'][4, 0])} − 0.01·" in text
    loss = explain_neuron(session, "out", 0, 0).text()
    assert "(ŷ₁ − y₁)²" in loss and "2(ŷ − y) / (n·k)" in loss


LOSS_CASES = [
    ("mean_squared_error", "linear", 2, None),
    ("mean_absolute_error", "tanh", 2, None),
    ("hinge", "tanh", 1, None),
    ("binary_crossentropy", "sigmoid", 1, None),
    ("categorical_crossentropy", "softmax", 2, None),
    ("sparse_categorical_crossentropy", "softmax", 2, None),
    ("sparse_categorical_crossentropy", "relu", 2, "gelu"),
    ("categorical_crossentropy", "sigmoid", 2, "softsign"),
    ("mean_squared_error", "softmax", 2, "elu"),
]


@pytest.mark.parametrize("loss,out_act,units,hidden_act", LOSS_CASES)
def test_every_loss_activation_and_layer_is_explained(loss, out_act, units, hidden_act):
    layers = [
        layer("Dense", "a", units=3, activation=hidden_act or "relu"),
        layer("Dropout", "drop", rate=0.5),
        layer("Dense", "b", inbound=["input"], units=2, activation="sigmoid"),
        layer("Concatenate", "cat", inbound=["drop", "b"]),
        layer("Activation", "act", activation="swish"),
        layer("Dense", "out", units=units, activation=out_act),
    ]
    session = StepSession(small_project(layers, loss, "adam"), batch_size=3)
    assert session.strip()[:6] == [
        "Forward a", "Forward drop", "Forward b", "Forward cat", "Forward act", "Forward out",
    ]  # fmt: skip
    while not session.at_end:
        session.next()
        for name, n in (("a", 3), ("drop", 3), ("b", 2), ("cat", 5), ("act", 5), ("out", units)):
            for u in range(n):
                check_numbers(session, explain_neuron(session, name, 2, u))
        check_numbers(session, explain_weight(session, "out", 4, units - 1, sample=2))
    drop = session.phases[1].data
    assert "mask" in drop
    text = explain_neuron(session, "drop", 0, 0).text()
    assert "Dropout mask m = 0 (dropped) or 1/(1 − rate) = 2" in text
    assert "concatenate" in explain_neuron(session, "cat", 0, 4).text().lower()
    # With dropout, stepping to the end still equals a training step from the same state.
    graph = check_project(session.project)
    fresh = build_model(session.project, graph, "numpy", weights=False)
    fresh.train_step(session.batch_x, session.batch_y)
    assert weights_equal(session.model.flat_weights(), fresh.flat_weights())


# --------------------------------------------------------------------------------- checks
@pytest.mark.parametrize("name", ["xor", "skip_connection"])
def test_check_gradients_reports_small_errors(name):
    session = StepSession(example(name), batch_size=4)
    session.next_step()  # any step: the check uses the step's own starting weights
    session.next()
    w = session.model.flat_weights()
    checks = session.check_gradients()
    assert weights_equal(session.model.flat_weights(), w)
    assert {f"{c.layer}/{c.weight}" for c in checks} == set(w)
    for c in checks:
        assert c.checked + c.skipped > 0
        assert c.max_rel_error < 1e-6, c
        assert gradcheck_grade(c.max_rel_error, c.checked, c.too_small) in ("pass", "skipped")
    assert gradcheck_grade(3e-5) == "warn" and gradcheck_grade(0.2) == "fail"
    assert gradcheck_grade(float("nan")) == "fail" and gradcheck_grade(0.0, 0) == "skipped"
    # Every entry at the round-off floor: no verdict against the network, never "fail".
    assert gradcheck_grade(0.0, 5, 5) == "too small to judge"
    assert gradcheck_grade(0.2, 5, 4) == "fail" and gradcheck_grade(float("nan"), 5, 5) == "fail"


def test_check_gradients_refuses_the_perceptron():
    with pytest.raises(NNDError, match="no gradient"):
        StepSession(example("perceptron")).check_gradients()


# --------------------------------------------------------------------------------- saving
def test_save_json_is_the_cli_trace_and_changes_nothing(tmp_path, capsys):
    from engine.cli import main

    project_path = EXAMPLES / "xor.json"
    session = StepSession(load_project(project_path))
    session.next()
    session.next()
    w = session.model.flat_weights()
    out = tmp_path / "step.json"
    session.save_json(out)
    assert weights_equal(session.model.flat_weights(), w) and session.index == 1
    cli_out = tmp_path / "cli.json"
    assert main(["trace", str(project_path), "--batch-size", "1", "-o", str(cli_out)]) == 0
    saved, cli = json.loads(out.read_text()), json.loads(cli_out.read_text())
    assert saved == cli
    assert set(saved) == {"project", "batch_size", "optimizer", "loss", "phases"}
    session.run_to_end()
    session.save_json(out)
    assert json.loads(out.read_text()) == cli
    capsys.readouterr()


def test_tensorflow_problem_is_explained_for_numpy_only_projects():
    session = StepSession(example("perceptron"))
    assert "NumPy-only" in session.tensorflow_problem()
    with pytest.raises(BackendUnavailableError, match="NumPy-only"):
        session.compare_tensorflow()


def test_compare_tensorflow_agrees_on_a_merge_graph():
    from engine.backends.tensorflow import tensorflow_available

    ok, reason = tensorflow_available()
    if not ok:
        pytest.skip(reason)
    project = copy.deepcopy(example("skip_connection"))
    session = StepSession(project, batch_size=8)
    session.next_step()
    report = session.compare_tensorflow()
    assert report.ok, report.text()
    kinds = {r.kind for r in report.rows}
    assert kinds == {"output", "loss", "gradient", "after step"}
    assert len([r for r in report.rows if r.kind == "output"]) == 4
    assert any("fresh state" in n for n in report.notes)
    assert report.loss_numpy == pytest.approx(report.loss_tensorflow, rel=1e-5)


def test_flatten_and_dense_on_images_are_explained(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(30, 2, 3)), y=rng.integers(0, 2, size=30))
    layers = [
        layer("Dense", "d", units=4, activation="relu"),
        layer("Flatten", "f"),
        layer("Dense", "out", units=2, activation="softmax"),
    ]
    project = small_project(
        layers, "sparse_categorical_crossentropy", "adam", {"path": "data.npz"}, (2, 3)
    )
    project.path = tmp_path / "project.json"
    session = StepSession(project, batch_size=2)
    session.run_to_end()
    assert "a₆ = x₂,₂" in explain_neuron(session, "f", 1, 5).text()
    for name, unit in (("d", 0), ("d", 5), ("f", 5), ("out", 1)):
        check_numbers(session, explain_neuron(session, name, 1, unit))
    text = explain_weight(session, "d", 0, 1).text()
    assert "4 terms (samples × positions)" in text
    check_numbers(session, explain_weight(session, "d", 0, 1))
