"""The Doctor panel (issue 19): the network doctor's findings on the open project, live on
every edit and whenever the data load, each with why and a fix that applies as one undoable
edit. The findings are :func:`engine.doctor.diagnose`'s; this panel only shows them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.plots.theme import is_dark
from engine.doctor import ERROR, HINT, WARNING, Finding, apply_fix, counts_text, diagnose

#: (light, dark) colours of each level's mark, as the status bar's verdict uses them.
LEVEL_COLORS = {
    ERROR: ("#dc2626", "#f87171"),
    WARNING: ("#b45309", "#fbbf24"),
    HINT: ("#2563eb", "#93c5fd"),
}
LEVEL_MARKS = {ERROR: "●", WARNING: "▲", HINT: "ⓘ"}
HEADERS = ("Level", "Where", "Finding")


class DoctorPanel(QWidget):
    """The findings as a table (level, where, what); the selected one's why and its fix.

    ``dataset_of`` returns the loaded data (an engine Dataset) or None. Double-clicking a
    finding emits :attr:`place_requested` with its layer and field, for the window to show.
    """

    place_requested = Signal(object, object)  # layer name or None, field or None

    def __init__(self, document, dataset_of: Callable[[], object], parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._dataset_of = dataset_of
        self.findings: list[Finding] = []

        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(HEADERS)
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.currentItemChanged.connect(lambda *_: self._show_selected())
        self.table.itemDoubleClicked.connect(lambda *_: self._request_place())
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_button = QPushButton("Fix")
        self.fix_button.setEnabled(False)
        self.fix_button.clicked.connect(self.apply_selected)

        # Below the table, the whole finding: a narrow dock elides the table's column.
        row = QHBoxLayout()
        row.addWidget(self.fix_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.why, 2, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(row)

        document.changed.connect(self.refresh)
        document.replaced.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ findings
    def refresh(self) -> None:
        """Run the doctor on the project as it is now (and the data when loaded)."""
        kept = self._selected_key()
        try:
            dataset = self._dataset_of()
        except (AttributeError, RuntimeError):
            dataset = None
        try:
            self.findings = diagnose(self.document.project, dataset)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # data of another spec still loading, or a check that met a state it does not
            # know: say so, never break the window
            self.findings = []
            self.verdict.setText(f"The doctor could not examine this project: {exc}")
            self.table.clear()
            self._show_selected()
            return
        self.table.clear()
        dark = is_dark(self)
        for f in self.findings:
            item = QTreeWidgetItem([f"{LEVEL_MARKS[f.level]} {f.level}", f.where(), f.message])
            item.setForeground(0, QBrush(QColor(LEVEL_COLORS[f.level][dark])))
            item.setToolTip(2, f"{f.message}\n\nWhy: {f.why}")
            self.table.addTopLevelItem(item)
        self.verdict.setText(self._verdict_text(dataset is not None))
        index = next((i for i, f in enumerate(self.findings) if self._key(f) == kept), 0)
        if self.findings:
            self.table.setCurrentItem(self.table.topLevelItem(index))
        self._show_selected()

    def _verdict_text(self, with_data: bool) -> str:
        if not self.findings:
            data = "" if with_data else " (the data checks run once data are loaded)"
            return f"No findings: nothing the doctor checks is wrong{data}."
        return (
            counts_text(self.findings)
            + " · select one for why and its fix, double-click to go there"
        )

    @staticmethod
    def _key(f: Finding) -> tuple:
        return (f.code, f.layer, f.field)

    def _selected_key(self) -> tuple | None:
        f = self.selected()
        return self._key(f) if f is not None else None

    def selected(self) -> Finding | None:
        item = self.table.currentItem()
        if item is None:
            return None
        i = self.table.indexOfTopLevelItem(item)
        return self.findings[i] if 0 <= i < len(self.findings) else None

    def _show_selected(self) -> None:
        f = self.selected()
        if f is None:
            self.why.setText("")
            self.fix_button.setEnabled(False)
            self.fix_button.setText("Fix")
            return
        where = f" <i>({_escape(f.where())})</i>" if f.layer or f.field else ""
        self.why.setText(f"<b>{_escape(f.message)}</b>{where}<br><b>Why:</b> {_escape(f.why)}")
        self.fix_button.setEnabled(f.fix is not None)
        self.fix_button.setText(f"Fix: {f.fix.label}" if f.fix else "No automatic fix")
        self.fix_button.setToolTip(
            "Applies as one edit (Edit > Undo takes it back)" if f.fix else ""
        )

    # ------------------------------------------------------------------ actions
    def apply_selected(self) -> bool:
        """Apply the selected finding's fix as one undoable edit; False when it did nothing."""
        f = self.selected()
        if f is None or f.fix is None:
            return False
        the_fix = f.fix
        try:
            return self.document.edit(f"Doctor: {the_fix.label}", lambda d: apply_fix(d, the_fix))
        except (KeyError, ValueError) as exc:  # the project changed under the finding
            self.why.setText(f"The fix no longer applies: {_escape(str(exc))}")
            return False

    def _request_place(self) -> None:
        f = self.selected()
        if f is not None:
            self.place_requested.emit(f.layer, f.field)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
