"""Benchmark: one epoch of a LeNet-like CNN, both backends against a reference.

The network (28×28×1 input; Conv2D 6@5×5 "same" ReLU → MaxPooling2D 2 → Conv2D 16@5×5 ReLU →
MaxPooling2D 2 → Flatten → Dense 120 ReLU → Dense 84 ReLU → Dense 10 softmax; Adam 0.001,
sparse categorical cross-entropy, accuracy) on 10 000 MNIST-shaped random images made on the
fly (seeded), batch 64, shuffled, one epoch, no validation.

- ``numpy``: the NumPy backend's model driven by the engine's Trainer, as the CLI and the
  GUI's training process run it, against ``hand-written``: the same math in plain NumPy
  (im2col convolutions, 2×2 max pooling over four strided views, the fused softmax
  cross-entropy, Keras' Adam in place, float32) with no framework around it. Target: ratio
  <= 1.5×.
- ``tf backend``: the TensorFlow backend's model driven by the same Trainer, against
  ``model.fit`` of the same Keras model (same layers, same initial weights) compiled with the
  same optimizer, loss and metric. Target: ratio <= 0.8×.

Each timing covers the whole epoch as a user waits for it: the project validated, the model
built and initialized (Keras: built and compiled; TensorFlow: its step function traced), the
epoch trained. Runs are interleaved (A B C D A B C D ...) so that machine noise hits all alike;
medians are compared, wall time and the process's CPU time (all threads) side by side (on a
busy machine the CPU time is the steadier figure for the single-threaded NumPy pair). As the
other epoch benchmarks, run it with one BLAS thread on a small, busy machine:

Run:  OPENBLAS_NUM_THREADS=1 python tests/benchmarks/bench_cnn_epoch.py [--repeats 5]
      [--samples 10000] [--batch-size 64] [--no-tf] [--no-numpy] [--profile] [--check]

``--profile`` runs one NumPy-backend epoch under cProfile instead and prints where it spends
its time (the 25 costliest functions by their own time, then by cumulative time).
``--check`` checks the hand-written loop against Keras (float64, same weights, same batches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.lenet import CLASSES, IMAGE, LENET  # noqa: E402

LR, BETA_1, BETA_2, EPSILON = 0.001, 0.9, 0.999, 1e-7


def make_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-shaped random images: float32 (n, 28, 28, 1) in [0, 1), int labels 0-9."""
    rng = np.random.default_rng(seed)
    return rng.random((n, *IMAGE), dtype=np.float32), rng.integers(0, CLASSES, size=n)


