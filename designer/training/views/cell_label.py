"""Text labels at fixed pixel size anchored to points of a plot (the confusion matrix's
counts, the prediction grid's classes), and their removal."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor, QFont, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSimpleTextItem


class CellLabel(QGraphicsSimpleTextItem):
    """A text label at a point of a plot, drawn at a fixed pixel size and anchored (0..1 of its
    width/height). Plain Qt: pyqtgraph's TextItem re-maps itself on every view change, and a
    confusion matrix needs a hundred of them."""

    def __init__(self, anchor: tuple[float, float] = (0.5, 0.5), font: QFont | None = None):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self._anchor = anchor
        if font is not None:
            self.setFont(font)

    def set_text(self, text: str, color=None) -> None:
        if text != self.text():
            self.setText(text)
            r = self.boundingRect()
            self.setTransform(
                QTransform.fromTranslate(
                    -r.width() * self._anchor[0], -r.height() * self._anchor[1]
                )
            )
        if color is not None:
            self.setBrush(QBrush(QColor(color)))


def drop_labels(labels: list[CellLabel]) -> None:
    for t in labels:
        scene = t.scene()
        t.setParentItem(None)
        if scene is not None:
            scene.removeItem(t)
