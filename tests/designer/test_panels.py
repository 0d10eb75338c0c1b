"""The panels: palette, inspector, summary, code preview and the activation plots.

Every test drives the widgets and asserts on the project spec or on plot data, not on pixels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from designer.document import Document
from engine import edits
from engine.activations import ACTIVATION_NAMES, get_activation
from engine.errors import NNDError
from engine.layers import LAYER_TYPES
from engine.project import seed_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


@pytest.fixture
def doc(qtbot):
    return Document(seed_project())


def layer_config(doc: Document, name: str) -> dict:
    return edits.find_layer(doc.data, name)["config"]


# --------------------------------------------------------------------------------- palette
def test_palette_lists_every_layer_type_and_drags_its_class_name(qtbot):
    from designer.panels.palette import LAYER_MIME_TYPE, PalettePanel, class_name_from_mime

    panel = PalettePanel()
    qtbot.addWidget(panel)
    assert panel.class_names() == list(LAYER_TYPES)
    for name in LAYER_TYPES:
        mime = panel.mime_data_for(name)
        assert LAYER_MIME_TYPE in mime.formats()
        assert bytes(mime.data(LAYER_MIME_TYPE).data()) == name.encode("utf-8")
        assert class_name_from_mime(mime) == name
    assert not panel.list.item(0).icon().isNull()

    panel.set_filter("merge")
    assert panel.visible_class_names() == ["Add", "Concatenate"]
    with qtbot.waitSignal(panel.add_requested) as blocker:
        qtbot.keyClick(panel.list, Qt.Key.Key_Return)
    assert blocker.args == ["Add"]
    panel.set_filter("")
    assert panel.visible_class_names() == list(LAYER_TYPES)


# --------------------------------------------------------------------------------- inspector
@pytest.fixture
def inspector(doc, qtbot):
    from designer.panels.inspector import InspectorPanel

    panel = InspectorPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    return panel


def test_inspector_edits_merge_into_one_undo_step_and_keep_the_editor(doc, inspector):
    doc.set_selection(["hidden"])
    assert inspector.mode == "layer"
    spin = inspector.field("units")
    assert spin.value() == 128
    for units in (6, 64):  # typing "64": two edits of one field
        spin.setValue(units)
    assert layer_config(doc, "hidden")["units"] == 64
    assert doc.undo_stack.count() == 1
    assert inspector.field("units") is spin  # updated in place, not rebuilt
    doc.undo_stack.undo()
    assert layer_config(doc, "hidden")["units"] == 128
    assert spin.value() == 128
    # Another layer of the same type reuses the editors.
    doc.set_selection(["dense"])
    assert inspector.field("units") is spin and spin.value() == 10


def test_typing_a_learning_rate_is_one_undo_step(doc, inspector, qtbot):
    spin = inspector.field("compile.optimizer.learning_rate")
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "0.05")  # "0", "0.", "0.0" are not valid rates: no edit for them
    assert doc.data["compile"]["optimizer"]["config"]["learning_rate"] == 0.05
    assert doc.undo_stack.count() == 1
    assert inspector.field("compile.optimizer.learning_rate") is spin
    assert spin.text() == "0.05"
    spin.stepBy(1)  # learning rates step along 1-2-5
    assert doc.data["compile"]["optimizer"]["config"]["learning_rate"] == 0.1


def test_inspector_writing_the_default_removes_the_key(doc, inspector):
    doc.set_selection(["hidden"])
    box = inspector.field("use_bias")
    box.setChecked(False)
    assert layer_config(doc, "hidden")["use_bias"] is False
    box.setChecked(True)  # the default: Keras' get_config() would not need it
    assert "use_bias" not in layer_config(doc, "hidden")


def test_inspector_shows_the_engines_message_under_the_field(doc, inspector):
    doc.set_selection(["hidden"])
    doc.edit("bad", lambda d: edits.set_param(d, "hidden", "units", 0))
    assert "must be at least 1" in inspector.error_text("units")
    assert inspector.field("units").value() == 0  # shown as it is, not clamped
    inspector.field("units").setValue(5)
    assert inspector.error_text("units") == ""


def test_inspector_rename_refuses_a_taken_name_and_follows_a_good_one(doc, inspector):
    doc.set_selection(["hidden"])
    edit = inspector.field("name")
    edit.setText("dense")
    edit.textEdited.emit("dense")
    edit.editingFinished.emit()
    assert "already used" in inspector.error_text("name")
    assert "hidden" in edits.layer_names(doc.data)
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 64))
    assert edit.text() == "dense"  # the refused text stays, to be corrected
    edit.setText("features")
    edit.textEdited.emit("features")
    edit.editingFinished.emit()
    assert edits.layer_names(doc.data)[0] == "features"
    assert doc.selection == ["features"] and inspector.mode == "layer"
    assert inspector.error_text("name") == ""


def test_inspector_class_change_fills_required_params(doc, inspector):
    doc.set_selection(["dropout"])
    inspector.field("class_name").setCurrentText("Dense")
    assert edits.find_layer(doc.data, "dropout")["class_name"] == "Dense"
    assert layer_config(doc, "dropout")["units"] == 32
    assert inspector.field("units").value() == 32


def test_an_initializers_settings_are_shown_and_edited(doc, inspector):
    spec = {"class_name": "RandomNormal", "config": {"stddev": 0.1}}
    doc.edit("init", lambda d: edits.set_param(d, "hidden", "kernel_initializer", spec))
    doc.set_selection(["hidden"])
    field = inspector.form.fields["kernel_initializer"]
    assert field.combo.currentText() == "random_normal"
    assert field.settings.text() == "stddev=0.1" and not field.settings.isHidden()
    field.settings.setText("stddev=0.2, seed=3")
    field.settings.editingFinished.emit()
    assert layer_config(doc, "hidden")["kernel_initializer"] == {
        "class_name": "RandomNormal",
        "config": {"seed": 3, "stddev": 0.2},
    }
    field.settings.setText("stdev=1")
    field.settings.editingFinished.emit()
    assert "no setting 'stdev'" in field.error_text
    field.combo.setCurrentText("he_normal")  # a name replaces the custom spec
    assert layer_config(doc, "hidden")["kernel_initializer"] == "he_normal"
    assert field.settings.text() == ""
    field.combo.setCurrentText("zeros")  # no settings: no line
    assert field.settings.isHidden()
    field.combo.setCurrentText("constant")  # Keras needs its value: one is given
    assert layer_config(doc, "hidden")["kernel_initializer"] == {
        "class_name": "Constant",
        "config": {"value": 0.0},
    }
    field.settings.setText("value=0.25")
    field.settings.editingFinished.emit()
    assert layer_config(doc, "hidden")["kernel_initializer"]["config"] == {"value": 0.25}


def test_activation_picker_edits_and_plots_the_function(doc, inspector):
    doc.set_selection(["hidden"])
    combo = inspector.field("activation")
    plot = inspector.activation_plot
    x, f = plot.f_curve.getData()
    assert x.dtype == np.float64 and np.allclose(f, np.maximum(x, 0))
    f_item, df_item = plot.f_curve, plot.df_curve
    combo.setCurrentText("tanh")
    assert layer_config(doc, "hidden")["activation"] == "tanh"
    x, f = plot.f_curve.getData()
    assert np.allclose(f, np.tanh(x))
    assert np.allclose(plot.df_curve.getData()[1], 1 - np.tanh(x) ** 2)
    # Hovering an entry of the open list previews it; closing the list goes back.
    combo.highlighted.emit(combo.findText("sigmoid"))
    assert np.allclose(plot.f_curve.getData()[1], 1 / (1 + np.exp(-x)))
    combo.popup_hidden.emit()
    assert np.allclose(plot.f_curve.getData()[1], np.tanh(x))
    assert (plot.f_curve, plot.df_curve) == (f_item, df_item)  # setData, not new items
    combo.setCurrentText("linear")  # the default
    assert "activation" not in layer_config(doc, "hidden")


def test_settings_edits_reach_the_project(doc, inspector):
    assert inspector.mode == "settings"
    inspector.field("fit.epochs").setValue(12)
    inspector.field("fit.batch_size").setValue(64)
    inspector.field("fit.validation_split").setValue(0.25)
    inspector.field("fit.shuffle").setChecked(False)
    inspector.field("fit.seed").setValue(7)
    assert doc.data["fit"] == {
        "epochs": 12,
        "batch_size": 64,
        "validation_split": 0.25,
        "shuffle": False,
        "seed": 7,
    }
    inspector.field("dtype").setCurrentText("float64")
    inspector.field("backend").setCurrentText("tensorflow")
    assert (doc.data["dtype"], doc.data["backend"]) == ("float64", "tensorflow")
    name = inspector.field("name")
    name.setText("My MLP")
    name.textEdited.emit("My MLP")
    assert doc.data["name"] == "My MLP"

    inspector.field("compile.loss").setCurrentText("categorical_crossentropy")
    assert doc.data["compile"]["loss"] == "categorical_crossentropy"
    metrics = inspector.form.fields["compile.metrics"].boxes
    metrics["mean_absolute_error"].setChecked(True)
    assert doc.data["compile"]["metrics"] == ["accuracy", "mean_absolute_error"]

    shape = inspector.field("model.input_shape")
    shape.setText("28, 28")
    shape.textEdited.emit("28, 28")
    shape.editingFinished.emit()
    assert doc.data["model"]["input_shape"] == [28, 28]


def test_optimizer_class_and_hyper_parameters(doc, inspector):
    inspector.field("compile.optimizer").setCurrentText("SGD")
    # The explicitly set learning rate carries over; the class's own defaults do not.
    assert doc.data["compile"]["optimizer"] == {
        "class_name": "SGD",
        "config": {"learning_rate": 0.001},
    }
    momentum = inspector.field("compile.optimizer.momentum")
    momentum.setValue(0.9)
    inspector.field("compile.optimizer.learning_rate").setValue(0.05)
    assert doc.data["compile"]["optimizer"]["config"] == {"learning_rate": 0.05, "momentum": 0.9}
    momentum.setValue(0.0)  # Keras' default: dropped from the config
    assert doc.data["compile"]["optimizer"]["config"] == {"learning_rate": 0.05}
    assert "compile.optimizer.beta_1" not in inspector.form.fields
    inspector.field("compile.optimizer").setCurrentText("Perceptron")
    assert inspector.field("compile.loss").findText("(none)") >= 0


def test_the_new_optimizers_and_weight_decay_are_offered(doc, inspector):
    combo = inspector.field("compile.optimizer")
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names[:3] == ["SGD", "Adam", "AdamW"]  # the common ones in front
    assert {"Adadelta", "Adamax", "Nadam", "Lion", "Ftrl"} <= set(names)
    combo.setCurrentText("AdamW")
    decay = inspector.field("compile.optimizer.weight_decay")
    assert decay.value() == pytest.approx(0.004)  # AdamW's own default, never off
    decay.setValue(0.01)
    assert doc.data["compile"]["optimizer"]["config"]["weight_decay"] == 0.01
    combo.setCurrentText("Ftrl")
    # the weight decay set explicitly carries over; Ftrl's own settings appear
    assert doc.data["compile"]["optimizer"]["config"]["weight_decay"] == 0.01
    power = inspector.field("compile.optimizer.learning_rate_power")
    assert power.value() == -0.5 and power.maximum() == 0.0
    power.setValue(-0.25)
    assert doc.data["compile"]["optimizer"]["config"]["learning_rate_power"] == -0.25
    for key in ("l1_regularization_strength", "l2_shrinkage_regularization_strength", "beta"):
        assert f"compile.optimizer.{key}" in inspector.form.fields
    combo.setCurrentText("Lion")
    assert inspector.field("compile.optimizer.beta_1").maximum() == 1.0
    assert not doc.problems, doc.problems


def test_a_learning_rate_schedule_is_chosen_and_set_in_the_inspector(doc, inspector):
    inspector.field("compile.optimizer").setCurrentText("SGD")
    inspector.field("compile.optimizer.learning_rate").setValue(0.05)
    schedule = inspector.field("compile.optimizer.schedule")
    assert schedule.currentText() == "constant"
    schedule.setCurrentText("ExponentialDecay")
    lr = doc.data["compile"]["optimizer"]["config"]["learning_rate"]
    assert lr == {
        "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.05, "decay_steps": 1000, "decay_rate": 0.9},
    }
    assert not inspector.field("compile.optimizer.learning_rate").isEnabled()
    inspector.field("compile.optimizer.learning_rate.decay_rate").setValue(0.5)
    inspector.field("compile.optimizer.learning_rate.staircase").setChecked(True)
    config = doc.data["compile"]["optimizer"]["config"]["learning_rate"]["config"]
    assert config["decay_rate"] == 0.5 and config["staircase"] is True
    assert not doc.problems, doc.problems
    # the rows are made anew for the other schedule: the fields are fetched again
    inspector.field("compile.optimizer.schedule").setCurrentText("PiecewiseConstantDecay")
    assert doc.data["compile"]["optimizer"]["config"]["learning_rate"]["config"] == {
        "boundaries": [1000],
        "values": [0.05, 0.005],
    }
    bounds = inspector.field("compile.optimizer.learning_rate.boundaries")
    assert bounds.text() == "1000"
    bounds.setText("100, 500")
    bounds.textEdited.emit("100, 500")
    bounds.editingFinished.emit()
    spec = doc.data["compile"]["optimizer"]["config"]["learning_rate"]
    assert spec["config"]["boundaries"] == [100, 500]
    # values must have one more entry than the boundaries: validation says so
    assert "one more entry" in inspector.problems_text()
    inspector.field("compile.optimizer.schedule").setCurrentText("constant")
    assert doc.data["compile"]["optimizer"]["config"]["learning_rate"] == 0.05
    assert inspector.field("compile.optimizer.learning_rate").isEnabled()


def test_the_loss_settings_are_offered_and_written_in_keras_form(doc, inspector):
    loss = inspector.field("compile.loss")
    loss.setCurrentText("huber")
    assert doc.data["compile"]["loss"] == "huber"
    delta = inspector.field("compile.loss.delta")
    assert delta.value() == 1.0
    delta.setValue(2.0)
    assert doc.data["compile"]["loss"] == {"class_name": "Huber", "config": {"delta": 2.0}}
    inspector.field("compile.loss.reduction").setCurrentText("sum")
    assert doc.data["compile"]["loss"]["config"] == {"delta": 2.0, "reduction": "sum"}
    delta.setValue(1.0)  # Keras' default: dropped again
    assert doc.data["compile"]["loss"] == {"class_name": "Huber", "config": {"reduction": "sum"}}
    loss.setCurrentText("categorical_crossentropy")
    assert doc.data["compile"]["loss"] == "categorical_crossentropy"
    assert "compile.loss.delta" not in inspector.form.fields
    inspector.field("compile.loss.from_logits").setChecked(True)
    inspector.field("compile.loss.label_smoothing").setValue(0.1)
    assert doc.data["compile"]["loss"] == {
        "class_name": "CategoricalCrossentropy",
        "config": {"from_logits": True, "label_smoothing": 0.1},
    }
    assert inspector.field("compile.loss").currentText() == "categorical_crossentropy"


def test_dataset_settings_and_problems(doc, inspector):
    inspector.field("dataset").setCurrentText("moons")
    assert doc.data["dataset"] == {"name": "moons"}
    noise = inspector.field("dataset.noise")
    noise.setValue(0.3)
    inspector.field("dataset.n_samples").setValue(200)
    assert doc.data["dataset"] == {"name": "moons", "noise": 0.3, "n_samples": 200}
    noise.setValue(0.1)  # moons' default noise
    assert doc.data["dataset"] == {"name": "moons", "n_samples": 200}
    doc.edit("bad", lambda d: edits.set_setting(d, "dataset.noise", 5.0))
    assert "noise" in inspector.problems_text()
    assert "between 0 and 1" in inspector.error_text("dataset.noise")
    doc.edit("file", lambda d: edits.set_setting(d, "dataset", {"path": "data.npz"}))
    assert inspector.field("dataset.path").text() == "data.npz"
    assert inspector.field("dataset.path").isReadOnly()


# --------------------------------------------------------------------------------- summary
def test_summary_shows_the_seed_and_follows_edits(doc, qtbot):
    from designer.panels.summary import SummaryPanel

    panel = SummaryPanel(doc)
    qtbot.addWidget(panel)
    assert panel.rows() == [
        ["input (InputLayer)", "(None, 784)", "0", "0"],
        ["hidden (Dense)", "(None, 128)", "100,480", "200,960"],
        ["dropout (Dropout)", "(None, 128)", "0", "0"],
        ["dense (Dense)", "(None, 10)", "1,290", "2,610"],
    ]
    assert "101,770" in panel.totals_label.text()
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 64))
    assert panel.rows()[1][:3] == ["hidden (Dense)", "(None, 64)", "50,240"]
    doc.edit("bad", lambda d: edits.set_param(d, "hidden", "units", 0))
    assert panel.stale and "must be at least 1" in panel.problems_label.text()
    assert panel.rows()[1][1] == "(None, 64)"  # the last valid table, greyed out
    doc.undo_stack.undo()
    assert not panel.stale and panel.problems_label.isHidden()
    panel.table.selectRow(3)
    assert doc.selection == ["dense"]
    doc.open(EXAMPLES / "skip_connection.json")  # a graph: "Connected to" is shown
    assert panel.rows()[3] == ["skip (Add)", "(None, 16)", "0", "16", "stem, branch"]
    assert "354" in panel.totals_label.text()


# --------------------------------------------------------------------------------- code
def test_code_panel_refreshes_copies_and_shows_errors(doc, qtbot):
    from designer.panels.code import CodePanel

    def fake(project):
        units = project.data["model"]["layers"][0]["config"]["units"]
        return f"layers.Dense({units})\n"

    panel = CodePanel(doc, code_fn=fake)
    qtbot.addWidget(panel)
    assert panel.code_text() == "layers.Dense(128)\n"
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 64))
    assert panel.pending  # debounced
    qtbot.waitUntil(lambda: panel.code_text() == "layers.Dense(64)\n")
    assert panel.editor.toPlainText() == "layers.Dense(64)\n"
    panel.copy_button.click()
    assert QApplication.clipboard().text() == "layers.Dense(64)\n"

    doc.edit("bad", lambda d: edits.set_param(d, "hidden", "units", 0))
    qtbot.waitUntil(lambda: "must be at least 1" in panel.message_text())
    assert panel.code_text() == "" and not panel.copy_button.isEnabled()

    def refuse(project):
        raise NNDError("the export cannot write this layer")

    other = CodePanel(doc, code_fn=refuse)
    qtbot.addWidget(other)
    doc.undo_stack.undo()
    qtbot.waitUntil(lambda: not other.pending)
    assert other.message_text() == "the export cannot write this layer"


def test_code_panel_without_the_exporter(doc, qtbot, monkeypatch):
    from designer.panels import code

    monkeypatch.setitem(sys.modules, "engine.export.keras_code", None)  # import fails
    assert code.default_code_fn() is None
    panel = code.CodePanel(doc)
    qtbot.addWidget(panel)
    assert panel.message_text() == code.UNAVAILABLE_TEXT


# --------------------------------------------------------------------------------- plots
def test_activation_plot_updates_its_curves_in_place(qtbot):
    from designer.plots.activation_plot import ActivationPlot

    plot = ActivationPlot()
    qtbot.addWidget(plot)
    curves = plot.getPlotItem().listDataItems()
    for name in ("sigmoid", "softmax", "sign", None):
        plot.set_activation(name)
        assert plot.getPlotItem().listDataItems() == curves
    x, f = plot.f_curve.getData()
    assert x.dtype == np.float64 and x[0] == -5 and x[-1] == 5
    assert np.array_equal(f, x) and np.array_equal(plot.df_curve.getData()[1], np.ones_like(x))


def test_activations_dialog_plots_the_seed_formulas(qtbot):
    from designer.panels.activations import ActivationsDialog

    dialog = ActivationsDialog()
    qtbot.addWidget(dialog)
    x = np.linspace(-5, 5, 100)
    seed = {
        "sigmoid": 1 / (1 + np.exp(-x)),
        "relu": np.maximum(0, x),
        "tanh": np.tanh(x),
    }
    assert list(dialog.curves) == ["sigmoid", "relu", "tanh"]
    assert [dialog.plots[n].titleLabel.text for n in seed] == ["Sigmoid", "ReLU", "Tanh"]
    for name, expected in seed.items():
        cx, cy = dialog.curves[name][0].getData()
        assert np.array_equal(cx, x)
        np.testing.assert_allclose(cy, expected, rtol=1e-12, atol=1e-15)

    dialog.show_all.setChecked(True)
    assert set(dialog.curves) == set(ACTIVATION_NAMES)
    f_curve, df_curve = dialog.curves["gelu"]
    assert df_curve.opts["pen"].style() == Qt.PenStyle.DashLine
    gx = f_curve.getData()[0]
    assert np.allclose(df_curve.getData()[1], get_activation("gelu").derivative(gx))
    dialog.show_all.setChecked(False)
    assert dialog.grid_view.isHidden()


def test_regularizers_and_constraints_sit_in_a_folded_section(doc, inspector, qtbot):
    """The rules of a layer are folded under "Regularizers and constraints" until one is set;
    picking a class commits Keras' name, edited settings commit the shortest spec, text that
    does not read is named under the line and not committed; the model's problems show there."""
    doc.set_selection(["hidden"])
    form = inspector.form
    assert form.has_rules and form.rules_box.isHidden()
    field = form.fields["kernel_regularizer"]
    assert field.combo.currentText() == "None" and field.settings.isHidden()
    field.combo.setCurrentText("L2")
    assert layer_config(doc, "hidden")["kernel_regularizer"] == "L2"
    field = inspector.form.fields["kernel_regularizer"]
    assert not inspector.form.rules_box.isHidden()  # opened once a rule is set
    assert field.settings.text() == "l2=0.01" and not field.settings.isHidden()
    field.settings.setText("l2=0.002")
    field.settings.editingFinished.emit()
    assert layer_config(doc, "hidden")["kernel_regularizer"] == {
        "class_name": "L2",
        "config": {"l2": 0.002},
    }
    field.settings.setText("l2")
    field.settings.editingFinished.emit()
    assert "'l2' is not setting=value" in field.error_text
    assert layer_config(doc, "hidden")["kernel_regularizer"]["config"] == {"l2": 0.002}
    field.settings.setText("l2=-1")
    field.settings.editingFinished.emit()
    assert "at least 0" in field.error_text

    con = inspector.form.fields["kernel_constraint"]
    con.combo.setCurrentText("MaxNorm")
    con = inspector.form.fields["kernel_constraint"]
    assert con.settings.text() == "max_value=2, axis=0"
    con.settings.setText("max_value=3, axis=[0]")
    con.settings.editingFinished.emit()
    assert layer_config(doc, "hidden")["kernel_constraint"] == {
        "class_name": "MaxNorm",
        "config": {"max_value": 3, "axis": [0]},
    }
    con.settings.setText("max_value=3, axis=5")
    con.settings.editingFinished.emit()
    assert (
        "axis 5 is outside the weight's 2 axes"
        in inspector.form.fields["kernel_constraint"].error_text
    )  # the model's own check, shown at the field
    inspector.form.fields["kernel_constraint"].combo.setCurrentText("None")
    assert layer_config(doc, "hidden").get("kernel_constraint") is None
    assert doc.problems_for("hidden") == []


