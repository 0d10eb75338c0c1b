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


def focal_loss(
    b: Builder, sec: Section, loss: str, node, full, grad: Num, value: Num, n: int, k: int
) -> bool:
    """Add the lines of the focal crossentropies (Keras' formulas, ``losses.py``); False for
    any other loss. Binary: ``ℓ = w·(1 − p_t)^γ·bce`` per unit, ``p_t = y·p + (1 − y)·(1 − p)``;
    categorical: ``Σ_classes α·(1 − p′)^γ·(−y·log p′)``, ``p′`` the output renormalized and
    clipped."""
    if loss not in ("binary_focal_crossentropy", "categorical_focal_crossentropy"):
        return False
    cfg = b.s.model.loss_config
    u = one_based(full[1:])
    i = full[-1]
    gamma = b.param(cfg["gamma"])
    y = b.num(("loss", None, "targets", full), paren=True)
    yhat = b.num(("forward", node.name, "a", full), paren=True)
    sec.add([Sym("y", u)], [y], note="the target")
    from engine.losses import is_mismatched

    h = "p" if is_mismatched(node.activation, loss) else "ŷ"
    dl = [f"∂L/∂{h}{subscript(u)}"]
    if loss == "categorical_focal_crossentropy":
        a = np.asarray(b.ev("forward", node.name).data["a"], dtype=np.float64)[full[:-1]]
        if cfg["from_logits"]:
            e = np.exp(a - a.max())
            a = e / e.sum()
        t = np.asarray(b.ev("loss").data["targets"], dtype=np.float64)[full[:-1]]
        p = np.clip(a / a.sum(), _EPS, 1 - _EPS)
        pu = b.calc(float(p[i]), paren=True)
        sec.add(
            [Sym("p", u)],
            [
                "ŷ / Σₖ ŷₖ, clipped to [ε, 1 − ε]"
                + (" (ŷ = softmax of the output)" if cfg["from_logits"] else "")
            ],
            [pu],
        )
        alpha = b.param(cfg["alpha"])
        term = float(cfg["alpha"]) * (1 - p[i]) ** cfg["gamma"] * (-t[i] * math.log(p[i]))
        sec.add(
            [f"ℓ{subscript(u)}"],
            ["α·(1 − p)^γ·(−y·log p)"],
            [alpha, "·(1 − ", pu, ")^", gamma, "·(−", y, "·log ", pu, ")"],
            [b.calc(term)],
            note="this class's term; (1 − p)^γ shrinks the terms the network already gets right",
        )
        per = float(np.sum(cfg["alpha"] * (1 - p) ** cfg["gamma"] * (-t * np.log(p))))
        sec.add(["ℓ"], ["Σₖ ℓₖ"], [b.calc(per)], note="the sample's loss")
        sec.add([Sym("L")], ["mean of ℓ over the batch"], [value], note=f"n = {n}")
        sec.add(dl, [grad], note="through the renormalization and the focal factor")
        return True
    a = float(b.value(("forward", node.name, "a", full)))
    tv = float(b.value(("loss", None, "targets", full)))
    logits = None
    if cfg["from_logits"]:
        logits = a
    elif b.s.model.fused:
        logits = float(b.value(("forward", node.name, "z", full)))
    pv = 1 / (1 + math.exp(-a)) if cfg["from_logits"] else a
    p = b.calc(pv, paren=True)
    if cfg["from_logits"]:
        sec.add([Sym("p", u)], ["sigmoid(ŷ)"], ["sigmoid(", yhat, ")"], [p], note="from_logits")
    else:
        sec.add([Sym("p", u)], [yhat], note="the network's output")
    p_t = tv * pv + (1 - tv) * (1 - pv)
    sec.add(
        [f"p_t{subscript(u)}"],
        ["y·p + (1 − y)·(1 − p)"],
        [y, "·", p, " + (1 − ", y, ")·(1 − ", p, ")"],
        [b.calc(p_t, paren=True)],
        note="the probability given to the target",
    )
    if logits is not None:
        s_ = logits
        bce = max(s_, 0) - s_ * tv + math.log1p(math.exp(-abs(s_)))
        zt = b.calc(s_, paren=True)
        sec.add(
            ["bce"],
            ["max(z, 0) − z·y + log(1 + e^(−|z|))"],
            ["max(", zt, ", 0) − ", zt, "·", y, " + log(1 + e^(−|", zt, "|))"],
            [b.calc(bce)],
            note="Keras' binary crossentropy from the logits z of the output",
        )
    else:
        c = min(max(pv, _EPS), 1 - _EPS)
        bce = -(tv * math.log(c) + (1 - tv) * math.log(1 - c))
        sec.add(
            ["bce"],
            ["−(y·log p + (1 − y)·log(1 − p))"],
            ["−(", y, "·log ", b.calc(c), " + (1 − ", y, ")·log(1 − ", b.calc(c), "))"],
            [b.calc(bce)],
            note="p clipped to [ε, 1 − ε]",
        )
    focal = (1 - p_t) ** float(cfg["gamma"])
    weight = 1.0
    w_parts: list[Part] = []
    if cfg["apply_class_balancing"]:
        weight = tv * cfg["alpha"] + (1 - tv) * (1 - cfg["alpha"])
        w_parts = [b.calc(weight), "·"]
    sec.add(
        [f"ℓ{subscript(u)}"],
        (["w·"] if w_parts else []) + ["(1 − p_t)^γ·bce"],
        [*w_parts, "(1 − ", b.calc(p_t, paren=True), ")^", gamma, "·", b.calc(bce, paren=True)],
        [b.calc(weight * focal * bce)],
        note="(1 − p_t)^γ shrinks what is already right"
        + ("; w = y·α + (1 − y)·(1 − α)" if w_parts else ""),
    )
    sec.add(
        [Sym("L")], ["mean of ℓ"], [value], note=f"mean over n = {n} samples and k = {k} outputs"
    )
    sec.add(dl, [grad], note="through the focal factor and the crossentropy")
    return True


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
