"""Transitional: the live views moved to :mod:`designer.training.views` (one module per view).

Only ``designer/training/__init__.py`` still imports from here; once it imports from
:mod:`designer.training.views`, delete this file.
"""

from __future__ import annotations

from designer.training.views import (
    ConfusionMatrixView,
    DecisionBoundaryView,
    LayerStatsView,
    LiveView,
    LossPlot,
    PaintMeter,
    PredictionsGrid,
    WeightTilesView,
)
from designer.training.views.loss import MAX_EARLIER_RUNS

__all__ = [
    "MAX_EARLIER_RUNS",
    "ConfusionMatrixView",
    "DecisionBoundaryView",
    "LayerStatsView",
    "LiveView",
    "LossPlot",
    "PaintMeter",
    "PredictionsGrid",
    "WeightTilesView",
]
