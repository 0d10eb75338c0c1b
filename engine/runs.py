"""A project's training runs: what each run was, where it came from, and its snapshots.

Every training (Play … Stop in the window, ``nndesigner train``) appends a :class:`Run`: its
number, its parent (``"2:14"``: forked from run 2 after epoch 14; None for a run from fresh
weights), when it started and how long it took, its full settings (the project's model,
compile, fit, dataset, dtype and backend) and what differs from its parent's, its history
(Keras' ``{"loss": [...], ...}``, one value per epoch it ran) and its epoch-end
:class:`~engine.snapshots.Snapshot` s, from which any later run can continue.

Snapshots are bounded by a byte budget per project (:data:`DEFAULT_BUDGET_MB`, the
project's ``"snapshot_budget_mb"``): every epoch is kept while they fit; beyond, the runs are
thinned, never losing a run's first, last and best epoch (lowest ``val_loss``, else ``loss``)
or an epoch another run was forked from, and each run says how many it lost
(:attr:`Run.thinned`).

On disk the runs are ``runs.json`` in the project's ``.nnd`` (``{"runs_format": 1, "runs":
[...]}``) and each snapshot two entries under ``snapshots/``. A ``.nnd`` written before runs
were kept has a history and weights only: it opens as run 1, whose last epoch has a partial
snapshot (weights only, see :func:`from_legacy`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import NNDError, ProjectError
from engine.snapshots import Snapshot

#: The snapshot budget of a project that sets none, in megabytes (10⁶ bytes).
DEFAULT_BUDGET_MB = 100
RUNS_FORMAT = 1
#: The most snapshots a project keeps, whatever their size (each is two entries of the .nnd).
MAX_SNAPSHOTS = 20_000
#: The project keys a run keeps as its settings.
SETTING_KEYS = ("model", "compile", "fit", "dataset", "dtype", "backend")


@dataclass(eq=False)  # compared by identity: it holds arrays
class Run:
    """One training run (see the module docstring)."""

    number: int
    parent: str | None
    started: str
    settings: dict[str, Any]
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    #: The epoch numbers it ran (the first is its parent's epoch + 1, or initial_epoch + 1).
    first_epoch: int = 1
    duration_s: float = 0.0
    snapshots: dict[int, Snapshot] = field(default_factory=dict)
    thinned: int = 0
    stop_reason: str | None = None

    @property
    def epochs(self) -> int:
        """How many epochs it ran."""
        return len(self.history.get("loss", []))

    @property
    def last_epoch(self) -> int:
        return self.first_epoch + self.epochs - 1

    def best_epoch(self) -> int | None:
        """The epoch of its lowest ``val_loss`` (else ``loss``), finite values only."""
        key = "val_loss" if self.history.get("val_loss") else "loss"
        values = self.history.get(key, [])
        best = None
        for i, v in enumerate(values):
            if isinstance(v, (int, float)) and math.isfinite(v) and (best is None or v < best[0]):
                best = (v, i)
        return None if best is None else self.first_epoch + best[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "parent": self.parent,
            "started": self.started,
            "duration_s": round(float(self.duration_s), 3),
            "first_epoch": self.first_epoch,
            "settings": self.settings,
            "changed": self.changed,
            "history": self.history,
            "snapshots": sorted(self.snapshots),
            "thinned": self.thinned,
            "stop_reason": self.stop_reason,
        }


def now_text() -> str:
    """The current time as ISO 8601 text, to the second, with its UTC offset."""
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


def project_settings(data: dict) -> dict[str, Any]:
    """The settings a run keeps: the project's model, compile, fit, dataset, dtype, backend."""
    return {k: copy.deepcopy(data[k]) for k in SETTING_KEYS if k in data}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def settings_diff(before: dict | None, after: dict) -> dict[str, dict[str, Any]]:
    """What differs, by dotted path (``"fit.epochs"``, ``"compile.optimizer.config.
    learning_rate"``): ``{"from": old, "to": new}`` (None where a side lacks it). The model's
    layers compare as one value: a changed network shows as ``model.layers``."""
    if before is None:
        return {}

    def flat(d: dict) -> dict[str, Any]:
        out: dict[str, Any] = {}
        d = copy.deepcopy(d)
        layers = (
            d.get("model", {}).pop("layers", None) if isinstance(d.get("model"), dict) else None
        )
        _flatten(d, "", out)
        if layers is not None:
            out["model.layers"] = layers
        return out

    a, b = flat(before), flat(after)
    return {
        key: {"from": a.get(key), "to": b.get(key)}
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    }


