"""The math behind one neuron or one weight of a stepped training step, with its numbers.

:func:`explain_neuron` and :func:`explain_weight` turn a :class:`~engine.stepper.StepSession`'s
trace into an :class:`Explanation`: sections (forward, loss, backward, update) of equation
chains such as ``z₂ = w₁,₂·x₁ + w₂,₂·x₂ + b₂ = 0.2739·0.3071 + … = −0.2429``, each only for
the phases the learner has reached. Every number that comes from the trace is a :class:`Num`
carrying its ``source`` (where in the trace it is, see :func:`lookup`), so that a view can show
its full precision and a test can check it equals the engine's value. Numbers computed here
for the learner to follow along (the products of a sum, f′(z), Adam's α) have no source.

Numbers are written with four significant digits (:func:`fmt`), a true minus sign and
``×10⁻⁵`` for very small or large values; negative operands of a product are parenthesised.

Pure Python and NumPy; the designer renders an explanation as HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.activations import get_activation
from engine.graph import INPUT

MINUS = "\u2212"
#: Sums with more terms than this are shown with their first terms and "…".
MAX_TERMS = 8

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()nit\u2212", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ⁻")

Source = tuple  # (phase, layer, key, index): see lookup()


# --------------------------------------------------------------------------------- numbers
def fmt(value: float, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, a true minus, ``×10ⁿ`` outside
    [1e-4, 1e5). Zero is ``0``; NaN and infinities are spelled ``NaN``, ``∞``."""
    v = float(value)
    if v == 0:
        return "0"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("" if v > 0 else MINUS) + "∞"
    sign = MINUS if v < 0 else ""
    a = abs(v)
    if a < 1e5 and a == int(a):  # whole numbers (targets, labels, masks) as people write them
        return sign + str(int(a))
    if 1e-4 <= a < 1e5:
        text = f"{a:#.{digits}g}"
        if "e" in text:  # rounding carried into the next power (99999.5 -> 1.000e+05)
            return sign + _sci(a, digits)
        return sign + text.rstrip(".")
    return sign + _sci(a, digits)


def _sci(a: float, digits: int) -> str:
    mantissa, exp = f"{a:.{digits - 1}e}".split("e")
    return f"{mantissa}×10{str(int(exp)).translate(_SUP)}"


def fmt_param(value: float) -> str:
    """A hyper-parameter as written by people: ``0.9``, ``0.001``, ``1×10⁻⁷``."""
    v = float(value)
    if v == 0:
        return "0"
    a = abs(v)
    sign = MINUS if v < 0 else ""
    if 1e-4 <= a < 1e5:
        return sign + f"{a:.6g}"
    mantissa, exp = f"{a:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{sign}{mantissa}×10{str(int(exp)).translate(_SUP)}"


def exact_text(value: Any) -> str:
    """The shortest text that gives back ``value`` exactly in its own dtype."""
    if isinstance(value, np.floating):
        return str(value)
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return repr(float(value))


# --------------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Sym:
    """A variable: an italic name with an optional subscript and superscript."""

    name: str
    sub: str = ""
    sup: str = ""

    def text(self) -> str:
        return f"{self.name}{_subscript(self.sub)}{_superscript(self.sup)}"


def _subscript(text: str) -> str:
    if not text:
        return ""
    out = text.translate(_SUB)
    # Characters without a Unicode subscript (a comma, capitals) are kept as they are; a
    # layer-name subscript that is not all digits reads better in brackets.
    if any(ch.isalpha() and ch == out[i] for i, ch in enumerate(text)):
        return f"[{text}]"
    return out


def _superscript(text: str) -> str:
    if not text:
        return ""
    out = text.translate(_SUP)
    if any(ch not in "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ" for ch in out):
        return f"^{text}"
    return out


@dataclass(frozen=True)
class Num:
    """A number shown. ``source`` says where it is in the trace (None: computed here, for the
    learner to follow); ``exact`` is its full precision; ``paren`` wraps a negative value in
    parentheses (an operand of a product); ``param`` marks a hyper-parameter (written as set)."""

    value: float
    exact: str
    source: Source | None = None
    paren: bool = False
    param: bool = False

    def text(self) -> str:
        s = fmt_param(self.value) if self.param else fmt(self.value)
        if self.paren and (self.value < 0 or "×" in s):
            return f"({s})"
        return s

    def operand(self) -> Num:
        """The same number, parenthesised when negative (for products and powers)."""
        return Num(self.value, self.exact, self.source, True, self.param)


Part = str | Sym | Num


@dataclass
class Line:
    """``lhs op rhs`` with ``op`` "=" or "←" (an update); a continuation line has an empty
    ``lhs``: ``= rhs`` under the previous one. A line with neither is a remark: ``note``
    alone."""

    lhs: list[Part]
    rhs: list[Part]
    note: str = ""
    op: str = "="

    def text(self, lhs_width: int = 0) -> str:
        left = parts_text(self.lhs)
        right = parts_text(self.rhs)
        if not self.lhs and not self.rhs:
            return self.note
        eq = f"{left.rjust(lhs_width)} {self.op} {right}" if self.rhs else left
        return f"{eq}    ({self.note})" if self.note else eq


def parts_text(parts: list[Part]) -> str:
    out = []
    for p in parts:
        out.append(p if isinstance(p, str) else p.text())
    return "".join(out)


@dataclass
class Section:
    """One phase's math: ``phase`` is forward, loss, backward, update (or input)."""

    title: str
    phase: str
    lines: list[Line] = field(default_factory=list)

    def add(self, lhs: list[Part], *chain: list[Part], note: str = "", op: str = "=") -> None:
        """``lhs op chain[0] = chain[1] …`` as one line per link. An ``lhs`` ending in
        ``" ← "`` is an update: ``op`` becomes "←"."""
        if lhs and lhs[-1] == " ← ":
            lhs, op = lhs[:-1], "←"
        for k, rhs in enumerate(chain):
            self.lines.append(
                Line(
                    lhs if k == 0 else [],
                    rhs,
                    note if k == len(chain) - 1 else "",
                    op if k == 0 else "=",
                )
            )

    def remark(self, text: str) -> None:
        self.lines.append(Line([], [], text))


