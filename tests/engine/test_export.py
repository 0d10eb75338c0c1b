"""Export as Keras code: golden text, lint, refusals, identical data, and the generated files run.

The checks that need TensorFlow execute the generated files in one subprocess (TensorFlow takes
seconds to start): it builds every exported model (parameter counts, output shapes, compile
settings, predictions with the exported weights), then runs one script as ``python model.py
--epochs 1`` does (``runpy`` with ``__main__`` and that argv). ``UPDATE_GOLDEN=1 pytest
tests/engine/test_export.py`` rewrites the golden files after an intended change.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from engine.errors import NNDError, ValidationError
from engine.export import export_project, keras_code
from engine.graph import build_graph
from engine.project import from_dict, load_project, save_project
from engine.training import build_model, load_training_data
from engine.validate import optimizer_class

GOLDEN = Path(__file__).parent / "golden"

# Keras 3.15 on NumPy 2 warns from its own set_weights(); not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

SEED = {
    "format_version": 1,
    "name": "Seed MLP",
    "model": {
        "input_shape": [784],
        "layers": [
            {
                "class_name": "Dense",
                "config": {"name": "hidden", "units": 128, "activation": "relu"},
            },
            {"class_name": "Dropout", "config": {"rate": 0.2}},
            {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
        ],
    },
    "compile": {
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 5, "batch_size": 32, "validation_split": 0.1, "shuffle": True, "seed": 0},
    "dataset": {"name": "mnist"},
    "backend": "numpy",
    "dtype": "float32",
}

GRAPH = {
    "format_version": 1,
    "name": "Merge graph",
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "left", "units": 8, "activation": "relu"}},
            {
                "class_name": "Dense",
                "config": {
                    "name": "right",
                    "units": 8,
                    "activation": "tanh",
                    "kernel_initializer": "he_normal",
                },
                "inbound": ["input"],
            },
            {"class_name": "Add", "config": {"name": "sum"}, "inbound": ["left", "right"]},
            {"class_name": "Concatenate", "config": {"name": "join"}, "inbound": ["sum", "left"]},
            {"class_name": "Activation", "config": {"name": "act", "activation": "gelu"}},
            {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.1, "seed": 3}},
            {
                "class_name": "Dense",
                "config": {"name": "class", "units": 3, "activation": "softmax"},
            },
        ],
    },
    "compile": {
        "optimizer": "rmsprop",
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 30, "batch_size": 16, "validation_split": 0.2, "shuffle": True, "seed": 1},
    "dataset": {"name": "blobs", "n_samples": 120, "centers": 3},
    "backend": "numpy",
    "dtype": "float32",
}

XOR_SGD = {
    "format_version": 1,
    "name": "XOR with SGD",
    "model": {
        "input_shape": [2],
        "layers": [
            {
                "class_name": "Dense",
                "config": {
                    "name": "hidden",
                    "units": 8,
                    "activation": "tanh",
                    "kernel_initializer": {
                        "class_name": "RandomNormal",
                        "config": {"stddev": 0.5},
                    },
                },
            },
            {
                "class_name": "Dense",
                "config": {"name": "output", "units": 1, "activation": "sigmoid"},
            },
        ],
    },
    "compile": {
        "optimizer": {
            "class_name": "SGD",
            "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        },
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 40, "batch_size": 8, "validation_split": 0.25, "shuffle": False, "seed": 2},
    "dataset": {"name": "xor", "n_samples": 200, "noise": 0.05, "standardize": True},
    "backend": "numpy",
    "dtype": "float32",
}

# Its data, penguins.csv, lies beside the golden files; the script writes the settings
# NN Designer detects in it (and leaves the text column "island" out of the features).
CSV_TABLE = {
    "format_version": 1,
    "name": "Penguins from a table",
    "model": {
        "input_shape": [4],
        "layers": [
            {"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
            {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}},
        ],
    },
    "compile": {
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 50, "batch_size": 8, "validation_split": 0.2, "shuffle": True, "seed": 0},
    "dataset": {
        "path": "penguins.csv",
        "target": "species",
        "scale": "standardize",
        "test_split": 0.2,
    },
    "backend": "numpy",
    "dtype": "float32",
}

GOLDEN_PROJECTS = {
    "seed_mlp": SEED,
    "merge_graph": GRAPH,
    "xor_sgd": XOR_SGD,
    "csv_table": CSV_TABLE,
}


def golden_project(name: str, folder: Path = GOLDEN) -> object:
    """A golden project, as if saved in ``folder`` (where its data files lie)."""
    project = from_dict(copy.deepcopy(GOLDEN_PROJECTS[name]))
    project.path = folder / f"{name}.json"
    return project


def make(spec: dict, **changes) -> object:
    data = copy.deepcopy(spec)
    for key, value in changes.items():
        data[key] = value
    return from_dict(data)


def chain(
    input_dim: int,
    out_units: int,
    out_activation: str,
    loss: str,
    dataset: dict,
    *,
    dtype: str = "float32",
    split: float = 0.2,
    name: str = "Data check",
) -> object:
    return from_dict(
        {
            "format_version": 1,
            "name": name,
            "model": {
                "input_shape": [input_dim],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 6, "activation": "relu"}},
                    {
                        "class_name": "Dense",
                        "config": {"units": out_units, "activation": out_activation},
                    },
                ],
            },
            "compile": {"optimizer": "adam", "loss": loss, "metrics": []},
            "fit": {"epochs": 1, "batch_size": 16, "validation_split": split, "seed": 5},
            "dataset": dataset,
            "dtype": dtype,
        }
    )


def with_weights(project, seed: int = 0):
    """The project with its initial weights, perturbed so that no bias is zero."""
    graph = build_graph(project)
    model = build_model(project, graph)
    rng = np.random.default_rng(seed)
    project.weights = {
        k: (v + rng.normal(0, 0.1, size=v.shape)).astype(v.dtype)
        for k, v in model.flat_weights().items()
    }
    return project


def import_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ruff() -> list[str] | None:
    exe = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return [exe] if Path(exe).exists() or shutil.which(exe) else None


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_PROJECTS))
def test_generated_code_matches_golden_file(name):
    text = keras_code(golden_project(name))
    path = GOLDEN / f"{name}.py"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


def test_seed_code_is_the_seed_keras_example():
    text = keras_code(make(SEED))
    assert "keras.Sequential(" in text
    assert "keras.Input(shape=(784,))" in text
    assert 'layers.Dense(128, activation="relu", name="hidden")' in text
    assert 'layers.Dropout(0.2, name="dropout")' in text
    assert 'layers.Dense(10, activation="softmax", name="dense")' in text
    assert 'optimizer="adam"' in text
    assert 'loss="sparse_categorical_crossentropy"' in text
    assert 'metrics=["accuracy"]' in text
    assert "keras.datasets.mnist.load_data()" in text
    assert "lr=" not in text
    assert "import engine" not in text and "from engine" not in text


def test_graph_uses_the_functional_api_and_chain_does_not():
    graph_text = keras_code(make(GRAPH))
    assert "keras.Model(inputs=inputs, outputs=class_" in graph_text
    assert 'sum_ = layers.Add(name="sum")([left, right])' in graph_text
    assert 'join = layers.Concatenate(name="join")([sum_, left])' in graph_text
    assert "keras.Sequential" not in graph_text
    assert "keras.Model(" not in keras_code(make(XOR_SGD))


def test_dict_optimizer_writes_its_non_default_hyper_parameters():
    text = keras_code(make(XOR_SGD))
    assert "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)" in text
    adam = make(XOR_SGD)
    adam.data["compile"]["optimizer"] = {"class_name": "Adam", "config": {}}
    assert "optimizer=keras.optimizers.Adam(learning_rate=0.001)" in keras_code(adam)
    assert "keras.initializers.RandomNormal(stddev=0.5)" in text


def test_float64_projects_set_the_dtype_of_every_layer():
    text = keras_code(make(GRAPH, dtype="float64"))
    assert 'keras.Input(shape=(2,), dtype="float64")' in text
    assert text.count('dtype="float64"') == 1 + len(GRAPH["model"]["layers"])


def test_only_used_imports_and_weights_code_when_trained():
    plain = keras_code(make(SEED))
    assert "from pathlib import Path" not in plain and "load_weights" not in plain
    trained = keras_code(with_weights(make(XOR_SGD)))
    assert "from pathlib import Path" in trained
    assert 'WEIGHTS_PATH = Path(__file__).with_suffix(".weights.h5")' in trained
    assert "model.load_weights(weights_path)" in trained
    no_data = make(SEED)
    del no_data.data["dataset"]
    text = keras_code(no_data)
    assert "import numpy" not in text and "raise SystemExit(" in text


def generated_variants() -> dict[str, str]:
    odd = make(GRAPH)
    names = {"left": "1st-layer", "right": "lambda", "sum": "model", "join": "inputs"}
    for layer in odd.data["model"]["layers"]:
        old = layer["config"]["name"]
        layer["config"]["name"] = names.get(old, old)
        if "inbound" in layer:
            layer["inbound"] = [names.get(s, s) for s in layer["inbound"]]
    odd.data["name"] = 'A "quoted" name \\ with """ and a very long tail ' + "x" * 80
    odd.data["compile"]["optimizer"] = {
        "class_name": "Adam",
        "config": {"learning_rate": 0.002, "epsilon": 1e-08, "clipnorm": 1e20, "amsgrad": True},
    }
    npz = chain(3, 1, "linear", "mse", {"path": "data/points.npz"}, dtype="float64")
    no_data = make(SEED)
    del no_data.data["dataset"]
    return {
        **{name: keras_code(golden_project(name)) for name in GOLDEN_PROJECTS},
        "odd_names": keras_code(odd),
        "weights": keras_code(with_weights(make(GRAPH))),
        "float64_npz": keras_code(npz),
        "no_split": keras_code(
            chain(4, 3, "softmax", "categorical_crossentropy", {"name": "iris"}, split=0)
        ),
        "no_dataset": keras_code(no_data),
        "unreadable_table": keras_code(
            chain(2, 1, "linear", "mse", {"path": "a/folder/that/is/not/there/data.csv"})
        ),
    }


