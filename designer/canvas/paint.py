"""Painting helpers shared by the network canvas and the Backprop view: palette colours, colour
mixing, the scaled application font and hover highlighting."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication


def palette() -> QPalette:
    return QApplication.palette()


def is_dark() -> bool:
    return palette().color(QPalette.ColorRole.Base).lightnessF() < 0.5


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        1.0,
    )


def with_alpha(c: QColor, alpha: float) -> QColor:
    out = QColor(c)
    out.setAlphaF(alpha)
    return out


def font(scale: float = 1.0, bold: bool = False, unsized: float = 9.0) -> QFont:
    """The application font at ``scale`` times its point size (at least 9 pt before scaling);
    ``unsized`` stands in for the size of an application font that has no point size."""
    font = QFont(QApplication.font())
    size = font.pointSizeF()
    if size <= 0:
        size = unsized
    font.setPointSizeF(max(size, 9.0) * scale)
    font.setBold(bold)
    return font


class HoverHighlight:
    """Mixin for a graphics item drawn highlighted while the mouse is over it: the hover
    events set the flag named by ``hover_flag`` (``_hover`` by default) and repaint.

    List it before the Qt item class, and call ``setAcceptHoverEvents(True)``.
    """

    hover_flag = "_hover"

    def hoverEnterEvent(self, event) -> None:  # Qt override
        setattr(self, self.hover_flag, True)
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # Qt override
        setattr(self, self.hover_flag, False)
        self.update()
