"""The window's Runs table: a project's runs (recorded by nndesigner train) listed with their
parents, changes and metrics, sortable and filterable; selected runs drawn over the loss and
metric plots in their colours, a fork's starting point marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


@pytest.fixture
def three_runs(tmp_path) -> Path:
    """xor trained 6 epochs (run 1), forked after epoch 3 unchanged (run 2) and with
    another learning rate (run 3)."""
    spec = json.loads((EXAMPLES / "xor.json").read_text())
    spec["fit"]["epochs"] = 6
    src = tmp_path / "xor.json"
    src.write_text(json.dumps(spec))
    out = tmp_path / "xor.nnd"
    assert main(["train", str(src), "-o", str(out), "--quiet"]) == 0
    assert main(["train", str(out), "--from", "1:3", "-o", str(out), "--quiet"]) == 0
    args = ["train", str(out), "--from", "1:3", "--learning-rate", "0.2", "-o", str(out)]
    assert main([*args, "--quiet"]) == 0
    return out


def test_the_runs_table_lists_sorts_filters_and_overlays_the_runs(make_window, three_runs):
    window = make_window(three_runs)
    window.workspaces.switch("train")
    ctrl = window.training
    ctrl.docks["runs"].raise_()  # its tab, beside the plots
    view = ctrl.runs_view
    assert ctrl.loss_plot.isVisible()
    model = view.proxy
    assert model.rowCount() == 3
    assert [model.index(r, 1).data() for r in range(3)] == ["–", "1:3", "1:3"]
    assert "learning_rate=0.2" in model.index(2, 2).data()
    assert model.index(1, 3).data() == "4–6"
    assert "of the 100 MB budget" in view.summary.text()
    # sorted by the final loss, ascending: run 3 (the higher rate) learned most
    view.table.sortByColumn(5, Qt.SortOrder.AscendingOrder)
    assert model.index(0, 0).data() == "3"
    view.filter.setText("learning_rate")
    assert model.rowCount() == 1 and model.index(0, 0).data() == "3"
    view.filter.setText("")
    assert model.rowCount() == 3
    # two runs selected: their curves on both plots, the fork's start marked
    view.select([1, 3])
    assert view.selected() == [1, 3]
    overlays = ctrl.loss_plot.overlays
    assert [r["number"] for r in overlays.runs] == [1, 3]
    assert overlays.runs[1]["fork"][0] == 3
    loss_items = [i for p, i in overlays._items if p is ctrl.loss_plot.loss_plot]
    # run 1: loss and val_loss; run 3: loss, val_loss and their two fork rings
    assert len(loss_items) == 6
    x, y = loss_items[0].getData()
    assert list(x) == [1, 2, 3, 4, 5, 6]
    metric_items = [i for p, i in overlays._items if p is ctrl.loss_plot.metric_plot]
    assert metric_items and ctrl.loss_plot.metric_key == "accuracy"
    # two runs: their per-layer weight difference (run 3's learning rate moved them apart)
    text = view.compare.text()
    assert not view.compare.isHidden() and "Run 3 (epoch 6) against run 1 (epoch 6)" in text
    assert "hidden/kernel:" in text and "% of ‖w‖" in text
    view.select([])
    assert ctrl.loss_plot.overlays._items == []


def test_a_project_without_runs_says_how_to_get_them(make_window):
    window = make_window(None)
    view = window.training.runs_view
    assert view.proxy.rowCount() == 0
    assert not view.empty.isHidden() and view.table.isHidden()


def test_the_windows_trainings_are_runs_and_continue_from_here_repeats_one(
    qtbot, training_window, tmp_path
):
    """Play records a run with a snapshot after every epoch; Continue from here at an epoch
    is a new run of that parent which, with the settings unchanged, repeats the run's later
    epochs exactly (the same engine in the worker); the .nnd keeps both."""
    import copy

    from engine.project import from_dict, load_project
    from tests.designer.test_training import TIMEOUT, tiny_spec

    window, ctrl = training_window(from_dict(copy.deepcopy(tiny_spec(epochs=4))))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 1 and ctrl.state == "idle", timeout=TIMEOUT)
    store = window.document.project.runs
    assert store is not None and len(store) == 1
    first = store.get(1)
    assert first.parent is None and sorted(first.snapshots) == [1, 2, 3, 4]
    assert first.history["loss"] == window.document.project.history["loss"]
    assert ctrl.runs_view.proxy.rowCount() == 1
    # Continue from epoch 2: run 2, parent 1:2, epochs 3-4 as run 1 had them
    ctrl.runs_view.select([1])
    assert ctrl.runs_view.fork_host.isVisibleTo(ctrl.runs_view)
    ctrl.runs_view.epoch_spin.setValue(2)
    ctrl.runs_view.continue_button.click()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 2 and ctrl.state == "idle", timeout=TIMEOUT)
    assert len(store) == 2
    second = store.get(2)
    assert second.parent == "1:2" and second.first_epoch == 3 and second.changed == {}
    assert second.history["loss"] == first.history["loss"][2:]
    assert second.history["val_loss"] == first.history["val_loss"][2:]
    assert window.document.project.history["loss"] == first.history["loss"]
    path = tmp_path / "runs.nnd"
    window.document.save(path)
    saved = load_project(path).runs
    assert [r.number for r in saved.runs] == [1, 2] and saved.get(2).parent == "1:2"
    assert ctrl.runs_view.proxy.rowCount() == 2


def test_the_scrubber_rewinds_every_view_to_an_epoch_and_back(qtbot, training_window):
    """Dragging the scrubber draws the views from that epoch's snapshot; the last epoch's is
    the model's own state (the same boundary, exactly); Now brings it back; Backprop mode
    would start from the epoch shown; training never sees the rewound weights."""
    import copy

    import numpy as np

    from engine.project import from_dict
    from tests.designer.test_training import TIMEOUT, tiny_spec

    window, ctrl = training_window(from_dict(copy.deepcopy(tiny_spec(epochs=4))))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 1 and ctrl.state == "idle", timeout=TIMEOUT)
    scrub = ctrl.loss_plot.scrubber
    assert scrub.isVisibleTo(ctrl.loss_plot) and scrub.epochs == [1, 2, 3, 4]
    qtbot.waitUntil(lambda: ctrl.snapshot is not None, timeout=TIMEOUT)
    now = np.array(ctrl.snapshot.boundary, copy=True)

    def shown(epoch):
        return lambda: ctrl.snapshot is not None and ctrl.snapshot.rewound == epoch

    scrub.show_epoch(1)
    qtbot.waitUntil(shown(1), timeout=TIMEOUT)
    assert ctrl.rewound == (1, 1) and scrub.label.text() == "run 1, epoch 1"
    assert ctrl.snapshot.epoch == 1 and not np.array_equal(ctrl.snapshot.boundary, now)
    assert ctrl.loss_plot.rewind_lines[0].isVisible()
    stepper = window.stepper.panel if hasattr(window, "stepper") else None
    if stepper is not None:
        assert stepper.start_snapshot[1] == "run 1's weights after epoch 1"
    scrub.show_epoch(4)
    qtbot.waitUntil(shown(4), timeout=TIMEOUT)
    np.testing.assert_array_equal(ctrl.snapshot.boundary, now)
    scrub.back_to_now()
    qtbot.waitUntil(shown(None), timeout=TIMEOUT)
    np.testing.assert_array_equal(ctrl.snapshot.boundary, now)
    assert ctrl.rewound is None and not ctrl.loss_plot.rewind_lines[0].isVisible()
    # rewound, then Play: the run goes on from the model's own weights (epochs 5-6)
    scrub.show_epoch(2)
    qtbot.waitUntil(shown(2), timeout=TIMEOUT)
    window.document.project.data["fit"]["epochs"] = 6
    assert ctrl.train_blocking(6, timeout_s=TIMEOUT / 1000)
    # a run that ended and trains on is a new run of the project, continuing it
    store = window.document.project.runs
    assert [r.number for r in store.runs] == [1, 2]
    assert store.get(2).parent == "1:4" and store.get(2).first_epoch == 5
    assert len(window.document.project.history["loss"]) == 6


def test_export_while_rewound_writes_that_runs_epoch(
    make_window, three_runs, tmp_path, monkeypatch
):
    import numpy as np
    from PySide6.QtWidgets import QFileDialog

    import engine.export

    window = make_window(three_runs)
    ctrl = window.training
    ctrl._on_rewind(3, 5)  # run 3 (learning rate 0.2) after epoch 5
    assert ctrl.rewound == (3, 5)
    seen = []
    real = engine.export.export_project
    monkeypatch.setattr(
        engine.export, "export_project", lambda p, out: seen.append(p) or real(p, out)
    )
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(tmp_path / "m.py"), ""),
    )
    assert window.export_code()
    snap = window.document.project.runs.snapshot(3, 5)
    for key, value in snap.weights.items():
        np.testing.assert_array_equal(seen[0].weights[key], value)
    assert "learning_rate=0.2" in (tmp_path / "m.py").read_text()
    assert window.document.project.weights is not seen[0].weights  # the project unchanged
