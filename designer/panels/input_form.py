"""The inspector's page for the model input (the canvas' input block): the shape of one
sample. The project settings page edits the same shape with the helpers here."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel

from designer.panels.fields import TextField
from designer.panels.form_base import InspectorForm, form_layout, hint_label
from designer.panels.layer_icons import layer_pixmap
from engine import edits
from engine.layers import INPUT_CLASS_NAME

if TYPE_CHECKING:
    from designer.panels.inspector import InspectorPanel


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


class InputForm(InspectorForm):
    """The model input (the canvas' input block): its shape."""

    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        header = QHBoxLayout()
        header.setSpacing(8)
        icon = QLabel()
        icon.setPixmap(layer_pixmap(INPUT_CLASS_NAME, 32, self.devicePixelRatioF()))
        header.addWidget(icon)
        title = QLabel(f"<b>input</b>&nbsp;&nbsp;{INPUT_CLASS_NAME}")
        title.setTextFormat(Qt.TextFormat.RichText)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        title.setFont(font)
        header.addWidget(title, 1)
        self.main.addLayout(header)
        self.main.addWidget(hint_label("The shape of one sample, without the batch axis."))
        self.main.addWidget(self.problems_label)
        form = form_layout()
        self.add_field(
            form,
            "input_shape",
            TextField("model.input_shape", self._commit, placeholder="784  or  28, 28"),
            "Keras' input_shape: e.g. 784 for flat MNIST images.",
        )
        self.main.addLayout(form)
        self.main.addStretch(1)

    def _commit(self, text: Any) -> None:
        commit_input_shape(self, text)

    def refresh(self) -> None:
        show_input_shape(self)
        problems = [p for p in self.document.problems if p.field == "model.input_shape"]
        self.show_problems({"model.input_shape": [p.message for p in problems]}, [])


def commit_input_shape(form: InspectorForm, text: Any) -> None:
    """Write the typed shape into the project (one undo step per field), or show why not."""
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


def show_input_shape(form: InspectorForm) -> None:
    shape = form.document.project.model.get("input_shape")
    if isinstance(shape, list) and all(isinstance(d, int) for d in shape):
        text = ", ".join(str(d) for d in shape)
    else:
        text = json.dumps(shape)
    field = form.fields["model.input_shape"]
    field.show_value(text)
    if field.editor.text() == text:
        form.local_errors.pop("model.input_shape", None)
