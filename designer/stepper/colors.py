"""The stepper's colours: a symmetric diverging map (red below zero, blue above, as in every
live view of the Train workspace: designer/training/colors.py) that reads on light and dark
themes, and a text colour that stays legible on any fill."""

from __future__ import annotations

import math

from PySide6.QtGui import QColor, QPalette

from designer.canvas.paint import blend, is_dark, palette

# ColorBrewer's RdBu ends (colour-blind safe), oriented as the Train workspace's views: blue is
# positive there (TensorFlow Playground's convention), so it is positive here too.
NEGATIVE = QColor("#b2182b")
POSITIVE = QColor("#2166ac")
PASS_COLOR = "#16a34a"
WARN_COLOR = "#d97706"
FAIL_COLOR = "#dc2626"
GRADE_COLORS = {"pass": PASS_COLOR, "warn": WARN_COLOR, "fail": FAIL_COLOR, "skipped": "#6b7280"}


def neutral() -> QColor:
    """The colour of zero: close to the canvas background."""
    pal = palette()
    return blend(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Window), 0.4)


def diverging(value: float | None, scale: float) -> QColor:
    """``value`` on a symmetric map from ``-scale`` (red) through 0 (neutral) to ``scale``
    (blue). None or NaN gives a muted grey."""
    if value is None or not math.isfinite(value):
        return blend(neutral(), palette().color(QPalette.ColorRole.Mid), 0.5)
    t = 0.0 if scale <= 0 else max(-1.0, min(1.0, value / scale))
    # A gamma below 1 makes small values visible without hiding the large ones.
    strength = abs(t) ** 0.7
    end = POSITIVE if t >= 0 else NEGATIVE
    if is_dark():
        end = blend(end, QColor("#ffffff"), 0.12)
    return blend(neutral(), end, strength)


def text_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill``."""
    r, g, b = fill.redF(), fill.greenF(), fill.blueF()
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("#111827") if lum > 0.5 else QColor("#f9fafb")


def rgb_hex(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)
