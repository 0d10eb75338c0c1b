"""The inspector's page when nothing is selected: the project's settings (name, backend, dtype,
input shape), Keras' compile (optimizer and its hyper-parameters, loss, metrics) and fit
arguments, and the dataset.

The optimizer's and the dataset's rows are rebuilt only when their set of fields changes
(another optimizer class, another dataset); otherwise every editor is updated in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from designer.panels.callbacks_field import CallbacksField
from designer.panels.fields import (
    BoolField,
    ChoiceField,
    Field,
    FloatField,
    IntField,
    ReadOnlyField,
    TextField,
    same_value,
)
from designer.panels.form_base import InspectorForm, form_layout, hint_label, label, problem_text
from designer.panels.input_form import commit_input_shape, show_input_shape
from designer.panels.metrics_field import MetricsField
from engine import edits
from engine.data import BUILTIN_DATASETS, SCALES, keep_common_keys, scale_of
from engine.graph import BACKENDS, DTYPES
from engine.losses import (
    LOSS_NAMES,
    REDUCTIONS,
    canonical_loss,
    loss_defaults,
    loss_spec,
    resolve_loss,
)
from engine.optimizers import DEFAULT_OPTIMIZER, OPTIMIZER_NAMES, PERCEPTRON, resolve_optimizer
from engine.validate import VALIDATION_SPLIT_MODES

if TYPE_CHECKING:
    from designer.panels.inspector import InspectorPanel

CLIP_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")
_UNIT_STEPS = {"beta_1": 0.01, "beta_2": 0.001, "rho": 0.01, "momentum": 0.05}
_FILE = object()  # the dataset combo's value for a file dataset
_UNSET = object()  # the signature of rows not built yet


def class_weight_text(value: Any) -> str | None:
    """``{"0": 1.0, "1": 5.0}`` -> ``"0: 1, 1: 5"`` (None for none; other values as JSON)."""
    if not value:
        return None
    if not isinstance(value, dict):
        return json.dumps(value)
    try:
        items = sorted(value.items(), key=lambda kv: int(kv[0]))
    except (TypeError, ValueError):
        return json.dumps(value)
    return ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}" for k, v in items)


def parse_class_weight(text: str) -> dict[str, float] | None:
    """``"0: 1, 1: 5"`` -> ``{"0": 1.0, "1": 5.0}``; empty text -> None (no class weights).
    Raises ValueError naming the part that does not read."""
    from engine.validate import class_weight_problem

    out: dict[str, float] = {}
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        key, colon, raw = piece.partition(":")
        try:
            if not colon:
                raise ValueError
            cls, weight = str(int(key.strip())), float(raw)
        except ValueError:
            raise ValueError(f"{piece!r} is not class: weight (like 1: 5)") from None
        if cls in out:
            raise ValueError(f"class {cls} is given twice")
        out[cls] = weight
    problem = class_weight_problem(out) if out else None
    if problem:
        raise ValueError(problem)
    return out or None


def _generic_optimizer_keys() -> frozenset[str]:
    """Config keys every Keras optimizer has (weight_decay, clipnorm, use_ema...)."""
    sets = [set(resolve_optimizer(n)[1]) for n in OPTIMIZER_NAMES if n != PERCEPTRON]
    return frozenset(set.intersection(*sets) - {"learning_rate"})


_GENERIC_KEYS = _generic_optimizer_keys()


def optimizer_fields(class_name: str) -> list[tuple[str, Any]]:
    """The hyper-parameters the inspector shows for an optimizer, with Keras' defaults:
    learning_rate, the class's own arguments, the weight decay, then the gradient clipping
    ones."""
    defaults = resolve_optimizer(class_name)[1]
    own = [(k, v) for k, v in defaults.items() if k not in _GENERIC_KEYS and k != "name"]
    decay = [("weight_decay", defaults["weight_decay"])] if "weight_decay" in defaults else []
    clips = [(k, defaults[k]) for k in CLIP_KEYS if k in defaults]
    return own + decay + clips


# A loss's settings the inspector has no use for: NN Designer's units are on the last axis,
# and every label counts.
_HIDDEN_LOSS_KEYS = ("axis", "ignore_class")


def loss_fields(name: str) -> list[tuple[str, Any]]:
    """The settings the inspector shows for a loss, with Keras' defaults (``from_logits``,
    ``label_smoothing``, Huber's ``delta``, then ``reduction``)."""
    return [(k, v) for k, v in loss_defaults(name).items() if k not in _HIDDEN_LOSS_KEYS]


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


