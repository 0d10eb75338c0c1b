"""The inspector: the selected layer's settings, generated from its LayerType's params, or,
when nothing is selected, the project's compile, fit and dataset settings.

Every change is one ``Document.edit`` with ``merge_key=(layer, field)`` (or
``("settings", path)``), so that consecutive changes of one field are one undo step. On
``Document.changed`` the panel updates its editors in place when the set of fields is the same,
so the editor being typed in keeps its focus and cursor; it rebuilds only when the set changes
(another layer type, another optimizer class, another dataset).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from designer.plots.activation_plot import ActivationPlot

from designer.panels.fields import (
    BoolField,
    ChecklistField,
    ChoiceField,
    Field,
    FloatField,
    IntField,
    ReadOnlyField,
    TextField,
    WheelGuard,
    make_error_label,
    same_value,
)
from designer.panels.layer_icons import layer_pixmap
from engine import edits
from engine.activations import ACTIVATION_NAMES
from engine.backends.numpy.losses import LOSS_NAMES, METRIC_NAMES, canonical_loss, canonical_metric
from engine.backends.numpy.optimizers import OPTIMIZER_NAMES, resolve_optimizer
from engine.data import BUILTIN_DATASETS, SCALES, keep_common_keys, scale_of
from engine.errors import Problem
from engine.graph import BACKENDS, DTYPES, INPUT
from engine.initializers import INITIALIZER_NAMES
from engine.layers import LAYER_TYPES, Param, format_shape, snake_name

#: Values given to required params that a layer type change leaves unset.
STARTER_VALUES: dict[str, Any] = {"units": 32, "rate": 0.5, "activation": "relu"}
#: Params whose arrows step along 1-2-5 (0.001, 0.002, 0.005, 0.01...).
LOG_STEP_KEYS = frozenset({"learning_rate", "epsilon"})
CLIP_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")
_UNIT_STEPS = {"beta_1": 0.01, "beta_2": 0.001, "rho": 0.01, "momentum": 0.05}
#: Keras' compile() uses RMSprop when no optimizer is given.
DEFAULT_OPTIMIZER = "rmsprop"
_FILE = object()  # the dataset combo's value for a file dataset
_UNSET = object()  # the signature of rows not built yet


def _generic_optimizer_keys() -> frozenset[str]:
    """Config keys every Keras optimizer has (weight_decay, clipnorm, use_ema...)."""
    sets = [set(resolve_optimizer(n)[1]) for n in OPTIMIZER_NAMES if n != "Perceptron"]
    return frozenset(set.intersection(*sets) - {"learning_rate"})


_GENERIC_KEYS = _generic_optimizer_keys()


def optimizer_fields(class_name: str) -> list[tuple[str, Any]]:
    """The hyper-parameters the inspector shows for an optimizer, with Keras' defaults:
    learning_rate, the class's own arguments, then the gradient clipping ones."""
    defaults = resolve_optimizer(class_name)[1]
    own = [(k, v) for k, v in defaults.items() if k not in _GENERIC_KEYS and k != "name"]
    clips = [(k, defaults[k]) for k in CLIP_KEYS if k in defaults]
    return own + clips


def _guess_optimizer_class(spec: Any) -> str | None:
    name = (
        spec
        if isinstance(spec, str)
        else spec.get("class_name")
        if isinstance(spec, dict)
        else None
    )
    if not isinstance(name, str):
        return None
    return next((n for n in OPTIMIZER_NAMES if n.lower() == name.lower()), None)


def parse_shape(text: str) -> list[int]:
    """``"784"``, ``"28, 28"``, ``"(28, 28)"`` or ``"[28 28]"`` -> a list of positive ints."""
    body = text.strip().strip("()[]").strip()
    parts = [p for p in re.split(r"[,\sx×]+", body) if p]
    if not parts:
        raise ValueError("give the shape of one sample, like 784 or 28, 28")
    dims = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"{part!r} is not a positive integer; give a shape like 784 or 28, 28")
        dims.append(int(part))
    return dims


def _problem_text(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def _label(text: str, tooltip: str = "") -> QLabel:
    label = QLabel(text)
    if tooltip:
        label.setToolTip(tooltip)
    return label


def _hint_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    font = label.font()
    font.setPointSizeF(max(6.0, font.pointSizeF() * 0.92))
    label.setFont(font)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def _form_layout() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)
    return form