def test_generated_code_is_ruff_clean_and_formatted(tmp_path):
    cmd = ruff()
    if cmd is None:
        pytest.skip("ruff is not installed")
    files = []
    variants = generated_variants()
    variants.update({f"data_{k}": keras_code(p) for k, p in data_cases(tmp_path).items()})
    for name, text in variants.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    # --isolated: ruff's defaults (line length 88), whatever the repository configures.
    r = subprocess.run(
        [*cmd, "check", "--isolated", "--select", "F,E,W,I,B,UP", *files],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [*cmd, "format", "--isolated", "--check", "--diff", *files], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_keras_code_never_imports_tensorflow():
    code = (
        "import sys, copy, json\n"
        "from engine.project import from_dict\n"
        "from engine.export import keras_code\n"
        f"keras_code(from_dict(json.loads({json.dumps(json.dumps(GRAPH))})))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(root)),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_perceptron_and_sign_are_refused_with_a_message():
    project = from_dict(
        {
            "name": "p",
            "model": {
                "input_shape": [2],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "perceptron", "units": 1, "activation": "sign"},
                    }
                ],
            },
            "compile": {"optimizer": {"class_name": "Perceptron", "config": {}}},
            "dataset": {"name": "blobs", "centers": 2},
        }
    )
    with pytest.raises(NNDError) as info:
        keras_code(project)
    message = str(info.value)
    assert message.startswith(
        "the Perceptron optimizer and the 'sign' activation have no Keras equivalent; "
        "export a model trained with a gradient optimizer"
    )
    assert "'perceptron'" in message


