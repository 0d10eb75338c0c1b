"""The document and its undo stack: edits are commands; undo restores the spec exactly."""

from __future__ import annotations

import pytest

from designer.document import Document, spec_text
from engine import edits
from engine.errors import NNDError, ProjectError
from engine.project import seed_project


@pytest.fixture
def doc(qtbot):
    return Document(seed_project())


def test_edit_undo_redo_restores_exactly(doc, qtbot):
    original = spec_text(doc.data)
    with qtbot.waitSignal(doc.changed):
        doc.edit("Add Dense", lambda d: edits.add_layer(d, "Dense", {"units": 3})[0])
    assert "dense_1" in edits.layer_names(doc.data)
    assert doc.dirty and not doc.valid  # unconnected layer
    doc.undo_stack.undo()
    assert spec_text(doc.data) == original and doc.valid and not doc.dirty
    doc.undo_stack.redo()
    assert "dense_1" in edits.layer_names(doc.data)


def test_same_field_edits_merge_into_one_step(doc):
    for units in (129, 130, 131):
        doc.edit(
            "units",
            lambda d, u=units: edits.set_param(d, "hidden", "units", u),
            merge_key=("hidden", "units"),
        )
    assert doc.undo_stack.count() == 1
    assert edits.find_layer(doc.data, "hidden")["config"]["units"] == 131
    doc.undo_stack.undo()
    assert edits.find_layer(doc.data, "hidden")["config"]["units"] == 128


def test_no_op_edit_pushes_nothing(doc):
    assert not doc.edit("nothing", lambda d: d)
    assert doc.undo_stack.count() == 0


def test_open_broken_file_leaves_document_untouched(doc, tmp_path):
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 7))
    before = spec_text(doc.data)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ProjectError):
        doc.open(bad)
    assert spec_text(doc.data) == before and doc.undo_stack.count() == 1


def test_save_and_open_round_trip_with_layout(doc, tmp_path):
    doc.edit("move", lambda d: edits.move_layers(d, {"hidden": (120, 40)}))
    save_target = tmp_path / "p.nnd"
    doc.save(save_target)
    assert not doc.dirty
    other = Document()
    other.open(save_target)
    assert spec_text(other.data) == spec_text(doc.data)
    assert edits.positions(other.data)["hidden"] == [120.0, 40.0]


def test_validation_problems_by_layer(doc):
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 0))
    assert not doc.valid
    assert doc.problems_for("hidden") and "units" in doc.invalid_reason()


def test_save_untitled_needs_a_path():
    d = Document()
    d.new()
    with pytest.raises(NNDError, match="no file yet"):
        d.save()


def test_the_view_state_is_not_undone_with_an_edit(doc):
    """The workspace and plane (data["designer"]) say how the window shows the project: an
    undo or redo of an edit made before they changed leaves them as they are now."""
    from designer.document import set_view_state, view_state

    doc.edit("Rename", lambda d: edits.rename_layer(d, "hidden", "first"))
    set_view_state(doc.project.data, "workspace", "train")
    set_view_state(doc.project.data, "plane", {"kind": "pca"})
    doc.undo_stack.undo()
    assert doc.graph.nodes[0].name == "hidden"
    assert view_state(doc.data, "workspace") == "train"
    assert view_state(doc.data, "plane") == {"kind": "pca"}
    set_view_state(doc.project.data, "plane", None)
    doc.undo_stack.redo()
    assert doc.graph.nodes[0].name == "first"
    assert view_state(doc.data, "plane") is None and doc.data["designer"] == {"workspace": "train"}
    set_view_state(doc.project.data, "workspace", None)
    assert "designer" not in doc.data
