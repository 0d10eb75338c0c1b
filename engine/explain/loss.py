"""The loss phase of the output layer's units: the loss, ∂L/∂ŷ with its numbers, as Keras
computes them (its clip to [ε, 1 − ε], its renormalised crossentropies, the hinge's 0/1 targets,
the fused softmax/sigmoid crossentropies), and δ = ∂L/∂z straight from a fused loss.

On a mismatched pair (a sigmoid output with a categorical crossentropy, a softmax output with
binary crossentropy; :func:`engine.losses.is_mismatched`) Keras scores p = softmax(z) or
sigmoid(z), not the ŷ the output shows: the section then shows p and computes with it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from engine.explain.loss_more import focal_loss, logits_loss, row_loss, unit_loss
from engine.formula import Num, Section, Sym, one_based, subscript
from engine.losses import is_mismatched, scored_activation

if TYPE_CHECKING:  # pragma: no cover
    from engine.explain.builder import Builder


def _count(s, node) -> int:
    """How many rows the loss averages over: the samples times any positions before the last
    axis (Keras' ``sum_over_batch_size`` reduction); 1 for the reduction ``"sum"``, which adds
    the rows' losses instead."""
    if s.model.loss_config.get("reduction") == "sum":
        return 1
    return len(s.batch_x) * int(np.prod(node.output_shape[:-1], dtype=np.int64))


def _clipped(p: float) -> bool:
    """True where Keras' clip to [ε, 1 − ε] changes ``p`` and so stops its gradient."""
    return not (_EPS <= p <= 1 - _EPS)


#: keras.backend.epsilon(): the crossentropies clip probabilities to [ε, 1 − ε].
_EPS = 1e-7
_EPS_TEXT = "[10⁻⁷, 1 − 10⁻⁷]"


def _mismatched(s, node) -> bool:
    return is_mismatched(node.activation, s.loss_name)


def _scored_rows(b: Builder, node) -> np.ndarray:
    """The probabilities the loss scores, every sample: the output ŷ, or on a mismatched pair
    the loss's own function of the logits (softmax(z) or sigmoid(z)), in the model's dtype."""
    from engine.backends.numpy.losses import scored_probabilities

    data = b.ev("forward", node.name).data
    return scored_probabilities(
        b.s.loss_name, node.activation, np.asarray(data["a"]), np.asarray(data["z"])
    )


def _scored(b: Builder, node, full: tuple[int, ...], paren: bool = False) -> Num:
    """ŷ at ``full`` from the trace, or on a mismatched pair p (computed here from z)."""
    if _mismatched(b.s, node):
        return b.calc(float(_scored_rows(b, node)[full]), paren=paren)
    return b.num(("forward", node.name, "a", full), paren=paren)


def _scored_line(b: Builder, sec: Section, node, full: tuple[int, ...]) -> Num:
    """On a mismatched pair, the line p = softmax(z) or sigmoid(z) and a remark on why; ŷ
    (unchanged) otherwise. Returns what the loss scores."""
    if not _mismatched(b.s, node):
        return b.num(("forward", node.name, "a", full))
    scored = scored_activation(node.activation, b.s.loss_name)
    u = one_based(full[1:])
    p = _scored(b, node, full)
    z = b.num(("forward", node.name, "z", full), paren=True)
    if scored == "sigmoid":
        sec.add([Sym("p", u)], ["sigmoid(z) = 1 / (1 + e^(−z))"], ["1 / (1 + e^(−", z, "))"],
                [p], note="what binary_crossentropy scores")  # fmt: skip
    else:
        sec.add([Sym("p", u)], ["softmax(z) = e^z / Σₖ e^zₖ"], [p],
                note=f"what {b.s.loss_name} scores")  # fmt: skip
    sec.remark(
        f"Keras scores this {node.activation} output with {b.s.loss_name} from its logits z, "
        f"as {scored}(z): the loss measures p, not the ŷ shown. Use a {scored} output (or the "
        "loss that fits the output) so that the loss measures what the network predicts."
    )
    return p


def _weight_lines(b: Builder, sec: Section, node, sample: int, idx: tuple[int, ...]) -> None:
    """The sample weight's part of the loss (Keras' fit ``class_weight``, as sample weights):
    each sample's loss and gradient times its weight."""
    full = (sample, *idx)
    h = "p" if _mismatched(b.s, node) else "ŷ"
    u = one_based(idx)
    grad = b.num(("loss", None, "grad_unweighted", full))
    w = b.num(("loss", None, "sample_weight", (sample,)))
    note = "this sample's weight (the class_weight of its class)"
    if b.s.model.loss_config.get("reduction") == "mean_with_sample_weight":
        note += ", times n/Σw (reduction mean_with_sample_weight)"
    sec.add([Sym("w")], [w], note=note)
    sec.add(
        [Sym("L")],
        ["Σ ℓ·w / n"],
        [b.num(("loss", None, "value", ()))],
        note="each sample's loss ℓ times its weight (L⁰ above: the mean without them)",
    )
    sec.add(
        [f"∂L/∂{h}{subscript(u)}"],
        [f"w · ∂L⁰/∂{h}{subscript(u)}"],
        [w, " · ", grad.operand() if grad.value < 0 else grad],
        [b.num(("loss", None, "grad", full))],
        note="L⁰: the loss before the weights; backprop starts from the weighted gradient",
    )


def loss_section(b: Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    """The loss section of unit ``idx`` of the output layer ``node`` for ``sample``: the
    loss's own lines, then, with sample weights, the weight's."""
    sec = _loss_lines(b, node, sample, idx)
    if "sample_weight" in b.ev("loss").data:
        _unweighted_names(sec)
        _weight_lines(b, sec, node, sample, idx)
    return sec


def _unweighted_names(sec: Section) -> None:
    """Name the loss and its gradient before the sample weights L⁰ and ∂L⁰/∂…: L and ∂L/∂…
    are the weighted ones, which the later sections use."""
    for line in sec.lines:
        for i, part in enumerate(line.lhs):
            if isinstance(part, Sym) and part.name == "L" and not part.sup:
                line.lhs[i] = Sym("L", part.sub, "0")
            elif isinstance(part, str) and "∂L/∂" in part:
                line.lhs[i] = part.replace("∂L/∂", "∂L⁰/∂")


def _loss_lines(b: Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    """The loss's own lines (before any sample weight)."""
    s = b.s
    loss = s.loss_name
    sec = Section(f"Loss ({loss})", "loss")
    full = (sample, *idx)
    out = node.name
    n = _count(s, node)
    k = node.output_shape[-1]
    u = one_based(idx)
    h = "p" if _mismatched(s, node) else "ŷ"
    yhat = b.num(("forward", out, "a", full))
    y_hat = [Sym("ŷ", u)]
    weighted = "sample_weight" in b.ev("loss").data
    # With sample weights the loss's own lines are the unweighted loss; the weight follows.
    value = b.num(("loss", None, "value_unweighted" if weighted else "value", ()))
    grad = b.num(("loss", None, "grad_unweighted" if weighted else "grad", full))
    dl = [f"∂L/∂{h}{subscript(u)}"]
    config = s.model.loss_config

    if config.get("reduction") == "sum":
        sec.remark(
            "reduction 'sum': the batch's per-sample losses are added, not averaged (n = 1 below)."
        )
    if config.get("label_smoothing"):
        eps = config["label_smoothing"]
        categorical = loss in ("categorical_crossentropy", "categorical_focal_crossentropy")
        share = f"{eps:g}/{k}" if categorical else f"{eps:g}/2"
        sec.remark(
            f"label_smoothing {eps:g}: the targets y below are Keras' smoothed ones, "
            f"label·(1 − {eps:g}) + {share}."
        )
    if focal_loss(b, sec, loss, node, full, grad, value, n, k):
        return sec
    if config.get("from_logits") and not s.model.fused:
        logits_loss(b, sec, node, full, n, k, value, grad)
        return sec
    if row_loss(b, sec, loss, node, full, grad, value, n):
        return sec
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
            [f"(ŷ{subscript(u)} − y{subscript(u)})²"],
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
            [f"|ŷ{subscript(u)} − y{subscript(u)}|"],
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
    elif unit_loss(b, sec, loss, y, yhat, grad, value, n, k, u):
        pass
    elif loss == "binary_crossentropy":
        yhat = _scored_line(b, sec, node, full)
        _binary_crossentropy_loss(b, sec, node, full, n, k, y, yhat, value, grad, dl, h)
    if s.model.fused and not _mismatched(s, node):
        sec.remark(
            f"Keras computes {node.activation} and {loss} together from z (more stable); "
            "backprop then starts from δ = ∂L/∂z below."
        )
    return sec


def _hinge_loss(b: Builder, sec: Section, n: int, k: int, y, yhat, value, grad, dl) -> None:
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


def _binary_crossentropy_loss(b: Builder, sec, node, full, n, k, y, yhat, value, grad, dl, h):
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
        sec.add(dl, [grad], note=f"{h} is outside Keras' clip range {_EPS_TEXT}: no gradient")
        return
    sec.add(
        dl,
        [f"({h} − y) / ({h}(1 − {h})·n·k)"],
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


def _crossentropy_loss(b: Builder, sec, node, sample, idx, n, yhat, value, grad) -> None:
    """Categorical and sparse categorical crossentropy, as Keras computes them from ŷ: it
    divides ŷ by its sum over the classes first, so ℓ = −log(ŷₜ / Σₖ ŷₖ) depends on every
    output, and ∂ℓ/∂ŷᵢ = 1/Σₖ ŷₖ − yᵢ/ŷᵢ (not 0) for a class that is not the sample's."""
    s = b.s
    loss = s.loss_name
    full = (sample, *idx)
    row = full[:-1]
    u = one_based(idx)
    i = idx[-1]
    sub = subscript
    mismatched = _mismatched(s, node)
    h = "p" if mismatched else "ŷ"
    a_row = np.asarray(_scored_rows(b, node))[row].astype(np.float64)
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
    if mismatched:
        yhat = _scored_line(b, sec, node, full)
    fused = s.model.fused
    # What Keras clips: the renormalised ŷ (categorical) or ŷ itself (sparse).
    total = float(a_row.sum())
    p_row = a_row if sparse else a_row / total
    clipped = np.array([_clipped(float(p)) for p in p_row])
    sum_sym = f"Σₖ {h}ₖ"
    if t is not None:
        tu = one_based((*idx[:-1], t))
        yt = _scored(b, node, (*row, t))
        if fused:
            sec.add(
                ["ℓ"],
                [f"−Σₖ yₖ·log {h}ₖ = −log {h}{sub(tu)}"],
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

    dl = [f"∂L/∂{h}{sub(u)}"]
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
            [f"({head} / {sum_sym} − y{sub(u)} / {h}{sub(u)}) / n"],
            ["(", b.calc(sum_y), " / ", b.calc(s_val), " − ", y, " / ", yhat, ") / ", str(n)],
            [grad],
            note=f"Keras renormalises {h} by its sum before the log",
        )
        if t is not None and t != i:
            sec.remark(
                f"Not the sample's class, yet ∂L/∂{h}{sub(u)} ≠ 0: ℓ = −log({h}ₜ / Σₖ {h}ₖ) "
                "depends on every output through the sum."
            )
    if fused and not mismatched:
        sec.remark(
            f"Keras computes softmax and {loss} together from z (more stable). The part "
            "1/(Σₖ ŷₖ·n) that every output gets cancels in softmax's backward pass (softmax's "
            "outputs always sum to 1), so backprop starts from δ = ∂L/∂z = (ŷ − y)/n below."
        )


def fused_delta(b: Builder, sec: Section, node, sample: int, idx, gz: Num) -> None:
    """δ = ∂L/∂z = (ŷ − y)/n (or /(n·k)) of an output unit whose activation and loss Keras
    computes together."""
    s = b.s
    full = (sample, *idx)
    n = _count(s, node)
    k = node.output_shape[-1]
    yhat = _scored(b, node, full, paren=True)
    h = "p" if _mismatched(s, node) else "ŷ"
    if s.loss_name == "binary_focal_crossentropy":
        sec.add(
            [Sym("δ", one_based(idx))],
            ["∂L/∂z"],
            [gz],
            note="the focal factor's part through the output's own derivative, plus "
            "w·(1 − p_t)^γ·(sigmoid(z) − y)/(n·k) from the crossentropy of the logits z",
        )
        return
    if s.loss_name == "sparse_categorical_crossentropy":
        label = int(b.value(("loss", None, "targets", (sample, *idx[:-1]))))
        y = b.calc(1.0 if label == idx[-1] else 0.0)
        div, where = str(n), "n"
    elif s.loss_name == "categorical_crossentropy":
        y = b.num(("loss", None, "targets", full))
        div, where = str(n), "n"
    else:
        y = b.num(("loss", None, "targets", full))
        div, where = f"({n}·{k})", "(n·k)"
    note = f"{scored_activation(node.activation, s.loss_name)} and the cross-entropy together"
    loss_data = b.ev("loss").data
    if "sample_weight" in loss_data:  # each sample's δ times its weight
        w = b.num(("loss", None, "sample_weight", (sample,)))
        sec.add(
            [Sym("δ", one_based(idx))],
            [f"∂L/∂z = w·({h} − y) / {where}"],
            [w, "·(", yhat, " − ", y.operand(), ") / ", div],
            [gz],
            note=note + "; w: the sample's weight",
        )
        return
    sec.add(
        [Sym("δ", one_based(idx))],
        [f"∂L/∂z = ({h} − y) / {where}"],
        ["(", yhat, " − ", y.operand(), ") / ", div],
        [gz],
        note=note,
    )
