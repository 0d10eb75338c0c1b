"""The inspector's page for one layer: its name, its class and every param of its type, each
editor made from the param (:func:`~designer.panels.param_fields.make_param_field`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from designer.panels.fields import ChoiceField, Field, TextField
from designer.panels.form_base import InspectorForm, form_layout, hint_label, problem_text
from designer.panels.layer_icons import layer_pixmap
from designer.panels.param_fields import ActivationField, is_default, make_param_field
from engine import edits
from engine.layers import LAYER_TYPES, Param, format_shape

if TYPE_CHECKING:
    from designer.panels.inspector import InspectorPanel
    from designer.plots.activation_plot import ActivationPlot


class LayerForm(InspectorForm):
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
        self.info = hint_label()
        titles.addWidget(self.info)
        header.addLayout(titles, 1)
        self.main.addLayout(header)
        if self.layer_type is not None:
            description = hint_label(self.layer_type.description.replace("`", ""))
            self.main.addWidget(description)
        self.main.addWidget(self.problems_label)

        form = form_layout()
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
        # Regularizers and constraints sit in a section of their own, folded until one is set,
        # so that the common settings stay in front.
        self.rules_toggle = QToolButton()
        self.rules_toggle.setText("Regularizers and constraints")
        self.rules_toggle.setCheckable(True)
        self.rules_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.rules_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.rules_toggle.setAutoRaise(True)
        self.rules_toggle.toggled.connect(self._show_rules)
        self.rules_box = QWidget()
        rules_form = form_layout()
        self.rules_box.setLayout(rules_form)
        self.rules_box.setVisible(False)
        self._rules_opened = False
        for param in self.layer_type.params if self.layer_type else ():
            if param.name == "name":
                continue
            field = self._make_field(param)
            tip = param.doc
            if not param.required:
                shown = param.none_text if param.default is None and param.none_text else None
                tip = (tip + "\n" if tip else "") + f"Default: {shown or repr(param.default)}"
            else:
                tip = (tip + "\n" if tip else "") + "Required."
            rule = param.kind in ("regularizer", "constraint")
            self.add_field(rules_form if rule else form, param.name, field, tip)
        self.main.addLayout(form)
        self.has_rules = rules_form.rowCount() > 0
        if self.has_rules:
            self.main.addWidget(self.rules_toggle)
            self.main.addWidget(self.rules_box)
        self.main.addStretch(1)

    def _show_rules(self, shown: bool) -> None:
        self.rules_box.setVisible(shown)
        self.rules_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _make_field(self, p: Param) -> Field:
        def commit(value: Any, key: str = p.name) -> None:
            self._commit(key, value)

        return make_param_field(p, commit)

    @property
    def activation_plot(self) -> ActivationPlot | None:
        field = self.fields.get("activation")
        return field.plot if isinstance(field, ActivationField) else None

    # ------------------------------------------------------------------ edits
    def _commit(self, key: str, value: Any) -> None:
        p = self.layer_type.param(key) if self.layer_type else None
        if p is None:
            return
        if value is not None and not p.required and is_default(p, value):
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
            # Required settings the old type did not have start as a new block of the type.
            new_type = LAYER_TYPES[class_name]
            for p in new_type.params:
                if p.required and p.name not in config and p.name in new_type.new_config:
                    config[p.name] = new_type.new_config[p.name]
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
        rules_set = False
        for p in self.layer_type.params if self.layer_type else ():
            if p.name == "name":
                continue
            field = self.fields[p.name]
            present = p.name in config
            if p.kind in ("regularizer", "constraint"):
                rules_set = rules_set or config.get(p.name) is not None
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
                top.append(problem_text(problem))
        self.show_problems(by_field, top)
        # Open the section once when a rule is set or wrong (a file's, an import's).
        wrong = any(k.endswith(("_regularizer", "_constraint")) for k in by_field)
        if self.has_rules and (rules_set or wrong) and not self._rules_opened:
            self._rules_opened = True
            self.rules_toggle.setChecked(True)
