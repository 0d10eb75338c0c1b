"""Benchmark: live GUI training vs the headless training loop, and event-loop stalls.

For each case (the seed MLP on digits; the seed MLP on 60 000 MNIST-shaped random samples;
``lenet``: a LeNet-like CNN, Conv 6@5x5 same relu, MaxPool 2, Conv 16@5x5 relu, MaxPool 2,
Flatten, Dense 120 relu, Dense 84 relu, Dense 10 softmax, Adam, batch 64, on random 28x28x1
images made on the fly, ``--lenet-samples`` of them), runs come in pairs, A B then B A (a
drift in the machine's speed hits both alike):

- A, headless: the engine's Trainer loop, as ``nndesigner train`` runs it, in a fresh process
  (as the command runs; this one carries the window's heap), timed around
  ``trainer.run(epochs)`` (data loading and model building excluded).
- B, GUI: a main window with the canvas and :func:`designer.training.attach_training`, every
  live view open (the docks floated so that none hides behind a tab; ``--layout tabs``: the
  window's own tabbed docks), Play, until the worker reports the run finished. The time is the
  worker's own wall time spent training (building excluded, like A). The worker is the app's
  default, a child process (``--worker thread``: a thread of the window's process).
- C (after each of the first ``--stall-runs`` pairs), the same GUI run with a 10 ms QTimer
  heartbeat on the UI thread that records the gaps between its ticks while training runs: the
  event-loop stall is the gap minus 10 ms. (With a worker thread the heartbeat itself takes
  the interpreter lock 100 times a second, so B, not C, gives the cost ratio.)

With ``--pin`` (the default on Linux) A and B of a pair train on the same CPU and the UI
thread runs on the other; every second pair swaps them.

Prints medians, the GUI/headless ratio (of the medians; the median of the pairs' ratios; and,
order-balanced, the geometric mean of the median ratio of the A-B pairs and that of the B-A
pairs, which cancels any effect of running first or second), the CPU time of the
training thread in B over that of A (what live views cost the training thread itself), the
heartbeat's max and p99 stall, and the machine's load. Offscreen Qt; same backend and settings
for A and B.

Run:  python tests/benchmarks/bench_gui_training.py [--repeats 3] [--backend numpy]
      [--digits-epochs 20] [--mnist-epochs 1] [--lenet-epochs 1] [--lenet-samples 16384]
      [--cases digits,mnist,lenet] [--layout floating|tabs]
      [--worker process|thread] [--no-pin]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One BLAS thread in A and B alike (set before NumPy loads): the comparison is about what the
# live views cost, not about BLAS threads and the UI thread fighting over two cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.project import from_dict, load_project  # noqa: E402
from engine.training import Trainer, load_training_data  # noqa: E402
from engine.validate import check_project  # noqa: E402
from tests.benchmarks.common import training_window  # noqa: E402
from tests.benchmarks.lenet import LENET  # noqa: E402

HEARTBEAT_MS = 10
#: Where the threads run (``--pin``): {"train": cpu, "ui": cpu} or None (the OS decides).
PIN: dict | None = None


def pin_this_thread(role: str) -> None:
    """Keep the calling thread on the CPU chosen for ``role`` (Linux; nothing elsewhere).

    On a virtual machine the two CPUs run at different and drifting speeds (the same
    training took 1.6 s on one and 2.6 s on the other, minutes apart), and where the OS puts a
    thread decides more than the views do. A pair (A, B) trains on the same CPU; the next pair
    on the other one."""
    if PIN is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {PIN[role]})


def pin_process(pid: int, role: str) -> None:
    """Keep every thread of process ``pid`` on the CPU chosen for ``role`` (Linux)."""
    if PIN is None or not hasattr(os, "sched_setaffinity"):
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {PIN[role]})


#: Where the GUI's training core runs ("process" or "thread"; ``--worker``).
WORKER = "process"
#: CPU time the UI thread used while the last GUI run trained (drains, renders, painting).
LAST_UI_CPU = 0.0
#: The snapshots the last GUI run's worker made while training ran: (count, their seconds).
#: Their share of the run's time does not depend on how loaded the machine is (the
#: snapshots and the steps slow down alike), unlike A and B's wall times on a shared machine:
#: ``run / (run - snapshots)`` is the ratio the snapshots alone make.
LAST_SNAPSHOTS = (0, 0.0)


def digits_project(epochs: int, backend: str):
    p = load_project(ROOT / "resources" / "examples" / "seed_mlp_digits.json")
    p.data["fit"]["epochs"] = epochs
    p.data["backend"] = backend
    return p


def mnist_like_project(folder: Path, epochs: int, backend: str):
    path = folder / "mnist_like.npz"
    if not path.exists():
        rng = np.random.default_rng(0)
        np.savez(
            path,
            x=rng.random((60_000, 784), dtype=np.float32),
            y=rng.integers(0, 10, size=60_000),
        )
    data = copy.deepcopy(load_project(ROOT / "resources" / "examples" / "seed_mlp.json").data)
    data["dataset"] = {"path": str(path)}
    data["fit"]["epochs"] = epochs
    data["backend"] = backend
    p = from_dict(data)
    p.path = folder / "mnist_like.json"
    return p


#: Random 28x28x1 images in the LeNet case (``--lenet-samples``).
LENET_SAMPLES = 16384


def lenet_project(folder: Path, epochs: int, backend: str, n: int | None = None):
    """The LeNet-like CNN of issue 15 on ``n`` random 28x28x1 images of 10 classes."""
    n = LENET_SAMPLES if n is None else n
    path = folder / f"lenet_{n}.npz"
    if not path.exists():
        rng = np.random.default_rng(0)
        np.savez(
            path,
            x=rng.random((n, 28, 28, 1), dtype=np.float32),
            y=rng.integers(0, 10, size=n),
        )

    p = from_dict(
        {
            "format_version": 1,
            "name": "lenet_like",
            "model": {"input_shape": [28, 28, 1], "layers": LENET},
            "compile": {
                "optimizer": "adam",
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {
                "epochs": epochs,
                "batch_size": 64,
                "validation_split": 0.1,
                "shuffle": True,
                "seed": 0,
            },
            "dataset": {"path": str(path)},
            "backend": backend,
        }
    )
    p.path = folder / "lenet_like.json"
    return p


def headless(project) -> tuple[float, float]:
    """Train as ``nndesigner train`` does, in this process; (wall seconds, CPU seconds)."""
    from designer.worker_core import make_model  # the GUI's model factory: same backend object

    graph = check_project(project)
    data = load_training_data(project, graph)
    model = make_model(project, graph)
    f = project.fit
    trainer = Trainer(model, data, f["batch_size"], f["shuffle"], f["seed"])
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in trainer.run(f["epochs"]):
        pass
    return time.perf_counter() - t0, time.thread_time() - c0


def headless_process(case: str, epochs: int, backend: str, folder: Path) -> tuple[float, float]:
    """:func:`headless` in a fresh process, as ``nndesigner train`` runs (a small heap; this
    process has the window's), pinned where the GUI's training runs."""
    cmd = [sys.executable, __file__, "--headless-run", case, str(epochs), backend, str(folder)]
    cmd += [str(PIN["train"]) if PIN is not None else "-", str(LENET_SAMPLES)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"headless run failed:\n{out.stderr}")
    seconds, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, cpu


def project_for(case: str, epochs: int, backend: str, folder: Path):
    if case == "digits":
        return digits_project(epochs, backend)
    if case == "lenet":
        return lenet_project(folder, epochs, backend)
    return mnist_like_project(folder, epochs, backend)


def gui(project, layout: str, heartbeat: bool = True) -> tuple[float, list[float], int, float]:
    from PySide6.QtCore import QEvent, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from designer import worker_core

    app = QApplication.instance()
    pin_this_thread("ui")
    # A worker thread builds its model on its own thread when Play arrives: pin it there
    # (not by replacing ``run``: that is a Qt slot, and a plain function in its place would run
    # on the thread that emits ``started``). A worker process is pinned, every thread of it,
    # before it gets the project.
    original_build = worker_core.TrainingCore._build

    def pinned_build(self) -> None:
        pin_this_thread("train")
        original_build(self)

    if WORKER == "thread":
        worker_core.TrainingCore._build = pinned_build
    window, ctrl = training_window(project, floating=layout == "floating")
    pid = ctrl.session.worker_pid()
    if WORKER == "process":
        pin_process(pid, "train")
        # Every thread of the window's process on the UI's CPU, not its main thread alone:
        # left free, its other threads (the worker's pipe reader...) ran on the training
        # CPU too, and on one of the two CPUs that cost the GUI's training ~0.5 s of waiting
        # per 4 s run (its wall time over its CPU time), pairs 3 and 4 of 4 at ~1.25x.
        pin_process(os.getpid(), "ui")
    app.processEvents()
    ticks: list[float] = []
    result: dict = {}
    loop = QEventLoop()

    snaps = [0, 0.0]

    def on_batch(batch) -> None:
        snap = batch.snapshot
        if snap is not None and "ui0" in result and "seconds" not in result:
            snaps[0] += 1
            snaps[1] += snap.seconds
        for ev in batch.events:
            if ev[0] == "finished":
                result["seconds"] = ev[2]
                result["cpu"] = ev[3]
                result["ui_cpu"] = time.thread_time() - result.get("ui0", time.thread_time())
                loop.quit()
            elif ev[0] == "error":
                result["error"] = ev[1]
                loop.quit()
            elif ev[0] == "state" and ev[1] == "running":
                ticks.clear()  # count stalls from when the run starts (after the build)
                result["ui0"] = time.thread_time()

    ctrl.session.drained.connect(on_batch)
    beat = QTimer()
    beat.setTimerType(Qt.TimerType.PreciseTimer)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    if heartbeat:
        beat.start(HEARTBEAT_MS)
    ctrl.play()
    loop.exec()
    beat.stop()
    renders = sum(v.renders for v in ctrl.views())
    ctrl.shutdown()
    worker_core.TrainingCore._build = original_build
    # Nothing of this run may outlive it: floating docks are windows of their own, and a
    # deleteLater outside an event loop waits for one. (The LeNet case's later pairs still run
    # slower than its first ones, ~1.25x vs ~1.10x, with this as without it: not the cause.)
    for dock in ctrl.docks.values():
        dock.close()
    window.close()
    window.deleteLater()
    app.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    if "error" in result:
        raise SystemExit(f"GUI training failed: {result['error']}")
    gaps = np.diff(np.asarray(ticks)) * 1000.0 - HEARTBEAT_MS
    global LAST_UI_CPU, LAST_SNAPSHOTS
    LAST_UI_CPU = result["ui_cpu"]
    LAST_SNAPSHOTS = (snaps[0], snaps[1])
    return result["seconds"], list(gaps), renders, result["cpu"]


def load_text() -> str:
    try:
        la = os.getloadavg()
        return f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} CPUs"
    except OSError:
        return "load average unknown"


def headless_main(argv: list[str]) -> int:
    """``--headless-run CASE EPOCHS BACKEND FOLDER [CPU]``: print [seconds, cpu] as JSON."""
    case, epochs, backend, folder = argv[0], int(argv[1]), argv[2], Path(argv[3])
    if len(argv) > 4 and argv[4] != "-" and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(argv[4])})
    if len(argv) > 5:
        global LENET_SAMPLES
        LENET_SAMPLES = int(argv[5])
    print(json.dumps(headless(project_for(case, epochs, backend, folder))))
    return 0


def main(argv: list[str] | None = None) -> int:
    global PIN, WORKER, LENET_SAMPLES
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--headless-run"]:
        return headless_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="A-B pairs per case")
    ap.add_argument(
        "--stall-runs", type=int, default=3, help="heartbeat runs (C) per case, at most one a pair"
    )
    ap.add_argument("--backend", default="numpy", choices=["numpy", "tensorflow"])
    ap.add_argument("--digits-epochs", type=int, default=20)
    ap.add_argument("--mnist-epochs", type=int, default=1)
    ap.add_argument("--lenet-epochs", type=int, default=1)
    ap.add_argument("--lenet-samples", type=int, default=LENET_SAMPLES)
    ap.add_argument("--cases", default="digits,mnist,lenet")
    ap.add_argument("--layout", default="floating", choices=["floating", "tabs"])
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2,
        help="train on one CPU, the UI thread on another, alternating per pair (default: on "
        "Linux with 2+ CPUs)",
    )
    ap.add_argument(
        "--worker",
        default="process",
        choices=["process", "thread"],
        help="where the GUI trains: a child process (the app's default) or a thread",
    )
    args = ap.parse_args(argv)
    WORKER = args.worker
    LENET_SAMPLES = args.lenet_samples
    os.environ["NND_TRAINING_WORKER"] = WORKER
    cpus = sorted(os.sched_getaffinity(0)) if args.pin else []
    if len(cpus) < 2:
        args.pin = False

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    _ = app
    print(
        f"{load_text()}; backend {args.backend}; views {args.layout}; OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS')}; pinned {'yes' if args.pin else 'no'}; "
        f"GUI worker in a {WORKER}"
    )
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in args.cases.split(","):
            epochs = {"digits": args.digits_epochs, "lenet": args.lenet_epochs}.get(
                case, args.mnist_epochs
            )

            def make(case=case, epochs=epochs):
                return project_for(case, epochs, args.backend, folder)

            a_times, b_times, a_cpu, b_cpu, stalls, renders = [], [], [], [], [], []
            snap_share: list[float] = []
            make()  # writes the MNIST-shaped file once, before the timed runs
            for r in range(args.repeats):
                if args.pin:  # CPUs swap every second pair, the order every pair (ABBA)
                    k = (r // 2) % 2
                    PIN = {"train": cpus[k], "ui": cpus[1 - k]}
                if r % 2 == 0:
                    a, ac = headless_process(case, epochs, args.backend, folder)
                b, _, n_renders, bc = gui(make(), args.layout, heartbeat=False)
                ui_cpu = LAST_UI_CPU
                n_snaps, snap_s = LAST_SNAPSHOTS
                snap_share.append(snap_s / b)
                if r % 2 == 1:
                    a, ac = headless_process(case, epochs, args.backend, folder)
                a_times.append(a)
                a_cpu.append(ac)
                b_times.append(b)
                b_cpu.append(bc)
                renders.append(n_renders)
                line = (
                    f"  {case} pair {r + 1} ({'AB' if r % 2 == 0 else 'BA'}): headless {a:.2f} s "
                    f"({ac:.2f} s CPU), GUI {b:.2f} s ({bc:.2f} s CPU of the training thread, "
                    f"{ui_cpu:.2f} s of the UI thread, {n_renders} view renders; "
                    f"{n_snaps} snapshots, {snap_s:.2f} s = {snap_s / b:.1%} of the run, "
                    f"ratio from them alone {b / max(b - snap_s, 1e-9):.3f}), "
                    f"ratio {b / a:.3f}"
                )
                if r < args.stall_runs:
                    c, gaps, _, _ = gui(make(), args.layout, heartbeat=True)
                    stalls.extend(gaps)
                    line += f"; with heartbeat {c:.2f} s, max stall {max(gaps, default=0):.0f} ms"
                print(line, flush=True)
            a, b = statistics.median(a_times), statistics.median(b_times)
            ratios = [bt / at for at, bt in zip(a_times, b_times, strict=True)]
            pair = statistics.median(ratios)
            # The geometric mean of the medians of the A-B and the B-A pairs cancels any effect
            # of running first or second.
            ab, ba = ratios[0::2], ratios[1::2]
            balanced = math.sqrt(statistics.median(ab) * statistics.median(ba)) if ba else pair
            cpu = statistics.median(b_cpu) / statistics.median(a_cpu)
            st = np.asarray(stalls) if stalls else np.zeros(1)
            res = {
                "epochs": epochs,
                "headless_s": a,
                "gui_s": b,
                "ratio": b / a,
                "pair_ratio": pair,
                "balanced_ratio": balanced,
                "pair_ratios": ratios,
                "cpu_ratio": cpu,
                "stall_max_ms": float(st.max()),
                "stall_p99_ms": float(np.percentile(st, 99)),
                "ticks": int(len(st)),
                "snapshot_share": statistics.median(snap_share),
                "snapshot_ratio": 1.0 / (1.0 - statistics.median(snap_share)),
            }
            out[case] = res
            print(
                f"{case}: {epochs} epochs, headless median {a:.2f} s, GUI median {b:.2f} s, "
                f"ratio {b / a:.3f} (median of the pairs' ratios {pair:.3f}, order-balanced "
                f"{balanced:.3f}; worker CPU / "
                f"headless CPU {cpu:.3f}); event-loop stall max {res['stall_max_ms']:.0f} ms, "
                f"p99 {res['stall_p99_ms']:.0f} ms over {res['ticks']} heartbeats; snapshots "
                f"{res['snapshot_share']:.1%} of the GUI run (median; ratio from them alone "
                f"{res['snapshot_ratio']:.3f})",
                flush=True,
            )
    print(load_text())
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
