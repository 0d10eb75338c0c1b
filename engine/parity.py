"""Parity: do the NumPy engine and the TensorFlow backend compute the same training step?

:func:`parity_report` builds the project on both backends from the same weights (the project's
trained weights when it has them, else the NumPy engine's initial weights for its seed), feeds
both the same first batch of the training data (no shuffling) and compares, layer by layer, the
forward outputs, the loss, the weight gradients and the weights after one optimizer step.

Dropout is switched off for the comparison (its rate set to 0 on both sides): the engines draw
different dropout masks, so with dropout on the two steps could not be compared number by
number. Everything else in the step is the training step itself. :func:`compare_step` does
the comparing from any state of a NumPy model; the stepper compares its current step with it.

Tolerances (``|a - b| <= atol + rtol * |b|`` elementwise, with ``atol`` scaled by the largest
magnitude in the NumPy array, so that a layer working with values in the hundreds is judged
like one working with values near 1):

- float32: outputs and loss rtol 1e-5 / atol 1e-6 (Keras' own backend-parity tests). Weight
  gradients rtol 1e-4 / atol 1e-5: a gradient is a sum over the batch, and the two engines add
  in different orders (BLAS vs TensorFlow's kernels), so float32 rounding (1.2e-7 per
  operation) accumulates over the batch before any cancellation. Weights after one step rtol
  1e-5 / atol 1e-6, plus 1e-4 of the largest step (the optimizers' own arithmetic), plus twice
  what the gradient differences explain: the NumPy engine's step is recomputed from
  TensorFlow's gradients, and how far that moves it counts as explained. Adam's first step,
  about ``lr * sign(g)``, turns the rounding of a gradient near zero (an absolute 1e-9 on a
  value of 1e-6) into a difference of a thousandth of the step.
- float64: outputs, loss and weights after the step rtol 1e-9 / atol 1e-12 (after the step,
  plus 1e-8 of the largest step and what the gradients explain); gradients rtol 1e-8 / atol
  1e-10, for the same reasons as above.

Measured (this machine, TensorFlow 2.21, Keras 3.15): float32 outputs and gradients differ by
a few 1e-7 of their largest value, weights after an Adam step by up to 7e-6 (TensorFlow's fused
kernel rounds ``1 - beta_2`` to float32); float64 everything to 1e-14 or better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import DataError, ValidationError
from engine.graph import Graph
from engine.optimizers import optimizer_spec

#: (rtol, atol) per dtype and quantity kind; atol is relative to the array's largest magnitude.
TOLERANCES: dict[str, dict[str, tuple[float, float]]] = {
    "float32": {
        "output": (1e-5, 1e-6),
        "loss": (1e-5, 1e-6),
        "gradient": (1e-4, 1e-5),
        "after step": (1e-5, 1e-6),
    },
    "float64": {
        "output": (1e-9, 1e-12),
        "loss": (1e-9, 1e-12),
        "gradient": (1e-8, 1e-10),
        "after step": (1e-9, 1e-12),
    },
}


@dataclass
class ParityRow:
    """One compared quantity: a layer's output, a weight's gradient or updated value, or the loss.

    ``max_abs`` is the largest absolute difference; ``max_rel`` the same divided by the largest
    magnitude in the NumPy array (a scale-free size of the disagreement). ``ok`` applies the
    tolerance ``(rtol, atol)`` of :data:`TOLERANCES`.
    """

    layer: str
    quantity: str
    kind: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    rtol: float
    atol: float
    ok: bool


@dataclass
class ParityReport:
    """The per-layer differences between the two engines on one training step."""

    project_name: str
    dtype: str
    batch_size: int
    optimizer: str
    weights_source: str
    loss_numpy: float
    loss_tensorflow: float
    rows: list[ParityRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tensorflow_version: str = ""

    @property
    def ok(self) -> bool:
        """True when every compared quantity is within its tolerance."""
        return all(r.ok for r in self.rows)

    @property
    def failures(self) -> list[ParityRow]:
        return [r for r in self.rows if not r.ok]

    def worst(self, kind: str) -> float:
        """The largest ``max_rel`` among the rows of one kind (0.0 when there are none)."""
        vals = [r.max_rel for r in self.rows if r.kind == kind]
        return max(vals) if vals else 0.0

    def text(self) -> str:
        """A table for people, one row per compared quantity, and a verdict."""
        lines = [
            f'Parity of NumPy and TensorFlow on "{self.project_name}": one training step, '
            f"{self.dtype}, first batch of {self.batch_size} samples (no shuffling), "
            f"optimizer {self.optimizer}.",
            f"Weights: {self.weights_source}.",
        ]
        if self.tensorflow_version:
            lines.append(f"Backend: {self.tensorflow_version}.")
        lines.extend(self.notes)
        tol = TOLERANCES[self.dtype]
        lines.append(
            "Tolerances (|a-b| <= atol*max|b| + rtol*|b|): "
            + "; ".join(f"{k} rtol {r:g} atol {a:g}" for k, (r, a) in tol.items())
            + "."
        )
        headers = ["layer", "quantity", "shape", "max abs diff", "max rel diff", ""]
        table = [
            [
                r.layer,
                r.quantity,
                "x".join(str(d) for d in r.shape) or "-",
                f"{r.max_abs:.3g}",
                f"{r.max_rel:.3g}",
                "ok" if r.ok else "DIFFERS",
            ]
            for r in self.rows
        ]
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]

        def fmt(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        lines.append("")
        lines.append(fmt(headers))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt(row) for row in table)
        lines.append("")
        lines.append(f"Loss: NumPy {self.loss_numpy:.10g}, TensorFlow {self.loss_tensorflow:.10g}.")
        if self.ok:
            lines.append(
                f"Result: the engines agree ({len(self.rows)} quantities within tolerance)."
            )
        else:
            bad = self.failures
            listed = ", ".join(f"{r.layer} {r.quantity}" for r in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            lines.append(
                f"Result: the engines DIFFER in {len(bad)} of {len(self.rows)} quantities "
                f"({listed}{more})."
            )
        return "\n".join(lines)


def compare_arrays(
    layer: str,
    quantity: str,
    kind: str,
    a: np.ndarray,
    b: np.ndarray,
    dtype: str,
    step: np.ndarray | None = None,
    explained: np.ndarray | None = None,
    scale_floor: float = 0.0,
) -> ParityRow:
    """Compare ``a`` (TensorFlow) with ``b`` (NumPy, the reference) under :data:`TOLERANCES`.

    For weights after an optimizer step: ``step`` is the NumPy engine's change of those
    weights; the optimizers' arithmetic may differ by the gradient tolerance's share of the
    largest step. ``explained`` (elementwise) is how far the NumPy engine's own step moves
    when it is fed TensorFlow's gradients instead of its own: the part of the difference that
    the (separately compared) gradients account for. Adam's step, about ``lr * sign(g)``,
    turns the tiny absolute rounding of a gradient near zero into a visible change.
    ``scale_floor``: the scale the absolute tolerance is relative to is at least this (a
    gradient that is zero in exact arithmetic, such as the bias of a Dense layer before a
    BatchNormalization, holds only round-off; it is judged against the layer's largest
    gradient, not against itself).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    rtol, atol = TOLERANCES[dtype][kind]
    step_allowance = 0.0
    if step is not None:
        finite_step = np.where(np.isfinite(step), np.abs(np.asarray(step, np.float64)), 0.0)
        step_allowance = TOLERANCES[dtype]["gradient"][0] * float(np.max(finite_step, initial=0))
    if a.shape != b.shape:
        return ParityRow(layer, quantity, kind, b.shape, np.inf, np.inf, rtol, atol, False)
    if a.size == 0:
        return ParityRow(layer, quantity, kind, b.shape, 0.0, 0.0, rtol, atol, True)
    diff = np.abs(a - b)
    # Both NaN or equal infinities count as agreeing (the same overflow on both sides).
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    diff = np.where(same, 0.0, diff)
    scale = max(float(np.max(np.abs(np.where(np.isfinite(b), b, 0.0)))), float(scale_floor))
    max_abs = float(np.max(diff))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else np.inf)
    bound = atol * max(scale, 1e-30) + rtol * np.abs(b) + step_allowance
    if explained is not None:
        bound = bound + 2 * np.where(np.isfinite(explained), np.abs(explained), 0.0)
    ok = bool(np.all(diff <= bound) or max_abs == 0)
    return ParityRow(layer, quantity, kind, b.shape, max_abs, max_rel, rtol, atol, ok)


