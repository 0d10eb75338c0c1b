"""Conv2D: a 2D convolution over images (height, width, channels), channels last as Keras'
default: ``z[r, c, f] = Σ_{i, j, ch} x[r·s + i·d − pad, c·s + j·d − pad, ch] · kernel[i, j, ch,
f] + bias[f]``, ``a = activation(z)``.

Weights (Keras' order): ``kernel`` (kernel rows, kernel cols, input channels, filters), ``bias``
(filters,) when ``use_bias``. Padding, strides and dilation as TensorFlow computes them
(:mod:`engine.layers.windows`). The NumPy math lays the windows out (im2col) and multiplies once
by the kernel; its backward pass multiplies back and adds the windows onto the input (col2im).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.explain_parts import activation_delta, activation_lines, sources_text
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
from engine.layers.windows import (
    Geometry,
    cells_text,
    checked_geometry,
    col2im,
    pair_text,
    patches,
    window_text,
)

#: A training pass keeps its windows (im2col) for the backward pass up to this size; larger
#: ones are laid out again there.
KEEP_COLS_BYTES = 64 * 2**20

_PAIRS = ("kernel_size", "strides", "dilation_rate")
# Keras settings NN Designer does not model; accepted when they hold Keras' "off" value.
_OFF = {"groups": 1}


@dataclass
class ConvCache(Cache):
    """A :class:`Cache` that also holds the windows of a training pass (not traced)."""

    cols: np.ndarray | None = None


class Conv2D(LayerType):
    class_name = "Conv2D"
    description = (
        "2D convolution: each filter slides over the image, a = activation(window · kernel + bias)."
    )
    params = (
        NAME,
        Param("filters", "int", required=True, minimum=1, doc="Number of filters (channels out)."),
        Param(
            "kernel_size",
            "int_tuple",
            required=True,
            minimum=1,
            length=2,
            doc="Height and width of the window.",
        ),
        Param(
            "strides", "int_tuple", default=(1, 1), minimum=1, length=2, doc="Step of the window."
        ),
        Param(
            "padding",
            "choice",
            default="valid",
            choices=("valid", "same"),
            doc="valid: no padding; same: zero padding so that out = ceil(in / strides).",
        ),
        Param(
            "dilation_rate",
            "int_tuple",
            default=(1, 1),
            minimum=1,
            length=2,
            doc="Spacing of the window's cells.",
        ),
        Param("activation", "activation", default="linear", nullable=True),
        Param("use_bias", "bool", default=True),
        Param("kernel_initializer", "initializer", default="glorot_uniform"),
        Param("bias_initializer", "initializer", default="zeros"),
        *weight_rules("kernel", "bias"),
        ACTIVITY_REGULARIZER,
    )
    order = 70
    group = "Convolution"
    has_activation = True
    image_input = True
    filter_weight = "kernel"
    new_config = {"filters": 8, "kernel_size": [3, 3], "activation": "relu"}
    color = "#c0392b"
    glyph = (
        *(
            Stroke("line", ((0.12, 0.2 + k * 0.15), (0.57, 0.2 + k * 0.15)), "faint")
            for k in range(4)
        ),
        *(
            Stroke("line", ((0.12 + k * 0.15, 0.2), (0.12 + k * 0.15, 0.65)), "faint")
            for k in range(4)
        ),
        Stroke("polyline", ((0.12, 0.2), (0.42, 0.2), (0.42, 0.5), (0.12, 0.5), (0.12, 0.2))),
        Stroke("line", ((0.42, 0.2), (0.74, 0.42)), "thin"),
        Stroke("line", ((0.42, 0.5), (0.74, 0.54)), "thin"),
        Stroke("box", ((0.72, 0.4), (0.86, 0.56)), size=0.02),
    )
    code_positional = ("filters", "kernel_size")

    # ------------------------------------------------------------------ spec
    def _pairs(self, config: dict) -> tuple[tuple[int, int], ...]:
        return tuple(self.param(k).as_tuple(config.get(k) or self.param(k).default) for k in _PAIRS)

    def geometry(self, config: dict, shape) -> Geometry:
        """How the kernel covers an input of ``shape`` (a :class:`ShapeProblem` when it
        cannot)."""
        kernel, strides, dilation = self._pairs(config)
        return checked_geometry(
            self.class_name,
            tuple(shape),
            kernel,
            strides,
            dilation,
            config.get("padding", "valid"),
            "kernel_size",
        )

    def output_shape(self, config, shapes):
        g = self.geometry(config, shapes[0])
        return (*g.out, int(config["filters"]))

    def flops(self, config, shapes, out):
        kh, kw = self.param("kernel_size").as_tuple(config["kernel_size"])
        positions = prod(out[:-1])
        filters = int(config["filters"])
        mac = 2 * kh * kw * int(shapes[0][-1]) * filters
        bias = filters if config.get("use_bias", True) else 0
        return positions * (mac + bias) + activation_flops(config.get("activation"), prod(out))

    def weights(self, config, shapes):
        filters = int(config["filters"])
        kernel = None
        if shapes is not None:
            kh, kw = self.param("kernel_size").as_tuple(config["kernel_size"])
            kernel = (kh, kw, int(shapes[0][-1]), filters)
        out = [Weight("kernel", kernel, "kernel_initializer")]
        if config.get("use_bias", True):
            out.append(Weight("bias", (filters,) if shapes else None, "bias_initializer"))
        return tuple(out)

    # ------------------------------------------------------------------ NumPy math
    def forward(self, node, weights, state, inputs, training):
        """``inputs[0]`` (batch, H, W, C) -> ``z``, ``a`` (batch, Ho, Wo, filters): the windows
        (batch·Ho·Wo, kh·kw·C) times the kernel (kh·kw·C, filters), plus the bias."""
        x = inputs[0]
        g = self.geometry(node.config, x.shape[1:])
        kernel = weights["kernel"]
        cols = patches(x, g)
        z = cols.reshape(-1, prod(kernel.shape[:3])) @ kernel.reshape(-1, kernel.shape[3])
        z = z.reshape(len(x), *g.out, kernel.shape[3])
        if "bias" in weights:
            z += weights["bias"]
        a = z if node.activation == "linear" else state.activation.forward(z)
        keep = cols if training and cols.nbytes <= KEEP_COLS_BYTES else None
        return ConvCache(inputs, a=a, z=z, cols=keep)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dz = dL/da · f'(z); dL/dkernel = windowsᵀ · dL/dz; dL/dbias = Σ dL/dz over the
        batch and the positions; dL/dx = the windows of dL/dz · kernelᵀ added back (col2im)."""
        if grad_z is None:
            if node.activation == "linear":
                grad_z = grad_a
            else:
                grad_z = state.activation.backward(cache.z, cache.a, grad_a)
        x = cache.inputs[0]
        g = self.geometry(node.config, x.shape[1:])
        kernel = weights["kernel"]
        k2 = kernel.reshape(-1, kernel.shape[3])
        cols = getattr(cache, "cols", None)
        if cols is None:
            cols = patches(x, g)
        g2 = grad_z.reshape(-1, kernel.shape[3])
        wgrads = {"kernel": (cols.reshape(-1, k2.shape[0]).T @ g2).reshape(kernel.shape)}
        if "bias" in weights:
            wgrads["bias"] = g2.sum(axis=0)
        gin = None
        if need_input_grad:
            gcols = (g2 @ k2.T).reshape(len(x), *g.out, *kernel.shape[:3])
            gin = col2im(gcols, g)
        return [gin], wgrads, grad_z

    # ------------------------------------------------------------------ Keras
    def keras_layer(self, ctx, node):
        keras, cfg = ctx.keras, node.config
        kernel, strides, dilation = self._pairs(cfg)
        return keras.layers.Conv2D(
            int(cfg["filters"]),
            kernel,
            strides=strides,
            padding=cfg["padding"],
            dilation_rate=dilation,
            activation=ctx.activation_for(node.activation),
            use_bias=cfg["use_bias"],
            kernel_initializer=keras.initializers.get(cfg["kernel_initializer"]),
            bias_initializer=keras.initializers.get(cfg["bias_initializer"]),
            **ctx.rule_kwargs(self, cfg),
            name=node.name,
            dtype=ctx.dtype,
        )

    def code_args(self, config, lit, initializer):
        """``layers.Conv2D(8, (3, 3), strides=(2, 2), ...)``: pairs written as tuples."""
        return super().code_args(as_tuples(self, config), lit, initializer)

    def import_config(self, raw):
        """Keras' channels-last data_format (or None: the backend's, channels last) and one
        group are left out; other values stay, for the importer to refuse by name."""
        out = {k: v for k, v in raw.items() if not (k in _OFF and v == _OFF[k])}
        if out.get("data_format", "channels_last") in (None, "channels_last"):
            out.pop("data_format", None)
        for key in _PAIRS:
            if isinstance(out.get(key), tuple):
                out[key] = list(out[key])
        return out

    # ------------------------------------------------------------------ explanation
    def explain_forward(self, b, sec, node, sample, idx):
        """z[r, c, f] = Σ over the window's cells and channels of w·x, + b[f]; then a = f(z).
        Padding cells hold 0 and are left out of the sum."""
        name = node.name
        r, c, f = (int(v) for v in idx)
        g = self.geometry(node.config, node.input_shapes[0])
        channels = int(node.input_shapes[0][-1])
        rows, cols = g.window(r, c)
        terms = [
            (i, j, ch, row, col)
            for i, row in enumerate(rows)
            for j, col in enumerate(cols)
            if g.inside(row, col)
            for ch in range(channels)
        ]
        shown, left = shown_terms(len(terms))
        sym = plus(
            [
                [Sym("w", one_based((i, j, ch, f))), "·", Sym("x", one_based((row, col, ch)))]
                for i, j, ch, row, col in (terms[t] for t in shown)
            ]
        )
        sym += more_terms(left)
        if not terms:  # a dilated window can fall on padding alone
            sym = ["0"]
        plugged: list[list[Part]] = []
        for t in shown:
            i, j, ch, row, col = terms[t]
            w = b.num(("start", name, "kernel", (i, j, ch, f)))
            x = b.num(("forward", name, "inputs", (sample, row, col, ch)), paren=True)
            plugged.append([w.operand() if w.value < 0 else w, "·", x])
        tail: list[Part] = []
        if "bias" in b.s.weights_before[name]:
            sym += [" + ", Sym("b", str(f + 1))]
            tail = [" + ", b.num(("start", name, "bias", (f,)), paren=True)]
        sec.add(
            [Sym("z", one_based(idx))],
            sym,
            (plus(plugged) + more_terms(left) if terms else ["0"]) + tail,
            [b.num(("forward", name, "z", (sample, *idx)))],
        )
        padded = len(rows) * len(cols) - len(terms) // max(channels, 1)
        sec.remark(
            f"The window of output position ({r + 1}, {c + 1}): {window_text(g, rows, cols)} of "
            f"{sources_text(b, node)}, "
            + (f"all {channels} channels" if channels > 1 else "its one channel")
            + (f"; {cells_text(padded)} of padding count as 0" if padded else "")
            + f". w = filter {f + 1} of the kernel before this step's update."
        )
        activation_lines(b, sec, node, sample, idx)

    def explain_backward(self, b, sec, node, sample, idx):
        """δ = ∂L/∂a·f′(z); the bias gradient: Σ of δ over the batch and the positions."""
        activation_delta(b, sec, node, sample, idx)
        if "bias" not in b.s.weights_before.get(node.name, {}):
            return
        f = int(idx[-1])
        grad_z = np.asarray(b.ev("backward", node.name).data["grad_z"])
        shape = grad_z.shape[:-1]
        count = int(np.prod(shape))
        shown, left = shown_terms(count)
        terms = [
            [b.num(("backward", node.name, "grad_z", (*np.unravel_index(t, shape), f)), paren=True)]
            for t in shown
        ]
        sec.add(
            [f"∂L/∂b{subscript(str(f + 1))}"],
            ["Σ over the batch and the positions of ", Sym("δ", f"·,·,{f + 1}")],
            plus(terms) + more_terms(left),
            [b.num(("backward", node.name, "grad_bias", (f,)))],
            note=f"{count} terms (samples × positions): the filter is the same everywhere",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        """Σ over the windows that read the cell and the filters of w·δ."""
        row, col, ch = (int(v) for v in idx)
        g = self.geometry(consumer.config, consumer.input_shapes[0])
        filters = int(consumer.output_shape[-1])
        terms = [(r, c, i, j, f) for r, c, i, j in g.covering(row, col) for f in range(filters)]
        name = consumer.name
        chain: list[list[Part]] = [
            [
                "Σ over the windows that read it and the filters f of ",
                Sym("w", f"i,j,{ch + 1},f"),
                "·",
                Sym("δ", "r,c,f"),
                f" of {name}",
            ]
        ]
        if not terms:
            chain.append(["0 (no window reads this cell)"])
            return chain
        shown, left = shown_terms(len(terms))
        parts = []
        for t in shown:
            r, c, i, j, f = terms[t]
            w = b.num(("start", name, "kernel", (i, j, ch, f)))
            d = b.num(("backward", name, "grad_z", (sample, r, c, f)), paren=True)
            parts.append([w.operand() if w.value < 0 else w, "·", d])
        chain.append(plus(parts) + more_terms(left))
        return chain

    # ------------------------------------------------------------------ look
    def subtitle(self, config):
        try:
            kernel, strides, dilation = self._pairs(config)
        except (TypeError, ValueError):
            return ""
        text = f"{config.get('filters', '?')} @ {kernel[0]}×{kernel[1]}"
        if config.get("padding") == "same":
            text += ", same"
        if strides != (1, 1):
            text += f", stride {_pair_short(strides)}"
        if dilation != (1, 1):
            text += f", dilation {_pair_short(dilation)}"
        return text


def as_tuples(ltype: LayerType, config: dict) -> dict:
    """``config`` with its ``int_tuple`` values as tuples (``3`` -> ``(3, 3)``), for code."""
    out = dict(config)
    for p in ltype.params:
        if p.kind == "int_tuple" and out.get(p.name) is not None and p.check(out[p.name]) is None:
            out[p.name] = p.as_tuple(out[p.name])
    return out


def _pair_short(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else pair_text(pair)


LAYER = Conv2D()
