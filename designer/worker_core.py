"""The training worker without Qt: :class:`TrainingCore` serves commands and runs the engine's
training loop, writing what the views need into a :class:`Mailbox`.

It runs in one of two places (:mod:`designer.workers` picks and owns it):

- **a child process** (the default): :func:`child_main` runs the core on the child's main
  thread, a reader thread feeds it the commands that arrive on a pipe, and a sender thread
  pickles what the mailbox holds back to the UI process at most every ``DRAIN_INTERVAL_MS``.
  Training then never waits for the UI's interpreter lock, and a crash in a backend cannot
  take the window with it;
- **a thread** of the UI process (``NND_TRAINING_WORKER=thread``, or where a process cannot
  start).

How data flows (DESIGN.md principle 6; acq4 #595 is the failure this avoids)::

    worker                                        UI thread
    Trainer.run(1) ─ step ─▶ Mailbox.post_step ┐
                  ─ ~0.1 s ▶ snapshot ─────────┤   QTimer ≤ 30 Hz ─▶ take() ─▶ drained(Batch)
                  ─ state/errors ▶ events ─────┘        ▲
                                      └── wake (rare) ──┘

- Nothing is posted per step as a signal or a message. Each step appends its loss to a list
  under a lock; the list is swapped out when it is drained, so no value is lost and the
  backlog is bounded by the drain period. Snapshots and progress are "latest value wins"
  slots; a new snapshot is computed only after the previous one was taken (back-pressure), at
  most every ``SNAPSHOT_PERIOD`` seconds and never costing more than ~20 % of the time.
- Control goes the other way through a thread-safe command queue that the core reads between
  steps. The UI never touches the model: weights reach it only as copies (in snapshots and in
  "handoff" events).
- Exceptions inside the core become an ``error`` event with a message; the core drops its
  model and keeps serving commands.

This module imports neither Qt nor TensorFlow (a child process starts without them).
"""

from __future__ import annotations

import collections
import copy
import gc
import json
import math
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import NNDError, NonFiniteError

#: The UI drains the mailbox this often (milliseconds): 20 Hz, under the ~30 Hz ceiling. Every
#: drain wakes the UI thread, which then takes the interpreter lock from the worker for a
#: moment; the views render at most 10 times a second anyway.
DRAIN_INTERVAL_MS = 50
#: Snapshots for the live views: at most this often (seconds)...
SNAPSHOT_PERIOD = 0.1
#: ...and spaced so that they take at most 1/(1 + SNAPSHOT_COST_FACTOR) of the time (a slow
#: snapshot spaces them out). Two targets pull apart here: the views within ~0.2 s of the run
#: (issue 13) and live training within 1.15x of headless (issue 5). On the spiral a snapshot
#: costs ~20 ms for 5 ms epochs: at 40 the views showed one state a second; at 4 they trail
#: by ~0.1 s, at 6 and 12 the boundary trailed by 0.65-0.9 s. The epoch report is paced apart
#: (REPORT_COST_FACTOR): paced at 4 too, it took live MNIST-shaped training to 1.70x.
SNAPSHOT_COST_FACTOR = 4.0
#: A snapshot costlier than this (seconds) is spaced further, towards SLOW_SNAPSHOT_FACTOR
#: times its cost (at most ~1/17 of the time; MNIST-shaped MLP data with its decision
#: boundary: ~1.25x headless at 4). Cheaper ones keep their pace: the views within ~0.2 s.
CHEAP_SNAPSHOT_S = 0.02
SLOW_SNAPSHOT_FACTOR = 16.0
#: Training steps this slow (seconds, a running mean) are a real network's, whose run lasts
#: minutes: its snapshots get 1/(1 + SLOW_SNAPSHOT_FACTOR) of the time whatever they cost. A
#: LeNet step on 28x28 images costs ~19 ms and its snapshot ~22 ms, as much as the spiral's
#: (whose steps cost well under 1 ms): paced at 4, live LeNet training ran ~1.2x headless
#: (issue 15's target 1.15x); at 16 its views refresh about three times a second.
SLOW_STEP_S = 0.01
#: Weight of the newest step in that running mean.
STEP_MEAN_WEIGHT = 0.1
#: The epoch report (confusion matrix, per-class figures over the validation set) is not a
#: view that must keep up with the run: at most 1/(1 + REPORT_COST_FACTOR) of the time.
REPORT_COST_FACTOR = 40.0
#: How often the UI thread collects garbage while a worker keeps the collector paused (ms).
GC_TICK_MS = 250
#: Confusion matrices at epoch ends: at most this often (seconds); the last one always.
EPOCH_REPORT_PERIOD = 0.5

STATES = ("idle", "building", "running", "paused")


def snapshot_spacing(cost: float, step_s: float = 0.0) -> float:
    """Seconds from the end of a snapshot that cost ``cost`` seconds to the next one, when a
    training step costs ``step_s`` seconds: at least SNAPSHOT_PERIOD; SNAPSHOT_COST_FACTOR
    times the cost up to CHEAP_SNAPSHOT_S, growing towards SLOW_SNAPSHOT_FACTOR times it
    beyond (continuous at CHEAP_SNAPSHOT_S); SLOW_SNAPSHOT_FACTOR times it when steps take
    SLOW_STEP_S or more."""
    offset = (SLOW_SNAPSHOT_FACTOR - SNAPSHOT_COST_FACTOR) * CHEAP_SNAPSHOT_S
    factor = SLOW_SNAPSHOT_FACTOR if step_s >= SLOW_STEP_S else SNAPSHOT_COST_FACTOR
    return max(SNAPSHOT_PERIOD, factor * cost, SLOW_SNAPSHOT_FACTOR * cost - offset)


