"""The test networks of each layer type, ``tests/layer_cases/<ClassName>.json`` (see
docs/adding-a-layer-type.md), for the suites that follow the registry."""

from __future__ import annotations

import itertools
import json
import zlib
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


#: Units of one layer output explained one by one at most; bigger outputs are sampled.
EXPLAIN_CAP = 16
#: Seeded random units explained besides the corners and the centre of a bigger output.
EXPLAIN_RANDOM = 6


def units_to_explain(shape: tuple[int, ...], key: str, cap: int = EXPLAIN_CAP) -> list[int]:
    """Flat (C-order) unit indices of an output of ``shape`` to explain: every unit when there
    are at most ``cap``; else a deterministic sample: every corner of the output (first and
    last index along each axis: rows, columns and channels of an image), its centre, and
    :data:`EXPLAIN_RANDOM` units drawn by a generator seeded from ``key`` (the same on every
    run and machine, unlike ``hash``)."""
    shape = tuple(int(n) for n in shape)
    total = int(np.prod(shape))
    if total <= cap:
        return list(range(total))
    corners = itertools.product(*[sorted({0, n - 1}) for n in shape])
    picked = {int(np.ravel_multi_index(c, shape)) for c in corners}
    picked.add(int(np.ravel_multi_index(tuple(n // 2 for n in shape), shape)))
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    rest = np.setdiff1d(np.arange(total), sorted(picked))
    picked.update(int(u) for u in rng.choice(rest, min(EXPLAIN_RANDOM, len(rest)), replace=False))
    return sorted(picked)
