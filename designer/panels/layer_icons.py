"""Layer-type icons drawn with QPainter (no bitmap files), crisp at any size and pixel ratio.

Each icon is a rounded tile in the layer's colour with a white glyph: Dense a fully connected
pair of columns, Dropout a column with dropped units, Activation a sigmoid curve, Flatten a grid
becoming a bar, Add a plus, Concatenate two bars joining, InputLayer an arrow. Unknown types get
their initial.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

LAYER_COLORS: dict[str, str] = {
    "Dense": "#3b78c9",
    "Dropout": "#d9822b",
    "Activation": "#8e5bc8",
    "Flatten": "#2a9d8f",
    "Add": "#3f9a4a",
    "Concatenate": "#5f8f3a",
    "InputLayer": "#64748b",
}
_FALLBACK_COLOR = "#6b7280"
# Pixel sizes drawn into each icon; QIcon picks the nearest one for size x devicePixelRatio.
_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128)
_cache: dict[str, QIcon] = {}


def layer_color(class_name: str) -> QColor:
    """The colour that stands for a layer type (palette tiles, canvas blocks)."""
    return QColor(LAYER_COLORS.get(class_name, _FALLBACK_COLOR))


def layer_icon(class_name: str) -> QIcon:
    """The icon of a layer type, drawn at several pixel sizes (cached)."""
    icon = _cache.get(class_name)
    if icon is None:
        icon = QIcon()
        for size in _SIZES:
            icon.addPixmap(layer_pixmap(class_name, size))
        _cache[class_name] = icon
    return icon


def layer_pixmap(class_name: str, size: int, device_pixel_ratio: float = 1.0) -> QPixmap:
    """The icon drawn at ``size`` logical pixels for a screen of ``device_pixel_ratio``."""
    px = max(1, round(size * device_pixel_ratio))
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    paint_layer_glyph(painter, QRectF(0, 0, px, px), class_name)
    painter.end()
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    return pixmap


def paint_layer_glyph(painter: QPainter, rect: QRectF, class_name: str) -> None:
    """Paint the tile and glyph of ``class_name`` into ``rect`` (any painter, any scale)."""
    s = min(rect.width(), rect.height())
    r = QRectF(rect.x() + (rect.width() - s) / 2, rect.y() + (rect.height() - s) / 2, s, s)
    inset = s * 0.04
    tile = r.adjusted(inset, inset, -inset, -inset)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(layer_color(class_name))
    painter.drawRoundedRect(tile, s * 0.2, s * 0.2)

    def p(x: float, y: float) -> QPointF:  # coordinates in 0..1 of the tile
        return QPointF(tile.x() + x * tile.width(), tile.y() + y * tile.height())

    white = QColor("white")
    line = QPen(
        white,
        max(1.0, s * 0.065),
        Qt.PenStyle.SolidLine,
        Qt.PenCapStyle.RoundCap,
        Qt.PenJoinStyle.RoundJoin,
    )
    thin = QPen(QColor(255, 255, 255, 170), max(0.8, s * 0.035))
    dot = s * 0.075

    def node(x: float, y: float, filled: bool = True) -> None:
        painter.setPen(QPen(white, max(1.0, s * 0.045)) if not filled else Qt.PenStyle.NoPen)
        painter.setBrush(white if filled else Qt.BrushStyle.NoBrush)
        painter.drawEllipse(p(x, y), dot, dot)

    if class_name == "Dense":
        left, right = (0.3, 0.5, 0.7), (0.38, 0.62)
        painter.setPen(thin)
        for a in left:
            for b in right:
                painter.drawLine(p(0.3, a), p(0.7, b))
        for a in left:
            node(0.3, a)
        for b in right:
            node(0.7, b)
    elif class_name == "Dropout":
        for i, y in enumerate((0.22, 0.41, 0.59, 0.78)):
            for j, x in enumerate((0.33, 0.67)):
                node(x, y, filled=(i + j) % 3 != 1)
    elif class_name == "Activation":
        path = QPainterPath(p(0.18, 0.74))
        path.cubicTo(p(0.5, 0.74), p(0.5, 0.26), p(0.82, 0.26))
        painter.setPen(QPen(QColor(255, 255, 255, 110), max(0.8, s * 0.03)))
        painter.drawLine(p(0.15, 0.5), p(0.85, 0.5))
        painter.setPen(line)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
    elif class_name == "Flatten":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(white)
        c = s * 0.085
        for i in range(3):
            for j in range(3):
                corner = p(0.2 + j * 0.11, 0.3 + i * 0.14)
                painter.drawRect(QRectF(corner.x(), corner.y(), c, c))
        painter.setPen(line)
        painter.drawLine(p(0.58, 0.5), p(0.62, 0.5))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(QRectF(p(0.68, 0.22), p(0.8, 0.78)), s * 0.03, s * 0.03)
    elif class_name == "Add":
        painter.setPen(line)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(p(0.5, 0.5), s * 0.26, s * 0.26)
        painter.drawLine(p(0.5, 0.36), p(0.5, 0.64))
        painter.drawLine(p(0.36, 0.5), p(0.64, 0.5))
    elif class_name == "Concatenate":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(white)
        w = 0.1
        painter.drawRoundedRect(QRectF(p(0.2, 0.2), p(0.2 + w, 0.46)), s * 0.02, s * 0.02)
        painter.drawRoundedRect(QRectF(p(0.2, 0.54), p(0.2 + w, 0.8)), s * 0.02, s * 0.02)
        painter.drawRoundedRect(QRectF(p(0.7, 0.2), p(0.7 + w, 0.8)), s * 0.02, s * 0.02)
        painter.setPen(line)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawLine(p(0.38, 0.33), p(0.6, 0.45))
        painter.drawLine(p(0.38, 0.67), p(0.6, 0.55))
    elif class_name == "InputLayer":
        painter.setPen(line)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawLine(p(0.22, 0.5), p(0.62, 0.5))
        painter.drawPolyline([p(0.48, 0.34), p(0.64, 0.5), p(0.48, 0.66)])
        painter.drawLine(p(0.76, 0.26), p(0.76, 0.74))
    else:
        font = QFont()
        font.setPixelSize(max(1, int(s * 0.5)))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(white)
        painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, (class_name or "?")[:1].upper())
    painter.restore()
