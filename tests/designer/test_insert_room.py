"""Inserting a layer on an edge makes room: the blocks downstream move along the layout's flow,
no two blocks overlap, and one undo takes back the new block and every move."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from designer.canvas.items import BLOCK_H, BLOCK_W
from designer.canvas.scene import COLUMN_DX, LAYER_MIME, ROW_DY
from designer.canvas.view import NetworkView
from designer.document import Document, spec_text
from engine import edits
from engine.graph import INPUT
from engine.project import from_dict, load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def make_view(qtbot):
    docs: list[Document] = []

    def make(doc: Document) -> NetworkView:
        docs.append(doc)
        view = NetworkView(doc)
        qtbot.addWidget(view)
        view.resize(1100, 600)
        view.show()
        qtbot.waitExposed(view)
        return view

    yield make
    for doc in docs:
        doc.undo_stack.clear()  # break the command -> document cycle while Python runs


def drop(view: NetworkView, class_name: str, scene_pos: QPointF) -> None:
    """A palette drop at ``scene_pos``, posted the way Qt would deliver it (DESIGN.md)."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, class_name.encode("utf-8"))
    pos = view.mapFromScene(scene_pos)
    action = Qt.DropAction.CopyAction
    for cls in (QDragEnterEvent, QDragMoveEvent, QDropEvent):
        try:  # the QPointF constructor where Qt has it, the QPoint one on older Qt
            event = cls(QPointF(pos), action, mime, LEFT, NO_MOD)
        except TypeError:
            event = cls(pos, action, mime, LEFT, NO_MOD)
        QApplication.sendEvent(view.viewport(), event)


def shown(view: NetworkView) -> dict[str, tuple[float, float]]:
    return view.scene_().display_positions()


def overlapping(view: NetworkView) -> list[tuple[str, str]]:
    """Pairs of blocks whose drawn rectangles intersect."""
    items = view.scene_().layer_items()
    rects = {it.name: it.mapRectToScene(it.block_rect()) for it in items}
    return [
        (a, b) for a, b in itertools.combinations(sorted(rects), 2) if rects[a].intersects(rects[b])
    ]


def test_drop_on_a_chain_edge_shifts_the_rest_of_the_chain(make_view):
    doc = Document(load_project(EXAMPLES / "seed_mlp.json"))
    view = make_view(doc)
    before_spec = spec_text(doc.data)
    before = shown(view)
    edge = view.scene_().edge_for("hidden", "dropout")
    drop(view, "Dense", edge.midpoint())
    ins = edits.explicit_inbound(doc.data)
    assert ins["dense_1"] == ["hidden"] and ins["dropout"] == ["dense_1"]
    after = shown(view)
    assert overlapping(view) == []
    # Upstream stays, downstream moves one column along the flow (left to right here).
    for name in (INPUT, "hidden"):
        assert after[name] == before[name]
    for name in ("dropout", "dense"):
        assert after[name][0] == pytest.approx(before[name][0] + COLUMN_DX)
        assert after[name][1] == pytest.approx(before[name][1])
    # The new block sits where the old consumer was, in line with the chain.
    assert after["dense_1"] == pytest.approx(before["dropout"])
    # ... and the view scrolled so that the block and the consumer it pushed on are in sight.
    for name in ("dense_1", "dropout"):
        rect = view.mapFromScene(view.scene_().item_for(name).sceneBoundingRect()).boundingRect()
        assert view.viewport().rect().contains(rect), name
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert spec_text(doc.data) == before_spec
    assert shown(view) == before
    doc.undo_stack.redo()
    assert shown(view) == after


def test_drop_in_a_branching_graph_moves_downstream_without_overlaps(make_view):
    doc = Document(load_project(EXAMPLES / "skip_connection.json"))
    doc.edit("Auto layout", edits.auto_layout)
    view = make_view(doc)
    before_spec = spec_text(doc.data)
    before = shown(view)
    drop(view, "Dropout", view.scene_().edge_for("stem", "branch").midpoint())
    ins = edits.explicit_inbound(doc.data)
    assert ins["dropout"] == ["stem"] and ins["branch"] == ["dropout"]
    after = shown(view)
    assert overlapping(view) == []
    assert after["stem"] == before["stem"] and after[INPUT] == before[INPUT]
    for name in ("branch", "skip", "output"):
        assert after[name][0] > before[name][0], name
    doc.undo_stack.undo()
    assert spec_text(doc.data) == before_spec and shown(view) == before


