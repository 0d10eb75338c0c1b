"""Tiny vector glyphs of activation functions, drawn on layer blocks (no bitmaps: crisp at any
zoom and on high-DPI screens)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

from engine.activations import get_activation

GLYPH_RANGE = 3.0
_SAMPLES = 61


@lru_cache(maxsize=64)
def _curve(name: str) -> tuple[tuple[tuple[float, float], ...], float] | None:
    """Points of ``f`` over [-3, 3] normalised into the unit square (y up) and the height of
    ``f = 0`` in it, or None for an activation that is not a function of one number (softmax)."""
    try:
        act = get_activation(name)
    except KeyError:
        return None
    if name == "softmax":
        return None
    z = np.linspace(-GLYPH_RANGE, GLYPH_RANGE, _SAMPLES)
    if act.elementwise:
        a = act.forward(z[:, None])[:, 0]
    else:  # log_softmax: its first output over [z, 0], as the Inspector's plot draws it
        a = act.forward(np.stack([z, np.zeros_like(z)], axis=-1))[:, 0]
    lo, hi = float(min(a.min(), 0.0)), float(max(a.max(), 0.0))
    if hi - lo < 1e-9:
        hi, lo = lo + 1.0, lo - 1.0
    xs = (z + GLYPH_RANGE) / (2 * GLYPH_RANGE)
    ys = (a - lo) / (hi - lo)
    points = tuple((float(x), float(y)) for x, y in zip(xs, ys, strict=True))
    return points, (0.0 - lo) / (hi - lo)


def activation_path(name: str | None, rect: QRectF) -> QPainterPath:
    """The glyph of activation ``name`` fitted into ``rect`` (scene/item coordinates).

    An elementwise activation is a polyline of ``f`` over [-3, 3]; softmax, which maps a vector
    to a distribution, is drawn as a few bars of ``softmax([2, 1, 0.1, 1.5])``.
    """
    path = QPainterPath()
    curve = _curve(name or "linear")
    if curve is None:
        probs = get_activation("softmax").forward(np.array([[0.6, 2.0, 0.1, 1.2]]))[0]
        n = len(probs)
        gap = rect.width() * 0.08
        bar_w = (rect.width() - gap * (n - 1)) / n
        top = float(probs.max())
        for i, p in enumerate(probs):
            h = rect.height() * float(p) / top
            path.addRect(QRectF(rect.left() + i * (bar_w + gap), rect.bottom() - h, bar_w, h))
        return path
    for i, (x, y) in enumerate(curve[0]):
        p = QPointF(rect.left() + x * rect.width(), rect.bottom() - y * rect.height())
        if i == 0:
            path.moveTo(p)
        else:
            path.lineTo(p)
    return path


def axes_path(name: str | None, rect: QRectF) -> QPainterPath:
    """Faint axes for the glyph: the x axis at f = 0 and the y axis at z = 0."""
    path = QPainterPath()
    curve = _curve(name or "linear")
    if curve is None:
        path.moveTo(rect.bottomLeft())
        path.lineTo(rect.bottomRight())
        return path
    x0 = rect.center().x()
    y0 = rect.bottom() - curve[1] * rect.height()
    path.moveTo(QPointF(rect.left(), y0))
    path.lineTo(QPointF(rect.right(), y0))
    path.moveTo(QPointF(x0, rect.top()))
    path.lineTo(QPointF(x0, rect.bottom()))
    return path
