"""Fuzzing the file loaders: every malformed file either loads into finite arrays of consistent
shapes or raises the engine's DataError naming the file. Nothing else escapes, nothing hangs.

About 600 Hypothesis examples across CSV/TSV text, .npy pairs, .npz archives, IDX files and
image folders (tests/engine/test_data.py fuzzes .npz bytes with 150 more).
"""

from __future__ import annotations

import gzip
import io
import pathlib
import shutil
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.data import Dataset, load_dataset
from engine.data.idx import write_idx
from engine.errors import DataError

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BAD_CELLS = [
    "",
    " ",
    "NA",
    "N/A",
    "None",
    "null",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "1e39",
    "-",
    "?",
    "abc",
    "1,5",
    "1.5.2",
    '"',
    '"a,b"',
    '"x\ny"',
    "0x10",
    "1_000",
    "  7  ",
    "\ufeff3",
    "é",
    "\t",
    ";",
]


def check_loaded(ds: Dataset) -> None:
    """The invariants of every dataset a loader returns."""
    assert isinstance(ds, Dataset)
    n = len(ds.x)
    assert n >= 1 and ds.x.dtype == np.float32 and np.isfinite(ds.x).all()
    assert len(ds.y) == n
    if ds.feature_names is not None:
        assert ds.x.ndim == 2 and ds.x.shape[1] == len(ds.feature_names)
    if ds.task == "classification":
        assert ds.y.dtype == np.int64 and ds.y.ndim == 1
        assert ds.n_classes is not None and ds.n_classes >= 2
        assert ds.y.min() >= 0 and ds.y.max() < ds.n_classes
        assert len(np.unique(ds.y)) >= 2
        if ds.class_names is not None:
            assert len(ds.class_names) == ds.n_classes
    else:
        assert ds.task == "regression"
        assert ds.y.dtype == np.float32 and ds.y.ndim == 2 and np.isfinite(ds.y).all()
    if ds.x_test is not None:
        assert ds.x_test.shape[1:] == ds.x.shape[1:] and np.isfinite(ds.x_test).all()
        assert len(ds.y_test) == len(ds.x_test)


def load_or_error(spec: dict, base: pathlib.Path, name: str) -> Dataset | None:
    try:
        ds = load_dataset(spec, base_dir=base)
    except DataError as exc:
        assert name in str(exc) or "dataset." in str(exc), str(exc)
        event("refused")
        return None
    check_loaded(ds)
    event(f"loaded ({ds.task})")
    return ds


