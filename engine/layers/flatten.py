"""Flatten: lays each sample out as one axis (row-major, as Keras). No weights."""

from __future__ import annotations

import numpy as np

from engine.formula import Sym, one_based, subscript, unit_index
from engine.layers.base import Cache, LayerType, Stroke, prod

# The grid cells of the old painter, 0.085 of the icon side, in units of the tile (0.92 of it).
_CELL = 0.085 / 0.92


class Flatten(LayerType):
    class_name = "Flatten"
    description = "Flattens each sample to one axis."
    order = 40
    group = "Reshaping"
    passes_values = True
    unit_by_unit = True
    flattens = True
    affine = True
    color = "#2a9d8f"
    glyph = (
        *(
            Stroke(
                "box",
                (
                    (0.2 + j * 0.11, 0.3 + i * 0.14),
                    (0.2 + j * 0.11 + _CELL, 0.3 + i * 0.14 + _CELL),
                ),
            )
            for i in range(3)
            for j in range(3)
        ),
        Stroke("line", ((0.58, 0.5), (0.62, 0.5))),
        Stroke("box", ((0.68, 0.22), (0.8, 0.78)), size=0.03),
    )

    def output_shape(self, config, shapes):
        return (prod(shapes[0]),)

    def forward(self, node, weights, state, inputs, training):
        """(batch, *shape) -> (batch, prod(shape))."""
        x = inputs[0]
        return Cache(inputs, a=x.reshape(len(x), -1))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = dL/da reshaped to the input's shape."""
        return [grad_a.reshape(cache.inputs[0].shape)], {}, None

    def keras_layer(self, ctx, node):
        return ctx.keras.layers.Flatten(name=node.name, dtype=ctx.dtype)

    @staticmethod
    def _source(node, idx: tuple[int, ...]) -> tuple[int, ...]:
        """The input unit (an image's row, column, channel) that output unit ``idx`` holds."""
        return unit_index(node.input_shapes[0], int(np.ravel_multi_index(idx, node.output_shape)))

    def explain_forward(self, b, sec, node, sample, idx):
        """a = the input unit it came from."""
        in_idx = self._source(node, idx)
        sec.add(
            [Sym("a", one_based(idx))],
            [Sym("x", one_based(in_idx))],
            [b.num(("forward", node.name, "a", (sample, *idx)))],
        )
        sec.remark("Flatten lays the input out as one vector; no arithmetic.")

    def explain_backward(self, b, sec, node, sample, idx):
        """The unit's error goes back to the input unit it came from."""
        in_idx = self._source(node, idx)
        sec.add(
            [f"∂L/∂x{subscript(one_based(in_idx))}"],
            [f"∂L/∂a{subscript(one_based(idx))}"],
            [b.num(("backward", node.name, "grad_inputs", (sample, *in_idx)))],
            note="the error goes back to the unit it came from",
        )
        sec.remark("Flatten passes the error back reshaped; no arithmetic.")

    def explain_to_input(self, b, consumer, k, sample, idx):
        return [[f"∂L/∂a of {consumer.name} at the same place in row-major order (Flatten)"]]


LAYER = Flatten()
