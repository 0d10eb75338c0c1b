"""Class labels other than 0..k-1 (-1/+1, 3/7, 1..k, integral floats) in every file format.

They are numbered 0..k-1 in sorted order over the training and test parts together; the
values are kept as ``class_names`` for the dataset panel, the confusion matrix and the
predictions; the exported Keras script numbers them the same way.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import class_balance, load_dataset
from engine.data.idx import write_idx
from engine.errors import DataError
from engine.export import keras_code
from engine.project import Project
from engine.training import load_training_data
from engine.validate import check_project


def softmax_project(folder: Path, dataset: dict, n_in: int, k: int, **extra) -> Project:
    spec = {
        "format_version": 1,
        "name": "labels",
        "model": {
            "input_shape": [n_in],
            "layers": [
                {
                    "class_name": "Dense",
                    "config": {"name": "out", "units": k, "activation": "softmax"},
                }
            ],
        },
        "compile": {
            "optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.1}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": 1, "batch_size": 4, "validation_split": 0.0, "shuffle": False},
        "dataset": dataset,
        "backend": "numpy",
        "dtype": "float32",
        **extra,
    }
    path = folder / "p.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return Project(spec, path=path)


@pytest.mark.parametrize(
    ("labels", "names"),
    [
        ([-1, 1, 1, -1, 1, -1], ["-1", "1"]),
        ([7, 3, 3, 7, 7, 3], ["3", "7"]),
        ([7.0, 3.0, 3.0, 7.0, 7.0, 3.0], ["3", "7"]),
        ([1, 2, 3, 3, 2, 1], ["1", "2", "3"]),
        ([-2, 0, 5, 5, -2, 0], ["-2", "0", "5"]),
    ],
)
def test_npz_labels_are_numbered_in_sorted_order_and_kept_as_names(tmp_path, labels, names):
    y = np.array(labels)
    np.savez(tmp_path / "d.npz", x=np.arange(12.0).reshape(6, 2), y=y)
    ds = load_dataset({"path": "d.npz"}, tmp_path)
    assert ds.task == "classification" and ds.n_classes == len(names)
    assert ds.class_names == names and ds.y.dtype == np.int64
    # Every sample's class name is its original label.
    assert [float(ds.class_names[c]) for c in ds.y] == [float(v) for v in labels]
    assert any("sorted order" in note for note in ds.notes)
    assert class_balance(ds) == [(n, labels.count(float(n))) for n in names]


def test_labels_0_to_k_minus_1_are_kept_as_they_are(tmp_path):
    y = np.array([2, 0, 1, 1, 0, 2])
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 1)), y=y)
    ds = load_dataset({"path": "d.npz"}, tmp_path)
    assert ds.y.tolist() == y.tolist() and ds.class_names is None and ds.notes == []


def test_train_and_test_labels_are_numbered_together(tmp_path):
    # The test part holds a label (5) the training part lacks: numbered after 3, not as 0.
    np.savez(
        tmp_path / "d.npz",
        x_train=np.zeros((4, 1)),
        y_train=np.array([-1, 3, -1, 3]),
        x_test=np.zeros((3, 1)),
        y_test=np.array([5, -1, 3]),
    )
    ds = load_dataset({"path": "d.npz"}, tmp_path)
    assert ds.class_names == ["-1", "3", "5"] and ds.n_classes == 3
    assert ds.y.tolist() == [0, 1, 0, 1] and ds.y_test.tolist() == [2, 0, 1]


def test_npy_pair_and_idx_number_labels_too(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(8.0).reshape(4, 2))
    np.save(tmp_path / "y.npy", np.array([[1], [-1], [-1], [1]]))
    ds = load_dataset({"path": "x.npy"}, tmp_path)
    assert ds.class_names == ["-1", "1"] and ds.y.tolist() == [1, 0, 0, 1]
    assert ds.notes[0].startswith("targets read from y.npy")  # the notes are kept, in order

    write_idx(tmp_path / "a-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.array([7, 3, 7, 3], np.uint8))
    idx = load_dataset({"path": "a-images-idx3-ubyte"}, tmp_path)
    assert idx.class_names == ["3", "7"] and idx.y.tolist() == [1, 0, 1, 0]
    write_idx(tmp_path / "b-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "b-labels-idx1-ubyte", np.array([1, 0, 2, 0], np.uint8))
    assert load_dataset({"path": "b-images-idx3-ubyte"}, tmp_path).class_names == ["0", "1", "2"]


def test_csv_labels_minus_one_plus_one(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,t\n1,2,-1\n3,4,1\n5,6,-1\n", encoding="utf-8")
    ds = load_dataset({"path": "d.csv"}, tmp_path)
    assert ds.class_names == ["-1", "1"] and ds.y.tolist() == [0, 1, 0]


def test_widely_spread_labels_still_ask_for_the_task_and_fractions_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 1)), y=np.array([-5000, 5000, -5000, 5000]))
    with pytest.raises(DataError, match=r"run from -5000 to 5000.*\"regression\""):
        load_dataset({"path": "d.npz"}, tmp_path)
    ds = load_dataset({"path": "d.npz", "task": "classification"}, tmp_path)
    assert ds.class_names == ["-5000", "5000"]
    np.savez(tmp_path / "f.npz", x=np.zeros((4, 1)), y=np.array([-1.0, 0.5, -1.0, 0.5]))
    with pytest.raises(DataError, match=r"y\[1\] is 0.5, not a class index"):
        load_dataset({"path": "f.npz", "task": "classification"}, tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=2, max_size=5, unique=True),
    st.lists(st.integers(0, 4), min_size=2, max_size=30),
)
def test_any_distinct_labels_round_trip_through_the_class_names(tmp_path_factory, values, picks):
    picks = [p % len(values) for p in picks] + [0, 1]  # at least two classes
    y = np.array([values[p] for p in picks])
    folder = tmp_path_factory.mktemp("labels")
    np.savez(folder / "d.npz", x=np.zeros((len(y), 1)), y=y)
    ds = load_dataset({"path": "d.npz", "task": "classification"}, folder)
    present = sorted(set(y.tolist()))
    assert ds.n_classes == len(present) and ds.y.max() == len(present) - 1
    # 0..k-1 need no names: the index is the label.
    names = ds.class_names or [str(c) for c in range(ds.n_classes)]
    assert [int(names[c]) for c in ds.y] == y.tolist()
    assert names == [str(v) for v in present]


def test_the_perceptron_gets_the_original_minus_one_plus_one_back(tmp_path):
    y = np.array([1, -1, -1, 1, 1, -1])
    np.savez(tmp_path / "d.npz", x=np.arange(12.0).reshape(6, 2), y=y)
    project = softmax_project(tmp_path, {"path": "d.npz"}, 2, 1)
    project.data["model"]["layers"][0]["config"].update(activation="sign")
    project.data["compile"] = {
        "optimizer": {"class_name": "Perceptron", "config": {"learning_rate": 0.01}},
        "metrics": ["accuracy"],
    }
    data = load_training_data(project, check_project(project))
    np.testing.assert_array_equal(data.y_train[:, 0], y)


def run_load_data(path: Path):
    """The exported script's load_data(), imported with a stand-in keras module."""
    saved = sys.modules.get("keras")
    stub = types.ModuleType("keras")
    stub.layers = types.ModuleType("keras.layers")
    sys.modules["keras"] = stub
    try:
        spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.load_data()
    finally:
        if saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = saved


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", ["npz", "npz_test", "npy", "idx"])
def test_the_exported_script_numbers_labels_as_the_engine_does(tmp_path, capsys, fmt, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2))
    y = rng.choice([-1, 3, 9], size=12)
    y[:3] = [-1, 3, 9]
    if fmt == "npz":
        np.savez(tmp_path / "d.npz", x=x, y=y)
        dataset = {"path": "d.npz"}
    elif fmt == "npz_test":
        np.savez(tmp_path / "d.npz", x_train=x[:8], y_train=y[3:11], x_test=x[8:], y_test=y[:4])
        dataset = {"path": "d.npz"}
    elif fmt == "npy":
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y.astype(np.float64))
        dataset = {"path": "x.npy"}
    else:
        write_idx(tmp_path / "c-images-idx3-ubyte", rng.integers(0, 256, (12, 1, 2), np.uint8))
        write_idx(tmp_path / "c-labels-idx1-ubyte", (y + 1).astype(np.uint8))
        dataset = {"path": "c-images-idx3-ubyte"}
    project = softmax_project(tmp_path, dataset, 2, 3, dtype=dtype)
    want = load_training_data(project, check_project(project))
    script = tmp_path / "exported.py"
    script.write_text(keras_code(project, script_dir=tmp_path), encoding="utf-8")
    got = run_load_data(script)
    (x_train, y_train), _ = got[:2]
    assert x_train.dtype == want.x_train.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x_train, want.x_train)
    np.testing.assert_array_equal(y_train, want.y_train)
    if want.x_test is not None:
        np.testing.assert_array_equal(got[2][1], want.y_test)
    # The script says which labels the classes stand for.
    names = want.dataset.class_names
    assert f"class labels {', '.join(names)} are the classes 0 to 2" in capsys.readouterr().out
