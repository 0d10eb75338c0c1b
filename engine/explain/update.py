"""The update phase of one weight: the optimizer's rule (SGD with momentum or Nesterov, Adam and
AdamW as Keras folds their bias correction, RMSprop plain or centered, Adagrad, Adadelta, Adamax,
Nadam with its momentum schedule, Lion, Ftrl, the seed's Perceptron rule) with its
hyper-parameters, the slots before and after, any gradient clipping and the weight decay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine.formula import Num, Part, Section, Sym, fmt_param, superscript
from engine.optimizers import is_perceptron

if TYPE_CHECKING:  # pragma: no cover
    from engine.explain.builder import Builder


def _clipped_grads(b: Builder) -> dict[str, np.ndarray] | None:
    """The gradients after the optimizer's clipping, or None when it does not clip."""
    cfg = b.s.optimizer_config
    if not any(cfg.get(k) for k in ("clipnorm", "global_clipnorm", "clipvalue")):
        return None
    from engine.backends.numpy.optimizers import make_optimizer

    grads = {}
    for ev in b.s.phases:
        if ev.phase == "backward":
            # Every trainable weight's gradient: clipping by norm looks at all of them.
            for w in b.s.graph.by_name[ev.layer].weights:
                if w.trainable and f"grad_{w.name}" in ev.data:
                    grads[f"{ev.layer}/{w.name}"] = ev.data[f"grad_{w.name}"]
    return make_optimizer(b.s.optimizer_class, cfg).clip(grads)


