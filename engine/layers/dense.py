"""Dense: a fully connected layer, ``a = activation(x · kernel + bias)``.

Weights (Keras' order): ``kernel`` (input units, units), ``bias`` (units,) when ``use_bias``.
Inputs of rank above one are multiplied along their last axis, as Keras does.
"""

from __future__ import annotations

import numpy as np

from engine.explain_parts import activation_delta, activation_lines, gradient_sum, sources_text
from engine.formula import Part, Sym, more_terms, one_based, plus, shown_terms, subscript
from engine.layers.base import (
    ACTIVITY_REGULARIZER,
    NAME,
    Cache,
    LayerType,
    Param,
    Stroke,
    Weight,
    activation_flops,
    prod,
    weight_rules,
)

_LEFT, _RIGHT = (0.3, 0.5, 0.7), (0.38, 0.62)


class Dense(LayerType):
    class_name = "Dense"
    description = "Fully connected layer: a = activation(x · kernel + bias)."
    params = (
        NAME,
        Param("units", "int", required=True, minimum=1, doc="Number of neurons."),
        Param("activation", "activation", default="linear", nullable=True),
        Param("use_bias", "bool", default=True),
        Param("kernel_initializer", "initializer", default="glorot_uniform"),
        Param("bias_initializer", "initializer", default="zeros"),
        *weight_rules("kernel", "bias"),
        ACTIVITY_REGULARIZER,
    )
    order = 10
    group = "Core"
    has_activation = True
    fully_connected = True
    new_config = {"units": 32, "activation": "relu"}
    color = "#3b78c9"
    glyph = (
        *(Stroke("line", ((0.3, a), (0.7, b)), "thin") for a in _LEFT for b in _RIGHT),
        *(Stroke("dot", ((0.3, a),), size=0.075) for a in _LEFT),
        *(Stroke("dot", ((0.7, b),), size=0.075) for b in _RIGHT),
    )
    code_positional = ("units",)

    def output_shape(self, config, shapes):
        return shapes[0][:-1] + (int(config["units"]),)

    def flops(self, config, shapes, out):
        rows = prod(shapes[0][:-1])
        units = int(config["units"])
        mac = 2 * shapes[0][-1] * units + (units if config.get("use_bias", True) else 0)
        return rows * mac + activation_flops(config.get("activation"), prod(out))

    def weights(self, config, shapes):
        units = int(config["units"])
        fan_in = shapes[0][-1] if shapes is not None else None
        out = [Weight("kernel", (fan_in, units) if shapes else None, "kernel_initializer")]
        if config.get("use_bias", True):
            out.append(Weight("bias", (units,) if shapes else None, "bias_initializer"))
        return tuple(out)

    def forward(self, node, weights, state, inputs, training):
        """``inputs[0]`` (batch, ..., in) -> ``z``, ``a`` (batch, ..., units)."""
        x = inputs[0]
        kernel = weights["kernel"]
        if x.ndim == 2:
            z = x @ kernel
        else:
            z = (x.reshape(-1, x.shape[-1]) @ kernel).reshape(x.shape[:-1] + (kernel.shape[1],))
        if "bias" in weights:
            z += weights["bias"]
        a = z if node.activation == "linear" else state.activation.forward(z)
        return Cache(inputs, a=a, z=z)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dz = dL/da · f'(z); dL/dkernel = xᵀ·dL/dz; dL/dbias = Σ_batch dL/dz;
        dL/dx = dL/dz · kernelᵀ."""
        if grad_z is None:
            if node.activation == "linear":
                grad_z = grad_a
            else:
                grad_z = state.activation.backward(cache.z, cache.a, grad_a)
        x = cache.inputs[0]
        kernel = weights["kernel"]
        if x.ndim == 2:
            x2, g2 = x, grad_z
        else:
            x2, g2 = x.reshape(-1, x.shape[-1]), grad_z.reshape(-1, grad_z.shape[-1])
        wgrads = {"kernel": x2.T @ g2}
        if "bias" in weights:
            wgrads["bias"] = g2.sum(axis=0)
        gin = (g2 @ kernel.T).reshape(x.shape) if need_input_grad else None
        return [gin], wgrads, grad_z

    def keras_layer(self, ctx, node):
        keras, cfg = ctx.keras, node.config
        return keras.layers.Dense(
            cfg["units"],
            activation=ctx.activation_for(node.activation),
            use_bias=cfg["use_bias"],
            kernel_initializer=keras.initializers.get(cfg["kernel_initializer"]),
            bias_initializer=keras.initializers.get(cfg["bias_initializer"]),
            **ctx.rule_kwargs(self, cfg),
            name=node.name,
            dtype=ctx.dtype,
        )

    def explain_forward(self, b, sec, node, sample, idx):
        """z = Σᵢ wᵢⱼ·xᵢ + bⱼ with the weights before the step's update, then a = f(z)."""
        name = node.name
        j = idx[-1]
        prefix = idx[:-1]
        fan_in = node.input_shapes[0][-1]
        shown, left = shown_terms(fan_in)
        sym = plus([[Sym("w", f"{i + 1},{j + 1}"), "·", Sym("x", str(i + 1))] for i in shown])
        sym += more_terms(left)
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
        chain = [sym, plus(plugged) + more_terms(left) + tail]
        if len(shown) > 1 and not left:
            chain.append(plus(products) + tail)
        chain.append([b.num(("forward", name, "z", (sample, *idx)))])
        sec.add([Sym("z", one_based(idx))], *chain)
        sec.remark(f"x = {sources_text(b, node)}; w, b = the weights before this step's update.")
        activation_lines(b, sec, node, sample, idx)

    def explain_backward(self, b, sec, node, sample, idx):
        """δ = ∂L/∂a·f′(z), then the bias gradient Σ over the batch of δ."""
        activation_delta(b, sec, node, sample, idx)
        if "bias" in b.s.weights_before.get(node.name, {}):
            j = idx[-1]
            gradient_sum(b, sec, node, None, j, [f"∂L/∂b{subscript(str(j + 1))}"])

    def explain_to_input(self, b, consumer, k, sample, idx):
        """Σⱼ wᵢⱼ·δⱼ over the units (written out with numbers when there are few)."""
        i = idx[-1]
        units = consumer.output_shape[-1]
        shown, left = shown_terms(units)
        chain: list[list[Part]] = [
            ["Σⱼ ", Sym("w", f"{i + 1},j"), "·", Sym("δ", "j"), f" of {consumer.name}"]
        ]
        if not left:
            terms = []
            for j in shown:
                w = b.num(("start", consumer.name, "kernel", (i, j)))
                d = b.num(("backward", consumer.name, "grad_z", (sample, *idx[:-1], j)), paren=True)
                terms.append([w.operand() if w.value < 0 else w, "·", d])
            chain.append(plus(terms))
        return chain


LAYER = Dense()
