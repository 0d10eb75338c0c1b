"""Tests for engine.data: built-in sets, npz files, the Keras cache, IDX, splits, standardizing."""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data import (
    BUILTIN_DATASETS,
    Dataset,
    Standardizer,
    dataset_param_problems,
    load_dataset,
    prepare,
    split_validation,
)
from engine.data.builtin import resolve_params
from engine.data.idx import read_idx, write_idx
from engine.errors import DataError

REPO = pathlib.Path(__file__).resolve().parents[2]
LOCAL = [name for name, info in BUILTIN_DATASETS.items() if info.source != "keras cache"]
GENERATED = [name for name, info in BUILTIN_DATASETS.items() if info.source == "generated"]


def save_npz(path: pathlib.Path, **arrays: np.ndarray) -> pathlib.Path:
    np.savez(path, **arrays)
    return path


# --------------------------------------------------------------------------------------------
# built-in sets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOCAL)
def test_builtin_loads_with_documented_shapes(name: str) -> None:
    info = BUILTIN_DATASETS[name]
    ds = load_dataset({"name": name})
    assert isinstance(ds, Dataset)
    assert ds.x.dtype == np.float32 and ds.x.ndim == 2
    assert ds.feature_shape == info.feature_shape
    assert ds.task == info.task
    assert np.isfinite(ds.x).all()
    assert name in ds.name and str(len(ds.x)) in ds.name
    if info.task == "classification":
        assert ds.y.dtype == np.int64 and ds.y.shape == (len(ds.x),)
        assert ds.n_classes == info.classes_for(resolve_params(name, {}))
        assert set(np.unique(ds.y)) == set(range(ds.n_classes))
        assert len(ds.class_names) == ds.n_classes
    else:
        assert ds.y.dtype == np.float32 and ds.y.shape == (len(ds.x), 1)
        assert ds.n_classes is None
    if info.source == "generated":
        assert len(ds.x) == info.params["n_samples"].default
    if ds.feature_names is not None:
        assert len(ds.feature_names) == ds.x.shape[1]


def test_builtin_real_tables_match_scikit_learn() -> None:
    digits = load_dataset({"name": "digits"})
    assert digits.x.shape == (1797, 64) and digits.x.min() == 0 and digits.x.max() == 16
    assert digits.class_names == [str(d) for d in range(10)]
    iris = load_dataset({"name": "iris"})
    assert iris.class_names == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal length (cm)"


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sets_are_deterministic_by_seed(name: str) -> None:
    a = load_dataset({"name": name, "seed": 3})
    b = load_dataset({"name": name, "seed": 3})
    c = load_dataset({"name": name, "seed": 4})
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sets_honour_n_samples_and_noise(name: str) -> None:
    small = load_dataset({"name": name, "n_samples": 123})
    assert small.x.shape == (123, 2) and small.y.shape == (123,)
    clean = load_dataset({"name": name, "n_samples": 2000, "noise": 0.0, "seed": 1})
    noisy = load_dataset({"name": name, "n_samples": 2000, "noise": 0.2, "seed": 1})
    # Only the noise differs: same labels, coordinates moved by N(0, 0.2).
    np.testing.assert_array_equal(clean.y, noisy.y)
    assert np.std(noisy.x - clean.x) == pytest.approx(0.2, rel=0.1)


