"""Tests for loading the user's data files: CSV/TSV tables, .npy pairs, IDX, image folders;
their error messages; scaling and test splits; matching the network to the data."""

from __future__ import annotations

import copy
import gzip
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import (
    Dataset,
    MinMaxScaler,
    Standardizer,
    TableError,
    class_balance,
    dataset_param_problems,
    detect_format,
    load_dataset,
    prepare,
    preview_table,
    relative_data_path,
    scale_of,
    scaler_from_dict,
    split_test,
    split_validation,
)
from engine.data.idx import find_labels_file, write_idx
from engine.data.match import match_network_to_data, output_layer_name
from engine.errors import DataError

IRIS_LIKE = (
    "sepal length,sepal width,species\n"
    "5.1,3.5,setosa\n"
    "4.9,3.0,setosa\n"
    "7.0,3.2,versicolor\n"
    "6.4,3.2,versicolor\n"
    "6.3,3.3,virginica\n"
    "5.8,2.7,virginica\n"
)


def write(tmp_path: pathlib.Path, name: str, content: str | bytes, encoding="utf-8"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


def load(tmp_path: pathlib.Path, name: str, **spec) -> Dataset:
    return load_dataset({"path": name, **spec}, base_dir=tmp_path)


def error_of(tmp_path: pathlib.Path, name: str, **spec) -> str:
    with pytest.raises(DataError) as info:
        load(tmp_path, name, **spec)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# CSV / TSV: formats that load
# --------------------------------------------------------------------------------------------


def test_csv_text_target_keeps_class_names_and_feature_names(tmp_path) -> None:
    write(tmp_path, "iris.csv", IRIS_LIKE)
    ds = load(tmp_path, "iris.csv")
    assert ds.x.dtype == np.float32 and ds.x.shape == (6, 2)
    np.testing.assert_allclose(ds.x[0], [5.1, 3.5], rtol=1e-6)
    assert ds.task == "classification" and ds.n_classes == 3
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.feature_names == ["sepal length", "sepal width"]
    assert ds.target_names == ["species"]
    assert ds.name == "iris.csv (6 samples)"
    assert ds.detected == {
        "delimiter": ",",
        "header": True,
        "encoding": "utf-8",
        "decimal": ".",
        "target": "species",
        "features": ["sepal length", "sepal width"],
        "task": "classification",
    }
    assert class_balance(ds) == [("setosa", 2), ("versicolor", 2), ("virginica", 2)]


def test_csv_detected_options_pin_the_same_arrays(tmp_path) -> None:
    write(tmp_path, "iris.csv", IRIS_LIKE)
    ds = load(tmp_path, "iris.csv")
    pinned = load(tmp_path, "iris.csv", **ds.detected)
    np.testing.assert_array_equal(pinned.x, ds.x)
    np.testing.assert_array_equal(pinned.y, ds.y)
    assert pinned.class_names == ds.class_names


def test_csv_utf8_bom_and_crlf(tmp_path) -> None:
    write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + IRIS_LIKE.replace("\n", "\r\n").encode())
    ds = load(tmp_path, "bom.csv")
    assert ds.feature_names[0] == "sepal length"  # no BOM glued to the first name
    assert ds.detected["encoding"] == "utf-8" and ds.x.shape == (6, 2)


def test_csv_latin1_falls_back_and_says_so(tmp_path) -> None:
    text = "taille;poids;espèce\n1,5;2;café\n2,5;3;thé\n3,5;4;café\n"
    write(tmp_path, "fr.csv", text, encoding="latin-1")
    ds = load(tmp_path, "fr.csv")
    assert ds.class_names == ["café", "thé"]
    assert ds.feature_names == ["taille", "poids"]
    assert ds.detected["encoding"] in ("cp1252", "latin-1")
    assert ds.detected["delimiter"] == ";" and ds.detected["decimal"] == ","
    np.testing.assert_allclose(ds.x[:, 0], [1.5, 2.5, 3.5])
    assert any("not UTF-8" in note and "line 1" in note for note in ds.notes)
    explicit = load(tmp_path, "fr.csv", encoding="latin-1")
    assert explicit.class_names == ["café", "thé"] and explicit.notes[:1] != ds.notes[:1]


def test_csv_quoted_fields_with_delimiters_quotes_and_newlines(tmp_path) -> None:
    text = 'label,"x, first","y ""second"""\n"a, b",1.5,2\n"line\nbreak",3,4\n"a, b",5,6\n'
    write(tmp_path, "q.csv", text)
    ds = load(tmp_path, "q.csv", target="label")
    assert ds.feature_names == ["x, first", 'y "second"']
    assert ds.class_names == ["a, b", "line\nbreak"]
    assert ds.y.tolist() == [0, 1, 0]
    np.testing.assert_allclose(ds.x, [[1.5, 2], [3, 4], [5, 6]])


@pytest.mark.parametrize(
    ("name", "delimiter"), [("t.tsv", "\t"), ("s.csv", ";"), ("p.txt", "|"), ("c.dat", ",")]
)
def test_csv_delimiters_are_sniffed(tmp_path, name: str, delimiter: str) -> None:
    rows = ["a", "b", "target"], ["1.0", "2.0", "0"], ["3.0", "4.5", "1"], ["5.0", "6.0", "0"]
    write(tmp_path, name, "\n".join(delimiter.join(r) for r in rows) + "\n")
    ds = load(tmp_path, name)
    assert ds.detected["delimiter"] == delimiter
    np.testing.assert_allclose(ds.x, [[1, 2], [3, 4.5], [5, 6]])
    assert ds.y.tolist() == [0, 1, 0]


