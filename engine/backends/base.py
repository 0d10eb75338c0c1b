"""The interface every backend's model satisfies (the NumPy reference and TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.errors import DataError


@dataclass
class StepResult:
    """What one training step reports.

    ``loss`` is the batch loss before the update (with the regularizers' penalties, as Keras
    reports it); ``y_pred`` the batch output the metrics are computed from (None when the
    model has no metrics and the backend does not copy it back); ``regularization`` the
    penalties' part of ``loss`` (None for a network without regularizers).
    """

    loss: float
    y_pred: np.ndarray | None = None
    regularization: float | None = None


def given_weight(
    weights: dict[str, dict[str, np.ndarray]],
    layer: str,
    wname: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
) -> np.ndarray:
    """``weights[layer][wname]`` checked for a model's variable: present, of ``shape``, and
    finite once cast to ``dtype`` (1e300 is a finite float64 but inf in float32).

    Raises
    ------
    DataError
        Naming the layer and the weight.
    """
    if layer not in weights:
        raise DataError(f"no weights given for layer '{layer}'")
    if wname not in weights[layer]:
        raise DataError(f"no '{wname}' given for layer '{layer}'")
    new = np.asarray(weights[layer][wname])
    if new.shape != tuple(shape):
        raise DataError(f"layer '{layer}' {wname}: expected shape {tuple(shape)}, got {new.shape}")
    if new.dtype.kind not in "fiub":
        raise DataError(f"layer '{layer}' {wname}: not numbers ({new.dtype})")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = new.astype(dtype, copy=False)
    if not np.isfinite(cast).all():
        bad = new.reshape(-1)[np.flatnonzero(~np.isfinite(cast.reshape(-1)))[0]].item()
        raise DataError(
            f"layer '{layer}' {wname}: holds {bad!r}, which is not a finite {np.dtype(dtype).name}"
        )
    return cast


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

    def get_weights(self) -> dict[str, dict[str, np.ndarray]]: ...

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None: ...

    def flat_weights(self) -> dict[str, np.ndarray]: ...

    def set_flat_weights(self, flat: dict[str, np.ndarray]) -> None: ...