def test_generated_sets_extra_params() -> None:
    spiral = load_dataset({"name": "spiral", "n_classes": 4, "n_samples": 401})
    assert spiral.n_classes == 4 and np.bincount(spiral.y).tolist() == [101, 100, 100, 100]
    blobs = load_dataset({"name": "blobs", "centers": 5, "noise": 0.01})
    assert blobs.n_classes == 5
    # Centres on the unit circle: with tiny noise every point is near radius 1.
    assert np.allclose(np.hypot(blobs.x[:, 0], blobs.x[:, 1]), 1.0, atol=0.05)
    circles = load_dataset({"name": "circles", "noise": 0.0, "factor": 0.3})
    radius = np.hypot(circles.x[:, 0], circles.x[:, 1])
    np.testing.assert_allclose(radius[circles.y == 1], 0.3, atol=1e-6)
    np.testing.assert_allclose(radius[circles.y == 0], 1.0, atol=1e-6)
    xor = load_dataset({"name": "xor", "noise": 0.0})
    np.testing.assert_array_equal(xor.y, (xor.x[:, 0] * xor.x[:, 1] > 0).astype(np.int64))
    assert np.abs(xor.x).min() >= 0.05  # kept away from the axes
    assert load_dataset({"name": "moons", "n_samples": 200.0}).x.shape == (200, 2)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"name": "moons", "nosie": 0.1}, "dataset.nosie: unknown parameter for 'moons'"),
        ({"name": "moons", "noise": "lots"}, "dataset.noise: must be a number"),
        ({"name": "moons", "noise": 5}, "dataset.noise: must be between 0 and 1"),
        ({"name": "moons", "noise": float("nan")}, "dataset.noise: must be a finite number"),
        ({"name": "moons", "n_samples": 10.5}, "dataset.n_samples: must be a whole number"),
        ({"name": "moons", "n_samples": True}, "dataset.n_samples: must be a number"),
        ({"name": "moons", "n_samples": 1}, "dataset.n_samples: must be between 2"),
        ({"name": "blobs", "centers": 5, "n_samples": 4}, "4 points cannot cover 5 classes"),
        ({"name": "iris", "seed": 1}, "dataset.seed: unknown parameter for 'iris'"),
        ({"name": "imagenet"}, "unknown built-in dataset 'imagenet'"),
        ({"name": 3}, "dataset.name: must be a string"),
        ({"name": "moons", "standardize": "yes"}, "dataset.standardize: must be true or false"),
        ({"path": "d.npz", "task": "clustering"}, "dataset.task: must be"),
        ({"path": "d.npz", "noise": 1}, "dataset.noise: unknown key for a file dataset"),
        ({"path": ""}, "dataset.path: must be a non-empty string"),
        ({"name": "moons", "path": "d.npz"}, "not both"),
        ({}, 'needs a "name"'),
        ([], "must be an object"),
    ],
)
def test_param_problems_are_listed_and_refused(spec: object, expected: str) -> None:
    problems = dataset_param_problems(spec)
    assert any(expected in p for p in problems), problems
    with pytest.raises(DataError, match="dataset"):
        load_dataset(spec)


def test_valid_specs_have_no_problems() -> None:
    assert dataset_param_problems({"name": "moons", "noise": 0.2, "standardize": True}) == []
    assert dataset_param_problems({"path": "d.npz", "task": "regression"}) == []
    for name, info in BUILTIN_DATASETS.items():
        defaults = {k: p.default for k, p in info.params.items()}
        assert dataset_param_problems({"name": name, **defaults}) == []


# --------------------------------------------------------------------------------------------
# npz files
# --------------------------------------------------------------------------------------------


