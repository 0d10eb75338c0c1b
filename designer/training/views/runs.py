"""The Runs table: a project's training runs (:meth:`engine.runs.RunStore.table`), sortable by
any column and filtered by a text that any cell may contain; the runs selected in it are drawn
over the loss and metric plots (:class:`~designer.training.views.run_overlays.RunOverlays`)."""

from __future__ import annotations

import math

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.training.views.run_overlays import run_color
from engine.runs_cli import value_text

COLUMNS = (
    "Run",
    "Parent",
    "Changed",
    "Epochs",
    "Best",
    "Final loss",
    "Final val_loss",
    "Time",
    "Snapshots",
)


def _number(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return "–" if v is None else str(v)


class _Item(QStandardItem):
    """A cell that sorts by its number when it has one."""

    def __init__(self, text: str, key=None) -> None:
        super().__init__(text)
        self.setEditable(False)
        self.setData(text if key is None else key, Qt.ItemDataRole.UserRole)


class RunsView(QWidget):
    """The table and its filter; ``selection_changed(list of run numbers)``; under it, with
    one run selected, "Continue from here" at one of its kept epochs
    (``continue_requested(run, epoch)``)."""

    selection_changed = Signal(list)
    continue_requested = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs (any text: a setting, a parent, a number)")
        self.filter.setClearButtonEnabled(True)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.epoch_spin = QSpinBox()
        self.epoch_spin.setPrefix("epoch ")
        self.epoch_spin.setToolTip("An epoch of the selected run whose snapshot is kept")
        self.continue_button = QPushButton("Continue from here")
        self.continue_button.setToolTip(
            "Train on from the selected run's state after this epoch (weights, optimizer, "
            "random streams), as a new run; with unchanged settings it repeats the run"
        )
        self.continue_button.clicked.connect(self._continue)
        fork_row = QHBoxLayout()
        fork_row.setContentsMargins(0, 0, 0, 0)
        fork_row.addWidget(self.epoch_spin)
        fork_row.addWidget(self.continue_button, 1)
        self.fork_host = QWidget()
        self.fork_host.setLayout(fork_row)
        #: Two runs selected: their per-layer weight difference.
        self.compare = QLabel()
        self.compare.setWordWrap(True)
        self.compare.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare.setVisible(False)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.empty = QLabel(
            "No runs yet. Each nndesigner train (and, soon, each training here) is kept as a "
            "run: its settings, history and snapshots."
        )
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.fork_host)
        layout.addWidget(self.compare)
        layout.addWidget(self.summary)
        layout.addWidget(self.empty)
        self.rows: list[dict] = []
        #: run number -> the epochs whose snapshots are kept
        self.kept: dict[int, list[int]] = {}
        self.set_rows([], "")

    def set_rows(
        self, rows: list[dict], summary: str, kept: dict[int, list[int]] | None = None
    ) -> None:
        """Show ``rows`` (:meth:`engine.runs.RunStore.table`), keeping the selection; ``kept``:
        each run's epochs with a snapshot (what Continue from here may start from)."""
        keep = set(self.selected())
        self.rows = rows
        self.kept = dict(kept or {})
        self.table.setSortingEnabled(False)
        self.model.removeRows(0, self.model.rowCount())
        for r in rows:
            epochs = f"{r['epochs'][0]}–{r['epochs'][1]}" if r["epochs"] else "–"
            best = r["best"] or {}
            best_key = next((k for k in best if k != "epoch"), None)
            best_text = f"{_number(best[best_key])} @{best['epoch']}" if best_key else "–"
            changed = ", ".join(
                f"{k.split('.')[-1]}={value_text(v)}" for k, v in r["changed"].items()
            )
            final = r["final"]
            cells = [
                _Item(str(r["run"]), r["run"]),
                _Item(r["parent"] or "–"),
                _Item(changed or "–"),
                _Item(epochs, r["epochs"][1] if r["epochs"] else 0),
                _Item(best_text, best.get(best_key, math.inf) if best_key else math.inf),
                _Item(_number(final.get("loss")), final.get("loss", math.inf)),
                _Item(_number(final.get("val_loss")), final.get("val_loss", math.inf)),
                _Item(f"{r['duration_s']:.1f} s", r["duration_s"]),
                _Item(
                    str(r["snapshots"]) + (f" (−{r['thinned']})" if r["thinned"] else ""),
                    r["snapshots"],
                ),
            ]
            cells[0].setForeground(QColor(run_color(r["run"])))
            cells[2].setToolTip(
                "\n".join(f"{k}: {value_text(v)}" for k, v in r["changed"].items()) or "no change"
            )
            self.model.appendRow(cells)
        self.table.setSortingEnabled(True)
        self.summary.setText(summary)
        self.summary.setVisible(bool(rows))
        self.table.setVisible(bool(rows))
        self.filter.setVisible(bool(rows))
        self.empty.setVisible(not rows)
        if keep:
            self.select(sorted(keep & {r["run"] for r in rows}))
        self._sync_fork()

    def show_difference(self, a: int | None, b: int | None, rows: list[dict]) -> None:
        """The weight difference of runs ``a`` and ``b`` (:func:`engine.runs.weight_difference`),
        or nothing."""
        if a is None or not rows:
            self.compare.setVisible(False)
            return
        ea, eb = rows[0]["epochs"]
        lines = [f"Run {b} (epoch {eb}) against run {a} (epoch {ea}), ‖Δw‖ per weight:"]
        for r in rows:
            rel = "" if r["relative"] is None else f" ({100 * r['relative']:.1f} % of ‖w‖)"
            lines.append(f"{r['weight']}: {r['diff']:.4g}{rel}")
        self.compare.setText("\n".join(lines))
        self.compare.setVisible(True)

    def selected(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows(0) if self.table.selectionModel() else []
        return sorted(int(self.proxy.data(i, Qt.ItemDataRole.UserRole)) for i in rows)

    def select(self, numbers: list[int]) -> None:
        """Select the runs ``numbers`` (what the overlays then draw)."""
        sel = self.table.selectionModel()
        sel.clearSelection()
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if int(self.proxy.data(index, Qt.ItemDataRole.UserRole)) in numbers:
                sel.select(
                    index,
                    sel.SelectionFlag.Select | sel.SelectionFlag.Rows,
                )

    def _on_selection(self, *_args) -> None:
        self._sync_fork()
        self.selection_changed.emit(self.selected())

    def _sync_fork(self) -> None:
        chosen = self.selected()
        epochs = self.kept.get(chosen[0], []) if len(chosen) == 1 else []
        self.fork_host.setVisible(bool(epochs))
        if epochs:
            self.epoch_spin.setRange(min(epochs), max(epochs))
            if self.epoch_spin.value() not in epochs:
                self.epoch_spin.setValue(max(epochs))

    def _continue(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1:
            return
        epochs = self.kept.get(chosen[0], [])
        epoch = self.epoch_spin.value()
        if epoch not in epochs:  # a thinned epoch: the nearest kept one
            epoch = min(epochs, key=lambda e: (abs(e - epoch), e))
            self.epoch_spin.setValue(epoch)
        self.continue_requested.emit(chosen[0], epoch)
