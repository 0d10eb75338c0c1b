"""What the explanation tests check of every number an explanation shows."""

from __future__ import annotations

from engine.explain import Explanation, Num, lookup
from engine.stepper import StepSession


def trace_numbers(session: StepSession, exp: Explanation, upto: int) -> list[Num]:
    """The numbers read from the trace; each is the engine's value and was reached by step
    ``upto`` of the session."""
    text = exp.text()
    out = []
    for num in exp.numbers():
        assert num.text().strip("()") in text
        if num.source is None:
            continue
        value = lookup(session, num.source)
        assert num.value == float(value), (num, value)
        assert num.exact == str(value) or float(num.exact) == float(value)
        phase, layer = num.source[0], num.source[1]
        if phase in ("forward", "loss", "backward", "update"):
            assert session.position(phase, layer) <= upto, f"{num.source} shown before reached"
        out.append(num)
    return out