# --------------------------------------------------------------------------------------------
# CSV / TSV text
# --------------------------------------------------------------------------------------------


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, dict]:
    n_rows = draw(st.integers(0, 12) | st.integers(3, 40))
    n_cols = draw(st.integers(1, 5))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.booleans())
    target_kind = draw(st.sampled_from(["int", "float", "text"]))
    cells = [
        [
            draw(
                st.one_of(
                    st.integers(-1000, 1000).map(str),
                    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.3f}"),
                )
            )
            for _ in range(n_cols)
        ]
        for _ in range(n_rows)
    ]
    for row in cells:
        if target_kind == "int":
            row.append(str(draw(st.integers(0, 3))))
        elif target_kind == "float":
            row.append(f"{draw(st.floats(-5, 5, allow_nan=False)):.4f}")
        else:
            row.append(draw(st.sampled_from(["cat", "dog", "bird", "a b", "x;y"])))
    names = [f"c{j}" for j in range(n_cols)] + ["target"]
    rows = ([names] if header else []) + cells
    # Mutations: bad cells, ragged rows, blank lines, duplicate names.
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4]))):
        if not rows:
            break
        kind = draw(st.sampled_from(["cell", "cell", "drop", "add", "blank", "dup"]))
        i = draw(st.integers(0, len(rows) - 1))
        if kind == "cell" and rows[i]:
            j = draw(st.integers(0, len(rows[i]) - 1))
            rows[i][j] = draw(st.sampled_from(BAD_CELLS))
        elif kind == "drop" and rows[i]:
            rows[i].pop()
        elif kind == "add":
            rows[i].append(draw(st.sampled_from(["", "1", "extra"])))
        elif kind == "blank":
            rows.insert(i, [])
        elif kind == "dup" and header and rows[0]:
            rows[0][-1] = rows[0][0]

    def quote(cell: str) -> str:
        if any(ch in cell for ch in (delimiter, '"', "\n")) and draw(st.booleans()):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(quote(c) for c in row) for row in rows)
    if draw(st.booleans()):
        text += newline
    encoding = draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "latin-1", "cp1252", "utf-16"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    if draw(st.integers(0, 14)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]

    spec: dict = {}
    if draw(st.integers(0, 3)) == 0:
        spec["target"] = draw(st.sampled_from([0, -1, 1, "target", "c0", "missing", "1"]))
    if draw(st.integers(0, 4)) == 0:
        spec["features"] = draw(st.lists(st.sampled_from([0, 1, "c0", "c1", 3]), min_size=1))
    if draw(st.integers(0, 4)) == 0:
        spec["header"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        spec["task"] = draw(st.sampled_from(["classification", "regression"]))
    if draw(st.integers(0, 5)) == 0:
        spec["delimiter"] = draw(st.sampled_from([",", ";", "\t"]))
    if draw(st.integers(0, 6)) == 0:
        spec["encoding"] = draw(st.sampled_from(["utf-8", "latin-1"]))
    return raw, spec


@settings(FUZZ, max_examples=230)
@given(case=csv_files())
def test_csv_mutations_load_or_raise_data_error(tmp_path: pathlib.Path, case) -> None:
    raw, spec = case
    (tmp_path / "fuzz.csv").write_bytes(raw)
    ds = load_or_error({"path": "fuzz.csv", **spec}, tmp_path, "fuzz.csv")
    if ds is not None:
        assert ds.x.ndim == 2 and len(ds.feature_names) == ds.x.shape[1]
        assert len(ds.target_names) == (1 if ds.task == "classification" else ds.y.shape[1])


@st.composite
def clean_tables(draw: st.DrawFn) -> tuple[bytes, np.ndarray, list, str]:
    n_rows = draw(st.integers(3, 30))
    n_cols = draw(st.integers(1, 6))
    x = np.array(
        draw(
            st.lists(
                st.lists(st.integers(-(10**6), 10**6), min_size=n_cols, max_size=n_cols),
                min_size=n_rows,
                max_size=n_rows,
            )
        ),
        dtype=np.float64,
    ) / draw(st.sampled_from([1, 8, 1000]))
    kind = draw(st.sampled_from(["int", "float", "text"]))
    if kind == "int":
        target = [0, 1] + draw(
            st.lists(st.integers(0, 5), min_size=n_rows - 2, max_size=n_rows - 2)
        )
    elif kind == "float":
        target = [0.5] + draw(
            st.lists(st.floats(-100, 100), min_size=n_rows - 1, max_size=n_rows - 1)
        )
    else:
        pool = st.sampled_from(["cat", "dog", "bird", "Zebra crossing"])
        target = ["cat", "dog"] + draw(st.lists(pool, min_size=n_rows - 2, max_size=n_rows - 2))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    lines = (
        [delimiter.join([f"f{j}" for j in range(n_cols)] + ["y"])] if draw(st.booleans()) else []
    )
    for row, t in zip(x, target, strict=True):
        cells = [repr(float(v)) for v in row] + [f"{t:.4f}" if kind == "float" else str(t)]
        lines.append(delimiter.join(cells))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (newline.join(lines) + newline).encode(encoding), x, target, kind


@settings(FUZZ, max_examples=60)
@given(case=clean_tables())
def test_clean_tables_load_exactly(tmp_path: pathlib.Path, case) -> None:
    raw, x, target, kind = case
    (tmp_path / "clean.csv").write_bytes(raw)
    ds = load_dataset({"path": "clean.csv"}, base_dir=tmp_path)
    check_loaded(ds)
    np.testing.assert_allclose(ds.x, x.astype(np.float32))
    if kind == "text":
        assert [ds.class_names[i] for i in ds.y] == target
    elif kind == "int":
        assert [int(ds.class_names[i]) for i in ds.y] == target
    else:
        assert ds.task == "regression"
        np.testing.assert_allclose(ds.y[:, 0], [round(t, 4) for t in target], atol=1e-4)


@settings(FUZZ, max_examples=90)
@given(
    raw=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.text(alphabet='0123456789,;.\t"\n -eEnaN', max_size=300).map(str.encode),
    )
)
def test_random_bytes_as_csv(tmp_path: pathlib.Path, raw: bytes) -> None:
    (tmp_path / "noise.tsv").write_bytes(raw)
    load_or_error({"path": "noise.tsv"}, tmp_path, "noise.tsv")


