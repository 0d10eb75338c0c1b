"""The designer's half of the registry-following suite (tests/engine/test_layer_kit.py):
every registered layer type gets a palette entry, a canvas block and an inspector form."""

from __future__ import annotations

import pytest

from engine import edits
from engine.layers import LAYER_TYPES

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_every_type_gets_a_block_and_an_inspector_form(make_window, qtbot, class_name):
    from designer.panels.layer_icons import layer_color

    window = make_window()
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
