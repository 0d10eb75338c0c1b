"""Soak: 100 000 training steps with every live view open; does memory stay put?

A tiny network (2-8-2, tanh, Adam) on moons, batch size 8, trained from a main window with
:func:`designer.training.attach_training` and every dock floated (all views visible and
rendering) until 100 000 steps are done. The resident memory (RSS, from /proc/PID/statm) of
the window's process and of the training process (the same one with ``--worker thread``) is
sampled every second and summed; the start is taken after a warm-up of
``--warmup`` steps (imports, first paints, pyqtgraph caches). Prints start, end, growth, the
slope over the second half, the number of pyqtgraph items in every scene at the start and end
(they must not grow: items are reused), and the machine's load.

Run:  python tests/benchmarks/soak_gui_training.py [--steps 100000] [--warmup 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE / 2**20
    except FileNotFoundError:  # the process has ended
        return 0.0


def spec(steps: int) -> dict:
    n, val, batch = 400, 0.2, 8
    per_epoch = -(-int(n * (1 - val)) // batch)
    return {
        "format_version": 1,
        "name": "soak",
        "model": {
            "input_shape": [2],
            "layers": [
                {"class_name": "Dense", "config": {"name": "h", "units": 8, "activation": "tanh"}},
                {
                    "class_name": "Dense",
                    "config": {"name": "o", "units": 2, "activation": "softmax"},
                },
            ],
        },
        "compile": {
            "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {
            "epochs": -(-steps // per_epoch),
            "batch_size": batch,
            "validation_split": val,
            "shuffle": True,
            "seed": 0,
        },
        "dataset": {"name": "moons", "n_samples": n, "noise": 0.1},
        "backend": "numpy",
        "dtype": "float32",
    }


def scene_items(ctrl) -> int:
    from PySide6.QtWidgets import QGraphicsView

    total = 0
    for view in ctrl.views():
        for gv in view.findChildren(QGraphicsView):
            total += len(gv.scene().items())
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--warmup", type=int, default=5_000)
    ap.add_argument("--worker", default="process", choices=["process", "thread"])
    args = ap.parse_args(argv)
    os.environ["NND_TRAINING_WORKER"] = args.worker

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.project import from_dict
    from tests.benchmarks.common import training_window

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window, ctrl = training_window(from_dict(spec(args.steps)))
    app.processEvents()
    pid = ctrl.session.worker_pid()
    own = os.getpid()

    def memory() -> tuple[float, float]:
        """(RSS of the window's process, RSS of the training process; 0 if the same)."""
        return rss_mb(), (rss_mb(pid) if pid != own else 0.0)

    samples: list[tuple[float, int, float]] = []  # (time, steps, total rss)
    parts: list[tuple[float, float]] = []
    marks: dict = {}
    loop = QEventLoop()
    t0 = time.perf_counter()

    def sample() -> None:
        steps = ctrl.history.gsteps
        ui, worker = memory()
        samples.append((time.perf_counter() - t0, steps, ui + worker))
        parts.append((ui, worker))
        if "start" not in marks and steps >= args.warmup:
            marks["start"] = samples[-1]
            marks["items_start"] = scene_items(ctrl)
        if ctrl.finished_runs or ctrl.errors or steps >= args.steps:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(1000)
    ctrl.play()
    loop.exec()
    timer.stop()
    ctrl.pause()
    sample()
    end = samples[-1]
    start_index = samples.index(marks["start"]) if "start" in marks else 0
    parts_text = (
        f" (window {parts[start_index][0]:.1f} -> {parts[-1][0]:.1f} MB, training process "
        f"{parts[start_index][1]:.1f} -> {parts[-1][1]:.1f} MB)"
        if pid != own
        else ""
    )
    items_end = scene_items(ctrl)
    renders = sum(v.renders for v in ctrl.views())
    errors = list(ctrl.errors)
    ctrl.shutdown()
    if errors:
        print(f"training failed: {errors[-1]}")
        return 1
    start = marks.get("start", samples[0])
    after = [s for s in samples if s[1] >= start[1]]
    half = after[len(after) // 2 :]
    slope = (
        np.polyfit([s[0] for s in half], [s[2] for s in half], 1)[0] * 60 if len(half) > 2 else 0
    )
    la = os.getloadavg()
    print(
        f"{end[1]:,} steps in {end[0]:.0f} s ({end[1] / max(end[0], 1e-9):,.0f} steps/s), "
        f"{renders} view renders, {ctrl.session.drains} drains"
    )
    print(f"training worker: {args.worker}")
    print(
        f"RSS after {start[1]:,} warm-up steps {start[2]:.1f} MB; at the end {end[2]:.1f} MB; "
        f"growth {end[2] - start[2]:+.1f} MB (limit 50 MB); second-half slope "
        f"{slope:+.2f} MB/min; peak {max(s[2] for s in samples):.1f} MB{parts_text}"
    )
    print(f"pyqtgraph scene items: {marks.get('items_start')} at the start, {items_end} at the end")
    print(f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
