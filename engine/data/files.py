"""The :class:`Dataset` container and loading datasets from NumPy files.

- ``{"path": "data.npz"}``: the archive holds either ``x`` and ``y`` or Keras' layout
  ``x_train`` and ``y_train``, each optionally with ``x_test`` and ``y_test``, and optionally
  ``class_names`` / ``feature_names`` (1-D string arrays).
- ``{"path": "x.npy", "y_path": "y.npy"}``: two single-array files of the same length. Without
  ``y_path``, ``y`` is looked for beside ``x`` by name (``x.npy`` -> ``y.npy``,
  ``x_train.npy`` -> ``y_train.npy``).

An optional ``"task"`` (``"classification"`` or ``"regression"``) overrides the inferred task.
Both formats are read with ``allow_pickle=False`` and their headers are checked before any
array is allocated. Every problem raises :class:`~engine.errors.DataError` naming the file, the
key and, for bad values, the first bad index.
"""

from __future__ import annotations

import math
import os
import pathlib
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from engine.errors import DataError, NNDError

__all__ = [
    "MAX_AUTO_CLASSES",
    "TASKS",
    "Dataset",
    "check_fits",
    "check_regular_file",
    "check_several_classes",
    "dataset_from_arrays",
    "find_y_file",
    "load_npy_pair",
    "load_npz_file",
    "npz_keys",
    "read_npy",
    "read_npz_arrays",
    "relative_data_path",
    "resolve_path",
    "show_value",
    "out_of_memory_error",
]

TASKS = ("classification", "regression")

#: An integer target with more distinct classes than this is refused unless the spec says
#: ``"task": "classification"``: it is far more likely a regression target stored as integers.
MAX_AUTO_CLASSES = 1000

_FLOAT32 = np.dtype(np.float32)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


