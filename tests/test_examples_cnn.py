"""The convolutional examples (issue 15).

- ``cnn_digits``: trained as the app trains it (validate, load the data, build, the Trainer),
  the small CNN reaches 95% validation accuracy on the built-in 8×8 digits, offline.
- all three: Keras itself, given the examples' layer configs, builds the same network (each
  layer's output shape and parameter count); the exported script compiles and its
  ``build_model()`` is that network; the digits script's ``load_data()`` gives images its
  model takes.
- ``lenet5_mnist``, ``cnn_fashion_mnist``: each trains an epoch from a small, random Keras
  cache, so no test needs the real MNIST or Fashion-MNIST download.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data.idx import write_idx
from engine.export.keras_code import keras_code
from engine.project import load_project
from engine.training import train_project
from engine.validate import check_project

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
CNN_EXAMPLES = ("cnn_digits", "lenet5_mnist", "cnn_fashion_mnist")
CACHED = ("lenet5_mnist", "cnn_fashion_mnist")


def example(name: str):
    return load_project(EXAMPLES / f"{name}.json")


@pytest.fixture
def keras_cache(tmp_path, monkeypatch):
    """A Keras home holding small random MNIST and Fashion-MNIST files where Keras keeps them."""
    home = tmp_path / "keras"
    folder = home / "datasets"
    (folder / "fashion-mnist").mkdir(parents=True)
    rng = np.random.default_rng(0)

    def images(n):
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10

    (x_train, y_train), (x_test, y_test) = images(120), images(30)
    np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    fashion = folder / "fashion-mnist"
    write_idx(fashion / "train-images-idx3-ubyte.gz", x_train)
    write_idx(fashion / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(fashion / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(fashion / "t10k-labels-idx1-ubyte.gz", y_test)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.mark.slow
def test_digits_cnn_reaches_95_percent_validation_accuracy():
    project = example("cnn_digits")
    assert project.backend == "numpy" and project.dataset["name"] == "digits"
    model, trainer = train_project(project)
    assert trainer.error is None
    assert len(trainer.history["val_accuracy"]) == project.fit["epochs"]
    assert trainer.history["val_accuracy"][-1] >= 0.95, trainer.history["val_accuracy"]
    # The model itself, on the held-out samples (not the history's running numbers).
    data = trainer.data
    assert data.x_val.shape[1:] == (8, 8, 1)
    predicted = model.predict(data.x_val).argmax(axis=1)
    assert np.mean(predicted == data.y_val) >= 0.95


@pytest.mark.parametrize("name", CNN_EXAMPLES)
def test_cnn_example_is_the_network_keras_builds_from_its_configs(name):
    keras = pytest.importorskip("keras")
    data = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert data.get("description"), f"{name}.json has no description for the Examples menu"
    graph = check_project(example(name))
    model = keras.Sequential(
        [keras.Input(tuple(data["model"]["input_shape"]))]
        + [
            getattr(keras.layers, layer["class_name"])(**layer["config"])
            for layer in data["model"]["layers"]
        ]
    )
    assert [n.name for n in graph.nodes] == [layer.name for layer in model.layers]
    for node, layer in zip(graph.nodes, model.layers, strict=True):
        assert node.output_shape == tuple(layer.output.shape[1:]), node.name
        assert node.params == layer.count_params(), node.name
    assert graph.total_params == model.count_params()
    assert {n.class_name for n in graph.nodes} >= {"Conv2D", "Flatten", "Dense"}


@pytest.mark.parametrize("name", CNN_EXAMPLES)
def test_cnn_example_exports_a_script_that_builds_it(name):
    keras = pytest.importorskip("keras")
    project = example(name)
    graph = check_project(project)
    code = keras_code(project)
    namespace = {"__name__": f"exported_{name}"}
    exec(compile(code, f"{name}.py", "exec"), namespace)  # noqa: S102 - our own export
    model = namespace["build_model"]()
    assert isinstance(model, keras.Model)
    assert model.count_params() == graph.total_params
    assert tuple(model.input_shape[1:]) == graph.input_shape
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == [
        n.output_shape for n in graph.nodes
    ]


def test_exported_digits_cnn_script_loads_data_its_model_takes():
    pytest.importorskip("keras")
    namespace = {"__name__": "exported_cnn_digits"}
    exec(compile(keras_code(example("cnn_digits")), "cnn_digits.py", "exec"), namespace)  # noqa: S102
    (x_train, y_train), (x_val, _) = namespace["load_data"]()
    model = namespace["build_model"]()
    assert x_train.shape[1:] == x_val.shape[1:] == tuple(model.input_shape[1:]) == (8, 8, 1)
    logs = model.train_on_batch(x_train[:32], y_train[:32], return_dict=True)
    assert np.isfinite(logs["loss"])


@pytest.mark.parametrize("name", CACHED)
def test_cached_dataset_example_trains_an_epoch_from_the_keras_cache(name, keras_cache):
    project = example(name)
    assert project.dataset["name"] in ("mnist", "fashion_mnist")
    model, trainer = train_project(project, epochs=1)
    assert trainer.error is None and len(trainer.history["val_loss"]) == 1
    assert trainer.data.x_train.shape[1:] == (28, 28, 1)
    assert all(np.isfinite(w).all() for w in model.flat_weights().values())
