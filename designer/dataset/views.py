"""The dataset panel's previews: the first rows as a table, the class balance as bars, a
scatter of two features coloured by class, and a grid of sample images.

Each view keeps the data it shows in plain attributes (what tests assert on). The pyqtgraph
views build their plot the first time they are shown (pyqtgraph loads lazily) and then only
update their one item in place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.plots.theme import background_color, foreground_color, is_dark

# Class colours shared with the training views (Playground's orange and blue, then tab10).
from designer.training.colors import LABEL_COLORS  # noqa: E402

#: Most points a scatter draws (a seeded subset of larger data).
MAX_SCATTER_POINTS = 4000


def label_color(i: int) -> QColor:
    return QColor(LABEL_COLORS[i % len(LABEL_COLORS)])


def bad_cell_colors(widget: QWidget | None = None) -> tuple[QColor, QColor]:
    """(background, text) of a highlighted bad cell."""
    if is_dark(widget):
        return QColor("#7f1d1d"), QColor("#fecaca")
    return QColor("#fecaca"), QColor("#7f1d1d")


def _muted(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.PlaceholderText)


# ------------------------------------------------------------------------------------ table
class TablePreviewView(QTableWidget):
    """The first rows of the data: a table file as read (every column, the spreadsheet's row
    numbers), or the loaded arrays of other data. The target column is marked, columns left
    out of the features are greyed, and a bad cell (or row, or column) is highlighted.

    Attributes
    ----------
    row_numbers : list of int or None
        The spreadsheet row number of each shown row (None for a gap row "…").
    bad : (int or None, int or None) or None
        The highlighted (spreadsheet row, column).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataset_table")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.row_numbers: list[int | None] = []
        self.bad: tuple[int | None, int | None] | None = None
        self._follow_bad = False
        # The user scrolling takes over from keeping the bad cell in view.
        self.verticalScrollBar().actionTriggered.connect(self._stop_following)
        self.horizontalScrollBar().actionTriggered.connect(self._stop_following)

    def _stop_following(self, _action: int) -> None:
        self._follow_bad = False

    def resizeEvent(self, event) -> None:  # Qt override
        super().resizeEvent(event)
        if self._follow_bad:
            self._scroll_to_bad(QAbstractItemView.ScrollHint.EnsureVisible)

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if self._follow_bad:  # filled while hidden (another tab in front)
            self._scroll_to_bad(QAbstractItemView.ScrollHint.PositionAtCenter)

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""

    def headers(self) -> list[str]:
        return [self.horizontalHeaderItem(j).text() for j in range(self.columnCount())]

    def bad_item(self) -> QTableWidgetItem | None:
        """The highlighted cell's item, when a single cell is highlighted and shown."""
        if self.bad is None or self.bad[0] is None or self.bad[1] is None:
            return None
        row, column = self.bad
        if row in self.row_numbers and column < self.columnCount():
            return self.item(self.row_numbers.index(row), column)
        return None

    def show_rows(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        row_numbers: Sequence[int],
        *,
        kinds: Sequence[str] | None = None,
        targets: Sequence[int] = (),
        features: Sequence[int] | None = None,
        bad: tuple[int | None, int | None] | None = None,
        message: str = "",
        header_tips: Sequence[str] | None = None,
    ) -> None:
        """Show ``rows`` under ``columns``; a jump in ``row_numbers`` shows a gap row "…"."""
        shown: list[list[str] | None] = []
        numbers: list[int | None] = []
        last = None
        for number, row in zip(row_numbers, rows, strict=False):
            if last is not None and number > last + 1 and len(numbers) >= 1 and bad is not None:
                shown.append(None)
                numbers.append(None)
            shown.append(list(row))
            numbers.append(number)
            last = number
        width = max([len(columns)] + [len(r) for r in shown if r is not None])
        names = list(columns) + [f"column {j + 1}" for j in range(len(columns), width)]
        self.setUpdatesEnabled(False)
        self.clear()
        self.setColumnCount(width)
        self.setRowCount(len(shown))
        self.row_numbers = numbers
        self.bad = bad
        muted = _muted(self)
        bold = QFont(self.font())
        bold.setBold(True)
        bad_bg, bad_fg = bad_cell_colors(self)
        target_set = set(targets)
        for j, name in enumerate(names):
            label = f"{name}  ◎" if j in target_set else name
            item = QTableWidgetItem(label)
            tip = header_tips[j] if header_tips is not None and j < len(header_tips) else ""
            if j in target_set:
                item.setFont(bold)
                tip = ("target · " + tip) if tip else "target"
            elif features is not None and j not in features:
                item.setForeground(muted)
                tip = (tip + " · " if tip else "") + "not a feature"
            if bad is not None and bad[0] is None and bad[1] == j:
                item.setForeground(bad_fg)
            item.setToolTip(tip)
            self.setHorizontalHeaderItem(j, item)
        for i, (row, number) in enumerate(zip(shown, numbers, strict=True)):
            self.setVerticalHeaderItem(i, QTableWidgetItem("…" if number is None else str(number)))
            if row is None:
                for j in range(width):
                    gap = QTableWidgetItem("⋮")
                    gap.setForeground(muted)
                    gap.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.setItem(i, j, gap)
                continue
            for j in range(width):
                text = row[j] if j < len(row) else ""
                item = QTableWidgetItem(text)
                numeric = kinds is not None and j < len(kinds) and kinds[j] == "numeric"
                if numeric:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if features is not None and j not in features and j not in target_set:
                    item.setForeground(muted)
                hit_row = bad is not None and bad[0] == number
                hit_col = bad is not None and bad[1] == j
                if bad is not None and (
                    (hit_row and hit_col)
                    or (hit_row and bad[1] is None)
                    or (hit_col and bad[0] is None)
                ):
                    item.setBackground(QBrush(bad_bg))
                    item.setForeground(bad_fg)
                    if message:
                        item.setToolTip(message)
                self.setItem(i, j, item)
        self.resizeColumnsToContents()
        for j in range(width):
            self.setColumnWidth(j, min(max(self.columnWidth(j), 48), 220))
        self.setUpdatesEnabled(True)
        self._follow_bad = bad is not None
        self._scroll_to_bad(QAbstractItemView.ScrollHint.PositionAtCenter)

    def _scroll_to_bad(self, hint: QAbstractItemView.ScrollHint) -> None:
        bad, numbers = self.bad, self.row_numbers
        if bad is None:
            return
        target = self.bad_item()
        if target is None and bad[0] in numbers:
            target = self.item(numbers.index(bad[0]), 0)
        elif target is None and bad[1] is not None and bad[1] < self.columnCount():
            target = self.item(0, bad[1])
        if target is not None:
            self.scrollToItem(target, hint)

    def show_arrays(
        self,
        x: np.ndarray,
        y: np.ndarray,
        feature_names: Sequence[str] | None,
        target_names: Sequence[str] | None,
        class_names: Sequence[str] | None,
        n_rows: int = 20,
        max_columns: int = 16,
    ) -> None:
        """The first rows of loaded arrays (built-in sets, NumPy files, images): the features
        (the first ``max_columns`` of them) then the target (class names when known)."""
        n = min(n_rows, len(x))
        flat = np.asarray(x[:n]).reshape(n, -1)
        d = flat.shape[1]
        names = list(feature_names or [])
        shown = min(d, max_columns)
        columns = [names[j] if j < len(names) else f"x{j}" for j in range(shown)]
        if d > shown:
            columns.append(f"… {d - shown} more")
        yy = np.asarray(y[:n])
        targets = list(target_names or [])
        if yy.ndim == 1:
            columns.append(targets[0] if targets else "y")
        else:
            for k in range(yy.shape[1]):
                columns.append(targets[k] if k < len(targets) else f"y{k}")
        rows = []
        for i in range(n):
            row = [f"{v:.4g}" for v in flat[i, :shown]]
            if d > shown:
                row.append("…")
            if yy.ndim == 1:
                label = int(yy[i])
                known = class_names is not None and 0 <= label < len(class_names)
                row.append(class_names[label] if known else str(label))
            else:
                row += [f"{v:.4g}" for v in yy[i]]
            rows.append(row)
        kinds = ["numeric"] * len(columns)
        target_cols = list(range(shown + (d > shown), len(columns)))
        self.show_rows(columns, rows, list(range(1, n + 1)), kinds=kinds, targets=target_cols)
        for i in range(n):
            self.verticalHeaderItem(i).setText(str(i))

    def show_nothing(self) -> None:
        self._follow_bad = False
        self.clear()
        self.setRowCount(0)
        self.setColumnCount(0)
        self.row_numbers = []
        self.bad = None


