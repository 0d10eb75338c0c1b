"""The Dataset panel: built-in sets and their parameters, CSV files loaded in the background
(preview rows, shape, class balance, scatter), target and feature choices, a broken cell named
by row and column while the project keeps its data, Match network to data in one undo step,
the image grid, preparation settings, relative data paths, and the panel in a main window
(dock, menu action, dropped files). Assertions are on the spec and the views' data."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox

from designer.dataset import DatasetController, DatasetPanel, attach_dataset, dropped_data_path
from designer.document import Document, spec_text
from engine.data import load_dataset, prepare
from engine.data.projection import Projection
from engine.project import EMPTY_PROJECT, from_dict, load_project, save_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SPECIES = ("setosa", "versicolor", "virginica")


def iris_like_csv(path: Path, n_per_class: int = 10, broken: tuple[int, int] | None = None):
    """A small iris-like table (4 numeric features, a text class column, 3 classes); with
    ``broken=(data_row, column)`` one cell holds text."""
    rng = np.random.default_rng(0)
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for i in range(3 * n_per_class):
        c = i % 3
        values = rng.normal(size=4) * 0.3 + [5.0 + c, 3.0, 1.5 + 2 * c, 0.2 + c]
        cells = [f"{v:.2f}" for v in values] + [SPECIES[c]]
        if broken is not None and broken[0] == i:
            cells[broken[1]] = "n/a?"
        lines.append(",".join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def regression_csv(path: Path) -> Path:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = x @ [1.5, -2.0, 0.5] + 0.1
    lines = ["a,b,c,price"] + [
        ",".join(f"{v:.4f}" for v in (*row, t)) for row, t in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def document(name: str | None = "xor", path: Path | None = None) -> Document:
    if name is None:
        project = from_dict(copy.deepcopy(EMPTY_PROJECT))
    else:
        project = load_project(EXAMPLES / f"{name}.json")
    if path is not None:
        save_project(project, path)
        project = load_project(path)
    return Document(project)


@pytest.fixture
def make_panel(qtbot):
    panels: list[DatasetPanel] = []

    def make(doc: Document) -> DatasetPanel:
        panel = DatasetPanel(doc)
        qtbot.addWidget(panel)
        panels.append(panel)
        panel.resize(480, 900)
        panel.show()
        qtbot.waitUntil(lambda: panel.project_result is not None, timeout=15000)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


def idle(qtbot, panel: DatasetPanel) -> None:
    qtbot.waitUntil(lambda: panel.loader.current is None, timeout=15000)


# ------------------------------------------------------------------------------ built-ins
def test_choosing_a_builtin_and_its_parameters_writes_the_spec(make_panel, qtbot):
    doc = document("xor")
    panel = make_panel(doc)
    assert panel.dataset is not None and panel.dataset.name.startswith("xor")
    assert panel.table_view.rowCount() == 20
    assert panel.balance_view.names == ["different signs", "same signs"]
    assert int(panel.balance_view.counts.sum()) == 200

    doc.edit("scale", lambda d: {**d, "dataset": {**d["dataset"], "scale": "minmax"}})
    count = doc.undo_stack.count()
    combo = panel.source_field.combo
    combo.setCurrentIndex(combo.findText("blobs"))
    assert doc.data["dataset"] == {"name": "blobs", "scale": "minmax"}  # preparation kept
    assert doc.undo_stack.count() == count + 1
    idle(qtbot, panel)
    assert panel.dataset.n_classes == 3

    # The parameters are generated from the ParamInfo table; repeated edits merge.
    assert set(panel.param_fields) == {"n_samples", "noise", "seed", "centers"}
    spin = panel.param_fields["centers"].editor
    spin.setValue(4)
    spin.setValue(5)
    assert doc.data["dataset"]["centers"] == 5
    assert doc.undo_stack.count() == count + 2
    idle(qtbot, panel)
    assert panel.dataset.n_classes == 5
    assert len(panel.balance_view.counts) == 5
    # Back to the default removes the key.
    spin.setValue(3)
    assert "centers" not in doc.data["dataset"]


# ------------------------------------------------------------------------------ CSV files
def test_a_csv_loads_in_the_background_with_preview_shape_balance_and_scatter(
    make_panel, qtbot, tmp_path
):
    csv_path = iris_like_csv(tmp_path / "iris.csv")
    doc = document("xor")
    panel = make_panel(doc)
    before = copy.deepcopy(doc.data["dataset"])
    with qtbot.waitSignal(panel.dataset_loaded, timeout=15000):
        panel.open_path(csv_path)
        # Nothing enters the project before the file has loaded.
        assert doc.data["dataset"] == before
        assert panel.pending is not None and panel.busy_row.isVisibleTo(panel)
    idle(qtbot, panel)
    assert doc.data["dataset"]["path"] == str(csv_path)  # unsaved project: absolute
    assert not panel.busy_row.isVisibleTo(panel)
    assert panel.error == ""

    table = panel.table_view
    assert table.columnCount() == 5 and table.rowCount() == 20
    assert table.headers()[:4] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert "species" in table.headers()[4]
    first = csv_path.read_text().splitlines()[1].split(",")
    assert [table.cell_text(0, j) for j in range(5)] == first
    assert table.verticalHeaderItem(0).text() == "2"  # spreadsheet row numbers

    assert "30 samples × 4 features · 3 classes" in panel.shape_label.text()
    assert panel.balance_view.names == list(SPECIES)
    assert panel.balance_view.counts.tolist() == [10, 10, 10]
    assert panel.target_field.value() == 4
    assert panel.feature_columns() == [0, 1, 2, 3]

    # The scatter: two chosen features, coloured by class.
    panel.tabs.setCurrentWidget(panel.scatter_tab)
    data = load_dataset(doc.data["dataset"])
    np.testing.assert_allclose(panel.scatter_view.points, data.x[:, [0, 1]], rtol=1e-6)
    assert panel.scatter_view.labels.tolist() == data.y.tolist()
    assert panel.scatter_view.axis_names == ("sepal_length", "sepal_width")
    with qtbot.waitSignal(panel.projection_changed) as changed:
        panel.y_combo.setCurrentIndex(3)
    assert changed.args == [{"kind": "features", "features": [0, 3]}]
    np.testing.assert_allclose(panel.scatter_view.points[:, 1], data.x[:, 3], rtol=1e-6)
    assert panel.scatter_view.scatter is not None  # the plot was built when shown
    assert len(panel.scatter_view.brushes()) == 30
    # Principal components: the projection the boundary view will use.
    panel.plane_combo.setCurrentIndex(1)
    assert panel.projection_choice == {"kind": "pca"}
    expected = Projection("pca").fit(data.x).to_plane(data.x)
    np.testing.assert_allclose(panel.scatter_view.points, expected, atol=1e-5)
    assert panel.scatter_view.axis_names[0].startswith("PC1")

    # Choosing another target: a new spec (after it loads), the old target becomes a feature.
    count = doc.undo_stack.count()
    panel.target_field.combo.setCurrentIndex(3)
    idle(qtbot, panel)
    assert doc.data["dataset"]["target"] == "petal_width"
    assert doc.undo_stack.count() == count + 1
    assert panel.dataset.task == "regression"
    assert panel.tabs.tabText(1) == "Target" and panel.balance_view.histogram
    assert panel.feature_columns() == [0, 1, 2]  # species holds text: not a feature
    # Unchecking a feature pins the list.
    panel.features_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    idle(qtbot, panel)
    assert doc.data["dataset"]["features"] == ["sepal_length", "petal_length"]
    assert panel.dataset.x.shape == (30, 2)
    # Back to the classes; the pinned features stay, without the new target.
    panel.set_target("species")
    idle(qtbot, panel)
    assert doc.data["dataset"]["target"] == "species"
    assert doc.data["dataset"]["features"] == ["sepal_length", "petal_length"]
    assert panel.dataset.n_classes == 3


def test_a_column_of_sample_weights_is_chosen_and_leaves_the_features(make_panel, qtbot, tmp_path):
    csv_path = iris_like_csv(tmp_path / "iris.csv")
    doc = document("xor")
    panel = make_panel(doc)
    with qtbot.waitSignal(panel.dataset_loaded, timeout=15000):
        panel.open_path(csv_path)
    idle(qtbot, panel)
    field = panel.weight_field
    # None first, then the numeric columns (the text target is not offered)
    assert field.values[0] is None and field.values[1:] == [0, 1, 2, 3]
    assert field.value() is None
    field.combo.setCurrentIndex(field.values.index(0))
    idle(qtbot, panel)
    assert panel.error == ""
    assert doc.data["dataset"]["sample_weight"] == "sepal_length"
    assert panel.feature_columns() == [1, 2, 3]
    assert panel.features_list.item(0).isHidden()
    np.testing.assert_allclose(
        panel.dataset.sample_weight, load_dataset({"path": str(csv_path)}).x[:, 0]
    )
    assert panel.dataset.x.shape == (30, 3)
    field.combo.setCurrentIndex(0)
    idle(qtbot, panel)
    assert "sample_weight" not in doc.data["dataset"]
    assert panel.feature_columns() == [0, 1, 2, 3]
    # a column with negative cells is refused, named by row and column; the data stay
    field.combo.setCurrentIndex(field.values.index(3))
    idle(qtbot, panel)
    assert "the sample weights must be 0 or more" in panel.error
    assert "petal_width" in panel.error
    assert "sample_weight" not in doc.data["dataset"]


def test_a_broken_cell_is_named_and_the_project_keeps_its_data(make_panel, qtbot, tmp_path):
    good = iris_like_csv(tmp_path / "good.csv")
    bad = iris_like_csv(tmp_path / "bad.csv", n_per_class=20, broken=(41, 1))
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(good)
    idle(qtbot, panel)
    spec_before = copy.deepcopy(doc.data["dataset"])
    count = doc.undo_stack.count()
    kept = panel.dataset

    panel.open_path(bad)
    idle(qtbot, panel)
    # The message names the file, the row and the column, and quotes the value.
    message = panel.error_label.text()
    assert panel.error_box.isVisibleTo(panel)
    assert str(bad) in message and "row 43" in message and "sepal_width" in message
    assert "n/a?" in message
    assert "keeps good.csv" in panel.error_keep.text()
    # Nothing changed in the project; the plots keep the last good data.
    assert doc.data["dataset"] == spec_before and doc.undo_stack.count() == count
    assert panel.dataset is kept
    assert panel.balance_view.counts.tolist() == [10, 10, 10]
    # The table shows the failing file around the bad cell, highlighted.
    table = panel.table_view
    assert table.bad == (43, 1)
    item = table.bad_item()
    assert item is not None and item.text() == "n/a?"
    assert item.background().color().name() != table.item(0, 1).background().color().name()
    assert None in table.row_numbers  # a gap row between the first rows and row 43
    assert panel.source_field.combo.currentText() == "File: bad.csv"

    # Editing the network keeps the failed choice on show.
    doc.edit("rename", lambda d: {**d, "name": "Renamed"})
    assert panel.pending is not None and panel.error_box.isVisibleTo(panel)
    # Keeping the current data drops the failed choice.
    panel.discard_button.click()
    assert panel.pending is None and not panel.error_box.isVisibleTo(panel)
    assert panel.source_field.combo.currentText() == "File: good.csv"
    assert table.bad is None


def test_large_files_load_in_a_child_process(make_panel, qtbot, tmp_path, monkeypatch):
    from designer.dataset import load_job as loading

    monkeypatch.setattr(loading, "SUBPROCESS_BYTES", 0)  # every file counts as large
    bad = iris_like_csv(tmp_path / "bad.csv", broken=(3, 2))
    good = iris_like_csv(tmp_path / "good.csv")
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(bad)
    idle(qtbot, panel)
    assert "row 5" in panel.error and "petal_length" in panel.error
    assert panel.table_view.bad == (5, 2)
    panel.open_path(good)
    idle(qtbot, panel)
    assert doc.data["dataset"]["path"] == str(good)
    assert panel.dataset.x.shape == (30, 4) and panel.dataset.class_names == list(SPECIES)


def test_a_newer_choice_supersedes_an_older_one(make_panel, qtbot, tmp_path):
    first = iris_like_csv(tmp_path / "first.csv")
    second = regression_csv(tmp_path / "second.csv")
    doc = document("xor")
    panel = make_panel(doc)
    count = doc.undo_stack.count()
    panel.open_path(first)
    panel.open_path(second)
    idle(qtbot, panel)
    assert doc.data["dataset"]["path"] == str(second)
    assert doc.undo_stack.count() == count + 1  # the first choice never entered the project
    assert panel.dataset.task == "regression"

    # A change of the project's data elsewhere (undo) is newer than a pending choice.
    panel.open_path(first)
    doc.undo_stack.undo()
    assert panel.pending is None
    idle(qtbot, panel)
    assert doc.data["dataset"]["name"] == "xor" and panel.dataset.name.startswith("xor")


def test_a_ragged_row_is_named_and_the_header_decides_the_columns(make_panel, qtbot, tmp_path):
    path = iris_like_csv(tmp_path / "ragged.csv")
    lines = path.read_text().splitlines()
    lines[5] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(path)
    idle(qtbot, panel)
    assert "row 6" in panel.error and "6 values" in panel.error
    assert panel.table_view.bad == (6, None)  # the whole row
    # The preview widens to the long row, the column choices follow the header.
    assert panel.table_view.columnCount() == 6
    assert panel.table_width() == 5
    assert panel.target_field.value() == 4
    assert panel.features_list.count() == 5
    assert "path" not in doc.data["dataset"]


def test_reading_options_task_undo_and_a_missing_file(make_panel, qtbot, tmp_path):
    path = tmp_path / "semi.csv"
    rows = ["a;b;label"] + [
        f"{i % 7},{i % 3};{(i * 3) % 5};{'yes' if i % 2 else 'no'}" for i in range(30)
    ]
    path.write_text("\n".join(rows) + "\n")
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(path)
    idle(qtbot, panel)
    assert panel.error == ""
    assert panel.preview.delimiter == ";" and panel.preview.decimal == ","
    assert panel.delimiter_field.combo.itemText(0) == "Auto (semicolon)"
    # Read it as comma-separated: the spec pins the delimiter, once that loads.
    panel.delimiter_field.combo.setCurrentIndex(panel.delimiter_field.combo.findText("comma"))
    idle(qtbot, panel)
    assert panel.error and doc.data["dataset"] == {"path": str(path)}  # it does not load
    panel.discard_pending()
    panel.header_field.combo.setCurrentIndex(panel.header_field.combo.findText("Header"))
    idle(qtbot, panel)
    assert doc.data["dataset"] == {"path": str(path), "header": True}
    # The task: the 0..4 column predicted as a number.
    panel.set_target("b")
    idle(qtbot, panel)
    assert panel.dataset.task == "classification"
    panel.task_field.combo.setCurrentIndex(panel.task_field.combo.findText("Regression"))
    idle(qtbot, panel)
    assert doc.data["dataset"]["task"] == "regression" and panel.dataset.task == "regression"
    # Undo goes back through the choices, reloading each.
    doc.undo_stack.undo()
    idle(qtbot, panel)
    assert "task" not in doc.data["dataset"] and panel.dataset.task == "classification"

    # A project whose file is gone: the message, no data, no Match.
    gone = document("xor")
    gone.edit("gone", lambda d: {**d, "dataset": {"path": str(tmp_path / "gone.csv")}})
    other = make_panel(gone)
    assert "gone.csv" in other.error and "not found" in other.error
    assert other.dataset is None and not other.match_button.isEnabled()
    assert other.error_box.isVisibleTo(other) and not other.discard_button.isVisibleTo(other)


def test_image_folders_and_idx_files_show_their_images(make_panel, qtbot, tmp_path):
    from PIL import Image

    from engine.data.idx import write_idx

    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for name in ("circle", "square"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            pixels = (rng.random((5, 6)) * 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / name / f"{i}.png")
    doc = document("xor")
    panel = make_panel(doc)
    panel.ask_image_folder = lambda: str(folder)
    panel.source_field.combo.setCurrentIndex(panel.source_field.combo.findText("Image folder…"))
    idle(qtbot, panel)
    assert doc.data["dataset"] == {"path": str(folder)}
    assert panel.image_shape == (5, 6)
    assert [name for name, _ in panel.image_view.columns] == ["circle", "square"]
    assert panel.image_view.n_images == 6

    images = (rng.random((12, 7, 9)) * 255).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(12, dtype=np.uint8) % 3)
    panel.open_path(tmp_path / "train-images-idx3-ubyte")
    idle(qtbot, panel)
    assert panel.error == ""
    assert panel.image_shape == (7, 9)
    # The first image of class 0 is sample 0, shown as it is (only rescaled for display).
    shown = panel.image_view.columns[0][1][0]
    assert shown.shape == (7, 9)
    corr = np.corrcoef(shown.ravel(), images[0].ravel().astype(np.float64))[0, 1]
    assert corr == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------------------ match
def test_match_network_sets_softmax_output_and_loss_in_one_undo_step(make_panel, qtbot, tmp_path):
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(iris_like_csv(tmp_path / "iris.csv"))
    idle(qtbot, panel)
    assert panel.match_button.isEnabled()
    assert "Dense(3, softmax)" in panel.match_button.toolTip()
    assert panel.fit_label.text().startswith("✗")  # input (2,) vs 4 features
    before = spec_text(doc.data)
    count = doc.undo_stack.count()

    panel.match_button.click()
    assert doc.undo_stack.count() == count + 1
    data = doc.data
    assert data["model"]["input_shape"] == [4]
    output = data["model"]["layers"][-1]["config"]
    assert (output["units"], output["activation"]) == (3, "softmax")
    assert data["compile"]["loss"] == "sparse_categorical_crossentropy"
    assert doc.valid
    assert panel.fit_label.text().startswith("✓")
    assert not panel.match_button.isEnabled()
    assert "class indices 0…2" in panel.labels_label.text()

    doc.undo_stack.undo()
    assert spec_text(doc.data) == before


def test_a_numeric_target_matches_a_linear_output(make_panel, qtbot, tmp_path):
    doc = document("xor")
    panel = make_panel(doc)
    panel.open_path(regression_csv(tmp_path / "prices.csv"))
    idle(qtbot, panel)
    assert panel.dataset.task == "regression"
    assert panel.balance_view.histogram and int(panel.balance_view.counts.sum()) == 40
    assert panel.match_network()
    output = doc.data["model"]["layers"][-1]["config"]
    assert (output["units"], output["activation"]) == (1, "linear")
    assert doc.data["compile"]["loss"] == "mean_squared_error"
    assert doc.data["model"]["input_shape"] == [3]
    assert "regression" in panel.labels_label.text()


# ------------------------------------------------------------------------------ images
def test_digits_show_a_grid_of_sample_images(make_panel, qtbot):
    doc = document("xor")
    panel = make_panel(doc)
    panel.source_field.combo.setCurrentIndex(panel.source_field.combo.findText("digits"))
    idle(qtbot, panel)
    assert panel.image_shape == (8, 8)
    index = panel.tabs.indexOf(panel.image_view)
    assert panel.tabs.isTabEnabled(index)
    view = panel.image_view
    assert [name for name, _ in view.columns] == [str(d) for d in range(10)]
    assert view.n_images == 80
    ds = panel.dataset
    first_zero = ds.x[np.flatnonzero(ds.y == 0)[0]].reshape(8, 8)
    shown = view.columns[0][1][0]
    lo, hi = 0.0, 16.0  # digits' pixel range, scaled to [0, 1] for display
    np.testing.assert_allclose(shown, (first_zero - lo) / (hi - lo), atol=1e-6)
    assert "8×8 images" in panel.shape_label.text()
    assert panel.projection_choice == {"kind": "pca"}  # 64 pixels: principal components
    panel.tabs.setCurrentIndex(index)
    assert view.grab().width() > 0

    # Not image data: the tab is off.
    panel.source_field.combo.setCurrentIndex(panel.source_field.combo.findText("moons"))
    idle(qtbot, panel)
    assert not panel.tabs.isTabEnabled(index) and view.n_images == 0


# ------------------------------------------------------------------------------ preparation
def test_preparation_settings_go_where_training_reads_them(make_panel, qtbot, tmp_path):
    doc = document("xor")
    doc.edit("old spelling", lambda d: {**d, "dataset": {**d["dataset"], "standardize": True}})
    panel = make_panel(doc)
    assert panel.scale_field.value() == "standardize"
    panel.scale_field.combo.setCurrentIndex(2)  # min-max
    ds = doc.data["dataset"]
    assert ds["scale"] == "minmax" and "standardize" not in ds
    panel.test_field.editor.setValue(0.25)
    panel.validation_field.editor.setValue(0.1)
    panel.seed_field.editor.setValue(7)
    assert doc.data["dataset"]["test_split"] == 0.25
    assert doc.data["fit"]["validation_split"] == 0.1 and doc.data["fit"]["seed"] == 7
    assert doc.valid
    # The counts shown are those prepare() makes.
    data = load_dataset(doc.data["dataset"])
    prep = prepare(data, validation_split=0.1, seed=7, scale="minmax", test_split=0.25)
    text = panel.split_label.text()
    assert (
        f"Training {len(prep.x_train)} · validation {len(prep.x_val)} · test {len(prep.x_test)}"
        in text
    )
    # A later file keeps the preparation.
    panel.open_path(iris_like_csv(tmp_path / "iris.csv"))
    idle(qtbot, panel)
    assert doc.data["dataset"]["scale"] == "minmax"
    assert doc.data["dataset"]["test_split"] == 0.25
    panel.scale_field.combo.setCurrentIndex(0)
    assert "scale" not in doc.data["dataset"]


def test_the_data_path_is_stored_relative_to_the_project(make_panel, qtbot, tmp_path):
    project_file = tmp_path / "work" / "project.json"
    project_file.parent.mkdir()
    doc = document("xor", project_file)
    csv_path = iris_like_csv(tmp_path / "work" / "data" / "iris.csv")
    panel = make_panel(doc)
    panel.open_path(csv_path)
    idle(qtbot, panel)
    assert doc.data["dataset"]["path"] == "data/iris.csv"
    assert panel.path_edit.text() == "data/iris.csv"
    # Saved and reopened, it loads the same arrays.
    doc.save()
    reopened = load_project(project_file)
    again = load_dataset(reopened.dataset, reopened.base_dir)
    np.testing.assert_array_equal(again.x, panel.dataset.x)
    # A file two folders up still goes relative; the file dialog gives the same.
    outside = iris_like_csv(tmp_path / "elsewhere.csv")
    panel.ask_data_file = lambda: str(outside)
    panel.choose_file()
    idle(qtbot, panel)
    assert doc.data["dataset"]["path"] == "../elsewhere.csv"


# ------------------------------------------------------------------------------ main window
@pytest.fixture
def no_dialogs(monkeypatch, tmp_path):
    monkeypatch.setenv("NNDESIGNER_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("NNDESIGNER_RECOVERY_DIR", str(tmp_path / "recovery"))

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("question", "critical", "warning", "information"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(unexpected))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(unexpected))


def test_attach_dataset_to_the_main_window(qtbot, tmp_path, no_dialogs, request, drag_drop):
    from designer.main_window import MainWindow

    csv_path = iris_like_csv(tmp_path / "iris.csv")
    doc = document("xor")
    window = MainWindow(doc)
    qtbot.addWidget(window, before_close_func=lambda w: w.document.undo_stack.setClean())
    # The window attaches the panel itself once it is wired in; before, the test does.
    controller = getattr(window, "dataset", None)
    if not isinstance(controller, DatasetController):
        controller = attach_dataset(window)
    request.addfinalizer(controller.panel.shutdown)
    assert window.dataset is controller
    assert isinstance(window.findChild(QDockWidget, "dataset_dock"), QDockWidget)
    file_menu = next(a.menu() for a in window.menuBar().actions() if "File" in a.text())
    texts = [a.text() for a in file_menu.actions()]
    assert texts.index("Open &Data File…") == texts.index("&Open…") + 1
    assert controller.dock.toggleViewAction() in window.panels_menu.actions()
    window.show()
    qtbot.waitUntil(lambda: controller.dock in window.tabifiedDockWidgets(window.inspector_dock))
    assert window.inspector_dock in window.tabifiedDockWidgets(controller.dock)
    # The panel loads nothing while it is hidden behind the Inspector...
    assert controller.panel.loader.latest_id == 0
    # ...and loads the project's data when its tab is brought to the front.
    controller.dock.raise_()
    qtbot.waitUntil(lambda: controller.panel.project_result is not None, timeout=15000)
    assert controller.dataset.name.startswith("xor")
    assert controller.projection_choice == {"kind": "features", "features": [0, 1]}
    assert controller.projection().kind == "features"
    window.inspector_dock.raise_()

    controller.open_data_file(csv_path)
    qtbot.waitUntil(lambda: doc.data["dataset"].get("path") == str(csv_path), timeout=15000)
    assert controller.panel.isVisible()
    assert controller.dataset.n_classes == 3

    # A dropped CSV becomes the dataset; project files and missing files are left alone.
    other = regression_csv(tmp_path / "prices.csv")
    accepted, mime = drag_drop(window, other)
    assert accepted
    qtbot.waitUntil(lambda: doc.data["dataset"].get("path") == str(other), timeout=15000)
    assert dropped_data_path(mime) == other
    project = tmp_path / "p.json"
    project.write_text(json.dumps(doc.data))
    accepted, mime = drag_drop(window, project, drop=False)
    assert not accepted or dropped_data_path(mime) is None
    assert not drag_drop(window, tmp_path / "missing.txt", drop=False)[0]
    assert drag_drop(window, tmp_path, drop=False)[0]  # a folder: image classes
