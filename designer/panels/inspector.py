"""The inspector: the dock's page that switches between the forms — the selected layer's
(:mod:`designer.panels.layer_form`, generated from its LayerType's params), the model input's
(:mod:`designer.panels.input_form`), several layers' (:mod:`designer.panels.multi_form`) or,
when nothing is selected, the project's compile, fit and dataset settings
(:mod:`designer.panels.settings_form`).

Every change is one ``Document.edit`` with ``merge_key=(layer, field)`` (or
``("settings", path)``), so that consecutive changes of one field are one undo step. On
``Document.changed`` the panel updates its editors in place when the set of fields is the same,
so the editor being typed in keeps its focus and cursor; it rebuilds only when the set changes
(another layer type, another optimizer class, another dataset).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from designer.panels.fields import TextField, WheelGuard
from designer.panels.form_base import InspectorForm
from designer.panels.input_form import InputForm
from designer.panels.layer_form import LayerForm
from designer.panels.multi_form import MultiForm
from designer.panels.settings_form import (
    SettingsForm,
)
from engine import edits
from engine.graph import INPUT

if TYPE_CHECKING:
    from designer.plots.activation_plot import ActivationPlot


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
        self._form: InspectorForm | None = None
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
    def form(self) -> InspectorForm | None:
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
        return self._form.activation_plot if isinstance(self._form, LayerForm) else None

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
        elif isinstance(self._form, LayerForm) and self._form.layer != layer:
            self._form.layer = layer
            self._form.local_errors.clear()
            for field in self._form.fields.values():
                if isinstance(field, TextField):
                    field.discard()
        self._form.refresh()

    def _rebuild(self, kind: tuple, layer: str | None) -> None:
        old = self._form
        if kind[0] == "layer":
            form: InspectorForm = LayerForm(self, kind[1], layer)
        elif kind[0] == "input":
            form = InputForm(self)
        elif kind[0] == "multi":
            form = MultiForm(self)
        else:
            form = SettingsForm(self)
        if old is not None:
            self._host_layout.removeWidget(old)
            old.hide()
            old.deleteLater()  # later: this may run inside a handler of one of its editors
        self._host_layout.addWidget(form)
        self._form = form
        self._kind = kind
