"""The live views ask the layer traits the monitor sends (``LayerInfo.fully_connected``,
``passes_values``, ``has_activation``), never a class name, and give signed values one colour
code: blue positive, orange negative (issue 14)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtGui import QColor

from designer.training.activity import LEVELS, NetworkActivityView, _edge_pen, looks_through
from designer.training.colors import NEGATIVE, POSITIVE, diverging_colormap, values_to_rgb
from designer.training.views import DecisionBoundaryView, LayerStatsView, WeightTilesView
from engine import monitor as mon
from engine.layers import LAYER_TYPES
from engine.project import from_dict
from engine.training import build_model, load_training_data
from engine.validate import check_project


def layer(class_name, name, inbound, **config):
    return {"class_name": class_name, "config": {"name": name, **config}, "inbound": inbound}


def monitor_for(layers, dataset=None, inputs=2):
    p = from_dict(
        {
            "model": {"input_shape": [inputs], "layers": layers},
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 16, "validation_split": 0.25, "seed": 1},
            "dataset": dataset or {"name": "moons", "n_samples": 80, "noise": 0.1},
        }
    )
    graph = check_project(p)
    data = load_training_data(p, graph)
    model = build_model(p, graph)
    return mon.Monitor(model, graph, data, (dataset or {}).get("name", "moons"), probe_size=16)


CHAIN = [
    layer("Dense", "h", ["input"], units=3, activation="relu"),
    layer("Dropout", "d", ["h"], rate=0.2),
    layer("Dense", "h2", ["d"], units=3, activation="linear"),
    layer("Activation", "act", ["h2"], activation="tanh"),
    layer("Flatten", "f", ["act"]),
    layer("Dense", "out", ["f"], units=2, activation="softmax"),
]


def renamed(info):
    """``info`` with every class name replaced: what the views draw must not change."""
    layers = [dataclasses.replace(x, class_name=f"Renamed{i}") for i, x in enumerate(info.layers)]
    return dataclasses.replace(info, layers=layers)


def activity_shape(view):
    return [c.name for c in view.columns], [(lk[0], lk[1].name, lk[2].name) for lk in view.links]


def test_activity_view_draws_fully_connected_layers_and_looks_through_unit_keeping_ones(qtbot):
    m = monitor_for(CHAIN)
    info, snap = m.build_info(), m.snapshot(0, 1)
    view = NetworkActivityView()
    qtbot.addWidget(view)
    view.set_build(info)
    want = (
        ["input", "h", "h2", "out"],
        [("h", "input", "h"), ("h2", "h", "h2"), ("out", "h2", "out")],
    )
    assert activity_shape(view) == want
    view.set_snapshot(snap)
    view.refresh(force=True)
    np.testing.assert_array_equal(view.edge_weights("out"), snap.layers["out"].kernel)
    # Class names are for display only: the same drawing without them.
    view.set_build(renamed(info))
    assert activity_shape(view) == want


def test_activity_view_does_not_look_through_a_merge(qtbot):
    layers = [
        layer("Dense", "a", ["input"], units=3, activation="relu"),
        layer("Dense", "b", ["input"], units=3, activation="tanh"),
        layer("Add", "sum", ["a", "b"]),
        layer("Dense", "out", ["sum"], units=2, activation="softmax"),
    ]
    info = monitor_for(layers).build_info()
    view = NetworkActivityView()
    qtbot.addWidget(view)
    view.set_build(info)
    # "out" is drawn, but its edges would come from two layers summed: none are drawn.
    assert activity_shape(view) == (
        ["input", "a", "b", "out"],
        [("a", "input", "a"), ("b", "input", "b")],
    )


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_looks_through_follows_the_layer_types_traits(class_name):
    t = LAYER_TYPES[class_name]
    weights = {"kernel": (3, 3)} if t.fully_connected else {}
    info = mon.LayerInfo(
        "x",
        "Anything",
        None,
        3,
        ["input"],
        weights,
        fully_connected=t.fully_connected,
        passes_values=t.passes_values,
        has_activation=t.has_activation,
        unit_by_unit=t.unit_by_unit,
    )
    assert looks_through(info) is t.unit_by_unit
    # What the trait promises: no merge, no weights; a layer that passes values on keeps units.
    if t.merge or t.fully_connected:
        assert not looks_through(info)
    if t.passes_values:
        assert looks_through(info)


def test_boundary_view_maps_the_hidden_fully_connected_layers(qtbot):
    m = monitor_for(CHAIN)
    info, snap = m.build_info(), m.snapshot(0, 1)
    view = DecisionBoundaryView()
    qtbot.addWidget(view)
    view.set_build(info)
    assert list(view.map_items) == ["h", "h2"] == list(snap.neuron_maps)
    view.set_build(renamed(info))
    assert list(view.map_items) == ["h", "h2"]
    # A layer the monitor does not call fully connected has no map, whatever its class name.
    no_fc = [dataclasses.replace(x, fully_connected=False) for x in info.layers]
    view.set_build(dataclasses.replace(info, layers=no_fc))
    assert list(view.map_items) == []


def test_weight_tiles_view_shows_the_reported_layer(qtbot):
    layers = [
        layer("Dropout", "d", ["input"], rate=0.1),
        layer("Dense", "h", ["d"], units=4, activation="relu"),
        layer("Dense", "o", ["h"], units=10, activation="softmax"),
    ]
    m = monitor_for(layers, dataset={"name": "digits"}, inputs=64)
    view = WeightTilesView()
    qtbot.addWidget(view)
    view.set_build(renamed(m.build_info()))
    assert not view.empty
    assert view.title.text.startswith("First-layer weights of 'h': 4 units, 8×8")


# ---------------------------------------------------------------------------------- colours
def rgb(color) -> tuple[int, int, int]:
    c = QColor(color)
    return (c.red(), c.green(), c.blue())


def test_blue_is_positive_and_orange_negative_in_every_training_view(qtbot):
    assert rgb(POSITIVE) == rgb("#0877bd") and rgb(NEGATIVE) == rgb("#f59322")
    # Neurons, weight tiles, neuron maps, a regression boundary: values_to_rgb.
    top, bottom = values_to_rgb(np.array([1.0, -1.0]))
    assert tuple(int(v) for v in top) == rgb(POSITIVE)
    assert tuple(int(v) for v in bottom) == rgb(NEGATIVE)
    # The kernel heatmap (levels -m..m) and the bias bars of the layer view.
    cmap = diverging_colormap()
    assert rgb(cmap.map(1.0, mode="qcolor")) == rgb(POSITIVE)
    assert rgb(cmap.map(0.0, mode="qcolor")) == rgb(NEGATIVE)
    stats = LayerStatsView()
    qtbot.addWidget(stats)
    assert rgb(stats._pos_brush.color()) == rgb(POSITIVE)
    assert rgb(stats._neg_brush.color()) == rgb(NEGATIVE)
    # The activity view's edges: key >= 0 a positive weight's level, < 0 a negative one's.
    assert rgb(_edge_pen(LEVELS - 1).color()) == rgb(POSITIVE)
    assert rgb(_edge_pen(-LEVELS).color()) == rgb(NEGATIVE)


def test_blue_is_positive_in_the_backprop_view_too():
    from PySide6.QtGui import QColor

    from designer.stepper import colors as stepper_colors
    from designer.training import colors as training_colors

    train_positive = QColor(training_colors.POSITIVE)
    assert abs(stepper_colors.POSITIVE.hueF() - train_positive.hueF()) < 0.1
    assert stepper_colors.POSITIVE.blue() > stepper_colors.POSITIVE.red()
    assert stepper_colors.NEGATIVE.red() > stepper_colors.NEGATIVE.blue()
