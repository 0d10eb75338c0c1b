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
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ProjectError
from engine.layers import snake_name

FORMAT_VERSION = 1
PROJECT_SUFFIXES = (".json", ".nnd")

# Fixed zip timestamps so that saving the same project twice writes the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

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

    # Convenient read access; the dict stays the single source of truth.
    @property
    def name(self) -> str:
        name = self.data.get("name")
        if isinstance(name, str) and name:
            return name
        return self.path.stem if self.path else "Untitled"

    @property
    def model(self) -> dict:
        return self.data.get("model") or {}

    @property
    def layers(self) -> list[dict]:
        layers = self.model.get("layers")
        return layers if isinstance(layers, list) else []

    @property
    def compile(self) -> dict:
        return self.data.get("compile") or {}

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
        return Project(copy.deepcopy(self.data), self.path, weights, copy.deepcopy(self.history))

    def to_json_text(self) -> str:
        """The spec as the text written to ``project.json`` (deterministic)."""
        try:
            return json.dumps(self.data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        except ValueError as exc:  # NaN/inf smuggled into a setting
            raise ProjectError(f"the project holds a value JSON cannot store: {exc}") from exc


def seed_project() -> Project:
    """The seed document's Keras example as a project (784-128-10 on MNIST)."""
    return from_dict(copy.deepcopy(SEED_PROJECT))


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
            f"'format_version' must be a number like 1 or \"1.2\", got {version!r}", source
        )
    if major > FORMAT_VERSION:
        raise ProjectError(
            f"this project was written by a newer NN Designer (format version {version}); "
            f"this version reads format version {FORMAT_VERSION}. Please update NN Designer.",
            source,
        )
    if major < 1:
        raise ProjectError(f"unknown format version {version!r}", source)
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
        if head.isdigit():
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


def loads_project(text: str | bytes, source: str = "<string>") -> Project:
    """Parse project JSON text."""
    try:
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise ProjectError(f"not a text file ({exc.reason})", source) from exc
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", source
        ) from exc
    return from_dict(data, source)


def load_project(path: str | os.PathLike) -> Project:
    """Load a ``.json`` or ``.nnd`` project.

    Raises
    ------
    ProjectError
        Naming the file and what is wrong with it (missing, not JSON, damaged zip, newer
        version...).
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ProjectError("no such file", source)
    if path.is_dir():
        raise ProjectError("is a folder, not a project file", source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"cannot be read: {exc.strerror}", source) from exc
    if raw[:4] == b"PK\x03\x04" or path.suffix.lower() == ".nnd":
        project = _load_nnd(raw, source)
    else:
        project = loads_project(raw, source)
    project.path = path.resolve()
    return project


def _load_nnd(raw: bytes, source: str) -> Project:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise ProjectError("not a valid .nnd file (it is not a zip archive)", source) from exc
    with zf:
        names = set(zf.namelist())
        if "project.json" not in names:
            raise ProjectError(
                f"the .nnd archive has no project.json (it holds: "
                f"{', '.join(sorted(names)) or 'nothing'})",
                source,
            )
        try:
            project = loads_project(zf.read("project.json"), f"{source} (project.json)")
            weights = None
            if "weights.npz" in names:
                weights = _read_weights(zf.read("weights.npz"), source)
            history = None
            if "history.json" in names:
                try:
                    history = json.loads(zf.read("history.json"))
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise ProjectError(f"history.json is damaged: {exc}", source) from exc
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ProjectError(f"the .nnd archive is damaged: {exc}", source) from exc
    project.weights = weights
    project.history = history
    return project


def _read_weights(raw: bytes, source: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            weights = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ProjectError(
            f"weights.npz is damaged or holds non-numeric data: {exc}", source
        ) from exc
    for key, arr in weights.items():
        if arr.dtype.kind != "f":
            raise ProjectError(f"weights.npz: '{key}' is not a float array ({arr.dtype})", source)
        if not np.isfinite(arr).all():
            raise ProjectError(f"weights.npz: '{key}' holds NaN or inf", source)
    return weights


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
            try:
                hist = json.dumps(project.history, indent=2, allow_nan=False) + "\n"
            except ValueError as exc:
                raise ProjectError(f"the training history holds NaN or inf: {exc}") from exc
            entries.append(("history.json", hist.encode("utf-8")))
        for name, payload in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, payload)
    return buf.getvalue()


def save_project(project: Project, path: str | os.PathLike) -> Path:
    """Save atomically as ``.json`` (spec only) or ``.nnd`` (spec, weights, history).

    The bytes go to a temporary file in the same folder, are flushed and fsynced, then
    ``os.replace`` swaps it in: a crash mid-save never leaves a damaged file.
    """
    path = Path(path)
    if path.suffix.lower() not in PROJECT_SUFFIXES:
        raise ProjectError("a project file must end in .json or .nnd", str(path))
    payload = project_bytes(project, path.suffix)
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
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
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
