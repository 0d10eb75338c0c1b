"""Backprop mode on image layers: feature maps (forward), gradient maps (backward) and, for a
layer with a filter weight, its filters before and after the update; clicking a map pixel picks
the unit (h, w, c) and the math panel explains it with the engine's numbers. Flat layers are
drawn as before (tests/designer/test_stepper*.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from support.image_nets import BN_NET

from designer.document import Document
from designer.stepper import BackpropView, StepperPanel
from designer.stepper import panel as panel_module
from designer.stepper.colors import diverging
from designer.stepper.maps import MAPS_MAX, MapsItem
from engine.explain import fmt, lookup
from engine.project import from_dict
from engine.stepper import StepSession
from engine.training import TrainingData

CONV_NET = [
    {
        "class_name": "Conv2D",
        "config": {
            "name": "conv",
            "filters": 3,
            "kernel_size": [3, 3],
            "padding": "same",
            "activation": "relu",
        },
    },
    {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2]}},
    {
        "class_name": "Conv2D",
        "config": {"name": "conv2", "filters": 2, "kernel_size": [2, 2], "activation": "tanh"},
    },
    {"class_name": "Flatten", "config": {"name": "flat"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}},
]


def project_of(layers: list[dict], input_shape: list[int]):
    return from_dict(
        {
            "format_version": 1,
            "name": "image layers",
            "model": {"input_shape": input_shape, "layers": layers},
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 4, "validation_split": 0.0, "shuffle": False, "seed": 3},
            # Validation asks for a dataset; the session is handed random images instead.
            "dataset": {"name": "moons", "n_samples": 8},
            "dtype": "float32",
        }
    )


@pytest.fixture
def wired(qtbot, monkeypatch):
    """``make(layers, input_shape)``: a panel and a view wired as the controller wires them,
    on a session of 8 random images (batch 4)."""

    def make(layers: list[dict], input_shape: list[int], size=(1100, 760)):
        rng = np.random.default_rng(7)
        x = rng.normal(size=(8, *input_shape)).astype("float32")
        y = rng.integers(0, 3, size=8)
        data = TrainingData(x, y, None, None)
        monkeypatch.setattr(
            panel_module,
            "StepSession",
            lambda project, graph, batch_size=1, **kw: StepSession(
                project, graph, batch_size, data, **kw
            ),
        )
        panel = StepperPanel(Document(project_of(layers, input_shape)))
        view = BackpropView()
        qtbot.addWidget(panel)
        qtbot.addWidget(view)
        view.resize(*size)
        panel.session_changed.connect(lambda: view.set_session(panel.session))
        panel.phase_changed.connect(view.refresh)
        panel.sample_changed.connect(view.set_sample)
        panel.pinned_changed.connect(view.set_pinned)
        view.neuron_pinned.connect(panel.pin_neuron)
        view.weight_pinned.connect(panel.pin_weight)
        view.param_pinned.connect(panel.pin_param)
        panel.batch_radio.setChecked(True)
        assert panel.start(), panel.error
        view.show()
        qtbot.waitExposed(view)
        return panel, view

    return make


def go_to(panel, phase: str, layer: str | None) -> None:
    s = panel.session
    target = s.position(phase, layer)
    while s.index < target:
        panel.next_phase()
    if s.index > target:
        panel.go_to(target)
    assert (s.current.phase, s.current.layer) == (phase, layer)


def pixel_color(maps, channel: int, h: int, w: int) -> QColor:
    return maps._tiles[channel].pixelColor(w, h)


def close(a: QColor, b: QColor) -> bool:
    return all(abs(x - y) <= 1 for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def click_scene(qtbot, view, point: QPointF) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(point))


def overlaps(view) -> list[tuple[str, str]]:
    rects = []
    for name, col in view.columns.items():
        rects.append((f"{name} name", col.header.sceneBoundingRect()))
        rects.append((f"{name} caption", col.legend.sceneBoundingRect()))
        for item in col.neurons:
            rects.append((f"{name}[{item.unit}]", item.mapRectToScene(item.shape().boundingRect())))
        if col.block is not None:
            rects.append((f"{name} block", col.block.sceneBoundingRect()))
    rects.append(("loss box", view.loss_box.sceneBoundingRect()))
    rects.append(("banner", view.banner.sceneBoundingRect()))
    return [(a, b) for (a, ra), (b, rb) in itertools.combinations(rects, 2) if ra.intersects(rb)]


# --------------------------------------------------------------------------------- maps
def test_image_layers_draw_one_map_per_channel_of_the_samples_values(wired):
    panel, view = wired(BN_NET, [6, 6, 2])
    s = panel.session
    cols = view.columns
    assert cols["input"].maps is not None and cols["bn"].maps is not None
    assert cols["flat"].maps is None and cols["out"].maps is None  # flat layers as before
    assert len(cols["out"].neurons) == 3 and cols["flat"].heatmap is not None
    for name in ("input", "bn"):
        maps = cols[name].maps
        assert maps.shown == 2 and maps.filter_shape is None
    maps = cols["input"].maps
    assert len(maps._tiles) == 2
    np.testing.assert_array_equal(maps.values, s.batch_x[0])
    h, w, c = 4, 1, 1
    assert close(pixel_color(maps, c, h, w), diverging(float(s.batch_x[0, h, w, c]), maps.scale))
    assert maps.scale == float(np.max(np.abs(s.batch_x[0])))
    assert cols["bn"].maps.values is None  # not computed yet
    go_to(panel, "forward", "bn")
    a = s.current.data["a"]
    np.testing.assert_array_equal(cols["bn"].maps.values, a[0])
    assert "shows a" in cols["bn"].legend.text()
    panel.set_sample(2)
    np.testing.assert_array_equal(cols["bn"].maps.values, a[2])
    np.testing.assert_array_equal(cols["input"].maps.values, s.batch_x[2])
    assert close(
        pixel_color(cols["bn"].maps, 0, 5, 3),
        diverging(float(a[2, 5, 3, 0]), cols["bn"].maps.scale),
    )
    assert overlaps(view) == []
    # The flat layer after them is a heatmap, coloured unit by unit as before.
    flat = cols["flat"].heatmap
    go_to(panel, "forward", "flat")
    values = s.current.data["a"][2]
    for u in (0, 17, 71):
        got = flat._image.pixelColor(u % flat.cols, u // flat.cols)
        assert close(got, diverging(float(values[u]), flat.scale))


def test_the_backward_pass_draws_the_samples_gradient_maps(wired):
    panel, view = wired(BN_NET, [6, 6, 2])
    s = panel.session
    go_to(panel, "backward", "bn")
    grad = s.current.data["grad_a"]
    maps = view.columns["bn"].maps
    np.testing.assert_array_equal(maps.values, grad[0])
    assert (
        view.layer_values("bn")[0] == "∂L/∂a" and "shows ∂L/∂a" in view.columns["bn"].legend.text()
    )
    assert maps.scale == float(np.max(np.abs(grad[0])))
    assert close(pixel_color(maps, 1, 2, 3), diverging(float(grad[0, 2, 3, 1]), maps.scale))
    assert overlaps(view) == []


def test_clicking_a_map_pixel_picks_the_unit_and_the_panel_explains_it(wired, qtbot):
    panel, view = wired(BN_NET, [6, 6, 2])
    s = panel.session
    go_to(panel, "backward", "bn")
    maps = view.columns["bn"].maps
    h, w, c = 3, 4, 1
    unit = int(np.ravel_multi_index((h, w, c), (6, 6, 2)))
    click_scene(qtbot, view, maps.mapToScene(maps.pixel_center(unit)))
    assert panel.pinned == ("neuron", "bn", unit) and maps.pinned_unit == unit
    text = panel.math_text()
    assert "bn · unit 4,5,2" in text
    fwd, bwd = s.event("forward", "bn").data, s.current.data
    for value in (fwd["inputs"][0, h, w, c], fwd["a"][0, h, w, c], bwd["grad_a"][0, h, w, c]):
        assert fmt(value) in text
    assert "pixel (h 4, w 5) of channel 2" in view.neuron_tooltip("bn", unit)
    for num in panel.math_view.numbers:
        if num.source is not None:
            assert num.value == float(lookup(s, num.source))
    # The input's pixels pick the feature.
    inp = view.columns["input"].maps
    click_scene(qtbot, view, inp.mapToScene(inp.pixel_center(unit)))
    assert panel.pinned == ("neuron", "input", unit)
    assert fmt(s.batch_x[0, h, w, c]) in panel.math_text()


def test_the_update_explains_trainable_and_moving_statistics(wired):
    panel, view = wired(BN_NET, [6, 6, 2])
    s = panel.session
    go_to(panel, "update", "bn")
    # Following the active layer: its first trainable weight.
    assert panel.followed() == ("param", "bn", "gamma", (0,))
    upd = s.current.data
    text = panel.math_text()
    assert "Update (Adam)" in text and fmt(upd["after"]["gamma"][0]) in text
    panel.pin_param("bn", "moving_variance", (1,))
    text = panel.math_text()
    assert "Updated by the layer, not the optimizer" in text
    for key in ("before", "after"):
        assert fmt(upd[key]["moving_variance"][1]) in text
    assert "Update (Adam)" not in text


@pytest.mark.parametrize("shape", [(3, 4, 70), (100, 120, 1), (1, 1, 5)])
def test_any_image_shape_maps_its_pixels_both_ways(qapp, shape):
    """Many channels (the first MAPS_MAX drawn), a large image (less than a screen pixel per
    value) and a 1×1 one: every drawn pixel's centre hits its own unit."""
    maps = MapsItem(None, "layer", shape, QColor("#888888"))
    assert maps.shown == min(shape[2], MAPS_MAX)
    values = np.random.default_rng(1).normal(size=int(np.prod(shape)))
    maps.set_values(values, 2.0, False)
    assert len(maps._tiles) == maps.shown
    h, w = shape[0] - 1, shape[1] // 2
    for c in (0, maps.shown - 1):
        unit = int(np.ravel_multi_index((h, w, c), shape))
        assert maps.hit(maps.pixel_center(unit)) == ("unit", unit)
        want = diverging(float(values.reshape(shape)[h, w, c]), 2.0)
        assert close(pixel_color(maps, c, h, w), want)
    assert maps.height <= 460 and maps.width <= 270


