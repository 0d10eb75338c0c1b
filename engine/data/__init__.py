"""Datasets: built-in sets, the user's files, and preparation for training.

A project's ``"dataset"`` object is one of

- ``{"name": "moons", "n_samples": 400, "noise": 0.1, "seed": 0}``: a built-in set (see
  :data:`BUILTIN_DATASETS` for the names, their parameters and defaults);
- ``{"path": ..., ...}``: a file or folder, relative to the project's folder, in one of these
  formats (chosen by ``"format"``, else by the name, else by the first bytes):

  - ``"csv"``: delimited text, ``.csv .tsv .tab .txt .dat .data``; keys ``target``,
    ``features``, ``delimiter``, ``header``, ``encoding``, ``decimal``
    (:mod:`engine.data.tables`);
  - ``"npz"``: a NumPy archive with ``x``/``y`` or ``x_train``/``y_train`` (and
    ``x_test``/``y_test``) (:mod:`engine.data.files`);
  - ``"npy"``: a NumPy ``.npy`` file of inputs; key ``y_path`` for the targets (found beside
    it by name when absent);
  - ``"idx"``: MNIST-format ``*-images-idx3-ubyte[.gz]``; key ``labels_path`` (found beside it
    by name when absent) (:mod:`engine.data.idx`);
  - ``"images"``: a folder with one subfolder per class; keys ``image_size``, ``color``
    (:mod:`engine.data.images`).

  Every file spec may also hold ``"task"`` (``"classification"`` or ``"regression"``), which
  overrides the inferred task.

Any spec may hold the preparation keys of :data:`COMMON_KEYS`, read by the caller and passed to
:func:`prepare`: ``"scale"`` (``"none"``, ``"standardize"`` or ``"minmax"``, fitted on the
training split only; ``"standardize": true`` is the older spelling of ``"scale":
"standardize"``) and ``"test_split"`` (a share held out as the test set, stratified and seeded
by ``fit.seed``, taken before the validation split). Use :func:`scale_of` to read the scaling.

Image sources say what a sample is as an image in :attr:`Dataset.image_shape` ``(H, W, C)``:
the built-in digits (8, 8, 1), MNIST and Fashion-MNIST (28, 28, 1), IDX files, image folders
(C = 1 or 3) and archives of (n, H, W[, C]) inputs. ``x`` keeps its source's layout (flat rows
for the built-in sets, IDX files and folders); :mod:`engine.data.layout` lays the samples out in
the model's ``input_shape`` when training (images for a convolutional network, flat rows for an
MLP) and explains a shape they cannot take.

Importing this package imports only NumPy; scikit-learn is imported when a set that needs it
is loaded, Pillow when an image folder is, and TensorFlow/Keras never.
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import numpy as np

from engine.data.builtin import BUILTIN_DATASETS, BuiltinInfo, ParamInfo, builtin_param_problems
from engine.data.builtin import load_builtin as _load_builtin
from engine.data.files import (
    TASKS,
    Dataset,
    check_regular_file,
    check_several_classes,
    load_npy_pair,
    load_npz_file,
    out_of_memory_error,
    relative_data_path,
    resolve_path,
)
from engine.data.idx import is_idx_name, load_idx_dataset
from engine.data.images import COLORS, MAX_IMAGE_SIDE, load_image_folder
from engine.data.prepare import (
    SCALES,
    MinMaxScaler,
    Prepared,
    Standardizer,
    prepare,
    scaler_from_dict,
    split_test,
    split_validation,
)
from engine.data.tables import (
    ENCODINGS,
    TABLE_SUFFIXES,
    TableError,
    TablePreview,
    load_table,
    normalize_encoding,
    preview_table,
)
from engine.errors import DataError
from engine.memory import out_of_memory_message

__all__ = [
    "BUILTIN_DATASETS",
    "COMMON_KEYS",
    "FORMATS",
    "FORMAT_KEYS",
    "SCALES",
    "BuiltinInfo",
    "Dataset",
    "MinMaxScaler",
    "ParamInfo",
    "Prepared",
    "Standardizer",
    "TableError",
    "TablePreview",
    "class_balance",
    "dataset_param_problems",
    "detect_format",
    "load_dataset",
    "prepare",
    "preview_table",
    "relative_data_path",
    "keep_common_keys",
    "scale_of",
    "scaler_from_dict",
    "split_test",
    "split_validation",
]

#: Keys every dataset spec may hold; they are read by the caller, not by :func:`load_dataset`.
COMMON_KEYS = ("standardize", "scale", "test_split")
#: File formats, as the spec's ``"format"`` names them.
FORMATS = ("csv", "npz", "npy", "idx", "images")
#: The keys that apply to each format only.
FORMAT_KEYS: dict[str, tuple[str, ...]] = {
    "csv": ("target", "features", "sample_weight", "delimiter", "header", "encoding", "decimal"),
    "npz": (),
    "npy": ("y_path",),
    "idx": ("labels_path",),
    "images": ("image_size", "color"),
}
_FILE_KEYS = ("path", "task", "format") + tuple(k for keys in FORMAT_KEYS.values() for k in keys)
_FORMAT_NAMES = {"csv": "CSV/TSV", "npz": ".npz", "npy": ".npy", "idx": "IDX", "images": "image"}


def keep_common_keys(spec: dict[str, Any], current: Any) -> dict[str, Any]:
    """A copy of ``spec`` with the :data:`COMMON_KEYS` that ``current`` (the spec it replaces)
    holds: switching to other data keeps the scaling and the test split."""
    new = dict(spec)
    if isinstance(current, dict):
        for key in COMMON_KEYS:
            if key in current:
                new[key] = current[key]
    return new


def scale_of(spec: dict[str, Any]) -> str:
    """The input scaling a dataset spec asks for: ``spec["scale"]`` when present, else
    ``"standardize"`` when ``spec["standardize"]`` is true, else ``"none"``."""
    if isinstance(spec, dict) and spec.get("scale") in SCALES:
        return spec["scale"]
    return "standardize" if isinstance(spec, dict) and spec.get("standardize") is True else "none"


def _format_from_name(path: str) -> str | None:
    """The format a path's name implies, without touching the disk; None when unknown."""
    if path.endswith(("/", "\\")):
        return "images"
    name = pathlib.PurePath(path).name.lower()
    suffix = pathlib.PurePath(name).suffix
    if suffix == ".npz":
        return "npz"
    if suffix == ".npy":
        return "npy"
    if is_idx_name(name):
        return "idx"
    if suffix in TABLE_SUFFIXES:
        return "csv"
    return None


