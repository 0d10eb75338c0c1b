"""Watchpoints: what the training debugger costs (issue 19).

The same trainings with every watchpoint armed (NonFinite, LossSpike, DeadUnits,
SaturatedUnits, VanishingGradients, ExplodingGradients, UpdateRatio: ``--watch``'s set and
LossSpike) and with none, interleaved (A B A B ...), medians:

- the spiral example, 300 epochs (a small network: steps of ~0.1 ms, where a fixed cost per
  step shows most);
- the seed MLP (784-128-10, dropout 0.2, Adam) on 12 000 MNIST-shaped random samples, 5 epochs.

For each: the training time with and without the watchpoints, wall and the process's CPU time
(the ratios; the issue's bound is 1.05), the share the layer probes measured themselves, and
how often they looked.

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_watch.py [--repeats 5]
        [--backend numpy|tensorflow]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.project import from_dict  # noqa: E402
from engine.training import build_model, load_training_data, make_trainer  # noqa: E402
from engine.validate import check_project  # noqa: E402
from engine.watch import ALL_KINDS  # noqa: E402
from tests.benchmarks.common import make_data  # noqa: E402


def spiral(tmp: Path) -> dict:
    data = json.loads((ROOT / "resources" / "examples" / "spiral.json").read_text())
    data["fit"]["epochs"] = 300
    return data


def seed_mlp(tmp: Path) -> dict:
    data = json.loads((ROOT / "resources" / "examples" / "seed_mlp.json").read_text())
    x, y = make_data(12_000)
    np.savez(tmp / "mnist_like.npz", x=x, y=y)
    data["dataset"] = {"path": str(tmp / "mnist_like.npz")}
    data["fit"]["epochs"] = 5
    return data


def train(data: dict, watch: bool, backend: str = "numpy") -> tuple[float, object]:
    data = json.loads(json.dumps(data))
    data["backend"] = backend
    if watch:
        data["fit"]["watch"] = list(ALL_KINDS)
    project = from_dict(data)
    graph = check_project(project)
    prepared = load_training_data(project, graph)
    trainer = make_trainer(build_model(project, graph), prepared, project.fit)
    hits = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for ev in trainer.run(project.fit["epochs"]):
        hits += ev.kind == "watch"
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return (seconds, cpu), (trainer.watcher, hits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--backend", choices=("numpy", "tensorflow"), default="numpy")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        for name, make in (("spiral, 300 epochs", spiral), ("seed MLP, 5 epochs", seed_mlp)):
            data = make(tmp)
            train(data, False, args.backend)  # warm: imports, BLAS, TensorFlow's tracing
            plain, watched = [], []
            last = None
            for _ in range(args.repeats):
                plain.append(train(data, False, args.backend)[0])
                seconds, last = train(data, True, args.backend)
                watched.append(seconds)
            watcher, hits = last
            a = statistics.median(t[0] for t in plain)
            b = statistics.median(t[0] for t in watched)
            ca = statistics.median(t[1] for t in plain)
            cb = statistics.median(t[1] for t in watched)
            print(
                f"{args.backend}, {name}: {a:.2f} s without watchpoints, {b:.2f} s with all "
                f"(ratio {b / a:.3f}; CPU time {ca:.2f} s vs {cb:.2f} s, ratio {cb / ca:.3f}; "
                f"medians of {args.repeats} interleaved); the layer probes "
                f"measured {watcher.cost_share():.1%} of the steps' time, looking every "
                f"{watcher.steps_per_look:.0f} steps ({watcher.evaluations} looks); {hits} fired",
                flush=True,
            )


if __name__ == "__main__":
    main()