# --------------------------------------------------------------------------------- conv
def test_a_conv_network_draws_maps_and_filters_before_and_after(wired, qtbot):
    panel, view = wired(CONV_NET, [8, 8, 2])
    s = panel.session
    conv = view.columns["conv"].maps
    assert conv.shown == 3 and conv.filter_shape == (3, 3, 2, 3)
    assert view.columns["pool"].maps.filter_shape is None
    assert view.columns["conv2"].maps.filter_shape == (2, 2, 3, 2)
    before = s.weights_before["conv"]["kernel"]
    assert conv._filters[1] == [None] * 3  # no "after" before the update
    go_to(panel, "forward", "conv")
    np.testing.assert_array_equal(conv.values, s.current.data["a"][0])
    assert conv.showing == "maps"
    go_to(panel, "update", "conv")
    # In the update the filters take the maps' place; the caption says so.
    assert conv.showing == "filters" and "shows filters" in view.columns["conv"].legend.text()
    assert view.columns["pool"].maps.showing == "maps"
    assert panel.followed() == ("param", "conv", "kernel", (0, 0, 0, 0))
    after = s.current.data["after"]["kernel"]
    w_scale, d_scale = conv.filter_scales
    i, j, f = 2, 1, 2
    want = {0: before[i, j, 0, f], 1: after[i, j, 0, f]}
    for panel_k, value in want.items():
        got = conv._filters[panel_k][f].pixelColor(j, i)
        assert close(got, diverging(float(value), w_scale))
    delta = float(after[i, j, 0, f]) - float(before[i, j, 0, f])
    assert close(conv._filters[2][f].pixelColor(j, i), diverging(delta, d_scale))
    assert "filters before and after" in view.banner.text()
    # Clicking a filter pixel (in the "after" panel) picks the kernel entry.
    rect = conv.filter_rect(1, f)
    point = QPointF(rect.left() + (j + 0.5) * conv.fpx, rect.top() + (i + 0.5) * conv.fpx)
    click_scene(qtbot, view, conv.mapToScene(point))
    assert panel.pinned == ("param", "conv", "kernel", (i, j, 0, f))
    assert conv.pinned_weight == (i, j, 0, f)
    tip = view.param_tooltip("conv", "kernel", (i, j, 0, f))
    assert str(after[i, j, 0, f]) in tip and "every input channel" in tip
    text = panel.math_text()
    grad = s.event("backward", "conv").data["grad_kernel"][i, j, 0, f]
    for value in (before[i, j, 0, f], grad, after[i, j, 0, f]):
        assert fmt(value) in text
    assert "Update (Adam)" in text
    assert overlaps(view) == []


