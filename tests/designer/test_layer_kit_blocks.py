"""The designer's half of the registry-following suite (tests/engine/test_layer_kit.py):
every registered layer type gets a palette entry, a canvas block and an inspector form.

The types share one main window (showing a window is most of such a test's time): each test
starts from the seed network, adds its block, checks it and undoes the addition; a test that
finds the window in another state (the one before it failed half-way) gets a new window.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import edits
from engine.layers import LAYER_TYPES

pytestmark = pytest.mark.usefixtures("isolated")


def _unexpected(*args, **kwargs):
    raise AssertionError(f"unexpected dialog: {args[1:3] if len(args) > 2 else args}")


@pytest.fixture(scope="module")
def shared_window(qapp, tmp_path_factory):
    """``get() -> MainWindow``: one shown window on the seed network for the module, isolated
    as the ``isolated`` fixture isolates a test (no real settings or recovery folder, no
    dialog); a new one when the last test left it changed."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from designer.document import Document
    from designer.main_window import MainWindow

    windows: list = []
    start: dict = {}
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("layer_kit_blocks")
        mp.setenv("NNDESIGNER_SETTINGS_DIR", str(home / "settings"))
        mp.setenv("NNDESIGNER_RECOVERY_DIR", str(home / "recovery"))
        for name in ("question", "critical", "warning", "information", "about"):
            mp.setattr(QMessageBox, name, staticmethod(_unexpected))
        mp.setattr(QMessageBox, "exec", _unexpected)
        mp.setattr(QFileDialog, "getSaveFileName", staticmethod(_unexpected))
        mp.setattr(QFileDialog, "getOpenFileName", staticmethod(_unexpected))

        def get():
            if windows and windows[-1].document.data == start["data"]:
                window = windows[-1]
                window.canvas.network_scene.select_names([])
                return window
            window = MainWindow(Document(None))
            window.show()
            windows.append(window)
            start["data"] = copy.deepcopy(window.document.data)
            return window

        yield get
        for window in windows:
            window.document.undo_stack.clear()
            window.document.set_clean()
            window.close()
            window.deleteLater()
        qapp.processEvents()


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_every_type_gets_a_block_and_an_inspector_form(shared_window, qtbot, class_name):
    from designer.panels.layer_icons import layer_color

    window = shared_window()
    qtbot.waitExposed(window)
    ltype = LAYER_TYPES[class_name]
    assert class_name in window.palette_panel.class_names()
    scene = window.canvas.network_scene
    # Added after the last layer, as the palette does with a selection.
    last = window.document.graph.output
    scene.select_names([last])
    name = window.add_layer_from_palette(class_name)
    item = scene.item_for(name)
    assert item is not None and item.class_name == class_name
    assert layer_color(class_name).name() == ltype.color.lower()
    layer = edits.find_layer(window.document.data, name)
    assert layer["class_name"] == class_name
    assert {k: v for k, v in layer["config"].items() if k != "name"} == ltype.new_config
    # Selected, the inspector shows a field for every setting of the type.
    scene.select_names([name])
    inspector = window.inspector_panel
    qtbot.waitUntil(lambda: inspector.mode == "layer")
    for param in ltype.params:
        assert inspector.field(param.name) is not None, param.name
    window.document.undo_stack.undo()
    assert scene.item_for(name) is None


BN_SPEC = {
    "format_version": 1,
    "name": "Spiral with batch normalization",
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "h", "units": 8}},
            {"class_name": "BatchNormalization", "config": {"name": "bn"}},
            {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 2, "activation": "softmax"}},
        ],
    },
    "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
    "fit": {"epochs": 3, "batch_size": 16, "validation_split": 0.2, "seed": 0},
    "dataset": {"name": "spiral", "n_samples": 80},
}


def test_a_network_with_moving_statistics_trains_live_and_steps_through(training_window, qtbot):
    """BatchNormalization's non-trainable weights through the window: the live run keeps
    them (they move, the optimizer never touches them), the activity view looks through the
    layer, and Backprop mode explains one of its units with the batch's statistics."""
    from designer.stepper import StepperPanel
    from designer.training.activity import looks_through
    from engine.project import from_dict

    window, ctrl = training_window(from_dict(BN_SPEC))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 1 and ctrl.state == "idle", timeout=60_000)
    weights = window.document.project.weights
    assert {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"} <= set(weights)
    assert not np.allclose(weights["bn/moving_mean"], 0.0)  # updated by the training steps
    info = {layer.name: layer for layer in ctrl.info.layers}
    assert looks_through(info["bn"])

    panel = StepperPanel(window.document)
    qtbot.addWidget(panel)
    panel.resize(620, 900)
    assert panel.start()
    panel.run_to_end()
    panel.pin_neuron("bn", 0)
    text = panel.math_text()
    assert "√(σ² + ε)" in text and "this batch's mean and variance" in text
    s = panel.session
    update = s.phases[s.position("update", "bn")].data
    assert set(update["after"]) == {"gamma", "beta", "moving_mean", "moving_variance"}
    assert not np.array_equal(update["after"]["moving_mean"], update["before"]["moving_mean"])
