"""Conv2D, MaxPooling2D and AveragePooling2D beyond the registry suites: what validation says
about inputs and settings that do not fit, the blocks' subtitles and FLOPs, the exported code,
the Keras settings the importer refuses, dtypes and what the step trace holds."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import NNDError, ValidationError
from engine.export.keras_code import keras_code
from engine.layers import LAYER_TYPES
from engine.project import from_dict
from engine.validate import check_project


def project(input_shape, *layers, **extra):
    return from_dict(
        {
            "format_version": 1,
            "model": {
                "input_shape": list(input_shape),
                "layers": [{"class_name": c, "config": cfg} for c, cfg in layers],
            },
            **extra,
        }
    )


def problem_of(input_shape, *layers):
    with pytest.raises(ValidationError) as exc:
        check_project(project(input_shape, *layers), training=False)
    (problem,) = exc.value.problems
    return problem


@pytest.mark.parametrize("class_name", ["Conv2D", "MaxPooling2D", "AveragePooling2D"])
def test_flat_input_is_refused_with_the_reshape_that_would_fit(class_name):
    config = dict(LAYER_TYPES[class_name].new_config)
    text = str(problem_of([64], (class_name, config)))
    assert f"{class_name} needs images shaped (height, width, channels) but gets (None, 64)" in text
    assert "add a Reshape before it (target_shape (8, 8, 1))" in text
    assert "set the model's input shape to [8, 8, 1]" in text
    # Not a square: no size is guessed; a rank-2 input gets a channel axis.
    text = str(problem_of([10], (class_name, config)))
    assert "(None, 10)" in text and "target_shape (" not in text and "Reshape" in text
    assert "target_shape (4, 6, 1)" in str(problem_of([4, 6], (class_name, config)))


def test_upper_case_padding_is_refused_with_the_keras_spelling():
    p = problem_of([4, 4, 1], ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "SAME"}))
    assert p.field == "padding"
    assert "must be one of valid, same" in str(p) and "write 'same'" in str(p)


def test_a_kernel_larger_than_the_input_names_both_sizes_on_kernel_size():
    p = problem_of([4, 4, 1], ("Conv2D", {"name": "c", "filters": 2, "kernel_size": 5}))
    assert (p.layer, p.field) == ("c", "kernel_size")
    assert "kernel 5×5 is larger than the input's 4×4" in str(p) and "'same'" in str(p)
    # Dilation widens the window: 2 cells 4 apart span 5.
    config = {"filters": 2, "kernel_size": [2, 1], "dilation_rate": [4, 1]}
    p = problem_of([4, 4, 1], ("Conv2D", config))
    assert p.field == "kernel_size" and "(dilated: 5×1)" in str(p)
    # With same padding it fits (out = ceil(in / strides)).
    ok = check_project(
        project([4, 4, 1], ("Conv2D", {"filters": 2, "kernel_size": 5, "padding": "same"})),
        training=False,
    )
    assert ok.nodes[0].output_shape == (4, 4, 2)


def test_strides_with_dilation_are_refused_as_keras_does():
    config = {"name": "c", "filters": 2, "kernel_size": 2, "strides": [1, 2], "dilation_rate": 2}
    p = problem_of([8, 8, 1], ("Conv2D", config))
    assert (p.layer, p.field) == ("c", "dilation_rate")
    assert "strides (1, 2) cannot go with dilation_rate (2, 2)" in str(p)


@pytest.mark.parametrize("class_name", ["MaxPooling2D", "AveragePooling2D"])
def test_a_pool_larger_than_the_input_is_named_on_pool_size(class_name):
    p = problem_of([3, 5, 2], (class_name, {"name": "p", "pool_size": [4, 2]}))
    assert (p.layer, p.field) == ("p", "pool_size")
    assert "pool window 4×2 is larger than the input's 3×5" in str(p)


def test_output_shapes_follow_tensorflow_padding():
    graph = check_project(
        project(
            [7, 9, 3],
            ("Conv2D", {"filters": 4, "kernel_size": [3, 2], "strides": 2, "padding": "same"}),
            ("MaxPooling2D", {"pool_size": 3, "strides": 1}),
            ("AveragePooling2D", {"pool_size": [2, 1], "padding": "same"}),
            ("Conv2D", {"filters": 2, "kernel_size": 1, "dilation_rate": 3}),
        ),
        training=False,
    )
    assert [n.output_shape for n in graph.nodes] == [(4, 5, 4), (2, 3, 4), (1, 3, 4), (1, 3, 2)]


def test_subtitles_and_flops():
    conv = LAYER_TYPES["Conv2D"]
    assert conv.subtitle(conv.new_config) == "8 @ 3×3"
    assert conv.subtitle({"filters": 4, "kernel_size": 5, "padding": "same"}) == "4 @ 5×5, same"
    assert conv.subtitle({"filters": 4, "kernel_size": [3, 1], "strides": 2}) == "4 @ 3×1, stride 2"
    assert conv.subtitle({"filters": 4, "kernel_size": "x"}) == ""
    pool = LAYER_TYPES["MaxPooling2D"]
    assert pool.subtitle({}) == "2×2"
    assert pool.subtitle({"pool_size": 3, "strides": 1, "padding": "same"}) == "3×3, stride 1, same"
    graph = check_project(
        project(
            [28, 28, 1],
            ("Conv2D", {"filters": 6, "kernel_size": 5, "padding": "same", "activation": "relu"}),
        ),
        training=False,
    )
    node = graph.nodes[0]
    flops = conv.flops(node.config, node.input_shapes, node.output_shape)
    assert flops == 28 * 28 * (2 * 5 * 5 * 1 * 6 + 6) + 28 * 28 * 6
    assert graph.total_params == 5 * 5 * 1 * 6 + 6


def test_the_exported_code_writes_pairs_as_tuples():
    code = keras_code(
        project(
            [12, 12, 1],
            ("Conv2D", {"name": "c1", "filters": 8, "kernel_size": 3, "activation": "relu"}),
            ("Conv2D", {"name": "c2", "filters": 4, "kernel_size": [3, 1], "strides": 2}),
            ("MaxPooling2D", {"name": "p1"}),
            ("MaxPooling2D", {"name": "p2", "pool_size": 2, "strides": [1, 1]}),
            ("AveragePooling2D", {"name": "p3", "pool_size": [2, 2], "padding": "same"}),
            compile={"optimizer": "adam", "loss": "mean_squared_error"},
        )
    )
    flat = " ".join(code.split())
    assert 'layers.Conv2D(8, (3, 3), activation="relu", name="c1")' in flat
    assert 'layers.Conv2D(4, (3, 1), strides=(2, 2), name="c2")' in flat
    assert 'layers.MaxPooling2D(name="p1")' in flat
    assert 'layers.MaxPooling2D(strides=(1, 1), name="p2")' in flat
    assert 'layers.AveragePooling2D((2, 2), padding="same", name="p3")' in flat
    compile(code, "exported.py", "exec")


def test_import_config_reads_keras_get_config():
    conv = LAYER_TYPES["Conv2D"]
    raw = {
        "name": "c",
        "filters": 3,
        "kernel_size": (3, 3),
        "strides": (1, 1),
        "dilation_rate": (1, 1),
        "data_format": "channels_last",
        "groups": 1,
    }
    out = conv.import_config(raw)
    assert out["kernel_size"] == [3, 3] and "groups" not in out and "data_format" not in out
    assert "data_format" not in conv.import_config({**raw, "data_format": None})
    # Settings NN Designer cannot represent stay, for the importer to refuse by name.
    assert conv.import_config({**raw, "groups": 3})["groups"] == 3
    assert conv.import_config({**raw, "data_format": "channels_first"})["data_format"] == (
        "channels_first"
    )
    pool = LAYER_TYPES["MaxPooling2D"]
    # Keras' config holds the pool size for strides None.
    assert pool.import_config({"pool_size": (3, 3), "strides": (3, 3)})["strides"] is None
    assert pool.import_config({"pool_size": (3, 3), "strides": (1, 1)})["strides"] == [1, 1]


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    from engine.backends.tensorflow import import_tensorflow

    return import_tensorflow()[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layer", "setting"),
    [
        ({"filters": 4, "kernel_size": 3, "groups": 2}, "groups=2"),
        ({"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, "data_format="),
    ],
)
def test_keras_settings_without_an_equivalent_are_refused_by_name(keras, tmp_path, layer, setting):
    from engine.export.keras_import import import_keras_model

    inputs = keras.Input((6, 6, 4))
    outputs = keras.layers.Conv2D(**layer, name="conv")(inputs)
    path = tmp_path / "m.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(NNDError) as exc:
        import_keras_model(path, strict=True)
    text = str(exc.value)
    assert "layer 'conv' (Conv2D)" in text and setting in text


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_math_keeps_the_dtype_and_the_trace_holds_no_windows(dtype):
    from engine.backends.numpy.model import NumpyModel

    p = project(
        [6, 6, 2],
        ("Conv2D", {"name": "c", "filters": 3, "kernel_size": 3, "padding": "same"}),
        ("MaxPooling2D", {"name": "m"}),
        ("AveragePooling2D", {"name": "a", "pool_size": 2, "strides": 1}),
        ("Flatten", {"name": "f"}),
        ("Dense", {"name": "d", "units": 2}),
        compile={"optimizer": "sgd", "loss": "mean_squared_error"},
        dtype=dtype,
    )
    graph = check_project(p, training=False)
    model = NumpyModel(graph, "mean_squared_error", [], "sgd", dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 6, 2)).astype(dtype)
    y = rng.normal(size=(4, 2)).astype(dtype)
    out, caches = model.forward(x, training=True)
    assert out.dtype == dtype
    for name in ("c", "m", "a"):
        assert caches[name].a.dtype == dtype
    _, grads = model.loss_and_grads(x, y)
    assert all(g.dtype == dtype for g in grads.values())
    events = list(model.trace_step(x, y))
    forward = next(e for e in events if e.phase == "forward" and e.layer == "c")
    assert set(forward.data) == {"inputs", "z", "a"}
    backward = next(e for e in events if e.phase == "backward" and e.layer == "m")
    assert backward.data["grad_inputs"].shape == (4, 6, 6, 3)


def test_a_dilated_window_on_padding_alone_is_explained_as_the_bias():
    """Same padding with a wide dilation: output (1, 1) reads no input cell (TensorFlow gives
    0 + bias there too)."""
    from engine.explain import explain_neuron, lookup
    from engine.stepper import StepSession
    from engine.training import TrainingData

    p = project(
        [2, 2, 1],
        (
            "Conv2D",
            {
                "name": "c",
                "filters": 1,
                "kernel_size": 2,
                "dilation_rate": 3,
                "padding": "same",
                "bias_initializer": "ones",
            },
        ),
        ("Flatten", {"name": "f"}),
        ("Dense", {"name": "d", "units": 1}),
        compile={"optimizer": "sgd", "loss": "mean_squared_error", "metrics": []},
        fit={"batch_size": 2, "validation_split": 0.0, "shuffle": False},
        dataset={"name": "moons", "n_samples": 2},
        dtype="float64",
    )
    x = np.random.default_rng(0).normal(size=(2, 2, 2, 1))
    session = StepSession(p, batch_size=2, data=TrainingData(x, np.zeros((2, 1)), None, None))
    session.run_to_end()
    exp = explain_neuron(session, "c", 0, 0)
    assert "padding cells only" in exp.text()
    z = [n for n in exp.numbers() if n.source and n.source[2] == "z"]
    assert z and z[0].value == 1.0 == float(lookup(session, z[0].source))
