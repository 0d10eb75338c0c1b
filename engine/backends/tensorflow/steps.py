"""The compiled training steps: several batches per ``tf.function`` call, finiteness guarded.

:func:`make_train_fn` builds the function one call of
:meth:`~engine.backends.tensorflow.model.TensorFlowModel.train_steps` runs: a while loop over a
stacked block of batches, each doing forward, loss, gradients, a finiteness check and the
optimizer update in the graph; the per-step loss and metrics come back as one small array. A
non-finite loss or gradient skips that step's update; an update that makes a weight non-finite
is undone from an in-graph copy; either way the loop stops there and says why
(``STATUS_*``) and which variables were at fault. :func:`loss_value` and
:func:`metric_tensors` are the in-graph loss and metrics, defined as the NumPy engine defines
them. How many steps one call runs is sized by :func:`steps_for`.
"""

from __future__ import annotations

from engine.graph import Graph

__all__ = [
    "MAX_STEPS_PER_CALL",
    "STATUS_GRAD",
    "STATUS_LOSS",
    "STATUS_OK",
    "STATUS_WEIGHTS",
    "TARGET_CALL_SECONDS",
    "initial_steps_per_call",
    "loss_value",
    "make_train_fn",
    "metric_tensors",
    "penalty",
    "steps_for",
]

# Why a compiled call stopped: it ran every step, or a step's loss, gradient or updated weights
# were not finite.
STATUS_OK, STATUS_LOSS, STATUS_GRAD, STATUS_WEIGHTS = 0, 1, 2, 3
MAX_STEPS_PER_CALL = 32
# Target wall time of one compiled call: short enough that pause/stop answer quickly.
TARGET_CALL_SECONDS = 0.05


def steps_for(steps: float) -> int:
    """A power of two in 1..32 (few distinct block shapes, so few traces)."""
    want = max(1, min(MAX_STEPS_PER_CALL, int(steps)))
    return 1 << (want.bit_length() - 1)


def initial_steps_per_call(graph: Graph) -> int:
    """A first guess of :attr:`TensorFlowModel.steps_per_call` from the network's FLOPs: a
    training step costs about 3 forward passes; assume a batch of 32 at 10 GFLOP/s."""
    return steps_for(TARGET_CALL_SECONDS * 1e10 / max(1, 3 * 32 * graph.total_flops))


def loss_value(tf, loss_obj, fused_loss: bool, dtype_name: str, y, out):
    """The batch loss as the NumPy engine defines it.

    Keras' TensorFlow backend computes a crossentropy from the logits stored on any
    softmax or sigmoid output (``_keras_logits``), whichever activation made it: a
    sigmoid output with categorical crossentropy is scored as if it were a softmax. The
    NumPy engine does the same (:data:`engine.losses.FUSED`), so Keras' loss gets the
    output as it is on those pairs; every other output reaches it through ``tf.identity``,
    which drops any stored logits, so that no Keras path the NumPy engine does not take
    (an output whose op is a Softmax, say) can score it differently.
    """
    if not fused_loss:
        out = tf.identity(out)
    return tf.cast(loss_obj(y, out), tf.as_dtype(dtype_name))


def penalty(tf, keras_model, dtype_name: str):
    """The regularizers' part of the loss of the model's last call (Keras' ``model.losses``:
    the weights' penalties and the activity penalties of that call), or None without any."""
    losses = keras_model.losses
    if not losses:
        return None
    dtype = tf.as_dtype(dtype_name)
    return tf.add_n([tf.cast(v, dtype) for v in losses])


def metric_tensors(tf, metrics: list[str], y, out) -> list:
    """Each metric on a batch, in the graph, resolved like NumpyModel.metric_values."""
    vals = []
    width = out.shape[-1]
    for m in metrics:
        if m == "accuracy":
            if width == 1:
                yt = tf.reshape(tf.cast(y, out.dtype), tf.shape(out))
                hit = tf.equal(tf.cast(out > 0.5, out.dtype), yt)
            elif y.shape.rank < out.shape.rank or (y.shape[-1] == 1 and width > 1):
                yt = y if y.shape.rank < out.shape.rank else y[..., 0]
                hit = tf.equal(tf.argmax(out, axis=-1), tf.cast(yt, tf.int64))
            else:
                hit = tf.equal(tf.argmax(out, axis=-1), tf.argmax(y, axis=-1))
            vals.append(tf.reduce_mean(tf.cast(hit, out.dtype)))
        else:
            yt = tf.cast(y, out.dtype)
            if yt.shape.rank == out.shape.rank - 1:
                yt = yt[..., None]
            diff = yt - out
            per = diff * diff if m == "mean_squared_error" else tf.abs(diff)
            vals.append(tf.reduce_mean(tf.reduce_mean(per, axis=-1)))
    return vals


