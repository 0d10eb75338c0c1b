"""Benchmark: one epoch of the seed MLP with the NumPy backend vs a hand-written NumPy loop.

The seed network (784-128-10, ReLU, Dropout 0.2, softmax, Adam, sparse categorical
cross-entropy) on 60 000 MNIST-shaped random samples, batch 128, shuffled. The hand-written loop
does the same math with no framework around it. Runs are interleaved (A B A B ...) and the
medians compared, so machine noise hits both alike.

Run:  python tests/benchmarks/bench_numpy_epoch.py [--repeats 5] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.project import seed_project  # noqa: E402
from engine.training import Trainer, TrainingData, build_model  # noqa: E402
from engine.validate import check_project  # noqa: E402
from tests.benchmarks.common import make_data  # noqa: E402


def handwritten_epoch(x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    """The same math as the engine's step, written out by hand (Keras' Adam, fused softmax-CE)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    lim1, lim2 = np.sqrt(6 / (784 + 128)), np.sqrt(6 / (128 + 10))
    params = [
        rng.uniform(-lim1, lim1, (784, 128)).astype(f32),
        np.zeros(128, f32),
        rng.uniform(-lim2, lim2, (128, 10)).astype(f32),
        np.zeros(10, f32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]
    steps = [np.empty_like(p) for p in params]
    lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
    drop_rng = np.random.default_rng(seed + 1)
    order = np.random.default_rng(seed + 2).permutation(len(x))
    t = 0
    total = 0.0
    correct = 0
    for lo in range(0, len(x), batch):
        idx = order[lo : lo + batch]
        xb, yb = x[idx], y[idx]
        n = len(xb)
        w1, c1, w2, c2 = params
        z1 = xb @ w1
        z1 += c1
        a1 = np.maximum(z1, 0)
        mask = (drop_rng.random(a1.shape, dtype=f32) >= 0.2) * f32(1 / 0.8)
        d1 = a1 * mask
        z2 = d1 @ w2
        z2 += c2
        z2 -= z2.max(axis=1, keepdims=True)
        e = np.exp(z2)
        s = e.sum(axis=1, keepdims=True)
        total += float(np.mean(np.log(s[:, 0]) - z2[np.arange(n), yb]))
        correct += int((z2.argmax(axis=1) == yb).sum())  # the accuracy a training loop reports
        gz2 = e / s
        gz2[np.arange(n), yb] -= 1
        gz2 /= n
        gw2 = d1.T @ gz2
        gc2 = gz2.sum(axis=0)
        gd1 = gz2 @ w2.T
        gz1 = gd1 * mask * (z1 > 0)
        gw1 = xb.T @ gz1
        gc1 = gz1.sum(axis=0)
        t += 1
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        # In place with preallocated buffers, as a careful hand-written loop would do it.
        for p, g, mi, vi, tmp, step in zip(
            params, (gw1, gc1, gw2, gc2), m, v, tmps, steps, strict=True
        ):
            np.subtract(g, mi, out=tmp)
            tmp *= 1 - b1
            mi += tmp
            np.multiply(g, g, out=tmp)
            tmp -= vi
            tmp *= 1 - b2
            vi += tmp
            np.sqrt(vi, out=tmp)
            tmp += eps
            np.multiply(mi, f32(alpha), out=step)
            step /= tmp
            p -= step
    return total


def engine_epoch(x: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    project = seed_project()
    project.data["fit"] = {
        "epochs": 1,
        "batch_size": batch,
        "validation_split": 0.0,
        "shuffle": True,
        "seed": seed,
    }
    graph = check_project(project)
    model = build_model(project, graph)
    trainer = Trainer(model, TrainingData(x, y, None, None), batch, True, seed)
    for _ in trainer.run(1):
        pass
    return trainer.history["loss"][0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--samples", type=int, default=60_000)
    args = ap.parse_args()
    x, y = make_data(args.samples)
    engine_epoch(x[:2000], y[:2000], args.batch_size, 0)  # warm up both paths
    handwritten_epoch(x[:2000], y[:2000], args.batch_size, 0)
    ours, ref = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        handwritten_epoch(x, y, args.batch_size, r)
        ref.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine_epoch(x, y, args.batch_size, r)
        ours.append(time.perf_counter() - t0)
        print(f"run {r + 1}: hand-written {ref[-1]:.3f}s  engine {ours[-1]:.3f}s", flush=True)
    mo, mr = statistics.median(ours), statistics.median(ref)
    print(
        f"seed MLP, {args.samples} samples, batch {args.batch_size}: "
        f"engine epoch median {mo:.3f}s, hand-written {mr:.3f}s, ratio {mo / mr:.3f}x"
    )


if __name__ == "__main__":
    main()
