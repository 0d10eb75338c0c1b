"""The main window: docks and their remembered layout, menus and actions wired to the
document, the palette's add-after-selection, validity in the status bar and on the Export
action, themes, the activation functions view, and a start-up without TensorFlow.

Settings and autosaves go to the test's own folders; every dialog is replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from designer import theme
from designer.canvas.view import NetworkView
from designer.main_window import MainWindow, list_examples
from engine import edits
from engine.graph import INPUT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SEED = EXAMPLES / "seed_mlp.json"
SKIP = EXAMPLES / "skip_connection.json"


pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def window_size() -> tuple[int, int]:
    return (1400, 900)


@pytest.fixture
def restore_theme(qapp):
    state = theme.save_state(qapp)
    yield
    theme.restore_state(qapp, state)


def config(window: MainWindow, name: str) -> dict:
    return edits.find_layer(window.document.data, name)["config"]


def inbound(window: MainWindow) -> dict[str, list[str]]:
    return edits.explicit_inbound(window.document.data)


# ------------------------------------------------------------------------------ the window
def test_window_shows_the_docks_and_the_seed_project(make_window):
    window = make_window()
    assert isinstance(window.centralWidget(), NetworkView)
    assert window.centralWidget() is window.canvas
    area = window.dockWidgetArea
    assert area(window.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert area(window.inspector_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert area(window.code_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert area(window.summary_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert area(window.history_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert window.tabifiedDockWidgets(window.inspector_dock) == [
        window.code_dock,
        window.dataset.dock,
        window.doctor_dock,
    ]
    assert window.tabifiedDockWidgets(window.summary_dock) == [window.history_dock]
    for dock in (window.palette_dock, window.inspector_dock, window.summary_dock):
        assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    assert window.undo_view.stack() is window.document.undo_stack

    # The seed network, in blocks, in the summary and in the code.
    names = {item.name for item in window.canvas.network_scene.layer_items()}
    assert names == {INPUT, "hidden", "dropout", "dense"}
    assert window.windowTitle() == "Seed MLP (unsaved) — NN Designer"
    assert window.validity_label.text().endswith("Valid — 101,770 params")
    rows = window.summary_panel.rows()
    assert [r[0] for r in rows] == [
        "input (InputLayer)",
        "hidden (Dense)",
        "dropout (Dropout)",
        "dense (Dense)",
    ]
    assert "layers.Dense(128" in window.code_panel.code_text()
    assert window.code_panel.copy_button.isEnabled()


def test_menus_hold_the_actions_with_standard_shortcuts(make_window):
    window = make_window()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "E&xamples", "&Help"]
    act = window.actions
    assert act["undo"].shortcut().matches(Qt.Modifier.CTRL | Qt.Key.Key_Z).name == "ExactMatch"
    assert act["duplicate"].shortcut().toString() == "Ctrl+D"
    assert act["rename"].shortcut().toString() == "F2"
    assert act["save"].shortcut().toString() == "Ctrl+S"
    # Layer-editing keys act in the canvas only; in a text field they edit the text.
    assert act["delete"].shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
    assert act["delete"] in window.canvas.actions()
    toggles = [a.text() for a in window.panels_menu.actions() if a.isCheckable()]
    assert toggles == [
        "Layers",
        "Inspector",
        "Keras code",
        "Summary",
        "Undo history",
        "Dataset",
        "Doctor",
    ]


def test_title_follows_name_file_and_unsaved_changes(make_window):
    window = make_window(SEED)
    assert window.windowTitle() == "Seed MLP (seed_mlp.json) — NN Designer"
    window.document.edit("Rename", lambda d: edits.set_setting(d, "name", "Mine"))
    assert window.windowTitle() == "Mine (seed_mlp.json) * — NN Designer"
    window.actions["undo"].trigger()
    assert window.windowTitle() == "Seed MLP (seed_mlp.json) — NN Designer"


def test_inspector_edit_reaches_the_project_and_undo_redo_actions(make_window):
    window = make_window()
    window.canvas.network_scene.select_names(["hidden"])
    assert window.document.selection == ["hidden"]
    assert window.inspector_panel.mode == "layer"
    window.inspector_panel.field("units").setValue(64)
    assert config(window, "hidden")["units"] == 64
    assert window.validity_label.text().endswith("Valid — 50,890 params")
    assert window.actions["undo"].isEnabled()
    assert window.actions["undo"].text() != "&Undo"  # names the step
    assert window.windowTitle().endswith("* — NN Designer")

    window.actions["undo"].trigger()
    assert config(window, "hidden")["units"] == 128
    assert not window.document.dirty
    window.actions["redo"].trigger()
    assert config(window, "hidden")["units"] == 64
    assert window.undo_view.model().rowCount() == 2  # "<project opened>" + one edit


def test_edit_menu_actions_act_on_the_canvas_selection(make_window):
    window = make_window()
    act = window.actions
    window.canvas.network_scene.select_names(["hidden"])
    act["duplicate"].trigger()
    assert len(edits.layer_names(window.document.data)) == 4
    copy_name = window.document.selection[0]
    assert copy_name != "hidden" and config(window, copy_name)["units"] == 128

    act["copy"].trigger()
    act["paste"].trigger()
    assert len(edits.layer_names(window.document.data)) == 5

    act["select_all"].trigger()
    assert len(window.document.selection) == 5
    act["delete"].trigger()
    assert edits.layer_names(window.document.data) == []
    for _ in range(3):
        act["undo"].trigger()
    assert edits.layer_names(window.document.data) == ["hidden", "dropout", "dense"]

    window.canvas.network_scene.select_names(["dropout"])
    act["cut"].trigger()
    assert "dropout" not in edits.layer_names(window.document.data)
    act["undo"].trigger()
    act["auto_layout"].trigger()
    assert set(edits.positions(window.document.data)) >= {"hidden", "dropout", "dense"}


def test_palette_adds_after_the_selected_layer(make_window):
    window = make_window()
    scene = window.canvas.network_scene
    before = scene.display_positions()

    # hidden feeds dropout: the new layer goes in between, and the blocks after it move right.
    scene.select_names(["hidden"])
    window.palette_panel.add_requested.emit("Dropout")
    ins = inbound(window)
    new = window.document.selection[0]
    assert ins[new] == ["hidden"] and ins["dropout"] == [new]
    shown = scene.display_positions()
    assert shown[new][0] > before["hidden"][0]
    assert shown["dense"][0] > before["dense"][0]
    assert window.document.undo_stack.count() == 1

    # The last layer has no consumer: the new one is appended after it, and selected, so
    # Enter, Enter, Enter builds a chain.
    scene.select_names(["dense"])
    window.palette_panel.add_requested.emit("Dense")
    window.palette_panel.add_requested.emit("Activation")
    ins = inbound(window)
    dense_1, activation = window.document.data["model"]["layers"][-2:]
    assert ins[dense_1["config"]["name"]] == ["dense"]
    assert ins[activation["config"]["name"]] == [dense_1["config"]["name"]]
    assert window.document.valid

    # Nothing selected: an unconnected block (flagged) appears in view.
    scene.clearSelection()
    window.palette_panel.add_requested.emit("Flatten")
    lone = window.document.selection[0]
    assert inbound(window)[lone] == []
    assert not window.document.valid
    rect = scene.item_for(lone).sceneBoundingRect()
    visible = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert visible.intersects(rect)


def test_validity_in_status_bar_and_export_disabled_with_the_reason(make_window, tmp_path):
    window = make_window()
    export = window.actions["export"]
    assert export.isEnabled()
    window.document.edit("Units", lambda d: edits.set_param(d, "hidden", "units", -3))
    assert not window.document.valid
    reason = window.document.invalid_reason()
    assert not export.isEnabled()
    assert export.toolTip() == f"Fix the network first: {reason}"
    assert window.validity_label.text() == f"●  {window.document.problems[0]}"
    assert "units" in window.validity_label.text()
    assert window.export_code() is False  # even when called directly
    window.actions["undo"].trigger()
    assert export.isEnabled() and "Keras script" in export.toolTip()


def test_export_writes_the_keras_script(make_window, tmp_path, monkeypatch):
    window = make_window()
    target = tmp_path / "model"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    assert window.export_code()
    script = tmp_path / "model.py"
    compile(script.read_text(encoding="utf-8"), str(script), "exec")
    assert "Dense(" in script.read_text(encoding="utf-8")


def test_activation_functions_view(make_window):
    window = make_window()
    window.actions["activations"].trigger()
    dialog = window.show_activations()
    assert dialog.isVisible()
    assert list(dialog.plots)[:3] == ["sigmoid", "relu", "tanh"]
    assert window.show_activations() is dialog  # one dialog, raised again


def test_theme_menu_switches_palette_and_is_remembered(make_window, tmp_path, restore_theme):
    settings = QSettings(str(tmp_path / "t.ini"), QSettings.Format.IniFormat)
    window = make_window(settings=settings)
    window.actions["theme_dark"].trigger()
    app = QApplication.instance()
    assert app.palette().color(QPalette.ColorRole.Base).lightness() < 128
    assert settings.value("view/theme") == "dark"
    assert window.actions["theme_dark"].isChecked()
    window.actions["theme_light"].trigger()
    assert app.palette().color(QPalette.ColorRole.Base).lightness() > 200
    assert not window.actions["theme_dark"].isChecked()
    window.actions["theme_system"].trigger()
    assert settings.value("view/theme") == "system"


def test_layout_is_remembered_between_runs(make_window, tmp_path):
    path = tmp_path / "layout.ini"
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    first = make_window(settings=settings)
    first.history_dock.hide()
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.code_dock)
    first.close()
    assert not first.isVisible()

    second = make_window(settings=QSettings(str(path), QSettings.Format.IniFormat))
    assert second.dockWidgetArea(second.code_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert not second.history_dock.isVisible()
    second.reset_layout()
    assert second.dockWidgetArea(second.code_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert second.history_dock.isVisible() or second.tabifiedDockWidgets(second.history_dock)


def test_examples_menu_lists_every_example_with_its_description(make_window):
    examples = list_examples()
    assert [e.path.stem for e in examples] == [
        "perceptron",
        "xor",
        "seed_mlp",
        "seed_mlp_digits",
        "spiral",
        "iris",
        "skip_connection",
        "cnn_digits",
        "lenet5_mnist",
        "cnn_fashion_mnist",
    ]
    window = make_window()
    actions = window.examples_menu.actions()
    assert [a.text() for a in actions] == [e.title for e in examples]
    xor = next(a for a in actions if a.data().endswith("xor.json"))
    assert xor.toolTip() == json.loads((EXAMPLES / "xor.json").read_text())["description"]
    mnist = next(a for a in actions if a.data().endswith("seed_mlp.json"))
    assert "MNIST" in mnist.text() and "Keras cache" in mnist.toolTip()
    fashion = next(a for a in actions if a.data().endswith("cnn_fashion_mnist.json"))
    assert "Fashion-MNIST" in fashion.text() and "download it (31 MB)" in fashion.toolTip()
    digits = next(a for a in actions if a.data().endswith("cnn_digits.json"))
    assert "Keras cache" not in digits.toolTip()


def test_opening_an_example_makes_an_untitled_copy(make_window, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))  # MNIST surely not cached
    window = make_window()
    seed_action = next(a for a in window.examples_menu.actions() if "seed_mlp.json" in a.data())
    seed_action.trigger()
    assert window.document.path is None and window.document.project.name == "Seed MLP"
    message = window.statusBar().currentMessage()
    assert "MNIST is not in the Keras cache" in message
    assert window.open_example(SKIP)
    assert window.document.path is None
    assert window.document.project.name == "Skip connection (Add)"


def test_showing_the_window_does_not_import_tensorflow():
    """`python -m designer PROJECT` shows the window (the start-up probe quits at the first
    paint) without importing TensorFlow or Keras."""
    code = textwrap.dedent(
        """
        import json, os, sys, time
        os.environ["NNDESIGNER_STARTUP_PROBE"] = str(time.time())
        from designer.__main__ import cli
        rc = cli([sys.argv[1]])
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
        print(json.dumps({"rc": rc, "heavy": heavy}))
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", code, str(SEED)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("startup_s=")
    assert json.loads(lines[-1]) == {"rc": 0, "heavy": []}


