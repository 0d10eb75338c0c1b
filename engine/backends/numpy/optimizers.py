"""Optimizers of the NumPy backend: Keras 3's update formulas on arrays.

The vocabulary (names, defaults, settings, :func:`~engine.optimizers.resolve_optimizer`) lives
in :mod:`engine.optimizers`, shared by every backend. :func:`make_optimizer` builds the optimizer,
whose :meth:`Optimizer.apply` updates weights in place with the operations of
``keras/src/optimizers/{sgd,adam,rmsprop,adagrad,adadelta,adamax,nadam,lion,ftrl}.py`` in the
same order (AdamW is Adam with a weight decay), so that both backends agree to rounding. Before
the update, as Keras' ``apply``: the gradients are clipped, then a ``weight_decay`` shrinks every
weight that has a gradient, ``w -= w * weight_decay * learning_rate``.

``Perceptron`` is not a Keras optimizer: it is the seed Perceptron's learning rule
``w += learning_rate * (y - y_hat) * x``. Its :meth:`Optimizer.apply` is the plain step
``w -= learning_rate * g``, so the model passes the rule's pseudo-gradient
``g = -(y - y_hat) * x``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

# The vocabulary (names, defaults, resolve_optimizer) lives in engine.optimizers; only the
# update formulas are here.
from engine.backends.numpy.schedules import schedule_value
from engine.optimizers import PERCEPTRON, SCALARS, SLOTS, resolve_optimizer
from engine.schedules import is_schedule, resolve_schedule


class Optimizer:
    """Base of the NumPy optimizers: state, clipping and bookkeeping.

    Weights and gradients are dicts keyed by weight path (``"dense/kernel"``). Slot variables
    (Keras' optimizer variables, same names: ``momentum``, ``velocity``, ``accumulator``...)
    are created lazily, per key, with the dtype and shape of the weight.

    Attributes
    ----------
    class_name : str
        One of :data:`OPTIMIZER_NAMES`.
    config : dict
        The resolved config (see :func:`resolve_optimizer`).
    learning_rate : float
        Read at every :meth:`apply`, so it can be changed while training; with a schedule
        (a ``learning_rate`` spec such as ExponentialDecay) it is the schedule's rate at the
        current step and cannot be set.
    schedule : (str, dict) or None
        The resolved learning-rate schedule, if the optimizer has one.
    iterations : int
        Number of :meth:`apply` calls so far (Keras' ``optimizer.iterations``).
    """

    class_name = ""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        lr = config["learning_rate"]
        self.schedule = resolve_schedule(lr) if is_schedule(lr) else None
        self._learning_rate = 0.0 if self.schedule else float(lr)
        self.iterations = 0
        self._slots: dict[str, dict[str, np.ndarray]] = {}
        # Optimizer-wide numbers besides the step count (Nadam's running u_product).
        self._scalars: dict[str, Any] = {}
        # Scratch buffers by (shape, dtype), reused every step to avoid temporaries.
        self._scratch: dict[tuple[tuple[int, ...], str], tuple[np.ndarray, np.ndarray]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r})"

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (a schedule's at the current step)."""
        if self.schedule is not None:
            return schedule_value(*self.schedule, self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        if self.schedule is not None:
            raise ValueError(
                f"the learning rate follows the {self.schedule[0]} schedule and cannot be set"
            )
        self._learning_rate = float(value)

    # --- state -------------------------------------------------------------------------------

    def _slot_names(self) -> tuple[str, ...]:
        return ()

    def _slot_initial_value(self, slot: str) -> float:
        start = SLOTS[self.class_name][slot]
        return float(self.config[start]) if isinstance(start, str) else float(start)

    def _slots_for(self, key: str, weight: np.ndarray) -> dict[str, np.ndarray]:
        slots = self._slots.get(key)
        if slots is None:
            slots = {
                name: np.full(weight.shape, self._slot_initial_value(name), dtype=weight.dtype)
                for name in self._slot_names()
            }
            self._slots[key] = slots
        return slots

    def _buffers(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tag = (weight.shape, weight.dtype.str)
        buffers = self._scratch.get(tag)
        if buffers is None:
            buffers = (np.empty_like(weight), np.empty_like(weight))
            self._scratch[tag] = buffers
        return buffers

    def slots(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies of the slot variables, e.g. ``{"dense/kernel": {"momentum": ..., ...}}``.

        Returns
        -------
        dict of str to dict of str to ndarray
            Each array has the shape and dtype of its weight. Keys appear after the first
            :meth:`apply` that updated them.
        """
        return {key: {n: s.copy() for n, s in slots.items()} for key, slots in self._slots.items()}

    def get_state(self) -> dict[str, Any]:
        """A deep copy of everything :meth:`apply` changes, for :meth:`set_state`.

        Returns
        -------
        dict
            ``{"iterations": int, "learning_rate": float, "slots": {...}, "scalars": {...}}``
            (``scalars``: optimizer-wide numbers, Nadam's ``u_product``).
        """
        return {
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "slots": self.slots(),
            "scalars": dict(self._scalars),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state` (copied, so the state can be reused)."""
        self.iterations = int(state["iterations"])
        if self.schedule is None:
            self.learning_rate = float(state["learning_rate"])
        self._slots = copy.deepcopy(state["slots"])
        self._scalars = dict(state.get("scalars") or {})

    # --- update ------------------------------------------------------------------------------

    def clip(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keras' ``_clip_gradients``; returns new arrays, never changes the caller's."""
        clipnorm = self.config.get("clipnorm")
        global_clipnorm = self.config.get("global_clipnorm")
        clipvalue = self.config.get("clipvalue")
        if clipnorm:
            clipped = {}
            for key, g in grads.items():
                l2sum = float(np.sum(np.square(g)))
                l2norm = math.sqrt(l2sum) if l2sum > 0 else l2sum
                clipped[key] = g * clipnorm / max(l2norm, clipnorm)
            return clipped
        if global_clipnorm:
            norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))
            if math.isfinite(norm):
                inverse = 1.0 / norm if norm > 0 else math.inf
                scale = global_clipnorm * min(inverse, 1.0 / global_clipnorm)
            else:
                # Keras adds (norm - norm) so that a non-finite norm poisons every gradient.
                scale = math.nan
            return {key: g * scale for key, g in grads.items()}
        if clipvalue:
            return {key: np.clip(g, -clipvalue, clipvalue) for key, g in grads.items()}
        return grads

    def apply(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update ``weights`` in place from ``grads`` and count one iteration.

        Parameters
        ----------
        weights : dict of str to ndarray
            The weights by path; the arrays are modified in place.
        grads : dict of str to ndarray
            Gradients by path, each of its weight's shape; weights without a gradient are
            left alone. Not modified.
        """
        clipped = self.clip(grads)
        lr = self.learning_rate
        decay = self.config.get("weight_decay")
        if decay:
            for key in clipped:
                w = weights[key]
                dt = w.dtype.type
                # Keras' _apply_weight_decay: variable * wd * lr, in the variable's dtype.
                w -= w * dt(decay) * dt(lr)
        self._begin_step(weights, clipped)
        for key, g in clipped.items():
            w = weights[key]
            g = np.asarray(g)
            if g.dtype != w.dtype:
                g = g.astype(w.dtype)
            self._update(key, w, g, lr)
        self.iterations += 1

    def _begin_step(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """What the optimizer computes once per step before the weights' updates."""

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Keras 3 SGD: ``m = momentum*m - lr*g; w += m`` (Nesterov: ``w += momentum*m - lr*g``)."""

    class_name = "SGD"

    def _slot_names(self) -> tuple[str, ...]:
        # Keras creates the momentum variables only for a non-zero momentum.
        return ("momentum",) if self.config["momentum"] != 0 else ()

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        step, tmp = self._buffers(w)
        np.multiply(g, lr, out=step)
        momentum = self.config["momentum"]
        if momentum == 0:
            w -= step
            return
        m = self._slots_for(key, w)["momentum"]
        m *= momentum
        m -= step
        if self.config["nesterov"]:
            np.multiply(m, momentum, out=tmp)
            tmp -= step
            w += tmp
        else:
            w += m


class Adam(Optimizer):
    """Keras 3 Adam, with its bias correction folded into the step size ``alpha``."""

    class_name = "Adam"

    def _slot_names(self) -> tuple[str, ...]:
        if self.config["amsgrad"]:
            return ("momentum", "velocity", "velocity_hat")
        return ("momentum", "velocity")

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        beta_1, beta_2 = cfg["beta_1"], cfg["beta_2"]
        # Keras computes the scalars in the variable's dtype.
        dt = w.dtype.type
        t = dt(self.iterations + 1)
        alpha = dt(lr) * np.sqrt(1 - dt(beta_2) ** t) / (1 - dt(beta_1) ** t)
        slots = self._slots_for(key, w)
        m, v = slots["momentum"], slots["velocity"]
        tmp, step = self._buffers(w)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta_1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - beta_2
        v += tmp
        if cfg["amsgrad"]:
            v_hat = slots["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=tmp)
        tmp += cfg["epsilon"]
        np.multiply(m, alpha, out=step)
        step /= tmp
        w -= step


class AdamW(Adam):
    """Keras 3 AdamW: Adam after the weight decay (which :meth:`Optimizer.apply` does)."""

    class_name = "AdamW"


class Adamax(Optimizer):
    """Keras 3 Adamax: ``m += (g - m)(1 - β₁)``, ``u = max(β₂u, |g|)``,
    ``w -= lr·m / ((1 - β₁ᵗ)(u + ε))``."""

    class_name = "Adamax"

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum", "norm")

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        dt = w.dtype.type
        beta_1_power = dt(cfg["beta_1"]) ** dt(self.iterations + 1)
        slots = self._slots_for(key, w)
        m, u = slots["momentum"], slots["norm"]
        tmp, step = self._buffers(w)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - cfg["beta_1"]
        m += tmp
        np.multiply(u, cfg["beta_2"], out=u)
        np.maximum(u, np.abs(g), out=u)
        np.multiply(m, dt(lr), out=step)
        np.add(u, cfg["epsilon"], out=tmp)
        tmp *= 1 - beta_1_power
        step /= tmp
        w -= step


# Nadam's momentum decay. Keras' update step casts the literal 0.96 with ops.cast, which takes a
# Python float through float32, in float64 models too: the NumPy engine uses the same number.
_NADAM_DECAY = float(np.float32(0.96))


class Nadam(Optimizer):
    """Keras 3 Nadam: Adam with Nesterov momentum and the momentum schedule
    ``u_t = β₁(1 - ½·0.96ᵗ)``, whose running product ``u_product`` the optimizer keeps."""

    class_name = "Nadam"

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity")

    def _begin_step(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        # Keras keeps u_product in the first variable's dtype and updates it once per step.
        dtype = next(iter(weights.values())).dtype if weights else np.dtype(np.float32)
        dt = dtype.type
        u_product = dt(self._scalars.get("u_product", SCALARS["Nadam"]["u_product"]))
        t = dt(self.iterations + 1)
        self._scalars["u_product"] = (
            u_product * dt(self.config["beta_1"]) * (dt(1.0) - dt(0.5) * dt(0.96) ** t)
        )

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        dt = w.dtype.type
        beta_1, beta_2 = dt(cfg["beta_1"]), dt(cfg["beta_2"])
        t = dt(self.iterations + 1)
        decay = dt(_NADAM_DECAY)
        u_t = beta_1 * (dt(1.0) - dt(0.5) * decay**t)
        u_t_1 = beta_1 * (dt(1.0) - dt(0.5) * decay ** (t + dt(1)))
        u_product_t = dt(self._scalars["u_product"])
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = beta_2**t
        slots = self._slots_for(key, w)
        m, v = slots["momentum"], slots["velocity"]
        tmp, step = self._buffers(w)
        np.subtract(g, m, out=tmp)
        tmp *= dt(1) - beta_1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= dt(1) - beta_2
        v += tmp
        # m_hat = u_{t+1}·m / (1 - Πu_{t+1}) + (1 - u_t)·g / (1 - Πu_t)
        np.multiply(m, u_t_1, out=step)
        step /= dt(1) - u_product_t_1
        np.multiply(g, dt(1) - u_t, out=tmp)
        tmp /= dt(1) - u_product_t
        step += tmp
        step *= dt(lr)
        # sqrt(v / (1 - β₂ᵗ)) + ε
        np.divide(v, dt(1) - beta_2_power, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += cfg["epsilon"]
        step /= tmp
        w -= step


class RMSprop(Optimizer):
    """Keras 3 RMSprop (optionally centered, optionally with momentum)."""

    class_name = "RMSprop"

    def _slot_names(self) -> tuple[str, ...]:
        names = ["velocity"]
        if self.config["momentum"] > 0:
            names.append("momentum")
        if self.config["centered"]:
            names.append("average_gradient")
        return tuple(names)

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        rho = cfg["rho"]
        slots = self._slots_for(key, w)
        velocity = slots["velocity"]
        tmp, step = self._buffers(w)
        # velocity = rho*velocity + (1-rho)*g², each product rounded as in Keras.
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        velocity *= rho
        velocity += tmp
        if cfg["centered"]:
            average = slots["average_gradient"]
            np.multiply(g, 1 - rho, out=tmp)
            average *= rho
            average += tmp
            # denominator = velocity - average² + epsilon
            np.multiply(average, average, out=tmp)
            np.subtract(velocity, tmp, out=tmp)
            tmp += cfg["epsilon"]
        else:
            np.add(velocity, cfg["epsilon"], out=tmp)
        np.sqrt(tmp, out=tmp)
        np.multiply(g, lr, out=step)
        step /= tmp
        if cfg["momentum"] > 0:
            momentum = slots["momentum"]
            momentum *= cfg["momentum"]
            momentum += step
            w -= momentum
        else:
            w -= step


class Adagrad(Optimizer):
    """Keras 3 Adagrad: ``acc += g²; w -= lr*g / sqrt(acc + epsilon)``."""

    class_name = "Adagrad"

    def _slot_names(self) -> tuple[str, ...]:
        return ("accumulator",)

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        accumulator = self._slots_for(key, w)["accumulator"]
        tmp, step = self._buffers(w)
        np.multiply(g, g, out=tmp)
        accumulator += tmp
        np.add(accumulator, self.config["epsilon"], out=tmp)
        np.sqrt(tmp, out=tmp)
        np.multiply(g, lr, out=step)
        step /= tmp
        w -= step


class Adadelta(Optimizer):
    """Keras 3 Adadelta: running means of g² and of the squared updates, whose ratio scales
    the step; ``w += lr·Δ`` with ``Δ = -√(E[Δ²] + ε)·g / √(E[g²] + ε)``."""

    class_name = "Adadelta"

    def _slot_names(self) -> tuple[str, ...]:
        return ("accumulated_grad", "accumulated_delta_var")

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        rho, eps = cfg["rho"], cfg["epsilon"]
        slots = self._slots_for(key, w)
        acc_g, acc_d = slots["accumulated_grad"], slots["accumulated_delta_var"]
        tmp, delta = self._buffers(w)
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        acc_g *= rho
        acc_g += tmp
        np.add(acc_d, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta *= g
        np.add(acc_g, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        delta /= tmp
        np.negative(delta, out=delta)
        np.multiply(delta, delta, out=tmp)
        tmp *= 1 - rho
        acc_d *= rho
        acc_d += tmp
        delta *= w.dtype.type(lr)
        w += delta


class Lion(Optimizer):
    """Keras 3 Lion: ``w -= lr·sign(β₁m + (1 - β₁)g)``, then ``m = β₂m + (1 - β₂)g``."""

    class_name = "Lion"

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum",)

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        dt = w.dtype.type
        beta_1, beta_2 = dt(cfg["beta_1"]), dt(cfg["beta_2"])
        m = self._slots_for(key, w)["momentum"]
        tmp, step = self._buffers(w)
        np.multiply(m, beta_1, out=step)
        np.multiply(g, dt(1.0) - beta_1, out=tmp)
        step += tmp
        np.sign(step, out=step)
        step *= dt(lr)
        w -= step
        m *= beta_2
        np.multiply(g, dt(1.0) - beta_2, out=tmp)
        m += tmp


class Ftrl(Optimizer):
    """Keras 3 Ftrl ("follow the regularized leader"): the accumulator of g² and the linear
    term give the weight in closed form, with L1, L2 and L2-shrinkage strengths."""

    class_name = "Ftrl"

    def _slot_names(self) -> tuple[str, ...]:
        return ("accumulator", "linear")

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        cfg = self.config
        dt = w.dtype.type
        lr_t = dt(lr)
        power = -cfg["learning_rate_power"]
        l1 = cfg["l1_regularization_strength"]
        l2 = dt(cfg["l2_regularization_strength"]) + dt(cfg["beta"]) / (dt(2.0) * lr_t)
        slots = self._slots_for(key, w)
        accum, linear = slots["accumulator"], slots["linear"]
        new_accum = accum + g * g
        new_power = np.power(new_accum, dt(power))
        grad_to_use = g + (2 * cfg["l2_shrinkage_regularization_strength"]) * w
        linear += grad_to_use - ((new_power - np.power(accum, dt(power))) / lr_t) * w
        quadratic = new_power / lr_t + 2 * l2
        clipped = np.clip(linear, -l1, l1)
        w[...] = (clipped - linear) / quadratic
        accum[...] = new_accum


class Perceptron(Optimizer):
    """The seed Perceptron's rule as a plain step ``w -= lr*g`` on the rule's pseudo-gradient.

    The model passes ``g = -(y - y_hat) * x`` (and ``-(y - y_hat)`` for the bias), which makes
    this step the rule ``w += lr * (y - y_hat) * x``.
    """

    class_name = PERCEPTRON

    def _update(self, key: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        step, _ = self._buffers(w)
        np.multiply(g, lr, out=step)
        w -= step


_CLASSES: dict[str, type[Optimizer]] = {
    cls.class_name: cls
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl, Perceptron)
}


def make_optimizer(class_name: str, config: dict[str, Any] | None = None) -> Optimizer:
    """Build an optimizer from a class name and config.

    Parameters
    ----------
    class_name : str
        One of :data:`OPTIMIZER_NAMES` (any case).
    config : dict, optional
        Settings; missing ones take Keras' defaults. The pair is validated by
        :func:`resolve_optimizer`, so its output can be passed straight in.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        As :func:`resolve_optimizer`.
    """
    cls, full = resolve_optimizer({"class_name": class_name, "config": dict(config or {})})
    return _CLASSES[cls](full)