def make_train_fn(
    tf,
    keras_model,
    variables: list,
    backups: list,
    n_metrics: int,
    dtype_name: str,
    loss_fn,
    metrics_fn,
    apply_update,
    x_spec,
    y_spec,
    states: list | None = None,
    state_backups: list | None = None,
    penalized: bool = False,
):
    """The compiled ``run(xs, ys) -> (steps done, status, bad flags, losses, metrics)``.

    Parameters
    ----------
    tf : module
    keras_model : keras.Model
    variables : list of keras.Variable
        The trainable variables, in the order of the gradients.
    backups : list of tf.Variable
        One per variable, shaped like it: the last finite weights, to undo an update with.
    n_metrics : int
    dtype_name : {"float32", "float64"}
    loss_fn, metrics_fn : callable
        ``(y, out)`` -> the batch loss, the list of metric tensors.
    apply_update : callable
        ``(grads) -> None``: one optimizer step.
    x_spec, y_spec : tf.TensorSpec
        Of the stacked blocks: ``xs`` (k, batch, *input_shape), ``ys`` (k, batch, ...).
    states, state_backups : list, optional
        The non-trainable variables (moving statistics, which the training-mode forward pass
        updates) and one backup each: a step that is refused (a non-finite loss, gradient or
        weight) leaves them as they were, as the NumPy engine does.

    penalized : bool
        The model has regularizers: their penalty (:func:`penalty`) joins each step's loss,
        and is reported after the metrics, as one more column.

    Returns
    -------
    tf.function
        Its outputs: the number of steps run, a ``STATUS_*``, the per-variable flags of what
        was not finite (gradients or weights), the losses (k,) and metrics (k, n_metrics, plus
        one column for the penalty when ``penalized``).
    """
    model = keras_model
    states, state_backups = list(states or []), list(state_backups or [])
    n_vars = len(variables)
    dtype = tf.as_dtype(dtype_name)
    n_columns = n_metrics + (1 if penalized else 0)
    no_flags = tf.zeros([n_vars], tf.bool)

    def quick_finite(loss, tensors):
        # One reduction per tensor: NaN/inf propagate into the sum. A huge but finite sum
        # can overflow too; that rare false alarm is settled by the exact check.
        if not tensors:
            return tf.math.is_finite(loss)
        return tf.math.is_finite(
            loss + tf.cast(tf.add_n([tf.reduce_sum(t) for t in tensors]), loss.dtype) * 0
        )

    def finite_flags(tensors):
        if not tensors:
            return no_flags
        return tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])

    def restore_states():
        for b, v in zip(state_backups, states, strict=True):
            v.assign(b)

    def guarded_update(grads):
        for b, v in zip(backups, variables, strict=True):
            b.assign(v)
        apply_update(grads)

        def exact():
            flags = finite_flags(variables)

            def restore():
                for b, v in zip(backups, variables, strict=True):
                    v.assign(b)
                restore_states()
                return tf.constant(STATUS_WEIGHTS)

            st = tf.cond(tf.reduce_all(flags), lambda: tf.constant(STATUS_OK), restore)
            return st, tf.logical_not(flags)

        zero = tf.zeros([], dtype)
        return tf.cond(
            quick_finite(zero, variables),
            lambda: (tf.constant(STATUS_OK), no_flags),
            exact,
        )

    def run(xs, ys):
        k = tf.shape(xs)[0]
        losses = tf.TensorArray(dtype, size=k, element_shape=[])
        metrics = tf.TensorArray(dtype, size=k, element_shape=[n_columns])

        def cond(i, status, bad, losses, metrics):
            return tf.logical_and(i < k, tf.equal(status, STATUS_OK))

        def body(i, status, bad, losses, metrics):
            x, y = xs[i], ys[i]
            for b, v in zip(state_backups, states, strict=True):
                b.assign(v)
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                loss = loss_fn(y, out)
                if penalized:
                    reg = penalty(tf, model, dtype_name)
                    loss = loss + reg
            grads = tape.gradient(loss, variables)
            mets = metrics_fn(y, out)
            if penalized:
                mets = [*mets, reg]

            def exact_check():
                flags = finite_flags(grads)
                ok = tf.logical_and(tf.math.is_finite(loss), tf.reduce_all(flags))
                return ok

            ok = tf.cond(quick_finite(loss, grads), lambda: tf.constant(True), exact_check)

            def skip():
                restore_states()
                st = tf.where(tf.math.is_finite(loss), STATUS_GRAD, STATUS_LOSS)
                return st, tf.logical_not(finite_flags(grads))

            status, bad = tf.cond(ok, lambda: guarded_update(grads), skip)
            losses = losses.write(i, loss)
            metrics = metrics.write(i, tf.stack(mets) if mets else tf.zeros([0], dtype))
            return i + 1, status, bad, losses, metrics

        i, status, bad, losses, metrics = tf.while_loop(
            cond,
            body,
            (tf.constant(0), tf.constant(STATUS_OK), no_flags, losses, metrics),
            parallel_iterations=1,
        )
        return i, status, bad, losses.stack(), metrics.stack()

    # XLA (jit_compile) was measured slower on CPU for these small dense nets.
    return tf.function(run, input_signature=[x_spec, y_spec])
