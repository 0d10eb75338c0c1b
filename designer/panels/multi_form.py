"""The inspector's page while several layers are selected: their names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel

from designer.panels.form_base import InspectorForm, hint_label

if TYPE_CHECKING:
    from designer.panels.inspector import InspectorPanel


class MultiForm(InspectorForm):
    def __init__(self, panel: InspectorPanel) -> None:
        super().__init__(panel)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.main.addWidget(self.text)
        self.main.addWidget(hint_label("Select a single layer to edit its settings."))
        self.main.addStretch(1)

    def refresh(self) -> None:
        names = self.document.selection
        self.text.setText(f"<b>{len(names)} layers selected</b><br>{', '.join(names)}")
