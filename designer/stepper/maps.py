"""Backprop mode's image layers: a layer whose output is an image (height, width, channels),
and the model input when it is one, is drawn as its **feature maps**, one small image per
channel in a grid, instead of unit by unit.

The maps show the stepped sample's activations ``a`` in the forward pass and its errors
(``δ = ∂L/∂z``, or ``∂L/∂a`` where the layer has no z) in the backward pass, on the view's
diverging map (blue positive, red negative), one symmetric scale for all the layer's channels
so that they compare. In the update phases a layer with a ``filter_weight`` (Conv2D's
``kernel``, shaped (rows, columns, input channels, filters)) shows its **filters** in the maps'
place, one image per filter in three panels: the weights before the step, after its update and
the change Δw (after and Δw once the layer's update is reached); before and after share one
colour scale, Δw has its own. Where a filter has several input channels the images
show its **first input channel** (the caption says which; hovering a filter pixel lists the
value of every channel): a picked pixel is then exactly the entry explained.

Clicking a map pixel picks the unit (h, w, c) (its flat index in the layer's output, as the
view's other items); clicking a filter pixel picks the weight entry (i, j, 0, f). Pixels are
coloured with NumPy (:func:`~designer.stepper.colors.diverging_rgb32`) into one QImage per
tile, so that a phase of a LeNet-sized network draws in a few milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QGraphicsItem, QWidget

from designer.canvas.paint import blend, font, palette
from designer.stepper.colors import diverging_rgb32, neutral

#: The most channels (and filters) drawn; the caption says when there are more.
MAPS_MAX = 64
#: The side a feature map tile aims at, and the most a grid of them may be tall.
TILE_TARGET = 80.0
COLUMN_MAX_H = 600.0
COLUMN_MAX_W = 260.0
MIN_TILE = 40.0
FILTER_TARGET = 36.0
#: Filters stacked smaller than this are laid side by side instead.
FILTER_MIN = 14.0
GAP = 6.0
FILTER_GAP = 3.0
PANEL_GAP = 10.0
BLOCK_GAP = 12.0
#: Tiles at least this wide are numbered (c1, c2, ...) above.
LABEL_MIN_W = 26.0
FILTER_PANELS = ("before", "after", "Δw")


def _small_font() -> QFont:
    return font(0.85, unsized=10.0)


def grid_columns(count: int) -> int:
    """Filters per row of a filter panel: up to 4 in a column (two abreast from 3), more in a
    square (the three panels are stacked)."""
    if count <= 2:
        return 1
    if count <= 4:
        return 2
    return math.ceil(math.sqrt(count))


def to_image(pixels: np.ndarray) -> QImage:
    """An RGB32 QImage (owning its memory) of ``pixels`` (uint32, rows × columns)."""
    arr = np.ascontiguousarray(pixels, dtype=np.uint32)
    h, w = arr.shape
    return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


class MapsItem(QGraphicsItem):
    """The feature maps of one image layer (and its filters when it has a filter weight).

    Item coordinates are centred on (0, 0), as the view's other column items.
    """

    def __init__(
        self,
        view,
        layer: str,
        shape: tuple[int, int, int],
        hue: QColor,
        filter_shape: tuple[int, int, int, int] | None = None,
        filter_weight: str | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.layer = layer
        self.map_shape = tuple(int(d) for d in shape)
        self.hue = hue
        h, w, c = self.map_shape
        self.channels = c
        self.shown = min(c, MAPS_MAX)
        metrics = QFontMetricsF(_small_font())
        self.label_h = metrics.height()
        # As many rows as fit tiles of MIN_TILE in the column's height: a network drawn left
        # to right runs out of width first, so its columns are better tall than wide.
        rows_max = max(1, int((COLUMN_MAX_H + GAP) // (MIN_TILE + self.label_h + GAP)))
        self.cols = max(1, -(-self.shown // rows_max))
        self.rows = -(-self.shown // self.cols)
        # The pixel size: tiles near TILE_TARGET, the grid no taller than COLUMN_MAX_H and no
        # wider than COLUMN_MAX_W (a network drawn left to right fits its width first).
        px = TILE_TARGET / max(h, w)
        px = min(px, (COLUMN_MAX_H - (self.rows - 1) * GAP) / self.rows / (h + 1))
        px = min(px, (COLUMN_MAX_W - (self.cols - 1) * GAP) / self.cols / w)
        self.px = float(math.floor(px)) if px >= 1 else px
        self.tile_w, self.tile_h = w * self.px, h * self.px
        self.labelled = self.tile_w >= LABEL_MIN_W
        lab = self.label_h if self.labelled else 0.0
        self.grid_w = self.cols * self.tile_w + (self.cols - 1) * GAP
        self.grid_h = self.rows * (lab + self.tile_h) + (self.rows - 1) * GAP

        self.filter_weight = filter_weight
        self.filter_shape = tuple(int(d) for d in filter_shape) if filter_shape else None
        self.block_w = self.block_h = 0.0
        self.stacked = False
        if self.filter_shape is not None:
            kh, kw, _cin, nf = self.filter_shape
            self.f_shown = min(nf, MAPS_MAX)
            self.f_cols = grid_columns(self.f_shown)
            self.f_rows = -(-self.f_shown // self.f_cols)
            caption_w = max(metrics.horizontalAdvance(t) for t in self._filter_caption())
            self.caption_h = 3 * self.label_h + 4
            # The three panels stacked (narrow: the network is drawn left to right), their
            # filters as large as FILTER_TARGET allows within the column's height; side by side
            # when stacked they would be too small to read.
            room = max(COLUMN_MAX_H, self.grid_h) - self.caption_h - 2 * PANEL_GAP
            fit = ((room / 3 - self.label_h) - (self.f_rows - 1) * FILTER_GAP) / self.f_rows
            fpx = min(FILTER_TARGET, fit) / max(kh, kw)
            self.stacked = fpx * max(kh, kw) >= FILTER_MIN
            if not self.stacked:
                fpx = FILTER_TARGET / max(kh, kw)
            self.fpx = float(math.floor(fpx)) if fpx >= 1 else fpx
            self.ftile_w, self.ftile_h = kw * self.fpx, kh * self.fpx
            self.panel_w = self.f_cols * self.ftile_w + (self.f_cols - 1) * FILTER_GAP
            self.panel_h = self.f_rows * self.ftile_h + (self.f_rows - 1) * FILTER_GAP
            if self.stacked:
                bw = self.panel_w
                bh = 3 * (self.label_h + self.panel_h) + 2 * PANEL_GAP
            else:
                bw = 3 * self.panel_w + 2 * PANEL_GAP
                bh = self.label_h + self.panel_h
            self.block_w, self.block_h = max(bw, caption_w), bh + self.caption_h
        self.width = max(self.grid_w, self.block_w)
        self.height = max(self.grid_h, self.block_h)
        #: What is drawn: the feature maps ("maps") or, in the update, the filters.
        self.showing = "maps"

        self.values: np.ndarray | None = None  # (h, w, c) of the sample shown
        self.scale = 1.0
        self._tiles: list[QImage] = []
        self._filters: list[list[QImage | None]] = [[], [], []]
        self.filter_scales: tuple[float, float] = (1.0, 1.0)
        self.pinned_unit: int | None = None
        self.pinned_weight: tuple[int, ...] | None = None
        self.hover: tuple | None = None
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(3)

    # ------------------------------------------------------------------ geometry
    @property
    def half_width(self) -> float:
        return self.width / 2

    @property
    def half_height(self) -> float:
        return self.height / 2

    def boundingRect(self) -> QRectF:  # Qt override
        return QRectF(-self.half_width - 3, -self.half_height - 3, self.width + 6, self.height + 6)

    def tile_rect(self, channel: int) -> QRectF:
        """Where channel ``channel``'s map is drawn (item coordinates)."""
        lab = self.label_h if self.labelled else 0.0
        r, c = divmod(channel, self.cols)
        left = -self.grid_w / 2 + c * (self.tile_w + GAP)
        top = -self.grid_h / 2 + r * (lab + self.tile_h + GAP) + lab
        return QRectF(left, top, self.tile_w, self.tile_h)

    def _block_top(self) -> float:
        return -self.block_h / 2

    def panel_origin(self, panel: int) -> QPointF:
        """The top left of panel ``panel``'s filters (below its name)."""
        top = self._block_top() + self.caption_h + self.label_h
        if self.stacked:
            return QPointF(
                -self.panel_w / 2, top + panel * (self.label_h + self.panel_h + PANEL_GAP)
            )
        left = -(3 * self.panel_w + 2 * PANEL_GAP) / 2
        return QPointF(left + panel * (self.panel_w + PANEL_GAP), top)

    def filter_rect(self, panel: int, f: int) -> QRectF:
        """Where filter ``f`` is drawn in panel ``panel`` (0 before, 1 after, 2 Δw)."""
        r, c = divmod(f, self.f_cols)
        o = self.panel_origin(panel)
        left = o.x() + c * (self.ftile_w + FILTER_GAP)
        top = o.y() + r * (self.ftile_h + FILTER_GAP)
        return QRectF(left, top, self.ftile_w, self.ftile_h)

    def _filter_caption(self) -> list[str]:
        kh, kw, cin, nf = self.filter_shape
        more = f" (first {self.f_shown})" if nf > self.f_shown else ""
        scales = getattr(self, "filter_scales", None)
        w = f"w ±{_short(scales[0])} · Δw ±{_short(scales[1])}" if scales else "w ±8.88 · Δw ±8.88"
        return [
            f"{nf} filters {kh}×{kw}{more}",
            f"input channel 1 of {cin}" if cin > 1 else "one input channel",
            w,
        ]

    def unit_of(self, h: int, w: int, c: int) -> int:
        return int(np.ravel_multi_index((h, w, c), self.map_shape))

    def pixel_center(self, unit: int) -> QPointF:
        h, w, c = (int(i) for i in np.unravel_index(int(unit), self.map_shape))
        rect = self.tile_rect(c)
        return QPointF(rect.left() + (w + 0.5) * self.px, rect.top() + (h + 0.5) * self.px)

    def hit(self, pos: QPointF) -> tuple | None:
        """What is under ``pos``: ``("unit", flat index)``, ``("weight", panel, (i, j, 0,
        f))`` or None."""
        for ch in range(self.shown if self.showing == "maps" else 0):
            rect = self.tile_rect(ch)
            if rect.contains(pos):
                w = min(int((pos.x() - rect.left()) / self.px), self.map_shape[1] - 1)
                h = min(int((pos.y() - rect.top()) / self.px), self.map_shape[0] - 1)
                return ("unit", self.unit_of(h, w, ch))
        if self.filter_shape is not None and self.showing == "filters":
            kh, kw = self.filter_shape[:2]
            for panel in range(3):
                for f in range(self.f_shown):
                    rect = self.filter_rect(panel, f)
                    if rect.contains(pos):
                        j = min(int((pos.x() - rect.left()) / self.fpx), kw - 1)
                        i = min(int((pos.y() - rect.top()) / self.fpx), kh - 1)
                        return ("weight", panel, (i, j, 0, f))
        return None

    # ------------------------------------------------------------------ values
    def set_values(self, values: np.ndarray | None, scale: float, faded: bool) -> None:
        """Colour the maps with ``values`` (the sample's layer output or error, any shape of
        ``self.map_shape``'s size) on ±``scale``."""
        self.scale = scale
        if values is None:
            self.values = None
            self._tiles = []
        else:
            self.values = np.asarray(values, dtype=np.float64).reshape(self.map_shape)
            pix = diverging_rgb32(self.values[:, :, : self.shown], scale, 0.6 if faded else 0.0)
            self._tiles = [to_image(pix[:, :, ch]) for ch in range(self.shown)]
        self.update()

    def set_filters(self, before: np.ndarray | None, after: np.ndarray | None) -> None:
        """Colour the filter panels: ``before`` and ``after`` (rows, columns, input channels,
        filters) on one scale so that they compare, their change on its own; ``after`` None
        until the update is reached."""
        if self.filter_shape is None:
            return
        key = (id(before), id(after))
        if key == getattr(self, "_filters_of", None) and self._filters[0]:
            return  # the same arrays as drawn (every phase of one step shows them)
        self._filters_of = key
        panels: list[np.ndarray | None] = [None, None, None]
        if before is not None:
            panels[0] = np.asarray(before, np.float64)[:, :, 0, : self.f_shown]
        if after is not None and before is not None:
            panels[1] = np.asarray(after, np.float64)[:, :, 0, : self.f_shown]
            panels[2] = panels[1] - panels[0]
        w_scale = _scale(np.concatenate([p.ravel() for p in panels[:2] if p is not None])) if (
            panels[0] is not None
        ) else 1.0  # fmt: skip
        d_scale = _scale(panels[2]) if panels[2] is not None else 1.0
        self.filter_scales = (w_scale, d_scale)
        self._filters = []
        for k, p in enumerate(panels):
            if p is None:
                self._filters.append([None] * self.f_shown)
                continue
            pix = diverging_rgb32(p, w_scale if k < 2 else d_scale)
            self._filters.append([to_image(pix[:, :, f]) for f in range(self.f_shown)])
        self.update()

    def set_showing(self, showing: str) -> None:
        """Draw the feature maps (``"maps"``) or the filters (``"filters"``, the update)."""
        showing = "filters" if showing == "filters" and self.filter_shape is not None else "maps"
        if showing != self.showing:
            self.showing = showing
            self.hover = None
            self.update()

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:  # Qt
        pal = palette()
        text = pal.color(QPalette.ColorRole.Text)
        frame = blend(self.hue, text, 0.25)
        muted = blend(text, pal.color(QPalette.ColorRole.Base), 0.4)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setFont(_small_font())
        if self.showing == "filters" and self.filter_shape is not None:
            self._paint_filters(painter, frame, text, muted)
        else:
            self._paint_maps(painter, frame, muted)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.showing == "maps":
            for unit, width in ((self._hover_unit(), 1.5), (self.pinned_unit, 2.5)):
                if unit is not None and unit % self.channels < self.shown:
                    c = self.pixel_center(unit)
                    half = max(self.px / 2, 2.0) + 1
                    painter.setPen(QPen(accent, width))
                    painter.drawRect(QRectF(c.x() - half, c.y() - half, 2 * half, 2 * half))
            return
        marks = []
        if self.hover is not None and self.hover[0] == "weight":
            marks.append((self.hover[2], 1.5))
        if self.pinned_weight is not None:
            marks.append((self.pinned_weight, 2.5))
        for (i, j, _c, f), width in marks:
            if f >= self.f_shown:
                continue
            for panel in range(3):
                rect = self.filter_rect(panel, f)
                half = max(self.fpx / 2, 2.0) + 1
                cx = rect.left() + (j + 0.5) * self.fpx
                cy = rect.top() + (i + 0.5) * self.fpx
                painter.setPen(QPen(accent, width))
                painter.drawRect(QRectF(cx - half, cy - half, 2 * half, 2 * half))

    def _paint_maps(self, painter: QPainter, frame, muted) -> None:
        for ch in range(self.shown):
            rect = self.tile_rect(ch)
            if ch < len(self._tiles):
                painter.drawImage(rect, self._tiles[ch])
            else:
                painter.fillRect(rect, neutral())
            painter.setPen(QPen(frame, 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            if self.labelled:
                painter.setPen(muted)
                painter.drawText(
                    QRectF(rect.left(), rect.top() - self.label_h, rect.width(), self.label_h),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                    f"c{ch + 1}",
                )
        if self.channels > self.shown:
            painter.setPen(muted)
            painter.drawText(
                QRectF(-self.half_width, self.grid_h / 2, self.width, self.label_h),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                f"first {self.shown} of {self.channels} channels",
            )

    def _paint_filters(self, painter: QPainter, frame, text, muted) -> None:
        top = self._block_top()
        painter.setPen(muted)
        for k, line in enumerate(self._filter_caption()):
            painter.drawText(
                QRectF(-self.block_w / 2, top + k * self.label_h, self.block_w, self.label_h),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                line,
            )
        for panel, name in enumerate(FILTER_PANELS):
            o = self.panel_origin(panel)
            painter.setPen(text)
            painter.drawText(
                QRectF(o.x() - PANEL_GAP / 2, o.y() - self.label_h, self.panel_w + PANEL_GAP,
                       self.label_h),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                name,
            )  # fmt: skip
            images = self._filters[panel] if panel < len(self._filters) else []
            for f in range(self.f_shown):
                rect = self.filter_rect(panel, f)
                img = images[f] if f < len(images) else None
                if img is not None:
                    painter.drawImage(rect, img)
                    painter.setPen(QPen(frame, 0.8))
                else:
                    painter.fillRect(rect, neutral())
                    painter.setPen(QPen(muted, 0.8, Qt.PenStyle.DotLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)

    def _hover_unit(self) -> int | None:
        return self.hover[1] if self.hover is not None and self.hover[0] == "unit" else None

    # ------------------------------------------------------------------ events
    def hoverMoveEvent(self, event) -> None:  # Qt override
        hit = self.hit(event.pos())
        if hit != self.hover:
            self.hover = hit
            if hit is None:
                self.setToolTip("")
            elif hit[0] == "unit":
                self.setToolTip(self.view.neuron_tooltip(self.layer, hit[1]))
            else:
                self.setToolTip(self.view.param_tooltip(self.layer, self.filter_weight, hit[2]))
            self.update()

    def hoverLeaveEvent(self, event) -> None:  # Qt override
        self.hover = None
        self.update()

    def mousePressEvent(self, event) -> None:  # Qt override
        hit = self.hit(event.pos())
        if event.button() == Qt.MouseButton.LeftButton and hit is not None:
            if hit[0] == "unit":
                self.view.pin_neuron(self.layer, hit[1])
            else:
                self.view.pin_param(self.layer, self.filter_weight, hit[2])
            event.accept()
            return
        super().mousePressEvent(event)


def _scale(values: np.ndarray | None) -> float:
    if values is None or values.size == 0:
        return 1.0
    finite = values[np.isfinite(values)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    return m if m > 0 else 1.0


def _short(value: float) -> str:
    from engine.formula import fmt

    return fmt(value, 3)