# ------------------------------------------------------------------------------ the mailbox
@dataclass
class StepRecord:
    """One training step as the UI keeps it. ``x`` is the position in epochs (epoch - 1 +
    step / steps_per_epoch), ``logs`` the running means of the epoch so far."""

    gstep: int
    epoch: int
    step: int
    steps_per_epoch: int
    x: float
    batch_loss: float
    logs: dict[str, float]
    samples: int
    #: The run it belongs to (a reset or a rebuild that re-initialises starts a new one).
    run: int = 0
    #: ``time.monotonic()`` when the step ended, in the worker (a system-wide clock on Linux
    #: and macOS, so a child process's times compare with the window's): how far behind the
    #: run the views are (tests/benchmarks/bench_view_lag.py).
    t: float = 0.0
    #: The learning rate the step's update used (a schedule's rate at that step).
    learning_rate: float = math.nan


@dataclass
class Batch:
    """What one drain hands to the UI: every step and epoch since the last drain, the events
    in order, and the latest snapshot / epoch report / build info (None when unchanged)."""

    steps: list[StepRecord] = field(default_factory=list)
    epochs: list[tuple[int, dict[str, float], int]] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    snapshot: Any = None
    epoch_report: Any = None

    def __bool__(self) -> bool:
        return bool(
            self.steps
            or self.epochs
            or self.events
            or self.snapshot is not None
            or self.epoch_report is not None
        )


