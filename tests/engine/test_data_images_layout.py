"""Image data know their image shape and reach the model in its ``input_shape`` (issue 15).

Every file is made on the fly in ``tmp_path`` (tiny .npz, IDX and .png files); no download.
The rules under test are :mod:`engine.data.layout`'s: the samples' own shape, their image shape
(H, W, C), or any shape of the same size when one side is flat; anything else is refused with a
message naming both shapes and the fix.
"""

from __future__ import annotations

import copy
import struct
import zipfile

import numpy as np
import pytest

from engine.data import BUILTIN_DATASETS, Dataset, load_dataset
from engine.data.idx import write_idx
from engine.data.layout import fit_to_input, input_layouts, layout_problem
from engine.errors import DataError, ValidationError
from engine.graph import build_graph
from engine.project import from_dict, seed_project
from engine.training import load_training_data
from engine.validate import data_fit_problems, image_input_hint


def _project(input_shape, layers, dataset, tmp_path=None, **extra):
    data = copy.deepcopy(seed_project().data)
    data["model"] = {"input_shape": list(input_shape), "layers": layers}
    data["dataset"] = dataset
    data["fit"] = {"epochs": 1, "batch_size": 16, "validation_split": 0.2, "seed": 3}
    data.update(extra)
    project = from_dict(data)
    if tmp_path is not None:
        project.path = tmp_path / "project.json"
    return project


def _dense(units=10, activation="softmax", name=None):
    config = {"units": units, "activation": activation}
    if name:
        config["name"] = name
    return {"class_name": "Dense", "config": config}


FLATTEN = {"class_name": "Flatten", "config": {}}


def _npz(path, x, y, **more):
    np.savez(path, x=x, y=y, **more)
    return path


# ------------------------------------------------------------------ each source's image shape


def test_npz_four_axes_keep_their_shape_and_are_images(tmp_path):
    x = np.random.default_rng(0).random((6, 5, 4, 3))
    _npz(tmp_path / "rgb.npz", x, np.arange(6) % 2)
    ds = load_dataset({"path": "rgb.npz"}, tmp_path)
    assert ds.feature_shape == (5, 4, 3)
    assert ds.image_shape == (5, 4, 3)
    np.testing.assert_array_equal(ds.x, x.astype(np.float32))


def test_npz_three_axes_are_one_channel_images(tmp_path):
    _npz(tmp_path / "gray.npz", np.ones((4, 7, 5)), np.arange(4) % 2)
    ds = load_dataset({"path": "gray.npz"}, tmp_path)
    assert ds.feature_shape == (7, 5)
    assert ds.image_shape == (7, 5, 1)


def test_flat_npz_and_tables_are_not_images(tmp_path):
    _npz(tmp_path / "flat.npz", np.ones((4, 12)), np.arange(4) % 2)
    assert load_dataset({"path": "flat.npz"}, tmp_path).image_shape is None
    assert load_dataset({"name": "iris"}).image_shape is None
    assert load_dataset({"name": "moons", "n_samples": 20}).image_shape is None


@pytest.mark.parametrize("dims, expected", [((6, 5), (6, 5, 1)), ((4, 3, 2), (4, 3, 2))])
def test_idx_images_are_flat_rows_with_their_image_shape(tmp_path, dims, expected):
    images = np.arange(5 * np.prod(dims), dtype=np.uint8).reshape((5, *dims))
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 0, 1, 1], np.uint8))
    ds = load_dataset({"path": "train-images-idx3-ubyte"}, tmp_path)
    assert ds.feature_shape == (int(np.prod(dims)),)
    assert ds.image_shape == expected
    # Flattened row-major, channels innermost: the (n, H, W, C) images come back by a reshape.
    np.testing.assert_allclose(ds.x.reshape((5, *expected)), images.reshape((5, *expected)) / 255)


def test_idx_test_images_of_another_size_are_refused(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 6, 4), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 0, 1], np.uint8))
    # The same 24 values per image, but 4 x 6: flat rows alone would not tell.
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 4, 6), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1], np.uint8))
    with pytest.raises(DataError) as info:
        load_dataset({"path": "train-images-idx3-ubyte"}, tmp_path)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte are 4 x 6" in message
    assert "training images are 6 x 4" in message


@pytest.mark.parametrize("color, channels", [("grayscale", 1), ("rgb", 3)])
def test_image_folder_has_height_width_channels(tmp_path, color, channels):
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls in ("cats", "dogs"):
        (tmp_path / "pics" / cls).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / cls / f"{i}.png")
    ds = load_dataset({"path": "pics/", "color": color}, tmp_path)
    assert ds.image_shape == (5, 7, channels)  # PIL's (width, height) 7 x 5 is 5 rows of 7
    assert ds.feature_shape == (5 * 7 * channels,)


