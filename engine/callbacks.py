"""Keras' training callbacks that NN Designer runs: EarlyStopping, ReduceLROnPlateau,
TerminateOnNaN and ModelCheckpoint (into the project), in the fit settings' Keras form
(``"callbacks": [{"class_name": "EarlyStopping", "config": {...}}]``).

:func:`resolve_callbacks` validates the list and fills in Keras' defaults; :func:`make_callbacks`
builds the objects the :class:`~engine.training.Trainer` calls at the start of training, after
every epoch (with the epoch's logs, as Keras' ``on_epoch_end``; epochs counted from 0) and at
the end. Each follows ``keras/src/callbacks/*.py`` step by step, so that a run stops at the
epoch ``model.fit`` stops at, with the same weights and learning rates.

TerminateOnNaN is what NN Designer always does (a non-finite loss, gradient or weight stops the
run before the update, keeping the last finite weights); it is accepted so that a Keras
project's list round-trips, and changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.metrics import grows_better

CALLBACK_NAMES: tuple[str, ...] = (
    "EarlyStopping",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "ModelCheckpoint",
)

_DEFAULTS: dict[str, dict[str, Any]] = {
    "EarlyStopping": {
        "monitor": "val_loss",
        "min_delta": 0.0,
        "patience": 0,
        "verbose": 0,
        "mode": "auto",
        "baseline": None,
        "restore_best_weights": False,
        "start_from_epoch": 0,
    },
    "ReduceLROnPlateau": {
        "monitor": "val_loss",
        "factor": 0.1,
        "patience": 10,
        "verbose": 0,
        "mode": "auto",
        "min_delta": 0.0001,
        "cooldown": 0,
        "min_lr": 0.0,
    },
    "TerminateOnNaN": {},
    # Keras requires a filepath; NN Designer's default is the file the exported script writes.
    "ModelCheckpoint": {
        "filepath": "best.keras",
        "monitor": "val_loss",
        "verbose": 0,
        "save_best_only": False,
        "save_weights_only": False,
        "mode": "auto",
        "save_freq": "epoch",
        "initial_value_threshold": None,
    },
}
#: Settings the exported script always writes (Keras has no default for them).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {"ModelCheckpoint": ("filepath",)}
_BY_LOWER = {n.lower(): n for n in CALLBACK_NAMES}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def resolve_callback(spec: Any) -> tuple[str, dict[str, Any]]:
    """One callback spec (a name or ``{"class_name": ..., "config": {...}}``) resolved to its
    class name and complete config. Raises ValueError with a message for people."""
    if isinstance(spec, str):
        spec = {"class_name": spec}
    if not isinstance(spec, dict):
        raise ValueError(
            f"a callback must be a mapping like {{'class_name': 'EarlyStopping'}}, got {spec!r}"
        )
    unknown = sorted(set(spec) - {"class_name", "config", "module", "registered_name"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in a callback")
    raw = spec.get("class_name")
    cls = _BY_LOWER.get(raw.lower()) if isinstance(raw, str) else None
    if cls is None:
        raise ValueError(f"unknown callback {raw!r}; NN Designer runs {', '.join(CALLBACK_NAMES)}")
    given = spec.get("config") or {}
    if not isinstance(given, dict):
        raise ValueError(f"{cls}: 'config' must be a mapping")
    config = dict(_DEFAULTS[cls])
    for key, value in given.items():
        if key not in config:
            raise ValueError(f"{cls} has no setting {key!r}; known settings: {', '.join(config)}")
        config[key] = value

    def fail(key: str, requirement: str) -> ValueError:
        return ValueError(f"{cls}: '{key}' must be {requirement}, got {config[key]!r}")

    if "monitor" in config and not (isinstance(config["monitor"], str) and config["monitor"]):
        raise fail("monitor", "a logged value such as 'val_loss' or 'accuracy'")
    if "mode" in config and config["mode"] not in ("auto", "min", "max"):
        raise fail("mode", "'auto', 'min' or 'max'")
    for key in ("patience", "start_from_epoch", "cooldown", "verbose"):
        if key in config and not _count(config[key]):
            raise fail(key, "a whole number at least 0")
    for key in ("min_delta", "min_lr"):
        if key in config and (not _number(config[key]) or config[key] < 0):
            raise fail(key, "a number at least 0")
    if "baseline" in config and config["baseline"] is not None and not _number(config["baseline"]):
        raise fail("baseline", "a number or null")
    if "restore_best_weights" in config and not isinstance(config["restore_best_weights"], bool):
        raise fail("restore_best_weights", "true or false")
    if cls == "ModelCheckpoint":
        _check_checkpoint(config, fail)
    if "factor" in config and (not _number(config["factor"]) or not 0 < config["factor"] < 1):
        raise fail("factor", "a number in (0, 1) (Keras refuses a factor >= 1)")
    return cls, config


def _check_checkpoint(config: dict[str, Any], fail) -> None:
    path = config["filepath"]
    suffix = ".weights.h5" if config["save_weights_only"] else ".keras"
    if not isinstance(path, str) or not path.endswith(suffix):
        raise fail("filepath", f"a file name ending in {suffix} (as Keras requires)")
    for key in ("save_best_only", "save_weights_only"):
        if not isinstance(config[key], bool):
            raise fail(key, "true or false")
    if config["save_freq"] != "epoch":
        raise fail("save_freq", "'epoch' (NN Designer checks after every epoch)")
    value = config["initial_value_threshold"]
    if value is not None and not _number(value):
        raise fail("initial_value_threshold", "a number or null")


def resolve_callbacks(specs: Any) -> list[tuple[str, dict[str, Any]]]:
    """The fit settings' ``callbacks`` list resolved (see :func:`resolve_callback`); a
    message names the entry that is wrong."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise ValueError(f"'callbacks' must be a list, got {type(specs).__name__}")
    out = []
    for i, spec in enumerate(specs):
        try:
            out.append(resolve_callback(spec))
        except ValueError as exc:
            raise ValueError(f"callback {i + 1}: {exc}") from None
    return out


