"""Widgets that fit small docks: a one-line label that elides (the whole text in its tooltip)
and a box that keeps its one child square and centred.

A panel's minimum size becomes the window's (issue 13: a long "best val_loss … · best
loss …" line raised the window's minimum width past the screen): these never ask for more
than a few characters or a small square.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A plain-text, one-line QLabel that draws ``…`` where its text does not fit, with the
    full text as its tooltip. Its minimum width is a few characters, whatever the text."""

    def __init__(self, text: str = "", parent: QWidget | None = None, min_chars: int = 6) -> None:
        super().__init__(parent)
        self._min_chars = min_chars
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # Qt override: keep the tooltip in step
        super().setText(text)
        self.setToolTip(text if text else "")

    def elided_text(self) -> str:
        """The text as drawn at the current width."""
        m = QFontMetrics(self.font())
        return m.elidedText(
            self.text(), Qt.TextElideMode.ElideRight, max(self.contentsRect().width(), 1)
        )

    def is_elided(self) -> bool:
        return self.elided_text() != self.text()

    def minimumSizeHint(self) -> QSize:  # Qt override
        m = QFontMetrics(self.font())
        return QSize(m.averageCharWidth() * self._min_chars, m.height())

    def sizeHint(self) -> QSize:  # Qt override
        m = QFontMetrics(self.font())
        return QSize(m.horizontalAdvance(self.text()) + 4, m.height())

    def paintEvent(self, event) -> None:  # Qt override
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            self.contentsRect(),
            int(self.alignment() | Qt.AlignmentFlag.AlignVCenter),
            self.elided_text(),
        )


class SquareBox(QWidget):
    """Holds one widget, kept square (the largest that fits) and centred in the box."""

    def __init__(self, child: QWidget, minimum: int = 120, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.child = child
        self._minimum = minimum
        child.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def minimumSizeHint(self) -> QSize:  # Qt override
        return QSize(self._minimum, self._minimum)

    def sizeHint(self) -> QSize:  # Qt override
        return QSize(320, 320)

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        side = max(1, min(self.width(), self.height()))
        self.child.setGeometry((self.width() - side) // 2, (self.height() - side) // 2, side, side)