def test_csv_without_header_and_index_targets(tmp_path) -> None:
    write(tmp_path, "nh.csv", "1,0.5,2.5\n0,1.5,3.5\n1,2.5,4.5\n0,3.5,5.5\n")
    ds = load(tmp_path, "nh.csv", target=0)
    assert ds.detected["header"] is False
    assert ds.feature_names == ["column 2", "column 3"] and ds.target_names == ["column 1"]
    assert ds.y.tolist() == [1, 0, 1, 0] and ds.x.shape == (4, 2)
    # A string that names no column but reads as an integer is an index (the CLI's --target).
    assert load(tmp_path, "nh.csv", target="0").y.tolist() == ds.y.tolist()
    last = load(tmp_path, "nh.csv", target=-1, task="regression")
    np.testing.assert_allclose(last.y[:, 0], [2.5, 3.5, 4.5, 5.5])
    forced = load(tmp_path, "nh.csv", header=True)  # the first row becomes the names
    assert forced.feature_names == ["1", "0.5"] and forced.n_samples == 3


def test_csv_numeric_targets_few_values_are_classes_else_regression(tmp_path) -> None:
    write(tmp_path, "cls.csv", "x,grade\n0.1,3\n0.2,1\n0.3,2\n0.4,3\n")
    ds = load(tmp_path, "cls.csv")
    assert ds.task == "classification" and ds.class_names == ["1", "2", "3"]
    assert ds.y.tolist() == [2, 0, 1, 2]
    assert any("read as classes" in note for note in ds.notes)
    forced = load(tmp_path, "cls.csv", task="regression")
    assert forced.task == "regression" and forced.y[:, 0].tolist() == [3, 1, 2, 3]

    write(tmp_path, "reg.csv", "x,price\n1,10.5\n2,11.25\n3,9.75\n4,10.0\n")
    reg = load(tmp_path, "reg.csv")
    assert reg.task == "regression" and reg.y.dtype == np.float32 and reg.y.shape == (4, 1)
    assert reg.n_classes is None and reg.class_names is None and class_balance(reg) == []

    many = "x,count\n" + "".join(f"{i},{i}\n" for i in range(30))
    write(tmp_path, "many.csv", many)
    assert load(tmp_path, "many.csv").task == "regression"  # 30 distinct whole numbers


def test_csv_feature_selection_and_several_targets(tmp_path) -> None:
    text = "id,a,b,c,t1,t2\n" + "".join(
        f"r{i},{i},{i * 2},{i * 3},{i + 0.5},{i - 0.5}\n" for i in range(5)
    )
    write(tmp_path, "multi.csv", text)
    ds = load(tmp_path, "multi.csv", target=["t1", "t2"], features=["c", 1])
    assert ds.feature_names == ["c", "a"] and ds.x[:, 0].tolist() == [0, 3, 6, 9, 12]
    assert ds.task == "regression" and ds.y.shape == (5, 2)
    assert ds.target_names == ["t1", "t2"]
    # By default a text column ("id") is left out, with a note.
    default = load(tmp_path, "multi.csv", target="t1")
    assert default.feature_names == ["a", "b", "c", "t2"]
    assert any("column 'id' holds text" in note for note in default.notes)


def test_csv_blank_lines_are_skipped_but_counted_in_row_numbers(tmp_path) -> None:
    write(tmp_path, "gaps.csv", "a,y\n1,0\n\n2,1\n,\nx,0\n\n")
    message = error_of(tmp_path, "gaps.csv", features=["a"])
    assert "row 6, column 'a': 'x' is not a number" in message
    write(tmp_path, "ok.csv", "a,y\n1,0\n\n2,1\n\n\n3,0\n")
    assert load(tmp_path, "ok.csv").n_samples == 3


def test_csv_trailing_delimiters_are_tolerated(tmp_path) -> None:
    write(tmp_path, "trail.csv", "a,b,y,\n1,2,0,\n3,4,1,\n5,6,0,,\n")
    ds = load(tmp_path, "trail.csv")
    assert ds.feature_names == ["a", "b"] and ds.y.tolist() == [0, 1, 0]
    write(tmp_path, "trail_nh.csv", "1,2,0,\n3,4,1,\n5,6,0,\n")
    headerless = load(tmp_path, "trail_nh.csv")
    assert headerless.feature_names == ["column 1", "column 2"] and headerless.y.tolist() == [
        0,
        1,
        0,
    ]


def test_preview_table_reports_what_was_detected(tmp_path) -> None:
    write(tmp_path, "p.csv", IRIS_LIKE.replace(",", ";").replace("5.1", "n/a"))
    preview = preview_table({"path": "p.csv"}, base_dir=tmp_path, n_rows=2)
    assert preview.columns == ["sepal length", "sepal width", "species"]
    assert preview.rows == [["n/a", "3.5", "setosa"], ["4.9", "3.0", "setosa"]]
    assert preview.row_numbers == [2, 3]
    assert (preview.delimiter, preview.encoding, preview.header) == (";", "utf-8", True)
    assert preview.kinds == ["numeric", "numeric", "text"]
    assert preview.bad_cells == [1, 0, 0]
    assert preview.n_rows == 6 and preview.n_distinct == [6, 5, 3]
    assert preview.suggested_task == "classification"