def test_npz_x_y_layout_with_relative_path(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    (tmp_path / "sub").mkdir()
    save_npz(tmp_path / "sub" / "data.npz", x=x, y=y)
    ds = load_dataset({"path": "sub/data.npz"}, base_dir=tmp_path)
    assert ds.x.dtype == np.float32 and ds.x.shape == (30, 4)
    np.testing.assert_allclose(ds.x, x.astype(np.float32))
    assert ds.y.dtype == np.int64 and ds.y.tolist() == y.tolist()
    assert ds.task == "classification" and ds.n_classes == int(y.max()) + 1
    assert ds.x_test is None and ds.name == "data.npz (30 samples)"


def test_npz_keras_layout_with_test_set_and_names(tmp_path: pathlib.Path) -> None:
    path = save_npz(
        tmp_path / "d.npz",
        x_train=np.zeros((10, 2, 3), np.uint8),
        y_train=np.arange(10) % 2,
        x_test=np.ones((4, 2, 3), np.uint8),
        y_test=np.array([0, 1, 1, 0]),
        class_names=np.array(["cat", "dog"]),
    )
    ds = load_dataset({"path": str(path)})
    assert ds.x.shape == (10, 2, 3) and ds.feature_shape == (2, 3)
    assert ds.x_test.shape == (4, 2, 3) and ds.y_test.tolist() == [0, 1, 1, 0]
    assert ds.class_names == ["cat", "dog"] and ds.n_classes == 2
    assert "4 test" in ds.name


def test_npz_relative_path_defaults_to_cwd(tmp_path: pathlib.Path, monkeypatch) -> None:
    save_npz(tmp_path / "d.npz", x=np.zeros((3, 1)), y=np.array([0, 1, 0]))
    monkeypatch.chdir(tmp_path)
    assert load_dataset({"path": "d.npz"}).x.shape == (3, 1)


def test_npz_target_inference_and_task_override(tmp_path: pathlib.Path) -> None:
    x = np.zeros((5, 2))

    def load(y: np.ndarray, **spec: str) -> Dataset:
        save_npz(tmp_path / "d.npz", x=x, y=y)
        return load_dataset({"path": "d.npz", **spec}, base_dir=tmp_path)

    ds = load(np.array([0.0, 1.0, 2.0, 1.0, 0.0]))  # integer-valued floats: classes
    assert ds.task == "classification" and ds.y.dtype == np.int64 and ds.n_classes == 3
    ds = load(np.array([[0], [1], [1], [0], [1]]))  # (n, 1) labels
    assert ds.task == "classification" and ds.y.shape == (5,)
    ds = load(np.array([0.5, 1.0, 2.0, 1.0, 0.0]))  # a fraction: regression, (n, 1)
    assert ds.task == "regression" and ds.y.shape == (5, 1) and ds.y.dtype == np.float32
    ds = load(np.arange(10).reshape(5, 2))  # 2-D with k > 1: regression
    assert ds.task == "regression" and ds.y.shape == (5, 2) and ds.n_classes is None
    ds = load(np.array([1, 2, 3, 4, 5]), task="regression")
    assert ds.task == "regression" and ds.y.shape == (5, 1)
    ds = load(np.eye(3)[[0, 1, 2, 2, 0]], task="classification")  # one-hot rows
    assert ds.y.tolist() == [0, 1, 2, 2, 0] and ds.n_classes == 3
    ds = load(np.array([True, False, True, True, False]))
    assert ds.task == "classification" and ds.n_classes == 2
    ds = load(np.array([1.0, 0.0, 1.0, 1.0, 0.0]), task="regression")
    assert ds.task == "regression"


def bad_npz_cases() -> list[tuple[str, dict, dict, list[str]]]:
    x = np.zeros((20, 5))
    y = np.zeros(20, dtype=int)
    x_nan = x.copy()
    x_nan[17, 3] = np.nan
    y_inf = np.zeros(20)
    y_inf[4] = np.inf
    x_big = x.copy()
    x_big[2, 1] = 1e300
    y_neg = y.copy()
    y_neg[6] = -1
    return [
        ("mismatch", {"x": x, "y": y[:19]}, {}, ["'x' has 20 rows", "'y' has 19"]),
        ("nan", {"x_train": x_nan, "y_train": y}, {}, ["x_train[17, 3] is nan"]),
        ("inf", {"x": x, "y": y_inf}, {}, ["y[4] is inf"]),
        ("too big", {"x": x_big, "y": y}, {}, ["x[2, 1] is 1e+300", "float32"]),
        # Labels index 'class_names' when it is given (any labels without it: test_labels.py).
        (
            "negative",
            {"x": x, "y": y_neg, "class_names": np.array(["a", "b"])},
            {},
            ["y[6] is -1", "0 or more"],
        ),
        ("text", {"x": np.array([["a"]] * 20), "y": y}, {}, ["'x' has dtype <U1", "not numbers"]),
        ("complex", {"x": x + 1j, "y": y}, {}, ["'x' has dtype complex128"]),
        ("missing y", {"x": x, "z": y}, {}, ["missing key 'y'", "keys present: 'x', 'z'"]),
        ("missing all", {"a": x}, {}, ["missing key 'x' and 'y'", "keys present: 'a'"]),
        ("both layouts", {"x": x, "y": y, "x_train": x, "y_train": y}, {}, ["both 'x'"]),
        ("test half", {"x": x, "y": y, "x_test": x}, {}, ["missing key 'y_test'"]),
        (
            "test shape",
            {"x": x, "y": y, "x_test": np.zeros((3, 4)), "y_test": np.zeros(3, int)},
            {},
            ["'x_test' rows have shape (4,)", "(5,)"],
        ),
        ("empty", {"x": np.zeros((0, 5)), "y": np.zeros(0)}, {}, ["'x' has no rows"]),
        ("scalar y", {"x": x, "y": np.array(3)}, {}, ["'y' is a single value"]),
        ("3-D y", {"x": x, "y": np.zeros((20, 2, 2))}, {}, ["'y' has shape (20, 2, 2)"]),
        (
            "fraction class",
            {"x": x, "y": np.full(20, 0.5)},
            {"task": "classification"},
            ["y[0] is 0.5", "not a class index"],
        ),
        (
            "not one-hot",
            {"x": x, "y": np.ones((20, 3))},
            {"task": "classification"},
            ["row 0 is not a one-hot"],
        ),
        ("many classes", {"x": x, "y": np.arange(20) * 1000}, {}, ["19000", '"regression"']),
        (
            "class names",
            {"x": x, "y": np.arange(20) % 3, "class_names": np.array(["a", "b"])},
            {},
            ["'class_names' has 2 names", "3 classes"],
        ),
        (
            "names dtype",
            {"x": x, "y": y, "feature_names": np.arange(5)},
            {},
            ["'feature_names' must be a 1-D array of strings"],
        ),
    ]


@pytest.mark.parametrize(
    ("arrays", "spec", "fragments"),
    [case[1:] for case in bad_npz_cases()],
    ids=[case[0] for case in bad_npz_cases()],
)
def test_npz_errors_name_the_key_and_index(
    tmp_path: pathlib.Path, arrays: dict, spec: dict, fragments: list[str]
) -> None:
    path = save_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as info:
        load_dataset({"path": "bad.npz", **spec}, base_dir=tmp_path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_npz_missing_file_names_the_resolved_path(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        load_dataset({"path": "nowhere/d.npz"}, base_dir=tmp_path)
    assert str(tmp_path / "nowhere" / "d.npz") in str(info.value)


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path: pathlib.Path) -> None:
    x = np.empty((3, 1), dtype=object)
    x[:] = [[1], [2], [3]]
    np.savez(tmp_path / "o.npz", x=x, y=np.zeros(3, int))
    with pytest.raises(DataError, match="key 'x' holds Python objects"):
        load_dataset({"path": "o.npz"}, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"x,y\n1,2\n", "not an .npz archive"),
        (b"", "not an .npz archive"),
        (b"PK\x03\x04 broken zip", "damaged .npz"),
    ],
)
def test_npz_not_an_archive(tmp_path: pathlib.Path, content: bytes, expected: str) -> None:
    (tmp_path / "d.npz").write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def test_npy_and_folder_are_explained(tmp_path: pathlib.Path) -> None:
    with open(tmp_path / "d.npz", "wb") as f:  # a file handle stops np.save adding .npy
        np.save(f, np.zeros(3))
    with pytest.raises(DataError, match=r"single-array \.npy"):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        load_dataset({"path": "folder.npz"}, base_dir=tmp_path)


