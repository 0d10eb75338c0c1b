"""The learning-rate schedule of the optimizer's settings: the choice (a constant rate or one of
Keras' schedules) and the schedule's own settings, as Inspector fields.

:func:`schedule_fields` says which fields a schedule has; :func:`make_schedule_field` makes one;
:func:`chosen_schedule` is the optimizer's ``learning_rate`` after the user picks a schedule
(or the constant rate) in the choice. The specs are Keras' serialized form (see
:mod:`engine.schedules`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from designer.panels.fields import BoolField, Field, FloatField, IntField, TextField
from engine.backends.numpy.schedules import initial_rate
from engine.schedules import SCHEDULE_NAMES, required_settings, resolve_schedule, schedule_spec

#: The choice's entries: a constant rate, then Keras' schedules.
CONSTANT = "constant"
SCHEDULE_CHOICES: list[tuple[str, str]] = [(CONSTANT, CONSTANT)] + [(n, n) for n in SCHEDULE_NAMES]
_STEP_KEYS = ("decay_steps", "first_decay_steps", "warmup_steps")
_LIST_KEYS = ("boundaries", "values")


def chosen_schedule(choice: str, learning_rate: Any) -> Any:
    """The optimizer's ``learning_rate`` once ``choice`` is picked, from the current one (a
    number or a schedule): the constant rate is the schedule's rate at step 0; a schedule
    starts from the current rate with the step counts of Keras' documentation examples."""
    lr = _start_rate(learning_rate)
    if choice == CONSTANT:
        return lr
    starts: dict[str, Any] = {
        "initial_learning_rate": lr,
        "decay_steps": 1000,
        "decay_rate": 0.9,
        "first_decay_steps": 1000,
        "boundaries": [1000],
        "values": [lr, lr / 10],
    }
    config = {key: starts[key] for key in required_settings(choice)}
    cls, full = resolve_schedule({"class_name": choice, "config": config})
    return schedule_spec(cls, full)


def _start_rate(learning_rate: Any) -> float:
    """The rate a schedule starts from, as the user wrote it (not rounded to float32)."""
    if isinstance(learning_rate, dict):
        config = learning_rate.get("config") or {}
        if isinstance(config.get("initial_learning_rate"), (int, float)):
            return float(config["initial_learning_rate"])
        values = config.get("values")
        if isinstance(values, list) and values and isinstance(values[0], (int, float)):
            return float(values[0])
    return initial_rate(learning_rate)


def schedule_fields(learning_rate: Any) -> list[tuple[str, Any]]:
    """The settings the Inspector shows for a schedule spec, with their values (none for a
    constant rate or a schedule that is not valid)."""
    if not isinstance(learning_rate, dict):
        return []
    try:
        _, config = resolve_schedule(learning_rate)
    except ValueError:
        return []
    return list(config.items())


def make_schedule_field(path: str, key: str, value: Any, commit: Callable[[Any], None]) -> Field:
    """The editor of schedule setting ``key`` (its current ``value`` gives the kind)."""
    if isinstance(value, bool):
        return BoolField(path, commit)
    if key in _STEP_KEYS:
        return IntField(path, commit, 0 if key == "warmup_steps" else 1, 1e9)
    if key in _LIST_KEYS:

        def parse(text: Any) -> None:
            try:
                numbers = [float(t) for t in str(text).replace(";", ",").split(",") if t.strip()]
            except ValueError:
                return  # validation names the list; the text stays for the user to mend
            if key == "boundaries":
                numbers = [int(n) if n == int(n) else n for n in numbers]
            commit(numbers)

        return TextField(path, parse, placeholder="1000, 2000")
    if key in ("initial_learning_rate", "warmup_target"):
        return FloatField(path, commit, 1e-9, 10.0, 0.001, log_step=True, nullable=value is None)
    return FloatField(path, commit, 0.0, 1e6, 0.05)
