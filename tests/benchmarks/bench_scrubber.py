"""Benchmark: the rewind scrubber's redraw time (issue 17: within 0.2 s per step).

A real main window (offscreen, 1366×768, the Train workspace) opens an example, trains it
with the app's default worker (a child process), then moves the scrubber to ``--steps``
epochs spread over the run, one after the other, as a drag does. Per move: from the
slider's change to the moment the decision boundary (and every other visible view) has
drawn the snapshot of that epoch (the worker sets the epoch's weights, computes the views'
snapshot, sends it; the window renders). Median and max per example.

Run:  python tests/benchmarks/bench_scrubber.py [--examples xor,spiral,iris,cnn_digits]
      [--steps 12] [--epochs N]
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

TIMEOUT_S = 300.0


def _wait(app, cond, timeout_s: float = TIMEOUT_S) -> bool:
    from tests.benchmarks.common import wait_until

    return wait_until(app, cond, timeout_s)


def one_example(app, name: str, steps: int, epochs: int | None) -> list[float]:
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine.project import load_project

    project = load_project(ROOT / "resources" / "examples" / f"{name}.json")
    if epochs is not None:
        project.data.setdefault("fit", {})["epochs"] = int(epochs)
    window = MainWindow(Document(project))
    window.resize(1366, 768)
    window.show()
    _wait(app, window.isVisible, 10)
    window.workspaces.switch("train")
    ctrl = window.training
    done = ctrl.finished_runs
    ctrl.panel.actions["play"].trigger()
    _wait(app, lambda: ctrl.finished_runs > done and ctrl.state == "idle")
    ctrl.render_views()
    scrub = ctrl.loss_plot.scrubber
    kept = list(scrub.epochs)
    if not kept:
        raise SystemExit(f"{name}: no snapshots to scrub over")
    chosen = [kept[round(i * (len(kept) - 1) / max(steps - 1, 1))] for i in range(steps)]
    times = []
    for epoch in chosen:
        renders = ctrl.boundary.renders
        t0 = time.perf_counter()
        scrub.show_epoch(epoch)

        def drawn(epoch=epoch, renders=renders):
            snap = ctrl.snapshot
            if snap is None or getattr(snap, "rewound", None) != epoch:
                return False
            ctrl.render_views()  # what the render timer does at its next tick
            return ctrl.boundary.renders > renders or not ctrl.boundary.isVisible()

        if not _wait(app, drawn, 30.0):
            times.append(float("nan"))
            continue
        times.append(time.perf_counter() - t0)
    scrub.back_to_now()
    ctrl.shutdown()
    window.document.set_clean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", default="xor,spiral,iris,cnn_digits")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=None, help="default: the example's own")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nnd-bench-scrub-")
    os.environ["NNDESIGNER_SETTINGS_DIR"] = str(Path(tmp) / "settings")
    os.environ["NNDESIGNER_RECOVERY_DIR"] = str(Path(tmp) / "recovery")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"scrubber redraw, offscreen 1366x768, {args.steps} epochs each")
    for name in args.examples.split(","):
        times = [t for t in one_example(app, name, args.steps, args.epochs) if t == t]
        if not times:
            print(f"{name:12} never drawn")
            continue
        print(
            f"{name:12} median {statistics.median(times):.3f} s, max {max(times):.3f} s "
            f"({len(times)} moves)",
            flush=True,
        )


if __name__ == "__main__":
    main()
