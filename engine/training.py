"""The training loop, shared by scripts, the CLI and the GUI's worker.

:class:`Trainer` runs epochs of mini-batch steps as a generator of :class:`TrainEvent`; it
honours stop and pause requests from another thread, records a Keras-style history, and stops at
the first non-finite loss or gradient keeping the last finite weights.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import ClusterError, DataError, NNDError, NonFiniteError
from engine.graph import Graph
from engine.metric_state import MetricSet
from engine.optimizers import DEFAULT_OPTIMIZER


@dataclass
class TrainingData:
    """Arrays ready for a model: inputs cast to the project dtype, targets encoded for the loss."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    dataset: object | None = None
    standardizer: object | None = None
    #: Each training sample's loss weight (the dataset's ``sample_weight`` column, or Keras'
    #: ``fit(class_weight=...)`` turned into sample weights as Keras does), or None: every
    #: sample counts once.
    sw_train: np.ndarray | None = None
    #: The validation and test samples' weights (the column's; class weights weigh the
    #: training samples only).
    sw_val: np.ndarray | None = None
    sw_test: np.ndarray | None = None


@dataclass
class TrainEvent:
    """What the loop reports.

    ``kind``: ``"begin"`` (once), ``"step"`` (after each batch), ``"epoch"`` (after each epoch,
    with validation), ``"end"`` (once; ``error`` holds a NonFiniteError when training diverged,
    a ClusterError when a multi-worker run lost a peer; ``stopped`` is True when a stop was
    requested). ``epoch`` and ``step`` are 1-based; ``logs``
    holds Keras-style values (``loss``, ``accuracy``, ``val_loss``...): running means over the
    epoch so far for step events, the epoch's values for epoch events.
    """

    kind: str
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    epochs: int = 0
    logs: dict[str, float] = field(default_factory=dict)
    batch_loss: float = math.nan
    elapsed: float = 0.0
    samples: int = 0
    stopped: bool = False
    error: NNDError | None = None
    #: The learning rate the step's update used (step events; NaN where unknown).
    learning_rate: float = math.nan
    #: ``"watch"`` events: the watchpoint that fired (:class:`engine.watch.WatchHit`).
    hit: Any = None


def model_args(project, dtype: str | None = None) -> dict[str, Any]:
    """The keyword arguments every backend's model takes, from the project's settings.

    Parameters
    ----------
    project : Project
    dtype : str, optional
        Instead of the project's dtype (the stepper's float64 gradient check).

    Returns
    -------
    dict
        ``loss``, ``metrics``, ``optimizer`` (the project's, else Keras' default), ``dtype``
        and ``seed``.
    """
    comp = project.compile
    return dict(
        loss=comp.get("loss"),
        metrics=comp.get("metrics", []),
        optimizer=comp.get("optimizer", DEFAULT_OPTIMIZER),
        dtype=dtype or project.dtype,
        seed=project.fit.get("seed", 0),
    )


def distribute_setting(data: dict) -> tuple[str, int | None] | None:
    """The project's ``distribute`` section as (strategy, replicas): ``("mirrored", 2)``,
    ``("mirrored", None)`` (every GPU), ``("multiworker", None)``; None without one. The one
    reading of the section, for the TensorFlow model and the window's training process."""
    spec = data.get("distribute")
    if not isinstance(spec, dict) or not isinstance(spec.get("strategy"), str):
        return None
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        replicas = None
    return spec["strategy"], replicas


def build_model(
    project,
    graph: Graph,
    backend: str | None = None,
    *,
    dtype: str | None = None,
    weights: bool = True,
):
    """Build the project's model: the one way every part of NN Designer makes one.

    Parameters
    ----------
    project : Project
    graph : Graph
        The project's validated graph (:func:`engine.validate.check_project`); a caller may
        pass the graph of a variant of the project (the parity checks' dropout-free copy).
    backend : {"numpy", "tensorflow"}, optional
        Default: the project's.
    dtype : str, optional
        Default: the project's.
    weights : bool
        Load the project's trained weights when it has them (default); False leaves the
        initial weights of the project's seed.

    Returns
    -------
    NumpyModel or TensorFlowModel

    Raises
    ------
    DataError
        For an unknown backend, or trained weights that do not fit the network.
    ValidationError, BackendUnavailableError
        From the TensorFlow backend, for what it cannot build or when TensorFlow is missing.
    """
    backend = backend or project.backend
    args = model_args(project, dtype)
    if backend == "numpy":
        from engine.backends.numpy.model import NumpyModel

        model = NumpyModel(graph, **args)
    elif backend == "tensorflow":
        from engine.backends.tensorflow import TensorFlowModel

        model = TensorFlowModel(graph, **args, distribute=distribute_setting(project.data))
    else:
        raise DataError(f"unknown backend {backend!r}; expected numpy or tensorflow")
    if weights and project.weights:
        model.set_flat_weights(project.weights)
    return model


