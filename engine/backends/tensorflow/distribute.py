"""Data-parallel training on TensorFlow's own ``tf.distribute`` strategies.

:func:`make_strategy` builds ``tf.distribute.MirroredStrategy`` over every visible GPU, or,
with ``replicas``, over that many logical CPU devices (``tf.config.
set_logical_device_configuration``: machines without GPUs, tests, demos). :func:`
make_distributed_step` is the compiled step of :class:`~engine.backends.tensorflow.model.
TensorFlowModel` under a strategy: the global batch is split across the replicas (as evenly
as it divides: a last, smaller batch too), each computes its share of the loss and of the
gradients, Keras' optimizer all-reduces them (the sum over replicas of each replica's share
is the one-device mean), the finiteness guard decides for every replica alike, and the
outputs come back in the batch's order for the metrics.

Nothing home-made is distributed: the replicas, the all-reduce and the mirrored variables are
TensorFlow's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import NNDError

DISTRIBUTE_CHOICES = ("mirrored",)


def configure_replicas(tf, replicas: int) -> None:
    """Split the CPU into ``replicas`` logical devices (before TensorFlow initialises them).

    Raises
    ------
    NNDError
        When TensorFlow already initialised its devices (this process ran TensorFlow
        before), or ``replicas`` is below 1.
    """
    if replicas < 1:
        raise NNDError(f"--replicas must be at least 1, got {replicas}")
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
        )
    except RuntimeError as exc:
        current = len(tf.config.list_logical_devices("CPU"))
        if current == replicas:
            return
        raise NNDError(
            f"cannot split the CPU into {replicas} devices: TensorFlow already started with "
            f"{current} in this process ({exc}); run the training in a new process"
        ) from None


def make_strategy(tf, kind: str, replicas: int | None = None):
    """The strategy for ``kind`` (``"mirrored"``): over ``replicas`` logical CPU devices, or
    over every GPU (the CPU when there is none)."""
    if kind not in DISTRIBUTE_CHOICES:
        raise NNDError(
            f"unknown distribution {kind!r}; NN Designer offers {', '.join(DISTRIBUTE_CHOICES)}"
        )
    if replicas is not None:
        configure_replicas(tf, int(replicas))
        devices = [d.name for d in tf.config.list_logical_devices("CPU")][: int(replicas)]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.MirroredStrategy()


def shard_sizes(n: int, replicas: int) -> list[int]:
    """How a batch of ``n`` samples splits over the replicas: as evenly as it goes, the first
    replicas one more (numpy.array_split's)."""
    base, extra = divmod(n, replicas)
    return [base + (1 if i < extra else 0) for i in range(replicas)]


def make_distributed_step(model, strategy) -> Any:
    """``step(x, y) -> (loss, penalty or 0, output, ok)`` for one global batch (NumPy arrays),
    ``ok`` False when the loss or a gradient was not finite (then nothing was updated)."""
    tf = model._tf
    replicas = strategy.num_replicas_in_sync
    dtype = tf.as_dtype(model.dtype.name)

    def replica_grads(x, y, share):
        ctx = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            out = model.keras_model(x, training=True)
            # Keras divides a loss by the replicas in a replica context; times the replica's
            # share of the batch (times the replicas), the sum over them is the batch mean.
            loss = model._loss_value(y, out) * tf.cast(share * replicas, dtype)
            reg = tf.zeros([], dtype)
            if model._penalized:
                from engine.backends.tensorflow.steps import penalty

                reg = penalty(tf, model.keras_model, model.dtype.name) / replicas
            total = loss + reg
        grads = tape.gradient(total, model._variables)
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        finite = tf.logical_and(finite, tf.math.is_finite(total))
        # every replica sees the same count: none of them met a non-finite value, or some did
        bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, dtype))
        return total, reg, out, bad, grads

    @tf.function
    def forward_backward(x, y, share):
        total, reg, out, bad, grads = strategy.run(replica_grads, args=(x, y, share))
        loss = strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None)
        penalty_sum = strategy.reduce(tf.distribute.ReduceOp.SUM, reg, axis=None)
        outs = strategy.gather(out, axis=0)
        bad_count = strategy.reduce(tf.distribute.ReduceOp.MEAN, bad, axis=None)
        return loss, penalty_sum, outs, bad_count, grads

    def replica_apply(grads):
        model.optimizer.apply(grads, model._variables)  # Keras all-reduces the gradients

    @tf.function
    def update(grads):
        strategy.run(replica_apply, args=(grads,))

    def step(x: np.ndarray, y: np.ndarray):
        sizes = shard_sizes(len(x), replicas)
        if min(sizes) == 0:
            raise NNDError(
                f"a batch of {len(x)} samples cannot give each of the {replicas} replicas one; "
                "raise the batch size or lower --replicas"
            )
        starts = np.cumsum([0, *sizes])
        n = float(len(x))

        def part(arr, ctx):
            i = ctx.replica_id_in_sync_group
            return tf.constant(arr[starts[i] : starts[i + 1]])

        xs = strategy.experimental_distribute_values_from_function(lambda c: part(x, c))
        ys = strategy.experimental_distribute_values_from_function(lambda c: part(y, c))
        shares = strategy.experimental_distribute_values_from_function(
            lambda c: tf.constant(sizes[c.replica_id_in_sync_group] / n, dtype)
        )
        loss, reg, outs, bad, grads = forward_backward(xs, ys, shares)
        ok = float(bad.numpy()) < 0.5
        if ok:  # the guard: a non-finite loss or gradient updates nothing
            update(grads)
        return float(loss.numpy()), float(reg.numpy()), outs.numpy(), ok

    return step