# --------------------------------------------------------------------------------------------
# .npy pairs and .npz archives
# --------------------------------------------------------------------------------------------


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


VALID_X = _npy_bytes(np.arange(12.0).reshape(6, 2))
VALID_Y = _npy_bytes(np.array([0, 1, 0, 1, 1, 0]))


@st.composite
def damaged(draw: st.DrawFn, valid: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "truncated", "mutated", "valid", "arrays"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        return valid[: draw(st.integers(0, len(valid)))]
    if kind == "valid":
        return valid
    if kind == "arrays":
        dtype = draw(st.sampled_from(["f4", "f8", "i8", "u1", "c8", "U3", "bool", "f2"]))
        shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
        values = draw(st.sampled_from([0.0, 1.0, np.nan, np.inf, 1e300, -3.0]))
        with np.errstate(all="ignore"):
            array = np.full(shape, values).astype(dtype)
        return _npy_bytes(array)
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 5))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(FUZZ, max_examples=70)
@given(x=damaged(VALID_X), y=damaged(VALID_Y), task=st.sampled_from([None, "regression"]))
def test_npy_pairs_load_or_raise_data_error(tmp_path: pathlib.Path, x, y, task) -> None:
    (tmp_path / "x.npy").write_bytes(x)
    (tmp_path / "y.npy").write_bytes(y)
    spec = {"path": "x.npy"} if task is None else {"path": "x.npy", "task": task}
    try:
        ds = load_dataset(spec, base_dir=tmp_path)
    except DataError as exc:
        assert "x.npy" in str(exc) or "y.npy" in str(exc), str(exc)
        return
    check_loaded(ds)


@settings(FUZZ, max_examples=40)
@given(x=damaged(VALID_X), y=damaged(VALID_Y), compress=st.booleans())
def test_npz_with_damaged_members(tmp_path: pathlib.Path, x, y, compress: bool) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp_path / "d.npz", "w", method) as archive:
        archive.writestr("x.npy", x)
        archive.writestr("y.npy", y)
    load_or_error({"path": "d.npz"}, tmp_path, "d.npz")


# --------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


VALID_IMAGES = _idx_bytes(np.arange(5 * 3 * 2).reshape(5, 3, 2) % 256)
VALID_LABELS = _idx_bytes(np.array([0, 1, 2, 1, 0]))


@settings(FUZZ, max_examples=80)
@given(
    images=damaged(VALID_IMAGES),
    labels=damaged(VALID_LABELS),
    gz_images=st.booleans(),
    gz_labels=st.booleans(),
)
def test_idx_files_load_or_raise_data_error(
    tmp_path: pathlib.Path, images: bytes, labels: bytes, gz_images: bool, gz_labels: bool
) -> None:
    for old in tmp_path.glob("*ubyte*"):
        old.unlink()
    suffix_i, suffix_l = (".gz" if gz_images else ""), (".gz" if gz_labels else "")
    if gz_images:
        images = gzip.compress(images)
    if gz_labels and labels[:2] != b"\x1f\x8b":
        labels = gzip.compress(labels)[: len(labels) + 30]
    (tmp_path / f"train-images-idx3-ubyte{suffix_i}").write_bytes(images)
    (tmp_path / f"train-labels-idx1-ubyte{suffix_l}").write_bytes(labels)
    try:
        ds = load_dataset({"path": f"train-images-idx3-ubyte{suffix_i}"}, base_dir=tmp_path)
    except DataError as exc:
        assert "ubyte" in str(exc), str(exc)
        return
    check_loaded(ds)


def test_idx_round_trip_through_write_idx(tmp_path: pathlib.Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 0, 1], np.uint8))
    check_loaded(load_dataset({"path": "train-images-idx3-ubyte"}, base_dir=tmp_path))


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


def _png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(buf, format="PNG")
    return buf.getvalue()


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_image_folders_with_damaged_images(tmp_path: pathlib.Path, data) -> None:
    pytest.importorskip("PIL")
    valid = _png_bytes()
    root = tmp_path / "pics"
    shutil.rmtree(root, ignore_errors=True)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for k in range(2):
            raw = data.draw(damaged(valid))
            (root / cls / f"{k}.png").write_bytes(raw)
    spec = {"path": "pics"}
    if data.draw(st.booleans()):
        spec["image_size"] = [data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))]
    try:
        ds = load_dataset(spec, base_dir=tmp_path)
    except DataError as exc:
        assert "pics" in str(exc), str(exc)
        return
    check_loaded(ds)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0
