"""The ``load_data()`` of the exported Keras script: the same arrays as NN Designer's.

:func:`load_data_code` writes the project's dataset, read and prepared exactly as
``engine.data.load_dataset`` + ``prepare`` + ``encode_targets`` do: the built-in sets,
``.npz`` and ``.npy`` files, IDX images, CSV/TSV tables and image folders; the test split, the
seeded stratified validation split and the scaling (standardization or min-max, fitted on the
training split). The generated functions never import NN Designer.

What the data looks like when the code is generated is written into the script as constants
(which files, the settings a table is read with, whether there is a test set). Generation reads
no data except where a spec leaves something to detection: the directory of an ``.npz`` archive
and the presence of the files beside an ``.npy`` or IDX file (stat calls), and the reading
settings of a table or an image folder that the spec does not pin (``Dataset.detected``; read
once per version of the file, then remembered).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from engine.data.builtin import BUILTIN_DATASETS, resolve_params
from engine.errors import NNDError
from engine.export.model_code import compiled
from engine.export.source import INDENT, LINE_LENGTH, Call, docstring, lit, render
from engine.graph import Graph
from engine.project import Project

__all__ = ["DataCode", "load_data_code"]

# These functions repeat engine/data's code operation for operation: the exported file must not
# import NN Designer, and the test suite checks that both give identical arrays.
_MAKE_XOR = '''
def make_xor(n_samples, noise, seed):
    """NN Designer's XOR: class 1 where both coordinates have the same sign."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    pad = 0.06
    points = u * (1.0 - pad) + np.where(u >= 0.0, pad, -pad)
    y = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    points = points + rng.normal(0.0, noise, size=points.shape)
    return points, y
'''

_MAKE_SPIRAL = '''
def make_spiral(n_samples, noise, seed, n_classes):
    """NN Designer's spiral: one arm per class, winding 1.75 turns out to radius 1."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(n_classes):
        m = n_samples // n_classes + (c < n_samples % n_classes)
        r = np.arange(m) / max(m, 1)
        t = 1.75 * 2.0 * np.pi * r + 2.0 * np.pi * c / n_classes
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, c, dtype=np.int64))
    x = np.concatenate(xs)
    x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(n_samples)
    return x[order], np.concatenate(ys)[order]
'''

_READ_NPZ = '''
def read_npz(path, *keys):
    """Arrays of an .npz file, by key (read without unpickling anything)."""
    with np.load(path, allow_pickle=False) as data:
        return [data[key] for key in keys]
'''

_AS_INPUTS = '''
def as_inputs(x):
    """Inputs as float32 rows; a 1-D array is one feature."""
    x = x.astype(np.float32)
    return x.reshape(-1, 1) if x.ndim == 1 else x
'''

_IS_CLASSIFICATION = '''
def is_classification(y):
    """Whole-number targets of shape (n,) or (n, 1) are class labels."""
    if y.ndim == 2 and y.shape[1] != 1:
        return False
    return y.dtype.kind in "biu" or bool(np.all(np.floor(y) == y))
'''

_AS_TARGETS = '''
def as_targets(ys, classification):
    """The targets of every part, training first. Classification: class indices 0, 1,
    ... of shape (n,), from one-hot rows, or from labels (n,) or (n, 1) numbered in
    sorted order of their values over all the parts (-1/+1 and 3/7 become 0/1; labels
    0, 1, 2... stay). Regression: float32 targets of shape (n, k)."""
    if not classification:
        return [y.astype(np.float32).reshape(len(y), -1) for y in ys]
    if ys[0].ndim == 2 and ys[0].shape[1] > 1:
        return [y.argmax(axis=1).astype(np.int64) for y in ys]
    labels = np.unique(np.concatenate([y.reshape(-1) for y in ys]))
    if not np.array_equal(labels, np.arange(len(labels))):
        shown = ", ".join(f"{v:g}" for v in labels)
        print(f"class labels {shown} are the classes 0 to {len(labels) - 1}")
    return [np.searchsorted(labels, y.reshape(-1)).astype(np.int64) for y in ys]
'''

_AS_NAMED_TARGETS = '''
def as_targets(ys, classification):
    """The targets of every part, training first. Classification: class indices of
    shape (n,), from one-hot rows or from labels (n,) or (n, 1), which index the
    archive's class_names. Regression: float32 targets of shape (n, k)."""
    if not classification:
        return [y.astype(np.float32).reshape(len(y), -1) for y in ys]
    if ys[0].ndim == 2 and ys[0].shape[1] > 1:
        return [y.argmax(axis=1).astype(np.int64) for y in ys]
    return [y.reshape(-1).astype(np.int64) for y in ys]