# ------------------------------------------------------------------------------ entry points
def test_main_reports_an_unreadable_file_and_opens_the_seed(qapp, tmp_path, monkeypatch):
    from designer import app

    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "name": ', encoding="utf-8")
    shown: list[tuple[str, list[str]]] = []

    def critical(parent, title, text, *rest):
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]
        shown.append((text, [w.document.project.name for w in windows if w.isVisible()]))
        qapp.quit()

    monkeypatch.setattr(QMessageBox, "critical", staticmethod(critical))
    state = theme.save_state(qapp)
    try:
        assert app.main(str(broken)) == 0
    finally:
        theme.restore_state(qapp, state)
    ((text, visible),) = shown
    assert text.startswith("Could not open the project.") and "broken.json" in text
    assert visible == ["Seed MLP"]
    # No quit request is left behind to end the next event loop at once.
    qapp.processEvents()
    loop = QEventLoop()
    QTimer.singleShot(10, loop.quit)
    assert loop.exec() == 0


@pytest.mark.parametrize("size", [None, (640, 400)])
def test_screenshot_writes_a_png_of_the_requested_size(qapp, tmp_path, size):
    from PySide6.QtGui import QImage

    from designer import app

    out = tmp_path / "window.png"
    before = qapp.palette().color(QPalette.ColorRole.Base).name()
    if size is None:
        app.screenshot(SKIP, out)
        size = (1600, 1000)
    else:
        app.screenshot(SKIP, out, size=size)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert QImage(str(out)).size().toTuple() == size
    assert qapp.palette().color(QPalette.ColorRole.Base).name() == before  # theme restored
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_screenshot_after_training_trains_in_the_window(qapp, tmp_path, monkeypatch):
    from designer import app
    from designer.training.controller import TrainingController

    runs = []
    original = TrainingController.train_blocking

    def spy(ctl, epochs):
        ok = original(ctl, epochs)
        runs.append((ok, ctl.document.project.history, ctl.document.dirty))
        return ok

    monkeypatch.setattr(TrainingController, "train_blocking", spy)
    app.screenshot(EXAMPLES / "xor.json", tmp_path / "t.png", size=(800, 500), train_epochs=2)
    ((ok, history, dirty),) = runs
    assert ok and len(history["loss"]) == 2
    assert dirty  # trained weights are unsaved work


def test_screenshot_of_an_unreadable_file_raises(qapp, tmp_path):
    from designer import app
    from engine.errors import NNDError

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(NNDError):
        app.screenshot(broken, tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()
