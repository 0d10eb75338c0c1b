"""Benchmark: how long Backprop mode takes to draw each phase of a LeNet-like CNN (issue 15:
"each phase must draw in < 50 ms").

The network: 28×28×1 input, Conv2D 6@5×5 same (relu) → MaxPooling2D 2 → Conv2D 16@5×5 (relu) →
MaxPooling2D 2 → Flatten (400) → Dense 120 (relu) → Dense 84 (relu) → Dense 10 (softmax), Adam,
on random images (an ``.npz`` written to a temporary folder), batch 64. A main window
(offscreen, 1366×768, as the smallest screen the app supports) turns Backprop mode on through
its controller, and the step is computed once (``run_to_end``: the stepping itself is the
engine's, not the view's cost). Then every phase is shown again, ``--repeats`` times in an
interleaved order, and timed from the move to the view painted: ``go_to`` (the panel's math
and strip, the view's ``refresh``) and a synchronous repaint of the view's viewport.

The reference, measured interleaved in the same run: the same phases of a flat MLP of the
same depth (784 → 120 → 84 → 10, drawn as it was before issue 15: heatmaps, pills). Printed
per phase: the median in ms, the ratio to the 50 ms target and to the reference's phase of the
same kind (forward/backward/update of the layer at the same depth; the loss with the loss).

Run:  python tests/benchmarks/bench_stepper_phases.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.lenet import LENET  # noqa: E402

TARGET_MS = 50.0
SIZE = (1366, 768)
MLP = LENET[-3:]  # the same Dense layers on the flat pixels


def project(layers: list[dict], input_shape: list[int], data_path: Path):
    from engine.project import from_dict

    return from_dict(
        {
            "format_version": 1,
            "name": "bench",
            "model": {"input_shape": input_shape, "layers": layers},
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 64, "validation_split": 0.0, "shuffle": False, "seed": 0},
            "dataset": {"path": str(data_path)},
            "dtype": "float32",
        }
    )


def write_data(folder: Path) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((256, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=256)
    images, flat = folder / "images.npz", folder / "flat.npz"
    np.savez(images, x=x, y=y)
    np.savez(flat, x=x.reshape(256, -1), y=y)
    return images, flat


class Host:
    """A main window in Backprop mode (the designer's layout: view and panel side by side)."""

    def __init__(self, proj) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

        from designer.document import Document
        from designer.stepper import attach_stepper

        self.window = QMainWindow()
        self.window.document = Document(proj)
        self.window.setCentralWidget(QLabel("canvas"))
        self.ctrl = attach_stepper(self.window, central=True)
        self.ctrl.panel.batch_radio.setChecked(True)
        self.ctrl.panel.batch_spin.setValue(64)
        self.window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self.window.resize(*SIZE)
        self.window.show()
        self.ctrl.set_active(True)
        if not self.ctrl.active:
            raise SystemExit(f"Backprop mode did not start: {self.ctrl.panel.error}")
        self.panel, self.view = self.ctrl.panel, self.ctrl.view
        QApplication.processEvents()  # lays the view out: it paints from now on
        if not self.view.isVisible():
            raise SystemExit("the Backprop view is not shown")
        self.panel.run_to_end()
        self.plan = self.panel.session.plan()

    def show(self, index: int) -> tuple[float, float]:
        """Seconds to show phase ``index`` and paint the view; then seconds for the view alone
        to draw it again (its ``refresh`` and a repaint: no math panel)."""
        t0 = time.perf_counter()
        self.panel.go_to(index)
        self.view.viewport().repaint()
        t1 = time.perf_counter()
        self.view.refresh()
        self.view.viewport().repaint()
        return t1 - t0, time.perf_counter() - t1


def _kind_key(plan: list, index: int, depth_of: dict) -> tuple:
    kind, layer = plan[index]
    return (kind, None) if layer is None else (kind, depth_of.get(layer))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    from designer.theme import offscreen_app

    app = offscreen_app()
    with tempfile.TemporaryDirectory() as tmp:
        images, flat = write_data(Path(tmp))
        cnn = Host(project(LENET, [28, 28, 1], images))
        mlp = Host(project(MLP, [784], flat))
        app.processEvents()
        times: dict[str, dict[int, list[tuple[float, float]]]] = {"cnn": {}, "mlp": {}}
        for _ in range(args.repeats):
            for name, host in (("cnn", cnn), ("mlp", mlp)):
                for i in range(len(host.plan)):
                    times[name].setdefault(i, []).append(host.show(i))
                app.processEvents()

        def median_ms(runs: list[tuple[float, float]], which: int) -> float:
            return statistics.median(r[which] for r in runs) * 1000

        # The reference's phase of the same kind at the same distance from the output.
        def depths(plan):
            layers = [layer for kind, layer in plan if kind == "forward"]
            return {layer: len(layers) - k for k, layer in enumerate(layers)}

        cnn_depth, mlp_depth = depths(cnn.plan), depths(mlp.plan)
        ref = {}
        for i in range(len(mlp.plan)):
            ref[_kind_key(mlp.plan, i, mlp_depth)] = median_ms(times["mlp"][i], 0)
        print(
            f"Backprop mode, LeNet-like CNN, offscreen {SIZE[0]}x{SIZE[1]}, batch 64, median of "
            f"{args.repeats}; 'phase': go_to + repaint (math panel included), 'view': the "
            "view's refresh + repaint alone"
        )
        print(
            f"{'phase':20} {'phase ms':>8} {'/50 ms':>7} {'view ms':>8} {'/50 ms':>7} "
            f"{'MLP ms':>7} {'/MLP':>6}"
        )
        worst = worst_view = 0.0
        for i, (kind, layer) in enumerate(cnn.plan):
            ms, view_ms = median_ms(times["cnn"][i], 0), median_ms(times["cnn"][i], 1)
            worst, worst_view = max(worst, ms), max(worst_view, view_ms)
            r = ref.get(_kind_key(cnn.plan, i, cnn_depth))
            label = f"{kind} {layer or ''}".strip()
            ref_text = f"{r:7.2f} {ms / r:6.2f}" if r else f"{'—':>7} {'—':>6}"
            print(
                f"{label:20} {ms:8.2f} {ms / TARGET_MS:7.2f} {view_ms:8.2f} "
                f"{view_ms / TARGET_MS:7.2f} {ref_text}"
            )
        print(
            f"worst phase: {worst:.2f} ms = {worst / TARGET_MS:.2f} of the {TARGET_MS:.0f} ms "
            f"target; worst view draw: {worst_view:.2f} ms = {worst_view / TARGET_MS:.2f}"
        )
        for host in (cnn, mlp):
            host.ctrl.set_active(False)
            host.window.close()


if __name__ == "__main__":
    main()
