"""Workspaces (issue 13): Design / Train / Backprop, switched by the toolbar's segmented
control and Ctrl+1/2/3 (Ctrl+B is Backprop mode, the Backprop workspace), each remembering
its own arrangement; the workspace travels in the project's "designer" key; the toolbar's
Undo/Redo keep fixed texts; the status bar's verdict covers data fit and loss/output
mismatches and goes to the problem; file dialogs never start in the shipped examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog

from designer.main_window import RESOURCES_DIR
from designer.workspaces import WORKSPACES, project_workspace, set_project_workspace
from engine import edits
from engine.project import load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def window_size() -> tuple[int, int]:
    return (1200, 760)


def shown_docks(window) -> set[str]:
    return {d.objectName() for d in window.workspaces.all_docks() if d.isVisible()}


def test_shortcuts_are_unique_and_switch_workspaces(make_window, qtbot):
    window = make_window(EXAMPLES / "xor.json")
    seen: dict[str, str] = {}
    for action in window.findChildren(type(window.actions["new"])):
        for key in action.shortcuts():
            text = key.toString()
            assert text not in seen or seen[text] == action.text(), text
            seen[text] = action.text()
    assert {seen["Ctrl+1"], seen["Ctrl+2"], seen["Ctrl+3"]} == {"Design", "Train", "Backprop"}
    assert window.workspaces.current == "design"
    assert "palette_dock" in shown_docks(window)
    assert "training_loss_dock" not in shown_docks(window)
    window.workspaces.actions["train"].trigger()  # what Ctrl+2 does
    assert window.workspaces.current == "train"
    assert {"training_panel_dock", "training_loss_dock"} <= shown_docks(window)
    assert "palette_dock" not in shown_docks(window)
    # Ctrl+B: Backprop mode is the Backprop workspace; the view and math panel are central.
    window.stepper.action.trigger()
    assert window.workspaces.current == "backprop" and window.stepper.active
    assert window.stepper.splitter is not None
    assert window.centralWidget().currentWidget() is window.stepper.splitter
    assert shown_docks(window) == set()
    window.stepper.action.trigger()  # off again: back where it came from
    assert window.workspaces.current == "train" and window.centralWidget() is window.canvas
    window.workspaces.bar.buttons["design"].click()
    assert window.workspaces.current == "design" and window.workspaces.actions["design"].isChecked()


def test_each_workspace_remembers_its_arrangement(make_window, tmp_path):
    settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    window = make_window(EXAMPLES / "xor.json", settings=settings)
    window.history_dock.hide()
    window.workspaces.switch("train")
    window.training.docks["confusion"].hide()
    window.workspaces.switch("design")
    assert not window.history_dock.isVisible() and window.palette_dock.isVisible()
    window.workspaces.switch("train")
    assert not window.training.docks["confusion"].isVisible()
    assert window.training.docks["loss"].isVisible()
    window.reset_layout()  # the current workspace's default
    assert window.training.docks["confusion"] in window.tabifiedDockWidgets(
        window.training.docks["loss"]
    )
    window.close()
    again = make_window(
        EXAMPLES / "xor.json",
        settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat),
    )
    # The project has no workspace of its own: the last one shown comes back.
    assert again.workspaces.current == "train"


def test_the_workspace_is_saved_in_the_project_and_merged(make_window, tmp_path, monkeypatch):
    data = json.loads((EXAMPLES / "xor.json").read_text())
    data["designer"] = {"plane": {"kind": "pca"}}
    source = tmp_path / "mine.json"
    source.write_text(json.dumps(data))
    window = make_window(source)
    window.workspaces.switch("train")
    assert window.save()
    saved = json.loads(source.read_text())
    assert saved["designer"] == {"plane": {"kind": "pca"}, "workspace": "train"}
    assert project_workspace(load_project(source).data) == "train"
    window.workspaces.switch("design")
    reopened = make_window(source)
    assert reopened.workspaces.current == "train"


def test_project_key_helpers_keep_other_keys():
    data = {"designer": {"plane": 1}}
    set_project_workspace(data, "backprop")
    assert data == {"designer": {"plane": 1, "workspace": "backprop"}}
    assert project_workspace({"designer": {"workspace": "nonsense"}}) is None
    assert project_workspace({"designer": "broken"}) is None
    data = {"designer": [1]}
    set_project_workspace(data, "design")
    assert data["designer"] == {"workspace": "design"}
    assert set(WORKSPACES) == {"design", "train", "backprop"}


def test_toolbar_undo_keeps_its_text_and_place(make_window):
    window = make_window()
    button = window.tool_bar.widgetForAction(window.toolbar_actions["undo"])
    x0 = window.tool_bar.widgetForAction(window.actions["auto_layout"]).x()
    assert button.text() == "Undo" and not button.isEnabled()
    window.document.edit(
        "Change activation of 'hidden'",
        lambda d: edits.set_param(d, "hidden", "activation", "tanh"),
    )
    assert button.text() == "Undo" and button.isEnabled()
    assert "Change activation of 'hidden'" in button.toolTip()
    assert window.tool_bar.widgetForAction(window.actions["auto_layout"]).x() == x0
    button.click()
    assert edits.find_layer(window.document.data, "hidden")["config"]["activation"] == "relu"


def test_verdict_reports_a_loss_output_mismatch_and_goes_to_the_layer(make_window, qtbot):
    # The spiral is made with NumPy (the digits would import scikit-learn in a thread).
    window = make_window(EXAMPLES / "spiral.json")
    out = window.document.graph.output_node.name
    window.document.edit(
        "relu out",
        lambda d: edits.set_param(edits.set_param(d, out, "activation", "relu"), out, "units", 32),
    )
    assert window.document.valid  # it exports; it just cannot learn the classes
    text = window.validity_label.text()
    assert "softmax" in text and not text.startswith("●  Valid")
    window.dataset.show_dock()  # the panel loads the data it shows
    qtbot.waitUntil(lambda: window.dataset.dataset is not None, timeout=20_000)
    window._on_changed()
    assert "32 units but the data has 2 classes" in window.validity_label.toolTip()
    window.document.set_selection([])
    qtbot.mouseClick(window.validity_label, Qt.MouseButton.LeftButton)
    assert window.document.selection == [out]


def test_verdict_reports_data_that_does_not_fit(make_window, qtbot):
    window = make_window(EXAMPLES / "spiral.json")
    window.document.edit("shape", lambda d: edits.set_setting(d, "model.input_shape", [5]))
    window.dataset.show_dock()  # the panel loads the data it shows
    qtbot.waitUntil(lambda: window.dataset.dataset is not None, timeout=20_000)
    window._on_changed()
    assert "input" in window.validity_label.toolTip() and window.document.valid
    assert window.go_to_problem() == "dataset"
    assert window.dataset.dock.isVisible()


def test_file_dialogs_start_in_the_last_folder_never_in_the_examples(
    make_window, tmp_path, monkeypatch
):
    settings = QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat)
    window = make_window(settings=settings)
    window.open_example(EXAMPLES / "xor.json")
    starts = []

    def fake_save(parent, caption, start, *args):
        starts.append(start)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    window.save_as()
    assert not Path(starts[-1]).resolve().is_relative_to(RESOURCES_DIR.resolve())
    folder = tmp_path / "work"
    folder.mkdir()
    window._remember(folder / "net.json")
    window.save_as()
    assert Path(starts[-1]).parent == folder


def test_play_in_design_shows_the_run_in_train(make_window, qtbot, monkeypatch):
    window = make_window(EXAMPLES / "xor.json")
    window.document.edit("epochs", lambda d: edits.set_setting(d, "fit.epochs", 2))
    runs = window.training.finished_runs
    window.training.panel.actions["play"].trigger()
    assert window.workspaces.current == "train"
    qtbot.waitUntil(lambda: window.training.finished_runs > runs, timeout=60_000)
    assert window.training.docks["boundary"].isVisible()
    window.workspaces.switch("design")
    # A script's run (no Play action) builds anew: the training views show themselves for
    # the data, but outside Train they stay hidden.
    monkeypatch.setattr(window.training, "ask_keep_weights", lambda changed: False)
    window.document.edit("units", lambda d: edits.set_param(d, "hidden", "units", 3))
    assert window.training.train_blocking(1, timeout_s=60)
    assert window.workspaces.current == "design"
    assert not window.training.docks["boundary"].isVisible()


def test_the_first_window_and_reset_layout_fit_the_screen(make_window):
    window = make_window(show=False)
    avail = window.screen().availableGeometry()
    assert window.width() == round(avail.width() * 0.9)
    assert window.height() == round(avail.height() * 0.9)
    window.show()
    window.resize(avail.width() + 600, avail.height() + 400)
    window.reset_layout()
    assert window.width() <= avail.width() and window.height() <= avail.height()
    assert window.palette_dock.isVisible() and window.inspector_dock.isVisible()
