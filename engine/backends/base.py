"""The interface every backend's model satisfies (the NumPy reference and TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class StepResult:
    """What one training step reports.

    ``loss`` is the batch loss before the update; ``y_pred`` the batch output (may be None when
    the backend reports ``metrics`` itself, computed on the same output).
    """

    loss: float
    y_pred: np.ndarray | None = None
    metrics: dict[str, float] | None = None


class Model(Protocol):
    """A built network that the training loop can drive.

    Weights are ``{layer: {"kernel": (in, out), "bias": (out,)}}`` (Keras layout). A backend may
    set ``steps_per_call`` > 1 and implement ``train_steps`` to run several batches per call.
    """

    name: str
    steps_per_call: int

    def train_step(
        self, x: np.ndarray, y: np.ndarray, epoch: int = 0, step: int = 0
    ) -> StepResult: ...

    def train_steps(
        self, xs: list[np.ndarray], ys: list[np.ndarray], epoch: int = 0, first_step: int = 1
    ) -> list[StepResult]: ...

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]: ...

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray: ...

    def metric_values(self, y: np.ndarray, y_pred: np.ndarray) -> dict[str, float]: ...

    def get_weights(self) -> dict[str, dict[str, np.ndarray]]: ...

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None: ...

    def flat_weights(self) -> dict[str, np.ndarray]: ...

    def set_flat_weights(self, flat: dict[str, np.ndarray]) -> None: ...