@dataclass
class Explanation:
    """What the math panel shows for one pinned neuron or weight."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def text(self) -> str:
        out = [self.title]
        if self.subtitle:
            out.append(self.subtitle)
        for sec in self.sections:
            out.append("")
            out.append(sec.title)
            width = max((len(parts_text(ln.lhs)) for ln in sec.lines), default=0)
            out.extend("  " + ln.text(width) for ln in sec.lines)
        return "\n".join(out)

    def numbers(self) -> list[Num]:
        """Every number shown, in reading order."""
        return [
            p
            for sec in self.sections
            for ln in sec.lines
            for p in (*ln.lhs, *ln.rhs)
            if isinstance(p, Num)
        ]

    def section(self, phase: str) -> Section | None:
        return next((s for s in self.sections if s.phase == phase), None)


# --------------------------------------------------------------------------------- lookup
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


class _Builder:
    """Makes numbers from the session's trace for one explanation."""

    def __init__(self, session, upto: int | None) -> None:
        self.s = session
        self.upto = session.index if upto is None else upto
        self.dtype = session.dtype

    def ev(self, phase: str, layer: str | None = None):
        return self.s.event(phase, layer, self.upto)

    def num(self, source: Source, paren: bool = False) -> Num:
        value = lookup(self.s, source)
        return Num(float(value), exact_text(value), tuple(source), paren)

    def calc(self, value: float, paren: bool = False) -> Num:
        """A number computed here (in the model's dtype), not read from the trace."""
        v = self.dtype.type(value)
        return Num(float(v), exact_text(v), None, paren)

    def param(self, value: float) -> Num:
        return Num(float(value), repr(float(value)), None, False, True)


def _plus(terms: list[list[Part]]) -> list[Part]:
    """``t₁ + t₂ + …``; the very first number needs no parentheses."""
    out: list[Part] = []
    for k, t in enumerate(terms):
        if k:
            out.append(" + ")
        if k == 0 and t and isinstance(t[0], Num) and t[0].paren and "×" not in t[0].text():
            t = [Num(t[0].value, t[0].exact, t[0].source, False, t[0].param), *t[1:]]
        out.extend(t)
    return out


def _terms(count: int) -> tuple[list[int], int]:
    """Which of ``count`` terms to show, and how many are left out."""
    if count <= MAX_TERMS:
        return list(range(count)), 0
    shown = MAX_TERMS - 2
    return list(range(shown)), count - shown


def _more(left: int) -> list[Part]:
    return [f" + … ({left} more terms)"] if left else []


def _unit_index(shape: tuple[int, ...], unit: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(unit), shape))


def _u(idx: tuple[int, ...]) -> str:
    """1-based subscript text of a unit's index."""
    return ",".join(str(i + 1) for i in idx)


def _node(session, layer: str):
    return session.graph.by_name[layer]


def _fwd_key(node, k: int) -> str:
    return f"inputs.{k}" if node.layer_type.merge else "inputs"


def _bwd_in_key(node, k: int) -> str:
    return f"grad_inputs.{k}" if node.layer_type.merge else "grad_inputs"


def _sample_text(session, sample: int) -> str:
    row = int(session.batch_indices[sample])
    n = len(session.batch_x)
    return (
        f"sample {sample + 1} of {n} in this step (row {row + 1} of the training split), "
        f"step {session.step_number}"
    )


# --------------------------------------------------------------------------------- neurons
def explain_neuron(
    session, layer: str, sample: int = 0, unit: int = 0, phase: int | None = None
) -> Explanation:
    """The math of one neuron (unit) of ``layer`` for one sample of the current step.

    Parameters
    ----------
    session : StepSession
    layer : str
        A layer name, or ``"input"`` for the model input.
    sample : int
        Which sample of the step's batch (0-based).
    unit : int
        The unit's flat index within the layer's output (0-based).
    phase : int, optional
        Explain what is known up to this phase index (default: the phase shown).

    Returns
    -------
    Explanation
        Sections for the phases reached: forward (z = Σ wᵢxᵢ + b, a = f(z); a merge's sum; a
        dropout mask), loss (for the output layer: the loss and ∂L/∂ŷ), backward (∂L/∂a summed
        over the layers this one feeds, δ = ∂L/∂a·f′(z), the bias gradient; a merge's split),
        update (the bias, by the optimizer's rule).
    """
    b = _Builder(session, phase)
    sample = int(min(max(sample, 0), max(len(session.batch_x) - 1, 0)))
    if layer == INPUT:
        idx = _unit_index(session.graph.input_shape, unit)
        exp = Explanation(f"Input x{_subscript(_u(idx))}", _sample_text(session, sample))
        sec = Section("Input", "input")
        sec.add([Sym("x", _u(idx))], [b.num(("batch", None, "x", (sample, *idx)))])
        sec.remark("A feature of the sample, as fed to the network (after any scaling).")
        exp.sections.append(sec)
        return exp

    node = _node(session, layer)
    idx = _unit_index(node.output_shape, unit)
    what = f"{node.class_name}" + (f", {node.activation}" if node.activation else "")
    exp = Explanation(f"{layer} · unit {_u(idx)} ({what})", _sample_text(session, sample))
    if session.perceptron:
        _perceptron_neuron(b, exp, node, sample)
        return exp

    fwd = b.ev("forward", layer)
    if fwd is None:
        exp.sections.append(_waiting("forward"))
        return exp
    exp.sections.append(_forward_neuron(b, node, sample, idx))
    if layer == session.graph.output and b.ev("loss") is not None:
        exp.sections.append(_loss_neuron(b, node, sample, idx))
    if b.ev("backward", layer) is not None:
        exp.sections.append(_backward_neuron(b, node, sample, idx))
    if layer in session.model.weights and "bias" in session.weights_before.get(layer, {}):
        if b.ev("update", layer) is not None:
            j = idx[-1]
            sec = Section(f"Update of the bias b{_subscript(str(j + 1))}", "update")
            g = b.num(("backward", layer, "grad_bias", (j,)))
            _update_lines(b, sec, layer, "bias", (j,), Sym("b", str(j + 1)), g)
            exp.sections.append(sec)
    return exp


def _waiting(phase: str) -> Section:
    sec = Section("Not computed yet", phase)
    sec.remark("Press Next phase to compute this layer's forward pass.")
    return sec


