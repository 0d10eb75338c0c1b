"""The window's trainings as runs of the project (:mod:`engine.runs`), as ``nndesigner
train`` records them: the worker sends its state after every epoch (``run_snapshot``
events); each of the worker's runs (its ``run_id``: Play from fresh weights, Reset, Continue
from here) becomes one :class:`~engine.runs.Run` of the document's project, its snapshots
kept within the project's budget. A run continued from the project's weights (a reopened
trained project) names the run and epoch those weights came from as its parent, when the
project's last run ended there.
"""

from __future__ import annotations

from engine.runs import Run, RunStore, budget_of, project_settings


class RunLog:
    """Turns the worker's epoch-end snapshots into the project's runs."""

    def __init__(self, document) -> None:
        self.document = document
        #: worker run_id -> the project's Run
        self._runs: dict[int, Run] = {}
        #: worker run_id -> the parent ("run:epoch") its build continued from, or None
        self._parents: dict[int, str | None] = {}
        #: the parent the next build starts from (Continue from here), with the settings then
        self.pending_parent: str | None = None
        #: worker runs whose project run ended (finished, or stopped): more epochs are a new run
        self._closed: set[int] = set()

    def close(self, run_id: int) -> None:
        """The worker's run ``run_id`` ended (its epochs done, a callback, or Stop): epochs
        trained on after this make a new run of the project."""
        if run_id in self._runs:
            self._closed.add(run_id)

    def store(self) -> RunStore:
        project = self.document.project
        if project.runs is None:
            project.runs = RunStore(budget_mb=budget_of(project.data))
        project.runs.budget_mb = budget_of(project.data)
        return project.runs

    def on_build(self, build: dict) -> None:
        """A build: a new worker run (``continued`` False) starts a new project run at its
        first snapshot; its parent is Continue from here's point, or the project's last run
        when the build went on from the weights that run ended with."""
        run_id = build["run_id"]
        if build.get("continued") or run_id in self._runs:
            return
        parent = self.pending_parent
        self.pending_parent = None
        if parent is None and build.get("epochs_done"):
            store = self.document.project.runs
            if store is not None and store.runs:
                last = store.runs[-1]
                if last.last_epoch == build["epochs_done"]:
                    parent = f"{last.number}:{last.last_epoch}"
        self._parents[run_id] = parent

    def on_snapshot(self, payload: dict) -> Run:
        """An epoch ended in the worker: its snapshot joins the run (made at the first)."""
        snap = payload["snapshot"]
        run_id = payload["run_id"]
        store = self.store()
        run = self._runs.get(run_id)
        if run is not None and run_id in self._closed:
            # Trained on after it ended (Play again): a new run, continuing that one.
            self._closed.discard(run_id)
            self._parents[run_id] = f"{run.number}:{run.last_epoch}"
            run = None
        if run is None or not any(r is run for r in store.runs):
            settings = project_settings(self.document.project.data)
            run = store.start_run(self._parents.get(run_id), settings, snap.epoch)
            self._runs[run_id] = run
        run.snapshots[snap.epoch] = snap
        run.duration_s = float(payload.get("seconds") or 0.0)
        own = snap.epoch - run.first_epoch + 1
        run.history = {k: list(v[-own:]) for k, v in payload["history"].items() if v}
        store.fit_budget()
        return run

    def forget(self) -> None:
        """Another project: its runs are its own."""
        self._runs.clear()
        self._parents.clear()
        self._closed.clear()
        self.pending_parent = None