def parse_point(text: str) -> tuple[int, int]:
    """``"2:14"`` -> ``(2, 14)``: a run and one of its epochs; NNDError for anything else."""
    run, colon, epoch = str(text).partition(":")
    try:
        if not colon:
            raise ValueError
        point = int(run), int(epoch)
    except ValueError:
        raise NNDError(f"{text!r} is not RUN:EPOCH (like 2:14)") from None
    if point[0] < 1 or point[1] < 0:
        raise NNDError(f"{text!r}: runs count from 1 and epochs from 0")
    return point


class RunStore:
    """A project's runs, their snapshots and the budget they share."""

    def __init__(self, runs: list[Run] | None = None, budget_mb: float = DEFAULT_BUDGET_MB):
        self.runs: list[Run] = list(runs or [])
        self.budget_mb = float(budget_mb)
        #: Made from a project saved before runs were kept (:func:`from_legacy`) and not
        #: trained since: saving it writes what it was read from (its history and weights).
        self.legacy = False

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.runs)

    def get(self, number: int) -> Run:
        for run in self.runs:
            if run.number == number:
                return run
        known = ", ".join(str(r.number) for r in self.runs) or "none"
        raise NNDError(f"the project has no run {number} (its runs: {known})")

    def snapshot(self, number: int, epoch: int) -> Snapshot:
        """Run ``number``'s snapshot after ``epoch``; NNDError naming the epochs it keeps."""
        run = self.get(number)
        snap = run.snapshots.get(epoch)
        if snap is None:
            kept = sorted(run.snapshots)
            if not kept:
                raise NNDError(f"run {number} keeps no snapshot to continue from")
            near = min(kept, key=lambda e: (abs(e - epoch), e))
            why = (
                f"its epochs run {run.first_epoch}–{run.last_epoch}"
                if not run.first_epoch <= epoch <= run.last_epoch
                else "that epoch's snapshot was thinned to keep the project within its budget"
            )
            raise NNDError(
                f"run {number} has no snapshot after epoch {epoch} ({why}); the nearest it "
                f"keeps: {near} (all: {_ranges(kept)})"
            )
        return snap

    def next_number(self) -> int:
        return max((r.number for r in self.runs), default=0) + 1

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for r in self.runs for s in r.snapshots.values())

    @property
    def count(self) -> int:
        """How many snapshots the runs keep."""
        return sum(len(r.snapshots) for r in self.runs)

    @property
    def budget_bytes(self) -> int:
        return int(self.budget_mb * 1e6)

    def forked_points(self) -> set[tuple[int, int]]:
        """The (run, epoch) pairs other runs were forked from."""
        points = set()
        for run in self.runs:
            if run.parent:
                try:
                    points.add(parse_point(run.parent))
                except NNDError:
                    continue
        return points

    # ------------------------------------------------------------------ changes
    def start_run(self, parent: str | None, settings: dict, first_epoch: int) -> Run:
        """A new run (appended; the file keeps runs from now on): the next number, started
        now, ``changed`` against its parent's settings (none for a run without a parent, or
        whose parent is no longer kept)."""
        parent_settings = None
        if parent is not None:
            number = parse_point(parent)[0]
            parent_settings = next((r.settings for r in self.runs if r.number == number), None)
        run = Run(
            number=self.next_number(),
            parent=parent,
            started=now_text(),
            settings=settings,
            changed=settings_diff(parent_settings, settings),
            first_epoch=first_epoch,
        )
        self.runs.append(run)
        self.legacy = False
        return run

    def add(self, run: Run) -> None:
        self.runs.append(run)
        self.fit_budget()

    def fit_budget(self) -> None:
        """Thin the snapshots until they fit the budget (and :data:`MAX_SNAPSHOTS`): each pass
        halves the unprotected snapshots of the run that holds the most bytes (every other
        one goes); a run's first, last and best epoch and every fork point stay."""
        budget = self.budget_bytes
        total = self.nbytes
        guard = 0
        while (total > budget or self.count > MAX_SNAPSHOTS) and guard < 10_000:
            guard += 1
            run = max(self.runs, key=lambda r: sum(s.nbytes for s in r.snapshots.values()))
            loose = [e for e in sorted(run.snapshots) if e not in self._protected(run)]
            if not loose:
                others = [r for r in self.runs if r is not run and self._loose(r)]
                if not others:
                    return  # only protected snapshots left: the budget cannot be met
                run = max(others, key=lambda r: sum(s.nbytes for s in r.snapshots.values()))
                loose = self._loose(run)
            drop = loose[1::2] or loose[:1]
            for e in drop:
                total -= run.snapshots.pop(e).nbytes
            run.thinned += len(drop)

    def _loose(self, run: Run) -> list[int]:
        return [e for e in sorted(run.snapshots) if e not in self._protected(run)]

    def _protected(self, run: Run) -> set[int]:
        keep = {run.first_epoch, run.last_epoch}
        best = run.best_epoch()
        if best is not None:
            keep.add(best)
        keep |= {e for r, e in self.forked_points() if r == run.number}
        return keep

    # ------------------------------------------------------------------ the table
    def table(self) -> list[dict[str, Any]]:
        """One row per run: run, parent, changed settings, epochs, best and final metrics,
        duration, snapshots kept and thinned."""
        rows = []
        for run in self.runs:
            final = {k: v[-1] for k, v in run.history.items() if v}
            best_epoch = run.best_epoch()
            best = None
            if best_epoch is not None:
                key = "val_loss" if run.history.get("val_loss") else "loss"
                best = {
                    "epoch": best_epoch,
                    key: run.history[key][best_epoch - run.first_epoch],
                }
            rows.append(
                {
                    "run": run.number,
                    "parent": run.parent,
                    "started": run.started,
                    "changed": {k: v["to"] for k, v in run.changed.items()},
                    "epochs": [run.first_epoch, run.last_epoch] if run.epochs else [],
                    "best": best,
                    "final": final,
                    "duration_s": round(run.duration_s, 3),
                    "snapshots": len(run.snapshots),
                    "thinned": run.thinned,
                    "stop_reason": run.stop_reason,
                }
            )
        return rows