def test_invalid_projects_and_keras_incompatible_names_are_refused():
    bad = make(XOR_SGD)
    bad.data["model"]["layers"][0]["config"]["units"] = 0
    with pytest.raises(ValidationError, match="units"):
        keras_code(bad)
    spaced = make(XOR_SGD)
    spaced.data["model"]["layers"][0]["config"]["name"] = "my layer"
    with pytest.raises(ValidationError) as info:
        keras_code(spaced)
    assert info.value.problems[0].layer == "my layer"
    assert "my_layer" in str(info.value)


def test_export_refuses_weights_that_do_not_fit(tmp_path):
    project = with_weights(make(XOR_SGD))
    project.weights["hidden/kernel"] = np.zeros((3, 8), np.float32)
    with pytest.raises(ValidationError, match="hidden"):
        export_project(project, tmp_path / "model.py")
    assert list(tmp_path.iterdir()) == []


def test_data_paths_relative_to_the_script_or_absolute(tmp_path, monkeypatch):
    proj_dir = tmp_path / "proj"
    (proj_dir / "data").mkdir(parents=True)
    project = chain(3, 1, "linear", "mse", {"path": "data/points.npz"})
    save_project(project, proj_dir / "p.json")
    beside = keras_code(project, script_dir=proj_dir)
    assert 'DATA_PATH = Path(__file__).resolve().parent / "data/points.npz"' in beside
    (tmp_path / "other").mkdir()
    elsewhere = keras_code(project, script_dir=tmp_path / "other")
    assert "__file__" not in elsewhere.split("DATA_PATH = ")[1].split("\n\n")[0]
    # However long (split over lines), each points at the file.
    deep = tmp_path / ("a_rather_long_folder_name_" * 3) / "and" / ("another_one_" * 4)
    deep.mkdir(parents=True)
    expected = {}
    for path, text in (
        (proj_dir / "beside.py", beside),
        (tmp_path / "other" / "elsewhere.py", elsewhere),
        (deep / "far.py", keras_code(project, script_dir=deep)),
    ):
        expected[path] = (text, proj_dir / "data" / "points.npz")
    far_data = deep.relative_to(tmp_path) / "points.npz"
    far_project = chain(3, 1, "linear", "mse", {"path": far_data.as_posix()})
    save_project(far_project, tmp_path / "far.json")
    expected[tmp_path / "near.py"] = (keras_code(far_project), tmp_path / far_data)
    for path, (text, data_path) in expected.items():
        path.write_text(text, encoding="utf-8")
        assert import_with_keras_stub(path, monkeypatch).DATA_PATH == data_path, path.name
    assert "DATA_PATH = Path(\n" in expected[deep / "far.py"][0]
    assert (
        "DATA_PATH = Path(__file__).resolve().parent.joinpath(\n"
        in expected[tmp_path / "near.py"][0]
    )


# --------------------------------------------------------------------------------------------
# The data: load_data() gives exactly the arrays the NumPy engine trains on
# --------------------------------------------------------------------------------------------


