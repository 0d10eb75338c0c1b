"""Learning-rate schedules of the NumPy backend: the rate at each step, as Keras computes it.

:func:`schedule_value` follows ``keras/src/optimizers/schedules/learning_rate_schedule.py``
operation by operation, in float32: Keras makes a tensor of the Python float
``initial_learning_rate`` (float32) and computes in its dtype; the optimizer then casts the
rate to the weights' dtype. The optimizer asks for the rate at its step count before the update
(``optimizer.iterations``): the first update uses the rate at step 0. The vocabulary is
:mod:`engine.schedules`'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.schedules import is_schedule, resolve_schedule


def initial_rate(spec: Any) -> float:
    """The rate at step 0 of a number or schedule spec (valid)."""
    if not is_schedule(spec):
        return float(spec)
    return schedule_value(*resolve_schedule(spec), 0)


def schedule_value(cls: str, config: dict[str, Any], step: int) -> float:
    """The learning rate of schedule ``cls`` at optimizer step ``step``, computed as Keras
    does, in float32 (see the module's docstring)."""
    f = np.float32
    s = f(step)
    if cls == "PiecewiseConstantDecay":
        bounds, values = config["boundaries"], [f(v) for v in config["values"]]
        for b, v in zip(bounds, values, strict=False):
            if step <= b:
                return float(v)
        return float(values[-1])
    lr0 = f(config["initial_learning_rate"])
    if cls in ("ExponentialDecay", "InverseTimeDecay"):
        p = s / f(config["decay_steps"])
        if config["staircase"]:
            p = np.floor(p)
        if cls == "ExponentialDecay":
            return float(lr0 * np.power(f(config["decay_rate"]), p))
        return float(lr0 / (f(1) + f(config["decay_rate"]) * p))
    if cls == "PolynomialDecay":
        end, power = f(config["end_learning_rate"]), f(config["power"])
        steps = f(config["decay_steps"])
        if config["cycle"]:
            multiplier = f(1) if s == 0 else np.ceil(s / steps)
            steps = steps * multiplier
        else:
            s = min(s, steps)
        p = s / steps
        return float((lr0 - end) * np.power(f(1) - p, power) + end)
    if cls == "CosineDecay":
        steps = f(config["decay_steps"])
        alpha = f(config["alpha"])

        def decay(step_: np.float32, start: np.float32) -> float:
            cosine = f(0.5) * (f(1) + np.cos(f(math.pi) * (step_ / steps)))
            return float(start * ((f(1) - alpha) * cosine + alpha))

        if config["warmup_target"] is None:
            return decay(min(s, steps), lr0)
        target, warm = f(config["warmup_target"]), f(config["warmup_steps"])
        s = min(s, steps + warm)
        if s < warm:
            return float((target - lr0) * (s / warm) + lr0)
        return decay(s - warm, target)
    # CosineDecayRestarts (SGDR)
    first = f(config["first_decay_steps"])
    alpha, t_mul, m_mul = f(config["alpha"]), f(config["t_mul"]), f(config["m_mul"])
    fraction = s / first
    if t_mul == 1:
        restart = np.floor(fraction)
        fraction = fraction - restart
    else:
        restart = np.floor(np.log(f(1) - fraction * (f(1) - t_mul)) / np.log(t_mul))
        done = (f(1) - np.power(t_mul, restart)) / (f(1) - t_mul)
        fraction = (fraction - done) / np.power(t_mul, restart)
    cosine = f(0.5) * np.power(m_mul, restart) * (f(1) + np.cos(f(math.pi) * fraction))
    return float(lr0 * ((f(1) - alpha) * cosine + alpha))


def upcoming_rates(
    schedule: tuple[str, dict[str, Any]] | None, rate: float, iterations: int, count: int
) -> list[float]:
    """The rates of the next ``count`` updates of an optimizer at step ``iterations``: the
    schedule's at each step, or the constant ``rate``."""
    if schedule is None:
        return [float(rate)] * count
    return [schedule_value(*schedule, iterations + j) for j in range(count)]
