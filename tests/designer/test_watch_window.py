"""The training debugger in the window (issue 19): a watchpoint pauses the run, the panel says
which, where and why, Backprop mode opens on that batch with the weights before its step, and
Play resumes the run."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from engine.project import from_dict
from engine.training import build_model
from engine.validate import check_project

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60_000


def dying_relu() -> dict:
    data = json.loads((ROOT / "resources/examples/xor.json").read_text())
    data["fit"].update(epochs=3, watch=[{"class_name": "DeadUnits", "config": {"level": 0.5}}])
    data["model"]["layers"][0]["config"].update(
        activation="relu", bias_initializer={"class_name": "Constant", "config": {"value": -5.0}}
    )
    return data


def test_a_watchpoint_pauses_and_opens_backprop_mode_on_its_batch(qtbot, make_window):
    data = dying_relu()
    window = make_window(from_dict(copy.deepcopy(data)))
    ctrl = window.training
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.last_watch is not None, timeout=TIMEOUT)
    hit = ctrl.last_watch["hit"]
    assert (hit["watchpoint"], hit["layer"], hit["epoch"], hit["step"]) == (
        "DeadUnits",
        "hidden",
        1,
        1,
    )
    qtbot.waitUntil(lambda: ctrl.state == "paused", timeout=TIMEOUT)
    text = ctrl.panel.message_text
    assert "DeadUnits watchpoint at epoch 1, step 1" in text and "hidden" in text
    assert "Play resumes" in text
    assert ctrl.panel.progress.format() == "Paused at epoch 1, step 1 (DeadUnits)"

    # Backprop mode: that batch, from the weights before its step (here the initial ones).
    stepper = window.stepper
    assert stepper.active and window.workspaces.current == "backprop"
    session = stepper.panel.session
    np.testing.assert_array_equal(session.batch_indices, ctrl.last_watch["rows"])
    assert len(session.batch_indices) == 16
    project = from_dict(copy.deepcopy(data))
    initial = build_model(project, check_project(project), "numpy").get_weights()
    for layer, ws in initial.items():
        for name, w in ws.items():
            np.testing.assert_array_equal(session.weights_before[layer][name], w)
    assert "DeadUnits watchpoint" in session.weights_source
    assert "16 samples (rows" in stepper.panel.status_label.text()  # shuffled: not a range

    # Play resumes the run: dead all along, the watchpoint stays quiet; the run finishes.
    stepper.set_active(False)
    done = ctrl.finished_runs
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs > done, timeout=TIMEOUT)
    assert ctrl.last_watch is None  # the run went on: Backprop mode starts afresh
    assert stepper.panel.start_snapshot is None and stepper.panel.start_rows is None
    assert len(window.document.project.history["loss"]) == 3


def test_the_watch_panel_edits_fit_watch_as_undoable_edits(qtbot, make_window):
    data = json.loads((ROOT / "resources/examples/xor.json").read_text())
    window = make_window(from_dict(data), show=False)
    panel = window.training.watch_panel
    doc = window.document
    assert not any(c.isChecked() for c in panel.checks.values())
    panel.checks["LossSpike"].setChecked(True)
    assert doc.project.fit["watch"] == [{"class_name": "LossSpike"}]
    panel.values["LossSpike"].setValue(40.0)
    assert doc.project.fit["watch"] == [{"class_name": "LossSpike", "config": {"factor": 40.0}}]
    panel.condition.setText("val_accuracy < 0.5 after epoch 20")
    panel.condition.editingFinished.emit()
    assert doc.project.fit["watch"][-1] == {
        "class_name": "MetricCondition",
        "config": {"metric": "val_accuracy", "op": "<", "value": 0.5, "after_epoch": 20},
    }
    panel.condition.setText("accuracy is low")
    panel.condition.editingFinished.emit()
    assert "METRIC OP VALUE" in panel.error.text()
    assert len(doc.project.fit["watch"]) == 2  # unchanged
    doc.undo_stack.undo()  # the condition
    assert panel.condition.text() == "" and len(doc.project.fit["watch"]) == 1
    panel.checks["LossSpike"].setChecked(False)
    assert "watch" not in doc.project.fit  # nothing armed: the key goes
    assert window.training.docks["watch"].windowTitle() == "Watch"