def write_png(path: Path, array: np.ndarray) -> None:
    """uint8 (h, w): grayscale; uint8 (h, w, 3): RGB; uint16 (h, w): 16-bit grayscale."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_data_files(root: Path) -> None:
    """Small files of every format the engine reads, with the quirks it detects."""
    from engine.data.idx import write_idx

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    # Comma-separated, UTF-8 with a byte order mark (before the name of a column used), CRLF
    # line ends, a quoted cell, a text column that is left out and a text target (classes
    # in sorted order of their names, blanks around them ignored).
    species = ["virginica", "setosa ", "versicolor", "setosa"]
    lines = ["sepal_length,name,sepal_width,species"]
    for i in range(36):
        a, b = rng.normal(5.0, 1.0), rng.normal(3.0, 0.5)
        lines.append(f'{a:.3f},"n{i}, x",{b:.2f},{species[i % 4]}')
    (root / "iris.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    # Semicolons, decimal commas, Windows-1252 text, a numeric target to predict.
    lines = ["ville;surface;pièces;prix"]
    for i in range(30):
        area, rooms = rng.uniform(20, 120), rng.integers(1, 6)
        lines.append(
            f"Orléans {i} €;{area:.2f};{rooms};{area * 0.031 + rooms:.3f}".replace(".", ",")
        )
    (root / "prix.csv").write_bytes("\n".join(lines).encode("cp1252"))
    # Tabs, no header, a trailing tab, whole-number classes that sort as numbers (2 < 9 < 10).
    lines = []
    for i in range(40):
        label = (2, 9, 10)[i % 3]
        lines.append(f"{label}\t{rng.normal():.4f}\t{rng.normal() + label:.4f}\t")
    (root / "numbers.tsv").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    # Pipes, blanks after column names, two regression targets.
    lines = ["a |b |t1|t2"]
    for _ in range(25):
        a, b = rng.normal(size=2)
        lines.append(f"{a:.5f}|{b:.5f}|{a + b:.5f}|{a - 2 * b:.5f}")
    (root / "two.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Wide, without a header: the features are columns 0 to 5.
    lines = [",".join(f"{v:.3f}" for v in rng.normal(size=6)) + f",{i % 2}" for i in range(20)]
    (root / "wide.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # A target of numbers and missing-value marks: with "task": "classification" they are
    # classes sorted as text ("10" < "2" < "9" < "n/a"); CRLF in a quoted cell reads as LF.
    labels = ["10", "2", "9", "n/a", '"x\r\ny"', '"x\ny"']
    lines = ["a,b,label"]
    for i in range(36):
        lines.append(f"{rng.normal():.3f},{rng.normal():.3f},{labels[i % 6]}")
    (root / "marked.csv").write_bytes("\r\n".join(lines).encode() + b"\r\n")
    # .npy pairs: y found beside x by name, or named by y_path.
    np.save(root / "x.npy", rng.normal(size=(30, 3)))
    np.save(root / "y.npy", rng.integers(0, 2, size=30))
    np.save(root / "inputs.npy", rng.normal(size=(24, 2)).astype(np.float32))
    np.save(root / "targets.npy", rng.normal(size=(24,)))
    # IDX: train files with t10k test files beside them, gzip-compressed.
    for prefix, n in (("train", 30), ("t10k", 12)):
        write_idx(
            root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 3, 4), np.uint8)
        )
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 3, n).astype(np.uint8))
    # Other labels for the train images: named by labels_path, they come without a test set.
    write_idx(root / "relabelled-idx1-ubyte", rng.integers(0, 2, 30).astype(np.uint8))
    # IDX of int16 values with a labels file named by labels_path.
    (root / "raw").mkdir()
    write_idx(
        root / "raw" / "pics-idx3-ubyte", rng.integers(-500, 500, (20, 2, 3)).astype(np.int16)
    )
    write_idx(root / "raw" / "values.idx1-ubyte", rng.integers(0, 50, 20).astype(np.int32))
    # Image folders: RGB of several sizes (resized), and grayscale of one size, a 16-bit one
    # among them; hidden folders and files that are not images are skipped.
    for c, name in enumerate(["cats", "dogs", "eels"]):
        for i in range(4):
            size = (5 + i, 7 - c)
            write_png(root / "rgb" / name / f"{i}.png", rng.integers(0, 256, (*size, 3), np.uint8))
        write_png(root / "gray" / name / "a.png", rng.integers(0, 256, (4, 3), np.uint8))
        write_png(root / "gray" / name / "b.png", rng.integers(0, 256, (4, 3), np.uint8))
        wide = rng.integers(0, 65536, (4, 3)).astype(np.uint16)
        write_png(root / "gray" / name / "c.png", wide)
    write_png(root / "rgb" / ".thumbs" / "0.png", np.zeros((2, 2, 3), np.uint8))
    (root / "rgb" / "cats" / "notes.txt").write_text("not an image", encoding="utf-8")
    # .npz archives with their own test sets.
    np.savez(
        root / "own_test.npz",
        x_train=rng.normal(size=(40, 2)),
        y_train=rng.integers(0, 3, size=40),
        x_test=rng.normal(size=(10, 2)),
        y_test=rng.integers(0, 3, size=10),
    )
    np.savez(
        root / "own_test_reg.npz",
        x=rng.normal(size=30),
        y=rng.integers(0, 4, size=30),
        x_test=rng.normal(size=8),
        y_test=rng.normal(size=8),  # not whole numbers: the task is regression for both
    )


def data_cases(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(0)
    reg = tmp_path / "reg.npz"
    np.savez(reg, x=rng.normal(size=60), y=rng.normal(size=60) * 10)
    cls = tmp_path / "cls.npz"
    np.savez(cls, x_train=rng.normal(size=(50, 3)), y_train=rng.integers(0, 3, size=(50, 1)))
    onehot = tmp_path / "onehot.npz"
    np.savez(onehot, x=rng.normal(size=(40, 2)), y=np.eye(4)[rng.integers(0, 4, size=40)])
    root = tmp_path / "files"
    write_data_files(root)
    # A table with a column of sample weights (Keras' fit(sample_weight=...)).
    weighted_rows = ["a,b,weight,kind"] + [
        f"{rng.normal():.4f},{rng.normal():.4f},{rng.uniform(0, 3):.3f},{'xyz'[i % 3]}"
        for i in range(45)
    ]
    (root / "weighted.csv").write_text("\n".join(weighted_rows) + "\n", encoding="utf-8")

    def file(name: str, **keys) -> dict:
        return {"path": str(root / name), **keys}

    sparse = "sparse_categorical_crossentropy"
    onehot_loss = "categorical_crossentropy"
    cases = {
        "xor_sgd": make(XOR_SGD),
        "merge_graph": make(GRAPH),
        "spiral_float64": chain(
            2,
            3,
            "softmax",
            onehot_loss,
            {"name": "spiral", "n_classes": 3, "n_samples": 150, "standardize": True},
            dtype="float64",
        ),
        "iris": chain(4, 3, "softmax", sparse, {"name": "iris", "standardize": True}),
        "moons_no_split": chain(2, 2, "softmax", sparse, {"name": "moons"}, split=0),
        "circles": chain(2, 2, "sigmoid", "mse", {"name": "circles", "noise": 0.0, "factor": 0.3}),
        "diabetes": chain(
            10, 1, "linear", "mse", {"name": "diabetes", "standardize": True}, dtype="float64"
        ),
        "digits": chain(64, 10, "softmax", sparse, {"name": "digits"}),
        "npz_regression": chain(1, 1, "linear", "mae", {"path": str(reg)}),
        "npz_classes_float64": chain(
            3, 3, "softmax", onehot_loss, {"path": str(cls)}, dtype="float64"
        ),
        "npz_onehot": chain(
            2, 4, "softmax", onehot_loss, {"path": str(onehot), "task": "classification"}
        ),
        # Built-in sets with a test split and min-max scaling.
        "moons_test_minmax": chain(
            2,
            2,
            "softmax",
            sparse,
            {"name": "moons", "test_split": 0.2, "scale": "minmax"},
        ),
        "diabetes_test_float64": chain(
            10,
            1,
            "linear",
            "mse",
            {"name": "diabetes", "test_split": 0.3, "scale": "standardize"},
            dtype="float64",
            split=0,
        ),
        # Tables.
        "csv_text_target": chain(
            2,
            3,
            "softmax",
            onehot_loss,
            file("iris.csv", scale="minmax", test_split=0.25),
        ),
        "csv_decimal_comma_cp1252": chain(
            2,
            1,
            "linear",
            "mse",
            file("prix.csv", scale="standardize", test_split=0.2),
            dtype="float64",
        ),
        "tsv_no_header_numeric_classes": chain(
            2, 3, "softmax", sparse, file("numbers.tsv", target=0, features=[2, 1])
        ),
        "csv_wide_no_header": chain(6, 2, "softmax", sparse, file("wide.csv", scale="minmax")),
        "txt_two_targets": chain(
            2,
            2,
            "linear",
            "mse",
            file("two.txt", target=["t1", "t2"], standardize=True, test_split=0.3),
            split=0,
        ),
        "csv_pinned_text_classes": chain(
            2,
            5,
            "softmax",
            sparse,
            file(
                "marked.csv",
                delimiter=",",
                header=True,
                encoding="UTF8",
                decimal=".",
                target="label",
                features=["b", "a"],
                task="classification",
            ),
        ),
        # NumPy pairs.
        "npy_beside": chain(3, 1, "sigmoid", "binary_crossentropy", file("x.npy", test_split=0.2)),
        "npy_y_path_float64": chain(
            2,
            1,
            "linear",
            "mse",
            file("inputs.npy", y_path=str(root / "targets.npy"), scale="minmax"),
            dtype="float64",
        ),
        # IDX.
        "idx_with_t10k": chain(
            12, 3, "softmax", onehot_loss, file("train-images-idx3-ubyte.gz", scale="minmax")
        ),
        "idx_other_labels_no_test": chain(
            12,
            2,
            "softmax",
            sparse,
            file("train-images-idx3-ubyte.gz", labels_path=str(root / "relabelled-idx1-ubyte")),
        ),
        "idx_labels_path_regression": chain(
            6,
            1,
            "linear",
            "mse",
            file(
                "raw/pics-idx3-ubyte",
                labels_path=str(root / "raw" / "values.idx1-ubyte"),
                task="regression",
                test_split=0.25,
            ),
        ),
        # Image folders.
        "images_rgb_resized": chain(
            90, 3, "softmax", sparse, file("rgb", image_size=[6, 5], color="rgb", test_split=0.25)
        ),
        "images_gray_detected_float64": chain(
            12, 3, "softmax", onehot_loss, file("gray", scale="standardize"), dtype="float64"
        ),
        "golden_csv_table": golden_project("csv_table"),
        # A sample weight column: every part comes with its rows' weights.
        "csv_weighted": chain(
            2, 3, "softmax", sparse, file("weighted.csv", sample_weight="weight")
        ),
        "csv_weighted_test_split": chain(
            2, 3, "softmax", sparse, file("weighted.csv", sample_weight=2, test_split=0.2)
        ),
        "csv_weighted_last_float64": chain(
            2, 3, "softmax", sparse, file("weighted.csv", sample_weight="weight"), dtype="float64"
        ),
        "csv_weighted_no_split": chain(
            2, 3, "softmax", sparse, file("weighted.csv", sample_weight="weight"), split=0
        ),
        # .npz files with their own test sets.
        "npz_own_test": chain(2, 3, "softmax", sparse, file("own_test.npz")),
        "npz_own_test_regression": chain(
            1, 1, "linear", "mse", file("own_test_reg.npz", scale="minmax"), dtype="float64"
        ),
    }
    cases["csv_weighted_last_float64"].data["fit"]["validation_split_mode"] = "last"
    return cases


def import_with_keras_stub(path: Path, monkeypatch, **datasets):
    """Import an exported script with a stand-in ``keras`` module: load_data() needs Keras
    only for its cached datasets (``datasets``: name -> what its load_data() returns), so
    the data checks run without TensorFlow."""
    stub = types.ModuleType("keras")
    stub.layers = types.ModuleType("keras.layers")
    stub.datasets = types.SimpleNamespace(
        **{name: types.SimpleNamespace(load_data=lambda v=v: v) for name, v in datasets.items()}
    )
    monkeypatch.setitem(sys.modules, "keras", stub)
    return import_module(path)


def assert_prepared(returned, expected, name: str) -> None:
    """load_data()'s return equals load_training_data()'s arrays: dtype, shape, values (and
    each part's sample weights, for data that has them)."""
    has_test = expected.x_test is not None
    assert len(returned) == (3 if has_test else 2), name
    weighted = expected.sw_train is not None
    assert len(returned[0]) == (3 if weighted else 2), name
    x_train, y_train = returned[0][:2]
    validation = returned[1]
    pairs = [("x_train", x_train, expected.x_train), ("y_train", y_train, expected.y_train)]
    if weighted:
        pairs.append(("w_train", returned[0][2], expected.sw_train))
        if expected.x_val is not None:
            pairs.append(("w_val", validation[2], expected.sw_val))
    if expected.x_val is None:
        assert validation is None, name
    else:
        pairs += [
            ("x_val", validation[0], expected.x_val),
            ("y_val", validation[1], expected.y_val),
        ]
    if has_test:
        pairs += [
            ("x_test", returned[2][0], expected.x_test),
            ("y_test", returned[2][1], expected.y_test),
        ]
        if weighted:
            pairs.append(("w_test", returned[2][2], expected.sw_test))
    for part, got, want in pairs:
        what = f"{name}: {part}"
        assert got.dtype == want.dtype, what
        assert got.shape == want.shape, what
        np.testing.assert_array_equal(got, want, err_msg=what)


def test_load_data_gives_the_engines_prepared_arrays(tmp_path, monkeypatch):
    cases = data_cases(tmp_path)
    for name, project in cases.items():
        graph = build_graph(project)
        expected = load_training_data(project, graph)
        path = tmp_path / f"{name}.py"
        path.write_text(keras_code(project, script_dir=tmp_path), encoding="utf-8")
        assert_prepared(import_with_keras_stub(path, monkeypatch).load_data(), expected, name)


def test_load_data_reads_the_keras_cache_sets_with_their_test_set(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    arrays = {
        "x_train": rng.integers(0, 256, (50, 28, 28), np.uint8),
        "y_train": rng.integers(0, 10, 50).astype(np.uint8),
        "x_test": rng.integers(0, 256, (12, 28, 28), np.uint8),
        "y_test": rng.integers(0, 10, 12).astype(np.uint8),
    }
    # A stand-in for the Keras cache, which keras.datasets.mnist.load_data() reads too.
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras" / "datasets" / "mnist.npz", **arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name, project in {
        "seed": make(SEED),
        "seed_minmax_float64": make(
            SEED, dataset={"name": "mnist", "scale": "minmax"}, dtype="float64"
        ),
    }.items():
        expected = load_training_data(project, build_graph(project))
        path = tmp_path / f"{name}.py"
        path.write_text(keras_code(project), encoding="utf-8")
        keras_arrays = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
        module = import_with_keras_stub(path, monkeypatch, mnist=keras_arrays)
        assert_prepared(module.load_data(), expected, name)


def image_chain(input_shape: list[int], dataset: dict, n_classes: int = 10) -> object:
    """A small CNN on images given in ``input_shape``."""
    return from_dict(
        {
            "format_version": 1,
            "name": "Images",
            "model": {
                "input_shape": input_shape,
                "layers": [
                    {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3}},
                    {"class_name": "Flatten", "config": {}},
                    {
                        "class_name": "Dense",
                        "config": {"units": n_classes, "activation": "softmax"},
                    },
                ],
            },
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"epochs": 1, "batch_size": 16, "validation_split": 0.2},
            "dataset": dataset,
        }
    )


