"""Keras' activation layers with settings of their own: LeakyReLU (``negative_slope``), ELU
(``alpha``), Softmax (``axis``) and PReLU (a trainable ``alpha`` per unit).

Each follows ``keras/src/layers/activations/*.py``: LeakyReLU is ``x`` above 0 and
``negative_slope·x`` below (its default slope 0.3, not the function's 0.2; TensorFlow keeps the
slope as a float32 attribute, also for float64 inputs); ELU is ``x`` above 0 and
``alpha·(eˣ − 1)`` below; Softmax normalizes over ``axis`` (a softmax over the last axis is the
output activation the crossentropies take logits from, as Keras does); PReLU is
``relu(x) − alpha·relu(−x)`` with ``alpha`` shaped like a sample (``shared_axes`` share one
value along those axes), zeros to start.
"""

from __future__ import annotations

import numpy as np

from engine.explain_parts import activation_delta
from engine.formula import Sym, fmt_param, one_based, subscript
from engine.layers.base import (
    NAME,
    Cache,
    LayerType,
    Param,
    ShapeProblem,
    Stroke,
    Weight,
    prod,
    sample_axis,
    weight_rules,
)

_GROUP = "Activation"


def _f32(value: float, dtype: np.dtype):
    """A constant as TensorFlow passes it through a float32 attribute."""
    return dtype.type(np.float32(value))


class _Unitwise(LayerType):
    """An element-wise activation layer without weights: z = the input, a = f(z)."""

    group = _GROUP
    unit_by_unit = True

    def flops(self, config, shapes, out):
        return 2 * prod(out)

    def _f(self, config, x):  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def _df(self, config, x, a):  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def forward(self, node, weights, state, inputs, training):
        x = inputs[0]
        return Cache(inputs, a=self._f(node.config, x), z=x)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        g = grad_a * self._df(node.config, cache.z, cache.a)
        return [g], {}, g

    def _rule(self, config) -> str:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def explain_forward(self, b, sec, node, sample, idx):
        """z = the input unit, then a = f(z) with the layer's setting."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        z = b.num(("forward", name, "inputs", full))
        sec.add([Sym("z", u)], [z])
        sec.add(
            [Sym("a", u)],
            [f"{self.class_name}(", Sym("z", u), ")"],
            [f"{self.class_name}(", z, ")"],
            [b.num(("forward", name, "a", full))],
            note=self._rule(node.config),
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """δ = ∂L/∂a · f′(z), also what the input receives."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        ga = b.num(("backward", name, "grad_a", full))
        x = np.asarray([b.value(("forward", name, "inputs", full))], dtype=b.dtype)
        a = np.asarray([b.value(("forward", name, "a", full))], dtype=b.dtype)
        slope = b.calc(float(self._df(node.config, x, a)[0]))
        sec.add(
            [Sym("δ", u)],
            [f"∂L/∂a{subscript(u)} · f′(z{subscript(u)})"],
            [ga.operand(), "·", slope.operand()],
            [b.num(("backward", name, "grad_inputs", full))],
            note=self._slope_text(node.config),
        )

    def _slope_text(self, config) -> str:  # pragma: no cover - every subclass has one
        raise NotImplementedError


class LeakyReLU(_Unitwise):
    class_name = "LeakyReLU"
    description = "Leaky rectified linear unit: x above 0, negative_slope·x below."
    params = (
        NAME,
        Param(
            "negative_slope", "float", default=0.3, minimum=0.0, doc="Slope below 0 (Keras: 0.3)."
        ),
    )
    order = 36
    color = "#a8508f"
    glyph = (
        Stroke("line", ((0.15, 0.55), (0.85, 0.55)), "faint"),
        Stroke("polyline", ((0.16, 0.68), (0.5, 0.55), (0.84, 0.2))),
    )

    def _slope(self, config, dtype):
        return _f32(config["negative_slope"], dtype)

    def _f(self, config, x):
        return np.where(x > 0, x, x * self._slope(config, x.dtype))

    def _df(self, config, x, a):
        # tf.nn.leaky_relu's gradient: 1 where x > 0, else the slope (0 included).
        return np.where(x > 0, x.dtype.type(1), self._slope(config, x.dtype))

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.LeakyReLU(
            negative_slope=node.config["negative_slope"], name=node.name, dtype=ctx.dtype
        )

    def _rule(self, config):
        return f"LeakyReLU(z) = z if z > 0, else {fmt_param(config['negative_slope'])}·z"

    def _slope_text(self, config):
        return f"f′(z) = 1 if z > 0, else {fmt_param(config['negative_slope'])}"

    def subtitle(self, config):
        return f"slope {fmt_param(config.get('negative_slope', 0.3))}"


