"""Watchpoints (engine.watch, Trainer's "watch" events, `nndesigner train --watch`): one run
made to trigger each, checking the step, the layer, the batch and the state before the step
(what Backprop mode and the trace get)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.project import from_dict
from engine.training import build_model, load_training_data, make_trainer
from engine.validate import check_project, project_problems
from engine.watch import DEFAULT_KINDS, parse_condition, watch_problems

ROOT = Path(__file__).resolve().parents[2]


def xor(**fit) -> dict:
    data = json.loads((ROOT / "resources/examples/xor.json").read_text())
    data["fit"].update(fit)
    return data


def trained(data: dict, epochs: int = 5):
    """Train ``data`` until its first watch event: ``(project, graph, trainer, hit, events)``."""
    project = from_dict(copy.deepcopy(data))
    graph = check_project(project)
    trainer = make_trainer(
        build_model(project, graph), load_training_data(project, graph), project.fit
    )
    events = []
    for ev in trainer.run(epochs):
        events.append(ev)
        if ev.kind == "watch":
            return project, graph, trainer, ev.hit, events
    return project, graph, trainer, None, events


def plain_weights_before(data: dict, epoch: int, step: int) -> dict:
    """The weights an unwatched run of ``data`` has before ``step`` of ``epoch``."""
    data = copy.deepcopy(data)
    data["fit"].pop("watch", None)
    project = from_dict(data)
    graph = check_project(project)
    model = build_model(project, graph)
    trainer = make_trainer(model, load_training_data(project, graph), project.fit)
    if epoch == 1 and step == 1:
        return model.flat_weights()
    for ev in trainer.run(epoch):
        if ev.kind == "step" and (ev.epoch, ev.step + 1) == (epoch, step):
            return model.flat_weights()
        if ev.kind == "epoch" and ev.epoch == epoch - 1 and step == 1:
            return model.flat_weights()
    raise AssertionError("the step was never reached")


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def diverging() -> dict:
    data = xor(watch=["NonFinite"], shuffle=False)
    data["compile"] = {
        "optimizer": {"class_name": "SGD", "config": {"learning_rate": 1e4}},
        "loss": "mse",
    }
    data["model"]["layers"][1]["config"]["activation"] = "linear"
    return data


def test_a_diverging_run_pauses_at_the_refused_step_with_the_weights_before_it():
    data = diverging()
    project, graph, trainer, hit, events = trained(data, 60)
    assert hit is not None and hit.kind == "NonFinite" and not hit.applied
    assert "not finite" in hit.message
    # The batch: the step's rows of the unshuffled pass.
    n = len(trainer.data.x_train)
    lo = (hit.step - 1) * 16
    np.testing.assert_array_equal(hit.rows, np.arange(lo, min(lo + 16, n)))
    # The weights handed on are those before the refused step: the live model's (kept) and
    # the replay's, equal to an unwatched run's at that point.
    model, snap = trainer.state_before(project, graph, hit)
    assert_same(snap.weights, trainer.model.flat_weights())
    assert_same(snap.weights, plain_weights_before(data, hit.epoch, hit.step))
    assert snap.optimizer["iterations"] == (hit.epoch - 1) * 10 + hit.step - 1


def test_after_a_refused_step_the_run_retries_it_once_then_ends():
    project, graph, trainer, hit, events = trained(diverging(), 60)
    gen = trainer.run(60)
    kinds = [ev.kind for ev in gen]
    # A new run() starts from the kept weights: the same batch diverges again, the debugger
    # is shown it once, the retry fails and the run ends with the error.
    assert kinds.count("watch") == 1 and kinds[-1] == "end"
    assert trainer.error is not None and trainer.error.exit_code == 3


def test_a_dying_relu_layer_is_caught_before_the_first_step():
    data = xor(watch=[{"class_name": "DeadUnits", "config": {"level": 0.5}}])
    data["model"]["layers"][0]["config"].update(
        activation="relu", bias_initializer={"class_name": "Constant", "config": {"value": -5.0}}
    )
    project, graph, trainer, hit, _ = trained(data)
    assert (hit.kind, hit.layer, hit.epoch, hit.step) == ("DeadUnits", "hidden", 1, 1)
    assert "100%" in hit.message
    _, snap = trainer.state_before(project, graph, hit)
    assert_same(snap.weights, plain_weights_before(data, 1, 1))  # the initial weights


def test_a_deep_sigmoid_net_has_vanishing_gradients_at_its_first_layer():
    data = xor(watch=["VanishingGradients"])
    data["model"]["layers"] = [
        {"class_name": "Dense", "config": {"name": f"s{i}", "units": 8, "activation": "sigmoid"}}
        for i in range(10)
    ] + [data["model"]["layers"][1]]
    project, graph, trainer, hit, _ = trained(data)
    assert (hit.kind, hit.layer, hit.step) == ("VanishingGradients", "s0", 1)
    assert "'output'" in hit.message


def test_saturated_tanh_units_are_caught():
    data = xor(watch=[{"class_name": "SaturatedUnits", "config": {"level": 0.9}}])
    data["model"]["layers"][0]["config"]["kernel_initializer"] = {
        "class_name": "RandomNormal",
        "config": {"stddev": 50.0, "seed": 1},
    }
    _, _, _, hit, _ = trained(data)
    assert (hit.kind, hit.layer, hit.step) == ("SaturatedUnits", "hidden", 1)


def spike_data(tmp_path: Path) -> dict:
    """A regression whose 9th batch (unshuffled) has targets 1000 times the others."""
    rows = []
    for i in range(160):
        y = 1000.0 if 128 <= i < 144 else 0.5 * (i % 4)
        rows.append(f"{(i % 7) * 0.1:.2f},{(i % 5) * 0.2:.2f},{y}")
    (tmp_path / "d.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    data = xor(
        shuffle=False,
        validation_split=0.0,
        batch_size=16,
        watch=[{"class_name": "LossSpike", "config": {"factor": 10, "warmup": 5}}],
    )
    data["dataset"] = {"path": str(tmp_path / "d.csv"), "target": "y", "task": "regression"}
    data["compile"]["loss"] = "mse"
    data["model"]["layers"][1]["config"]["activation"] = "linear"
    return data


def test_a_loss_spike_names_its_batch_and_the_weights_before_its_step(tmp_path):
    data = spike_data(tmp_path)
    project, graph, trainer, hit, events = trained(data)
    assert (hit.kind, hit.epoch, hit.step) == ("LossSpike", 1, 9)
    assert hit.applied  # seen in the step's own loss: its update was made
    np.testing.assert_array_equal(hit.rows, np.arange(128, 144))
    assert "times the median" in hit.message
    _, snap = trainer.state_before(project, graph, hit)
    assert_same(snap.weights, plain_weights_before(data, 1, 9))  # replayed bit for bit
    assert snap.optimizer["iterations"] == 8


def test_a_watchpoint_fires_once_until_its_condition_clears():
    from engine.watch import Watcher

    watcher = Watcher([{"class_name": "LossSpike", "config": {"factor": 10, "warmup": 5}}], None)
    losses = [1.0] * 10 + [100.0, 100.0, 1.0, 100.0]
    fired = [i for i, loss in enumerate(losses) if watcher.after_step(1, i + 1, loss, np.arange(2))]
    assert fired == [10, 13]  # quiet while it lasts (11), armed again once it cleared (12)


def test_the_layer_watchpoints_keep_to_their_time_budget():
    data = xor(watch=["DeadUnits", "VanishingGradients", "UpdateRatio"], epochs=40)
    _, _, trainer, hit, _ = trained(data, 40)
    watcher = trainer.watcher
    assert hit is None and watcher.evaluations >= 2  # the first batch, then as time allows
    # Every look after the first fits the budget of the training time before it.
    first = watcher.probe_seconds * 3  # a generous bound on the first look (it builds)
    assert watcher.cost_share() <= 0.03 + first / watcher._train_cost


def test_a_metric_condition_fires_after_its_epoch():
    data = xor(
        watch=[
            {
                "class_name": "MetricCondition",
                "config": parse_condition("accuracy <= 1.0 after epoch 2"),
            }
        ]
    )
    _, _, _, hit, events = trained(data)
    assert (hit.kind, hit.epoch, hit.step) == ("MetricCondition", 2, 0)
    assert [ev.kind for ev in events].count("epoch") == 2


def test_update_ratio_outside_its_range_for_long_fires():
    data = xor(watch=[{"class_name": "UpdateRatio", "config": {"patience": 2}}], shuffle=False)
    data["compile"]["optimizer"] = {"class_name": "SGD", "config": {"learning_rate": 1e-9}}
    _, _, trainer, hit, _ = trained(data, 10)
    assert hit is not None and hit.kind == "UpdateRatio"
    assert hit.layer in ("hidden", "output") and "outside" in hit.message


def test_the_default_watchpoints_stay_quiet_on_a_healthy_run():
    _, _, trainer, hit, _ = trained(xor(watch=list(DEFAULT_KINDS)), 20)
    assert hit is None
    assert trainer.watcher.evaluations >= 1


def test_watch_settings_are_validated():
    assert (
        watch_problems(["LossSpike", {"class_name": "DeadUnits", "config": {"level": 0.3}}]) == []
    )
    assert watch_problems("LossSpike")[0].startswith("must be a list")
    assert "class_name must be one of" in watch_problems([{"class_name": "Nope"}])[0]
    assert (
        "unknown setting 'levle'"
        in watch_problems([{"class_name": "DeadUnits", "config": {"levle": 1}}])[0]
    )
    assert "above 0" in watch_problems([{"class_name": "LossSpike", "config": {"factor": -1}}])[0]
    assert "needs a metric" in watch_problems([{"class_name": "MetricCondition"}])[0]
    project = from_dict(xor(watch=[{"class_name": "Nope"}]))
    assert any(p.field == "fit.watch" for p in project_problems(project)[1])
    with pytest.raises(Exception, match="METRIC OP VALUE"):
        parse_condition("accuracy is bad")
    assert parse_condition("val_accuracy < 0.5 after epoch 20") == {
        "metric": "val_accuracy",
        "op": "<",
        "value": 0.5,
        "after_epoch": 20,
    }


# ------------------------------------------------------------------------ the CLI
def test_cli_watch_stops_with_status_4_and_writes_the_batch_trace(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(diverging()))
    out = tmp_path / "out.nnd"
    assert main(["train", str(path), "--watch", "-o", str(out), "--quiet"]) == 4
    err = capsys.readouterr().err
    assert "watchpoint NonFinite fired at epoch 1, step" in err and "Traceback" not in err
    doc = json.loads((tmp_path / "out.watch.json").read_text())
    assert doc["watchpoint"]["watchpoint"] == "NonFinite"
    assert len(doc["watchpoint"]["batch_rows"]) == doc["batch_size"] == 16
    assert doc["phases"] and out.exists()


def test_cli_watch_if_and_its_errors(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(xor(epochs=3)))
    trace = tmp_path / "t.json"
    code = main(
        [
            "train",
            str(path),
            "--watch",
            "--watch-if",
            "loss > 0 after epoch 1",
            "--watch-trace",
            str(trace),
            "-o",
            str(tmp_path / "o.nnd"),
            "--quiet",
        ]
    )
    assert code == 4 and json.loads(trace.read_text())["watchpoint"]["epoch"] == 1
    capsys.readouterr()
    assert main(["train", str(path), "--watch-if", "loss > 0"]) == 2
    assert "go with --watch" in capsys.readouterr().err
    assert main(["train", str(path), "--watch", "--watch-if", "loss is high"]) == 2
    err = capsys.readouterr().err
    assert "METRIC OP VALUE" in err and "Traceback" not in err


def test_past_its_budget_an_epoch_start_is_not_kept_and_the_hit_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.watch.CAPTURE_BUDGET", 0.0)  # only the first epoch's is kept
    data = spike_data(tmp_path)
    project = from_dict(copy.deepcopy(data))
    graph = check_project(project)
    trainer = make_trainer(
        build_model(project, graph), load_training_data(project, graph), project.fit
    )
    hits = [ev.hit for ev in trainer.run(2) if ev.kind == "watch"]
    assert [(h.epoch, h.step) for h in hits] == [(1, 9), (2, 9)]
    assert trainer.replay_note(hits[1]).startswith("the weights after that step")
    _, snap = trainer.state_before(project, graph, hits[1])
    assert_same(snap.weights, trainer.model.flat_weights())  # what the model holds now


def test_cli_watch_traces_the_batch_from_the_weights_before_its_step(tmp_path):
    data = xor(watch=["DeadUnits"])
    data["model"]["layers"][0]["config"].update(
        activation="relu", bias_initializer={"class_name": "Constant", "config": {"value": -5.0}}
    )
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    assert main(["train", str(path), "--watch", "-o", str(tmp_path / "o.nnd"), "--quiet"]) == 4
    doc = json.loads((tmp_path / "o.watch.json").read_text())
    assert (doc["watchpoint"]["watchpoint"], doc["watchpoint"]["step"]) == ("DeadUnits", 1)
    project = from_dict(copy.deepcopy(data))
    graph = check_project(project)
    prepared = load_training_data(project, graph)
    initial = build_model(project, graph).get_weights()
    x = prepared.x_train[doc["watchpoint"]["batch_rows"]]
    hidden, output = doc["phases"][0], doc["phases"][1]
    assert (hidden["layer"], output["layer"]) == ("hidden", "output")
    h = np.maximum(x @ initial["hidden"]["kernel"] + initial["hidden"]["bias"], 0)
    np.testing.assert_allclose(np.asarray(hidden["a"]), h, atol=1e-7)
    # The output's bias learns even with every hidden unit dead: after the step it would
    # differ. The trace is from the initial weights: the step was not made.
    z = h @ initial["output"]["kernel"] + initial["output"]["bias"]
    np.testing.assert_allclose(np.asarray(output["z"]), z, atol=1e-7)


def test_backprop_mode_starts_on_a_watchpoints_batch():
    from engine.stepper import StepSession

    project, graph, trainer, hit, _ = trained(diverging(), 60)
    _, snap = trainer.state_before(project, graph, hit)
    session = StepSession(project, graph, batch_size=16, start=snap, first_rows=hit.rows)
    np.testing.assert_array_equal(session.batch_indices, hit.rows)
    np.testing.assert_array_equal(session.batch_x, trainer.data.x_train[hit.rows])
    assert_same(
        {f"{k}/{w}": a for k, ws in session.weights_before.items() for w, a in ws.items()},
        snap.weights,
    )
    session.next_step()  # later steps walk the split in order
    assert len(session.batch_indices) == 16
    perceptron = from_dict(json.loads((ROOT / "resources/examples/perceptron.json").read_text()))
    one = StepSession(perceptron, first_rows=np.array([5, 9, 2]))
    np.testing.assert_array_equal(one.batch_indices, [5])  # its rule: one sample