class ActivationField(ChoiceField):
    """The activation picker: a combo of Keras names and a live plot of ``f`` and ``f'`` that
    follows the item under the mouse while the list is open."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        # Imported here: pyqtgraph loads only when a layer with an activation is inspected.
        from designer.plots.activation_plot import ActivationPlot, activation_title

        super().__init__(
            key,
            on_commit,
            [(name, name) for name in ACTIVATION_NAMES],
            {name: activation_title(name) for name in ACTIVATION_NAMES},
        )
        self.plot = ActivationPlot()
        self.plot.setFixedHeight(150)
        self.plot.setMinimumWidth(160)
        self._outer.insertWidget(1, self.plot)
        self.combo.highlighted.connect(self._preview)
        self.combo.popup_hidden.connect(self._end_preview)

    def _preview(self, index: int) -> None:
        value = self.value_at(index)
        if isinstance(value, str):
            self.plot.set_activation(value)

    def _end_preview(self) -> None:
        value = self.value()
        self.plot.set_activation(value if value in ACTIVATION_NAMES else None)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        super().show_value(value, extra_text)
        if not self.combo.view().isVisible():
            self.plot.set_activation(value if value in ACTIVATION_NAMES else None)


class InitializerField(ChoiceField):
    """A combo of initializer names; a Keras dict spec is shown as its name plus its config,
    read-only (choosing a name replaces it)."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        super().__init__(key, on_commit, [(name, name) for name in INITIALIZER_NAMES])
        self.custom = _hint_label()
        self.custom.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.custom.setVisible(False)
        self._outer.insertWidget(1, self.custom)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        name = value
        if isinstance(value, dict):
            cls = value.get("class_name")
            name = snake_name(cls) if isinstance(cls, str) else None
            if isinstance(cls, str) and cls in INITIALIZER_NAMES:
                name = cls
            config = value.get("config") or {}
            text = f"custom: {cls}({', '.join(f'{k}={v!r}' for k, v in config.items())})"
            self.custom.setText(text)
            self.custom.setToolTip(json.dumps(value, indent=1))
            self.custom.setVisible(True)
        else:
            self.custom.setVisible(False)
            if isinstance(value, str) and value not in INITIALIZER_NAMES:
                snake = snake_name(value)
                name = snake if snake in INITIALIZER_NAMES else value
        super().show_value(name, extra_text)


class _Form(QWidget):
    """Base of the inspector's pages: fields by key, a red problems list at the top, and
    local (not yet in the project) errors such as a refused rename."""

    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__()
        self.panel = panel
        self.document = panel.document
        self.fields: dict[str, Field] = {}
        self.local_errors: dict[str, str] = {}
        self.main = QVBoxLayout(self)
        self.main.setContentsMargins(8, 8, 8, 8)
        self.main.setSpacing(8)
        self.problems_label = make_error_label(self)

    def add_field(self, form: QFormLayout, label: str, field: Field, tooltip: str = "") -> Field:
        self.fields[field.key] = field
        self.panel.guard(field.editor)
        form.addRow(_label(label, tooltip), field.widget)
        return field

    def show_problems(self, field_problems: dict[str, list[str]], top: list[str]) -> None:
        for key, field in self.fields.items():
            messages = list(field_problems.get(key, []))
            if key in self.local_errors:
                messages.insert(0, self.local_errors[key])
            field.show_errors(messages)
        text = "\n".join(f"• {t}" for t in top)
        if self.problems_label.text() != text:
            self.problems_label.setText(text)
        self.problems_label.setVisible(bool(top))

    def refresh(self) -> None:
        raise NotImplementedError


