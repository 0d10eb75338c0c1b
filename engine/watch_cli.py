"""``nndesigner train --watch``: the training debugger headless. The project's ``fit.watch``
(or, without one, every default watchpoint) is armed; when one fires, training stops, the
batch's step is traced phase by phase from the weights before it (the JSON ``nndesigner
trace`` writes) and the exit status is 4."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine.errors import NNDError

#: ``train``'s exit status when a watchpoint stopped it.
EXIT_WATCH = 4


def add_arguments(t) -> None:
    t.add_argument(
        "--watch",
        action="store_true",
        help="arm the project's watchpoints (fit.watch; without any, the defaults: "
        "non-finite values, dead or saturated units, vanishing or exploding gradients, "
        "update ratios); stop at the batch where one fires, write that step's trace and "
        "exit with status 4",
    )
    t.add_argument(
        "--watch-if",
        action="append",
        metavar="CONDITION",
        default=[],
        help="with --watch: also stop when an epoch's logs meet CONDITION, e.g. "
        "'val_accuracy < 0.5 after epoch 20' (repeatable)",
    )
    t.add_argument(
        "--watch-trace",
        metavar="FILE",
        help="with --watch: where the fired batch's trace goes (default: beside the output, "
        "OUT.watch.json)",
    )


def arm(project, args) -> None:
    """Put the watchpoints ``--watch`` asks for into ``project``'s fit settings."""
    from engine.watch import DEFAULT_KINDS, parse_condition, watch_problems

    if not args.watch:
        if args.watch_if or args.watch_trace:
            raise NNDError("--watch-if and --watch-trace go with --watch")
        return
    fit = project.data.setdefault("fit", {})
    specs = list(fit.get("watch") or [{"class_name": k} for k in DEFAULT_KINDS])
    for text in args.watch_if:
        specs.append({"class_name": "MetricCondition", "config": parse_condition(text)})
    problems = watch_problems(specs)
    if problems:
        raise NNDError("; ".join(problems), "fit.watch")
    fit["watch"] = specs


def trace_path(args, out: Path) -> Path:
    return Path(args.watch_trace) if args.watch_trace else out.with_suffix(".watch.json")


def write_hit_trace(project, graph, trainer, hit, path: Path) -> int:
    """Trace the fired batch's step from the state before it into ``path``; the phases."""
    from engine.stepper import trace_document, write_trace_json

    model, _snap = trainer.state_before(project, graph, hit)
    rows = trainer.hit_rows(hit)
    data = trainer.data
    weights = None if data.sw_train is None else data.sw_train[rows]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        events = list(model.trace_step(data.x_train[rows], data.y_train[rows], weights))
    doc = trace_document(project.name, len(rows), model.optimizer_class, model.loss, events)
    doc["watchpoint"] = hit.to_json()
    note = trainer.replay_note(hit)
    if note:
        doc["watchpoint"]["weights"] = note
    write_trace_json(path, json_safe(doc))
    return len(events)


def json_safe(value):
    """``value`` with every non-finite float written as the text ``"NaN"``, ``"Infinity"`` or
    ``"-Infinity"`` (a diverged step's trace holds them; JSON numbers cannot)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def hit_text(hit) -> str:
    where = f", layer '{hit.layer}'" if hit.layer else ""
    step = f", step {hit.step}" if hit.step else ""
    return f"watchpoint {hit.kind} fired at epoch {hit.epoch}{step}{where}: {hit.message}"