# --------------------------------------------------------------------------------------------
# CSV: every failure names the file, row, column and the bad values
# --------------------------------------------------------------------------------------------


def test_text_in_a_numeric_column_at_row_902(tmp_path) -> None:
    rows = [f"{i % 7}.5,{i % 3}" for i in range(1500)]
    rows[900] = "n/a,1"  # data row 901 = spreadsheet row 902 (the header is row 1)
    rows[1200] = "seven,2"
    rows[1300] = ",0"
    path = write(tmp_path, "data.csv", "petal,species\n" + "\n".join(rows) + "\n")
    with pytest.raises(TableError) as info:
        load(tmp_path, "data.csv")
    message = str(info.value)
    assert message.startswith(f"{path}, row 902, column 'petal': 'n/a'")
    assert "also row 1202: 'seven'; row 1302: blank" in message
    assert info.value.row == 902 and info.value.column == 0


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ["the file is empty"]),
        ("\n \n\n", ["the file is empty"]),
        (",,\n,,\n", ["holds no values"]),
        ("a,b,c\n", ["a header but no data rows"]),
        (
            "a,b,c\n1,2,0\n3,4\n5,6,7,8\n",
            ["row 3: 2 values where the header has 3", "'3', '4'", "also row 4 has 4"],
        ),
        ("a,b,c\n1,2,0\n1, ,1\n3,4,0\n", ["row 3, column 'b': the cell is blank"]),
        ("a,b,c\n1,2,0\n1,NA,1\n", ["row 3, column 'b': 'NA' marks a missing value"]),
        (
            "a,b,c\n1,2,0\n1,nan,1\n3,inf,0\n4,1e999,1\n",
            ["row 3, column 'b': 'nan'", "row 4: 'inf'; row 5: '1e999'", "finite"],
        ),
        ("a,b,c\n1,2,0\n4,1e39,1\n", ["row 3, column 'b': '1e39' is too large"]),
        ("a,b,c\n1,2,x\n1,3,x\n", ["column 'c': the target holds a single class, 'x'"]),
        ("a,b,c\n1,2,x\n1,3,\n", ["row 3, column 'c': the target cell is blank"]),
        ("a,b,c\n1,2,1.5\n1,oops,2.5\n", ["row 3, column 'b': 'oops' is not a number"]),
        ("a,b,c\n1,2,1.5\n2,3,n/a\n3,3,2.5\n", ["row 3, column 'c': 'n/a' marks a missing"]),
        ('a,b,c\n1,2,0\n"3,4,1\n5,6,0\n', ["row 3: 1 value", "closing quote missing"]),
        ("name,y\nbob,1\nal,2\n", ["no feature columns"]),
        ("a;b;y\n1,5;2;0\n2,5;3;1\n", []),  # decimal commas: loads
    ],
)
def test_csv_errors(tmp_path, content: str, fragments: list[str]) -> None:
    path = write(tmp_path, "bad.csv", content)
    if not fragments:
        assert load(tmp_path, "bad.csv").x.shape == (2, 2)
        return
    message = error_of(tmp_path, "bad.csv")
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_csv_spec_errors_name_the_columns(tmp_path) -> None:
    write(tmp_path, "iris.csv", IRIS_LIKE)
    message = error_of(tmp_path, "iris.csv", target="specis")
    assert "no column named 'specis' (did you mean 'species'?)" in message
    assert "'sepal length', 'sepal width', 'species'" in message
    assert "index 5 is out of range" in error_of(tmp_path, "iris.csv", target=5)
    assert "is both the target and a feature" in error_of(
        tmp_path, "iris.csv", features=["species"]
    )
    text_feature = error_of(tmp_path, "iris.csv", target=0, features=["species"])
    assert "row 2, column 'species': 'setosa' is not a number" in text_feature
    assert "not numbers to predict" in error_of(tmp_path, "iris.csv", task="regression")
    write(tmp_path, "dup.csv", "a,a,y\n1,2,0\n3,4,1\n")
    assert "2 columns are named 'a'" in error_of(tmp_path, "dup.csv", features=["a"])
    assert load(tmp_path, "dup.csv", features=[0, 1]).x.shape == (2, 2)


@pytest.mark.parametrize(
    ("content", "spec", "fragment"),
    [
        ("a,b\n1,2\n".encode("utf-16"), {}, "UTF-16 text, which is not supported"),
        (b"\xef\xbb\xbfa,b\n\xe9,1\n", {}, "line 2 holds byte 0xe9, which is not UTF-8"),
        (b"a,b\n\xe9,1\n", {"encoding": "utf-8"}, "line 2 holds byte 0xe9, which is not utf-8"),
        (b"a,b\n1,\x00\x01\x02\n", {}, "binary data (character 0x00 on line 2)"),
        (b"PK\x03\x04\x14\x00\x06\x00", {}, "zip archive (an Excel .xlsx workbook"),
        (gzip.compress(b"a,b\n1,2\n"), {}, "gzip-compressed"),
    ],
)
def test_csv_encoding_and_binary_errors(tmp_path, content: bytes, spec: dict, fragment: str):
    path = write(tmp_path, "enc.csv", content)
    message = error_of(tmp_path, "enc.csv", **spec)
    assert str(path) in message and fragment in message, message