def test_callbacks_are_added_edited_and_removed_in_keras_form(doc, inspector):
    """The Fit group's callbacks: add one from the combo (Keras' defaults), edit its settings
    as text (only those that differ are written), see a refused setting named at the field,
    remove it; each change is one undoable edit."""
    assert inspector.mode == "settings"
    field = inspector.form.fields["fit.callbacks"]
    assert field.rows == [] and field.add_combo.currentText() == "Add a callback…"
    field.add_combo.activated.emit(field.add_combo.findText("EarlyStopping"))
    assert doc.data["fit"]["callbacks"] == ["EarlyStopping"]
    field.add_combo.activated.emit(field.add_combo.findText("ModelCheckpoint"))
    assert doc.data["fit"]["callbacks"] == ["EarlyStopping", "ModelCheckpoint"]
    field = inspector.form.fields["fit.callbacks"]
    assert [row[0].text() for row in field.rows] == ["EarlyStopping", "ModelCheckpoint"]
    assert "patience=0" in field.rows[0][1].toolTip()
    edit = field.rows[0][1]
    edit.setText("patience=2, restore_best_weights=true")
    edit.editingFinished.emit()
    assert doc.data["fit"]["callbacks"][0] == {
        "class_name": "EarlyStopping",
        "config": {"patience": 2, "restore_best_weights": True},
    }
    edit = inspector.form.fields["fit.callbacks"].rows[0][1]
    assert edit.text() == "patience=2, restore_best_weights=true"
    edit.setText("patience")
    edit.editingFinished.emit()
    assert "'patience' is not setting=value" in inspector.form.fields["fit.callbacks"].error_text
    edit.setText("patience=-1")
    edit.editingFinished.emit()
    assert "'patience' must be a whole number" in inspector.form.fields["fit.callbacks"].error_text
    field = inspector.form.fields["fit.callbacks"]
    field.rows[0][2].click()
    assert doc.data["fit"]["callbacks"] == ["ModelCheckpoint"]
    inspector.form.fields["fit.callbacks"].rows[0][2].click()
    assert doc.data["fit"].get("callbacks") is None


def test_the_validation_split_mode_is_offered(doc, inspector):
    field = inspector.field("fit.validation_split_mode")
    assert field.currentText() == "stratified"
    field.setCurrentText("last")
    assert doc.data["fit"]["validation_split_mode"] == "last"
    inspector.field("fit.validation_split_mode").setCurrentText("stratified")
    assert "validation_split_mode" not in doc.data["fit"]
