"""TensorFlow's fused training kernels applying Keras' optimizer updates, and Keras' clipping.

:func:`fused_update` returns the update one compiled training step applies: one
``tf.raw_ops.ResourceApply*`` kernel per weight, on the Keras optimizer's own slot variables,
after :func:`clip_fn` (Keras' gradient clipping with constants in the model's dtype).
"""

from __future__ import annotations

from typing import Any

__all__ = ["clip_fn", "fused_update"]


def _kernel(plain, variant, slot: str, slots: list | None):
    """The raw training kernel an update calls as ``kernel(i, **args)`` for variable ``i``:
    ``plain(**args)`` without the optional slot list (AMSGrad's ``vhat``, centered RMSprop's
    ``mg``), ``variant(slot=slots[i].handle, **args)`` with it."""
    if slots is None:
        return lambda i, **args: plain(**args)
    return lambda i, **args: variant(**{slot: slots[i].handle}, **args)


def fused_update(
    tf, optimizer, optimizer_class: str, config: dict, variables: list, dtype_name: str
) -> tuple[Any, list]:
    """A function ``(grads) -> None`` applying Keras' update with TensorFlow's fused
    training kernels, or None where no kernel computes Keras' formula.

    One kernel per weight replaces a dozen element-wise ops: for the seed MLP a training
    step takes half the time. The kernels exist for SGD (momentum, Nesterov), Adam
    (AMSGrad) and RMSprop (centered, momentum); they update the Keras optimizer's own slot
    variables and step counter, so both paths see one optimizer state. Gradient clipping
    runs before them (:func:`clip_fn`, Keras' rules), then the weight decay (``w -= w·wd·lr``,
    AdamW's). Adagrad runs Keras' ``optimizer.apply``: TensorFlow's kernel adds epsilon outside
    the square root, Keras inside; so do the optimizers without a kernel of Keras' formula
    (Adadelta, Adamax, Nadam, Lion, Ftrl).

    Rounding: the kernels form ``1 - beta_1``, ``1 - beta_2`` and ``1 - rho`` in the
    weights' dtype, where Keras forms them in Python (float64) first. In float64 nothing
    changes; in float32, ``1 - 0.999`` becomes 0.99998713e-3 instead of 1e-3, which makes
    an Adam step up to 6.4e-6 larger, relatively (the parity tolerance is 1e-5). Keras'
    own path has the opposite float32 habit in float64 models: ``ops.cast`` of a Python
    float goes through float32, so Keras' Adam raises 0.9f, not 0.9, to the step count;
    the kernels here get exact float64 constants.

    Parameters
    ----------
    tf : module
    optimizer : keras.optimizers.Optimizer
        Built on ``variables``.
    optimizer_class : str
        Its class name (``"SGD"``, ``"Adam"``...).
    config : dict
        Its resolved config.
    variables : list of keras.Variable
        The trainable variables, in the order the gradients come.
    dtype_name : {"float32", "float64"}

    Returns
    -------
    (callable or None, list)
        ``apply(grads)``, and variables it keeps besides the optimizer's (reset them to zeros
        with the optimizer's state).
    """
    opt = optimizer
    cfg = config
    dtype = tf.as_dtype(dtype_name)
    raw = tf.raw_ops
    extra: list = []
    try:
        if optimizer_class == "SGD" and cfg["momentum"] == 0:

            def update(grads, lr):
                for v, g in zip(variables, grads, strict=True):
                    raw.ResourceApplyGradientDescent(var=v.handle, alpha=lr, delta=g)

        elif optimizer_class == "SGD":
            slots = list(opt.momentums)
            momentum = tf.constant(cfg["momentum"], dtype)

            def update(grads, lr):
                for v, m, g in zip(variables, slots, grads, strict=True):
                    raw.ResourceApplyKerasMomentum(
                        var=v.handle,
                        accum=m.handle,
                        lr=lr,
                        grad=g,
                        momentum=momentum,
                        use_nesterov=bool(cfg["nesterov"]),
                    )

        elif optimizer_class in ("Adam", "AdamW"):
            ms, vs = list(opt._momentums), list(opt._velocities)
            hats = list(opt._velocity_hats) if cfg["amsgrad"] else None
            beta_1 = tf.constant(cfg["beta_1"], dtype)
            beta_2 = tf.constant(cfg["beta_2"], dtype)
            eps = tf.constant(cfg["epsilon"], dtype)

            adam = _kernel(raw.ResourceApplyAdam, raw.ResourceApplyAdamWithAmsgrad, "vhat", hats)

            def update(grads, lr):
                t = tf.cast(opt.iterations + 1, dtype)
                b1p, b2p = tf.pow(beta_1, t), tf.pow(beta_2, t)
                for i, (v, g) in enumerate(zip(variables, grads, strict=True)):
                    adam(
                        i,
                        var=v.handle,
                        m=ms[i].handle,
                        v=vs[i].handle,
                        beta1_power=b1p,
                        beta2_power=b2p,
                        lr=lr,
                        beta1=beta_1,
                        beta2=beta_2,
                        epsilon=eps,
                        grad=g,
                    )

        elif optimizer_class == "RMSprop":
            velocities = list(opt._velocities)
            if cfg["momentum"] > 0:
                moms = list(opt._momentums)
            else:
                # The kernels always keep a momentum slot; with momentum 0 it holds the
                # last increment, which 0 * slot + increment discards again.
                extra = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
                moms = extra
            avgs = list(opt._average_gradients) if cfg["centered"] else None
            rho = tf.constant(cfg["rho"], dtype)
            momentum = tf.constant(cfg["momentum"], dtype)
            eps = tf.constant(cfg["epsilon"], dtype)

            rmsprop = _kernel(
                raw.ResourceApplyRMSProp, raw.ResourceApplyCenteredRMSProp, "mg", avgs
            )

            def update(grads, lr):
                for i, (v, g) in enumerate(zip(variables, grads, strict=True)):
                    rmsprop(
                        i,
                        var=v.handle,
                        ms=velocities[i].handle,
                        mom=moms[i].handle,
                        lr=lr,
                        rho=rho,
                        momentum=momentum,
                        epsilon=eps,
                        grad=g,
                    )

        else:
            return None, []
    except AttributeError:  # a Keras version that names its slots differently
        return None, []

    clip = clip_fn(tf, cfg, dtype_name)
    decay = tf.constant(cfg["weight_decay"], dtype) if cfg.get("weight_decay") else None

    def apply(grads):
        lr = tf.cast(opt.learning_rate, dtype)
        grads = clip([tf.cast(g, dtype) for g in grads])
        if decay is not None:
            # Keras' _apply_weight_decay, between the clipping and the update.
            for v in variables:
                v.assign_sub(v * decay * lr)
        update(grads, lr)
        opt.iterations.assign_add(1)

    return apply, extra


