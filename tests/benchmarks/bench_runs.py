"""Runs and snapshots: what recording a run costs, and what it keeps.

Two trainings, each recorded as a run with a snapshot after every epoch (as ``nndesigner
train`` records them), against the same training unrecorded, interleaved (A B A B ...),
medians:

- the spiral example, 1000 epochs (a small network: every epoch's snapshot fits the budget);
- the seed MLP (784-128-10, dropout 0.2, Adam) on 12 000 MNIST-shaped random samples (the
  recorded size does not depend on the sample count), 20 epochs.

For each: the training time with and without the recording (the ratio), the snapshots kept
and thinned, their bytes against the 100 MB budget, the saved ``.nnd``'s size, the time to
save it and to load it back.

    python tests/benchmarks/bench_runs.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.project import from_dict, load_project, save_project  # noqa: E402
from engine.run_recorder import begin_run  # noqa: E402
from tests.benchmarks.common import make_data  # noqa: E402


def spiral(tmp: Path):
    data = json.loads((ROOT / "resources" / "examples" / "spiral.json").read_text())
    data["fit"]["epochs"] = 1000
    project = from_dict(data)
    project.path = tmp / "spiral.json"
    return project


def seed_mlp(tmp: Path):
    data = json.loads((ROOT / "resources" / "examples" / "seed_mlp.json").read_text())
    x, y = make_data(12_000)
    np.savez(tmp / "mnist_like.npz", x=x, y=y)
    data["dataset"] = {"path": str(tmp / "mnist_like.npz")}
    data["fit"]["epochs"] = 20
    project = from_dict(data)
    project.path = tmp / "seed.json"
    return project


def train(project, record: bool) -> tuple[float, object]:
    project = project.copy()
    begun = begin_run(project)
    t0 = time.perf_counter()
    for ev in begun.trainer.run(begun.epochs):
        if record and ev.kind == "epoch":
            begun.recorder.epoch(begun.trainer)
    seconds = time.perf_counter() - t0
    begun.trainer.finish()
    begun.recorder.finish(begun.trainer)
    project.weights = begun.model.flat_weights()
    project.history = begun.trainer.history
    return seconds, project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        for name, make in (("spiral, 1000 epochs", spiral), ("seed MLP, 20 epochs", seed_mlp)):
            project = make(tmp)
            plain, recorded = [], []
            kept = None
            for _ in range(args.repeats):
                plain.append(train(project, False)[0])
                seconds, kept = train(project, True)
                recorded.append(seconds)
            store = kept.runs
            run = store.runs[-1]
            path = tmp / "bench.nnd"
            t0 = time.perf_counter()
            save_project(kept, path)
            save_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_project(path)
            load_s = time.perf_counter() - t0
            a, b = statistics.median(plain), statistics.median(recorded)
            print(
                f"{name}: training {a:.2f} s unrecorded, {b:.2f} s recorded "
                f"(ratio {b / a:.3f}, medians of {args.repeats} interleaved); "
                f"{len(run.snapshots)} snapshots kept, {run.thinned} thinned, "
                f"{store.nbytes / 1e6:.1f} MB of the {store.budget_mb:g} MB budget; "
                f".nnd {os.path.getsize(path) / 1e6:.1f} MB, saved in {save_s:.2f} s, "
                f"loaded in {load_s:.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
