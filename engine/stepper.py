"""Step through one training step of the NumPy engine, phase by phase, with every number.

:class:`StepSession` wraps a :class:`~engine.backends.numpy.model.NumpyModel` and the project's
training data. Each step takes the next batch of the training split in order (no shuffling,
wrapping around at the end) and walks :meth:`NumpyModel.trace_step`'s phase events: forward per
layer, loss, backward per layer in reverse, update per layer. The events are pulled from the
generator only when the learner moves forward to them; moving back re-shows events already
pulled, computing and changing nothing. The model's weights change exactly once per step, when
the last update event has been pulled (the session then finishes the generator, which commits
the update), so that a step walked to its end equals ``train_step`` on the same batch bit for
bit.

Besides stepping, a session can check the current batch's gradients numerically
(:meth:`StepSession.check_gradients`), compare the step with the TensorFlow backend
(:meth:`StepSession.compare_tensorflow`) and save the step as the JSON that
``nndesigner trace`` writes (:func:`trace_document`, :func:`write_trace_json`).

Qt-free: the designer's stepper panel and view are built on this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.numpy.model import NumpyModel, PhaseEvent
from engine.errors import BackendUnavailableError, DataError, NNDError
from engine.gradcheck import RTOL, LayerCheck, grade, gradient_check
from engine.graph import Graph
from engine.optimizers import is_perceptron, optimizer_spec
from engine.training import build_model

#: Gradient-check verdicts (relative error of backprop vs central differences, float64, above
#: the absolute floor that the loss's round-off sets: see :mod:`engine.gradcheck`).
GRADCHECK_PASS = RTOL
GRADCHECK_WARN = 1e-4

PHASE_KINDS = ("forward", "loss", "backward", "update")


# --------------------------------------------------------------------------------- trace JSON
def trace_document(
    project_name: str,
    batch_size: int,
    optimizer: str,
    loss: str | None,
    events: list[PhaseEvent],
) -> dict:
    """The JSON document of one traced training step (the format of ``nndesigner trace``).

    Parameters
    ----------
    project_name : str
    batch_size : int
        How many samples the step used.
    optimizer : str
        The optimizer's class name (``"Adam"``, ``"Perceptron"``...).
    loss : str or None
        The canonical Keras loss name (None for the Perceptron).
    events : list of PhaseEvent
        The step's phases in order.

    Returns
    -------
    dict
        ``{"project", "batch_size", "optimizer", "loss", "phases"}``; each phase is
        :meth:`PhaseEvent.to_json`.
    """
    return {
        "project": project_name,
        "batch_size": int(batch_size),
        "optimizer": optimizer,
        "loss": loss,
        "phases": [ev.to_json() for ev in events],
    }


def write_trace_json(path: str | Path, doc: dict) -> None:
    """Write a :func:`trace_document` atomically.

    Raises
    ------
    NNDError
        When the step produced NaN or inf (JSON cannot hold them), or the file cannot be
        written.
    """
    from engine.project import atomic_write

    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        raise NNDError(
            "the step produced NaN or inf values; the trace cannot be written as JSON"
        ) from None
    atomic_write(Path(path), text.encode("utf-8"))


# --------------------------------------------------------------------------------- checks
def gradcheck_grade(rel_error: float, checked: int = 1, too_small: int = 0) -> str:
    """The window's grade of one weight array's gradient check.

    Parameters
    ----------
    rel_error : float
        The array's worst relative error over the entries judged
        (:attr:`engine.gradcheck.LayerCheck.max_rel_error`: the floored measure, so that
        round-off on tiny gradients does not count).
    checked : int
        Entries compared (those too small to judge included).
    too_small : int
        Entries where both gradients sit below the round-off floor.

    Returns
    -------
    str
        ``"pass"`` (≤ 1e-6), ``"warn"`` (< 1e-4) or ``"fail"``; ``"too small to judge"`` when
        every entry checked sits at the floor (never a failure); ``"skipped"`` when no entry
        could be checked (every perturbation crossed a kink such as ReLU at 0).
    """
    verdict = grade(rel_error, checked, too_small, GRADCHECK_PASS)
    if verdict == "fail" and rel_error < GRADCHECK_WARN:
        return "warn"
    return verdict


@dataclass
class _StepStart:
    """What the model was when the current step began (for twins and explanations)."""

    weights: dict[str, dict[str, np.ndarray]]
    optimizer: dict[str, Any]
    dropout: dict[str, Any]


# --------------------------------------------------------------------------------- the session
class StepSession:
    """One project's training, stepped phase by phase.

    Parameters
    ----------
    project : Project
    graph : Graph, optional
        The validated graph (else ``check_project(project)``).
    batch_size : int
        Samples per step (1: "one sample"). The Perceptron always steps one sample (the
        seed's rule is per sample).
    data : TrainingData, optional
        Already loaded data (else ``load_training_data(project, graph)``).

    Raises
    ------
    ValidationError
        When the project is invalid or the network does not fit the data.
    DataError
        When the data cannot be loaded or the training split is empty.

    Attributes
    ----------
    model : NumpyModel
        The live model; its weights change only when a step's update is complete.
    phases : list of PhaseEvent
        The current step's events pulled so far (grows as the learner moves forward).
    index : int
        The phase shown: -1 before the first phase of a step (the batch is chosen, nothing is
        computed yet), else an index into :attr:`phases`.
    step_number : int
        1 for the first step after :meth:`reset`, then counting.
    batch_x, batch_y : ndarray
        The current step's inputs and (encoded) targets.
    batch_indices : ndarray of int
        Their rows in the training split.
    weights_source : str
        "the project's trained weights" or "initial weights (seed N)".
    """

    def __init__(
        self,
        project,
        graph: Graph | None = None,
        batch_size: int = 1,
        data=None,
        start=None,
        start_label: str = "",
        first_rows=None,
    ):
        from engine.training import load_training_data
        from engine.validate import check_project

        #: A run's snapshot to start from (:class:`engine.snapshots.Snapshot`: the scrubber's
        #: epoch), instead of the project's weights; ``start_label`` says whose.
        self.start = start
        self.start_label = start_label
        #: The training split's rows of the first step's batch (a watchpoint's batch), or
        #: None: the first ``batch_size`` samples. Later steps walk on in order.
        self.first_rows = None if first_rows is None else np.asarray(first_rows, dtype=np.int64)
        self.project = project
        self.graph = graph if graph is not None else check_project(project)
        self.data = data if data is not None else load_training_data(project, self.graph)
        if len(self.data.x_train) == 0:
            raise DataError("the training split is empty; lower validation_split or add data")
        self.perceptron = is_perceptron(project)
        self._batch_size = 1
        self.batch_size = batch_size
        self.weights_source = ""
        self.model: NumpyModel
        self._gen: Iterator[PhaseEvent] | None = None
        self.phases: list[PhaseEvent] = []
        self.index = -1
        self.step_number = 0
        self.committed = False
        self._cursor = 0
        self._start: _StepStart
        self.batch_x = self.data.x_train[:0]
        self.batch_w = None
        self.batch_y = self.data.y_train[:0]
        self.batch_indices = np.zeros(0, dtype=np.int64)
        self.reset()

    # ------------------------------------------------------------------ settings
    @property
    def batch_size(self) -> int:
        """Samples per step; a change applies from the next step on."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        value = int(value)
        if value < 1:
            raise NNDError(f"the batch size must be at least 1, got {value}")
        self._batch_size = 1 if self.perceptron else value

    @property
    def n_samples(self) -> int:
        """Samples in the training split (the steps walk through them in order)."""
        return len(self.data.x_train)

    @property
    def optimizer_class(self) -> str:
        return self.model.optimizer_class

    @property
    def optimizer_config(self) -> dict[str, Any]:
        return self.model.optimizer_config

    @property
    def loss_name(self) -> str | None:
        return self.model.loss

    @property
    def dtype(self) -> np.dtype:
        return self.model.dtype

    @property
    def weights_before(self) -> dict[str, dict[str, np.ndarray]]:
        """The weights at the start of the current step (what its forward pass used)."""
        return self._start.weights

    @property
    def optimizer_state_before(self) -> dict[str, Any]:
        """The optimizer's state at the start of the current step: ``iterations``,
        ``learning_rate`` and ``slots`` (``{"layer/kernel": {"momentum": ...}}``)."""
        return self._start.optimizer

    # ------------------------------------------------------------------ building
    def _fresh_model(self) -> NumpyModel:
        model = build_model(self.project, self.graph, "numpy", weights=False)
        self.weights_source = f"initial weights (seed {model.seed})"
        if self.start is not None:
            try:
                model.set_flat_weights(self.start.weights)
            except DataError as exc:
                model.initialize()
                self.weights_source = (
                    f"initial weights (seed {model.seed}); {self.start_label or 'the snapshot'} "
                    f"does not fit the network any more ({exc})"
                )
                return model
            if not self.start.partial and self.start.optimizer:
                model.optimizer.set_state(self.start.optimizer)  # Adam's moments as then
            rng = self.start.rng or {}
            if rng.get("backend") == "numpy" and rng.get("layers"):
                model.set_rng_states(rng["layers"])
            self.weights_source = self.start_label or "a run's snapshot"
            return model
        if self.project.weights:
            try:
                model.set_flat_weights(self.project.weights)
                self.weights_source = "the project's trained weights"
            except DataError as exc:
                # The network was edited since training: its weights no longer fit.
                model.initialize()
                self.weights_source = (
                    f"initial weights (seed {model.seed}); the trained weights do not fit "
                    f"the network any more ({exc})"
                )
        return model

    def _twin(self, dtype: str | None = None, graph: Graph | None = None) -> NumpyModel:
        """A new model in the state the live one had at the start of the current step."""
        twin = build_model(self.project, graph or self.graph, "numpy", dtype=dtype, weights=False)
        twin.set_weights(self._start.weights)
        if dtype is None or np.dtype(dtype) == self.model.dtype:
            twin.optimizer.set_state(self._start.optimizer)
        twin.set_rng_states(self._start.dropout)
        return twin

    # ------------------------------------------------------------------ phases
    def strip(self) -> list[str]:
        """One label per phase of a step, in order: ``"Forward <layer>"`` per layer,
        ``"Loss"``, ``"Backward <layer>"`` per layer in reverse, ``"Update <layer>"`` per layer
        with weights. Index ``i`` labels :attr:`phases` ``[i]``."""
        return [f"{k.capitalize()} {layer}" if layer else "Loss" for k, layer in self.plan()]

    def plan(self) -> list[tuple[str, str | None]]:
        """``(phase, layer)`` of every phase of a step, in order (layer None for the loss).

        The same for every step of the session (the graph does not change); made once per
        model, as the views ask for it at every number they look up."""
        return list(self._planned()[0])

    def _planned(self) -> tuple[list, dict]:
        """The plan and each phase's index in it, made once per model."""
        cached = getattr(self, "_plan_cache", None)
        if cached is None or cached[0] is not self.model:
            plan = self._make_plan()
            where: dict = {}
            for i, (kind, name) in enumerate(plan):
                where.setdefault((kind, None if kind == "loss" else name), i)
            cached = (self.model, plan, where)
            self._plan_cache = cached
        return cached[1], cached[2]

    def _make_plan(self) -> list[tuple[str, str | None]]:
        if self.perceptron:
            name = self.model.perceptron_layer().name
            return [("forward", name), ("loss", None), ("backward", name), ("update", name)]
        nodes = self.graph.nodes
        out: list[tuple[str, str | None]] = [("forward", n.name) for n in nodes]
        out.append(("loss", None))
        out += [("backward", n.name) for n in reversed(nodes)]
        out += [("update", n.name) for n in nodes if n.name in self.model.weights]
        return out

    @property
    def total_phases(self) -> int:
        return len(self._planned()[0])

    def position(self, phase: str, layer: str | None = None) -> int:
        """The index in :meth:`plan` of a phase (the loss needs no layer); -1 if none."""
        return self._planned()[1].get((phase, None if phase == "loss" else layer), -1)

    def event(self, phase: str, layer: str | None = None, upto: int | None = None):
        """The event of ``phase`` (and ``layer``) if it is at or before ``upto`` (default: the
        phase shown), else None."""
        upto = self.index if upto is None else upto
        pos = self.position(phase, layer)
        if pos < 0 or pos > upto or pos >= len(self.phases):
            return None
        return self.phases[pos]

    @property
    def current(self) -> PhaseEvent | None:
        """The phase shown, or None before the first phase of a step."""
        return self.phases[self.index] if self.index >= 0 else None

    @property
    def at_start(self) -> bool:
        return self.index < 0

    @property
    def at_end(self) -> bool:
        """True when the whole step has been shown (its update is applied)."""
        return self.committed and self.index == len(self.phases) - 1

    def _pull(self) -> None:
        assert self._gen is not None
        self.phases.append(next(self._gen))
        if len(self.phases) == self.total_phases:
            # The last update event: run the generator to its end, which applies the update.
            for _ in self._gen:  # pragma: no cover - the plan counts every event
                raise AssertionError("the trace yielded more phases than planned")
            self._gen = None
            self.committed = True

    def next(self) -> PhaseEvent | None:
        """Show the next phase (computing it when it is new); the phase shown, or None at the
        end of the step (then nothing changes)."""
        if self.index + 1 < len(self.phases):
            self.index += 1
        elif self._gen is not None:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self._pull()
            self.index += 1
        return self.current

    def previous(self) -> PhaseEvent | None:
        """Show the previous phase again (nothing is recomputed or changed)."""
        if self.index >= 0:
            self.index -= 1
        return self.current

    def run_to_end(self) -> PhaseEvent | None:
        """Compute and show the remaining phases of the step (applying its update)."""
        while not self.at_end:
            self.next()
        return self.current

    def next_step(self) -> None:
        """Finish the current step if needed, then start the next batch (before its first
        phase)."""
        self.run_to_end()
        self._cursor = (self._cursor + len(self.batch_indices)) % self.n_samples
        self._start_step()

    def rebatch(self) -> None:
        """Choose the current step's batch again with the current :attr:`batch_size` (only
        before its first phase is computed; later, a new size applies from the next step)."""
        if self.phases:
            raise NNDError("this step has begun; the new batch size applies from the next step")
        self.step_number -= 1
        self._start_step()

    def reset(self) -> None:
        """Start over: a fresh model (the project's trained weights, else its seed's initial
        weights) and the first sample of the training split."""
        self._close()
        self.model = self._fresh_model()
        self._cursor = 0
        self.step_number = 0
        self._start_step()

    def close(self) -> None:
        """Abandon the current step (the model stays as it was before it)."""
        self._close()

    def _close(self) -> None:
        if self._gen is not None:
            self._gen.close()  # type: ignore[attr-defined]
            self._gen = None

    def _start_step(self) -> None:
        self._close()
        n = self.n_samples
        rows = self.first_rows
        if rows is not None and self.step_number == 0 and len(rows) and rows.max() < n:
            # The Perceptron's rule is per sample: the batch's first one.
            self.batch_indices = rows[:1] if self.perceptron else rows
        else:
            self.batch_indices = (self._cursor + np.arange(self._batch_size)) % n
        self.batch_x = self.data.x_train[self.batch_indices]
        self.batch_y = self.data.y_train[self.batch_indices]
        sw = getattr(self.data, "sw_train", None)
        self.batch_w = None if sw is None else sw[self.batch_indices]
        m = self.model
        self._start = _StepStart(
            weights=m.get_weights(),
            optimizer=m.optimizer.get_state(),
            dropout=m.rng_states(),
        )
        self.phases = []
        self.index = -1
        self.committed = False
        self.step_number += 1
        self._gen = m.trace_step(self.batch_x, self.batch_y, self.batch_w)

    # ------------------------------------------------------------------ the whole step
    def full_phases(self) -> list[PhaseEvent]:
        """Every phase of the current step, without moving or changing the session: the
        phases already computed, else the step computed on a copy of the model."""
        if self.committed:
            return list(self.phases)
        twin = self._twin()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return list(twin.trace_step(self.batch_x, self.batch_y, self.batch_w))

    def trace_document(self) -> dict:
        """The current step as :func:`trace_document` (what ``nndesigner trace`` writes)."""
        events = self.full_phases()
        return trace_document(
            self.project.name,
            1 if self.perceptron else len(self.batch_x),
            self.model.optimizer_class,
            self.model.loss,
            events,
        )

    def save_json(self, path: str | Path) -> None:
        """Write the current step as ``nndesigner trace`` JSON (all of its phases)."""
        write_trace_json(path, self.trace_document())

    # ------------------------------------------------------------------ checks
    def check_gradients(self, entries: int = 24) -> list[LayerCheck]:
        """Backprop against central differences on the current batch, per weight array.

        Runs on a float64 copy of the model with the weights the current step started from
        (the live model is untouched). See :func:`engine.gradcheck.gradient_check` (the step
        per entry, the round-off floor, "too small to judge") and :func:`gradcheck_grade`.

        Raises
        ------
        NNDError
            For the Perceptron (its 'sign' activation has no gradient).
        """
        if self.perceptron or any(n.activation == "sign" for n in self.graph.nodes):
            raise NNDError("the Perceptron's 'sign' activation has no gradient to check")
        twin = self._twin(dtype="float64")
        x = self.batch_x.astype(np.float64)
        y = self.batch_y if self.batch_y.dtype.kind in "iu" else self.batch_y.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return gradient_check(twin, x, y, entries=entries, rtol=GRADCHECK_PASS)

    def tensorflow_problem(self) -> str:
        """Why this project cannot be compared with TensorFlow ('' when it can, as far as can
        be told without importing TensorFlow)."""
        from engine.backends.tensorflow import (
            INSTALL_HINT,
            tensorflow_installed,
            unsupported_problems,
        )

        problems = unsupported_problems(self.graph, optimizer_spec(self.project))
        if problems:
            return str(problems[0])
        if not tensorflow_installed():
            return f"TensorFlow is not installed; the NumPy backend still works. {INSTALL_HINT}"
        return ""

    def compare_tensorflow(self):
        """The current step from the same weights on the TensorFlow backend, compared per layer
        with the NumPy engine: outputs, loss, weight gradients, weights after the update.

        Dropout is off on both sides (the engines draw different masks), and both optimizers
        start from a fresh state (TensorFlow cannot take the NumPy engine's slots), so after
        the first step the updated weights are those of a first step from these weights.

        Returns
        -------
        engine.parity.ParityReport
            ``rows`` holds one :class:`~engine.parity.ParityRow` per compared quantity.

        Raises
        ------
        BackendUnavailableError
            When TensorFlow is missing or broken, or the project uses what only the NumPy
            engine has (the Perceptron, the 'sign' activation).
        """
        reason = self.tensorflow_problem()
        if reason:
            raise BackendUnavailableError(reason)
        from engine.backends.tensorflow import import_tensorflow
        from engine.parity import ParityReport, compare_step, without_dropout
        from engine.validate import check_project

        tf, keras = import_tensorflow()
        plain, had_dropout = without_dropout(self.project)
        graph = check_project(plain)
        x, y = self.batch_x, self.batch_y
        np_model = build_model(plain, graph, "numpy", weights=False)
        np_model.set_weights(self._start.weights)
        tf_model = build_model(plain, graph, "tensorflow", weights=False)
        step = compare_step(graph, np_model, tf_model, x, y)
        notes = [
            "Dropout is off for the comparison (the engines draw different masks)."
            + (
                " This network has dropout; the stepped training still uses it."
                if had_dropout
                else ""
            )
        ]
        if self._start.optimizer["iterations"] > 0:
            notes.append(
                "Both optimizers start from a fresh state (TensorFlow cannot take the NumPy "
                f"engine's slots); the stepped model is at iteration "
                f"{self._start.optimizer['iterations']}."
            )
        return ParityReport(
            project_name=self.project.name,
            dtype=str(np_model.dtype),
            batch_size=len(x),
            optimizer=np_model.optimizer_class,
            weights_source=f"the weights of step {self.step_number} ({self.weights_source})",
            loss_numpy=step.loss_numpy,
            loss_tensorflow=step.loss_tensorflow,
            rows=step.rows,
            notes=notes,
            tensorflow_version=f"TensorFlow {tf.__version__}, Keras {keras.__version__}",
        )
