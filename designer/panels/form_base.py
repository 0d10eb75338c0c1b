"""What the inspector's pages share: :class:`InspectorForm` (fields by key, a red problems list
at the top, local errors) and the labels and form layout they are built with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from designer.panels.fields import Field, make_error_label
from engine.errors import Problem

if TYPE_CHECKING:
    from designer.panels.inspector import InspectorPanel


def problem_text(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}" if problem.field else problem.message


def label(text: str, tooltip: str = "") -> QLabel:
    out = QLabel(text)
    if tooltip:
        out.setToolTip(tooltip)
    return out


def hint_label(text: str = "") -> QLabel:
    out = QLabel(text)
    out.setWordWrap(True)
    font = out.font()
    font.setPointSizeF(max(6.0, font.pointSizeF() * 0.92))
    out.setFont(font)
    out.setStyleSheet("color: palette(placeholder-text);")
    return out


def form_layout() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)
    return form


class InspectorForm(QWidget):
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

    def guard(self, field: Field) -> None:
        """Keep the mouse wheel from editing ``field`` unless it has focus."""
        for widget in field.inputs():
            self.panel.guard(widget)

    def add_field(self, form: QFormLayout, text: str, field: Field, tooltip: str = "") -> Field:
        self.fields[field.key] = field
        self.guard(field)
        form.addRow(label(text, tooltip), field.widget)
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