'''

_READ_TABLE = '''
def read_table(path):
    """The header (None without one) and the other non-blank rows of a delimited text
    file, each row a list of cells."""
    # Universal newlines, not newline="": NN Designer reads \\r\\n and \\r as \\n, in quoted
    # cells too.
    with open(path, encoding=ENCODING) as f:
        reader = csv.reader(f, delimiter=DELIMITER, skipinitialspace=True)
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    if HEADER:
        return [cell.strip() for cell in rows[0]], rows[1:]
    return None, rows
'''

_COLUMN = '''
def column(header, rows, ref):
    """The cells of one column, named by its header or by its 0-based index."""
    j = header.index(ref) if isinstance(ref, str) else ref
    return [row[j] for row in rows]
'''

_TO_NUMBERS = '''
def to_numbers(cells):
    """Cells as float64 numbers; ValueError for a cell that is not one."""
    if DECIMAL == ",":
        cells = [cell.replace(",", ".") for cell in cells]
    return np.array(cells, dtype=np.float64)
'''

_CLASS_INDICES = '''
def class_indices(cells):
    """Class indices 0, 1, ... of a target column, in sorted order of its values: sorted
    as numbers when every cell is a finite number, else as text."""
    try:
        values = to_numbers(cells)
        numeric = bool(np.all(np.abs(values) <= np.finfo(np.float32).max))
    except ValueError:
        numeric = False
    if not numeric:
        values = np.array([cell.strip() for cell in cells], dtype=str)
    return np.unique(values, return_inverse=True)[1].astype(np.int64).reshape(-1)
'''

_READ_IDX = '''
def read_idx(path):
    """The array in an IDX file (MNIST's format), gzip-compressed or not."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\\x1f\\x8b":
        data = gzip.decompress(data)
    types = {8: "u1", 9: "i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}
    dtype = np.dtype(types[data[2]])
    shape = [int(d) for d in np.frombuffer(data, ">u4", count=data[3], offset=4)]
    values = np.frombuffer(data, dtype, offset=4 + 4 * data[3])
    return values.reshape(shape).astype(dtype.newbyteorder("="))
'''

_IDX_INPUTS = '''
def idx_inputs(images):
    """IDX images as float32 rows; 8-bit pixels are scaled to [0, 1]."""
    x = images.reshape(len(images), -1).astype(np.float32)
    return x / np.float32(255.0) if images.dtype == np.uint8 else x
'''

_READ_IMAGE_FOLDER = '''
def read_image_folder(folder):
    """Images and class indices from a folder with one subfolder per class: classes in
    sorted order of their names; hidden folders and other files are skipped."""
    suffixes = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
    entries = sorted(Path(folder).iterdir(), key=lambda p: p.name)
    classes = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    images, labels = [], []
    for label, class_folder in enumerate(classes):
        for path in sorted(class_folder.iterdir(), key=lambda p: p.name):
            if path.is_file() and path.suffix.lower() in suffixes:
                images.append(read_image(path))
                labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)
'''

_READ_IMAGE_GRAY = '''
def read_image(path):
    """One image as float32 values in [0, 1]: grayscale, resized to IMAGE_SIZE with
    bilinear filtering, flattened row by row."""
    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16"):  # 16-bit grayscale to 8 bits
            pixels = np.asarray(image, dtype=np.float64) / 65535.0 * 255.0
            image = Image.fromarray(pixels.round().astype(np.uint8))
        elif image.mode in ("I", "F"):  # 32 bits have no fixed range: to its maximum
            pixels = np.asarray(image, dtype=np.float64)
            finite = pixels.size and np.isfinite(pixels).all()
            top = float(pixels.max()) if finite else 0.0
            pixels = np.clip(pixels / top if top > 0 else pixels * 0, 0, 1) * 255.0
            image = Image.fromarray(pixels.round().astype(np.uint8))
        image = image.convert("L")
        size = (IMAGE_SIZE[1], IMAGE_SIZE[0])  # Pillow's sizes are (width, height)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(-1) / np.float32(255.0)
'''

_READ_IMAGE_RGB = '''
def read_image(path):
    """One image as float32 values in [0, 1]: RGB, resized to IMAGE_SIZE with bilinear
    filtering, flattened row by row with the channels last."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        size = (IMAGE_SIZE[1], IMAGE_SIZE[0])  # Pillow's sizes are (width, height)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(-1) / np.float32(255.0)
'''

_HOLD_OUT = '''
def hold_out(x, y, fraction, seed):
    """Hold out a seeded random share of the samples, keeping each class's share.

    Returns the rest and the share held out, ``(x, y), (x_out, y_out)``, both in the
    original sample order.
    """
    n = len(x)
    n_out = min(max(round(fraction * n), 1), n - 1)
    rng = np.random.default_rng(seed)
    if y.ndim == 1 and y.dtype.kind in "biu":
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        ideal = n_out * counts / n
        take = np.floor(ideal).astype(np.int64)
        # Leftover samples go to the classes with the largest remainders.
        order = np.lexsort((rng.random(len(classes)), -(ideal - take)))
        take[order[: n_out - int(take.sum())]] += 1
        chosen = []
        for c in range(len(classes)):
            chosen.append(rng.permutation(np.flatnonzero(inverse == c))[: take[c]])
        out_index = np.concatenate(chosen)
    else:
        out_index = rng.permutation(n)[:n_out]
    is_out = np.zeros(n, dtype=bool)
    is_out[out_index] = True
    return (x[~is_out], y[~is_out]), (x[is_out], y[is_out])
