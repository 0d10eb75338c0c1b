"""The Dataset panel's "Data" form: the source (a built-in set with its parameters, or a file
or folder), and for a table the target column, the feature columns, the sample weights column
and how the file is read; for every file the task. It shows the panel's
:class:`~designer.dataset.state.DatasetState` and hands every gesture to the panel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QWidget,
)

from designer.dataset.state import DELIMITER_NAMES, escape
from designer.panels.fields import ChoiceField, FloatField, IntField
from engine.data import BUILTIN_DATASETS
from engine.data.files import resolve_path

if TYPE_CHECKING:
    from designer.dataset.panel import DatasetPanel

FILE = "\x00file"  # the source combo's value for the current file dataset
PICK_FILE = "\x00pick-file"
PICK_FOLDER = "\x00pick-folder"


def hint(text: str = "") -> QLabel:
    """A grey rich-text line under a control."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def group_form(box: QGroupBox) -> QFormLayout:
    """The form layout of one of the panel's groups."""
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    form.setContentsMargins(8, 6, 8, 6)
    form.setVerticalSpacing(4)
    return form


class SourceForm(QGroupBox):
    """The "Data" group of the Dataset panel (see the module docstring)."""

    def __init__(self, panel: DatasetPanel) -> None:
        super().__init__("Data")
        self.panel = panel
        self.state = panel.state
        form = self.source_form = group_form(self)
        choices = [(name, name) for name in BUILTIN_DATASETS]
        choices += [("Data file…", PICK_FILE), ("Image folder…", PICK_FOLDER)]
        tips = {name: info.description for name, info in BUILTIN_DATASETS.items()}
        tips[PICK_FILE] = "A CSV/TSV table, a .npz or .npy file, or MNIST-style IDX images"
        tips[PICK_FOLDER] = "A folder with one subfolder of images per class"
        self.source_field = ChoiceField("dataset", self._on_source, choices, tips)
        panel.guard(self.source_field.combo)
        form.addRow("Source", self.source_field.widget)
        self.description = hint()
        form.addRow(self.description)

        self.params_host = QWidget()
        self.params_form = QFormLayout(self.params_host)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        self.params_form.setVerticalSpacing(2)
        self.params_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.params_host)
        self.param_fields: dict[str, Any] = {}
        self._param_signature: object = None
        self._columns_signature: object = None

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
        self.browse_button.clicked.connect(panel.choose_file)
        self.reload_button = QToolButton()
        self.reload_button.setText("↻")
        self.reload_button.setToolTip("Read the file again (after changing it elsewhere)")
        self.reload_button.clicked.connect(panel.reload)
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
        panel.guard(self.target_field.combo)
        tform.addRow("Target", self.target_field.widget)
        self.features_list = QListWidget()
        self.features_list.setObjectName("dataset_features")
        self.features_list.setSizeAdjustPolicy(QListWidget.SizeAdjustPolicy.AdjustToContents)
        self.features_list.itemChanged.connect(self._on_feature_toggled)
        tform.addRow("Features", self.features_list)
        self.weight_field = ChoiceField("dataset.sample_weight", self._on_weight, [])
        panel.guard(self.weight_field.combo)
        self.weight_field.widget.setToolTip(
            "A column of weights: each sample's loss counts that much (Keras' "
            "fit(sample_weight=...)); the validation loss too, not the metrics"
        )
        tform.addRow("Sample weights", self.weight_field.widget)
        self.delimiter_field = ChoiceField("dataset.delimiter", self._on_delimiter, [])
        self.header_field = ChoiceField("dataset.header", self._on_header, [])
        self.encoding_field = ChoiceField("dataset.encoding", self._on_encoding, [])
        for field in (self.delimiter_field, self.header_field, self.encoding_field):
            panel.guard(field.combo)
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
        panel.guard(self.task_field.combo)
        self.task_label = QLabel("Task")
        form.addRow(self.task_label, self.task_field.widget)

    # ------------------------------------------------------------------ gestures
    def _on_source(self, value: Any) -> None:
        panel = self.panel
        if value == PICK_FILE:
            panel.refresh()  # the combo shows the current source until a file is chosen
            panel.choose_file()
        elif value == PICK_FOLDER:
            panel.refresh()
            panel.choose_folder()
        elif isinstance(value, str) and value in BUILTIN_DATASETS:
            panel.propose({"name": value}, f"Use the {value} dataset")

    def _on_path_entered(self) -> None:
        choice = self.state.typed_path_choice(self.path_edit.text())
        if choice is not None:
            self.panel.propose(*choice)

    def _on_param(self, key: str, value: Any) -> None:
        edit = self.state.param_spec(key, value)
        if edit is not None:
            spec, text, merge_key = edit
            self.panel.commit_spec(spec, text, merge_key)

    def _table_edit(self, change: dict[str, Any], text: str, drop: tuple[str, ...] = ()) -> None:
        self.panel.propose(self.state.table_spec(change, drop), text)

    def _on_target(self, value: Any) -> None:
        if isinstance(value, int):
            self.panel.set_target(value)

    def _on_weight(self, value: Any) -> None:
        change, text = self.state.weight_change(value if isinstance(value, int) else None)
        self.panel.propose(self.state.table_spec(change), text)

    def _on_feature_toggled(self, _item: QListWidgetItem) -> None:
        checked = []
        for i in range(self.features_list.count()):
            item = self.features_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                checked.append(int(item.data(Qt.ItemDataRole.UserRole)))
        self.panel.set_features(checked)

    def _on_delimiter(self, value: Any) -> None:
        self._table_edit({"delimiter": value}, "Change the delimiter", ("target", "features"))

    def _on_header(self, value: Any) -> None:
        self._table_edit({"header": value}, "Change the header row", ("target", "features"))

    def _on_encoding(self, value: Any) -> None:
        self._table_edit({"encoding": value}, "Change the encoding")

    def _on_task(self, value: Any) -> None:
        self._table_edit({"task": value}, f"Treat the target as {value or 'detected'}")

    # ------------------------------------------------------------------ view
    def sync(self) -> tuple:
        """Show the shown spec; returns what decides which controls are there (their height
        changes with it)."""
        state = self.state
        spec = state.shown_spec()
        fmt = state.shown_format()
        builtin = "name" in spec
        if builtin:
            self.source_field.show_value(spec.get("name"))
        else:
            name = Path(str(spec.get("path", ""))).name or "(no file)"
            self.source_field.show_value(FILE, f"File: {name}")
        info = BUILTIN_DATASETS.get(spec.get("name")) if builtin else None
        if info is not None:
            source = "" if info.source in info.description else f" <i>({info.source})</i>"
            self.description.setText(escape(info.description) + source)
        elif builtin:
            self.description.setText(f"Unknown built-in set {spec.get('name')!r}")
        else:
            self.description.setText(state.file_description())
        self._sync_params(info, spec)
        self.params_host.setVisible(info is not None and bool(info.params))
        file = not builtin
        for widget in (self.path_label, self.path_row, self.task_label, self.task_field.widget):
            widget.setVisible(file)
        if file and not self.path_edit.hasFocus():
            self.path_edit.setText(str(spec.get("path", "")))
            self.path_edit.setCursorPosition(0)
            where = resolve_path(str(spec.get("path", "")), state.base_dir)
            self.path_edit.setToolTip(
                f"{where}\nStored relative to the project's folder when it can be"
            )
        self.table_host.setVisible(file and fmt == "csv")
        if file and fmt == "csv":
            self._sync_table_options(spec)
        if file:
            detected = state.detected_task()
            auto = f"Auto ({detected})" if detected else "Auto"
            choices = [(auto, None), ("Classification", "classification")]
            choices.append(("Regression", "regression"))
            self.task_field.set_choices(choices)
            self.task_field.show_value(spec.get("task"))
        return (builtin, fmt, info.name if info is not None else None)

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
                self.panel.guard(field.editor)
                self.param_fields[key] = field
                self.params_form.addRow(key.replace("_", " "), field.widget)
        for key, field in self.param_fields.items():
            p = info.params[key]
            field.show_value(spec.get(key, p.default))
            field.set_overridden(key in spec)

    def _sync_table_options(self, spec: dict[str, Any]) -> None:
        state = self.state
        preview = state.preview
        width = state.table_width()
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
            numeric = [(name, j) for name, j in choices if j < len(kinds) and kinds[j] == "numeric"]
            self.weight_field.set_choices([("None (every sample alike)", None), *numeric])
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
        targets = state.target_columns()
        rows = min(max(len(columns) - len(targets), 1), 6)
        self.features_list.setFixedHeight(rows * max(self.features_list.sizeHintForRow(0), 16) + 6)
        self.target_field.show_value(targets[0] if targets else None)
        weights = state.weight_column()
        self.weight_field.show_value(weights)
        features = set(state.feature_columns())
        self.features_list.blockSignals(True)
        for i in range(self.features_list.count()):
            item = self.features_list.item(i)
            j = int(item.data(Qt.ItemDataRole.UserRole))
            is_target = j in targets
            state_ = Qt.CheckState.Checked if j in features else Qt.CheckState.Unchecked
            if item.checkState() != state_:
                item.setCheckState(state_)
            item.setHidden(is_target or j == weights)
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