def detect_format(path: pathlib.Path) -> str:
    """The format of an existing path: by name, then a folder means images, then the first
    bytes (zip: npz; NumPy magic: npy; gzip or two zero bytes: IDX; anything else: a table).
    """
    by_name = _format_from_name(str(path))
    if by_name is not None and by_name != "images":
        return by_name
    if path.is_dir():
        return "images"
    if not path.is_file():
        # A FIFO would block open() until a writer comes, a device never ends: the loader
        # refuses them by name (check_regular_file), so nothing is read here.
        return by_name or "csv"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return by_name or "csv"  # the loader reports the problem with the file
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x1f\x8b") or (len(head) >= 4 and head[:2] == b"\x00\x00"):
        return "idx"
    return "csv"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _column_ref_problem(value: object) -> bool:
    return not (_is_int(value) or (isinstance(value, str) and value.strip()))


def _file_key_problems(spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    fmt = spec.get("format")
    if "format" in spec and fmt not in FORMATS:
        problems.append(f"dataset.format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
        fmt = None
    if fmt is None and isinstance(spec.get("path"), str):
        fmt = _format_from_name(spec["path"])
    if "target" in spec:
        target = spec["target"]
        refs = target if isinstance(target, list) else [target]
        if not refs or any(_column_ref_problem(r) for r in refs):
            problems.append(
                "dataset.target: must be a column name, a 0-based column index, or a list of "
                f"them, got {target!r}"
            )
    if "sample_weight" in spec and _column_ref_problem(spec["sample_weight"]):
        problems.append(
            "dataset.sample_weight: must be a column name or a 0-based column index, got "
            f"{spec['sample_weight']!r}"
        )
    if "features" in spec:
        features = spec["features"]
        if (
            not isinstance(features, list)
            or not features
            or any(_column_ref_problem(r) for r in features)
        ):
            problems.append(
                "dataset.features: must be a non-empty list of column names or 0-based indices, "
                f"got {features!r}"
            )
    if "delimiter" in spec:
        d = spec["delimiter"]
        if not isinstance(d, str) or len(d) != 1 or d in '"\r\n' or d.isalnum():
            problems.append(
                'dataset.delimiter: must be one character such as "," ";" "\\t" "|" (not a '
                f"letter, digit, quote or line break), got {d!r}"
            )
    if "header" in spec and not isinstance(spec["header"], bool):
        problems.append(f"dataset.header: must be true or false, got {spec['header']!r}")
    if "encoding" in spec and (
        not isinstance(spec["encoding"], str) or normalize_encoding(spec["encoding"]) is None
    ):
        problems.append(
            f"dataset.encoding: must be one of {', '.join(ENCODINGS)}, got {spec['encoding']!r}"
        )
    if "decimal" in spec and spec["decimal"] not in (".", ","):
        problems.append(f'dataset.decimal: must be "." or ",", got {spec["decimal"]!r}')
    if spec.get("decimal") == "," and spec.get("delimiter") == ",":
        problems.append('dataset.decimal: "," cannot be the decimal mark when "," separates cells')
    for key in ("y_path", "labels_path"):
        if key in spec and (not isinstance(spec[key], str) or not spec[key].strip()):
            problems.append(f"dataset.{key}: must be a non-empty string, got {spec[key]!r}")
    if "image_size" in spec:
        size = spec["image_size"]
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(_is_int(v) and 1 <= v <= MAX_IMAGE_SIDE for v in size)
        ):
            problems.append(
                f"dataset.image_size: must be [height, width], whole numbers from 1 to "
                f"{MAX_IMAGE_SIDE}, got {size!r}"
            )
    if "color" in spec and spec["color"] not in COLORS:
        problems.append(f'dataset.color: must be "grayscale" or "rgb", got {spec["color"]!r}')
    if fmt is not None:
        problems += _format_key_problems(spec, fmt)
    return problems


def _format_key_problems(spec: dict[str, Any], fmt: str) -> list[str]:
    problems = []
    for key in spec:
        for other, keys in FORMAT_KEYS.items():
            if key in keys and other != fmt:
                problems.append(
                    f"dataset.{key}: applies to {_FORMAT_NAMES[other]} data only, and this "
                    f"dataset is {_FORMAT_NAMES[fmt]}"
                )
    return problems


def dataset_param_problems(spec: dict[str, Any]) -> list[str]:
    """Everything wrong with a dataset spec that can be told without loading it.

    Parameters
    ----------
    spec : dict
        The project's ``"dataset"`` object.

    Returns
    -------
    list of str
        One sentence per problem (unknown name or key, wrong type, value out of range, a key
        that does not apply to the file's format), each starting with ``dataset`` or
        ``dataset.<key>:``; empty when the spec is valid. Whether a file exists and what it
        holds is only known by :func:`load_dataset`.
    """
    if not isinstance(spec, dict):
        return [f'dataset: must be an object with a "name" or a "path", got {spec!r}']
    problems: list[str] = []
    if "standardize" in spec and not isinstance(spec["standardize"], bool):
        problems.append(f"dataset.standardize: must be true or false, got {spec['standardize']!r}")
    if "scale" in spec:
        if spec["scale"] not in SCALES:
            problems.append(
                f"dataset.scale: must be one of {', '.join(SCALES)}, got {spec['scale']!r}"
            )
        elif spec.get("standardize") is True and spec["scale"] != "standardize":
            problems.append(
                f'dataset.standardize: true contradicts "scale": {spec["scale"]!r}; remove '
                '"standardize" (the older spelling of "scale": "standardize")'
            )
    if "test_split" in spec:
        v = spec["test_split"]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or not 0 <= v < 1
        ):
            problems.append(f"dataset.test_split: must be a number in [0, 1), got {v!r}")
    has_name, has_path = "name" in spec, "path" in spec
    if has_name and has_path:
        return [*problems, 'dataset: give either "name" (a built-in set) or "path", not both']
    if not has_name and not has_path:
        return [*problems, 'dataset: needs a "name" (a built-in set) or a "path" (a data file)']
    rest = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    if has_name:
        name = rest.pop("name")
        if not isinstance(name, str):
            return [*problems, f"dataset.name: must be a string, got {name!r}"]
        return problems + builtin_param_problems(name, rest)
    path = rest.get("path")
    if not isinstance(path, str) or not path.strip():
        problems.append(f"dataset.path: must be a non-empty string, got {path!r}")
    if "task" in rest and rest["task"] not in TASKS:
        problems.append(
            f'dataset.task: must be "classification" or "regression", got {rest["task"]!r}'
        )
    for key in rest:
        if key not in _FILE_KEYS:
            known = ", ".join(_FILE_KEYS + COMMON_KEYS)
            problems.append(f"dataset.{key}: unknown key for a file dataset (known: {known})")
    problems += _file_key_problems(rest)
    return problems


