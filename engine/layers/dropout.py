"""Dropout: zeroes a fraction ``rate`` of its inputs in training, scaling the rest by
1/(1 − rate); the identity at inference. No weights."""

from __future__ import annotations

import numpy as np

from engine.formula import Sym, fmt_param, one_based, subscript
from engine.layers.base import NAME, Cache, LayerState, LayerType, Param, Stroke, layer_seed

_ROWS, _COLS = (0.22, 0.41, 0.59, 0.78), (0.33, 0.67)


class Dropout(LayerType):
    class_name = "Dropout"
    description = (
        "Randomly zeroes a fraction `rate` of inputs while training; identity at inference."
    )
    params = (
        NAME,
        Param("rate", "float", required=True, minimum=0.0, maximum=1.0, exclusive_max=True),
        Param("seed", "int", default=None, nullable=True, minimum=0),
    )
    order = 20
    group = "Regularization"
    passes_values = True
    unit_by_unit = True
    random_in_training = True
    affine = True
    new_config = {"rate": 0.2}
    color = "#d9822b"
    glyph = tuple(
        Stroke("dot", ((x, y),), size=0.075, filled=(i + j) % 3 != 1)
        for i, y in enumerate(_ROWS)
        for j, x in enumerate(_COLS)
    )
    code_positional = ("rate",)

    def numpy_state(self, node, seed):
        """A generator per layer: the config's seed, else (project seed, layer index + 1)."""
        own = node.config.get("seed")
        return LayerState(
            rng=np.random.default_rng(own if own is not None else [seed, node.index + 1])
        )

    def forward(self, node, weights, state, inputs, training):
        """In training (rate > 0): ``mask`` = keep/(1 − rate) with keep = U[0,1) ≥ rate;
        ``a`` = x·mask."""
        x = inputs[0]
        rate = node.config["rate"]
        if not (training and rate > 0):
            return Cache(inputs, a=x)
        keep = state.rng.random(x.shape, dtype=x.dtype) >= rate
        mask = keep * x.dtype.type(1.0 / (1.0 - rate))
        return Cache(inputs, a=x * mask, mask=mask)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = dL/da · mask (dL/da where no mask was drawn)."""
        return [grad_a * cache.mask if cache.mask is not None else grad_a], {}, None

    def without_randomness(self, config):
        return {**config, "rate": 0.0}

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Dropout(
            node.config["rate"], seed=layer_seed(node, ctx.seed), name=node.name, dtype=ctx.dtype
        )

    def explain_forward(self, b, sec, node, sample, idx):
        """a = x·m with the drawn mask m (or a = x when none was drawn: rate 0)."""
        name = node.name
        full = (sample, *idx)
        u = one_based(idx)
        fwd = b.ev("forward", name)
        x = b.num(("forward", name, "inputs", full), paren=True)
        if "mask" in fwd.data:
            m = b.num(("forward", name, "mask", full))
            rate = node.config["rate"]
            sec.add(
                [Sym("a", u)],
                [Sym("x", u), "·", Sym("m", u)],
                [x, "·", m],
                [b.num(("forward", name, "a", full))],
            )
            kept = m.value != 0
            sec.remark(
                f"Dropout mask m = 0 (dropped) or 1/(1 − rate) = {fmt_param(1 / (1 - rate))} "
                f"(kept and scaled up); this unit was {'kept' if kept else 'dropped'}."
            )
        else:
            sec.add([Sym("a", u)], [Sym("x", u)], [b.num(("forward", name, "a", full))])
            sec.remark("Dropout with rate 0 passes its input through.")

    def explain_backward(self, b, sec, node, sample, idx):
        """∂L/∂x = ∂L/∂a·m: dropped units pass no error back."""
        name = node.name
        full = (sample, *idx)
        u = subscript(one_based(idx))
        if "mask" in b.ev("forward", name).data:
            ga = b.num(("backward", name, "grad_a", full))
            m = b.num(("forward", name, "mask", full))
            sec.add(
                [f"∂L/∂x{u}"],
                [f"∂L/∂a{u} · m{u}"],
                [ga.operand(), "·", m],
                [b.num(("backward", name, "grad_inputs", full))],
                note="dropped units pass no error back",
            )

    def explain_to_input(self, b, consumer, k, sample, idx):
        """∂L/∂a·m of the unit (nothing to expand when no mask was drawn)."""
        full = (sample, *idx)
        if "mask" not in b.ev("forward", consumer.name).data:
            return []
        ga = b.num(("backward", consumer.name, "grad_a", full))
        m = b.num(("forward", consumer.name, "mask", full))
        u = subscript(one_based(idx))
        return [[f"∂L/∂a{u} of {consumer.name} · m{u}"], [ga.operand(), "·", m]]

    def subtitle(self, config):
        rate = config.get("rate")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool):
            return f"rate {rate:g}"
        return ""


LAYER = Dropout()
