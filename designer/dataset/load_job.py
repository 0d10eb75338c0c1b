"""One load job of the Dataset panel, without Qt: what to load (:class:`LoadRequest`), doing it
(:func:`load_now`: the table preview and the dataset itself through :mod:`engine.data`, every
failure turned into a message) and what it gave (:class:`LoadResult`).

Large files and image folders are loaded in a child process (:func:`load_in_subprocess`):
the engine's table reader holds Python's interpreter lock for a second or more on a file of a
few hundred thousand rows, which would freeze the window even from a thread; a child process
also lets a superseded load be stopped at once. ``python -m designer.dataset.load_job`` is that
child: it reads a pickled :class:`LoadRequest` on stdin and writes the pickled
:class:`LoadResult` on stdout.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data import (
    BUILTIN_DATASETS,
    COMMON_KEYS,
    DataError,
    Dataset,
    TableError,
    TablePreview,
    dataset_param_problems,
    detect_format,
    load_dataset,
    preview_table,
)
from engine.data.files import resolve_path

__all__ = [
    "BUILTIN_IMAGE_SHAPES",
    "DATA_SUFFIXES",
    "SUBPROCESS_BYTES",
    "LoadRequest",
    "LoadResult",
    "image_shape_of",
    "is_data_path",
    "load_in_subprocess",
    "load_key",
    "load_now",
    "spec_format",
    "wants_subprocess",
]

#: Files at least this large (and image folders) load in a child process.
SUBPROCESS_BYTES = 8_000_000
_ROOT = Path(__file__).resolve().parents[2]  # holds the engine and designer packages

#: Built-in sets whose flat inputs are images: (height, width) (their table's image_shape).
BUILTIN_IMAGE_SHAPES = {
    name: info.image_shape[:2]
    for name, info in BUILTIN_DATASETS.items()
    if info.image_shape is not None and info.image_shape[2] == 1
}
#: File endings the panel offers and the window accepts when dropped (besides folders).
DATA_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".dat", ".data", ".npz", ".npy", ".gz")
#: Rows of a table shown in the preview.
PREVIEW_ROWS = 20
#: Rows read into the preview when a bad cell lies further down (the rows around it are shown).
MAX_ERROR_PREVIEW_ROWS = 200_000


def load_key(spec: dict[str, Any] | None, base_dir: Path | None) -> str:
    """What decides the loaded arrays: the spec without its preparation keys, and, for a file,
    the folder relative paths are resolved against."""
    spec = spec if isinstance(spec, dict) else {}
    core = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    where = str(base_dir) if "path" in core else ""
    return json.dumps(core, sort_keys=True, default=str) + "|" + where


def spec_format(spec: dict[str, Any], base_dir: Path | None) -> str:
    """``"builtin"``, or the file format :func:`engine.data.load_dataset` will read."""
    if "name" in spec:
        return "builtin"
    if spec.get("format"):
        return str(spec["format"])
    path = spec.get("path")
    if not isinstance(path, str) or not path.strip():
        return "csv"
    return detect_format(resolve_path(path, base_dir))


def is_data_path(path: Path) -> bool:
    """Whether a dropped path looks like data: an existing folder (of images), an existing
    file with a data ending or an IDX name, or something that is not a regular file (a FIFO,
    a device), which loading then refuses by name."""
    from engine.data.idx import is_idx_name

    if path.is_dir():
        return True
    try:
        mode = path.stat().st_mode
    except OSError:  # missing, or unreadable: nothing to say about it
        return False
    name = path.name.lower()
    if name.endswith(DATA_SUFFIXES) or is_idx_name(name):
        return True
    # A FIFO or a device (/dev/zero): taken, so that loading says what it is (the load
    # refuses it unopened) rather than the drop being ignored without a word.
    return not stat.S_ISREG(mode)


def image_shape_of(
    dataset: Dataset, spec: dict[str, Any], base_dir: Path | None, fmt: str
) -> tuple[int, ...] | None:
    """The shape the sample view draws one sample as: ``(h, w)`` grey or ``(h, w, 3)`` RGB;
    None when the data are not images (or have channels the view cannot draw).

    Known from the dataset's own ``image_shape`` (the built-in digits 8x8, MNIST and
    Fashion-MNIST 28x28, an image folder's size and colour, an IDX file's header, an archive's
    (n, H, W[, C]) inputs), whatever the layout of ``x``: its rows are reshaped to this.
    ``spec``, ``base_dir`` and ``fmt`` are kept for callers; a built-in set's table tells the
    shape when the dataset does not.
    """
    n_values = int(np.prod(dataset.feature_shape)) if dataset.feature_shape else 1
    shape = getattr(dataset, "image_shape", None)
    if shape is None and fmt == "builtin":
        info = BUILTIN_DATASETS.get(spec.get("name", ""))
        shape = info.image_shape if info is not None else None
    if shape is None or len(shape) != 3 or shape[2] not in (1, 3):
        return None
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) != n_values:
        return None
    return shape[:2] if shape[2] == 1 else shape


@dataclass
class LoadRequest:
    """One thing to load. ``purpose``: ``"project"`` (the project's own dataset) or
    ``"propose"`` (a choice that enters the project only if it loads)."""

    id: int
    spec: dict[str, Any]
    base_dir: Path | None
    purpose: str = "project"

    @property
    def key(self) -> str:
        return load_key(self.spec, self.base_dir)


@dataclass
class LoadResult:
    """What a request gave.

    Attributes
    ----------
    dataset : Dataset or None
        None when loading failed.
    preview : TablePreview or None
        The table's first rows (and the rows around a bad cell), for delimited text.
    error : str
        The message for the user ('' when it loaded); names the file, row and column.
    error_row, error_column : int or None
        Where a :class:`~engine.data.TableError` points (spreadsheet row, 0-based column).
    image_shape : tuple or None
        See :func:`image_shape_of`.
    format : str
        ``"builtin"``, ``"csv"``, ``"npz"``, ``"npy"``, ``"idx"`` or ``"images"``.
    size : int or None
        The file's size in bytes.
    seconds : float
        How long the load took.
    """

    request: LoadRequest
    dataset: Dataset | None = None
    preview: TablePreview | None = None
    error: str = ""
    error_row: int | None = None
    error_column: int | None = None
    image_shape: tuple[int, ...] | None = None
    format: str = "builtin"
    size: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.dataset is not None and not self.error


def load_now(request: LoadRequest) -> LoadResult:
    """Do the work of one request on the calling thread (the worker calls this)."""
    t0 = time.perf_counter()
    spec, base_dir = request.spec, request.base_dir
    result = LoadResult(request)
    try:
        problems = dataset_param_problems(spec)
        if problems:
            raise DataError("; ".join(problems))
        result.format = spec_format(spec, base_dir)
        if "path" in spec:
            try:
                result.size = resolve_path(spec["path"], base_dir).stat().st_size
            except OSError:
                result.size = None
        if result.format == "csv":
            result.preview = preview_table(spec, base_dir, PREVIEW_ROWS)
        dataset = load_dataset(spec, base_dir)
        result.image_shape = image_shape_of(dataset, spec, base_dir, result.format)
        result.dataset = dataset
    except TableError as exc:
        result.error = str(exc)
        result.error_row, result.error_column = exc.row, exc.column
        _extend_preview(result)
    except DataError as exc:
        result.error = str(exc)
    except MemoryError:
        result.error = f"{_where(spec, base_dir)}: the data do not fit in memory"
    except Exception as exc:  # a message, never a traceback, whatever went wrong
        what = f"{type(exc).__name__}: {exc}"
        result.error = f"{_where(spec, base_dir)}: could not be loaded ({what})"
    result.seconds = time.perf_counter() - t0
    return result


def _where(spec: dict[str, Any], base_dir: Path | None) -> str:
    if isinstance(spec.get("path"), str):
        return str(resolve_path(spec["path"], base_dir))
    return f"dataset {spec.get('name', '?')!r}"


def _extend_preview(result: LoadResult) -> None:
    """Make the preview reach the bad cell's row, when it lies below the first rows."""
    preview, row = result.preview, result.error_row
    if preview is None or row is None or not preview.row_numbers:
        return
    if row <= preview.row_numbers[-1] or row > MAX_ERROR_PREVIEW_ROWS:
        return
    try:
        longer = preview_table(result.request.spec, result.request.base_dir, row + 3)
    except DataError:
        return
    keep = [
        i
        for i, number in enumerate(longer.row_numbers)
        if i < PREVIEW_ROWS or abs(number - row) <= 3
    ]
    longer.rows = [longer.rows[i] for i in keep]
    longer.row_numbers = [longer.row_numbers[i] for i in keep]
    result.preview = longer


def wants_subprocess(request: LoadRequest) -> bool:
    """Whether a request should load in a child process: an image folder, or a file of at
    least :data:`SUBPROCESS_BYTES`."""
    path = request.spec.get("path")
    if not isinstance(path, str) or not path.strip():
        return False
    resolved = resolve_path(path, request.base_dir)
    try:
        return resolved.is_dir() or resolved.stat().st_size >= SUBPROCESS_BYTES
    except OSError:
        return False


def load_in_subprocess(
    request: LoadRequest, superseded: Callable[[], bool] = lambda: False, poll: float = 0.05
) -> LoadResult | None:
    """:func:`load_now` in a child process; None when ``superseded()`` turned true first (the
    child is killed)."""
    env = dict(os.environ)
    paths = [str(_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    t0 = time.perf_counter()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "designer.dataset.load_job"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError:  # no child process possible: load here instead
        return load_now(request)
    payload: bytes | None = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    while True:
        try:
            out, err = child.communicate(payload, timeout=poll)
            break
        except subprocess.TimeoutExpired:
            payload = None  # sent; a retry must not send it again
            if superseded():
                child.kill()
                child.communicate()
                return None
    if child.returncode == 0 and out:
        try:
            return pickle.loads(out)  # trusted: from the child this process started
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
    last = (err or b"").decode("utf-8", "replace").strip().splitlines()
    detail = last[-1] if last else f"exit status {child.returncode}"
    where = _where(request.spec, request.base_dir)
    result = LoadResult(request, error=f"{where}: the loading process failed ({detail})")
    result.seconds = time.perf_counter() - t0
    return result


def _child_main() -> int:
    # Run as ``-m``, this file is __main__; the parent unpickles the module's own classes.
    from designer.dataset import load_job

    request = pickle.load(sys.stdin.buffer)  # trusted: from the parent process
    result = load_job.load_now(request)
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main())
