"""The project: one description of a network, its training settings and (once trained) weights.

A project is a plain ``.json`` file (architecture and settings) or a ``.nnd`` file: a zip holding
``project.json`` and, once trained, ``weights.npz`` (keys ``<layer>/kernel``, ``<layer>/bias``)
and ``history.json``. The JSON keeps Keras' vocabulary::

    {"format_version": 1, "name": ..., "model": {"input_shape": [...], "layers": [...]},
     "compile": {...}, "fit": {...}, "dataset": {...}, "backend": "numpy", "dtype": "float32"}

Unknown keys (the designer's layout, say) survive a load/save round trip untouched, and
load -> save -> load -> save writes the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import re
import socket
import stat
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from engine.errors import NNDError, ProjectError
from engine.layers import snake_name
from engine.memory import check_allocation, format_bytes, out_of_memory_message

FORMAT_VERSION = 1
PROJECT_SUFFIXES = (".json", ".nnd")

# Fixed zip timestamps so that saving the same project twice writes the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# Limits on what a project file may make us read. A project's JSON is a few KiB (a layout
# included); far beyond these it is not a project but an attack or an accident (a FIFO, a
# zip bomb), and reading it whole would hang or exhaust memory.
SMALL_ENTRY_BYTES = 2**20  # entries below this are read without a memory check
MAX_JSON_BYTES = 64 * 2**20  # a .json project, or project.json / history.json inside a .nnd
MAX_NND_BYTES = 4 * 2**30  # a .nnd on disk
MAX_WEIGHTS_BYTES = 4 * 2**30  # weights.npz inflated (also checked against the memory limit)
# An .nnd holds a few entries and two per snapshot (engine.runs.MAX_SNAPSHOTS, 20 000, at most),
# its weights.npz 2 per Dense layer; far more is a forged directory.
MAX_ZIP_ENTRIES = 50_000
# Deeper JSON than this is refused: Python's json, copy.deepcopy and json.dumps recurse once
# (deepcopy: three frames) per level, so depth near 1000 raises RecursionError somewhere later.
MAX_JSON_DEPTH = 100
# An entry that inflates more than MAX_RATIO times is refused once it is bigger than
# RATIO_FLOOR: trained weights hardly compress (about 1.1:1) and JSON text about 10:1, while a
# zip bomb of zeros inflates about 1000:1 (deflate's limit is 1032:1).
MAX_RATIO = 100
RATIO_FLOOR = 16 * 2**20
_CHUNK = 1 << 20
# Compression methods zipfile reads; deflate64 (9), AES (99) and others raise deep inside it.
# Only what NN Designer and NumPy write (stored, deflate) is read: fewer decoders, fewer surprises.
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_METHOD_NAMES = {9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 98: "ppmd", 99: "AES"}
# What a damaged zip raises from the inside of zipfile / zlib (none is a user-facing error).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    UnicodeDecodeError,
    KeyError,
    IndexError,
)

SEED_PROJECT: dict = {
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
        "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 5, "batch_size": 32, "validation_split": 0.1, "shuffle": True, "seed": 0},
    "dataset": {"name": "mnist"},
    "backend": "numpy",
    "dtype": "float32",
}

#: What File > New starts from: an input of two features and no layers, the moons dataset, and
#: the settings a first classifier of it trains well with.
EMPTY_PROJECT: dict = {
    "format_version": FORMAT_VERSION,
    "name": "Untitled",
    "model": {"input_shape": [2], "layers": []},
    "compile": {
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 20, "batch_size": 32, "validation_split": 0.2, "shuffle": True, "seed": 0},
    "dataset": {"name": "moons"},
    "backend": "numpy",
    "dtype": "float32",
}

FIT_DEFAULTS: dict = {
    "epochs": 1,
    "batch_size": 32,
    "validation_split": 0.0,
    "shuffle": True,
    "seed": 0,
}


class Project:
    """A loaded project: the spec (a JSON-able dict) plus optional weights and history.

    Attributes
    ----------
    data : dict
        The whole spec, in file order; every layer has a unique ``config["name"]``.
    path : Path or None
        Where it was loaded from / saved to (relative data paths resolve against its folder).
    weights : dict of str to ndarray, or None
        Trained weights keyed ``"<layer>/kernel"`` and ``"<layer>/bias"`` (Keras layout:
        Dense kernel of shape ``(in, out)``).
    history : dict or None
        Keras-style history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``.
    runs : RunStore or None
        The training runs and their snapshots (:mod:`engine.runs`); None until one ran (a
        ``.json`` project keeps none; a ``.nnd`` saved before runs were kept opens with its
        history as run 1).
    load_warnings : list of str
        What :func:`load_project` found odd but not fatal (weights for no layer of the
        project), for the CLI and the window to show.
    """

    def __init__(
        self,
        data: dict,
        path: Path | None = None,
        weights: dict[str, np.ndarray] | None = None,
        history: dict | None = None,
    ) -> None:
        self.data = data
        self.path = Path(path) if path is not None else None
        self.weights = weights
        self.history = history
        self.runs = None
        self.load_warnings: list[str] = []

    # Convenient read access; the dict stays the single source of truth.
    @property
    def name(self) -> str:
        name = self.data.get("name")
        if isinstance(name, str) and name:
            return name
        return self.path.stem if self.path else "Untitled"

    @property
    def model(self) -> dict:
        model = self.data.get("model")
        return model if isinstance(model, dict) else {}

    @property
    def layers(self) -> list[dict]:
        layers = self.model.get("layers")
        return layers if isinstance(layers, list) else []

    @property
    def compile(self) -> dict:
        comp = self.data.get("compile")
        return comp if isinstance(comp, dict) else {}

    @property
    def fit(self) -> dict:
        merged = dict(FIT_DEFAULTS)
        fit = self.data.get("fit")
        if isinstance(fit, dict):
            merged.update(fit)
        return merged

    @property
    def dataset(self) -> dict:
        ds = self.data.get("dataset")
        return ds if isinstance(ds, dict) else {}

    @property
    def backend(self) -> str:
        return self.data.get("backend", "numpy")

    @property
    def dtype(self) -> str:
        return self.data.get("dtype", "float32")

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    def copy(self) -> Project:
        weights = {k: v.copy() for k, v in self.weights.items()} if self.weights else None
        out = Project(copy.deepcopy(self.data), self.path, weights, copy.deepcopy(self.history))
        out.runs = copy.deepcopy(self.runs)
        return out

    def to_json_text(self) -> str:
        """The spec as the text written to ``project.json`` (deterministic).

        Raises
        ------
        ProjectError
            When the spec holds what the file could not be read back from: NaN or inf,
            text that cannot be encoded (a lone surrogate), nesting deeper than
            :data:`MAX_JSON_DEPTH`.
        """
        check_json_value(self.data, "the project")
        try:
            return json.dumps(self.data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        except (ValueError, TypeError, RecursionError) as exc:  # NaN/inf smuggled in, say
            raise ProjectError(f"the project holds a value JSON cannot store: {exc}") from exc


def seed_project() -> Project:
    """The seed document's Keras example as a project (784-128-10 on MNIST)."""
    return from_dict(copy.deepcopy(SEED_PROJECT))


