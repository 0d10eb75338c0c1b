"""What the epoch benchmarks share. The scripts put the repository root on ``sys.path`` and
import this as ``tests.benchmarks.common``."""

from __future__ import annotations

import numpy as np


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-shaped random samples: float32 inputs of 784 features in [0, 1) and int
    labels 0-9."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=n)
    return x, y
