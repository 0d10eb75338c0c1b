"""ReLU: Keras' rectified linear unit layer with its three settings,
``a = min(x, max_value)`` where ``x > threshold``, else ``negative_slope · (x − threshold)``.

Keras computes ``where(x > threshold, x, 0)``, clips that to ``[0, max_value]`` when
``max_value`` is set, and subtracts ``negative_slope · relu(threshold − x)``; this module does
the same, in that order. No weights.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from engine.formula import Sym, fmt_param, one_based, subscript
from engine.layers.base import NAME, Cache, LayerType, Param, Stroke, prod


class ReLU(LayerType):
    class_name = "ReLU"
    description = "Rectified linear unit: x above a threshold (capped at max_value), else a slope."
    params = (
        NAME,
        Param("max_value", "float", default=None, nullable=True, minimum=0.0, doc="Cap."),
        Param("negative_slope", "float", default=0.0, minimum=0.0, doc="Slope below threshold."),
        Param("threshold", "float", default=0.0, minimum=0.0, doc="Where the unit opens."),
    )
    order = 35
    group = "Activation"
    unit_by_unit = True
    color = "#b5478a"
    glyph = (
        Stroke("line", ((0.15, 0.62), (0.85, 0.62)), "faint"),
        Stroke("polyline", ((0.18, 0.7), (0.5, 0.62), (0.7, 0.3), (0.82, 0.3))),
    )

    def flops(self, config, shapes, out):
        return prod(out) * (
            1 + (config.get("max_value") is not None) + 2 * bool(config.get("negative_slope"))
        )

    def forward(self, node, weights, state, inputs, training):
        """``z`` = the input (batch, *shape); ``a`` = ReLU(z), same shape."""
        x = inputs[0]
        k = _constants(node.config, x.dtype)
        if k.leaky:
            return Cache(inputs, a=np.where(x > 0, x, x * k.slope), z=x)
        a = np.where(x > k.threshold_cmp, x, x.dtype.type(0))
        if k.max_value is not None:
            a = np.clip(a, x.dtype.type(0), k.max_value)
        if k.slope:
            a = a - k.slope * np.maximum(k.threshold - x, 0)
        return Cache(inputs, a=a, z=x)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = dL/da · f′(x): 1 between threshold and max_value, negative_slope below the
        threshold, 0 above max_value."""
        x = cache.z
        k = _constants(node.config, x.dtype)
        if k.leaky:
            g = np.where(x > 0, grad_a, grad_a * k.slope)
            return [g], {}, g
        d = (x > k.threshold_cmp).astype(x.dtype)
        if k.max_value is not None:
            d *= x < k.max_value
        if k.slope:
            d += k.slope * (x < k.threshold)
        g = grad_a * d
        return [g], {}, g

    def keras_layer(self, ctx, node):
        cfg = node.config
        return ctx.keras.layers.ReLU(
            max_value=cfg["max_value"],
            negative_slope=cfg["negative_slope"],
            threshold=cfg["threshold"],
            name=node.name,
            dtype=ctx.dtype,
        )

    def _rule(self, node) -> str:
        cfg = node.config
        t = fmt_param(cfg["threshold"])
        top = f"min(z, {fmt_param(cfg['max_value'])})" if cfg["max_value"] is not None else "z"
        low = f"{fmt_param(cfg['negative_slope'])}·(z − {t})" if cfg["negative_slope"] else "0"
        return f"{top} if z > {t}, else {low}"

    def explain_forward(self, b, sec, node, sample, idx):
        """z = the input unit, then a = ReLU(z) with the layer's settings."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        z = b.num(("forward", name, "inputs", full))
        sec.add([Sym("z", u)], [z])
        sec.add(
            [Sym("a", u)],
            ["ReLU(", Sym("z", u), ")"],
            ["ReLU(", z, ")"],
            [b.num(("forward", name, "a", full))],
            note=f"ReLU(z) = {self._rule(node)}",
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """δ = ∂L/∂a · f′(z), also what the input receives."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        ga = b.num(("backward", name, "grad_a", full))
        z = float(b.value(("forward", name, "inputs", full)))
        cfg = node.config
        if z > cfg["threshold"]:
            slope = 0.0 if cfg["max_value"] is not None and z >= cfg["max_value"] else 1.0
        else:
            slope = float(cfg["negative_slope"])
        sec.add(
            [Sym("δ", u)],
            [f"∂L/∂a{subscript(u)} · ReLU′(z{subscript(u)})"],
            [ga.operand(), "·", b.calc(slope)],
            [b.num(("backward", name, "grad_inputs", full))],
            note="ReLU′(z) = 1 between the threshold and max_value, the slope below, 0 above",
        )


class _Constants(NamedTuple):
    leaky: bool
    slope: Any
    threshold: Any
    threshold_cmp: Any
    max_value: Any


def _constants(cfg: dict, dtype: np.dtype) -> _Constants:
    """The settings as Keras' ``relu`` uses them, in the input's dtype.

    Keras rounds two of them through float32 even for float64 inputs (``ops.cast`` of a Python
    float): ``max_value``, and ``threshold`` where it is compared with x (its other use,
    ``relu(threshold − x)``, keeps it exact). With only a slope set it calls TensorFlow's
    ``leaky_relu``, whose ``alpha`` is a float32 attribute. In float32 all of this is exact.
    """
    t = dtype.type

    def f32(v: float):
        return t(np.float32(v))

    slope, threshold, top = cfg["negative_slope"], cfg["threshold"], cfg["max_value"]
    leaky = slope != 0 and top is None and threshold == 0
    return _Constants(
        leaky=leaky,
        slope=f32(slope) if leaky else t(slope),
        threshold=t(threshold),
        threshold_cmp=f32(threshold),
        max_value=None if top is None else f32(top),
    )


LAYER = ReLU()