def empty_project() -> Project:
    """A new, empty project (File > New): no layers yet, two inputs, the moons dataset."""
    return from_dict(copy.deepcopy(EMPTY_PROJECT))


def from_dict(data: Any, source: str = "project") -> Project:
    """Migrate and normalize a spec dict into a Project (names assigned).

    Raises
    ------
    ProjectError
        When ``data`` is not an object, lacks a usable ``format_version`` or comes from a
        newer major version.
    """
    if not isinstance(data, dict):
        raise ProjectError(f"the project must be a JSON object, got {type(data).__name__}", source)
    data = migrate(data, source)
    assign_names(data)
    return Project(data)


def migrate(data: dict, source: str = "project") -> dict:
    """Bring an older spec up to :data:`FORMAT_VERSION` in memory; refuse newer majors."""
    version = data.get("format_version", None)
    if version is None:
        # Files written before versioning are treated as version 1, the first format.
        data = dict(data)
        data = {"format_version": FORMAT_VERSION, **data}
        return data
    major = _major(version)
    if major is None:
        raise ProjectError(
            f"'format_version' must be a number like 1 or \"1.2\", got {_short(version)}", source
        )
    if major > FORMAT_VERSION:
        raise ProjectError(
            f"this project was written by a newer NN Designer (format version "
            f"{_short(version).strip(chr(39))}); "
            f"this version reads format version {FORMAT_VERSION}. Please update NN Designer.",
            source,
        )
    if major < 1:
        raise ProjectError(f"unknown format version {_short(version)}", source)
    # Version 1 is the first format: nothing to migrate yet. Later migrations chain here.
    return data


def _major(version: Any) -> int | None:
    if isinstance(version, bool):
        return None
    if isinstance(version, int):
        return version
    if isinstance(version, float) and version.is_integer():
        return int(version)
    if isinstance(version, str):
        head = version.split(".", 1)[0]
        # ASCII digits only ("²".isdigit() is true, int("²") fails), and few of them: int()
        # of thousands of digits is refused by Python (and is no version).
        if head.isascii() and head.isdigit() and len(head) <= 18:
            return int(head)
    return None