def test_csv_is_fast_enough_for_100k_rows(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 19)).round(4)
    labels = np.array(["cat", "dog", "bird"])[rng.integers(0, 3, 100_000)]
    lines = [",".join(f"f{i}" for i in range(19)) + ",label"]
    lines += [",".join(map(str, row)) + "," + lab for row, lab in zip(x, labels, strict=True)]
    write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    ds = load(tmp_path, "big.csv")  # timing is a benchmark's job; this checks it completes
    assert ds.x.shape == (100_000, 19) and ds.class_names == ["bird", "cat", "dog"]
    np.testing.assert_allclose(ds.x, x.astype(np.float32))


# --------------------------------------------------------------------------------------------
# .npy pairs and the single-class rule for every format
# --------------------------------------------------------------------------------------------


def test_npy_pair_explicit_and_found_beside(tmp_path) -> None:
    x = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    np.save(tmp_path / "x_train.npy", x)
    np.save(tmp_path / "y_train.npy", y)
    np.save(tmp_path / "labels.npy", y[::-1].copy())
    ds = load(tmp_path, "x_train.npy")
    assert ds.x.shape == (6, 2) and ds.y.tolist() == y.tolist() and ds.n_classes == 3
    assert any("y_train.npy" in note for note in ds.notes)
    other = load(tmp_path, "x_train.npy", y_path="labels.npy")
    assert other.y.tolist() == y[::-1].tolist() and other.notes == []
    assert other.name == "x_train.npy + labels.npy (6 samples)"


def test_npy_pair_errors(tmp_path) -> None:
    np.save(tmp_path / "feats.npy", np.zeros((5, 2)))
    assert 'give the targets file as "y_path"' in error_of(tmp_path, "feats.npy")
    np.save(tmp_path / "short.npy", np.array([0, 1, 0, 1]))
    message = error_of(tmp_path, "feats.npy", y_path="short.npy")
    assert "'feats.npy' has 5 rows but 'short.npy' has 4" in message
    objects = np.empty(5, dtype=object)
    objects[:] = [0, 1, 0, 1, 0]
    np.save(tmp_path / "obj.npy", objects, allow_pickle=True)
    assert "holds Python objects" in error_of(tmp_path, "feats.npy", y_path="obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    assert "not an .npy file" in error_of(tmp_path, "junk.npy", y_path="short.npy")
    one = np.save(tmp_path / "ones.npy", np.ones(5, int)) or "ones.npy"
    message = error_of(tmp_path, "feats.npy", y_path=one)
    assert "holds a single class, '1', in all 5 samples" in message


def test_npz_single_class_is_refused(tmp_path) -> None:
    np.savez(tmp_path / "one.npz", x=np.zeros((4, 2)), y=np.zeros(4, int))
    message = error_of(tmp_path, "one.npz")
    assert str(tmp_path / "one.npz") in message and "'y' holds a single class, '0'" in message
    ok = load(tmp_path, "one.npz", task="regression")
    assert ok.task == "regression"


# --------------------------------------------------------------------------------------------
# IDX (MNIST format)
# --------------------------------------------------------------------------------------------


def _mnist_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 4, 3), dtype=np.uint8), (np.arange(n) % 3).astype(np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_images_with_labels_found_beside(tmp_path, suffix: str) -> None:
    images, labels = _mnist_like(9, 0)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    ds = load(tmp_path, f"train-images-idx3-ubyte{suffix}")
    assert ds.x.shape == (9, 12) and ds.x.dtype == np.float32
    np.testing.assert_allclose(ds.x, images.reshape(9, 12) / 255.0, rtol=1e-6)
    assert ds.y.tolist() == labels.tolist() and ds.class_names == ["0", "1", "2"]
    assert ds.x_test is None and any("labels read from" in n for n in ds.notes)


def test_idx_explicit_labels_and_t10k_test_set(tmp_path) -> None:
    (train_x, train_y), (test_x, test_y) = _mnist_like(9, 0), _mnist_like(6, 1)
    write_idx(tmp_path / "train-images.idx3-ubyte", train_x)
    write_idx(tmp_path / "train-labels.idx1-ubyte.gz", train_y)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", test_x)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", test_y)
    assert find_labels_file(tmp_path / "train-images.idx3-ubyte").name.endswith("ubyte.gz")
    ds = load(tmp_path, "train-images.idx3-ubyte")
    assert ds.x_test.shape == (6, 12) and ds.y_test.tolist() == test_y.tolist()
    assert ds.name == "train-images.idx3-ubyte (9 samples + 6 test)"
    write_idx(tmp_path / "other-labels", train_y[::-1].copy())
    explicit = load(tmp_path, "train-images.idx3-ubyte", labels_path="other-labels")
    assert explicit.y.tolist() == train_y[::-1].tolist() and explicit.x_test is None