def clip_fn(tf, config: dict, dtype_name: str):
    """Keras' ``_clip_gradients`` (clipnorm, global_clipnorm, clipvalue) with its constants in
    the model's dtype (Keras would round them through float32 in a float64 model): a function
    ``(grads) -> grads``."""
    cfg = config
    dtype = tf.as_dtype(dtype_name)
    if cfg.get("clipnorm"):
        c = tf.constant(cfg["clipnorm"], dtype)

        def clip_each(grads):
            out = []
            for g in grads:
                l2sum = tf.reduce_sum(tf.square(g))
                pred = l2sum > 0
                l2norm = tf.where(pred, tf.sqrt(tf.where(pred, l2sum, tf.ones_like(l2sum))), l2sum)
                out.append(g * c / tf.maximum(l2norm, c))
            return out

        return clip_each
    if cfg.get("global_clipnorm"):
        c = tf.constant(cfg["global_clipnorm"], dtype)
        one = tf.constant(1, dtype)

        def clip_global(grads):
            if not grads:
                return grads
            norm = tf.sqrt(tf.reduce_sum(tf.stack([tf.reduce_sum(tf.square(g)) for g in grads])))
            # (norm - norm) makes the scale NaN when the norm is not finite, as in Keras.
            scale = c * tf.minimum(one / norm, one / c) + (norm - norm)
            return [g * scale for g in grads]

        return clip_global
    if cfg.get("clipvalue"):
        v = tf.constant(cfg["clipvalue"], dtype)
        return lambda grads: [tf.clip_by_value(g, -v, v) for g in grads]
    return lambda grads: grads