def test_flow_from_top_to_bottom_shifts_downwards(make_view):
    doc = Document(load_project(EXAMPLES / "seed_mlp.json"))
    column = {n: (0.0, i * ROW_DY) for i, n in enumerate([INPUT, "hidden", "dropout", "dense"])}
    doc.edit("Move", lambda d: edits.move_layers(d, column))
    view = make_view(doc)
    drop(view, "Dense", view.scene_().edge_for("dropout", "dense").midpoint())
    after = shown(view)
    assert overlapping(view) == []
    assert after["dense"] == pytest.approx((0.0, 4 * ROW_DY))
    assert after["dense_1"] == pytest.approx((0.0, 3 * ROW_DY))
    assert after["dropout"] == column["dropout"]


def test_a_block_in_the_way_of_the_shift_moves_too(make_view):
    # An unconnected block right after the chain's end: shifting the chain would land on it.
    doc = Document(load_project(EXAMPLES / "seed_mlp.json"))
    doc.edit("Auto layout", edits.auto_layout)
    doc.edit("Add", lambda d: edits.add_layer(d, "Dense", {"units": 3}, (880.0, 0.0))[0])
    view = make_view(doc)
    before = shown(view)
    drop(view, "Dense", view.scene_().edge_for("hidden", "dropout").midpoint())
    assert overlapping(view) == []
    assert shown(view)["dense_1"][0] > before["dense_1"][0]  # the stray block moved on


def test_adding_after_the_selection_from_the_palette_makes_room(qtbot, tmp_path):
    """The palette's "add after the selected layer" (a double-click) inserts before the
    consumer, moves the rest of the chain like a drop on the edge, in one undo step."""
    from PySide6.QtCore import QSettings

    from designer.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(load_project(EXAMPLES / "seed_mlp.json")), settings=settings)
    qtbot.addWidget(window)
    view = window.canvas
    before, spec = shown(view), spec_text(window.document.data)
    window.document.set_selection(["dropout"])
    name = window.add_layer_from_palette("Dense")
    assert name and edits.explicit_inbound(window.document.data)["dense"] == [name]
    assert overlapping(view) == []
    assert shown(view)["dense"][0] == pytest.approx(before["dense"][0] + COLUMN_DX)
    assert shown(view)["hidden"] == before["hidden"]
    window.document.undo_stack.undo()
    assert spec_text(window.document.data) == spec and shown(view) == before


# ---------------------------------------------------------------------- the pure edit, broadly
def _clear(a: list[float], b: list[float]) -> bool:
    return abs(a[0] - b[0]) >= BLOCK_W or abs(a[1] - b[1]) >= BLOCK_H


@st.composite
def graphs(draw):
    """A random DAG of Dense layers (each fed by one earlier layer or the input), laid out by
    auto_layout, and one of its edges."""
    n = draw(st.integers(1, 7))
    layers = []
    for i in range(n):
        src = draw(st.integers(-1, i - 1))
        layers.append(
            {
                "class_name": "Dense",
                "config": {"name": f"d{i}", "units": 2},
                "inbound": [INPUT if src < 0 else f"d{src}"],
            }
        )
    data = from_dict({"format_version": 1, "model": {"input_shape": [2], "layers": layers}}).data
    data = edits.auto_layout(data)
    if draw(st.booleans()):  # the same graph flowing top to bottom
        pos = edits.positions(data)
        data = edits.move_layers(
            data,
            {k: (v[1] * COLUMN_DX / ROW_DY, v[0] * ROW_DY / COLUMN_DX) for k, v in pos.items()},
        )
    edges = sorted((s, d) for d, srcs in edits.explicit_inbound(data).items() for s in srcs)
    return data, draw(st.sampled_from(edges))


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_make_room_never_overlaps_and_moves_the_consumer_on(case):
    data, (src, dst) = case
    before = edits.positions(data)
    assert all(_clear(before[a], before[b]) for a, b in itertools.combinations(before, 2))
    new, name = edits.insert_on_edge(data, "Dense", src, dst, {"units": 2})
    out = edits.positions(
        edits.make_room(new, name, spacing=(COLUMN_DX, ROW_DY), block=(BLOCK_W, BLOCK_H))
    )
    assert set(out) == set(before) | {name}
    for a, b in itertools.combinations(sorted(out), 2):
        assert _clear(out[a], out[b]), (a, b, out[a], out[b])
    assert out[src] == before[src] and out[INPUT] == before[INPUT]
    assert out[dst] != before[dst]  # the consumer made way