def test_idx_errors(tmp_path) -> None:
    images, labels = _mnist_like(9, 0)
    write_idx(tmp_path / "a-images-idx3-ubyte", images)
    message = error_of(tmp_path, "a-images-idx3-ubyte")
    assert "no labels file beside the images (looked for a-labels-idx1-ubyte" in message
    write_idx(tmp_path / "a-labels-idx1-ubyte", labels[:8])
    message = error_of(tmp_path, "a-images-idx3-ubyte")
    assert "'a-images-idx3-ubyte' has 9 rows but 'a-labels-idx1-ubyte' has 8" in message
    write_idx(tmp_path / "a-labels-idx1-ubyte", labels)
    assert "is this a labels file?" in error_of(
        tmp_path, "a-labels-idx1-ubyte", labels_path="a-labels-idx1-ubyte"
    )
    raw = (tmp_path / "a-images-idx3-ubyte").read_bytes()
    write(tmp_path, "a-images-idx3-ubyte", raw[:-5])
    message = error_of(tmp_path, "a-images-idx3-ubyte")
    assert str(tmp_path / "a-images-idx3-ubyte") in message and "the file holds 103" in message
    write(tmp_path, "b-images-idx3-ubyte.gz", gzip.compress(raw)[:-12])
    assert "corrupt gzip" in error_of(
        tmp_path, "b-images-idx3-ubyte.gz", labels_path="a-labels-idx1-ubyte"
    )
    write_idx(tmp_path / "c-images-idx3-ubyte", images)
    write_idx(tmp_path / "f-labels-idx1-ubyte", labels.astype(np.float32))
    message = error_of(tmp_path, "c-images-idx3-ubyte", labels_path="f-labels-idx1-ubyte")
    assert "must be one integer per image" in message


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


def _png(path: pathlib.Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_image_folder_two_classes(tmp_path) -> None:
    pytest.importorskip("PIL")
    root = tmp_path / "shapes"
    for k in range(3):
        _png(root / "dark" / f"{k}.png", np.full((4, 5), 10 * k, np.uint8))
        _png(root / "light" / f"{k}.png", np.full((4, 5), 200 + 10 * k, np.uint8))
    (root / "light" / "notes.txt").write_text("not an image")
    ds = load(tmp_path, "shapes/")
    assert ds.x.shape == (6, 20) and ds.x.dtype == np.float32
    assert ds.class_names == ["dark", "light"] and ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(ds.x[1], 10 / 255, rtol=1e-6)
    assert ds.detected == {"image_size": [4, 5], "color": "grayscale"}
    assert any("not images were skipped" in n for n in ds.notes)
    rgb = load(tmp_path, "shapes", image_size=[2, 3], color="rgb")
    assert rgb.x.shape == (6, 2 * 3 * 3)
    np.testing.assert_allclose(rgb.x[4], 210 / 255, rtol=1e-6)  # resizing a flat image
    assert detect_format(root) == "images"


def test_image_folder_default_color_and_size(tmp_path) -> None:
    pytest.importorskip("PIL")
    root = tmp_path / "pics"
    _png(root / "a" / "1.png", np.zeros((6, 6, 3), np.uint8))
    _png(root / "b" / "1.png", np.full((8, 4), 255, np.uint8))
    ds = load(tmp_path, "pics")
    assert ds.detected == {"image_size": [32, 32], "color": "rgb"}
    assert ds.x.shape == (2, 32 * 32 * 3) and any("differ in size" in n for n in ds.notes)
    np.testing.assert_allclose(ds.x[1], 1.0)


def test_image_folder_errors(tmp_path) -> None:
    pytest.importorskip("PIL")
    _png(tmp_path / "flat" / "1.png", np.zeros((2, 2), np.uint8))
    assert "no class subfolders (it holds 1 images directly)" in error_of(tmp_path, "flat")
    _png(tmp_path / "one" / "cats" / "1.png", np.zeros((2, 2), np.uint8))
    assert "a single class, 'cats'" in error_of(tmp_path, "one")
    (tmp_path / "one" / "dogs").mkdir()
    assert "the class folder 'dogs' holds no images" in error_of(tmp_path, "one")
    bad = tmp_path / "one" / "dogs" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    message = error_of(tmp_path, "one")
    assert str(bad) in message and "not a readable image" in message


# --------------------------------------------------------------------------------------------
# Spec checks, formats, paths
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"path": "d.csv", "target": 1.5}, "dataset.target: must be a column name"),
        ({"path": "d.csv", "target": []}, "dataset.target: must be a column name"),
        ({"path": "d.csv", "features": "a"}, "dataset.features: must be a non-empty list"),
        ({"path": "d.csv", "features": [True]}, "dataset.features: must be a non-empty list"),
        ({"path": "d.csv", "delimiter": ",,"}, "dataset.delimiter: must be one character"),
        ({"path": "d.csv", "delimiter": '"'}, "dataset.delimiter: must be one character"),
        ({"path": "d.csv", "header": "yes"}, "dataset.header: must be true or false"),
        ({"path": "d.csv", "encoding": "utf-16"}, "dataset.encoding: must be one of"),
        ({"path": "d.csv", "decimal": ";"}, 'dataset.decimal: must be "." or ","'),
        ({"path": "d.csv", "decimal": ",", "delimiter": ","}, "cannot be the decimal mark"),
        ({"path": "d.csv", "scale": "log"}, "dataset.scale: must be one of"),
        ({"path": "d.csv", "standardize": True, "scale": "minmax"}, "contradicts"),
        ({"path": "d.csv", "test_split": 1.0}, "dataset.test_split: must be a number in [0, 1)"),
        ({"name": "iris", "test_split": True}, "dataset.test_split: must be a number"),
        ({"path": "d.csv", "image_size": [0, 5]}, "dataset.image_size: must be [height, width]"),
        ({"path": "d/", "image_size": [28]}, "dataset.image_size: must be [height, width]"),
        ({"path": "d/", "color": "cmyk"}, 'dataset.color: must be "grayscale" or "rgb"'),
        ({"path": "d.npz", "format": "xlsx"}, "dataset.format: must be one of"),
        ({"path": "x.npy", "y_path": ""}, "dataset.y_path: must be a non-empty string"),
        ({"path": "d.npz", "target": "y"}, "dataset.target: applies to CSV/TSV data only"),
        ({"path": "d.csv", "labels_path": "l"}, "dataset.labels_path: applies to IDX data only"),
        ({"path": "d/", "delimiter": ","}, "dataset.delimiter: applies to CSV/TSV data only"),
        ({"path": "d.csv", "color": "rgb"}, "dataset.color: applies to image data only"),
    ],
)
def test_new_spec_keys_are_checked(spec: dict, expected: str) -> None:
    problems = dataset_param_problems(spec)
    assert any(expected in p for p in problems), problems
    with pytest.raises(DataError):
        load_dataset(spec)


