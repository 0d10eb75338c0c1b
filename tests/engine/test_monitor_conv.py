"""engine.monitor for convolutional networks (issue 15): filter tiles, feature maps of the
selected sample, activation health per channel, statistics of 4-D kernels; each compared with
a direct NumPy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import monitor as mon
from engine.project import from_dict
from engine.training import build_model, load_training_data
from engine.validate import check_project


def layer(class_name, name, inbound, **config):
    return {"class_name": class_name, "config": {"name": name, **config}, "inbound": inbound}


def image_project(tmp_path, shape, layers, n=48, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    path = tmp_path / "images.npz"
    np.savez(
        path,
        x=rng.normal(size=(n, *shape)).astype(np.float32),
        y=rng.integers(0, classes, size=n),
    )
    return from_dict(
        {
            "model": {"input_shape": list(shape), "layers": layers},
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 16, "seed": 1},
            "dataset": {"path": str(path)},
        }
    )


def monitor_of(p, probe_size=16):
    graph = check_project(p)
    data = load_training_data(p, graph)
    model = build_model(p, graph)
    return mon.Monitor(model, graph, data, None, probe_size=probe_size), model


#: What exists before the convolutions: images through BatchNormalization and a ReLU.
BN_NET = [
    layer("BatchNormalization", "bn", ["input"]),
    layer("Activation", "act", ["bn"], activation="relu"),
    layer("Flatten", "f", ["act"]),
    layer("Dense", "out", ["f"], units=3, activation="softmax"),
]


# ------------------------------------------------------------------------------ functions
def test_filter_tiles_put_each_filters_input_channels_side_by_side():
    k = np.random.default_rng(0).normal(size=(3, 2, 4, 5))  # kh 3, kw 2, in 4, filters 5
    t = mon.filter_tiles(k)
    assert t.shape == (5, 3, 4 * 2)
    for f in range(5):
        for j in range(4):
            np.testing.assert_array_equal(t[f, :, j * 2 : (j + 1) * 2], k[:, :, j, f])
    many = np.zeros((1, 1, mon.MAX_FILTER_INPUTS + 3, 2))
    assert mon.filter_tiles(many).shape == (2, 1, mon.MAX_FILTER_INPUTS)
    assert mon.filter_tiles(k, max_filters=2).shape == (2, 3, 8)
    with pytest.raises(ValueError, match="3 or more axes"):
        mon.filter_tiles(np.zeros((3, 4)))


def test_a_kernel_of_any_rank_is_its_matrix_and_stats_ignore_the_rank():
    k = np.arange(5 * 5 * 2 * 6, dtype=np.float64).reshape(5, 5, 2, 6)
    m = mon.kernel_matrix(k)
    assert m.shape == (50, 6)
    np.testing.assert_array_equal(m[:, 3], k[..., 3].reshape(-1))
    dense = np.ones((7, 3))
    assert mon.kernel_matrix(dense) is not None and mon.kernel_matrix(dense).shape == (7, 3)
    assert mon.kernel_matrix(np.ones(4)).shape == (4, 1)
    big = np.zeros((3, 3, 256, 512))  # 1.2 M cells: strided to ~512 x 512
    s = mon._strided(big)
    assert s.ndim == 2 and s.shape[1] == 512 and s.shape[0] <= 512
    counts, edges = mon.weight_histogram(k)
    assert counts.sum() == k.size
    assert mon.grad_log_histogram(k).sum() == k.size


def test_channel_health_matches_a_direct_count():
    rng = np.random.default_rng(3)
    a = np.maximum(rng.normal(size=(10, 4, 5, 3)), 0.0)
    a[:, :, :, 1] = 0.0  # channel 1 dead everywhere
    a[:, :2, :, 2] = 0.0  # channel 2 dead on the top two rows
    h = mon.channel_health("relu", a)
    want = [
        np.mean([np.all(a[:, y, x, c] <= 0) for y in range(4) for x in range(5)]) for c in range(3)
    ]
    np.testing.assert_allclose(h["dead"], want)
    assert h["dead"][1] == 1.0 and h["dead"][2] >= 0.4
    assert h["saturated"] is None
    # Their mean over channels is the layer's dead fraction (units = positions x channels).
    assert float(np.mean(h["dead"])) == pytest.approx(mon.dead_fraction(a))
    s = 1.0 / (1.0 + np.exp(-rng.normal(scale=4.0, size=(8, 3, 3, 2))))
    hs = mon.channel_health("sigmoid", s)
    m = mon.SATURATION_MARGIN
    want = [np.mean((s[..., c] <= m) | (s[..., c] >= 1 - m)) for c in range(2)]
    np.testing.assert_allclose(hs["saturated"], want)
    assert hs["dead"] is None
    assert float(np.mean(hs["saturated"])) == pytest.approx(mon.saturated_fraction(s, "sigmoid"))
    assert mon.channel_health("linear", s) == {"dead": None, "saturated": None}


def test_feature_maps_are_channels_first_and_capped():
    a = np.random.default_rng(1).normal(size=(6, 7, 3))
    m = mon.feature_maps(a)
    assert m.dtype == np.float32 and m.shape == (3, 6, 7)
    np.testing.assert_allclose(m[2], a[:, :, 2], rtol=1e-6)
    big = np.zeros((200, 130, 50))
    capped = mon.feature_maps(big)
    assert capped.shape[0] == mon.MAX_MAP_CHANNELS
    assert max(capped.shape[1:]) <= mon.MAX_MAP_SIDE


# ------------------------------------------------------------------------------ monitors
def test_image_layers_send_feature_maps_of_the_selected_sample(tmp_path):
    m, model = monitor_of(image_project(tmp_path, (6, 6, 2), BN_NET))
    info = m.build_info()
    assert info.map_shapes == {"input": (6, 6, 2), "bn": (6, 6, 2), "act": (6, 6, 2)}
    assert info.map_sent == {k: (2, 6, 6) for k in info.map_shapes}
    by_name = {x.name: x for x in info.layers}
    assert by_name["act"].is_image and not by_name["f"].is_image
    assert by_name["f"].output_shape == (72,)
    m.sample_index = 5
    snap = m.snapshot(0, 1)
    assert snap.sample_index == 5
    outs = mon.layer_outputs(model, m.probe_x)
    for name in ("bn", "act"):
        np.testing.assert_allclose(
            snap.feature_maps[name], np.moveaxis(outs[name][5], -1, 0), rtol=1e-5, atol=1e-6
        )
        assert name not in snap.activations  # the maps carry them
    np.testing.assert_allclose(snap.feature_maps["input"], np.moveaxis(m.probe_x[5], -1, 0))
    assert snap.activations["f"].shape == (72,)  # flat layers as before
    np.testing.assert_allclose(snap.activations["input"], m.probe_x[5].reshape(-1))
    # Per-channel health of the ReLU on images (an Activation layer: no weights).
    act = snap.layers["act"]
    a = outs["act"]
    want = [np.mean(np.all(a[..., c] <= 0, axis=0)) for c in range(2)]
    np.testing.assert_allclose(act.dead_per_channel, want)
    assert act.dead_fraction == pytest.approx(float(np.mean(want)))
    assert act.saturated_per_channel is None
    # BatchNormalization applies no activation: no health, as for a flat one.
    assert snap.layers["bn"].dead_per_channel is None
    assert snap.layers["out"].dead_per_channel is None


def test_the_map_budget_leaves_later_layers_out(tmp_path, monkeypatch):
    monkeypatch.setattr(mon, "MAX_MAP_VALUES", 2 * 6 * 6 * 2)
    m, _ = monitor_of(image_project(tmp_path, (6, 6, 2), BN_NET))
    assert list(m.build_info().map_sent) == ["input", "bn"]
    assert set(m.snapshot(0, 1).feature_maps) == {"input", "bn"}


def test_flat_networks_send_no_maps(tmp_path):
    layers = [
        layer("Dense", "h", ["input"], units=4, activation="relu"),
        layer("Dense", "out", ["h"], units=3, activation="softmax"),
    ]
    m, _ = monitor_of(image_project(tmp_path, (5,), layers))
    assert m.build_info().map_shapes == {} and m.snapshot(0, 1).feature_maps == {}
    assert m.snapshot(0, 1).layers["h"].dead_per_channel is None


def test_the_probe_shrinks_for_networks_with_many_values_a_sample(tmp_path, monkeypatch):
    """A CNN's probe holds at most MAX_PROBE_VALUES layer outputs (at least MIN_PROBE
    samples); an MLP's keeps the probe size asked for."""
    mlp = [
        layer("Dense", "h", ["input"], units=4, activation="relu"),
        layer("Dense", "out", ["h"], units=3, activation="softmax"),
    ]
    m, _ = monitor_of(image_project(tmp_path, (5,), mlp, n=64), probe_size=40)
    assert len(m.probe_x) == 40
    graph = check_project(image_project(tmp_path, (6, 6, 2), BN_NET))
    per_sample = 6 * 6 * 2 * 3 + 3  # bn, act, flatten; out
    monkeypatch.setattr(mon, "MAX_PROBE_VALUES", 50 * per_sample)
    assert mon.probe_size_for(graph, 128) == 50
    assert mon.probe_size_for(graph, 20) == 20
    monkeypatch.setattr(mon, "MAX_PROBE_VALUES", 10 * per_sample)
    assert mon.probe_size_for(graph, 128) == mon.MIN_PROBE
    assert mon.probe_size_for(graph, 8) == 8


