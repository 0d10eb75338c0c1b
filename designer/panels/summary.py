"""The model summary, like Keras' ``model.summary()`` plus FLOPs per sample, updated on every
edit. While the project is invalid the last valid table stays, greyed out, under the problems."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import make_error_label
from designer.panels.layer_icons import layer_icon
from engine.graph import DTYPE_BYTES, INPUT, Graph
from engine.layers import INPUT_CLASS_NAME, format_shape

HEADERS = ("Layer (type)", "Output Shape", "Param #", "FLOPs", "Connected to")
CONNECTED_COLUMN = 4
NUMERIC_COLUMNS = (2, 3)
NAME_ROLE = Qt.ItemDataRole.UserRole
MAX_PROBLEMS_SHOWN = 3


def format_bytes(n: int) -> str:
    """Keras' size notation: ``397.54 KB``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.2f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.2f} GB"  # pragma: no cover


class SummaryPanel(QWidget):
    """Layer (type), Output Shape, Param #, FLOPs and (for graphs) Connected to, with totals.

    Clicking a row selects that layer in the document; the document's selection is
    highlighted in the table.

    Attributes
    ----------
    table : QTableWidget
    totals_label : QLabel
    problems_label : QLabel
        The first problems of an invalid project (hidden when it is valid).
    """

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._graph: Graph | None = None
        self._updating = False

        self.problems_label = make_error_label(self)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setStyleSheet("QTableView::item { padding: 0px 8px; }")
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        for column in NUMERIC_COLUMNS:
            item = self.table.horizontalHeaderItem(column)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        self.totals_label = QLabel()
        self.totals_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.totals_label.setTextFormat(Qt.TextFormat.RichText)
        # Wraps in a narrow dock instead of widening the window's minimum.
        self.totals_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.totals_label)

        document.replaced.connect(self._forget)
        document.changed.connect(self.refresh)
        document.selection_changed.connect(self._select_rows)
        self.refresh()

    # ------------------------------------------------------------------ queries
    @property
    def stale(self) -> bool:
        """True while the project is invalid (the table shows the last valid model)."""
        return not self.table.isEnabled()

    def rows(self) -> list[list[str]]:
        """The table's text, row by row (the input row first)."""
        return [
            [
                self.table.item(r, c).text() if self.table.item(r, c) else ""
                for c in range(self.table.columnCount())
                if not self.table.isColumnHidden(c)
            ]
            for r in range(self.table.rowCount())
        ]

    # ------------------------------------------------------------------ view
    def refresh(self) -> None:
        doc = self.document
        graph = doc.graph
        model_problems = [
            p for p in doc.problems if p.layer is not None or (p.field or "").startswith("model")
        ]
        if graph is not None:
            self._fill(graph)
        if doc.problems:
            shown = model_problems or doc.problems
            lines = [str(p) for p in shown[:MAX_PROBLEMS_SHOWN]]
            more = len(doc.problems) - len(lines)
            if more > 0:
                lines.append(f"(and {more} more problem{'s' if more > 1 else ''})")
            self.problems_label.setText("\n".join(lines))
            self.problems_label.setVisible(True)
        else:
            self.problems_label.setVisible(False)
            self.problems_label.setText("")
        # Settings problems do not make the numbers wrong: only a broken model greys them out.
        self.table.setEnabled(graph is not None)
        self._show_totals(graph or self._graph, stale=graph is None)
        self._select_rows(doc.selection)

    def _forget(self) -> None:
        """Another project was loaded: the last valid table is not its own."""
        self._graph = None
        self.table.setRowCount(0)

    def _fill(self, graph: Graph) -> None:
        self._graph = graph
        chain = graph.is_chain
        self.table.setColumnHidden(CONNECTED_COLUMN, chain)
        rows = [(INPUT, INPUT_CLASS_NAME, graph.input_shape, 0, 0, [])]
        rows += [
            (r.name, r.class_name, r.output_shape, r.params, r.flops, r.inbound)
            for r in graph.summary()
        ]
        self._updating = True
        self.table.setRowCount(len(rows))
        for i, (name, cls, shape, params, flops, inbound) in enumerate(rows):
            cells = (
                f"{name} ({cls})",
                format_shape(shape),
                f"{params:,}",
                f"{flops:,}",
                ", ".join(inbound) if inbound else "-",
            )
            for c, text in enumerate(cells):
                item = self.table.item(i, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(i, c, item)
                if item.text() != text:
                    item.setText(text)
                item.setData(NAME_ROLE, name)
                if c in NUMERIC_COLUMNS:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if c == 0:
                    item.setIcon(layer_icon(cls))
                    item.setToolTip(f"{name}: {cls}")
        self.table.setCurrentItem(None)
        self._updating = False

    def _show_totals(self, graph: Graph | None, stale: bool) -> None:
        if graph is None:
            self.totals_label.setText("")
            return
        dtype = self.document.project.dtype
        size = graph.total_params * DTYPE_BYTES.get(dtype, 4)
        frozen = graph.total_params - graph.trainable_params
        text = (
            f"<b>Total params:</b> {graph.total_params:,} ({format_bytes(size)})"
            + (f", {frozen:,} non-trainable" if frozen else "")
            + f"&nbsp;&nbsp;·&nbsp;&nbsp;<b>FLOPs per sample (forward):</b> {graph.total_flops:,}"
        )
        if stale:
            text = f"<span style='color: palette(placeholder-text)'>{text} (last valid)</span>"
        self.totals_label.setText(text)

    # ------------------------------------------------------------------ selection
    def _select_rows(self, names: list) -> None:
        self._updating = True
        selection = self.table.selectionModel()
        selection.clearSelection()
        wanted = set(names)
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(NAME_ROLE) in wanted:
                selection.select(self.table.model().index(r, 0), flags)
        self._updating = False

    def _on_table_selection(self) -> None:
        if self._updating:
            return
        names = []
        for index in self.table.selectionModel().selectedRows():
            name = self.table.item(index.row(), 0).data(NAME_ROLE)
            if name not in names:
                names.append(name)
        self.document.set_selection(names)