def test_load_data_lays_images_out_in_the_models_input_shape(tmp_path, monkeypatch):
    """Flat image rows (the built-in digits, MNIST from the Keras cache, an IDX file) reach a
    convolutional model as (n, H, W, C) in the script as in NN Designer, scaled first."""
    from engine.data.idx import write_idx

    rng = np.random.default_rng(5)
    write_idx(tmp_path / "images.idx", rng.integers(0, 256, (30, 6, 5), np.uint8))
    write_idx(tmp_path / "labels.idx", rng.integers(0, 3, 30).astype(np.uint8))
    mnist = {
        "x_train": rng.integers(0, 256, (40, 28, 28), np.uint8),
        "y_train": rng.integers(0, 10, 40).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), np.uint8),
        "y_test": rng.integers(0, 10, 10).astype(np.uint8),
    }
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras" / "datasets" / "mnist.npz", **mnist)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    idx = {"path": str(tmp_path / "images.idx"), "labels_path": str(tmp_path / "labels.idx")}
    cases = {
        "digits": image_chain([8, 8, 1], {"name": "digits", "scale": "standardize"}),
        "mnist": image_chain([28, 28, 1], {"name": "mnist", "scale": "minmax"}),
        "idx": image_chain([6, 5, 1], idx, n_classes=3),
    }
    keras_arrays = (mnist["x_train"], mnist["y_train"]), (mnist["x_test"], mnist["y_test"])
    for name, project in cases.items():
        graph = build_graph(project)
        expected = load_training_data(project, graph)
        assert expected.x_train.shape[1:] == tuple(project.data["model"]["input_shape"]), name
        path = tmp_path / f"{name}.py"
        path.write_text(keras_code(project, script_dir=tmp_path), encoding="utf-8")
        module = import_with_keras_stub(path, monkeypatch, mnist=keras_arrays)
        assert_prepared(module.load_data(), expected, name)


