"""The update phase of one weight: the optimizer's rule (SGD with momentum or Nesterov, Adam
as Keras folds its bias correction, RMSprop plain or centered, Adagrad, the seed's Perceptron
rule) with its hyper-parameters, the slots before and after, and any gradient clipping."""

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
