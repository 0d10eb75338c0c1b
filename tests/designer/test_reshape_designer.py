"""The reshape helper's part of issue 15 in the designer: the editor of a ``shape`` param
(Reshape's target_shape), a nullable tuple shown as "same as pool_size", the palette in Keras'
groups, and image shapes on canvas blocks as H×W×C."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from designer.document import Document
from designer.panels.fields import ShapeField, parse_shape_text, shape_text
from designer.panels.param_fields import make_param_field
from engine import edits
from engine.layers import LAYER_TYPES, Param
from engine.project import from_dict, seed_project

TARGET = Param("target_shape", "shape", required=True)
STRIDES = Param(
    "strides", "int_tuple", minimum=1, length=2, nullable=True, none_text="same as pool_size"
)


def release(doc: Document) -> None:
    doc.undo_stack.clear()  # see tests/designer/test_canvas.py: no cycle left for the final GC


def type_into(qtbot, field: ShapeField, text: str) -> None:
    edit = field.editor
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


# ------------------------------------------------------------------------ parsing the text
@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("8, 8, 1", [8, 8, 1]),
        ("(4, -1)", [4, -1]),
        ("[3 3 2]", [3, 3, 2]),
        ("28×28", [28, 28]),
        ("4x-1", [4, -1]),
    ],
)
def test_a_typed_shape_is_read_in_any_usual_spelling(text, sizes):
    assert parse_shape_text(text) == sizes
    assert parse_shape_text(shape_text(sizes)) == sizes


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "give the sizes"),
        ("8, a", "'a' is not an integer"),
        ("4, x", "'x' is not an integer"),
        ("8, 0", "at least 1"),
        ("-1, -1", "one -1"),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9", "1 to 8 sizes"),
    ],
)
def test_a_typed_text_that_is_no_shape_says_why(text, words):
    with pytest.raises(ValueError, match=words):
        parse_shape_text(text)


# ------------------------------------------------------------------------------ the field
def test_the_shape_field_commits_a_list_on_enter_and_keeps_refused_text(qtbot):
    commits = []
    field = make_param_field(TARGET, commits.append)
    assert isinstance(field, ShapeField)
    qtbot.addWidget(field.widget)
    field.widget.show()
    field.show_value([8, 8, 1])
    assert field.editor.text() == "8, 8, 1"
    type_into(qtbot, field, "4, -1")
    assert commits == [[4, -1]]
    type_into(qtbot, field, "4, x")
    assert commits == [[4, -1]] and "'x' is not an integer" in field.error_text
    field.show_value([4, -1])  # a refresh with the same value keeps the text to correct
    assert field.editor.text() == "4, x" and field.error_text
    field.show_errors(["an engine message"])  # the form's messages come after the local one
    assert field.error_text.splitlines() == [
        "'x' is not an integer; give sizes like 8, 8, 1",
        "an engine message",
    ]
    field.show_value([2, 2])  # the value changed elsewhere (undo): the text follows it
    assert field.editor.text() == "2, 2" and field.error_text == "an engine message"


def test_a_shape_from_a_file_that_is_no_list_is_shown_as_it_is(qtbot):
    field = make_param_field(TARGET, lambda v: None)
    qtbot.addWidget(field.widget)
    field.show_value("8x8")
    assert field.editor.text() == '"8x8"'
    field.show_value(None)
    assert field.editor.text() == ""


# ----------------------------------------------------------------------------- inspector
@pytest.fixture
def reshape_doc(qtbot):
    """The seed project (784 -> hidden -> ...) with 'hidden' a Reshape to (28, 28)."""
    doc = Document(seed_project())

    def to_reshape(data):
        data = edits.set_class(data, "hidden", "Reshape")
        data = edits.set_param(data, "hidden", "target_shape", [28, 28])
        return data

    doc.edit("reshape", to_reshape)
    doc.undo_stack.clear()
    yield doc
    release(doc)


@pytest.fixture
def inspector(reshape_doc, qtbot):
    from designer.panels.inspector import InspectorPanel

    panel = InspectorPanel(reshape_doc)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    panel.show()
    reshape_doc.set_selection(["hidden"])
    return panel


def target(doc: Document):
    return edits.find_layer(doc.data, "hidden")["config"]["target_shape"]


def test_editing_target_shape_is_one_undo_step_and_undo_shows_the_old_text(
    reshape_doc, inspector, qtbot
):
    doc = reshape_doc
    field = inspector.form.fields["target_shape"]
    assert isinstance(field, ShapeField) and field.editor.text() == "28, 28"
    type_into(qtbot, field, "7, -1, 4")
    assert target(doc) == [7, -1, 4] and doc.undo_stack.count() == 1
    assert inspector.form.fields["target_shape"] is field  # updated in place
    assert field.editor.text() == "7, -1, 4" and field.error_text == ""
    doc.undo_stack.undo()
    assert target(doc) == [28, 28] and field.editor.text() == "28, 28"
    doc.undo_stack.redo()
    assert field.editor.text() == "7, -1, 4"


def test_bad_text_is_refused_inline_and_a_wrong_size_gets_the_engines_message(
    reshape_doc, inspector, qtbot
):
    doc = reshape_doc
    field = inspector.form.fields["target_shape"]
    type_into(qtbot, field, "28; 0")
    assert "at least 1" in field.error_text
    assert target(doc) == [28, 28] and doc.undo_stack.count() == 0
    type_into(qtbot, field, "5, 5")  # a shape, but not of 784 values: the engine says so
    assert target(doc) == [5, 5]
    text = inspector.error_text("target_shape")
    assert "holds 25 values but the input (None, 784) holds 784" in text
    assert "at least 1" not in text


def test_another_reshape_selected_shows_its_own_shape_not_refused_text(
    reshape_doc, inspector, qtbot
):
    doc = reshape_doc
    doc.edit(
        "second",
        lambda d: edits.set_param(
            edits.set_class(d, "dense", "Reshape"), "dense", "target_shape", [-1]
        ),
    )
    field = inspector.form.fields["target_shape"]
    type_into(qtbot, field, "nonsense")
    assert field.error_text
    doc.set_selection(["dense"])
    assert inspector.form.fields["target_shape"] is field
    assert field.editor.text() == "-1" and "nonsense" not in field.error_text


# ------------------------------------------------------------------- a nullable tuple
def test_a_nullable_tuple_shows_its_none_text_and_goes_back_to_it(qtbot):
    commits = []
    field = make_param_field(STRIDES, commits.append)
    qtbot.addWidget(field.widget)
    field.show_value(None)
    assert [s.text() for s in field.spins] == ["same as pool_size"] * 2
    field.spins[1].setValue(2)
    assert commits == [[2, 2]]
    field.spins[0].setValue(field.low)
    assert commits[-1] is None
    assert "same as pool_size" in field.reset_button.toolTip()
    choice = make_param_field(
        Param("mode", "choice", choices=("a", "b"), nullable=True, none_text="automatic"),
        commits.append,
    )
    qtbot.addWidget(choice.widget)
    assert choice.combo.itemText(0) == "automatic" and choice.values[0] is None


# ------------------------------------------------------------------------------ palette
@pytest.fixture
def palette(qtbot):
    from designer.panels.palette import PalettePanel

    panel = PalettePanel()
    qtbot.addWidget(panel)
    panel.resize(280, 1400)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_the_palette_shows_every_type_once_under_its_group(palette):
    from designer.panels.palette import GROUP_ORDER

    groups = palette.shown_groups()
    titles = [g for g, _ in groups]
    assert len(titles) == len(set(titles))
    known = [g for g in titles if g in GROUP_ORDER]
    assert known == sorted(known, key=GROUP_ORDER.index)
    listed = [name for _, names in groups for name in names]
    assert sorted(listed) == sorted(LAYER_TYPES)
    for group, names in groups:
        assert all(LAYER_TYPES[n].group == group for n in names)
        order = [list(LAYER_TYPES).index(n) for n in names]
        assert order == sorted(order)
    assert palette.visible_class_names() == list(LAYER_TYPES)  # queries keep registry order


def test_filtering_hides_the_headers_of_groups_without_matches(palette):
    palette.set_filter("reshap")  # the group's name matches its members
    groups = palette.shown_groups()
    assert [g for g, _ in groups] == ["Reshaping"]
    assert set(groups[0][1]) == {n for n, t in LAYER_TYPES.items() if t.group == "Reshaping"}
    palette.set_filter("globalmax")
    assert palette.shown_groups() == [("Convolution", ["GlobalMaxPooling2D"])]
    palette.set_filter("no such layer")
    assert palette.shown_groups() == []
    palette.set_filter("")
    assert len(palette.shown_groups()) == len({t.group for t in LAYER_TYPES.values()})


def test_a_header_cannot_be_selected_dragged_or_added(palette, qtbot):
    lst = palette.list
    second = next(g for g in palette.shown_groups()[1:])
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text() == second[1][0])
    lst.setCurrentRow(0)
    rect = lst.visualItemRect(item)
    on_header = QPoint(rect.center().x(), rect.top() + 3)
    on_entry = QPoint(rect.center().x(), rect.bottom() - 6)
    assert lst.on_header(on_header) and not lst.on_header(on_entry)
    started = []
    lst.startDrag = lambda actions: started.append(actions)
    QTest.mousePress(lst.viewport(), Qt.MouseButton.LeftButton, pos=on_header)
    QTest.mouseMove(lst.viewport(), on_header + QPoint(0, 30))
    QTest.mouseRelease(lst.viewport(), Qt.MouseButton.LeftButton, pos=on_header + QPoint(0, 30))
    assert lst.currentRow() == 0 and not started
    with qtbot.assertNotEmitted(palette.add_requested):
        QTest.mouseDClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=on_header)
    QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=on_entry)
    assert lst.currentItem() is item


def test_the_arrow_keys_go_from_group_to_group_over_the_headers(palette, qtbot):
    order = [n for _, names in palette.shown_groups() for n in names]
    palette.set_filter("")
    palette.filter_edit.setFocus()
    seen = [palette.list.currentItem().text()]
    for _ in order[1:]:
        qtbot.keyClick(palette.filter_edit, Qt.Key.Key_Down)
        seen.append(palette.list.currentItem().text())
    assert seen == order
    palette.list.setFocus()
    palette.list.setCurrentRow(0)
    qtbot.keyClick(palette.list, Qt.Key.Key_Down)
    qtbot.keyClick(palette.list, Qt.Key.Key_Down)
    assert palette.list.currentItem().text() == order[2]


# ------------------------------------------------------------------------------- canvas
def test_image_blocks_show_height_width_channels_and_flat_ones_keras_shape(qtbot):
    from designer.canvas.items import block_shape_text
    from designer.canvas.scene import NetworkScene

    assert block_shape_text((28, 28, 6)) == "28×28×6"
    assert block_shape_text((10,)) == "(None, 10)" and block_shape_text((4, 5)) == "(None, 4, 5)"
    assert block_shape_text(None) == "?"
    doc = Document(
        from_dict(
            {
                "format_version": 1,
                "name": "images",
                "model": {
                    "input_shape": [3, 3, 2],
                    "layers": [
                        {"class_name": "Dense", "config": {"name": "d", "units": 4}},
                        {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
                        {"class_name": "Dense", "config": {"name": "out", "units": 2}},
                    ],
                },
                "compile": {"optimizer": "adam", "loss": "mean_squared_error"},
            }
        )
    )
    scene = NetworkScene(doc)
    assert scene.item_for("input").shape_text == "3×3×2"
    assert scene.item_for("d").shape_text == "3×3×4"
    assert "3×3×4 (height × width × channels)" in scene.item_for("d").toolTip()
    assert scene.item_for("gap").shape_text == "(None, 4)"
    assert scene.item_for("out").shape_text == "(None, 2)"
    release(doc)
