"""The test networks of each layer type, ``tests/layer_cases/<ClassName>.json`` (see
docs/adding-a-layer-type.md), for the suites that follow the registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.layers import LAYER_TYPES

CASES = Path(__file__).resolve().parents[1] / "layer_cases"


def cases_of(class_name: str) -> list[dict]:
    """The cases of ``class_name`` (none when its file is missing): each has ``input_shape``,
    ``layers`` (a model's layers, the type among them) and ``loss``."""
    path = CASES / f"{class_name}.json"
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


#: ``(class_name, case index)`` of every case of every registered type.
CASE_IDS = [(cls, i) for cls in LAYER_TYPES for i in range(len(cases_of(cls)))]


def targets(loss: str, out_shape: tuple[int, ...], n: int, rng, dtype="float64") -> np.ndarray:
    """``n`` random targets that ``loss`` accepts for outputs of ``out_shape``: class labels,
    one-hot rows, 0/1 or real values."""
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, out_shape[-1], size=(n, *out_shape[:-1]))
    if loss == "categorical_crossentropy":
        return np.eye(out_shape[-1])[rng.integers(0, out_shape[-1], size=(n, *out_shape[:-1]))]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, *out_shape)).astype(dtype)
    return rng.normal(size=(n, *out_shape)).astype(dtype)