def without_dropout(project) -> tuple[Any, bool]:
    """A copy of ``project`` with its random-in-training layers switched off, for comparing.

    The two engines draw different dropout masks, so a step with dropout cannot be compared
    number by number; each such layer is made deterministic by its type
    (:meth:`~engine.layers.LayerType.without_randomness`: a Dropout at rate 0, the identity on
    both engines).

    Returns
    -------
    plain : Project
        The copy.
    had_dropout : bool
        Whether switching randomness off changed any layer of ``project``.
    """
    from engine.layers import LAYER_TYPES

    plain = project.copy()
    had_dropout = False
    for layer in plain.layers:
        if not isinstance(layer, dict):
            continue
        kind = LAYER_TYPES.get(layer.get("class_name"))
        if kind is None or not kind.random_in_training:
            continue
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        new = kind.without_randomness(cfg)
        had_dropout = had_dropout or kind.resolve(new) != kind.resolve(cfg)
        layer["config"] = new
    return plain, had_dropout


@dataclass
class StepComparison:
    """What :func:`compare_step` found: the rows of a :class:`ParityReport` and both losses."""

    rows: list[ParityRow]
    loss_numpy: float
    loss_tensorflow: float


def compare_step(graph: Graph, np_model, tf_model, x: np.ndarray, y: np.ndarray) -> StepComparison:
    """One training step of both engines from the NumPy model's weights, compared per layer.

    Parameters
    ----------
    graph : Graph
        The network both models were built from (without dropout: see :func:`without_dropout`).
    np_model : NumpyModel
        The reference, in the state to compare from (weights, optimizer state); it takes the
        step (its traced step, which equals ``train_step`` bit for bit and stops at nothing, so
        a diverging step is compared too).
    tf_model : TensorFlowModel
        Given the NumPy model's weights here; its optimizer starts from a fresh state.
    x : ndarray of shape (n, ...)
        The batch's inputs.
    y : ndarray of shape (n,) or (n, k)
        Its targets, encoded for the loss.

    Returns
    -------
    StepComparison
        Rows in order: each layer's output, the loss, each weight's gradient (layers in
        reverse), each weight after the step (with what TensorFlow's gradients explain: the
        NumPy engine's step recomputed from them).
    """
    from engine.backends.numpy.optimizers import make_optimizer

    dtype = str(np_model.dtype)
    tf_model.set_weights(np_model.get_weights())
    trace = tf_model.trace_compare(x, y, training=True)
    # The NumPy engine's step fed TensorFlow's gradients: what the gradient differences explain.
    fed = np_model.flat_weights()
    twin = make_optimizer(np_model.optimizer_class, np_model.optimizer_config)
    twin.set_state(np_model.optimizer.get_state())
    tf_grads = {
        f"{layer}/{w}": np.asarray(g, dtype=np_model.dtype)
        for layer, ws in trace["grads"].items()
        for w, g in ws.items()
    }
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        twin.apply(fed, tf_grads)
        events = list(np_model.trace_step(x, y))
    fwd = {e.layer: e for e in events if e.phase == "forward"}
    bwd = {e.layer: e for e in events if e.phase == "backward"}
    upd = {e.layer: e for e in events if e.phase == "update"}
    loss_np = next(e.data["value"] for e in events if e.phase == "loss")

    rows = [
        compare_arrays(
            node.name,
            "output",
            "output",
            trace["outputs"][node.name],
            fwd[node.name].data["a"],
            dtype,
        )
        for node in graph.nodes
    ]
    rows.append(
        compare_arrays("(model)", "loss", "loss", np.array(trace["loss"]), np.array(loss_np), dtype)
    )
    for node in reversed(graph.nodes):
        # Gradients exist for the trainable weights only (not for moving statistics).
        trainable = [w.name for w in node.weights if w.trainable]
        layer_scale = max(
            (float(np.max(np.abs(bwd[node.name].data[f"grad_{w}"]), initial=0)) for w in trainable),
            default=0.0,
        )
        for wname in trainable:
            rows.append(
                compare_arrays(
                    node.name,
                    f"gradient of {wname}",
                    "gradient",
                    trace["grads"][node.name][wname],
                    bwd[node.name].data[f"grad_{wname}"],
                    dtype,
                    scale_floor=layer_scale,
                )
            )
    for node in graph.nodes:
        for wname in node.weight_names:
            before = upd[node.name].data["before"][wname]
            after = upd[node.name].data["after"][wname]
            rows.append(
                compare_arrays(
                    node.name,
                    f"{wname} after the step",
                    "after step",
                    trace["updated"][node.name][wname],
                    after,
                    dtype,
                    step=after - before,
                    explained=fed[f"{node.name}/{wname}"] - after,
                )
            )
    return StepComparison(rows, float(loss_np), float(trace["loss"]))


