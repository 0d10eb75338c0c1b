"""The seed's Perceptron and NN Designer agree on the seed's own kind of data.

The seed document's class (copied below verbatim, only its lost indentation restored) learns
from targets -1/+1 in float64. A project with the Perceptron optimizer, a data file holding
the same float64 features and -1/+1 labels, ``shuffle: false``, ``batch_size: 1`` and
``epochs`` = ``n_iterations`` must end with the same weights (``weights[0]`` is the bias),
through the engine and through the CLI. Before issue 12 the labels were refused, and 0/1
labels were trained on a float32 copy of the features, which ended 5e-8 to 0.8 away.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.seed import SeedPerceptron

from engine.cli import main as cli_main
from engine.project import Project, load_project
from engine.training import load_training_data, train_project
from engine.validate import check_project

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "perceptron.json"
EPOCHS, LEARNING_RATE = 40, 0.01


# The seed's class, verbatim (shared/seed/neural_networks_fundamentals.txt).
Perceptron = SeedPerceptron


def seed_data(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """float64 features that float32 cannot hold exactly, labels -1/+1 with some noise, so
    that updates keep happening in every epoch."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * np.array([1.0, 3.0]) + 0.1
    y = np.where(x @ np.array([1.0, -0.5]) + 0.4 * rng.normal(size=n) > 0, 1, -1)
    return x, y


def write_data(folder: Path, kind: str, x: np.ndarray, y: np.ndarray) -> str:
    if kind == "npz":
        np.savez(folder / "seed.npz", x=x, y=y)
        return "seed.npz"
    # repr() writes the shortest text that reads back as the same float64.
    lines = ["x1,x2,label"] + [
        f"{float(a)!r},{float(b)!r},{int(t)}" for (a, b), t in zip(x, y, strict=True)
    ]
    (folder / "seed.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "seed.csv"


def write_project(folder: Path, data_path: str, dtype: str = "float64") -> Path:
    spec = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert spec["compile"]["optimizer"]["class_name"] == "Perceptron"
    spec["compile"]["optimizer"]["config"]["learning_rate"] = LEARNING_RATE
    spec["fit"].update(epochs=EPOCHS, batch_size=1, shuffle=False, validation_split=0.0)
    spec["dataset"] = {"path": data_path}
    spec["dtype"] = dtype
    path = folder / "perceptron.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def bias_then_kernel(weights: dict[str, np.ndarray]) -> np.ndarray:
    """NN Designer's weights in the seed's layout: ``[bias, w1, w2, ...]``."""
    (kernel,) = [v for k, v in weights.items() if k.endswith("/kernel")]
    (bias,) = [v for k, v in weights.items() if k.endswith("/bias")]
    return np.concatenate([np.ravel(bias), kernel[:, 0]])


def seed_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ref = Perceptron(learning_rate=LEARNING_RATE, n_iterations=EPOCHS)
    ref.fit(x, y)
    return ref.weights


@pytest.mark.parametrize("kind", ["npz", "csv"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_training_gives_the_seeds_weights(tmp_path, kind, seed):
    x, y = seed_data(seed)
    project = load_project(write_project(tmp_path, write_data(tmp_path, kind, x, y)))
    model, trainer = train_project(project)
    assert trainer.epochs_done == EPOCHS
    ours = bias_then_kernel(model.flat_weights())
    want = seed_weights(x, y)
    assert np.abs(want).max() > 0.01  # the rule did learn something
    np.testing.assert_allclose(ours, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", ["npz", "csv"])
def test_cli_train_gives_the_seeds_weights(tmp_path, kind, capsys):
    x, y = seed_data(3)
    project = write_project(tmp_path, write_data(tmp_path, kind, x, y))
    out = tmp_path / "trained.nnd"
    assert cli_main(["train", str(project), "-o", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    trained = load_project(out)
    np.testing.assert_allclose(
        bias_then_kernel(trained.weights), seed_weights(x, y), rtol=0, atol=1e-9
    )


def test_the_data_reaches_the_rule_as_float64_and_as_the_seeds_targets(tmp_path):
    x, y = seed_data(4)
    project = load_project(write_project(tmp_path, write_data(tmp_path, "npz", x, y)))
    data = load_training_data(project, check_project(project))
    # Not a float32 copy: every feature exactly as stored.
    assert data.x_train.dtype == np.float64
    np.testing.assert_array_equal(data.x_train, x)
    # -1/+1 are classes 0/1 (sorted), which the Perceptron's encoding turns back into -1/+1.
    assert data.dataset.class_names == ["-1", "1"]
    np.testing.assert_array_equal(data.dataset.y, (y > 0).astype(np.int64))
    np.testing.assert_array_equal(data.y_train[:, 0], y)


def test_float32_projects_still_load_float32(tmp_path):
    x, y = seed_data(5)
    project = load_project(write_project(tmp_path, write_data(tmp_path, "npz", x, y), "float32"))
    data = load_training_data(project, check_project(project))
    assert data.x_train.dtype == np.float32 and data.dataset.x.dtype == np.float32
    np.testing.assert_array_equal(data.x_train, x.astype(np.float32))


def test_builtin_sets_are_made_in_the_projects_dtype():
    spec = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    project = Project(spec)
    data = load_training_data(project, check_project(project))
    assert spec["dtype"] == "float64" and data.x_train.dtype == np.float64
    # Generated in float64: not float32 values widened (those have 29 zero low bits).
    widened = data.x_train.astype(np.float32).astype(np.float64)
    assert not np.array_equal(data.x_train, widened)