def weight_difference(store: RunStore, a: int, b: int) -> list[dict[str, Any]]:
    """Per weight, how far run ``b``'s last kept weights are from run ``a``'s: ``{"weight":
    "hidden/kernel", "diff": ‖w_b − w_a‖, "relative": that / ‖w_a‖ (None when ‖w_a‖ is 0),
    "epochs": (a's, b's)}``; weights one run lacks or with other shapes are left out."""
    ra, rb = store.get(a), store.get(b)
    if not ra.snapshots or not rb.snapshots:
        return []
    ea, eb = max(ra.snapshots), max(rb.snapshots)
    wa, wb = ra.snapshots[ea].weights, rb.snapshots[eb].weights
    out = []
    for key in wa:
        if key not in wb or wa[key].shape != wb[key].shape:
            continue
        x = wa[key].astype(np.float64)
        d = float(np.linalg.norm(wb[key].astype(np.float64) - x))
        n = float(np.linalg.norm(x))
        out.append({"weight": key, "diff": d, "relative": d / n if n else None, "epochs": (ea, eb)})
    return out


def _ranges(epochs: list[int]) -> str:
    """``[1, 2, 3, 5, 8, 9]`` -> ``"1–3, 5, 8–9"``."""
    parts: list[str] = []
    start = prev = None
    for e in epochs:
        if start is None:
            start = prev = e
        elif e == prev + 1:
            prev = e
        else:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = prev = e
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(parts)


def from_legacy(data: dict, history: dict | None, weights: dict | None) -> RunStore:
    """The runs of a project saved before runs were kept: its history as run 1 (parent
    none), whose last epoch has a partial snapshot of the weights; none without a history."""
    store = RunStore(budget_mb=budget_of(data))
    if history and history.get("loss"):
        run = Run(1, None, "", project_settings(data), history=copy.deepcopy(history))
        if weights:
            run.snapshots[run.last_epoch] = Snapshot(
                run.last_epoch, dict(weights), {}, {}, [], partial=True
            )
        store.runs.append(run)
    store.legacy = True
    return store


def budget_of(data: dict) -> float:
    value = data.get("snapshot_budget_mb", DEFAULT_BUDGET_MB)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return float(DEFAULT_BUDGET_MB)
    return float(value)


def run_from_json(item: Any, where: str) -> Run:
    """A :class:`Run` (without its snapshots) from ``runs.json``; ProjectError naming what is
    malformed."""
    if not isinstance(item, dict):
        raise ProjectError("each run in runs.json must be an object", where)
    number = item.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ProjectError(f"a run's number must be 1 or more, got {number!r}", where)
    parent = item.get("parent")
    if parent is not None:
        try:
            parse_point(parent)
        except NNDError as exc:
            raise ProjectError(f"run {number}'s parent: {exc.message}", where) from None
    history = item.get("history") or {}
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        raise ProjectError(f"run {number}'s history must be lists of numbers by key", where)
    settings = item.get("settings") or {}
    changed = item.get("changed") or {}
    if not isinstance(settings, dict) or not isinstance(changed, dict):
        raise ProjectError(f"run {number}'s settings and changes must be objects", where)
    first = item.get("first_epoch", 1)
    if isinstance(first, bool) or not isinstance(first, int) or first < 1:
        raise ProjectError(f"run {number}'s first_epoch must be 1 or more, got {first!r}", where)
    return Run(
        number=number,
        parent=parent,
        started=str(item.get("started") or ""),
        settings=settings,
        changed=changed,
        history=history,
        first_epoch=first,
        duration_s=float(item.get("duration_s") or 0.0),
        thinned=int(item.get("thinned") or 0),
        stop_reason=item.get("stop_reason"),
    )