def test_load_data_flattens_image_arrays_for_a_flat_model(tmp_path):
    """An .npz/.npy file of images (n, 4, 4, 1) read by a network with a flat input [16]:
    the script flattens them as NN Designer does (the model would refuse (n, 4, 4, 1))."""
    rng = np.random.default_rng(8)
    x = rng.random((30, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    np.savez(tmp_path / "images.npz", x=x, y=y)
    np.save(tmp_path / "images.npy", x)
    np.save(tmp_path / "images_y.npy", y)
    for name, dataset in {
        "npz": {"path": str(tmp_path / "images.npz")},
        "npy": {"path": str(tmp_path / "images.npy"), "y_path": str(tmp_path / "images_y.npy")},
    }.items():
        project = chain(16, 3, "softmax", "sparse_categorical_crossentropy", dataset)
        expected = load_training_data(project, build_graph(project))
        assert expected.x_train.shape[1:] == (16,), name
        path = tmp_path / f"flat_{name}.py"
        path.write_text(keras_code(project, script_dir=tmp_path), encoding="utf-8")
        assert_prepared(import_module(path).load_data(), expected, name)


def test_a_test_split_of_data_with_its_own_test_set_is_refused(tmp_path):
    with pytest.raises(NNDError, match="test_split"):
        keras_code(make(SEED, dataset={"name": "mnist", "test_split": 0.1}))
    write_data_files(tmp_path)
    own = chain(
        2, 3, "softmax", "categorical_crossentropy", {"path": str(tmp_path / "own_test.npz")}
    )
    own.data["dataset"]["test_split"] = 0.2
    with pytest.raises(NNDError, match="own_test.npz has a test set of its own"):
        keras_code(own)


def test_tables_are_read_with_the_detected_settings_written_out(tmp_path, monkeypatch):
    write_data_files(tmp_path)
    text = keras_code(chain(2, 1, "linear", "mse", {"path": str(tmp_path / "prix.csv")}))
    for line in (
        'DELIMITER = ";"',
        "HEADER = True",
        'ENCODING = "cp1252"',
        'DECIMAL = ","',
        'TARGET = "prix"',
        'FEATURES = ["surface", "pièces"]',
    ):
        assert f"\n{line}\n" in text, line
    assert "Sniffer" not in text and "import engine" not in text and "from engine" not in text
    # A spec that pins every setting is exported without reading the file (it is gone).
    pinned = {
        "path": str(tmp_path / "gone.csv"),
        "delimiter": "\t",
        "header": False,
        "encoding": "latin-1",
        "decimal": ".",
        "target": 3,
        "features": [0, 2],
        "task": "regression",
    }
    import engine.data

    monkeypatch.setattr(engine.data, "load_dataset", None)  # any read would fail
    text = keras_code(chain(2, 1, "linear", "mse", pinned))
    assert 'DELIMITER = "\\t"' in text and "TARGET = 3" in text and "FEATURES = [0, 2]" in text
    monkeypatch.undo()
    # Unreadable data: the model is still exported, and load_data() says why it cannot run.
    text = keras_code(chain(2, 1, "linear", "mse", {"path": str(tmp_path / "missing.csv")}))
    assert "raise SystemExit(" in text and "missing.csv" in text and "import numpy" not in text


# --------------------------------------------------------------------------------------------
# The generated files run: one subprocess builds every model, one trains for an epoch
# --------------------------------------------------------------------------------------------

CHECKER = r"""
import contextlib, importlib.util, io, json, runpy, sys
import numpy as np

report = {}
for job in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("m_" + str(len(report)), job["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model()
    layers = []
    for layer in model.layers:
        cfg = layer.get_config()
        layers.append({
            "name": layer.name,
            "class_name": type(layer).__name__,
            "output_shape": list(layer.output.shape[1:]),
            "units": cfg.get("units"),
            "activation": cfg.get("activation"),
            "rate": cfg.get("rate"),
            "dtype": layer.dtype_policy.name,
        })
    compiled = model.get_compile_config()
    optimizer = model.optimizer
    entry = {
        "model": type(model).__name__,
        "params": int(model.count_params()),
        "output_shape": list(model.output_shape[1:]),
        "layers": layers,
        "optimizer": type(optimizer).__name__,
        "optimizer_config": {k: v for k, v in optimizer.get_config().items()
                             if isinstance(v, (int, float, bool, str))},
        "loss": compiled["loss"],
        "metrics": compiled["metrics"],
    }
    if job.get("x"):
        x = np.load(job["x"])
        np.save(job["out"], model.predict(x, verbose=0))
    report[job["name"]] = entry

# Last, run scripts as `python SCRIPT --epochs 1` would (same process: one TensorFlow
# start-up for all the checks).
for name, script in json.loads(sys.argv[2]).items():
    sys.argv = [script, "--epochs", "1"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    report["__run__" + name] = {"exit": code, "stdout": out.getvalue()}
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every case exported, then built (and run on inputs) by the generated code itself."""
    tmp = tmp_path_factory.mktemp("export")
    activations = from_dict(
        {
            "name": "Activations",
            "model": {
                "input_shape": [4],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 6, "activation": a}}
                    for a in (
                        "sigmoid",
                        "tanh",
                        "relu",
                        "leaky_relu",
                        "elu",
                        "selu",
                        "softplus",
                        "softsign",
                        "swish",
                        "silu",
                        "gelu",
                        "hard_sigmoid",
                        "linear",
                    )
                ]
                + [
                    {"class_name": "Flatten", "config": {}},
                    {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}},
                ],
            },
            "compile": {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy"},
            "dataset": {"name": "iris"},
        }
    )
    cases = {
        "seed": with_weights(make(SEED), 1),
        "graph": with_weights(make(GRAPH), 2),
        "graph_float64": with_weights(make(GRAPH, dtype="float64"), 3),
        "activations": with_weights(activations, 4),
        "xor_untrained": make(XOR_SGD),
        # Data read from a table beside the project, with a test set to evaluate on.
        "csv_table": golden_project("csv_table", tmp),
        # Keras' metrics in their classes, class_weight and steps_per_epoch in fit.
        "fit_settings": golden_project("csv_table", tmp),
    }
    rows = ["a,b,weight,kind"] + [
        f"{(i * 7919) % 97 / 97:.3f},{(i * 104729) % 89 / 89:.3f},{1 + i % 4},{'xyz'[i % 3]}"
        for i in range(60)
    ]
    (tmp / "weighted.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cases["weighted_table"] = chain(
        2,
        3,
        "softmax",
        "sparse_categorical_crossentropy",
        {"path": str(tmp / "weighted.csv"), "sample_weight": "weight", "test_split": 0.2},
    )
    fitted = cases["fit_settings"]
    fitted.data["compile"]["metrics"] = [
        "acc",
        {"class_name": "SparseTopKCategoricalAccuracy", "config": {"k": 2, "name": "top2"}},
    ]
    fitted.data["fit"].update({"class_weight": {"0": 2.0, "2": 0.5}, "steps_per_epoch": 2})
    shutil.copy(GOLDEN / "penguins.csv", tmp / "penguins.csv")
    jobs, written = [], {}
    rng = np.random.default_rng(9)
    for name, project in cases.items():
        files = export_project(project, tmp / f"{name}.py")
        written[name] = files
        job = {"name": name, "module": str(files[0])}
        if project.weights:
            graph = build_graph(project)
            x = rng.normal(size=(64, *graph.input_shape)).astype(project.dtype)
            np.save(tmp / f"{name}_x.npy", x)
            job.update(x=str(tmp / f"{name}_x.npy"), out=str(tmp / f"{name}_pred.npy"))
        jobs.append(job)
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECKER,
            json.dumps(jobs),
            json.dumps(
                {
                    name: str(written[name][0])
                    for name in ("graph", "csv_table", "fit_settings", "weighted_table")
                }
            ),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("REPORT "))
    return {"tmp": tmp, "cases": cases, "written": written, "report": json.loads(line[7:])}