def test_builtin_image_sets_say_their_image_shape():
    assert load_dataset({"name": "digits"}).image_shape == (8, 8, 1)
    assert BUILTIN_DATASETS["digits"].image_shape == (8, 8, 1)
    # MNIST and Fashion-MNIST need the Keras cache: their table says it without loading.
    assert BUILTIN_DATASETS["mnist"].image_shape == (28, 28, 1)
    assert BUILTIN_DATASETS["fashion_mnist"].image_shape == (28, 28, 1)
    assert BUILTIN_DATASETS["iris"].image_shape is None


def test_keras_cache_sets_carry_the_image_shape_when_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets"
    folder.mkdir()
    rng = np.random.default_rng(2)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_train=np.arange(20) % 10,
        x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_test=np.arange(5),
    )
    ds = load_dataset({"name": "mnist"})
    assert ds.feature_shape == (784,)
    assert ds.image_shape == (28, 28, 1)


# ------------------------------------------------------------------ the data meet the model


def test_digits_reach_an_image_input_as_images_and_a_flat_one_flat():
    spec = {"name": "digits", "scale": "standardize"}
    flat = _project([64], [_dense()], spec)
    image = _project([8, 8, 1], [FLATTEN, _dense()], spec)
    flat_data = load_training_data(flat, build_graph(flat))
    image_data = load_training_data(image, build_graph(image))
    assert flat_data.x_train.shape[1:] == (64,)
    assert image_data.x_train.shape[1:] == (8, 8, 1)
    assert image_data.x_val.shape[1:] == (8, 8, 1)
    # The same samples, split and standardized alike: only the layout differs (row-major,
    # channels innermost, Keras' Flatten order).
    n = len(flat_data.x_train)
    np.testing.assert_array_equal(image_data.x_train.reshape(n, 64), flat_data.x_train)
    np.testing.assert_array_equal(image_data.y_train, flat_data.y_train)
    np.testing.assert_array_equal(
        image_data.x_val.reshape(len(image_data.x_val), 64), flat_data.x_val
    )
    assert image_data.dataset.image_shape == (8, 8, 1)


def test_an_image_network_and_a_flat_one_train_to_the_same_weights_on_the_digits():
    """Flatten -> Dense on [8, 8, 1] is Dense on [64]: same data, same numbers."""
    from engine.training import Trainer, build_model

    spec = {"name": "digits", "scale": "standardize"}
    runs = []
    for shape, layers in (([64], [_dense(name="out")]), ([8, 8, 1], [FLATTEN, _dense(name="out")])):
        project = _project(shape, layers, spec)
        graph = build_graph(project)
        model = build_model(project, graph, "numpy")
        if runs:
            model.set_flat_weights(runs[0][0])
        start = {k: np.array(v) for k, v in model.flat_weights().items()}
        data = load_training_data(project, graph)
        for _ in Trainer(model, data, batch_size=64, shuffle=True, seed=3).run(epochs=1):
            pass
        runs.append((start, {k: np.array(v) for k, v in model.flat_weights().items()}))
    for name, value in runs[0][1].items():
        np.testing.assert_array_equal(np.asarray(runs[1][1][name]), np.asarray(value))


def test_npz_images_reach_a_flat_network_flat(tmp_path):
    x = np.random.default_rng(3).random((10, 4, 3, 2))
    _npz(tmp_path / "img.npz", x, np.arange(10) % 2)
    project = _project([24], [_dense(2)], {"path": "img.npz"}, tmp_path)
    data = load_training_data(project, build_graph(project))
    assert data.x_train.shape[1:] == (24,)
    four_d = _project([4, 3, 2], [FLATTEN, _dense(2)], {"path": "img.npz"}, tmp_path)
    data4 = load_training_data(four_d, build_graph(four_d))
    assert data4.x_train.shape[1:] == (4, 3, 2)
    np.testing.assert_array_equal(data4.x_train.reshape(-1, 24), data.x_train)


def test_input_layouts_of_images_and_tables():
    images = Dataset(x=np.zeros((2, 784)), y=np.zeros(2, np.int64), image_shape=(28, 28, 1))
    assert input_layouts(images) == [(784,), (28, 28, 1), (28, 28)]
    table = Dataset(x=np.zeros((2, 6)), y=np.zeros(2, np.int64))
    assert input_layouts(table) == [(6,)]
    assert layout_problem(table, [2, 3]) is None  # a flat row laid out as asked (Reshape)
    assert fit_to_input(table, [6]) is table