def load_training_data(project, graph: Graph) -> TrainingData:
    """Load the project's dataset, check it fits the network, lay the samples out in the
    model's ``input_shape`` (:mod:`engine.data.layout`), split, scale and encode them.

    ``TrainingData.dataset`` is the loaded dataset with ``x`` in that layout (its
    ``image_shape`` says what a sample is as an image, when it is one).

    Raises
    ------
    DataError
        When the data cannot be loaded.
    ValidationError
        When the network does not fit the data (input shape, output width, loss).
    """
    from engine.data import load_dataset, prepare, scale_of
    from engine.data.layout import fit_to_input
    from engine.validate import check_data_fit, encode_targets

    # Loaded in the project's dtype: a float64 project must never see float32-rounded data.
    ds = load_dataset(project.dataset, project.base_dir, dtype=np.dtype(project.dtype))
    check_data_fit(project, graph, ds)
    # The samples in the model's input shape (digits as (8, 8, 1) images for a network that
    # takes images, flat for one that takes [64]): a reshape, no copy. The scaler is then
    # fitted per input value in that layout, the same numbers as on flat rows.
    ds = fit_to_input(ds, graph.input_shape)
    fit = project.fit
    prep = prepare(
        ds,
        validation_split=float(fit.get("validation_split", 0.0)),
        seed=int(fit.get("seed", 0)),
        scale=scale_of(project.dataset),
        test_split=float(project.dataset.get("test_split", 0.0)),
        dtype=np.dtype(project.dtype),
        validation_from_end=fit.get("validation_split_mode") == "last",
    )

    def enc(y):
        if y is None:
            return None
        return encode_targets(project, graph, y, ds.n_classes, ds.task, np.dtype(project.dtype))

    y_train = enc(prep.y_train)
    class_weight = fit.get("class_weight")
    sw_train = prep.w_train
    if class_weight:  # validation refuses a sample_weight column beside them, as Keras does
        sw_train = class_sample_weights(y_train, class_weight, np.dtype(project.dtype))
    return TrainingData(
        x_train=prep.x_train,
        y_train=y_train,
        x_val=prep.x_val,
        y_val=enc(prep.y_val),
        x_test=prep.x_test,
        y_test=enc(prep.y_test),
        dataset=ds,
        standardizer=prep.scaler,
        sw_train=sw_train,
        sw_val=prep.w_val,
        sw_test=prep.w_test,
    )


def class_sample_weights(y: np.ndarray, class_weight: dict, dtype) -> np.ndarray:
    """Keras' class_weight_to_sample_weights: each sample weighs its class's weight (1 for a
    class the mapping leaves out); the class is the label, the argmax of a one-hot row, or a
    width-1 target rounded. The weights go through float32 (Keras' floatx array) first.

    ``class_weight`` maps class indices (ints, or their text as JSON keys are) to weights.
    """
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[..., 0]
    labels = np.round(y).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    weights = np.array([table.get(int(c), 1.0) for c in labels], dtype=np.float32)
    return weights.astype(dtype)


def make_trainer(model, data: TrainingData, fit: dict) -> Trainer:
    """A :class:`Trainer` with a project's fit settings (batch size, shuffle, seed, callbacks,
    steps_per_epoch, initial_epoch)."""
    return Trainer(
        model,
        data,
        fit["batch_size"],
        fit["shuffle"],
        fit["seed"],
        fit.get("callbacks"),
        fit.get("steps_per_epoch"),
        fit.get("initial_epoch", 0),
        fit.get("watch"),
    )


