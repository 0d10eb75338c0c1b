"""The LeNet-like network of issue 15's benchmarks: Conv 6@5x5 same relu, MaxPool 2, Conv
16@5x5 relu, MaxPool 2, Flatten, Dense 120 relu, Dense 84 relu, Dense 10 softmax, on 28x28x1
images (bench_cnn_epoch.py, bench_stepper_phases.py, bench_gui_training.py)."""

from __future__ import annotations

IMAGE = (28, 28, 1)
CLASSES = 10


def _conv(name: str, filters: int, padding: str) -> dict:
    return {
        "class_name": "Conv2D",
        "config": {
            "name": name,
            "filters": filters,
            "kernel_size": [5, 5],
            "padding": padding,
            "activation": "relu",
        },
    }


def dense(name: str, units: int, activation: str) -> dict:
    return {
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": activation},
    }


#: The layers, a chain from the input (each layer reads the one before it).
LENET = [
    _conv("conv1", 6, "same"),
    {"class_name": "MaxPooling2D", "config": {"name": "pool1", "pool_size": [2, 2]}},
    _conv("conv2", 16, "valid"),
    {"class_name": "MaxPooling2D", "config": {"name": "pool2", "pool_size": [2, 2]}},
    {"class_name": "Flatten", "config": {"name": "flatten"}},
    dense("fc1", 120, "relu"),
    dense("fc2", 84, "relu"),
    dense("out", CLASSES, "softmax"),
]
