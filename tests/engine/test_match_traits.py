"""Match network to data and the validator ask the layer types' traits, not their class names.

Each test registers a layer type under a new class name (a copy of a built-in type with the
trait in question) and checks that it is treated as the trait says: a type that ``flattens``
counts as the model's flattening layer and is the one inserted; a ``fully_connected`` type with
``units`` is the output layer that is fitted or appended; the Perceptron rules and the output
width's field follow the same traits.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.data import Dataset
from engine.data.match import match_network_to_data, output_layer_name
from engine.graph import build_graph
from engine.layers import LAYER_TYPES
from engine.project import from_dict, seed_project
from engine.validate import data_fit_problems, project_problems

FLATTENING = next(t for t in LAYER_TYPES.values() if t.flattens)
OUTPUT = next(t for t in LAYER_TYPES.values() if t.fully_connected and t.has_activation)
VALUE_PASSING = next(t for t in LAYER_TYPES.values() if t.passes_values and not t.flattens)


def _renamed(ltype, class_name: str):
    """An instance of ``ltype``'s class under another class name (same traits and math)."""
    return type(f"{class_name}Type", (type(ltype),), {"class_name": class_name})()


@pytest.fixture
def flat_view(monkeypatch):
    """A flattening type registered as ``FlatView``."""
    monkeypatch.setitem(LAYER_TYPES, "FlatView", _renamed(FLATTENING, "FlatView"))
    return "FlatView"


@pytest.fixture
def wide(monkeypatch):
    """A fully connected type registered as ``Wide``."""
    monkeypatch.setitem(LAYER_TYPES, "Wide", _renamed(OUTPUT, "Wide"))
    return "Wide"


def _passing(name: str) -> dict:
    """A layer of a type that passes values on without flattening (a new block's config)."""
    return {
        "class_name": VALUE_PASSING.class_name,
        "config": {**VALUE_PASSING.new_config, "name": name},
    }


def _spec(layers: list[dict], input_shape=(4, 3), **extra) -> dict:
    data = copy.deepcopy(seed_project().data)
    data["dataset"] = {"name": "xor"}
    data["model"] = {"input_shape": list(input_shape), "layers": layers}
    data.update(extra)
    return data


def _output(data: dict) -> dict:
    out = output_layer_name(data)
    return next(layer for layer in data["model"]["layers"] if layer["config"]["name"] == out)


IMAGES = Dataset(x=np.zeros((6, 4, 3), np.float32), y=np.array([0, 1, 2, 0, 1, 2]), n_classes=3)


# ------------------------------------------------------------------------- match network to data
def test_a_registered_flattening_type_counts_as_the_flatten(flat_view):
    data = _spec(
        [
            {"class_name": flat_view, "config": {"name": "fv"}},
            {"class_name": OUTPUT.class_name, "config": {"name": "out", "units": 2}},
        ]
    )
    new = match_network_to_data(data, IMAGES)
    classes = [layer["class_name"] for layer in new["model"]["layers"]]
    assert classes == [flat_view, OUTPUT.class_name]  # nothing inserted


def test_the_inserted_layer_is_the_registered_flattening_type(monkeypatch, flat_view):
    monkeypatch.delitem(LAYER_TYPES, FLATTENING.class_name)
    data = _spec([{"class_name": OUTPUT.class_name, "config": {"name": "out", "units": 2}}])
    new = match_network_to_data(data, IMAGES)
    classes = [layer["class_name"] for layer in new["model"]["layers"]]
    assert classes == [flat_view, OUTPUT.class_name]
    assert new["model"]["layers"][1].get("inbound") in (
        None,
        [new["model"]["layers"][0]["config"]["name"]],
    )


def test_a_fully_connected_output_of_another_name_is_fitted_in_place(wide):
    data = _spec(
        [
            {"class_name": FLATTENING.class_name, "config": {"name": "flat"}},
            {"class_name": wide, "config": {"name": "out", "units": 7, "activation": "relu"}},
        ]
    )
    new = match_network_to_data(data, IMAGES)
    assert len(new["model"]["layers"]) == 2
    out = _output(new)
    assert out["class_name"] == wide
    assert (out["config"]["units"], out["config"]["activation"]) == (3, "softmax")


def test_the_appended_output_is_the_registered_fully_connected_type(monkeypatch, wide):
    monkeypatch.delitem(LAYER_TYPES, OUTPUT.class_name)
    data = _spec(
        [
            {"class_name": FLATTENING.class_name, "config": {"name": "flat"}},
            _passing("passing"),
        ]
    )
    new = match_network_to_data(data, IMAGES)
    out = _output(new)
    assert out["class_name"] == wide
    assert (out["config"]["units"], out["config"]["activation"]) == (3, "softmax")
    assert len(new["model"]["layers"]) == 3


def test_a_sink_that_is_not_fully_connected_gets_an_output_after_it():
    data = _spec(
        [
            {"class_name": FLATTENING.class_name, "config": {"name": "flat"}},
            _passing("passing"),
        ]
    )
    new = match_network_to_data(data, IMAGES)
    assert [layer["class_name"] for layer in new["model"]["layers"]] == [
        FLATTENING.class_name,
        VALUE_PASSING.class_name,
        OUTPUT.class_name,
    ]


# ------------------------------------------------------------------------------------ validation
def _perceptron_problems(layers: list[dict], input_shape) -> list[str]:
    data = _spec(layers, input_shape, compile={"optimizer": "Perceptron"})
    _, problems = project_problems(from_dict(data))
    return [str(p) for p in problems]


def _unit(class_name: str) -> dict:
    return {"class_name": class_name, "config": {"name": "p", "units": 1, "activation": "sign"}}


def test_the_perceptron_may_be_any_fully_connected_type(wide):
    assert _perceptron_problems([_unit(wide)], (2,)) == []


def test_a_registered_flattening_type_may_feed_the_perceptron(flat_view):
    layers = [{"class_name": flat_view, "config": {"name": "fv"}}, _unit(OUTPUT.class_name)]
    assert _perceptron_problems(layers, (2, 2)) == []


def test_a_layer_that_only_passes_values_may_not_feed_the_perceptron():
    # Unchanged rule: only a flattening layer is allowed before the unit.
    layers = [
        _passing("v"),
        _unit(OUTPUT.class_name),
    ]
    texts = _perceptron_problems(layers, (2,))
    assert len(texts) == 1 and "single perceptron" in texts[0]


@pytest.mark.parametrize("fully_connected", [True, False])
def test_the_output_width_names_the_units_field_of_a_fully_connected_output(wide, fully_connected):
    layers = [{"class_name": wide, "config": {"name": "out", "units": 2, "activation": "softmax"}}]
    if not fully_connected:
        layers.append(_passing("passing"))
    data = _spec(
        layers, (2,), compile={"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    )
    project = from_dict(data)
    graph = build_graph(project)
    three = Dataset(x=np.zeros((3, 2), np.float32), y=np.array([0, 1, 2]), n_classes=3)
    (problem,) = data_fit_problems(project, graph, three)
    assert "set units to 3" in str(problem)
    assert problem.layer == graph.output
    assert problem.field == ("units" if fully_connected else None)
