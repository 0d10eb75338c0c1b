"""The NumPy reference engine: forward, backward, optimizer steps and the step trace.

One code path computes a training step; :meth:`NumpyModel.train_step` runs it lean and
:meth:`NumpyModel.trace_step` runs the same per-layer functions while yielding a phase event
after each layer. Running a trace to its end leaves bit-identical weights to ``train_step``;
closing it early changes nothing (weights, optimizer state and dropout RNG are restored).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.backends.base import StepResult, given_weight
from engine.backends.numpy.losses import compute_loss, smoothed_targets
from engine.backends.numpy.optimizers import make_optimizer
from engine.backends.numpy.rules import WeightRules
from engine.backends.numpy.schedules import upcoming_rates
from engine.errors import NonFiniteError
from engine.graph import INPUT, Graph, Node
from engine.initializers import initialize
from engine.layers import Cache, LayerState
from engine.losses import is_fused, resolve_loss
from engine.metric_state import MetricSet
from engine.optimizers import DEFAULT_OPTIMIZER, is_perceptron, resolve_optimizer


@dataclass
class PhaseEvent:
    """One phase of a traced training step.

    ``phase`` is ``forward``, ``loss``, ``backward`` or ``update``; ``layer`` the layer it
    concerns; ``data`` its arrays (copies, safe to keep):

    - forward: ``inputs`` (ndarray, or a list of them for merge layers), ``z`` (pre-activation,
      where the layer has one), ``a`` (output), ``mask`` where a random-in-training layer drew
      one (Dropout's multiplier), and any arrays the layer type adds (:class:`Cache` ``extra``).
    - loss: ``value`` (float), ``targets``, ``grad`` (dL/d output).
    - backward: ``grad_a``, ``grad_z`` (where there is a z), ``grad_<weight>`` for each
      trainable weight (``grad_kernel``, ``grad_bias``), ``grad_inputs`` (list for merge layers).
    - update: ``before`` and ``after``, each ``{weight name: array}`` for every weight of the
      layer, and ``optimizer`` (the optimizer's slots for this layer after the update, e.g.
      Adam's m, v).
    """

    phase: str
    layer: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"phase": self.phase, "layer": self.layer}
        for key, value in self.data.items():
            out[key] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class NumpyModel:
    """A network built from a validated :class:`~engine.graph.Graph`, trained with NumPy.

    Parameters
    ----------
    graph : Graph
    loss : str or None
        Keras loss name (None only with the Perceptron optimizer).
    metrics : list
        ``compile.metrics`` specs (:mod:`engine.metrics`).
    optimizer : str or dict
        Keras optimizer spec (``"adam"`` or ``{"class_name": ..., "config": ...}``).
    dtype : {"float32", "float64"}
    seed : int
        Seeds the initializers and the dropout masks.
    """

    name = "numpy"
    steps_per_call = 1

    def __init__(
        self,
        graph: Graph,
        loss: str | None,
        metrics: list | None = None,
        optimizer: str | dict = DEFAULT_OPTIMIZER,
        dtype: str = "float32",
        seed: int = 0,
    ) -> None:
        self.graph = graph
        # The canonical name (what every view compares) and the resolved settings.
        self.loss, self.loss_config = resolve_loss(loss) if loss is not None else (None, {})
        self.metrics = list(metrics or [])
        MetricSet(self.metrics, self.loss)  # raises ValueError naming a metric it does not know
        self.dtype = np.dtype(dtype)
        self.seed = int(seed)
        self.optimizer_class, self.optimizer_config = resolve_optimizer(optimizer)
        self.perceptron = is_perceptron(self.optimizer_class)
        self.optimizer = make_optimizer(self.optimizer_class, self.optimizer_config)
        out = graph.output_node
        # Whether the output activation and the loss are differentiated together (dL/dz
        # straight from the loss: softmax or sigmoid with its cross-entropy).
        self.fused = is_fused(out.activation, self.loss)
        # Regularizers (their penalties join the loss) and constraints (after each update).
        self.rules = WeightRules(graph)
        # Layers whose input gradient nobody needs (they read only the model input).
        self._needs_input_grad = {n.name: any(s != INPUT for s in n.inbound) for n in graph.nodes}
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        self.initialize(self.seed)

    # ----------------------------------------------------------------- weights
    def initialize(self, seed: int | None = None) -> None:
        """(Re-)initialise every weight from the layers' initializers, seeded by ``seed``."""
        seed = self.seed if seed is None else int(seed)
        rng = np.random.default_rng(seed)
        self.weights = {}
        self.trainable: dict[str, tuple[str, ...]] = {}
        for node in self.graph.nodes:
            specs = node.weights
            if not specs:
                continue
            self.weights[node.name] = {
                w.name: initialize(node.config[w.initializer], w.shape, rng, self.dtype)
                for w in specs
            }
            self.trainable[node.name] = tuple(w.name for w in specs if w.trainable)
        self._flat = {f"{k}/{w}": arr for k, ws in self.weights.items() for w, arr in ws.items()}
        self._backup = {k: np.empty_like(v) for k, v in self._flat.items()}
        self.optimizer = make_optimizer(self.optimizer_class, self.optimizer_config)
        self.states: dict[str, LayerState] = {
            n.name: n.layer_type.numpy_state(n, seed) for n in self.graph.nodes
        }

    def get_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies, as ``{layer: {"kernel": (in, out), "bias": (out,)}}``."""
        return {k: {w: a.copy() for w, a in ws.items()} for k, ws in self.weights.items()}

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        """Copy weights in (shapes are checked; values cast to the model's dtype)."""
        checked = {
            (layer, wname): given_weight(weights, layer, wname, arr.shape, arr.dtype)
            for layer, ws in self.weights.items()
            for wname, arr in ws.items()
        }
        # Only once every weight passed: a refused set leaves the model as it was.
        for (layer, wname), new in checked.items():
            np.copyto(self.weights[layer][wname], new)

    def weight_arrays(self) -> dict[str, np.ndarray]:
        """The live weight arrays keyed ``"<layer>/<weight>"`` (not copies: writing to them
        changes the model), in the layers' order."""
        return self._flat

    def flat_weights(self) -> dict[str, np.ndarray]:
        """Copies keyed ``"<layer>/kernel"``, ``"<layer>/bias"``."""
        return {k: v.copy() for k, v in self._flat.items()}

    def set_flat_weights(self, flat: dict[str, np.ndarray]) -> None:
        nested: dict[str, dict[str, np.ndarray]] = {}
        for key, arr in flat.items():
            layer, _, w = key.rpartition("/")
            nested.setdefault(layer, {})[w] = arr
        self.set_weights(nested)

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer.learning_rate = float(value)

    def learning_rates(self, count: int) -> list[float]:
        """The rates the next ``count`` updates use (a schedule's, step by step)."""
        return upcoming_rates(
            self.optimizer.schedule, self.learning_rate, self.optimizer.iterations, count
        )

    def rng_states(self) -> dict[str, dict]:
        """The state of every layer's random generator (Dropout's masks), by layer name."""
        return {k: st.rng.bit_generator.state for k, st in self.states.items() if st.rng}

    def set_rng_states(self, states: dict[str, dict]) -> None:
        """Put generators back to states from :meth:`rng_states`."""
        for k, state in states.items():
            own = self.states.get(k)
            if own is not None and own.rng is not None:
                own.rng.bit_generator.state = state

    # ----------------------------------------------------------------- per-layer math
    def _forward_node(self, node: Node, inputs: list[np.ndarray], training: bool):
        c = node.layer_type.forward(
            node, self.weights.get(node.name, {}), self.states[node.name], inputs, training
        )
        return c.a, c

    def _backward_node(
        self,
        node: Node,
        c: Cache,
        grad_a: np.ndarray | None,
        grad_z: np.ndarray | None,
        need_input_grad: bool,
    ) -> tuple[list[np.ndarray | None], dict[str, np.ndarray], np.ndarray | None]:
        """Return (grads of the inputs, grads of the weights, dL/dz)."""
        return node.layer_type.backward(
            node,
            self.weights.get(node.name, {}),
            self.states[node.name],
            c,
            grad_a,
            grad_z,
            need_input_grad,
        )

    # ----------------------------------------------------------------- passes
    def _cast_x(self, x: np.ndarray) -> np.ndarray:
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> tuple[np.ndarray, dict[str, Cache]]:
        """Run the network; return the output and the per-layer caches."""
        outs = {INPUT: self._cast_x(x)}
        caches: dict[str, Cache] = {}
        for node in self.graph.nodes:
            outs[node.name], caches[node.name] = self._forward_node(
                node, [outs[s] for s in node.inbound], training
            )
        return outs[self.graph.output], caches

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Inference (dropout off) in batches; ``x`` of shape (n, *input_shape)."""
        parts = [self.forward(x[i : i + batch_size])[0] for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0,) + self.graph.output_shape, dtype=self.dtype)
        return np.concatenate(parts)

    def loss_result(
        self,
        y: np.ndarray,
        out: np.ndarray,
        caches: dict[str, Cache],
        want_grad_a: bool = True,
        sample_weight: np.ndarray | None = None,
    ):
        """The loss of a forward pass (``out``, ``caches`` from :meth:`forward`) against ``y``
        (each sample's loss times its ``sample_weight`` when given): a result with ``value``,
        ``grad_a`` (dL/d output), ``per`` (each sample's loss, weighted) and, when
        :attr:`fused`, ``grad_z``."""
        node = self.graph.output_node
        c = caches[node.name]
        return compute_loss(
            self.loss,
            y,
            out,
            c.z if self.fused else None,
            node.activation if self.fused else None,
            want_grad_a=want_grad_a,
            config=self.loss_config,
            sample_weight=sample_weight,
        )

    def penalties(self, caches: dict[str, Cache]) -> tuple[Any, dict[str, np.ndarray]]:
        """The regularization part of the loss of a forward pass (the weights' penalties as
        they are now plus the outputs' activity penalties) and ∂ of the activity part by each
        regularized layer's output."""
        if not self.rules.penalizes:
            return self.dtype.type(0.0), {}
        act, act_grads = self.rules.activity_penalty(
            {name: caches[name].a for name in self.rules.activity}, self.dtype
        )
        return self.dtype.type(self.rules.weights_penalty(self._flat, self.dtype) + act), act_grads

    def _with_activity(
        self, node: Node, c: Cache, ga: np.ndarray | None, gz: np.ndarray | None, extra
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """dL/da (or dL/dz, for a fused output) with the activity penalty's gradient added."""
        if extra is None:
            return ga, gz
        if gz is not None:  # fused: dL/dz given; bring the penalty's dL/da through f'
            return ga, gz + self.states[node.name].activation.backward(c.z, c.a, extra)
        return (extra if ga is None else ga + extra), gz

    def _backward(
        self,
        caches: dict[str, Cache],
        grad_out: np.ndarray | None,
        grad_z_out: np.ndarray | None,
        activity: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Backprop from the output; return weight gradients keyed ``layer/kernel``, with the
        regularizers' gradients added (``activity``: ∂ of the activity penalties by output)."""
        grads: dict[str, np.ndarray] = {}
        pending: dict[str, np.ndarray] = {}
        out_name = self.graph.output
        activity = activity or {}
        for node in reversed(self.graph.nodes):
            if node.name == out_name:
                ga, gz = grad_out, grad_z_out
            else:
                ga, gz = pending.pop(node.name, None), None
                if ga is None:
                    continue  # does not reach the output (validation forbids this)
            ga, gz = self._with_activity(node, caches[node.name], ga, gz, activity.get(node.name))
            gins, wgrads, _ = self._backward_node(
                node, caches[node.name], ga, gz, self._needs_input_grad[node.name]
            )
            for wname, g in wgrads.items():
                grads[f"{node.name}/{wname}"] = g
            for src, g in zip(node.inbound, gins, strict=True):
                if src == INPUT or g is None:
                    continue
                if src in pending:
                    pending[src] = pending[src] + g
                else:
                    pending[src] = g
        for key, g in self.rules.weight_gradients(self._flat).items():
            grads[key] = grads[key] + g
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Loss (with its regularization part) and weight gradients at the current weights
        (training mode, no update)."""
        out, caches = self.forward(x, training=True)
        res = self.loss_result(y, out, caches, want_grad_a=False)
        reg, act_grads = self.penalties(caches)
        return float(res.value + reg), self._backward(
            caches, res.grad_a if res.grad_z is None else None, res.grad_z, act_grads
        )

    def outputs_and_gradients(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Every layer's training-mode output and the weight gradients of the loss on ``(x,
        y)`` (``{layer: {"kernel": ..., "bias": ...}}``), from one pass, without an update; the
        random streams are rewound afterwards, so the training run is unchanged (the live
        views)."""
        states = self.rng_states()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out, caches = self.forward(x, training=True)
                res = self.loss_result(y, out, caches, want_grad_a=False)
                flat = self._backward(
                    caches,
                    res.grad_a if res.grad_z is None else None,
                    res.grad_z,
                    self.penalties(caches)[1],
                )
        finally:
            self.set_rng_states(states)
        grads: dict[str, dict[str, np.ndarray]] = {}
        for key, g in flat.items():
            layer, _, wname = key.rpartition("/")
            grads.setdefault(layer, {})[wname] = g
        return {name: c.a for name, c in caches.items()}, grads

    def layer_gradients(self, x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """The weight gradients of :meth:`outputs_and_gradients`."""
        return self.outputs_and_gradients(x, y)[1]

    def train_step(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epoch: int = 0,
        step: int = 0,
        sample_weight: np.ndarray | None = None,
    ) -> StepResult:
        """One optimizer step on a batch (each sample's loss weighted by ``sample_weight``
        when given). Raises NonFiniteError before touching the weights when the loss or a
        gradient is not finite."""
        if self.perceptron:
            return self._perceptron_step(self._cast_x(x), y)
        # Divergence is detected and reported below; NumPy's overflow warnings would only add noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._train_step(x, y, epoch, step, sample_weight)

    def train_steps(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray],
        epoch: int = 0,
        first_step: int = 1,
        sample_weights: list[np.ndarray] | None = None,
    ) -> list[StepResult]:
        """:meth:`train_step` on each batch in turn."""
        weights = sample_weights or [None] * len(xs)
        return [
            self.train_step(x, y, epoch, first_step + i, w)
            for i, (x, y, w) in enumerate(zip(xs, ys, weights, strict=True))
        ]

    def _train_step(
        self, x: np.ndarray, y: np.ndarray, epoch: int, step: int, sample_weight=None
    ) -> StepResult:
        out, caches = self.forward(x, training=True)
        res = self.loss_result(y, out, caches, want_grad_a=False, sample_weight=sample_weight)
        reg, act_grads = self.penalties(caches)
        # Keras reports the whole loss: the data's plus the regularizers' penalties.
        loss = float(self.dtype.type(res.value + reg))
        if not np.isfinite(loss):
            raise NonFiniteError(epoch, step, self._first_nonfinite_forward(caches), "the loss")
        grads = self._backward(
            caches, res.grad_a if res.grad_z is None else None, res.grad_z, act_grads
        )
        bad = self._first_nonfinite_grad(grads)
        if bad is not None:
            raise NonFiniteError(epoch, step, bad, "the gradient")
        # Keep the pre-update weights in preallocated buffers: an update can overflow even when
        # the gradient is finite (a huge learning rate), and then we put the last finite ones back.
        for key, arr in self._flat.items():
            np.copyto(self._backup[key], arr)
        self.optimizer.apply(self._flat, grads)
        self.rules.constrain(self._flat)
        self._apply_state_updates(self._flat, caches)
        bad = self._first_nonfinite_weights()
        if bad is not None:
            for key, arr in self._flat.items():
                np.copyto(arr, self._backup[key])
            raise NonFiniteError(epoch, step, bad, "the weights")
        return StepResult(loss, out, regularization=float(reg) if self.rules.penalizes else None)

    def _apply_state_updates(self, flat: dict[str, np.ndarray], caches: dict[str, Cache]) -> None:
        """Write each layer's training-step updates of its non-trainable weights (moving
        statistics, from the forward pass's ``caches``) into ``flat``."""
        for node in self.graph.nodes:
            if node.name not in self.weights:
                continue
            new = node.layer_type.state_updates(
                node, self.weights[node.name], self.states[node.name], caches[node.name]
            )
            for wname, value in new.items():
                np.copyto(flat[f"{node.name}/{wname}"], value)

    def _first_nonfinite_weights(self) -> str | None:
        for node in self.graph.nodes:
            for wname in node.weight_names:
                flat = self.weights[node.name][wname].reshape(-1)
                if not np.isfinite(np.dot(flat, flat)) and not np.isfinite(flat).all():
                    return node.name
        return None

    def _first_nonfinite_forward(self, caches: dict[str, Cache]) -> str | None:
        for node in self.graph.nodes:
            if not np.isfinite(caches[node.name].a).all():
                return node.name
        return None

    def _first_nonfinite_grad(self, grads: dict[str, np.ndarray]) -> str | None:
        # A dot product is a cheap finiteness probe (NaN/inf propagate); only when it fails do we
        # look element by element, so an overflowing sum of squares is not a false alarm.
        for node in reversed(self.graph.nodes):
            for wname in self.trainable.get(node.name, ()):
                g = grads.get(f"{node.name}/{wname}")
                if g is None:
                    continue
                flat = g.reshape(-1)
                if not np.isfinite(np.dot(flat, flat)) and not np.isfinite(g).all():
                    return node.name
        return None

    def perceptron_layer(self) -> Node:
        """The layer the Perceptron rule trains (the first fully connected one)."""
        return next(n for n in self.graph.nodes if n.layer_type.fully_connected)

    def _perceptron_step(self, x: np.ndarray, y: np.ndarray) -> StepResult:
        """The seed's rule per sample: update = lr*(t - predict(x)); w += update*x; b += update."""
        node = self.perceptron_layer()
        w = self.weights[node.name]
        kernel = w["kernel"][:, 0]  # a view: updates land in the weights
        bias = w.get("bias")
        lr = self.optimizer.learning_rate
        x2 = x.reshape(len(x), -1)
        t = y.reshape(-1)
        preds = np.empty((len(x2), 1), dtype=self.dtype)
        errors = 0
        for i in range(len(x2)):
            xi = x2[i]
            net = np.dot(xi, kernel) + (bias[0] if bias is not None else 0.0)
            pred = 1.0 if net >= 0.0 else -1.0
            preds[i, 0] = pred
            update = lr * (t[i] - pred)
            if update != 0:
                errors += 1
                kernel += update * xi
                if bias is not None:
                    bias[0] += update
        self.optimizer.iterations += 1
        return StepResult(errors / max(len(x2), 1), preds)

    # ----------------------------------------------------------------- evaluation
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
        n = len(x)
        if n == 0:
            return {}
        total = 0.0
        metrics = MetricSet(self.metrics, self.loss)
        for i in range(0, n, batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            wb = None if sample_weight is None else sample_weight[i : i + batch_size]
            out, caches = self.forward(xb)
            total += self._loss_value_for(yb, out, caches, wb) * len(xb)
            if metrics:
                metrics.update(yb, out)
        return {"loss": total / n, **metrics.results()}

    def _loss_value_for(
        self, y: np.ndarray, out: np.ndarray, caches: dict[str, Cache], sample_weight=None
    ) -> float:
        if self.perceptron:
            return float(np.mean(out.reshape(-1) != y.reshape(-1)))
        res = self.loss_result(y, out, caches, want_grad_a=False, sample_weight=sample_weight)
        # Keras' evaluate adds the regularizers' penalties too (its model.losses).
        return float(self.dtype.type(res.value + self.penalties(caches)[0]))

    # ----------------------------------------------------------------- the step trace
    def trace_step(
        self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> Iterator[PhaseEvent]:
        """One training step as phase events: forward per layer, loss, backward per layer (in
        reverse), update per layer (each sample's loss weighted by ``sample_weight`` when
        given). Weights change only after the last update event has been consumed; closing
        the generator earlier leaves the model exactly as it was."""
        if self.perceptron:
            yield from self._perceptron_trace(self._cast_x(x), y)
            return
        rng_states = self.rng_states()
        committed = False
        try:
            outs = {INPUT: self._cast_x(x)}
            caches: dict[str, Cache] = {}
            for node in self.graph.nodes:
                inputs = [outs[s] for s in node.inbound]
                outs[node.name], caches[node.name] = self._forward_node(node, inputs, True)
                data: dict[str, Any] = {
                    "inputs": [i.copy() for i in inputs]
                    if node.layer_type.merge
                    else inputs[0].copy()
                }
                data.update({k: v.copy() for k, v in caches[node.name].trace_data().items()})
                yield PhaseEvent("forward", node.name, data)

            out = outs[self.graph.output]
            res = self.loss_result(y, out, caches, sample_weight=sample_weight)
            reg, act_grads = self.penalties(caches)
            loss_data: dict[str, Any] = {
                "value": float(res.value),
                # what the loss scores: the label-smoothed targets when it smooths them
                "targets": np.array(smoothed_targets(self.loss, self.loss_config, y)),
                "labels": np.array(y, copy=True),
                "grad": res.grad_a.copy(),
            }
            if sample_weight is not None:
                # the weights (times n/Σw with mean_with_sample_weight: what each sample's loss
                # and gradient were multiplied by), and the loss and gradient before them
                plain = self.loss_result(y, out, caches)
                w = np.asarray(sample_weight, dtype=self.dtype).reshape(-1)
                if self.loss_config.get("reduction") == "mean_with_sample_weight":
                    total = float(np.sum(w))
                    w = w * self.dtype.type(len(w) / total) if total else np.zeros_like(w)
                loss_data["sample_weight"] = w
                loss_data["value_unweighted"] = float(plain.value)
                loss_data["grad_unweighted"] = plain.grad_a.copy()
            if self.rules.penalizes:
                # the regularizers' part, and the whole loss the optimizer minimizes
                loss_data["regularization"] = float(reg)
                loss_data["total"] = float(self.dtype.type(res.value + reg))
            yield PhaseEvent("loss", self.graph.output, loss_data)
            penalty_grads = self.rules.weight_gradients(self._flat)

            grads: dict[str, np.ndarray] = {}
            pending: dict[str, np.ndarray] = {}
            for node in reversed(self.graph.nodes):
                if node.name == self.graph.output:
                    ga, gz = res.grad_a, res.grad_z
                else:
                    ga, gz = pending.pop(node.name), None
                ga, gz = self._with_activity(
                    node, caches[node.name], ga, gz, act_grads.get(node.name)
                )
                # The trace shows dL/d inputs everywhere, so compute it even for first layers.
                gins, wgrads, gz_used = self._backward_node(node, caches[node.name], ga, gz, True)
                parts: dict[str, np.ndarray] = {}
                for wname, g in list(wgrads.items()):
                    key = f"{node.name}/{wname}"
                    if key in penalty_grads:  # the data's gradient plus the penalty's
                        parts[f"data_grad_{wname}"] = g.copy()
                        parts[f"penalty_grad_{wname}"] = penalty_grads[key].copy()
                        wgrads[wname] = g + penalty_grads[key]
                    grads[key] = wgrads[wname]
                for src, g in zip(node.inbound, gins, strict=True):
                    if src == INPUT:
                        continue
                    pending[src] = pending[src] + g if src in pending else g
                data = {"grad_a": ga.copy()}
                if node.name in act_grads:  # the activity penalty's part of dL/da (or dL/dz)
                    data["grad_activity"] = act_grads[node.name].copy()
                if gz_used is not None:
                    data["grad_z"] = gz_used.copy()
                for wname, g in wgrads.items():
                    data[f"grad_{wname}"] = g.copy()
                data.update(parts)
                data["grad_inputs"] = (
                    [g.copy() for g in gins] if node.layer_type.merge else gins[0].copy()
                )
                yield PhaseEvent("backward", node.name, data)

            # Updates are computed on copies so that a half-consumed update phase changes nothing.
            state = self.optimizer.get_state()
            new_flat = {k: v.copy() for k, v in self._flat.items()}
            self.optimizer.apply(new_flat, grads)
            self.rules.constrain(new_flat)
            self._apply_state_updates(new_flat, caches)
            new_state = self.optimizer.get_state()
            slots = self.optimizer.slots()
            self.optimizer.set_state(state)
            for node in self.graph.nodes:
                if node.name not in self.weights:
                    continue
                before = {w: a.copy() for w, a in self.weights[node.name].items()}
                after = {w: new_flat[f"{node.name}/{w}"].copy() for w in before}
                opt = {
                    f"{w}/{s}": v.copy()
                    for w in before
                    for s, v in slots.get(f"{node.name}/{w}", {}).items()
                }
                yield PhaseEvent(
                    "update", node.name, {"before": before, "after": after, "optimizer": opt}
                )
            for key, arr in self._flat.items():
                np.copyto(arr, new_flat[key])
            self.optimizer.set_state(new_state)
            committed = True
        finally:
            if not committed:
                self.set_rng_states(rng_states)

    def _perceptron_trace(self, x: np.ndarray, y: np.ndarray) -> Iterator[PhaseEvent]:
        """The seed's rule on one sample, as phases. The 'gradient' shown is the perceptron
        criterion's, -(t - y_hat)·x, so that w <- w - lr·grad is exactly w + lr·(t - y_hat)·x."""
        node = self.perceptron_layer()
        x1 = x[:1].reshape(1, -1)
        t = np.asarray(y).reshape(-1)[:1].astype(self.dtype)
        w = self.weights[node.name]
        kernel, bias = w["kernel"], w.get("bias")
        net = np.dot(x1[0], kernel[:, 0]) + (bias[0] if bias is not None else 0.0)
        z = np.array([[net]], dtype=self.dtype)
        a = np.where(z >= 0.0, 1.0, -1.0).astype(self.dtype)
        yield PhaseEvent("forward", node.name, {"inputs": x1.copy(), "z": z.copy(), "a": a.copy()})
        err = (t - a[:, 0]).reshape(1, 1)
        yield PhaseEvent(
            "loss",
            node.name,
            {"value": float(a[0, 0] != t[0]), "targets": t.reshape(1, 1).copy(), "grad": -err},
        )
        lr = self.optimizer.learning_rate
        update = lr * (t[0] - a[0, 0])
        data = {
            "grad_a": -err,
            "grad_z": -err,
            "grad_kernel": (-(t[0] - a[0, 0]) * x1[0]).reshape(-1, 1),
            "grad_inputs": (-err[0, 0] * kernel[:, 0]).reshape(1, -1),
        }
        if bias is not None:
            data["grad_bias"] = -err[0]
        yield PhaseEvent("backward", node.name, data)
        before = {k: v.copy() for k, v in w.items()}
        after = {k: v.copy() for k, v in w.items()}
        after["kernel"][:, 0] += update * x1[0]
        if bias is not None:
            after["bias"][0] += update
        yield PhaseEvent("update", node.name, {"before": before, "after": after, "optimizer": {}})
        for k in w:
            np.copyto(w[k], after[k])
        self.optimizer.iterations += 1