@dataclass
class Dataset:
    """A loaded dataset, ready for :func:`engine.data.prepare`.

    Attributes
    ----------
    x : ndarray of shape (n_samples, *feature_shape), float32 or the project's dtype
        Training inputs (the validation split is taken from these later).
    y : ndarray
        Classification: shape (n_samples,), int64 class indices in ``[0, n_classes)``.
        Regression: shape (n_samples, n_targets), the dtype of ``x``.
    x_test, y_test : ndarray or None
        A held-out test set with the same layout, when the source provides one.
    task : {"classification", "regression"}
    n_classes : int or None
        Number of classes (classification only).
    class_names : list of str or None
        One name per class, when known: a file's own names, or its labels as text when they
        were not 0..k-1 (``["-1", "1"]`` for labels -1/+1, numbered 0/1 in sorted order).
    feature_names : list of str or None
        One name per input feature (flat inputs only), when known.
    name : str
        Display name, e.g. ``"moons (400 samples)"``.
    target_names : list of str or None
        The target column(s) of a table, when known (e.g. ``["species"]``).
    notes : list of str
        Sentences for the user about how the file was read (``"read as Latin-1 ..."``,
        ``"column 'name' holds text and was left out of the features"``).
    detected : dict
        The reading options that were detected or applied (for a table: ``delimiter``,
        ``header``, ``encoding``, ``decimal``, ``target``, ``features``, ``task``). Writing
        them into the project's dataset spec pins them, so later reads cannot differ.
    image_shape : (int, int, int) or None
        What one sample is as an image, ``(height, width, channels)`` channels-last, when the
        data are images: ``(8, 8, 1)`` for the built-in digits, ``(28, 28, 1)`` for MNIST and
        IDX files, ``(h, w, 1 or 3)`` for an image folder, ``x.shape[1:]`` for an archive's
        (n, H, W, C) inputs and ``(H, W, 1)`` for (n, H, W). ``x`` keeps its source's layout
        (flat rows for the built-in sets, IDX files and folders; see
        :mod:`engine.data.layout` for how it reaches a model of another ``input_shape``).
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    task: str = "classification"
    n_classes: int | None = None
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    name: str = ""
    target_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    detected: dict[str, Any] = field(default_factory=dict)
    image_shape: tuple[int, int, int] | None = None
    #: Each sample's loss weight (a table's ``sample_weight`` column: Keras'
    #: ``fit(sample_weight=...)``), float64 of shape (n,), or None.
    sample_weight: np.ndarray | None = None

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """Shape of one input sample, ``x.shape[1:]`` (e.g. ``(2,)`` or ``(784,)``)."""
        return tuple(self.x.shape[1:])

    @property
    def n_samples(self) -> int:
        """Number of training samples (``len(x)``)."""
        return int(self.x.shape[0])


def resolve_path(path: str, base_dir: pathlib.Path | None) -> pathlib.Path:
    """Resolve a spec's ``path``: ``~`` expanded, relative paths taken from ``base_dir``.

    Parameters
    ----------
    path : str
        The path as written in the project file.
    base_dir : Path or None
        The project file's folder; the current directory when None.

    Returns
    -------
    Path
        An absolute path.
    """
    resolved = pathlib.Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = (pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()) / (
            resolved
        )
    return resolved.absolute()


def relative_data_path(
    path: str | os.PathLike[str], base_dir: pathlib.Path | None, max_up: int = 2
) -> str:
    """How a project should store a data path: relative to its folder when possible.

    Parameters
    ----------
    path : str or path-like
        The data file or folder (absolute, or relative to the current directory).
    base_dir : Path or None
        The project file's folder; None (an unsaved project) keeps the path absolute.
    max_up : int
        The most ``..`` steps a relative path may take; further away, the absolute path is
        kept (a project moved with its data folder still finds it; one moved alone does not).

    Returns
    -------
    str
        A POSIX-style relative path (``"data/iris.csv"``, ``"../data/iris.csv"``) or the
        absolute path (another drive, too far away, or no ``base_dir``).
    """
    target = pathlib.Path(path).expanduser().absolute()
    if base_dir is None:
        return str(target)
    base = pathlib.Path(base_dir).expanduser().absolute()
    try:
        rel = pathlib.Path(os.path.relpath(target, base))
    except ValueError:  # Windows: another drive
        return str(target)
    ups = 0
    for part in rel.parts:
        if part != "..":
            break
        ups += 1
    if ups > max_up:
        return str(target)
    return rel.as_posix()


def show_value(value: object, limit: int = 40) -> str:
    """A cell or array value as messages quote it: ``'n/a'``, ``''``, ``3.5``."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if len(value) > limit:
            value = value[:limit] + "..."
        return repr(value)
    return repr(value)


def check_fits(nbytes: float, what: str, where: str) -> None:
    """Refuse, before allocating it, ``nbytes`` of memory that cannot fit the process's real
    limit (RAM, ``ulimit -v``, the cgroup's limit; see :func:`engine.memory.check_allocation`).

    Raises
    ------
    DataError
        Naming ``where`` (the file), ``what`` and both sizes.
    """
    from engine.memory import check_allocation

    try:
        check_allocation(nbytes, what)
    except DataError:
        raise
    except NNDError as exc:
        raise DataError(exc.message, where=where) from None


def out_of_memory_error(where: str, what: str = "loading the data file") -> DataError:
    """The :class:`DataError` for a MemoryError caught while reading ``where``."""
    from engine.memory import out_of_memory_message

    return DataError(out_of_memory_message(what), where=where)


def check_regular_file(
    path: pathlib.Path, what: str = "data file", expected: str = "a file"
) -> int:
    """The size of ``path`` in bytes, after checking that it is a regular file.

    A FIFO would block the first ``open`` until some other process writes to it, and
    ``/dev/zero`` or ``/dev/urandom`` never end: neither can be data, so both are refused
    before they are opened.

    Raises
    ------
    DataError
        The path is missing, a folder, or not a regular file (a FIFO, a device, a socket).
    """
    where = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{what} not found", where=where) from None
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror or exc}", where=where) from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{what} is a folder, not {expected}", where=where)
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise DataError(
            f"{what} is {kind}, not a regular file; save the data to a file and open that",
            where=where,
        )
    return int(info.st_size)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _fmt_index(key: str, index: tuple[int, ...]) -> str:
    return f"{key}[{', '.join(str(i) for i in index)}]"