class ELU(_Unitwise):
    class_name = "ELU"
    description = "Exponential linear unit: x above 0, alpha·(eˣ − 1) below."
    params = (NAME, Param("alpha", "float", default=1.0, doc="Scale of the negative part."))
    order = 37
    color = "#9c4fa3"
    glyph = (
        Stroke("line", ((0.15, 0.6), (0.85, 0.6)), "faint"),
        Stroke("curve", ((0.15, 0.78), (0.35, 0.78), (0.45, 0.66), (0.5, 0.6))),
        Stroke("line", ((0.5, 0.6), (0.84, 0.22))),
    )

    def _f(self, config, x):
        # tf.nn.elu, then Keras multiplies the negative part by alpha when alpha != 1.
        elu = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
        alpha = config["alpha"]
        return elu if alpha == 1 else np.where(x > 0, elu, elu * x.dtype.type(alpha))

    def _df(self, config, x, a):
        # EluGrad: 1 where x > 0, else elu(x) + 1 (= eˣ, as TensorFlow rounds it); times alpha.
        alpha = x.dtype.type(config["alpha"])
        below = np.expm1(np.minimum(x, 0)) + 1
        return np.where(x > 0, x.dtype.type(1), below if alpha == 1 else below * alpha)

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.ELU(alpha=node.config["alpha"], name=node.name, dtype=ctx.dtype)

    def _rule(self, config):
        return f"ELU(z) = z if z > 0, else {fmt_param(config['alpha'])}·(e^z − 1)"

    def _slope_text(self, config):
        return f"f′(z) = 1 if z > 0, else {fmt_param(config['alpha'])}·e^z"

    def subtitle(self, config):
        alpha = config.get("alpha", 1.0)
        return "" if alpha == 1.0 else f"alpha {fmt_param(alpha)}"


