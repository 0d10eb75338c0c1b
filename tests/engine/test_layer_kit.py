"""The suite that follows the registry: every registered layer type, every check.

The layer types come from :data:`engine.layers.LAYER_TYPES` (not a list written here); each
type's test networks come from ``tests/layer_cases/<ClassName>.json``. A new layer type that has
no case file, or whose module lacks a part (NumPy math, Keras layer, code, import, look), fails
here. The designer's half (an inspector form and a canvas block for every type) is in
tests/designer/test_layer_kit_blocks.py.

Checks per case: a float64 gradient check of the NumPy math; a traced step equal bit for bit to
a plain step; the NumPy and TensorFlow engines agreeing from the same weights (outputs and
gradients) and after one training step (every weight); the exported script, executed, predicting
what the engine predicts; a model built by Keras from the layer, saved and imported, giving back
the same layers and weights. The two Keras comparisons share each case's TensorFlow model (the
``twins`` fixture builds it once and resets it before each use): building and tracing it is
most of their time.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from support.layer_cases import CASE_IDS, cases_of, targets

from engine.graph import INPUT
from engine.layers import LAYER_TYPES, LayerType, Param
from engine.project import from_dict
from engine.validate import check_project

#: The setting kinds the inspector has a field for (designer/panels/param_fields.py).
KINDS = {
    "int",
    "float",
    "bool",
    "activation",
    "initializer",
    "regularizer",
    "constraint",
    "name",
    "choice",
    "int_tuple",
    "shape",
}


def project_of(class_name: str, i: int, dtype: str = "float64", optimizer="sgd", weights=None):
    case = cases_of(class_name)[i]
    project = from_dict(
        {
            "format_version": 1,
            "name": f"{class_name} case {i}",
            "model": {"input_shape": case["input_shape"], "layers": case["layers"]},
            "compile": {"optimizer": optimizer, "loss": case["loss"], "metrics": []},
            "fit": {"seed": 3},
            "dtype": dtype,
        }
    )
    project.weights = weights
    return project


def batch(graph, loss: str, n: int = 6, seed: int = 0, dtype="float64"):
    """Inputs of the graph's shape and targets the loss accepts."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *graph.input_shape)).astype(dtype)
    return x, targets(loss, graph.output_shape, n, rng, dtype)


def numpy_model(project):
    from engine.backends.numpy.model import NumpyModel

    graph = check_project(project, training=False)
    comp = project.compile
    model = NumpyModel(
        graph,
        loss=comp["loss"],
        metrics=[],
        optimizer=comp["optimizer"],
        dtype=project.dtype,
        seed=project.fit.get("seed", 0),
    )
    return graph, model


def deterministic(project):
    """The project with every layer's randomness in training turned off (Keras' masks and
    NumPy's differ by design), through the layer types' own hook."""
    copy = project.copy()
    for layer in copy.layers:
        ltype = LAYER_TYPES[layer["class_name"]]
        if ltype.random_in_training:
            layer["config"] = ltype.without_randomness(layer.get("config", {}))
    return copy


# ------------------------------------------------------------------------------ the registry
@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_every_registered_type_is_complete(class_name):
    ltype = LAYER_TYPES[class_name]
    assert isinstance(ltype, LayerType) and ltype.class_name == class_name
    assert ltype.description.strip()
    cases = cases_of(class_name)
    assert cases, f"tests/layer_cases/{class_name}.json is missing or has no cases"
    for i, case in enumerate(cases):
        assert any(layer["class_name"] == class_name for layer in case["layers"]), (
            f"case {i} of {class_name} does not use it"
        )
        check_project(project_of(class_name, i), training=False)  # raises if invalid
    for p in ltype.params:
        assert isinstance(p, Param) and p.kind in KINDS, (class_name, p)
        if not p.required and not p.nullable:
            assert p.check(p.default) is None, (class_name, p.name, p.default)
    # A new block is valid as soon as it is connected.
    assert ltype.check_config(dict(ltype.new_config)) == []
    # Its look: a colour and a glyph of known strokes inside the unit square.
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", ltype.color)
    assert ltype.glyph, f"{class_name} has no glyph"
    for stroke in ltype.glyph:
        assert stroke.kind in {"line", "polyline", "curve", "dot", "circle", "box"}
        assert all(0.0 <= c <= 1.0 for point in stroke.points for c in point)
    # The Keras side is the layer's own, not the base class's refusal.
    assert type(ltype).keras_layer is not LayerType.keras_layer, class_name
    if ltype.weights is not LayerType.weights:
        assert ltype.forward is not LayerType.forward, class_name
        assert ltype.backward is not LayerType.backward, class_name