def test_picking_a_conv_pixel_explains_it_through_the_layers_hooks(wired, qtbot):
    panel, view = wired(CONV_NET, [8, 8, 2])
    s = panel.session
    go_to(panel, "backward", "pool")
    for name in ("conv", "pool"):
        maps = view.columns[name].maps
        shape = tuple(s.graph.by_name[name].output_shape)
        a = s.event("forward", name).data["a"][0]
        unit = int(np.argmax(np.abs(a)))  # a unit with a number of its own (not a relu's 0)
        h, w, c = np.unravel_index(unit, shape)
        click_scene(qtbot, view, maps.mapToScene(maps.pixel_center(unit)))
        assert panel.pinned == ("neuron", name, unit)
        text = panel.math_text()
        assert fmt(s.event("forward", name).data["a"][0, h, w, c]) in text
        sourced = [n for n in panel.math_view.numbers if n.source is not None]
        assert any(n.source[:2] == ("forward", name) for n in sourced), text
        for num in sourced:
            assert num.value == float(lookup(s, num.source))
    np.testing.assert_array_equal(
        view.columns["pool"].maps.values, s.event("backward", "pool").data["grad_a"][0]
    )


def test_the_wheel_zooms_the_view_in_and_out(wired, qapp):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    _panel, view = wired(BN_NET, [6, 6, 2])
    before = view.transform().m11()

    def wheel(steps: int) -> None:
        centre = QPointF(view.viewport().rect().center())
        event = QWheelEvent(
            centre,
            QPointF(view.viewport().mapToGlobal(centre.toPoint())),
            QPoint(),
            QPoint(0, 120 * steps),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        qapp.sendEvent(view.viewport(), event)

    wheel(2)
    assert view.transform().m11() == pytest.approx(before * 1.15**2)
    wheel(-2)
    assert view.transform().m11() == pytest.approx(before)