def update_lines(
    b: Builder, sec: Section, layer: str, wname: str, index: tuple, wsym: Sym, g: Num
) -> None:
    """Add to ``sec`` the update of entry ``index`` of weight ``wname`` of ``layer`` (shown as
    ``wsym``) from its gradient ``g``, by the session's optimizer."""
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

    if is_perceptron(cls):
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

    schedule = cfg.get("learning_rate")
    if isinstance(schedule, dict):
        # The rate of this step from the schedule: a computed number, not a setting.
        lr = b.calc(state["learning_rate"])
        sec.add(
            [Sym("η")],
            [f"{schedule['class_name']}(step {int(state['iterations'])})"],
            [lr],
            note="the learning-rate schedule at this update's step",
        )
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
    # The weight the rule starts from, as written in its formulas: w, or w′ after the decay.
    wf: list[Part] = [wsym]
    decay = cfg.get("weight_decay")
    if decay:
        dt = b.dtype.type
        lr_v = dt(state["learning_rate"])
        decayed = b.calc(dt(before.value) - dt(before.value) * dt(decay) * lr_v)
        sec.add(
            [wsym, "′"],
            [wsym, " − ", wsym, "·λ·η"],
            [before, " − ", before.operand(), "·", b.param(decay), "·", lr],
            [decayed],
            note="weight decay λ (decoupled: before the optimizer's rule)",
        )
        before = decayed
        wf = [wsym, "′"]

    if cls == "SGD":
        mu = cfg["momentum"]
        if mu == 0:
            sec.add(arrow, [*wf, " − η·", gsym], [before, " − ", lr, "·", gp], [after])
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
                [*wf, " + μ·m − η·", gsym],
                [before, " + ", b.param(mu), "·", m.operand(), " − ", lr, "·", gp],
                [after],
                note="Nesterov",
            )
        else:
            sec.add(arrow, [*wf, " + m"], [before, " + ", m.operand()], [after])
        return

    if cls in ("Adam", "AdamW"):
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
            [f"η·√(1 − β₂{superscript('t')}) / (1 − β₁{superscript('t')})"],
            [
                lr,
                f"·√(1 − {fmt_param(b2)}{superscript(str(t))}) / (1 − {fmt_param(b1)}"
                f"{superscript(str(t))})",
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
            [*wf, " − α·m / (√v + ε)"],
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
            sec.add(arrow, [*wf, " − m"], [before, " − ", mo.operand()], [after])
        else:
            sec.add(
                arrow,
                [*wf, f" − η·g / {denom_sym}"],
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
            [*wf, " − η·g / √(s + ε)"],
            [before, " − ", lr, "·", gp, " / √(", acc, " + ", b.param(eps), ")"],
            [after],
        )
        return
    if cls == "Adadelta":
        _adadelta(b, sec, cfg, arrow, wf, before, after, lr, g, slot_before, slot_after)
        return
    if cls == "Adamax":
        _adamax(b, sec, cfg, state, arrow, wf, before, after, lr, g, slot_before, slot_after)
        return
    if cls == "Nadam":
        _nadam(b, sec, cfg, state, arrow, wf, before, after, lr, g, slot_before, slot_after)
        return
    if cls == "Lion":
        _lion(b, sec, cfg, arrow, wf, before, after, lr, g, slot_before, slot_after)
        return
    if cls == "Ftrl":
        _ftrl(b, sec, cfg, arrow, before, after, lr, g, slot_before, slot_after)
        return
    sec.add(arrow, [after])  # pragma: no cover - every optimizer is handled above


def _power(t: int, base: float) -> str:
    """``base`` raised to the step number ``t``, as written in the panel: 0.9³."""
    return f"{fmt_param(base)}{superscript(str(t))}"


def _adadelta(b, sec, cfg, arrow, wf, before, after, lr, g, slot_before, slot_after) -> None:
    rho, eps = cfg["rho"], cfg["epsilon"]
    gp = g.operand()
    s0, s1 = slot_before("accumulated_grad", 0.0), slot_after("accumulated_grad")
    d0, d1 = slot_before("accumulated_delta_var", 0.0), slot_after("accumulated_delta_var")
    sec.add(
        [Sym("s"), " ← "],
        ["ρ·s + (1 − ρ)·g²"],
        [b.param(rho), "·", s0, " + (1 − ", b.param(rho), ")·", gp, "²"],
        [s1],
        note="running mean of g²",
    )
    dt = b.dtype.type
    delta = b.calc(
        -(np.sqrt(dt(d0.value) + dt(eps)) * dt(g.value)) / np.sqrt(dt(s1.value) + dt(eps))
    )
    sec.add(
        [Sym("Δ")],
        ["−√(d + ε)·g / √(s + ε)"],
        ["−√(", d0, " + ", b.param(eps), ")·", gp, " / √(", s1, " + ", b.param(eps), ")"],
        [delta],
        note="the step: its own running size over the gradient's",
    )
    sec.add(
        [Sym("d"), " ← "],
        ["ρ·d + (1 − ρ)·Δ²"],
        [b.param(rho), "·", d0, " + (1 − ", b.param(rho), ")·", delta.operand(), "²"],
        [d1],
        note="running mean of Δ²",
    )
    sec.add(arrow, [*wf, " + η·Δ"], [before, " + ", lr, "·", delta.operand()], [after])


def _adamax(b, sec, cfg, state, arrow, wf, before, after, lr, g, slot_before, slot_after):
    b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
    t = int(state["iterations"]) + 1
    m0, m = slot_before("momentum", 0.0), slot_after("momentum")
    u0, u = slot_before("norm", 0.0), slot_after("norm")
    sec.add([Sym("t")], [str(t)], note="this update's number")
    sec.add(
        [Sym("m"), " ← "],
        ["m + (1 − β₁)·(g − m)"],
        [m0, " + (1 − ", b.param(b1), ")·(", g, " − ", m0, ")"],
        [m],
        note="1st moment: running mean of g",
    )
    sec.add(
        [Sym("u"), " ← "],
        ["max(β₂·u, |g|)"],
        ["max(", b.param(b2), "·", u0, ", |", g, "|)"],
        [u],
        note="the infinity norm: a decaying maximum of |g|",
    )
    sec.add(
        arrow,
        [*wf, f" − η·m / ((1 − β₁{superscript('t')})·(u + ε))"],
        [before, " − ", lr, "·", m.operand(), f" / ((1 − {_power(t, b1)})·(", u, " + ",
         b.param(eps), "))"],
        [after],
    )  # fmt: skip


def _nadam(b, sec, cfg, state, arrow, wf, before, after, lr, g, slot_before, slot_after):
    from engine.backends.numpy.optimizers import _NADAM_DECAY

    b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
    t = int(state["iterations"]) + 1
    dt = b.dtype.type
    gp = g.operand()
    m0, m = slot_before("momentum", 0.0), slot_after("momentum")
    v0, v = slot_before("velocity", 0.0), slot_after("velocity")
    sec.add([Sym("t")], [str(t)], note="this update's number")
    # The momentum schedule μₜ = β₁(1 − ½·0.96ᵗ) (Keras' 0.96 passes through float32 here).
    decay = dt(_NADAM_DECAY)
    mu_t = b.calc(dt(b1) * (dt(1) - dt(0.5) * decay ** dt(t)))
    mu_next = b.calc(dt(b1) * (dt(1) - dt(0.5) * decay ** dt(t + 1)))
    product_before = dt((state.get("scalars") or {}).get("u_product", 1.0))
    product = b.calc(product_before * dt(b1) * (dt(1) - dt(0.5) * dt(0.96) ** dt(t)))
    sec.add(
        ["μₜ"],
        ["β₁·(1 − 0.5·0.96ᵗ)"],
        [b.param(b1), "·(1 − 0.5·", _power(t, 0.96), ")"],
        [mu_t],
        note="the momentum schedule",
    )
    sec.add(
        ["μₜ₊₁"],
        ["β₁·(1 − 0.5·0.96ᵗ⁺¹)"],
        [b.param(b1), "·(1 − 0.5·", _power(t + 1, 0.96), ")"],
        [mu_next],
    )
    sec.add(
        ["Πμ"],
        ["μ₁·μ₂·…·μₜ"],
        [b.calc(product_before), "·", mu_t.operand()],
        [product],
        note="the schedule's product so far, kept by the optimizer",
    )
    sec.add(
        [Sym("m"), " ← "],
        ["m + (1 − β₁)·(g − m)"],
        [m0, " + (1 − ", b.param(b1), ")·(", g, " − ", m0, ")"],
        [m],
        note="1st moment",
    )
    sec.add(
        [Sym("v"), " ← "],
        ["v + (1 − β₂)·(g² − v)"],
        [v0, " + (1 − ", b.param(b2), ")·(", gp, "² − ", v0, ")"],
        [v],
        note="2nd moment",
    )
    m_hat = b.calc(
        dt(mu_next.value) * dt(m.value) / (dt(1) - dt(product.value) * dt(mu_next.value))
        + (dt(1) - dt(mu_t.value)) * dt(g.value) / (dt(1) - dt(product.value))
    )
    sec.add(
        ["m̂"],
        ["μₜ₊₁·m / (1 − Πμ·μₜ₊₁) + (1 − μₜ)·g / (1 − Πμ)"],
        [mu_next.operand(), "·", m.operand(), " / (1 − ", product.operand(), "·",
         mu_next.operand(), ") + (1 − ", mu_t.operand(), ")·", gp, " / (1 − ",
         product.operand(), ")"],
        [m_hat],
        note="Nesterov: the next step's momentum and this gradient",
    )  # fmt: skip
    v_hat = b.calc(dt(v.value) / (dt(1) - dt(b2) ** dt(t)))
    sec.add(
        ["v̂"],
        [f"v / (1 − β₂{superscript('t')})"],
        [v.operand(), f" / (1 − {_power(t, b2)})"],
        [v_hat],
    )
    sec.add(
        arrow,
        [*wf, " − η·m̂ / (√v̂ + ε)"],
        [before, " − ", lr, "·", m_hat.operand(), " / (√", v_hat.operand(), " + ",
         b.param(eps), ")"],
        [after],
    )  # fmt: skip


def _lion(b, sec, cfg, arrow, wf, before, after, lr, g, slot_before, slot_after) -> None:
    b1, b2 = cfg["beta_1"], cfg["beta_2"]
    dt = b.dtype.type
    gp = g.operand()
    m0, m = slot_before("momentum", 0.0), slot_after("momentum")
    c = b.calc(dt(m0.value) * dt(b1) + dt(g.value) * (dt(1) - dt(b1)))
    sec.add(
        [Sym("c")],
        ["β₁·m + (1 − β₁)·g"],
        [b.param(b1), "·", m0, " + (1 − ", b.param(b1), ")·", gp],
        [c],
        note="the interpolation whose sign is the step",
    )
    sec.add(arrow, [*wf, " − η·sign(c)"], [before, " − ", lr, "·sign(", c, ")"], [after])
    sec.add(
        [Sym("m"), " ← "],
        ["β₂·m + (1 − β₂)·g"],
        [b.param(b2), "·", m0, " + (1 − ", b.param(b2), ")·", gp],
        [m],
        note="momentum, after the step",
    )


def _ftrl(b, sec, cfg, arrow, before, after, lr, g, slot_before, slot_after) -> None:
    p = -cfg["learning_rate_power"]
    l1, l2 = cfg["l1_regularization_strength"], cfg["l2_regularization_strength"]
    shrink, beta = cfg["l2_shrinkage_regularization_strength"], cfg["beta"]
    dt = b.dtype.type
    gp = g.operand()
    n0, n = slot_before("accumulator", cfg["initial_accumulator_value"]), slot_after("accumulator")
    z0, z = slot_before("linear", 0.0), slot_after("linear")
    lr_v = dt(lr.value)

    def pw(x) -> list[Part]:
        return ["√", x.operand()] if p == 0.5 else [x.operand(), f"^{fmt_param(p)}"]

    pw_sym = "√n" if p == 0.5 else f"n^{fmt_param(p)}"
    pw_new = "√n′" if p == 0.5 else f"n′^{fmt_param(p)}"
    sec.add(
        ["n′"], ["n + g²"], [n0, " + ", gp, "²"], [n], note="the accumulator of squared gradients"
    )
    shrink_f: list[Part] = [" + 2·λ₂ₛ·w"] if shrink else []
    shrink_n: list[Part] = [" + 2·", b.param(shrink), "·", before.operand()] if shrink else []
    sec.add(
        [Sym("z"), " ← "],
        [f"z + g{shrink_f[0] if shrink else ''} − ({pw_new} − {pw_sym}) / η·w"],
        [z0, " + ", gp, *shrink_n, " − (", *pw(n), " − ", *pw(n0), ") / ", lr, "·",
         before.operand()],
        [z],
        note="the linear term",
    )  # fmt: skip
    l2_total = dt(l2) + dt(beta) / (dt(2) * lr_v)
    q = b.calc(np.power(dt(n.value), dt(p)) / lr_v + dt(2) * l2_total)
    beta_n: list[Part] = [" + ", b.param(beta), " / (2·", lr, ")"] if beta else []
    sec.add(
        [Sym("q")],
        [f"{pw_new} / η + 2·(λ₂{' + β / (2η)' if beta else ''})"],
        [*pw(n), " / ", lr, " + 2·(", b.param(l2), *beta_n, ")"],
        [q],
    )
    sec.add(
        arrow,
        ["(max(−λ₁, min(z, λ₁)) − z) / q"],
        ["(max(−", b.param(l1), ", min(", z.operand(), ", ", b.param(l1), ")) − ",
         z.operand(), ") / ", q.operand()],
        [after],
        note="closed form: L1 keeps the weight at 0 while |z| ≤ λ₁",
    )  # fmt: skip