def test_export_writes_the_script_and_the_weights_beside_it(built):
    tmp = built["tmp"]
    assert built["written"]["seed"] == [tmp / "seed.py", tmp / "seed.weights.h5"]
    assert built["written"]["xor_untrained"] == [tmp / "xor_untrained.py"]
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")], "temporary files left"


def test_exported_models_have_the_projects_parameters_and_shapes(built):
    for name, project in built["cases"].items():
        graph = build_graph(project)
        entry = built["report"][name]
        assert entry["params"] == graph.total_params, name
        assert entry["output_shape"] == list(graph.output_shape), name
        by_name = {layer["name"]: layer for layer in entry["layers"]}
        for node in graph.nodes:
            assert by_name[node.name]["class_name"] == node.class_name, (name, node.name)
            assert by_name[node.name]["output_shape"] == list(node.output_shape), (name, node.name)
            assert by_name[node.name]["dtype"] == project.dtype, (name, node.name)
        assert entry["model"] == ("Sequential" if graph.is_chain else "Functional"), name


def test_seed_export_is_the_seed_model_layer_for_layer(built):
    entry = built["report"]["seed"]
    layers = [(e["class_name"], e["units"], e["activation"], e["rate"]) for e in entry["layers"]]
    assert layers == [
        ("Dense", 128, "relu", None),
        ("Dropout", None, None, 0.2),
        ("Dense", 10, "softmax", None),
    ]
    assert entry["optimizer"] == "Adam"
    assert entry["optimizer_config"]["learning_rate"] == pytest.approx(0.001)
    assert entry["loss"] == "sparse_categorical_crossentropy"
    assert entry["metrics"] == ["accuracy"]
    sgd = built["report"]["xor_untrained"]
    assert sgd["optimizer"] == "SGD"
    assert sgd["optimizer_config"]["momentum"] == pytest.approx(0.9)
    assert sgd["optimizer_config"]["nesterov"] is True