def load_dataset(
    spec: dict[str, Any],
    base_dir: pathlib.Path | None = None,
    dtype: np.dtype | type | str = np.float32,
) -> Dataset:
    """Load the dataset a spec describes.

    Parameters
    ----------
    spec : dict
        The project's ``"dataset"`` object (see the module docstring).
    base_dir : Path, optional
        Folder that relative ``"path"``, ``"y_path"`` and ``"labels_path"`` values are
        resolved against (the project file's folder); the current directory when None.
    dtype : floating dtype
        The dtype of ``x`` and of regression targets: the project's ``"dtype"``, so that a
        float64 project trains on its data unrounded (a float32 copy of float64 data would
        flip a Perceptron's prediction). float32 by default, as memory wants for images.

    Returns
    -------
    Dataset
        ``x`` of ``dtype`` and shape (n, *feature_shape), finite; ``y`` int64 of shape (n,)
        for classification (class indices 0..k-1, at least 2 classes present; labels such
        as -1/+1 are numbered in sorted order and kept in ``class_names``) or ``dtype`` of
        shape (n, k) for regression, finite.

    Raises
    ------
    DataError
        An invalid spec (all problems listed), a missing or malformed file (the message names
        the path and the key, or the row and column, and quotes the bad values), a path that
        is not a regular file (a FIFO, ``/dev/zero``), data too large for the memory this
        process may use (checked before allocating where the size is known, and any
        MemoryError on the way), or a Keras-cache set that is not cached.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    problems = dataset_param_problems(spec)
    if problems:
        raise DataError("; ".join(problems))
    if "name" in spec:
        params = {k: v for k, v in spec.items() if k not in COMMON_KEYS and k != "name"}
        try:
            return _load_builtin(spec["name"], params, dtype=dtype)
        except MemoryError:
            raise DataError(out_of_memory_message(f"loading the {spec['name']} dataset")) from None
    path = resolve_path(spec["path"], base_dir)
    where = str(path)
    if not path.exists():
        raise DataError("data file not found", where=where)
    try:
        return _load_file(spec, path, base_dir, dtype)
    except MemoryError:
        # The sizes that headers declare are checked before allocating; this is the rest
        # (a table's cells, copies on the way): a clean message, never a traceback.
        raise out_of_memory_error(where) from None


def _load_file(
    spec: dict[str, Any], path: pathlib.Path, base_dir: pathlib.Path | None, dtype: np.dtype
) -> Dataset:
    where = str(path)
    fmt = spec.get("format") or detect_format(path)
    problems = _format_key_problems(spec, fmt)
    if problems:
        raise DataError("; ".join(problems), where=where)
    if fmt != "images":
        check_regular_file(path)  # a FIFO or /dev/zero: refused before it is opened
    task = spec.get("task")
    if fmt == "csv":
        return load_table(path, spec, dtype=dtype)  # checks its classes itself
    if fmt == "npz":
        dataset = load_npz_file(path, task=task, dtype=dtype)
        target = "'y'"
    elif fmt == "npy":
        y_path = resolve_path(spec["y_path"], base_dir) if "y_path" in spec else None
        dataset = load_npy_pair(path, y_path, task=task, dtype=dtype)
        target = "the targets file"
    elif fmt == "idx":
        labels = resolve_path(spec["labels_path"], base_dir) if "labels_path" in spec else None
        dataset = load_idx_dataset(path, labels, task=task, dtype=dtype)
        target = "the labels file"
    else:
        size = spec.get("image_size")
        dataset = load_image_folder(path, size, spec.get("color"), dtype=dtype)
        target = "the folder"
    check_several_classes(dataset, where, target)
    return dataset


def class_balance(dataset: Dataset) -> list[tuple[str, int]]:
    """How many training samples each class has, for the dataset panel.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    list of (str, int)
        ``(class name, count)`` for every class ``0 .. n_classes - 1`` in order (a class with
        no samples counts 0); the name is ``str(index)`` when the dataset has no class names.
        Empty for regression.
    """
    if dataset.task != "classification" or dataset.y.ndim != 1:
        return []
    k = int(dataset.n_classes or 0)
    counts = np.bincount(dataset.y.astype(np.int64), minlength=k) if len(dataset.y) else []
    names = dataset.class_names or []
    return [(names[c] if c < len(names) else str(c), int(count)) for c, count in enumerate(counts)]
