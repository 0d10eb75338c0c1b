"""The merge layers: Add (the sum of same-shaped inputs) and Concatenate (inputs joined along
an axis). No weights."""

from __future__ import annotations

import numpy as np

from engine.formula import Sym, one_based, plus, subscript
from engine.layers.base import (
    NAME,
    Cache,
    LayerType,
    Param,
    Shape,
    ShapeProblem,
    Stroke,
    format_shape,
    listed_shapes,
    prod,
    sample_axis,
)

_IMAGE_AXES = ("height", "width", "channels")


def shape_difference(a: Shape, b: Shape, skip: int | None = None) -> str:
    """How two sample shapes differ, in words: "channels (16 vs 8)" for images (height, width,
    channels), "axis 1 (4 vs 3)" otherwise (Keras' axis, counting the batch), "rank (3 vs 1)";
    axis ``skip`` (an index into the sample's axes) is not compared."""
    if len(a) != len(b):
        return f"rank ({len(a)} vs {len(b)})"
    parts = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y and i != skip:
            what = _IMAGE_AXES[i] if len(a) == 3 else f"axis {i + 1}"
            parts.append(f"{what} ({x} vs {y})")
    return " and ".join(parts)


def _same_shape_fix(a: Shape, b: Shape) -> str:
    """What to change so that Add gets inputs of one shape."""
    if len(a) == len(b) == 3 and a[:2] == b[:2]:
        return (
            "give both branches the same number of filters, or use Concatenate to stack "
            "their channels"
        )
    if len(a) == len(b) == 1:
        return "give both branches the same number of units, or use Concatenate"
    return "make the branches end in the same shape (a Reshape, a Flatten), or use Concatenate"


class Add(LayerType):
    class_name = "Add"
    description = "Adds several inputs of the same shape."
    order = 50
    group = "Merging"
    merge = True
    color = "#3f9a4a"
    glyph = (
        Stroke("circle", ((0.5, 0.5),), size=0.26),
        Stroke("line", ((0.5, 0.36), (0.5, 0.64))),
        Stroke("line", ((0.36, 0.5), (0.64, 0.5))),
    )

    def output_shape(self, config, shapes):
        if len(shapes) < 2:
            raise ShapeProblem(f"Add needs at least 2 inputs, got {len(shapes)}")
        for s in shapes[1:]:
            if s != shapes[0]:
                raise ShapeProblem(
                    f"Add needs inputs of the same shape: {format_shape(shapes[0])} and "
                    f"{format_shape(s)} differ in {shape_difference(shapes[0], s)}: "
                    + _same_shape_fix(shapes[0], s)
                )
        return shapes[0]

    def flops(self, config, shapes, out):
        return (len(shapes) - 1) * prod(out)

    def forward(self, node, weights, state, inputs, training):
        """a = Σ inputs, each (batch, *shape)."""
        out = inputs[0] + inputs[1]
        for extra in inputs[2:]:
            out += extra
        return Cache(inputs, a=out)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """Each input receives dL/da unchanged."""
        return [grad_a for _ in cache.inputs], {}, None

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Add(name=node.name, dtype=ctx.dtype)

    def explain_forward(self, b, sec, node, sample, idx):
        """a = the sum of the inputs' units at the same index."""
        name = node.name
        full = (sample, *idx)
        syms = [[Sym(s, one_based(idx))] for s in node.inbound]
        vals = [
            [b.num(("forward", name, f"inputs.{k}", full), paren=k > 0)]
            for k in range(len(node.inbound))
        ]
        sec.add(
            [Sym("a", one_based(idx))],
            plus(syms),
            plus(vals),
            [b.num(("forward", name, "a", full))],
        )
        sec.remark("Add sums its inputs unit by unit.")

    def explain_backward(self, b, sec, node, sample, idx):
        """Each input receives ∂L/∂a unchanged."""
        u = subscript(one_based(idx))
        for k, src in enumerate(node.inbound):
            sec.add(
                [f"∂L/∂{src}{u}"],
                [f"∂L/∂a{u}"],
                [b.num(("backward", node.name, f"grad_inputs.{k}", (sample, *idx)))],
                note=f"the error sent back to {src}",
            )
        sec.remark("Add splits the error: each input receives ∂L/∂a unchanged.")

    def explain_to_input(self, b, consumer, k, sample, idx):
        return [[f"∂L/∂a of {consumer.name} (Add copies the error to each input)"]]


