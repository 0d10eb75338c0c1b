"""The live views of convolutional networks (issue 15): filter tiles, the selected sample's
feature maps, per-channel activation health in the layer statistics; what they draw is
compared with the snapshot's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from designer.training.colors import values_to_rgb
from designer.training.views import FeatureMapsView, LayerStatsView, WeightTilesView
from engine import monitor as mon
from engine.project import from_dict
from tests.designer.test_training import TIMEOUT


def layer(class_name, name, inbound, **config):
    return {"class_name": class_name, "config": {"name": name, **config}, "inbound": inbound}


def image_spec(tmp_path, layers, shape=(6, 6, 2), n=60, epochs=2) -> dict:
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    np.savez(
        path,
        x=rng.normal(size=(n, *shape)).astype(np.float32),
        y=rng.integers(0, 3, size=n),
    )
    return {
        "format_version": 1,
        "name": "images",
        "model": {"input_shape": list(shape), "layers": layers},
        "compile": {
            "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": epochs, "batch_size": 16, "validation_split": 0.2, "seed": 3},
        "dataset": {"path": str(path)},
        "backend": "numpy",
    }


BN_NET = [
    layer("BatchNormalization", "bn", ["input"]),
    layer("Activation", "act", ["bn"], activation="relu"),
    layer("Flatten", "f", ["act"]),
    layer("Dense", "out", ["f"], units=3, activation="softmax"),
]


def _info(**kw):
    base = dict(
        layers=[],
        input_units=72,
        task="classification",
        n_classes=3,
        class_names=["0", "1", "2"],
        probe_size=8,
    )
    base.update(kw)
    return mon.BuildInfo(**base)


# ------------------------------------------------------------------------------ views alone
def test_feature_maps_view_draws_each_channel_of_each_image_layer(qtbot):
    view = FeatureMapsView()
    qtbot.addWidget(view)
    view.resize(500, 500)
    view.show()
    assert view.empty  # before a build: one sentence
    rng = np.random.default_rng(2)
    maps = {"input": rng.normal(size=(2, 6, 6)), "c": np.maximum(rng.normal(size=(3, 4, 4)), 0)}
    info = _info(
        map_shapes={"input": (6, 6, 2), "c": (4, 4, 40)},
        map_sent={"input": (2, 6, 6), "c": (3, 4, 4)},
    )
    view.set_build(info)
    assert not view.empty and list(view.rows) == ["input", "c"]
    assert "first 3 channels" in view.rows["c"][0].text
    view.set_snapshot(mon.Snapshot(step=1, epoch=1, feature_maps=maps, sample_index=4))
    view.refresh(force=True)
    assert "probe sample 4" in view.sample_label.text()
    for name, m in maps.items():
        out = view.mosaics[name]
        rgb = values_to_rgb(m, scale=float(np.max(np.abs(m))))  # one scale per layer
        # Every channel's tile is somewhere in the mosaic, pixel for pixel.
        h, w = m.shape[1:]
        found = [
            any(
                np.array_equal(out[y : y + h, x : x + w], rgb[c])
                for y in range(out.shape[0] - h + 1)
                for x in range(out.shape[1] - w + 1)
            )
            for c in range(len(m))
        ]
        assert all(found), name
    view.own_scale.setChecked(True)  # each channel on its own scale: re-rendered at once
    m = maps["c"]
    own = values_to_rgb(m[0] / np.max(np.abs(m[0])), scale=1.0)
    out = view.mosaics["c"]
    assert any(
        np.array_equal(out[y : y + 4, x : x + 4], own)
        for y in range(out.shape[0] - 3)
        for x in range(out.shape[1] - 3)
    )
    view.set_build(_info())  # a flat network: the sentence says what the view needs
    assert view.empty and "image" in view.message.text()


def test_tiles_view_shows_filters_with_their_input_channels_apart(qtbot):
    view = WeightTilesView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    conv = mon.LayerInfo(
        "c1", "Conv", "relu", 4, ["input"], {"kernel": (3, 3, 2, 4)}, filter_weight="kernel"
    )
    info = _info(
        layers=[conv], tiles_layer="c1", tiles_kind="filters", tile_shape=(3, 6), tile_inputs=(2, 2)
    )
    view.set_build(info)
    assert not view.empty
    assert "4 filters, 3×3, 2 input channels side by side" in view.title.text
    k = np.random.default_rng(1).normal(size=(3, 3, 2, 4))
    tiles = mon.filter_tiles(k)
    view.set_snapshot(mon.Snapshot(step=0, epoch=1, tiles=tiles, tiles_change=tiles * 0.5))
    view.refresh(force=True)
    img = view.image.image
    assert img is not None
    # Each filter tile has a grey column between its two channel windows: 3 + 1 + 3 wide.
    n_cols = (img.shape[1] + 1) // (7 + 1)
    assert n_cols * 8 - 1 == img.shape[1]
    f0 = tiles[0] / np.max(np.abs(tiles[0]))
    np.testing.assert_array_equal(img[:3, :3], values_to_rgb(f0[:, :3], scale=1.0))
    np.testing.assert_array_equal(img[:3, 4:7], values_to_rgb(f0[:, 3:], scale=1.0))
    assert (img[:3, 3] == 128).all()


def test_layer_stats_show_per_channel_health_only_for_image_layers(qtbot):
    view = LayerStatsView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    view.set_layers(["c1", "d"])
    k = np.random.default_rng(0).normal(size=(5, 5, 1, 6))
    dead = np.array([0.0, 1.0, 0.25, 0.0, 0.5, 1.0])
    c1 = mon.LayerStats(
        "c1",
        kernel=mon.kernel_matrix(k),
        kernel_shape=k.shape,
        weight_hist=mon.weight_histogram(k),
        dead_fraction=float(dead.mean()),
        dead_per_channel=dead,
        act_mean=0.1,
        act_std=0.2,
    )
    d = mon.LayerStats("d", kernel=np.ones((4, 3)), kernel_shape=(4, 3), dead_fraction=0.0)
    view.set_snapshot(mon.Snapshot(step=1, epoch=1, layers={"c1": c1, "d": d}))
    view.layer_combo.setCurrentText("c1")
    view.refresh(force=True)
    np.testing.assert_array_equal(view.health_values, dead)
    assert "5×5×1 → 6" in view.heat_plot.titleLabel.text
    assert view.heatmap.image.shape == (25, 6)
    assert "2/6 channels dead" in view.stats_label.text()
    view.layer_combo.setCurrentText("d")  # a flat layer: no per-channel plot
    view.refresh(force=True)
    assert view.health_values is None
    assert "Kernel 4×3" in view.heat_plot.titleLabel.text
    assert "channels dead" not in view.stats_label.text()


# ------------------------------------------------------------------------------ in a run
def test_a_run_on_images_shows_feature_maps_of_the_picked_sample(qtbot, training_window, tmp_path):
    window, ctrl = training_window(image_spec(tmp_path, BN_NET))
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    assert ctrl.docks["maps"].isVisibleTo(window)
    view = ctrl.feature_maps
    ctrl.docks["maps"].raise_()
    view.refresh(force=True)
    assert list(view.rows) == ["input", "bn", "act"]
    first = {k: v.copy() for k, v in ctrl.snapshot.feature_maps.items()}
    # The sample picked here is the activity view's too, and the worker's.
    view.sample_spin.setValue(3)
    assert ctrl.activity.sample_spin.value() == 3
    qtbot.waitUntil(lambda: ctrl.snapshot.sample_index == 3, timeout=TIMEOUT)
    view.refresh(force=True)
    assert not np.allclose(ctrl.snapshot.feature_maps["act"], first["act"])
    assert view.shown == (ctrl.snapshot.run, ctrl.snapshot.step)
    # Per-channel health of the ReLU on images reaches the layer statistics' snapshot.
    act = ctrl.snapshot.layers["act"]
    assert act.dead_per_channel is not None and len(act.dead_per_channel) == 2
    ctrl.activity.sample_spin.setValue(1)
    assert view.sample_spin.value() == 1
    qtbot.waitUntil(lambda: ctrl.snapshot.sample_index == 1, timeout=TIMEOUT)
    # Another project opened: the maps of this one go with it.
    ctrl.document.replace(from_dict(image_spec(tmp_path, BN_NET)))
    assert view.rows == {} and view.snapshot is None


def test_a_cnn_run_draws_filters_maps_and_channel_health(qtbot, training_window, tmp_path):
    layers = [
        layer("Conv2D", "c1", ["input"], filters=3, kernel_size=[3, 3], activation="relu"),
        layer("Flatten", "f", ["c1"]),
        layer("Dense", "out", ["f"], units=3, activation="softmax"),
    ]
    window, ctrl = training_window(image_spec(tmp_path, layers, shape=(7, 7, 1)))
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    assert ctrl.info.tiles_kind == "filters" and ctrl.docks["tiles"].isVisibleTo(window)
    ctrl.render_views(all_views=True)
    assert ctrl.tiles.image.image is not None
    assert "Filters of 'c1': 3 filters, 3×3" in ctrl.tiles.title.text
    assert list(ctrl.feature_maps.rows) == ["input", "c1"]
    assert ctrl.feature_maps.mosaics["c1"].ndim == 3
    ctrl.layer_stats.layer_combo.setCurrentText("c1")
    ctrl.layer_stats.refresh(force=True)
    np.testing.assert_array_equal(
        ctrl.layer_stats.health_values, ctrl.snapshot.layers["c1"].dead_per_channel
    )


def test_costly_snapshots_are_spaced_to_a_smaller_share_of_the_run():
    """Cheap snapshots keep their pace (the views within ~0.2 s of the run); a CNN's, costing
    several training steps, take ever less of the time, towards 1/(1 + SLOW_SNAPSHOT_FACTOR)."""
    from designer import worker_core as wc

    assert wc.snapshot_spacing(0.001) == wc.SNAPSHOT_PERIOD
    cheap = wc.CHEAP_SNAPSHOT_S
    assert wc.snapshot_spacing(cheap) == pytest.approx(
        max(wc.SNAPSHOT_PERIOD, wc.SNAPSHOT_COST_FACTOR * cheap)
    )
    # The spiral's ~20 ms snapshots: as often as before (issue 13's pace).
    assert wc.snapshot_spacing(0.02) == pytest.approx(max(wc.SNAPSHOT_PERIOD, 4 * 0.02))
    assert wc.snapshot_spacing(cheap * (1 + 1e-9)) == pytest.approx(wc.snapshot_spacing(cheap))

    def share(cost):
        return cost / (cost + wc.snapshot_spacing(cost))

    shares = [share(c) for c in (0.05, 0.1, 0.25, 1.0, 10.0)]
    assert shares == sorted(shares, reverse=True)
    assert shares[0] <= 1 / (1 + wc.SNAPSHOT_COST_FACTOR)
    assert shares[-1] == pytest.approx(1 / (1 + wc.SLOW_SNAPSHOT_FACTOR), rel=0.01)
    # Slow training steps (a real CNN's): every snapshot that outlasts the period gets the
    # small share, however cheap; fast steps keep the pace above.
    slow = wc.SLOW_STEP_S
    assert wc.snapshot_spacing(0.022, slow) == pytest.approx(wc.SLOW_SNAPSHOT_FACTOR * 0.022)
    assert wc.snapshot_spacing(0.022, slow / 2) == wc.snapshot_spacing(0.022)
    assert wc.snapshot_spacing(0.001, slow) == wc.SNAPSHOT_PERIOD
