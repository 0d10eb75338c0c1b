"""The test networks of each layer type, ``tests/layer_cases/<ClassName>.json`` (see
docs/adding-a-layer-type.md), for the suites that follow the registry."""

from __future__ import annotations

import json
from pathlib import Path

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