def test_colours_and_glyphs_tell_the_types_apart():
    colours = [t.color.lower() for t in LAYER_TYPES.values()]
    assert len(set(colours)) == len(colours)
    glyphs = [t.glyph for t in LAYER_TYPES.values()]
    assert len(set(glyphs)) == len(glyphs)


# ------------------------------------------------------------------------------ NumPy math
@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_float64_gradients_match_central_differences(class_name, i):
    from engine.gradcheck import gradient_check

    graph, model = numpy_model(project_of(class_name, i))
    x, y = batch(graph, model.loss)
    checks = gradient_check(model, x, y, entries=12)
    assert checks, "the case has no weights to check"
    bad = [(c.layer, c.weight, c.max_rel_error) for c in checks if c.verdict == "fail"]
    assert not bad, bad
    assert any(c.verdict == "pass" for c in checks)


@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_a_traced_step_is_the_step_bit_for_bit(class_name, i):
    project = project_of(class_name, i, dtype="float32", optimizer="adam")
    graph, plain = numpy_model(project)
    _, traced = numpy_model(project)
    for step in range(2):  # the second step checks the random streams moved alike
        x, y = batch(graph, plain.loss, seed=step, dtype="float32")
        plain.train_step(x, y)
        events = list(traced.trace_step(x, y))
        assert [e.phase for e in events].count("forward") == len(graph.nodes)
        for key, value in plain.flat_weights().items():
            np.testing.assert_array_equal(traced.flat_weights()[key], value, err_msg=key)
    # Every forward event holds the layer's output, every update its weights before and after.
    for event in events:
        if event.phase == "forward":
            assert event.data["a"].shape[1:] == graph.by_name[event.layer].output_shape
        if event.phase == "update":
            assert set(event.data["before"]) == set(graph.by_name[event.layer].weight_names)


# ------------------------------------------------------------------------------ Keras
@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    from engine.backends.tensorflow import import_tensorflow

    return import_tensorflow()[1]


def both_engines(project):
    """The project (randomness off) on NumPy and on TensorFlow in float64, from the NumPy
    engine's initial weights, and a batch: (graph, numpy model, tensorflow model, x, y)."""
    from engine.backends.tensorflow import TensorFlowModel

    project = deterministic(project)
    graph, np_model = numpy_model(project)
    comp = project.compile
    tf_model = TensorFlowModel(graph, comp["loss"], [], comp["optimizer"], "float64", 3)
    tf_model.set_weights(np_model.get_weights())
    x, y = batch(graph, np_model.loss)
    return graph, np_model, tf_model, x, y


@pytest.fixture(scope="module")
def twins(keras):
    """``twins(class_name, i)``: :func:`both_engines` of a case, its TensorFlow model built
    (and its training step traced) once per case for the tests that share it. Each call hands
    it back as built: the NumPy engine's initial weights (the moving statistics included), the
    optimizer's slots and step count at zero, the random streams restarted; with a new NumPy
    model and a new copy of the batch."""
    built = {}

    def get(class_name: str, i: int):
        if (class_name, i) not in built:
            built[class_name, i] = both_engines(project_of(class_name, i))
        graph, _, tf_model, x, y = built[class_name, i]
        _, np_model = numpy_model(deterministic(project_of(class_name, i)))
        tf_model.initialize()
        tf_model.set_weights(np_model.get_weights())
        assert int(tf_model.optimizer.iterations.numpy()) == 0
        return graph, np_model, tf_model, x.copy(), y.copy()

    return get


