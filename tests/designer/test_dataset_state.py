"""The Dataset panel's state without Qt: choosing a source, taking load results, the table's
columns, the summaries, and the edits it writes into the project."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from designer.dataset.state import (
    DatasetState,
    dataset_edit,
    digits_edit,
    scale_edit,
    size_text,
    split_counts,
)

ROOT = Path(__file__).resolve().parents[2]
SPECIES = ("setosa", "versicolor", "virginica")


def test_the_state_module_imports_no_qt():
    code = (
        "import sys, designer.dataset.state\n"
        "bad = [m for m in ('PySide6', 'pyqtgraph', 'tensorflow') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def iris_csv(path: Path, broken: bool = False) -> Path:
    rng = np.random.default_rng(0)
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for i in range(30):
        c = i % 3
        values = rng.normal(size=4) * 0.3 + [5.0 + c, 3.0, 1.5 + 2 * c, 0.2 + c]
        cells = [f"{v:.2f}" for v in values] + [SPECIES[c]]
        if broken and i == 4:
            cells[2] = "n/a?"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Holder:
    """Stands in for the document: the current project, edited by applying pure edits."""

    def __init__(self, tmp_path: Path) -> None:
        from engine.project import empty_project

        self.project = empty_project()
        self.project.path = tmp_path / "project.json"

    def apply(self, fn) -> None:
        self.project.data = fn(copy.deepcopy(self.project.data))


@pytest.fixture
def holder(tmp_path):
    return Holder(tmp_path)


@pytest.fixture
def state(holder):
    return DatasetState(lambda: holder.project)


def load(state: DatasetState, spec: dict, purpose: str, request_id: int = 1):
    from designer.dataset.load_job import LoadRequest, load_now

    return load_now(LoadRequest(request_id, spec, state.base_dir, purpose))


# ------------------------------------------------------------------ choosing and loading
def test_a_builtin_choice_goes_in_at_once_without_its_preparation_keys(state):
    core = state.choose({"name": "circles", "scale": "minmax", "test_split": 0.2}, "Use it")
    assert core == {"name": "circles"}
    assert state.pending is None


def test_a_file_choice_is_pending_until_it_loads_then_enters_the_project(holder, state, tmp_path):
    iris_csv(tmp_path / "iris.csv")
    holder.apply(scale_edit("standardize"))
    spec, text = state.path_choice(tmp_path / "iris.csv")
    assert spec == {"path": "iris.csv"}  # relative to the project's folder
    core = state.choose(spec, text)
    assert state.pending == core and state.shown_spec() == core
    assert state.shown_result() is None and state.error == ""  # loading
    assert state.project_load_wanted(None)  # the project's own data is not loaded either

    outcome = state.loaded(load(state, core, "propose"))
    assert outcome.outcome == "chosen" and outcome.text == "Use the data in iris.csv"
    assert outcome.new_plane == {"kind": "features", "features": [0, 1]}
    assert state.pending is None and state.dataset.n_samples == 30
    holder.apply(dataset_edit(outcome.spec))
    assert holder.project.data["dataset"] == {"path": "iris.csv", "scale": "standardize"}
    assert state.data_ready and not state.project_load_wanted(None)
    assert state.shape_text().endswith("30 samples × 4 features · 3 classes")
    assert state.feature_names()[:2] == ["sepal_length", "sepal_width"]


def test_a_failing_choice_keeps_the_projects_data_and_says_where(holder, state, tmp_path):
    moons = state.loaded(load(state, state.project_spec, "project"))
    assert moons.outcome == "project" and state.data_ready
    before = state.dataset
    iris_csv(tmp_path / "bad.csv", broken=True)
    core = state.choose({"path": "bad.csv"}, "Use the data in bad.csv")
    outcome = state.loaded(load(state, core, "propose"))
    assert outcome.outcome == "failed"
    assert "bad.csv" in state.error and state.pending_result.error_row is not None
    assert state.dataset is before and state.data_ready  # the project keeps its data
    assert state.preview is not None  # the failing file's rows, to show the bad cell
    state.drop_pending()
    assert state.error == "" and state.shown_spec() == {"name": "moons"}


def test_results_for_specs_no_longer_wanted_are_stale(state, tmp_path):
    iris_csv(tmp_path / "iris.csv")
    old = state.choose({"path": "iris.csv"}, "first")
    state.choose({"name": "circles"}, "second")  # supersedes the pending file
    assert state.loaded(load(state, old, "propose")).outcome == "stale"
    assert state.loaded(load(state, {"name": "blobs"}, "project")).outcome == "stale"
    assert state.dataset is None


def test_the_project_changing_elsewhere_drops_the_pending_choice(holder, state, tmp_path):
    state.choose({"path": "iris.csv"}, "Use it")
    assert not state.project_changed()  # nothing changed yet
    holder.apply(dataset_edit({"name": "circles"}))  # undo, the Inspector...
    assert state.project_changed() and state.pending is None


def test_a_load_in_progress_is_not_requested_twice(state):
    from designer.dataset.load_job import LoadRequest

    current = LoadRequest(1, dict(state.project_spec), state.base_dir, "project")
    assert not state.project_load_wanted(current)
    state.cancelled(current)  # the user stopped waiting: not started again by itself
    assert not state.project_load_wanted(None)


# ------------------------------------------------------------------ the table's columns
def test_target_and_features_are_named_by_their_header(holder, state, tmp_path):
    iris_csv(tmp_path / "iris.csv")
    core = state.choose({"path": "iris.csv"}, "Use it")
    state.loaded(load(state, core, "propose"))
    holder.apply(dataset_edit(core))
    assert state.table_width() == 5
    assert state.target_columns() == [4]  # the last column by default
    assert state.feature_columns() == [0, 1, 2, 3]
    change, text = state.target_change("petal_width")
    assert change == {"target": "petal_width"} and text == "Predict petal_width"
    assert state.features_change([3, 0, 1, 2]) == {"features": None}  # the default set
    assert state.features_change([0, 2]) == {"features": ["sepal_length", "petal_length"]}
    assert state.table_spec({"delimiter": ";"}, drop=("target",)) == {
        "path": "iris.csv",
        "delimiter": ";",
    }
    assert state.column_index(-1) == 4 and state.column_index("nope") is None


# ------------------------------------------------------------------ summaries
def test_split_and_label_texts_follow_the_settings(holder, state):
    state.loaded(load(state, state.project_spec, "project"))
    n = state.dataset.n_samples
    train, valid, test = split_counts(n, 0.2, 0.0, None)
    assert state.split_text() == (f"Training {train} · validation {valid} · test 0 samples", False)
    assert state.labels_text().startswith("Labels: class indices 0…1 (integers)")
    holder.apply(lambda d: {**d, "compile": {**d["compile"], "loss": "mean_squared_error"}})
    assert state.labels_text() == (
        "Labels: one-hot vectors of 2, for mean_squared_error (matched to the loss automatically)."
    )


def test_split_counts_and_sizes():
    assert split_counts(100, 0.2, 0.1, None) == (72, 18, 10)
    assert split_counts(100, 0.2, 0.0, 50) == (80, 20, 50)  # the data's own test set
    assert size_text(None) == "" and size_text(1500) == "1.5 kB" and size_text(12) == "12 bytes"


def test_the_match_plan_names_the_output_layer_and_the_loss(state):
    state.loaded(load(state, state.project_spec, "project"))
    matched, plan = state.match_plan()
    assert plan == "input (2,) · Dense(2, softmax) · sparse_categorical_crossentropy"
    assert matched["model"]["input_shape"] == [2]


# ------------------------------------------------------------------ edits of the project
def test_scale_edits_drop_the_older_spelling(holder):
    holder.project.data["dataset"]["standardize"] = True
    holder.apply(scale_edit("minmax"))
    assert holder.project.data["dataset"] == {"name": "moons", "scale": "minmax"}
    holder.apply(scale_edit("none"))
    assert holder.project.data["dataset"] == {"name": "moons"}


def test_the_digits_instead_edit_sets_the_data_and_the_input_in_one(holder):
    holder.apply(digits_edit())
    data = holder.project.data
    assert data["dataset"] == {"name": "digits", "scale": "standardize"}
    assert data["model"]["input_shape"] == [64]
