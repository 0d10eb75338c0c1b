"""pyqtgraph colours taken from the application palette, so plots follow light and dark themes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

if TYPE_CHECKING:  # pyqtgraph is imported when a plot is made, not at start-up
    import pyqtgraph as pg

# Matplotlib's first two colours: the seed document's plots are matplotlib's defaults.
F_COLOR = "#1f77b4"
DF_COLOR = "#ff7f0e"
F_COLOR_DARK = "#4fa3e0"
DF_COLOR_DARK = "#ffa04d"


def _palette(widget: QWidget | None = None) -> QPalette:
    if widget is not None:
        return widget.palette()
    app = QApplication.instance()
    return app.palette() if isinstance(app, QApplication) else QPalette()


def is_dark(widget: QWidget | None = None) -> bool:
    """True when the palette's base colour is dark (a dark theme)."""
    return _palette(widget).color(QPalette.ColorRole.Base).lightness() < 128


def background_color(widget: QWidget | None = None) -> QColor:
    return _palette(widget).color(QPalette.ColorRole.Base)


def foreground_color(widget: QWidget | None = None) -> QColor:
    return _palette(widget).color(QPalette.ColorRole.Text)


def curve_colors(widget: QWidget | None = None) -> tuple[str, str]:
    """Colours of a function and of its derivative, readable on the current background."""
    return (F_COLOR_DARK, DF_COLOR_DARK) if is_dark(widget) else (F_COLOR, DF_COLOR)


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options from the application palette (call before creating plots:
    axes read the foreground colour when they are created)."""
    import pyqtgraph as pg

    pg.setConfigOptions(
        antialias=True,
        background=background_color(),
        foreground=foreground_color(),
    )


def style_plot_item(plot: pg.PlotItem, widget: QWidget | None = None) -> None:
    """Axis pens and text in the palette's colours, with a faint grid."""
    import pyqtgraph as pg

    fg = foreground_color(widget)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(fg))
        axis.setTextPen(pg.mkPen(fg))
    plot.showGrid(x=True, y=True, alpha=0.15)