def test_exported_weights_predict_what_the_numpy_engine_predicts(built):
    for name, project in built["cases"].items():
        if not project.weights:
            continue
        graph = build_graph(project)
        model = build_model(project, graph)
        x = np.load(built["tmp"] / f"{name}_x.npy")
        keras_pred = np.load(built["tmp"] / f"{name}_pred.npy")
        np.testing.assert_allclose(keras_pred, model.predict(x), rtol=1e-5, atol=1e-5, err_msg=name)


def test_running_the_exported_file_trains_for_the_given_epochs(built):
    run = built["report"]["__run__graph"]
    assert run["exit"] == 0, run["stdout"][-2000:]
    # One epoch: one end-of-epoch report with validation metrics (the project says 30).
    assert run["stdout"].count("val_loss") == 1, run["stdout"][-2000:]
    assert "test:" not in run["stdout"]


def test_running_a_file_with_a_test_set_evaluates_on_it(built):
    run = built["report"]["__run__csv_table"]
    assert run["exit"] == 0, run["stdout"][-2000:]
    assert run["stdout"].count("val_loss") == 1, run["stdout"][-2000:]
    last = run["stdout"].strip().splitlines()[-1]
    assert last.startswith("test: accuracy ") and " loss " in last, last


def test_the_exported_fit_has_the_metrics_class_weight_and_steps_per_epoch(built):
    code = built["written"]["fit_settings"][0].read_text()
    assert 'keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")' in code
    assert "class_weight={0: 2.0, 2: 0.5}" in code and "steps_per_epoch=2" in code
    run = built["report"]["__run__fit_settings"]
    assert run["exit"] == 0, run["stdout"][-2000:]
    assert "val_top2" in run["stdout"] and "2/2" in run["stdout"], run["stdout"][-2000:]
    metrics = built["report"]["fit_settings"]["metrics"]
    assert metrics[0] == "acc" and "SparseTopKCategoricalAccuracy" in str(metrics[1])


def test_an_exported_weighted_table_trains_and_evaluates_with_its_weights(built):
    code = built["written"]["weighted_table"][0].read_text()
    assert 'SAMPLE_WEIGHT = "weight"' in code and "sample_weight=w_train" in code
    assert "sample_weight=w_test" in code
    run = built["report"]["__run__weighted_table"]
    assert run["exit"] == 0, run["stdout"][-2000:]
    assert run["stdout"].count("val_loss") == 1 and "test:" in run["stdout"], run["stdout"]


def test_example_projects_export_or_are_refused_by_name():
    root = Path(__file__).resolve().parents[2] / "resources" / "examples"
    for path in sorted(root.glob("*.json")):
        project = load_project(path)
        if optimizer_class(project) == "Perceptron":
            with pytest.raises(NNDError, match="Perceptron"):
                keras_code(project)
        else:
            assert "def build_model(" in keras_code(project), path.name


def test_cli_export_writes_the_script_and_weights(tmp_path, capsys):
    from engine import cli

    if "export" not in cli.SUBCOMMANDS:
        pytest.skip("the CLI has no export subcommand yet")
    pytest.importorskip("keras")
    save_project(with_weights(make(XOR_SGD)), tmp_path / "xor.nnd")
    assert cli.main(["export", str(tmp_path / "xor.nnd")]) == 0
    assert (tmp_path / "xor.py").is_file() and (tmp_path / "xor.weights.h5").is_file()
    perceptron = Path(__file__).resolve().parents[2] / "resources" / "examples" / "perceptron.json"
    capsys.readouterr()
    assert cli.main(["export", str(perceptron), "-o", str(tmp_path / "p.py")]) == 2
    err = capsys.readouterr().err
    assert "Perceptron" in err and "Traceback" not in err
    assert not (tmp_path / "p.py").exists()


def test_validation_split_mode_last_holds_out_the_last_samples_as_keras(tmp_path, monkeypatch):
    """validation_split_mode "last": the last floor-split samples validate, as Keras'
    fit(validation_split=...) takes them (its own split function on the same arrays), in the
    app and in the exported script; the default stays the stratified draw."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    project = chain(4, 3, "softmax", "sparse_categorical_crossentropy", {"name": "iris"}, split=0.3)
    project.data["fit"]["validation_split_mode"] = "last"
    graph = build_graph(project)
    data = load_training_data(project, graph)
    from engine.data import load_dataset

    ds = load_dataset(project.dataset, project.base_dir, dtype=np.dtype("float32"))
    (x_tr, y_tr), (x_va, y_va) = train_validation_split((ds.x, ds.y), validation_split=0.3)
    np.testing.assert_array_equal(data.x_train, np.asarray(x_tr))
    np.testing.assert_array_equal(data.x_val, np.asarray(x_va))
    path = tmp_path / "last.py"
    path.write_text(keras_code(project, script_dir=tmp_path), encoding="utf-8")
    assert_prepared(import_with_keras_stub(path, monkeypatch).load_data(), data, "last")
    project.data["fit"].pop("validation_split_mode")
    stratified = load_training_data(project, graph)
    assert not np.array_equal(stratified.x_val, data.x_val)
    project.data["fit"]["validation_split_mode"] = "first"
    from engine.validate import settings_problems

    problems = settings_problems(project)
    assert [p.field for p in problems] == ["fit.validation_split_mode"]
    assert "must be stratified or last" in problems[0].message
