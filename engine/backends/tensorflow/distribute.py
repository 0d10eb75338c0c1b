"""Data-parallel training on TensorFlow's own ``tf.distribute`` strategies.

:func:`make_strategy` builds ``tf.distribute.MirroredStrategy`` over every visible GPU, or,
with ``replicas``, over that many logical CPU devices (``tf.config.
set_logical_device_configuration``: machines without GPUs, tests, demos); or
``tf.distribute.MultiWorkerMirroredStrategy`` over the cluster that ``TF_CONFIG`` names
(:func:`read_cluster`: every worker runs the same command, worker 0 is the chief). :func:`
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

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ClusterError, NNDError

DISTRIBUTE_CHOICES = ("mirrored", "multiworker")

#: How long a worker waits for the rest of the cluster to start (seconds).
CLUSTER_WAIT_S = 300
#: How often a worker checks that its peers are alive, and how long each check may take
#: (seconds; TensorFlow's own health check, tried 3 times): a dead peer ends the others
#: within about ``HEALTH_INTERVAL_S + 3 * HEALTH_TIMEOUT_S``.
HEALTH_INTERVAL_S = 5
HEALTH_TIMEOUT_S = 5

TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
    '"task": {"type": "worker", "index": 0}}\''
)


@dataclass(frozen=True)
class Cluster:
    """This process's place in the ``TF_CONFIG`` cluster."""

    task_type: str
    index: int
    workers: int  # every task of the cluster (chief and workers)
    has_chief: bool = False  # a "chief" task besides the workers

    @property
    def is_chief(self) -> bool:
        """The chief writes the output: the ``chief`` task, else worker 0."""
        if self.has_chief:
            return self.task_type == "chief"
        return self.index == 0

    @property
    def rank(self) -> int:
        """The chief 0, then the workers (``{worker}`` in an output path)."""
        return self.index + (1 if self.task_type == "worker" and self.has_chief else 0)

    def label(self) -> str:
        return f"{self.task_type} {self.index} of {self.workers}"


