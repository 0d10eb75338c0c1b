"""The inspector's layer form follows the registry: one editor per param, chosen by its kind,
including the kinds no current layer uses yet (``int_tuple``, ``choice``), with the same undo
behaviour as every other field."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox, QSpinBox

from designer.document import Document
from designer.panels.fields import ChoiceField, IntTupleField
from designer.panels.param_fields import is_default, make_param_field
from engine import edits
from engine.layers import LAYER_TYPES, NAME, LayerType, Param
from engine.project import seed_project

KERNEL = Param("kernel_size", "int_tuple", default=(3, 3), minimum=1, maximum=9, length=2)
STRIDES = Param("strides", "int_tuple", default=None, minimum=1, length=2, nullable=True)
PADDING = Param("padding", "choice", default="valid", choices=("valid", "same"))


class ProbeLayer(LayerType):
    """A layer type of this test only (never registered as a module): the new param kinds."""

    class_name = "Probe2D"
    description = "A test layer with an integer tuple and a choice."
    params = (NAME, KERNEL, STRIDES, PADDING)


@pytest.fixture
def doc(qtbot):
    return Document(seed_project())


@pytest.fixture
def probe_doc(doc, monkeypatch):
    """The seed project with its 'hidden' layer turned into a Probe2D (known to the registry
    for this test only)."""
    monkeypatch.setitem(LAYER_TYPES, ProbeLayer.class_name, ProbeLayer())
    doc.edit("probe", lambda d: edits.set_class(d, "hidden", ProbeLayer.class_name))
    doc.undo_stack.clear()
    return doc


@pytest.fixture
def inspector(doc, qtbot):
    from designer.panels.inspector import InspectorPanel

    panel = InspectorPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    return panel


def config(doc: Document) -> dict:
    return edits.find_layer(doc.data, "hidden")["config"]


# ------------------------------------------------------------------ fields made from a Param
def test_an_int_tuple_param_is_length_spin_boxes_within_its_range(qtbot):
    commits = []
    field = make_param_field(KERNEL, commits.append)
    qtbot.addWidget(field.widget)
    assert isinstance(field, IntTupleField)
    assert len(field.spins) == 2 and field.inputs() == field.spins
    assert all(isinstance(s, QSpinBox) for s in field.spins)
    assert [(s.minimum(), s.maximum()) for s in field.spins] == [(1, 9), (1, 9)]
    field.show_value(3)  # one integer stands for all, as in Keras
    assert field.values() == [3, 3] and commits == []  # showing never commits
    field.show_value([2, 5])
    assert field.values() == [2, 5] and commits == []
    field.spins[1].setValue(7)
    assert commits == [[2, 7]]
    field.spins[0].setValue(20)  # clamped by the spin box to the param's maximum
    assert commits[-1] == [9, 7]


def test_an_int_tuple_from_a_file_is_shown_as_it_is(qtbot):
    field = make_param_field(KERNEL, lambda value: None)
    qtbot.addWidget(field.widget)
    field.show_value([0, 12])  # out of range: validation flags it, the editor does not clamp
    assert field.values() == [0, 12]


def test_a_nullable_int_tuple_shows_none_and_goes_back_to_it(qtbot):
    commits = []
    field = make_param_field(STRIDES, commits.append)
    qtbot.addWidget(field.widget)
    field.show_value(None)
    assert [s.text() for s in field.spins] == ["None", "None"]
    field.spins[0].setValue(2)  # from None: every box takes the number
    assert commits == [[2, 2]]
    field.spins[1].setValue(field.low)
    assert commits[-1] is None
    assert [s.text() for s in field.spins] == ["None", "None"]


def test_a_choice_param_is_a_combo_of_its_choices(qtbot):
    commits = []
    field = make_param_field(PADDING, commits.append)
    qtbot.addWidget(field.widget)
    assert isinstance(field, ChoiceField) and isinstance(field.editor, QComboBox)
    field.show_value("valid")
    assert [field.combo.itemText(i) for i in range(field.combo.count())] == ["valid", "same"]
    field.combo.setCurrentIndex(1)
    assert commits == ["same"]
    field.show_value("full")  # unknown (from a file): shown as an extra item, not committed
    assert field.combo.currentText() == "'full' (unknown)" and commits == ["same"]


def test_an_int_tuple_default_is_recognised_in_any_spelling():
    assert is_default(KERNEL, [3, 3]) and is_default(KERNEL, 3) and is_default(KERNEL, (3, 3))
    assert not is_default(KERNEL, [3, 5])
    assert not is_default(STRIDES, [1, 1]) and is_default(STRIDES, None)


# ------------------------------------------------------------------ the layer form
def test_int_tuple_edits_merge_into_one_undo_step_and_the_default_removes_the_key(
    probe_doc, inspector
):
    doc = probe_doc
    doc.set_selection(["hidden"])
    assert inspector.mode == "layer"
    box = inspector.field("kernel_size")
    spins = inspector.form.fields["kernel_size"].spins
    assert [s.value() for s in spins] == [3, 3]
    spins[0].setValue(5)
    spins[1].setValue(4)
    assert config(doc)["kernel_size"] == [5, 4]
    assert doc.undo_stack.count() == 1  # one field, one undo step
    assert inspector.field("kernel_size") is box  # updated in place, not rebuilt
    doc.undo_stack.undo()
    assert "kernel_size" not in config(doc)
    assert [s.value() for s in spins] == [3, 3]
    spins[1].setValue(6)
    spins[1].setValue(3)  # back to (3, 3), the default: Keras' get_config() would not need it
    assert "kernel_size" not in config(doc)


def test_a_choice_edit_is_undoable_and_reset_puts_the_default_back(probe_doc, inspector):
    doc = probe_doc
    doc.set_selection(["hidden"])
    field = inspector.form.fields["padding"]
    field.combo.setCurrentIndex(field.combo.findText("same"))
    assert config(doc)["padding"] == "same" and doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert "padding" not in config(doc) and field.combo.currentText() == "valid"
    doc.undo_stack.redo()
    assert config(doc)["padding"] == "same" and field.combo.currentText() == "same"
    assert not field.reset_button.isHidden()
    field.reset_button.click()
    assert "padding" not in config(doc) and field.combo.currentText() == "valid"
    assert field.reset_button.isHidden()


def test_the_engines_message_about_a_tuple_shows_under_its_field(probe_doc, inspector):
    doc = probe_doc
    doc.set_selection(["hidden"])
    doc.edit("bad", lambda d: edits.set_param(d, "hidden", "kernel_size", [3, 3, 3]))
    assert "2 integers" in inspector.error_text("kernel_size")


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_every_registered_layer_type_gets_one_editor_per_param(doc, inspector, class_name):
    if class_name != "Dense":  # the seed's 'hidden' layer is one already
        doc.edit("type", lambda d: edits.set_class(d, "hidden", class_name))
    doc.set_selection(["hidden"])
    fields = inspector.form.fields
    params = [p.name for p in LAYER_TYPES[class_name].params if p.name != "name"]
    assert set(fields) == {"name", "class_name", *params}
    assert inspector.form.fields["class_name"].combo.currentText() == class_name
