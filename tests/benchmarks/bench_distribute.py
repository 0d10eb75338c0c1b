"""Benchmark: TensorFlow backend epochs on one device against MirroredStrategy over 1 and 2
logical CPU devices (issue 18): the seed MLP (784-128-10, dropout 0.2, Adam) on 12 000
MNIST-shaped random samples, batch 128, 3 epochs, each configuration in a process of its
own (logical devices are made before TensorFlow starts), interleaved, medians of the
epochs' times as ``nndesigner train`` prints them (the first epoch, which traces, left out).

    python tests/benchmarks/bench_distribute.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.benchmarks.common import make_data  # noqa: E402

CONFIGS = {
    "one device": [],
    "mirrored, 1 replica": ["--distribute", "mirrored", "--replicas", "1"],
    "mirrored, 2 replicas": ["--distribute", "mirrored", "--replicas", "2"],
}


def epoch_seconds(text: str) -> list[float]:
    out = []
    for m in re.finditer(r"Epoch \d+/\d+ - (\d+(?:\.\d+)?)(ms|s)", text):
        value = float(m.group(1))
        out.append(value / 1000 if m.group(2) == "ms" else value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        x, y = make_data(12_000)
        np.savez(tmp / "data.npz", x=x, y=y)
        spec = json.loads((ROOT / "resources" / "examples" / "seed_mlp.json").read_text())
        spec["dataset"] = {"path": str(tmp / "data.npz")}
        spec["fit"].update({"epochs": 3, "batch_size": 128, "validation_split": 0.0})
        (tmp / "p.json").write_text(json.dumps(spec))
        times: dict[str, list[float]] = {k: [] for k in CONFIGS}
        for _ in range(args.repeats):
            for name, extra in CONFIGS.items():
                r = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "engine.cli",
                        "train",
                        str(tmp / "p.json"),
                        "--backend",
                        "tensorflow",
                        "-o",
                        str(tmp / "o.nnd"),
                        *extra,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=900,
                    cwd=ROOT,
                )
                if r.returncode != 0:
                    raise SystemExit(f"{name}: {r.stderr[-2000:]}")
                times[name] += epoch_seconds(r.stdout)[1:]
        base = statistics.median(times["one device"])
        for name, values in times.items():
            med = statistics.median(values)
            print(f"{name:22} epoch median {med:.2f} s  ({med / base:.2f}x one device)", flush=True)


if __name__ == "__main__":
    main()
