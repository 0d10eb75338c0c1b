"""Recording a training as a run of the project, and starting one from another's snapshot.

:func:`begin_run` builds the model and trainer of a training that becomes run ``n`` of the
project: from fresh weights, from the project's weights (a project saved before runs were
kept), or from a run's snapshot (``from_point=(run, epoch)``: a fork, the same run when the
settings did not change). The returned :class:`RunRecorder` takes a snapshot after every
epoch (:meth:`RunRecorder.epoch`) and, at the end, appends the run to the project's
:class:`~engine.runs.RunStore` (:meth:`RunRecorder.finish`), which keeps the snapshots within
the project's budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.errors import NNDError
from engine.runs import Run, RunStore, budget_of, project_settings, settings_diff
from engine.snapshots import capture, restore


@dataclass
class Begun:
    """What :func:`begin_run` made: the graph, data, model, trainer, recorder, and the
    epochs still to run."""

    graph: object
    data: object
    model: object
    trainer: object
    recorder: RunRecorder
    epochs: int


class RunRecorder:
    """Collects one run's snapshots and history while it trains. The run is in the store
    from the start (:meth:`RunStore.start_run`), so that the budget thins its snapshots as
    they come (a long run of a big network never holds more than the budget)."""

    def __init__(self, store: RunStore, run: Run, history_start: int = 0) -> None:
        self.store = store
        self.run = run
        self._t0 = time.perf_counter()
        self._history_start = history_start

    def _own_history(self, trainer) -> dict[str, list[float]]:
        return {k: list(v[self._history_start :]) for k, v in trainer.history.items()}

    def epoch(self, trainer) -> None:
        """After each epoch: a snapshot of the trainer's state, the budget kept."""
        snap = capture(trainer)
        self.run.snapshots[snap.epoch] = snap
        self.run.history = self._own_history(trainer)  # thinning keeps its best epoch
        self.run.duration_s = time.perf_counter() - self._t0
        self.store.fit_budget()

    def finish(self, trainer) -> Run:
        """At the end: the run's history, duration and stop reason (a run that trained no
        epoch leaves the store)."""
        run = self.run
        run.history = self._own_history(trainer)
        run.duration_s = time.perf_counter() - self._t0
        run.stop_reason = trainer.stop_reason
        if not run.epochs and run in self.store.runs:
            self.store.runs.remove(run)
        self.store.fit_budget()
        return run


def begin_run(project, from_point: tuple[int, int] | None = None, backend: str | None = None):
    """Build what a training of ``project`` needs as a new run (see the module docstring).

    Parameters
    ----------
    project : Project
        Its settings are the run's (overrides already applied); its ``runs`` get the run.
    from_point : (run, epoch), optional
        Continue from that run's snapshot after that epoch. Without it, a project whose
        last run ended with a complete snapshot continues from it, and one with weights
        only continues from them (the optimizer restarting).

    Returns
    -------
    Begun

    Raises
    ------
    NNDError
        A run or snapshot the project does not have; a snapshot that does not fit the
        network (the layers changed).
    """
    from engine.training import (
        build_model,
        epochs_to_run,
        load_training_data,
        make_trainer,
    )
    from engine.validate import check_project

    if project.runs is None:
        project.runs = RunStore(budget_mb=budget_of(project.data))
    store = project.runs
    store.budget_mb = budget_of(project.data)
    graph = check_project(project)
    data = load_training_data(project, graph)
    model = build_model(project, graph, backend, weights=from_point is None)
    trainer = make_trainer(model, data, project.fit)
    settings = project_settings(project.data)
    parent_run, snap = None, None
    explicit = from_point is not None
    if from_point is None and store.runs and project.weights:
        # The project's weights are its last run's end (not weights trained since without a
        # run of their own): that run goes on, optimizer and random streams included.
        last = store.runs[-1]
        candidate = last.snapshots.get(last.last_epoch)
        if (
            candidate is not None
            and not candidate.partial
            and _same_weights(candidate.weights, project.weights)
        ):
            from_point = (last.number, last.last_epoch)
    if from_point is not None:
        parent_run = store.get(from_point[0])
        snap = store.snapshot(*from_point)
        try:
            restore(trainer, snap)
        except (KeyError, ValueError) as exc:
            raise NNDError(
                f"run {from_point[0]}'s snapshot after epoch {from_point[1]} does not fit this "
                f"network ({exc}); the layers changed since"
            ) from None
        # The history up to that epoch, as the parent had it: the epochs go on from there.
        upto = from_point[1] - parent_run.first_epoch + 1
        trainer.history = line_history(store, parent_run, upto)
        # A learning rate set for the fork replaces the one the snapshot carried (which a
        # ReduceLROnPlateau may have lowered); unchanged, the snapshot's stays.
        rate = settings_diff(parent_run.settings, settings).get(
            "compile.optimizer.config.learning_rate"
        )
        if rate is not None and isinstance(rate["to"], (int, float)):
            model.learning_rate = float(rate["to"])
    if explicit:
        # Keras' epochs: the last epoch's number, so a fork runs up to it.
        epochs = max(int(project.fit["epochs"]) - trainer.epochs_done, 0)
    else:
        epochs = epochs_to_run(project.fit)  # a continued project trains epochs more
    parent_text = f"{from_point[0]}:{from_point[1]}" if from_point is not None else None
    run = store.start_run(parent_text, settings, trainer.epochs_done + 1)
    recorder = RunRecorder(store, run, len(trainer.history.get("loss", [])))
    return Begun(graph, data, model, trainer, recorder, epochs)


def _same_weights(a: dict, b: dict) -> bool:
    import numpy as np

    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def line_history(store: RunStore, run: Run, count: int) -> dict[str, list[float]]:
    """The whole history of ``run``'s line up to its ``count``-th epoch: its ancestors'
    epochs before it forked, then its own."""
    own = {k: list(v[:count]) for k, v in run.history.items()}
    if not run.parent:
        return own
    from engine.runs import parse_point

    parent_number, parent_epoch = parse_point(run.parent)
    try:
        parent = store.get(parent_number)
    except NNDError:
        return own
    before = line_history(store, parent, parent_epoch - parent.first_epoch + 1)
    keys = list(dict.fromkeys([*before, *own]))
    return {k: before.get(k, []) + own.get(k, []) for k in keys}
