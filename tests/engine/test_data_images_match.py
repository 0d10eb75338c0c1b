"""Match network to data for convolutional networks (issue 15): the input becomes the data's
image shape (H, W, C), no Flatten follows the input, and a Flatten goes between the last image
layer and a fully connected layer; flat networks are matched as before.

The image layer types are found by their trait (``image_input``) where the shape rules of any
image layer are tested; Conv2D and MaxPooling2D by name for Keras' textbook networks.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import edits
from engine.data import Dataset
from engine.data.match import is_image_network, match_network_to_data
from engine.graph import INPUT, build_graph
from engine.layers import LAYER_TYPES
from engine.project import from_dict, seed_project
from engine.validate import data_fit_problems

FLATTENING = next(t for t in LAYER_TYPES.values() if t.flattens)
VALUE_PASSING = next(
    t for t in LAYER_TYPES.values() if t.passes_values and not t.flattens and not t.image_input
)


def _flat_output(ltype) -> bool:
    """Whether an image layer type turns (4, 4, 4) images into one axis (a global pooling)."""
    config = ltype.resolve(dict(ltype.new_config or {}))
    try:
        return len(ltype.output_shape(config, [(4, 4, 4)])) == 1
    except Exception:
        return False


GLOBAL_POOL = next((t for t in LAYER_TYPES.values() if t.image_input and _flat_output(t)), None)


def _digits(image_shape=(8, 8, 1)) -> Dataset:
    """A stand-in for the built-in digits: flat rows of 64 values, 10 classes."""
    rng = np.random.default_rng(0)
    return Dataset(
        x=rng.random((30, 64)).astype(np.float32),
        y=np.arange(30) % 10,
        n_classes=10,
        image_shape=image_shape,
    )


def _spec(layers, input_shape=(64,)) -> dict:
    data = copy.deepcopy(seed_project().data)
    data["dataset"] = {"name": "digits"}
    data["model"] = {"input_shape": list(input_shape), "layers": layers}
    return from_dict(data).data  # names assigned


def _layer(class_name: str, name: str, **config) -> dict:
    defaults = dict(LAYER_TYPES[class_name].new_config or {}) if class_name in LAYER_TYPES else {}
    return {"class_name": class_name, "config": {**defaults, **config, "name": name}}


def _classes(data: dict) -> list[str]:
    return [layer["class_name"] for layer in data["model"]["layers"]]


@pytest.fixture
def image_relu(monkeypatch):
    """A value-passing type that takes (H, W, C) images (``image_input``) and keeps their
    shape, registered as ``ImageReLU``: a stand-in for a Conv2D block that the shape rules of
    any image layer follow."""
    cls = type(
        "ImageReLUType",
        (type(VALUE_PASSING),),
        {"class_name": "ImageReLU", "image_input": True},
    )
    monkeypatch.setitem(LAYER_TYPES, "ImageReLU", cls())
    return "ImageReLU"


def test_flat_network_on_digits_is_matched_as_before():
    data = _spec([_layer("Dense", "hidden", units=16, activation="relu")], (3,))
    new = match_network_to_data(data, _digits())
    assert new["model"]["input_shape"] == [64]
    assert _classes(new) == ["Dense"]  # no Flatten; the Dense is the output
    assert new["model"]["layers"][0]["config"]["units"] == 10
    assert not is_image_network(new)


def test_flat_network_on_image_axes_gets_a_flatten_after_the_input():
    data = _spec([_layer("Dense", "out", units=2, activation="softmax")])
    ds = Dataset(x=np.zeros((4, 5, 4, 3), np.float32), y=np.arange(4) % 2, n_classes=2)
    new = match_network_to_data(data, ds)
    assert new["model"]["input_shape"] == [5, 4, 3]
    assert _classes(new) == [FLATTENING.class_name, "Dense"]
    assert edits.explicit_inbound(new)[new["model"]["layers"][0]["config"]["name"]] == [INPUT]


def test_image_network_gets_the_image_shape_and_a_flatten_before_the_dense(image_relu):
    data = _spec(
        [
            _layer(image_relu, "features"),
            _layer("Dense", "hidden", units=8, activation="relu"),
            _layer("Dense", "out", units=3, activation="softmax"),
        ]
    )
    new = match_network_to_data(data, _digits())
    assert new["model"]["input_shape"] == [8, 8, 1]
    assert _classes(new) == [image_relu, FLATTENING.class_name, "Dense", "Dense"]
    inbound = edits.explicit_inbound(new)
    flat = new["model"]["layers"][1]["config"]["name"]
    assert inbound["features"] == [INPUT]  # no Flatten after the input
    assert inbound[flat] == ["features"] and inbound["hidden"] == [flat]
    assert inbound["out"] == ["hidden"]  # only the first Dense after the images
    graph = build_graph(from_dict(new))
    assert graph.output_shape == (10,)
    assert data_fit_problems(from_dict(new), graph, _digits()) == []


def test_image_network_with_its_flatten_is_left_as_it_is(image_relu):
    data = _spec(
        [
            _layer(image_relu, "features"),
            _layer(FLATTENING.class_name, "flat"),
            _layer("Dense", "out", units=10, activation="softmax"),
        ],
        (8, 8, 1),
    )
    new = match_network_to_data(data, _digits())
    assert _classes(new) == _classes(data)
    assert new["model"]["input_shape"] == [8, 8, 1]


def test_one_flatten_per_source_shared_by_its_dense_consumers(image_relu):
    data = _spec(
        [
            _layer(image_relu, "features"),
            {**_layer("Dense", "a", units=4), "inbound": ["features"]},
            {**_layer("Dense", "b", units=4), "inbound": ["features"]},
            {**_layer("Add", "sum"), "inbound": ["a", "b"]},
            _layer("Dense", "out", units=10, activation="softmax"),
        ]
    )
    new = match_network_to_data(data, _digits())
    assert _classes(new).count(FLATTENING.class_name) == 1
    inbound = edits.explicit_inbound(new)
    assert inbound["a"] == inbound["b"] != ["features"]
    build_graph(from_dict(new))


def test_global_pooling_output_is_flat_so_no_flatten_is_added():
    assert GLOBAL_POOL is not None, "a global pooling type (image_input, flat output) exists"
    data = _spec(
        [
            _layer(GLOBAL_POOL.class_name, "pool"),
            _layer("Dense", "out", units=10, activation="softmax"),
        ]
    )
    new = match_network_to_data(data, _digits((4, 4, 4)))
    assert new["model"]["input_shape"] == [4, 4, 4]
    assert _classes(new) == [GLOBAL_POOL.class_name, "Dense"]


def test_image_network_on_rgb_npz_axes_takes_their_shape(image_relu):
    ds = Dataset(
        x=np.zeros((4, 6, 5, 3), np.float32),
        y=np.arange(4) % 2,
        n_classes=2,
        image_shape=(6, 5, 3),
    )
    new = match_network_to_data(_spec([_layer(image_relu, "features")]), ds)
    assert new["model"]["input_shape"] == [6, 5, 3]
    assert _classes(new) == [image_relu, FLATTENING.class_name, "Dense"]


def test_image_network_on_a_table_keeps_an_input_of_the_right_size(image_relu):
    table = Dataset(x=np.zeros((4, 12), np.float32), y=np.arange(4) % 2, n_classes=2)
    kept = match_network_to_data(_spec([_layer(image_relu, "f")], (2, 2, 3)), table)
    assert kept["model"]["input_shape"] == [2, 2, 3]
    other = match_network_to_data(_spec([_layer(image_relu, "f")], (5, 5, 1)), table)
    assert other["model"]["input_shape"] == [12]  # validation then explains


def test_convnet_on_digits_is_keras_textbook_shape():
    data = _spec(
        [
            _layer("Conv2D", "conv", filters=4, kernel_size=[3, 3], activation="relu"),
            _layer("MaxPooling2D", "pool"),
            _layer("Dense", "out", units=3, activation="softmax"),
        ]
    )
    new = match_network_to_data(data, _digits())
    assert new["model"]["input_shape"] == [8, 8, 1]
    assert _classes(new) == ["Conv2D", "MaxPooling2D", FLATTENING.class_name, "Dense"]
    assert new["model"]["layers"][-1]["config"]["units"] == 10
    project = from_dict(new)
    graph = build_graph(project)
    assert graph.output_shape == (10,)
    assert data_fit_problems(project, graph, _digits()) == []


def test_convnet_matched_to_digits_trains_on_images():
    from engine.training import load_training_data

    data = _spec(
        [
            _layer("Conv2D", "conv", filters=2, kernel_size=[3, 3], activation="relu"),
            _layer("Dense", "out", units=10, activation="softmax"),
        ]
    )
    from engine.data import load_dataset

    new = match_network_to_data(data, load_dataset({"name": "digits"}))
    project = from_dict(new)
    training = load_training_data(project, build_graph(project))
    assert training.x_train.shape[1:] == (8, 8, 1)


def test_a_dense_fed_by_the_image_input_gets_a_flatten(image_relu):
    """``input -> Dense -> Reshape -> image layer`` and a side Dense on the input: each Dense
    reading the (8, 8, 1) input gets a Flatten (one, shared), so the matched network builds
    and the data fit it."""
    data = _spec(
        [
            _layer("Dense", "wide", units=64, activation="relu"),
            _layer("Reshape", "grid", target_shape=[8, 8, 1]),
            _layer(image_relu, "features"),
            _layer(FLATTENING.class_name, "flat"),
            {**_layer("Dense", "side", units=4), "inbound": [INPUT]},
            {**_layer("Concatenate", "both"), "inbound": ["flat", "side"]},
            _layer("Dense", "out", units=10, activation="softmax"),
        ]
    )
    new = match_network_to_data(data, _digits())
    assert new["model"]["input_shape"] == [8, 8, 1]
    inbound = edits.explicit_inbound(new)
    assert inbound["wide"] == inbound["side"] != [INPUT]
    (flat_in,) = inbound["wide"]
    assert inbound[flat_in] == [INPUT] and _classes(new).count(FLATTENING.class_name) == 2
    project = from_dict(new)
    graph = build_graph(project)
    assert graph.output_shape == (10,)
    assert data_fit_problems(project, graph, _digits()) == []