class Trainer:
    """Runs training epochs on a model and keeps the history.

    Parameters
    ----------
    model
        A backend model (``train_step``, ``evaluate``, ``metrics``, ``loss``).
    data : TrainingData
    batch_size : int
    shuffle : bool
        Reshuffle the training set every epoch (seeded by ``seed``).
    seed : int
    callbacks : list, optional
        The fit settings' ``callbacks`` specs (:mod:`engine.callbacks`: EarlyStopping,
        ReduceLROnPlateau, TerminateOnNaN), called after every epoch as Keras calls them.
    steps_per_epoch : int, optional
        Keras' ``steps_per_epoch``: an epoch ends after this many batches and the next one
        goes on where it stopped, through the same pass over the (shuffled) data; an epoch
        that reaches the pass's end stops there (Keras: "your input ran out of data") and the
        next starts a new pass. None: one whole pass per epoch.
    initial_epoch : int
        Keras' ``initial_epoch``: the epochs counted as done before the first (the history and
        the callbacks number the epochs from it).
    watch : list, optional
        The fit settings' ``watch`` (:mod:`engine.watch`): watchpoints that yield a
        ``"watch"`` event at the batch where one fires. The consumer decides: the window
        pauses (:meth:`pause`), the CLI stops.

    Attributes
    ----------
    stop_reason : str or None
        Why a callback ended the training (EarlyStopping's sentence), else None.
    """

    def __init__(
        self,
        model,
        data: TrainingData,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        callbacks: list | None = None,
        steps_per_epoch: int | None = None,
        initial_epoch: int = 0,
        watch: list | None = None,
    ) -> None:
        if len(data.x_train) == 0:
            raise DataError("the training split is empty; lower validation_split or add data")
        self.model = model
        self.data = data
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng([int(seed), 7])
        self.history: dict[str, list[float]] = {}
        self.steps_limit = None if steps_per_epoch is None else int(steps_per_epoch)
        self.initial_epoch = int(initial_epoch)
        self.epochs_done = self.initial_epoch
        # The pass over the training data an epoch takes its batches from (Keras' iterator):
        # its order (None: unshuffled) and how many of its batches are used.
        self._pass_order: np.ndarray | None = None
        self._pass_used: int | None = None
        self.error: NonFiniteError | ClusterError | None = None
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        from engine.callbacks import make_callbacks

        self.callback_specs = callbacks
        self.callbacks = make_callbacks(callbacks, getattr(model, "metrics", None))
        self.stop_reason: str | None = None
        self._begun = False
        from engine.watch import Watcher

        #: The armed watchpoints (None without any) and, while an epoch runs, where it began
        #: (a snapshot, the pass's order, the epoch's first batch): what :meth:`state_before`
        #: replays from.
        graph = getattr(model, "graph", None)
        self.watcher = Watcher(list(watch), graph) if watch and graph is not None else None
        self._epoch_start: tuple | None = None

    def finish(self) -> str | None:
        """End the training as Keras' ``fit`` ends it: the callbacks' ``on_train_end``
        (EarlyStopping's restore_best_weights). Returns what they did, for people, or None. A
        later :meth:`run` begins anew (as a second ``fit`` call does)."""
        if not self._begun:
            return None
        self._begun = False
        notes = [n for n in (cb.on_train_end(self.model) for cb in self.callbacks) if n]
        return "; ".join(notes) or None

    # Thread-safe controls (the GUI calls these from the UI thread).
    def request_stop(self) -> None:
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def batches_per_pass(self) -> int:
        """Batches in one pass over the training data (the last may be smaller)."""
        return math.ceil(len(self.data.x_train) / self.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        """The steps of a whole epoch: a pass, or ``steps_per_epoch`` when it is set."""
        full = self.batches_per_pass
        return full if self.steps_limit is None else min(self.steps_limit, full)

    def _epoch_batches(self) -> tuple[np.ndarray | None, int, int]:
        """``(order, first batch, steps)`` of the next epoch, as Keras' EpochIterator takes
        them: a new pass (a new shuffle) when the last one was used up or no
        ``steps_per_epoch`` is set, else the rest of the current pass, at most
        ``steps_per_epoch`` batches."""
        n = len(self.data.x_train)
        full = self.batches_per_pass
        if self.steps_limit is None or self._pass_used is None or self._pass_used >= full:
            self._pass_order = self._rng.permutation(n) if self.shuffle else None
            self._pass_used = 0
        first = self._pass_used
        steps = full - first if self.steps_limit is None else min(self.steps_limit, full - first)
        return self._pass_order, first, steps

    def run(self, epochs: int) -> Iterator[TrainEvent]:
        """Train ``epochs`` more epochs, yielding events. Stops early on request, on
        divergence, or when a callback ends the training (:attr:`stop_reason`; the end event
        has ``stopped`` set). Call :meth:`finish` when the training is over."""
        self._stop.clear()
        if not self._begun:
            self._begun = True
            self.stop_reason = None
            for cb in self.callbacks:
                cb.on_train_begin(self.model)
        n = len(self.data.x_train)
        spe = self.steps_per_epoch
        total_epochs = self.epochs_done + epochs
        t0 = time.perf_counter()
        samples = 0
        yield TrainEvent("begin", self.epochs_done, 0, spe, total_epochs)
        stopped = self.stop_reason is not None
        sw = self.data.sw_train
        for _ in range(0 if stopped else epochs):
            epoch = self.epochs_done + 1
            order, first_batch, spe = self._epoch_batches()
            watcher = self.watcher
            if watcher is not None and watcher.replays:
                from engine.snapshots import capture

                # What a hit after its step is replayed from (state_before), kept as the
                # watcher's budget allows (cheap on NumPy; TensorFlow reads its variables).
                self._epoch_start = None
                if watcher.capture_due():
                    t_capture = time.perf_counter()
                    self._epoch_start = (capture(self), order, first_batch, epoch)
                    watcher.captured(time.perf_counter() - t_capture)
            retried: tuple | None = None  # a refused step shown to the debugger, tried again
            sums: dict[str, float] = {}
            # Keras' metrics are stateful: reset each epoch, updated with every batch.
            metrics = MetricSet(getattr(self.model, "metrics", None), self.model.loss)
            seen = 0
            step = 1
            while step <= spe:
                # Read every call: a backend adapts it, and the model may be switched mid-epoch.
                k = max(1, int(getattr(self.model, "steps_per_call", 1)))
                if not self._resume.is_set():
                    self._resume.wait()
                if self._stop.is_set():
                    stopped = True
                    break
                steps = range(step, min(step + k, spe + 1))
                batches = []
                weights = None if sw is None else []
                for s in steps:
                    b = first_batch + s - 1  # the batch's place in the pass
                    lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, n)
                    idx = slice(lo, hi) if order is None else order[lo:hi]
                    batches.append((self.data.x_train[idx], self.data.y_train[idx]))
                    if weights is not None:
                        weights.append(sw[idx])
                rates_of = getattr(self.model, "learning_rates", None)
                rates = rates_of(len(batches)) if rates_of else [math.nan] * len(batches)
                if watcher is not None:
                    if watcher.probe_due():
                        rows = self._batch_rows(order, first_batch, step)
                        hit = watcher.probe(self.model, epoch, step, *batches[0], rows)
                        if hit is not None:
                            yield self._watch_event(hit, spe, total_epochs, t0, samples)
                            if self._stop.is_set():  # stopped there: the step is not made
                                stopped = True
                                break
                    watcher.step_timer()
                try:
                    if k == 1:
                        extra = {} if weights is None else {"sample_weight": weights[0]}
                        results = [
                            self.model.train_step(*batches[0], epoch=epoch, step=step, **extra)
                        ]
                    else:
                        extra = {} if weights is None else {"sample_weights": weights}
                        results = self.model.train_steps(
                            [b[0] for b in batches],
                            [b[1] for b in batches],
                            epoch=epoch,
                            first_step=step,
                            **extra,
                        )
                except (NonFiniteError, ClusterError) as exc:
                    hit = None
                    if watcher is not None and isinstance(exc, NonFiniteError):
                        if retried != (epoch, exc.step):
                            rows = self._batch_rows(order, first_batch, exc.step)
                            hit = watcher.nonfinite(epoch, exc.step, exc.layer, exc.what, rows)
                    if hit is not None:
                        # Paused at the refused step: the weights are those before it (the
                        # steps of its call before it were made: their losses go unreported).
                        # Asked to go on, the step is tried again once (a lower rate may pass).
                        yield self._watch_event(hit, spe, total_epochs, t0, samples)
                        retried = (epoch, exc.step)
                        self._pass_used += exc.step - step
                        step = exc.step
                        if self._stop.is_set():
                            stopped = True
                            break
                        continue
                    self.error = exc
                    yield TrainEvent(
                        "end",
                        epoch,
                        exc.step,
                        spe,
                        total_epochs,
                        self._last_logs(),
                        elapsed=time.perf_counter() - t0,
                        samples=samples,
                        error=exc,
                    )
                    return
                if watcher is not None:
                    watcher.step_done(len(results))
                for s, (xb, yb), res, rate in zip(steps, batches, results, rates, strict=True):
                    m = len(xb)
                    seen += m
                    samples += m
                    # Keras reports running means of batch values weighted by batch size.
                    sums["loss"] = sums.get("loss", 0.0) + res.loss * m
                    if res.regularization is not None:  # the penalties' part of it
                        sums["regularization_loss"] = (
                            sums.get("regularization_loss", 0.0) + res.regularization * m
                        )
                    if metrics:
                        metrics.update(yb, res.y_pred)
                    logs = {key: v / seen for key, v in sums.items()}
                    logs.update(metrics.results())
                    yield TrainEvent(
                        "step",
                        epoch,
                        s,
                        spe,
                        total_epochs,
                        logs,
                        res.loss,
                        time.perf_counter() - t0,
                        samples,
                        learning_rate=rate,
                    )
                    if watcher is not None:
                        rows_of = functools.partial(self._batch_rows, order, first_batch, s)
                        hit = watcher.after_step(epoch, s, res.loss, rows_of)
                        if hit is not None:
                            yield self._watch_event(hit, spe, total_epochs, t0, samples)
                step += len(steps)
                self._pass_used += len(steps)
            if stopped or seen == 0:
                break
            logs = {k: v / seen for k, v in sums.items()}
            logs.update(metrics.results())
            if self.data.x_val is not None and len(self.data.x_val):
                extra = {} if self.data.sw_val is None else {"sample_weight": self.data.sw_val}
                for k, v in self.model.evaluate(
                    self.data.x_val, self.data.y_val, batch_size=self._eval_batch_size(), **extra
                ).items():
                    logs[f"val_{k}"] = v
            self.epochs_done = epoch
            for cb in self.callbacks:  # Keras' epochs count from 0
                reason = cb.on_epoch_end(epoch - 1, logs, self.model)
                self.stop_reason = self.stop_reason or reason
            for k, v in logs.items():
                self.history.setdefault(k, []).append(float(v))
            yield TrainEvent(
                "epoch",
                epoch,
                spe,
                spe,
                total_epochs,
                logs,
                elapsed=time.perf_counter() - t0,
                samples=samples,
            )
            if watcher is not None:
                hit = watcher.after_epoch(epoch, logs)
                if hit is not None:
                    yield self._watch_event(hit, spe, total_epochs, t0, samples)
            if self.stop_reason is not None or self._stop.is_set():
                stopped = True
                break
        yield TrainEvent(
            "end",
            self.epochs_done,
            0,
            spe,
            total_epochs,
            self._last_logs(),
            elapsed=time.perf_counter() - t0,
            samples=samples,
            stopped=stopped,
        )

    def _batch_rows(self, order, first_batch: int, step: int) -> np.ndarray:
        """The training split's rows of an epoch's ``step`` (1-based)."""
        from engine.watch import batch_rows

        lo = (first_batch + step - 1) * self.batch_size
        return batch_rows(order, lo, min(lo + self.batch_size, len(self.data.x_train)))

    def hit_rows(self, hit) -> np.ndarray:
        """The batch a hit is shown on: its own, or for a condition on an epoch's logs (no
        batch) the first ``batch_size`` rows of the training split."""
        if len(hit.rows):
            return hit.rows
        from engine.watch import batch_rows

        return batch_rows(None, 0, min(self.batch_size, len(self.data.x_train)))

    def _watch_event(self, hit, spe: int, total_epochs: int, t0: float, samples: int):
        return TrainEvent(
            "watch",
            hit.epoch,
            hit.step,
            spe,
            total_epochs,
            self._last_logs(),
            elapsed=time.perf_counter() - t0,
            samples=samples,
            hit=hit,
        )

    def state_before(self, project, graph: Graph, hit):
        """``(NumPy model, Snapshot)`` in the state before ``hit``'s step (its weights,
        optimizer state and random streams): the model's own when the step was not taken,
        else replayed from the epoch's start (:func:`engine.watch.before_step`); after the
        epoch for a condition on its logs."""
        from engine.snapshots import capture
        from engine.watch import before_step

        if not self.replays_exactly(hit):
            # The step was not taken (refused, or looked at before it), or the epoch ended:
            # the model holds that state itself, on either backend. (Or, past the budget,
            # this epoch's start was not kept: the state after the step, as replay_note says.)
            start, order, first, step = capture(self), None, 0, 1
        else:
            (start, order, first, _epoch), step = self._epoch_start, hit.step
        return before_step(project, graph, start, order, first, self.batch_size, self.data, step)

    def replays_exactly(self, hit) -> bool:
        """Whether :meth:`state_before` replays ``hit``'s step from its epoch's start (a hit
        after its step was made), rather than handing the model's own state."""
        start = self._epoch_start
        return bool(hit.applied and hit.step and start is not None and start[3] == hit.epoch)

    def replay_note(self, hit) -> str:
        """'' when :meth:`state_before` gives the state before ``hit``'s step, else why not."""
        if not hit.applied or not hit.step or self.replays_exactly(hit):
            return ""
        return (
            "the weights after that step (its epoch's start was not kept: the debugger's time "
            "budget)"
        )

    def _eval_batch_size(self) -> int:
        """The validation batches' size: any size gives the same mean of per-sample losses,
        so at least 256 (fewer calls); a loss reduced by ``sum`` or by the sum of the weights
        depends on the batches, so the fit's batch size, as Keras' validation uses."""
        reduction = (getattr(self.model, "loss_config", None) or {}).get("reduction")
        if reduction in ("sum", "mean_with_sample_weight"):
            return self.batch_size
        return max(self.batch_size, 256)

    def _last_logs(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items() if v}

    def best(self, key: str = "val_loss") -> float | None:
        """The lowest finite value of ``key`` in the history (NaN never counts as best)."""
        vals = [v for v in self.history.get(key, []) if math.isfinite(v)]
        return min(vals) if vals else None


