"""The seed's Perceptron, one sample at a time: net input and prediction, the error t − ŷ, and
the bias update by its rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.explain.builder import waiting
from engine.explain.update import update_lines
from engine.formula import Explanation, Part, Section, Sym, more_terms, plus, shown_terms

if TYPE_CHECKING:  # pragma: no cover
    from engine.explain.builder import Builder


def perceptron_neuron(b: Builder, exp: Explanation, node, sample: int) -> None:
    """Add to ``exp`` the sections reached of the perceptron's unit for ``sample``."""
    name = node.name
    if b.ev("forward", name) is None:
        exp.sections.append(waiting("forward"))
        return
    sec = Section("Forward pass (net input and prediction)", "forward")
    fan_in = node.input_shapes[0][-1]
    shown, left = shown_terms(fan_in)
    has_bias = "bias" in b.s.weights_before[name]
    sym = plus([[Sym("w", str(i + 1)), "·", Sym("x", str(i + 1))] for i in shown]) + more_terms(
        left
    )
    plugged = []
    for i in shown:
        w = b.num(("start", name, "kernel", (i, 0)))
        x = b.num(("forward", name, "inputs", (0, i)), paren=True)
        plugged.append([w.operand() if w.value < 0 else w, "·", x])
    tail: list[Part] = []
    if has_bias:
        sym += [" + ", Sym("b")]
        tail = [" + ", b.num(("start", name, "bias", (0,)), paren=True)]
    z = b.num(("forward", name, "z", (0, 0)))
    sec.add([Sym("net")], sym, plus(plugged) + more_terms(left) + tail, [z], note="net_input")
    sec.add(
        [Sym("ŷ")],
        ["1 if net ≥ 0 else −1"],
        [b.num(("forward", name, "a", (0, 0)))],
        note="predict",
    )
    exp.sections.append(sec)
    if b.ev("loss") is None:
        return
    sec = Section("Error", "loss")
    t = b.num(("loss", None, "targets", (0, 0)))
    yhat = b.num(("forward", name, "a", (0, 0)), paren=True)
    sec.add([Sym("t")], [t], note="the target, −1 or +1")
    sec.add(
        ["t − ŷ"],
        [t, " − ", yhat],
        [b.calc(t.value - yhat.value)],
        note="0 when the prediction is right",
    )
    sec.add(
        ["misclassified"],
        [b.num(("loss", None, "value", ()))],
        note="what the training loop reports as this sample's loss",
    )
    exp.sections.append(sec)
    if b.ev("update", name) is None:
        return
    sec = Section("Update of the bias (the seed's rule)", "update")
    if has_bias:
        g = b.num(("backward", name, "grad_bias", (0,)))
        update_lines(b, sec, name, "bias", (0,), Sym("b"), g)
    else:
        sec.remark("This perceptron has no bias.")
    exp.sections.append(sec)
