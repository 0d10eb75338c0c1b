"""The monitor asks the layer types (their traits), never their class names: the output's
activation, the layer of the weight tiles, the layers of the neuron maps, the health of
activation layers without weights, and the traits it hands to the views (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import monitor as mon
from engine.layers import LAYER_TYPES, LayerType
from engine.project import from_dict
from engine.training import build_model, load_training_data
from engine.validate import check_project

#: The class names the monitor tested before issue 14 (``_output_activation``): kept here to
#: show that asking the node gives what the old branch gave.
OLD_OUTPUT_PASSTHROUGH = ("Dropout", "Flatten")


def old_output_activation(node) -> str | None:
    act = node.activation
    if act in (None, "linear") and node.class_name in OLD_OUTPUT_PASSTHROUGH:
        return None
    return act


def layer(class_name, name, inbound=None, **config):
    out = {"class_name": class_name, "config": {"name": name, **config}}
    if inbound is not None:
        out["inbound"] = inbound
    return out


def project(layers, dataset=None, inputs=2, loss="sparse_categorical_crossentropy"):
    shape = list(inputs) if isinstance(inputs, list) else [inputs]
    return from_dict(
        {
            "model": {"input_shape": shape, "layers": layers},
            "compile": {"optimizer": "adam", "loss": loss},
            "fit": {"batch_size": 16, "validation_split": 0.25, "seed": 3},
            "dataset": dataset or {"name": "moons", "n_samples": 80, "noise": 0.1},
        }
    )


def monitor_of(p, dataset_name="moons", **kw):
    graph = check_project(p)
    data = load_training_data(p, graph)
    model = build_model(p, graph)
    return mon.Monitor(model, graph, data, dataset_name, probe_size=32, **kw), graph


def ending_in(class_name: str, activation: str | None) -> tuple[list[dict], list[int]]:
    """Two hidden layers (Dense, or 1×1 Conv2D on a 4×4 image for the types that read
    images), then one layer of ``class_name`` (a merge of both, else on the second) as the
    output; and the input shape."""
    t = LAYER_TYPES[class_name]
    config = dict(t.new_config)
    if t.has_activation and activation is not None:
        config["activation"] = activation
    if t.image_input:
        inputs = [4, 4, 1]
        hidden = [
            layer("Conv2D", "a", ["input"], filters=2, kernel_size=[1, 1], activation="tanh"),
            layer("Conv2D", "b", ["a"], filters=2, kernel_size=[1, 1], activation="relu"),
        ]
    else:
        inputs = [2]
        hidden = [
            layer("Dense", "a", ["input"], units=2, activation="tanh"),
            layer("Dense", "b", ["a"], units=2, activation="relu"),
        ]
    if "target_shape" in config:  # Reshape: the two units as a 1×2 row
        config["target_shape"] = [1, 2]
    config.pop("units", None)
    extra = {"units": 2} if t.fully_connected else {}
    out = layer(class_name, "out", ["a", "b"] if t.merge else ["b"], **config, **extra)
    return [*hidden, out], inputs


@pytest.mark.parametrize("activation", [None, "linear", "sigmoid", "softmax", "tanh"])
@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_output_activation_is_the_output_nodes_own(class_name, activation):
    """The old ``_output_activation`` gave None for a Dropout/Flatten output whose activation
    was None or linear; those layer types have no activation, so their node's activation is
    None anyway: the node's own activation is exactly the old answer, for every type."""
    layers, inputs = ending_in(class_name, activation)
    graph = check_project(project(layers, inputs=inputs), training=False)
    node = graph.output_node
    t = LAYER_TYPES[class_name]
    if type(t).activation_of is not LayerType.activation_of:
        # a layer that is an activation itself (Softmax) says which, whatever the config
        assert node.activation == t.activation_of(node.config, node.input_shapes)
        return
    assert node.activation == old_output_activation(node)
    if not t.has_activation:
        assert node.activation is None


