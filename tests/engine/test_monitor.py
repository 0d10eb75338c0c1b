"""engine.monitor: the statistics the live views show, on hand-made arrays and real models."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import monitor as mon
from engine.project import from_dict
from engine.training import Trainer, build_model, load_training_data
from engine.validate import check_project


def project(layers, dataset=None, loss="sparse_categorical_crossentropy", inputs=2, **fit):
    return from_dict(
        {
            "model": {"input_shape": [inputs], "layers": layers},
            "compile": {"optimizer": "adam", "loss": loss, "metrics": ["accuracy"]},
            "fit": {"batch_size": 16, "validation_split": 0.25, "seed": 2, **fit},
            "dataset": dataset or {"name": "moons", "n_samples": 120, "noise": 0.1},
        }
    )


def dense(name, units, activation):
    return {
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": activation},
    }


def setup(p):
    graph = check_project(p)
    data = load_training_data(p, graph)
    model = build_model(p, graph)
    return graph, data, model


# ------------------------------------------------------------------------------ statistics
def test_dead_fraction_counts_units_that_are_zero_for_every_sample():
    a = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, -0.0]])
    assert mon.dead_fraction(a) == 0.5  # units 0 and 3 never fire
    assert mon.dead_fraction(np.zeros((5, 8))) == 1.0
    assert mon.dead_fraction(np.ones((5, 8))) == 0.0


def test_saturated_fraction_of_sigmoid_and_tanh():
    s = np.array([0.001, 0.5, 0.999, 0.97, 0.03, 0.99])
    assert mon.saturated_fraction(s, "sigmoid") == pytest.approx(3 / 6)
    t = np.array([-0.999, 0.0, 0.5, 0.97, 1.0, -0.5])
    assert mon.saturated_fraction(t, "tanh") == pytest.approx(3 / 6)  # margin 0.04 of 2
    stats = mon.activation_stats("relu", np.array([[0.0, 1.0], [0.0, 3.0]]))
    assert stats["dead"] == 0.5 and stats["saturated"] is None
    assert stats["mean"] == 1.0
    assert mon.activation_stats("tanh", np.zeros((2, 2)))["dead"] is None


def test_weight_histogram_is_symmetric_with_nice_range_and_fixed_bins():
    w = np.array([-0.3, 0.1, 0.2, 0.29, np.nan])
    counts, edges = mon.weight_histogram(w)
    assert len(counts) == mon.WEIGHT_BINS and len(edges) == mon.WEIGHT_BINS + 1
    assert edges[0] == -0.5 and edges[-1] == 0.5  # 0.3 rounds up to 0.5
    assert counts.sum() == 4  # NaN left out
    assert mon.nice_ceiling(0.3) == 0.5 and mon.nice_ceiling(1.2) == 2.0
    assert mon.nice_ceiling(7.0) == 10.0 and mon.nice_ceiling(2e-3) == 2e-3
    zero_counts, zero_edges = mon.weight_histogram(np.zeros(5))
    assert zero_counts.sum() == 5 and zero_edges[-1] == 1.0


def test_grad_log_histogram_uses_fixed_edges():
    g = np.array([0.0, 1e-12, 1e-3, -1e-3, 10.0, 1e9, np.inf])
    counts = mon.grad_log_histogram(g)
    assert len(counts) == len(mon.GRAD_LOG_EDGES) - 1
    assert counts.sum() == 6  # inf left out
    assert counts[0] == 2  # 0 and 1e-12 clip to the first bin
    assert counts[-1] == 1  # 1e9 clips to the last
    i = np.searchsorted(mon.GRAD_LOG_EDGES, -3.0, side="right") - 1
    assert counts[i] == 2


def test_update_ratio_per_step():
    before = {"kernel": np.ones((2, 2)), "bias": np.zeros(2)}
    after = {"kernel": np.ones((2, 2)) * 1.01, "bias": np.zeros(2)}
    # ||diff|| = 0.02, ||W|| = 2: 1e-2 over 1 step, 1e-3 per step over 10.
    assert mon.update_ratio(before, after, 1) == pytest.approx(1e-2)
    assert mon.update_ratio(before, after, 10) == pytest.approx(1e-3)
    assert math.isnan(mon.update_ratio(before, after, 0))
    assert math.isnan(mon.update_ratio(before, {"kernel": np.ones(3)}, 1))


def test_layer_warnings_thresholds():
    layers = {
        "a": mon.LayerStats("a", dead_fraction=0.6, grad_norm=1.0),
        "b": mon.LayerStats("b", saturated_fraction=0.9, grad_norm=1e-9),
        "c": mon.LayerStats("c", dead_fraction=0.1, grad_norm=5e3),
        "d": mon.LayerStats("d", dead_fraction=0.2, grad_norm=0.5),
    }
    w = mon.layer_warnings(layers)
    assert set(w) == {"a", "b", "c"}
    assert "dying: 60%" in w["a"]
    assert "saturating" in w["b"] and "vanishing" in w["b"]
    assert "exploding" in w["c"]


def test_class_labels_and_predictions_for_every_encoding():
    np.testing.assert_array_equal(mon.class_labels(np.array([2, 0, 1])), [2, 0, 1])
    np.testing.assert_array_equal(mon.class_labels(np.eye(3)[[2, 0]]), [2, 0])
    np.testing.assert_array_equal(mon.class_labels(np.array([[0.0], [1.0]])), [0, 1])
    np.testing.assert_array_equal(mon.class_labels(np.array([[-1.0], [1.0]])), [0, 1])
    np.testing.assert_array_equal(
        mon.predicted_classes(np.array([[0.2], [0.7]]), "sigmoid"), [0, 1]
    )
    np.testing.assert_array_equal(mon.predicted_classes(np.array([[-0.2], [0.7]]), "tanh"), [0, 1])
    p = mon.class_probabilities(np.array([[0.25], [1.0]]), "sigmoid")
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.0, 1.0]])
    q = mon.class_probabilities(np.array([[1.0, 1.0], [0.0, 100.0]]), "linear")
    np.testing.assert_allclose(q.sum(axis=1), 1.0)


def test_confusion_matrix_matches_sklearn_and_keeps_absent_classes():
    from sklearn.metrics import confusion_matrix

    t = np.array([0, 1, 1, 2, 2, 2])
    p = np.array([0, 2, 1, 2, 0, 2])
    cm = mon.confusion_matrix(t, p, 4)
    np.testing.assert_array_equal(cm[:3, :3], confusion_matrix(t, p))
    assert cm.shape == (4, 4) and cm[3].sum() == 0
    acc = mon.per_class_accuracy(cm)
    np.testing.assert_allclose(acc[:3], [1.0, 0.5, 2 / 3])
    assert math.isnan(acc[3])


@given(st.integers(2, 12), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_confusion_matrix_equals_sklearn_on_random_labels(k, n, seed):
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(seed)
    t, p = rng.integers(0, k, n), rng.integers(0, k, n)
    want = confusion_matrix(t, p, labels=list(range(k)))
    np.testing.assert_array_equal(mon.confusion_matrix(t, p, k), want)


def test_image_shape_for():
    assert mon.image_shape_for(64, "digits", (64,)) == (8, 8)
    assert mon.image_shape_for(784, "mnist", (784,)) == (28, 28)
    assert mon.image_shape_for(784, None, (28, 28)) == (28, 28)
    assert mon.image_shape_for(64, "iris", (64,)) is None
    assert mon.image_shape_for(2, "moons", (2,)) is None


# ------------------------------------------------------------------------------ snapshots
def test_snapshot_on_hand_made_weights():
    p = project([dense("h", 4, "relu"), dense("out", 2, "softmax")])
    graph, data, model = setup(p)
    w = model.get_weights()
    # Units 0 and 1 can never fire (weights and bias push every input below 0).
    w["h"]["kernel"][:] = np.array([[0.0, 0.0, 1.0, -1.0], [0.0, 0.0, 0.5, 0.5]])
    w["h"]["bias"][:] = np.array([-100.0, -50.0, 0.0, 0.0])
    model.set_weights(w)
    m = mon.Monitor(model, graph, data, "moons", probe_size=64)
    snap = m.snapshot(0, 1)
    h = snap.layers["h"]
    assert h.dead_fraction == 0.5
    np.testing.assert_array_equal(h.kernel, w["h"]["kernel"])
    np.testing.assert_array_equal(h.bias, w["h"]["bias"])
    assert h.weight_norm == pytest.approx(math.sqrt(1 + 1 + 0.25 + 0.25 + 100**2 + 50**2))
    # Gradient norms are those of loss_and_grads on the probe batch.
    _, grads = model.loss_and_grads(m.probe_x, m.probe_y)
    want = math.sqrt(sum(float(np.sum(grads[f"h/{k}"] ** 2)) for k in ("kernel", "bias")))
    assert h.grad_norm == pytest.approx(want, rel=1e-6)
    assert snap.layers["out"].dead_fraction is None
    assert math.isnan(h.update_ratio)  # no earlier snapshot yet
    # The activations of the selected sample.
    out, caches = model.forward(m.probe_x[:1])
    np.testing.assert_allclose(snap.activations["h"], caches["h"].a[0])
    np.testing.assert_allclose(snap.activations["input"], m.probe_x[0])
    # 2-D data: the boundary over the grid, per-class probabilities.
    assert snap.boundary.shape == (80, 80, 2)
    np.testing.assert_allclose(snap.boundary.sum(axis=-1), 1.0, atol=1e-5)
    assert snap.neuron_maps["h"].shape == (4, 28, 28)
    assert snap.warnings() == {"h": snap.warnings()["h"]} and "dying" in snap.warnings()["h"]


def test_snapshots_never_change_the_training_run():
    layers = [
        dense("h", 8, "relu"),
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.3}},
        dense("out", 2, "softmax"),
    ]

    def run(with_monitor: bool):
        p = project(layers)
        graph, data, model = setup(p)
        trainer = Trainer(model, data, 16, True, 2)
        m = mon.Monitor(model, graph, data, "moons")
        n = 0
        for ev in trainer.run(3):
            if with_monitor and ev.kind == "step":
                n += 1
                m.snapshot(n, ev.epoch)
                if n % 5 == 0:
                    m.epoch_report(ev.epoch)
        return model.flat_weights(), trainer.history

    w1, h1 = run(False)
    w2, h2 = run(True)
    assert h1 == h2
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])


def test_update_ratio_between_snapshots_and_after_a_pause():
    p = project([dense("h", 6, "tanh"), dense("out", 2, "softmax")])
    graph, data, model = setup(p)
    trainer = Trainer(model, data, 16, True, 2)
    m = mon.Monitor(model, graph, data, "moons")
    m.snapshot(0, 1)
    before = model.get_weights()
    events = trainer.run(1)
    steps = sum(1 for ev in events if ev.kind == "step")
    snap = m.snapshot(steps, 1)
    assert snap.layers["h"].update_ratio == pytest.approx(
        mon.update_ratio(before["h"], model.get_weights()["h"], steps)
    )
    again = m.snapshot(steps, 1)  # no step since: the ratio holds
    assert again.layers["h"].update_ratio == snap.layers["h"].update_ratio


def test_image_data_gives_tiles_and_sample_predictions():
    p = from_dict(
        {
            "model": {
                "input_shape": [64],
                "layers": [dense("h", 5, "relu"), dense("o", 10, "softmax")],
            },
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 64, "validation_split": 0.1, "seed": 0},
            "dataset": {"name": "digits"},
        }
    )
    graph, data, model = setup(p)
    m = mon.Monitor(model, graph, data, "digits", n_samples_shown=12)
    info = m.build_info()
    assert info.image_shape == (8, 8) and info.tiles_layer == "h"
    assert info.sample_images.shape == (12, 8, 8)
    assert info.sample_images.min() >= 0 and info.sample_images.max() <= 1
    np.testing.assert_array_equal(info.sample_labels, mon.class_labels(data.y_val[:12]))
    assert info.points is None and info.n_classes == 10
    snap = m.snapshot(0, 1)
    assert snap.tiles.shape == (5, 8, 8)
    np.testing.assert_array_equal(
        snap.tiles[2], model.get_weights()["h"]["kernel"][:, 2].reshape(8, 8)
    )
    np.testing.assert_array_equal(snap.predictions, model.predict(data.x_val[:12]).argmax(axis=1))
    assert snap.boundary is None


def test_epoch_report_is_sklearn_confusion_on_the_validation_split():
    from sklearn.metrics import confusion_matrix

    p = project(
        [dense("h", 6, "tanh"), dense("out", 3, "softmax")],
        dataset={"name": "blobs", "n_samples": 90, "centers": 3},
    )
    graph, data, model = setup(p)
    m = mon.Monitor(model, graph, data, "blobs")
    rep = m.epoch_report(1)
    want = confusion_matrix(data.y_val, model.predict(data.x_val).argmax(axis=1), labels=[0, 1, 2])
    np.testing.assert_array_equal(rep.confusion, want)
    assert rep.split == "validation" and rep.accuracy == pytest.approx(np.trace(want) / want.sum())


def test_regression_has_no_epoch_report_and_a_value_boundary():
    p = project(
        [dense("h", 4, "relu"), dense("o", 1, "linear")],
        {"name": "diabetes"},
        "mean_squared_error",
        inputs=10,
        batch_size=64,
        validation_split=0.1,
    )
    graph, data, model = setup(p)
    m = mon.Monitor(model, graph, data, "diabetes")
    assert m.epoch_report(1) is None
    info = m.build_info()
    # Ten features: the value surface on the plane of the first two, the others at their means.
    assert info.task == "regression" and info.points["projection"]["kind"] == "features"
    assert info.points["axis_labels"] == ("age", "sex")
    np.testing.assert_allclose(info.points["y_train"], data.y_train.reshape(-1))
    snap = m.snapshot(0, 1)
    assert snap.boundary.shape == (80, 80, 1)
    res, grid = m._grid
    np.testing.assert_allclose(
        grid[:, 2:], np.tile(data.x_train.mean(axis=0)[2:], (len(grid), 1)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        snap.boundary.reshape(-1), model.predict(grid).reshape(-1), rtol=1e-5
    )


def iris_project(**dataset):
    layers = [dense("h", 5, "tanh"), dense("out", 3, "softmax")]
    return project(layers, {"name": "iris", **dataset}, inputs=4, validation_split=0.2, seed=1)


def test_boundary_on_two_chosen_features_of_many_in_the_data_units():
    graph, data, model = setup(iris_project(standardize=True))
    m = mon.Monitor(model, graph, data, "iris", projection={"kind": "features", "features": [2, 3]})
    info = m.build_info()
    pts = info.points
    assert pts["axis_labels"] == ("petal length (cm)", "petal width (cm)")
    assert pts["projection"] == {"kind": "features", "features": [2, 3]}
    # The points are drawn in centimetres (the standardization undone), the grid fed to the
    # network is standardized: features 2 and 3 vary, 0 and 1 sit at their training means.
    raw = data.standardizer.inverse_transform(data.x_train)
    np.testing.assert_allclose(pts["x_train"], raw[:, [2, 3]], rtol=1e-5)
    x0, x1, y0, y1 = pts["extent"]
    assert x0 < raw[:, 2].min() and x1 > raw[:, 2].max() and y0 < raw[:, 3].min()
    res, grid = m._grid
    means = data.x_train.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(grid[:, :2], np.tile(means[:2], (len(grid), 1)), atol=1e-5)
    assert np.ptp(grid[:, 2]) > 0 and np.ptp(grid[:, 3]) > 0
    snap = m.snapshot(0, 1)
    np.testing.assert_allclose(
        snap.boundary.reshape(-1, 3), model.predict(grid).reshape(-1, 3), rtol=1e-5, atol=1e-6
    )
    # The grid's corners map to the extent's corners in centimetres.
    corner = data.standardizer.inverse_transform(grid[[0, -1]])[:, [2, 3]]
    np.testing.assert_allclose(corner, [[x0, y0], [x1, y1]], rtol=1e-5)
    assert snap.neuron_maps["h"].shape == (5, 28, 28)


def test_boundary_on_principal_components_and_a_fallback_for_bad_choices():
    graph, data, model = setup(iris_project())
    m = mon.Monitor(model, graph, data, "iris", projection={"kind": "pca"})
    pts = m.build_info().points
    assert pts["axis_labels"][0].startswith("PC1 (") and pts["projection"] == {"kind": "pca"}
    np.testing.assert_allclose(pts["x_train"], m.projection.to_plane(data.x_train), rtol=1e-6)
    before = m.snapshot(0, 1).boundary
    assert before.shape == (80, 80, 3)
    # Switching the plane rebuilds the grid without touching the model.
    assert m.set_projection({"kind": "features", "features": [0, 3]})
    assert m.build_info().points["axis_labels"] == ("sepal length (cm)", "petal width (cm)")
    assert not np.allclose(m.snapshot(0, 1).boundary, before)
    # Features this data does not have: the default plane, not an error.
    assert m.set_projection({"kind": "features", "features": [0, 9]})
    assert m.build_info().points["projection"] == {"kind": "features", "features": [0, 1]}


def test_boundary_points_are_a_seeded_subset_of_large_data(monkeypatch):
    monkeypatch.setattr(mon, "MAX_POINTS_SHOWN", 50)
    p = project([dense("h", 4, "relu"), dense("out", 2, "softmax")])
    graph, data, model = setup(p)
    a = mon.Monitor(model, graph, data, "moons").build_info().points
    b = mon.Monitor(model, graph, data, "moons").build_info().points
    assert len(a["x_train"]) == 50 and a["n_train"] == len(data.x_train)
    np.testing.assert_array_equal(a["x_train"], b["x_train"])
    rows = {tuple(r) for r in np.asarray(data.x_train, dtype=np.float64)}
    assert all(tuple(r) in rows for r in a["x_train"])


def test_image_data_has_no_boundary():
    layers = [dense("h", 8, "relu"), dense("o", 10, "softmax")]
    p = project(layers, {"name": "digits"}, inputs=64, batch_size=64)
    graph, data, model = setup(p)
    m = mon.Monitor(model, graph, data, "digits")
    assert not m.boundary_possible() and m.build_info().points is None
    assert m.snapshot(0, 1).boundary is None


def test_monitor_imports_neither_qt_nor_tensorflow():
    code = (
        "import sys, engine.monitor\n"
        "bad = [m for m in ('PySide6', 'pyqtgraph', 'tensorflow', 'sklearn') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
