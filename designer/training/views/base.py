"""What every live view shares: :class:`LiveView` (keeps the latest data, renders while
visible), :class:`PaintMeter` (the paint time the controller paces rendering by), the plot area
and the sentence a view shows when it has nothing to show.

Every pyqtgraph item is created once (per model build at most, when the set of layers or
classes changes) and updated with ``setData``/``setImage``/``setOpts``; nothing is cleared and
re-plotted per update (pyqtgraph #2348, #2665). A view renders only while it is visible; a
hidden one keeps the latest data and renders when shown. Views read plain arrays handed to
them; none of them sees the model.
"""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from designer.plots.fit import ElidedLabel
from designer.plots.theme import configure_pyqtgraph

#: Antialiased long curves cost the UI thread ~6x more to paint (Qt's raster engine); the
#: live curves are drawn without it.
CURVE_OPTS = {"antialias": False}


def make_pen(color, width: float = 1.5, style=Qt.PenStyle.SolidLine, alpha: int = 255):
    """A pyqtgraph pen of ``color`` at ``alpha`` (0..255)."""
    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=width, style=style)


class LiveView(QWidget):
    """Base of the live views: keeps the latest data, renders while visible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self._dirty = False
        self.renders = 0
        #: What the last render drew (:meth:`data_tag` then) and when (``time.monotonic()``):
        #: how far behind the run the view is (tests and tests/benchmarks/bench_view_lag.py).
        self.shown = None
        self.shown_at = 0.0
        #: Render as soon as data arrives (standalone use). A controller that paces rendering
        #: itself turns this off and calls :meth:`refresh` on its own schedule.
        self.auto_refresh = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self) -> None:
        """New data: render now (auto_refresh) or at the owner's next refresh."""
        self._dirty = True
        if self.auto_refresh:
            self.refresh()

    def refresh(self, force: bool = False) -> None:
        """Render now if visible (or ``force``); otherwise when next shown."""
        if force or self.isVisible():
            self._dirty = False
            self.renders += 1
            self.render()
            self.shown = self.data_tag()
            self.shown_at = time.monotonic()
        else:
            self._dirty = True

    def render(self) -> None:  # pragma: no cover - overridden
        pass

    def data_tag(self):
        """What the view holds, as ``(run, global step)`` (or None): a snapshot's, by
        default."""
        snap = getattr(self, "snapshot", None)
        return (snap.run, snap.step) if snap is not None else None

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if self._dirty:
            self.refresh(force=True)

    @property
    def empty(self) -> bool:
        """True while the view shows only its sentence of what it needs."""
        stack = getattr(self, "stack", None)
        return isinstance(stack, QStackedLayout) and stack.currentIndex() == 1

    def sizeHint(self):  # Qt override
        hint = super().sizeHint()
        if self.empty:  # a sentence: a line or two, not a plot's worth of room
            return hint.boundedTo(QSize(320, 60))
        return hint


def message_stack(parent: QWidget, content: QWidget) -> tuple[QStackedLayout, QLabel]:
    """A layout that shows ``content`` or, when a view has nothing to show, one sentence
    saying what it needs (wrapped when the dock is narrow). The view then asks for little
    room (:meth:`LiveView.sizeHint`)."""
    stack = QStackedLayout()
    message = QLabel()
    message.setAlignment(Qt.AlignmentFlag.AlignCenter)
    message.setWordWrap(True)
    message.setMargin(6)
    message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    stack.addWidget(content)
    stack.addWidget(message)
    stack.currentChanged.connect(lambda _i: parent.updateGeometry())
    return stack, message


#: What a view that has nothing to show yet says (before the first build).
NOT_BUILT = "Train (Play or Step) to see {what}."


class PaintMeter:
    """CPU seconds the live views spent painting (the controller paces rendering by it)."""

    seconds = 0.0

    @classmethod
    def take(cls) -> float:
        s, cls.seconds = cls.seconds, 0.0
        return s


class MeteredGraphicsLayoutWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that adds its paint time to :class:`PaintMeter`."""

    def paintEvent(self, event) -> None:  # Qt override
        t0 = time.thread_time()
        super().paintEvent(event)
        PaintMeter.seconds += time.thread_time() - t0


def sample_bar() -> tuple[QHBoxLayout, QSpinBox, QLabel]:
    """The row above a view of one probe sample: "Sample", its selector (range set at each
    build) and a label that says which sample it is; ``(row, selector, label)``."""
    spin = QSpinBox()
    spin.setRange(0, 0)
    spin.setToolTip("Which sample of the fixed probe batch to show")
    label = ElidedLabel()
    bar = QHBoxLayout()
    bar.setContentsMargins(6, 2, 6, 0)
    bar.addWidget(QLabel("Sample"))
    bar.addWidget(spin)
    bar.addWidget(label, 1)
    return bar, spin, label


def plot_area_under(view: QWidget, bar: QHBoxLayout) -> pg.GraphicsLayoutWidget:
    """``view``'s layout: ``bar`` (a row of controls) above a new plot area, which it returns."""
    graphics = plot_area()
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addLayout(bar)
    layout.addWidget(graphics)
    return graphics


def plot_area() -> pg.GraphicsLayoutWidget:
    w = MeteredGraphicsLayoutWidget()
    w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    w.ci.setContentsMargins(4, 4, 4, 4)
    return w
