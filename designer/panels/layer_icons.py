"""Layer-type icons drawn with QPainter (no bitmap files), crisp at any size and pixel ratio.

Each icon is a rounded tile in the layer type's ``color`` with its ``glyph`` drawn in white on
top (:class:`engine.layers.Stroke` elements in the tile's unit square; see
:mod:`engine.layers.base`). The model input has a look of its own (``INPUT_COLOR``,
``INPUT_GLYPH``). A type with no glyph, or one the registry does not know, gets its initial.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

from engine.layers import (
    INPUT_CLASS_NAME,
    INPUT_COLOR,
    INPUT_GLYPH,
    LAYER_TYPES,
    LayerType,
    Stroke,
)

# Pixel sizes drawn into each icon; QIcon picks the nearest one for size x devicePixelRatio.
_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128)
_cache: dict[str, QIcon] = {}


@dataclass(frozen=True)
class _Weight:
    """A stroke weight: white at ``alpha``, lines ``width`` x the icon side (at least
    ``min_width`` pixels, so that small icons stay legible)."""

    alpha: int
    width: float
    min_width: float
    round_caps: bool = False


_WEIGHTS = {
    "bold": _Weight(255, 0.065, 1.0, round_caps=True),  # the glyph's main pen
    "thin": _Weight(170, 0.035, 0.8),
    "faint": _Weight(110, 0.03, 0.8),
}
# The stroke kinds of engine.layers.Stroke this painter draws, with how many points each takes
# (None: two or more).
STROKE_POINTS: dict[str, int | None] = {
    "line": 2,
    "polyline": None,
    "curve": 4,
    "dot": 1,
    "circle": 1,
    "box": 2,
}
STROKE_WEIGHTS = tuple(_WEIGHTS)
# The outline of an unfilled dot (a dropped unit), thinner than a bold line.
_OUTLINE_WIDTH = 0.045
# The tile sits this fraction of the side inside the icon; its corners are rounded by RADIUS.
_INSET = 0.04
_RADIUS = 0.2


def layer_color(class_name: str) -> QColor:
    """The colour that stands for a layer type (palette tiles, canvas blocks, summary icons):
    the registry's ``color``, the model input's ``INPUT_COLOR``, else the base default."""
    ltype = LAYER_TYPES.get(class_name)
    if ltype is not None:
        return QColor(ltype.color)
    return QColor(INPUT_COLOR if class_name == INPUT_CLASS_NAME else LayerType.color)


def layer_glyph(class_name: str) -> tuple[Stroke, ...]:
    """The strokes of a layer type's glyph (empty for a type the registry does not know)."""
    ltype = LAYER_TYPES.get(class_name)
    if ltype is not None:
        return tuple(ltype.glyph)
    return INPUT_GLYPH if class_name == INPUT_CLASS_NAME else ()


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
    inset = s * _INSET
    tile = r.adjusted(inset, inset, -inset, -inset)
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(layer_color(class_name))
    painter.drawRoundedRect(tile, s * _RADIUS, s * _RADIUS)
    glyph = layer_glyph(class_name)
    if glyph:
        for stroke in glyph:
            _paint_stroke(painter, tile, s, stroke)
    else:
        font = QFont()
        font.setPixelSize(max(1, int(s * 0.5)))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, (class_name or "?")[:1].upper())
    painter.restore()


def _paint_stroke(painter: QPainter, tile: QRectF, s: float, stroke: Stroke) -> None:
    """One glyph element: points in the tile's unit square, ``size`` relative to the side
    ``s`` of the icon (a dot's radius of 0.075 is 7.5 % of the icon)."""

    def p(xy: tuple[float, float]) -> QPointF:
        return QPointF(tile.x() + xy[0] * tile.width(), tile.y() + xy[1] * tile.height())

    weight = _WEIGHTS.get(stroke.weight, _WEIGHTS["bold"])
    color = QColor(255, 255, 255, weight.alpha)
    pen = QPen(color, max(weight.min_width, s * weight.width))
    if weight.round_caps:
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    points = [p(xy) for xy in stroke.points]
    kind = stroke.kind
    if kind == "dot":
        radius = s * stroke.size
        if stroke.filled:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
        else:
            painter.setPen(QPen(color, max(1.0, s * _OUTLINE_WIDTH)))
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(points[0], radius, radius)
    elif kind == "box":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        box = QRectF(points[0], points[1])
        if stroke.size > 0:
            painter.drawRoundedRect(box, s * stroke.size, s * stroke.size)
        else:
            painter.drawRect(box)
    else:
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if kind == "line":
            painter.drawLine(points[0], points[1])
        elif kind == "polyline":
            painter.drawPolyline(points)
        elif kind == "curve":
            path = QPainterPath(points[0])
            path.cubicTo(points[1], points[2], points[3])
            painter.drawPath(path)
        elif kind == "circle":
            painter.drawEllipse(points[0], s * stroke.size, s * stroke.size)
