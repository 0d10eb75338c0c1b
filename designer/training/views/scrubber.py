"""The timeline scrubber under the loss plot: a slider over the epochs of a run whose snapshots
are kept; dragging it asks for the views as they were after that epoch (``rewind(run,
epoch)``), "Now" brings them back to the model's own state (``rewind(None, None)``). The
plots mark the epoch shown with a vertical line."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget


class Scrubber(QWidget):
    """``rewind(run, epoch)``; ``rewind(-1, -1)`` for back to now."""

    rewind = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Drag to see every view as it was after that epoch")
        self.slider.setTracking(True)
        self.slider.valueChanged.connect(self._moved)
        self.label = QLabel()
        self.now_button = QPushButton("Now")
        self.now_button.setToolTip("Back to the model as it is")
        self.now_button.clicked.connect(self.back_to_now)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 2)
        row.addWidget(QLabel("Rewind"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        row.addWidget(self.now_button)
        self.run: int | None = None
        self.epochs: list[int] = []
        self.shown: int | None = None  # the epoch rewound to, or None (now)
        self.set_epochs(None, [])

    def set_epochs(self, run: int | None, epochs: list[int]) -> None:
        """The run and its kept epochs the slider moves over (none: hidden); the slider rests
        at the last (now)."""
        changed = (run, list(epochs)) != (self.run, self.epochs)
        self.run, self.epochs = run, list(epochs)
        self.setVisible(bool(epochs) and run is not None)
        if not changed:
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.epochs) - 1, 0))
        self.slider.setValue(max(len(self.epochs) - 1, 0))
        self.slider.blockSignals(False)
        self.shown = None
        self._label()

    def _label(self) -> None:
        if self.shown is None or self.run is None:
            self.label.setText("now")
            self.now_button.setEnabled(False)
        else:
            self.label.setText(f"run {self.run}, epoch {self.shown}")
            self.now_button.setEnabled(True)

    def _moved(self, index: int) -> None:
        if not self.epochs or self.run is None:
            return
        self.shown = self.epochs[index]
        self._label()
        self.rewind.emit(self.run, self.shown)

    def show_epoch(self, epoch: int) -> None:
        """Move to ``epoch`` (the nearest kept one) as a drag would."""
        if not self.epochs:
            return
        index = min(range(len(self.epochs)), key=lambda i: abs(self.epochs[i] - epoch))
        if index == self.slider.value():
            self._moved(index)
        else:
            self.slider.setValue(index)

    def back_to_now(self) -> None:
        self.shown = None
        self.slider.blockSignals(True)
        self.slider.setValue(max(len(self.epochs) - 1, 0))
        self.slider.blockSignals(False)
        self._label()
        self.rewind.emit(-1, -1)
