"""A reopened trained project is what was saved (issue 13): trained state, epoch count, the
views of the saved weights without pressing Step, and the decision boundary's plane."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from designer.training.controller import project_plane, set_project_plane
from engine import edits
from engine.project import from_dict, load_project
from tests.designer.test_training import TIMEOUT, tiny_spec


@pytest.fixture
def make_window(training_window):
    """A stand-in window with the training views (tests/designer/conftest.py)."""
    return training_window


def iris_spec(epochs: int = 3) -> dict:
    spec = tiny_spec(epochs=epochs)
    spec["model"]["input_shape"] = [4]
    spec["model"]["layers"][-1]["config"]["units"] = 3
    spec["dataset"] = {"name": "iris"}
    return spec


def train_and_save(qtbot, make_window, tmp_path, spec: dict, plane=None):
    window, ctrl = make_window(from_dict(copy.deepcopy(spec)))
    if plane is not None:
        ctrl.set_projection(plane)
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.handoffs >= 1 and ctrl.state == "idle", timeout=TIMEOUT)
    ctrl.render_views()
    path = tmp_path / "trained.nnd"
    window.document.save(path)
    return window, ctrl, path


def test_a_reopened_project_shows_its_trained_state_and_views_at_once(qtbot, make_window, tmp_path):
    _w, first, path = train_and_save(qtbot, make_window, tmp_path, iris_spec())
    boundary = first.boundary.boundary_image.copy()
    matrix = first.confusion.matrix.copy()
    window, ctrl = make_window(load_project(path))
    # Said at once, before the worker answers: trained, 3 epochs of 3.
    assert ctrl.panel.progress.format() == "Epoch 3/3"
    assert ctrl.panel.progress.value() == 1000
    assert "3 epochs" in ctrl.panel.progress_label.text()
    # The views come from the saved weights, with nothing pressed.
    qtbot.waitUntil(
        lambda: ctrl.boundary.shown is not None and ctrl.confusion.shown is not None,
        timeout=TIMEOUT,
    )
    assert ctrl.history.gsteps == 0  # not one step trained
    np.testing.assert_allclose(ctrl.boundary.boundary_image, boundary, atol=1e-6)
    np.testing.assert_array_equal(ctrl.confusion.matrix, matrix)
    assert ctrl.snapshot.epoch == 3
    assert ctrl.panel.progress.format() == "Epoch 3/3"  # still, after the build
    assert ctrl.panel.progress_label.text() != "Loading the data and building the model…"
    assert not window.document.dirty  # showing is not an edit
    # Play continues from the saved weights and epochs.
    window.document.project.data["fit"]["epochs"] = 4
    ctrl.train_blocking(4, timeout_s=20)
    assert len(window.document.project.history["loss"]) == 4


def test_the_chosen_plane_is_saved_and_restored(qtbot, make_window, tmp_path):
    spec = iris_spec(2)
    spec["designer"] = {"workspace": "train"}  # another helper's key: kept alongside
    plane = {"kind": "features", "features": [2, 3]}
    window, first, path = train_and_save(qtbot, make_window, tmp_path, spec, plane)
    assert window.document.project.data["designer"] == {"workspace": "train", "plane": plane}
    _window, ctrl = make_window(load_project(path))
    assert ctrl.projection_choice == plane
    qtbot.waitUntil(lambda: ctrl.boundary.shown is not None, timeout=TIMEOUT)
    assert ctrl.info.points["projection"] == plane
    assert ctrl.boundary.plane_picker.choice == plane
    # The Dataset panel's own default for new data does not replace the saved plane...
    ctrl.set_projection({"kind": "features", "features": [0, 1]})
    assert ctrl.projection_choice == plane
    # ...but the user's choice does, and an undo of an earlier edit keeps it.
    doc = ctrl.document
    doc.edit("seed", lambda d: edits.set_setting(d, "fit.seed", 7))
    ctrl.boundary.projection_requested.emit({"kind": "pca"})
    assert project_plane(doc.project.data) == {"kind": "pca"}
    doc.undo_stack.undo()
    assert doc.project.data["fit"]["seed"] == 1
    assert project_plane(doc.project.data) == {"kind": "pca"}
    assert doc.project.data["designer"]["workspace"] == "train"


@pytest.mark.parametrize(
    "plane",
    [
        None,
        3,
        "pca",
        {"kind": "x"},
        {"kind": "features", "features": [1, 1]},
        {"kind": "features", "features": [0, True]},
        {"kind": "features", "features": [-1, 2]},
        {"kind": "features", "features": [0, 1, 2]},
        {"kind": "features", "features": "01"},
    ],
)
def test_a_hand_edited_plane_that_is_no_plane_is_ignored(plane):
    assert project_plane({"designer": {"plane": plane}}) is None
    assert project_plane({"designer": plane}) is None


def test_set_project_plane_merges_and_removes():
    data = {"designer": {"workspace": "design"}}
    set_project_plane(data, {"kind": "pca"})
    assert data == {"designer": {"workspace": "design", "plane": {"kind": "pca"}}}
    set_project_plane(data, None)
    assert data == {"designer": {"workspace": "design"}}
    set_project_plane(data := {}, None)
    assert data == {}


def test_saved_weights_that_do_not_fit_are_not_drawn_and_not_replaced(qtbot, make_window, tmp_path):
    _w, _first, path = train_and_save(qtbot, make_window, tmp_path, iris_spec(1))
    project = load_project(path)
    project.data["model"]["layers"][0]["config"]["units"] = 5  # the saved kernel has 16
    saved = {k: v.copy() for k, v in project.weights.items()}
    window, ctrl = make_window(project)
    ctrl.show_saved()  # what the window calls once it is built
    assert ctrl.session._host is None  # no worker: nothing to draw
    assert ctrl.boundary.empty
    assert all(np.array_equal(window.document.project.weights[k], saved[k]) for k in saved)


def test_data_that_cannot_load_says_the_weights_could_not_be_drawn(qtbot, make_window, tmp_path):
    _w, _first, path = train_and_save(qtbot, make_window, tmp_path, iris_spec(1))
    project = load_project(path)
    project.data["dataset"] = {"path": str(tmp_path / "gone.csv"), "target": "y"}
    window, ctrl = make_window(project)
    if not window.document.valid:
        pytest.skip("a missing data file is refused by validation here")
    qtbot.waitUntil(lambda: bool(ctrl.errors), timeout=TIMEOUT)
    assert "saved weights could not be drawn" in ctrl.panel.message_text
    assert "Training failed" not in ctrl.panel.message_text