# ------------------------------------------------------------------------------------ plots
class _LazyPlot(QWidget):
    """A widget whose pyqtgraph plot is made the first time it is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.plot_widget = None
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setContentsMargins(6, 0, 6, 2)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def showEvent(self, event) -> None:  # Qt override
        self.ensure_plot()
        super().showEvent(event)

    def ensure_plot(self):
        """Make the plot now (it is made on first show otherwise); returns the PlotWidget."""
        if self.plot_widget is None:
            import pyqtgraph as pg

            from designer.plots.theme import configure_pyqtgraph, style_plot_item

            configure_pyqtgraph()
            widget = pg.PlotWidget(background=background_color(self))
            plot = widget.getPlotItem()
            style_plot_item(plot, self)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            self.plot_widget = widget
            self._layout.addWidget(widget, 1)
            self._layout.addWidget(self.caption)
            self._build(pg, plot)
            self._render()
        return self.plot_widget

    def _build(self, pg, plot) -> None:
        raise NotImplementedError

    def _render(self) -> None:
        raise NotImplementedError

    def minimumSizeHint(self) -> QSize:  # Qt override
        return QSize(160, 120)


class ClassBalanceView(_LazyPlot):
    """Samples per class as bars (one BarGraphItem); for a numeric target, its histogram.

    Attributes
    ----------
    names : list of str
        Bar labels (class names, or bin ranges for a histogram).
    counts : ndarray of int
    histogram : bool
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.counts = np.zeros(0, dtype=np.int64)
        self.edges: np.ndarray | None = None
        self.histogram = False
        self.bars = None

    def set_classes(self, names: Sequence[str], counts: Sequence[int]) -> None:
        self.names = [str(n) for n in names]
        self.counts = np.asarray(counts, dtype=np.int64)
        self.edges = None
        self.histogram = False
        total = int(self.counts.sum())
        if len(self.counts) and total:
            lo, hi = int(self.counts.min()), int(self.counts.max())
            if not lo:
                ratio = " · a class has no samples"
            elif hi == lo:
                ratio = " · balanced"
            else:
                ratio = f" · the largest class has {hi / lo:.2g}× the samples of the smallest"
            self.caption.setText(f"{len(self.counts)} classes, {total} samples{ratio}")
        else:
            self.caption.setText("")
        self._render()

    def set_values(self, values: np.ndarray, name: str = "target", bins: int = 20) -> None:
        """A histogram of a numeric target."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        v = v[np.isfinite(v)]
        if v.size == 0:
            self.set_classes([], [])
            return
        counts, edges = np.histogram(v, bins=bins)
        self.counts = counts.astype(np.int64)
        self.edges = edges
        self.names = [f"{a:.3g}–{b:.3g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        self.histogram = True
        self.caption.setText(
            f"{name}: {v.size} values from {v.min():.4g} to {v.max():.4g}, mean {v.mean():.4g}"
        )
        self._render()

    def clear_data(self) -> None:
        self.set_classes([], [])

    def _build(self, pg, plot) -> None:
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        plot.addItem(self.bars)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.setLabel("left", "samples")

    def _render(self) -> None:
        if self.bars is None:
            return
        import pyqtgraph as pg

        plot = self.plot_widget.getPlotItem()
        n = len(self.counts)
        axis = plot.getAxis("bottom")
        if self.histogram and self.edges is not None:
            centers = (self.edges[:-1] + self.edges[1:]) / 2
            width = float(self.edges[1] - self.edges[0]) * 0.9 if n else 1.0
            color = QColor(LABEL_COLORS[1])
            self.bars.setOpts(
                x=centers, height=self.counts, width=width, brush=pg.mkBrush(color), pen=None
            )
            axis.setTicks(None)
            if n:
                plot.setXRange(float(self.edges[0]), float(self.edges[-1]), padding=0.02)
        else:
            brushes = [pg.mkBrush(label_color(i)) for i in range(n)]
            self.bars.setOpts(
                x=np.arange(n, dtype=np.float64),
                height=self.counts,
                width=0.7,
                brushes=brushes,
                pen=None,
            )
            step = max(1, math.ceil(n / 20))
            axis.setTicks([[(i, self.names[i]) for i in range(0, n, step)], []])
            if n:
                plot.setXRange(-0.6, n - 0.4, padding=0)
        top = float(self.counts.max()) if n else 1.0
        plot.setYRange(0, top * 1.08 or 1.0, padding=0)


class ScatterView(_LazyPlot):
    """Samples on a plane (two features or two principal components), coloured by class or,
    for a numeric target, by value (one ScatterPlotItem).

    Attributes
    ----------
    points : ndarray of shape (m, 2)
        What is drawn (at most :data:`MAX_SCATTER_POINTS`).
    labels : ndarray of shape (m,)
        Class indices, or target values for regression.
    axis_names : (str, str)
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points = np.zeros((0, 2))
        self.labels = np.zeros(0)
        self.class_names: list[str] = []
        self.regression = False
        self.axis_names = ("", "")
        self.scatter = None

    def set_points(
        self,
        points: np.ndarray,
        labels: np.ndarray,
        axis_names: tuple[str, str],
        class_names: Sequence[str] | None = None,
        regression: bool = False,
        seed: int = 0,
    ) -> None:
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(labels)
        if len(points) > MAX_SCATTER_POINTS:
            keep = np.sort(
                np.random.default_rng(seed).choice(len(points), MAX_SCATTER_POINTS, replace=False)
            )
            points, labels = points[keep], labels[keep]
            shown = f"{MAX_SCATTER_POINTS} of the samples shown"
        else:
            shown = ""
        self.points, self.labels = points, labels
        self.axis_names = axis_names
        self.regression = regression
        self.class_names = list(class_names or [])
        if regression and len(labels):
            lo, hi = float(np.min(labels)), float(np.max(labels))
            legend = (
                f"colour: target from <span style='color:{LABEL_COLORS[0]}'>■</span> {lo:.4g}"
                f" to <span style='color:{LABEL_COLORS[1]}'>■</span> {hi:.4g}"
            )
        else:
            k = max(len(self.class_names), int(labels.max()) + 1 if len(labels) else 0)
            names = [self.class_names[i] if i < len(self.class_names) else str(i) for i in range(k)]
            legend = " &nbsp; ".join(
                f"<span style='color:{label_color(i).name()}'>●</span>&nbsp;{_escape(n)}"
                for i, n in enumerate(names[:20])
            )
            if k > 20:
                legend += f" … ({k} classes)"
        if shown:
            legend += f" &nbsp; <i>({shown})</i>"
        self.caption.setText(legend)
        self._render()

    def clear_data(self) -> None:
        self.points = np.zeros((0, 2))
        self.labels = np.zeros(0)
        self.caption.setText("")
        self._render()

    def brushes(self) -> list:
        """One brush per point."""
        import pyqtgraph as pg

        n = len(self.labels)
        if n == 0:
            return []
        if self.regression:
            v = np.asarray(self.labels, dtype=np.float64)
            lo, hi = float(v.min()), float(v.max())
            t = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
            a, b = QColor(LABEL_COLORS[0]), QColor(LABEL_COLORS[1])
            return [
                pg.mkBrush(
                    int(a.red() + (b.red() - a.red()) * s),
                    int(a.green() + (b.green() - a.green()) * s),
                    int(a.blue() + (b.blue() - a.blue()) * s),
                    200,
                )
                for s in t
            ]
        palette = []
        for i in range(max(int(np.max(self.labels)) + 1, 1)):
            c = label_color(i)
            c.setAlpha(210)
            palette.append(pg.mkBrush(c))
        return [palette[int(c)] for c in self.labels]

    def _build(self, pg, plot) -> None:
        self.scatter = pg.ScatterPlotItem(size=6, pen=None)
        plot.addItem(self.scatter)

    def _render(self) -> None:
        if self.scatter is None:
            return
        plot = self.plot_widget.getPlotItem()
        self.scatter.setData(
            x=self.points[:, 0], y=self.points[:, 1], brush=self.brushes(), pen=None, size=6
        )
        plot.setLabel("bottom", self.axis_names[0])
        plot.setLabel("left", self.axis_names[1])
        if len(self.points):
            plot.enableAutoRange()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------------ images