def test_npz_truncated_member_header_is_checked_before_reading(tmp_path: pathlib.Path) -> None:
    # A member whose header promises far more data than it holds must not allocate it.
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(4))
    raw = buf.getvalue().replace(b"(4,)", b"(4000000000,)".ljust(4, b" "), 1)
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as zf:
        zf.writestr("x.npy", raw)
        zf.writestr("y.npy", raw)
    with pytest.raises(DataError, match="key 'x' is") as info:
        load_dataset({"path": "t.npz"}, base_dir=tmp_path)
    assert "t.npz" in str(info.value)


def _valid_npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.arange(12.0).reshape(6, 2), y=np.array([0, 1, 0, 1, 1, 0]))
    return buf.getvalue()


VALID_NPZ = _valid_npz_bytes()


@st.composite
def damaged_npz(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["random", "zip-prefixed", "mutated", "truncated"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "zip-prefixed":
        return b"PK\x03\x04" + draw(st.binary(max_size=300))
    if kind == "truncated":
        return VALID_NPZ[: draw(st.integers(0, len(VALID_NPZ)))]
    data = bytearray(VALID_NPZ)
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(content=damaged_npz())
def test_arbitrary_bytes_load_or_raise_data_error(tmp_path: pathlib.Path, content: bytes) -> None:
    (tmp_path / "fuzz.npz").write_bytes(content)
    try:
        ds = load_dataset({"path": "fuzz.npz"}, base_dir=tmp_path)
    except DataError as exc:
        assert "fuzz.npz" in str(exc)
        return
    assert np.isfinite(ds.x).all() and len(ds.x) == len(ds.y)
    if ds.task == "regression":
        assert np.isfinite(ds.y).all()
    else:
        assert ds.y.dtype == np.int64 and ds.y.min() >= 0


# --------------------------------------------------------------------------------------------
# Keras cache: MNIST and Fashion-MNIST
# --------------------------------------------------------------------------------------------


@pytest.fixture
def keras_home(tmp_path: pathlib.Path, monkeypatch) -> pathlib.Path:
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _fake_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, np.uint8)


def test_mnist_from_fake_keras_cache(keras_home: pathlib.Path) -> None:
    (x_train, y_train), (x_test, y_test) = _fake_images(12, 0), _fake_images(5, 1)
    x_train[0, 0, 0], x_train[0, 0, 1] = 255, 0
    np.savez(
        keras_home / "datasets" / "mnist.npz",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
    )
    ds = load_dataset({"name": "mnist"})
    assert ds.x.shape == (12, 784) and ds.x.dtype == np.float32
    assert ds.x[0, 0] == 1.0 and ds.x[0, 1] == 0.0 and ds.x.max() <= 1.0
    np.testing.assert_allclose(ds.x_test, x_test.reshape(5, 784) / 255.0, rtol=1e-6)
    assert ds.y.dtype == np.int64 and ds.y.tolist() == y_train.tolist()
    assert ds.n_classes == 10 and ds.class_names[3] == "3"
    assert ds.feature_shape == BUILTIN_DATASETS["mnist"].feature_shape


def test_mnist_absent_says_where_and_how(keras_home: pathlib.Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset({"name": "mnist"})
    message = str(info.value)
    assert "MNIST is not in the Keras cache" in message
    assert str(keras_home / "datasets" / "mnist.npz") in message
    assert 'python -c "import keras; keras.datasets.mnist.load_data()"' in message
    assert "also looked" not in message  # a writable KERAS_HOME has no /tmp fallback


def test_mnist_damaged_cache_file(keras_home: pathlib.Path) -> None:
    np.savez(
        keras_home / "datasets" / "mnist.npz",
        x_train=np.zeros((3, 28, 27), np.uint8),
        y_train=np.zeros(3, np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.zeros(1, np.uint8),
    )
    with pytest.raises(DataError, match=r"'x_train' should be uint8 images .* \(3, 28, 27\)"):
        load_dataset({"name": "mnist"})


def test_fashion_mnist_from_fake_keras_cache(keras_home: pathlib.Path) -> None:
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir()
    (x_train, y_train), (x_test, y_test) = _fake_images(7, 2), _fake_images(3, 3)
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    with pytest.raises(DataError) as info:
        load_dataset({"name": "fashion_mnist"})
    assert "Fashion-MNIST is not in the Keras cache" in str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert "keras.datasets.fashion_mnist.load_data()" in str(info.value)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test)
    ds = load_dataset({"name": "fashion_mnist"})
    assert ds.x.shape == (7, 784) and ds.x_test.shape == (3, 784)
    np.testing.assert_allclose(ds.x, x_train.reshape(7, -1) / 255.0, rtol=1e-6)
    assert ds.y_test.tolist() == y_test.tolist() and ds.class_names[9] == "Ankle boot"


# --------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path: pathlib.Path, suffix: str, dtype: str) -> None:
    array = (np.arange(60) - 20).reshape(3, 4, 5).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_matches_the_mnist_layout(tmp_path: pathlib.Path) -> None:
    # Keras reads labels with offset 8 and images with offset 16: check our bytes agree.
    labels = np.array([7, 2, 1], np.uint8)
    write_idx(tmp_path / "l", labels)
    raw = (tmp_path / "l").read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 3]) and raw[8:] == labels.tobytes()


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


