"""Reshape: lays each sample out in ``target_shape`` (row-major, as Keras), one size of which may
be −1 (inferred from the others). No weights."""

from __future__ import annotations

import numpy as np

from engine.formula import Sym, one_based, subscript, unit_index
from engine.layers.base import (
    NAME,
    Cache,
    LayerType,
    Param,
    Shape,
    ShapeProblem,
    Stroke,
    check_shape,
    format_shape,
    prod,
)


def target_text(target) -> str:
    """``target_shape`` as Keras writes the tuple: ``(8, 8, 1)``, ``(64,)``."""
    items = [str(int(d)) for d in target]
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


def reshaped(target, shape: Shape) -> Shape:
    """The output shape of ``target`` (−1 inferred) for an input ``shape``; a
    :class:`ShapeProblem` naming both sizes when they cannot hold the same values."""
    target = tuple(int(d) for d in target)
    size = prod(shape)
    if -1 in target:
        known = prod(tuple(d for d in target if d != -1))
        if size % known:
            raise ShapeProblem(
                f"target_shape {target_text(target)} cannot hold the input "
                f"{format_shape(shape)}: its {size} values do not divide into {known}-value "
                f"parts (the sizes other than -1)",
                field="target_shape",
            )
        return tuple(size // known if d == -1 else d for d in target)
    if prod(target) != size:
        raise ShapeProblem(
            f"target_shape {target_text(target)} holds {prod(target)} values but the input "
            f"{format_shape(shape)} holds {size}",
            field="target_shape",
        )
    return target


class Reshape(LayerType):
    class_name = "Reshape"
    description = "Lays each sample out in target_shape (one size may be -1: inferred)."
    params = (
        NAME,
        Param(
            "target_shape",
            "shape",
            required=True,
            doc="The output shape without the batch axis, e.g. 8, 8, 1; one size may be -1.",
        ),
    )
    order = 42
    group = "Reshaping"
    passes_values = True
    unit_by_unit = True
    affine = True
    new_config = {"target_shape": [8, 8, 1]}
    color = "#1f7a8c"
    glyph = (
        Stroke("box", ((0.14, 0.42), (0.42, 0.58)), size=0.02),
        Stroke("line", ((0.46, 0.5), (0.56, 0.5))),
        Stroke("polyline", ((0.52, 0.45), (0.56, 0.5), (0.52, 0.55))),
        *(
            Stroke("box", ((0.62 + j * 0.13, 0.3 + i * 0.14), (0.73 + j * 0.13, 0.41 + i * 0.14)))
            for i in range(3)
            for j in range(2)
        ),
    )

    def output_shape(self, config, shapes):
        return reshaped(config["target_shape"], shapes[0])

    def forward(self, node, weights, state, inputs, training):
        """(batch, *shape) -> (batch, *target_shape), the values in row-major order."""
        x = inputs[0]
        return Cache(inputs, a=x.reshape((len(x), *node.output_shape)))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """dL/dx = dL/da reshaped back to the input's shape."""
        return [grad_a.reshape(cache.inputs[0].shape)], {}, None

    def keras_layer(self, ctx, node):
        target = tuple(int(d) for d in node.config["target_shape"])
        return ctx.keras.layers.Reshape(target, name=node.name, dtype=ctx.dtype)

    def code_args(self, config, lit, initializer):
        return [lit(tuple(int(d) for d in config["target_shape"]))]

    def import_config(self, raw):
        raw = dict(raw)
        if isinstance(raw.get("target_shape"), (list, tuple)):
            raw["target_shape"] = list(raw["target_shape"])
        return raw

    def source(self, node, idx: tuple[int, ...]) -> tuple[int, ...]:
        """The input unit that output unit ``idx`` (without the batch axis) holds."""
        flat = int(np.ravel_multi_index(idx, node.output_shape))
        return unit_index(node.input_shapes[0], flat)

    def explain_forward(self, b, sec, node, sample, idx):
        """a = the input unit it came from (same place in row-major order)."""
        in_idx = self.source(node, idx)
        sec.add(
            [Sym("a", one_based(idx))],
            [Sym("x", one_based(in_idx))],
            [b.num(("forward", node.name, "inputs", (sample, *in_idx)))],
        )
        sec.remark(
            f"Reshape lays the input out as {target_text(node.output_shape)}, row by row; "
            "no arithmetic."
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """The unit's error goes back to the input unit it came from."""
        in_idx = self.source(node, idx)
        sec.add(
            [f"∂L/∂x{subscript(one_based(in_idx))}"],
            [f"∂L/∂a{subscript(one_based(idx))}"],
            [b.num(("backward", node.name, "grad_inputs", (sample, *in_idx)))],
            note="Reshape passes the error back to the unit it came from",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        return [[f"∂L/∂a of {consumer.name} at the same place in row-major order (Reshape)"]]

    def subtitle(self, config):
        target = config.get("target_shape")
        if isinstance(target, (list, tuple)) and target and check_shape(target) is None:
            return target_text(target)
        return ""


LAYER = Reshape()
