"""Watchpoints: the training debugger's conditions, evaluated by :class:`engine.training.Trainer`
between steps, that pause a run at the batch where it goes wrong (issue 19).

A project lists them in ``fit.watch``, in the serialized form callbacks use:
``[{"class_name": "LossSpike", "config": {"factor": 10}}, ...]``. The kinds:

- ``NonFinite``: a non-finite loss, gradient or weight (the step is refused, the weights before
  it kept: what the engine always did, now a pause instead of the end of the run);
- ``LossSpike``: the batch loss above ``factor`` times the median of the last ``window`` batch
  losses (after ``warmup`` batches);
- ``DeadUnits``: a layer's share of ReLU units that output 0 for every sample of the batch
  above ``level``; ``SaturatedUnits``: the share of a sigmoid/tanh layer's outputs in the flat
  tails above ``level``;
- ``VanishingGradients`` / ``ExplodingGradients``: the gradient norm of the first layer with
  weights over that of the last below / above ``ratio``;
- ``UpdateRatio``: a layer's update-to-weight ratio (||dW|| / ||W|| per step) outside
  [``low``, ``high``] for ``patience`` evaluations in a row (cs231n's rule of thumb, 1e-3);
- ``MetricCondition``: ``metric op value`` on an epoch's logs, from epoch ``after_epoch``
  (``val_accuracy < 0.5 after epoch 20``).

Loss watchpoints are evaluated at every step (they read the step's loss: no cost). The layer
watchpoints need the batch's activations and gradients, one probe pass as costly as a step:
they are evaluated before a step, on its batch: at the first step, then whenever their
measured time so far plus one more look stays within :data:`COST_BUDGET` of the training
time so far.

When one fires, :class:`WatchHit` says which, on which layer and step, and the batch's rows;
:func:`state_before` replays the epoch from its start to give the weights, optimizer state and
random streams before that step, for Backprop mode and the CLI's trace.
"""

from __future__ import annotations

import bisect
import math
import operator
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import NNDError

#: The layer watchpoints' share of training time they may take (their probes' measured time).
COST_BUDGET = 0.02
#: The share the states kept at epoch starts (for LossSpike's replay) may take.
CAPTURE_BUDGET = 0.01

DEFAULTS: dict[str, dict[str, Any]] = {
    "NonFinite": {},
    "LossSpike": {"factor": 25.0, "window": 50, "warmup": 10},
    "DeadUnits": {"level": 0.5},
    "SaturatedUnits": {"level": 0.9},
    "VanishingGradients": {"ratio": 1e-4},
    "ExplodingGradients": {"ratio": 1e4},
    "UpdateRatio": {"low": 1e-6, "high": 1e-1, "patience": 5},
    "MetricCondition": {"metric": "val_loss", "op": ">", "value": math.inf, "after_epoch": 0},
}
#: Every kind but MetricCondition, which needs a condition.
ALL_KINDS = tuple(k for k in DEFAULTS if k != "MetricCondition")
#: What ``--watch`` arms when the project names none: all but LossSpike, whose alarms a
#: converged classifier raises often (one misclassified sample in a batch is 10-50 times
#: the median loss then): armed by name, for runs that blow up.
DEFAULT_KINDS = tuple(k for k in ALL_KINDS if k != "LossSpike")
LAYER_KINDS = (
    "DeadUnits",
    "SaturatedUnits",
    "VanishingGradients",
    "ExplodingGradients",
    "UpdateRatio",
)
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_CONDITION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|<|>)\s*(?P<value>[-+0-9.eE]+|inf)"
    r"(?:\s+after\s+epoch\s+(?P<after>\d+))?\s*$"
)