@pytest.mark.parametrize("class_name", ["Dropout", "Dense", "Activation"])
def test_monitor_reads_the_output_nodes_activation(class_name):
    layers, inputs = ending_in(class_name, "softmax")
    p = project(layers, inputs=inputs, loss="sparse_categorical_crossentropy")
    m, graph = monitor_of(p)
    assert m.out_activation == old_output_activation(graph.output_node)
    assert m.out_activation == graph.output_node.activation


def digits(layers):
    return project(layers, dataset={"name": "digits"}, inputs=64)


@pytest.mark.parametrize(
    ("layers", "want"),
    [
        # Straight on the pixels, or through layers that pass values on: its kernel has one
        # row per pixel.
        ([layer("Dense", "h", units=5, activation="relu")], "h"),
        (
            [
                layer("Dropout", "d", rate=0.1),
                layer("Flatten", "f"),
                layer("Dense", "h", units=5, activation="relu"),
            ],
            "h",
        ),
        # An Activation computes something: the layer after it does not read the pixels.
        (
            [
                layer("Activation", "act", activation="tanh"),
                layer("Dense", "h", units=5, activation="relu"),
            ],
            None,
        ),
    ],
)
def test_weight_tiles_show_the_first_fully_connected_layer_on_the_pixels(layers, want):
    layers = [*layers, layer("Dense", "o", units=10, activation="softmax")]
    m, _ = monitor_of(digits(layers), "digits")
    assert m.tiles_layer == want
    assert m.build_info().tiles_layer == want
    snap = m.snapshot(0, 1)
    if want is None:
        assert snap.tiles is None
    else:
        kernel = m.model.get_weights()[want]["kernel"]
        np.testing.assert_array_equal(snap.tiles, kernel.T.reshape(5, 8, 8))


def test_neuron_maps_of_every_hidden_fully_connected_layer_not_the_output():
    layers = [
        layer("Dense", "h", units=3, activation="relu"),
        layer("Dropout", "d", rate=0.2),
        layer("Dense", "h2", units=2, activation="linear"),
        layer("Activation", "act", activation="tanh"),
        layer("Dense", "out", units=2, activation="softmax"),
    ]
    m, _ = monitor_of(project(layers))
    snap = m.snapshot(0, 1)
    assert list(snap.neuron_maps) == ["h", "h2"]
    assert snap.neuron_maps["h"].shape == (3, 28, 28)


def test_activation_layers_without_weights_get_health_statistics():
    layers = [
        layer("Dense", "h", units=4, activation="linear"),
        layer("Activation", "act", activation="relu"),
        layer("Dropout", "d", rate=0.2),
        layer("Activation", "lin", activation="linear"),  # nothing to watch
        layer("Dense", "out", units=2, activation="sigmoid"),
    ]
    m, _ = monitor_of(project(layers))
    snap = m.snapshot(0, 1)
    assert list(snap.layers) == ["h", "out", "act"]
    assert snap.layers["act"].dead_fraction is not None and snap.layers["act"].kernel is None
    # The weighted layers keep their full statistics (the health loop does not replace them).
    assert snap.layers["h"].kernel is not None and snap.layers["out"].kernel is not None
    assert snap.layers["out"].saturated_fraction is not None


def test_layer_info_carries_the_layer_types_traits_for_every_node():
    layers = [
        layer("Dense", "a", ["input"], units=3, activation="relu"),
        layer("Dense", "b", ["input"], units=3, activation="tanh"),
        layer("Add", "sum", ["a", "b"]),
        layer("Concatenate", "cat", ["sum", "a"]),
        layer("Activation", "act", ["cat"], activation="relu"),
        layer("Dropout", "d", ["act"], rate=0.1),
        layer("Flatten", "f", ["d"]),
        layer("Dense", "out", ["f"], units=2, activation="softmax"),
    ]
    m, graph = monitor_of(project(layers))
    info = m.build_info()
    for x, node in zip(info.layers, graph.nodes, strict=True):
        t = node.layer_type
        assert (x.name, x.class_name) == (node.name, node.class_name)
        assert x.fully_connected is t.fully_connected
        assert x.passes_values is t.passes_values
        assert x.has_activation is t.has_activation
