"""A plot of an activation function and its derivative, as the engine computes them."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from designer.plots.theme import (
    background_color,
    configure_pyqtgraph,
    curve_colors,
    style_plot_item,
)
from engine.activations import ACTIVATION_NAMES, get_activation

#: Titles for people; the Keras name stays the key everywhere else.
ACTIVATION_TITLES: dict[str, str] = {
    "linear": "Linear",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "elu": "ELU",
    "selu": "SELU",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "swish": "Swish",
    "silu": "SiLU",
    "gelu": "GELU",
    "softmax": "Softmax",
    "hard_sigmoid": "Hard sigmoid",
    "relu6": "ReLU6",
    "hard_silu": "Hard SiLU",
    "hard_swish": "Hard swish",
    "mish": "Mish",
    "log_softmax": "Log-softmax",
    "sign": "Sign",
}

DEFAULT_X = np.linspace(-5.0, 5.0, 201, dtype=np.float64)


def activation_title(name: str | None) -> str:
    name = name or "linear"
    return ACTIVATION_TITLES.get(name, name)


def plot_title(name: str | None) -> str:
    """The title of a plot of ``name``; says what is drawn for softmax, which mixes a vector."""
    if name is not None and name in ACTIVATION_NAMES and not get_activation(name).elementwise:
        return f"{activation_title(name)} of [x, 0]"
    return activation_title(name)


def activation_curves(name: str | None, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f(x)`` and ``f'(x)`` for plotting.

    Parameters
    ----------
    name : str or None
        A Keras activation name; None is ``linear``.
    x : ndarray of shape (n,)

    Returns
    -------
    f, df : ndarray of shape (n,), float64
        For softmax, which mixes a whole vector, the first component of ``softmax([x, 0])``
        (a two-class softmax, equal to the sigmoid) and the diagonal of its Jacobian.
    """
    act = get_activation(name)
    x = np.asarray(x, dtype=np.float64)
    if act.elementwise:
        return act.forward(x), act.derivative(x)
    z = np.stack([x, np.zeros_like(x)], axis=-1)
    return act.forward(z)[:, 0], act.derivative(z)[:, 0]


def derivative_pen(color: str, width: float = 2.0) -> pg.QtGui.QPen:
    return pg.mkPen(color, width=width, style=Qt.PenStyle.DashLine)


class ActivationPlot(pg.PlotWidget):
    """Plot of one activation ``f`` (solid) and its derivative ``f'`` (dashed).

    Both curves are created once; :meth:`set_activation` only calls ``setData``.

    Parameters
    ----------
    x : ndarray of shape (n,), optional
        Sample points (float64); ``linspace(-5, 5, 201)`` by default.
    show_derivative : bool
        Whether the ``f'`` curve is visible.
    legend : bool
        Whether to show a legend (``f(x)``, ``f′(x)``).
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        x: np.ndarray | None = None,
        show_derivative: bool = True,
        legend: bool = True,
    ) -> None:
        configure_pyqtgraph()
        super().__init__(parent, background=background_color())
        self.x = np.asarray(DEFAULT_X if x is None else x, dtype=np.float64)
        self.activation: str | None = None
        plot = self.getPlotItem()
        style_plot_item(plot, self)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.setXRange(float(self.x[0]), float(self.x[-1]), padding=0.02)
        f_color, df_color = curve_colors(self)
        if legend:
            self.legend = plot.addLegend(offset=(6, 4))
            self.legend.setBrush(pg.mkBrush(background_color(self)))
        else:
            self.legend = None
        self.f_curve = plot.plot(
            self.x, np.zeros_like(self.x), pen=pg.mkPen(f_color, width=2), name="f(x)"
        )
        self.df_curve = plot.plot(
            self.x, np.zeros_like(self.x), pen=derivative_pen(df_color), name="f′(x)"
        )
        self.df_curve.setVisible(show_derivative)
        zero = pg.InfiniteLine(0, angle=0, pen=pg.mkPen(128, 128, 128, 90))
        plot.addItem(zero, ignoreBounds=True)

    def set_activation(self, name: str | None) -> None:
        """Show ``name`` (a Keras activation name; None is linear); unknown names are ignored."""
        if name is not None and name not in ACTIVATION_NAMES:
            return
        f, df = activation_curves(name, self.x)
        self.f_curve.setData(self.x, f)
        self.df_curve.setData(self.x, df)
        self.activation = name or "linear"
        self.getPlotItem().setToolTip(plot_title(self.activation))

    def set_show_derivative(self, show: bool) -> None:
        self.df_curve.setVisible(show)
