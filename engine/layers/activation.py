"""Activation: applies ``config["activation"]`` element-wise, ``a = f(z)`` with ``z`` the
input. No weights."""

from __future__ import annotations

from engine.explain_parts import activation_delta, activation_lines
from engine.formula import Sym, one_based
from engine.layers.base import NAME, Cache, LayerType, Param, Stroke, activation_flops, prod


class Activation(LayerType):
    class_name = "Activation"
    description = "Applies an activation function element-wise."
    params = (NAME, Param("activation", "activation", required=True))
    order = 30
    group = "Core"
    has_activation = True
    unit_by_unit = True
    new_config = {"activation": "relu"}
    color = "#8e5bc8"
    glyph = (
        Stroke("line", ((0.15, 0.5), (0.85, 0.5)), "faint"),
        Stroke("curve", ((0.18, 0.74), (0.5, 0.74), (0.5, 0.26), (0.82, 0.26))),
    )
    code_positional = ("activation",)

    def flops(self, config, shapes, out):
        return activation_flops(config.get("activation"), prod(out))

    def forward(self, node, weights, state, inputs, training):
        """``z`` = the input, ``a`` = f(z), both (batch, *shape)."""
        return Cache(inputs, a=state.activation.forward(inputs[0]), z=inputs[0])

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = dL/dz = dL/da · f'(z) (given directly by a fused loss)."""
        if grad_z is None:
            grad_z = state.activation.backward(cache.z, cache.a, grad_a)
        return [grad_z], {}, grad_z

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Activation(
            ctx.activation_for(node.activation), name=node.name, dtype=ctx.dtype
        )

    def explain_forward(self, b, sec, node, sample, idx):
        """z = the input unit, then a = f(z)."""
        sec.add(
            [Sym("z", one_based(idx))], [b.num(("forward", node.name, "inputs", (sample, *idx)))]
        )
        activation_lines(b, sec, node, sample, idx)

    def explain_backward(self, b, sec, node, sample, idx):
        """δ = ∂L/∂a·f′(z), which is also what the input receives."""
        activation_delta(b, sec, node, sample, idx)


LAYER = Activation()
