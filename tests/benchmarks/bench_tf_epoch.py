"""Benchmark: one epoch of the seed MLP on the TensorFlow backend vs Keras' own ``model.fit``.

The seed network (784-128-10, ReLU, Dropout 0.2, softmax, Adam, sparse categorical
cross-entropy, accuracy) on MNIST-shaped random samples (60 000 by default), shuffled, at
batch sizes 32 and 128. Three contenders, interleaved A B C A B C ... so that machine noise
hits all alike, medians compared:

- ``tf backend``: our TensorFlowModel driven by the engine's Trainer (events, history, the
  non-finite guard, metrics), as the CLI and the GUI run it;
- ``model.fit``: the same Keras model (same layers, same initial weights) compiled with the
  same optimizer, loss and metric, ``model.fit(x, y, batch_size, epochs=1, shuffle=True,
  verbose=0)``;
- ``numpy backend``: the NumPy engine's model driven by the same Trainer, with NumPy's BLAS at
  its default thread count, and ``numpy 1 thread`` with BLAS limited to one thread (through
  threadpoolctl, when installed): on a small, busy machine OpenBLAS' spinning threads can cost
  more than they bring.

Each run builds a fresh model, so every epoch includes the tracing of its compiled function
(model.fit traces its train function too). The goal is ``tf backend / model.fit <= 1.0``.

Run:  python tests/benchmarks/bench_tf_epoch.py [--repeats 3] [--batch-sizes 32 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.project import seed_project  # noqa: E402
from engine.training import Trainer, TrainingData  # noqa: E402
from engine.validate import check_project  # noqa: E402
from tests.benchmarks.common import make_data  # noqa: E402


def _model_args(project) -> dict:
    comp = project.compile
    return dict(
        loss=comp["loss"],
        metrics=comp["metrics"],
        optimizer=comp["optimizer"],
        dtype=project.dtype,
        seed=0,
    )


def engine_epoch(backend: str, x, y, batch: int, seed: int) -> tuple[float, float]:
    """Seconds for one epoch through the engine's Trainer, and the epoch's loss."""
    from engine.backends.numpy.model import NumpyModel
    from engine.backends.tensorflow import TensorFlowModel

    project = seed_project()
    graph = check_project(project)
    cls = TensorFlowModel if backend == "tensorflow" else NumpyModel
    model = cls(graph, **_model_args(project))
    trainer = Trainer(model, TrainingData(x, y, None, None), batch, True, seed)
    t0 = time.perf_counter()
    for _ in trainer.run(1):
        pass
    return time.perf_counter() - t0, trainer.history["loss"][0]


def numpy_one_thread_epoch(x, y, batch: int, seed: int) -> tuple[float, float]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return engine_epoch("numpy", x, y, batch, seed)


def fit_epoch(x, y, batch: int, seed: int) -> tuple[float, float]:
    """Seconds for one ``model.fit`` epoch of the same Keras model, and its loss."""
    from engine.backends.tensorflow import TensorFlowModel, import_tensorflow

    _, keras = import_tensorflow()
    project = seed_project()
    graph = check_project(project)
    keras_model = TensorFlowModel(graph, **_model_args(project)).keras_model
    keras_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    hist = keras_model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    return time.perf_counter() - t0, hist.history["loss"][0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--samples", type=int, default=60_000)
    ap.add_argument("--no-numpy", action="store_true", help="skip the NumPy backend")
    args = ap.parse_args()

    from engine.backends.tensorflow import tensorflow_available

    ok, message = tensorflow_available()
    if not ok:
        print(message)
        raise SystemExit(1)
    print(message)
    print(f"{os.cpu_count()} CPUs; load average before: {os.getloadavg()}")

    x, y = make_data(args.samples)
    contenders = ["tf backend", "model.fit"]
    if not args.no_numpy:
        contenders.append("numpy backend")
        try:
            import threadpoolctl  # noqa: F401

            contenders.append("numpy 1 thread")
        except ImportError:
            pass
    runs = {
        "tf backend": lambda b, r: engine_epoch("tensorflow", x, y, b, r),
        "model.fit": lambda b, r: fit_epoch(x, y, b, r),
        "numpy backend": lambda b, r: engine_epoch("numpy", x, y, b, r),
        "numpy 1 thread": lambda b, r: numpy_one_thread_epoch(x, y, b, r),
    }
    # Warm up on a slice: imports, Keras' and TensorFlow's first-use costs, BLAS thread pools.
    fit_epoch(x[:2048], y[:2048], args.batch_sizes[0], 0)
    engine_epoch("tensorflow", x[:2048], y[:2048], args.batch_sizes[0], 0)
    if not args.no_numpy:
        engine_epoch("numpy", x[:2048], y[:2048], args.batch_sizes[0], 0)

    summary = []
    for batch in args.batch_sizes:
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(args.repeats):
            cells = []
            for name in contenders:
                seconds, loss = runs[name](batch, r)
                times[name].append(seconds)
                cells.append(f"{name} {seconds:.2f}s (loss {loss:.3f})")
            print(f"batch {batch}, run {r + 1}: " + ", ".join(cells), flush=True)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        line = (
            f"batch {batch:>4}: tf backend {med['tf backend']:.2f}s, "
            f"model.fit {med['model.fit']:.2f}s, "
            f"ratio tf backend / model.fit = {med['tf backend'] / med['model.fit']:.2f}x"
        )
        for name in ("numpy backend", "numpy 1 thread"):
            if name in med:
                line += (
                    f"; {name} {med[name]:.2f}s (tf backend / {name} = "
                    f"{med['tf backend'] / med[name]:.2f}x)"
                )
        summary.append(line)
    print(f"\nseed MLP, {args.samples} samples, medians of {args.repeats} interleaved runs:")
    for line in summary:
        print(line)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