GOOD_IDX = _idx_bytes(np.zeros((2, 3), np.uint8))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x01\x00\x08\x01" + GOOD_IDX[4:], "does not start with two zero bytes"),
        (b"\x00\x00\x07\x02" + GOOD_IDX[4:], "unknown type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (GOOD_IDX[:6], "truncated"),
        (GOOD_IDX[:-1], "need 6 bytes of data, the file holds 5"),
        (GOOD_IDX + b"\x00", "the file holds more than that"),
        (b"\x00\x00", "truncated"),
        (gzip.compress(GOOD_IDX)[:-10], "corrupt gzip"),
        (b"\x1f\x8b" + b"not gzip at all", "corrupt gzip"),
    ],
)
def test_corrupt_idx_raises_data_error(
    tmp_path: pathlib.Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DataError, match="IDX file not found"):
        read_idx(tmp_path / "none.gz")


# --------------------------------------------------------------------------------------------
# split, standardize, prepare
# --------------------------------------------------------------------------------------------


def test_split_sizes_seed_and_coverage() -> None:
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50) % 2
    x_tr, y_tr, x_va, y_va = split_validation(x, y, 0.2, seed=1)
    assert len(x_tr) == len(y_tr) == 40 and len(x_va) == len(y_va) == 10
    assert sorted(np.concatenate([x_tr[:, 0], x_va[:, 0]]).tolist()) == x[:, 0].tolist()
    np.testing.assert_array_equal(y_tr, x_tr[:, 0].astype(int) // 2 % 2)  # rows stay paired
    again = split_validation(x, y, 0.2, seed=1)
    other = split_validation(x, y, 0.2, seed=2)
    np.testing.assert_array_equal(again[2], x_va)
    assert not np.array_equal(other[2], x_va)
    assert split_validation(x, y, 0.0, seed=1)[2:] == (None, None)
    assert len(split_validation(x, y, 0.001, seed=1)[2]) == 1  # at least one sample
    assert len(split_validation(x, y, 0.999, seed=1)[0]) == 1  # at least one left to train


def test_split_is_stratified() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    x = np.zeros((100, 1))
    _, y_tr, _, y_va = split_validation(x, y, 0.2, seed=5)
    assert np.bincount(y_va).tolist() == [12, 6, 2]
    assert np.bincount(y_tr).tolist() == [48, 24, 8]
    _, _, _, y_va = split_validation(x, y, 0.25, seed=5)  # 25 = 15 + 7.5 + 2.5
    assert len(y_va) == 25 and np.bincount(y_va)[0] == 15
    _, _, _, y_flat = split_validation(x, y, 0.2, seed=5, stratify=False)
    assert len(y_flat) == 20


def test_split_regression_targets_and_errors() -> None:
    x, y = np.zeros((10, 3)), np.zeros((10, 2), np.float32)
    assert split_validation(x, y, 0.3, seed=0)[3].shape == (3, 2)
    for bad in (1.0, -0.1, float("nan"), "0.2", True):
        with pytest.raises(DataError, match="validation_split"):
            split_validation(x, y, bad, seed=0)
    with pytest.raises(DataError, match="at least 2 samples"):
        split_validation(x[:1], y[:1], 0.5, seed=0)


def test_standardizer_statistics_and_round_trip() -> None:
    x = np.array([[1.0, 5.0, 0.1], [3.0, 5.0, 0.1], [5.0, 5.0, 0.1]], np.float32)
    st_ = Standardizer().fit(x)
    np.testing.assert_allclose(st_.mean, [3.0, 5.0, 0.1], rtol=1e-6)
    np.testing.assert_allclose(st_.std, [np.sqrt(8 / 3), 1.0, 1.0], rtol=1e-6)
    z = st_.transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:, 1:], 0.0, atol=1e-7)  # constant features map to 0
    np.testing.assert_allclose(st_.inverse_transform(z), x, rtol=1e-6)
    again = Standardizer.from_dict(json.loads(json.dumps(st_.to_dict(), allow_nan=False)))
    np.testing.assert_array_equal(again.transform(x), z)
    images = np.random.default_rng(0).normal(size=(8, 2, 3))
    assert Standardizer().fit(images).mean.shape == (2, 3)
    with pytest.raises(DataError, match=r"fitted on samples of shape \(3,\)"):
        st_.transform(np.zeros((2, 4)))
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(x)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"mean": [0.0]}, "missing key 'std'"),
        ({"mean": [0.0], "std": [0.0]}, "above 0"),
        ({"mean": [0.0, 1.0], "std": [1.0]}, "mean has shape"),
        ({"mean": ["a"], "std": [1.0]}, "standardizer.mean"),
        ({"mean": [float("nan")], "std": [1.0]}, "NaN"),
        ([1, 2], "expected an object"),
    ],
)
def test_standardizer_from_dict_errors(data: object, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        Standardizer.from_dict(data)


def test_prepare_fits_standardizer_on_training_split_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    x[:, 0] += np.arange(200)  # a trend: train and validation means differ clearly
    y = (np.arange(200) % 2).astype(np.int64)
    x_test = rng.normal(size=(20, 3)).astype(np.float32)
    ds = Dataset(x=x, y=y, x_test=x_test, y_test=y[:20], n_classes=2)
    p = prepare(ds, validation_split=0.25, seed=0, standardize=True, dtype=np.float64)
    x_tr, _, x_va, _ = split_validation(x, y, 0.25, seed=0)
    np.testing.assert_allclose(p.standardizer.mean, x_tr.astype(np.float64).mean(0), rtol=1e-6)
    assert not np.allclose(p.standardizer.mean, x.mean(0))
    np.testing.assert_allclose(p.x_train.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(p.x_train.std(0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p.x_val, p.standardizer.transform(x_va.astype(np.float64)))
    np.testing.assert_allclose(p.x_test, p.standardizer.transform(x_test.astype(np.float64)))
    assert p.x_train.dtype == p.x_val.dtype == p.x_test.dtype == np.float64
    assert p.y_train.dtype == p.y_val.dtype == p.y_test.dtype == np.int64
    assert len(p.x_train) == 150 and len(p.x_val) == 50


def test_prepare_without_split_or_standardizing() -> None:
    ds = Dataset(x=np.ones((6, 2), np.float32), y=np.ones((6, 1), np.float32), task="regression")
    p = prepare(ds, validation_split=0.0, seed=0, standardize=False, dtype="float32")
    assert p.x_val is None and p.y_val is None and p.standardizer is None
    assert p.x_test is None and p.y_test is None
    assert p.x_train.dtype == np.float32 and p.y_train.shape == (6, 1)
    p64 = prepare(ds, validation_split=0.5, seed=0, standardize=False, dtype=np.float64)
    assert p64.y_train.dtype == np.float64 and len(p64.x_val) == 3  # regression: random split
    with pytest.raises(ValueError, match="floating"):
        prepare(ds, validation_split=0.0, seed=0, standardize=False, dtype=np.int32)


# --------------------------------------------------------------------------------------------
# imports
# --------------------------------------------------------------------------------------------


def test_import_engine_data_loads_no_heavy_modules() -> None:
    code = (
        "import sys, engine.data, engine.data.idx\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'tensorflow', 'keras', 'PySide6', 'pyqtgraph', 'scipy')]\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
