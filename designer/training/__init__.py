"""Training in the window: the panel, the live views and the controller that connects them to
the document and the training worker (see :func:`attach_training`)."""

from __future__ import annotations

from designer.training.activity import NetworkActivityView
from designer.training.controller import TrainingController, attach_training
from designer.training.panel import TrainingPanel
from designer.training.views import (
    ConfusionMatrixView,
    DecisionBoundaryView,
    LayerStatsView,
    LossPlot,
    PredictionsGrid,
    WeightTilesView,
)

__all__ = [
    "ConfusionMatrixView",
    "DecisionBoundaryView",
    "LayerStatsView",
    "LossPlot",
    "NetworkActivityView",
    "PredictionsGrid",
    "TrainingController",
    "TrainingPanel",
    "WeightTilesView",
    "attach_training",
]