def _read_array(
    opener: Callable[[], IO[bytes]], available: int, key: str, where: str
) -> np.ndarray:
    """Read one ``.npy`` stream, checking its header before allocating anything.

    ``opener`` opens the stream from its start (called twice: header, then data);
    ``available`` is the number of bytes the stream holds.
    """
    try:
        with opener() as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
            header_size = stream.tell()
        if dtype.hasobject:
            raise DataError(
                f"key '{key}' holds Python objects (dtype {dtype}); save plain numeric arrays "
                "(e.g. np.asarray(x, dtype='float32')) so the file can be read safely",
                where=where,
            )
        needed = math.prod(shape) * dtype.itemsize
        if needed > available - header_size:
            raise DataError(
                f"key '{key}' is truncated or corrupt: its header declares shape {shape} of "
                f"{dtype} ({needed} bytes) but the file holds "
                f"{max(available - header_size, 0)} bytes",
                where=where,
            )
        # ``available`` is what a zip member declares: a compressed bomb can declare (and
        # inflate to) far more than memory holds. Refuse it before reading a byte of it.
        check_fits(needed, f"key '{key}' (shape {shape} of {dtype})", where)
        with opener() as stream:
            array = np.lib.format.read_array(stream, allow_pickle=False)
    except DataError:
        raise
    except MemoryError:
        raise out_of_memory_error(where, f"reading key '{key}'") from None
    except OverflowError:
        raise DataError(f"key '{key}' declares an array too large to load", where=where) from None
    except Exception as exc:  # noqa: BLE001
        # Damaged bytes surface as many types (ValueError for bad headers, BadZipFile for CRC
        # errors, zlib.error, EOFError, NotImplementedError for unknown compression,
        # RuntimeError for encryption...). Each means the same thing to the user.
        raise DataError(
            f"key '{key}' is not a readable array ({type(exc).__name__}: {exc})", where=where
        ) from None
    if not isinstance(array, np.ndarray):  # pragma: no cover - read_array always returns one
        raise DataError(f"key '{key}' is not an array", where=where)
    return array


def _read_member(archive: zipfile.ZipFile, member: str, key: str, where: str) -> np.ndarray:
    """Read one ``.npy`` member of an npz archive (see :func:`_read_array`)."""
    try:
        info = archive.getinfo(member)
    except KeyError:  # pragma: no cover - members come from the archive's own name list
        raise DataError(f"key '{key}' is missing", where=where) from None
    return _read_array(lambda: archive.open(info), info.file_size, key, where)


def read_npy(path: pathlib.Path, *, key: str | None = None, what: str = "data file") -> np.ndarray:
    """Read a single-array ``.npy`` file without ever unpickling.

    Parameters
    ----------
    path : Path
        The file.
    key : str, optional
        How the array is called in messages; the file name when None.
    what : str
        How the file is called in messages.

    Returns
    -------
    ndarray
        The array as stored (any dtype except object).

    Raises
    ------
    DataError
        The file is missing, a folder, not an ``.npy`` file, truncated, or holds objects.
    """
    where = str(path)
    key = key or path.name
    try:
        size = check_regular_file(path, what, "an .npy file")
        with open(path, "rb") as f:
            head = f.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror or exc}", where=where) from None
    if head != _NPY_MAGIC:
        hint = ""
        if head.startswith(_ZIP_MAGICS):
            hint = " (it is a zip archive: an .npz file? name it .npz)"
        raise DataError(
            f"{what} is not an .npy file: it does not start with the NumPy magic bytes{hint}; "
            "save one with np.save('x.npy', x)",
            where=where,
        )
    return _read_array(lambda: open(path, "rb"), size, key, where)