'''

_FIT_STANDARDIZER = '''
def fit_standardizer(x):
    """Per-feature mean and standard deviation of x (1 for a constant feature)."""
    x64 = x.astype(np.float64)
    std = x64.std(axis=0)
    std[np.ptp(x64, axis=0) == 0] = 1.0
    return x64.mean(axis=0).astype(x.dtype), std.astype(x.dtype)
'''

_FIT_MINMAX = '''
def fit_minmax(x):
    """Per-feature minimum and range of x (range 1 for a constant feature)."""
    x64 = x.astype(np.float64)
    low = x64.min(axis=0)
    span = x64.max(axis=0) - low
    span[span <= 0] = 1.0
    return low.astype(x.dtype), span.astype(x.dtype)
'''

# The settings a table is read with; the script writes each as a constant.
_TABLE_KEYS = ("delimiter", "header", "encoding", "decimal", "target", "features", "task")


@dataclass
class DataCode:
    """What load_data needs: helper functions (source text), imports and its body."""

    helpers: list[str] = field(default_factory=list)
    # "numpy", "Path", "csv", "gzip", "PIL"
    imports: set[str] = field(default_factory=set)
    sklearn: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    description: str = ""
    task: str | None = "classification"  # None: decided when the file is read
    constants: list[str] = field(default_factory=list)
    # The source holds a test set of its own: the lines define x_test and y_test too.
    own_test: bool = False
    test_split: float = 0.0
    # Why the data could not be described (a table or image folder unreadable at export).
    unavailable: str | None = None
    # The samples may have any shape (.npz/.npy arrays: (n, d), (n, H, W, C)...): load_data
    # lays them out in the model's input shape whatever its rank, flat ones too.
    any_shape: bool = False
    # The lines define w, each sample's weight (a table's sample_weight column): every part
    # comes with its weights, (x, y, w).
    weighted: bool = False

    @property
    def has_test(self) -> bool:
        return self.own_test or self.test_split > 0


def _kwargs(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={lit(v)}" for k, v in params.items())


def _builtin_source(name: str, params: dict[str, Any], data: DataCode) -> None:
    info = BUILTIN_DATASETS[name]
    p = resolve_params(name, params)
    shown = f" ({_kwargs(p)})" if p else ""
    data.description = f"The built-in {name} dataset{shown}"
    data.task = info.task
    data.imports.add("numpy")
    emit = data.lines.append
    if name in ("xor", "spiral"):
        data.helpers.append(_MAKE_XOR if name == "xor" else _MAKE_SPIRAL)
        emit(f"x, y = make_{name}({_kwargs(p)})")
        emit("x = x.astype(np.float32)")
    elif name in ("circles", "moons", "blobs"):
        func = f"make_{name}"
        data.sklearn.append(func)
        noise = p["noise"] or None
        if name == "blobs":
            k = p["centers"]
            emit(f"angles = 2.0 * np.pi * np.arange({k}) / {k}")
            emit("centers = np.stack([np.cos(angles), np.sin(angles)], axis=1)")
            call = Call(
                func,
                [
                    lit(p["n_samples"]),
                    ("n_features", "2"),
                    ("centers", "centers"),
                    ("cluster_std", lit(p["noise"])),
                    ("random_state", lit(p["seed"])),
                ],
            )
        else:
            args: list[Any] = [lit(p["n_samples"]), ("noise", lit(noise))]
            if name == "circles":
                args.append(("factor", lit(p["factor"])))
            args.append(("random_state", lit(p["seed"])))
            call = Call(func, args)
        data.lines += [line[len(INDENT) :] for line in render(call, 1, "x, y = ")]
        emit("x = x.astype(np.float32)")
        emit("y = y.astype(np.int64)")
    elif info.source == "scikit-learn":
        func = f"load_{name}"
        data.sklearn.append(func)
        emit(f"bunch = {func}()")
        emit("x = np.asarray(bunch.data, dtype=np.float32)")
        if info.task == "regression":
            emit("y = np.asarray(bunch.target, dtype=np.float32).reshape(-1, 1)")
        else:
            emit("y = np.asarray(bunch.target, dtype=np.int64)")
    else:  # the Keras cache sets: keras.datasets reads (or fetches) the same files
        data.own_test = True
        data.description += " with its test set"
        emit(f"(x, y), (x_test, y_test) = keras.datasets.{name}.load_data()")
        emit("x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)")
        emit("x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / np.float32(255.0)")
        emit("y, y_test = y.astype(np.int64), y_test.astype(np.int64)")


def _data_path(project: Project, path: str, script_dir: Path | None) -> tuple[str, str]:
    """Where a spec's path points, for the script: ``("home", "~/...")``, ``("beside",
    relative path from the script's folder)`` or ``("absolute", path)``."""
    if path.startswith("~"):
        return "home", path
    pure = PurePath(path)
    base = project.base_dir
    if pure.is_absolute():
        target = Path(path)
    elif base is None:
        # No project folder known: the file is taken to sit beside the script.
        return "beside", pure.as_posix()
    else:
        target = Path(os.path.normpath(base / pure))
    script_dir = script_dir or base
    if script_dir is not None:
        try:
            rel = os.path.relpath(target, script_dir)
        except ValueError:  # another drive (Windows)
            rel = None
        if rel is not None and not rel.startswith(".."):
            return "beside", Path(rel).as_posix()
    return "absolute", target.as_posix()


def _path_constant(name: str, kind: str, path: str) -> list[str]:
    """``NAME = <the path as a pathlib expression>``, its path split at slashes over lines
    when the line would be too long (ruff format keeps that layout)."""
    one_line = {
        "home": f"Path({lit(path)}).expanduser()",
        "beside": f"Path(__file__).resolve().parent / {lit(path)}",
        "absolute": f"Path({lit(path)})",
    }[kind]
    if len(f"{name} = {one_line}") <= LINE_LENGTH:
        return [f"{name} = {one_line}"]
    room = LINE_LENGTH - len(INDENT) - 3  # quotes and comma
    chunks: list[str] = []
    for part in path.split("/"):
        joined = chunks[-1].rstrip("/") + "/" + part if chunks else part or "/"
        if chunks and len(lit(joined)) - 2 <= room:
            chunks[-1] = joined
        else:
            chunks.append(part or "/")
    func = "Path(__file__).resolve().parent.joinpath" if kind == "beside" else "Path"
    trailer = ".expanduser()" if kind == "home" else ""
    call = Call(func, [lit(c) for c in chunks], explode=True)
    return render(call, 0, f"{name} = ", trailer)


@dataclass
class _Source:
    """A file dataset as code generation sees it."""

    project: Project
    spec: dict
    path: Path  # resolved
    script_dir: Path | None
    data: DataCode

    def path_constant(self, name: str, path: str) -> list[str]:
        return _path_constant(name, *_data_path(self.project, path, self.script_dir))


def _file_source(project: Project, spec: dict, script_dir: Path | None, data: DataCode) -> None:
    from engine.data import detect_format
    from engine.data.files import resolve_path

    source = _Source(project, spec, resolve_path(spec["path"], project.base_dir), script_dir, data)
    fmt = spec.get("format") or detect_format(source.path)
    data.imports |= {"numpy", "Path"}
    data.constants += source.path_constant("DATA_PATH", spec["path"])
    if fmt == "csv":
        _table_source(source)
    elif fmt == "npz":
        _npz_source(source)
    elif fmt == "npy":
        _npy_source(source)
    elif fmt == "idx":
        _idx_source(source)
    else:
        _images_source(source)


def _targets_line(ys: list[str], flag: str = "True") -> str:
    """``y, y_test = as_targets([y, y_test], flag)`` (``(y,) = ...`` for one part)."""
    names = ", ".join(ys)
    left = f"({names},)" if len(ys) == 1 else names
    return f"{left} = as_targets([{names}], {flag})"


def _file_targets(source: _Source, ys: list[str], named: bool = False) -> None:
    """Targets of an .npz or .npy file: the project's task, else inferred from all of them;
    labels numbered as engine.data.files numbers them (``named``: they index the archive's
    class_names)."""
    data = source.data
    data.task = source.spec.get("task")
    data.helpers.append(_AS_NAMED_TARGETS if named else _AS_TARGETS)
    if data.task is None:
        data.helpers.append(_IS_CLASSIFICATION)
        data.lines.append("classification = " + " and ".join(f"is_classification({y})" for y in ys))
        flag = "classification"
    else:
        flag = f"classification={data.task == 'classification'}"
    data.lines.append(_targets_line(ys, flag))


def _npz_source(source: _Source) -> None:
    from engine.data.files import npz_keys

    data = source.data
    try:
        # The archive's directory only (not its arrays): which layout, whether a test set.
        keys = npz_keys(source.path)
    except NNDError:
        keys = []  # not readable now: the x/y layout, without a test set
    suffix = "_train" if "x_train" in keys else ""
    data.own_test = "x_test" in keys or "y_test" in keys
    data.helpers += [_READ_NPZ, _AS_INPUTS]
    data.any_shape = True
    data.description = f"The data file {source.spec['path']}"
    data.lines.append(f'x, y = read_npz(DATA_PATH, "x{suffix}", "y{suffix}")')
    if data.own_test:
        data.description += " with its test set"
        data.lines.append('x_test, y_test = read_npz(DATA_PATH, "x_test", "y_test")')
        data.lines.append("x, x_test = as_inputs(x), as_inputs(x_test)")
    else:
        data.lines.append("x = as_inputs(x)")
    _file_targets(source, ["y", "y_test"] if data.own_test else ["y"], "class_names" in keys)


def _npy_source(source: _Source) -> None:
    from engine.data.files import find_y_file, resolve_path

    data, spec = source.data, source.spec
    if "y_path" in spec:
        y_path = resolve_path(spec["y_path"], source.project.base_dir)
        data.constants += source.path_constant("Y_PATH", spec["y_path"])
    else:
        y_path = find_y_file(source.path)  # by name, beside the inputs
        if y_path is None:
            data.unavailable = (
                f"no targets file was found beside {source.path.name} when this script was "
                'exported; give it as "y_path"'
            )
            return
        data.constants.append(f"Y_PATH = DATA_PATH.with_name({lit(y_path.name)})")
    data.helpers.append(_AS_INPUTS)
    data.any_shape = True
    data.description = f"The arrays {source.path.name} and {y_path.name}"
    data.lines.append("x = as_inputs(np.load(DATA_PATH, allow_pickle=False))")
    data.lines.append("y = np.load(Y_PATH, allow_pickle=False)")
    _file_targets(source, ["y"])


def _idx_source(source: _Source) -> None:
    from engine.data.files import resolve_path
    from engine.data.idx import find_labels_file

    data, spec, path = source.data, source.spec, source.path
    found = find_labels_file(path)  # stat calls only, as for the test files below
    if "labels_path" in spec:
        labels = resolve_path(spec["labels_path"], source.project.base_dir)
        data.constants += source.path_constant("LABELS_PATH", spec["labels_path"])
    elif found is not None:
        labels = found
        data.constants.append(f"LABELS_PATH = DATA_PATH.with_name({lit(found.name)})")
    else:
        data.unavailable = (
            f"no labels file was found beside {path.name} when this script was exported; "
            'give it as "labels_path"'
        )
        return
    # As NN Designer does: train-* images with their own labels get the t10k-* files beside
    # them as the test set.
    test_images = path.with_name("t10k" + path.name[len("train") :])
    test_labels = None
    if labels == found and path.name.lower().startswith("train") and test_images.is_file():
        test_labels = find_labels_file(test_images)
    data.own_test = test_labels is not None
    data.imports.add("gzip")
    data.helpers += [_READ_IDX, _IDX_INPUTS]
    data.task = spec.get("task") or "classification"
    data.description = f"The IDX images {path.name} with the labels {labels.name}"
    parts = [("", "DATA_PATH", "LABELS_PATH")]
    if test_labels is not None:
        data.constants += [
            f"TEST_DATA_PATH = DATA_PATH.with_name({lit(test_images.name)})",
            f"TEST_LABELS_PATH = DATA_PATH.with_name({lit(test_labels.name)})",
        ]
        data.description += f", and the test set in {test_images.name} and {test_labels.name}"
        parts.append(("_test", "TEST_DATA_PATH", "TEST_LABELS_PATH"))
    for suffix, images, labels_name in parts:
        data.lines.append(f"x{suffix} = idx_inputs(read_idx({images}))")
        if data.task == "classification":
            data.lines.append(f"y{suffix} = read_idx({labels_name})")
        else:
            data.lines.append(
                f"y{suffix} = read_idx({labels_name}).astype(np.float32).reshape(-1, 1)"
            )
    if data.task == "classification":
        # Labels numbered 0..k-1 in sorted order over both parts, as NN Designer does.
        data.helpers.append(_AS_TARGETS)
        data.lines.append(_targets_line(["y", "y_test"] if test_labels is not None else ["y"]))


def _table_source(source: _Source) -> None:
    from engine.data.tables import normalize_encoding

    data, spec = source.data, source.spec
    settings = _pinned_table_settings(spec)
    if settings is None:
        settings, error = _detected(spec, source.path)
        if settings is None:
            data.unavailable = (
                f"{spec['path']} could not be read when this script was exported ({error})"
            )
            return
    encoding = normalize_encoding(settings["encoding"])
    data.imports.add("csv")
    data.constants += [
        "# How NN Designer reads the table:",
        f"DELIMITER = {lit(settings['delimiter'])}",
        f"HEADER = {lit(bool(settings['header']))}",
        # NN Designer skips a byte order mark at the start of UTF-8 text, as utf-8-sig does.
        'ENCODING = "utf-8-sig"  # UTF-8, skipping a byte order mark'
        if encoding == "utf-8"
        else f"ENCODING = {lit(encoding)}",
        f"DECIMAL = {lit(settings['decimal'])}",
    ]
    target, features = settings["target"], settings["features"]
    data.constants += render(_list_expr(target), 0, "TARGET = ")
    data.constants += render(_list_expr(features), 0, "FEATURES = ")
    data.helpers += [_READ_TABLE, _COLUMN, _TO_NUMBERS]
    data.task = settings["task"]
    data.description = f"The table {spec['path']}"
    emit = data.lines.append
    emit("header, rows = read_table(DATA_PATH)")
    emit("x = np.stack([to_numbers(column(header, rows, name)) for name in FEATURES], axis=1)")
    emit("x = x.astype(np.float32)")
    if isinstance(target, list):
        emit("y = np.stack([to_numbers(column(header, rows, t)) for t in TARGET], axis=1)")
        emit("y = y.astype(np.float32)")
    elif data.task == "classification":
        data.helpers.append(_CLASS_INDICES)
        emit("y = class_indices(column(header, rows, TARGET))")
    else:
        emit("y = to_numbers(column(header, rows, TARGET)).astype(np.float32).reshape(-1, 1)")
    if settings.get("sample_weight") is not None:
        data.constants.append(f"SAMPLE_WEIGHT = {lit(settings['sample_weight'])}")
        data.weighted = True
        emit("# each sample's loss weight (Keras' fit(sample_weight=...))")
        emit("w = to_numbers(column(header, rows, SAMPLE_WEIGHT)).astype(np.float32)")


def _list_expr(value: Any) -> Any:
    if not isinstance(value, list):
        return lit(value)
    first = value[0] if value else None
    if (
        len(value) > 3
        and isinstance(first, int)
        and not isinstance(first, bool)
        and value == list(range(first, first + len(value)))
    ):
        start = f"{first}, " if first else ""
        return f"list(range({start}{first + len(value)}))"  # the columns of a wide table
    return Call("", [lit(v) for v in value], "[", "]")


def _pinned_table_settings(spec: dict) -> dict | None:
    """The table settings when the spec pins every one of them in the form the script uses
    (columns by header name or by index from 0), else None."""
    if not all(key in spec for key in _TABLE_KEYS):
        return None
    target = spec["target"]
    refs = (target if isinstance(target, list) else [target]) + list(spec["features"])
    if "sample_weight" in spec:
        refs.append(spec["sample_weight"])
    for ref in refs:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            return None
        if isinstance(ref, int) and ref < 0:
            return None
        if isinstance(ref, str) and (not spec["header"] or ref != ref.strip() or _int_like(ref)):
            return None  # a name to resolve, or a string read as an index: detect them
    pinned = {key: spec[key] for key in _TABLE_KEYS}
    if "sample_weight" in spec:
        pinned["sample_weight"] = spec["sample_weight"]
    return pinned


def _int_like(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def _images_source(source: _Source) -> None:
    data, spec = source.data, source.spec
    if "image_size" in spec and "color" in spec:
        settings = {"image_size": spec["image_size"], "color": spec["color"]}
    else:
        settings, error = _detected(spec, source.path)
        if settings is None:
            data.unavailable = (
                f"{spec['path']} could not be read when this script was exported ({error})"
            )
            return
    height, width = (int(v) for v in settings["image_size"])
    color = settings["color"]
    data.constants.append(f"IMAGE_SIZE = ({height}, {width})  # height, width")
    data.imports.add("PIL")
    data.helpers += [
        _READ_IMAGE_GRAY if color == "grayscale" else _READ_IMAGE_RGB,
        _READ_IMAGE_FOLDER,
    ]
    data.description = (
        f"The images in {spec['path']}, one subfolder per class, {height}x{width} {color}"
    )
    data.lines.append("x, y = read_image_folder(DATA_PATH)")


def _detected(spec: dict, path: Path) -> tuple[dict | None, str | None]:
    """How NN Designer reads a table or image folder (``Dataset.detected``), or None and why
    it cannot be read.

    The script writes these settings as constants so that it never sniffs. Knowing them
    means reading the data once: the result is kept per version of the file (size and
    modification time; for a folder, those of it and its class folders), so the code
    preview, which regenerates the code on every edit, reads the data once per change.
    """
    from engine.data import COMMON_KEYS

    file_spec = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    file_spec["path"] = str(path)
    detected, error = _detect(json.dumps(file_spec, sort_keys=True), _version(path))
    return (dict(detected) if detected is not None else None), error


@functools.lru_cache(maxsize=16)
def _detect(spec_json: str, version: tuple) -> tuple[dict | None, str | None]:
    from engine.data import load_dataset

    try:
        return load_dataset(json.loads(spec_json)).detected, None
    except NNDError as exc:
        return None, str(exc)


def _version(path: Path) -> tuple:
    try:
        stats = [path.stat()]
        if path.is_dir():
            stats += [p.stat() for p in sorted(path.iterdir()) if p.is_dir()]
    except OSError:
        return ()
    return tuple((s.st_size, s.st_mtime_ns) for s in stats)


def _encode_lines(project: Project, graph: Graph, np_dtype: str, parts: list[str]) -> list[str]:
    """Class labels as the loss wants them (engine.validate.encode_targets)."""
    from engine.losses import canonical_loss

    if not compiled(project):
        return []  # no loss to encode for: the labels stay as the data has them
    loss = canonical_loss(project.compile["loss"])
    if loss == "sparse_categorical_crossentropy":
        return []
    width = graph.output_shape[-1]
    lines = []
    for y in parts:
        if width == 1:
            lines.append(f"{y} = {y}.reshape(-1, 1).astype({np_dtype})")
        else:
            lines.append(f"{y} = np.eye({width}, dtype={np_dtype})[{y}]")
    return lines


def _raising_load_data(doc: str, message: str) -> list[str]:
    """A load_data() that stops the script with ``message``."""
    body = ["def load_data():"] + docstring(doc, 1)
    one_line = f"{INDENT}raise SystemExit({lit(message)})"
    if len(one_line) <= LINE_LENGTH:
        return body + [one_line]
    # Implicitly concatenated pieces, one a line, each ending in a space but the last.
    width = LINE_LENGTH - 2 * len(INDENT) - 2
    pieces, piece = [], ""
    for word in message.split(" "):
        if piece and len(lit(piece + word)) > width:
            pieces.append(piece)
            piece = ""
        piece += word + " "
    pieces.append(piece.rstrip(" "))
    return (
        body
        + [f"{INDENT}raise SystemExit("]
        + [INDENT * 2 + lit(p) for p in pieces]
        + [f"{INDENT})"]
    )


def _in_dtype(code: str, dtype: str) -> str:
    """Data-reading code that makes float32 arrays, made to make ``dtype`` ones instead (the
    float32 range check of table cells stays: NN Designer keeps it whatever the dtype)."""
    for old in (".astype(np.float32)", "dtype=np.float32", "np.float32(255.0)"):
        code = code.replace(old, old.replace("float32", dtype))
    return code.replace("as float32", f"as {dtype}").replace("float32 targets", f"{dtype} targets")


def _split_lines(project: Project, data: DataCode, split: bool) -> None:
    """The test and validation splits of x and y, and of the weights w for weighted data: the
    held-out rows are chosen as without weights (hold_out of the row numbers), each part
    taking its rows of all three."""
    lines, weighted = data.lines, data.weighted
    if data.test_split:
        data.helpers.append(_HOLD_OUT)
        lines += [
            "# The test set first, from a seed stream of its own: another validation_split",
            "# never changes which samples it holds.",
        ]
        if weighted:
            lines += [
                "rows = np.arange(len(x))",
                "(rows, y), (test_rows, y_test) = hold_out(rows, y, TEST_SPLIT, (SEED, 0x7E57))",
                "x_test, w_test = x[test_rows], w[test_rows]",
                "x, w = x[rows], w[rows]",
            ]
        else:
            lines.append("(x, y), (x_test, y_test) = hold_out(x, y, TEST_SPLIT, (SEED, 0x7E57))")
    parts = ("x", "y", "w") if weighted else ("x", "y")
    if split and project.fit.get("validation_split_mode") == "last":
        data.imports.add("math")

        def part(suffix: str, cut: str) -> str:
            names = ", ".join(f"{p}_{suffix}" for p in parts)
            return f"{names} = " + ", ".join(f"{p}[{cut}]" for p in parts)

        lines += [
            "# The last samples validate, as Keras' fit(validation_split=...) splits them.",
            "split_at = int(math.floor(len(x) * (1.0 - VALIDATION_SPLIT)))",
            part("train", ":split_at"),
            part("val", "split_at:"),
        ]
    elif split:
        data.helpers.append(_HOLD_OUT)
        if weighted:
            lines += [
                "rows = np.arange(len(x))",
                "(train_rows, y_train), (val_rows, y_val) = "
                "hold_out(rows, y, VALIDATION_SPLIT, SEED)",
                "x_train, w_train = x[train_rows], w[train_rows]",
                "x_val, w_val = x[val_rows], w[val_rows]",
            ]
        else:
            lines.append(
                "(x_train, y_train), (x_val, y_val) = hold_out(x, y, VALIDATION_SPLIT, SEED)"
            )
    else:
        lines.append(", ".join(f"{p}_train" for p in parts) + " = " + ", ".join(parts))


def load_data_code(
    project: Project, graph: Graph, script_dir: Path | None
) -> tuple[list[str], DataCode]:
    """The script's ``load_data()`` function, and what the rest of the script needs of it.

    Parameters
    ----------
    project : Project
    graph : Graph
        The validated network (its output width decides how class labels are encoded).
    script_dir : Path or None
        The folder the script goes to (data files inside it are found relative to it).

    Returns
    -------
    (list of str, DataCode)
        The lines of ``def load_data(): ...``, and the helpers, imports and constants they use
        (an empty :class:`DataCode` when ``load_data()`` only raises: no dataset, or the data
        could not be read at export).

    Raises
    ------
    NNDError
        A dataset with a test set of its own that also sets ``test_split``.
    """
    from engine.data import COMMON_KEYS, scale_of

    spec = project.dataset
    data = DataCode()
    if "dataset" not in project.data:
        body = _raising_load_data(
            "Training and validation data: the project names no dataset.",
            "This model was exported without a dataset: write load_data() to return "
            "(x_train, y_train), (x_val, y_val).",
        )
        return body, data
    if "name" in spec:
        params = {k: v for k, v in spec.items() if k != "name" and k not in COMMON_KEYS}
        _builtin_source(spec["name"], params, data)
    else:
        _file_source(project, spec, script_dir, data)
    if data.unavailable is not None:
        body = _raising_load_data(
            "Training and validation data: the data could not be read at export.",
            f"{data.unavailable}. Export the project again once NN Designer can read its data.",
        )
        return body, DataCode()
    data.test_split = float(spec.get("test_split", 0.0))
    if data.own_test and data.test_split:
        # NN Designer refuses it too (engine.data.prepare).
        raise NNDError(
            f"{spec.get('name') or spec['path']} has a test set of its own; remove "
            '"test_split" from the dataset or use the data without its test set'
        )
    np_dtype = f"np.{project.dtype}"
    if project.dtype != "float32":
        # NN Designer reads the data in the project's dtype (engine.data.load_dataset), never
        # through float32: the script's readers do the same.
        data.helpers = [_in_dtype(h, project.dtype) for h in data.helpers]
        data.lines = [_in_dtype(line, project.dtype) for line in data.lines]
    lines = data.lines
    split = float(project.fit.get("validation_split", 0.0)) > 0
    _split_lines(project, data, split)
    parts = ["train"] + (["val"] if split else []) + (["test"] if data.has_test else [])
    scale = scale_of(spec)
    if scale != "none":
        helper, fit, shift, factor = {
            "standardize": (_FIT_STANDARDIZER, "fit_standardizer", "mean", "std"),
            "minmax": (_FIT_MINMAX, "fit_minmax", "low", "span"),
        }[scale]
        data.helpers.append(helper)
        lines.append(f"{shift}, {factor} = {fit}(x_train)")
        lines += [f"x_{p} = (x_{p} - {shift}) / {factor}" for p in parts]
    if len(graph.input_shape) > 1 or data.any_shape:
        # Samples reach the model in its input shape, as in NN Designer: flat rows (the
        # built-in digits, MNIST, IDX, image folders) as (H, W, C) images, row-major, channels
        # last; an array file's samples in that shape too, flattened for a flat input.
        shape = repr(tuple(int(d) for d in graph.input_shape))
        lines += [f"x_{p} = x_{p}.reshape((len(x_{p}),) + {shape})" for p in parts]
    encode = _encode_lines(project, graph, np_dtype, [f"y_{p}" for p in parts])
    if encode and data.task is None:
        lines.append("if classification:")
        lines += [INDENT + line for line in encode]
    elif data.task != "regression":
        lines += encode
    part = "(x_{0}, y_{0}, w_{0})" if data.weighted else "(x_{0}, y_{0})"
    returned = [part.format("train"), part.format("val") if split else "None"]
    if data.has_test:
        returned.append(part.format("test"))
    lines.append("return " + ", ".join(returned))

    how = ["split"] if split or data.test_split else []
    how += {"standardize": ["standardized"], "minmax": ["min-max scaled"]}.get(scale, [])
    done = f", {' and '.join(how)} as NN Designer does" if how else ""
    doc_part = "``(x_{0}, y_{0}, w_{0})``" if data.weighted else "``(x_{0}, y_{0})``"
    val = doc_part.format("val") if split else "None (the project holds out no validation data)"
    if data.has_test:
        title = "Training, validation and test data, prepared as in NN Designer."
        returns = f"{doc_part.format('train')}, {val} and {doc_part.format('test')}"
    else:
        title = "Training and validation data, prepared as in NN Designer."
        returns = f"{doc_part.format('train')} and {val}"
    if data.weighted:
        returns += " (w: each sample's loss weight)"
    doc = f"{title}\n\n{data.description}{done}. Returns {returns}."
    body = (
        ["def load_data():"] + docstring(doc, 1) + [INDENT + line if line else "" for line in lines]
    )
    return body, data