def _forward_neuron(b: _Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    name = node.name
    sec = Section(f"Forward pass through {name}", "forward")
    src_names = ", ".join(
        "the input sample" if s == INPUT else f"the outputs of '{s}'" for s in node.inbound
    )
    full = (sample, *idx)
    cls = node.class_name
    if cls == "Dense":
        j = idx[-1]
        prefix = idx[:-1]
        fan_in = node.input_shapes[0][-1]
        shown, left = _terms(fan_in)
        sym = _plus([[Sym("w", f"{i + 1},{j + 1}"), "·", Sym("x", str(i + 1))] for i in shown])
        sym += _more(left)
        has_bias = "bias" in b.s.weights_before[name]
        if has_bias:
            sym.append(" + ")
            sym.append(Sym("b", str(j + 1)))
        plugged: list[list[Part]] = []
        products: list[list[Part]] = []
        for i in shown:
            w = b.num(("start", name, "kernel", (i, j)))
            x = b.num(("forward", name, "inputs", (sample, *prefix, i)), paren=True)
            plugged.append([w.operand() if w.value < 0 else w, "·", x])
            products.append([b.calc(np.float64(w.value) * np.float64(x.value), paren=True)])
        tail: list[Part] = []
        if has_bias:
            tail = [" + ", b.num(("start", name, "bias", (j,)), paren=True)]
        chain = [sym, _plus(plugged) + _more(left) + tail]
        if len(shown) > 1 and not left:
            chain.append(_plus(products) + tail)
        chain.append([b.num(("forward", name, "z", full))])
        sec.add([Sym("z", _u(idx))], *chain)
        sec.remark(f"x = {src_names}; w, b = the weights before this step's update.")
        _activation_lines(b, sec, node, sample, idx)
    elif cls == "Activation":
        sec.add([Sym("z", _u(idx))], [b.num(("forward", name, "inputs", full))])
        _activation_lines(b, sec, node, sample, idx)
    elif cls == "Dropout":
        fwd = b.ev("forward", name)
        x = b.num(("forward", name, "inputs", full), paren=True)
        if "mask" in fwd.data:
            m = b.num(("forward", name, "mask", full))
            rate = node.config["rate"]
            sec.add(
                [Sym("a", _u(idx))],
                [Sym("x", _u(idx)), "·", Sym("m", _u(idx))],
                [x, "·", m],
                [b.num(("forward", name, "a", full))],
            )
            kept = m.value != 0
            sec.remark(
                f"Dropout mask m = 0 (dropped) or 1/(1 − rate) = {fmt_param(1 / (1 - rate))} "
                f"(kept and scaled up); this unit was {'kept' if kept else 'dropped'}."
            )
        else:
            sec.add([Sym("a", _u(idx))], [Sym("x", _u(idx))], [b.num(("forward", name, "a", full))])
            sec.remark("Dropout with rate 0 passes its input through.")
    elif cls == "Flatten":
        in_idx = _unit_index(
            node.input_shapes[0], int(np.ravel_multi_index(idx, node.output_shape))
        )
        sec.add(
            [Sym("a", _u(idx))],
            [Sym("x", _u(in_idx))],
            [b.num(("forward", name, "a", full))],
        )
        sec.remark("Flatten lays the input out as one vector; no arithmetic.")
    elif cls == "Add":
        syms = [[Sym(s, _u(idx))] for s in node.inbound]
        vals = [
            [b.num(("forward", name, _fwd_key(node, k), full), paren=k > 0)]
            for k in range(len(node.inbound))
        ]
        sec.add(
            [Sym("a", _u(idx))],
            _plus(syms),
            _plus(vals),
            [b.num(("forward", name, "a", full))],
        )
        sec.remark("Add sums its inputs unit by unit.")
    elif cls == "Concatenate":
        k, in_idx = _concat_source(node, idx)
        src = node.inbound[k]
        sec.add(
            [Sym("a", _u(idx))],
            [Sym(src, _u(in_idx))],
            [b.num(("forward", name, _fwd_key(node, k), (sample, *in_idx)))],
        )
        sec.remark(f"Concatenate places its inputs side by side; this unit comes from '{src}'.")
    return sec


def _concat_source(node, idx: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """Which input of a Concatenate a unit comes from, and its index there."""
    rank = len(node.output_shape)
    axis = node.config["axis"]
    ax = axis + rank if axis < 0 else axis - 1  # config axes count the batch axis
    offset = 0
    for k, shape in enumerate(node.input_shapes):
        size = shape[ax]
        if idx[ax] < offset + size:
            in_idx = list(idx)
            in_idx[ax] -= offset
            return k, tuple(in_idx)
        offset += size
    raise AssertionError("unit outside the concatenation")  # pragma: no cover


_FORMULAS = {
    "sigmoid": "1 / (1 + e^(−z))",
    "tanh": "(e^z − e^(−z)) / (e^z + e^(−z))",
    "relu": "max(0, z)",
}


def _activation_lines(b: _Builder, sec: Section, node, sample: int, idx: tuple[int, ...]) -> None:
    name = node.name
    act = node.activation or "linear"
    full = (sample, *idx)
    z = b.num(("forward", name, "z", full))
    a = b.num(("forward", name, "a", full))
    a_sym = [Sym("a", _u(idx))]
    if act == "linear":
        sec.add(a_sym, [Sym("z", _u(idx))], [a], note="linear activation: a = z")
        return
    if act == "softmax":
        k = node.output_shape[-1]
        shown, left = _terms(k)
        pre = (sample, *idx[:-1])
        exps = [["e^", b.num(("forward", name, "z", (*pre, c)), paren=True)] for c in shown]
        sec.add(
            a_sym,
            [f"e^z{_subscript(_u(idx))} / Σₖ e^zₖ"],
            ["e^", z.operand(), " / (", *_plus(exps), *_more(left), ")"],
            [a],
            note="softmax: the exponentials normalised to sum to 1",
        )
        return
    formula = _FORMULAS.get(act)
    sec.add(
        a_sym,
        [f"{act}(", Sym("z", _u(idx)), ")"],
        [f"{act}(", z, ")"],
        [a],
        note=f"{act}(z) = {formula}" if formula else "",
    )


def _count(s, node) -> int:
    """How many rows the loss averages over: the samples times any positions before the last
    axis (Keras' ``sum_over_batch_size`` reduction)."""
    return len(s.batch_x) * int(np.prod(node.output_shape[:-1], dtype=np.int64))


def _clipped(p: float) -> bool:
    """True where Keras' clip to [ε, 1 − ε] changes ``p`` and so stops its gradient."""
    return not (_EPS <= p <= 1 - _EPS)


#: keras.backend.epsilon(): the crossentropies clip probabilities to [ε, 1 − ε].
_EPS = 1e-7
_EPS_TEXT = "[10⁻⁷, 1 − 10⁻⁷]"


def _loss_neuron(b: _Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    s = b.s
    loss = s.loss_name
    sec = Section(f"Loss ({loss})", "loss")
    full = (sample, *idx)
    out = node.name
    n = _count(s, node)
    k = node.output_shape[-1]
    u = _u(idx)
    yhat = b.num(("forward", out, "a", full))
    y_hat = [Sym("ŷ", u)]
    value = b.num(("loss", None, "value", ()))
    grad = b.num(("loss", None, "grad", full))
    dl = [f"∂L/∂ŷ{_subscript(u)}"]
    if loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        _crossentropy_loss(b, sec, node, sample, idx, n, yhat, value, grad)
        return sec
    y = b.num(("loss", None, "targets", full))
    sec.add([Sym("y", u)], [y], note="the target")
    sec.add(y_hat, [yhat], note="the network's output")
    yv, pv = float(y.value), float(yhat.value)
    nk = ["(", str(n), "·", str(k), ")"]
    mean_note = f"mean over n = {n} samples and k = {k} outputs"
    if loss == "mean_squared_error":
        sec.add(
            [f"(ŷ{_subscript(u)} − y{_subscript(u)})²"],
            ["(", yhat, " − ", y.operand(), ")²"],
            [b.calc((pv - yv) ** 2)],
        )
        sec.add([Sym("L")], ["1/(n·k) · Σ (ŷ − y)²"], [value], note=mean_note)
        sec.add(
            dl,
            ["2(ŷ − y) / (n·k)"],
            ["2·(", yhat, " − ", y.operand(), ") / ", *nk],
            [grad],
        )
    elif loss == "mean_absolute_error":
        sec.add(
            [f"|ŷ{_subscript(u)} − y{_subscript(u)}|"],
            ["|", yhat, " − ", y.operand(), "|"],
            [b.calc(abs(pv - yv))],
        )
        sec.add([Sym("L")], ["1/(n·k) · Σ |ŷ − y|"], [value], note=mean_note)
        sec.add(
            dl,
            ["sign(ŷ − y) / (n·k)"],
            ["sign(", yhat, " − ", y.operand(), ") / ", *nk],
            [grad],
        )
    elif loss == "hinge":
        _hinge_loss(b, sec, n, k, y, yhat, value, grad, dl)
    elif loss == "binary_crossentropy":
        _binary_crossentropy_loss(b, sec, node, full, n, k, y, yhat, value, grad, dl)
    if s.model.fused:
        sec.remark(
            f"Keras computes {node.activation} and {loss} together from z (more stable); "
            "backprop then starts from δ = ∂L/∂z below."
        )
    return sec


def _hinge_loss(b: _Builder, sec: Section, n: int, k: int, y, yhat, value, grad, dl) -> None:
    dt = b.dtype.type
    targets = np.asarray(b.ev("loss").data["targets"])
    # keras.losses.hinge turns 0/1 targets into −1/+1, but only when the whole batch is 0/1.
    if np.all((targets == 0) | (targets == 1)):
        yp = b.calc(2 * y.value - 1)
        sec.add(
            ["y′"], ["2y − 1"], ["2·", y, " − 1"], [yp], note="Keras turns 0/1 targets into −1/+1"
        )
        ysym = "y′"
    else:
        yp, ysym = y, "y"
    margin = b.calc(dt(1) - dt(yp.value) * dt(yhat.value))
    sec.add(
        [f"1 − {ysym}·ŷ"], ["1 − ", yp.operand(), "·", yhat.operand()], [margin], note="the margin"
    )
    sec.add(["ℓ"], [f"max(0, 1 − {ysym}·ŷ)"], ["max(0, ", margin, ")"],
            [b.calc(max(0.0, margin.value))])  # fmt: skip
    sec.add([Sym("L")], ["1/(n·k) · Σ ℓ"], [value], note=f"mean over n = {n} and k = {k} outputs")
    nk = ["(", str(n), "·", str(k), ")"]
    if margin.value >= 0:
        # tf.maximum sends the gradient to its first argument on ties: a zero margin counts.
        sec.add(dl, [f"−{ysym} / (n·k)"], ["−", yp.operand(), " / ", *nk], [grad],
                note=f"1 − {ysym}·ŷ ≥ 0")  # fmt: skip
    else:
        sec.add(dl, [grad], note=f"1 − {ysym}·ŷ < 0: the margin is met, no gradient")


def _binary_crossentropy_loss(b: _Builder, sec, node, full, n, k, y, yhat, value, grad, dl):
    s = b.s
    yv, pv = float(y.value), float(yhat.value)
    if s.model.fused:
        # Keras' sigmoid_cross_entropy_with_logits: the stable form from z.
        z = b.num(("forward", node.name, "z", full))
        sec.add(
            ["ℓ"],
            ["max(z, 0) − z·y + log(1 + e^(−|z|))"],
            ["max(", z, ", 0) − ", z.operand(), "·", y.operand(), " + log(1 + e^",
             b.calc(-abs(z.value), paren=True), ")"],
            [b.calc(max(z.value, 0) - z.value * yv + math.log1p(math.exp(-abs(z.value))))],
            note="this output's cross-entropy, from z",
        )  # fmt: skip
    elif _clipped(pv):
        c = min(max(pv, _EPS), 1 - _EPS)
        sec.add(
            ["ℓ"],
            ["−[y·log ŷ + (1 − y)·log(1 − ŷ)]"],
            [b.calc(-(yv * math.log(c) + (1 - yv) * math.log(1 - c)))],
            note=f"ŷ clipped to {_EPS_TEXT} first",
        )
    else:
        sec.add(
            ["ℓ"],
            ["−[y·log ŷ + (1 − y)·log(1 − ŷ)]"],
            ["−[", y, "·log ", yhat, " + (1 − ", y, ")·log(1 − ", yhat, ")]"],
            [b.calc(-(yv * math.log(pv) + (1 - yv) * math.log(1 - pv)))],
            note="this output's cross-entropy",
        )
    sec.add([Sym("L")], ["mean of ℓ over the batch and outputs"], [value], note=f"n = {n}, k = {k}")
    if _clipped(pv):
        sec.add(dl, [grad], note=f"ŷ is outside Keras' clip range {_EPS_TEXT}: no gradient")
        return
    sec.add(
        dl,
        ["(ŷ − y) / (ŷ(1 − ŷ)·n·k)"],
        ["(", yhat, " − ", y.operand(), ") / (", yhat, "·(1 − ", yhat, ")·", str(n), "·",
         str(k), ")"],
        [grad],
    )  # fmt: skip


def _clipped_crossentropy(p_row: np.ndarray, t: int, sparse: bool) -> float:
    """ℓ of one sample as Keras computes it when the clip bites: the sparse path clips ŷ and
    then renormalises (log Σc − log cₜ); the categorical one renormalises, then clips."""
    c = np.clip(p_row, _EPS, 1 - _EPS)
    if sparse:
        return float(np.log(c.sum()) - np.log(c[t]))
    return float(-np.log(c[t]))


def _crossentropy_loss(b: _Builder, sec, node, sample, idx, n, yhat, value, grad) -> None:
    """Categorical and sparse categorical crossentropy, as Keras computes them from ŷ: it
    divides ŷ by its sum over the classes first, so ℓ = −log(ŷₜ / Σₖ ŷₖ) depends on every
    output, and ∂ℓ/∂ŷᵢ = 1/Σₖ ŷₖ − yᵢ/ŷᵢ (not 0) for a class that is not the sample's."""
    s = b.s
    loss = s.loss_name
    out = node.name
    full = (sample, *idx)
    row = full[:-1]
    u = _u(idx)
    i = idx[-1]
    sub = _subscript
    a_row = np.asarray(b.ev("forward", out).data["a"])[row].astype(np.float64)
    sparse = loss == "sparse_categorical_crossentropy"
    if sparse:
        label = b.num(("loss", None, "targets", (sample, *idx[:-1])))
        t: int | None = int(label.value)
        sec.add([Sym("label")], [label], note="the class of this sample")
        y = b.calc(1.0 if t == i else 0.0)
        y_row = np.zeros_like(a_row)
        y_row[t] = 1.0
        sec.add([Sym("y", u)], [y], note="1 for the sample's class, else 0")
    else:
        y = b.num(("loss", None, "targets", full))
        y_row = np.asarray(b.ev("loss").data["targets"])[row].astype(np.float64)
        one_hot = np.all((y_row == 0) | (y_row == 1)) and y_row.sum() == 1
        t = int(np.argmax(y_row)) if one_hot else None
        sec.add([Sym("y", u)], [y], note="the target")
    sec.add([Sym("ŷ", u)], [yhat], note="the network's output")
    fused = s.model.fused
    # What Keras clips: the renormalised ŷ (categorical) or ŷ itself (sparse).
    total = float(a_row.sum())
    p_row = a_row if sparse else a_row / total
    clipped = np.array([_clipped(float(p)) for p in p_row])
    sum_sym = "Σₖ ŷₖ"
    if t is not None:
        tu = _u((*idx[:-1], t))
        yt = b.num(("forward", out, "a", (*row, t)))
        if fused:
            sec.add(
                ["ℓ"],
                [f"−Σₖ yₖ·log ŷₖ = −log ŷ{sub(tu)}"],
                ["−log ", yt],
                [b.calc(-math.log(yt.value)) if yt.value > 0 else b.calc(math.inf)],
                note="only the sample's class counts; Keras takes it from z (log-softmax)",
            )
        elif not clipped.any():
            sec.add(
                ["ℓ"],
                [f"−log(ŷ{sub(tu)} / {sum_sym})"],
                ["−log(", yt, " / ", b.calc(total), ")"],
                [b.calc(-math.log(yt.value / total))],
                note="Keras divides ŷ by its sum over the classes first",
            )
        else:
            sec.add(
                ["ℓ"],
                [f"−log(ŷ{sub(tu)} / {sum_sym})"],
                [b.calc(_clipped_crossentropy(p_row, t, sparse))],
                note=f"with ŷ clipped to {_EPS_TEXT}",
            )
    else:
        sec.remark("The target is not one-hot: ℓ = −Σₖ yₖ·log(ŷₖ / Σⱼ ŷⱼ).")
    sec.add([Sym("L")], ["mean of ℓ over the batch"], [value], note=f"n = {n}")

    dl = [f"∂L/∂ŷ{sub(u)}"]
    # Where Keras' clip stops the gradient: the unit itself (sparse), or a class with y ≠ 0
    # (categorical: its −y/ŷ term is what reaches every unit).
    stopped = bool(clipped[i]) if sparse else bool(np.any(clipped & (y_row != 0)))
    if stopped:
        sec.add(dl, [grad], note=f"ŷ is outside Keras' clip range {_EPS_TEXT} here")
    else:
        sum_y = float(y_row.sum())
        # The sparse path sums the clipped ŷ (it clips before renormalising).
        s_val = float(np.clip(a_row, _EPS, 1 - _EPS).sum()) if sparse else total
        head = "1" if sum_y == 1 else "Σₖ yₖ"
        sec.add(
            dl,
            [f"({head} / {sum_sym} − y{sub(u)} / ŷ{sub(u)}) / n"],
            ["(", b.calc(sum_y), " / ", b.calc(s_val), " − ", y, " / ", yhat, ") / ", str(n)],
            [grad],
            note="Keras renormalises ŷ by its sum before the log",
        )
        if t is not None and t != i:
            sec.remark(
                f"Not the sample's class, yet ∂L/∂ŷ{sub(u)} ≠ 0: ℓ = −log(ŷₜ / Σₖ ŷₖ) depends "
                "on every output through the sum."
            )
    if fused:
        sec.remark(
            f"Keras computes softmax and {loss} together from z (more stable). The part "
            "1/(Σₖ ŷₖ·n) that every output gets cancels in softmax's backward pass (softmax's "
            "outputs always sum to 1), so backprop starts from δ = ∂L/∂z = (ŷ − y)/n below."
        )


def _consumer_contribution(b: _Builder, node, consumer, sample: int, idx) -> tuple[list, Num]:
    """What ``consumer`` sends back to ``node``'s unit: (expanded chain, value)."""
    name = node.name
    k = consumer.inbound.index(name)
    full = (sample, *idx)
    value = b.num(("backward", consumer.name, _bwd_in_key(consumer, k), full))
    chain: list[list[Part]] = []
    cls = consumer.class_name
    if cls == "Dense":
        i = idx[-1]
        units = consumer.output_shape[-1]
        shown, left = _terms(units)
        chain.append(["Σⱼ ", Sym("w", f"{i + 1},j"), "·", Sym("δ", "j"), f" of {consumer.name}"])
        if not left:
            terms = []
            for j in shown:
                w = b.num(("start", consumer.name, "kernel", (i, j)))
                d = b.num(("backward", consumer.name, "grad_z", (sample, *idx[:-1], j)), paren=True)
                terms.append([w.operand() if w.value < 0 else w, "·", d])
            chain.append(_plus(terms))
    elif cls == "Dropout":
        ga = b.num(("backward", consumer.name, "grad_a", full))
        fwd = b.ev("forward", consumer.name)
        if "mask" in fwd.data:
            m = b.num(("forward", consumer.name, "mask", full))
            u = _subscript(_u(idx))
            chain.append([f"∂L/∂a{u} of {consumer.name} · m{u}"])
            chain.append([ga.operand(), "·", m])
    elif cls == "Add":
        chain.append([f"∂L/∂a of {consumer.name} (Add copies the error to each input)"])
    elif cls == "Concatenate":
        chain.append([f"its slice of ∂L/∂a of {consumer.name}"])
    elif cls in ("Activation", "Flatten"):
        chain.append([f"∂L/∂(input) of {consumer.name}"])
    return chain, value


def _backward_neuron(b: _Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    s = b.s
    name = node.name
    sec = Section(f"Backward pass through {name}", "backward")
    full = (sample, *idx)
    u = _u(idx)
    ga = b.num(("backward", name, "grad_a", full))
    dl_da = [f"∂L/∂a{_subscript(u)}"]
    if name == s.graph.output:
        note = "from the loss"
        if s.model.fused:
            note += "; shown for reference: with the fused loss, δ comes straight from z"
        sec.add(dl_da, [f"∂L/∂ŷ{_subscript(u)}"], [ga], note=note)
    else:
        consumers = [s.graph.by_name[c] for c in node.outbound]
        parts = []
        for c in consumers:
            chain, value = _consumer_contribution(b, node, c, sample, idx)
            if len(consumers) == 1:
                sec.add(dl_da, *chain, [value], note=f"from {c.name}")
            else:
                sec.add([f"∂L/∂a{_subscript(u)} via {c.name}"], *chain, [value])
            parts.append(value.operand())
        if len(consumers) > 1:
            sec.add(
                dl_da,
                _plus([[f"(from {c.name})"] for c in consumers]),
                _plus([[p] for p in parts]),
                [ga],
                note="the errors from every layer this one feeds are summed (fan-out)",
            )
    cls = node.class_name
    if cls in ("Dense", "Activation"):
        gz = b.num(("backward", name, "grad_z", full))
        delta = [Sym("δ", u)]
        act = node.activation or "linear"
        if name == s.graph.output and s.model.fused:
            _fused_delta(b, sec, node, sample, idx, gz)
        elif act == "linear":
            sec.add(delta, [f"∂L/∂a{_subscript(u)} · 1"], [gz], note="linear: f′(z) = 1")
        elif act == "softmax":
            k = node.output_shape[-1]
            a = b.num(("forward", name, "a", full))
            pre = (sample, *idx[:-1])
            inner = sum(
                float(lookup(s, ("backward", name, "grad_a", (*pre, c))))
                * float(lookup(s, ("forward", name, "a", (*pre, c))))
                for c in range(k)
            )
            sec.add(
                delta,
                [f"a{_subscript(u)}·(∂L/∂a{_subscript(u)} − Σₖ ∂L/∂aₖ·aₖ)"],
                [a, "·(", ga, " − ", b.calc(inner, paren=True), ")"],
                [gz],
                note="softmax mixes its units",
            )
        else:
            z = b.num(("forward", name, "z", full))
            a = b.num(("forward", name, "a", full))
            d_sym, d_val = _derivative_parts(b, act, z, a)
            sec.add(
                delta,
                [f"∂L/∂z{_subscript(u)} = ∂L/∂a{_subscript(u)} · f′(z{_subscript(u)})"],
                [ga.operand(), "·", *d_sym],
                [ga.operand(), "·", d_val],
                [gz],
                note=_DERIVATIVES.get(act, ""),
            )
        if cls == "Dense" and "bias" in s.weights_before.get(name, {}):
            j = idx[-1]
            _gradient_sum(b, sec, node, None, j, [f"∂L/∂b{_subscript(str(j + 1))}"])
    elif cls == "Dropout":
        if "mask" in b.ev("forward", name).data:
            m = b.num(("forward", name, "mask", full))
            sec.add(
                [f"∂L/∂x{_subscript(u)}"],
                [f"∂L/∂a{_subscript(u)} · m{_subscript(u)}"],
                [ga.operand(), "·", m],
                [b.num(("backward", name, "grad_inputs", full))],
                note="dropped units pass no error back",
            )
    elif cls == "Add":
        for k, src in enumerate(node.inbound):
            sec.add(
                [f"∂L/∂{src}{_subscript(u)}"],
                [f"∂L/∂a{_subscript(u)}"],
                [b.num(("backward", name, _bwd_in_key(node, k), full))],
                note=f"the error sent back to {src}",
            )
        sec.remark("Add splits the error: each input receives ∂L/∂a unchanged.")
    elif cls == "Concatenate":
        k, in_idx = _concat_source(node, idx)
        src = node.inbound[k]
        sec.add(
            [f"∂L/∂{src}{_subscript(_u(in_idx))}"],
            [f"∂L/∂a{_subscript(u)}"],
            [b.num(("backward", name, _bwd_in_key(node, k), (sample, *in_idx)))],
            note=f"this unit's error goes back to '{src}'",
        )
    elif cls == "Flatten":
        sec.remark("Flatten passes the error back reshaped; no arithmetic.")
    return sec


_DERIVATIVES = {
    "tanh": "tanh′(z) = 1 − a²",
    "sigmoid": "sigmoid′(z) = a·(1 − a)",
    "relu": "relu′(z) = 1 if z > 0, else 0",
}


def _derivative_parts(b: _Builder, act: str, z: Num, a: Num) -> tuple[list[Part], Num]:
    """f′(z) as a formula with numbers, and its value (computed here)."""
    fn = get_activation(act)
    zz = np.asarray([z.value], dtype=b.dtype)
    aa = np.asarray([a.value], dtype=b.dtype)
    value = b.calc(float(fn._derivative(zz, aa)[0]))
    if act == "tanh":
        return ["(1 − ", a.operand(), "²)"], value
    if act == "sigmoid":
        return [a.operand(), "·(1 − ", a.operand(), ")"], value
    if act == "relu":
        return ["relu′(", z, ")"], value
    return [f"{act}′(", z, ")"], value


def _fused_delta(b: _Builder, sec: Section, node, sample: int, idx, gz: Num) -> None:
    s = b.s
    full = (sample, *idx)
    n = _count(s, node)
    k = node.output_shape[-1]
    yhat = b.num(("forward", node.name, "a", full), paren=True)
    if s.loss_name == "sparse_categorical_crossentropy":
        label = int(lookup(s, ("loss", None, "targets", (sample, *idx[:-1]))))
        y = b.calc(1.0 if label == idx[-1] else 0.0)
        div, where = str(n), "n"
    elif s.loss_name == "categorical_crossentropy":
        y = b.num(("loss", None, "targets", full))
        div, where = str(n), "n"
    else:
        y = b.num(("loss", None, "targets", full))
        div, where = f"({n}·{k})", "(n·k)"
    sec.add(
        [Sym("δ", _u(idx))],
        [f"∂L/∂z = (ŷ − y) / {where}"],
        ["(", yhat, " − ", y.operand(), ") / ", div],
        [gz],
        note=f"{node.activation} and the cross-entropy together",
    )


def _gradient_sum(b: _Builder, sec: Section, node, i: int | None, j: int, lhs: list[Part]) -> None:
    """∂L/∂w_ij = Σ over the batch of x_i·δ_j (or ∂L/∂b_j = Σ δ_j)."""
    name = node.name
    x = np.asarray(b.ev("forward", name).data["inputs"])
    rows_shape = x.shape[:-1]
    count = int(np.prod(rows_shape))
    shown, left = _terms(count)
    sym: list[Part]
    terms = []
    for r in shown:
        ridx = _unit_index(rows_shape, r)
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
    chain = [sym, _plus(terms) + _more(left), [b.num(("backward", name, key, index))]]
    if i is None and count == 1:
        chain = [sym, [b.num(("backward", name, key, index))]]
    unit = "samples" if len(rows_shape) == 1 else "terms (samples × positions)"
    sec.add(lhs, *chain, note=f"{count} {unit}" if count > 1 else "")


# --------------------------------------------------------------------------------- weights
def explain_weight(
    session, layer: str, i: int, j: int, sample: int = 0, phase: int | None = None
) -> Explanation:
    """The math of one kernel entry ``w[i, j]`` of a Dense ``layer`` (from its input ``i`` to
    its unit ``j``, 0-based) in the current step.

    Sections for the phases reached: forward (its term w·x in z for ``sample``), backward
    (∂L/∂w = Σ over the batch of x·δ), update (the optimizer's rule with its hyper-parameters
    and slots, or the Perceptron's w ← w + η(t − ŷ)x).
    """
    b = _Builder(session, phase)
    node = _node(session, layer)
    sample = int(min(max(sample, 0), max(len(session.batch_x) - 1, 0)))
    wsym = Sym("w", f"{i + 1},{j + 1}")
    src = node.inbound[0]
    src_text = "the input" if src == INPUT else f"'{src}'"
    exp = Explanation(
        f"{layer} · weight w{_subscript(f'{i + 1},{j + 1}')}",
        f"from unit {i + 1} of {src_text} to unit {j + 1} of '{layer}'; "
        + _sample_text(session, sample),
    )
    sec = Section("Forward pass", "forward")
    w = b.num(("start", layer, "kernel", (i, j)))
    sec.add([wsym], [w], note="its value when this step began")
    fwd = b.ev("forward", layer)
    if fwd is not None and np.ndim(fwd.data["inputs"]) > 2:
        sec.remark("It multiplies input unit i at every position of the sample.")
    elif fwd is not None:
        x = b.num(("forward", layer, "inputs", (sample, i)), paren=True)
        sec.add(
            [wsym, "·", Sym("x", str(i + 1))],
            [w.operand() if w.value < 0 else w, "·", x],
            [b.calc(np.float64(w.value) * np.float64(x.value))],
            note=f"its term in z{_subscript(str(j + 1))}",
        )
    else:
        sec.remark("Press Next phase to compute the forward pass.")
    exp.sections.append(sec)

    if b.ev("backward", layer) is None:
        return exp
    sec = Section("Backward pass", "backward")
    if session.perceptron:
        err = b.num(("loss", None, "grad", (0, 0)))
        x = b.num(("forward", layer, "inputs", (0, i)), paren=True)
        sec.add(
            [f"g{_subscript(f'{i + 1},{j + 1}')}"],
            ["−(t − ŷ)·", Sym("x", str(i + 1))],
            [err.operand(), "·", x],
            [b.num(("backward", layer, "grad_kernel", (i, j)))],
            note="the perceptron rule's pseudo-gradient",
        )
    else:
        _gradient_sum(b, sec, node, i, j, [f"∂L/∂w{_subscript(f'{i + 1},{j + 1}')}"])
    exp.sections.append(sec)

    if b.ev("update", layer) is None:
        return exp
    sec = Section(f"Update ({session.optimizer_class})", "update")
    g = b.num(("backward", layer, "grad_kernel", (i, j)))
    _update_lines(b, sec, layer, "kernel", (i, j), wsym, g)
    exp.sections.append(sec)
    return exp


# --------------------------------------------------------------------------------- updates
def _clipped_grads(b: _Builder) -> dict[str, np.ndarray] | None:
    """The gradients after the optimizer's clipping, or None when it does not clip."""
    cfg = b.s.optimizer_config
    if not any(cfg.get(k) for k in ("clipnorm", "global_clipnorm", "clipvalue")):
        return None
    from engine.backends.numpy.optimizers import make_optimizer

    grads = {}
    for ev in b.s.phases:
        if ev.phase == "backward":
            for w in ("kernel", "bias"):
                if f"grad_{w}" in ev.data:
                    grads[f"{ev.layer}/{w}"] = ev.data[f"grad_{w}"]
    return make_optimizer(b.s.optimizer_class, cfg)._clip(grads)


def _update_lines(
    b: _Builder, sec: Section, layer: str, wname: str, index: tuple, wsym: Sym, g: Num
) -> None:
    s = b.s
    cls = s.optimizer_class
    cfg = s.optimizer_config
    state = s.optimizer_state_before
    lr = b.param(state["learning_rate"])
    before = b.num(("update", layer, f"before.{wname}", index))
    after = b.num(("update", layer, f"after.{wname}", index))
    arrow = [wsym, " ← "]
    key = f"{layer}/{wname}"

    def slot_before(slot: str, initial: float) -> Num:
        slots = state["slots"].get(key)
        if slots is not None and slot in slots:
            return b.num(("start_opt", key, slot, index), paren=True)
        return b.calc(initial, paren=True)

    def slot_after(slot: str) -> Num:
        return b.num(("update", layer, f"optimizer.{wname}/{slot}", index))

    if cls == "Perceptron":
        t = b.num(("loss", None, "targets", (0, 0)))
        yhat = b.num(("forward", layer, "a", (0, 0)), paren=True)
        factor = [lr, "·(", t, " − ", yhat, ")"]
        if wname == "kernel":
            x = b.num(("forward", layer, "inputs", (0, index[0])), paren=True)
            sec.add(
                arrow,
                [wsym, " + η·(t − ŷ)·", Sym("x", str(index[0] + 1))],
                [before, " + ", *factor, "·", x],
                [after],
                note="the seed's perceptron rule",
            )
        else:
            sec.add(
                arrow,
                [wsym, " + η·(t − ŷ)"],
                [before, " + ", *factor],
                [after],
                note="the seed's perceptron rule",
            )
        if t.value == yhat.value:
            sec.remark("Correctly classified: t − ŷ = 0, so nothing changes.")
        return

    gsym = Sym("g")
    clipped = _clipped_grads(b)
    if clipped is not None:
        gc = b.calc(float(np.asarray(clipped[key])[index]))
        sec.add([gsym], ["∂L/∂", wsym], [g])
        sec.add(["g′"], ["clip(g)"], [gc], note="the optimizer's gradient clipping")
        g = gc
        gsym = Sym("g′")
    else:
        sec.add([gsym], ["∂L/∂", wsym], [g])
    gp = g.operand()

    if cls == "SGD":
        mu = cfg["momentum"]
        if mu == 0:
            sec.add(arrow, [wsym, " − η·", gsym], [before, " − ", lr, "·", gp], [after])
            return
        m0 = slot_before("momentum", 0.0)
        m = slot_after("momentum")
        sec.add(
            [Sym("m"), " ← "],
            ["μ·m − η·", gsym],
            [b.param(mu), "·", m0, " − ", lr, "·", gp],
            [m],
            note="momentum (velocity)",
        )
        if cfg["nesterov"]:
            sec.add(
                arrow,
                [wsym, " + μ·m − η·", gsym],
                [before, " + ", b.param(mu), "·", m.operand(), " − ", lr, "·", gp],
                [after],
                note="Nesterov",
            )
        else:
            sec.add(arrow, [wsym, " + m"], [before, " + ", m.operand()], [after])
        return

    if cls == "Adam":
        b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
        t = int(state["iterations"]) + 1
        m0, v0 = slot_before("momentum", 0.0), slot_before("velocity", 0.0)
        m, v = slot_after("momentum"), slot_after("velocity")
        sec.add([Sym("t")], [str(t)], note="this update's number")
        sec.add(
            [Sym("m"), " ← "],
            ["m + (1 − β₁)·(", gsym, " − m)"],
            [m0, " + (1 − ", b.param(b1), ")·(", g, " − ", m0, ")"],
            [m],
            note="1st moment: running mean of g",
        )
        sec.add(
            [Sym("v"), " ← "],
            ["v + (1 − β₂)·(", gsym, "² − v)"],
            [v0, " + (1 − ", b.param(b2), ")·(", gp, "² − ", v0, ")"],
            [v],
            note="2nd moment: running mean of g²",
        )
        dt = b.dtype.type
        alpha = dt(state["learning_rate"]) * np.sqrt(1 - dt(b2) ** dt(t)) / (1 - dt(b1) ** dt(t))
        sec.add(
            [Sym("α")],
            [f"η·√(1 − β₂{_superscript('t')}) / (1 − β₁{_superscript('t')})"],
            [
                lr,
                f"·√(1 − {fmt_param(b2)}{_superscript(str(t))}) / (1 − {fmt_param(b1)}"
                f"{_superscript(str(t))})",
            ],
            [b.calc(float(alpha))],
            note="Keras folds Adam's bias correction into α",
        )
        vv = v
        if cfg["amsgrad"]:
            vv = slot_after("velocity_hat")
            sec.add([Sym("v̂"), " ← "], ["max(v̂, v)"], [vv], note="AMSGrad")
        sec.add(
            arrow,
            [wsym, " − α·m / (√v + ε)"],
            [
                before,
                " − ",
                b.calc(float(alpha)),
                "·",
                m.operand(),
                " / (√",
                vv.operand(),
                " + ",
                b.param(eps),
                ")",
            ],
            [after],
        )
        return

    if cls == "RMSprop":
        rho, eps, mu = cfg["rho"], cfg["epsilon"], cfg["momentum"]
        v0, v = slot_before("velocity", 0.0), slot_after("velocity")
        sec.add(
            [Sym("v"), " ← "],
            ["ρ·v + (1 − ρ)·", gsym, "²"],
            [b.param(rho), "·", v0, " + (1 − ", b.param(rho), ")·", gp, "²"],
            [v],
            note="running mean of g²",
        )
        denom: list[Part] = ["√(", v, " + ", b.param(eps), ")"]
        denom_sym = "√(v + ε)"
        if cfg["centered"]:
            a0, avg = slot_before("average_gradient", 0.0), slot_after("average_gradient")
            sec.add(
                [Sym("ḡ"), " ← "],
                ["ρ·ḡ + (1 − ρ)·", gsym],
                [b.param(rho), "·", a0, " + (1 − ", b.param(rho), ")·", gp],
                [avg],
                note="running mean of g (centered)",
            )
            denom = ["√(", v, " − ", avg.operand(), "² + ", b.param(eps), ")"]
            denom_sym = "√(v − ḡ² + ε)"
        if mu > 0:
            mo0, mo = slot_before("momentum", 0.0), slot_after("momentum")
            sec.add(
                [Sym("m"), " ← "],
                [f"μ·m + η·g / {denom_sym}"],
                [b.param(mu), "·", mo0, " + ", lr, "·", gp, " / ", *denom],
                [mo],
            )
            sec.add(arrow, [wsym, " − m"], [before, " − ", mo.operand()], [after])
        else:
            sec.add(
                arrow,
                [wsym, f" − η·g / {denom_sym}"],
                [before, " − ", lr, "·", gp, " / ", *denom],
                [after],
            )
        return

    if cls == "Adagrad":
        eps = cfg["epsilon"]
        a0 = slot_before("accumulator", cfg["initial_accumulator_value"])
        acc = slot_after("accumulator")
        sec.add(
            [Sym("s"), " ← "],
            ["s + ", gsym, "²"],
            [a0, " + ", gp, "²"],
            [acc],
            note="sum of squared gradients",
        )
        sec.add(
            arrow,
            [wsym, " − η·g / √(s + ε)"],
            [before, " − ", lr, "·", gp, " / √(", acc, " + ", b.param(eps), ")"],
            [after],
        )
        return
    sec.add(arrow, [after])  # pragma: no cover - every optimizer is handled above


# --------------------------------------------------------------------------------- perceptron
def _perceptron_neuron(b: _Builder, exp: Explanation, node, sample: int) -> None:
    name = node.name
    if b.ev("forward", name) is None:
        exp.sections.append(_waiting("forward"))
        return
    sec = Section("Forward pass (net input and prediction)", "forward")
    fan_in = node.input_shapes[0][-1]
    shown, left = _terms(fan_in)
    has_bias = "bias" in b.s.weights_before[name]
    sym = _plus([[Sym("w", str(i + 1)), "·", Sym("x", str(i + 1))] for i in shown]) + _more(left)
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
    sec.add([Sym("net")], sym, _plus(plugged) + _more(left) + tail, [z], note="net_input")
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
        _update_lines(b, sec, name, "bias", (0,), Sym("b"), g)
    else:
        sec.remark("This perceptron has no bias.")
    exp.sections.append(sec)
