"""The compiled training steps: several batches per ``tf.function`` call, finiteness guarded.

:func:`make_train_fn` builds the function one call of
:meth:`~engine.backends.tensorflow.model.TensorFlowModel.train_steps` runs: a while loop over a
stacked block of batches, each doing forward, loss, gradients, a finiteness check and the
optimizer update in the graph; the per-step losses (and the outputs the metrics are computed
from, on the host) come back as arrays. A
non-finite loss or gradient skips that step's update; an update that makes a weight non-finite
is undone from an in-graph copy; either way the loop stops there and says why
(``STATUS_*``) and which variables were at fault. :func:`loss_value` is the in-graph loss,
defined as the NumPy engine defines it. How many steps one call runs is sized by :func:`steps_for`.
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


def loss_value(tf, loss_obj, fused_loss: bool, dtype_name: str, y, out, sample_weight=None):
    """The batch loss as the NumPy engine defines it (each sample's weighted by
    ``sample_weight`` when given, Keras' own weighting).

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
    if sample_weight is None:
        return tf.cast(loss_obj(y, out), tf.as_dtype(dtype_name))
    return tf.cast(loss_obj(y, out, sample_weight=sample_weight), tf.as_dtype(dtype_name))


def penalty(tf, keras_model, dtype_name: str):
    """The regularizers' part of the loss of the model's last call (Keras' ``model.losses``:
    the weights' penalties and the activity penalties of that call), or None without any."""
    losses = keras_model.losses
    if not losses:
        return None
    dtype = tf.as_dtype(dtype_name)
    return tf.add_n([tf.cast(v, dtype) for v in losses])


def make_train_fn(
    tf,
    keras_model,
    variables: list,
    backups: list,
    want_outputs: bool,
    dtype_name: str,
    loss_fn,
    apply_update,
    x_spec,
    y_spec,
    states: list | None = None,
    state_backups: list | None = None,
    penalized: bool = False,
    w_spec=None,
):
    """The compiled ``run(xs, ys) -> (steps done, status, bad flags, losses, penalties,
    outputs)``.

    Parameters
    ----------
    tf : module
    keras_model : keras.Model
    variables : list of keras.Variable
        The trainable variables, in the order of the gradients.
    backups : list of tf.Variable
        One per variable, shaped like it: the last finite weights, to undo an update with.
    want_outputs : bool
        Return each step's output (the training-mode forward pass, before its update): the
        metrics are computed from it on the host (:mod:`engine.metric_state`).
    dtype_name : {"float32", "float64"}
    loss_fn : callable
        ``(y, out, sample_weight)`` -> the batch loss (``sample_weight`` None or a batch's).
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
        and is reported per step.
    w_spec : tf.TensorSpec, optional
        Of a block of sample weights (k, batch): the function then takes ``(xs, ys, ws)`` and
        weights each sample's loss.

    Returns
    -------
    tf.function
        Its outputs: the number of steps run, a ``STATUS_*``, the per-variable flags of what
        was not finite (gradients or weights), the losses (k,), the penalties (k, 1 when
        ``penalized`` else 0) and the outputs (k, batch, *output_shape when ``want_outputs``,
        else k, 0).
    """
    model = keras_model
    states, state_backups = list(states or []), list(state_backups or [])
    n_vars = len(variables)
    dtype = tf.as_dtype(dtype_name)
    n_columns = 1 if penalized else 0
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

    def run(xs, ys, ws=None):
        k = tf.shape(xs)[0]
        losses = tf.TensorArray(dtype, size=k, element_shape=[])
        regs = tf.TensorArray(dtype, size=k, element_shape=[n_columns])
        outs = tf.TensorArray(dtype, size=k, infer_shape=False)

        def cond(i, status, bad, losses, regs, outs):
            return tf.logical_and(i < k, tf.equal(status, STATUS_OK))

        def body(i, status, bad, losses, regs, outs):
            x, y = xs[i], ys[i]
            w = None if ws is None else ws[i]
            for b, v in zip(state_backups, states, strict=True):
                b.assign(v)
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                loss = loss_fn(y, out, w)
                if penalized:
                    reg = penalty(tf, model, dtype_name)
                    loss = loss + reg
            grads = tape.gradient(loss, variables)

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
            regs = regs.write(i, tf.reshape(reg, [1]) if penalized else tf.zeros([0], dtype))
            outs = outs.write(i, tf.cast(out, dtype) if want_outputs else tf.zeros([0], dtype))
            return i + 1, status, bad, losses, regs, outs

        i, status, bad, losses, regs, outs = tf.while_loop(
            cond,
            body,
            (tf.constant(0), tf.constant(STATUS_OK), no_flags, losses, regs, outs),
            parallel_iterations=1,
        )
        return i, status, bad, losses.stack(), regs.stack(), outs.stack()

    # XLA (jit_compile) was measured slower on CPU for these small dense nets.
    if w_spec is None:
        return tf.function(lambda xs, ys: run(xs, ys), input_signature=[x_spec, y_spec])
    return tf.function(run, input_signature=[x_spec, y_spec, w_spec])
