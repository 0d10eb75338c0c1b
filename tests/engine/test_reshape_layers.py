"""The reshape helper's part of issue 15: the ``shape`` param kind, Reshape's shape rule (−1
inferred, sizes that do not match named), the global poolings (rank checks, TensorFlow's
gradient of a maximum shared by tied pixels, Keras import refusing channels_first), and the
merge layers' messages about images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.export.source import lit
from engine.graph import Node
from engine.layers import LAYER_TYPES, Param, ShapeProblem
from engine.layers.base import MAX_RANK, PARAM_KINDS, check_shape
from engine.project import from_dict
from engine.validate import project_problems

TARGET = Param("target_shape", "shape", default=(2, 3))

sizes = st.integers(min_value=1, max_value=50)


@st.composite
def valid_shapes(draw, biggest: int = 50):
    shape = draw(st.lists(st.integers(1, biggest), min_size=1, max_size=MAX_RANK))
    if draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return shape


def make_node(class_name: str, config: dict, shape, out) -> Node:
    ltype = LAYER_TYPES[class_name]
    return Node("n", class_name, config, ["input"], [tuple(shape)], tuple(out), 0, 0, 0, ltype)


# ------------------------------------------------------------------------ the shape kind
def test_the_shape_kind_is_a_known_kind():
    assert "shape" in PARAM_KINDS
    assert all(p.kind in PARAM_KINDS for t in LAYER_TYPES.values() for p in t.params)


@given(valid_shapes(), st.booleans())
def test_a_valid_shape_passes_in_either_spelling_and_is_its_own_default(shape, as_tuple):
    value = tuple(shape) if as_tuple else shape
    assert check_shape(value) is None
    assert TARGET.check(value) is None
    own = Param("target_shape", "shape", default=tuple(shape))
    assert own.is_default(list(shape)) and own.is_default(tuple(shape))
    assert not own.is_default([*shape, 1])


@given(st.lists(sizes, min_size=1, max_size=MAX_RANK), st.data())
def test_a_size_below_one_other_than_minus_one_is_refused_by_name(shape, data):
    bad = data.draw(st.integers(max_value=0).filter(lambda v: v != -1))
    shape[data.draw(st.integers(0, len(shape) - 1))] = bad
    message = check_shape(shape)
    assert message is not None and f"got {bad} in" in message and "at least 1" in message


@given(st.lists(sizes, min_size=2, max_size=MAX_RANK), st.data())
def test_two_inferred_sizes_are_refused(shape, data):
    i, j = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=2, max_size=2, unique=True))
    shape[i] = shape[j] = -1
    assert "one -1" in check_shape(shape)


@given(st.integers(min_value=MAX_RANK + 1, max_value=20))
def test_too_many_or_no_sizes_are_refused_with_the_count(n):
    assert f"got {n}" in check_shape([1] * n)
    assert "got 0" in check_shape([])


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (8, "must be a list"),
        ("8, 8", "must be a list"),
        ({"a": 1}, "must be a list"),
        ([8, 2.0], "must hold integers, got 2.0"),
        ([True, 2], "must hold integers, got True"),
        ([8, "8"], "must hold integers, got '8'"),
        ([8, None], "must hold integers, got None"),
    ],
)
def test_what_is_not_a_list_of_integers_is_named(value, words):
    assert words in TARGET.check(value)


def test_a_required_shape_must_be_set_and_a_wrong_one_is_not_the_default():
    required = LAYER_TYPES["Reshape"].param("target_shape")
    assert required.required and required.check(None) == "must be set"
    assert not TARGET.is_default([2, 0]) and not TARGET.is_default("2, 3")


# ------------------------------------------------------------------------------ Reshape
def problems_of(input_shape, layers):
    project = from_dict(
        {
            "format_version": 1,
            "name": "t",
            "model": {"input_shape": input_shape, "layers": layers},
            "compile": {"optimizer": "adam", "loss": "mean_squared_error", "metrics": []},
        }
    )
    graph, problems = project_problems(project, training=False)
    return graph, problems


def reshape_layers(target):
    return [
        {"class_name": "Dense", "config": {"name": "d", "units": 64}},
        {"class_name": "Reshape", "config": {"name": "r", "target_shape": target}},
        {"class_name": "Flatten", "config": {"name": "f"}},
        {"class_name": "Dense", "config": {"name": "out", "units": 1}},
    ]


def test_a_target_shape_that_holds_other_sizes_names_both_on_its_field():
    _, problems = problems_of([3], reshape_layers([8, 8, 2]))
    [p] = problems
    assert (p.layer, p.field) == ("r", "target_shape")
    assert "target_shape (8, 8, 2) holds 128 values but the input (None, 64) holds 64" in p.message


def test_an_inferred_size_that_cannot_divide_is_named():
    _, problems = problems_of([3], reshape_layers([-1, 5]))
    [p] = problems
    assert p.field == "target_shape" and "64 values" in p.message and "5-value" in p.message


@given(valid_shapes(biggest=4), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_the_inferred_shape_is_numpys_and_the_math_is_row_major(shape, batch):
    reshape = LAYER_TYPES["Reshape"]
    known = math.prod(d for d in shape if d != -1)
    size = known * (3 if -1 in shape else 1)
    flat = (size,)
    expected = np.empty((batch, size)).reshape((batch, *shape)).shape[1:]
    out = reshape.output_shape({"target_shape": shape}, [flat])
    assert out == expected
    node = make_node("Reshape", {"target_shape": shape}, flat, out)
    x = np.arange(batch * size, dtype=np.float64).reshape(batch, size)
    cache = reshape.forward(node, {}, None, [x], True)
    np.testing.assert_array_equal(cache.a, x.reshape(batch, *out))
    # The flat order is kept: unit u of the output is unit u of the input.
    np.testing.assert_array_equal(cache.a.reshape(batch, -1), x)
    grads, _, _ = reshape.backward(node, {}, None, cache, cache.a * 2, None, True)
    np.testing.assert_array_equal(grads[0], 2 * x)


def test_reshape_is_written_with_a_tuple_and_read_back_as_a_list():
    reshape = LAYER_TYPES["Reshape"]
    assert reshape.code_args({"target_shape": [8, 8, 1]}, lit, None) == ["(8, 8, 1)"]
    assert reshape.code_args({"target_shape": [64]}, lit, None) == ["(64,)"]
    raw = {"name": "r", "target_shape": (4, -1), "trainable": True}
    assert reshape.import_config(raw)["target_shape"] == [4, -1]


# --------------------------------------------------------------------- global poolings
POOLINGS = ["GlobalAveragePooling2D", "GlobalMaxPooling2D"]


@pytest.mark.parametrize("class_name", POOLINGS)
@pytest.mark.parametrize(
    ("shape", "hint"),
    [((64,), "target_shape [8, 8, 1]"), ((5, 7), "target_shape [5, 7, 1]"), ((10,), "Reshape")],
)
def test_a_global_pooling_of_no_image_says_what_to_do(class_name, shape, hint):
    ltype = LAYER_TYPES[class_name]
    with pytest.raises(ShapeProblem) as info:
        ltype.output_shape(ltype.resolve({}), [shape])
    message = str(info.value)
    assert class_name in message and "(height, width, channels)" in message
    assert f"rank {len(shape)}" in message and hint in message


@pytest.mark.parametrize("class_name", POOLINGS)
def test_a_global_pooling_keeps_the_channels_and_keepdims_keeps_the_axes(class_name):
    ltype = LAYER_TYPES[class_name]
    assert ltype.output_shape(ltype.resolve({}), [(5, 4, 3)]) == (3,)
    assert ltype.output_shape(ltype.resolve({"keepdims": True}), [(5, 4, 3)]) == (1, 1, 3)
    assert ltype.image_input and ltype.group == "Convolution"


def node_of(class_name: str, shape, keepdims: bool) -> Node:
    ltype = LAYER_TYPES[class_name]
    config = ltype.resolve({"keepdims": keepdims})
    out = ltype.output_shape(config, [shape])
    return make_node(class_name, config, shape, out)


def tied_images(dtype) -> np.ndarray:
    """Images whose channels have their maximum at one, two or all pixels."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 4, 3)).astype(dtype)
    x[0, 1, 2, 0] = x[0, 3, 0, 0] = x[0, :, :, 0].max() + 1  # two pixels tie
    x[1, :, :, 1] = 0.25  # every pixel ties
    x[2, :2, :2, 2] = x[2, :, :, 2].max() + 0.5  # four pixels tie
    return x


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("class_name", POOLINGS)
def test_the_numpy_gradient_is_tensorflows_ties_split_equally(class_name, dtype, keepdims):
    import keras
    import tensorflow as tf

    ltype = LAYER_TYPES[class_name]
    x = tied_images(dtype)
    node = node_of(class_name, x.shape[1:], keepdims)
    cache = ltype.forward(node, {}, None, [x], True)
    g = np.random.default_rng(1).normal(size=cache.a.shape).astype(dtype)
    [ours], _, _ = ltype.backward(node, {}, None, cache, g, None, True)
    assert ours.dtype == np.dtype(dtype)

    layer = getattr(keras.layers, class_name)(keepdims=keepdims, dtype=dtype)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y * tf.constant(g))
    theirs = tape.gradient(loss, xt).numpy()
    np.testing.assert_allclose(cache.a, y.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    with tf.GradientTape() as tape:  # tf.reduce_max itself, as the layer's ops.max calls it
        tape.watch(xt)
        loss = tf.reduce_sum(tf.reduce_max(xt, axis=[1, 2]) * tf.constant(g.reshape(3, 3)))
    if class_name == "GlobalMaxPooling2D":
        np.testing.assert_allclose(ours, tape.gradient(loss, xt).numpy(), rtol=1e-6)
        # Two tied pixels get half each; a channel of equal pixels shares among all 16.
        flat = g.reshape(3, 3)
        assert ours[0, 1, 2, 0] == pytest.approx(flat[0, 0] / 2)
        assert ours[1, 0, 0, 1] == pytest.approx(flat[1, 1] / 16)
        assert ours[2, 1, 1, 2] == pytest.approx(flat[2, 2] / 4)
        assert ours[2, 3, 3, 2] == 0


def test_global_average_pooling_shares_the_error_among_the_pixels():
    ltype = LAYER_TYPES["GlobalAveragePooling2D"]
    x = tied_images("float64")
    node = node_of("GlobalAveragePooling2D", x.shape[1:], False)
    cache = ltype.forward(node, {}, None, [x], True)
    np.testing.assert_allclose(cache.a, x.mean(axis=(1, 2)))
    g = np.ones_like(cache.a)
    [gin], _, _ = ltype.backward(node, {}, None, cache, g, None, True)
    np.testing.assert_allclose(gin, np.full_like(x, 1 / 16))


@pytest.mark.parametrize("class_name", POOLINGS)
def test_channels_first_is_refused_on_import_and_channels_last_is_left_out(class_name):
    ltype = LAYER_TYPES[class_name]
    raw = {"name": "p", "data_format": "channels_last", "keepdims": False, "trainable": True}
    assert "data_format" not in ltype.import_config(raw)
    assert "data_format" not in ltype.import_config({**raw, "data_format": None})
    kept = ltype.import_config({**raw, "data_format": "channels_first"})
    assert kept["data_format"] == "channels_first"  # the importer refuses it by name


@pytest.mark.slow
def test_a_keras_model_with_channels_first_pooling_is_refused_by_name(tmp_path):
    import keras

    from engine.errors import NNDError
    from engine.export.keras_import import import_keras_model

    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Dense(2, name="d")(inputs)
    x = keras.layers.GlobalMaxPooling2D(data_format="channels_first", name="gmp")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(x))
    path = tmp_path / "cf.keras"
    model.save(path)
    with pytest.raises(NNDError) as info:
        import_keras_model(path)
    assert "data_format='channels_first'" in str(info.value) and "gmp" in str(info.value)