def assign_names(data: dict) -> None:
    """Give every unnamed layer a unique Keras-style name (``dense``, ``dense_1``...)."""
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list):
        return
    layers = model["layers"]
    taken = set()
    for layer in layers:
        cfg = layer.get("config") if isinstance(layer, dict) else None
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str) and cfg["name"]:
            taken.add(cfg["name"])
    counters: dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            continue
        cfg = layer.get("config")
        if cfg is None:
            cfg = layer["config"] = {}
        if not isinstance(cfg, dict):
            continue
        if isinstance(cfg.get("name"), str) and cfg["name"]:
            continue
        stem = snake_name(layer["class_name"])
        n = counters.get(stem, 0)
        while True:
            candidate = stem if n == 0 else f"{stem}_{n}"
            n += 1
            if candidate not in taken:
                break
        counters[stem] = n
        taken.add(candidate)
        # Keep "name" first in the config, as Keras writes it.
        new_cfg = {"name": candidate}
        new_cfg.update({k: v for k, v in cfg.items() if k != "name"})
        layer["config"] = new_cfg


class _BadNumber:
    """What the JSON parser gives for a number the project must not hold (huge, NaN)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _BadNumber:
    # Python refuses int("…") beyond 4300 digits with a ValueError that names no place;
    # a long number becomes a marker that check_json_value reports with its JSON path.
    return int(text) if len(text) <= 24 else _BadNumber(text)


def _json_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{_short(part, 40)}]"
    if len(out) > 120:  # 100 levels of [0]: the start and the end say where
        out = out[:60] + "…" + out[-40:]
    return out or "the top level"


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a value from a file can be huge)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_json_value(value: Any, where: str) -> None:
    """Refuse a parsed JSON value the rest of the program cannot handle.

    Iterative (no recursion, whatever the depth). Refused, with the JSON path of the value:
    nesting deeper than :data:`MAX_JSON_DEPTH`; text that cannot be encoded as UTF-8 (a lone
    surrogate such as ``"\ud800"``, valid JSON that fails when the text is later written or
    shown); NaN, inf, and whole numbers beyond 64 bits.

    Raises
    ------
    ProjectError
        Prefixed with ``where`` (the file).
    """
    # (value, depth, index of the parent in `parents`, key in the parent)
    parents: list[tuple[int, str | int]] = []
    stack: list[tuple[Any, int, int, str | int | None]] = [(value, 1, -1, None)]

    def path(parent: int, key: str | int | None) -> str:
        parts: list[str | int] = [] if key is None else [key]
        while parent >= 0:
            parent, k = parents[parent]
            if parent >= 0 or k is not None:
                parts.append(k)
        return _json_path([p for p in reversed(parts) if p is not None])

    while stack:
        obj, depth, parent, key = stack.pop()
        if isinstance(obj, str):
            if not obj.isascii():
                try:
                    obj.encode("utf-8")
                except UnicodeEncodeError:
                    raise ProjectError(
                        f"{path(parent, key)}: the text {_short(obj)} holds a lone surrogate "
                        "(an invalid character); it cannot be written or shown",
                        where,
                    ) from None
        elif isinstance(obj, bool) or obj is None:
            pass
        elif isinstance(obj, int):
            if obj.bit_length() > 64:
                raise ProjectError(
                    f"{path(parent, key)}: the whole number {_short(obj, 40)} is too large", where
                )
        elif isinstance(obj, float):
            if not math.isfinite(obj):
                raise ProjectError(
                    f"{path(parent, key)}: holds {obj}, a number JSON cannot store", where
                )
        elif isinstance(obj, _BadNumber):
            text = obj.text
            if text.lstrip("-").isdigit():
                what = f"a whole number of {len(text.lstrip('-'))} digits, far too large"
            else:
                what = f"{text}, a number JSON cannot store"
            raise ProjectError(f"{path(parent, key)}: holds {what}", where)
        elif isinstance(obj, (dict, list, tuple)):  # a tuple is written as a list
            if depth > MAX_JSON_DEPTH:
                raise ProjectError(
                    f"{path(parent, key)}: nested more than {MAX_JSON_DEPTH} levels deep; "
                    "a project is never that deep",
                    where,
                )
            parents.append((parent, key))
            me = len(parents) - 1
            if isinstance(obj, dict):
                for k, v in obj.items():
                    if not isinstance(k, str):
                        raise ProjectError(f"{path(me, None)}: a key is not text ({k!r})", where)
                    stack.append((k, depth + 1, me, k))
                    stack.append((v, depth + 1, me, k))
            else:
                for i, v in enumerate(obj):
                    stack.append((v, depth + 1, me, i))
        else:
            raise ProjectError(f"{path(parent, key)}: {type(obj).__name__} is not JSON", where)


def _parse_json(text: str | bytes, source: str) -> Any:
    """``json.loads`` that turns every way bad text fails into a ProjectError naming it."""
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_constant=_BadNumber,  # NaN, Infinity, -Infinity
        )
    except UnicodeDecodeError as exc:
        raise ProjectError(f"not a text file ({exc.reason})", source) from exc
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", source
        ) from exc
    except RecursionError as exc:
        raise ProjectError(
            f"the JSON is nested far too deeply (more than {MAX_JSON_DEPTH} levels); "
            "a project is never that deep",
            source,
        ) from exc
    except MemoryError as exc:
        raise ProjectError(out_of_memory_message("reading the JSON"), source) from exc
    check_json_value(data, source)
    return data


def loads_project(text: str | bytes, source: str = "<string>") -> Project:
    """Parse project JSON text.

    Raises
    ------
    ProjectError
        Naming ``source``: not JSON, nested too deeply, a lone surrogate, NaN or a huge
        number (with the JSON path), not an object, a newer format version.
    """
    return from_dict(_parse_json(text, source), source)


def _open_regular(path: Path, source: str) -> IO[bytes]:
    """Open ``path`` for reading, refusing what is not a regular file (a FIFO would block the
    open and the reads, ``/dev/zero`` never ends)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise ProjectError("no such file", source) from exc
    except IsADirectoryError as exc:
        raise ProjectError("is a folder, not a project file", source) from exc
    except OSError as exc:
        raise ProjectError(f"cannot be read: {exc.strerror or exc}", source) from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ProjectError("is a folder, not a project file", source)
        if not stat.S_ISREG(mode):
            kind = (
                "a named pipe (FIFO)"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise ProjectError(f"is {kind}, not a project file", source)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_at_most(fh: IO[bytes], limit: int) -> bytes | None:
    """Up to ``limit`` bytes in chunks; None when there is more (the caller says why)."""
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = fh.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


def load_project(path: str | os.PathLike) -> Project:
    """Load a ``.json`` or ``.nnd`` project.

    Nothing is read without a bound: a ``.json`` beyond :data:`MAX_JSON_BYTES`, a ``.nnd``
    beyond :data:`MAX_NND_BYTES`, a FIFO or device, a zip entry that is encrypted, uses
    another compression than deflate, or would inflate beyond its limit (or far beyond its
    compressed size), and an ``.npy`` header claiming more than its entry holds or memory
    allows are all refused before they are read.

    Raises
    ------
    ProjectError
        Naming the file and what is wrong with it (missing, not JSON, damaged zip, newer
        version, a hostile size...).
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():  # os.open of a folder fails with EACCES on Windows
        raise ProjectError("is a folder, not a project file", source)
    try:
        with _open_regular(path, source) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(4)
            fh.seek(0)
            if head == b"PK\x03\x04" or path.suffix.lower() == ".nnd":
                if size > MAX_NND_BYTES:
                    raise ProjectError(
                        f"is {format_bytes(size)}, larger than any project "
                        f"(at most {format_bytes(MAX_NND_BYTES)})",
                        source,
                    )
                project = _load_nnd(fh, source)
            else:
                raw = None if size > MAX_JSON_BYTES else _read_at_most(fh, MAX_JSON_BYTES)
                if raw is None:
                    raise ProjectError(
                        f"is larger than any project file (at most "
                        f"{format_bytes(MAX_JSON_BYTES)} of JSON)",
                        source,
                    )
                project = loads_project(raw, source)
    except OSError as exc:
        raise ProjectError(f"cannot be read: {exc.strerror or exc}", source) from exc
    except MemoryError as exc:
        raise ProjectError(out_of_memory_message("reading the project"), source) from exc
    project.path = path.resolve()
    # Said by whoever shows the project: the CLI on stderr, the window in its status bar.
    project.load_warnings = weight_key_problems(project)
    return project


def _check_entry(info: zipfile.ZipInfo, cap: int, label: str, source: str) -> None:
    """Refuse a zip entry before reading it: encrypted, an unreadable compression, or
    declaring an inflated size beyond ``cap`` or far beyond its compressed size."""
    if info.flag_bits & 0x1:
        raise ProjectError(
            f"{label} is encrypted; NN Designer reads only unencrypted .nnd files", source
        )
    if info.compress_type not in _READABLE_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise ProjectError(
            f"{label} is compressed with {method}, which NN Designer does not read "
            "(it writes and reads stored or deflate entries)",
            source,
        )
    if info.file_size > cap:
        raise ProjectError(
            f"{label} would inflate to {format_bytes(info.file_size)}, more than the "
            f"{format_bytes(cap)} it may hold",
            source,
        )
    packed = max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * packed:
        raise ProjectError(
            f"{label} would inflate {format_bytes(packed)} to {format_bytes(info.file_size)} "
            f"({info.file_size // packed:,}:1), as a zip bomb does; it is not read",
            source,
        )
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ProjectError(f"{label} is damaged (its sizes disagree)", source)


def _check_directory(fh: IO[bytes], label: str, source: str) -> None:
    # ZipFile() parses the central directory whole: refuse a huge one first (millions of
    # entries would take gigabytes as ZipInfo objects). zipfile's end-record reader is
    # private; without it ZipFile's own checks remain.
    end_rec = getattr(zipfile, "_EndRecData", None)
    index = getattr(zipfile, "_ECD_ENTRIES_TOTAL", None)
    if end_rec is None or index is None:
        return
    try:
        rec = end_rec(fh)
    except _ZIP_ERRORS:
        return  # ZipFile() says what is wrong
    finally:
        fh.seek(0)
    if rec and isinstance(rec[index], int) and rec[index] > MAX_ZIP_ENTRIES:
        raise ProjectError(f"{label} lists {rec[index]:,} entries; a project has a few", source)


def _read_entry(zf: zipfile.ZipFile, name: str, cap: int, source: str) -> bytes:
    """The inflated bytes of entry ``name``, checked first and read with a bound (a declared
    size can lie: reading stops past it)."""
    info = zf.getinfo(name)
    _check_entry(info, cap, name, source)
    # weights.npz is held while its arrays are made from it: twice its size at the peak. Small
    # entries (a snapshot's, by the thousand) need no check: the archive's size bounds them.
    if info.file_size > SMALL_ENTRY_BYTES:
        check_allocation_for(info.file_size * (2 if name == "weights.npz" else 1), name, source)
    with zf.open(info) as fp:
        data = _read_at_most(fp, info.file_size)
    if data is None or len(data) != info.file_size:
        raise ProjectError(f"the .nnd archive is damaged: {name} is not its declared size", source)
    return data


def check_allocation_for(nbytes: int, what: str, source: str) -> None:
    """:func:`engine.memory.check_allocation`, raising a ProjectError naming the file."""
    try:
        check_allocation(nbytes, what)
    except ProjectError:
        raise
    except NNDError as exc:
        raise ProjectError(exc.message, source) from exc


def _load_nnd(fh: IO[bytes], source: str) -> Project:
    _check_directory(fh, "the .nnd archive", source)
    try:
        zf = zipfile.ZipFile(fh)
    except _ZIP_ERRORS as exc:
        raise ProjectError(
            f"not a valid .nnd file (it is not a readable zip archive: {exc})", source
        ) from exc
    with zf:
        names = set(zf.namelist())
        if "project.json" not in names:
            listed = ", ".join(_short(n, 40) for n in sorted(names)[:10]) or "nothing"
            raise ProjectError(f"the .nnd archive has no project.json (it holds: {listed})", source)
        try:
            project = loads_project(
                _read_entry(zf, "project.json", MAX_JSON_BYTES, source),
                f"{source} (project.json)",
            )
            weights = None
            if "weights.npz" in names:
                raw = _read_entry(zf, "weights.npz", MAX_WEIGHTS_BYTES, source)
                weights = _read_weights(raw, source, project.dtype)
            history = None
            if "history.json" in names:
                history = _parse_json(
                    _read_entry(zf, "history.json", MAX_JSON_BYTES, source),
                    f"{source} (history.json)",
                )
                check_history(history, f"{source} (history.json)")
            runs = _read_runs(zf, names, project, history, weights, source)
        except _ZIP_ERRORS as exc:
            raise ProjectError(f"the .nnd archive is damaged: {exc}", source) from exc
    project.weights = weights
    project.history = history
    project.runs = runs
    return project


#: The most runs a project may list, and the snapshots' entries' folder in the .nnd.
MAX_RUNS = 10_000
SNAPSHOT_DIR = "snapshots/"


def _snapshot_name(run: int, epoch: int) -> str:
    return f"{SNAPSHOT_DIR}run{run}_epoch{epoch}"


def _read_runs(zf, names: set, project, history, weights, source: str):
    """The project's runs (runs.json and its snapshots), or, for a .nnd saved before runs
    were kept, its history as run 1 (:func:`engine.runs.from_legacy`)."""
    from engine.runs import RUNS_FORMAT, RunStore, budget_of, from_legacy, run_from_json
    from engine.snapshots import from_entries

    if "runs.json" not in names:
        store = from_legacy(project.data, history, weights)
        return store if store.runs else None
    where = f"{source} (runs.json)"
    doc = _parse_json(_read_entry(zf, "runs.json", MAX_JSON_BYTES, source), where)
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        raise ProjectError('runs.json must be {"runs_format": 1, "runs": [...]}', where)
    fmt = doc.get("runs_format")
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt > RUNS_FORMAT:
        raise ProjectError(
            f"runs.json has runs_format {_short(fmt)}; this version reads {RUNS_FORMAT}. "
            "Please update NN Designer.",
            where,
        )
    if len(doc["runs"]) > MAX_RUNS:
        raise ProjectError(
            f"runs.json lists {len(doc['runs']):,} runs; at most {MAX_RUNS:,}", where
        )
    store = RunStore(budget_mb=budget_of(project.data))
    seen = set()
    for item in doc["runs"]:
        run = run_from_json(item, where)
        if run.number in seen:
            raise ProjectError(f"runs.json lists run {run.number} twice", where)
        seen.add(run.number)
        epochs = item.get("snapshots") or []
        if not isinstance(epochs, list):
            raise ProjectError(f"run {run.number}'s snapshots must be a list of epochs", where)
        for epoch in epochs:
            if isinstance(epoch, bool) or not isinstance(epoch, int):
                raise ProjectError(f"run {run.number} lists a snapshot epoch {epoch!r}", where)
            base = _snapshot_name(run.number, epoch)
            if base + ".json" not in names or base + ".bin" not in names:
                raise ProjectError(
                    f"the snapshot of run {run.number}, epoch {epoch} is missing", where
                )
            meta = _read_entry(zf, base + ".json", MAX_JSON_BYTES, source)
            arrays = _read_entry(zf, base + ".bin", MAX_WEIGHTS_BYTES, source)
            run.snapshots[epoch] = from_entries(
                meta, arrays, f"{source} ({base})", MAX_WEIGHTS_BYTES
            )
        store.runs.append(run)
    return store


def read_json_entry(path: str | os.PathLike, name: str) -> Any:
    """The JSON entry ``name`` of the zip (``.nnd``) at ``path``, read with the same checks
    and bounds as :func:`load_project` (the autosave's ``recovery.json``, say).

    Raises
    ------
    ProjectError
        Naming the file: unreadable, not a zip, no such entry, or a hostile entry.
    """
    source = str(path)
    try:
        with _open_regular(Path(path), source) as fh:
            if os.fstat(fh.fileno()).st_size > MAX_NND_BYTES:
                raise ProjectError("is larger than any project", source)
            _check_directory(fh, "the archive", source)
            try:
                with zipfile.ZipFile(fh) as zf:
                    if name not in zf.namelist():
                        raise ProjectError(f"has no {name}", source)
                    raw = _read_entry(zf, name, MAX_JSON_BYTES, source)
            except _ZIP_ERRORS as exc:
                raise ProjectError(f"is not a readable zip archive: {exc}", source) from exc
    except OSError as exc:
        raise ProjectError(f"cannot be read: {exc.strerror or exc}", source) from exc
    return _parse_json(raw, f"{source} ({name})")


def check_history(history: Any, source: str) -> None:
    """Refuse a history that is not Keras' ``{"loss": [0.7, 0.5], ...}``: an object whose
    values are lists of finite numbers (what :class:`engine.training.Trainer` records and the
    window plots)."""
    if not isinstance(history, dict):
        raise ProjectError(
            'must be an object like {"loss": [0.7, 0.5]}, got '
            f"{'a list' if isinstance(history, list) else _short(history)}",
            source,
        )
    for key, values in history.items():
        if not isinstance(values, list):
            raise ProjectError(f"'{key}' must be a list of numbers, got {_short(values)}", source)
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ProjectError(f"'{key}'[{i}] must be a number, got {_short(v)}", source)


# The range each project dtype can hold: weights beyond it would become inf when cast.
_DTYPE_MAX = {name: float(np.finfo(name).max) for name in ("float16", "float32")}


def _read_weights(raw: bytes, source: str, dtype: Any = "float32") -> dict[str, np.ndarray]:
    """The arrays of a ``weights.npz`` (bytes), each entry and ``.npy`` header checked before
    it is read: claimed sizes against the entry's size and the memory limit."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS as exc:
        raise ProjectError(f"weights.npz is damaged (not a readable zip: {exc})", source) from exc
    weights: dict[str, np.ndarray] = {}
    total = 0
    with inner:
        infos = inner.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ProjectError(f"weights.npz lists {len(infos):,} arrays; too many", source)
        for info in infos:
            name = info.filename
            label = f"weights.npz: '{_short(name, 80)[1:-1]}'"
            if not name.endswith(".npy"):
                raise ProjectError(f"{label} is not an array (.npy)", source)
            key = name[: -len(".npy")]
            _check_entry(info, MAX_WEIGHTS_BYTES, label, source)
            try:
                with inner.open(info) as fp:
                    arr = _read_npy(fp, info, label, source, total)
            except _ZIP_ERRORS as exc:
                raise ProjectError(f"{label} is damaged: {exc}", source) from exc
            total += arr.nbytes
            weights[key] = arr
    limit = _DTYPE_MAX.get(dtype) if isinstance(dtype, str) else None
    for key, arr in weights.items():
        if not np.isfinite(arr).all():
            raise ProjectError(f"weights.npz: '{key}' holds NaN or inf", source)
        if limit is not None and arr.size and arr.dtype.itemsize > np.dtype(dtype).itemsize:
            largest = float(np.abs(arr).max())
            if largest > limit:
                raise ProjectError(
                    f"weights.npz: '{key}' holds {largest:.3g}, beyond what {dtype} can hold "
                    f"(at most {limit:.3g}); this {dtype} project would turn it into inf",
                    source,
                )
    return weights


def _read_npy(fp: IO[bytes], info: zipfile.ZipInfo, label: str, source: str, before: int):
    """One ``.npy`` array from a zip entry, its header checked against the entry's declared
    size and the memory limit before any data is allocated."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not read")
    except (ValueError, TypeError, SyntaxError, EOFError) as exc:
        raise ProjectError(f"{label} is not a valid .npy array: {exc}", source) from exc
    if dtype.kind != "f" or dtype.hasobject or dtype.fields is not None:
        raise ProjectError(f"{label} is not a float array ({dtype})", source)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    header = fp.tell()
    if header + nbytes != info.file_size:
        raise ProjectError(
            f"{label}: its header claims shape {_short(shape, 60)} ({count:,} values, "
            f"{format_bytes(nbytes)}) but the entry holds {format_bytes(info.file_size - header)}",
            source,
        )
    check_allocation_for(before + nbytes, f"the weights up to {label}", source)
    arr = np.empty(count, dtype=dtype)
    buf = arr.view(np.uint8)
    pos = 0
    while pos < nbytes:
        chunk = fp.read(min(_CHUNK, nbytes - pos))
        if not chunk:
            raise ProjectError(f"{label} is damaged: its data ends early", source)
        buf[pos : pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        pos += len(chunk)
    if fp.read(1):
        raise ProjectError(f"{label} is damaged: it holds more data than its header says", source)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def weight_key_problems(project: Project, graph: Any = None) -> list[str]:
    """Weights that the project's network does not use, one sentence each (empty when all
    fit). Without ``graph``: keys naming no layer of the spec. With the validated ``graph``
    (:class:`engine.graph.Graph`): also weight names a layer does not have, and layers whose
    weights do not add up to their parameter count (a shape that no longer fits).

    Such weights are kept in the project (saving it keeps them) but are not applied: training
    starts those layers afresh and writes only the network's own weights.
    """
    if not project.weights:
        return []
    layers = {
        layer.get("config", {}).get("name")
        for layer in project.layers
        if isinstance(layer, dict) and isinstance(layer.get("config"), dict)
    }
    problems = []
    unknown = sorted(k for k in project.weights if k.rpartition("/")[0] not in layers)
    if unknown:
        shown = ", ".join(f"'{k}'" for k in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        problems.append(
            f"weights.npz holds weights for no layer of this project ({shown}); "
            "they are not used, and training does not keep them"
        )
    if graph is not None:
        nested = weights_by_layer(project.weights)
        for node in graph.nodes:
            have = nested.get(node.name)
            if not have:
                continue
            extra = sorted(set(have) - set(node.weight_names))
            if extra:
                problems.append(
                    f"weights.npz holds {', '.join(repr(e) for e in extra)} for layer "
                    f"'{node.name}', which has no such weight; it is not used"
                )
            size = sum(int(a.size) for w, a in have.items() if w in node.weight_names)
            if size != node.params and not extra:
                problems.append(
                    f"the trained weights of layer '{node.name}' ({size:,} values) do not fit "
                    f"it ({node.params:,} parameters); they cannot be used"
                )
    return problems


def _weights_bytes(weights: dict[str, np.ndarray]) -> bytes:
    # Written entry by entry with a fixed timestamp (np.savez stamps the current time),
    # so that identical weights give identical bytes.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(weights):
            arr_buf = io.BytesIO()
            np.lib.format.write_array(
                arr_buf, np.ascontiguousarray(weights[key]), allow_pickle=False
            )
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, arr_buf.getvalue())
    return buf.getvalue()


def project_bytes(project: Project, suffix: str) -> bytes:
    """The bytes a save to a file with ``suffix`` writes (``.json`` or ``.nnd``)."""
    text = project.to_json_text()
    if suffix.lower() != ".nnd":
        return text.encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        entries = [("project.json", text.encode("utf-8"))]
        if project.weights:
            entries.append(("weights.npz", _weights_bytes(project.weights)))
        if project.history:
            check_json_value(project.history, "the training history")
            try:
                hist = json.dumps(project.history, indent=2, allow_nan=False) + "\n"
            except (ValueError, TypeError) as exc:
                raise ProjectError(f"the training history holds NaN or inf: {exc}") from exc
            entries.append(("history.json", hist.encode("utf-8")))
        if project.runs is not None and project.runs.runs and not project.runs.legacy:
            entries += _runs_entries(project.runs)
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, payload)
    return buf.getvalue()


def _runs_entries(store) -> list[tuple[str, bytes]]:
    """``runs.json`` and every snapshot's two entries."""
    from engine.runs import RUNS_FORMAT
    from engine.snapshots import to_entries

    doc = {"runs_format": RUNS_FORMAT, "runs": [run.to_json() for run in store.runs]}
    check_json_value(doc, "the training runs")
    try:
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    except (ValueError, TypeError) as exc:
        raise ProjectError(f"the training runs hold NaN or inf: {exc}") from exc
    entries = [("runs.json", text.encode("utf-8"))]
    for run in store.runs:
        for epoch in sorted(run.snapshots):
            meta, arrays = to_entries(run.snapshots[epoch])
            base = _snapshot_name(run.number, epoch)
            entries += [(base + ".json", meta), (base + ".bin", arrays)]
    return entries


def save_project(project: Project, path: str | os.PathLike) -> Path:
    """Save atomically as ``.json`` (spec only) or ``.nnd`` (spec, weights, history).

    The bytes go to a temporary file in the same folder, are flushed and fsynced, then
    ``os.replace`` swaps it in: a crash mid-save never leaves a damaged file.
    """
    path = Path(path)
    if path.suffix.lower() not in PROJECT_SUFFIXES:
        raise ProjectError("a project file must end in .json or .nnd", str(path))
    payload = project_bytes(project, path.suffix)
    remove_stale_temp_files(path)
    atomic_write(path, payload)
    project.path = path.resolve()
    return path


# Read once at import: os.umask can only be read by setting it, which is not thread-safe later.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def make_ordinary(path: Path) -> None:
    """Give a file made by mkstemp (private, 0600) the mode a plain ``open()`` would give it."""
    try:
        os.chmod(path, 0o666 & ~_UMASK)
    except OSError:
        pass


def atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temp file, fsync, os.replace, fsync dir)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ProjectError(f"cannot write in {folder}: {exc.strerror}", str(path)) from exc
    try:
        make_ordinary(Path(tmp))
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ProjectError(f"could not be saved: {exc.strerror or exc}", str(path)) from exc
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# Temp files are named ``.<name>.<pid>-<host>.<random>.tmp``: whoever finds one can tell
# whether its writer still runs (the pid on this host) before removing it.
_HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
_TEMP_TAG = re.compile(r"(\d+)-([0-9a-f]{6})\.[^.]+")
#: A temp file this old is stale whoever wrote it (a pid may be reused; a save takes seconds).
STALE_TEMP_AGE_S = 3600.0