def find_y_file(x_path: pathlib.Path) -> pathlib.Path | None:
    """The targets file beside an ``x`` ``.npy`` file, by name: ``x.npy`` -> ``y.npy``,
    ``x_train.npy`` -> ``y_train.npy``, ``X_test.npy`` -> ``y_test.npy``; None when absent."""
    name = x_path.name
    if name[:1] not in ("x", "X"):
        return None
    for first in ("y", "Y"):
        candidate = x_path.with_name(first + name[1:])
        # exists(), not is_file(): a FIFO there is found, then refused by name.
        if candidate != x_path and candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def read_npz_arrays(
    path: pathlib.Path, keys: list[str] | None = None, *, what: str = "data file"
) -> dict[str, np.ndarray]:
    """Read arrays from an ``.npz`` archive without ever unpickling.

    Parameters
    ----------
    path : Path
        The archive.
    keys : list of str, optional
        The keys to read; all ``.npy`` members when None. Missing keys are simply absent from
        the result (the caller decides which are required); present keys are listed by
        :func:`npz_keys`.
    what : str
        How the file is called in messages (``"data file"``, ``"Keras cache file"``).

    Returns
    -------
    dict of str to ndarray
        The arrays as stored (any dtype except object, any shape).

    Raises
    ------
    DataError
        The file is missing, unreadable, not an npz archive, or a requested member is corrupt
        or holds objects. The message names the file and the key.
    """
    where = str(path)
    archive = _open_npz(path, what)
    with archive:
        members = _npz_members(archive)
        wanted = list(members) if keys is None else [k for k in keys if k in members]
        return {k: _read_member(archive, members[k], k, where) for k in wanted}


def npz_keys(path: pathlib.Path, *, what: str = "data file") -> list[str]:
    """The keys (member names without ``.npy``) of an npz archive, in archive order."""
    with _open_npz(path, what) as archive:
        return list(_npz_members(archive))


def _npz_members(archive: zipfile.ZipFile) -> dict[str, str]:
    members: dict[str, str] = {}
    for name in archive.namelist():
        key = name[:-4] if name.endswith(".npy") else name
        members.setdefault(key, name)
    return members


def _open_npz(path: pathlib.Path, what: str) -> zipfile.ZipFile:
    where = str(path)
    try:
        check_regular_file(path, what, "an .npz file")
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror or exc}", where=where) from None
    if head.startswith(_NPY_MAGIC):
        raise DataError(
            f"{what} is a single-array .npy file; save an .npz archive with named arrays "
            "instead, e.g. np.savez('data.npz', x=x, y=y)",
            where=where,
        )
    if not head.startswith(_ZIP_MAGICS):
        raise DataError(
            f"{what} is not an .npz archive (it does not start like a zip file); save one "
            "with np.savez('data.npz', x=x, y=y)",
            where=where,
        )
    try:
        return zipfile.ZipFile(path)
    except Exception as exc:  # noqa: BLE001 - any failure to parse the directory is damage
        raise DataError(f"{what} is a damaged .npz (zip) archive ({exc})", where=where) from None


def _check_numeric(array: np.ndarray, key: str, where: str) -> None:
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"'{key}' has dtype {array.dtype}, not numbers; only bool, integer and float "
            "arrays can be used",
            where=where,
        )


def _to_float(array: np.ndarray, key: str, where: str, dtype: np.dtype = _FLOAT32) -> np.ndarray:
    """Cast to the floating ``dtype`` (no copy when it is already that), refusing NaN, inf and
    values too large for it."""
    _check_numeric(array, key, where)
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore"):  # overflow is reported below, naming the index
        out = array.astype(dtype, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        index = _first_bad(~finite)
        original = array[index].item()
        if math.isfinite(original):
            detail = f"is {original!r}, too large for {dtype.name}"
        else:
            detail = f"is {float(original)!r}"
        raise DataError(
            f"{_fmt_index(key, index)} {detail}; the data must hold finite numbers only",
            where=where,
        )
    return out


def _check_rows(x: np.ndarray, y: np.ndarray, x_key: str, y_key: str, where: str) -> None:
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"'{x_key}' has no rows (shape {x.shape})", where=where)
    if y.ndim == 0:
        raise DataError(f"'{y_key}' is a single value, not one target per row", where=where)
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"'{x_key}' has {x.shape[0]} rows but '{y_key}' has {y.shape[0]}; they must match",
            where=where,
        )
    if y.ndim > 2:
        raise DataError(
            f"'{y_key}' has shape {y.shape}; targets must be (n,) or (n, k)", where=where
        )