class SettingsForm(InspectorForm):
    """The project's settings: name, backend, dtype, input, compile, fit, dataset."""

    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        title = QLabel("<b>Project settings</b>")
        title.setTextFormat(Qt.TextFormat.RichText)
        self.main.addWidget(title)
        self.main.addWidget(hint_label("Select a layer on the canvas to edit it."))
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
        self.loss_rows = _RowGroup(comp, self.fields["compile.loss"].widget)
        self.add_field(
            comp,
            "metrics",
            MetricsField(
                "compile.metrics", lambda v: self._set("compile.metrics", v, "Change the metrics")
            ),
            "Keras' metrics, reported every batch and epoch (on the validation split too); "
            "the loss is always reported.",
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
            "Fraction of the samples held out for validation, as validation_split_mode says: "
            "a seeded draw keeping each class's share, or the last samples as Keras does; the "
            "exported script splits the same way.",
        )
        self.add_field(
            fit,
            "validation_split_mode",
            ChoiceField(
                "fit.validation_split_mode",
                self._setter_default("fit.validation_split_mode", "stratified"),
                [(m, m) for m in VALIDATION_SPLIT_MODES],
                {
                    "stratified": "A seeded random draw keeping each class's share",
                    "last": "The last samples, as Keras' fit(validation_split=...) takes them",
                },
            ),
            "How validation_split holds samples out: stratified (NN Designer's) or the last "
            "fraction (Keras').",
        )
        self.add_field(fit, "shuffle", BoolField("fit.shuffle", self._setter("fit.shuffle")))
        self.add_field(
            fit,
            "seed",
            IntField("fit.seed", self._setter("fit.seed"), 0, None),
            "Seeds weight initialization, shuffling and dropout: same seed, same run.",
        )
        self.add_field(
            fit,
            "callbacks",
            CallbacksField("fit.callbacks", self._setter("fit.callbacks")),
            "Keras' callbacks, run after every epoch as model.fit runs them: EarlyStopping, "
            "ReduceLROnPlateau, TerminateOnNaN, ModelCheckpoint (the best epoch's weights kept "
            "in the project). Each row: the settings that differ from Keras' defaults.",
        )
        self.add_field(
            fit,
            "class_weight",
            TextField(
                "fit.class_weight", self._commit_class_weight, placeholder="none, e.g. 0: 1, 1: 5"
            ),
            "Keras' class_weight: each training sample's loss weighs its class's weight (1 for "
            "a class not named); the validation loss and the metrics are not weighted.",
        )
        self.add_field(
            fit,
            "steps_per_epoch",
            IntField(
                "fit.steps_per_epoch",
                self._setter("fit.steps_per_epoch"),
                1,
                1e7,
                nullable=True,
                none_text="a whole pass",
            ),
            "Batches per epoch (Keras' steps_per_epoch): the next epoch goes on through the "
            "same pass over the data. Default: a whole pass.",
        )
        self.add_field(
            fit,
            "initial_epoch",
            IntField("fit.initial_epoch", self._setter_default("fit.initial_epoch", 0), 0, 1e6),
            "Keras' initial_epoch: the epochs counted as done before the first; training runs "
            "epochs − initial_epoch of them.",
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
        self.dataset_info = hint_label()
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
        form = form_layout()
        box.setLayout(form)
        self.main.addWidget(box)
        return form

    # ------------------------------------------------------------------ edits
    def _set_scale(self, value: Any) -> None:
        from designer.dataset.state import scale_edit

        self.panel.apply_edit(
            f"Scale inputs: {value}", scale_edit(value), merge_key=("settings", "dataset.scale")
        )

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
        commit_input_shape(self, text)

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

    def _commit_loss(self, key: str, value: Any) -> None:
        try:
            name, config = resolve_loss(self.document.project.compile.get("loss"))
        except (KeyError, ValueError, TypeError, AttributeError):
            return
        config[key] = loss_defaults(name)[key] if value is None else value
        self.panel.apply_edit(
            f"Change the loss's {key}",
            lambda d: edits.set_setting(d, "compile.loss", loss_spec(name, config)),
            merge_key=("settings", f"compile.loss.{key}"),
        )

    def _sync_loss_form(self, name: str | None) -> None:
        if not self._begin_rows(self.loss_rows, name) or name is None:
            return
        for key, default in loss_fields(name):
            path = f"compile.loss.{key}"

            def commit(value: Any, key: str = key) -> None:
                self._commit_loss(key, value)

            if isinstance(default, bool):
                field: Field = BoolField(path, commit)
            elif key == "reduction":
                field = ChoiceField(path, commit, [(r, r) for r in REDUCTIONS])
            elif key == "label_smoothing":
                field = FloatField(path, commit, 0.0, 1.0, 0.05)
            else:  # Huber's delta
                field = FloatField(path, commit, 1e-6, 1e6, 0.1)
            field.add_reset(
                lambda commit=commit: commit(None), f"Reset to the default ({default!r})"
            )
            self._add_row(self.loss_rows, key, field, f"Default: {default!r}")

    def _commit_class_weight(self, text: Any) -> None:
        field = self.fields["fit.class_weight"]
        try:
            value = parse_class_weight(str(text))
        except ValueError as exc:
            field.show_errors([str(exc)])
            return
        self._set("fit.class_weight", value, "Change the class weights")

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

    def _add_row(self, group: _RowGroup, text: str, field: Field, tooltip: str = "") -> None:
        self.fields[field.key] = field
        self.guard(field)
        group.add(label(text, tooltip), field.widget, field.key)

    def _sync_optimizer_form(self, cls: str | None, learning_rate: Any = None) -> None:
        schedule = learning_rate.get("class_name") if isinstance(learning_rate, dict) else None
        if not self._begin_rows(self.opt_rows, (cls, schedule)) or cls is None:
            return
        for key, default in optimizer_fields(cls):
            self._add_row(
                self.opt_rows, key, self._optimizer_field(key, default), f"Default: {default!r}"
            )
            if key == "learning_rate" and cls != PERCEPTRON:
                self._add_schedule_rows(learning_rate)

    def _add_schedule_rows(self, learning_rate: Any) -> None:
        """The schedule choice below learning_rate, and the chosen schedule's settings."""
        from designer.panels.schedule_rows import (
            SCHEDULE_CHOICES,
            chosen_schedule,
            make_schedule_field,
            schedule_fields,
        )

        def choose(choice: Any) -> None:
            current = self._optimizer_state()[2].get("learning_rate", self._current_lr())
            if choice == (current.get("class_name") if isinstance(current, dict) else "constant"):
                return
            self._commit_optimizer("learning_rate", chosen_schedule(str(choice), current))

        self._add_row(
            self.opt_rows,
            "schedule",
            ChoiceField("compile.optimizer.schedule", choose, SCHEDULE_CHOICES),
            "A constant learning rate, or one of Keras' schedules (the rate per step)",
        )
        for key, value in schedule_fields(learning_rate):

            def commit(new: Any, key: str = key) -> None:
                current = self._optimizer_state()[2].get("learning_rate")
                if not isinstance(current, dict):
                    return
                config = dict(current.get("config") or {})
                config[key] = new
                self._commit_optimizer(
                    "learning_rate", {"class_name": current["class_name"], "config": config}
                )

            path = f"compile.optimizer.learning_rate.{key}"
            self._add_row(self.opt_rows, f"  {key}", make_schedule_field(path, key, value, commit))

    def _current_lr(self) -> Any:
        _, _, explicit, defaults = self._optimizer_state()
        return explicit.get("learning_rate", defaults.get("learning_rate"))

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
        elif key == "beta_1" and self._optimizer_state()[1] == "Lion":
            field = FloatField(path, commit, 1e-6, 1.0, _UNIT_STEPS[key])  # Keras: (0, 1]
        elif key in _UNIT_STEPS:
            field = FloatField(path, commit, 0.0, 0.999999, _UNIT_STEPS[key])
        elif key in CLIP_KEYS:
            field = FloatField(path, commit, 0.0, 1e6, 0.1, nullable=True)
        elif key == "weight_decay":
            # AdamW's must be a number; the others' may be off (null).
            nullable = default is None
            field = FloatField(path, commit, 0.0, 1e6, 0.001, nullable=nullable)
        elif key == "learning_rate_power":
            field = FloatField(path, commit, -1e6, 0.0, 0.05)  # Ftrl's: at most 0
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
        show_input_shape(self)

        spec, cls, explicit, defaults = self._optimizer_state()
        self.fields["compile.optimizer"].show_value(
            cls, None if cls else f"{json.dumps(spec)} (unknown)"
        )
        learning_rate = explicit.get("learning_rate", defaults.get("learning_rate"))
        self._sync_optimizer_form(cls, learning_rate)
        for key, default in optimizer_fields(cls) if cls else ():
            field = self.fields[f"compile.optimizer.{key}"]
            value = explicit.get(key, defaults.get(key, default))
            if key == "learning_rate" and isinstance(value, dict):
                # The schedule sets the rate: its rate at step 0, not editable here.
                from engine.backends.numpy.schedules import initial_rate

                try:
                    field.show_value(initial_rate(value))
                except ValueError:
                    pass
                field.widget.setEnabled(False)
                field.widget.setToolTip(f"Set by the {value.get('class_name')} schedule below")
            else:
                field.show_value(value)
                if key == "learning_rate":
                    field.widget.setEnabled(True)
            field.set_overridden(key in explicit)
        if cls is not None and cls != PERCEPTRON:
            from designer.panels.schedule_rows import schedule_fields

            schedule = learning_rate.get("class_name") if isinstance(learning_rate, dict) else None
            self.fields["compile.optimizer.schedule"].show_value(schedule or "constant")
            for key, value in schedule_fields(learning_rate):
                shown = ", ".join(f"{v:g}" for v in value) if isinstance(value, list) else value
                self.fields[f"compile.optimizer.learning_rate.{key}"].show_value(shown)

        comp = project.compile
        loss = comp.get("loss")
        choices = [(n, n) for n in LOSS_NAMES]
        if cls == PERCEPTRON or loss is None:
            choices = [("(none)", None), *choices]
        loss_field = self.fields["compile.loss"]
        if [v for _, v in choices] != loss_field.values:
            loss_field.set_choices(choices)
        try:
            shown_loss, loss_config = resolve_loss(loss) if loss is not None else (None, {})
        except (KeyError, ValueError, TypeError, AttributeError):
            shown_loss, loss_config = None, {}
            try:
                shown_loss = canonical_loss(loss)
            except (KeyError, TypeError):
                shown_loss = loss
        loss_field.show_value(shown_loss)
        self._sync_loss_form(shown_loss if shown_loss in LOSS_NAMES else None)
        if shown_loss in LOSS_NAMES:
            defaults = loss_defaults(shown_loss)
            for key, _ in loss_fields(shown_loss):
                field = self.fields[f"compile.loss.{key}"]
                field.show_value(loss_config.get(key, defaults[key]))
                field.set_overridden(loss_config.get(key, defaults[key]) != defaults[key])
        self.fields["compile.metrics"].show_value(comp.get("metrics", []))

        fit = project.fit
        for key in (
            "epochs",
            "batch_size",
            "validation_split",
            "shuffle",
            "seed",
            "callbacks",
            "steps_per_epoch",
        ):
            self.fields[f"fit.{key}"].show_value(fit.get(key))
        self.fields["fit.initial_epoch"].show_value(fit.get("initial_epoch", 0))
        self.fields["fit.class_weight"].show_value(class_weight_text(fit.get("class_weight")))
        self.fields["fit.validation_split_mode"].show_value(
            fit.get("validation_split_mode") or "stratified"
        )

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
            top.append(problem_text(problem))
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
