"""The TensorFlow backend's model: the project's network as a Keras 3 model, trained by compiled
steps, with the NumPy backend's interface (see :mod:`engine.backends.base`).

:class:`TensorFlowModel` stitches the parts together: :mod:`.build` makes the Keras model,
optimizer and loss; :mod:`.fused` the optimizer update; :mod:`.steps` the compiled multi-step
training function; :mod:`.probes` the views' and parity checks' looks inside. Initial weights
come from the NumPy engine's initializers, so that the same seed gives the same starting point
on both backends.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.backends.base import StepResult, given_weight
from engine.backends.numpy.rules import WeightRules
from engine.backends.tensorflow.build import (
    SCALAR_ATTRIBUTES,
    SLOT_ATTRIBUTES,
    build_network,
    keras_activation,
    make_loss,
    make_optimizer,
    unsupported_problems,
)
from engine.backends.tensorflow.fused import fused_update
from engine.backends.tensorflow.probes import Probes
from engine.backends.tensorflow.runtime import import_tensorflow
from engine.backends.tensorflow.steps import (
    STATUS_GRAD,
    STATUS_LOSS,
    STATUS_OK,
    TARGET_CALL_SECONDS,
    initial_steps_per_call,
    loss_value,
    make_train_fn,
    penalty,
    steps_for,
)
from engine.errors import (
    ClusterError,
    DataError,
    NNDError,
    NonFiniteError,
    Problem,
    ValidationError,
)
from engine.graph import Graph
from engine.layers.base import layer_seed
from engine.optimizers import DEFAULT_OPTIMIZER, SCALARS, SLOTS

__all__ = ["SWITCH_NOTE", "TensorFlowModel"]

#: What a front-end says when training moves to another backend with the weights only. (To
#: carry the optimizer state as well, use get_optimizer_state / set_optimizer_state.)
SWITCH_NOTE = (
    "the weights were carried over; the optimizer state (momentum, Adam's moments, "
    "accumulators) restarts from zero"
)


class TensorFlowModel(Probes):
    """A network built from a validated :class:`~engine.graph.Graph` as a Keras 3 model.

    Parameters are those of :class:`~engine.backends.numpy.model.NumpyModel`:

    Parameters
    ----------
    graph : Graph
    loss : str
        Keras loss name.
    metrics : list
        ``compile.metrics`` specs (:mod:`engine.metrics`).
    optimizer : str or dict
        Keras optimizer spec (``"adam"`` or ``{"class_name": ..., "config": ...}``).
    dtype : {"float32", "float64"}
    seed : int
        Seeds the initial weights (drawn by the NumPy engine's initializers, so they equal
        NumpyModel's for the same seed) and the dropout masks (Keras' seeded dropout; its masks
        differ from the NumPy engine's, but repeat exactly for the same seed).

    Raises
    ------
    ValidationError
        For the Perceptron optimizer or the ``sign`` activation (NumPy-only).
    BackendUnavailableError
        When TensorFlow cannot be imported.

    Attributes
    ----------
    keras_model : keras.Model
        The functional Keras model; its layers carry the project's names.
    steps_per_call : int
        How many batches the trainer hands :meth:`train_steps` at once (a power of two up to
        32): first guessed from the network's FLOPs, then measured after each call so that one
        call takes about 50 ms, and pause and stop stay responsive.
    """

    name = "tensorflow"

    def __init__(
        self,
        graph: Graph,
        loss: str | None,
        metrics: list | None = None,
        optimizer: str | dict = DEFAULT_OPTIMIZER,
        dtype: str = "float32",
        seed: int = 0,
        distribute: tuple[str, int | None] | None = None,
    ) -> None:
        problems = unsupported_problems(graph, optimizer)
        if problems:
            raise ValidationError(problems)
        from engine.losses import resolve_loss
        from engine.metrics import resolve_metric
        from engine.optimizers import resolve_optimizer

        if loss is None:
            raise ValidationError([Problem("is required", field="compile.loss")])
        self.graph = graph
        self.loss, self.loss_config = resolve_loss(loss)
        self.metrics = list(metrics or [])
        for m in self.metrics:
            resolve_metric(m)  # raises ValueError naming a metric it does not know
        self.dtype = np.dtype(dtype)
        self.seed = int(seed)
        self.optimizer_class, self.optimizer_config = resolve_optimizer(optimizer)
        self.steps_per_call = initial_steps_per_call(graph)
        self._traced = False
        self._tf, self._keras = import_tensorflow()
        #: ``tf.distribute`` strategy (``distribute=("mirrored", replicas or None)``), or None.
        self.strategy = None
        self._dist_step = None
        if distribute is not None:
            from engine.backends.tensorflow.distribute import make_strategy

            strategy = make_strategy(self._tf, distribute[0], distribute[1])
            # One replica is one device: the compiled multi-step loop, as without a strategy
            # (faster than a strategy's step per batch).
            if strategy.num_replicas_in_sync > 1:
                self.strategy = strategy
                self.steps_per_call = 1
        self._train_fns: dict[tuple, Any] = {}
        self._eval_fns: dict[tuple, Any] = {}
        self._predict_fn = None
        if self.strategy is not None:
            with self.strategy.scope():  # mirrored variables, one copy per replica
                self._build()
        else:
            self._build()
        self.initialize(self.seed)

    # ----------------------------------------------------------------- building
    def _build(self) -> None:
        tf = self._tf
        dt = self.dtype.name
        net = build_network(self._keras, self.graph, dt, self.seed, self._activation)
        self.keras_model = net.keras_model
        self._symbolic = net.symbolic
        self._seeded = net.seeded  # (node, keras layer) of the layers with a seed generator
        self._var_keys: list[tuple[str, str]] = net.var_keys
        self._variables = net.variables
        self._state_keys, self._states = net.state_keys, net.states
        self._all_keys, self._all_variables = net.all_keys, net.all_variables
        # Last finite weights, for undoing an update that overflowed (see steps.make_train_fn);
        # the non-trainable ones as they were before the step's forward pass changed them.
        self._backups = [
            tf.Variable(tf.zeros_like(v), trainable=False, name=f"backup_{i}")
            for i, v in enumerate(self._variables)
        ]
        self._state_backups = [
            tf.Variable(tf.zeros_like(v), trainable=False, name=f"state_backup_{i}")
            for i, v in enumerate(self._states)
        ]
        self.optimizer = make_optimizer(
            self._keras, self.optimizer_class, self.optimizer_config, dt
        )
        self.optimizer.build(self._variables)
        # Keras' Constant initializer passes a slot's start value (Adagrad's and Ftrl's
        # initial_accumulator_value) through float32; a float64 model starts from the exact
        # value, as the NumPy engine does.
        for slot, variables in self._slot_variables().items():
            value = self._slot_start(slot)
            if value:
                for var in variables:
                    var.assign(np.full(var.shape, value, dtype=self.dtype))
        self._opt_initial = [v.numpy().copy() for v in self.optimizer.variables]
        self._loss_obj = make_loss(self._keras, self.loss, self.loss_config, dt)
        from engine.losses import is_fused

        self._fused_loss = is_fused(self.graph.output_node.activation, self.loss)
        # Regularizers add a penalty to the loss; constraints project weights after updates.
        self._penalized = WeightRules(self.graph).penalizes
        self._constrained = [v for v in self._variables if v.constraint is not None]
        # The fused kernels' update, or None (Keras' optimizer.apply); _rms_moms: variables
        # the kernels keep besides the optimizer's, reset with it.
        self._fused, self._rms_moms = fused_update(
            tf, self.optimizer, self.optimizer_class, self.optimizer_config, self._variables, dt
        )
        if self.strategy is not None:  # Keras' optimizer all-reduces; the fused kernels do not
            self._fused = None

    def _activation(self, name: str | None):
        return keras_activation(self._tf, self.dtype.name, name)

    def _loss_value(self, y, out, sample_weight=None):
        """The batch loss as the NumPy engine defines it (see :func:`.steps.loss_value`)."""
        return loss_value(
            self._tf, self._loss_obj, self._fused_loss, self.dtype.name, y, out, sample_weight
        )

    # ----------------------------------------------------------------- weights
    def initialize(self, seed: int | None = None) -> None:
        """(Re-)initialise the weights as NumpyModel does for ``seed``, reset the optimizer
        (slots, step count, learning rate) and the dropout streams."""
        from engine.backends.numpy.model import NumpyModel

        seed = self.seed if seed is None else int(seed)
        ref = NumpyModel(self.graph, self.loss, [], "sgd", self.dtype.name, seed)
        self.set_weights(ref.get_weights())
        for v, init in zip(self.optimizer.variables, self._opt_initial, strict=True):
            v.assign(init)
        for m in self._rms_moms:
            m.assign(np.zeros(m.shape, dtype=self.dtype))
        for node, layer in self._seeded:
            state = layer.seed_generator.state
            state.assign(np.array([layer_seed(node, seed), 0], dtype=state.dtype))

    def rng_states(self) -> dict[str, np.ndarray]:
        """The state of every layer's seed generator (Dropout's masks), by layer name."""
        return {
            node.name: np.array(layer.seed_generator.state.numpy(), copy=True)
            for node, layer in self._seeded
        }

    def set_rng_states(self, states: dict[str, np.ndarray]) -> None:
        """Put seed generators back to states from :meth:`rng_states`."""
        for node, layer in self._seeded:
            if node.name in states:
                state = layer.seed_generator.state
                state.assign(np.asarray(states[node.name], dtype=state.dtype))

    def get_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies of every weight, trainable or not, as ``{layer: {"kernel": (in, out), ...}}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for (layer, wname), v in zip(self._all_keys, self._all_variables, strict=True):
            out.setdefault(layer, {})[wname] = np.array(v.numpy(), copy=True)
        return out

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        """Copy weights in (shapes are checked; values cast to the model's dtype)."""
        new_values = [
            given_weight(weights, layer, wname, tuple(v.shape), np.dtype(self.dtype))
            for (layer, wname), v in zip(self._all_keys, self._all_variables, strict=True)
        ]
        for v, new in zip(self._all_variables, new_values, strict=True):
            v.assign(new)

    def flat_weights(self) -> dict[str, np.ndarray]:
        """Copies of every weight keyed ``"<layer>/kernel"``, ``"<layer>/bias"``..."""
        return {
            f"{layer}/{wname}": np.array(v.numpy(), copy=True)
            for (layer, wname), v in zip(self._all_keys, self._all_variables, strict=True)
        }

    def set_flat_weights(self, flat: dict[str, np.ndarray]) -> None:
        nested: dict[str, dict[str, np.ndarray]] = {}
        for key, arr in flat.items():
            layer, _, w = key.rpartition("/")
            nested.setdefault(layer, {})[w] = arr
        self.set_weights(nested)

    # ----------------------------------------------------------------- optimizer state
    def _slot_start(self, slot: str) -> float:
        """The value slot ``slot`` starts from (engine.optimizers.SLOTS)."""
        start = SLOTS[self.optimizer_class][slot]
        return float(self.optimizer_config[start]) if isinstance(start, str) else float(start)

    def _scalar_variables(self) -> dict[str, Any]:
        """``{name: Keras variable}`` of the optimizer-wide scalars (Nadam's u_product)."""
        attributes = SCALAR_ATTRIBUTES.get(self.optimizer_class, {})
        found = {name: getattr(self.optimizer, attr, None) for name, attr in attributes.items()}
        return {name: var for name, var in found.items() if var is not None}

    def _slot_variables(self) -> dict[str, list]:
        """``{slot name: [Keras variable per weight]}`` for the slots this optimizer keeps."""
        out = {}
        for slot, attr in SLOT_ATTRIBUTES[self.optimizer_class].items():
            variables = getattr(self.optimizer, attr, None) or []
            if len(variables) == len(self._variables):
                out[slot] = list(variables)
        return out

    def get_optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state in the NumPy engine's form (``Optimizer.get_state``).

        Returns
        -------
        dict
            ``{"iterations": int, "learning_rate": float, "slots": {"dense/kernel":
            {"momentum": ndarray, ...}}}``, slot names as in Keras (``momentum``,
            ``velocity``, ``velocity_hat``, ``average_gradient``, ``accumulator``).
        """
        slots: dict[str, dict[str, np.ndarray]] = {}
        for slot, variables in self._slot_variables().items():
            for (layer, wname), var in zip(self._var_keys, variables, strict=True):
                slots.setdefault(f"{layer}/{wname}", {})[slot] = np.array(var.numpy(), copy=True)
        return {
            "iterations": int(self.optimizer.iterations.numpy()),
            "learning_rate": self.learning_rate,
            "slots": slots,
            "scalars": {k: v.numpy()[()] for k, v in self._scalar_variables().items()},
        }

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Take over an optimizer state, e.g. the NumPy engine's ``optimizer.get_state()``
        when training moves between backends: Adam's moments, momentum and accumulators
        continue instead of restarting. Slots the state lacks start from their initial value.

        Raises
        ------
        DataError
            When a slot has the wrong shape.
        """
        given = state.get("slots") or {}
        updates = []
        for slot, variables in self._slot_variables().items():
            for (layer, wname), var in zip(self._var_keys, variables, strict=True):
                value = given.get(f"{layer}/{wname}", {}).get(slot)
                if value is None:
                    value = np.full(var.shape, self._slot_start(slot))
                value = np.asarray(value)
                if value.shape != tuple(var.shape):
                    raise DataError(
                        f"optimizer slot '{slot}' of layer '{layer}' {wname}: expected shape "
                        f"{tuple(var.shape)}, got {value.shape}"
                    )
                updates.append((var, value.astype(self.dtype, copy=False)))
        scalars = state.get("scalars") or {}
        for name, var in self._scalar_variables().items():
            value = scalars.get(name, SCALARS[self.optimizer_class][name])
            updates.append((var, np.asarray(value, dtype=var.dtype.name)))
        for var, value in updates:
            var.assign(value)
        self.optimizer.iterations.assign(int(state.get("iterations", 0)))
        if state.get("learning_rate") is not None and not self.has_schedule:
            self.learning_rate = float(state["learning_rate"])

    @property
    def has_schedule(self) -> bool:
        """Whether the learning rate follows a schedule (it cannot be set then)."""
        return isinstance(self.optimizer_config["learning_rate"], dict)

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (a schedule's at the current step)."""
        return float(self.optimizer.learning_rate.numpy())

    def learning_rates(self, count: int) -> list[float]:
        """The rates the next ``count`` updates use (a schedule's, step by step: the NumPy
        engine's values of it, which are Keras' to a few float32 ulps)."""
        from engine.backends.numpy.schedules import upcoming_rates
        from engine.schedules import resolve_schedule

        lr = self.optimizer_config["learning_rate"]
        schedule = resolve_schedule(lr) if self.has_schedule else None
        steps = int(self.optimizer.iterations.numpy())
        return upcoming_rates(schedule, float(lr) if schedule is None else 0.0, steps, count)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.has_schedule:
            name = self.optimizer_config["learning_rate"]["class_name"]
            raise ValueError(f"the learning rate follows the {name} schedule and cannot be set")
        # Assigned into the optimizer's variable: the compiled steps read it every step.
        self.optimizer.learning_rate = float(value)

    # ----------------------------------------------------------------- compiled functions
    def _x_spec(self, x: np.ndarray, lead: int):
        tf = self._tf
        return tf.TensorSpec([None] * lead + list(x.shape[lead:]), tf.as_dtype(self.dtype.name))

    def _y_spec(self, y: np.ndarray, lead: int):
        tf = self._tf
        return tf.TensorSpec([None] * lead + list(y.shape[lead:]), tf.as_dtype(y.dtype.name))

    def _train_fn(self, xs: np.ndarray, ys: np.ndarray, weighted: bool = False):
        key = (ys.dtype.str, ys.shape[2:], weighted)
        fn = self._train_fns.get(key)
        if fn is None:
            tf = self._tf
            w_spec = tf.TensorSpec([None, None], tf.as_dtype(self.dtype.name)) if weighted else None
            fn = self._make_train_fn(self._x_spec(xs, 2), self._y_spec(ys, 2), w_spec)
            self._train_fns[key] = fn
            self._traced = True  # its first call traces it: that call's time says little
        return fn

    def _apply_update(self, grads) -> None:
        """One optimizer step from ``grads`` (in a compiled function or eagerly)."""
        if self._fused is None:
            self.optimizer.apply(grads, self._variables)  # applies the constraints itself
        else:
            self._fused(grads)
            # Keras' BaseOptimizer.apply: each constraint right after the update.
            for v in self._constrained:
                v.assign(v.constraint(v))

    def _make_train_fn(self, x_spec, y_spec, w_spec=None):
        return make_train_fn(
            self._tf,
            self.keras_model,
            self._variables,
            self._backups,
            bool(self.metrics),
            self.dtype.name,
            self._loss_value,
            self._apply_update,
            x_spec,
            y_spec,
            self._states,
            self._state_backups,
            self._penalized,
            w_spec,
        )

    # ----------------------------------------------------------------- training
    def _cast_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def train_step(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epoch: int = 0,
        step: int = 0,
        sample_weight: np.ndarray | None = None,
    ) -> StepResult:
        """One optimizer step on a batch (see :meth:`train_steps`)."""
        weights = None if sample_weight is None else [sample_weight]
        return self.train_steps([x], [y], epoch=epoch, first_step=step, sample_weights=weights)[0]

    def train_steps(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray],
        epoch: int = 0,
        first_step: int = 1,
        sample_weights: list[np.ndarray] | None = None,
    ) -> list[StepResult]:
        """Several optimizer steps, one per batch, in as few compiled calls as the batch sizes
        allow (consecutive batches of one size run in one call); each sample's loss weighted
        by ``sample_weights`` (one array per batch) when given.

        Returns
        -------
        list of StepResult
            Per batch: the loss before its update and, when the model has metrics, the
            output they are computed from (``y_pred``; else None: nothing else is copied back).

        Raises
        ------
        NonFiniteError
            At the first batch whose loss, gradient or updated weights are not finite. The
            weights are those after the previous batch (the last finite ones).
        """
        if self.strategy is not None:
            if sample_weights is not None:
                raise NNDError(
                    "sample and class weights are not distributed yet; train without "
                    "--distribute, or without the weights"
                )
            return self._distributed_steps(xs, ys, epoch, first_step)
        results: list[StepResult] = []
        self._traced = False
        t0 = time.perf_counter()
        start = 0
        while start < len(xs):
            end = start + 1
            while end < len(xs) and len(xs[end]) == len(xs[start]):
                end += 1
            ws = None if sample_weights is None else sample_weights[start:end]
            results.extend(
                self._run_block(xs[start:end], ys[start:end], epoch, first_step + start, ws)
            )
            start = end
        self._adapt_steps_per_call(len(xs), time.perf_counter() - t0)
        return results

    def _distributed_steps(self, xs, ys, epoch: int, first_step: int) -> list[StepResult]:
        """One step per batch on the strategy's replicas (see :mod:`.distribute`)."""
        if self._dist_step is None:
            from engine.backends.tensorflow.distribute import make_distributed_step

            self._dist_step = make_distributed_step(self, self.strategy)
        results = []
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            try:
                loss, reg, out, ok = self._dist_step(self._cast_x(x), np.asarray(y))
            except ClusterError as exc:
                raise ClusterError(exc.detail, epoch, first_step + i) from None
            if not ok:
                what = "the loss" if not np.isfinite(loss) else "the gradient"
                raise NonFiniteError(epoch, first_step + i, None, what)
            results.append(
                StepResult(
                    loss,
                    out if self.metrics else None,
                    regularization=reg if self._penalized else None,
                )
            )
        return results

    def _adapt_steps_per_call(self, steps: int, seconds: float) -> None:
        if self._traced or steps < self.steps_per_call or seconds <= 0:
            return  # tracing, or the short tail of an epoch: says little about the speed
        self.steps_per_call = steps_for(TARGET_CALL_SECONDS * steps / seconds)

    def _run_block(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray],
        epoch: int,
        first_step: int,
        ws: list[np.ndarray] | None = None,
    ) -> list[StepResult]:
        x_block = np.stack([self._cast_x(x) for x in xs])
        y_block = np.stack([np.asarray(y) for y in ys])
        fn = self._train_fn(x_block, y_block, ws is not None)
        if ws is None:
            done, status, bad, losses, regs, outs = fn(x_block, y_block)
        else:
            w_block = np.stack([np.asarray(w, dtype=self.dtype) for w in ws])
            done, status, bad, losses, regs, outs = fn(x_block, y_block, w_block)
        status = int(status)
        losses = losses.numpy()
        regs = regs.numpy()
        outs = outs.numpy() if self.metrics else None
        n_ok = int(done) - (status != STATUS_OK)
        results = [
            StepResult(
                float(losses[j]),
                None if outs is None else outs[j],
                regularization=float(regs[j, 0]) if self._penalized else None,
            )
            for j in range(n_ok)
        ]
        if status != STATUS_OK:
            step = first_step + n_ok
            bad = bad.numpy()
            if status == STATUS_LOSS:
                layer = self._first_nonfinite_forward(x_block[n_ok])
                raise NonFiniteError(epoch, step, layer, "the loss")
            if status == STATUS_GRAD:
                raise NonFiniteError(epoch, step, self._first_flagged(bad, True), "the gradient")
            raise NonFiniteError(epoch, step, self._first_flagged(bad, False), "the weights")
        return results

    def _first_flagged(self, bad: np.ndarray, backward: bool) -> str | None:
        flagged = {self._var_keys[i][0] for i in np.flatnonzero(bad)}
        nodes = reversed(self.graph.nodes) if backward else self.graph.nodes
        for node in nodes:
            if node.name in flagged:
                return node.name
        return None

    def _first_nonfinite_forward(self, x: np.ndarray) -> str | None:
        outs = self.layer_outputs(x, training=False)
        for node in self.graph.nodes:
            if not np.isfinite(outs[node.name]).all():
                return node.name
        return None

    # ----------------------------------------------------------------- inference
    def _forward_fn(self):
        if self._predict_fn is None:
            tf = self._tf
            model = self.keras_model
            spec = tf.TensorSpec([None, *self.graph.input_shape], tf.as_dtype(self.dtype.name))
            self._predict_fn = tf.function(
                lambda x: model(x, training=False), input_signature=[spec]
            )
        return self._predict_fn

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Inference (dropout off) in batches; ``x`` of shape (n, *input_shape)."""
        x = self._cast_x(x)
        fn = self._forward_fn()
        parts = [fn(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0, *self.graph.output_shape), dtype=self.dtype)
        return np.concatenate(parts)

    def _eval_fn(self, y: np.ndarray, weighted: bool = False):
        """The compiled ``(x, y[, w]) -> (loss, output)`` of an evaluation batch."""
        key = (y.dtype.str, y.shape[1:], weighted)
        fn = self._eval_fns.get(key)
        if fn is None:
            tf = self._tf
            model = self.keras_model

            def run(x, y, w=None):
                out = model(x, training=False)
                loss = self._loss_value(y, out, w)
                if self._penalized:  # Keras' evaluate adds model.losses too
                    loss = loss + penalty(tf, model, self.dtype.name)
                return loss, out

            specs = [self._x_spec(np.empty((0, *self.graph.input_shape)), 1), self._y_spec(y, 1)]
            if weighted:
                specs.append(tf.TensorSpec([None], tf.as_dtype(self.dtype.name)))
                fn = tf.function(run, input_signature=specs)
            else:
                fn = tf.function(lambda x, y: run(x, y), input_signature=specs)
            self._eval_fns[key] = fn
        return fn

    def evaluate(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 256,
        sample_weight: np.ndarray | None = None,
    ) -> dict[str, float]:
        """Loss and metrics over a dataset (inference mode) as Keras' evaluate: the loss (each
        sample's weighted by ``sample_weight`` when given) averaged over samples, each
        metric's state updated batch by batch."""
        from engine.metric_state import MetricSet

        n = len(x)
        if n == 0:
            return {}
        x = self._cast_x(x)
        y = np.asarray(y)
        fn = self._eval_fn(y, sample_weight is not None)
        total = 0.0
        metrics = MetricSet(self.metrics, self.loss)
        for i in range(0, n, batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            if sample_weight is None:
                loss, out = fn(xb, yb)
            else:
                wb = np.asarray(sample_weight[i : i + batch_size], dtype=self.dtype)
                loss, out = fn(xb, yb, wb)
            total += float(loss.numpy()) * len(xb)
            if metrics:
                metrics.update(yb, out.numpy())
        return {"loss": total / n, **metrics.results()}