@dataclass(frozen=True)
class WatchHit:
    """A watchpoint that fired.

    ``kind`` (``"LossSpike"``...), ``message`` (one sentence for people), ``epoch`` and
    ``step`` (1-based, the step whose batch it is), ``layer`` (or None), ``rows`` (the batch's
    rows in the training split, in order), ``applied`` (whether the step's update was made:
    True for a loss spike, which is seen in the step's own loss; False otherwise).
    """

    kind: str
    message: str
    epoch: int
    step: int
    layer: str | None
    rows: np.ndarray
    applied: bool

    def to_json(self) -> dict:
        return {
            "watchpoint": self.kind,
            "message": self.message,
            "epoch": self.epoch,
            "step": self.step,
            "layer": self.layer,
            "batch_rows": [int(r) for r in self.rows],
            "step_applied": self.applied,
        }


def parse_condition(text: str) -> dict:
    """``"val_accuracy < 0.5 after epoch 20"`` as a MetricCondition config."""
    m = _CONDITION.match(text or "")
    if m is None:
        raise NNDError(
            f"cannot read the condition {text!r}; write it as METRIC OP VALUE [after epoch N], "
            "e.g. 'val_accuracy < 0.5 after epoch 20' (OP one of <, <=, >, >=)"
        )
    try:
        value = float(m["value"])
    except ValueError:
        raise NNDError(f"the condition's value {m['value']!r} is not a number") from None
    return {
        "metric": m["metric"],
        "op": m["op"],
        "value": value,
        "after_epoch": int(m["after"] or 0),
    }


def watch_problems(specs: Any) -> list[str]:
    """What is wrong with a ``fit.watch`` list (empty when nothing)."""
    if not isinstance(specs, list):
        return ['must be a list of watchpoints, like [{"class_name": "LossSpike"}]']
    problems = []
    for i, spec in enumerate(specs):
        where = f"watchpoint {i + 1}"
        if isinstance(spec, str):
            spec = {"class_name": spec}
        if not isinstance(spec, dict) or spec.get("class_name") not in DEFAULTS:
            problems.append(f"{where}: class_name must be one of {', '.join(DEFAULTS)}")
            continue
        config = spec.get("config", {})
        if not isinstance(config, dict):
            problems.append(f"{where}: config must be a mapping")
            continue
        known = DEFAULTS[spec["class_name"]]
        for key, value in config.items():
            if key not in known:
                problems.append(
                    f"{where} ({spec['class_name']}): unknown setting {key!r}; known: "
                    f"{', '.join(known) or 'none'}"
                )
            elif key == "metric":
                if not isinstance(value, str) or not value:
                    problems.append(f"{where}: metric must be a logged metric's name")
            elif key == "op":
                if value not in _OPS:
                    problems.append(f"{where}: op must be one of {', '.join(_OPS)}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{where}: {key} must be a number, got {value!r}")
            elif key in ("window", "warmup", "patience", "after_epoch") and (
                value != int(value) or value < (0 if key in ("warmup", "after_epoch") else 1)
            ):
                problems.append(f"{where}: {key} must be a whole number of at least 1")
            elif key in ("factor", "level", "ratio", "low", "high") and not (
                math.isfinite(value) and value > 0
            ):
                problems.append(f"{where}: {key} must be a number above 0")
        if spec["class_name"] == "MetricCondition" and "metric" not in config:
            problems.append(f"{where}: MetricCondition needs a metric, an op and a value")
    return problems


def resolve(specs: list) -> list[tuple[str, dict]]:
    """``(kind, complete config)`` of each valid spec, in order."""
    out = []
    for spec in specs:
        if isinstance(spec, str):
            spec = {"class_name": spec}
        kind = spec["class_name"]
        out.append((kind, {**DEFAULTS[kind], **(spec.get("config") or {})}))
    return out


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


