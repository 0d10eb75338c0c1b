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


#: Levels per side of :func:`diverging_rgb32`'s table (fine enough that no channel is off by
#: more than one step of 255 from :func:`diverging`, even where the gamma is steep near 0).
_LEVELS = 4096
_tables: dict[tuple, object] = {}


def _table(fade: float):
    """:func:`diverging` at ``2·_LEVELS + 1`` evenly spaced t in [−1, 1], as RGB32 pixels, for
    the current palette (made once per palette and fade)."""
    import numpy as np

    zero = neutral()
    key = (zero.rgb(), is_dark(), fade)
    table = _tables.get(key)
    if table is None:
        lo = np.array([zero.redF(), zero.greenF(), zero.blueF()])
        pos, neg = POSITIVE, NEGATIVE
        if is_dark():
            pos, neg = blend(pos, QColor("#ffffff"), 0.12), blend(neg, QColor("#ffffff"), 0.12)
        pos_rgb = np.array([pos.redF(), pos.greenF(), pos.blueF()])
        neg_rgb = np.array([neg.redF(), neg.greenF(), neg.blueF()])
        t = np.linspace(-1.0, 1.0, 2 * _LEVELS + 1)
        strength = (np.abs(t) ** 0.7)[:, None]
        end = np.where((t >= 0)[:, None], pos_rgb, neg_rgb)
        rgb = lo + (end - lo) * strength
        if fade:
            rgb = rgb + (lo - rgb) * fade
        c = np.rint(rgb * 255.0).astype(np.uint32)
        table = (0xFF000000 | (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).astype(np.uint32)
        if len(_tables) > 16:
            _tables.clear()
        _tables[key] = table
    return table


def diverging_rgb32(values, scale: float, fade: float = 0.0):
    """:func:`diverging` for a whole array at once (NumPy): ``uint32`` pixels ``0xffRRGGBB``
    of ``values``' shape, ready for a ``QImage.Format_RGB32``; ``fade`` moves every colour that
    fraction towards the neutral (as the view fades values not of the phase). NaN and
    infinities are grey. A table look-up: thousands of units (a convolution's feature maps)
    are coloured in well under a millisecond."""
    import numpy as np

    v = np.asarray(values, dtype=np.float32)
    table = _table(float(fade))
    finite = np.isfinite(v)
    if scale > 0:
        t = np.clip(np.where(finite, v, 0.0) * np.float32(_LEVELS / scale), -_LEVELS, _LEVELS)
        idx = np.rint(t).astype(np.intp) + _LEVELS
    else:
        idx = np.full(v.shape, _LEVELS, np.intp)
    out = table[idx]
    if not finite.all():
        grey = diverging(None, 1.0)
        out[~finite] = 0xFF000000 | (grey.rgb() & 0xFFFFFF)
    return out
