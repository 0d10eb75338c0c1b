"""Reading the step trace for an explanation: :func:`lookup` finds the value a number's source
points at, :class:`Builder` makes the :class:`~engine.formula.Num` s of one explanation (the
``b`` that the layer types' ``explain_*`` hooks receive); :func:`sample_text` and
:func:`waiting` say which sample it is and what is not reached yet."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.explain.loss import fused_delta
from engine.formula import Num, Section, Source, exact_text
from engine.graph import INPUT


def lookup(session, source: Source) -> Any:
    """The trace value a :class:`Num`'s ``source`` points at (a NumPy scalar).

    Sources are ``(phase, layer, key, index)``: ``phase`` a trace phase (``forward``,
    ``loss``, ``backward``, ``update``; the loss needs no layer) with ``key`` a dotted path into
    the event's data (``"z"``, ``"inputs.1"``, ``"after.kernel"``, ``"optimizer.kernel/m"``);
    or ``"batch"`` (key ``x`` or ``y``: the step's inputs and targets), ``"start"`` (key a
    weight name: the weights when the step began) or ``"start_opt"`` (layer ``"l/kernel"``,
    key a slot name: the optimizer's slots when the step began). ``index`` indexes the array.
    """
    phase, layer, key, index = source
    if phase == "batch":
        arr = session.batch_x if key == "x" else session.batch_y
    elif phase == "start":
        arr = session.weights_before[layer][key]
    elif phase == "start_opt":
        arr = session.optimizer_state_before["slots"][layer][key]
    else:
        data: Any = session.phases[session.position(phase, layer)].data
        for part in key.split("."):
            data = data[int(part)] if isinstance(data, list) else data[part]
        arr = data
    value = np.asarray(arr)[tuple(index)]
    return value


class Builder:
    """Makes numbers from the session's trace for one explanation, up to phase ``upto`` (the
    phase shown when None)."""

    def __init__(self, session, upto: int | None) -> None:
        self.s = session
        self.upto = session.index if upto is None else upto
        self.dtype = session.dtype

    def ev(self, phase: str, layer: str | None = None):
        """The phase event, or None when it is not reached by ``upto``."""
        return self.s.event(phase, layer, self.upto)

    def value(self, source: Source) -> Any:
        """The raw trace value at ``source`` (see :func:`lookup`)."""
        return lookup(self.s, source)

    def num(self, source: Source, paren: bool = False) -> Num:
        """The trace's number at ``source``, carrying its source."""
        value = lookup(self.s, source)
        return Num(float(value), exact_text(value), tuple(source), paren)

    def calc(self, value: float, paren: bool = False) -> Num:
        """A number computed here (in the model's dtype), not read from the trace."""
        v = self.dtype.type(value)
        return Num(float(v), exact_text(v), None, paren)

    def param(self, value: float) -> Num:
        """A hyper-parameter, written as set."""
        return Num(float(value), repr(float(value)), None, False, True)

    def is_input(self, name: str) -> bool:
        """Whether ``name`` (an inbound name) is the model input."""
        return name == INPUT

    def fused_delta(self, sec: Section, node, sample: int, idx: tuple[int, ...], gz: Num) -> None:
        """δ = ∂L/∂z of the output layer straight from a fused loss (softmax or sigmoid with
        its crossentropy)."""
        fused_delta(self, sec, node, sample, idx, gz)


def sample_text(session, sample: int) -> str:
    """Which sample of which step an explanation is about."""
    row = int(session.batch_indices[sample])
    n = len(session.batch_x)
    return (
        f"sample {sample + 1} of {n} in this step (row {row + 1} of the training split), "
        f"step {session.step_number}"
    )


def waiting(phase: str) -> Section:
    """The section shown before a layer's forward pass is computed."""
    sec = Section("Not computed yet", phase)
    sec.remark("Press Next phase to compute this layer's forward pass.")
    return sec
