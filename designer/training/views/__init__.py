"""The live views of training (pyqtgraph), one module per view: :mod:`.loss` (loss and
metric curves), :mod:`.layer_stats` (a layer's weights and gradients), :mod:`.boundary` (the
decision boundary and neuron maps), :mod:`.tiles` (first-layer weight tiles),
:mod:`.predictions` (sample predictions), :mod:`.confusion` (the confusion matrix),
:mod:`.feature_maps` (a sample's feature maps, layers with image outputs); what they
share lives in :mod:`.base`, :mod:`.ranger` and :mod:`.cell_label`. The network activity view
is :mod:`designer.training.activity`.

Colours of signed values mean the same in every view: blue (``colors.POSITIVE``) positive,
orange (``colors.NEGATIVE``) negative, as in TensorFlow Playground.
"""

from __future__ import annotations

from designer.training.views.base import LiveView, PaintMeter
from designer.training.views.boundary import DecisionBoundaryView
from designer.training.views.confusion import ConfusionMatrixView
from designer.training.views.feature_maps import FeatureMapsView
from designer.training.views.layer_stats import LayerStatsView
from designer.training.views.loss import LossPlot
from designer.training.views.predictions import PredictionsGrid
from designer.training.views.tiles import WeightTilesView

__all__ = [
    "ConfusionMatrixView",
    "DecisionBoundaryView",
    "FeatureMapsView",
    "LayerStatsView",
    "LiveView",
    "LossPlot",
    "PaintMeter",
    "PredictionsGrid",
    "WeightTilesView",
]