def test_valid_file_specs_have_no_problems() -> None:
    for spec in (
        {
            "path": "iris.csv",
            "target": "species",
            "features": ["a", 2],
            "delimiter": "\t",
            "header": True,
            "encoding": "latin1",
            "decimal": ",",
            "task": "classification",
            "scale": "minmax",
            "test_split": 0.2,
        },
        {"path": "x.npy", "y_path": "y.npy", "standardize": True, "scale": "standardize"},
        {"path": "train-images-idx3-ubyte.gz", "labels_path": "l.gz"},
        {"path": "pics/", "image_size": [28, 28], "color": "grayscale"},
        {"path": "data", "format": "csv", "target": ["a", "b"]},
        {"name": "moons", "scale": "minmax", "test_split": 0.25},
    ):
        assert dataset_param_problems(spec) == [], spec


def test_format_detected_from_content_when_the_name_says_nothing(tmp_path) -> None:
    write(tmp_path, "table", IRIS_LIKE)
    assert detect_format(tmp_path / "table") == "csv"
    assert load(tmp_path, "table").n_classes == 3
    np.savez(tmp_path / "arch", x=np.zeros((2, 1)), y=np.array([0, 1]))
    assert detect_format(tmp_path / "arch.npz") == "npz"
    (tmp_path / "arch.npz").rename(tmp_path / "arch")
    assert detect_format(tmp_path / "arch") == "npz" and load(tmp_path, "arch").n_samples == 2
    write_idx(tmp_path / "blob", np.zeros((2, 2, 2), np.uint8))
    assert detect_format(tmp_path / "blob") == "idx"
    write(tmp_path, "forced.bin", IRIS_LIKE)
    assert load(tmp_path, "forced.bin", format="csv").n_samples == 6
    assert "not found" in error_of(tmp_path, "missing.csv")


def test_relative_data_path(tmp_path) -> None:
    project = tmp_path / "proj"
    assert relative_data_path(project / "data" / "iris.csv", project) == "data/iris.csv"
    assert relative_data_path(tmp_path / "shared" / "x.csv", project) == "../shared/x.csv"
    far = tmp_path.parent / "elsewhere" / "x.csv"
    deep = project / "a" / "b" / "c"
    assert relative_data_path(far, deep) == str(far.absolute())
    assert relative_data_path(far, None) == str(far.absolute())


# --------------------------------------------------------------------------------------------
# Preparation: scaling fitted on the training split only, test split
# --------------------------------------------------------------------------------------------


def _trend_dataset(n: int = 200) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    x[:, 0] += np.arange(n)  # train and held-out parts differ clearly
    y = (np.arange(n) % 4).astype(np.int64)
    return Dataset(x=x, y=y, task="classification", n_classes=4)


def _training_part(ds: Dataset, seed: int) -> np.ndarray:
    x_rest, y_rest, _, _ = split_test(ds.x, ds.y, 0.2, seed)
    return split_validation(x_rest, y_rest, 0.25, seed)[0]


@pytest.mark.parametrize(
    ("scale", "cls"), [("minmax", MinMaxScaler), ("standardize", Standardizer)]
)
def test_scaling_is_fitted_on_the_training_split_only(scale: str, cls: type) -> None:
    ds = _trend_dataset()
    p = prepare(ds, validation_split=0.25, seed=3, scale=scale, test_split=0.2)
    assert isinstance(p.scaler, cls) and p.standardizer is p.scaler
    expected = cls().fit(_training_part(ds, 3)).to_dict()
    everything = cls().fit(ds.x).to_dict()
    for key, value in p.scaler.to_dict().items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6)
        assert not np.allclose(value, everything[key])
    x_train = _training_part(ds, 3)
    np.testing.assert_allclose(p.x_train, p.scaler.transform(x_train), rtol=1e-5, atol=1e-6)
    if scale == "minmax":
        np.testing.assert_allclose(p.x_train.min(0), 0.0, atol=1e-6)
        np.testing.assert_allclose(p.x_train.max(0), 1.0, atol=1e-6)
        assert p.x_test[:, 0].max() > 1.0 or p.x_test[:, 0].min() < 0.0  # not clipped
    again = scaler_from_dict(p.scaler.to_dict())
    assert isinstance(again, cls)
    np.testing.assert_allclose(again.transform(ds.x), p.scaler.transform(ds.x))


