"""Watchpoints: what the training debugger costs (issue 19).

The same trainings with every default watchpoint armed (NonFinite, LossSpike, DeadUnits,
SaturatedUnits, VanishingGradients, ExplodingGradients, UpdateRatio: ``--watch``'s set) and
with none, interleaved (A B A B ...), medians:

- the spiral example, 300 epochs (a small network: steps of ~0.1 ms, where a fixed cost per
  step shows most);
- the seed MLP (784-128-10, dropout 0.2, Adam) on 12 000 MNIST-shaped random samples, 5 epochs.

For each: the training time with and without the watchpoints (the ratio; the issue's bound is
1.05), the share the layer probes measured themselves, and how often they looked.

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_watch.py [--repeats 5]
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
from engine.watch import DEFAULT_KINDS  # noqa: E402
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


def train(data: dict, watch: bool) -> tuple[float, object]:
    data = json.loads(json.dumps(data))
    if watch:
        data["fit"]["watch"] = list(DEFAULT_KINDS)
    project = from_dict(data)
    graph = check_project(project)
    prepared = load_training_data(project, graph)
    trainer = make_trainer(build_model(project, graph), prepared, project.fit)
    hits = 0
    t0 = time.perf_counter()
    for ev in trainer.run(project.fit["epochs"]):
        hits += ev.kind == "watch"
    seconds = time.perf_counter() - t0
    return seconds, (trainer.watcher, hits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        for name, make in (("spiral, 300 epochs", spiral), ("seed MLP, 5 epochs", seed_mlp)):
            data = make(tmp)
            train(data, False)  # warm: imports, BLAS
            plain, watched = [], []
            last = None
            for _ in range(args.repeats):
                plain.append(train(data, False)[0])
                seconds, last = train(data, True)
                watched.append(seconds)
            watcher, hits = last
            a, b = statistics.median(plain), statistics.median(watched)
            print(
                f"{name}: {a:.2f} s without watchpoints, {b:.2f} s with all of them "
                f"(ratio {b / a:.3f}, medians of {args.repeats} interleaved); the layer probes "
                f"measured {watcher.cost_share():.1%} of the steps' time, looking every "
                f"{watcher.interval} steps ({watcher.evaluations} looks); {hits} fired",
                flush=True,
            )


if __name__ == "__main__":
    main()