class _Monitor:
    """Keras' MonitorCallback: which way the monitored value improves, by ``min_delta``."""

    def __init__(self, config: dict[str, Any], metrics: list | None = None) -> None:
        self.config = config
        self.monitor = config["monitor"]
        mode = config["mode"]
        if mode == "auto":  # the compiled metric's direction, as Keras reads it
            mode = "max" if grows_better(self.monitor, metrics) else "min"
        self.lower = mode == "min"
        self.min_delta = abs(float(config.get("min_delta", 0.0))) * (-1 if self.lower else 1)

    def improves(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        shifted = value - self.min_delta
        return shifted < reference if self.lower else shifted > reference


class EarlyStopping(_Monitor):
    """Stops training when the monitored value stops improving (Keras' EarlyStopping)."""

    def on_train_begin(self, model) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model) -> str | None:
        cfg = self.config
        current = logs.get(self.monitor)
        if current is None or epoch < cfg["start_from_epoch"]:
            return None
        if cfg["restore_best_weights"] and self.best_weights is None:
            self.best_weights = model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self.improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if cfg["restore_best_weights"]:
                self.best_weights = model.get_weights()
            if cfg["baseline"] is None or self.improves(current, cfg["baseline"]):
                self.wait = 0
            return None
        if self.wait >= cfg["patience"] and epoch > 0:
            self.stopped_epoch = epoch
            return (
                f"EarlyStopping: {self.monitor} has not improved for {self.wait} epoch"
                f"{'s' if self.wait != 1 else ''} (best {self.best:.6g} at epoch "
                f"{self.best_epoch + 1})"
            )
        return None

    def on_train_end(self, model) -> str | None:
        if self.config["restore_best_weights"] and self.best_weights is not None:
            model.set_weights(self.best_weights)
            return f"the weights of epoch {self.best_epoch + 1} (the best {self.monitor}) restored"
        return None


class ReduceLROnPlateau(_Monitor):
    """Lowers the learning rate when the monitored value stops improving (Keras' own); logs
    the rate of every epoch as ``learning_rate``, as Keras does."""

    def on_train_begin(self, model) -> None:
        self.best: float | None = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model) -> str | None:
        cfg = self.config
        # Keras reads the rate back from its variable: the model's dtype's value.
        rate = float(model.dtype.type(model.learning_rate))
        logs["learning_rate"] = rate
        current = logs.get(self.monitor)
        if current is None:
            return None
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improves(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= cfg["patience"] and rate > np.float32(cfg["min_lr"]):
                model.learning_rate = max(rate * cfg["factor"], cfg["min_lr"])
                self.cooldown_counter = cfg["cooldown"]
                self.wait = 0
        return None

    def on_train_end(self, model) -> str | None:
        return None


class TerminateOnNaN:
    """Keras' TerminateOnNaN: what NN Designer always does (see the module's docstring)."""

    def __init__(self, config: dict[str, Any], metrics: list | None = None) -> None:
        self.config = config

    def on_train_begin(self, model) -> None:
        return None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model) -> str | None:
        return None

    def on_train_end(self, model) -> str | None:
        return None


class ModelCheckpoint(_Monitor):
    """Keras' ModelCheckpoint into the project: with ``save_best_only``, the weights of the
    epoch with the best monitored value (Keras' ``_should_save_model``: any improvement, from
    ``initial_value_threshold``; an epoch without the value counts) are what the project keeps
    at the end of training, as Keras' file would hold them; without it, the last epoch's, which
    the project keeps anyway. ``filepath`` is where the exported script saves."""

    def on_train_begin(self, model) -> None:
        self.best = self.config["initial_value_threshold"]
        self.saved = None
        self.saved_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], model) -> str | None:
        if not self.config["save_best_only"]:
            return None
        current = logs.get(self.monitor)
        if current is None or self.improves(current, self.best):
            if current is not None:
                self.best = current
            self.saved = model.get_weights()
            self.saved_epoch = epoch
        return None

    def on_train_end(self, model) -> str | None:
        if self.saved is None:
            return None
        model.set_weights(self.saved)
        best = f" (best {self.monitor} {self.best:.6g})" if self.best is not None else ""
        return f"ModelCheckpoint: the weights of epoch {self.saved_epoch + 1}{best} kept"


_CLASSES = {
    "EarlyStopping": EarlyStopping,
    "ReduceLROnPlateau": ReduceLROnPlateau,
    "TerminateOnNaN": TerminateOnNaN,
    "ModelCheckpoint": ModelCheckpoint,
}


def make_callbacks(specs: Any, metrics: list | None = None) -> list:
    """The callback objects of a fit settings' ``callbacks`` list (validated); ``metrics``
    (the compiled ones) say which way a monitored metric improves."""
    return [_CLASSES[cls](config, metrics) for cls, config in resolve_callbacks(specs)]