def test_images_in_a_scrambling_shape_are_refused_naming_both_shapes():
    images = Dataset(x=np.zeros((2, 784)), y=np.zeros(2, np.int64), image_shape=(28, 28, 1))
    message = layout_problem(images, [14, 56, 1])
    assert message is not None
    assert "(None, 784)" in message and "28x28 images with 1 channel" in message
    assert "(None, 14, 56, 1)" in message
    assert "set input_shape to [28, 28, 1] or use Match network to data" in message
    with pytest.raises(ValueError):
        fit_to_input(images, [10, 10, 1])


def test_wrong_size_input_is_a_validation_problem_naming_the_fix():
    project = _project([10, 10, 1], [FLATTEN, _dense()], {"name": "digits"})
    with pytest.raises(ValidationError) as info:
        load_training_data(project, build_graph(project))
    problems = [p for p in info.value.problems if p.field == "model.input_shape"]
    assert len(problems) == 1
    message = problems[0].message
    assert "(None, 10, 10, 1)" in message and "(None, 64)" in message
    assert "100 values per sample, the data have 64" in message
    assert "set input_shape to [8, 8, 1]" in message


def test_a_flat_table_into_a_flat_network_of_another_size_names_the_data_shape():
    project = _project([5], [_dense(3)], {"name": "iris"})
    problems = data_fit_problems(project, build_graph(project), load_dataset({"name": "iris"}))
    (problem,) = [p for p in problems if p.field == "model.input_shape"]
    assert "(None, 4)" in problem.message and "(None, 5)" in problem.message
    assert "set input_shape to [4]" in problem.message


def test_an_image_network_on_flat_data_that_are_not_images(tmp_path):
    # A global pooling layer takes (H, W, C) images; the iris table has 4 values per row.
    project = _project(
        [3, 3, 1], [{"class_name": "GlobalAveragePooling2D", "config": {}}, _dense(3)], None
    )
    graph = build_graph(project)
    problems = data_fit_problems(project, graph, load_dataset({"name": "iris"}))
    (problem,) = [p for p in problems if p.field == "model.input_shape"]
    pool = graph.nodes[0].name
    assert f"image layers ('{pool}')" in problem.message
    assert "(None, 4)" in problem.message and "not images" in problem.message


def test_a_flat_table_of_the_right_size_reaches_an_image_network_as_images(tmp_path):
    x = np.random.default_rng(4).random((8, 12))
    _npz(tmp_path / "rows.npz", x, np.arange(8) % 2)
    layers = [{"class_name": "GlobalAveragePooling2D", "config": {}}, _dense(2)]
    project = _project([2, 2, 3], layers, {"path": "rows.npz"}, tmp_path)
    data = load_training_data(project, build_graph(project))
    assert data.x_train.shape[1:] == (2, 2, 3)


# ------------------------------------------------------------------ hostile files


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_npz_with_a_huge_declared_four_axis_shape_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", _npy_header((10**6, 4096, 4096, 3)))
        archive.writestr("y.npy", _npy_header((3,), "<i8") + bytes(24))
    with pytest.raises(DataError) as info:
        load_dataset({"path": path.name}, tmp_path)
    message = str(info.value)
    assert str(path) in message and "'x'" in message


def test_npz_with_test_images_of_another_shape_is_refused(tmp_path):
    _npz(
        tmp_path / "mixed.npz",
        np.zeros((4, 5, 5, 1)),
        np.arange(4) % 2,
        x_test=np.zeros((2, 5, 5, 3)),
        y_test=np.arange(2),
    )
    with pytest.raises(DataError) as info:
        load_dataset({"path": "mixed.npz"}, tmp_path)
    assert "(5, 5, 3)" in str(info.value) and "(5, 5, 1)" in str(info.value)


def test_an_image_network_on_a_flat_input_hears_the_image_shape_without_a_graph():
    pool = {"class_name": "GlobalAveragePooling2D", "config": {}}
    project = _project([64], [pool, _dense()], {"name": "digits"})
    digits = load_dataset({"name": "digits"})
    hint = image_input_hint(project, digits)
    assert hint is not None and hint.field == "model.input_shape"
    assert "8x8 images with 1 channel" in hint.message
    assert "set input_shape to [8, 8, 1]" in hint.message
    assert image_input_hint(_project([8, 8, 1], [pool, _dense()], None), digits) is None
    assert image_input_hint(_project([64], [_dense()], None), digits) is None  # flat network
    assert image_input_hint(project, load_dataset({"name": "iris"})) is None  # not images
