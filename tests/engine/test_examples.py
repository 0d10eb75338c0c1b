"""Every bundled example validates and trains; MNIST says clearly when it is not cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import DataError
from engine.project import load_project
from engine.training import train_project
from engine.validate import check_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
ALL = sorted(p.name for p in EXAMPLES.glob("*.json"))


def test_examples_present():
    assert {
        "perceptron.json",
        "xor.json",
        "seed_mlp.json",
        "seed_mlp_digits.json",
        "spiral.json",
        "iris.json",
        "skip_connection.json",
    } <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_example_validates(name):
    graph = check_project(load_project(EXAMPLES / name))
    assert graph.total_params > 0


def _needs_keras_cache(name: str) -> bool:
    """Examples on MNIST / Fashion-MNIST read the user's Keras cache, which tests don't have."""
    return load_project(EXAMPLES / name).dataset.get("name") in ("mnist", "fashion_mnist")


@pytest.mark.parametrize("name", [n for n in ALL if not _needs_keras_cache(n)])
def test_example_trains_two_epochs(name):
    model, trainer = train_project(load_project(EXAMPLES / name), epochs=2)
    assert len(trainer.history["loss"]) == 2 and trainer.error is None
    assert all(np.isfinite(w).all() for w in model.flat_weights().values())


def test_perceptron_example_separates_its_data():
    _, trainer = train_project(load_project(EXAMPLES / "perceptron.json"))
    assert trainer.history["accuracy"][-1] == 1.0


def test_seed_mlp_is_the_seed_keras_model():
    project = load_project(EXAMPLES / "seed_mlp.json")
    graph = check_project(project)
    assert [(n.class_name, n.output_shape, n.activation) for n in graph.nodes] == [
        ("Dense", (128,), "relu"),
        ("Dropout", (128,), None),
        ("Dense", (10,), "softmax"),
    ]
    assert graph.nodes[1].config["rate"] == 0.2
    assert project.compile["loss"] == "sparse_categorical_crossentropy"
    assert project.compile["metrics"] == ["accuracy"]


def test_seed_mlp_without_mnist_cache_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras"))
    with pytest.raises(DataError) as err:
        train_project(load_project(EXAMPLES / "seed_mlp.json"), epochs=1)
    assert "mnist.npz" in str(err.value) and "keras.datasets.mnist.load_data()" in str(err.value)


def test_seed_mlp_trains_from_a_cached_mnist(tmp_path, monkeypatch):
    home = tmp_path / "keras"
    (home / "datasets").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        home / "datasets" / "mnist.npz",
        x_train=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 300, dtype=np.uint8),
        x_test=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 50, dtype=np.uint8),
    )
    monkeypatch.setenv("KERAS_HOME", str(home))
    _, trainer = train_project(load_project(EXAMPLES / "seed_mlp.json"), epochs=1)
    assert len(trainer.history["val_loss"]) == 1
