"""Runs you can rewind and fork: every training is a run of the project, with epoch-end
snapshots (weights, optimizer state, random streams, callbacks), kept within a budget, saved
in the .nnd; a run forked from a snapshot with unchanged settings is the same run, bit for bit
on the NumPy engine."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.errors import NNDError, ProjectError
from engine.project import from_dict, load_project, save_project
from engine.run_recorder import begin_run
from engine.runs import RunStore, parse_point, settings_diff

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
# Data from the Keras cache (not here) and big sets: a small stand-in of the same shape.
STAND_IN = {"mnist", "fashion_mnist", "digits"}


def example(name: str, tmp_path: Path, epochs: int = 3):
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    data["fit"] = {**data.get("fit", {}), "epochs": epochs}
    project = from_dict(data)
    if project.dataset.get("name") in STAND_IN:
        rng = np.random.default_rng(0)
        shape = tuple(project.data["model"]["input_shape"])
        x = rng.uniform(0, 1, (60, *shape)).astype("float32")
        np.savez(tmp_path / f"{name}.npz", x=x, y=np.arange(60) % 10)
        project.data["dataset"] = {"path": str(tmp_path / f"{name}.npz")}
    project.path = tmp_path / f"{name}.json"
    return project


def train(project, from_point=None):
    """One run as the CLI and the window record it; returns the run."""
    begun = begin_run(project, from_point)
    for ev in begun.trainer.run(begun.epochs):
        if ev.kind == "epoch":
            begun.recorder.epoch(begun.trainer)
    begun.trainer.finish()
    run = begun.recorder.finish(begun.trainer)
    project.weights = begun.model.flat_weights()
    project.history = begun.trainer.history
    return run


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_a_fork_with_unchanged_settings_is_the_same_run_bit_for_bit(name, tmp_path):
    project = example(name, tmp_path)
    first = train(project)
    assert first.number == 1 and first.parent is None and first.epochs == 3
    assert sorted(first.snapshots) == [1, 2, 3]
    # Through the file: the snapshots' bytes hold every number exactly.
    path = save_project(project, tmp_path / f"{name}.nnd")
    loaded = load_project(path)
    fork = train(loaded, (1, 1))
    assert fork.number == 2 and fork.parent == "1:1" and fork.first_epoch == 2
    assert fork.changed == {}
    for key, values in first.history.items():
        assert fork.history[key] == values[1:], key  # exactly equal floats
    again = loaded.runs.get(1).snapshots[3].weights
    for key, value in fork.snapshots[3].weights.items():
        np.testing.assert_array_equal(value, again[key], err_msg=key)
    # the line's whole history: the parent's first epoch, then the fork's
    assert loaded.history["loss"] == first.history["loss"]


def test_a_fork_with_another_learning_rate_goes_another_way(tmp_path):
    project = example("xor", tmp_path, epochs=4)
    first = train(project)
    forked = project.copy()
    forked.data["compile"]["optimizer"]["config"]["learning_rate"] = 0.3
    run = train(forked, (1, 2))
    assert run.changed == {"compile.optimizer.config.learning_rate": {"from": 0.03, "to": 0.3}}
    assert run.snapshots[3].optimizer["learning_rate"] == pytest.approx(0.3)
    assert run.history["loss"][0] != first.history["loss"][2]


def test_a_project_saved_before_runs_opens_with_its_history_as_run_1(tmp_path):
    project = example("xor", tmp_path)
    train(project)
    project.runs = None  # as an older NN Designer saved it: weights and history only
    path = save_project(project, tmp_path / "old.nnd")
    old = load_project(path)
    assert len(old.runs) == 1
    run = old.runs.get(1)
    assert run.parent is None and run.history == project.history
    assert run.snapshots[3].partial  # the weights, no optimizer state
    # It trains on: run 2 continues from the weights (the optimizer restarting).
    nxt = train(old)
    assert nxt.number == 2 and nxt.parent is None and nxt.first_epoch == 1


def test_plain_training_of_a_trained_project_continues_its_last_run(tmp_path):
    project = example("xor", tmp_path)
    first = train(project)
    run = train(project)  # another `epochs` epochs, from run 1's state after epoch 3
    assert run.parent == "1:3" and run.first_epoch == 4 and run.epochs == 3
    assert run.changed == {} and first.number == 1


def test_snapshots_stay_within_the_budget_keeping_first_last_best_and_forks(tmp_path):
    project = example("xor", tmp_path, epochs=40)
    one = train(project)
    size = one.snapshots[1].nbytes
    store = project.runs
    assert store.count == 40 and one.thinned == 0
    # a second run forked at 17 (its snapshots a copy of the first's), then a budget of 12
    store.runs.append(copy.deepcopy(one))
    store.runs[-1].number, store.runs[-1].parent = 2, "1:17"
    store.budget_mb = 12 * size / 1e6
    store.fit_budget()
    assert store.nbytes <= store.budget_bytes
    kept = set(store.get(1).snapshots)
    assert {1, 40, one.best_epoch(), 17} <= kept
    assert store.get(1).thinned + len(kept) == 40
    with pytest.raises(NNDError, match="thinned to keep the project within its budget"):
        store.snapshot(1, next(e for e in range(2, 40) if e not in kept))


def test_the_runs_command_prints_the_table_and_json(tmp_path, capsys):
    project = example("xor", tmp_path, epochs=3)
    path = save_project(project, tmp_path / "x.json")
    out = tmp_path / "x.nnd"
    assert main(["train", str(path), "-o", str(out), "--quiet"]) == 0
    assert main(["train", str(out), "--from", "1:2", "--learning-rate", "0.2", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Run 2: continuing run 1 after epoch 2" in said and "learning_rate 0.2" in said
    assert main(["runs", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["run", "parent", "epochs"]
    assert table[2].split()[:3] == ["2", "1:2", "3–3"]
    assert "compile.optimizer.config.learning_rate=0.2" in table[2]
    assert "of the 100 MB budget" in table[-1]
    assert main(["runs", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in doc["runs"]] == [1, 2] and doc["runs"][1]["parent"] == "1:2"
    assert main(["train", str(out), "--from", "7:1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no run 7 (its runs: 1, 2)" in err and "Traceback" not in err
    assert main(["train", str(out), "--from", "1:9", "-o", str(out)]) == 2
    assert "its epochs run 1–3" in capsys.readouterr().err
    assert main(["train", str(out), "--from", "one", "-o", str(out)]) == 2
    assert "not RUN:EPOCH" in capsys.readouterr().err


@pytest.mark.parametrize(
    "runs_json",
    [
        "[]",
        '{"runs_format": 9, "runs": []}',
        '{"runs_format": 1, "runs": [{"number": 0}]}',
        '{"runs_format": 1, "runs": [{"number": 1, "parent": "x"}]}',
        '{"runs_format": 1, "runs": [{"number": 1, "history": {"loss": ["a"]}}]}',
        '{"runs_format": 1, "runs": [{"number": 1, "snapshots": [3]}]}',
        '{"runs_format": 1, "runs": [{"number": 1}, {"number": 1}]}',
    ],
)
def test_a_malformed_runs_file_is_refused_by_name(tmp_path, runs_json):
    import zipfile

    project = example("xor", tmp_path)
    path = save_project(project, tmp_path / "p.nnd")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("runs.json", runs_json)
    with pytest.raises(ProjectError, match="runs"):
        load_project(path)


def test_the_weight_difference_of_two_runs(tmp_path):
    from engine.runs import weight_difference

    project = example("xor", tmp_path, epochs=3)
    train(project)
    project.data["fit"]["epochs"] = 6
    train(project, (1, 3))  # run 2 continues run 1: epochs 4-6
    rows = weight_difference(project.runs, 1, 2)
    assert {r["weight"] for r in rows} == set(project.weights)
    for r in rows:
        w1 = project.runs.get(1).snapshots[3].weights[r["weight"]]
        w2 = project.runs.get(2).snapshots[6].weights[r["weight"]]
        assert r["diff"] == pytest.approx(float(np.linalg.norm(w2 - w1)), rel=1e-6)
        assert r["epochs"] == (3, 6)
    assert all(r["diff"] == 0 for r in weight_difference(project.runs, 1, 1))


def test_points_and_settings_diffs():
    assert parse_point("2:14") == (2, 14)
    for bad in ("2", "a:b", "0:1", "1:-1"):
        with pytest.raises(NNDError):
            parse_point(bad)
    before = {"fit": {"epochs": 3, "seed": 1}, "model": {"layers": [1], "input_shape": [2]}}
    after = {"fit": {"epochs": 5, "seed": 1}, "model": {"layers": [2], "input_shape": [2]}}
    assert settings_diff(before, after) == {
        "fit.epochs": {"from": 3, "to": 5},
        "model.layers": {"from": [1], "to": [2]},
    }
    assert RunStore().table() == []


def test_weights_trained_since_the_last_run_are_not_replaced_by_its_snapshot(tmp_path):
    """The window trains without recording a run (yet): a later training continues from the
    project's weights, not from the last run's older snapshot."""
    project = example("xor", tmp_path)
    train(project)
    project.weights = {k: v + 0.01 for k, v in project.weights.items()}
    run = train(project)
    assert run.parent is None and run.first_epoch == 1


def test_export_takes_a_runs_weights_and_settings_at_an_epoch(tmp_path, capsys, monkeypatch):
    import engine.export

    project = example("xor", tmp_path, epochs=3)
    train(project)
    forked = project.copy()
    forked.data["compile"]["optimizer"]["config"]["learning_rate"] = 0.3
    train(forked, (1, 2))
    path = save_project(forked, tmp_path / "x.nnd")
    exported = []
    real = engine.export.export_project
    monkeypatch.setattr(
        engine.export, "export_project", lambda p, out: exported.append(p) or real(p, out)
    )
    assert main(["export", str(path), "--from", "1:2", "-o", str(tmp_path / "m.py")]) == 0
    assert "learning_rate=0.03" in (tmp_path / "m.py").read_text()  # run 1's, not the fork's
    snap = load_project(path).runs.snapshot(1, 2)
    for key, value in snap.weights.items():
        np.testing.assert_array_equal(exported[0].weights[key], value, err_msg=key)
    assert main(["export", str(path), "--from", "1:7", "-o", str(tmp_path / "n.py")]) == 2
    assert "no snapshot after epoch 7" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("index", "words"),
    [
        ({"a0": ["|O", [2], 0]}, "dtype"),
        ({"a0": ["<f4", [10**9], 0]}, "outside its data"),
        ({"a0": ["<f4", [4], 10**6]}, "outside its data"),
        ({"a0": ["<f4", [-1], 0]}, "negative"),
        ({"a0": "x"}, r"not \[dtype, shape, offset\]"),
    ],
)
def test_a_hostile_snapshot_is_refused_by_name(tmp_path, index, words):
    import zipfile

    project = example("xor", tmp_path, epochs=1)
    train(project)
    path = save_project(project, tmp_path / "p.nnd")
    broken = tmp_path / "q.nnd"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "snapshots/run1_epoch1.json":
                meta = json.loads(data)
                meta["__arrays__"] = index
                meta["weights"] = {"hidden/kernel": {"__array__": "a0"}}
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    with pytest.raises(ProjectError, match=words):
        load_project(broken)


def test_a_fork_starts_from_its_parents_settings_not_the_projects_latest(tmp_path, capsys):
    project = example("xor", tmp_path, epochs=4)
    path = save_project(project, tmp_path / "x.json")
    out = tmp_path / "x.nnd"
    assert main(["train", str(path), "-o", str(out), "--quiet"]) == 0
    fork = ["train", str(out), "--from", "1:2", "-o", str(out), "--quiet"]
    assert main([*fork, "--learning-rate", "0.2"]) == 0
    # the project now holds run 2's rate; a fork of run 1 changes only what it is told
    assert main([*fork, "--batch-size", "8"]) == 0
    run = load_project(out).runs.get(3)
    assert run.changed == {"fit.batch_size": {"from": 16, "to": 8}}


def test_a_fork_on_the_tensorflow_backend_repeats_the_run_within_float32_rounding(
    tf_ready, tmp_path
):
    project = example("skip_connection", tmp_path, epochs=3)  # a merge, dropout-free
    project.data["backend"] = "tensorflow"
    first = train(project)
    path = save_project(project, tmp_path / "tf.nnd")
    loaded = load_project(path)
    fork = train(loaded, (1, 1))
    for key, values in first.history.items():
        np.testing.assert_allclose(fork.history[key], values[1:], rtol=1e-5, atol=1e-6, err_msg=key)
    again = loaded.runs.get(1).snapshots[3].weights
    for key, value in fork.snapshots[3].weights.items():
        np.testing.assert_allclose(value, again[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_backprop_mode_can_start_from_a_runs_epoch(tmp_path):
    from engine.stepper import StepSession

    project = example("xor", tmp_path, epochs=3)
    train(project)
    snap = project.runs.snapshot(1, 1)
    session = StepSession(project, start=snap, start_label="run 1's weights after epoch 1")
    for key, value in snap.weights.items():
        np.testing.assert_array_equal(session.model.flat_weights()[key], value, err_msg=key)
    assert session.model.optimizer.iterations == snap.optimizer["iterations"]
    assert session.weights_source == "run 1's weights after epoch 1"
    plain = StepSession(project)
    assert plain.weights_source == "the project's trained weights"
