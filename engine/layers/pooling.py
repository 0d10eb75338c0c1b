"""The pooling layers over images (height, width, channels), channels last as Keras' default:
MaxPooling2D (the largest value of each window, channel by channel) and AveragePooling2D
(its mean). No weights.

Windows, strides (None: the pool size) and padding as TensorFlow computes them
(:mod:`engine.layers.windows`). ``"same"`` padding: MaxPooling2D's padding cells are −∞ (they
never win); AveragePooling2D divides by the number of real cells in each window. MaxPooling2D's
gradient goes to the first maximum of each window in row-major order, as TensorFlow's
MaxPoolGrad gives it, and adds up where windows overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.explain_parts import explain_mean, sources_text
from engine.formula import Part, Sym, more_terms, one_based, plus, shown_terms, subscript
from engine.layers.base import NAME, Cache, LayerType, Param, Stroke, prod
from engine.layers.conv2d import as_tuples
from engine.layers.windows import (
    Geometry,
    cells_text,
    checked_geometry,
    pair_text,
    scatter_max,
    spread,
    window_counts,
    window_max,
    window_sum,
    window_text,
)


@dataclass
class MaxCache(Cache):
    """A :class:`Cache` that also holds which cell won each window in a training pass (not
    traced)."""

    arg: np.ndarray | None = None


def _pool_params(pool_default, pool_required: bool) -> tuple[Param, ...]:
    return (
        NAME,
        Param(
            "pool_size",
            "int_tuple",
            default=pool_default,
            required=pool_required,
            minimum=1,
            length=2,
            doc="Height and width of the window.",
        ),
        Param(
            "strides",
            "int_tuple",
            default=None,
            nullable=True,
            minimum=1,
            length=2,
            doc="Step of the window; None: the pool size (windows side by side).",
            none_text="same as pool_size",
        ),
        Param(
            "padding",
            "choice",
            default="valid",
            choices=("valid", "same"),
            doc="valid: no padding; same: padded so that out = ceil(in / strides).",
        ),
    )


class _Pooling2D(LayerType):
    """What both poolings share: settings, shape rule, Keras form, look."""

    group = "Convolution"
    image_input = True

    def _pairs(self, config: dict) -> tuple[tuple[int, int], tuple[int, int]]:
        pool = self.param("pool_size").as_tuple(config.get("pool_size") or (2, 2))
        strides = config.get("strides")
        return pool, pool if strides is None else self.param("strides").as_tuple(strides)

    def geometry(self, config: dict, shape) -> Geometry:
        pool, strides = self._pairs(config)
        return checked_geometry(
            self.class_name,
            tuple(shape),
            pool,
            strides,
            (1, 1),
            config.get("padding", "valid"),
            "pool_size",
        )

    def output_shape(self, config, shapes):
        g = self.geometry(config, shapes[0])
        return (*g.out, int(shapes[0][-1]))

    def flops(self, config, shapes, out):
        pool, _ = self._pairs(config)
        return prod(out) * pool[0] * pool[1]

    def keras_layer(self, ctx, node):
        pool, _ = self._pairs(node.config)
        strides = node.config.get("strides")
        cls = getattr(ctx.keras.layers, self.class_name)
        return cls(
            pool_size=pool,
            strides=None if strides is None else self.param("strides").as_tuple(strides),
            padding=node.config["padding"],
            name=node.name,
            dtype=ctx.dtype,
        )

    def code_args(self, config, lit, initializer):
        """``layers.MaxPooling2D((3, 3), strides=(1, 1))``: pairs written as tuples."""
        return super().code_args(as_tuples(self, config), lit, initializer)

    def import_config(self, raw):
        """Strides equal to the pool size (what Keras' config holds for None) come back as
        None; channels-last data_format is left out (channels_first is refused by name)."""
        out = dict(raw)
        if out.get("data_format", "channels_last") in (None, "channels_last"):
            out.pop("data_format", None)
        for key in ("pool_size", "strides"):
            if isinstance(out.get(key), (tuple, list)):
                out[key] = list(out[key])
        pool, strides = out.get("pool_size"), out.get("strides")
        if strides is not None and pool is not None:
            p = self.param("pool_size")
            if p.check(pool) is None and p.check(strides) is None:
                if p.as_tuple(pool) == p.as_tuple(strides):
                    out["strides"] = None
        return out

    # ------------------------------------------------------------------ explanation
    def cells(self, node, r: int, c: int) -> tuple[Geometry, list[int], list[int], list]:
        """The geometry, the window's rows and columns, and its real cells (row, col) of
        output position (r, c), in row-major order."""
        g = self.geometry(node.config, node.input_shapes[0])
        rows, cols = g.window(r, c)
        real = [(row, col) for row in rows for col in cols if g.inside(row, col)]
        return g, rows, cols, real

    def window_remark(self, b, sec, node, g, r, c, rows, cols, real) -> None:
        padded = len(rows) * len(cols) - len(real)
        sec.remark(
            f"The window of output position ({r + 1}, {c + 1}): {window_text(g, rows, cols)} of "
            f"{sources_text(b, node)}, this channel only"
            + (f"; {cells_text(padded)} of padding left out" if padded else "")
            + "."
        )

    def subtitle(self, config):
        try:
            pool, strides = self._pairs(config)
        except (TypeError, ValueError):
            return ""
        text = f"{pool[0]}×{pool[1]}"
        if strides != pool:
            text += f", stride {strides[0] if strides[0] == strides[1] else pair_text(strides)}"
        if config.get("padding") == "same":
            text += ", same"
        return text


class MaxPooling2D(_Pooling2D):
    class_name = "MaxPooling2D"
    description = "The largest value of each window, channel by channel (downsamples an image)."
    params = _pool_params((2, 2), False)
    order = 72
    new_config = {}
    color = "#b59b12"
    glyph = (
        Stroke("box", ((0.14, 0.3), (0.3, 0.46)), size=0.02),
        Stroke("box", ((0.33, 0.3), (0.49, 0.46)), "faint", size=0.02),
        Stroke("box", ((0.14, 0.49), (0.3, 0.65)), "faint", size=0.02),
        Stroke("box", ((0.33, 0.49), (0.49, 0.65)), "faint", size=0.02),
        Stroke("line", ((0.56, 0.48), (0.68, 0.48))),
        Stroke("polyline", ((0.64, 0.43), (0.68, 0.48), (0.64, 0.53))),
        Stroke("box", ((0.74, 0.4), (0.88, 0.56)), size=0.02),
    )

    def code_args(self, config, lit, initializer):
        """``layers.MaxPooling2D()``, or ``layers.MaxPooling2D((3, 3), ...)``: a pool size
        other than Keras' default is written first, as Keras' examples do."""
        args = super().code_args(config, lit, initializer)
        pool = [a for a in args if isinstance(a, tuple) and a[0] == "pool_size"]
        return [pool[0][1], *(a for a in args if a not in pool)] if pool else args

    def forward(self, node, weights, state, inputs, training):
        """``inputs[0]`` (batch, H, W, C) -> ``a`` (batch, Ho, Wo, C): each window's max."""
        x = inputs[0]
        a, arg = window_max(x, self.geometry(node.config, x.shape[1:]))
        return MaxCache(inputs, a=a, arg=arg if training else None)

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """Each window's error goes to its (first) maximum; overlapping windows add up."""
        x = cache.inputs[0]
        g = self.geometry(node.config, x.shape[1:])
        arg = getattr(cache, "arg", None)
        if arg is None:
            _, arg = window_max(x, g)
        return [scatter_max(grad_a, arg, g)], {}, None

    def winner(self, b, node, sample, r, c, ch) -> tuple[int, int]:
        """The cell (row, col) whose value output (r, c) took: the first maximum of the
        window in row-major order, as the engine's gradient picks it."""
        _, _, _, real = self.cells(node, r, c)
        best, where = None, real[0]
        for row, col in real:
            v = float(b.value(("forward", node.name, "inputs", (sample, row, col, ch))))
            if best is None or v > best:
                best, where = v, (row, col)
        return where

    def explain_forward(self, b, sec, node, sample, idx):
        """a = max of the window's cells (this channel); which cell won."""
        name = node.name
        r, c, ch = (int(v) for v in idx)
        g, rows, cols, real = self.cells(node, r, c)
        shown, left = shown_terms(len(real))
        syms = [[Sym("x", one_based((real[t][0], real[t][1], ch)))] for t in shown]
        vals = [
            [b.num(("forward", name, "inputs", (sample, real[t][0], real[t][1], ch)))]
            for t in shown
        ]
        sec.add(
            [Sym("a", one_based(idx))],
            ["max(", *_listed(syms), *([", …"] if left else []), ")"],
            ["max(", *_listed(vals), *([f", … ({left} more)"] if left else []), ")"],
            [b.num(("forward", name, "a", (sample, *idx)))],
        )
        row, col = self.winner(b, node, sample, r, c, ch)
        sec.add(
            ["winner"],
            [Sym("x", one_based((row, col, ch)))],
            [b.num(("forward", name, "inputs", (sample, row, col, ch)))],
            note=f"row {row + 1}, column {col + 1}: the largest value of the window",
        )
        self.window_remark(b, sec, node, g, r, c, rows, cols, real)

    def explain_backward(self, b, sec, node, sample, idx):
        """The whole error goes to the window's winner; the other cells get none of it."""
        r, c, ch = (int(v) for v in idx)
        row, col = self.winner(b, node, sample, r, c, ch)
        sec.add(
            [f"to x{subscript(one_based((row, col, ch)))}"],
            [f"∂L/∂a{subscript(one_based(idx))}"],
            [b.num(("backward", node.name, "grad_a", (sample, *idx)))],
            note="the whole error goes to the window's maximum, the other cells get 0 from it",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        """Σ of ∂L/∂a over the windows whose maximum this cell is."""
        row, col, ch = (int(v) for v in idx)
        g = self.geometry(consumer.config, consumer.input_shapes[0])
        windows = sorted({(r, c) for r, c, _, _ in g.covering(row, col)})
        won = [
            (r, c) for r, c in windows if self.winner(b, consumer, sample, r, c, ch) == (row, col)
        ]
        chain: list[list[Part]] = [
            [f"Σ of ∂L/∂a over the windows of {consumer.name} whose maximum it is"]
        ]
        if not won:
            chain.append([f"0 (the maximum of none of its {len(windows)} windows)"])
            return chain
        shown, left = shown_terms(len(won))
        terms = [
            [b.num(("backward", consumer.name, "grad_a", (sample, *won[t], ch)), paren=True)]
            for t in shown
        ]
        chain.append(plus(terms) + more_terms(left))
        return chain


class AveragePooling2D(_Pooling2D):
    class_name = "AveragePooling2D"
    description = "The mean of each window, channel by channel (downsamples an image)."
    params = _pool_params(None, True)
    order = 74
    new_config = {"pool_size": [2, 2]}
    color = "#7f8c1f"
    glyph = (
        *(
            Stroke(
                "box",
                ((0.14 + j * 0.19, 0.3 + i * 0.19), (0.3 + j * 0.19, 0.46 + i * 0.19)),
                "thin",
                size=0.02,
            )
            for i in range(2)
            for j in range(2)
        ),
        Stroke("line", ((0.56, 0.48), (0.68, 0.48))),
        Stroke("polyline", ((0.64, 0.43), (0.68, 0.48), (0.64, 0.53))),
        Stroke("circle", ((0.81, 0.48),), size=0.08),
        Stroke("line", ((0.75, 0.48), (0.87, 0.48)), "thin"),
    )
    code_positional = ("pool_size",)

    def _counts(self, g: Geometry, dtype) -> np.ndarray:
        """The number of real cells in each window, shaped to divide (…, Ho, Wo, C)."""
        return window_counts(g).astype(dtype)[:, :, None]

    def forward(self, node, weights, state, inputs, training):
        """``inputs[0]`` (batch, H, W, C) -> ``a`` (batch, Ho, Wo, C): the sum of each window
        over its number of real (unpadded) cells."""
        x = inputs[0]
        g = self.geometry(node.config, x.shape[1:])
        return Cache(inputs, a=window_sum(x, g) / self._counts(g, x.dtype))

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """Each window's error shared equally by its real cells; overlaps add up."""
        x = cache.inputs[0]
        g = self.geometry(node.config, x.shape[1:])
        return [spread(grad_a / self._counts(g, grad_a.dtype), g)], {}, None

    def explain_forward(self, b, sec, node, sample, idx):
        """a = (Σ of the window's real cells) / their number."""
        name = node.name
        r, c, ch = (int(v) for v in idx)
        g, rows, cols, real = self.cells(node, r, c)
        explain_mean(
            b,
            sec,
            name,
            sample,
            idx,
            len(real),
            lambda t: real[t][:2],
            ch,
            note=f"the mean of the window's {cells_text(len(real))}",
        )
        self.window_remark(b, sec, node, g, r, c, rows, cols, real)

    def explain_backward(self, b, sec, node, sample, idx):
        """Each real cell of the window gets an equal share of the error."""
        r, c, _ = (int(v) for v in idx)
        _, _, _, real = self.cells(node, r, c)
        ga = b.num(("backward", node.name, "grad_a", (sample, *idx)))
        share = b.calc(np.float64(ga.value) / len(real))
        sec.add(
            ["to each cell of the window"],
            [f"∂L/∂a{subscript(one_based(idx))} / {len(real)}"],
            [ga.operand(), f" / {len(real)}"],
            [share],
            note=f"the error shared equally by the window's {cells_text(len(real))}",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        """Σ over the windows that hold the cell of ∂L/∂a / (their number of real cells)."""
        row, col, ch = (int(v) for v in idx)
        g = self.geometry(consumer.config, consumer.input_shapes[0])
        windows = sorted({(r, c) for r, c, _, _ in g.covering(row, col)})
        counts = window_counts(g)
        chain: list[list[Part]] = [
            [f"Σ over the windows of {consumer.name} that hold it of ∂L/∂a / (cells in it)"]
        ]
        if not windows:
            chain.append(["0 (no window holds this cell)"])
            return chain
        shown, left = shown_terms(len(windows))
        terms = []
        for t in shown:
            r, c = windows[t]
            ga = b.num(("backward", consumer.name, "grad_a", (sample, r, c, ch)), paren=True)
            terms.append([ga, f" / {int(counts[r, c])}"])
        chain.append(plus(terms) + more_terms(left))
        return chain


def _listed(terms: list[list[Part]]) -> list[Part]:
    """``t₁, t₂, …`` (the arguments of max)."""
    out: list[Part] = []
    for k, t in enumerate(terms):
        out += [", ", *t] if k else t
    return out


LAYERS = (MaxPooling2D(), AveragePooling2D())
