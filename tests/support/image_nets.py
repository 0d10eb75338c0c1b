"""Small networks on images shared by the Backprop-mode tests (engine and window)."""

from __future__ import annotations

#: Images through BatchNormalization, flattened into a softmax of 3 classes.
BN_NET = [
    {"class_name": "BatchNormalization", "config": {"name": "bn"}},
    {"class_name": "Flatten", "config": {"name": "flat"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}},
]
