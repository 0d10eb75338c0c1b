"""``nndesigner runs PROJECT [--json]``: a project's training runs as a table (run, parent,
changed settings, epochs, best and final metrics, duration, snapshots kept and thinned), the
same rows as the window's Runs table (:meth:`engine.runs.RunStore.table`)."""

from __future__ import annotations

import json
import math

from engine.errors import NNDError


def _number(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def value_text(v) -> str:
    if isinstance(v, dict):  # an optimizer or a loss spec: its class and settings
        cls = v.get("class_name")
        cfg = v.get("config") or {}
        inner = ", ".join(f"{k}={value_text(x)}" for k, x in cfg.items())
        return f"{cls}({inner})" if cls else json.dumps(v)
    if isinstance(v, list):
        return "[…]" if len(v) > 4 else json.dumps(v)
    return _number(v)


def runs_text(rows: list[dict], budget: str) -> str:
    """The table as text, one run per line."""
    if not rows:
        return "No runs yet: train the project (nndesigner train) to record one."
    head = ["run", "parent", "epochs", "best", "final", "time", "snapshots", "changed"]
    lines = []
    for r in rows:
        epochs = f"{r['epochs'][0]}–{r['epochs'][1]}" if r["epochs"] else "–"
        best = r["best"]
        best_text = (
            "–"
            if best is None
            else " ".join(f"{k} {_number(v)}" for k, v in best.items() if k != "epoch")
            + f" @{best['epoch']}"
        )
        final = r["final"]
        keys = [k for k in ("loss", "val_loss") if k in final] + [
            k for k in final if k not in ("loss", "val_loss", "regularization_loss")
        ][:2]
        final_text = " ".join(f"{k} {_number(final[k])}" for k in keys) or "–"
        snaps = str(r["snapshots"]) + (f" (-{r['thinned']})" if r["thinned"] else "")
        changed = ", ".join(f"{k}={value_text(v)}" for k, v in r["changed"].items()) or "–"
        lines.append(
            [
                str(r["run"]),
                r["parent"] or "–",
                epochs,
                best_text,
                final_text,
                f"{r['duration_s']:.1f}s",
                snaps,
                changed,
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    for line in lines:
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    out.append(budget)
    return "\n".join(out)


def cmd_runs(args) -> int:
    from engine.cli import _load
    from engine.memory import format_bytes

    project = _load(args.project)
    store = project.runs
    rows = store.table() if store is not None else []
    if args.json:
        doc = {
            "project": project.name,
            "runs": rows,
            "snapshot_bytes": store.nbytes if store else 0,
            "budget_bytes": store.budget_bytes if store else None,
        }
        try:
            print(json.dumps(doc, indent=1, allow_nan=False))
        except ValueError as exc:  # a non-finite metric: written as null
            raise NNDError(f"the runs hold a value JSON cannot write: {exc}") from None
        return 0
    budget = ""
    if store is not None:
        thinned = sum(r.thinned for r in store.runs)
        budget = (
            f"snapshots: {format_bytes(store.nbytes)} of the {store.budget_mb:g} MB budget"
            f" ({store.count} kept" + (f", {thinned} thinned" if thinned else "") + ")"
        )
    print(runs_text(rows, budget))
    return 0
