"""Validation: one test per class of error, each message naming the layer and the field."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.data import Dataset
from engine.errors import ValidationError
from engine.graph import build_graph
from engine.project import from_dict, seed_project
from engine.validate import check_project, data_fit_problems, project_problems


def mlp(**overrides):
    data = copy.deepcopy(seed_project().data)
    data["dataset"] = {"name": "digits"}
    data["model"]["input_shape"] = [64]
    for key, value in overrides.items():
        data[key] = value
    return data


def problems_of(data):
    _, problems = project_problems(from_dict(data))
    return [str(p) for p in problems], problems


def with_layers(layers, input_shape=(4,), **extra):
    data = mlp(**extra)
    data["model"] = {"input_shape": list(input_shape), "layers": layers}
    return data


def one(data):
    texts, problems = problems_of(data)
    assert len(problems) >= 1, "expected a problem"
    return texts[0], problems[0]


def test_seed_is_valid_and_summary_matches_keras():
    graph = check_project(seed_project())
    rows = graph.summary()
    assert [(r.name, r.output_shape, r.params) for r in rows] == [
        ("hidden", (128,), 784 * 128 + 128),
        ("dropout", (128,), 0),
        ("dense", (10,), 1290),
    ]
    assert graph.total_params == 101_770  # Keras' model.summary() of the seed model
    assert graph.total_flops == 2 * 784 * 128 + 128 + 128 + 2 * 128 * 10 + 10 + 4 * 10
    text = graph.summary_text("Seed MLP")
    assert "hidden (Dense)" in text and "(None, 128)" in text and "101,770" in text
    # As Keras' summary: every weight of the seed model is trainable.
    assert graph.trainable_params == 101_770
    assert " Trainable params: 101,770" in text and " Non-trainable params: 0" in text


def test_unknown_class_names_layer_and_suggests():
    text, p = one(with_layers([{"class_name": "Dens", "config": {"name": "h", "units": 3}}]))
    assert p.layer == "h" and p.field == "class_name" and "did you mean 'Dense'" in text


def test_unknown_activation():
    text, p = one(
        with_layers(
            [{"class_name": "Dense", "config": {"name": "h", "units": 3, "activation": "rellu"}}]
        )
    )
    assert (p.layer, p.field) == ("h", "activation") and "unknown activation 'rellu'" in text


def test_unknown_key_suggests():
    text, p = one(with_layers([{"class_name": "Dense", "config": {"name": "h", "unit": 3}}]))
    assert p.layer == "h" and "did you mean 'units'" in text


@pytest.mark.parametrize(
    "config, field, needle",
    [
        ({"units": 0}, "units", "at least 1"),
        ({"units": 2.5}, "units", "integer"),
        ({"units": "3"}, "units", "integer"),
        ({"units": 3, "use_bias": "yes"}, "use_bias", "true or false"),
        (
            {"units": 3, "kernel_initializer": "glorot_unifrom"},
            "kernel_initializer",
            "glorot_unifrom",
        ),
    ],
)
def test_wrong_type_or_range_dense(config, field, needle):
    text, p = one(with_layers([{"class_name": "Dense", "config": {"name": "h", **config}}]))
    assert (p.layer, p.field) == ("h", field) and needle in text


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_rate_range(rate):
    layers = [
        {"class_name": "Dropout", "config": {"name": "d", "rate": rate}},
        {"class_name": "Dense", "config": {"units": 2}},
    ]
    text, p = one(with_layers(layers))
    assert (p.layer, p.field) == ("d", "rate")


def test_optimizer_problems():
    text, p = one(
        mlp(
            compile={
                "optimizer": {"class_name": "Adam", "config": {"learning_rate": -1}},
                "loss": "mse",
            }
        )
    )
    assert p.field == "compile.optimizer" and "learning_rate" in text
    text, p = one(mlp(compile={"optimizer": "adamw2", "loss": "mse"}))
    assert p.field == "compile.optimizer" and "adamw2" in text


def test_unknown_loss_and_metric():
    texts, problems = problems_of(
        mlp(compile={"optimizer": "adam", "loss": "crossentropy", "metrics": ["f1"]})
    )
    fields = {p.field for p in problems}
    assert {"compile.loss", "compile.metrics"} <= fields
    assert any("crossentropy" in t for t in texts) and any("'f1'" in t for t in texts)


@pytest.mark.parametrize(
    ("metrics", "loss", "needle"),
    [
        (
            ["auc", {"class_name": "AUC", "config": {"curve": "PR"}}],
            "categorical_crossentropy",
            "two metrics log under 'auc'",
        ),
        (["precision"], "sparse_categorical_crossentropy", "integer labels"),
        (["sparse_top_k_categorical_accuracy"], "categorical_crossentropy", "TopKCategorical"),
        (["f1_score"], "categorical_crossentropy", "average=None"),
        (
            [{"class_name": "Recall", "config": {"class_id": 12}}],
            "categorical_crossentropy",
            "class_id=12 is outside the 10 output units",
        ),
        (
            [{"class_name": "AUC", "config": {"curve": "XYZ"}}],
            "categorical_crossentropy",
            "'curve' must be",
        ),
    ],
)
def test_metrics_that_cannot_score_the_output_are_named(metrics, loss, needle):
    texts, problems = problems_of(
        mlp(compile={"optimizer": "adam", "loss": loss, "metrics": metrics})
    )
    assert any(needle in t for t in texts), texts
    assert all(p.field == "compile.metrics" for p in problems)


def test_metrics_that_fit_the_output_pass():
    metrics = [
        "acc",
        "auc",
        "precision",
        {"class_name": "F1Score", "config": {"average": "macro"}},
        {"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}},
        "r2_score",
    ]
    texts, _ = problems_of(
        mlp(compile={"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": metrics})
    )
    assert texts == []


@pytest.mark.parametrize(
    "fit, field",
    [
        ({"batch_size": 0}, "fit.batch_size"),
        ({"epochs": 0}, "fit.epochs"),
        ({"validation_split": 1.0}, "fit.validation_split"),
        ({"shuffle": 1}, "fit.shuffle"),
        ({"epoch": 3}, "fit.epoch"),
        ({"steps_per_epoch": 0}, "fit.steps_per_epoch"),
        ({"steps_per_epoch": 2.5}, "fit.steps_per_epoch"),
        ({"initial_epoch": -1}, "fit.initial_epoch"),
        ({"initial_epoch": 5, "epochs": 5}, "fit.initial_epoch"),
        ({"class_weight": [1, 2]}, "fit.class_weight"),
        ({"class_weight": {"a": 1.0}}, "fit.class_weight"),
        ({"class_weight": {"0": -2.0}}, "fit.class_weight"),
        ({"class_weight": {"0": float("nan")}}, "fit.class_weight"),
    ],
)
def test_fit_problems(fit, field):
    _, p = one(mlp(fit=fit))
    assert p.field == field


def test_class_weight_must_name_the_datas_classes():
    from engine.data import load_dataset

    data = mlp(fit={"class_weight": {"0": 1.0, "12": 2.0}})
    project = from_dict(data)
    graph = check_project(project)
    dataset = load_dataset(project.dataset, None)
    texts = [str(p) for p in data_fit_problems(project, graph, dataset)]
    assert any("names class 12, but the data has 10 classes" in t for t in texts), texts
    regression = mlp(fit={"class_weight": {"0": 1.0}})
    regression["dataset"] = {"name": "diabetes"}
    regression["compile"]["loss"] = "mse"
    regression["model"]["input_shape"] = [10]
    project = from_dict(regression)
    graph = check_project(project, training=False)
    texts = [str(p) for p in data_fit_problems(project, graph, load_dataset(project.dataset, None))]
    assert any("numeric target (regression)" in t for t in texts), texts


def test_sample_weights_and_class_weights_cannot_both_weigh(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,w,y\n1,2,1,0\n2,1,3,1\n3,1,0.5,0\n1,1,2,1\n")
    data = mlp(fit={"class_weight": {"0": 2.0}})
    data["dataset"] = {"path": str(tmp_path / "t.csv"), "sample_weight": "w"}
    data["model"]["input_shape"] = [2]
    texts, problems = problems_of(data)
    assert any("cannot both weigh" in t for t in texts), texts
    data["dataset"]["sample_weight"] = ["w"]
    texts, _ = problems_of(data)
    assert any("dataset.sample_weight: must be a column name" in t for t in texts), texts


def test_duplicate_names():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}},
        {"class_name": "Dense", "config": {"name": "a", "units": 3}},
    ]
    text, p = one(with_layers(layers))
    assert p.layer == "a" and p.field == "name" and "duplicate" in text


def test_unknown_inbound():
    layers = [{"class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound": ["ghost"]}]
    text, p = one(with_layers(layers))
    assert (p.layer, p.field) == ("a", "inbound") and "'ghost'" in text


def test_cycle():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound": ["input"]},
        {"class_name": "Add", "config": {"name": "b"}, "inbound": ["a", "c"]},
        {"class_name": "Dense", "config": {"name": "c", "units": 3}, "inbound": ["b"]},
    ]
    text, _ = one(with_layers(layers))
    assert "cycle" in text and "'b'" in text and "'c'" in text


def test_two_outputs_unreachable():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}},
        {"class_name": "Dense", "config": {"name": "b", "units": 3}, "inbound": ["input"]},
    ]
    text, _ = one(with_layers(layers))
    assert "'a'" in text and "'b'" in text and "one output" in text


def test_add_shape_mismatch_names_both_shapes():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound": ["input"]},
        {"class_name": "Dense", "config": {"name": "b", "units": 5}, "inbound": ["input"]},
        {"class_name": "Add", "config": {"name": "sum"}, "inbound": ["a", "b"]},
    ]
    text, p = one(with_layers(layers))
    assert p.layer == "sum" and "(None, 3)" in text and "(None, 5)" in text


def test_dense_with_two_inputs():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound": ["input"]},
        {"class_name": "Dense", "config": {"name": "b", "units": 3}, "inbound": ["input", "a"]},
    ]
    text, p = one(with_layers(layers))
    assert (p.layer, p.field) == ("b", "inbound") and "exactly one input" in text


def test_graph_with_merges_infers_shapes():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound": ["input"]},
        {"class_name": "Dense", "config": {"name": "b", "units": 3}, "inbound": ["input"]},
        {"class_name": "Add", "config": {"name": "sum"}, "inbound": ["a", "b"]},
        {"class_name": "Concatenate", "config": {"name": "cat"}, "inbound": ["sum", "input"]},
        {"class_name": "Dense", "config": {"name": "out", "units": 2}},
    ]
    graph = build_graph(from_dict(with_layers(layers)))
    assert graph.by_name["cat"].output_shape == (7,)
    assert graph.output == "out" and not graph.is_chain
    assert "Connected to" in graph.summary_text()


def test_sign_needs_perceptron():
    layers = [{"class_name": "Dense", "config": {"name": "p", "units": 1, "activation": "sign"}}]
    text, p = one(with_layers(layers, compile={"optimizer": "sgd", "loss": "hinge"}))
    assert (p.layer, p.field) == ("p", "activation") and "Perceptron" in text and "SGD" in text


def test_perceptron_needs_single_sign_unit():
    layers = [{"class_name": "Dense", "config": {"name": "p", "units": 2, "activation": "sign"}}]
    text, p = one(with_layers(layers, compile={"optimizer": "Perceptron"}))
    assert p.layer == "p" and "units=1" in text


def test_loss_required_unless_perceptron():
    _, p = one(mlp(compile={"optimizer": "adam"}))
    assert p.field == "compile.loss"


def test_network_too_large_for_memory():
    layers = [{"class_name": "Dense", "config": {"name": "huge", "units": 10_000_000}}]
    text, p = one(with_layers(layers, input_shape=(100_000,)))
    assert "too large" in text and "GiB" in text


def test_bad_backend_dtype_dataset():
    texts, problems = problems_of(mlp(backend="torch", dtype="float16", dataset={"name": "nope"}))
    fields = {p.field for p in problems}
    assert {"backend", "dtype", "dataset"} <= fields


def test_errors_collected_all_at_once():
    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 0}},
        {"class_name": "Dropout", "config": {"name": "b", "rate": 2}},
    ]
    with pytest.raises(ValidationError) as err:
        check_project(from_dict(with_layers(layers)))
    assert len(err.value.problems) == 2 and "2 problems" in str(err.value)


def _ds(n_classes=3, shape=(64,), task="classification"):
    x = np.zeros((6,) + shape, np.float32)
    y = np.arange(6) % n_classes if task == "classification" else np.zeros((6, 1), np.float32)
    return Dataset(x=x, y=y, task=task, n_classes=n_classes if task == "classification" else None)


def test_output_fewer_units_than_classes():
    project = from_dict(mlp())
    graph = build_graph(project)
    probs = data_fit_problems(project, graph, _ds(n_classes=12))
    assert (
        probs
        and probs[0].layer == "dense"
        and probs[0].field == "units"
        and "12 classes" in str(probs[0])
    )


def test_input_shape_mismatch_names_both_shapes():
    project = from_dict(mlp())
    graph = build_graph(project)
    probs = data_fit_problems(project, graph, _ds(shape=(784,)))
    assert (
        probs[0].field == "model.input_shape"
        and "(None, 784)" in str(probs[0])
        and "(None, 64)" in str(probs[0])
    )


def test_categorical_needs_one_unit_per_class():
    project = from_dict(mlp(compile={"optimizer": "adam", "loss": "categorical_crossentropy"}))
    graph = build_graph(project)
    assert data_fit_problems(project, graph, _ds(n_classes=10)) == []
    assert data_fit_problems(project, graph, _ds(n_classes=3))


def test_regression_target_with_classification_loss():
    project = from_dict(mlp())
    graph = build_graph(project)
    probs = data_fit_problems(project, graph, _ds(task="regression"))
    assert probs and "numeric target" in str(probs[0])


# ------------------------------------------------------------------------------------------------
# Wrong JSON types, numbers too large for a float, and what a project without data may skip
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["compile", "fit"])
@pytest.mark.parametrize(
    "value, kind", [([1], "a list"), (None, "null"), ("x", "a text"), (3, "a number")]
)
def test_a_section_that_is_not_an_object(section, value, kind):
    texts, problems = problems_of(mlp(**{section: value}))
    assert texts == [f"{section}: must be an object, got {kind}"]


def test_a_project_without_dataset_or_compile_needs_them_only_to_train():
    data = mlp()
    del data["dataset"], data["compile"]
    project = from_dict(data)
    assert project_problems(project, training=False)[1] == []
    check_project(project, training=False)  # what summary and export run
    _, problems = project_problems(project)
    by_field = {p.field: str(p) for p in problems}
    assert set(by_field) == {"dataset", "compile.loss"}
    assert "this project has no dataset" in by_field["dataset"]
    assert "no compile settings" in by_field["compile.loss"]


def test_compile_settings_without_a_loss_are_incomplete_even_without_training():
    data = mlp(compile={"optimizer": "adam"})
    _, problems = project_problems(from_dict(data), training=False)
    assert [p.field for p in problems] == ["compile.loss"]


def test_memory_is_checked_only_for_training():
    layers = [{"class_name": "Dense", "config": {"name": "huge", "units": 10_000_000}}]
    project = from_dict(with_layers(layers, input_shape=(100_000,)))
    assert check_project(project, training=False).total_params == 1_000_010_000_000
    with pytest.raises(ValidationError, match="too large"):
        check_project(project)


@pytest.mark.parametrize(
    "place, value, needle",
    [
        (("model", "layers", 1, "config", "rate"), 10**400, "must be finite"),
        (
            ("compile", "optimizer"),
            {"class_name": "SGD", "config": {"learning_rate": 10**400}},
            "'learning_rate' must be a number",
        ),
        (
            ("compile", "optimizer"),
            {"class_name": "SGD", "config": {"clipnorm": -(10**400)}},
            "'clipnorm' must be a number",
        ),
        (
            ("model", "layers", 0, "config", "kernel_initializer"),
            {"class_name": "RandomNormal", "config": {"mean": 10**400}},
            "'mean' must be a finite number",
        ),
        (("fit", "batch_size"), 10**400, "more than 1,024.0 PiB"),
        (("fit", "epochs"), -(10**5000), "got a 16610-bit integer"),
    ],
    ids=["rate", "learning_rate", "clipnorm", "mean", "batch_size", "epochs"],
)
def test_numbers_too_large_for_a_float_are_problems_not_crashes(place, value, needle):
    data = mlp()
    node = data
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = value
    texts, _ = problems_of(data)
    assert any(needle in t for t in texts), texts


def test_initializer_axes_must_index_the_weight():
    def kernel_init(input_axes, output_axes):
        return {
            "class_name": "GlorotNormal",
            "config": {"input_axes": input_axes, "output_axes": output_axes},
        }

    layers = [
        {
            "class_name": "Dense",
            "config": {"name": "d", "units": 3, "kernel_initializer": kernel_init([0], [5])},
        }
    ]
    text, p = one(with_layers(layers))
    assert (p.layer, p.field) == ("d", "kernel_initializer")
    assert "axis 5, but the weight has 2 axes (shape (4, 3)); use axes from -2 to 1" in text
    layers[0]["config"]["kernel_initializer"] = kernel_init([-2], [-1])
    assert problems_of(with_layers(layers))[1] == []
    layers[0]["config"]["kernel_initializer"] = "glorot_normal"
    layers[0]["config"]["bias_initializer"] = kernel_init([0], [1])
    text, p = one(with_layers(layers))
    assert p.field == "bias_initializer" and "the weight has 1 axis (shape (3,))" in text
    # Without a bias there is no bias weight to initialize, so nothing to check.
    layers[0]["config"]["use_bias"] = False
    assert problems_of(with_layers(layers))[1] == []


@pytest.mark.parametrize("name", ["a/b", "has space", "_lead", "tab\\t", "ünï"])
def test_optimizer_name_must_be_one_keras_accepts(name):
    comp = {"optimizer": {"class_name": "Adam", "config": {"name": name}}, "loss": "mse"}
    text, p = one(mlp(compile=comp))
    assert p.field == "compile.optimizer" and "'name' must be a name Keras accepts" in text


@pytest.mark.parametrize("name", [None, "", "adam", "Adam.2", "opt-1>x", "9lives"])
def test_optimizer_names_keras_accepts(name):
    comp = {"optimizer": {"class_name": "Adam", "config": {"name": name}}, "loss": "mse"}
    assert problems_of(mlp(compile=comp))[1] == []


def test_loss_output_mismatches_are_named_by_the_engine():
    from types import SimpleNamespace

    from engine.graph import build_graph
    from engine.project import from_dict
    from engine.validate import loss_output_problems

    def project(activation, loss, units=3):
        return from_dict(
            {
                "format_version": 1,
                "model": {
                    "input_shape": [2],
                    "layers": [
                        {
                            "class_name": "Dense",
                            "config": {"units": units, "activation": activation},
                        }
                    ],
                },
                "compile": {"optimizer": "sgd", "loss": loss},
            }
        )

    good = project("softmax", "sparse_categorical_crossentropy")
    assert loss_output_problems(good, build_graph(good)) == []
    bad = project("relu", "categorical_crossentropy")
    (problem,) = loss_output_problems(bad, build_graph(bad))
    assert problem.field == "activation" and "'softmax'" in problem.message
    # the mismatched pairs: Keras scores softmax(z) or sigmoid(z), not the output shown
    for act, loss, units, want in [
        ("sigmoid", "categorical_crossentropy", 3, "softmax"),
        ("sigmoid", "sparse_categorical_crossentropy", 3, "softmax"),
        ("softmax", "binary_crossentropy", 3, "sigmoid"),
        ("softmax", "binary_crossentropy", 1, "sigmoid"),
    ]:
        pair = project(act, loss, units)
        (problem,) = loss_output_problems(pair, build_graph(pair))
        assert problem.field == "activation" and problem.layer, problem
        assert f"as {want}(z)" in problem.message and f"use '{want}'" in problem.message
        assert ("categorical_crossentropy (one class" in problem.message) is (
            loss == "binary_crossentropy" and units > 1
        )
    fine = project("sigmoid", "binary_crossentropy", 3)
    assert loss_output_problems(fine, build_graph(fine)) == []
    wide = project("softmax", "sparse_categorical_crossentropy", units=5)
    data = SimpleNamespace(n_classes=3, task="classification")
    (problem,) = loss_output_problems(wide, build_graph(wide), data)
    assert problem.field == "units" and "set units to 3" in problem.message
