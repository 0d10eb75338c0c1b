"""What the epoch benchmarks share. The scripts put the repository root on ``sys.path`` and
import this as ``tests.benchmarks.common``."""

from __future__ import annotations

import time

import numpy as np


def wait_until(app, cond, timeout_s: float) -> bool:
    """Process ``app``'s events until ``cond()`` holds (True) or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.001)
    return True


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-shaped random samples: float32 inputs of 784 features in [0, 1) and int
    labels 0-9."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=n)
    return x, y


def training_window(project, floating: bool = True):
    """A shown window (offscreen) with the project's document, its canvas and the training
    views attached, as the GUI benchmarks use it; ``floating``: every view in its own window,
    so that none hides behind a tab. Returns ``(window, controller)``."""
    from PySide6.QtCore import Qt

    from designer.training import attach_training
    from designer.training.screenshot import TrainingHost

    window = TrainingHost(project)
    ctrl = attach_training(window)
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(1600, 1000)
    window.show()
    if floating:
        for i, dock in enumerate(ctrl.docks.values()):
            dock.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            dock.setFloating(True)
            dock.resize(640, 420)
            dock.move(40 * i, 30 * i)
            dock.show()
    return window, ctrl