class _LayerForm(_Form):
    """One layer: name, class and every param of its type."""

    def __init__(self, panel: InspectorPanel, class_name: str, layer: str) -> None:
        super().__init__(panel)
        self.class_name = class_name
        self.layer = layer
        self.layer_type = LAYER_TYPES.get(class_name)

        header = QHBoxLayout()
        header.setSpacing(8)
        self.icon = QLabel()
        self.icon.setPixmap(layer_pixmap(class_name, 32, self.devicePixelRatioF()))
        header.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(1)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        titles.addWidget(self.title)
        self.info = _hint_label()
        titles.addWidget(self.info)
        header.addLayout(titles, 1)
        self.main.addLayout(header)
        if self.layer_type is not None:
            description = _hint_label(self.layer_type.description.replace("`", ""))
            self.main.addWidget(description)
        self.main.addWidget(self.problems_label)

        form = _form_layout()
        self.add_field(
            form,
            "name",
            TextField("name", self._rename, placeholder="layer name"),
            "Unique layer name, as in Keras (press Enter to rename).",
        )
        classes = ChoiceField(
            "class_name",
            self._set_class,
            [(name, name) for name in LAYER_TYPES],
            {name: t.description for name, t in LAYER_TYPES.items()},
        )
        self.add_field(
            form, "class", classes, "The layer type; keeps the settings both types have."
        )
        for param in self.layer_type.params if self.layer_type else ():
            if param.name == "name":
                continue
            field = self._make_field(param)
            tip = param.doc
            if not param.required:
                tip = (tip + "\n" if tip else "") + f"Default: {param.default!r}"
            else:
                tip = (tip + "\n" if tip else "") + "Required."
            self.add_field(form, param.name, field, tip)
        self.main.addLayout(form)
        self.main.addStretch(1)

    def _make_field(self, p: Param) -> Field:
        def commit(value: Any, key: str = p.name) -> None:
            self._commit(key, value)

        if p.kind == "int":
            field: Field = IntField(p.name, commit, p.minimum, p.maximum, nullable=p.nullable)
        elif p.kind == "float":
            low = -1e9 if p.minimum is None else p.minimum
            high = 1e9 if p.maximum is None else p.maximum
            if p.exclusive_max and p.maximum is not None:
                high = p.maximum - (0.01 if p.maximum - low >= 0.5 else 1e-6)
            step = 0.05 if (p.minimum is not None and p.maximum is not None and high <= 1) else 0.1
            field = FloatField(
                p.name,
                commit,
                low,
                high,
                step,
                log_step=p.name in LOG_STEP_KEYS,
                nullable=p.nullable,
            )
        elif p.kind == "bool":
            field = BoolField(p.name, commit)
        elif p.kind == "activation":
            field = ActivationField(p.name, commit)
        elif p.kind == "initializer":
            field = InitializerField(p.name, commit)
        else:
            field = ReadOnlyField(p.name)
        if not p.required:
            field.add_reset(
                lambda key=p.name: self._commit(key, None), f"Reset to the default ({p.default!r})"
            )
        return field

    @property
    def activation_plot(self) -> ActivationPlot | None:
        field = self.fields.get("activation")
        return field.plot if isinstance(field, ActivationField) else None

    # ------------------------------------------------------------------ edits
    def _commit(self, key: str, value: Any) -> None:
        p = self.layer_type.param(key) if self.layer_type else None
        if p is None:
            return
        if value is not None and not p.required and same_value(value, p.default):
            value = None  # the default: keep the config minimal, as Keras' get_config() would
        if value is None and p.required:
            return
        layer = self.layer
        self.panel.apply_edit(
            f"Change {key} of '{layer}'",
            lambda d: edits.set_param(d, layer, key, value),
            merge_key=(layer, key),
        )

    def _set_class(self, class_name: Any) -> None:
        if not isinstance(class_name, str) or class_name == self.class_name:
            return
        layer = self.layer

        def fn(data: dict) -> dict:
            data = edits.set_class(data, layer, class_name)
            config = edits.find_layer(data, layer)["config"]
            for p in LAYER_TYPES[class_name].params:
                if p.required and p.name not in config and p.name in STARTER_VALUES:
                    config[p.name] = STARTER_VALUES[p.name]
            return data

        self.panel.apply_edit(f"Change '{layer}' to {class_name}", fn)

    def _rename(self, text: Any) -> None:
        new = str(text).strip()
        old = self.layer
        if new == old:
            self.local_errors.pop("name", None)
            self.refresh()
            return
        try:
            edits.rename_layer(self.document.data, old, new)
        except (ValueError, KeyError) as exc:
            self.local_errors["name"] = str(exc).strip("'\"")
            self.fields["name"].pending = True
            self.refresh()
            return
        self.local_errors.pop("name", None)
        self.panel.rename_layer(old, new)

    # ------------------------------------------------------------------ view
    def refresh(self) -> None:
        doc = self.document
        try:
            spec = edits.find_layer(doc.data, self.layer)
        except KeyError:
            return
        config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
        self.title.setText(f"<b>{self.layer}</b>&nbsp;&nbsp;{spec.get('class_name')}")
        node = doc.graph.by_name.get(self.layer) if doc.graph is not None else None
        if node is not None:
            self.info.setText(
                f"Output {format_shape(node.output_shape)} · {node.params:,} params · "
                f"{node.flops:,} FLOPs"
            )
        else:
            self.info.setText("Output shape unknown until the model is valid")
        name_field = self.fields["name"]
        name_field.show_value(self.layer)
        if name_field.editor.text() == self.layer:
            self.local_errors.pop("name", None)
        self.fields["class_name"].show_value(spec.get("class_name"))
        for p in self.layer_type.params if self.layer_type else ():
            if p.name == "name":
                continue
            field = self.fields[p.name]
            present = p.name in config
            value = config[p.name] if present else p.default
            if p.kind == "activation" and value is None and p.nullable:
                value = "linear"
            field.show_value(value)
            field.set_overridden(present and not p.required)

        by_field: dict[str, list[str]] = {}
        top: list[str] = []
        for problem in doc.problems_for(self.layer):
            key = problem.field
            if key in self.fields:
                by_field.setdefault(key, []).append(problem.message)
            else:
                top.append(_problem_text(problem))
        self.show_problems(by_field, top)