# ------------------------------------------------------------------------------- merging
def branches(merge: dict, a_units: int, b_units: int, input_shape=(8, 8, 3)):
    return problems_of(
        list(input_shape),
        [
            {
                "class_name": "Dense",
                "config": {"name": "a", "units": a_units},
                "inbound": ["input"],
            },
            {
                "class_name": "Dense",
                "config": {"name": "b", "units": b_units},
                "inbound": ["input"],
            },
            {**merge, "inbound": ["a", "b"]},
            {"class_name": "Flatten", "config": {"name": "f"}, "inbound": ["m"]},
            {"class_name": "Dense", "config": {"name": "out", "units": 1}, "inbound": ["f"]},
        ],
    )


def test_add_of_images_with_other_channels_names_the_channels():
    _, problems = branches({"class_name": "Add", "config": {"name": "m"}}, 16, 8)
    [p] = problems
    assert p.layer == "m"
    assert "(None, 8, 8, 16) and (None, 8, 8, 8) differ in channels (16 vs 8)" in p.message, (
        p.message
    )
    assert "the same number of filters, or use Concatenate" in p.message


def test_concatenate_joins_images_along_the_channels():
    merge = {"class_name": "Concatenate", "config": {"name": "m"}}
    graph, problems = branches(merge, 16, 8)
    assert problems == [] and graph.by_name["m"].output_shape == (8, 8, 24)


def test_concatenate_of_images_of_other_sizes_names_the_axis_that_differs():
    concat = LAYER_TYPES["Concatenate"]
    with pytest.raises(ShapeProblem) as info:
        concat.output_shape({"axis": -1}, [(8, 8, 16), (4, 8, 8)])
    assert "differ in height (8 vs 4)" in str(info.value)
    assert "channels" not in str(info.value)  # the axis joined may differ


def test_flatten_of_an_image_is_row_major_over_height_width_channels():
    graph, problems = problems_of(
        [3, 3, 2],
        [
            {"class_name": "Flatten", "config": {"name": "f"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1}},
        ],
    )
    assert problems == [] and graph.by_name["f"].output_shape == (18,)
    flatten = LAYER_TYPES["Flatten"]
    x = np.arange(2 * 18.0).reshape(2, 3, 3, 2)
    cache = flatten.forward(graph.by_name["f"], {}, None, [x], True)
    assert cache.a[1, 2 * 3 * 2 + 1 * 2 + 1] == x[1, 2, 1, 1]
