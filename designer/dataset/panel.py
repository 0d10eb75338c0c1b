"""The Dataset panel: choose the data, see it, prepare it, and fit the network to it.

- **Source**: a built-in set (its parameters generated from its
  :class:`~engine.data.ParamInfo` table) or a file or folder. For a table: the target column,
  the feature columns, and the reading options (delimiter, header, encoding) when the sniffed
  ones are wrong; for every file: the task (classification or regression).
- **Preview** (tabs): the first rows as a table, the class balance as bars, a scatter of two
  chosen features (or the first two principal components) coloured by class, and a grid of
  sample images for image data.
- **Preparation**: input scaling (fitted on the training split only), the validation and test
  splits (stratified, seeded). Labels are encoded for the loss automatically; the panel says
  how.
- **Match network to data**: one click, one undo step.

Every change is an edit of the document (one undo step; spin boxes merge). Built-in sets go
into the project at once. A file (or a change of how a file is read) goes in only once it has
loaded: until then it is *pending*; a pending choice that fails shows the message (file, row,
column, the bad values) with the bad cell highlighted in the table, and the project keeps its
previous data, which the plots keep showing. Loading runs in a background thread
(:class:`~designer.dataset.loader.DatasetLoader`); a newer choice supersedes an older one.

The project's own data is loaded when the panel is visible (or a choice is made), so a hidden
panel costs nothing at start-up.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.dataset.downloader import DatasetDownloader
from designer.dataset.loader import DatasetLoader
from designer.dataset.loading import LoadResult, load_key, spec_format
from designer.dataset.views import (
    MAX_SCATTER_POINTS,
    ClassBalanceView,
    ImageGridView,
    ScatterView,
    TablePreviewView,
)
from designer.panels.fields import (
    ChoiceField,
    FloatField,
    IntField,
    WheelGuard,
    error_color,
    same_value,
)
from designer.plots.plane import PlanePicker
from engine import edits
from engine.data import (
    BUILTIN_DATASETS,
    COMMON_KEYS,
    Dataset,
    TablePreview,
    class_balance,
    keep_common_keys,
    relative_data_path,
    scale_of,
)
from engine.data.download import KERAS_DOWNLOADS, cached_file
from engine.data.files import resolve_path
from engine.data.match import match_network_to_data, output_layer_name
from engine.data.projection import Projection, default_choice

__all__ = ["DatasetPanel"]

_FILE = "\x00file"  # the source combo's value for the current file dataset
_PICK_FILE = "\x00pick-file"
_PICK_FOLDER = "\x00pick-folder"
DATA_FILTER = (
    "Data files (*.csv *.tsv *.tab *.txt *.dat *.data *.npz *.npy *.gz *-ubyte *.idx*);;"
    "All files (*)"
)
SCALE_CHOICES = [
    ("None (as in the file)", "none"),
    ("Standardize (mean 0, std 1)", "standardize"),
    ("Min-max (to 0…1)", "minmax"),
]
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
FORMAT_NAMES = {
    "csv": "table",
    "npz": "NumPy archive",
    "npy": "NumPy arrays",
    "idx": "IDX images",
    "images": "image folder",
}
OK_COLORS = ("#15803d", "#4ade80")


def _size_text(size: int | None) -> str:
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


class DatasetPanel(QWidget):
    """The dataset panel of one :class:`~designer.document.Document` (see the module
    docstring).

    Signals
    -------
    dataset_loaded : the project's data finished loading (:attr:`dataset` is new).
    projection_changed(dict) : the plane chosen for plots of many-feature data changed
        (``{"kind": "features", "features": [i, j]}`` or ``{"kind": "pca"}``).
    status_message(str) : a line for the window's status bar.

    Attributes
    ----------
    dataset : Dataset or None
        The project's data as last loaded (the last good data while a pending choice fails).
    image_shape : tuple or None
        One sample as an image, when the data are images.
    pending : dict or None
        A file choice that is not in the project yet (loading, or failed).
    error : str
        The message shown ('' when none).
    projection_choice : dict
        See ``projection_changed``.
    """

    dataset_loaded = Signal()
    projection_changed = Signal(dict)
    status_message = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataset_panel")
        self.document = document
        self.loader = DatasetLoader(self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.busy_changed.connect(self._on_busy)
        self.downloader = DatasetDownloader(self)
        self.downloader.progress.connect(self._on_download_progress)
        self.downloader.finished.connect(self._on_download_finished)
        self.downloader.failed.connect(self._on_download_failed)
        self.downloader.cancelled.connect(self._on_download_cancelled)
        #: The last download's outcome for the user ('' when none), and whether it failed.
        self.download_message = ""
        self._download_failed = False
        self.offer_shown = False
        self.dataset: Dataset | None = None
        self.image_shape: tuple[int, ...] | None = None
        self.project_result: LoadResult | None = None
        self.pending: dict[str, Any] | None = None
        self.pending_text = ""
        self.pending_result: LoadResult | None = None
        self.projection_choice: dict[str, Any] = {"kind": "features", "features": [0, 1]}
        #: Load the project's data whenever the panel is visible (a window turns this on
        #: once its docks are placed).
        self.auto_load = True
        self._loaded_key: str | None = None
        self._data_signature: object = None
        self._param_signature: object = None
        self._columns_signature: object = None
        self._scatter_dirty = True
        self._formats: dict[str, str] = {}
        self._split_done = False
        self._project_key = load_key(self.project_spec, self.base_dir)
        self._user_split = False
        self._controls_kind: object = None
        self._wheel_guard = WheelGuard(self)
        self._build()
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        self.refresh()

    # ================================================================== construction
    def _guard(self, widget: QWidget) -> None:
        widget.installEventFilter(self._wheel_guard)

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        outer.addWidget(self.splitter)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        host = QWidget()
        self.controls = QVBoxLayout(host)
        self.controls.setContentsMargins(8, 6, 8, 6)
        self.controls.setSpacing(6)
        scroll.setWidget(host)
        self.splitter.addWidget(scroll)

        self._build_source()
        self._build_offer()
        self._build_status()
        self._build_match()
        self._build_preparation()
        self.controls.addStretch(1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.table_view = TablePreviewView()
        self.balance_view = ClassBalanceView()
        self.scatter_tab = QWidget()
        self.scatter_view = ScatterView()
        self._build_scatter_tab()
        self.image_view = ImageGridView()
        self.tabs.addTab(self.table_view, "Table")
        self.tabs.addTab(self.balance_view, "Class balance")
        self.tabs.addTab(self.scatter_tab, "Scatter")
        self.tabs.addTab(self.image_view, "Images")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.splitter.addWidget(self.tabs)
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 4)

    def _form(self, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setContentsMargins(8, 6, 8, 6)
        form.setVerticalSpacing(4)
        self.controls.addWidget(box)
        return form

    def _hint(self, text: str = "") -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setStyleSheet("color: palette(placeholder-text);")
        return label

    def _build_source(self) -> None:
        form = self.source_form = self._form("Data")
        choices = [(name, name) for name in BUILTIN_DATASETS]
        choices += [("Data file…", _PICK_FILE), ("Image folder…", _PICK_FOLDER)]
        tips = {name: info.description for name, info in BUILTIN_DATASETS.items()}
        tips[_PICK_FILE] = "A CSV/TSV table, a .npz or .npy file, or MNIST-style IDX images"
        tips[_PICK_FOLDER] = "A folder with one subfolder of images per class"
        self.source_field = ChoiceField("dataset", self._on_source, choices, tips)
        self._guard(self.source_field.combo)
        form.addRow("Source", self.source_field.widget)
        self.description = self._hint()
        form.addRow(self.description)

        self.params_host = QWidget()
        self.params_form = QFormLayout(self.params_host)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        self.params_form.setVerticalSpacing(2)
        self.params_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.params_host)
        self.param_fields: dict[str, Any] = {}

        self.path_row = QWidget()
        row = QHBoxLayout(self.path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("dataset_path")
        self.path_edit.setPlaceholderText("data.csv (relative to the project's folder)")
        self.path_edit.returnPressed.connect(self._on_path_entered)
        self.browse_button = QToolButton()
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose a data file")
        self.browse_button.clicked.connect(self.choose_file)
        self.reload_button = QToolButton()
        self.reload_button.setText("↻")
        self.reload_button.setToolTip("Read the file again (after changing it elsewhere)")
        self.reload_button.clicked.connect(self.reload)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.reload_button)
        self.path_label = QLabel("File")
        form.addRow(self.path_label, self.path_row)

        self.table_host = QWidget()
        tform = QFormLayout(self.table_host)
        tform.setContentsMargins(0, 0, 0, 0)
        tform.setVerticalSpacing(4)
        tform.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.target_field = ChoiceField("dataset.target", self._on_target, [])
        self._guard(self.target_field.combo)
        tform.addRow("Target", self.target_field.widget)
        self.features_list = QListWidget()
        self.features_list.setObjectName("dataset_features")
        self.features_list.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.features_list.itemChanged.connect(self._on_feature_toggled)
        tform.addRow("Features", self.features_list)
        self.delimiter_field = ChoiceField("dataset.delimiter", self._on_delimiter, [])
        self.header_field = ChoiceField("dataset.header", self._on_header, [])
        self.encoding_field = ChoiceField("dataset.encoding", self._on_encoding, [])
        for field in (self.delimiter_field, self.header_field, self.encoding_field):
            self._guard(field.combo)
            field.combo.setMinimumContentsLength(4)
            field.reset_button.setParent(None)  # no reset here: "Auto" is the default
        reading = QWidget()
        rrow = QHBoxLayout(reading)
        rrow.setContentsMargins(0, 0, 0, 0)
        rrow.setSpacing(4)
        rrow.addWidget(self.delimiter_field.widget, 1)
        rrow.addWidget(self.header_field.widget, 1)
        rrow.addWidget(self.encoding_field.widget, 1)
        reading.setToolTip("How the file is read: delimiter, header row, encoding")
        tform.addRow("Read as", reading)
        form.addRow(self.table_host)

        self.task_field = ChoiceField("dataset.task", self._on_task, [])
        self._guard(self.task_field.combo)
        self.task_label = QLabel("Task")
        form.addRow(self.task_label, self.task_field.widget)

    def _build_offer(self) -> None:
        """The offer shown while the project's data must be downloaded first (MNIST not in the
        Keras cache): download it, or use the built-in digits instead."""
        self.offer_box = QFrame()
        self.offer_box.setObjectName("dataset_offer")
        self.offer_box.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(self.offer_box)
        box.setContentsMargins(8, 6, 8, 6)
        box.setSpacing(6)
        self.offer_label = QLabel()
        self.offer_label.setObjectName("dataset_offer_label")
        self.offer_label.setWordWrap(True)
        self.offer_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.offer_label)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("download_dataset_button")
        self.download_button.clicked.connect(self.download_dataset)
        self.digits_button = QPushButton("Use the built-in 8×8 digits instead")
        self.digits_button.setObjectName("use_digits_button")
        self.digits_button.setToolTip(
            "scikit-learn's 1797 handwritten digits, 8×8 pixels, shipped with it (no "
            "download): the dataset and the input shape change in one undo step"
        )
        self.digits_button.clicked.connect(self.use_digits_instead)
        box.addWidget(self.download_button)
        box.addWidget(self.digits_button)
        self.download_row = QWidget()
        row = QHBoxLayout(self.download_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.download_bar = QProgressBar()
        self.download_bar.setObjectName("download_progress")
        self.download_bar.setRange(0, 0)
        self.download_bar.setTextVisible(False)
        self.download_bar.setFixedHeight(10)
        self.cancel_download_button = QToolButton()
        self.cancel_download_button.setObjectName("cancel_download_button")
        self.cancel_download_button.setText("Cancel")
        self.cancel_download_button.clicked.connect(self.cancel_download)
        row.addWidget(self.download_bar, 1)
        row.addWidget(self.cancel_download_button)
        self.download_label = QLabel()
        self.download_label.setObjectName("download_label")
        self.download_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.download_label)
        box.addWidget(self.download_row)
        self.download_row.setVisible(False)
        self.download_label.setVisible(False)
        self.offer_message = QLabel()
        self.offer_message.setObjectName("dataset_offer_message")
        self.offer_message.setWordWrap(True)
        self.offer_message.setTextFormat(Qt.TextFormat.PlainText)
        self.offer_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.offer_message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        box.addWidget(self.offer_message)
        self.offer_message.setVisible(False)
        self.offer_box.setVisible(False)
        self.controls.addWidget(self.offer_box)

    def _build_status(self) -> None:
        self.busy_row = QWidget()
        row = QHBoxLayout(self.busy_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(8)
        self.busy_label = QLabel()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.busy_label)
        row.addWidget(self.busy_bar, 1)
        row.addWidget(self.cancel_button)
        self.busy_row.setVisible(False)
        self.controls.addWidget(self.busy_row)

        self.error_box = QFrame()
        self.error_box.setObjectName("dataset_error")
        self.error_box.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(self.error_box)
        box.setContentsMargins(8, 6, 8, 6)
        box.setSpacing(4)
        self.error_label = QLabel()
        self.error_label.setObjectName("dataset_error_label")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.error_keep = QLabel()
        self.error_keep.setWordWrap(True)
        self.discard_button = QPushButton("Keep the current data")
        self.discard_button.setToolTip("Forget the file that failed to load")
        self.discard_button.clicked.connect(self.discard_pending)
        box.addWidget(self.error_label)
        keep = QHBoxLayout()
        keep.addWidget(self.error_keep, 1)
        keep.addWidget(self.discard_button, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(keep)
        self.error_box.setVisible(False)
        self.controls.addWidget(self.error_box)

        self.shape_label = QLabel()
        self.shape_label.setObjectName("dataset_shape")
        self.shape_label.setWordWrap(True)
        self.shape_label.setTextFormat(Qt.TextFormat.RichText)
        self.notes_label = self._hint()
        self.notes_label.setObjectName("dataset_notes")
        self.controls.addWidget(self.shape_label)
        self.controls.addWidget(self.notes_label)

    def _build_match(self) -> None:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.match_button = QPushButton("Match network to data")
        self.match_button.setObjectName("match_network_button")
        self.match_button.clicked.connect(self.match_network)
        self.plan_label = self._hint()
        self.plan_label.setObjectName("dataset_plan")
        self.plan_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        row.addWidget(self.match_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.plan_label, 1)
        self.controls.addLayout(row)
        self.fit_label = QLabel()
        self.fit_label.setObjectName("dataset_fit")
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextFormat(Qt.TextFormat.PlainText)
        self.controls.addWidget(self.fit_label)

    def _build_preparation(self) -> None:
        form = self._form("Preparation")
        self.scale_field = ChoiceField("dataset.scale", self._on_scale, SCALE_CHOICES)
        self._guard(self.scale_field.combo)
        form.addRow("Scale inputs", self.scale_field.widget)
        self.scale_field.combo.setToolTip(
            "Fitted on the training split only, then applied to validation and test data"
        )
        self.validation_field = FloatField(
            "fit.validation_split",
            lambda v: self._set_setting("fit.validation_split", v, "Change the validation split"),
            0.0,
            0.95,
            0.05,
        )
        self.test_field = FloatField("dataset.test_split", self._on_test_split, 0.0, 0.95, 0.05)
        self.seed_field = IntField(
            "fit.seed", lambda v: self._set_setting("fit.seed", v, "Change the seed"), 0, None
        )
        for field in (self.validation_field, self.test_field, self.seed_field):
            self._guard(field.editor)
        form.addRow("Validation split", self.validation_field.widget)
        form.addRow("Test split", self.test_field.widget)
        form.addRow("Seed", self.seed_field.widget)
        self.validation_field.editor.setToolTip(
            "Share of the training data held out for validation (stratified by class, seeded)"
        )
        self.test_field.editor.setToolTip(
            "Share of the data held out as a test set before the validation split "
            "(stratified by class, seeded)"
        )
        self.seed_field.editor.setToolTip("Seeds the splits (and training): same seed, same split")
        self.split_label = self._hint()
        self.split_label.setObjectName("dataset_splits")
        form.addRow(self.split_label)
        self.labels_label = self._hint()
        self.labels_label.setObjectName("dataset_labels")
        form.addRow(self.labels_label)

    def _build_scatter_tab(self) -> None:
        layout = QVBoxLayout(self.scatter_tab)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        row = QHBoxLayout()
        row.setContentsMargins(6, 0, 6, 0)
        self.plane_picker = PlanePicker()
        self.plane_picker.chosen.connect(self.set_projection)
        self.plane_combo = self.plane_picker.plane_combo
        self.x_combo = self.plane_picker.x_combo
        self.y_combo = self.plane_picker.y_combo
        row.addWidget(self.plane_picker)
        layout.addLayout(row)
        layout.addWidget(self.scatter_view, 1)

    # ================================================================== state
    @property
    def base_dir(self) -> Path | None:
        return self.document.project.base_dir

    @property
    def project_spec(self) -> dict[str, Any]:
        spec = self.document.data.get("dataset")
        return spec if isinstance(spec, dict) else {}

    def shown_spec(self) -> dict[str, Any]:
        """The spec the source controls show: the pending choice, else the project's."""
        return self.pending if self.pending is not None else self.project_spec

    def _shown_result(self) -> LoadResult | None:
        """The load result for :meth:`shown_spec` (None while it loads)."""
        if self.pending is not None:
            return self.pending_result
        result = self.project_result
        if result is not None and result.request.key == load_key(self.project_spec, self.base_dir):
            return result
        return None

    @property
    def preview(self) -> TablePreview | None:
        result = self._shown_result()
        return result.preview if result is not None else None

    @property
    def error(self) -> str:
        if self.pending is not None and self.pending_result is not None:
            return self.pending_result.error
        result = self._shown_result()
        return result.error if result is not None else ""

    @property
    def data_ready(self) -> bool:
        """The project's data is loaded for its current spec."""
        return self.dataset is not None and self._loaded_key == load_key(
            self.project_spec, self.base_dir
        )

    def _shown_format(self) -> str:
        spec = self.shown_spec()
        key = load_key(spec, self.base_dir)
        if key not in self._formats:
            try:
                self._formats[key] = spec_format(spec, self.base_dir)
            except OSError:
                return "csv"
        return self._formats[key]

    # ================================================================== edits
    def _commit(self, spec: dict[str, Any], text: str, merge_key: object = None) -> bool:
        """Write a dataset spec into the project, keeping its preparation keys."""
        core = {k: copy.deepcopy(v) for k, v in spec.items() if k not in COMMON_KEYS}

        def fn(data: dict) -> dict:
            return edits.set_setting(data, "dataset", keep_common_keys(core, data.get("dataset")))

        return self.document.edit(text, fn, merge_key)

    def _set_setting(self, path: str, value: Any, text: str) -> None:
        self.document.edit(
            text, lambda d: edits.set_setting(d, path, value), merge_key=("dataset-panel", path)
        )

    def propose(self, spec: dict[str, Any], text: str) -> None:
        """Use ``spec`` as the dataset: a built-in set goes into the project at once; a file
        only once it has loaded (until then it is pending; a failure keeps the project's
        data and shows why)."""
        core = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
        if "name" in core:
            self._drop_pending()
            self._commit(core, text)
            self.refresh()
            return
        self.pending = core
        self.pending_text = text
        self.pending_result = None
        self.loader.request(core, self.base_dir, "propose")
        self.refresh()

    def open_path(self, path: str | Path) -> None:
        """Use a data file or folder (stored relative to the project's folder when it can)."""
        target = Path(path).expanduser()
        stored = relative_data_path(target, self.base_dir)
        self.propose({"path": stored}, f"Use the data in {target.name}")

    def discard_pending(self) -> None:
        """Forget the pending choice; the controls show the project's data again."""
        if self.pending is not None and self.loader.current is not None:
            if self.loader.current.purpose == "propose":
                self.loader.cancel()
        self._drop_pending()
        self.refresh()

    def _drop_pending(self) -> None:
        self.pending = None
        self.pending_text = ""
        self.pending_result = None

    def cancel(self) -> None:
        """Stop waiting for the load in progress (a pending choice is dropped)."""
        current = self.loader.current
        self.loader.cancel()
        if current is not None and current.purpose == "propose":
            self._drop_pending()
        elif current is not None:
            self._loaded_key = current.key  # do not start it again by itself; ↻ does
        self.refresh()

    def reload(self) -> None:
        """Read the data again (the file may have changed)."""
        self._formats.clear()
        if self.pending is not None:
            self.propose(self.pending, self.pending_text)
            return
        self._loaded_key = None
        self._sync_load(force=True)

    def match_network(self) -> bool:
        """Set the input shape, the output layer and the loss from the data (one undo step)."""
        if not self.data_ready:
            return False
        dataset = self.dataset
        changed = self.document.edit(
            "Match network to data", lambda d: match_network_to_data(d, dataset)
        )
        if changed:
            self.status_message.emit(f"The network now matches {dataset.name}")
        return changed

    # ------------------------------------------------------------------ first launch
    def download_name(self) -> str | None:
        """The project's built-in dataset when it must be downloaded into the Keras cache
        first (MNIST not there yet), or is being downloaded; else None."""
        if self.pending is not None:
            return None
        name = self.project_spec.get("name")
        if not isinstance(name, str) or name not in KERAS_DOWNLOADS:
            return None
        if self.downloader.busy and self.downloader.name == name:
            return name
        return name if cached_file(name) is None else None

    def download_dataset(self) -> bool:
        """Download the project's dataset into the Keras cache (a child process; progress
        below the button, Cancel stops it). The project is not changed; once the file is
        there, the data loads."""
        name = self.download_name()
        if name is None or self.downloader.busy:
            return False
        self.download_message = ""
        self._download_failed = False
        self.download_bar.setRange(0, 0)  # until the size is known
        self.download_label.setText(f"Connecting to {_host(KERAS_DOWNLOADS[name].url)}…")
        self.downloader.start(name)
        self.refresh()
        return True

    def cancel_download(self) -> None:
        """Stop the download; nothing is written to the cache, the project is unchanged."""
        self.downloader.cancel()
        self.download_label.setText("Cancelling…")

    def use_digits_instead(self) -> bool:
        """Use scikit-learn's 8×8 digits instead of the dataset to download: the dataset and
        the network's input shape (and output layer and loss, as Match network to data sets
        them) in one undo step. The digits' shape is known without loading them."""
        info = BUILTIN_DATASETS["digits"]
        stand_in = Dataset(
            x=np.zeros((0, *info.feature_shape), np.float32),
            y=np.zeros(0, np.int64),
            task=info.task,
            n_classes=info.n_classes,
        )

        def fn(data: dict) -> dict:
            spec = keep_common_keys({"name": "digits"}, data.get("dataset"))
            if "scale" not in spec and "standardize" not in spec:
                # Pixel values 0..16: standardized, as resources/examples/seed_mlp_digits.json.
                spec["scale"] = "standardize"
            return match_network_to_data(edits.set_setting(data, "dataset", spec), stand_in)

        changed = self.document.edit("Use the built-in 8×8 digits instead", fn)
        if changed:
            self.download_message = ""
            self.status_message.emit(
                "The dataset is now scikit-learn's 8×8 digits; the input shape is 64"
            )
        self.refresh()
        return changed

    def _on_download_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(min(1000, round(1000 * done / total)))
            self.download_label.setText(
                f"Downloading… {_size_text(done) or '0 bytes'} of {_size_text(total)}"
            )
        else:
            self.download_bar.setRange(0, 0)
            self.download_label.setText(f"Downloading… {_size_text(done) or '0 bytes'}")

    def _on_download_finished(self, path: str) -> None:
        self.download_message = ""
        self._download_failed = False
        self.status_message.emit(f"Downloaded to {path}")
        self.reload()  # the project's data can load now
        self.refresh()

    def _on_download_failed(self, message: str) -> None:
        text = message[:1].upper() + message[1:]  # the engine's sentence starts a line here
        self.download_message = f"{text}; the project was not changed."
        self._download_failed = True
        self.status_message.emit(self.download_message)
        self.refresh()

    def _on_download_cancelled(self) -> None:
        self.download_message = "Download cancelled; the project was not changed."
        self._download_failed = False
        self.status_message.emit(self.download_message)
        self.refresh()

    def _sync_offer(self) -> None:
        name = self.download_name()
        self.offer_shown = name is not None
        self.offer_box.setVisible(self.offer_shown)
        if name is None:
            return
        info = KERAS_DOWNLOADS[name]
        folder = cached_folder_text()
        self.offer_label.setText(
            f"{info.title} is not on this computer yet: NN Designer reads it from the Keras "
            f"cache ({folder}). Download it once, as Keras' own loader does, or train on "
            "the built-in digits now."
        )
        mb = f"{info.size / 1e6:.0f} MB"
        self.download_button.setText(f"Download {info.title} ({mb})")
        self.download_button.setToolTip(
            f"From {_host(info.url)} into the Keras cache, checked against Keras' SHA-256; "
            f"the same file keras.datasets.{name}.load_data() downloads"
        )
        busy = self.downloader.busy
        self.download_button.setEnabled(not busy)
        self.download_row.setVisible(busy)
        self.download_label.setVisible(busy)
        message = "" if busy else self.download_message
        self.offer_message.setText(message)
        self.offer_message.setVisible(bool(message))
        color = error_color(self) if self._download_failed else "palette(placeholder-text)"
        self.offer_message.setStyleSheet(f"color: {color};")

    # ------------------------------------------------------------------ source gestures
    def _on_source(self, value: Any) -> None:
        if value == _PICK_FILE:
            self.refresh()  # the combo shows the current source until a file is chosen
            self.choose_file()
        elif value == _PICK_FOLDER:
            self.refresh()
            self.choose_folder()
        elif isinstance(value, str) and value in BUILTIN_DATASETS:
            self.propose({"name": value}, f"Use the {value} dataset")

    def _start_folder(self) -> str:
        spec = self.shown_spec()
        if isinstance(spec.get("path"), str):
            return str(resolve_path(spec["path"], self.base_dir).parent)
        return str(self.base_dir or Path.home())

    def ask_data_file(self) -> str:
        """The file dialog (tests replace it); '' when cancelled."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open data file", self._start_folder(), DATA_FILTER
        )
        return path

    def ask_image_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Open image folder", self._start_folder())

    def choose_file(self) -> None:
        path = self.ask_data_file()
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = self.ask_image_folder()
        if path:
            self.open_path(path)

    def _on_path_entered(self) -> None:
        text = self.path_edit.text().strip()
        if not text:
            return
        path = Path(text).expanduser()
        stored = relative_data_path(path, self.base_dir) if path.is_absolute() else text
        if stored != self.shown_spec().get("path"):
            self.propose({"path": stored}, f"Use the data in {path.name}")

    def _on_param(self, key: str, value: Any) -> None:
        spec = self.project_spec
        name = spec.get("name")
        info = BUILTIN_DATASETS.get(name)
        if info is None or key not in info.params:
            return
        new = dict(spec)
        if value is None or same_value(value, info.params[key].default):
            new.pop(key, None)
        else:
            new[key] = value
        self._commit(new, f"Change {name}'s {key}", merge_key=("dataset-param", name, key))

    # ------------------------------------------------------------------ table gestures
    def _table_edit(self, change: dict[str, Any], text: str, drop: tuple[str, ...] = ()) -> None:
        new = dict(self.shown_spec())
        for key in drop:
            new.pop(key, None)
        for key, value in change.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        self.propose(new, text)

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

    def _column_ref(self, j: int) -> object:
        """How the spec names column ``j``: its header name when unique, else its index."""
        preview = self.preview
        if preview is None:
            return j
        names = preview.columns
        name = names[j] if j < len(names) else ""
        if preview.header and name.strip() and names.count(name) == 1:
            return name
        return j

    def _column_index(self, ref: object) -> int | None:
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
        cols = [self._column_index(r) for r in refs]
        return [c for c in cols if c is not None]

    def auto_features(self, targets: list[int]) -> list[int]:
        """The columns read as features when the spec names none: numeric non-targets."""
        preview = self.preview
        if preview is None:
            return []
        kinds = preview.kinds[: self.table_width()]
        return [j for j, kind in enumerate(kinds) if kind == "numeric" and j not in targets]

    def feature_columns(self) -> list[int]:
        spec = self.shown_spec()
        targets = self.target_columns()
        if "features" in spec and isinstance(spec["features"], list):
            cols = [self._column_index(r) for r in spec["features"]]
            return [c for c in cols if c is not None]
        return self.auto_features(targets)

    def set_target(self, column: int | str) -> None:
        """Predict ``column`` (an index or a column name) of the table."""
        j = self._column_index(column)
        if j is None:
            return
        spec = self.shown_spec()
        change: dict[str, Any] = {"target": self._column_ref(j)}
        if isinstance(spec.get("features"), list):
            change["features"] = [self._column_ref(c) for c in self.feature_columns() if c != j]
        name = self.preview.columns[j]
        self._table_edit(change, f"Predict {name}")

    def _on_target(self, value: Any) -> None:
        if isinstance(value, int):
            self.set_target(value)

    def set_features(self, columns: list[int]) -> None:
        """Use these columns (indices) as the features; the default set clears the key."""
        columns = sorted(set(columns))
        auto = self.auto_features(self.target_columns())
        value = None if columns == auto else [self._column_ref(j) for j in columns]
        self._table_edit({"features": value}, "Choose the features")

    def _on_feature_toggled(self, _item: QListWidgetItem) -> None:
        checked = []
        for i in range(self.features_list.count()):
            item = self.features_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                checked.append(int(item.data(Qt.ItemDataRole.UserRole)))
        self.set_features(checked)

    def _on_delimiter(self, value: Any) -> None:
        self._table_edit({"delimiter": value}, "Change the delimiter", ("target", "features"))

    def _on_header(self, value: Any) -> None:
        self._table_edit({"header": value}, "Change the header row", ("target", "features"))

    def _on_encoding(self, value: Any) -> None:
        self._table_edit({"encoding": value}, "Change the encoding")

    def _on_task(self, value: Any) -> None:
        self._table_edit({"task": value}, f"Treat the target as {value or 'detected'}")

    # ------------------------------------------------------------------ preparation gestures
    def _on_scale(self, value: Any) -> None:
        def fn(data: dict) -> dict:
            spec = dict(data.get("dataset") or {})
            spec.pop("standardize", None)
            if value == "none":
                spec.pop("scale", None)
            else:
                spec["scale"] = value
            return edits.set_setting(data, "dataset", spec)

        self.document.edit(f"Scale inputs: {value}", fn)

    def _on_test_split(self, value: Any) -> None:
        value = None if not value else value
        self._set_setting("dataset.test_split", value, "Change the test split")

    # ================================================================== loading
    def _on_document_changed(self) -> None:
        key = load_key(self.project_spec, self.base_dir)
        if key != self._project_key:
            self._project_key = key
            if self.pending is not None:
                # The project's data changed elsewhere (undo, the Inspector): that is newer
                # than the choice still pending, which must not overwrite it.
                if self.loader.current is not None and self.loader.current.purpose == "propose":
                    self.loader.cancel()
                self._drop_pending()
        self.refresh()

    def _on_document_replaced(self) -> None:
        if self.loader.current is not None:
            self.loader.cancel()
        self._drop_pending()
        self.project_result = None
        self.dataset = None
        self.image_shape = None
        self._loaded_key = None
        self.refresh()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if not self._split_done:
            self._split_done = True
            QTimer.singleShot(0, self, self.fit_splitter)
        # On the next turn of the event loop: a dock shown with its window may be tabbed
        # behind another one in the same turn (then nothing needs loading yet).
        QTimer.singleShot(0, self, self._sync_load)

    def _sync_load(self, force: bool = False) -> None:
        """Load the project's data when it is not loaded (and the panel is visible)."""
        if not (force or (self.auto_load and self.exposed())):
            return
        spec, base = self.project_spec, self.base_dir
        key = load_key(spec, base)
        if key == self._loaded_key:
            return
        current = self.loader.current
        if current is not None:
            if current.key == key and current.purpose == "project":
                return
            if (
                current.purpose == "propose"
                and self.pending is not None
                and load_key(self.pending, base) == current.key
            ):
                return  # the choice finishes first; the project's data is loaded after
        self.loader.request(spec, base, "project")

    def fit_splitter(self, share: float = 0.6) -> None:
        """Give the controls the height they need (at most ``share`` of the panel), the
        previews the rest."""
        total = max(self.splitter.height(), 1)
        top = min(self.controls.sizeHint().height() + 4, int(total * share))
        self.splitter.setSizes([top, max(total - top, 1)])

    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self._user_split = True

    def exposed(self) -> bool:
        """Whether the panel can be seen (a dock tabbed behind another one stays "visible"
        to Qt, but shows nothing)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def ensure_loaded(self) -> None:
        """Load the project's data now even when the panel is hidden."""
        self._sync_load(force=True)

    def _on_busy(self, busy: bool) -> None:
        self.busy_row.setVisible(busy)
        current = self.loader.current
        if busy and current is not None:
            spec = current.spec
            if "path" in spec:
                name = Path(str(spec["path"])).name
                try:
                    size = _size_text(resolve_path(spec["path"], self.base_dir).stat().st_size)
                except OSError:
                    size = ""
                self.busy_label.setText(f"Loading {name}" + (f" ({size})…" if size else "…"))
            else:
                self.busy_label.setText(f"Loading {spec.get('name', 'the data')}…")

    def _on_loaded(self, result: LoadResult) -> None:
        request = result.request
        base = self.base_dir
        if request.purpose == "propose":
            if self.pending is None or load_key(self.pending, base) != request.key:
                self._sync_load()
                return
            if result.ok:
                text = self.pending_text
                self._drop_pending()
                self._accept(result)
                self._commit(request.spec, text)
                self.status_message.emit(
                    f"Loaded {result.dataset.name} in {result.seconds:.2g} s"
                    if result.seconds >= 0.5
                    else f"Loaded {result.dataset.name}"
                )
            else:
                self.pending_result = result
                self.status_message.emit("The data could not be loaded: see the Dataset panel")
            self.refresh()
            return
        if request.key != load_key(self.project_spec, base):
            self._sync_load()
            return
        self._accept(result)
        self.refresh()

    def _accept(self, result: LoadResult) -> None:
        """``result`` is now the project's data (or its failure)."""
        self.project_result = result
        self._loaded_key = result.request.key
        if result.ok:
            self.dataset = result.dataset
            self.image_shape = result.image_shape
            self._new_data()
            self.dataset_loaded.emit()
        else:
            self.dataset = None
            self.image_shape = None
            self._new_data()

    def _new_data(self) -> None:
        ds = self.dataset
        signature = None
        if ds is not None:
            signature = (tuple(ds.feature_names or []), ds.feature_shape, self.image_shape)
        if signature != self._data_signature:
            self._data_signature = signature
            d = int(np.prod(ds.feature_shape)) if ds is not None and ds.feature_shape else 0
            self._set_projection(default_choice(d, images=self.image_shape is not None))
        self._scatter_dirty = True

    # ================================================================== display
    def refresh(self) -> None:
        """Show the document's state (and the pending choice); load what is missing."""
        self._sync_source()
        self._sync_preparation()
        self._sync_offer()
        self._sync_status()
        self._sync_previews()
        self._sync_load()

    def _sync_source(self) -> None:
        spec = self.shown_spec()
        fmt = self._shown_format()
        builtin = "name" in spec
        if builtin:
            self.source_field.show_value(spec.get("name"))
        else:
            name = Path(str(spec.get("path", ""))).name or "(no file)"
            self.source_field.show_value(_FILE, f"File: {name}")
        info = BUILTIN_DATASETS.get(spec.get("name")) if builtin else None
        if info is not None:
            source = "" if info.source in info.description else f" <i>({info.source})</i>"
            self.description.setText(_escape(info.description) + source)
        elif builtin:
            self.description.setText(f"Unknown built-in set {spec.get('name')!r}")
        else:
            self.description.setText(self._file_description(spec, fmt))
        self._sync_params(info, spec)
        self.params_host.setVisible(info is not None and bool(info.params))
        kind = (builtin, fmt, info.name if info is not None else None)
        if kind != self._controls_kind:
            self._controls_kind = kind
            if self._split_done and not self._user_split:
                QTimer.singleShot(0, self, self.fit_splitter)  # other controls, other height
        file = not builtin
        for widget in (self.path_label, self.path_row, self.task_label, self.task_field.widget):
            widget.setVisible(file)
        if file and not self.path_edit.hasFocus():
            self.path_edit.setText(str(spec.get("path", "")))
            self.path_edit.setCursorPosition(0)
            where = resolve_path(str(spec.get("path", "")), self.base_dir)
            self.path_edit.setToolTip(
                f"{where}\nStored relative to the project's folder when it can be"
            )
        self.table_host.setVisible(file and fmt == "csv")
        if file and fmt == "csv":
            self._sync_table_options(spec)
        if file:
            detected = None
            result = self._shown_result()
            if result is not None and result.dataset is not None:
                detected = result.dataset.task
            elif self.preview is not None:
                detected = self.preview.suggested_task
            auto = f"Auto ({detected})" if detected else "Auto"
            choices = [(auto, None), ("Classification", "classification")]
            choices.append(("Regression", "regression"))
            self.task_field.set_choices(choices)
            self.task_field.show_value(spec.get("task"))

    def _file_description(self, spec: dict[str, Any], fmt: str) -> str:
        parts = [FORMAT_NAMES.get(fmt, fmt).capitalize()]
        preview = self.preview
        if fmt == "csv" and preview is not None:
            if preview.n_rows is not None:
                parts.append(f"{preview.n_rows} rows")
            parts.append(DELIMITER_NAMES.get(preview.delimiter, repr(preview.delimiter)))
            parts.append(
                preview.encoding.upper() if preview.encoding == "utf-8" else preview.encoding
            )
        result = self._shown_result()
        if result is not None and result.size:
            parts.append(_size_text(result.size))
        return " · ".join(parts)

    def _sync_params(self, info, spec: dict[str, Any]) -> None:
        signature = info.name if info is not None else None
        if signature != self._param_signature:
            self._param_signature = signature
            while self.params_form.rowCount():
                self.params_form.removeRow(0)
            self.param_fields = {}
            for key, p in info.params.items() if info is not None else ():

                def commit(value: Any, key: str = key) -> None:
                    self._on_param(key, value)

                if p.kind is int:
                    field = IntField(f"dataset.{key}", commit, p.minimum, p.maximum)
                else:
                    step = 0.01 if p.maximum <= 1 else 0.1
                    field = FloatField(f"dataset.{key}", commit, p.minimum, p.maximum, step)
                field.add_reset(lambda c=commit: c(None), f"Reset to the default ({p.default!r})")
                field.editor.setToolTip(f"{p.description}\nDefault: {p.default!r}")
                self._guard(field.editor)
                self.param_fields[key] = field
                self.params_form.addRow(key.replace("_", " "), field.widget)
        for key, field in self.param_fields.items():
            p = info.params[key]
            field.show_value(spec.get(key, p.default))
            field.set_overridden(key in spec)

    def _sync_table_options(self, spec: dict[str, Any]) -> None:
        preview = self.preview
        width = self.table_width()
        columns = preview.columns[:width] if preview is not None else []
        kinds = preview.kinds[:width] if preview is not None else []
        signature = (tuple(columns), tuple(kinds))
        if signature != self._columns_signature:
            self._columns_signature = signature
            choices = []
            for j, name in enumerate(columns):
                kind = kinds[j] if j < len(kinds) else ""
                choices.append((f"{name}  ({kind})" if kind else name, j))
            self.target_field.set_choices(choices)
            self.features_list.blockSignals(True)
            self.features_list.clear()
            for j, name in enumerate(columns):
                kind = kinds[j] if j < len(kinds) else ""
                item = QListWidgetItem(f"{name}  ({kind})" if kind and kind != "numeric" else name)
                item.setData(Qt.ItemDataRole.UserRole, j)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.features_list.addItem(item)
            self.features_list.blockSignals(False)
        targets = self.target_columns()
        rows = min(max(len(columns) - len(targets), 1), 6)
        self.features_list.setFixedHeight(rows * max(self.features_list.sizeHintForRow(0), 16) + 6)
        self.target_field.show_value(targets[0] if targets else None)
        features = set(self.feature_columns())
        self.features_list.blockSignals(True)
        for i in range(self.features_list.count()):
            item = self.features_list.item(i)
            j = int(item.data(Qt.ItemDataRole.UserRole))
            is_target = j in targets
            state = Qt.CheckState.Checked if j in features else Qt.CheckState.Unchecked
            if item.checkState() != state:
                item.setCheckState(state)
            item.setHidden(is_target)
        self.features_list.blockSignals(False)

        def auto(label: str, detected: Any) -> str:
            return f"{label} ({detected})" if detected is not None else label

        delim = preview.delimiter if preview is not None else None
        self.delimiter_field.set_choices(
            [(auto("Auto", DELIMITER_NAMES.get(delim, delim)), None)]
            + [(name, d) for d, name in DELIMITER_NAMES.items()]
        )
        self.delimiter_field.show_value(spec.get("delimiter"))
        header = None if preview is None else ("header" if preview.header else "no header")
        self.header_field.set_choices(
            [(auto("Auto", header), None), ("Header", True), ("No header", False)]
        )
        self.header_field.show_value(spec.get("header"))
        encoding = preview.encoding if preview is not None else None
        self.encoding_field.set_choices(
            [(auto("Auto", encoding), None)] + [(e, e) for e in ("utf-8", "latin-1", "cp1252")]
        )
        self.encoding_field.show_value(spec.get("encoding"))

    def _sync_preparation(self) -> None:
        spec = self.project_spec
        fit = self.document.data.get("fit") or {}
        self.scale_field.show_value(scale_of(spec))
        self.validation_field.show_value(fit.get("validation_split", 0.0))
        self.test_field.show_value(spec.get("test_split", 0.0))
        self.seed_field.show_value(fit.get("seed", 0))
        ds = self.dataset if self.data_ready else None
        own_test = None if ds is None or ds.x_test is None else len(ds.x_test)
        test_split = spec.get("test_split", 0.0) or 0.0
        self.test_field.editor.setEnabled(own_test is None or bool(test_split))
        if ds is None:
            self.split_label.setText("")
            self.labels_label.setText("")
            return
        val = fit.get("validation_split", 0.0)
        val = float(val) if isinstance(val, (int, float)) else 0.0
        if own_test is not None and test_split:
            self.split_label.setText(
                f"<span style='color:{error_color(self)}'>This data has its own test set "
                f"({own_test} samples): set the test split to 0.</span>"
            )
        else:
            ts = float(test_split) if isinstance(test_split, (int, float)) else 0.0
            train, valid, test = split_counts(ds.n_samples, val, ts, own_test)
            own = " (the data's own)" if own_test is not None else ""
            self.split_label.setText(
                f"Training {train} · validation {valid} · test {test}{own} samples"
            )
        self.labels_label.setText(self._labels_text(ds))

    def _labels_text(self, ds: Dataset) -> str:
        from engine.backends.numpy.losses import canonical_loss
        from engine.validate import optimizer_class

        project = self.document.project
        if ds.task != "classification":
            return "Targets: the numbers as they are (regression)."
        k = ds.n_classes or 0
        if optimizer_class(project) == "Perceptron":
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

    def _sync_status(self) -> None:
        error = self.error
        if self.pending is not None and self.pending_result is not None and error:
            self.error_box.setVisible(True)
            self.error_label.setText(error)
            ds = self.dataset
            keeps = ds.name if ds is not None else "its previous data"
            self.error_keep.setText(f"Not used: the project keeps {keeps}.")
            self.error_keep.setVisible(True)
            self.discard_button.setVisible(True)
        elif error and not self.offer_shown:  # the offer says what is missing, and more
            self.error_box.setVisible(True)
            self.error_label.setText(error)
            self.error_keep.setVisible(False)
            self.discard_button.setVisible(False)
        else:
            self.error_box.setVisible(False)
            self.error_label.setText("")
        self.error_label.setStyleSheet(f"color: {error_color(self)};")

        ds = self.dataset
        if ds is not None:
            self.shape_label.setText(self._shape_text(ds))
            notes = list(ds.notes)
            result = self.project_result
            if result is not None and result.preview is not None:
                notes = [n for n in result.preview.notes if n not in notes] + notes
            self.notes_label.setText("<br>".join(_escape(n) for n in notes))
            self.notes_label.setVisible(bool(notes))
        else:
            loading = self.loader.current is not None
            self.shape_label.setText("<i>Loading…</i>" if loading else "")
            self.notes_label.setVisible(False)
        self._sync_match()

    def _shape_text(self, ds: Dataset) -> str:
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
        return f"<b>{_escape(title)}</b>: {ds.n_samples}{test} samples × {what} · {task}"

    def _sync_match(self) -> None:
        doc = self.document
        ds = self.dataset if self.data_ready else None
        button = self.match_button
        if ds is None:
            button.setEnabled(False)
            button.setToolTip("Load the data first")
            self.plan_label.setText("")
            self.fit_label.setText("")
            return
        try:
            matched = match_network_to_data(doc.data, ds)
        except ValueError as exc:
            button.setEnabled(False)
            self.plan_label.setText("")
            self.fit_label.setText(str(exc))
            return
        out = output_layer_name(matched)
        layer = edits.find_layer(matched, out) if out is not None else None
        cfg = (layer or {}).get("config", {})
        loss = matched.get("compile", {}).get("loss")
        shape = ", ".join(str(s) for s in matched["model"]["input_shape"])
        plan = f"input ({shape},) · Dense({cfg.get('units')}, {cfg.get('activation')})"
        if loss:
            plan += f" · {loss}"
        already = edits_equal(matched, doc.data)
        button.setEnabled(not already)
        button.setToolTip(
            "The network matches the data"
            if already
            else f"Set the input shape, the output layer and the loss: {plan}"
        )
        # A break opportunity after each "_": "sparse_categorical_crossentropy" is one word
        # wider than a narrow dock, which would be cut at its right edge.
        wrapped = _escape(plan).replace("_", "_\u200b")
        self.plan_label.setText(("Matches: " if already else "Sets ") + wrapped)
        dark = self.palette().color(self.backgroundRole()).lightness() < 128
        if already:
            self.fit_label.setText("✓ The network fits this data.")
            self.fit_label.setStyleSheet(f"color: {OK_COLORS[dark]};")
            return
        problems = []
        if doc.graph is not None:
            from engine.validate import data_fit_problems

            problems = data_fit_problems(doc.project, doc.graph, ds)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.fit_label.setText(f"✗ The network does not fit: {problems[0].message}{more}")
            self.fit_label.setStyleSheet(f"color: {error_color(self)};")
        elif doc.graph is None:
            self.fit_label.setText("")
        else:
            self.fit_label.setText("The network can train on this data as it is.")
            self.fit_label.setStyleSheet("color: palette(placeholder-text);")

    def _sync_previews(self) -> None:
        ds = self.dataset
        # Table: the shown choice's rows (a failing file's, with the bad cell), else the data.
        result = self._shown_result()
        preview = result.preview if result is not None else None
        if preview is not None:
            bad = None
            if result.error and (result.error_row is not None or result.error_column is not None):
                bad = (result.error_row, result.error_column)
            targets = self.target_columns()
            features = self.feature_columns()
            tips = []
            for j in range(len(preview.columns)):
                kind = preview.kinds[j] if j < len(preview.kinds) else ""
                parts = [kind] if kind else []
                if j < len(preview.n_distinct):
                    parts.append(f"{preview.n_distinct[j]} distinct values")
                if j < len(preview.bad_cells) and preview.bad_cells[j]:
                    parts.append(f"{preview.bad_cells[j]} cells that are not numbers")
                tips.append(" · ".join(parts))
            self.table_view.show_rows(
                preview.columns,
                preview.rows,
                preview.row_numbers,
                kinds=preview.kinds,
                targets=targets,
                features=features,
                bad=bad,
                message=result.error,
                header_tips=tips,
            )
        elif ds is not None:
            self.table_view.show_arrays(
                ds.x, ds.y, ds.feature_names, ds.target_names, ds.class_names
            )
        else:
            self.table_view.show_nothing()

        # Class balance (or the target's histogram).
        if ds is None:
            self.balance_view.clear_data()
        elif ds.task == "classification":
            counts = class_balance(ds)
            self.balance_view.set_classes([n for n, _ in counts], [c for _, c in counts])
        else:
            name = (ds.target_names or ["target"])[0]
            self.balance_view.set_values(np.asarray(ds.y)[:, 0], name)
        classes = ds is None or ds.task == "classification"
        self.tabs.setTabText(1, "Class balance" if classes else "Target")

        # Images.
        images = self.tabs.indexOf(self.image_view)
        if ds is not None and self.image_shape is not None:
            self.image_view.set_samples(ds.x, ds.y, self.image_shape, ds.class_names)
            self.tabs.setTabEnabled(images, True)
            self.tabs.setTabToolTip(images, "")
        else:
            self.image_view.clear_data("Not image data")
            self.tabs.setTabEnabled(images, False)
            self.tabs.setTabToolTip(images, "For image data (digits, MNIST, IDX, image folders)")
        self._sync_scatter_controls()
        if self._scatter_dirty and self.tabs.currentWidget() is self.scatter_tab:
            self.update_scatter()

    # ------------------------------------------------------------------ scatter
    def _feature_names(self) -> list[str]:
        ds = self.dataset
        if ds is None:
            return []
        d = int(np.prod(ds.feature_shape)) if ds.feature_shape else 1
        names = list(ds.feature_names or [])
        return [names[j] if j < len(names) else f"x{j}" for j in range(d)]

    def _sync_scatter_controls(self) -> None:
        self.plane_picker.set_features(self._feature_names())
        self.plane_picker.show_choice(self.projection_choice)

    def set_projection(self, choice: dict[str, Any]) -> None:
        """Choose the plane: ``{"kind": "features", "features": [i, j]}`` or
        ``{"kind": "pca"}``."""
        if self._set_projection(choice):
            self._sync_scatter_controls()
            self.update_scatter()

    def _set_projection(self, choice: dict[str, Any]) -> bool:
        choice = Projection.from_choice(choice).choice()  # checks and normalises it
        if choice == self.projection_choice:
            return False
        self.projection_choice = choice
        self._scatter_dirty = True
        self.projection_changed.emit(dict(choice))
        return True

    def projection(self) -> Projection:
        """An unfitted :class:`Projection` for the chosen plane."""
        return Projection.from_choice(self.projection_choice)

    def update_scatter(self) -> None:
        """Draw the data on the chosen plane (a seeded subset of large data)."""
        self._scatter_dirty = False
        ds = self.dataset
        names = self._feature_names()
        if ds is None or len(names) < 2:
            self.scatter_view.clear_data()
            if ds is not None:
                self.scatter_view.caption.setText("A scatter needs at least two features")
            return
        n = ds.n_samples
        seed = int((self.document.data.get("fit") or {}).get("seed", 0) or 0)
        if n > MAX_SCATTER_POINTS:
            idx = np.sort(np.random.default_rng(seed).choice(n, MAX_SCATTER_POINTS, replace=False))
        else:
            idx = np.arange(n)
        x = np.asarray(ds.x[idx], dtype=np.float64).reshape(len(idx), -1)
        choice = self.projection_choice
        if choice.get("kind") == "features" and max(choice["features"]) >= x.shape[1]:
            choice = {"kind": "features", "features": [0, 1]}
            self._set_projection(choice)
        try:
            proj = Projection.from_choice(choice).fit(x)
        except ValueError as exc:
            self.scatter_view.clear_data()
            self.scatter_view.caption.setText(str(exc))
            return
        y = np.asarray(ds.y[idx])
        regression = ds.task != "classification"
        labels = y.reshape(len(y), -1)[:, 0] if regression else y
        self.scatter_view.set_points(
            proj.to_plane(x),
            labels,
            proj.axis_labels(names),
            ds.class_names,
            regression=regression,
        )

    def _on_tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.scatter_tab and self._scatter_dirty:
            self.update_scatter()

    # ================================================================== lifetime
    def shutdown(self) -> None:
        """End the loading thread (waits for a load in progress) and a download."""
        self.downloader.shutdown()
        self.loader.shutdown()


def edits_equal(a: dict, b: dict) -> bool:
    from designer.document import spec_text

    return spec_text(a) == spec_text(b)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def cached_folder_text() -> str:
    """The Keras datasets folder, with the home folder written ``~``."""
    from engine.data.builtin import keras_datasets_dirs

    folder = str(keras_datasets_dirs()[0])
    home = str(Path.home())
    return "~" + folder[len(home) :] if folder.startswith(home + "/") else folder


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