class Mailbox:
    """Append-only lists (steps, epochs, events) and latest-value slots, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[StepRecord] = []
        self._epochs: list[tuple[int, dict[str, float], int]] = []
        self._events: list[tuple] = []
        self._latest: dict[str, Any] = {}
        #: False while a snapshot waits for the UI: the worker computes no new one meanwhile.
        self.snapshot_taken = True

    def post_step(self, rec: StepRecord) -> None:
        with self._lock:
            self._steps.append(rec)

    def post_epoch(self, epoch: int, logs: dict[str, float], run: int = 0) -> None:
        with self._lock:
            self._epochs.append((epoch, dict(logs), run))

    def post_event(self, *event) -> None:
        with self._lock:
            self._events.append(event)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._latest[key] = value
            if key == "snapshot":
                self.snapshot_taken = False

    def merge(self, batch: Batch) -> None:
        """Add what another mailbox handed over (a child process's batch, in order)."""
        with self._lock:
            self._steps.extend(batch.steps)
            self._epochs.extend(batch.epochs)
            self._events.extend(batch.events)
            if batch.snapshot is not None:
                self._latest["snapshot"] = batch.snapshot
            if batch.epoch_report is not None:
                self._latest["epoch_report"] = batch.epoch_report

    def pending(self) -> int:
        """How many step records wait (for tests of the bounded backlog)."""
        with self._lock:
            return len(self._steps)

    def take(self, mark_taken: bool = True) -> Batch:
        """Everything posted since the last take. ``mark_taken=False``: a snapshot in it does
        not count as seen yet (a child process sends it on; the window acknowledges it)."""
        with self._lock:
            batch = Batch(
                self._steps,
                self._epochs,
                self._events,
                self._latest.pop("snapshot", None),
                self._latest.pop("epoch_report", None),
            )
            self._steps, self._epochs, self._events = [], [], []
            if batch.snapshot is not None and mark_taken:
                self.snapshot_taken = True
        return batch


# ------------------------------------------------------------------------------ configuration
@dataclass
class RunConfig:
    """What the worker builds from: a copy of the spec, where it lives (relative data paths),
    the weights to start from and the spec they belong to, and whether to keep the weights of
    unchanged layers."""

    spec: dict
    path: str | None = None
    weights: dict[str, np.ndarray] | None = None
    weights_spec: dict | None = None
    keep_weights: bool = True
    history: dict[str, list[float]] | None = None
    epochs_done: int = 0
    #: Forget the model built before (another project, or the user chose to re-initialise).
    fresh: bool = False
    #: Echoed in the events, so the UI can ignore those of an older configuration.
    gen: int = 0
    #: The plane of the decision boundary for data with more than two features (see
    #: :func:`engine.data.projection.Projection.from_choice`); None: the default plane.
    projection: dict | None = None
    #: A run's epoch-end state to continue from (:class:`engine.snapshots.Snapshot`: weights,
    #: optimizer, random streams, callbacks) — "Continue from here"; ``history`` is then the
    #: line's history up to that epoch. A new run of the project.
    restore: Any = None
    #: The window's run now and its steps so far: a new process (after a crash, or for
    #: another split of the CPU) counts on from them, so that a continued run keeps its
    #: number and its curves go on.
    run_id: int = 0
    gstep: int = 0


def layer_classes(spec: dict | None) -> dict[str, str]:
    """``{layer name: class name}`` of a spec."""
    out: dict[str, str] = {}
    if not spec:
        return out
    for layer in (spec.get("model") or {}).get("layers") or []:
        if isinstance(layer, dict):
            name = (layer.get("config") or {}).get("name")
            if isinstance(name, str):
                out[name] = str(layer.get("class_name"))
    return out


def merge_weights(
    init: dict[str, dict[str, np.ndarray]],
    old: dict[str, dict[str, np.ndarray]],
    old_classes: dict[str, str],
    new_classes: dict[str, str],
) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Weights for a rebuilt model: ``old`` ones for layers with the same name, class and
    weight shapes, ``init`` for the rest. Returns (weights, names of the layers kept)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    kept: list[str] = []
    for layer, ws in init.items():
        src = old.get(layer)
        same = (
            src is not None
            and old_classes.get(layer) == new_classes.get(layer)
            and set(src) == set(ws)
            and all(np.shape(src[k]) == ws[k].shape for k in ws)
        )
        if same:
            out[layer] = {k: np.asarray(src[k]) for k in ws}
            kept.append(layer)
        else:
            out[layer] = ws
    return out, kept


def make_model(project, graph):
    """The project's model on its backend, freshly initialised from its seed (no weights)."""
    from engine.training import build_model

    return build_model(project, graph, weights=False)


#: Why the window does not train a ``{"strategy": "multiworker"}`` project: its cluster is
#: one process per worker, each started by hand with that worker's ``TF_CONFIG``.
MULTIWORKER_REFUSAL = (
    "A multiworker cluster trains from the command line, one process per worker: run "
    "nndesigner train PROJECT --backend tensorflow --distribute multiworker on each worker, "
    "with its TF_CONFIG. The window trains the mirrored strategy (every GPU, or "
    '"replicas": N logical CPU devices).'
)


def distribute_refusal(spec: dict) -> str:
    """Why the window cannot train ``spec``'s ``distribute`` section ('' when it can): a
    multiworker cluster trains from the command line only."""
    dist = spec.get("distribute")
    if isinstance(dist, dict) and dist.get("strategy") == "multiworker":
        return MULTIWORKER_REFUSAL
    return ""


def cpu_devices(spec: dict | None) -> int | None:
    """The logical CPU devices that TensorFlow must start with to train ``spec``: the
    ``replicas`` of a mirrored ``distribute`` section on the TensorFlow backend. None when
    any split does (no such section: TensorFlow's first CPU device, or every GPU).

    TensorFlow fixes its devices when it starts, once per process (see
    :func:`engine.backends.tensorflow.distribute.configure_replicas`): another count needs
    another process."""
    from engine.training import distribute_setting

    if not isinstance(spec, dict) or spec.get("backend") != "tensorflow":
        return None
    setting = distribute_setting(spec)
    if setting is None or setting[0] != "mirrored":
        return None
    return setting[1]


def _data_key(spec: dict, path: str | None) -> str:
    """What the loaded data depends on (reloading MNIST for a learning-rate change is slow)."""
    fit = spec.get("fit") or {}
    model = spec.get("model") or {}
    layers = model.get("layers") or []
    last = layers[-1] if layers else {}
    return json.dumps(
        [
            spec.get("dataset"),
            fit.get("validation_split"),
            fit.get("seed"),
            spec.get("dtype"),
            (spec.get("compile") or {}).get("loss"),
            _optimizer_class(spec),
            model.get("input_shape"),
            last,
            path,
        ],
        sort_keys=True,
        default=str,
    )


# ------------------------------------------------------------------------------ the collector
def _ui_collects() -> bool:
    """Whether the window's process collects on its UI thread for good (designer.gc_policy);
    the training child never imports Qt, so there this is always False."""
    policy = sys.modules.get("designer.gc_policy")
    return bool(policy is not None and policy.active())


class GcPause:
    """Python's cyclic garbage collector kept off while a worker computes.

    The collector runs in whichever thread allocates when a generation fills up. In a
    training worker that is nearly always the worker, mid-step, and it would then delete
    garbage Qt objects (closed windows, pyqtgraph menus) off their thread, which can crash or
    deadlock Qt. So a worker holds the pause while it computes and lets go before it waits
    for a command; meanwhile :class:`TrainingSession` collects the young generations on the UI
    thread (:meth:`collect_on_ui`). Nested and thread-safe: the collector comes back on when
    the last holder lets go (and only if it was on before).
    """

    _lock = threading.Lock()
    depth = 0
    _was_enabled = True

    @classmethod
    def hold(cls) -> None:
        with cls._lock:
            if cls.depth == 0:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls.depth += 1

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            if cls.depth == 0:
                return
            cls.depth -= 1
            if cls.depth == 0 and cls._was_enabled and not _ui_collects():
                gc.enable()

    @classmethod
    def collect_on_ui(cls, tick: int) -> None:
        """While paused: the youngest generation every tick, the middle one every 8th (2 s), a
        full pass (~0.1 s; ~0.4 s with TensorFlow loaded) every 240th (a minute)."""
        if cls.depth == 0:
            return
        gc.collect(2 if tick % 240 == 0 else 1 if tick % 8 == 0 else 0)


# ------------------------------------------------------------------------------ the worker
class TrainingCore:
    """Runs the engine's training loop on the thread that calls :meth:`run`; controlled
    through :meth:`post` (from any thread).

    Callbacks, called on the core's thread:

    on_wake() : something the UI should see now (a state change, an error), rarely.
    on_failed(str) : an exception stopped training; the message is for the user.
    on_finished() : the loop ended (after a ``quit`` command).

    ``pause_gc``: keep Python's collector paused while computing (:class:`GcPause`), as a
    thread of the UI process must; a child process has no Qt objects to protect.
    """

    def __init__(
        self,
        mailbox: Mailbox,
        on_wake: Callable[[], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        pause_gc: bool = True,
    ) -> None:
        self.mailbox = mailbox
        self.on_wake = on_wake or _nothing
        self.on_failed = on_failed or _nothing
        self.on_finished = on_finished or _nothing
        self.pause_gc = pause_gc
        self._cmds: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._config: RunConfig | None = None
        self._dirty = True  # the config changed since the model was built
        self._data_cache: tuple[str, Any] | None = None
        self.model = None
        self.trainer = None
        self.monitor = None
        self.graph = None
        self.project = None
        self._gen = None
        self._budget: tuple | None = None
        self.state = "idle"
        self.target_epochs = 1
        self.gstep = 0
        self._samples = 0
        self._next_snapshot = 0.0
        #: Running mean of a training step's seconds (snapshots and reports left out), and
        #: when the last step ended (None: the next step starts the count afresh).
        self._step_s = 0.0
        self._step_end: float | None = None
        self._next_report = 0.0
        self._report_due = False
        self._sample_index = 0
        #: The scrubber's epoch shown (its weights in the model) and the model's own weights
        #: kept aside meanwhile; None when the model shows its own state.
        self._rewound_epoch: int | None = None
        self._rewound: dict | None = None
        #: Wall time spent training (with a budget), since the last build or reset.
        self.train_seconds = 0.0
        self._t_budget: float | None = None
        #: CPU time of this thread spent training, likewise (benchmarks: wall time minus this
        #: is time spent waiting, for the interpreter lock or for a CPU).
        self.train_cpu_seconds = 0.0
        self._cpu_budget: float | None = None
        self._built_spec: dict | None = None
        self.run_id = 0
        #: Counts the planes of the decision boundary (each build and plane change is one): a
        #: snapshot says on which one it was drawn, so the window never draws a snapshot of
        #: the old plane on the new one.
        self.plane = 0

    # ------------------------------------------------------------------ thread-safe API
    def post(self, *cmd) -> None:
        """Queue a command: ``("configure", RunConfig)``, ``("play",)``, ``("pause",)``,
        ``("step", n)``, ``("step_epoch",)``, ``("stop",)``, ``("reset",)``, ``("live", spec)``
        (a new learning rate or epoch count, applied between two steps), ``("sample", i)``,
        ``("projection", choice)`` (the decision boundary's plane), ``("show",)`` (build if need
        be and send the views of the current weights, without training), ``("quit",)``."""
        with self._cv:
            self._cmds.append(cmd)
            self._cv.notify()

    def quit_now(self) -> None:
        """Drop the commands still queued and end the loop at the next step boundary."""
        with self._cv:
            self._cmds.clear()
            self._cmds.append(("quit",))
            self._cv.notify()

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """The thread's body: serve commands, train while there is a budget."""
        holding = False
        try:
            while True:
                if self._budget is not None:
                    cmd = self._cmds.popleft() if self._cmds else None
                else:
                    with self._cv:
                        if not self._cmds and holding:
                            GcPause.release()  # idle: the collector may run as usual
                            holding = False
                        while not self._cmds:
                            self._cv.wait()
                        cmd = self._cmds.popleft()
                if not holding and self.pause_gc:
                    GcPause.hold()
                    holding = True
                if cmd is not None:
                    if cmd[0] == "quit":
                        break
                    self._guarded(self._handle, cmd)
                    self.on_wake()  # what the command changed is worth showing now
                    continue
                self._guarded(self._advance)
        finally:
            self._close_gen()
            self.model = self.trainer = self.monitor = None
            if holding:
                GcPause.release()
            self.on_finished()

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, NNDError):
            msg = str(exc)
        else:
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (in {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
            msg = f"training failed: {type(exc).__name__}: {exc}{where}"
        self._close_gen()
        self._budget = None
        self.model = self.trainer = self.monitor = None
        self._dirty = True
        self._set_state("idle")
        self.mailbox.post_event("error", msg)
        self.on_failed(msg)
        self.on_wake()

    def _set_state(self, state: str) -> None:
        now = time.perf_counter()
        if state == "running" and self._t_budget is None:
            self._t_budget = now
            self._cpu_budget = time.thread_time()
        elif state != "running" and self._t_budget is not None:
            self.train_seconds += now - self._t_budget
            self.train_cpu_seconds += time.thread_time() - self._cpu_budget
            self._t_budget = self._cpu_budget = None
        if state != self.state:
            self.state = state
            self.mailbox.post_event("state", state)
            self.on_wake()

    # ------------------------------------------------------------------ commands
    def _handle(self, cmd: tuple) -> None:
        kind = cmd[0]
        if kind in ("configure", "play", "step", "step_epoch", "stop", "reset", "show"):
            self._unrewind()  # the scrubber's weights never train, nor carry over
        if kind == "configure":
            self._close_gen()
            if self._budget is not None:
                self._budget = None
                self._handoff()
            self._config = cmd[1]
            self._dirty = True
            self._set_state("idle")
        elif kind == "rewind":
            self._rewind(cmd[1], cmd[2])
        elif kind == "play":
            if self._ensure_model():
                ended = self.trainer.stop_reason is not None  # a callback ended the last run
                if self._gen is None and (ended or self.trainer.epochs_done >= self.target_epochs):
                    self.trainer.stop_reason = None  # Play again: a new fit, callbacks anew
                    self.target_epochs = self.trainer.epochs_done + max(
                        1, int(self._config.spec.get("fit", {}).get("epochs", 1))
                    )
                self._budget = ("run",)
                self._set_state("running")
        elif kind == "step":
            if self._ensure_model():
                self._budget = ("steps", max(1, int(cmd[1]) if len(cmd) > 1 else 1))
                self._set_state("running")
        elif kind == "step_epoch":
            if self._ensure_model():
                self._budget = ("epoch",)
                self._set_state("running")
        elif kind == "show":
            # The views of the weights given, without training (a reopened trained project):
            # a snapshot and the confusion matrix, at once.
            if self._budget is None and self._ensure_model():
                self._snapshot(force=True)
                self._report_due = True
                self._epoch_report()
        elif kind == "pause":
            if self._budget is not None:
                self._suspend()
        elif kind == "stop":
            was_active = self._budget is not None or self._gen is not None
            self._budget = None
            self._close_gen()
            if self.model is not None and was_active:
                self._snapshot(force=True)
                self._handoff()
            self._set_state("idle")
        elif kind == "reset":
            self._reset()
        elif kind == "live":
            # Settings that apply without a rebuild: the learning rate and the epoch count.
            spec = cmd[1]
            if self._config is not None:
                self._config.spec = spec
            if self.model is not None and not self._dirty:
                self._built_spec = copy.deepcopy(spec)
                lr = _spec_lr(spec)
                if lr is not None and lr != self.model.learning_rate:
                    self.model.learning_rate = lr
                epochs = int((spec.get("fit") or {}).get("epochs", 1))
                self.target_epochs = max(1, epochs)
        elif kind == "sample":
            self._sample_index = int(cmd[1])
            if self.monitor is not None:
                self.monitor.sample_index = self._sample_index
                if self._budget is None:
                    self._snapshot(force=True)
                    self.on_wake()
        elif kind == "projection":
            # Another plane for the decision boundary: new grids, the same model and run.
            if self._config is not None:
                self._config.projection = cmd[1]
            if self.monitor is not None:
                self.monitor.set_projection(cmd[1])
                self.plane += 1
                self.mailbox.post_event(
                    "info",
                    {
                        "info": self.monitor.build_info(),
                        "run_id": self.run_id,
                        "gen": self._config.gen,
                        "plane": self.plane,
                    },
                )
                self._snapshot(force=True)
                self.on_wake()
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown command {cmd!r}")

    def _suspend(self) -> None:
        """Stop advancing; the epoch generator (if any) waits at a step boundary."""
        self._budget = None
        self._step_end = None  # the pause is no step's time
        self._snapshot(force=True)
        self._handoff()
        self._set_state("paused" if self._gen is not None else "idle")

    def _close_gen(self) -> None:
        if self._gen is not None:
            gen, self._gen = self._gen, None
            gen.close()

    # ------------------------------------------------------------------ building
    def _ensure_model(self) -> bool:
        if self._config is None:
            raise NNDError("nothing to train: no project was given to the training worker")
        if self.model is not None and not self._dirty:
            return True
        self._build()
        return self.model is not None

    def _build(self) -> None:
        from engine.monitor import Monitor
        from engine.project import Project, weights_by_layer
        from engine.training import load_training_data, make_trainer
        from engine.validate import check_project

        cfg = self._config
        refusal = distribute_refusal(cfg.spec)
        if refusal:
            raise NNDError(refusal)  # the window refuses first; a script may not
        self._set_state("building")
        old_model = self.model
        old_trainer = self.trainer
        old_backend = getattr(old_model, "name", None)
        carried_weights = None
        if cfg.fresh:
            old_model = old_trainer = None
        if old_model is not None:
            # A rebuild (settings changed): start from the model's current weights.
            carried_weights = old_model.get_weights()
            old_spec = self._built_spec
        elif cfg.weights:
            carried_weights = weights_by_layer(cfg.weights)
            old_spec = cfg.weights_spec
        else:
            old_spec = None
        self._close_gen()
        self.model = self.trainer = self.monitor = None
        self._step_s, self._step_end = 0.0, None  # another network: its steps counted anew
        if old_backend == "tensorflow":
            _clear_keras_session()

        self.run_id = max(self.run_id, int(cfg.run_id))
        project = Project(copy.deepcopy(cfg.spec), Path(cfg.path) if cfg.path else None)
        graph = check_project(project)
        key = _data_key(cfg.spec, cfg.path)
        if self._data_cache is not None and self._data_cache[0] == key:
            data = self._data_cache[1]
        else:
            self._data_cache = None
            data = load_training_data(project, graph)
            self._data_cache = (key, data)
        model = make_model(project, graph)
        kept: list[str] = []
        init = model.get_weights()
        if carried_weights and cfg.keep_weights:
            merged, kept = merge_weights(
                init, carried_weights, layer_classes(old_spec), layer_classes(cfg.spec)
            )
            model.set_weights(merged)
        fit = project.fit
        trainer = make_trainer(model, data, fit)
        continued = bool(init) and len(kept) == len(init)
        if cfg.restore is not None:
            from engine.snapshots import restore

            # Continue a run from its snapshot: everything as it was then, a new run here.
            restore(trainer, cfg.restore)
            trainer.history = copy.deepcopy(cfg.history or {})
            continued = False
            self.gstep = 0
            self._samples = 0
            self.train_seconds = self.train_cpu_seconds = 0.0
            self.run_id += 1
        elif continued and old_trainer is not None:
            trainer.history = copy.deepcopy(old_trainer.history)
            trainer.epochs_done = old_trainer.epochs_done
        elif continued and cfg.history:
            trainer.history = copy.deepcopy(cfg.history)
            trainer.epochs_done = int(cfg.epochs_done)
            self.gstep = max(self.gstep, int(cfg.gstep))  # a new process: the window's count
        else:
            self.gstep = 0
            self._samples = 0
            self.train_seconds = self.train_cpu_seconds = 0.0
            self.run_id += 1
        self.graph = graph
        self.project = project
        self.model = model
        self.trainer = trainer
        self._built_spec = copy.deepcopy(cfg.spec)
        self._dirty = False
        self.target_epochs = max(trainer.epochs_done + 1, int(fit.get("epochs", 1)))
        ds = project.dataset
        self.monitor = Monitor(
            model,
            graph,
            data,
            dataset_name=ds.get("name"),
            seed=int(fit.get("seed", 0)),
            projection=cfg.projection,
        )
        self.monitor.sample_index = self._sample_index
        self.plane += 1
        note = ""
        if old_model is not None and continued and old_backend != model.name:
            from engine.backends.tensorflow import SWITCH_NOTE

            note = f"switched to the {model.name} backend: {SWITCH_NOTE}"
        self.mailbox.post_event(
            "build",
            {
                "info": self.monitor.build_info(),
                "backend": model.name,
                "continued": continued,
                "kept": kept,
                "run_id": self.run_id,
                "note": note,
                "epochs_done": trainer.epochs_done,
                "steps_per_epoch": trainer.steps_per_epoch,
                "batch_size": trainer.batch_size,
                # TensorFlow's count of the strategy's replicas (every GPU: only it knows)
                "replicas": getattr(getattr(model, "strategy", None), "num_replicas_in_sync", 1),
                "distribute": copy.deepcopy(cfg.spec.get("distribute")),
                "weights": model.flat_weights(),
                "history": copy.deepcopy(trainer.history),
                "gen": cfg.gen,
                "plane": self.plane,
            },
        )
        self._snapshot(force=True)
        self._set_state("idle")

    def _reset(self) -> None:
        self._close_gen()
        self._budget = None
        if self.model is None or self._dirty:
            if self._config is not None:
                self._config.weights = None
                self._config.history = None
            self.model = None
            self._set_state("idle")
            self.mailbox.post_event("reset", None)
            self.on_wake()
            return
        from engine.monitor import Monitor
        from engine.training import Trainer

        fit = self._config.spec.get("fit") or {}
        seed = int(fit.get("seed", 0))
        self.model.initialize(seed)
        lr = _spec_lr(self._config.spec)
        if lr is not None:
            self.model.learning_rate = lr  # a live change outlives the reset
        old = self.trainer
        self.trainer = Trainer(
            self.model,
            old.data,
            old.batch_size,
            old.shuffle,
            seed,
            old.callback_specs,
            old.steps_limit,
            old.initial_epoch,
        )
        self.monitor = Monitor(
            self.model,
            self.graph,
            old.data,
            dataset_name=(self._config.spec.get("dataset") or {}).get("name"),
            seed=seed,
            projection=self._config.projection,
        )
        self.monitor.sample_index = self._sample_index
        self.gstep = 0
        self._samples = 0
        self.train_seconds = self.train_cpu_seconds = 0.0
        self.run_id += 1
        self.target_epochs = max(1, int(fit.get("epochs", 1)))
        self.mailbox.post_event("reset", self.run_id)
        self._snapshot(force=True)
        self._set_state("idle")

    # ------------------------------------------------------------------ training
    def _advance(self) -> None:
        trainer = self.trainer
        if self._gen is None:
            done = trainer.epochs_done >= self.target_epochs or trainer.stop_reason is not None
            if self._budget[0] == "run" and done:
                self._finish_run()
                return
            self._gen = trainer.run(1)
        try:
            ev = next(self._gen)
        except StopIteration:
            self._gen = None
            return
        kind = ev.kind
        if kind == "step":
            self.gstep += 1
            self._samples = ev.samples
            self.mailbox.post_step(
                StepRecord(
                    self.gstep,
                    ev.epoch,
                    ev.step,
                    ev.steps_per_epoch,
                    ev.epoch - 1 + ev.step / ev.steps_per_epoch,
                    ev.batch_loss,
                    ev.logs,
                    ev.samples,
                    self.run_id,
                    time.monotonic(),
                    ev.learning_rate,
                )
            )
            if self._budget[0] == "steps":
                n = self._budget[1] - 1
                if n <= 0:
                    self._suspend()
                    return
                self._budget = ("steps", n)
            now = time.perf_counter()
            if self._step_end is not None:
                w = STEP_MEAN_WEIGHT if self._step_s else 1.0
                self._step_s += w * (now - self._step_end - self._step_s)
            self._step_end = now
            if now >= self._next_snapshot and self.mailbox.snapshot_taken:
                self._snapshot()
                self._step_end = time.perf_counter()
        elif kind == "epoch":
            self._step_end = None  # validation and the report are no step's time
            self.mailbox.post_epoch(ev.epoch, ev.logs, self.run_id)
            self._post_run_snapshot()
            self._report_due = True
            now = time.perf_counter()
            if now >= self._next_report:
                self._epoch_report()
            if now >= self._next_snapshot and self.mailbox.snapshot_taken:
                self._snapshot()
        elif kind == "watch":
            self._watched(ev.hit)
        elif kind == "end":
            self._gen = None
            if ev.error is not None:
                self._diverged(ev.error)
            elif self._budget is not None and self._budget[0] == "epoch":
                self._budget = None
                self._handoff()
                self._set_state("idle")
            elif self._budget is not None and (
                trainer.epochs_done >= self.target_epochs or trainer.stop_reason is not None
            ):
                self._finish_run()

    def _finish_run(self) -> None:
        # The run's time: from Play to the end of its last step (as the headless loop is
        # timed); the last snapshot and the hand-over below come after.
        running = self._t_budget is not None
        seconds = self.train_seconds + (time.perf_counter() - self._t_budget if running else 0.0)
        cpu = self.train_cpu_seconds + (time.thread_time() - self._cpu_budget if running else 0.0)
        self._budget = None
        # Keras' on_train_end: EarlyStopping's restore_best_weights, before the hand-over.
        restored = self.trainer.finish()
        why = self.trainer.stop_reason
        self._snapshot(force=True)
        self._handoff()
        self.mailbox.post_event(
            "finished", self.trainer.epochs_done, seconds, cpu, {"stopped": why, "end": restored}
        )
        self._set_state("idle")

    def _diverged(self, err: NonFiniteError) -> None:
        self._budget = None
        # The engine has put the last finite weights back; show and hand over those.
        self._snapshot(force=True, gradients=False)
        self._handoff()
        self.mailbox.post_event(
            "diverged",
            {
                "message": str(err),
                "epoch": err.epoch,
                "step": err.step,
                "layer": err.layer,
                "what": err.what,
                "gstep": self.gstep + 1,
            },
        )
        self._set_state("idle")

    def _watched(self, hit) -> None:
        """A watchpoint fired: pause at its batch (Play goes on from there) and hand the window
        the state before its step, replayed here (:meth:`engine.training.Trainer.state_before`)."""
        from engine.watch_cli import hit_text

        _model, snap = self.trainer.state_before(self.project, self.graph, hit)
        rows = self.trainer.hit_rows(hit)
        self.mailbox.post_event(
            "watch",
            {
                "hit": hit.to_json(),
                "text": hit_text(hit),
                "replay_note": self.trainer.replay_note(hit),
                "snapshot": snap,
                "rows": np.asarray(rows),
                "run_id": self.run_id,
            },
        )
        self._suspend()

    def _epoch_report(self) -> None:
        """The confusion matrix of the last finished epoch (throttled like snapshots: short
        epochs would otherwise spend a good share of their time on it)."""
        if self.monitor is None or not self._report_due:
            return
        self._report_due = False
        t0 = time.perf_counter()
        rewound = self._rewound_epoch
        report = self.monitor.epoch_report(rewound or self.trainer.epochs_done)
        if report is not None:
            report.run = self.run_id
            self.mailbox.put("epoch_report", report)
        self._next_report = time.perf_counter() + max(
            EPOCH_REPORT_PERIOD, REPORT_COST_FACTOR * (time.perf_counter() - t0)
        )

    def _snapshot(self, force: bool = False, gradients: bool = True) -> None:
        if self.monitor is None:
            return
        if not force and not self.mailbox.snapshot_taken:
            return
        epoch = self.trainer.epochs_done + (1 if self._gen is not None else 0)
        rewound = self._rewound_epoch
        snap = self.monitor.snapshot(self.gstep, rewound or epoch, gradients=gradients)
        snap.run = self.run_id
        snap.rewound = rewound  # the scrubber's epoch, or None: the model's own state
        snap.plane = self.plane  # an attribute of ours: the engine's Snapshot has no such field
        self.mailbox.put("snapshot", snap)
        self._next_snapshot = time.perf_counter() + snapshot_spacing(snap.seconds, self._step_s)
        # Send it now rather than at the next drain period: the views show it ~25 ms sooner.
        self.on_wake()

    def _rewind(self, epoch: int | None, weights: dict | None) -> None:
        """The views of another epoch's weights (the timeline scrubber): the model holds them
        while the worker is idle; the weights it trained to are kept aside and come back
        before anything trains (:meth:`_unrewind`) or with ``epoch`` None."""
        if self._budget is not None or self._gen is not None or self.model is None:
            return  # training: the scrubber waits for a pause
        if epoch is None or weights is None:
            self._unrewind()
        else:
            if self._rewound is None:
                self._rewound = self.model.flat_weights()
            self.model.set_flat_weights(weights)
            self._rewound_epoch = int(epoch)
        self._snapshot(force=True)
        self._report_due = True
        self._next_report = 0.0
        self._epoch_report()

    def _unrewind(self) -> None:
        """The model's own weights back, after the scrubber showed another epoch's."""
        if self._rewound is None:
            return
        if self.model is not None:
            self.model.set_flat_weights(self._rewound)
        self._rewound = None
        self._rewound_epoch = None

    def _post_run_snapshot(self) -> None:
        """The run's state after this epoch, for the project's runs (engine.runs): the window
        keeps it within the project's snapshot budget."""
        from engine.snapshots import capture

        self.mailbox.post_event(
            "run_snapshot",
            {
                "snapshot": capture(self.trainer),
                "history": copy.deepcopy(self.trainer.history),
                # this run's training time so far (the budget running now included)
                "seconds": self.train_seconds
                + (time.perf_counter() - self._t_budget if self._t_budget is not None else 0.0),
                "run_id": self.run_id,
                "gen": self._config.gen if self._config is not None else 0,
            },
        )

    def _handoff(self) -> None:
        """Copies of the weights and history for the project (made here, on this thread)."""
        if self.model is None:
            return
        self._epoch_report()  # the run pauses or ends: show the last epoch's matrix
        self.mailbox.post_event(
            "handoff",
            {
                "weights": self.model.flat_weights(),
                "history": copy.deepcopy(self.trainer.history),
                "epochs_done": self.trainer.epochs_done,
                "backend": self.model.name,
                "learning_rate": self.model.learning_rate,
                "spec": copy.deepcopy(self._built_spec),
                "run_id": self.run_id,
                "gen": self._config.gen if self._config is not None else 0,
            },
        )
        self.on_wake()


def _optimizer_class(spec: dict) -> str | None:
    opt = (spec.get("compile") or {}).get("optimizer")
    if isinstance(opt, dict):
        return str(opt.get("class_name"))
    return str(opt) if opt is not None else None


def _spec_lr(spec: dict) -> float | None:
    opt = (spec.get("compile") or {}).get("optimizer")
    if isinstance(opt, dict):
        v = (opt.get("config") or {}).get("learning_rate")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    return None


def _clear_keras_session() -> None:
    """Keras models built in a loop grow memory (keras #2102): clear between rebuilds."""
    import sys

    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            keras.backend.clear_session()
        except Exception:  # noqa: BLE001 - best effort
            pass


def finite_best(values: list[float], mode: str = "min") -> float | None:
    """The best finite value (NaN and inf never count as best)."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return None
    return min(vals) if mode == "min" else max(vals)


def _nothing(*_args) -> None:
    pass


# ------------------------------------------------------------------------------ child process
#: What a child process imports before it is forked from the fork server (Linux), so that each
#: child starts in milliseconds: the modules every build needs.
CHILD_PRELOAD = [
    "designer.worker_core",
    "engine.training",
    "engine.monitor",
    "engine.validate",
    "engine.project",
    "engine.data.builtin",
]


def child_main(commands, events, environ: dict[str, str] | None = None) -> None:
    """A training process's body. ``commands``: the receiving end of a pipe of commands (as
    :meth:`TrainingCore.post` takes them); ``events``: the sending end of a pipe of pickled
    :class:`Batch` es; ``environ``: the UI process's environment now (a fork server's children
    would otherwise see the one it started with: KERAS_HOME, say). Ends after a ``("quit",)``
    command, or when the UI process is gone."""
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    # Ctrl-C in the window's terminal is for the window; this process ends when the window's
    # process closes the pipe (or asks).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    mailbox = Mailbox()
    wake = threading.Event()
    done = threading.Event()
    core = TrainingCore(mailbox, on_wake=wake.set, pause_gc=False)

    def read() -> None:
        try:
            while True:
                cmd = commands.recv()
                if cmd[0] == "taken":  # the window drained the last snapshot: make another
                    mailbox.snapshot_taken = True
                    continue
                if cmd[0] == "quit":
                    core.quit_now()
                    return
                core.post(*cmd)
        except (EOFError, OSError):
            core.quit_now()  # the UI process is gone (or closed the pipe): end too

    def send() -> None:
        while True:
            # While training, every drain period; otherwise only when the core wakes us (it
            # does after every command and state change): an idle child stays asleep.
            busy = core.state in ("running", "building") or core._budget is not None
            wake.wait(DRAIN_INTERVAL_MS / 1000.0 if busy else None)
            wake.clear()
            last = done.is_set()  # before taking: the last batch holds everything posted
            batch = mailbox.take(mark_taken=False)
            if batch:
                try:
                    data = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 - tell the user, keep going
                    data = pickle.dumps(
                        Batch(events=[("notice", f"training results could not be sent: {exc}")])
                    )
                try:
                    events.send_bytes(data)
                except OSError:
                    core.quit_now()  # nobody reads any more
                    return
            if last:
                return

    reader = threading.Thread(target=read, name="nnd-commands", daemon=True)
    sender = threading.Thread(target=send, name="nnd-events", daemon=True)
    reader.start()
    sender.start()
    try:
        core.run()
    finally:
        done.set()
        wake.set()
        sender.join(timeout=30)
        events.close()