class ImageGridView(QWidget):
    """Sample images in columns, one column per class with its name on top (or, with many
    classes, the first samples in reading order with their class under each).

    Attributes
    ----------
    columns : list of (str, ndarray of shape (m, h, w) or (m, h, w, 3))
        Each column's caption and images, values in [0, 1].
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataset_images")
        self.columns: list[tuple[str, np.ndarray]] = []
        self.message = ""
        self._qimages: list[list[QImage]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_samples(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        shape: tuple[int, ...],
        class_names: Sequence[str] | None,
        per_class: int = 8,
        max_classes: int = 10,
    ) -> None:
        """Show up to ``per_class`` images of each of the first ``max_classes`` classes
        (flat rows of ``x`` reshaped to ``shape``); scaled to [0, 1] over the shown pixels."""
        x = np.asarray(x)
        columns: list[tuple[str, np.ndarray]] = []
        if y is not None and np.asarray(y).ndim == 1 and len(y):
            labels = np.asarray(y).astype(np.int64)
            k = int(labels.max()) + 1
            names = list(class_names or [])
            for c in range(min(k, max_classes)):
                idx = np.flatnonzero(labels == c)[:per_class]
                if len(idx):
                    name = names[c] if c < len(names) else str(c)
                    columns.append((name, x[idx].reshape((len(idx),) + tuple(shape))))
        else:
            n = min(len(x), per_class * max_classes)
            images = x[:n].reshape((n,) + tuple(shape))
            for c in range(0, n, per_class):
                columns.append(("", images[c : c + per_class]))
        values = [imgs for _, imgs in columns]
        if values:
            lo = min(float(np.min(v)) for v in values)
            hi = max(float(np.max(v)) for v in values)
            span = hi - lo if hi > lo else 1.0
            columns = [(name, (imgs - lo) / span) for name, imgs in columns]
        self.columns = columns
        self.message = ""
        self._qimages = [[_to_qimage(img) for img in imgs] for _, imgs in columns]
        self.update()

    def clear_data(self, message: str = "") -> None:
        self.columns = []
        self._qimages = []
        self.message = message
        self.update()

    @property
    def n_images(self) -> int:
        return sum(len(imgs) for _, imgs in self.columns)

    def sizeHint(self) -> QSize:  # Qt override
        return QSize(360, 320)

    def minimumSizeHint(self) -> QSize:  # Qt override
        return QSize(120, 100)

    def paintEvent(self, event) -> None:  # Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), background_color(self))
        fg = foreground_color(self)
        if not self._qimages:
            painter.setPen(_muted(self))
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )
            painter.end()
            return
        n_cols = len(self._qimages)
        n_rows = max(len(col) for col in self._qimages)
        caption_h = self.fontMetrics().height() + 6 if any(n for n, _ in self.columns) else 0
        gap, margin = 4, 8
        avail_w = self.width() - 2 * margin - gap * (n_cols - 1)
        avail_h = self.height() - 2 * margin - caption_h - gap * (n_rows - 1)
        h0, w0 = self.columns[0][1].shape[1:3]
        # Whole screen pixels per image pixel, when there is room: crisp, even pixels.
        tile = min(avail_w / n_cols / w0, avail_h / n_rows / h0)
        tile = float(math.floor(tile)) if tile >= 2 else max(tile, 0.5)
        tw, th = w0 * tile, h0 * tile
        total_w = n_cols * tw + gap * (n_cols - 1)
        x0 = (self.width() - total_w) / 2
        y0 = margin
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setPen(fg)
        for c, (images, (name, _)) in enumerate(zip(self._qimages, self.columns, strict=True)):
            x = x0 + c * (tw + gap)
            if caption_h:
                rect = QRectF(x - gap / 2, y0, tw + gap, caption_h)
                text = self.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, int(tw))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            for r, image in enumerate(images):
                painter.drawImage(QRectF(x, y0 + caption_h + r * (th + gap), tw, th), image)
        painter.end()


def _to_qimage(image: np.ndarray) -> QImage:
    """A [0, 1] grey (h, w) or RGB (h, w, 3) array as a QImage that owns its bytes."""
    a = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64)), 0.0, 1.0)
    data = np.ascontiguousarray((a * 255 + 0.5).astype(np.uint8))
    h, w = data.shape[:2]
    if data.ndim == 3:
        return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
