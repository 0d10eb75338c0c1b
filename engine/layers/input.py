"""The model input: not a layer type of the registry (a project has exactly one, implied), but it
has a look of its own on the canvas, the palette and the summary, in Keras' name."""

from __future__ import annotations

from engine.layers.base import Stroke

INPUT_CLASS_NAME = "InputLayer"
INPUT_COLOR = "#64748b"
INPUT_GLYPH = (
    Stroke("line", ((0.22, 0.5), (0.62, 0.5))),
    Stroke("polyline", ((0.48, 0.34), (0.64, 0.5), (0.48, 0.66))),
    Stroke("line", ((0.76, 0.26), (0.76, 0.74))),
)