class Softmax(LayerType):
    class_name = "Softmax"
    description = "Softmax over an axis: the exponentials normalised to sum to 1."
    params = (NAME, Param("axis", "int", default=-1, doc="The axis to normalise (with batch)."))
    order = 38
    group = _GROUP
    color = "#7a4fb0"
    glyph = tuple(
        Stroke("box", ((0.18 + 0.17 * i, 0.78 - h), (0.3 + 0.17 * i, 0.78)))
        for i, h in enumerate((0.2, 0.5, 0.12, 0.3))
    )
    new_config = {}

    def _axis(self, config, shapes) -> int:
        return sample_axis(int(config["axis"]), len(shapes[0])) + 1  # with the batch axis

    def output_shape(self, config, shapes):
        self._axis(config, shapes)
        return shapes[0]

    def flops(self, config, shapes, out):
        return 4 * prod(out)

    def activation_of(self, config, shapes):
        """Softmax over a sample's last axis is the activation the crossentropies fuse with."""
        last = len(shapes[0])
        return "softmax" if self._axis(config, shapes) == last else None

    def forward(self, node, weights, state, inputs, training):
        x = inputs[0]
        ax = self._axis(node.config, node.input_shapes)
        e = np.exp(x - np.max(x, axis=ax, keepdims=True))
        return Cache(inputs, a=e / np.sum(e, axis=ax, keepdims=True), z=x)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = a·(g − Σ g·a over the axis), or dL/dz given by a fused loss."""
        if grad_z is None:
            ax = self._axis(node.config, node.input_shapes)
            a = cache.a
            grad_z = a * (grad_a - np.sum(grad_a * a, axis=ax, keepdims=True))
        return [grad_z], {}, grad_z

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Softmax(axis=node.config["axis"], name=node.name, dtype=ctx.dtype)

    def explain_forward(self, b, sec, node, sample, idx):
        """a = e^z / Σ e^z over the axis (the last one: the activation's own lines)."""
        from engine.explain_parts import activation_lines

        if node.activation == "softmax":
            sec.add(
                [Sym("z", one_based(idx))], [b.num(("forward", node.name, "z", (sample, *idx)))]
            )
            activation_lines(b, sec, node, sample, idx)
            return
        sec.add(
            [Sym("a", one_based(idx))],
            [f"e^z / Σ e^z along axis {node.config['axis']}"],
            [b.num(("forward", node.name, "a", (sample, *idx)))],
        )

    def explain_backward(self, b, sec, node, sample, idx):
        if node.activation == "softmax":
            activation_delta(b, sec, node, sample, idx)
            return
        sec.add(
            [Sym("δ", one_based(idx))],
            ["a·(∂L/∂a − Σ ∂L/∂a·a along the axis)"],
            [b.num(("backward", node.name, "grad_inputs", (sample, *idx)))],
        )

    def subtitle(self, config):
        axis = config.get("axis", -1)
        return "" if axis == -1 else f"axis {axis}"


class PReLU(LayerType):
    class_name = "PReLU"
    description = "Parametric ReLU: x above 0, alpha·x below, alpha learned per unit."
    params = (
        NAME,
        Param("alpha_initializer", "initializer", default="zeros"),
        *weight_rules("alpha"),
        Param(
            "shared_axes",
            "shape",
            default=None,
            nullable=True,
            none_text="one alpha per unit",
            doc="Axes (counting the batch axis from 1) that share one alpha, e.g. [1, 2].",
        ),
    )
    order = 39
    group = _GROUP
    unit_by_unit = True
    color = "#b0487a"
    glyph = (
        Stroke("line", ((0.15, 0.55), (0.85, 0.55)), "faint"),
        Stroke("polyline", ((0.16, 0.72), (0.5, 0.55), (0.84, 0.2))),
        Stroke("dot", ((0.3, 0.64),), size=0.06),
    )

    def _alpha_shape(self, config, shape) -> tuple[int, ...]:
        dims = list(shape)
        for axis in config.get("shared_axes") or ():
            if not 1 <= axis <= len(dims):
                raise ShapeProblem(
                    f"shared axis {axis} is outside the input's axes 1..{len(dims)}",
                    field="shared_axes",
                )
            dims[axis - 1] = 1
        return tuple(dims)

    def output_shape(self, config, shapes):
        self._alpha_shape(config, shapes[0])
        return shapes[0]

    def flops(self, config, shapes, out):
        return 3 * prod(out)

    def weights(self, config, shapes):
        shape = self._alpha_shape(config, shapes[0]) if shapes else None
        return (Weight("alpha", shape, "alpha_initializer"),)

    def forward(self, node, weights, state, inputs, training):
        """a = relu(x) − alpha·relu(−x), alpha broadcast over the batch (and shared axes)."""
        x = inputs[0]
        a = np.maximum(x, 0) - weights["alpha"] * np.maximum(-x, 0)
        return Cache(inputs, a=a, z=x)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = g where x > 0, alpha·g where x < 0 (0 at 0, TensorFlow's ReluGrad);
        dL/dalpha = −Σ g·relu(−x) over the batch and the shared axes."""
        x = cache.z
        alpha = weights["alpha"]
        gx = np.where(x > 0, grad_a, 0) + np.where(x < 0, grad_a * alpha, 0)
        gx = gx.astype(x.dtype)
        per = -grad_a * np.maximum(-x, 0)
        axes = (
            0,
            *(
                i + 1
                for i, (n, m) in enumerate(zip(x.shape[1:], alpha.shape, strict=True))
                if m != n
            ),
        )
        g_alpha = np.sum(per, axis=axes).reshape(alpha.shape)
        return [gx], {"alpha": g_alpha}, gx

    def keras_layer(self, ctx, node):
        keras, cfg = ctx.keras, node.config
        return keras.layers.PReLU(
            alpha_initializer=keras.initializers.get(cfg["alpha_initializer"]),
            shared_axes=cfg["shared_axes"],
            **ctx.rule_kwargs(self, cfg),
            name=node.name,
            dtype=ctx.dtype,
        )

    def import_config(self, raw):
        out = dict(raw)
        if out.get("shared_axes") is not None:
            out["shared_axes"] = [int(a) for a in out["shared_axes"]]
        return out

    def explain_forward(self, b, sec, node, sample, idx):
        """a = z where z > 0, else alpha·z, with the unit's alpha before the step."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        alpha_idx = tuple(
            0 if m == 1 else i for i, m in zip(idx, node.weights[0].shape, strict=True)
        )
        z = b.num(("forward", name, "inputs", full))
        alpha = b.num(("start", name, "alpha", alpha_idx))
        sec.add([Sym("z", u)], [z])
        if z.value > 0:
            sec.add([Sym("a", u)], [Sym("z", u)], [b.num(("forward", name, "a", full))])
        else:
            sec.add(
                [Sym("a", u)],
                [Sym("α", one_based(alpha_idx)), "·", Sym("z", u)],
                [alpha.operand(), "·", z.operand()],
                [b.num(("forward", name, "a", full))],
                note="PReLU: z above 0, alpha·z below (alpha learned)",
            )

    def explain_backward(self, b, sec, node, sample, idx):
        name, full, u = node.name, (sample, *idx), one_based(idx)
        ga = b.num(("backward", name, "grad_a", full))
        z = float(b.value(("forward", name, "inputs", full)))
        alpha_idx = tuple(
            0 if m == 1 else i for i, m in zip(idx, node.weights[0].shape, strict=True)
        )
        if z > 0:
            slope = b.calc(1.0)
        elif z < 0:
            slope = b.num(("start", name, "alpha", alpha_idx))
        else:
            slope = b.calc(0.0)
        sec.add(
            [Sym("δ", u)],
            [f"∂L/∂a{subscript(u)} · f′(z{subscript(u)})"],
            [ga.operand(), "·", slope.operand()],
            [b.num(("backward", name, "grad_inputs", full))],
            note="f′(z) = 1 above 0, alpha below (0 at 0)",
        )


LAYERS = (LeakyReLU(), ELU(), Softmax(), PReLU())
