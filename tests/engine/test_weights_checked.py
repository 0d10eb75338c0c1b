"""Weights handed to a model are checked before any is applied: present, of the right shape,
and finite in the model's dtype (float64 1e300 is inf in float32, the root of "training stops
at a non-finite loss and saves inf weights")."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import DataError
from engine.graph import build_graph
from engine.project import from_dict

SPEC = {
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "hidden", "units": 3}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1}},
        ],
    }
}


def _model(backend: str, dtype: str):
    graph = build_graph(from_dict(SPEC))
    if backend == "numpy":
        from engine.backends.numpy.model import NumpyModel

        return NumpyModel(graph, "mean_squared_error", [], "sgd", dtype, 0)
    pytest.importorskip("tensorflow")
    from engine.backends.tensorflow import TensorFlowModel

    return TensorFlowModel(graph, "mean_squared_error", [], "sgd", dtype, 0)


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_weights_beyond_float32_are_refused_and_nothing_is_applied(backend):
    model = _model(backend, "float32")
    before = model.flat_weights()
    weights = {k: np.full(v.shape, 0.5, dtype=np.float64) for k, v in before.items()}
    weights["out/kernel"][0, 0] = 1e300
    with pytest.raises(DataError, match=r"layer 'out' kernel: holds 1e\+300.*finite float32"):
        model.set_flat_weights(weights)
    after = model.flat_weights()
    for key in before:  # the refused set left every weight as it was, 'hidden' included
        np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_the_same_weights_fit_a_float64_model(backend):
    model = _model(backend, "float64")
    weights = {k: np.full(v.shape, 0.5) for k, v in model.flat_weights().items()}
    weights["out/kernel"][0, 0] = 1e300
    model.set_flat_weights(weights)
    assert model.flat_weights()["out/kernel"][0, 0] == 1e300


def test_nan_and_wrong_shapes_and_text_are_named():
    model = _model("numpy", "float64")
    good = {k: np.zeros(v.shape) for k, v in model.flat_weights().items()}
    bad = dict(good, **{"hidden/bias": np.array([0.0, np.nan, 0.0])})
    with pytest.raises(DataError, match="layer 'hidden' bias: holds nan"):
        model.set_flat_weights(bad)
    with pytest.raises(DataError, match=r"expected shape \(3,\), got \(4,\)"):
        model.set_flat_weights(dict(good, **{"hidden/bias": np.zeros(4)}))
    with pytest.raises(DataError, match="not numbers"):
        model.set_flat_weights(dict(good, **{"hidden/bias": np.array(["a", "b", "c"])}))
    with pytest.raises(DataError, match="no 'bias' given for layer 'out'"):
        model.set_flat_weights({k: v for k, v in good.items() if k != "out/bias"})
