"""The loss section for the losses beyond the first six: Huber, log-cosh, the logarithmic and
percentage errors, the squared hinge and Poisson worked out per output unit with their numbers;
KL divergence, the categorical hinge and cosine similarity (which mix a sample's units) with
their values; and a crossentropy of an output taken as logits (``from_logits``).

Every formula is Keras' (``keras/src/losses/losses.py``), with its ε = 10⁻⁷ guards."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from engine.formula import Num, Part, Section, Sym, one_based, subscript

if TYPE_CHECKING:  # pragma: no cover
    from engine.explain.builder import Builder

_EPS = 1e-7
_EPS_P = "1×10⁻⁷"


def unit_loss(
    b: Builder, sec: Section, loss: str, y: Num, yhat: Num, grad: Num, value: Num, n: int, k: int, u
) -> bool:
    """Add the lines of the per-unit losses; False when ``loss`` is not one of them."""
    yv, pv = float(y.value), float(yhat.value)
    nk: list[Part] = ["(", str(n), "·", str(k), ")"]
    dl = [f"∂L/∂ŷ{subscript(u)}"]
    mean = f"mean over n = {n} samples and k = {k} outputs"
    yo = y.operand()
    if loss == "huber":
        delta = float(b.s.model.loss_config["delta"])
        e = b.calc(pv - yv)
        sec.add(["e"], ["ŷ − y"], [yhat, " − ", yo], [e], note="the error")
        if abs(e.value) <= delta:
            sec.add(
                ["ℓ"],
                ["½·e²"],
                ["0.5·", e.operand(), "²"],
                [b.calc(0.5 * e.value**2)],
                note=f"|e| ≤ δ = {delta:g}: quadratic",
            )
            sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
            sec.add(dl, ["e / (n·k)"], [e.operand(), " / ", *nk], [grad])
        else:
            d = b.param(delta)
            sec.add(
                ["ℓ"],
                ["δ·|e| − ½·δ²"],
                [d, "·|", e, "| − 0.5·", d, "²"],
                [b.calc(delta * abs(e.value) - 0.5 * delta**2)],
                note="|e| > δ: linear, so an outlier pulls no harder than δ",
            )
            sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
            sec.add(dl, ["δ·sign(e) / (n·k)"], [d, "·sign(", e, ") / ", *nk], [grad])
        return True
    if loss == "log_cosh":
        x = b.calc(pv - yv)
        sec.add(["x"], ["ŷ − y"], [yhat, " − ", yo], [x])
        ell = x.value + math.log1p(math.exp(-2 * x.value)) - math.log(2) if x.value > -300 else 0
        sec.add(
            ["ℓ"],
            ["log cosh x = x + log(1 + e^(−2·x)) − log(2)"],
            [x.operand(), " + log(1 + e^(−2·", x.operand(), ")) − log(2)"],
            [b.calc(ell)],
            note="like ½x² near 0, like |x| − log 2 far out",
        )
        sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
        sec.add(dl, ["tanh(x) / (n·k)"], ["tanh(", x, ") / ", *nk], [grad])
        return True
    if loss == "mean_squared_logarithmic_error":
        d = b.calc(math.log(max(pv, _EPS) + 1) - math.log(max(yv, _EPS) + 1))
        sec.add(
            ["d"],
            ["log(max(ŷ, ε) + 1) − log(max(y, ε) + 1)"],
            ["log(max(", yhat, f", {_EPS_P}) + 1) − log(max(", yo, f", {_EPS_P}) + 1)"],
            [d],
        )
        sec.add(["ℓ"], ["d²"], [d.operand(), "²"], [b.calc(d.value**2)])
        sec.add([Sym("L")], ["mean of d²"], [value], note=mean)
        if pv >= _EPS:
            sec.add(
                dl,
                ["2·d / ((ŷ + 1)·n·k)"],
                ["2·", d.operand(), " / ((", yhat, " + 1)·", str(n), "·", str(k), ")"],
                [grad],
            )
        else:
            sec.add(dl, [grad], note="ŷ < ε: Keras' max(ŷ, ε) stops the gradient")
        return True
    if loss == "mean_absolute_percentage_error":
        scale = b.calc(max(abs(yv), _EPS))
        sec.add(["s"], ["max(|y|, ε)"], ["max(|", y, f"|, {_EPS_P})"], [scale])
        sec.add(
            ["ℓ"],
            ["100·|y − ŷ| / s"],
            ["100·|", yo, " − ", yhat, "| / ", scale.operand()],
            [b.calc(100 * abs(yv - pv) / scale.value)],
            note="the error in percent",
        )
        sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
        sec.add(
            dl,
            ["100·sign(ŷ − y) / (s·n·k)"],
            ["100·sign(", yhat, " − ", yo, ") / (", scale.operand(), "·", str(n), "·", str(k), ")"],
            [grad],
        )
        return True
    if loss == "squared_hinge":
        targets = np.asarray(b.ev("loss").data["targets"])
        if np.all((targets == 0) | (targets == 1)):
            y = b.calc(2 * yv - 1)
            sec.add(
                ["y′"],
                ["2y − 1"],
                ["2·", yo, " − 1"],
                [y],
                note="Keras turns 0/1 targets into −1/+1",
            )
        m = b.calc(max(1 - float(y.value) * pv, 0.0))
        sec.add(
            ["m"],
            ["max(1 − y·ŷ, 0)"],
            ["max(1 − ", y.operand(), "·", yhat, ", 0)"],
            [m],
            note="the margin left to meet",
        )
        sec.add(["ℓ"], ["m²"], [m.operand(), "²"], [b.calc(m.value**2)])
        sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
        sec.add(dl, ["−2·y·m / (n·k)"], ["−2·", y.operand(), "·", m.operand(), " / ", *nk], [grad])
        return True
    if loss == "poisson":
        sec.add(
            ["ℓ"],
            ["ŷ − y·log(ŷ + ε)"],
            [yhat, " − ", yo, "·log(", yhat, f" + {_EPS_P})"],
            [b.calc(pv - yv * math.log(pv + _EPS)) if pv + _EPS > 0 else b.calc(math.inf)],
            note="the negative log-likelihood of a Poisson count y with rate ŷ",
        )
        sec.add([Sym("L")], ["mean of ℓ"], [value], note=mean)
        sec.add(
            dl,
            ["(1 − y / (ŷ + ε)) / (n·k)"],
            ["(1 − ", yo, " / (", yhat, f" + {_EPS_P})) / ", *nk],
            [grad],
        )
        return True
    return False


def row_loss(
    b: Builder, sec: Section, loss: str, node, full, grad: Num, value: Num, n: int
) -> bool:
    """Add the lines of the losses that mix a sample's outputs (KL divergence, categorical
    hinge, cosine similarity): the sample's ℓ, and this unit's gradient with its numbers."""
    if loss not in ("kl_divergence", "categorical_hinge", "cosine_similarity"):
        return False
    u = one_based(full[1:])
    dl = [f"∂L/∂ŷ{subscript(u)}"]
    i = full[-1]
    a = np.asarray(b.ev("forward", node.name).data["a"], dtype=np.float64)[full[:-1]]
    t = np.asarray(b.ev("loss").data["targets"], dtype=np.float64)[full[:-1]]
    yhat = b.num(("forward", node.name, "a", full), paren=True)
    y = b.num(("loss", None, "targets", full), paren=True)
    sec.add([Sym("y", u)], [y], note="the target")
    sec.add([Sym("ŷ", u)], [yhat], note="the network's output")
    if loss == "kl_divergence":
        yc, pc = np.clip(t, _EPS, 1), np.clip(a, _EPS, 1)
        sec.add(
            ["ℓ"],
            ["Σₖ y′ₖ·log(y′ₖ / ŷ′ₖ)"],
            [b.calc(float(np.sum(yc * np.log(yc / pc))))],
            note="y′, ŷ′: y and ŷ clipped to [ε, 1]; this sample's outputs together",
        )
        sec.add([Sym("L")], ["mean of ℓ over the batch"], [value], note=f"n = {n}")
        if not _EPS <= a[i] <= 1:
            sec.add(dl, [grad], note="ŷ is outside [ε, 1]: the clip stops the gradient")
        else:
            sec.add(
                dl,
                ["−y′ / (ŷ·n)"],
                ["−", b.calc(float(yc[i])), " / (", yhat, "·", str(n), ")"],
                [grad],
            )
        return True
    if loss == "categorical_hinge":
        other = (1 - t) * a
        neg, pos = float(other.max()), float(np.sum(t * a))
        margin = neg - pos + 1
        sec.add(
            ["ℓ"],
            ["max(maxₖ (1 − yₖ)·ŷₖ − Σₖ yₖ·ŷₖ + 1, 0)"],
            ["max(", b.calc(neg), " − ", b.calc(pos), " + 1, 0)"],
            [b.calc(max(margin, 0.0))],
            note="the largest wrong output must stay 1 below the right one",
        )
        sec.add([Sym("L")], ["mean of ℓ over the batch"], [value], note=f"n = {n}")
        if margin < 0:
            sec.add(dl, [grad], note="the margin is met: no gradient")
            return True
        ties = other == neg
        share = b.calc(float(ties[i]) / float(ties.sum()))
        sec.add(
            dl,
            ["((1 − y)·w − y) / n"],
            ["((1 − ", y, ")·", share, " − ", y, ") / ", str(n)],
            [grad],
            note="w: this unit's share of the largest wrong output (1, or 0)",
        )
        return True
    limit = 1 / _EPS
    inv_a = min(1 / math.sqrt(float(np.sum(a * a))) if np.any(a) else math.inf, limit)
    inv_y = min(1 / math.sqrt(float(np.sum(t * t))) if np.any(t) else math.inf, limit)
    yn = t * inv_y
    dot = float(np.sum(yn * a))
    sec.add(
        ["ℓ"],
        ["−Σₖ (yₖ/‖y‖)·(ŷₖ/‖ŷ‖)"],
        [b.calc(-dot * inv_a)],
        note="minus the cosine of the angle between y and ŷ",
    )
    sec.add([Sym("L")], ["mean of ℓ over the batch"], [value], note=f"n = {n}")
    sec.add(
        dl,
        ["(−(yᵢ/‖y‖)/‖ŷ‖ + (Σₖ yₖŷₖ/‖y‖)·ŷᵢ/‖ŷ‖³) / n"],
        [
            "(−",
            b.calc(float(yn[i]), paren=True),
            "·",
            b.calc(inv_a),
            " + ",
            b.calc(dot, paren=True),
            "·",
            yhat,
            "·",
            b.calc(inv_a),
            "³) / ",
            str(n),
        ],
        [grad],
    )
    return True


def logits_loss(
    b: Builder, sec: Section, node, full: tuple[int, ...], n: int, k: int, value: Num, grad: Num
) -> None:
    """A crossentropy with ``from_logits`` on an output that is neither softmax nor sigmoid:
    the output ŷ is taken as the logits, p = softmax(ŷ) (categorical) or sigmoid(ŷ) (binary),
    and ∂L/∂ŷ = (p − y)/n (or /(n·k))."""
    s = b.s
    loss = s.loss_name
    u = one_based(full[1:])
    data = b.ev("forward", node.name).data
    a = np.asarray(data["a"], dtype=np.float64)
    yhat = b.num(("forward", node.name, "a", full), paren=True)
    if loss == "sparse_categorical_crossentropy":
        label = int(b.value(("loss", None, "targets", full[:-1])))
        y = b.calc(1.0 if label == full[-1] else 0.0)
        sec.add([Sym("label")], [b.calc(label)], note="the class of this sample")
    else:
        y = b.num(("loss", None, "targets", full))
    sec.add([Sym("y", u)], [y], note="the target")
    sec.add([Sym("ŷ", u)], [yhat], note="the network's output: logits (from_logits=True)")
    if loss == "binary_crossentropy":
        p = b.calc(1 / (1 + math.exp(-yhat.value)) if yhat.value > -700 else 0.0)
        sec.add(
            [Sym("p", u)],
            ["sigmoid(ŷ) = 1 / (1 + e^(−ŷ))"],
            ["1 / (1 + e^(−", yhat, "))"],
            [p],
            note="the probability the loss scores",
        )
        div: list[Part] = ["(", str(n), "·", str(k), ")"]
        where = "(n·k)"
    else:
        row = a[full[:-1]]
        sm = np.exp(row - row.max())
        p = b.calc(float(sm[full[-1]] / sm.sum()))
        sec.add(
            [Sym("p", u)],
            ["softmax(ŷ) = e^ŷ / Σₖ e^ŷₖ"],
            [p],
            note="the probability the loss scores",
        )
        div, where = [str(n)], "n"
    sec.add([Sym("L")], ["mean cross-entropy of p, from the logits"], [value], note=f"n = {n}")
    sec.add(
        [f"∂L/∂ŷ{subscript(u)}"],
        [f"(p − y) / {where}"],
        ["(", p.operand(), " − ", y.operand(), ") / ", *div],
        [grad],
        note="Keras computes the loss from the logits (stable); backprop starts here",
    )