def parity_report(project, batch_size: int = 32, data=None) -> ParityReport:
    """Compare one training step of the NumPy and TensorFlow engines on ``project``.

    Parameters
    ----------
    project : Project
    batch_size : int
        How many samples of the training split (from the start, unshuffled) form the batch.
    data : TrainingData, optional
        Already loaded data (else the project's dataset is loaded and prepared as for
        training).

    Returns
    -------
    ParityReport

    Raises
    ------
    ValidationError
        When the project is not valid, or uses what only the NumPy engine has (the
        Perceptron optimizer, the ``sign`` activation).
    BackendUnavailableError
        When TensorFlow is not installed or fails to import.
    DataError
        When the data cannot be loaded.
    """
    from engine.backends.tensorflow import import_tensorflow, unsupported_problems
    from engine.training import build_model, load_training_data
    from engine.validate import check_project

    graph = check_project(project)
    problems = unsupported_problems(graph, optimizer_spec(project))
    if problems:
        raise ValidationError(problems)
    tf, keras = import_tensorflow()

    plain, had_dropout = without_dropout(project)
    graph = check_project(plain)
    if data is None:
        data = load_training_data(plain, graph)
    n = min(int(batch_size), len(data.x_train))
    if n == 0:
        raise DataError("the training split is empty: there is no batch to compare on")
    x, y = data.x_train[:n], data.y_train[:n]

    np_model = build_model(plain, graph, "numpy")
    if project.weights:
        source = "the project's trained weights"
    else:
        source = f"the NumPy engine's initial weights for seed {np_model.seed}"
    tf_model = build_model(plain, graph, "tensorflow", weights=False)
    step = compare_step(graph, np_model, tf_model, x, y)
    notes = [
        "Dropout is off for the comparison (rate 0 on both engines): the two engines draw "
        "different dropout masks, so a step with dropout cannot be compared number by number."
        + (" This project has dropout; training still uses it." if had_dropout else "")
    ]
    return ParityReport(
        project_name=project.name,
        dtype=project.dtype,
        batch_size=n,
        optimizer=np_model.optimizer_class,
        weights_source=source,
        loss_numpy=step.loss_numpy,
        loss_tensorflow=step.loss_tensorflow,
        rows=step.rows,
        notes=notes,
        tensorflow_version=f"TensorFlow {tf.__version__}, Keras {keras.__version__}",
    )
