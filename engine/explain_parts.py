"""Explanation pieces that several layer types share: the activation ``a = f(z)``, its backward
step ``δ = ∂L/∂a·f′(z)``, a weight's gradient summed over the batch.

The layer modules of :mod:`engine.layers` call these from their ``explain_*`` hooks, and
:mod:`engine.explain` from its weight explanation. ``b`` is the explanation's trace reader
(:class:`engine.explain.builder.Builder`): ``b.num(source)`` a number of the trace,
``b.calc(value)`` one computed here, ``b.value(source)`` the raw trace value, ``b.ev(phase,
layer)`` a phase event reached, ``b.s`` the step session. This module imports no part of the
session (nor :mod:`engine.graph`), so that the layer modules can import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.activations import get_activation
from engine.formula import (
    Num,
    Part,
    Section,
    Sym,
    more_terms,
    one_based,
    plus,
    shown_terms,
    subscript,
    unit_index,
)

if TYPE_CHECKING:  # pragma: no cover
    from engine.explain.builder import Builder
    from engine.graph import Node

#: The formula of an activation, where a short one is known.
FORMULAS = {
    "sigmoid": "1 / (1 + e^(−z))",
    "tanh": "(e^z − e^(−z)) / (e^z + e^(−z))",
    "relu": "max(0, z)",
    "relu6": "min(max(0, z), 6)",
    "hard_sigmoid": "relu6(z + 3) / 6",
    "hard_silu": "z·relu6(z + 3) / 6",
    "hard_swish": "z·relu6(z + 3) / 6",
    "mish": "z·tanh(softplus(z))",
    "silu": "z·sigmoid(z)",
    "swish": "z·sigmoid(z)",
}

#: The derivative of an activation, where a short form is known.
DERIVATIVES = {
    "tanh": "tanh′(z) = 1 − a²",
    "sigmoid": "sigmoid′(z) = a·(1 − a)",
    "relu": "relu′(z) = 1 if z > 0, else 0",
    "relu6": "relu6′(z) = 1 if 0 < z < 6, else 0",
    "hard_silu": "hard_silu′(z) = relu6(z + 3)/6 + z/6 inside (−3, 3)",
    "hard_swish": "hard_swish′(z) = relu6(z + 3)/6 + z/6 inside (−3, 3)",
    "mish": "mish′(z) = tanh(sp) + z·(1 − tanh²(sp))·sigmoid(z), sp = softplus(z)",
}


def activation_lines(b: Builder, sec: Section, node: Node, sample: int, idx: tuple) -> None:
    """``a = f(z)`` of unit ``idx`` (without the batch axis) of ``node`` for ``sample``, with
    the trace's z and a (softmax: over the unit's row of the last axis)."""
    name = node.name
    act = node.activation or "linear"
    full = (sample, *idx)
    z = b.num(("forward", name, "z", full))
    a = b.num(("forward", name, "a", full))
    a_sym = [Sym("a", one_based(idx))]
    if act == "linear":
        sec.add(a_sym, [Sym("z", one_based(idx))], [a], note="linear activation: a = z")
        return
    if act in ("softmax", "log_softmax"):
        shown, left = shown_terms(node.output_shape[-1])
        pre = (sample, *idx[:-1])
        exps = [["e^", b.num(("forward", name, "z", (*pre, c)), paren=True)] for c in shown]
        total = [*plus(exps), *more_terms(left), ")"]
        zu = f"z{subscript(one_based(idx))}"
        if act == "softmax":
            forms = [[f"e^{zu} / Σₖ e^zₖ"], ["e^", z.operand(), " / (", *total]]
            note = "softmax: the exponentials normalised to sum to 1"
        else:
            forms = [[f"{zu} − log Σₖ e^zₖ"], [z, " − log(", *total]]
            note = "log_softmax: the log of softmax, computed without forming it"
        sec.add(a_sym, *forms, [a], note=note)
        return
    formula = FORMULAS.get(act)
    sec.add(
        a_sym,
        [f"{act}(", Sym("z", one_based(idx)), ")"],
        [f"{act}(", z, ")"],
        [a],
        note=f"{act}(z) = {formula}" if formula else "",
    )


def activation_delta(b: Builder, sec: Section, node: Node, sample: int, idx: tuple) -> None:
    """``δ = ∂L/∂z`` of unit ``idx`` from its ``∂L/∂a`` (already shown) and f′(z); for the
    output layer of a fused loss, δ straight from the loss."""
    s = b.s
    name = node.name
    full = (sample, *idx)
    u = one_based(idx)
    ga = b.num(("backward", name, "grad_a", full))
    gz = b.num(("backward", name, "grad_z", full))
    delta = [Sym("δ", u)]
    act = node.activation or "linear"
    if name == s.graph.output and s.model.fused:
        b.fused_delta(sec, node, sample, idx, gz)
    elif act == "linear":
        sec.add(delta, [f"∂L/∂a{subscript(u)} · 1"], [gz], note="linear: f′(z) = 1")
    elif act == "softmax":
        k = node.output_shape[-1]
        a = b.num(("forward", name, "a", full))
        pre = (sample, *idx[:-1])
        inner = sum(
            float(b.value(("backward", name, "grad_a", (*pre, c))))
            * float(b.value(("forward", name, "a", (*pre, c))))
            for c in range(k)
        )
        sec.add(
            delta,
            [f"a{subscript(u)}·(∂L/∂a{subscript(u)} − Σₖ ∂L/∂aₖ·aₖ)"],
            [a, "·(", ga, " − ", b.calc(inner, paren=True), ")"],
            [gz],
            note="softmax mixes its units",
        )
    elif act == "log_softmax":
        k = node.output_shape[-1]
        pre = (sample, *idx[:-1])
        total = sum(float(b.value(("backward", name, "grad_a", (*pre, c)))) for c in range(k))
        p = b.calc(float(np.exp(b.value(("forward", name, "a", full)))))
        sec.add(
            delta,
            [f"∂L/∂a{subscript(u)} − softmax(z){subscript(u)}·Σₖ ∂L/∂aₖ"],
            [ga, " − ", p, "·", b.calc(total, paren=True)],
            [gz],
            note="log_softmax mixes its units; softmax(z) = e^a",
        )
    else:
        z = b.num(("forward", name, "z", full))
        a = b.num(("forward", name, "a", full))
        d_sym, d_val = derivative_parts(b, act, z, a)
        sec.add(
            delta,
            [f"∂L/∂z{subscript(u)} = ∂L/∂a{subscript(u)} · f′(z{subscript(u)})"],
            [ga.operand(), "·", *d_sym],
            [ga.operand(), "·", d_val],
            [gz],
            note=DERIVATIVES.get(act, ""),
        )


def derivative_parts(b: Builder, act: str, z: Num, a: Num) -> tuple[list[Part], Num]:
    """f′(z) as a formula with numbers, and its value (computed here, in the model's dtype)."""
    fn = get_activation(act)
    zz = np.asarray([z.value], dtype=b.dtype)
    aa = np.asarray([a.value], dtype=b.dtype)
    # backward(z, a, 1) is f′(z) exactly (times one), from the trace's own a.
    value = b.calc(float(fn.backward(zz, aa, np.ones_like(zz))[0]))
    if act == "tanh":
        return ["(1 − ", a.operand(), "²)"], value
    if act == "sigmoid":
        return [a.operand(), "·(1 − ", a.operand(), ")"], value
    if act == "relu":
        return ["relu′(", z, ")"], value
    return [f"{act}′(", z, ")"], value


def gradient_sum(
    b: Builder, sec: Section, node: Node, i: int | None, j: int, lhs: list[Part]
) -> None:
    """``∂L/∂w_ij = Σ over the batch of x_i·δ_j`` (``i`` None: ``∂L/∂b_j = Σ δ_j``) of a
    layer with a kernel (input units, units), its input of any rank (positions count as
    rows)."""
    name = node.name
    x = np.asarray(b.ev("forward", name).data["inputs"])
    rows_shape = x.shape[:-1]
    count = int(np.prod(rows_shape))
    shown, left = shown_terms(count)
    sym: list[Part]
    terms = []
    for r in shown:
        ridx = unit_index(rows_shape, r)
        d = b.num(("backward", name, "grad_z", (*ridx, j)), paren=True)
        if i is None:
            terms.append([d])
        else:
            xv = b.num(("forward", name, "inputs", (*ridx, i)), paren=True)
            terms.append([xv, "·", d])
    if i is None:
        sym = (
            ["Σ over the batch of ", Sym("δ", str(j + 1))] if count > 1 else [Sym("δ", str(j + 1))]
        )
        key, index = "grad_bias", (j,)
    else:
        sym = (
            ["Σ over the batch of ", Sym("x", str(i + 1)), "·", Sym("δ", str(j + 1))]
            if count > 1
            else [Sym("x", str(i + 1)), "·", Sym("δ", str(j + 1))]
        )
        key, index = "grad_kernel", (i, j)
    weight = key.removeprefix("grad_")
    penalized = f"data_{key}" in b.ev("backward", name).data
    data_key = f"data_{key}" if penalized else key
    chain = [sym, plus(terms) + more_terms(left), [b.num(("backward", name, data_key, index))]]
    if i is None and count == 1:
        chain = [sym, [b.num(("backward", name, data_key, index))]]
    unit = "samples" if len(rows_shape) == 1 else "terms (samples × positions)"
    data_lhs = [*lhs, " (data)"] if penalized else lhs
    sec.add(data_lhs, *chain, note=f"{count} {unit}" if count > 1 else "")
    if penalized:
        penalty_lines(b, sec, node, weight, index, lhs)


def penalty_lines(b: Builder, sec: Section, node: Node, weight: str, index, lhs) -> None:
    """The regularizer's term of a weight's gradient: ``∂R/∂w`` from its formula with the
    weight's value, then ``∂L/∂w = (data) + ∂R/∂w``, the gradient the optimizer uses."""
    from engine.regularizers import gradient_text, resolve_regularizer

    name = node.name
    spec = node.layer_type.weight_rule(node.config, weight, "regularizer")
    cls, cfg = resolve_regularizer(spec)
    w = b.num(("start", name, weight, index), paren=True)
    plain = b.num(("start", name, weight, index))
    pen = b.num(("backward", name, f"penalty_grad_{weight}", index))
    sign = ["sign(", plain, ")"]
    if cls == "L2":
        forms = [["2·", b.param(cfg["l2"]), "·", w]]
    elif cls == "L1":  # Keras keeps l1 in float32
        forms = [[b.param(float(np.float32(cfg["l1"]))), "·", *sign]]
    elif cls == "L1L2":
        forms = [[b.param(cfg["l1"]), "·", *sign, " + 2·", b.param(cfg["l2"]), "·", w]]
    else:
        forms = []
    sec.add(["∂R/∂", weight_symbol(weight, index)], *forms, [pen], note=gradient_text(spec))
    data = b.num(("backward", name, f"data_grad_{weight}", index), paren=True)
    sec.add(
        lhs,
        [data, " + ", pen.operand() if pen.value < 0 else pen],
        [b.num(("backward", name, f"grad_{weight}", index))],
        note=f"the data's gradient plus {cls}'s: what the optimizer uses",
    )


#: How a weight's entries are written, by Keras' weight names (any other name is written as is).
WEIGHT_SYMBOLS = {"kernel": "w", "bias": "b", "gamma": "γ", "beta": "β"}


def weight_symbol(name: str, index: tuple[int, ...]) -> Sym:
    """The symbol of entry ``index`` of a weight named ``name``: ``w₁,₂,₁,₃``, ``γ₂``,
    ``moving_mean₂``."""
    return Sym(WEIGHT_SYMBOLS.get(name, name), one_based(tuple(index)))


def sources_text(b: Builder, node: Node) -> str:
    """What feeds ``node``, for a remark: "the input sample, the outputs of 'dense'"."""
    return ", ".join(
        "the input sample" if b.is_input(s) else f"the outputs of '{s}'" for s in node.inbound
    )


def explain_mean(
    b: Builder, sec: Section, name: str, sample: int, idx, n: int, cell, channel: int, note: str
) -> None:
    """The forward line of a mean over ``n`` cells of one channel (average pooling's window,
    a global average): ``a = (x + x + …) / n`` with the trace's inputs; ``cell(t)`` is the
    (row, column) of the t-th cell read."""
    shown, left = shown_terms(n)
    syms = [[Sym("x", one_based((*cell(t), channel)))] for t in shown]
    vals = [
        [b.num(("forward", name, "inputs", (sample, *cell(t), channel)), paren=True)] for t in shown
    ]
    sec.add(
        [Sym("a", one_based(idx))],
        ["(", *plus(syms), *more_terms(left), f") / {n}"],
        ["(", *plus(vals), *more_terms(left), f") / {n}"],
        [b.num(("forward", name, "a", (sample, *idx)))],
        note=note,
    )
