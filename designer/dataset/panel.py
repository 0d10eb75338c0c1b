"""The Dataset panel: choose the data, see it, prepare it, and fit the network to it.

- **Source** (:mod:`designer.dataset.source_form`): a built-in set (its parameters generated
  from its :class:`~engine.data.ParamInfo` table) or a file or folder. For a table: the target
  column, the feature columns, and the reading options (delimiter, header, encoding) when the
  sniffed ones are wrong; for every file: the task (classification or regression).
- **Preview** (tabs): the first rows as a table, the class balance as bars, a scatter of two
  chosen features (or the first two principal components) coloured by class, and a grid of
  sample images for image data.
- **Preparation** (:mod:`designer.dataset.preparation_form`): input scaling (fitted on the
  training split only), the validation and test splits (stratified, seeded). Labels are
  encoded for the loss automatically; the panel says how.
- **Match network to data**: one click, one undo step.
- The **download offer** (:mod:`designer.dataset.offer_form`) while the project's data must be
  downloaded first.

What the panel knows lives in a Qt-free :class:`~designer.dataset.state.DatasetState`; this
module wires it to the widgets, the loader and the document.

Every change is an edit of the document (one undo step; spin boxes merge). Built-in sets go
into the project at once. A file (or a change of how a file is read) goes in only once it has
loaded: until then it is *pending*; a pending choice that fails shows the message (file, row,
column, the bad values) with the bad cell highlighted in the table, and the project keeps its
previous data, which the plots keep showing. Loading runs in a background thread
(:class:`~designer.dataset.load_thread.DatasetLoader`); a newer choice supersedes an older one.

The project's own data is loaded when the panel is visible (or a choice is made), so a hidden
panel costs nothing at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
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
from designer.dataset.load_job import LoadResult
from designer.dataset.load_thread import DatasetLoader
from designer.dataset.offer_form import DownloadOffer
from designer.dataset.preparation_form import PreparationForm
from designer.dataset.source_form import SourceForm, hint
from designer.dataset.state import (
    DatasetState,
    dataset_edit,
    digits_edit,
    escape,
    size_text,
)
from designer.dataset.views import (
    MAX_SCATTER_POINTS,
    ClassBalanceView,
    ImageGridView,
    ScatterView,
    TablePreviewView,
)
from designer.panels.fields import WheelGuard, error_color
from designer.plots.plane import PlanePicker
from engine import edits
from engine.data import Dataset, TablePreview, class_balance
from engine.data.download import KERAS_DOWNLOADS, cached_file
from engine.data.files import resolve_path
from engine.data.match import match_network_to_data
from engine.data.projection import Projection

DATA_FILTER = (
    "Data files (*.csv *.tsv *.tab *.txt *.dat *.data *.npz *.npy *.gz *-ubyte *.idx*);;"
    "All files (*)"
)
OK_COLORS = ("#15803d", "#4ade80")

#: Widgets of the forms that the panel offers as its own attributes (tests and screenshots
#: reach them as ``panel.source_field``...).
_SOURCE_WIDGETS = (
    "source_field",
    "description",
    "params_host",
    "params_form",
    "path_row",
    "path_edit",
    "browse_button",
    "reload_button",
    "path_label",
    "table_host",
    "target_field",
    "features_list",
    "weight_field",
    "delimiter_field",
    "header_field",
    "encoding_field",
    "task_field",
    "task_label",
)
_PREPARATION_WIDGETS = (
    "scale_field",
    "validation_field",
    "test_field",
    "seed_field",
    "split_label",
    "labels_label",
)
_OFFER_WIDGETS = (
    "offer_label",
    "download_button",
    "digits_button",
    "download_row",
    "download_bar",
    "cancel_download_button",
    "download_label",
    "offer_message",
)


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
    state : DatasetState
        What the panel knows; :attr:`dataset`, :attr:`image_shape`, :attr:`pending`,
        :attr:`error`, :attr:`projection_choice`... are read from it.
    """

    dataset_loaded = Signal()
    projection_changed = Signal(dict)
    status_message = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataset_panel")
        self.document = document
        self.state = DatasetState(lambda: self.document.project)
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
        #: Load the project's data whenever the panel is visible (a window turns this on
        #: once its docks are placed).
        self.auto_load = True
        self._split_done = False
        self._user_split = False
        self._controls_kind: object = None
        self._wheel_guard = WheelGuard(self)
        self._build()
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        self.refresh()

    # ================================================================== construction
    def guard(self, widget: QWidget) -> None:
        """Keep the mouse wheel from changing ``widget`` unless it has focus."""
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

        self.source_form = SourceForm(self)
        self.controls.addWidget(self.source_form)
        self.offer_box = DownloadOffer(self)
        self.controls.addWidget(self.offer_box)
        self._build_status()
        self._build_match()
        self.preparation_form = PreparationForm(self)
        self.controls.addWidget(self.preparation_form)
        self.controls.addStretch(1)
        for form, names in (
            (self.source_form, _SOURCE_WIDGETS),
            (self.preparation_form, _PREPARATION_WIDGETS),
            (self.offer_box, _OFFER_WIDGETS),
        ):
            for name in names:
                setattr(self, name, getattr(form, name))

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
        self.notes_label = hint()
        self.notes_label.setObjectName("dataset_notes")
        self.controls.addWidget(self.shape_label)
        self.controls.addWidget(self.notes_label)

    def _build_match(self) -> None:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.match_button = QPushButton("Match network to data")
        self.match_button.setObjectName("match_network_button")
        self.match_button.clicked.connect(self.match_network)
        self.plan_label = hint()
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
    def param_fields(self) -> dict[str, Any]:
        """The built-in set's parameter fields by key."""
        return self.source_form.param_fields

    @property
    def base_dir(self) -> Path | None:
        return self.state.base_dir

    @property
    def project_spec(self) -> dict[str, Any]:
        return self.state.project_spec

    def shown_spec(self) -> dict[str, Any]:
        """The spec the source controls show: the pending choice, else the project's."""
        return self.state.shown_spec()

    @property
    def dataset(self) -> Dataset | None:
        """The project's data as last loaded (the last good data while a pending choice
        fails)."""
        return self.state.dataset

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """One sample as an image, when the data are images."""
        return self.state.image_shape

    @property
    def project_result(self) -> LoadResult | None:
        return self.state.project_result

    @property
    def pending(self) -> dict[str, Any] | None:
        """A file choice that is not in the project yet (loading, or failed)."""
        return self.state.pending

    @property
    def pending_text(self) -> str:
        return self.state.pending_text

    @property
    def pending_result(self) -> LoadResult | None:
        return self.state.pending_result

    @property
    def projection_choice(self) -> dict[str, Any]:
        """See ``projection_changed``."""
        return self.state.projection_choice

    @property
    def preview(self) -> TablePreview | None:
        return self.state.preview

    @property
    def error(self) -> str:
        """The message shown ('' when none)."""
        return self.state.error

    @property
    def data_ready(self) -> bool:
        """The project's data is loaded for its current spec."""
        return self.state.data_ready

    def table_width(self) -> int:
        return self.state.table_width()

    def target_columns(self) -> list[int]:
        return self.state.target_columns()

    def auto_features(self, targets: list[int]) -> list[int]:
        return self.state.auto_features(targets)

    def feature_columns(self) -> list[int]:
        return self.state.feature_columns()

    # ================================================================== edits
    def commit_spec(self, spec: dict[str, Any], text: str, merge_key: object = None) -> bool:
        """Write a dataset spec into the project, keeping its preparation keys."""
        return self.document.edit(text, dataset_edit(spec), merge_key)

    def set_setting(self, path: str, value: Any, text: str) -> None:
        self.document.edit(
            text, lambda d: edits.set_setting(d, path, value), merge_key=("dataset-panel", path)
        )

    def propose(self, spec: dict[str, Any], text: str) -> None:
        """Use ``spec`` as the dataset: a built-in set goes into the project at once; a file
        only once it has loaded (until then it is pending; a failure keeps the project's
        data and shows why)."""
        core = self.state.choose(spec, text)
        if "name" in core:
            self.commit_spec(core, text)
        else:
            self.loader.request(core, self.base_dir, "propose")
        self.refresh()

    def open_path(self, path: str | Path) -> None:
        """Use a data file or folder (stored relative to the project's folder when it can)."""
        self.propose(*self.state.path_choice(path))

    def discard_pending(self) -> None:
        """Forget the pending choice; the controls show the project's data again."""
        if self.pending is not None and self.loader.current is not None:
            if self.loader.current.purpose == "propose":
                self.loader.cancel()
        self.state.drop_pending()
        self.refresh()

    def cancel(self) -> None:
        """Stop waiting for the load in progress (a pending choice is dropped)."""
        current = self.loader.current
        self.loader.cancel()
        self.state.cancelled(current)  # the project's data: ↻ loads it again, not this
        self.refresh()

    def reload(self) -> None:
        """Read the data again (the file may have changed)."""
        self.state.forget_formats()
        if self.pending is not None:
            self.propose(self.pending, self.pending_text)
            return
        self.state.loaded_key = None
        self._sync_load(force=True)

    def set_target(self, column: int | str) -> None:
        """Predict ``column`` (an index or a column name) of the table."""
        change = self.state.target_change(column)
        if change is not None:
            self.propose(self.state.table_spec(change[0]), change[1])

    def set_features(self, columns: list[int]) -> None:
        """Use these columns (indices) as the features; the default set clears the key."""
        change = self.state.features_change(columns)
        self.propose(self.state.table_spec(change), "Choose the features")

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
        self.offer_box.starting(name)
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
        changed = self.document.edit("Use the built-in 8×8 digits instead", digits_edit())
        if changed:
            self.download_message = ""
            self.status_message.emit(
                "The dataset is now scikit-learn's 8×8 digits; the input shape is 64"
            )
        self.refresh()
        return changed

    def _on_download_progress(self, done: int, total: int) -> None:
        self.offer_box.show_progress(done, total)

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

    # ------------------------------------------------------------------ file dialogs
    def ask_data_file(self) -> str:
        """The file dialog (tests replace it); '' when cancelled."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open data file", self.state.start_folder(), DATA_FILTER
        )
        return path

    def ask_image_folder(self) -> str:
        return QFileDialog.getExistingDirectory(
            self, "Open image folder", self.state.start_folder()
        )

    def choose_file(self) -> None:
        path = self.ask_data_file()
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = self.ask_image_folder()
        if path:
            self.open_path(path)

    # ================================================================== loading
    def _on_document_changed(self) -> None:
        if self.state.project_changed():
            # The project's data changed elsewhere (undo, the Inspector): that is newer than
            # the choice that was pending, whose load must not overwrite it.
            if self.loader.current is not None and self.loader.current.purpose == "propose":
                self.loader.cancel()
        self.refresh()

    def _on_document_replaced(self) -> None:
        if self.loader.current is not None:
            self.loader.cancel()
        self.state.project_replaced()
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
        if self.state.project_load_wanted(self.loader.current):
            self.loader.request(self.project_spec, self.base_dir, "project")

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
                    size = size_text(resolve_path(spec["path"], self.base_dir).stat().st_size)
                except OSError:
                    size = ""
                self.busy_label.setText(f"Loading {name}" + (f" ({size})…" if size else "…"))
            else:
                self.busy_label.setText(f"Loading {spec.get('name', 'the data')}…")

    def _on_loaded(self, result: LoadResult) -> None:
        outcome = self.state.loaded(result)
        if outcome.outcome == "stale":
            self._sync_load()
            return
        if outcome.new_plane is not None:
            self._set_projection(outcome.new_plane)
        if outcome.outcome in ("chosen", "project") and result.ok:
            self.dataset_loaded.emit()
        if outcome.outcome == "chosen":
            self.commit_spec(outcome.spec, outcome.text)
            self.status_message.emit(
                f"Loaded {result.dataset.name} in {result.seconds:.2g} s"
                if result.seconds >= 0.5
                else f"Loaded {result.dataset.name}"
            )
        elif outcome.outcome == "failed":
            self.status_message.emit("The data could not be loaded: see the Dataset panel")
        self.refresh()

    # ================================================================== display
    def refresh(self) -> None:
        """Show the document's state (and the pending choice); load what is missing."""
        kind = self.source_form.sync()
        if kind != self._controls_kind:
            self._controls_kind = kind
            if self._split_done and not self._user_split:
                QTimer.singleShot(0, self, self.fit_splitter)  # other controls, other height
        self.preparation_form.sync()
        name = self.download_name()
        self.offer_shown = name is not None
        self.offer_box.sync(
            name, self.downloader.busy, self.download_message, self._download_failed
        )
        self._sync_status()
        self._sync_previews()
        self._sync_load()

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

        if self.dataset is not None:
            self.shape_label.setText(self.state.shape_text())
            notes = self.state.notes()
            self.notes_label.setText("<br>".join(escape(n) for n in notes))
            self.notes_label.setVisible(bool(notes))
        else:
            loading = self.loader.current is not None
            self.shape_label.setText("<i>Loading…</i>" if loading else "")
            self.notes_label.setVisible(False)
        self._sync_match()

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
            matched, plan = self.state.match_plan()
        except ValueError as exc:
            button.setEnabled(False)
            self.plan_label.setText("")
            self.fit_label.setText(str(exc))
            return
        already = edits_equal(matched, doc.data)
        button.setEnabled(not already)
        button.setToolTip(
            "The network matches the data"
            if already
            else f"Set the input shape, the output layer and the loss: {plan}"
        )
        # A break opportunity after each "_": "sparse_categorical_crossentropy" is one word
        # wider than a narrow dock, which would be cut at its right edge.
        wrapped = escape(plan).replace("_", "_\u200b")
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
        else:
            from engine.validate import image_input_hint

            # A Conv2D on a flat input cannot be built: say which shape the images need.
            hint = image_input_hint(doc.project, ds)
            problems = [hint] if hint is not None else []
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
        result = self.state.shown_result()
        preview = result.preview if result is not None else None
        if preview is not None:
            bad = None
            if result.error and (result.error_row is not None or result.error_column is not None):
                bad = (result.error_row, result.error_column)
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
                targets=self.target_columns(),
                features=self.feature_columns(),
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
        if self.state.scatter_dirty and self.tabs.currentWidget() is self.scatter_tab:
            self.update_scatter()

    # ------------------------------------------------------------------ scatter
    def _sync_scatter_controls(self) -> None:
        self.plane_picker.set_features(self.state.feature_names())
        self.plane_picker.show_choice(self.projection_choice)

    def set_projection(self, choice: dict[str, Any]) -> None:
        """Choose the plane: ``{"kind": "features", "features": [i, j]}`` or
        ``{"kind": "pca"}``."""
        if self._set_projection(choice):
            self._sync_scatter_controls()
            self.update_scatter()

    def _set_projection(self, choice: dict[str, Any]) -> bool:
        if not self.state.set_projection(choice):
            return False
        self.projection_changed.emit(dict(self.projection_choice))
        return True

    def projection(self) -> Projection:
        """An unfitted :class:`Projection` for the chosen plane."""
        return Projection.from_choice(self.projection_choice)

    def update_scatter(self) -> None:
        """Draw the data on the chosen plane (a seeded subset of large data)."""
        self.state.scatter_dirty = False
        ds = self.dataset
        names = self.state.feature_names()
        if ds is None or len(names) < 2:
            self.scatter_view.clear_data()
            if ds is not None:
                self.scatter_view.caption.setText("A scatter needs at least two features")
            return
        idx = self.state.scatter_sample(MAX_SCATTER_POINTS)
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
        if self.tabs.currentWidget() is self.scatter_tab and self.state.scatter_dirty:
            self.update_scatter()

    # ================================================================== lifetime
    def shutdown(self) -> None:
        """End the loading thread (waits for a load in progress) and a download."""
        self.downloader.shutdown()
        self.loader.shutdown()


def edits_equal(a: dict, b: dict) -> bool:
    from designer.document import spec_text

    return spec_text(a) == spec_text(b)
