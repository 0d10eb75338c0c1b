"""The Inspector's metrics editor: the common metrics in front, the rest folded, each checked
metric's settings on a line of its own; what the boxes do not cover is kept and listed."""

from __future__ import annotations

import pytest

from designer.document import Document
from engine import edits
from engine.project import seed_project


@pytest.fixture
def doc(qtbot):
    return Document(seed_project())


@pytest.fixture
def inspector(doc, qtbot):
    from designer.panels.inspector import InspectorPanel

    panel = InspectorPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    panel.show()
    return panel


def metrics_of(doc):
    return doc.data["compile"].get("metrics")


def test_common_metrics_stay_in_front_and_the_rest_fold(doc, inspector):
    field = inspector.form.fields["compile.metrics"]
    assert field.boxes["accuracy"].isChecked()  # the seed's
    for label in ("precision", "recall", "auc"):
        assert field.boxes[label].isVisible()
    assert not field.boxes["r2_score"].isVisible()
    field.more_button.click()
    assert field.boxes["r2_score"].isVisible()
    field.more_button.click()
    assert not field.boxes["r2_score"].isVisible()


def test_checking_adds_keras_specs_and_each_is_one_undo_step(doc, inspector):
    field = inspector.form.fields["compile.metrics"]
    field.boxes["auc"].setChecked(True)
    assert metrics_of(doc) == ["accuracy", "auc"]
    field.more_button.click()
    field.boxes["f1_score"].setChecked(True)
    # F1Score's default (average=None) is a vector per class: the box adds one number
    assert metrics_of(doc)[-1] == {"class_name": "F1Score", "config": {"average": "macro"}}
    field.boxes["accuracy"].setChecked(False)
    assert metrics_of(doc) == ["auc", {"class_name": "F1Score", "config": {"average": "macro"}}]
    doc.undo_stack.undo()
    assert field.boxes["accuracy"].isChecked()
    assert metrics_of(doc)[0] == "accuracy"


def test_a_metrics_settings_line_commits_the_shortest_spec(doc, inspector):
    field = inspector.form.fields["compile.metrics"]
    line = field.settings["auc"]
    assert not line.isVisible()
    field.boxes["auc"].setChecked(True)
    assert line.isVisible() and line.text() == ""
    line.setText('curve="PR", num_thresholds=50')
    line.editingFinished.emit()
    assert metrics_of(doc)[-1] == {
        "class_name": "AUC",
        "config": {"num_thresholds": 50, "curve": "PR"},
    }
    assert line.text() == 'num_thresholds=50, curve="PR"'
    line.setText("curve=XYZ")
    line.editingFinished.emit()
    assert "curve" in field.error_text and "XYZ" in field.error_text
    assert metrics_of(doc)[-1]["config"]["curve"] == "PR"  # not committed
    line.setText("")
    line.editingFinished.emit()
    assert metrics_of(doc)[-1] == "auc"  # Keras' defaults: the name again


def test_metrics_the_boxes_do_not_cover_are_kept_and_listed(doc, inspector):
    binary = {"class_name": "BinaryAccuracy", "config": {"threshold": 0.3}}
    doc.edit(
        "Set metrics",
        lambda d: edits.set_setting(d, "compile.metrics", ["accuracy", binary]),
    )
    field = inspector.form.fields["compile.metrics"]
    assert field.others.isVisible()
    assert "binary_accuracy (BinaryAccuracy)" in field.others.text()
    field.boxes["recall"].setChecked(True)
    assert metrics_of(doc) == ["accuracy", binary, "recall"]
    pr = {"class_name": "AUC", "config": {"curve": "PR", "name": "pr_auc"}}
    doc.edit("Set metrics", lambda d: edits.set_setting(d, "compile.metrics", ["auc", pr]))
    assert field.boxes["auc"].isChecked() and "pr_auc (AUC)" in field.others.text()
    field.boxes["auc"].setChecked(False)  # the box's own AUC goes, the named one stays
    assert metrics_of(doc) == [pr]


def test_a_metric_that_cannot_score_the_output_is_named_under_the_field(doc, inspector):
    # the seed's sparse_categorical_crossentropy takes integer labels: Precision cannot score
    field = inspector.form.fields["compile.metrics"]
    field.boxes["precision"].setChecked(True)
    assert "sparse_categorical_crossentropy" in inspector.error_text("compile.metrics")


def test_class_weight_steps_per_epoch_and_initial_epoch_fields(doc, inspector):
    weights = inspector.field("fit.class_weight")
    weights.setText("0: 1, 1: 4.5")
    weights.textEdited.emit("0: 1, 1: 4.5")
    weights.editingFinished.emit()
    assert doc.data["fit"]["class_weight"] == {"0": 1.0, "1": 4.5}
    assert weights.text() == "0: 1, 1: 4.5"
    weights.setText("0: heavy")
    weights.textEdited.emit("0: heavy")
    weights.editingFinished.emit()
    assert "'0: heavy' is not class: weight" in inspector.error_text("fit.class_weight")
    assert doc.data["fit"]["class_weight"] == {"0": 1.0, "1": 4.5}  # kept
    weights.setText("")
    weights.textEdited.emit("")
    weights.editingFinished.emit()
    assert "class_weight" not in doc.data["fit"]

    spe = inspector.field("fit.steps_per_epoch")
    assert spe.specialValueText() == "a whole pass" and spe.value() == spe.minimum()
    spe.setValue(3)
    assert doc.data["fit"]["steps_per_epoch"] == 3
    spe.setValue(spe.minimum())
    assert "steps_per_epoch" not in doc.data["fit"]

    start = inspector.field("fit.initial_epoch")
    start.setValue(2)
    assert doc.data["fit"]["initial_epoch"] == 2
    start.setValue(0)
    assert "initial_epoch" not in doc.data["fit"]
    start.setValue(doc.data["fit"].get("epochs", 10) + 5)
    assert "nothing would train" in inspector.error_text("fit.initial_epoch")


def test_class_weight_text_round_trips():
    from designer.panels.settings_form import class_weight_text, parse_class_weight

    assert parse_class_weight("") is None
    assert parse_class_weight(" 2: 0.5 , 0 : 3") == {"2": 0.5, "0": 3.0}
    assert class_weight_text({"2": 0.5, "0": 3.0}) == "0: 3, 2: 0.5"
    with pytest.raises(ValueError, match="at least 0"):
        parse_class_weight("0: -1")
    with pytest.raises(ValueError, match="twice"):
        parse_class_weight("0: 1, 00: 2")