def _integer_valued(y: np.ndarray) -> bool:
    if y.dtype.kind in "biu":
        return True
    return bool(np.all(np.floor(y) == y))


def _infer_task(ys: list[tuple[str, np.ndarray]]) -> str:
    """Classification when every target is integer-valued and 1-D or (n, 1)."""
    for _, y in ys:
        if y.ndim == 2 and y.shape[1] != 1:
            return "regression"
        if y.dtype.kind == "f" and not _integer_valued(y):
            return "regression"
    return "classification"


def _target_layout(y: np.ndarray) -> tuple[int, ...]:
    """Per-row target shape, with (n,) and (n, 1) counted as the same layout."""
    return () if y.shape[1:] in ((), (1,)) else tuple(y.shape[1:])


def _format_label(value: object) -> str:
    """A label as the dataset panel and the confusion matrix show it: ``-1``, ``7``."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))  # exact, even past 2**53
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)


def _one_hot_indices(y: np.ndarray, key: str, where: str) -> np.ndarray:
    rows_ok = np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)
    if not rows_ok.all():
        bad = int(np.argmin(rows_ok))
        raise DataError(
            f"'{key}' has shape {y.shape} but row {bad} is not a one-hot vector; for "
            "classification give class indices of shape (n,) or one-hot rows",
            where=where,
        )
    return np.argmax(y, axis=1).astype(np.int64)


def _check_whole(flat: np.ndarray, key: str, where: str) -> None:
    if flat.dtype.kind == "f":
        non_int = np.floor(flat) != flat
        if non_int.any():
            i = int(np.argmax(non_int))
            raise DataError(
                f"{_fmt_index(key, (i,))} is {flat[i].item()!r}, not a class index; class labels "
                'must be whole numbers such as 0, 1, 2 or -1, +1 (or set "task": "regression")',
                where=where,
            )


def _class_labels(
    ys: list[tuple[str, np.ndarray]], where: str, class_names: list[str] | None
) -> tuple[list[np.ndarray], int, list[str] | None, str | None]:
    """Class indices 0..k-1 for every part's labels, the number of classes, their names and a
    note for the user.

    One-hot rows (n, k) are their argmax, and k counts the classes. Labels (n,) or (n, 1)
    that are whole numbers 0..k-1, or that a ``class_names`` array names, are the class
    indices themselves. Any other set of distinct whole numbers (``-1``/``+1``, ``3``/``7``,
    ``1``..``k``) is numbered 0..k-1 in sorted order over all parts together, with the
    values kept as the class names: the Perceptron's targets -1/+1 become 0/1 and its
    encoding (``y > 0``) gives them back.
    """
    if ys[0][1].ndim == 2 and ys[0][1].shape[1] > 1:
        labels = [_one_hot_indices(y, yk, where) for yk, y in ys]
        n_classes = max(max(int(lab.max()) + 1 for lab in labels), ys[0][1].shape[1])
        return labels, n_classes, class_names, None
    flats = [(yk, y.reshape(-1)) for yk, y in ys]
    for yk, flat in flats:
        _check_whole(flat, yk, where)
    if class_names is not None:
        # The names index the classes: the labels must be those indices.
        for yk, flat in flats:
            negative = flat < 0
            if negative.any():
                i = int(np.argmax(negative))
                raise DataError(
                    f"{_fmt_index(yk, (i,))} is {flat[i].item()!r}; with 'class_names' the "
                    "labels are indices into them and must be 0 or more",
                    where=where,
                )
        labels = [flat.astype(np.int64) for _, flat in flats]
        return labels, max(int(lab.max()) + 1 for lab in labels), class_names, None
    values = np.unique(np.concatenate([flat for _, flat in flats]))
    k = len(values)
    if np.array_equal(values, np.arange(k)):
        return [flat.astype(np.int64) for _, flat in flats], k, None, None
    labels = [np.searchsorted(values, flat).astype(np.int64) for _, flat in flats]
    names = [_format_label(v) for v in values]
    shown = ", ".join(names[:6]) + (", ..." if k > 6 else "")
    note = f"class labels {shown} numbered 0 to {k - 1} in sorted order"
    return labels, k, names, note


def dataset_from_arrays(
    arrays: dict[str, np.ndarray],
    *,
    where: str,
    task: str | None = None,
    x_key: str = "x",
    y_key: str = "y",
    name: str = "",
    class_names: list[str] | None = None,
    feature_names: list[str] | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Check raw arrays and build a :class:`Dataset`.

    Parameters
    ----------
    arrays : dict of str to ndarray
        ``arrays[x_key]`` of shape (n, ...) and ``arrays[y_key]`` of shape (n,), (n, 1) or
        (n, k); optionally ``x_test`` / ``y_test`` with the same layout. Any numeric dtype.
    where : str
        The source named in error messages (usually the file path).
    task : {"classification", "regression"} or None
        Forces the task; inferred from ``y`` when None (integer-valued 1-D or (n, 1) targets
        mean classification).
    x_key, y_key : str
        The keys of the training arrays.
    name : str
        Display name of the result.
    class_names, feature_names : list of str, optional
        Passed through after a length check. ``class_names`` makes the labels indices into
        it; without it, labels other than 0..k-1 (``-1``/``+1``, ``3``/``7``) are numbered
        0..k-1 in sorted order and their values become the class names.
    dtype : floating dtype
        The dtype of ``x`` (and of regression targets): the project's, so that a float64
        project sees float64 data unrounded. float32 by default.

    Returns
    -------
    Dataset
        ``x`` as ``dtype`` in its own layout (a 1-D ``x`` becomes one feature, shape (n, 1));
        ``image_shape`` (H, W, C) for (n, H, W, C) inputs, (H, W, 1) for (n, H, W); ``y`` as
        int64 (n,) of class indices 0..k-1 for classification or ``dtype`` (n, k) for
        regression.

    Raises
    ------
    DataError
        Non-numeric dtypes, NaN/inf (naming the first bad index), row count mismatches,
        fractional class labels, negative labels with ``class_names``, feature shape
        mismatches between train and test.
    """
    dtype = np.dtype(dtype)
    x_raw, y_raw = arrays[x_key], arrays[y_key]
    _check_rows(x_raw, y_raw, x_key, y_key, where)
    pairs = [(x_key, y_key, x_raw, y_raw)]
    has_test = "x_test" in arrays
    if has_test:
        x_test_raw, y_test_raw = arrays["x_test"], arrays["y_test"]
        _check_rows(x_test_raw, y_test_raw, "x_test", "y_test", where)
        if x_test_raw.shape[1:] != x_raw.shape[1:]:
            raise DataError(
                f"'x_test' rows have shape {x_test_raw.shape[1:]} but '{x_key}' rows have "
                f"shape {x_raw.shape[1:]}; they must match",
                where=where,
            )
        if _target_layout(y_test_raw) != _target_layout(y_raw):
            raise DataError(
                f"'y_test' has shape {y_test_raw.shape} but '{y_key}' has shape "
                f"{y_raw.shape}; the targets must have the same layout",
                where=where,
            )
        pairs.append(("x_test", "y_test", x_test_raw, y_test_raw))

    xs: list[np.ndarray] = []
    ys: list[tuple[str, np.ndarray]] = []
    for xk, yk, x, y in pairs:
        x = _to_float(x, xk, where, dtype)
        xs.append(x.reshape(-1, 1) if x.ndim == 1 else x)
        _check_numeric(y, yk, where)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            _to_float(y, yk, where, dtype)  # raises, naming the first NaN/inf index
        ys.append((yk, y))

    if task is None:
        task = _infer_task(ys)
        if task == "classification" and not (y_raw.ndim == 2 and y_raw.shape[1] > 1):
            top = max(int(y.max()) for _, y in ys)
            low = min(min(int(y.min()) for _, y in ys), 0)
            if top - low + 1 > MAX_AUTO_CLASSES:
                spread = (
                    f"its largest value is {top}, which would mean {top + 1} classes"
                    if low == 0
                    else f"its values run from {low} to {top}, up to {top - low + 1} classes"
                )
                raise DataError(
                    f"'{y_key}' looks like class labels but {spread}; if it is a quantity to "
                    'predict, set "task": "regression" in the dataset (or "classification" to '
                    "keep it)",
                    where=where,
                )
    elif task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    n_classes = None
    notes: list[str] = []
    if task == "classification":
        labels, n_classes, class_names, note = _class_labels(ys, where, class_names)
        if note:
            notes.append(note)
        if class_names is not None and len(class_names) != n_classes:
            raise DataError(
                f"'class_names' has {len(class_names)} names but there are {n_classes} "
                f"classes (labels 0 to {n_classes - 1})",
                where=where,
            )
    else:
        labels = [_to_float(y, yk, where, dtype) for yk, y in ys]
        labels = [lab.reshape(-1, 1) if lab.ndim == 1 else lab for lab in labels]
        class_names = None

    if feature_names is not None:
        flat = xs[0].shape[1:]
        if len(flat) != 1 or flat[0] != len(feature_names):
            raise DataError(
                f"'feature_names' has {len(feature_names)} names but '{x_key}' rows have "
                f"shape {flat}",
                where=where,
            )

    return Dataset(
        x=xs[0],
        y=labels[0],
        x_test=xs[1] if has_test else None,
        y_test=labels[1] if has_test else None,
        task=task,
        n_classes=n_classes,
        class_names=list(class_names) if class_names is not None else None,
        feature_names=list(feature_names) if feature_names is not None else None,
        name=name,
        notes=notes,
        image_shape=_sample_image_shape(xs[0].shape[1:]),
    )