def read_cluster(environ=None) -> Cluster:
    """This worker's place in the cluster ``TF_CONFIG`` describes, checked.

    Raises
    ------
    NNDError
        When ``TF_CONFIG`` is missing, is not JSON, or does not name a cluster of
        ``host:port`` addresses and this worker's task in it.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise NNDError(
            "--distribute multiworker reads the cluster from TF_CONFIG, which is not set; set "
            f"it on every worker, e.g. {TF_CONFIG_EXAMPLE} (index 1 on the second)"
        )
    try:
        cfg = json.loads(raw)
    except ValueError as exc:
        raise NNDError(f"TF_CONFIG is not JSON: {exc}") from None
    cluster = cfg.get("cluster") if isinstance(cfg, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise NNDError(f'TF_CONFIG needs a "cluster" of worker addresses, e.g. {TF_CONFIG_EXAMPLE}')
    for job, tasks in cluster.items():
        if job not in ("chief", "worker"):
            raise NNDError(
                f'TF_CONFIG cluster.{job}: MultiWorkerMirroredStrategy knows "chief" and '
                '"worker" tasks only'
            )
        if (
            not isinstance(tasks, list)
            or not tasks
            or not all(isinstance(t, str) and ":" in t for t in tasks)
        ):
            raise NNDError(f'TF_CONFIG cluster.{job} must list "host:port" addresses')
    if len(cluster.get("chief", [])) > 1:
        raise NNDError("TF_CONFIG cluster.chief: a cluster has one chief")
    task = cfg.get("task")
    if not isinstance(task, dict):
        raise NNDError('TF_CONFIG needs this worker\'s "task", e.g. {"type": "worker", "index": 0}')
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster:
        raise NNDError(f"TF_CONFIG task.type {kind!r} is not a job of the cluster")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise NNDError(
            f"TF_CONFIG task.index must be 0 to {len(cluster[kind]) - 1} for {kind!r}, got "
            f"{index!r}"
        )
    count = sum(len(t) for t in cluster.values())
    return Cluster(kind, index, count, has_chief="chief" in cluster)


def _multiworker(tf):
    """MultiWorkerMirroredStrategy with a bounded wait for the cluster (a watchdog process:
    :func:`_cluster_watchdog`) and a quick check of its peers (TensorFlow's own, with shorter
    settings than its defaults: checks every 30 s)."""
    from tensorflow.python.distribute import collective_all_reduce_strategy as car

    ext = car.CollectiveAllReduceExtended
    for name, value in (
        ("_check_health_initial_timeout", CLUSTER_WAIT_S),
        ("_check_health_interval", HEALTH_INTERVAL_S),
        ("_check_health_timeout", HEALTH_TIMEOUT_S),
    ):
        if hasattr(ext, name):  # TensorFlow's settings; left alone if a version lacks them
            setattr(ext, name, value)
    dog = _cluster_watchdog()
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except Exception as exc:  # noqa: BLE001 - TensorFlow's errors, whatever their class
        text = str(exc)
        if "Timeout waiting for the cluster" in text or "DEADLINE_EXCEEDED" in text.upper():
            raise NNDError(_no_cluster_message()) from None
        raise NNDError(f"cannot join TF_CONFIG's cluster: {_cause(text)}") from None
    finally:
        dog.stdin.close()  # the cluster formed (or failed by itself): the watchdog leaves
        dog.wait()


#: The watchdog process: it waits for its standard input to close (the worker joined the
#: cluster, or ended) for at most the given seconds, else writes the message and kills the
#: worker (SIGKILL: a worker blocked in TensorFlow's C++ neither runs Python nor ends on
#: SIGTERM).
_WATCHDOG = """
import os, select, signal, sys
pid, wait, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ready, _, _ = select.select([sys.stdin], [], [], wait)
if not ready:
    sys.stderr.write(message + "\\n")
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
"""


def _cluster_watchdog():
    """A small process that ends this worker when joining the cluster takes longer than
    ``CLUSTER_WAIT_S``: TensorFlow's join waits in C++ without end for a peer that never
    starts (even with the coordination service's registration timeout set), holding the
    interpreter, so no timer in this process could run."""
    import subprocess
    import sys

    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(os.getpid()),
            str(CLUSTER_WAIT_S),
            f"nndesigner: {_no_cluster_message()}",
        ],
        stdin=subprocess.PIPE,
    )


def _no_cluster_message() -> str:
    return (
        f"the other workers of TF_CONFIG's cluster did not join within {CLUSTER_WAIT_S} s; "
        "start the same command on every worker, with its TF_CONFIG (--cluster-wait sets "
        "the wait)"
    )


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
    """The strategy for ``kind``: ``"mirrored"`` over ``replicas`` logical CPU devices, or
    over every GPU (the CPU when there is none); ``"multiworker"`` over ``TF_CONFIG``'s
    cluster (each worker's GPUs, or its CPU)."""
    if kind not in DISTRIBUTE_CHOICES:
        raise NNDError(
            f"unknown distribution {kind!r}; NN Designer offers {', '.join(DISTRIBUTE_CHOICES)}"
        )
    if kind == "multiworker":
        if replicas is not None:
            raise NNDError(
                "--replicas splits one machine's CPU for --distribute mirrored; a multiworker "
                "cluster uses each worker's GPUs, or its CPU"
            )
        read_cluster()  # a clear message before TensorFlow reads TF_CONFIG
        return _multiworker(tf)
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


_CAUSES = ("connection", "is down", "abort", "deadline", "unavailable", "socket", "peer")


def _cause(text: str) -> str:
    """The line of TensorFlow's error that says why a collective failed (not its preamble)."""
    lines = [t.strip() for t in str(text).splitlines() if t.strip()]
    lines = [t for t in lines if not t.startswith(("Graph execution error", "Detected at"))]
    line = next(
        (t for t in lines if any(c in t.lower() for c in _CAUSES)),
        lines[0] if lines else "no reason given",
    )
    line = line.rstrip(":").rstrip()
    return line if len(line) <= 200 else line[:197] + "..."


def make_distributed_step(model, strategy) -> Any:
    """``step(x, y) -> (loss, penalty or 0, output, ok)`` for one global batch (NumPy arrays),
    ``ok`` False when the loss or a gradient was not finite (then nothing was updated)."""
    tf = model._tf
    replicas = strategy.num_replicas_in_sync
    multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
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
        # tf.identity places each gradient on this replica's device: with one replica per
        # worker (MultiWorkerMirroredStrategy on CPUs) TensorFlow hands the function plain
        # tensors without a device, and its all-reduce takes a tensor's device as its
        # destination ("destinations can not be empty").
        grads = [tf.identity(g) for g in grads]
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
        try:
            loss, reg, outs, bad, grads = forward_backward(xs, ys, shares)
            ok = float(bad.numpy()) < 0.5
            if ok:  # the guard: a non-finite loss or gradient updates nothing
                update(grads)
        except tf.errors.OpError as exc:
            if not multiworker:
                raise
            # A collective that a dead peer can no longer answer: TensorFlow's health check
            # or the connection itself aborts it (see _multiworker).
            raise ClusterError(_cause(exc.message)) from None
        return float(loss.numpy()), float(reg.numpy()), outs.numpy(), ok

    return step