# ------------------------------------------------------------------------------ a real CNN
CNN = [
    layer(
        "Conv2D", "c1", ["input"], filters=4, kernel_size=[3, 3], activation="relu", padding="same"
    ),
    layer("MaxPooling2D", "p1", ["c1"], pool_size=[2, 2]),
    layer("Conv2D", "c2", ["p1"], filters=3, kernel_size=[2, 2], activation="sigmoid"),
    layer("Flatten", "f", ["c2"]),
    layer("Dense", "out", ["f"], units=3, activation="softmax"),
]


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_a_cnn_snapshot_holds_filters_maps_and_channel_health(tmp_path, backend, request):
    if backend == "tensorflow":
        request.getfixturevalue("tf_ready")
    p = image_project(tmp_path, (8, 8, 2), CNN)
    p.data["backend"] = backend
    m, model = monitor_of(p)
    info = m.build_info()
    assert (info.tiles_layer, info.tiles_kind) == ("c1", "filters")
    assert info.tile_shape == (3, 3 * 2) and info.tile_inputs == (2, 2)
    assert "c1" in info.map_sent and "c2" in info.map_sent
    w0 = model.get_weights()["c1"]["kernel"].copy()
    snap = m.snapshot(0, 1)
    k = model.get_weights()["c1"]["kernel"]
    assert snap.tiles.shape == (4, 3, 6)
    np.testing.assert_allclose(snap.tiles[1][:, 3:6], k[:, :, 1, 1])
    np.testing.assert_allclose(snap.tiles_change, 0.0)
    # The kernel's matrix, histogram, gradient histogram and norm, for a 4-D kernel.
    c1 = snap.layers["c1"]
    assert c1.kernel_shape == (3, 3, 2, 4)
    np.testing.assert_allclose(c1.kernel, k.reshape(-1, 4))
    assert c1.weight_hist[0].sum() == k.size
    assert c1.grad_hist.sum() == k.size
    grads = mon.layer_gradients(model, m.probe_x, m.probe_y)["c1"]
    want = math.sqrt(sum(float(np.sum(np.asarray(g, np.float64) ** 2)) for g in grads.values()))
    assert c1.grad_norm == pytest.approx(want, rel=1e-4)
    outs = mon.layer_outputs(model, m.probe_x)
    a = outs["c1"]
    np.testing.assert_allclose(
        c1.dead_per_channel, [np.mean(np.all(a[..., c] <= 0, axis=0)) for c in range(4)]
    )
    s = outs["c2"]
    mg = mon.SATURATION_MARGIN
    np.testing.assert_allclose(
        snap.layers["c2"].saturated_per_channel,
        [np.mean((s[..., c] <= mg) | (s[..., c] >= 1 - mg)) for c in range(3)],
    )
    np.testing.assert_allclose(
        snap.feature_maps["c1"], np.moveaxis(a[0], -1, 0), rtol=1e-5, atol=1e-6
    )
    # One step later: the change since the start and the update ratio of the 4-D kernel.
    from engine.training import Trainer

    data = m.data
    trainer = Trainer(model, data, 16, True, 0)
    gen = trainer.run(1)
    next(ev for ev in gen if ev.kind == "step")
    later = m.snapshot(1, 1)
    k1 = model.get_weights()["c1"]["kernel"]
    np.testing.assert_allclose(later.tiles_change, mon.filter_tiles(k1 - w0), atol=1e-7)
    assert later.layers["c1"].update_ratio > 0


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_one_pass_gives_the_outputs_and_gradients_of_two(tmp_path, backend, request):
    """A snapshot of a network without random layers or moving statistics takes the
    activations and the gradients from one training-mode pass: the same numbers as the
    inference pass and the gradient pass, and the run is unchanged."""
    if backend == "tensorflow":
        request.getfixturevalue("tf_ready")
    p = image_project(tmp_path, (8, 8, 2), CNN)
    p.data["backend"] = backend
    m, model = monitor_of(p)
    assert m.one_pass
    outs, grads = mon.outputs_and_gradients(model, m.probe_x, m.probe_y)
    want_outs = mon.layer_outputs(model, m.probe_x)
    want_grads = mon.layer_gradients(model, m.probe_x, m.probe_y)
    assert outs.keys() == want_outs.keys() and grads.keys() == want_grads.keys()
    for name, a in want_outs.items():
        np.testing.assert_allclose(outs[name], a, rtol=1e-5, atol=1e-6)
    for name, g in want_grads.items():
        for w, v in g.items():
            np.testing.assert_allclose(grads[name][w], v, rtol=1e-4, atol=1e-7)
    # Dropout or BatchNormalization: training-mode outputs differ, two passes as before.
    m_bn, _ = monitor_of(image_project(tmp_path, (6, 6, 2), BN_NET))
    assert not m_bn.one_pass


def test_the_gradient_histogram_counts_as_numpys():
    rng = np.random.default_rng(5)
    g = rng.normal(size=(5, 5, 6, 16)) * 10.0 ** rng.uniform(-12, 5, size=(5, 5, 6, 16))
    g.flat[:3] = [0.0, np.nan, -np.inf]
    a = np.abs(g.reshape(-1))
    a = a[np.isfinite(a)]
    with np.errstate(divide="ignore"):
        logs = np.clip(np.log10(a), mon.GRAD_LOG_EDGES[0], mon.GRAD_LOG_EDGES[-1] - 1e-9)
    want, _ = np.histogram(logs, bins=mon.GRAD_LOG_EDGES)
    np.testing.assert_array_equal(mon.grad_log_histogram(g), want)