class _InputForm(_Form):
    """The model input (the canvas' input block): its shape."""

    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        header = QHBoxLayout()
        header.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(layer_pixmap("InputLayer", 32, self.devicePixelRatioF()))
        header.addWidget(icon)
        title = QLabel("<b>input</b>&nbsp;&nbsp;InputLayer")
        title.setTextFormat(Qt.TextFormat.RichText)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        title.setFont(font)
        header.addWidget(title, 1)
        self.main.addLayout(header)
        self.main.addWidget(_hint_label("The shape of one sample, without the batch axis."))
        self.main.addWidget(self.problems_label)
        form = _form_layout()
        self.add_field(
            form,
            "input_shape",
            TextField("model.input_shape", self._commit, placeholder="784  or  28, 28"),
            "Keras' input_shape: e.g. 784 for flat MNIST images.",
        )
        self.main.addLayout(form)
        self.main.addStretch(1)

    def _commit(self, text: Any) -> None:
        _commit_input_shape(self, text)

    def refresh(self) -> None:
        _show_input_shape(self)
        problems = [p for p in self.document.problems if p.field == "model.input_shape"]
        self.show_problems({"model.input_shape": [p.message for p in problems]}, [])


def _commit_input_shape(form: _Form, text: Any) -> None:
    try:
        shape = parse_shape(str(text))
    except ValueError as exc:
        form.local_errors["model.input_shape"] = str(exc)
        form.fields["model.input_shape"].pending = True
        form.refresh()
        return
    form.local_errors.pop("model.input_shape", None)
    form.panel.apply_edit(
        "Change the input shape",
        lambda d: edits.set_setting(d, "model.input_shape", shape),
        merge_key=("settings", "model.input_shape"),
    )
    form.refresh()


def _show_input_shape(form: _Form) -> None:
    shape = form.document.project.model.get("input_shape")
    if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
        text = ", ".join(str(d) for d in shape)
    else:
        text = json.dumps(shape)
    field = form.fields["model.input_shape"]
    field.show_value(text)
    if field.editor.text() == text:
        form.local_errors.pop("model.input_shape", None)


class _MultiForm(_Form):
    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.main.addWidget(self.text)
        self.main.addWidget(_hint_label("Select a single layer to edit its settings."))
        self.main.addStretch(1)

    def refresh(self) -> None:
        names = self.document.selection
        self.text.setText(f"<b>{len(names)} layers selected</b><br>{', '.join(names)}")


class _RowGroup:
    """Rows of a settings group that are replaced as a whole when their fields change (the
    optimizer's hyper-parameters, the dataset's parameters). They are rows of the group's own
    form, so that their labels line up with the others."""

    def __init__(self, form: QFormLayout, anchor: QWidget) -> None:
        self.form = form
        self.anchor = anchor  # the rows go right below this widget's row
        self.signature: object = _UNSET
        self.keys: list[str] = []
        self.widgets: list[QWidget] = []

    def clear(self) -> None:
        for widget in self.widgets:
            self.form.takeRow(widget)
            widget.hide()
            widget.deleteLater()  # later: a handler of one of its editors may still be running
        self.widgets = []
        self.keys = []

    def add(self, label: QLabel, widget: QWidget, key: str | None = None) -> None:
        row = self.form.getWidgetPosition(self.anchor)[0] + 1 + len(self.widgets)
        self.form.insertRow(row, label, widget)
        self.widgets.append(widget)
        if key is not None:
            self.keys.append(key)


