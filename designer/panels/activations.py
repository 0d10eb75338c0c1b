"""The 'Activation functions' view: the seed document's three plots, and every other
activation the engine supports on request."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from designer.plots.activation_plot import (
    activation_curves,
    activation_title,
    derivative_pen,
    plot_title,
)
from designer.plots.theme import (
    background_color,
    configure_pyqtgraph,
    curve_colors,
    style_plot_item,
)
from engine.activations import ACTIVATION_NAMES

#: The seed document's plots: ``x = np.linspace(-5, 5, 100)``, three panels side by side.
SEED_ACTIVATIONS: tuple[str, ...] = ("sigmoid", "relu", "tanh")
SEED_X = np.linspace(-5, 5, 100)
GRID_COLUMNS = 4


class ActivationsDialog(QDialog):
    """Sigmoid, ReLU and Tanh side by side as in the seed document; "Show all activations"
    adds a grid of the others, each with its derivative dashed.

    Attributes
    ----------
    curves : dict of str to (PlotDataItem, PlotDataItem or None)
        The ``f`` curve and the ``f'`` curve (None for the seed's three plots, which show
        only ``f`` as the seed does) of each plotted activation, keyed by Keras name.
    plots : dict of str to PlotItem
        Each activation's plot.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.setWindowTitle("Activation functions")
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem | None]] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self._grid: pg.GraphicsLayoutWidget | None = None
        self.grid_caption: QLabel | None = None

        self.seed_view = pg.GraphicsLayoutWidget()
        self.seed_view.setBackground(background_color(self))
        self.seed_view.setMinimumHeight(240)
        for col, name in enumerate(SEED_ACTIVATIONS):
            plot = self.seed_view.addPlot(row=0, col=col, title=activation_title(name))
            self._add_curves(plot, name, SEED_X, derivative=False)
        _equal_columns(self.seed_view, len(SEED_ACTIVATIONS))

        caption = QLabel("As in the seed document: <tt>x = np.linspace(-5, 5, 100)</tt>.")
        caption.setWordWrap(True)
        caption.setTextFormat(Qt.TextFormat.RichText)
        self.show_all = QCheckBox("Show all activations")
        self.show_all.setToolTip("Every activation the engine supports, with its derivative")
        self.show_all.toggled.connect(self.set_show_all)

        bar = QHBoxLayout()
        bar.addWidget(caption, 1)
        bar.addWidget(self.show_all)
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.seed_view, 1)
        self._layout.addLayout(bar)
        self.resize(900, 340)

    def _add_curves(self, plot: pg.PlotItem, name: str, x: np.ndarray, derivative: bool) -> None:
        style_plot_item(plot, self)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.setXRange(float(x[0]), float(x[-1]), padding=0.02)
        f_color, df_color = curve_colors(self)
        f, df = activation_curves(name, x)
        f_curve = plot.plot(x, f, pen=pg.mkPen(f_color, width=2))
        df_curve = plot.plot(x, df, pen=derivative_pen(df_color, 1.5)) if derivative else None
        self.curves[name] = (f_curve, df_curve)
        self.plots[name] = plot

    @property
    def grid_view(self) -> pg.GraphicsLayoutWidget | None:
        """The grid of the other activations (None until first shown)."""
        return self._grid

    @property
    def grid_names(self) -> tuple[str, ...]:
        """The activations of the "all" grid: every supported one but the seed's three."""
        return tuple(n for n in ACTIVATION_NAMES if n not in SEED_ACTIVATIONS)

    def set_show_all(self, show: bool) -> None:
        """Show or hide the grid of every other activation (built on first use)."""
        if show and self._grid is None:
            grid = pg.GraphicsLayoutWidget()
            grid.setBackground(background_color(self))
            for i, name in enumerate(self.grid_names):
                plot = grid.addPlot(
                    row=i // GRID_COLUMNS, col=i % GRID_COLUMNS, title=plot_title(name)
                )
                self._add_curves(plot, name, SEED_X, derivative=True)
            _equal_columns(grid, GRID_COLUMNS)
            rows = -(-len(self.grid_names) // GRID_COLUMNS)
            grid.setMinimumHeight(190 * rows)
            self.grid_caption = QLabel(
                "Every other activation the engine supports. Solid: f(x); dashed: its derivative "
                "f′(x), the factor backpropagation multiplies the incoming gradient by."
            )
            self.grid_caption.setWordWrap(True)
            self._layout.addWidget(self.grid_caption)
            self._layout.addWidget(grid, 3)
            self._grid = grid
        if self._grid is not None:
            self._grid.setVisible(show)
            self.grid_caption.setVisible(show)
        if self.show_all.isChecked() != show:
            self.show_all.setChecked(show)
        if show and self.height() < 900:
            self.resize(max(self.width(), 1000), 980)


def _equal_columns(view: pg.GraphicsLayoutWidget, columns: int) -> None:
    """Give every column the same width, whatever the length of its titles and tick labels."""
    layout = view.ci.layout
    for column in range(columns):
        layout.setColumnStretchFactor(column, 1)
    for item in view.ci.items:
        # Same minimum and preferred width everywhere: the layout then splits space evenly.
        item.setMinimumWidth(140)
        item.setPreferredWidth(400)
