"""One way to build a model from a project: engine.training.build_model."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import numpy as np
import pytest

from engine.backends.numpy.model import NumpyModel
from engine.errors import DataError
from engine.optimizers import DEFAULT_OPTIMIZER
from engine.parity import without_dropout
from engine.project import EMPTY_PROJECT, empty_project, load_project
from engine.stepper import StepSession
from engine.training import build_model, model_args
from engine.validate import check_project, settings_problems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
#: Where a backend's model class may be constructed: the one builder and the backends.
BUILDERS = {ROOT / "engine" / "training.py"}
BACKENDS = ROOT / "engine" / "backends"
MODEL_CLASSES = {"NumpyModel", "TensorFlowModel"}


def example(name: str):
    return load_project(EXAMPLES / f"{name}.json")


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def trained(name: str = "xor"):
    """An example with trained-looking weights: the initial ones of another seed."""
    project = example(name)
    graph = check_project(project)
    other = copy.deepcopy(project)
    other.data["fit"] = dict(project.fit, seed=project.fit["seed"] + 1)
    project.weights = build_model(other, graph, "numpy").flat_weights()
    return project, graph


def test_model_args_come_from_the_project():
    project = example("xor")
    args = model_args(project)
    comp = project.data["compile"]
    assert args == dict(
        loss=comp["loss"],
        metrics=comp.get("metrics", []),
        optimizer=comp["optimizer"],
        dtype=project.dtype,
        seed=project.fit["seed"],
    )
    assert model_args(project, "float64")["dtype"] == "float64"
    del project.data["compile"]["optimizer"]
    assert model_args(project)["optimizer"] == DEFAULT_OPTIMIZER


def test_build_model_loads_the_trained_weights_unless_told_not_to():
    project, graph = trained()
    model = build_model(project, graph)
    assert isinstance(model, NumpyModel)
    assert weights_equal(model.flat_weights(), project.weights)
    fresh = build_model(project, graph, weights=False)
    initial = NumpyModel(graph, **model_args(project))
    assert weights_equal(fresh.flat_weights(), initial.flat_weights())
    assert not weights_equal(fresh.flat_weights(), project.weights)


def test_build_model_takes_another_dtype():
    project, graph = trained()
    model = build_model(project, graph, "numpy", dtype="float64")
    assert model.dtype == np.float64
    assert all(w.dtype == np.float64 for w in model.flat_weights().values())


def test_build_model_refuses_an_unknown_backend():
    project = example("xor")
    with pytest.raises(DataError, match="unknown backend 'cuda'"):
        build_model(project, check_project(project), "cuda")


def test_build_model_says_when_trained_weights_do_not_fit():
    project, graph = trained()
    project.weights = {k: v[..., :1] for k, v in project.weights.items()}
    with pytest.raises(DataError):
        build_model(project, graph)
    # Without the weights it still builds.
    build_model(project, graph, weights=False)


def test_the_stepper_builds_through_build_model():
    project, graph = trained()
    session = StepSession(project, graph, batch_size=4)
    assert session.weights_source == "the project's trained weights"
    assert weights_equal(session.model.flat_weights(), build_model(project, graph).flat_weights())
    # Trained weights that no longer fit: the seed's initial weights, and why.
    project.weights = {k: v[..., :1] for k, v in project.weights.items()}
    session = StepSession(project, graph, batch_size=4)
    assert session.weights_source.startswith("initial weights (seed 0); the trained weights")
    initial = build_model(project, graph, weights=False)
    assert weights_equal(session.model.flat_weights(), initial.flat_weights())
    twin = session._twin(dtype="float64")
    assert twin.dtype == np.float64
    assert weights_equal(
        {k: v.astype(np.float32) for k, v in twin.flat_weights().items()},
        session.model.flat_weights(),
    )


def _model_constructions(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in MODEL_CLASSES:
                lines.append(node.lineno)
    return lines


def test_no_module_but_the_builder_and_the_backends_constructs_a_model():
    found = []
    for package in ("engine", "designer", "nndesigner"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in BUILDERS or BACKENDS in path.parents:
                continue
            found += [f"{path.relative_to(ROOT)}:{line}" for line in _model_constructions(path)]
    assert found == [], "build models with engine.training.build_model: " + ", ".join(found)


def test_the_scan_finds_a_construction(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(g):\n    return backends.NumpyModel(g, loss=None)\n")
    assert _model_constructions(sample) == [2]


def with_dropout(rate: float):
    """The XOR example with a Dropout layer after its hidden layer."""
    project = example("xor")
    drop = {"class_name": "Dropout", "config": {"name": "drop", "rate": rate}}
    project.data["model"]["layers"].insert(1, drop)
    return project


def rates(project) -> list:
    return [layer["config"]["rate"] for layer in project.layers if "rate" in layer["config"]]


def test_without_dropout_switches_off_the_random_layers_of_a_copy():
    project = with_dropout(0.3)
    plain, had = without_dropout(project)
    assert had is True
    assert rates(plain) == [0.0]
    assert rates(project) == [0.3]  # the project itself is untouched
    assert without_dropout(with_dropout(0.0))[1] is False
    plain, had = without_dropout(example("xor"))
    assert had is False and plain.data == example("xor").data


def test_the_empty_project_is_the_engines_and_sound():
    project = empty_project()
    assert project.data["model"] == {"input_shape": [2], "layers": []}
    for key in ("compile", "fit", "dataset", "backend", "dtype"):
        assert project.data[key] == EMPTY_PROJECT[key]
    assert settings_problems(project) == []
    # Each call makes a new spec: editing one never changes the next File > New.
    project.data["model"]["layers"].append({"class_name": "Dense", "config": {"units": 1}})
    assert empty_project().data["model"]["layers"] == []


def test_the_stepper_compares_with_tensorflow_through_parity():
    from engine.backends.tensorflow import tensorflow_available

    ok, reason = tensorflow_available()
    if not ok:
        pytest.skip(reason)
    from engine.parity import parity_report

    project = with_dropout(0.25)
    session = StepSession(project, batch_size=8)
    stepped = session.compare_tensorflow()
    alone = parity_report(project, batch_size=8, data=session.data)
    assert [(r.layer, r.quantity) for r in stepped.rows] == [
        (r.layer, r.quantity) for r in alone.rows
    ]
    assert [r.max_abs for r in stepped.rows] == [r.max_abs for r in alone.rows]
    assert stepped.loss_numpy == alone.loss_numpy
    assert stepped.ok and alone.ok
    assert "the stepped training still uses it" in stepped.notes[0]
    assert "training still uses it" in alone.notes[0]