class _SettingsForm(_Form):
    """The project's settings: name, backend, dtype, input, compile, fit, dataset."""

    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        title = QLabel("<b>Project settings</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.main.addWidget(title)
        self.main.addWidget(_hint_label("Select a layer on the canvas to edit it."))
        self.main.addWidget(self.problems_label)

        project = self._group("Project")
        self.add_field(
            project, "name", TextField("name", self._commit_name, live=True, placeholder="Untitled")
        )
        self.add_field(
            project,
            "backend",
            ChoiceField("backend", self._setter("backend"), [(b, b) for b in BACKENDS]),
            "numpy: the reference engine (step-through); tensorflow: Keras, faster.",
        )
        self.add_field(
            project,
            "dtype",
            ChoiceField("dtype", self._setter("dtype"), [(d, d) for d in DTYPES]),
            "Floating-point type of weights and data.",
        )
        self.add_field(
            project,
            "input_shape",
            TextField("model.input_shape", self._commit_shape, placeholder="784  or  28, 28"),
            "Keras' input_shape: the shape of one sample, without the batch axis.",
        )

        comp = self._group("Compile")
        self.add_field(
            comp,
            "optimizer",
            ChoiceField(
                "compile.optimizer", self._set_optimizer, [(n, n) for n in OPTIMIZER_NAMES]
            ),
            "Keras optimizer (Perceptron: the seed's perceptron learning rule).",
        )
        self.opt_rows = _RowGroup(comp, self.fields["compile.optimizer"].widget)
        self.add_field(
            comp,
            "loss",
            ChoiceField("compile.loss", self._setter("compile.loss"), []),
            "The loss Keras minimises.",
        )
        self.add_field(
            comp,
            "metrics",
            ChecklistField("compile.metrics", self._commit_metrics, METRIC_NAMES),
            "Reported every epoch; the loss is always reported.",
        )

        fit = self._group("Fit")
        self.add_field(fit, "epochs", IntField("fit.epochs", self._setter("fit.epochs"), 1, 1e6))
        self.add_field(
            fit, "batch_size", IntField("fit.batch_size", self._setter("fit.batch_size"), 1, 1e7)
        )
        self.add_field(
            fit,
            "validation_split",
            FloatField(
                "fit.validation_split", self._setter("fit.validation_split"), 0.0, 0.99, 0.05
            ),
            "Fraction of the samples held out (taken from the end, as Keras does).",
        )
        self.add_field(fit, "shuffle", BoolField("fit.shuffle", self._setter("fit.shuffle")))
        self.add_field(
            fit,
            "seed",
            IntField("fit.seed", self._setter("fit.seed"), 0, None),
            "Seeds weight initialization, shuffling and dropout: same seed, same run.",
        )

        data = self._group("Dataset")
        names = [(n, n) for n in BUILTIN_DATASETS]
        tips = {n: info.description for n, info in BUILTIN_DATASETS.items()}
        self.add_field(
            data,
            "dataset",
            ChoiceField("dataset", self._set_dataset, names, tips),
            "A built-in dataset (a file dataset shows its path).",
        )
        self.dataset_info = _hint_label()
        data.addRow(self.dataset_info)
        self.data_rows = _RowGroup(data, self.dataset_info)
        self.add_field(
            data,
            "scale",
            ChoiceField("dataset.scale", self._set_scale, [(s, s) for s in SCALES]),
            "Scale the inputs, fitted on the training split only: standardize (mean 0, "
            "standard deviation 1) or minmax (0 to 1). The Dataset panel has the rest.",
        )
        self.main.addStretch(1)

    def _group(self, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = _form_layout()
        box.setLayout(form)
        self.main.addWidget(box)
        return form

    # ------------------------------------------------------------------ edits
    def _set_scale(self, value: Any) -> None:
        def fn(data: dict) -> dict:
            spec = dict(data.get("dataset") or {})
            spec.pop("standardize", None)  # the older spelling of "scale": "standardize"
            if value == "none":
                spec.pop("scale", None)
            else:
                spec["scale"] = value
            return edits.set_setting(data, "dataset", spec)

        self.panel.apply_edit(f"Scale inputs: {value}", fn, merge_key=("settings", "dataset.scale"))

    def _set(self, path: str, value: Any, text: str | None = None) -> None:
        self.panel.apply_edit(
            text or f"Change {path}",
            lambda d: edits.set_setting(d, path, value),
            merge_key=("settings", path),
        )

    def _setter(self, path: str) -> Callable[[Any], None]:
        return lambda value: self._set(path, value)

    def _setter_default(self, path: str, default: Any) -> Callable[[Any], None]:
        return lambda value: self._set(path, None if same_value(value, default) else value)

    def _commit_name(self, text: Any) -> None:
        self._set("name", str(text) if str(text).strip() else None, "Rename the project")

    def _commit_shape(self, text: Any) -> None:
        _commit_input_shape(self, text)

    def _optimizer_state(self) -> tuple[Any, str | None, dict, dict]:
        """(spec, class name or None, explicit config, complete defaults of the class)."""
        spec = self.document.project.compile.get("optimizer", DEFAULT_OPTIMIZER)
        try:
            cls = resolve_optimizer(spec)[0]
        except (ValueError, TypeError):
            cls = _guess_optimizer_class(spec)
        explicit = spec.get("config") if isinstance(spec, dict) else None
        explicit = dict(explicit) if isinstance(explicit, dict) else {}
        defaults = resolve_optimizer(cls)[1] if cls else {}
        return spec, cls, explicit, defaults

    def _set_optimizer(self, class_name: Any) -> None:
        spec, cls, explicit, _ = self._optimizer_state()
        if class_name == cls and isinstance(spec, dict):
            return
        known = resolve_optimizer(class_name)[1]
        config = {k: v for k, v in explicit.items() if k in known}
        self._set(
            "compile.optimizer",
            {"class_name": class_name, "config": config},
            f"Use the {class_name} optimizer",
        )

    def _commit_optimizer(self, key: str, value: Any) -> None:
        spec, cls, explicit, defaults = self._optimizer_state()
        if cls is None:
            return
        new = dict(spec) if isinstance(spec, dict) else {}
        new["class_name"] = cls
        config = dict(explicit)
        if value is None or same_value(value, defaults.get(key)):
            config.pop(key, None)
        else:
            config[key] = value
        new["config"] = config
        self.panel.apply_edit(
            f"Change the optimizer's {key}",
            lambda d: edits.set_setting(d, "compile.optimizer", new),
            merge_key=("settings", f"compile.optimizer.{key}"),
        )

    def _commit_metrics(self, checked: Any) -> None:
        current = self.document.project.compile.get("metrics", [])
        unknown = []
        for m in current if isinstance(current, list) else []:
            try:
                canonical_metric(m)
            except (KeyError, TypeError):
                unknown.append(m)
        self._set("compile.metrics", list(checked) + unknown, "Change the metrics")

    def _set_dataset(self, name: Any) -> None:
        if name is _FILE or not isinstance(name, str):
            return
        new = keep_common_keys({"name": name}, self.document.project.dataset)
        self._set("dataset", new, f"Use the {name} dataset")

    def _commit_dataset_param(self, key: str, value: Any) -> None:
        ds = self.document.project.dataset
        info = BUILTIN_DATASETS.get(ds.get("name"))
        default = info.params[key].default if info and key in info.params else None
        self._set(f"dataset.{key}", None if same_value(value, default) else value)

    # ------------------------------------------------------------------ sub-forms
    def _begin_rows(self, group: _RowGroup, signature: object) -> bool:
        """Clear ``group`` when its fields must change; True when it must be refilled."""
        if group.signature == signature:
            return False
        for key in group.keys:
            self.fields.pop(key, None)
        group.clear()
        group.signature = signature
        return True

    def _add_row(self, group: _RowGroup, label: str, field: Field, tooltip: str = "") -> None:
        self.fields[field.key] = field
        self.panel.guard(field.editor)
        group.add(_label(label, tooltip), field.widget, field.key)

    def _sync_optimizer_form(self, cls: str | None) -> None:
        if not self._begin_rows(self.opt_rows, cls) or cls is None:
            return
        for key, default in optimizer_fields(cls):
            self._add_row(
                self.opt_rows, key, self._optimizer_field(key, default), f"Default: {default!r}"
            )

    def _optimizer_field(self, key: str, default: Any) -> Field:
        path = f"compile.optimizer.{key}"

        def commit(value: Any) -> None:
            self._commit_optimizer(key, value)

        if isinstance(default, bool):
            field: Field = BoolField(path, commit)
        elif key == "learning_rate":
            field = FloatField(path, commit, 1e-9, 10.0, 0.001, log_step=True)
        elif key == "epsilon":
            field = FloatField(path, commit, 1e-12, 1.0, 1e-7, log_step=True)
        elif key in _UNIT_STEPS:
            field = FloatField(path, commit, 0.0, 0.999999, _UNIT_STEPS[key])
        elif key in CLIP_KEYS:
            field = FloatField(path, commit, 0.0, 1e6, 0.1, nullable=True)
        else:
            field = FloatField(path, commit, 0.0, 1e6, 0.05)
        field.add_reset(lambda: commit(None), f"Reset to the default ({default!r})")
        return field

    def _sync_dataset_form(self, ds: dict) -> None:
        signature = ("file",) if "path" in ds else ("builtin", ds.get("name"))
        if not self._begin_rows(self.data_rows, signature):
            return
        if "path" in ds:
            for key in ("path", "task"):
                self._add_row(self.data_rows, key, ReadOnlyField(f"dataset.{key}"))
            return
        info = BUILTIN_DATASETS.get(ds.get("name"))
        for key, p in info.params.items() if info else ():
            path = f"dataset.{key}"

            def commit(value: Any, key: str = key) -> None:
                self._commit_dataset_param(key, value)

            if p.kind is int:
                field: Field = IntField(path, commit, p.minimum, p.maximum)
            else:
                field = FloatField(
                    path, commit, p.minimum, p.maximum, 0.01 if p.maximum <= 1 else 0.1
                )
            field.add_reset(
                lambda commit=commit: commit(None), f"Reset to the default ({p.default!r})"
            )
            self._add_row(self.data_rows, key, field, f"{p.description}\nDefault: {p.default!r}")

    # ------------------------------------------------------------------ view
    def refresh(self) -> None:
        doc = self.document
        project = doc.project
        data = doc.data
        self.fields["name"].show_value(data.get("name", ""))
        self.fields["backend"].show_value(data.get("backend", "numpy"))
        self.fields["dtype"].show_value(data.get("dtype", "float32"))
        _show_input_shape(self)

        spec, cls, explicit, defaults = self._optimizer_state()
        self.fields["compile.optimizer"].show_value(
            cls, None if cls else f"{json.dumps(spec)} (unknown)"
        )
        self._sync_optimizer_form(cls)
        for key, default in optimizer_fields(cls) if cls else ():
            field = self.fields[f"compile.optimizer.{key}"]
            field.show_value(explicit.get(key, defaults.get(key, default)))
            field.set_overridden(key in explicit)

        comp = project.compile
        loss = comp.get("loss")
        choices = [(n, n) for n in LOSS_NAMES]
        if cls == "Perceptron" or loss is None:
            choices = [("(none)", None), *choices]
        loss_field = self.fields["compile.loss"]
        if [v for _, v in choices] != loss_field._values:
            loss_field.set_choices(choices)
        try:
            shown_loss = canonical_loss(loss) if loss is not None else None
        except (KeyError, TypeError):
            shown_loss = loss
        loss_field.show_value(shown_loss)
        metrics = comp.get("metrics", [])
        canonical = []
        for m in metrics if isinstance(metrics, list) else []:
            try:
                canonical.append(canonical_metric(m))
            except (KeyError, TypeError):
                pass
        self.fields["compile.metrics"].show_value(canonical)

        fit = project.fit
        for key in ("epochs", "batch_size", "validation_split", "shuffle", "seed"):
            self.fields[f"fit.{key}"].show_value(fit.get(key))

        ds = project.dataset
        if "path" in ds:
            self.fields["dataset"].show_value(_FILE, f"File: {ds.get('path')}")
            self.dataset_info.setText("A file dataset (choose a built-in set to replace it).")
        else:
            name = ds.get("name")
            self.fields["dataset"].show_value(name)
            info = BUILTIN_DATASETS.get(name)
            if info is not None:
                classes = info.classes_for(
                    {k: ds.get(k, p.default) for k, p in info.params.items()}
                )
                shape = "×".join(str(d) for d in info.feature_shape)
                what = f"{classes} classes" if classes else info.task
                self.dataset_info.setText(
                    f"{info.description} <i>({what}, {shape} features, {info.source})</i>"
                )
            else:
                self.dataset_info.setText("")
        self._sync_dataset_form(ds)
        if "path" in ds:
            self.fields["dataset.path"].show_value(str(ds.get("path")))
            self.fields["dataset.task"].show_value(str(ds.get("task", "(from the file)")))
        else:
            info = BUILTIN_DATASETS.get(ds.get("name"))
            for key, p in info.params.items() if info else ():
                field = self.fields[f"dataset.{key}"]
                field.show_value(ds.get(key, p.default))
                field.set_overridden(key in ds)
        self.fields["dataset.scale"].show_value(scale_of(ds))

        self._show_settings_problems()

    def _show_settings_problems(self) -> None:
        by_field: dict[str, list[str]] = {}
        top: list[str] = []
        layer_problems = 0
        for problem in self.document.problems:
            if problem.layer is not None:
                layer_problems += 1
                continue
            top.append(_problem_text(problem))
            key, message = problem.field, problem.message
            if key == "dataset":
                match = re.match(r"dataset(?:\.(\w+))?:\s*(.*)", message, re.S)
                if match:
                    sub, message = match.group(1), match.group(2)
                    key = f"dataset.{sub}" if sub and f"dataset.{sub}" in self.fields else key
            if key == "compile.optimizer":
                match = re.search(r"'(\w+)' must be", message)
                if match and f"compile.optimizer.{match.group(1)}" in self.fields:
                    key = f"compile.optimizer.{match.group(1)}"
            if key in self.fields:
                by_field.setdefault(key, []).append(message)
        if layer_problems:
            plural = "s" if layer_problems > 1 else ""
            top.append(f"{layer_problems} problem{plural} in layers: select a layer to see its own")
        self.show_problems(by_field, top)


class InspectorPanel(QWidget):
    """The inspector of the current document (see the module docstring).

    Attributes
    ----------
    document : Document
    mode : str
        ``"layer"``, ``"input"``, ``"multi"`` or ``"settings"``.
    """

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._wheel_guard = WheelGuard(self)
        self._renaming = False
        self._form: _Form | None = None
        self._kind: tuple | None = None

        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._host = QWidget()
        self._host_layout = QVBoxLayout(self._host)
        self._host_layout.setContentsMargins(0, 0, 0, 0)
        self._scroll.setWidget(self._host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._scroll)

        document.changed.connect(self._sync)
        document.selection_changed.connect(self._on_selection_changed)
        self._sync()

    # ------------------------------------------------------------------ public queries
    @property
    def mode(self) -> str:
        return self._kind[0] if self._kind else "settings"

    @property
    def form(self) -> _Form | None:
        return self._form

    def field(self, key: str) -> QWidget:
        """The editor widget of a field: a layer param (``"units"``), ``"name"``,
        ``"class_name"``, or a setting path (``"fit.epochs"``, ``"compile.optimizer"``,
        ``"compile.optimizer.learning_rate"``, ``"dataset.noise"``...)."""
        return self._form.fields[key].editor

    def error_text(self, key: str) -> str:
        """The red message shown under a field ('' when none)."""
        return self._form.fields[key].error_text

    def problems_text(self) -> str:
        """The red list at the top of the page ('' when none)."""
        label = self._form.problems_label
        return "" if label.isHidden() else label.text()

    @property
    def activation_plot(self) -> ActivationPlot | None:
        """The activation picker's plot (layer mode, for layers with an activation)."""
        return self._form.activation_plot if isinstance(self._form, _LayerForm) else None

    # ------------------------------------------------------------------ plumbing
    def guard(self, widget: QWidget) -> None:
        widget.installEventFilter(self._wheel_guard)

    def apply_edit(self, text: str, fn: Callable[[dict], dict], merge_key: object = None) -> bool:
        return self.document.edit(text, fn, merge_key=merge_key)

    def rename_layer(self, old: str, new: str) -> None:
        """Rename through the document and keep the renamed layer selected (the document drops
        a selected name that no longer exists; the page is kept meanwhile)."""
        self._renaming = True
        try:
            self.apply_edit(f"Rename '{old}' to '{new}'", lambda d: edits.rename_layer(d, old, new))
        finally:
            self._renaming = False
        if self.document.selection != [new]:
            self.document.set_selection([new])
        else:
            self._sync()

    def _on_selection_changed(self, _names: list) -> None:
        self._sync()

    def _desired(self) -> tuple[tuple, str | None]:
        doc = self.document
        sel = doc.selection
        if len(sel) > 1:
            return ("multi",), None
        if len(sel) == 1:
            if sel[0] == INPUT:
                return ("input",), None
            try:
                spec = edits.find_layer(doc.data, sel[0])
            except KeyError:
                return ("settings",), None
            return ("layer", str(spec.get("class_name"))), sel[0]
        return ("settings",), None

    def _sync(self) -> None:
        if self._renaming:
            return
        kind, layer = self._desired()
        if kind != self._kind or self._form is None:
            self._rebuild(kind, layer)
        elif isinstance(self._form, _LayerForm) and self._form.layer != layer:
            self._form.layer = layer
            self._form.local_errors.clear()
            for field in self._form.fields.values():
                if isinstance(field, TextField):
                    field.discard()
        self._form.refresh()

    def _rebuild(self, kind: tuple, layer: str | None) -> None:
        old = self._form
        if kind[0] == "layer":
            form: _Form = _LayerForm(self, kind[1], layer)
        elif kind[0] == "input":
            form = _InputForm(self)
        elif kind[0] == "multi":
            form = _MultiForm(self)
        else:
            form = _SettingsForm(self)
        if old is not None:
            self._host_layout.removeWidget(old)
            old.hide()
            old.deleteLater()  # later: this may run inside a handler of one of its editors
        self._host_layout.addWidget(form)
        self._form = form
        self._kind = kind