def switch_backend(trainer: Trainer, project, graph: Graph, backend: str) -> str:
    """Move a trainer to another backend, carrying the weights and the optimizer state over.

    Returns a sentence for the user saying what was carried over.
    """
    old = trainer.model
    new = build_model(project, graph, backend)
    new.set_weights(old.get_weights())
    get_state = getattr(old, "get_optimizer_state", None) or old.optimizer.get_state
    set_state = getattr(new, "set_optimizer_state", None) or new.optimizer.set_state
    set_state(get_state())
    trainer.model = new
    return f"switched to the {backend} backend: weights and optimizer state carried over"


def epochs_to_run(fit: dict) -> int:
    """The epochs a ``fit`` runs: Keras' ``epochs`` counts to the last epoch's number, so
    with an ``initial_epoch`` it runs ``epochs - initial_epoch`` of them."""
    return max(int(fit["epochs"]) - int(fit.get("initial_epoch", 0)), 0)


def train_project(
    project, epochs: int | None = None, backend: str | None = None
) -> tuple[object, Trainer]:
    """Validate, load data, build and train ``project`` to the end without events (scripts)."""
    from engine.validate import check_project

    graph = check_project(project)
    data = load_training_data(project, graph)
    model = build_model(project, graph, backend)
    fit = project.fit
    trainer = make_trainer(model, data, fit)
    for _ in trainer.run(epochs or epochs_to_run(fit)):
        pass
    trainer.finish()
    return model, trainer
