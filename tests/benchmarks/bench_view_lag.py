"""Benchmark: how far behind the training run the live views are (issue 13, "views keep up").

A real main window (offscreen, 1600×1000, the default layout: the views that are not tabbed
away are the ones measured) opens an example and trains it with the app's default worker (a
child process; ``--worker thread``: a thread). The benchmark wraps the ``render`` of the loss
plot and the decision boundary to note what each render drew and when, and keeps the time
at which the worker finished every step (``StepRecord.t``, ``time.monotonic()``, a
system-wide clock). It reports, per example:

- **while training**: every 20 ms, the age of the state each view shows: how long ago the
  run moved past it (``now - t(step shown + 1)``, 0 while the view shows the latest step);
  median and max;
- **at the end**: from the run's last step to the render that shows it (the final snapshot on
  the boundary, the last step on the loss plot);
- **after Reset** (pressed once the run is over): from the press to the boundary's render of
  the re-initialised weights;
- **after a plane change** (data with more than two features): from the choice to the
  boundary's render of a snapshot on the new plane (the view is blank in between);
- **run_seconds**: the worker's own time training (what the snapshots cost the run).

Medians and maxima over ``--repeats`` runs. Timings on a shared machine are noisy; compare
versions in the same session.

Run:  python tests/benchmarks/bench_view_lag.py [--examples spiral,iris] [--repeats 3]
      [--epochs N] [--worker process|thread]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SAMPLE_MS = 20
TIMEOUT_S = 120.0


def _wait(app, cond, timeout_s: float = TIMEOUT_S) -> bool:
    from tests.benchmarks.common import wait_until

    return wait_until(app, cond, timeout_s)


class Recorder:
    """What the loss plot and the boundary drew, and the worker's step times."""

    def __init__(self, ctrl) -> None:
        self.ctrl = ctrl
        self.step_t: dict[tuple[int, int], float] = {}
        self.train_seconds = float("nan")
        self.renders: dict[str, list[tuple[float, tuple]]] = {"loss": [], "boundary": []}
        ctrl.session.drained.connect(self._on_batch)
        self._wrap("loss", ctrl.loss_plot, self._loss_tag)
        self._wrap("boundary", ctrl.boundary, self._boundary_tag)

    def _on_batch(self, batch) -> None:
        for ev in batch.events:
            if ev[0] == "finished" and len(ev) > 2:
                self.train_seconds = float(ev[2])
        for r in batch.steps:
            self.step_t[(r.run, r.gstep)] = getattr(r, "t", 0.0) or time.monotonic()

    def _wrap(self, name: str, view, tag) -> None:
        inner = view.render

        def render() -> None:
            inner()
            self.renders[name].append((time.monotonic(), tag(view)))

        view.render = render

    @staticmethod
    def _loss_tag(view):
        h = view.history
        return (h.run_id, h.gsteps) if h is not None else None

    @staticmethod
    def _boundary_tag(view):
        snap = view.snapshot
        if snap is None or snap.boundary is None:
            return None
        return (snap.run, snap.step, id(view.info))

    def shown(self, name: str):
        r = self.renders[name]
        return r[-1][1] if r else None


