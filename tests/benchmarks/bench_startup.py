"""Benchmark: time from launching ``python -m designer PROJECT`` to the window's first paint.

Each run starts a fresh process with ``NNDESIGNER_STARTUP_PROBE=<launch time>``: the app prints
``startup_s=...`` when the canvas first paints, then quits. The reference is a bare PySide6
window (import QtWidgets, show an empty QMainWindow, first paint) launched the same way, so the
ratio says what NN Designer adds on top of Qt itself. Runs are interleaved (A B A B ...) and
medians compared. One untimed warm-up run of each comes first; bytecode caching is on (as for an
installed app), so the warm-up compiles the .pyc files the timed runs use.

Settings and autosaves go to a temporary folder, never the user's. The budget is 1.5 s.

Run:  python tests/benchmarks/bench_startup.py [--runs 7] [--project FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 1.5

BASELINE = """
import os, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

t0 = float(os.environ["NNDESIGNER_STARTUP_PROBE"])
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(QLabel("baseline"))


class Probe(QObject):
    done = False

    def eventFilter(self, watched, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            QTimer.singleShot(0, report)
        return False


def report():
    print(f"startup_s={time.time() - t0:.3f}", flush=True)
    app.quit()


probe = Probe()
window.centralWidget().installEventFilter(probe)
window.resize(1440, 900)
window.show()
app.exec()
"""


def launch(args: list[str], env: dict[str, str]) -> float:
    env = dict(env, NNDESIGNER_STARTUP_PROBE=repr(time.time()))
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    for line in done.stdout.splitlines():
        if line.startswith("startup_s="):
            return float(line.split("=", 1)[1])
    raise RuntimeError(f"no startup time printed (exit {done.returncode}):\n{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--project", default=str(ROOT / "resources" / "examples" / "seed_mlp.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["NNDESIGNER_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        env["NNDESIGNER_RECOVERY_DIR"] = str(Path(tmp) / "recovery")
        designer = ["-m", "designer", args.project]
        baseline = ["-c", BASELINE]
        launch(designer, env)  # warm-up: bytecode and file caches
        launch(baseline, env)
        app_times: list[float] = []
        base_times: list[float] = []
        for _ in range(args.runs):
            app_times.append(launch(designer, env))
            base_times.append(launch(baseline, env))

    app_med = statistics.median(app_times)
    base_med = statistics.median(base_times)
    print(f"platform        {env['QT_QPA_PLATFORM']}, {os.cpu_count()} CPUs, {args.runs} runs")
    print(f"designer        {' '.join(f'{t:.3f}' for t in app_times)}  median {app_med:.3f} s")
    print(f"bare Qt window  {' '.join(f'{t:.3f}' for t in base_times)}  median {base_med:.3f} s")
    print(f"ratio           {app_med / base_med:.2f}x the bare Qt window")
    verdict = "within" if app_med < BUDGET_S else "OVER"
    print(f"budget          {verdict} the {BUDGET_S:.1f} s budget")
    return 0 if app_med < BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