def lenet_project():
    """The benchmark's network as an NN Designer project (NumPy backend, float32)."""
    from engine.project import from_dict

    return from_dict(
        {
            "format_version": 1,
            "name": "LeNet-like benchmark",
            "model": {
                "input_shape": list(IMAGE),
                "layers": LENET,
            },
            "compile": {
                "optimizer": {"class_name": "Adam", "config": {"learning_rate": LR}},
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {"epochs": 1, "batch_size": 64, "shuffle": True, "seed": 0},
            # Named for validation only: the benchmark feeds its own random images.
            "dataset": {"name": "mnist"},
            "backend": "numpy",
            "dtype": "float32",
        },
        "bench_cnn_epoch",
    )


# ------------------------------------------------------------------ the hand-written reference
def _glorot(rng, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    lim = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, shape).astype(np.float32)


def _im2col(xp: np.ndarray, k: int) -> np.ndarray:
    """Every k×k window of the (padded) batch ``xp`` (n, H, W, C), stride 1: a new C-ordered
    (n, out_h, out_w, k, k, C) array, copied from NumPy's strided window view."""
    return np.ascontiguousarray(
        sliding_window_view(xp, (k, k), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    )


def _col2im(cols: np.ndarray, k: int, out: np.ndarray) -> np.ndarray:
    """Adds the windows ``cols`` (n, oh, ow, k, k, C) back onto ``out`` (n, H, W, C): one
    slice addition per kernel offset, each reading a contiguous block."""
    out.fill(0)
    oh, ow = cols.shape[1:3]
    by_offset = np.ascontiguousarray(np.moveaxis(cols, (3, 4), (0, 1)))
    for i in range(k):
        for j in range(k):
            out[:, i : i + oh, j : j + ow, :] += by_offset[i, j]
    return out


_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _pool_forward(a: np.ndarray) -> np.ndarray:
    """2×2 max pooling, stride 2, of (n, H, W, C) with even H, W: the maximum of the four
    strided views."""
    views = [a[:, di::2, dj::2, :] for di, dj in _CORNERS]
    p = np.maximum(views[0], views[1])
    np.maximum(p, views[2], out=p)
    np.maximum(p, views[3], out=p)
    return p


def _pool_backward(gp: np.ndarray, a: np.ndarray, p: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``gp`` sent to the cells of ``a`` that hold their window's maximum ``p``, into ``out``
    (a's shape). Ties happen only where a window is all zeros after a ReLU, whose gradient
    is zero there anyway."""
    mask = np.empty(p.shape, dtype=bool)
    for di, dj in _CORNERS:
        np.equal(a[:, di::2, dj::2, :], p, out=mask)
        np.multiply(gp, mask, out=out[:, di::2, dj::2, :])
    return out


def init_params(seed: int) -> list[np.ndarray]:
    """The reference's initial weights: Glorot-uniform kernels (Keras' fans: kh·kw·in and
    kh·kw·filters for a convolution; convolution kernels in the im2col layout (kh·kw·in,
    filters), Keras' (kh, kw, in, filters) reshaped), zero biases."""
    f32 = np.float32
    rng = np.random.default_rng(seed)
    k = 5
    return [
        _glorot(rng, (k * k * 1, 6), k * k * 1, k * k * 6),  # conv1
        np.zeros(6, f32),
        _glorot(rng, (k * k * 6, 16), k * k * 6, k * k * 16),  # conv2
        np.zeros(16, f32),
        _glorot(rng, (400, 120), 400, 120),
        np.zeros(120, f32),
        _glorot(rng, (120, 84), 120, 84),
        np.zeros(84, f32),
        _glorot(rng, (84, CLASSES), 84, CLASSES),
        np.zeros(CLASSES, f32),
    ]


def handwritten_epoch(
    x: np.ndarray,
    y: np.ndarray,
    batch: int,
    seed: int,
    params: list[np.ndarray] | None = None,
    shuffle: bool = True,
) -> float:
    """One epoch of the benchmark's network, written out by hand; returns the mean batch loss.

    Keras' Adam; the first layer's input gradient skipped, as a careful loop would. ``params``
    (default: :func:`init_params`) are updated in place; ``shuffle=False`` keeps the order."""
    f32 = np.float32
    k = 5
    params = init_params(seed) if params is None else params  # updated in place
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]
    steps = [np.empty_like(p) for p in params]
    order = np.random.default_rng(seed + 2).permutation(len(x)) if shuffle else np.arange(len(x))
    bufs: dict[int, tuple] = {}
    t = 0
    total = 0.0
    batches = 0
    correct = 0
    for lo in range(0, len(x), batch):
        idx = order[lo : lo + batch]
        xb, yb = x[idx], y[idx]
        n = len(xb)
        if n not in bufs:  # preallocated per batch size (the last batch may be smaller)
            bufs[n] = (
                np.zeros((n, 32, 32, 1), f32),  # conv1's padded input ("same": 2 each side)
                np.empty((n, 14, 14, 6), f32),
                np.empty((n, 28, 28, 6), f32),
                np.empty((n, 10, 10, 16), f32),
            )
        xpad, g_p1, g_a1, g_a2 = bufs[n]
        w1, c1, w2, c2, w3, c3, w4, c4, w5, c5 = params
        # conv1 (same) + relu, pool1
        xpad[:, 2:30, 2:30, :] = xb
        cols1 = _im2col(xpad, k).reshape(n * 784, k * k)
        z1 = cols1 @ w1
        z1 += c1
        a1 = np.maximum(z1, 0).reshape(n, 28, 28, 6)
        p1 = _pool_forward(a1)
        # conv2 (valid) + relu, pool2
        cols2 = _im2col(p1, k).reshape(n * 100, k * k * 6)
        z2 = cols2 @ w2
        z2 += c2
        a2 = np.maximum(z2, 0).reshape(n, 10, 10, 16)
        p2 = _pool_forward(a2)
        flat = p2.reshape(n, 400)
        # dense layers
        z3 = flat @ w3
        z3 += c3
        a3 = np.maximum(z3, 0)
        z4 = a3 @ w4
        z4 += c4
        a4 = np.maximum(z4, 0)
        z5 = a4 @ w5
        z5 += c5
        # fused softmax cross-entropy
        z5 -= z5.max(axis=1, keepdims=True)
        e = np.exp(z5)
        s = e.sum(axis=1, keepdims=True)
        total += float(np.mean(np.log(s[:, 0]) - z5[np.arange(n), yb]))
        batches += 1
        correct += int((z5.argmax(axis=1) == yb).sum())  # the accuracy a training loop reports
        g5 = e / s
        g5[np.arange(n), yb] -= 1
        g5 /= n
        gw5 = a4.T @ g5
        gc5 = g5.sum(axis=0)
        g4 = (g5 @ w5.T) * (z4 > 0)
        gw4 = a3.T @ g4
        gc4 = g4.sum(axis=0)
        g3 = (g4 @ w4.T) * (z3 > 0)
        gw3 = flat.T @ g3
        gc3 = g3.sum(axis=0)
        g_flat = g3 @ w3.T
        g_a2 = _pool_backward(g_flat.reshape(n, 5, 5, 16), a2, p2, g_a2).reshape(n * 100, 16)
        g_z2 = g_a2 * (z2 > 0)
        gw2 = cols2.T @ g_z2
        gc2 = g_z2.sum(axis=0)
        g_cols2 = (g_z2 @ w2.T).reshape(n, 10, 10, k, k, 6)
        g_p1 = _col2im(g_cols2, k, g_p1)
        g_a1 = _pool_backward(g_p1, a1, p1, g_a1).reshape(n * 784, 6)
        g_z1 = g_a1 * (z1 > 0)
        gw1 = cols1.T @ g_z1
        gc1 = g_z1.sum(axis=0)
        t += 1
        alpha = LR * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
        grads = (gw1, gc1, gw2, gc2, gw3, gc3, gw4, gc4, gw5, gc5)
        for p, g, mi, vi, tmp, step in zip(params, grads, m, v, tmps, steps, strict=True):
            np.subtract(g, mi, out=tmp)
            tmp *= 1 - BETA_1
            mi += tmp
            np.multiply(g, g, out=tmp)
            tmp -= vi
            tmp *= 1 - BETA_2
            vi += tmp
            np.sqrt(vi, out=tmp)
            tmp += EPSILON
            np.multiply(mi, f32(alpha), out=step)
            step /= tmp
            p -= step
    return total / batches


def keras_lenet(keras):
    """The benchmark's network built with Keras directly (no NN Designer)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(IMAGE),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(CLASSES, activation="softmax"),
        ]
    )


def check_reference(steps: int = 8, batch: int = 64) -> None:
    """The hand-written loop does Keras' math: from the same weights, ``steps`` Adam steps on
    the same batches (no shuffling) in float64 give the same weights as Keras' ``fit``."""
    import keras

    keras.backend.set_floatx("float64")
    x, y = make_images(steps * batch, seed=1)
    x = x.astype(np.float64)
    model = keras_lenet(keras)
    params = [w.astype(np.float64) for w in init_params(3)]
    shapes = [w.shape for w in model.get_weights()]
    model.set_weights([p.reshape(shape) for p, shape in zip(params, shapes, strict=True)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LR, epsilon=EPSILON),
        loss="sparse_categorical_crossentropy",
    )
    before = [p.copy() for p in params]
    hist = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    loss = handwritten_epoch(x, y, batch, 0, params=params, shuffle=False)
    worst = 0.0
    for b, p, w in zip(before, params, model.get_weights(), strict=True):
        moved = np.abs(w.reshape(p.shape) - b).max()
        worst = max(worst, float(np.abs(w.reshape(p.shape) - p).max() / moved))
    print(
        f"reference check: loss {loss:.6f} vs Keras {hist.history['loss'][0]:.6f}; "
        f"largest weight difference after {steps} steps: {worst:.2e} of the largest move"
    )
    # Not closer: Keras' Adam works out beta_2 ** t from a float32 beta_2 (1 - beta_2 then
    # differs by 1.3e-5), which moves every first step by 6.6e-6 of itself.
    if worst > 1e-3 or abs(loss - hist.history["loss"][0]) > 1e-6:
        raise SystemExit("the hand-written reference does not match Keras")


# ------------------------------------------------------------------------------ the engine
def engine_epoch(backend: str, x, y, batch: int, seed: int) -> float:
    """One epoch through the engine's Trainer (model built fresh); returns the epoch's loss."""
    from engine.training import Trainer, TrainingData, build_model
    from engine.validate import check_project

    project = lenet_project()
    project.data["fit"]["seed"] = seed
    graph = check_project(project)
    model = build_model(project, graph, backend)
    trainer = Trainer(model, TrainingData(x, y, None, None), batch, True, seed)
    for _ in trainer.run(1):
        pass
    return trainer.history["loss"][0]


def fit_epoch(x, y, batch: int, seed: int) -> float:
    """One ``model.fit`` epoch of the same Keras model (the TensorFlow backend's, same initial
    weights), compiled with the same optimizer, loss and metric; returns its loss."""
    from engine.backends.tensorflow import import_tensorflow
    from engine.training import build_model
    from engine.validate import check_project

    _, keras = import_tensorflow()
    project = lenet_project()
    graph = check_project(project)
    keras_model = build_model(project, graph, "tensorflow").keras_model
    keras_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    keras.utils.set_random_seed(seed)
    hist = keras_model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return hist.history["loss"][0]


def _timed(fn, *args) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds of this process (all its threads) and the loss of ``fn``."""
    t0, c0 = time.perf_counter(), time.process_time()
    loss = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, loss


def profile(x, y, batch: int) -> None:
    import cProfile
    import pstats

    engine_epoch("numpy", x[:1024], y[:1024], batch, 0)  # warm up
    prof = cProfile.Profile()
    prof.enable()
    engine_epoch("numpy", x, y, batch, 0)
    prof.disable()
    stats = pstats.Stats(prof).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--no-tf", action="store_true", help="skip TensorFlow and model.fit")
    ap.add_argument("--no-numpy", action="store_true", help="skip NumPy and hand-written")
    ap.add_argument("--hand-written-only", action="store_true", help="time the reference alone")
    ap.add_argument("--profile", action="store_true", help="cProfile one NumPy-backend epoch")
    ap.add_argument(
        "--check", action="store_true", help="check the hand-written loop against Keras, exit"
    )
    args = ap.parse_args()
    x, y = make_images(args.samples)
    batch = args.batch_size
    print(
        f"{os.cpu_count()} CPUs; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
        f"load average before: {os.getloadavg()}",
        flush=True,
    )
    if args.check:
        check_reference()
        return
    if args.profile:
        profile(x, y, batch)
        return

    runs = {"hand-written": lambda r: _timed(handwritten_epoch, x, y, batch, r)}
    if not args.hand_written_only:
        if not args.no_numpy:
            runs["numpy"] = lambda r: _timed(engine_epoch, "numpy", x, y, batch, r)
        if not args.no_tf:
            from engine.backends.tensorflow import tensorflow_available

            ok, message = tensorflow_available()
            print(message, flush=True)
            if ok:
                runs["tf backend"] = lambda r: _timed(engine_epoch, "tensorflow", x, y, batch, r)
                runs["model.fit"] = lambda r: _timed(fit_epoch, x, y, batch, r)
        if args.no_numpy:
            runs.pop("hand-written")
    # Warm up on a slice: imports, first-use costs, BLAS thread pools.
    warm = {
        "hand-written": lambda: handwritten_epoch(x[:1024], y[:1024], batch, 0),
        "numpy": lambda: engine_epoch("numpy", x[:1024], y[:1024], batch, 0),
        "tf backend": lambda: engine_epoch("tensorflow", x[:1024], y[:1024], batch, 0),
        "model.fit": lambda: fit_epoch(x[:1024], y[:1024], batch, 0),
    }
    for name in runs:
        warm[name]()

    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.repeats):
        cells = []
        for name, run in runs.items():
            seconds, cpu_seconds, loss = run(r)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
            cells.append(f"{name} {seconds:.2f}s (cpu {cpu_seconds:.2f}s, loss {loss:.3f})")
        print(f"run {r + 1}: " + ", ".join(cells), flush=True)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    print(
        f"\nLeNet-like CNN, {args.samples} samples 28x28x1, batch {batch}, medians of "
        f"{args.repeats} interleaved runs (wall; CPU of the process in brackets):"
    )
    print("  " + ", ".join(f"{name} {med[name]:.2f}s ({med_cpu[name]:.2f}s)" for name in runs))
    for ours, ref, target in (("numpy", "hand-written", 1.5), ("tf backend", "model.fit", 0.8)):
        if ours in med and ref in med:
            print(
                f"  {ours} / {ref} = {med[ours] / med[ref]:.2f}x "
                f"(CPU {med_cpu[ours] / med_cpu[ref]:.2f}x; target <= {target}x)"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