def test_scale_spellings_and_minmax_edges() -> None:
    assert scale_of({"standardize": True}) == "standardize"
    assert scale_of({"scale": "minmax", "standardize": False}) == "minmax"
    assert scale_of({}) == "none" and scale_of({"scale": "none"}) == "none"
    legacy = prepare(_trend_dataset(), standardize=True)
    assert isinstance(legacy.scaler, Standardizer)
    assert prepare(_trend_dataset(), standardize=True, scale="none").scaler is None
    constant = MinMaxScaler().fit(np.ones((4, 2)))
    np.testing.assert_array_equal(constant.transform(np.ones((2, 2))), 0.0)
    with pytest.raises(DataError, match="max must be at least its min"):
        MinMaxScaler.from_dict({"min": [1.0], "max": [0.0]})
    with pytest.raises(ValueError, match="scale must be one of"):
        prepare(_trend_dataset(), scale="log")


def test_test_split_is_stratified_seeded_and_taken_first() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    ds = Dataset(x=np.arange(100, dtype=np.float32).reshape(-1, 1), y=y, n_classes=3)
    p = prepare(ds, validation_split=0.25, seed=7, test_split=0.2)
    assert np.bincount(p.y_test).tolist() == [12, 6, 2]
    assert len(p.x_train) == 60 and len(p.x_val) == 20
    seen = np.concatenate([p.x_train, p.x_val, p.x_test])[:, 0]
    assert sorted(seen.tolist()) == list(range(100))
    same = prepare(ds, validation_split=0.25, seed=7, test_split=0.2)
    np.testing.assert_array_equal(same.x_test, p.x_test)
    other = prepare(ds, validation_split=0.25, seed=8, test_split=0.2)
    assert not np.array_equal(other.x_test, p.x_test)
    # The test set does not depend on the validation split.
    no_val = prepare(ds, validation_split=0.0, seed=7, test_split=0.2)
    np.testing.assert_array_equal(no_val.x_test, p.x_test)
    with_test = Dataset(x=ds.x, y=y, x_test=ds.x[:5], y_test=y[:5], n_classes=3)
    with pytest.raises(DataError, match="has its own test set"):
        prepare(with_test, test_split=0.2)
    with pytest.raises(DataError, match="test_split must be at least 0"):
        prepare(ds, test_split=1.5)


# --------------------------------------------------------------------------------------------
# Match network to data
# --------------------------------------------------------------------------------------------


def _project_with(dataset_spec: dict) -> dict:
    from engine.project import seed_project

    data = copy.deepcopy(seed_project().data)
    data["dataset"] = dataset_spec
    return data


def _problems(data: dict, dataset: Dataset) -> list[str]:
    from engine.project import from_dict
    from engine.validate import data_fit_problems, project_problems

    project = from_dict(copy.deepcopy(data))
    graph, problems = project_problems(project)
    assert graph is not None, problems
    return [str(p) for p in problems + data_fit_problems(project, graph, dataset)]


def test_match_three_classes_from_a_csv_and_train(tmp_path) -> None:
    write(tmp_path, "iris.csv", IRIS_LIKE)
    ds = load(tmp_path, "iris.csv")
    before = _project_with({"path": str(tmp_path / "iris.csv")})
    frozen = copy.deepcopy(before)
    assert _problems(before, ds)  # 784 inputs, 10 units: does not fit
    after = match_network_to_data(before, ds)
    assert before == frozen  # pure
    assert after["model"]["input_shape"] == [2]
    out = output_layer_name(after)
    layer = next(layer for layer in after["model"]["layers"] if layer["config"]["name"] == out)
    assert layer["class_name"] == "Dense"
    assert (layer["config"]["units"], layer["config"]["activation"]) == (3, "softmax")
    assert after["compile"]["loss"] == "sparse_categorical_crossentropy"
    assert after["compile"]["metrics"] == ["accuracy"]
    assert after["compile"]["optimizer"] == before["compile"]["optimizer"]
    assert _problems(after, ds) == []

    from engine.project import from_dict
    from engine.training import train_project

    _, trainer = train_project(from_dict(after), epochs=1)
    assert np.isfinite(trainer.history["loss"][0])


def test_match_binary_and_regression() -> None:
    binary = Dataset(x=np.zeros((4, 5), np.float32), y=np.array([0, 1, 0, 1]), n_classes=2)
    data = _project_with({"name": "xor"})
    soft = match_network_to_data(data, binary)
    assert soft["model"]["layers"][-1]["config"]["units"] == 2
    assert soft["compile"]["loss"] == "sparse_categorical_crossentropy"
    sig = match_network_to_data(data, binary, binary="sigmoid")
    assert sig["model"]["layers"][-1]["config"]["activation"] == "sigmoid"
    assert sig["model"]["layers"][-1]["config"]["units"] == 1
    assert sig["compile"]["loss"] == "binary_crossentropy" and _problems(sig, binary) == []
    with pytest.raises(ValueError, match="binary"):
        match_network_to_data(data, binary, binary="tanh")

    regression = Dataset(
        x=np.zeros((4, 3), np.float32), y=np.zeros((4, 2), np.float32), task="regression"
    )
    reg = match_network_to_data(data, regression)
    last = reg["model"]["layers"][-1]["config"]
    assert (last["units"], last["activation"]) == (2, "linear")
    assert reg["compile"]["loss"] == "mean_squared_error" and reg["compile"]["metrics"] == ["mae"]
    assert _problems(reg, regression) == []


