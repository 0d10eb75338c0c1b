"""What the Dataset panel knows, without Qt: the chosen source (the project's dataset spec, or
a pending file choice), the loaded data and its summary, the table's columns, the preparation
settings, and what to write into the project (pure edits of the project's data).

:class:`DatasetState` is plain Python: the panel (:mod:`designer.dataset.panel`) owns one,
feeds it the loader's results, asks it what to show and applies the edits it returns; tests
drive it without a window.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from designer.dataset.load_job import LoadRequest, LoadResult, load_key, spec_format
from designer.panels.values import same_value
from engine import edits
from engine.data import (
    BUILTIN_DATASETS,
    COMMON_KEYS,
    Dataset,
    TablePreview,
    keep_common_keys,
    relative_data_path,
)
from engine.data.files import resolve_path
from engine.data.match import match_network_to_data, output_layer_name
from engine.data.projection import Projection, default_choice
from engine.losses import canonical_loss
from engine.optimizers import is_perceptron

__all__ = [
    "DELIMITER_NAMES",
    "FORMAT_NAMES",
    "DatasetState",
    "Loaded",
    "dataset_edit",
    "digits_edit",
    "scale_edit",
    "size_text",
    "split_counts",
]

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
FORMAT_NAMES = {
    "csv": "table",
    "npz": "NumPy archive",
    "npy": "NumPy arrays",
    "idx": "IDX images",
    "images": "image folder",
}


def size_text(size: int | None) -> str:
    """A byte count for people: ``1.5 MB``; '' when unknown or 0."""
    if not size:
        return ""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def split_counts(n: int, validation_split: float, test_split: float, own_test: int | None):
    """(train, validation, test) sample counts as :func:`engine.data.prepare` splits ``n``."""

    def take(fraction: float, total: int) -> int:
        if not fraction or total < 2:
            return 0
        return min(max(round(fraction * total), 1), total - 1)

    n_test = own_test if own_test is not None else take(test_split, n)
    rest = n if own_test is not None else n - n_test
    n_val = take(validation_split, rest)
    return rest - n_val, n_val, n_test


def escape(text: str) -> str:
    """``text`` safe inside rich text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------ edits of the project
def dataset_edit(spec: dict[str, Any]) -> Callable[[dict], dict]:
    """The edit that makes ``spec`` the project's dataset, keeping its preparation keys."""
    core = {k: copy.deepcopy(v) for k, v in spec.items() if k not in COMMON_KEYS}

    def fn(data: dict) -> dict:
        return edits.set_setting(data, "dataset", keep_common_keys(core, data.get("dataset")))

    return fn


def scale_edit(value: str) -> Callable[[dict], dict]:
    """The edit that scales the inputs: ``"none"``, ``"standardize"`` or ``"minmax"``."""

    def fn(data: dict) -> dict:
        spec = dict(data.get("dataset") or {})
        spec.pop("standardize", None)  # the older spelling of "scale": "standardize"
        if value == "none":
            spec.pop("scale", None)
        else:
            spec["scale"] = value
        return edits.set_setting(data, "dataset", spec)

    return fn


def digits_edit() -> Callable[[dict], dict]:
    """The edit to scikit-learn's 8×8 digits instead of a dataset to download: the dataset and
    the network's input shape, output layer and loss (as Match network to data sets them). The
    digits' shape is known without loading them."""
    info = BUILTIN_DATASETS["digits"]
    stand_in = Dataset(
        x=np.zeros((0, *info.feature_shape), np.float32),
        y=np.zeros(0, np.int64),
        task=info.task,
        n_classes=info.n_classes,
        image_shape=info.image_shape,  # a convolutional network gets them as 8x8x1 images
    )

    def fn(data: dict) -> dict:
        spec = keep_common_keys({"name": "digits"}, data.get("dataset"))
        if "scale" not in spec and "standardize" not in spec:
            # Pixel values 0..16: standardized, as resources/examples/seed_mlp_digits.json.
            spec["scale"] = "standardize"
        return match_network_to_data(edits.set_setting(data, "dataset", spec), stand_in)

    return fn


