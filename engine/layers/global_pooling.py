"""Global pooling of images: GlobalAveragePooling2D (the mean of each channel over height and
width) and GlobalMaxPooling2D (its maximum). Inputs (height, width, channels), channels last as
Keras' default; outputs (channels,), or (1, 1, channels) with ``keepdims``. No weights.

GlobalMaxPooling2D's gradient is TensorFlow's for ``reduce_max``: the error of a channel goes to
the pixels that hold its maximum, split equally among them when several do (ties).
"""

from __future__ import annotations

import math

import numpy as np

from engine.explain_parts import explain_mean
from engine.formula import Sym, one_based, subscript
from engine.layers.base import (
    NAME,
    Cache,
    LayerType,
    Param,
    ShapeProblem,
    Stroke,
    format_shape,
    prod,
)

_AXES = (1, 2)  # height and width of a (batch, height, width, channels) array


def image_hint(shape) -> str:
    """What to do about an input that is not (height, width, channels): a Reshape that would
    make one, or an image input shape."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 2:
        target = [shape[0], shape[1], 1]
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        target = [side, side, 1]
    else:
        target = None
    if target is not None:
        return (
            f"add a Reshape before it (target_shape {target}) or give the model an input "
            "shape (height, width, channels)"
        )
    return "add a Reshape before it or give the model an input shape (height, width, channels)"


def image_shape(class_name: str, shape) -> tuple[int, int, int]:
    """``shape`` as (height, width, channels); a :class:`ShapeProblem` otherwise."""
    if len(shape) != 3:
        raise ShapeProblem(
            f"{class_name} needs inputs shaped (height, width, channels), got "
            f"{format_shape(shape)} (rank {len(shape)}): {image_hint(shape)}"
        )
    return tuple(int(d) for d in shape)


class _GlobalPooling2D(LayerType):
    """What both global poolings share: settings, shape rule, Keras form, look."""

    params = (
        NAME,
        Param(
            "keepdims",
            "bool",
            default=False,
            doc="Keep height and width as axes of size 1: output (1, 1, channels).",
        ),
    )
    group = "Convolution"
    image_input = True

    def output_shape(self, config, shapes):
        h, w, c = image_shape(self.class_name, shapes[0])
        return (1, 1, c) if config.get("keepdims") else (c,)

    def flops(self, config, shapes, out):
        return prod(shapes[0])

    def keras_layer(self, ctx, node):
        cls = getattr(ctx.keras.layers, self.class_name)
        return cls(keepdims=bool(node.config["keepdims"]), name=node.name, dtype=ctx.dtype)

    def import_config(self, raw):
        """Keras' default data_format (channels_last, or None: the backend's) is left out; the
        importer refuses channels_first by name."""
        out = dict(raw)
        if out.get("data_format") in (None, "channels_last"):
            out.pop("data_format", None)
        return out

    def subtitle(self, config):
        return "keepdims" if config.get("keepdims") else ""

    @staticmethod
    def _channel(idx: tuple[int, ...]) -> int:
        return int(idx[-1])

    @staticmethod
    def _pixels(node) -> tuple[int, int]:
        h, w, _ = node.input_shapes[0]
        return int(h), int(w)


class GlobalAveragePooling2D(_GlobalPooling2D):
    class_name = "GlobalAveragePooling2D"
    description = "The mean of each channel over height and width: (H, W, C) -> (C,)."
    order = 76
    color = "#7c5cbf"
    glyph = (
        *(
            Stroke("box", ((0.16 + j * 0.12, 0.3 + i * 0.14), (0.26 + j * 0.12, 0.4 + i * 0.14)))
            for i in range(3)
            for j in range(3)
        ),
        Stroke("line", ((0.56, 0.5), (0.66, 0.5))),
        Stroke("circle", ((0.78, 0.5),), size=0.09),
        Stroke("line", ((0.72, 0.56), (0.84, 0.44)), "thin"),
    )

    def forward(self, node, weights, state, inputs, training):
        """a[c] = mean over (h, w) of x[h, w, c]; inputs (batch, H, W, C)."""
        x = inputs[0]
        return Cache(inputs, a=x.mean(axis=_AXES, keepdims=bool(node.config["keepdims"])))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx[h, w, c] = dL/da[c] / (H·W): every pixel of a channel gets an equal share."""
        x = cache.inputs[0]
        g = grad_a.reshape(len(x), 1, 1, x.shape[-1])
        scale = x.dtype.type(1) / x.dtype.type(x.shape[1] * x.shape[2])
        return [np.broadcast_to(g * scale, x.shape).copy()], {}, None

    def explain_forward(self, b, sec, node, sample, idx):
        """a_c = (1/(H·W)) Σ x_{h,w,c} over the channel's pixels."""
        name, c = node.name, self._channel(idx)
        h, w = self._pixels(node)
        explain_mean(
            b,
            sec,
            name,
            sample,
            idx,
            h * w,
            lambda p: divmod(p, w),
            c,
            note=f"the mean of channel {c + 1} over its {h}×{w} pixels",
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """Each pixel of the channel receives ∂L/∂a_c / (H·W)."""
        name, c = node.name, self._channel(idx)
        h, w = self._pixels(node)
        ga = b.num(("backward", name, "grad_a", (sample, *idx)))
        sec.add(
            [f"∂L/∂x{subscript(f'h,w,{c + 1}')}"],
            [f"∂L/∂a{subscript(one_based(idx))} / {h * w}"],
            [ga.operand(), f" / {h * w}"],
            [b.num(("backward", name, "grad_inputs", (sample, 0, 0, c)))],
            note=f"the same for each of the {h}×{w} pixels of channel {c + 1}",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        c = self._channel(idx)
        h, w = self._pixels(consumer)
        out = (0, 0, c) if consumer.config["keepdims"] else (c,)
        ga = b.num(("backward", consumer.name, "grad_a", (sample, *out)))
        return [
            [f"∂L/∂a{subscript(one_based(out))} of {consumer.name} / {h * w} (the mean's share)"],
            [ga.operand(), f" / {h * w}"],
        ]


class GlobalMaxPooling2D(_GlobalPooling2D):
    class_name = "GlobalMaxPooling2D"
    description = "The maximum of each channel over height and width: (H, W, C) -> (C,)."
    order = 77
    color = "#a0522d"
    glyph = (
        *(
            Stroke(
                "box",
                ((0.16 + j * 0.12, 0.3 + i * 0.14), (0.26 + j * 0.12, 0.4 + i * 0.14)),
                "bold" if (i, j) == (1, 2) else "faint",
            )
            for i in range(3)
            for j in range(3)
        ),
        Stroke("line", ((0.56, 0.5), (0.66, 0.5))),
        Stroke("polyline", ((0.72, 0.6), (0.78, 0.38), (0.84, 0.6))),
    )

    def forward(self, node, weights, state, inputs, training):
        """a[c] = max over (h, w) of x[h, w, c]; inputs (batch, H, W, C)."""
        x = inputs[0]
        return Cache(inputs, a=x.max(axis=_AXES, keepdims=bool(node.config["keepdims"])))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx[h, w, c] = dL/da[c] / k at the k pixels holding the channel's maximum (ties
        share it equally, as TensorFlow's reduce_max gradient), 0 elsewhere."""
        x = cache.inputs[0]
        top = cache.a.reshape(len(x), 1, 1, x.shape[-1])
        hit = x == top
        # At least one (a channel of NaNs has no pixel equal to its maximum).
        count = np.maximum(hit.sum(axis=_AXES, keepdims=True), 1).astype(x.dtype)
        g = grad_a.reshape(top.shape) / count
        return [np.where(hit, g, x.dtype.type(0))], {}, None

    def _winners(self, b, node, sample: int, c: int) -> list[tuple[int, int]]:
        """The pixels (row, column) holding channel ``c``'s maximum for ``sample``."""
        x = np.asarray(b.ev("forward", node.name).data["inputs"])[sample, :, :, c]
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(x == x.max()), strict=True)]

    def explain_forward(self, b, sec, node, sample, idx):
        """a_c = max of x_{h,w,c}, and which pixel holds it."""
        name, c = node.name, self._channel(idx)
        h, w = self._pixels(node)
        (i, j), *rest = self._winners(b, node, sample, c)
        sec.add(
            [Sym("a", one_based(idx))],
            [f"max over the {h}×{w} pixels of ", Sym("x", f"h,w,{c + 1}")],
            [Sym("x", f"{i + 1},{j + 1},{c + 1}")],
            [b.num(("forward", name, "inputs", (sample, i, j, c)))],
            note=f"pixel ({i + 1}, {j + 1}) holds channel {c + 1}'s maximum"
            + (f" (as do {len(rest)} more)" if rest else ""),
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """The maximum's pixel receives ∂L/∂a_c (a share of it when pixels tie), others 0."""
        name, c = node.name, self._channel(idx)
        winners = self._winners(b, node, sample, c)
        i, j = winners[0]
        ga = b.num(("backward", name, "grad_a", (sample, *idx)))
        chain = [[f"∂L/∂a{subscript(one_based(idx))}"]]
        if len(winners) > 1:
            chain = [[f"∂L/∂a{subscript(one_based(idx))} / {len(winners)}"]]
            chain.append([ga.operand(), f" / {len(winners)}"])
        chain.append([b.num(("backward", name, "grad_inputs", (sample, i, j, c)))])
        sec.add(
            [f"∂L/∂x{subscript(f'{i + 1},{j + 1},{c + 1}')}"],
            *chain,
            note="the error goes to the maximum's pixel"
            + (f", shared by the {len(winners)} that tie" if len(winners) > 1 else "")
            + "; the other pixels of the channel receive 0",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        i, j, c = (int(v) for v in idx)
        out = (0, 0, c) if consumer.config["keepdims"] else (c,)
        winners = self._winners(b, consumer, sample, c)
        if (i, j) not in winners:
            return [[f"0 (not the maximum of channel {c + 1} in {consumer.name})"]]
        ga = b.num(("backward", consumer.name, "grad_a", (sample, *out)))
        name = f"∂L/∂a{subscript(one_based(out))} of {consumer.name}"
        if len(winners) == 1:
            return [[f"{name} (this pixel holds channel {c + 1}'s maximum)"], [ga]]
        n = len(winners)
        return [[f"{name} / {n} (the maximum, tied among {n} pixels)"], [ga.operand(), f" / {n}"]]


LAYERS = (GlobalAveragePooling2D(), GlobalMaxPooling2D())
