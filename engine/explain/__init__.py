"""The math behind one neuron or one weight of a stepped training step, with its numbers.

:func:`explain_neuron`, :func:`explain_weight` (a ``fully_connected`` kernel's w[i, j]) and
:func:`explain_param` (an entry of any weight of any shape: a filter's kernel[i, j, c, f], a
moving statistic) turn a :class:`~engine.stepper.StepSession`'s trace into an
:class:`Explanation`: sections (forward, loss, backward, update) of equation
chains such as ``z₂ = w₁,₂·x₁ + w₂,₂·x₂ + b₂ = 0.2739·0.3071 + … = −0.2429``, each only for
the phases the learner has reached. Every number that comes from the trace is a :class:`Num`
carrying its ``source`` (where in the trace it is, see :func:`lookup`), so that a view can show
its full precision and a test can check it equals the engine's value. Numbers computed here
for the learner to follow along (the products of a sum, f′(z), Adam's α) have no source.

Numbers are written with four significant digits (:func:`fmt`), a true minus sign and
``×10⁻⁵`` for very small or large values; negative operands of a product are parenthesised.

The package, one job a module: :mod:`~engine.explain.units` (which sections a neuron or weight
shows; the layer types' ``explain_*`` hooks fill in their own part), :mod:`~engine.explain.loss`,
:mod:`~engine.explain.update` (the optimizers' rules), :mod:`~engine.explain.perceptron`,
:mod:`~engine.explain.builder` (reading the trace). The parts an explanation is made of live in
:mod:`engine.formula`, the pieces layer types share in :mod:`engine.explain_parts`.

Pure Python and NumPy; the designer renders an explanation as HTML.
"""

from __future__ import annotations

from engine.explain.builder import Builder, lookup
from engine.explain.units import explain_neuron, explain_param, explain_weight, weight_symbol
from engine.formula import (
    MAX_TERMS,
    MINUS,
    Explanation,
    Line,
    Num,
    Part,
    Section,
    Source,
    Sym,
    exact_text,
    fmt,
    fmt_param,
    parts_text,
)

__all__ = [
    "MAX_TERMS",
    "MINUS",
    "Builder",
    "Explanation",
    "Line",
    "Num",
    "Part",
    "Section",
    "Source",
    "Sym",
    "exact_text",
    "explain_neuron",
    "explain_param",
    "explain_weight",
    "fmt",
    "fmt_param",
    "lookup",
    "parts_text",
    "weight_symbol",
]