def one_run(app, example: Path, epochs: int | None, plane: bool) -> dict:
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine.project import load_project

    window = MainWindow(Document(load_project(example)))
    window.resize(1600, 1000)
    window.show()
    ctrl = window.training
    rec = Recorder(ctrl)
    _wait(app, lambda: window.isVisible(), 10)
    if epochs is not None:
        window.document.project.data.setdefault("fit", {})["epochs"] = int(epochs)
    visible = ["loss", "boundary"]
    samples: dict[str, list[tuple[float, tuple | None]]] = {n: [] for n in visible}
    done = ctrl.finished_runs
    ctrl.panel.actions["play"].trigger()  # as the toolbar does (the Train workspace, if any)
    _wait(app, lambda: ctrl.history.gsteps > 0 or ctrl.finished_runs > done)
    while ctrl.finished_runs == done:
        now = time.monotonic()
        for n in visible:
            samples[n].append((now, rec.shown(n)))
        t_end = now + SAMPLE_MS / 1000
        while time.monotonic() < t_end:
            app.processEvents()
            time.sleep(0.002)
        if now - samples[visible[0]][0][0] > TIMEOUT_S:
            break
    run = ctrl.history.run_id
    final = ctrl.history.gsteps
    last_t = rec.step_t.get((run, final), time.monotonic())
    # The end: until every view shows the final step (or 5 s).
    _wait(
        app,
        lambda: (
            (rec.shown("loss") or (None, -1))[:2] == (run, final)
            and (rec.shown("boundary") or (None, -1))[:2] == (run, final)
        ),
        5.0,
    )
    app.processEvents()
    out: dict[str, list[float]] = {"run_seconds": [rec.train_seconds]}
    for n in visible:
        ages = []
        for now, tag in samples[n]:
            if tag is None or tag[0] != run:
                g = 0
            else:
                g = tag[1]
            nxt = rec.step_t.get((run, g + 1))
            ages.append(max(0.0, now - nxt) if nxt is not None and nxt < now else 0.0)
        out[f"train_{n}"] = ages
        end = next(
            (t for t, tag in rec.renders[n] if tag is not None and tag[:2] == (run, final)), None
        )
        out[f"end_{n}"] = [end - last_t] if end is not None else [math_nan()]
    # Reset: until the boundary draws the re-initialised weights.
    t0 = time.monotonic()
    ctrl.reset()
    ok = _wait(
        app,
        lambda: any(
            t > t0 and tag is not None and tag[0] != run and tag[1] == 0
            for t, tag in rec.renders["boundary"]
        ),
        10.0,
    )
    t_reset = next(
        (
            t
            for t, tag in rec.renders["boundary"]
            if t > t0 and tag is not None and tag[0] != run and tag[1] == 0
        ),
        None,
    )
    out["reset_boundary"] = [t_reset - t0 if ok and t_reset else math_nan()]
    if plane:
        old_info = id(ctrl.boundary.info)
        t0 = time.monotonic()
        ctrl.boundary.projection_requested.emit({"kind": "features", "features": [2, 3]})

        def new_plane():
            return next(
                (
                    t
                    for t, tag in rec.renders["boundary"]
                    if t > t0 and tag is not None and tag[2] != old_info
                ),
                None,
            )

        ok = _wait(app, lambda: new_plane() is not None, 10.0)
        out["plane_boundary"] = [new_plane() - t0 if ok else math_nan()]
    ctrl.shutdown()
    window.document.set_clean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return out


def math_nan() -> float:
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", default="spiral,iris")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="default: the example's own")
    ap.add_argument("--worker", choices=("process", "thread"), default="process")
    args = ap.parse_args()
    os.environ["NND_TRAINING_WORKER"] = args.worker
    tmp = tempfile.mkdtemp(prefix="nnd-bench-lag-")
    os.environ["NNDESIGNER_SETTINGS_DIR"] = str(Path(tmp) / "settings")
    os.environ["NNDESIGNER_RECOVERY_DIR"] = str(Path(tmp) / "recovery")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"view lag, {args.worker} worker, {args.repeats} runs each, offscreen 1600x1000")
    print(f"{'example':10} {'measure':22} {'median s':>9} {'max s':>8}  (samples)")
    for name in args.examples.split(","):
        path = ROOT / "resources" / "examples" / f"{name}.json"
        plane = name in ("iris",)
        merged: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            res = one_run(app, path, args.epochs, plane)
            for k, v in res.items():
                merged.setdefault(k, []).extend(v)
        for k in sorted(merged):
            v = [x for x in merged[k] if x == x]
            if not v:
                print(f"{name:10} {k:22} {'never':>9}")
                continue
            print(f"{name:10} {k:22} {statistics.median(v):9.3f} {max(v):8.3f}  ({len(merged[k])})")


if __name__ == "__main__":
    main()