def _sample_image_shape(sample: tuple[int, ...]) -> tuple[int, int, int] | None:
    """Samples that keep image axes: (H, W) is one channel, (H, W, C) channels-last."""
    if len(sample) == 2:
        return (int(sample[0]), int(sample[1]), 1)
    if len(sample) == 3:
        return (int(sample[0]), int(sample[1]), int(sample[2]))
    return None


def _names(arrays: dict[str, np.ndarray], key: str, where: str) -> list[str] | None:
    if key not in arrays:
        return None
    names = arrays[key]
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(
            f"'{key}' must be a 1-D array of strings, got dtype {names.dtype} and shape "
            f"{names.shape}",
            where=where,
        )
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def load_npz_file(
    path: pathlib.Path,
    *,
    task: str | None = None,
    display_name: str | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Load a user's ``.npz`` dataset.

    Parameters
    ----------
    path : Path
        The resolved archive path.
    task : {"classification", "regression"} or None
        Forces the task; inferred from ``y`` when None.
    display_name : str, optional
        Base of :attr:`Dataset.name`; the file name when None.
    dtype : floating dtype
        The dtype of the inputs and regression targets (see :func:`dataset_from_arrays`).

    Returns
    -------
    Dataset
        See :func:`dataset_from_arrays` for the shapes and dtypes.

    Raises
    ------
    DataError
        Any problem with the file or its arrays; the message names the file and the key.
    """
    where = str(path)
    keys = npz_keys(path)
    if "x" in keys and "x_train" in keys:
        raise DataError(
            "the archive has both 'x' and 'x_train'; keep one layout (x/y or x_train/y_train)",
            where=where,
        )
    x_key, y_key = ("x_train", "y_train") if "x_train" in keys else ("x", "y")
    required = [x_key, y_key]
    if "x_test" in keys or "y_test" in keys:
        required += ["x_test", "y_test"]
    missing = [k for k in required if k not in keys]
    if missing:
        present = ", ".join(repr(k) for k in keys) or "none"
        raise DataError(
            f"missing key {' and '.join(repr(k) for k in missing)}; the archive needs 'x' and "
            f"'y' (or 'x_train' and 'y_train'), keys present: {present}",
            where=where,
        )
    arrays = read_npz_arrays(path, [*required, "class_names", "feature_names"])
    dataset = dataset_from_arrays(
        arrays,
        where=where,
        task=task,
        x_key=x_key,
        y_key=y_key,
        class_names=_names(arrays, "class_names", where),
        feature_names=_names(arrays, "feature_names", where),
        dtype=dtype,
    )
    base = display_name or path.name
    counts = f"{dataset.n_samples} samples"
    if dataset.x_test is not None:
        counts += f" + {len(dataset.x_test)} test"
    dataset.name = f"{base} ({counts})"
    return dataset


def load_npy_pair(
    path: pathlib.Path,
    y_path: pathlib.Path | None = None,
    *,
    task: str | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Load a dataset from two ``.npy`` files: inputs and targets.

    Parameters
    ----------
    path : Path
        The inputs, shape (n, ...).
    y_path : Path, optional
        The targets, shape (n,), (n, 1) or (n, k); found beside ``path`` by
        :func:`find_y_file` when None.
    task : {"classification", "regression"} or None
        Forces the task; inferred from the targets when None.
    dtype : floating dtype
        The dtype of the inputs and regression targets (see :func:`dataset_from_arrays`).

    Returns
    -------
    Dataset
        See :func:`dataset_from_arrays`; the keys in messages are the file names.

    Raises
    ------
    DataError
        A missing targets file, unreadable files, or any problem :func:`dataset_from_arrays`
        finds.
    """
    where = str(path)
    notes: list[str] = []
    if y_path is None:
        y_path = find_y_file(path)
        if y_path is None:
            raise DataError(
                "an .npy file holds one array, and no targets file was found beside it; give "
                'the targets file as "y_path" (e.g. {"path": "x.npy", "y_path": "y.npy"})',
                where=where,
            )
        notes.append(f"targets read from {y_path.name}, found beside {path.name}")
    x_key, y_key = path.name, y_path.name
    if x_key == y_key:
        x_key, y_key = f"x ({path})", f"y ({y_path})"
    x = read_npy(path, key=x_key)
    y = read_npy(y_path, key=y_key)
    dataset = dataset_from_arrays(
        {x_key: x, y_key: y}, where=where, task=task, x_key=x_key, y_key=y_key, dtype=dtype
    )
    dataset.name = f"{path.name} + {y_path.name} ({dataset.n_samples} samples)"
    dataset.notes = notes + dataset.notes
    dataset.detected = {"y_path": str(y_path), "task": dataset.task}
    return dataset


def check_several_classes(dataset: Dataset, where: str, target: str = "the target") -> None:
    """Refuse classification data whose training labels hold a single class.

    Parameters
    ----------
    dataset : Dataset
    where : str
        The source named in the message.
    target : str
        How the target is called (``"column 'species'"``, ``"'y'"``).

    Raises
    ------
    DataError
        Fewer than 2 distinct labels in ``dataset.y``.
    """
    if dataset.task != "classification" or len(dataset.y) == 0:
        return
    present = np.unique(dataset.y)
    if len(present) >= 2:
        return
    label = int(present[0])
    names = dataset.class_names
    shown = names[label] if names is not None and label < len(names) else str(label)
    raise DataError(
        f"{target} holds a single class, {shown!r}, in all {len(dataset.y)} samples; a "
        'classifier needs at least 2 classes (for a number to predict, set "task": '
        '"regression")',
        where=where,
    )