def test_match_appends_a_dense_after_a_non_dense_sink_and_flattens_images() -> None:
    data = _project_with({"name": "xor"})
    data["model"]["layers"].append(
        {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.1}}
    )
    images = Dataset(x=np.zeros((6, 4, 3), np.float32), y=np.array([0, 1, 2, 0, 1, 2]), n_classes=3)
    new = match_network_to_data(data, images)
    classes = [layer["class_name"] for layer in new["model"]["layers"]]
    assert classes[0] == "Flatten" and classes[-1] == "Dense" and classes[-2] == "Dropout"
    assert new["model"]["input_shape"] == [4, 3]
    assert new["model"]["layers"][-1]["config"]["units"] == 3
    assert _problems(new, images) == []
    empty = {"model": {"input_shape": [1], "layers": []}, "compile": {"optimizer": "adam"}}
    built = match_network_to_data(empty, images)
    assert [layer["class_name"] for layer in built["model"]["layers"]] == ["Flatten", "Dense"]


def test_match_keeps_a_perceptron_a_perceptron() -> None:
    import json

    example = pathlib.Path(__file__).resolve().parents[2] / "resources/examples/perceptron.json"
    data = json.loads(example.read_text())
    binary = Dataset(x=np.zeros((4, 3), np.float32), y=np.array([0, 1, 0, 1]), n_classes=2)
    new = match_network_to_data(data, binary)
    last = new["model"]["layers"][-1]["config"]
    assert (last["units"], last["activation"]) == (1, "sign")
    assert "loss" not in new["compile"] and new["model"]["input_shape"] == [3]
    assert _problems(new, binary) == []


def test_preview_is_for_tables_only(tmp_path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 1)), y=np.array([0, 1]))
    with pytest.raises(DataError, match="only delimited text tables"):
        preview_table({"path": "d.npz"}, base_dir=tmp_path)


# ----------------------------------------------------------------------------- sample weights
def test_a_sample_weight_column_is_read_and_never_a_feature(tmp_path):
    from engine.data import load_dataset
    from engine.errors import DataError

    path = tmp_path / "w.csv"
    path.write_text("x1,x2,w,label\n0.1,0.2,1.0,a\n0.3,0.1,2.5,b\n0.5,0.4,0,a\n0.2,0.9,1,b\n")
    ds = load_dataset({"path": str(path), "sample_weight": "w"})
    assert ds.feature_names == ["x1", "x2"] and ds.x.shape == (4, 2)
    np.testing.assert_array_equal(ds.sample_weight, [1.0, 2.5, 0.0, 1.0])
    assert ds.detected["sample_weight"] == "w"
    assert load_dataset({"path": str(path), "sample_weight": 2}).sample_weight[1] == 2.5
    for spec, words in (
        ({"sample_weight": "label"}, "both the target and the sample weights"),
        ({"sample_weight": "w", "features": ["x1", "w"]}, "both a feature and the sample"),
        ({"sample_weight": "nope"}, "no column named 'nope'"),
    ):
        with pytest.raises(DataError, match=words):
            load_dataset({"path": str(path), **spec})
    bad = tmp_path / "bad.csv"
    bad.write_text("x,w,y\n1,1,0\n2,-3,1\n3,oops,0\n")
    with pytest.raises(DataError) as err:
        load_dataset({"path": str(bad), "sample_weight": "w"})
    assert "row 4" in str(err.value) and "'w'" in str(err.value)  # the text cell first


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(6, 40),
    val=st.sampled_from([0.0, 0.2, 0.5]),
    test=st.sampled_from([0.0, 0.25]),
    last=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_splits_take_each_rows_weight_with_it(n, val, test, last, seed):
    """prepare splits a weighted dataset into the same rows as the unweighted one, each part
    with its rows' weights."""
    from engine.data.files import Dataset
    from engine.data.prepare import prepare

    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)[:, None] + rng.random((n, 2)) * 0.1
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    w = rng.uniform(0, 5, n)
    kw = {"validation_split": val, "test_split": test, "seed": seed, "validation_from_end": last}
    a = prepare(Dataset(x=x, y=y, n_classes=2, sample_weight=w), **kw)
    b = prepare(Dataset(x=x, y=y, n_classes=2), **kw)
    for part in ("train", "val", "test"):
        xa, xb = getattr(a, f"x_{part}"), getattr(b, f"x_{part}")
        weights = getattr(a, f"w_{part}")
        if xb is None:
            assert xa is None and weights is None
            continue
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(getattr(a, f"y_{part}"), getattr(b, f"y_{part}"))
        rows = np.floor(xa[:, 0]).astype(int)  # each sample's row number
        np.testing.assert_array_equal(weights, w[rows].astype(np.float32))
