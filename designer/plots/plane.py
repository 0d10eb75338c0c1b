"""The chooser of a plane through many-feature data: two features, or the first two principal
components. One widget serves the Dataset panel's scatter and the decision-boundary view, so
both offer the same choice in the same words (each shows the choice it is told, and says what
the user picked with ``chosen``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget


class PlanePicker(QWidget):
    """``[Two features | Principal components] [x feature] vs [y feature]``.

    Signals
    -------
    chosen(dict)
        The user picked another plane: ``{"kind": "features", "features": [i, j]}`` (two
        different features; picking the other box's feature swaps them along) or
        ``{"kind": "pca"}``. Never emitted by :meth:`show_choice` or :meth:`set_features`.
    """

    chosen = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plane_combo = QComboBox()
        self.plane_combo.addItem("Two features", "features")
        self.plane_combo.addItem("Principal components", "pca")
        self.plane_combo.setToolTip(
            "The plane the data is drawn on: two chosen features (for the decision boundary, "
            "every other feature held at its training mean), or the first two principal "
            "components of the inputs"
        )
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        # Narrow docks: the combos may shrink to a few characters (the list shows the whole
        # names), so that the row never widens its dock past ~300 px.
        for combo, chars in ((self.plane_combo, 5), (self.x_combo, 3), (self.y_combo, 3)):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(chars)
        self.x_combo.setToolTip("Feature along x")
        self.y_combo.setToolTip("Feature along y")
        self.vs_label = QLabel("vs")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.plane_combo)
        row.addWidget(self.x_combo, 1)
        row.addWidget(self.vs_label)
        row.addWidget(self.y_combo, 1)
        self._choice: dict[str, Any] = {"kind": "features", "features": [0, 1]}
        self._syncing = False
        for combo in (self.plane_combo, self.x_combo, self.y_combo):
            combo.currentIndexChanged.connect(self._on_changed)

    @property
    def choice(self) -> dict[str, Any]:
        """The plane shown (a copy)."""
        return dict(self._choice)

    def set_features(self, names: list[str]) -> None:
        """The features to choose from (fewer than two: nothing to choose)."""
        self._syncing = True
        try:
            for combo in (self.x_combo, self.y_combo):
                if [combo.itemText(i) for i in range(combo.count())] != names:
                    combo.clear()
                    combo.addItems(names)
        finally:
            self._syncing = False
        self.show_choice(self._choice)

    def show_choice(self, choice: dict[str, Any]) -> None:
        """Show ``choice`` (as :attr:`chosen` describes it) without emitting anything."""
        self._choice = dict(choice)
        pca = choice.get("kind") == "pca"
        enough = self.x_combo.count() >= 2
        self._syncing = True
        try:
            for combo, j in zip(
                (self.x_combo, self.y_combo), choice.get("features", [0, 1]), strict=True
            ):
                combo.setCurrentIndex(j if not pca and j < combo.count() else -1)
            self.plane_combo.setCurrentIndex(1 if pca else 0)
        finally:
            self._syncing = False
        self.plane_combo.setEnabled(enough)
        for w in (self.x_combo, self.vs_label, self.y_combo):
            w.setVisible(not pca)
            w.setEnabled(enough)

    def _on_changed(self, _index: int) -> None:
        if self._syncing:
            return
        if self.plane_combo.currentData() == "pca":
            choice: dict[str, Any] = {"kind": "pca"}
        else:
            current = self._choice.get("features", [0, 1])
            i, j = self.x_combo.currentIndex(), self.y_combo.currentIndex()
            if i < 0 or j < 0:
                i, j = current
            n = self.x_combo.count()
            if i == j and n >= 2:  # keep two different features: move the other one along
                if self.sender() is self.x_combo:
                    j = current[0] if current[0] != i else (i + 1) % n
                else:
                    i = current[1] if current[1] != j else (j + 1) % n
            choice = {"kind": "features", "features": [int(i), int(j)]}
        if choice != self._choice:
            self.show_choice(choice)
            self.chosen.emit(dict(choice))