@dataclass
class Loaded:
    """What a load result means for the panel (:meth:`DatasetState.loaded`).

    ``outcome``: ``"stale"`` (for a spec no longer wanted: load the project's data again if
    needed), ``"chosen"`` (a pending choice loaded: write ``spec`` into the project with the
    undo text ``text``), ``"failed"`` (a pending choice failed: the project keeps its data) or
    ``"project"`` (the project's own data, or its failure). ``new_plane`` is the default plane
    for data of a new shape (None when the shape is the same).
    """

    outcome: str
    spec: dict[str, Any] | None = None
    text: str = ""
    new_plane: dict[str, Any] | None = None


class DatasetState:
    """What the Dataset panel knows (see the module docstring).

    Parameters
    ----------
    project : callable
        Returns the current :class:`~engine.project.Project` (its ``data`` and ``base_dir``
        are read each time: an edit, an undo or a save elsewhere changes them).

    Attributes
    ----------
    dataset : Dataset or None
        The project's data as last loaded (the last good data while a pending choice fails).
    image_shape : tuple or None
        One sample as an image, when the data are images.
    project_result : LoadResult or None
        The last load of the project's own data.
    pending : dict or None
        A file choice that is not in the project yet (loading, or failed).
    pending_text : str
        The undo text of the pending choice.
    pending_result : LoadResult or None
        The pending choice's failure (None while it loads).
    projection_choice : dict
        The plane of the scatter: ``{"kind": "features", "features": [i, j]}`` or
        ``{"kind": "pca"}``.
    loaded_key : str or None
        The :func:`~designer.dataset.load_job.load_key` of the project's data last loaded (or
        given up on).
    scatter_dirty : bool
        The scatter must be drawn again (new data or another plane).
    """

    def __init__(self, project: Callable[[], Any]) -> None:
        self._project = project
        self.dataset: Dataset | None = None
        self.image_shape: tuple[int, ...] | None = None
        self.project_result: LoadResult | None = None
        self.pending: dict[str, Any] | None = None
        self.pending_text = ""
        self.pending_result: LoadResult | None = None
        self.projection_choice: dict[str, Any] = {"kind": "features", "features": [0, 1]}
        self.loaded_key: str | None = None
        self.scatter_dirty = True
        self._data_signature: object = None
        self._formats: dict[str, str] = {}
        self._project_key = load_key(self.project_spec, self.base_dir)

    # ================================================================== the project
    @property
    def project(self) -> Any:
        return self._project()

    @property
    def base_dir(self) -> Path | None:
        return self.project.base_dir

    @property
    def project_spec(self) -> dict[str, Any]:
        spec = self.project.data.get("dataset")
        return spec if isinstance(spec, dict) else {}

    @property
    def fit(self) -> dict[str, Any]:
        fit = self.project.data.get("fit")
        return fit if isinstance(fit, dict) else {}

    def project_changed(self) -> bool:
        """The project changed (an edit, undo, the Inspector). True when its dataset changed
        while a choice was pending: the pending choice is dropped (the change is newer and
        must not be overwritten), and its load should be cancelled."""
        key = load_key(self.project_spec, self.base_dir)
        if key == self._project_key:
            return False
        self._project_key = key
        if self.pending is None:
            return False
        self.drop_pending()
        return True

    def project_replaced(self) -> None:
        """Another project was opened: forget everything loaded or pending."""
        self.drop_pending()
        self.project_result = None
        self.dataset = None
        self.image_shape = None
        self.loaded_key = None
        self._project_key = load_key(self.project_spec, self.base_dir)

    # ================================================================== the source
    def shown_spec(self) -> dict[str, Any]:
        """The spec the source controls show: the pending choice, else the project's."""
        return self.pending if self.pending is not None else self.project_spec

    def shown_result(self) -> LoadResult | None:
        """The load result for :meth:`shown_spec` (None while it loads)."""
        if self.pending is not None:
            return self.pending_result
        result = self.project_result
        if result is not None and result.request.key == load_key(self.project_spec, self.base_dir):
            return result
        return None

    @property
    def preview(self) -> TablePreview | None:
        result = self.shown_result()
        return result.preview if result is not None else None

    @property
    def error(self) -> str:
        if self.pending is not None and self.pending_result is not None:
            return self.pending_result.error
        result = self.shown_result()
        return result.error if result is not None else ""

    @property
    def data_ready(self) -> bool:
        """The project's data is loaded for its current spec."""
        return self.dataset is not None and self.loaded_key == load_key(
            self.project_spec, self.base_dir
        )

    def shown_format(self) -> str:
        """``"builtin"`` or the file format of :meth:`shown_spec` (remembered per spec)."""
        spec = self.shown_spec()
        key = load_key(spec, self.base_dir)
        if key not in self._formats:
            try:
                self._formats[key] = spec_format(spec, self.base_dir)
            except OSError:
                return "csv"
        return self._formats[key]

    def forget_formats(self) -> None:
        self._formats.clear()

    # ------------------------------------------------------------------ choosing
    def choose(self, spec: dict[str, Any], text: str) -> dict[str, Any]:
        """Use ``spec`` as the dataset; returns it without its preparation keys. A built-in
        set goes into the project at once (the caller writes it); a file becomes the pending
        choice, to be loaded (:attr:`pending` is it) and written only once it has loaded."""
        core = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
        if "name" in core:
            self.drop_pending()
        else:
            self.pending = core
            self.pending_text = text
            self.pending_result = None
        return core

    def path_choice(self, path: str | Path) -> tuple[dict[str, Any], str]:
        """The spec and undo text for a data file or folder (stored relative to the project's
        folder when it can be)."""
        target = Path(path).expanduser()
        stored = relative_data_path(target, self.base_dir)
        return {"path": stored}, f"Use the data in {target.name}"

    def typed_path_choice(self, text: str) -> tuple[dict[str, Any], str] | None:
        """The spec and undo text for a path typed in the panel; None when it is empty or the
        file already shown."""
        text = text.strip()
        if not text:
            return None
        path = Path(text).expanduser()
        stored = relative_data_path(path, self.base_dir) if path.is_absolute() else text
        if stored == self.shown_spec().get("path"):
            return None
        return {"path": stored}, f"Use the data in {path.name}"

    def drop_pending(self) -> None:
        self.pending = None
        self.pending_text = ""
        self.pending_result = None

    def start_folder(self) -> str:
        """Where a file dialog opens: the shown file's folder, else the project's."""
        spec = self.shown_spec()
        if isinstance(spec.get("path"), str):
            return str(resolve_path(spec["path"], self.base_dir).parent)
        return str(self.base_dir or Path.home())

    def param_spec(self, key: str, value: Any) -> tuple[dict[str, Any], str, tuple] | None:
        """(new spec, undo text, merge key) for a built-in set's parameter (``None``: its
        default); None when the project's set has no such parameter."""
        spec = self.project_spec
        name = spec.get("name")
        info = BUILTIN_DATASETS.get(name)
        if info is None or key not in info.params:
            return None
        new = dict(spec)
        if value is None or same_value(value, info.params[key].default):
            new.pop(key, None)
        else:
            new[key] = value
        return new, f"Change {name}'s {key}", ("dataset-param", name, key)

    # ------------------------------------------------------------------ the table's columns
    def table_spec(self, change: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
        """The shown spec with ``change`` (``None`` removes a key) and without ``drop``."""
        new = dict(self.shown_spec())
        for key in drop:
            new.pop(key, None)
        for key, value in change.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        return new

    def table_width(self) -> int:
        """How many columns the table has as :func:`engine.data.load_dataset` reads it: the
        preview widens itself to its longest (ragged) row; the usual row length is the
        table's."""
        preview = self.preview
        if preview is None or not preview.columns:
            return 0
        lengths = [len(r) for r in preview.rows]
        if not lengths:
            return len(preview.columns)
        usual = max(set(lengths), key=lambda n: (lengths.count(n), -n))
        return max(1, min(usual, len(preview.columns)))

    def column_ref(self, j: int) -> object:
        """How the spec names column ``j``: its header name when unique, else its index."""
        preview = self.preview
        if preview is None:
            return j
        names = preview.columns
        name = names[j] if j < len(names) else ""
        if preview.header and name.strip() and names.count(name) == 1:
            return name
        return j

    def column_index(self, ref: object) -> int | None:
        """The index of the column a spec names (a name, an index, a negative index)."""
        preview = self.preview
        if preview is None:
            return None
        width = self.table_width()
        names = preview.columns[:width]
        if isinstance(ref, str):
            if ref.strip() in names:
                return names.index(ref.strip())
            try:
                ref = int(ref.strip())
            except ValueError:
                return None
        if isinstance(ref, bool) or not isinstance(ref, int) or not -width <= ref < width:
            return None
        return ref % width

    def target_columns(self) -> list[int]:
        spec = self.shown_spec()
        preview = self.preview
        if preview is None or not preview.columns:
            return []
        refs = spec.get("target", -1)
        refs = refs if isinstance(refs, list) else [refs]
        cols = [self.column_index(r) for r in refs]
        return [c for c in cols if c is not None]

    def auto_features(self, targets: list[int]) -> list[int]:
        """The columns read as features when the spec names none: numeric columns other than
        the targets and the sample weights."""
        preview = self.preview
        if preview is None:
            return []
        kinds = preview.kinds[: self.table_width()]
        weights = self.weight_column()
        return [
            j
            for j, kind in enumerate(kinds)
            if kind == "numeric" and j not in targets and j != weights
        ]

    def weight_column(self) -> int | None:
        """The column of sample weights (the spec's ``sample_weight``), or None."""
        spec = self.shown_spec()
        if self.preview is None or spec.get("sample_weight") is None:
            return None
        return self.column_index(spec["sample_weight"])

    def weight_change(self, column: int | None) -> tuple[dict[str, Any], str]:
        """(change of the spec, undo text) to weigh each sample by ``column`` (None: no
        weights); a column listed as a feature leaves the features."""
        spec = self.shown_spec()
        if column is None:
            return {"sample_weight": None}, "Weigh every sample alike"
        change: dict[str, Any] = {"sample_weight": self.column_ref(column)}
        if isinstance(spec.get("features"), list):
            change["features"] = [self.column_ref(c) for c in self.feature_columns() if c != column]
        return change, f"Weigh the samples by {self.preview.columns[column]}"

    def feature_columns(self) -> list[int]:
        spec = self.shown_spec()
        targets = self.target_columns()
        if "features" in spec and isinstance(spec["features"], list):
            cols = [self.column_index(r) for r in spec["features"]]
            return [c for c in cols if c is not None]
        return self.auto_features(targets)

    def target_change(self, column: int | str) -> tuple[dict[str, Any], str] | None:
        """(change of the spec, undo text) to predict ``column`` (an index or a name)."""
        j = self.column_index(column)
        if j is None:
            return None
        spec = self.shown_spec()
        change: dict[str, Any] = {"target": self.column_ref(j)}
        if isinstance(spec.get("features"), list):
            change["features"] = [self.column_ref(c) for c in self.feature_columns() if c != j]
        return change, f"Predict {self.preview.columns[j]}"

    def features_change(self, columns: list[int]) -> dict[str, Any]:
        """The change of the spec to use these columns as the features (the default set
        clears the key)."""
        columns = sorted(set(columns))
        auto = self.auto_features(self.target_columns())
        return {"features": None if columns == auto else [self.column_ref(j) for j in columns]}

    # ================================================================== loading
    def project_load_wanted(self, current: LoadRequest | None) -> bool:
        """Whether the project's data must be requested now, given the request in progress."""
        base = self.base_dir
        key = load_key(self.project_spec, base)
        if key == self.loaded_key:
            return False
        if current is not None:
            if current.key == key and current.purpose == "project":
                return False
            if (
                current.purpose == "propose"
                and self.pending is not None
                and load_key(self.pending, base) == current.key
            ):
                return False  # the choice finishes first; the project's data is loaded after
        return True

    def cancelled(self, current: LoadRequest | None) -> None:
        """The user stopped waiting for ``current`` (a pending choice is dropped; the
        project's data is not requested again by itself)."""
        if current is not None and current.purpose == "propose":
            self.drop_pending()
        elif current is not None:
            self.loaded_key = current.key

    def loaded(self, result: LoadResult) -> Loaded:
        """Take a load result (see :class:`Loaded`)."""
        request = result.request
        base = self.base_dir
        if request.purpose == "propose":
            if self.pending is None or load_key(self.pending, base) != request.key:
                return Loaded("stale")
            if not result.ok:
                self.pending_result = result
                return Loaded("failed")
            text = self.pending_text
            self.drop_pending()
            return Loaded("chosen", request.spec, text, self.accept(result))
        if request.key != load_key(self.project_spec, base):
            return Loaded("stale")
        return Loaded("project", new_plane=self.accept(result))

    def accept(self, result: LoadResult) -> dict[str, Any] | None:
        """``result`` is now the project's data (or its failure); returns the default plane
        when the data's shape changed (else None)."""
        self.project_result = result
        self.loaded_key = result.request.key
        if result.ok:
            self.dataset = result.dataset
            self.image_shape = result.image_shape
        else:
            self.dataset = None
            self.image_shape = None
        ds = self.dataset
        signature = None
        if ds is not None:
            signature = (tuple(ds.feature_names or []), ds.feature_shape, self.image_shape)
        self.scatter_dirty = True
        if signature == self._data_signature:
            return None
        self._data_signature = signature
        d = int(np.prod(ds.feature_shape)) if ds is not None and ds.feature_shape else 0
        return default_choice(d, images=self.image_shape is not None)

    # ================================================================== the plane
    def set_projection(self, choice: dict[str, Any]) -> bool:
        """Choose the scatter's plane (checked and normalised); False when it is the same."""
        choice = Projection.from_choice(choice).choice()
        if choice == self.projection_choice:
            return False
        self.projection_choice = choice
        self.scatter_dirty = True
        return True

    def feature_names(self) -> list[str]:
        """A name for every input value of the data (``x{j}`` where the data has none)."""
        ds = self.dataset
        if ds is None:
            return []
        d = int(np.prod(ds.feature_shape)) if ds.feature_shape else 1
        names = list(ds.feature_names or [])
        return [names[j] if j < len(names) else f"x{j}" for j in range(d)]

    def scatter_sample(self, limit: int) -> np.ndarray:
        """Indices of the samples drawn in the scatter: all, or a subset of ``limit`` seeded
        by the project's seed."""
        n = self.dataset.n_samples
        seed = int(self.fit.get("seed", 0) or 0)
        if n > limit:
            return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
        return np.arange(n)

    # ================================================================== summaries
    def file_description(self) -> str:
        """One line about the shown file: its format, rows, delimiter, encoding, size."""
        fmt = self.shown_format()
        parts = [FORMAT_NAMES.get(fmt, fmt).capitalize()]
        preview = self.preview
        if fmt == "csv" and preview is not None:
            if preview.n_rows is not None:
                parts.append(f"{preview.n_rows} rows")
            parts.append(DELIMITER_NAMES.get(preview.delimiter, repr(preview.delimiter)))
            parts.append(
                preview.encoding.upper() if preview.encoding == "utf-8" else preview.encoding
            )
        result = self.shown_result()
        if result is not None and result.size:
            parts.append(size_text(result.size))
        return " · ".join(parts)

    def detected_task(self) -> str | None:
        """The task of the shown file as loaded, else as its preview suggests."""
        result = self.shown_result()
        if result is not None and result.dataset is not None:
            return result.dataset.task
        if self.preview is not None:
            return self.preview.suggested_task
        return None

    def shape_text(self) -> str:
        """The loaded data in one rich-text line: name, samples, inputs, task ('' if none)."""
        ds = self.dataset
        if ds is None:
            return ""
        shape = ds.feature_shape
        d = int(np.prod(shape)) if shape else 1
        if len(shape) <= 1:
            what = f"{d} feature{'s' if d != 1 else ''}"
        else:
            what = "×".join(str(s) for s in shape) + " inputs"
        if self.image_shape is not None:
            h, w = self.image_shape[:2]
            color = " RGB" if len(self.image_shape) == 3 else ""
            what += f" ({h}×{w}{color} images)"
        if ds.task == "classification":
            task = f"{ds.n_classes} classes"
        else:
            names = ", ".join(ds.target_names or []) or "target"
            task = f"numeric {names}"
        test = f" + {len(ds.x_test)} test" if ds.x_test is not None else ""
        title = re.sub(r" \([^()]*\)$", "", ds.name) or ds.name
        return f"<b>{escape(title)}</b>: {ds.n_samples}{test} samples × {what} · {task}"

    def notes(self) -> list[str]:
        """What loading noticed (the preview's notes first)."""
        ds = self.dataset
        if ds is None:
            return []
        notes = list(ds.notes)
        result = self.project_result
        if result is not None and result.preview is not None:
            notes = [n for n in result.preview.notes if n not in notes] + notes
        return notes

    def own_test_count(self) -> int | None:
        """The size of the data's own test set (None when it has none or is not loaded)."""
        ds = self.dataset if self.data_ready else None
        return None if ds is None or ds.x_test is None else len(ds.x_test)

    def split_text(self) -> tuple[str, bool]:
        """(the split's sample counts, or why it cannot be; whether that is a problem)."""
        ds = self.dataset if self.data_ready else None
        if ds is None:
            return "", False
        spec, fit = self.project_spec, self.fit
        own_test = self.own_test_count()
        test_split = spec.get("test_split", 0.0) or 0.0
        val = fit.get("validation_split", 0.0)
        val = float(val) if isinstance(val, (int, float)) else 0.0
        if own_test is not None and test_split:
            return (
                f"This data has its own test set ({own_test} samples): set the test split to 0.",
                True,
            )
        ts = float(test_split) if isinstance(test_split, (int, float)) else 0.0
        train, valid, test = split_counts(ds.n_samples, val, ts, own_test)
        own = " (the data's own)" if own_test is not None else ""
        return f"Training {train} · validation {valid} · test {test}{own} samples", False

    def labels_text(self) -> str:
        """How the labels are encoded for the loss ('' when the data is not loaded)."""
        ds = self.dataset if self.data_ready else None
        if ds is None:
            return ""
        project = self.project
        if ds.task != "classification":
            return "Targets: the numbers as they are (regression)."
        k = ds.n_classes or 0
        if is_perceptron(project):
            return "Labels: −1 or +1, as the Perceptron rule wants (chosen automatically)."
        raw = project.compile.get("loss") if isinstance(project.compile, dict) else None
        try:
            loss = canonical_loss(raw) if raw is not None else None
        except (KeyError, TypeError):
            loss = None
        if loss == "sparse_categorical_crossentropy":
            how = f"class indices 0…{k - 1} (integers), for sparse_categorical_crossentropy"
        elif loss == "binary_crossentropy" and k <= 2:
            how = "0 or 1, for binary_crossentropy"
        elif loss is not None:
            how = f"one-hot vectors of {k}, for {loss}"
        else:
            return "Labels: set a loss to train."
        return f"Labels: {how} (matched to the loss automatically)."

    def match_plan(self) -> tuple[dict, str]:
        """(the project's data as Match network to data would make it, the plan in one line:
        input shape, output layer, loss); raises ValueError when the data cannot be matched.
        Only while :attr:`data_ready`."""
        matched = match_network_to_data(self.project.data, self.dataset)
        out = output_layer_name(matched)
        layer = edits.find_layer(matched, out) if out is not None else None
        layer = layer or {}
        cfg = layer.get("config", {})
        loss = matched.get("compile", {}).get("loss")
        shape = tuple(int(s) for s in matched["model"]["input_shape"])
        kind = layer.get("class_name", "")
        plan = f"input {shape} · {kind}({cfg.get('units')}, {cfg.get('activation')})"
        if loss:
            plan += f" · {loss}"
        return matched, plan
