"""The shared vocabulary (engine.optimizers, engine.losses): one home, read by every backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine.backends.numpy.losses as np_losses
import engine.backends.numpy.optimizers as np_optimizers
from engine import losses, optimizers
from engine.activations import get_activation
from engine.backends.numpy.model import NumpyModel
from engine.project import from_dict
from engine.validate import optimizer_class as validate_optimizer_class

ROOT = Path(__file__).resolve().parents[2]


def project_with(compile_section) -> object:
    data = {
        "format_version": 1,
        "model": {"input_shape": [2], "layers": [{"class_name": "Dense", "config": {"units": 1}}]},
    }
    if compile_section is not None:
        data["compile"] = compile_section
    return from_dict(data)


def test_the_vocabulary_imports_neither_numpy_nor_qt():
    code = (
        "import sys, engine.optimizers, engine.losses; "
        "print(sorted(m for m in ('numpy', 'PySide6', 'tensorflow') if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_every_optimizer_name_has_numpy_math():
    for name in optimizers.OPTIMIZER_NAMES:
        cls, config = optimizers.resolve_optimizer(name)
        assert np_optimizers.make_optimizer(cls, config).class_name == name


def test_the_default_optimizer_is_keras_compile_default():
    assert optimizers.resolve_optimizer(optimizers.DEFAULT_OPTIMIZER)[0] == "RMSprop"
    assert optimizers.optimizer_class(project_with({"loss": "mse"})) == "RMSprop"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("Perceptron", True),
        ("perceptron", True),
        ({"class_name": "Perceptron", "config": {"learning_rate": 0.1}}, True),
        ({"class_name": "Perceptron", "config": {"learning_rate": -1}}, False),  # invalid
        ("adam", False),
        ({"class_name": "SGD"}, False),
        ("no such optimizer", False),
        (42, False),
        (None, False),
    ],
)
def test_is_perceptron_of_a_spec_and_of_a_project(spec, expected):
    assert optimizers.is_perceptron(spec) is expected
    project = project_with({"optimizer": spec, "loss": "mse"})
    assert optimizers.is_perceptron(project) is expected
    # The predicate says what the validator's resolution says.
    assert (validate_optimizer_class(project) == "Perceptron") is expected


@pytest.mark.parametrize("compile_section", [None, {}, "not an object", ["adam"]])
def test_a_project_without_a_usable_compile_section_trains_with_the_default(compile_section):
    project = project_with(compile_section)
    assert optimizers.optimizer_spec(project) == optimizers.DEFAULT_OPTIMIZER
    assert not optimizers.is_perceptron(project)
    assert optimizers.optimizer_class(project) == validate_optimizer_class(project)


def test_canonical_names_resolve_keras_aliases():
    assert losses.canonical_loss("mse") == "mean_squared_error"
    assert losses.canonical_loss("mae") == "mean_absolute_error"
    for name in losses.LOSS_NAMES:
        assert losses.canonical_loss(name) == name
    with pytest.raises(KeyError, match="unknown loss 'nope'"):
        losses.canonical_loss("nope")


def test_the_fused_pairs_are_the_models():
    from engine.graph import build_graph
    from engine.project import from_dict

    for act in ("softmax", "sigmoid", "linear"):
        for loss in ("categorical_crossentropy", "binary_crossentropy", "mean_squared_error"):
            spec = {
                "format_version": 1,
                "model": {
                    "input_shape": [2],
                    "layers": [{"class_name": "Dense", "config": {"units": 2, "activation": act}}],
                },
                "compile": {"optimizer": "sgd", "loss": loss},
            }
            graph = build_graph(from_dict(spec))
            model = NumpyModel(graph, loss, [], "sgd")
            assert model.fused is losses.is_fused(act, loss) is ((act, loss) in losses.FUSED)
    crossentropies = (
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "binary_focal_crossentropy",  # its crossentropy part takes the logits
    )
    assert losses.FUSED == {(a, c) for a in ("softmax", "sigmoid") for c in crossentropies}
    assert losses.is_fused("softmax", "categorical_crossentropy")
    assert losses.is_fused("sigmoid", "categorical_crossentropy")
    assert not losses.is_fused("linear", "categorical_crossentropy")
    assert not losses.is_fused(None, "mean_squared_error")
    mismatched = {(a, c) for a, c in losses.FUSED if losses.is_mismatched(a, c)}
    assert mismatched == {
        ("sigmoid", "categorical_crossentropy"),
        ("sigmoid", "sparse_categorical_crossentropy"),
        ("softmax", "binary_crossentropy"),
        ("softmax", "binary_focal_crossentropy"),
    }


@pytest.mark.parametrize("loss", losses.LOSS_NAMES)
@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "linear"])
def test_the_numpy_loss_takes_the_logits_exactly_for_the_fused_pairs(loss, activation):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    a = get_activation(activation).forward(z)
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, size=4)
    else:
        y = (rng.random((4, 3)) > 0.5).astype(np.float64)
    result = np_losses.compute_loss(loss, y, a, z=z, activation=activation)
    assert (result.grad_z is not None) is losses.is_fused(activation, loss)
