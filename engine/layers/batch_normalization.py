"""BatchNormalization: each feature standardised by the batch's statistics in training (by the
moving ones at inference), then scaled and shifted, as Keras 3 computes it.

Weights (Keras' order): ``gamma`` (scale), ``beta`` (center), and the non-trainable
``moving_mean`` and ``moving_variance``, each of shape (features on ``axis``,). In training the
statistics are the batch's over every other axis (the variance the biased one, as
``tf.nn.moments``); after the optimizer's update the moving ones become
``moving · momentum + batch · (1 − momentum)`` (:meth:`state_updates`). The output is TensorFlow's
``batch_normalization``: ``inv = gamma / sqrt(variance + epsilon)``,
``a = x · inv + (beta − mean · inv)``.
"""

from __future__ import annotations

import numpy as np

from engine.formula import Sym, fmt_param, one_based, subscript
from engine.layers.base import (
    NAME,
    Cache,
    LayerType,
    Param,
    Stroke,
    Weight,
    prod,
    sample_axis,
    weight_rules,
)

# Keras settings NN Designer does not model; accepted when they hold Keras' "off" value.
_OFF = {"synchronized": False, "renorm": False, "renorm_clipping": None}


class BatchNormalization(LayerType):
    class_name = "BatchNormalization"
    description = (
        "Normalizes each feature by the batch's mean and variance, then scales and shifts."
    )
    params = (
        NAME,
        Param("axis", "int", default=-1, doc="The feature axis (counting the batch axis)."),
        Param("momentum", "float", default=0.99, minimum=0.0, maximum=1.0),
        Param("epsilon", "float", default=1e-3, minimum=0.0),
        Param("center", "bool", default=True, doc="Learn an offset beta."),
        Param("scale", "bool", default=True, doc="Learn a scale gamma."),
        Param("beta_initializer", "initializer", default="zeros"),
        Param("gamma_initializer", "initializer", default="ones"),
        Param("moving_mean_initializer", "initializer", default="zeros"),
        Param("moving_variance_initializer", "initializer", default="ones"),
        *weight_rules("beta", "gamma"),
    )
    order = 45
    group = "Normalization"
    unit_by_unit = True
    affine = True
    normalizes = True
    color = "#8a5a2b"
    glyph = (
        Stroke("line", ((0.15, 0.74), (0.85, 0.74)), "faint"),
        Stroke("curve", ((0.2, 0.72), (0.42, 0.7), (0.4, 0.24), (0.5, 0.24))),
        Stroke("curve", ((0.5, 0.24), (0.6, 0.24), (0.58, 0.7), (0.8, 0.72))),
        Stroke("line", ((0.5, 0.2), (0.5, 0.8)), "thin"),
    )

    # ------------------------------------------------------------------ spec
    @staticmethod
    def _axis(config: dict, rank: int) -> int:
        """The feature axis among a sample's axes (0-based, without the batch axis)."""
        return sample_axis(int(config.get("axis", -1)), rank)

    def output_shape(self, config, shapes):
        self._axis(config, len(shapes[0]))
        return shapes[0]

    def flops(self, config, shapes, out):
        return 2 * prod(out)  # one multiply-add per element once the statistics are known

    def weights(self, config, shapes):
        size = None
        if shapes is not None:
            size = (shapes[0][self._axis(config, len(shapes[0]))],)
        out = []
        if config.get("scale", True):
            out.append(Weight("gamma", size, "gamma_initializer"))
        if config.get("center", True):
            out.append(Weight("beta", size, "beta_initializer"))
        out.append(Weight("moving_mean", size, "moving_mean_initializer", trainable=False))
        out.append(Weight("moving_variance", size, "moving_variance_initializer", trainable=False))
        return tuple(out)

    # ------------------------------------------------------------------ NumPy math
    def _layout(self, node, x: np.ndarray) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
        """(feature axis of the batch array, the axes reduced over, the broadcast shape)."""
        ax = self._axis(node.config, x.ndim - 1) + 1
        reduce = tuple(i for i in range(x.ndim) if i != ax)
        shape = [1] * x.ndim
        shape[ax] = x.shape[ax]
        return ax, reduce, tuple(shape)

    def forward(self, node, weights, state, inputs, training):
        """``inputs[0]`` (batch, ...) -> ``a`` of the same shape; the trace also holds ``mean``
        and ``variance`` (features,), the statistics used (the batch's in training)."""
        x = inputs[0]
        _, reduce, shape = self._layout(node, x)
        eps = x.dtype.type(node.config["epsilon"])
        if training:
            mean = x.mean(axis=reduce)
            variance = np.square(x - mean.reshape(shape)).mean(axis=reduce)
        else:
            mean, variance = weights["moving_mean"], weights["moving_variance"]
        rstd = 1 / np.sqrt(variance + eps)
        inv = rstd * weights["gamma"] if "gamma" in weights else rstd
        offset = weights["beta"] - mean * inv if "beta" in weights else -mean * inv
        a = x * inv.reshape(shape) + offset.reshape(shape)
        return Cache(inputs, a=a, extra={"mean": mean, "variance": variance})

    def backward(self, node, weights, state, cache, grad_a, grad_z, need_input_grad):
        """With x̂ = (x − mean)·rstd over the N values of a feature: dL/dgamma = Σ g·x̂,
        dL/dbeta = Σ g; in training (batch statistics) dL/dx = gamma·rstd/N ·
        (N·g − Σ g − x̂·Σ g·x̂), at inference dL/dx = gamma·rstd·g."""
        x = cache.inputs[0]
        ax, reduce, shape = self._layout(node, x)
        eps = x.dtype.type(node.config["epsilon"])
        mean, variance = cache.extra["mean"], cache.extra["variance"]
        rstd = (1 / np.sqrt(variance + eps)).reshape(shape)
        xhat = (x - mean.reshape(shape)) * rstd
        sum_g = grad_a.sum(axis=reduce)
        sum_gx = (grad_a * xhat).sum(axis=reduce)
        wgrads = {}
        if "gamma" in weights:
            wgrads["gamma"] = sum_gx
        if "beta" in weights:
            wgrads["beta"] = sum_g
        gin = None
        if need_input_grad:
            scale = rstd * weights["gamma"].reshape(shape) if "gamma" in weights else rstd
            if self._batch_statistics(cache, weights):
                n = x.dtype.type(x.size // x.shape[ax])
                gin = scale / n * (n * grad_a - sum_g.reshape(shape) - xhat * sum_gx.reshape(shape))
            else:
                gin = scale * grad_a
        return [gin], wgrads, None

    @staticmethod
    def _batch_statistics(cache: Cache, weights: dict) -> bool:
        """Whether the forward pass used the batch's statistics (training) or the moving ones."""
        return cache.extra["mean"] is not weights["moving_mean"]

    def state_updates(self, node, weights, state, cache):
        """moving = moving · momentum + batch statistic · (1 − momentum), as Keras assigns."""
        if not self._batch_statistics(cache, weights):
            return {}
        dt = weights["moving_mean"].dtype.type
        m = node.config["momentum"]
        keep, take = dt(m), dt(1.0 - m)
        return {
            "moving_mean": weights["moving_mean"] * keep + cache.extra["mean"] * take,
            "moving_variance": weights["moving_variance"] * keep + cache.extra["variance"] * take,
        }

    # ------------------------------------------------------------------ Keras
    def keras_layer(self, ctx, node):
        keras, cfg = ctx.keras, node.config
        init = keras.initializers.get
        return keras.layers.BatchNormalization(
            axis=cfg["axis"],
            momentum=cfg["momentum"],
            epsilon=cfg["epsilon"],
            center=cfg["center"],
            scale=cfg["scale"],
            beta_initializer=init(cfg["beta_initializer"]),
            gamma_initializer=init(cfg["gamma_initializer"]),
            moving_mean_initializer=init(cfg["moving_mean_initializer"]),
            moving_variance_initializer=init(cfg["moving_variance_initializer"]),
            **ctx.rule_kwargs(self, cfg),
            name=node.name,
            dtype=ctx.dtype,
        )

    def import_config(self, raw):
        """Keras' settings that are off (no synchronisation across devices, no renorm) are
        left out; set, the importer refuses them by name."""
        out = {k: v for k, v in raw.items() if not (k in _OFF and v == _OFF[k])}
        if not raw.get("renorm"):
            out.pop("renorm_momentum", None)
        return out

    # ------------------------------------------------------------------ explanation
    def _feature(self, node, idx: tuple[int, ...]) -> int:
        return idx[self._axis(node.config, len(node.output_shape))]

    def explain_forward(self, b, sec, node, sample, idx):
        """a = γ·(x − μ)/√(σ² + ε) + β with the statistics this pass used."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        c = self._feature(node, idx)
        ws = b.s.weights_before[name]
        x = b.num(("forward", name, "inputs", full), paren=True)
        mu = b.num(("forward", name, "mean", (c,)), paren=True)
        var = b.num(("forward", name, "variance", (c,)))
        eps = fmt_param(node.config["epsilon"])
        sym = ["(", Sym("x", u), " − μ) / √(σ² + ε)"]
        nums = ["(", x, " − ", mu, ") / √(", var, f" + {eps})"]
        if "gamma" in ws:
            sym = [Sym("γ", str(c + 1)), "·", *sym]
            nums = [b.num(("start", name, "gamma", (c,)), paren=True), "·", *nums]
        if "beta" in ws:
            sym += [" + ", Sym("β", str(c + 1))]
            nums += [" + ", b.num(("start", name, "beta", (c,)), paren=True)]
        sec.add([Sym("a", u)], sym, nums, [b.num(("forward", name, "a", full))])
        sec.remark(
            f"μ, σ² = this batch's mean and variance of feature {c + 1} (over the batch"
            f"{' and the other axes' if len(node.output_shape) > 1 else ''}); ε = {eps}."
        )

    def explain_backward(self, b, sec, node, sample, idx):
        """∂L/∂x through the batch statistics: every sample of the feature takes part."""
        name, full, u = node.name, (sample, *idx), one_based(idx)
        c = self._feature(node, idx)
        ga = b.num(("backward", name, "grad_a", full))
        sec.add(
            [f"∂L/∂x{subscript(u)}"],
            [f"γ/√(σ² + ε) · (∂L/∂a{subscript(u)} − mean(∂L/∂a) − x̂{subscript(u)}·mean(∂L/∂a·x̂))"],
            [ga.operand(), " and the batch's errors of feature ", str(c + 1)],
            [b.num(("backward", name, "grad_inputs", full))],
            note="the mean and variance depend on every sample, so every error reaches x",
        )

    def explain_to_input(self, b, consumer, k, sample, idx):
        return [[f"∂L/∂x of {consumer.name} (through the batch statistics)"]]


LAYER = BatchNormalization()