def _temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-{_HOST_TAG}."


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def temp_files_of(path: str | os.PathLike) -> list[Path]:
    """The temp files :func:`atomic_write` makes (and a killed save leaves) beside ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    escaped = "".join(f"[{c}]" if c in "*?[" else c for c in path.name)
    try:
        return sorted(folder.glob(f".{escaped}.*.tmp"))
    except OSError:
        return []


def is_stale_temp_file(tmp: Path, name: str, now: float | None = None) -> bool:
    """Whether ``tmp`` (a temp file of a save of ``name``) was left by a writer that is gone.

    Stale: its writer's pid (on this host) no longer runs; or it is older than
    :data:`STALE_TEMP_AGE_S`; or it has no writer tag (made before tags, by an older version).
    A temp file of a live writer (this process included), or of another host, younger than
    that, is left alone: removing it would break that save.
    """
    try:
        st = tmp.lstat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False  # never remove a folder or follow a link someone put there
    age = (time.time() if now is None else now) - st.st_mtime
    if age > STALE_TEMP_AGE_S:
        return True
    middle = tmp.name[len(name) + 2 : -len(".tmp")]
    tag = _TEMP_TAG.fullmatch(middle)
    if tag is None:
        return True
    pid, host = int(tag.group(1)), tag.group(2)
    if host != _HOST_TAG or pid == os.getpid():
        return False
    return not _pid_alive(pid)


def remove_stale_temp_files(path: str | os.PathLike) -> int:
    """Delete the temp files that interrupted saves of ``path`` left (see
    :func:`is_stale_temp_file`); how many went. :func:`save_project` calls it."""
    name = Path(path).name
    removed = 0
    now = time.time()
    for tmp in temp_files_of(path):
        if is_stale_temp_file(tmp, name, now):
            try:
                tmp.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def weights_by_layer(flat: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """``{"dense/kernel": k}`` -> ``{"dense": {"kernel": k}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in flat.items():
        layer, _, wname = key.rpartition("/")
        out.setdefault(layer, {})[wname] = arr
    return out


def flat_weights(nested: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``{"dense": {"kernel": k}}`` -> ``{"dense/kernel": k}``."""
    return {f"{layer}/{w}": arr for layer, ws in nested.items() for w, arr in ws.items()}