class Concatenate(LayerType):
    class_name = "Concatenate"
    description = "Joins several inputs along an axis."
    params = (NAME, Param("axis", "int", default=-1))
    order = 60
    group = "Merging"
    merge = True
    color = "#5f8f3a"
    glyph = (
        Stroke("box", ((0.2, 0.2), (0.3, 0.46)), size=0.02),
        Stroke("box", ((0.2, 0.54), (0.3, 0.8)), size=0.02),
        Stroke("box", ((0.7, 0.2), (0.8, 0.8)), size=0.02),
        Stroke("line", ((0.38, 0.33), (0.6, 0.45))),
        Stroke("line", ((0.38, 0.67), (0.6, 0.55))),
    )

    def output_shape(self, config, shapes):
        if len(shapes) < 2:
            raise ShapeProblem(f"Concatenate needs at least 2 inputs, got {len(shapes)}")
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ShapeProblem(
                f"Concatenate needs inputs of the same rank, got {listed_shapes(shapes)}"
            )
        axis = int(config.get("axis", -1))
        i = sample_axis(axis, rank)
        for s in shapes[1:]:
            if s[:i] + s[i + 1 :] != shapes[0][:i] + shapes[0][i + 1 :]:
                raise ShapeProblem(
                    f"Concatenate on axis {axis} needs the other axes equal: "
                    f"{format_shape(shapes[0])} and {format_shape(s)} differ in "
                    f"{shape_difference(shapes[0], s, skip=i)}"
                )
        out = list(shapes[0])
        out[i] = sum(s[i] for s in shapes)
        return tuple(out)

    def forward(self, node, weights, state, inputs, training):
        """The inputs (batch, ...) joined along ``axis``."""
        return Cache(inputs, a=np.concatenate(inputs, axis=node.config["axis"]))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/da split back into each input's slice."""
        axis = node.config["axis"]
        sizes = np.cumsum([x.shape[axis] for x in cache.inputs])[:-1]
        return list(np.split(grad_a, sizes, axis=axis)), {}, None

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Concatenate(
            axis=node.config["axis"], name=node.name, dtype=ctx.dtype
        )

    def source(self, node, idx: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        """Which input unit ``idx`` (without the batch axis) of the output comes from: the
        input's position in ``inbound`` and the unit's index there."""
        ax = sample_axis(node.config["axis"], len(node.output_shape))
        offset = 0
        for k, shape in enumerate(node.input_shapes):
            size = shape[ax]
            if idx[ax] < offset + size:
                in_idx = list(idx)
                in_idx[ax] -= offset
                return k, tuple(in_idx)
            offset += size
        raise AssertionError("unit outside the concatenation")  # pragma: no cover

    def explain_forward(self, b, sec, node, sample, idx):
        """a = the unit of the input it comes from."""
        k, in_idx = self.source(node, idx)
        src = node.inbound[k]
        sec.add(
            [Sym("a", one_based(idx))],
            [Sym(src, one_based(in_idx))],
            [b.num(("forward", node.name, f"inputs.{k}", (sample, *in_idx)))],
        )
        sec.remark(f"Concatenate places its inputs side by side; this unit comes from '{src}'.")

    def explain_backward(self, b, sec, node, sample, idx):
        """The unit's error goes back to the input unit it came from."""
        k, in_idx = self.source(node, idx)
        src = node.inbound[k]
        sec.add(
            [f"∂L/∂{src}{subscript(one_based(in_idx))}"],
            [f"∂L/∂a{subscript(one_based(idx))}"],
            [b.num(("backward", node.name, f"grad_inputs.{k}", (sample, *in_idx)))],
            note=f"this unit's error goes back to '{src}'",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        return [[f"its slice of ∂L/∂a of {consumer.name}"]]

    def input_unit_offset(self, node, k):
        return sum(prod(s) for s in node.input_shapes[:k])

    def subtitle(self, config):
        axis = config.get("axis", -1)
        return f"axis {axis}" if axis != -1 else ""


LAYERS = (Add(), Concatenate())
