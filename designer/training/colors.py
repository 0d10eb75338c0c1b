"""Colours of the live views: a diverging map symmetric around 0 (TensorFlow Playground's
orange for negative, blue for positive), class colours, and NumPy helpers that turn arrays
into RGB images (one ImageItem then shows a whole mosaic)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from designer.plots.theme import background_color, is_dark

NEGATIVE = "#f59322"  # Playground's orange
POSITIVE = "#0877bd"  # Playground's blue
#: The colours of the target classes (labels): Playground's two for binary sets, then
#: matplotlib's tab10. (Layer types have their own colours: engine.layers, LayerType.color.)
LABEL_COLORS = [
    "#f59322",
    "#0877bd",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
WRONG = "#dc2626"


def _rgb(color: str | QColor) -> np.ndarray:
    c = QColor(color)
    return np.array([c.red(), c.green(), c.blue()], dtype=np.float64)


def neutral() -> np.ndarray:
    """The colour of 0: light grey on light themes, dark grey on dark ones."""
    return _rgb("#3a3a3a") if is_dark() else _rgb("#f4f4f4")


def diverging_lut(n: int = 256) -> np.ndarray:
    """(n, 3) uint8: orange (-1) through the neutral colour (0) to blue (+1)."""
    t = np.linspace(-1.0, 1.0, n)[:, None]
    neg, mid, pos = _rgb(NEGATIVE), neutral(), _rgb(POSITIVE)
    out = np.where(t < 0, mid + (neg - mid) * (-t), mid + (pos - mid) * t)
    return np.clip(out, 0, 255).astype(np.ubyte)


def diverging_colormap() -> pg.ColorMap:
    lut = diverging_lut(3)
    return pg.ColorMap(pos=[0.0, 0.5, 1.0], color=[tuple(int(v) for v in c) for c in lut])


def label_rgb(k: int) -> np.ndarray:
    """(k, 3) float colours of ``k`` classes."""
    return np.array([_rgb(LABEL_COLORS[i % len(LABEL_COLORS)]) for i in range(k)])


def label_qcolor(i: int, alpha: int = 255) -> QColor:
    c = QColor(LABEL_COLORS[i % len(LABEL_COLORS)])
    c.setAlpha(alpha)
    return c


def values_to_rgb(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Map values symmetric around 0 to RGB (uint8, shape ``values.shape + (3,)``).

    ``scale`` is the magnitude shown at full colour (default: the largest |value|).
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if scale is None:
        scale = float(np.max(np.abs(v[finite]))) if finite.any() else 1.0
    scale = scale if scale > 0 else 1.0
    t = np.clip(np.where(finite, v, 0.0) / scale, -1.0, 1.0)
    lut = diverging_lut(256)
    return lut[np.round((t + 1.0) * 127.5).astype(np.int64)]


def probabilities_to_rgb(probs: np.ndarray, lighten: float = 0.45) -> np.ndarray:
    """(..., k) class probabilities to RGB: each class colour weighted by its probability,
    faded towards the background (so that the data points on top stand out) where the model
    is unsure."""
    p = np.asarray(probs, dtype=np.float64)
    k = p.shape[-1]
    colors = label_rgb(max(k, 2))[:k]
    rgb = p @ colors
    conf = p.max(axis=-1, keepdims=True)
    bg = _rgb(background_color())
    # Sure regions keep more colour; 50/50 regions fade most.
    keep = (1.0 - lighten) * (0.55 + 0.45 * (conf - 1.0 / k) / max(1e-9, 1.0 - 1.0 / k))
    out = bg + (rgb - bg) * keep
    return np.clip(out, 0, 255).astype(np.ubyte)


def mosaic(
    tiles: np.ndarray,
    columns: int,
    gap: int = 1,
    fill: np.ndarray | None = None,
) -> np.ndarray:
    """Arrange RGB tiles (n, h, w, 3) in a grid with ``gap`` pixels between them.

    Returns (rows*(h+gap)-gap, columns*(w+gap)-gap, 3) uint8, row-major (row = top to bottom).
    """
    n, h, w = tiles.shape[:3]
    rows = max(1, -(-n // columns))
    H, W = rows * (h + gap) - gap, columns * (w + gap) - gap
    out = np.empty((H, W, 3), dtype=np.ubyte)
    out[:] = _rgb(background_color()).astype(np.ubyte) if fill is None else fill
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = r * (h + gap), c * (w + gap)
        out[y : y + h, x : x + w] = tiles[i]
    return out


def grid_columns(n: int, aspect: float = 1.6) -> int:
    """Columns of a near-``aspect`` grid of ``n`` tiles."""
    return max(1, int(np.ceil(np.sqrt(n * aspect))))