@pytest.mark.slow
@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_numpy_and_tensorflow_agree_from_the_same_weights(twins, class_name, i):
    graph, np_model, tf_model, x, y = twins(class_name, i)
    _, caches = np_model.forward(x, training=False)
    for name, out in tf_model.layer_outputs(x).items():
        np.testing.assert_allclose(out, caches[name].a, rtol=1e-10, atol=1e-12, err_msg=name)
    _, grads = np_model.loss_and_grads(x, y)
    tf_grads = tf_model.layer_gradients(x, y, training=True)
    assert {f"{k}/{w}" for k, ws in tf_grads.items() for w in ws} == set(grads)
    for layer, ws in tf_grads.items():
        for w, g in ws.items():
            np.testing.assert_allclose(
                g, grads[f"{layer}/{w}"], rtol=1e-9, atol=1e-12, err_msg=f"{layer}/{w}"
            )


@pytest.mark.slow
@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_a_training_step_leaves_the_same_weights_on_both_engines(twins, class_name, i):
    """Every weight after one step, the non-trainable ones (moving statistics) included."""
    graph, np_model, tf_model, x, y = twins(class_name, i)
    np_model.train_step(x, y)
    tf_model.train_step(x, y)
    got, want = tf_model.flat_weights(), np_model.flat_weights()
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_the_exported_script_runs_and_predicts_what_the_engine_does(keras, tmp_path, class_name, i):
    from engine.export.keras_code import export_project

    project = project_of(class_name, i, dtype="float32")
    graph, model = numpy_model(project)
    project.weights = model.flat_weights()
    script = export_project(project, tmp_path / f"case_{i}.py")[0]
    spec = importlib.util.spec_from_file_location(f"layer_case_{class_name}_{i}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = module.build_model()
    x, _ = batch(graph, model.loss, dtype="float32")
    # Called as a function (inference mode): the same layers and numbers as Keras' predict,
    # without tracing a predict function for a single batch.
    np.testing.assert_allclose(
        np.asarray(exported(x, training=False)), model.predict(x), rtol=1e-5, atol=1e-6
    )
    assert {layer.name for layer in exported.layers} >= {n.name for n in graph.nodes}


@pytest.mark.slow
@pytest.mark.parametrize(("class_name", "i"), CASE_IDS)
def test_a_keras_built_layer_imports_with_its_config_and_weights(keras, tmp_path, class_name, i):
    from engine.backends.tensorflow import TensorFlowModel
    from engine.export.keras_import import import_keras_model

    project = project_of(class_name, i, dtype="float32")
    graph, np_model = numpy_model(project)
    comp = project.compile
    tf_model = TensorFlowModel(graph, comp["loss"], [], comp["optimizer"], "float32", 3)
    tf_model.set_weights(np_model.get_weights())
    path = tmp_path / f"{class_name}_{i}.keras"
    tf_model.keras_model.save(path)
    imported = import_keras_model(path)
    again = check_project(imported, training=False)
    for node in graph.nodes:
        other = again.by_name[node.name]
        assert other.class_name == node.class_name
        # A setting left unset (None) may come back set: the seed Keras was given.
        unset = {k for k, v in node.config.items() if v is None}
        kept = {k: v for k, v in other.config.items() if k not in unset}
        assert kept == {k: v for k, v in node.config.items() if k not in unset}, node.name
        assert [s if s != "input" else INPUT for s in other.inbound] == node.inbound
    expected = np_model.flat_weights()
    assert sorted(imported.weights) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(imported.weights[key], value, err_msg=key)


def test_a_default_in_any_spelling_is_the_default():
    size = Param("kernel_size", "int_tuple", default=(3, 3), length=2, minimum=1)
    assert size.is_default(3) and size.is_default([3, 3]) and size.is_default((3, 3))
    assert not size.is_default([3, 1]) and not size.is_default(None)
    flag = Param("use_bias", "bool", default=True)
    assert flag.is_default(True) and not flag.is_default(1)
    rate = Param("rate", "float", default=0.0)
    assert rate.is_default(0) and rate.is_default(0.0) and not rate.is_default(False)
    assert Param("seed", "int", default=None, nullable=True).is_default(None)


def test_non_trainable_weights_count_apart_in_the_summary(monkeypatch):
    from engine.graph import build_graph
    from engine.layers import Weight
    from engine.layers.dense import Dense

    class WithStatistics(Dense):
        """A Dense layer that also keeps a (units,) statistic the optimizer does not train."""

        class_name = "WithStatistics"

        def weights(self, config, shapes):
            units = int(config["units"])
            stat = Weight("moving_mean", (units,) if shapes else None, "bias_initializer", False)
            return (*super().weights(config, shapes), stat)

    monkeypatch.setitem(LAYER_TYPES, "WithStatistics", WithStatistics())
    project = from_dict(
        {
            "format_version": 1,
            "model": {
                "input_shape": [3],
                "layers": [{"class_name": "WithStatistics", "config": {"units": 4}}],
            },
        }
    )
    graph = build_graph(project)
    assert (graph.total_params, graph.trainable_params) == (3 * 4 + 4 + 4, 3 * 4 + 4)
    assert " Non-trainable params: 4" in graph.summary_text()
    # The NumPy engine keeps the statistic, never hands it to the optimizer.
    _, model = numpy_model(
        from_dict({**project.data, "compile": {"optimizer": "sgd", "loss": "mse"}})
    )
    assert model.trainable == {"with_statistics": ("kernel", "bias")}
    before = model.get_weights()["with_statistics"]["moving_mean"].copy()
    x, y = batch(graph, "mean_squared_error")
    model.train_step(x.astype("float32"), y.astype("float32"))
    np.testing.assert_array_equal(model.get_weights()["with_statistics"]["moving_mean"], before)


@pytest.mark.slow
def test_a_refused_step_leaves_the_moving_statistics_as_they_were(twins):
    """A non-finite loss stops the step on both engines before anything is written, the
    statistics that the training-mode forward pass computed included."""
    from engine.errors import NonFiniteError

    _, np_model, tf_model, x, y = twins("BatchNormalization", 0)
    np_model.train_step(x, y)  # one good step: the statistics move away from their start
    tf_model.train_step(x, y)
    x[0, 0] = np.nan
    for model in (np_model, tf_model):
        before = model.flat_weights()
        with pytest.raises(NonFiniteError):
            model.train_step(x, y)
        after = model.flat_weights()
        for key in ("bn/moving_mean", "bn/moving_variance", "d1/kernel"):
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)


@pytest.mark.parametrize("class_name", ["BatchNormalization", "Concatenate"])
def test_an_axis_out_of_range_is_named_on_the_axis_field(class_name):
    from engine.errors import ValidationError

    merge = LAYER_TYPES[class_name].merge
    layers = [{"class_name": "Dense", "config": {"name": "a", "units": 2}, "inbound": ["input"]}]
    if merge:
        layers.append(
            {"class_name": "Dense", "config": {"name": "b", "units": 2}, "inbound": ["input"]}
        )
    inbound = ["a", "b"] if merge else ["a"]
    layers.append(
        {"class_name": class_name, "config": {"name": "x", "axis": 3}, "inbound": inbound}
    )
    project = from_dict(
        {"format_version": 1, "model": {"input_shape": [3], "layers": layers}, "dtype": "float64"}
    )
    with pytest.raises(ValidationError) as exc:
        check_project(project, training=False)
    (problem,) = exc.value.problems
    assert (problem.layer, problem.field) == ("x", "axis")
    assert "axis 3 is out of range for inputs of rank 1" in str(problem)