@dataclass
class Watcher:
    """The armed watchpoints of one run, and what they remember between steps.

    Parameters
    ----------
    specs : list
        ``fit.watch`` (validated).
    graph : Graph
        The network (which layers apply ReLU, sigmoid or tanh; which have weights).
    """

    specs: list
    graph: Any
    probe_seconds: float = 0.0
    _losses: deque = field(default_factory=lambda: deque(maxlen=1))
    _quiet: set = field(default_factory=set)
    _outside: dict = field(default_factory=dict)
    _last_probe: tuple | None = None
    _step_t: float = 0.0
    _probe_cost: float = 0.0
    _train_cost: float = 0.0
    _steps_total: int = 0
    _captures: int = 0
    _capture_cost: float = 0.0
    _capture_last: float = 0.0

    def __post_init__(self) -> None:
        self.armed = resolve(self.specs)
        self.kinds = {k for k, _ in self.armed}
        spike = self._spike = self.config("LossSpike")
        self._losses = deque(maxlen=int(spike["window"]) if spike else 1)
        self._window: list[float] = []
        self._warmup = max(int(spike["warmup"]), 1) if spike else 0
        self.probes = bool(self.kinds & set(LAYER_KINDS))
        #: Whether a hit can come after its step was made (a loss spike is seen in the step's
        #: own loss): the trainer then keeps the state each epoch starts from, to replay.
        self.replays = "LossSpike" in self.kinds
        self.evaluations = 0

    def config(self, kind: str) -> dict | None:
        return next((c for k, c in self.armed if k == kind), None)

    # ------------------------------------------------------------------ rearming
    def _fire(self, key, hit: WatchHit) -> WatchHit | None:
        """``hit`` unless the same watchpoint fired and its condition has not cleared since."""
        if key in self._quiet:
            return None
        self._quiet.add(key)
        return hit

    def _clear(self, key) -> None:
        self._quiet.discard(key)

    # ------------------------------------------------------------------ loss
    def after_step(self, epoch, step, loss: float, rows) -> WatchHit | None:
        """The loss watchpoints on a step's batch loss (the loss before its update, made).
        ``rows``: the batch's rows, or a function that gives them (asked only on a hit)."""
        spike = self._spike
        if spike is None or not math.isfinite(loss):
            return None
        hit = None
        window = self._window
        if len(window) >= self._warmup:
            median = window[len(window) // 2]  # of the sorted window
            if median > 0 and loss > spike["factor"] * median:
                hit = self._fire(
                    "LossSpike",
                    WatchHit(
                        "LossSpike",
                        f"the batch loss {loss:.4g} is {loss / median:.1f} times the median "
                        f"{median:.4g} of the last {len(window)} batches",
                        epoch,
                        step,
                        None,
                        np.asarray(rows() if callable(rows) else rows),
                        True,
                    ),
                )
            elif "LossSpike" in self._quiet:
                self._clear("LossSpike")
        # The last ``window`` losses, kept sorted (the median is the middle one).
        losses = self._losses
        if len(losses) == losses.maxlen:
            del window[bisect.bisect_left(window, losses[0])]
        losses.append(loss)
        bisect.insort(window, loss)
        return hit

    def nonfinite(self, epoch, step, layer, what: str, rows) -> WatchHit | None:
        if "NonFinite" not in self.kinds:
            return None
        where = f" in layer '{layer}'" if layer else ""
        return WatchHit(
            "NonFinite",
            f"{what} is not finite{where}: the step was refused, the weights before it kept",
            epoch,
            step,
            layer,
            np.asarray(rows),
            False,
        )

    def after_epoch(self, epoch: int, logs: dict) -> WatchHit | None:
        found = None
        for i, (kind, cfg) in enumerate(self.armed):
            if kind != "MetricCondition" or epoch < int(cfg["after_epoch"]):
                continue
            value = logs.get(cfg["metric"])
            if value is None:
                continue
            key = ("MetricCondition", i)
            if _OPS[cfg["op"]](float(value), float(cfg["value"])):
                hit = self._fire(
                    key,
                    WatchHit(
                        "MetricCondition",
                        f"{cfg['metric']} {cfg['op']} {cfg['value']:g} after epoch {epoch} "
                        f"({cfg['metric']} = {float(value):.4g})",
                        epoch,
                        0,
                        None,
                        np.zeros(0, dtype=np.int64),
                        True,
                    ),
                )
                found = found or hit
            else:
                self._clear(key)
        return found

    # ------------------------------------------------------------------ layers
    def probe_due(self) -> bool:
        """Whether the layer watchpoints look at the next batch: at the very first, where a
        network's start shows (dead or saturated units, vanishing gradients at initialization),
        then whenever the looks' time so far plus one more stays within :data:`COST_BUDGET` of
        the training time so far."""
        if not self.probes:
            return False
        if self.evaluations == 0:
            return True
        return self._probe_cost + self.probe_seconds <= COST_BUDGET * self._train_cost

    def capture_due(self) -> bool:
        """Whether this epoch's starting state is kept: the first, then as the budget allows."""
        return self._captures == 0 or (
            self._capture_cost + self._capture_last <= CAPTURE_BUDGET * self._train_cost
        )

    def captured(self, seconds: float) -> None:
        self._captures += 1
        self._capture_cost += seconds
        self._capture_last = seconds

    def step_timer(self) -> None:
        self._step_t = time.perf_counter()

    def step_done(self, steps: int = 1) -> None:
        """A call of ``steps`` training steps ended (timed from :meth:`step_timer`)."""
        self._train_cost += time.perf_counter() - self._step_t
        self._steps_total += steps

    def probe(self, model, epoch, step, x, y, rows) -> WatchHit | None:
        """The layer watchpoints on the batch ``(x, y)`` about to be trained (the model's weights
        are those before the step)."""
        from engine.monitor import dead_fraction, layer_gradients, layer_outputs, saturated_fraction

        t0 = time.perf_counter()
        self.evaluations += 1
        outputs = layer_outputs(model, x) if self.kinds & {"DeadUnits", "SaturatedUnits"} else {}
        grads = (
            layer_gradients(model, x, y)
            if self.kinds
            & {
                "VanishingGradients",
                "ExplodingGradients",
            }
            else {}
        )
        found: list[WatchHit] = []

        def hit(kind, key, message, layer):
            h = self._fire(
                key, WatchHit(kind, message, epoch, step, layer, np.asarray(rows), False)
            )
            if h is not None:
                found.append(h)

        dead, sat = self.config("DeadUnits"), self.config("SaturatedUnits")
        # (kind, config, the activations it watches, the share of units at fault, what).
        unit_checks = [
            (
                "DeadUnits",
                dead,
                ("relu",),
                lambda a, act: dead_fraction(a),
                "{share:.0%} of '{layer}''s ReLU units output 0 for every sample of the batch",
            ),
            (
                "SaturatedUnits",
                sat,
                ("sigmoid", "tanh"),
                saturated_fraction,
                "{share:.0%} of '{layer}''s {act} outputs sit in its flat tails",
            ),
        ]
        for node in self.graph.nodes:
            a = outputs.get(node.name)
            act = node.activation
            if a is None:
                continue
            for kind, cfg, acts, share_of, text in unit_checks:
                if cfg is None or act not in acts:
                    continue
                share = share_of(a, act)
                key = (kind, node.name)
                if share > cfg["level"]:
                    message = text.format(share=share, layer=node.name, act=act)
                    hit(kind, key, f"{message} (level {cfg['level']:.0%})", node.name)
                else:
                    self._clear(key)
        self._gradient_ratio(grads, hit)
        self._update_ratio(model, hit)
        took = time.perf_counter() - t0
        self._probe_cost += took
        # The first look also builds what the probes need (TensorFlow traces its probe
        # model): the next looks are expected to take what the later ones took.
        self.probe_seconds = (
            took if self.evaluations <= 2 else 0.7 * self.probe_seconds + 0.3 * took
        )
        return found[0] if found else None

    def _gradient_ratio(self, grads: dict, hit) -> None:
        layered = [(n.name, grads[n.name]) for n in self.graph.nodes if grads.get(n.name)]
        if len(layered) < 2:
            return
        (first, g1), (last, g2) = layered[0], layered[-1]
        n1 = _norm(next(iter(g1.values())))
        n2 = _norm(next(iter(g2.values())))
        if not (math.isfinite(n1) and math.isfinite(n2)) or n2 == 0:
            return
        ratio = n1 / n2
        for kind, bad in (
            ("VanishingGradients", lambda c: ratio < c["ratio"]),
            ("ExplodingGradients", lambda c: ratio > c["ratio"]),
        ):
            cfg = self.config(kind)
            if cfg is None:
                continue
            if bad(cfg):
                hit(
                    kind,
                    kind,
                    f"the gradient norm of '{first}' is {ratio:.2g} times that of '{last}' "
                    f"({'below' if kind.startswith('V') else 'above'} {cfg['ratio']:g})",
                    first,
                )
            else:
                self._clear(kind)

    def _update_ratio(self, model, hit) -> None:
        cfg = self.config("UpdateRatio")
        if cfg is None:
            return
        now = {
            key: np.array(w, copy=True)
            for key, w in model.flat_weights().items()
            if key.endswith("/kernel")
        }
        before, self._last_probe = self._last_probe, (now, self._steps_total)
        if before is None:
            return
        weights_then, steps_then = before
        elapsed = max(1, self._steps_total - steps_then)
        for key, w in now.items():
            old = weights_then.get(key)
            if old is None or old.shape != w.shape:
                continue
            base = _norm(old)
            if base == 0:
                continue
            ratio = _norm(w - old) / base / elapsed
            layer = key.rsplit("/", 1)[0]
            k = ("UpdateRatio", layer)
            if cfg["low"] <= ratio <= cfg["high"]:
                self._outside[k] = 0
                self._clear(k)
                continue
            self._outside[k] = self._outside.get(k, 0) + 1
            if self._outside[k] >= int(cfg["patience"]):
                hit(
                    "UpdateRatio",
                    k,
                    f"'{layer}''s updates are {ratio:.2g} of its weights per step, outside "
                    f"[{cfg['low']:g}, {cfg['high']:g}] for {self._outside[k]} looks in a row",
                    layer,
                )

    @property
    def steps_per_look(self) -> float:
        """Training steps per look so far (what the budget allowed)."""
        return self._steps_total / max(self.evaluations, 1)

    def cost_share(self) -> float:
        """The probes' time over the steps' time so far."""
        return self._probe_cost / self._train_cost if self._train_cost else 0.0


def before_step(project, graph, start, order, first_batch: int, batch_size: int, data, step):
    """The state before ``step`` of an epoch, for Backprop mode and the trace: a NumPy model
    put in ``start`` (the :class:`~engine.snapshots.Snapshot` taken as the epoch began) and
    trained on the epoch's batches before ``step`` (``order``: the pass's shuffled rows, None
    unshuffled; ``first_batch``: the epoch's first batch in the pass). Bit for bit the run's
    state on the NumPy engine; another engine's run is replayed on NumPy from its state.

    Returns
    -------
    (model, Snapshot)
        The model in that state, and the state as a snapshot (``partial`` False).
    """
    from engine.snapshots import Snapshot
    from engine.training import build_model

    model = build_model(project, graph, "numpy", weights=False)
    model.set_flat_weights(start.weights)
    if start.optimizer:
        model.optimizer.set_state(start.optimizer)
    rng = start.rng or {}
    if rng.get("backend") == "numpy" and rng.get("layers"):
        model.set_rng_states(rng["layers"])
    n = len(data.x_train)
    for s in range(1, step):
        lo = (first_batch + s - 1) * batch_size
        idx = batch_rows(order, lo, min(lo + batch_size, n))
        extra = {} if data.sw_train is None else {"sample_weight": data.sw_train[idx]}
        model.train_step(data.x_train[idx], data.y_train[idx], step=s, **extra)
    snap = Snapshot(
        epoch=start.epoch,
        weights=model.flat_weights(),
        optimizer=model.optimizer.get_state(),
        rng={"backend": "numpy", "layers": model.rng_states()},
    )
    return model, snap


def batch_rows(order, lo: int, hi: int) -> np.ndarray:
    """The training split's rows of the batch ``[lo, hi)`` of a pass (``order`` None: in order)."""
    return np.arange(lo, hi) if order is None else np.asarray(order[lo:hi])
