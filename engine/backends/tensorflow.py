"""The TensorFlow backend: the project's network as a Keras 3 model, trained by compiled steps.

:class:`TensorFlowModel` has the NumPy backend's interface (see :mod:`engine.backends.base`) so
that :class:`engine.training.Trainer` drives either. The network is built with Keras' own layer,
activation, loss and optimizer classes (a project's config keys are already Keras'), under the
project's layer names. Initial weights come from the NumPy engine's initializers, so that the
same seed gives the same starting point on both backends.

The fast path runs several training steps per call inside one ``tf.function`` (a while loop over
a stacked block of batches): forward, loss, gradients, a finiteness check and the optimizer
update all stay in the graph, and the per-step loss and metrics come back as one small array.
A non-finite loss or gradient skips that step's update; an update that makes a weight
non-finite is undone from an in-graph copy. Either way the call stops there and
:class:`~engine.errors.NonFiniteError` names the step and the layer, with the last finite
weights kept. Gradients for the live views (:meth:`TensorFlowModel.layer_gradients`) and the
per-layer comparison with the NumPy engine (:meth:`TensorFlowModel.trace_compare`) run only
when asked for.

TensorFlow is imported lazily, on first use, never when this module is imported: the rest of
the engine keeps working without it, and :func:`tensorflow_available` says why it cannot be
used in one sentence. A GPU is used when TensorFlow sees one; otherwise the CPU.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.backends.base import StepResult, given_weight
from engine.errors import (
    BackendUnavailableError,
    DataError,
    NonFiniteError,
    Problem,
    ValidationError,
)
from engine.graph import INPUT, Graph
from engine.layers import KerasContext
from engine.layers.base import layer_seed

INSTALL_HINT = "Install with: pip install tensorflow"

#: What a front-end says when training moves to another backend with the weights only. (To
#: carry the optimizer state as well, use get_optimizer_state / set_optimizer_state.)
SWITCH_NOTE = (
    "the weights were carried over; the optimizer state (momentum, Adam's moments, "
    "accumulators) restarts from zero"
)

# Keras' slot variables per optimizer, by the slot names both engines use (Keras' own).
_SLOT_ATTRIBUTES = {
    "SGD": {"momentum": "momentums"},
    "Adam": {"momentum": "_momentums", "velocity": "_velocities", "velocity_hat": "_velocity_hats"},
    "RMSprop": {
        "velocity": "_velocities",
        "momentum": "_momentums",
        "average_gradient": "_average_gradients",
    },
    "Adagrad": {"accumulator": "_accumulators"},
}

_import_lock = threading.Lock()
# (tf, keras) once imported, or the BackendUnavailableError that importing raised.
_imported: tuple[Any, Any] | BackendUnavailableError | None = None
# keras.config.set_floatx is global: building a float64 optimizer flips it briefly, under a lock.
_floatx_lock = threading.Lock()

_STATUS_OK, _STATUS_LOSS, _STATUS_GRAD, _STATUS_WEIGHTS = 0, 1, 2, 3
_MAX_STEPS_PER_CALL = 32
# Target wall time of one compiled call: short enough that pause/stop answer quickly.
_TARGET_CALL_SECONDS = 0.05


def _steps_for(steps: float) -> int:
    """A power of two in 1..32 (few distinct block shapes, so few traces)."""
    want = max(1, min(_MAX_STEPS_PER_CALL, int(steps)))
    return 1 << (want.bit_length() - 1)


def initial_steps_per_call(graph: Graph) -> int:
    """A first guess of :attr:`TensorFlowModel.steps_per_call` from the network's FLOPs: a
    training step costs about 3 forward passes; assume a batch of 32 at 10 GFLOP/s."""
    return _steps_for(_TARGET_CALL_SECONDS * 1e10 / max(1, 3 * 32 * graph.total_flops))


# --------------------------------------------------------------------------------- import
def tensorflow_installed() -> bool:
    """Whether a ``tensorflow`` package can be found, without importing it (cheap)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence TensorFlow's C++ start-up lines (written to fd 2 before its logging starts).

    Only when ``TF_CPP_MIN_LOG_LEVEL`` asks for quiet (>= 2, our default): a user who lowered it
    wants those lines.
    """
    try:
        quiet = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")) >= 2
    except ValueError:
        quiet = True
    if not quiet:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow() -> tuple[Any, Any]:
    """Import TensorFlow and Keras (once per process) and return ``(tf, keras)``.

    Sets ``KERAS_BACKEND=tensorflow`` and, unless the user chose otherwise,
    ``TF_CPP_MIN_LOG_LEVEL=2`` before importing. GPUs TensorFlow sees get memory growth, so that
    a small model does not reserve the whole card.

    Raises
    ------
    BackendUnavailableError
        When TensorFlow is not installed or fails to import (the message says which, why, and
        that the NumPy backend still works). The failure is remembered: a half-imported
        TensorFlow is not retried.
    """
    global _imported
    with _import_lock:
        if _imported is None:
            _imported = _do_import()
        if isinstance(_imported, BackendUnavailableError):
            raise BackendUnavailableError(_imported.message)
        return _imported


def _unavailable(kind: str, reason: str) -> BackendUnavailableError:
    reason = " ".join(str(reason).split()) or "unknown error"
    return BackendUnavailableError(
        f"TensorFlow {kind}: {reason}; the NumPy backend still works. {INSTALL_HINT}"
    )


def _do_import() -> tuple[Any, Any] | BackendUnavailableError:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with _quiet_native_stderr():
            import tensorflow as tf

            for gpu in tf.config.list_physical_devices("GPU"):
                with contextlib.suppress(RuntimeError, ValueError):
                    tf.config.experimental.set_memory_growth(gpu, True)
            import keras
    except ModuleNotFoundError as exc:
        if exc.name in ("tensorflow", "keras") and "halted" not in str(exc):
            return _unavailable("is not installed", f"no module named '{exc.name}'")
        return _unavailable("failed to import", f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # noqa: BLE001 - a broken install can raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _unavailable("failed to import", f"{type(exc).__name__}: {exc}")
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return _unavailable(
            "cannot be used",
            f"Keras runs on its {backend!r} backend in this process "
            f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}); set KERAS_BACKEND=tensorflow "
            "before starting NN Designer",
        )
    return tf, keras


def tensorflow_available() -> tuple[bool, str]:
    """Whether the TensorFlow backend can be used, and a sentence saying so.

    Imports TensorFlow on the first call (seconds); later calls are instant.

    Returns
    -------
    (bool, str)
        ``(True, "TensorFlow 2.x (Keras 3.x) on CPU")`` or ``(False, message)`` where the
        message is the one :class:`~engine.errors.BackendUnavailableError` carries.
    """
    try:
        tf, keras = import_tensorflow()
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, f"TensorFlow {tf.__version__} (Keras {keras.__version__}) on {device_name()}"


def device_name() -> str:
    """``"GPU (name)"`` when TensorFlow sees a GPU, else ``"CPU"``."""
    tf, _ = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    except (RuntimeError, ValueError, AttributeError):
        return f"GPU ({gpus[0].name})"


# --------------------------------------------------------------------------------- refusals
def unsupported_problems(graph: Graph, optimizer: str | dict) -> list[Problem]:
    """What in a project only the NumPy backend can run (the Perceptron rule, ``sign``).

    Cheap: does not import TensorFlow, so a validator or a backend menu can call it.
    """
    from engine.backends.numpy.optimizers import resolve_optimizer

    problems: list[Problem] = []
    try:
        opt_class = resolve_optimizer(optimizer)[0]
    except (ValueError, TypeError):
        opt_class = None
    if opt_class == "Perceptron":
        problems.append(
            Problem(
                "the Perceptron optimizer is NumPy-only (it is the seed's learning rule, not a "
                "Keras optimizer); choose the NumPy backend for this project",
                field="compile.optimizer",
            )
        )
    for node in graph.nodes:
        if node.activation == "sign":
            problems.append(
                Problem(
                    "activation 'sign' is NumPy-only (it is not a Keras activation and has no "
                    "gradient); choose the NumPy backend for this project",
                    layer=node.name,
                    field="activation",
                )
            )
    return problems


# --------------------------------------------------------------------------------- the model
def _kernel(plain, variant, slot: str, slots: list | None):
    """The raw training kernel an update calls as ``kernel(i, **args)`` for variable ``i``:
    ``plain(**args)`` without the optional slot list (AMSGrad's ``vhat``, centered RMSprop's
    ``mg``), ``variant(slot=slots[i].handle, **args)`` with it."""
    if slots is None:
        return lambda i, **args: plain(**args)
    return lambda i, **args: variant(**{slot: slots[i].handle}, **args)


class TensorFlowModel:
    """A network built from a validated :class:`~engine.graph.Graph` as a Keras 3 model.

    Parameters are those of :class:`~engine.backends.numpy.model.NumpyModel`:

    Parameters
    ----------
    graph : Graph
    loss : str
        Keras loss name.
    metrics : list of str
    optimizer : str or dict
        Keras optimizer spec (``"adam"`` or ``{"class_name": ..., "config": ...}``).
    dtype : {"float32", "float64"}
    seed : int
        Seeds the initial weights (drawn by the NumPy engine's initializers, so they equal
        NumpyModel's for the same seed) and the dropout masks (Keras' seeded dropout; its masks
        differ from the NumPy engine's, but repeat exactly for the same seed).

    Raises
    ------
    ValidationError
        For the Perceptron optimizer or the ``sign`` activation (NumPy-only).
    BackendUnavailableError
        When TensorFlow cannot be imported.

    Attributes
    ----------
    keras_model : keras.Model
        The functional Keras model; its layers carry the project's names.
    steps_per_call : int
        How many batches the trainer hands :meth:`train_steps` at once (a power of two up to
        32): first guessed from the network's FLOPs, then measured after each call so that one
        call takes about 50 ms, and pause and stop stay responsive.
    """

    name = "tensorflow"

    def __init__(
        self,
        graph: Graph,
        loss: str | None,
        metrics: list[str] | None = None,
        optimizer: str | dict = "rmsprop",
        dtype: str = "float32",
        seed: int = 0,
    ) -> None:
        problems = unsupported_problems(graph, optimizer)
        if problems:
            raise ValidationError(problems)
        from engine.backends.numpy.losses import canonical_loss, canonical_metric
        from engine.backends.numpy.optimizers import resolve_optimizer

        if loss is None:
            raise ValidationError([Problem("is required", field="compile.loss")])
        self.graph = graph
        self.loss = canonical_loss(loss)
        self.metrics = [canonical_metric(m) for m in (metrics or [])]
        self._metric_names = list(metrics or [])
        self.dtype = np.dtype(dtype)
        self.seed = int(seed)
        self.optimizer_class, self.optimizer_config = resolve_optimizer(optimizer)
        self.steps_per_call = initial_steps_per_call(graph)
        self._traced = False
        self._tf, self._keras = import_tensorflow()
        self._train_fns: dict[tuple, Any] = {}
        self._eval_fns: dict[tuple, Any] = {}
        self._predict_fn = None
        self._probe_keras = None
        self._build()
        self.initialize(self.seed)

    # ----------------------------------------------------------------- building
    def _build(self) -> None:
        keras = self._keras
        tf = self._tf
        dt = self.dtype.name
        inputs = keras.Input(shape=tuple(self.graph.input_shape), dtype=dt, name=INPUT)
        tensors = {INPUT: inputs}
        self._layers: dict[str, Any] = {}
        self._dropouts: list[tuple[Any, Any]] = []  # (node, keras layer)
        for node in self.graph.nodes:
            layer = self._make_layer(node)
            self._layers[node.name] = layer
            ins = [tensors[s] for s in node.inbound]
            tensors[node.name] = layer(ins if node.layer_type.merge else ins[0])
        self._symbolic = tensors
        self.keras_model = keras.Model(inputs, tensors[self.graph.output], name="nndesigner")
        # Trainable variables in a fixed order: (layer, weight name) per Dense weight.
        self._var_keys: list[tuple[str, str]] = []
        self._variables = []
        for node in self.graph.nodes:
            by_name = {v.name.rpartition("/")[2]: v for v in self._layers[node.name].weights}
            for weight in node.weights:
                if weight.trainable:
                    self._var_keys.append((node.name, weight.name))
                    self._variables.append(by_name[weight.name])
        # Last finite weights, for undoing an update that overflowed (see the module doc).
        self._backups = [
            tf.Variable(tf.zeros_like(v), trainable=False, name=f"backup_{i}")
            for i, v in enumerate(self._variables)
        ]
        self.optimizer = self._make_optimizer()
        self.optimizer.build(self._variables)
        if self.optimizer_class == "Adagrad":
            # Keras' Constant initializer passes the value through float32; a float64 model
            # starts from the exact initial_accumulator_value, as the NumPy engine does.
            value = float(self.optimizer_config["initial_accumulator_value"])
            for acc in getattr(self.optimizer, "_accumulators", []):
                acc.assign(np.full(acc.shape, value, dtype=self.dtype))
        self._opt_initial = [v.numpy().copy() for v in self.optimizer.variables]
        self._loss_obj = self._make_loss()
        self._rms_moms: list = []
        from engine.backends.numpy.model import FUSED

        self._fused_loss = (self.graph.output_node.activation, self.loss) in FUSED
        self._fused = self._fused_update()

    def _make_layer(self, node):
        ctx = KerasContext(self._keras, self.dtype.name, self._activation, self.seed)
        layer = node.layer_type.keras_layer(ctx, node)
        if node.layer_type.random_in_training and hasattr(layer, "seed_generator"):
            self._dropouts.append((node, layer))  # Keras makes a generator only for rate > 0
        return layer

    def _activation(self, name: str | None):
        """Keras' activation by name; in float64, two of them with float64 constants.

        TensorFlow rounds two constants to float32 even for float64 tensors: ``tf.nn.gelu``
        builds sqrt(1/2) with ``tf.cast`` of a Python float (which goes through float32), and
        ``tf.nn.leaky_relu`` takes its slope as a float32 attribute. Both then differ from the
        exact function by about 1e-8 relative. The float64 model computes the same formulas
        (Keras 3's defaults: exact erf GELU, slope 0.2) with float64 constants.
        """
        if self.dtype != np.float64 or name not in ("gelu", "leaky_relu"):
            return name
        tf = self._tf
        from engine.activations import LEAKY_RELU_NEGATIVE_SLOPE

        if name == "gelu":
            half_sqrt = tf.constant(0.7071067811865476, tf.float64)

            def gelu(x):
                return 0.5 * x * tf.math.erfc(-x * half_sqrt)

            return gelu
        slope = tf.constant(LEAKY_RELU_NEGATIVE_SLOPE, tf.float64)

        def leaky_relu(x):
            return tf.where(x > 0, x, x * slope)

        return leaky_relu

    def _make_optimizer(self):
        keras = self._keras
        classes = {
            "SGD": keras.optimizers.SGD,
            "Adam": keras.optimizers.Adam,
            "RMSprop": keras.optimizers.RMSprop,
            "Adagrad": keras.optimizers.Adagrad,
        }
        config = {k: v for k, v in self.optimizer_config.items() if k != "name"}
        if self.optimizer_config.get("name"):
            config["name"] = self.optimizer_config["name"]
        config["learning_rate"] = float(config["learning_rate"])
        # Keras keeps the learning rate in a floatx variable; a float64 model gets a float64
        # one, so its updates use the same learning rate as the NumPy engine's float64 math.
        with _floatx_lock:
            previous = keras.config.floatx()
            keras.config.set_floatx(self.dtype.name)
            try:
                return classes[self.optimizer_class](**config)
            finally:
                keras.config.set_floatx(previous)

    def _make_loss(self):
        keras = self._keras
        classes = {
            "mean_squared_error": keras.losses.MeanSquaredError,
            "mean_absolute_error": keras.losses.MeanAbsoluteError,
            "binary_crossentropy": keras.losses.BinaryCrossentropy,
            "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
            "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
            "hinge": keras.losses.Hinge,
        }
        # dtype: the loss computes in the model's dtype (Keras' default is floatx, float32).
        return classes[self.loss](dtype=self.dtype.name)

    def _loss_value(self, y, out):
        """The batch loss as the NumPy engine defines it.

        Keras' TensorFlow backend computes a crossentropy from the logits stored on any
        softmax or sigmoid output (``_keras_logits``), whichever activation made it: a
        sigmoid output with categorical crossentropy is scored as if it were a softmax. The
        NumPy engine takes the logits only for the matching pairs (softmax with categorical or
        sparse categorical crossentropy, sigmoid with binary crossentropy) and scores every
        other output in probability space, clipped; so that both backends compute the same
        loss, the other outputs reach Keras' loss through ``tf.identity``, which drops the
        stored logits.
        """
        if not self._fused_loss:
            out = self._tf.identity(out)
        return self._tf.cast(self._loss_obj(y, out), self._tf.as_dtype(self.dtype.name))

    def _metric_tensors(self, y, out) -> list:
        """Each metric on a batch, in the graph, resolved like NumpyModel.metric_values."""
        tf = self._tf
        vals = []
        width = out.shape[-1]
        for m in self.metrics:
            if m == "accuracy":
                if width == 1:
                    yt = tf.reshape(tf.cast(y, out.dtype), tf.shape(out))
                    hit = tf.equal(tf.cast(out > 0.5, out.dtype), yt)
                elif y.shape.rank < out.shape.rank or (y.shape[-1] == 1 and width > 1):
                    yt = y if y.shape.rank < out.shape.rank else y[..., 0]
                    hit = tf.equal(tf.argmax(out, axis=-1), tf.cast(yt, tf.int64))
                else:
                    hit = tf.equal(tf.argmax(out, axis=-1), tf.argmax(y, axis=-1))
                vals.append(tf.reduce_mean(tf.cast(hit, out.dtype)))
            else:
                yt = tf.cast(y, out.dtype)
                if yt.shape.rank == out.shape.rank - 1:
                    yt = yt[..., None]
                diff = yt - out
                per = diff * diff if m == "mean_squared_error" else tf.abs(diff)
                vals.append(tf.reduce_mean(tf.reduce_mean(per, axis=-1)))
        return vals

    # ----------------------------------------------------------------- weights
    def initialize(self, seed: int | None = None) -> None:
        """(Re-)initialise the weights as NumpyModel does for ``seed``, reset the optimizer
        (slots, step count, learning rate) and the dropout streams."""
        from engine.backends.numpy.model import NumpyModel

        seed = self.seed if seed is None else int(seed)
        ref = NumpyModel(self.graph, self.loss, [], "sgd", self.dtype.name, seed)
        self.set_weights(ref.get_weights())
        for v, init in zip(self.optimizer.variables, self._opt_initial, strict=True):
            v.assign(init)
        for m in self._rms_moms:
            m.assign(np.zeros(m.shape, dtype=self.dtype))
        for node, layer in self._dropouts:
            state = layer.seed_generator.state
            state.assign(np.array([layer_seed(node, seed), 0], dtype=state.dtype))

    def get_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """Copies, as ``{layer: {"kernel": (in, out), "bias": (out,)}}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for (layer, wname), v in zip(self._var_keys, self._variables, strict=True):
            out.setdefault(layer, {})[wname] = np.array(v.numpy(), copy=True)
        return out

    def set_weights(self, weights: dict[str, dict[str, np.ndarray]]) -> None:
        """Copy weights in (shapes are checked; values cast to the model's dtype)."""
        new_values = [
            given_weight(weights, layer, wname, tuple(v.shape), np.dtype(self.dtype))
            for (layer, wname), v in zip(self._var_keys, self._variables, strict=True)
        ]
        for v, new in zip(self._variables, new_values, strict=True):
            v.assign(new)

    def flat_weights(self) -> dict[str, np.ndarray]:
        """Copies keyed ``"<layer>/kernel"``, ``"<layer>/bias"``."""
        return {
            f"{layer}/{wname}": np.array(v.numpy(), copy=True)
            for (layer, wname), v in zip(self._var_keys, self._variables, strict=True)
        }

    def set_flat_weights(self, flat: dict[str, np.ndarray]) -> None:
        nested: dict[str, dict[str, np.ndarray]] = {}
        for key, arr in flat.items():
            layer, _, w = key.rpartition("/")
            nested.setdefault(layer, {})[w] = arr
        self.set_weights(nested)

    # ----------------------------------------------------------------- optimizer state
    def _slot_variables(self) -> dict[str, list]:
        """``{slot name: [Keras variable per weight]}`` for the slots this optimizer keeps."""
        out = {}
        for slot, attr in _SLOT_ATTRIBUTES[self.optimizer_class].items():
            variables = getattr(self.optimizer, attr, None) or []
            if len(variables) == len(self._variables):
                out[slot] = list(variables)
        return out

    def get_optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state in the NumPy engine's form (``Optimizer.get_state``).

        Returns
        -------
        dict
            ``{"iterations": int, "learning_rate": float, "slots": {"dense/kernel":
            {"momentum": ndarray, ...}}}``, slot names as in Keras (``momentum``,
            ``velocity``, ``velocity_hat``, ``average_gradient``, ``accumulator``).
        """
        slots: dict[str, dict[str, np.ndarray]] = {}
        for slot, variables in self._slot_variables().items():
            for (layer, wname), var in zip(self._var_keys, variables, strict=True):
                slots.setdefault(f"{layer}/{wname}", {})[slot] = np.array(var.numpy(), copy=True)
        return {
            "iterations": int(self.optimizer.iterations.numpy()),
            "learning_rate": self.learning_rate,
            "slots": slots,
        }

    def set_optimizer_state(self, state: dict[str, Any]) -> None:
        """Take over an optimizer state, e.g. the NumPy engine's ``optimizer.get_state()``
        when training moves between backends: Adam's moments, momentum and accumulators
        continue instead of restarting. Slots the state lacks start from their initial value.

        Raises
        ------
        DataError
            When a slot has the wrong shape.
        """
        given = state.get("slots") or {}
        initial = (
            float(self.optimizer_config["initial_accumulator_value"])
            if self.optimizer_class == "Adagrad"
            else 0.0
        )
        updates = []
        for slot, variables in self._slot_variables().items():
            for (layer, wname), var in zip(self._var_keys, variables, strict=True):
                value = given.get(f"{layer}/{wname}", {}).get(slot)
                if value is None:
                    value = np.full(var.shape, initial if slot == "accumulator" else 0.0)
                value = np.asarray(value)
                if value.shape != tuple(var.shape):
                    raise DataError(
                        f"optimizer slot '{slot}' of layer '{layer}' {wname}: expected shape "
                        f"{tuple(var.shape)}, got {value.shape}"
                    )
                updates.append((var, value.astype(self.dtype, copy=False)))
        for var, value in updates:
            var.assign(value)
        self.optimizer.iterations.assign(int(state.get("iterations", 0)))
        if state.get("learning_rate") is not None:
            self.learning_rate = float(state["learning_rate"])

    @property
    def learning_rate(self) -> float:
        return float(self.optimizer.learning_rate.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        # Assigned into the optimizer's variable: the compiled steps read it every step.
        self.optimizer.learning_rate = float(value)

    # ----------------------------------------------------------------- compiled functions
    def _x_spec(self, x: np.ndarray, lead: int):
        tf = self._tf
        return tf.TensorSpec([None] * lead + list(x.shape[lead:]), tf.as_dtype(self.dtype.name))

    def _y_spec(self, y: np.ndarray, lead: int):
        tf = self._tf
        return tf.TensorSpec([None] * lead + list(y.shape[lead:]), tf.as_dtype(y.dtype.name))

    def _train_fn(self, xs: np.ndarray, ys: np.ndarray):
        key = (ys.dtype.str, ys.shape[2:])
        fn = self._train_fns.get(key)
        if fn is None:
            fn = self._make_train_fn(self._x_spec(xs, 2), self._y_spec(ys, 2))
            self._train_fns[key] = fn
            self._traced = True  # its first call traces it: that call's time says little
        return fn

    def _fused_update(self):
        """A function ``(grads) -> None`` applying Keras' update with TensorFlow's fused
        training kernels, or None where no kernel computes Keras' formula.

        One kernel per weight replaces a dozen element-wise ops: for the seed MLP a training
        step takes half the time. The kernels exist for SGD (momentum, Nesterov), Adam
        (AMSGrad) and RMSprop (centered, momentum); they update the Keras optimizer's own slot
        variables and step counter, so both paths see one optimizer state. Gradient clipping
        runs before them (:meth:`_clip_fn`, Keras' rules). Adagrad runs Keras'
        ``optimizer.apply``: TensorFlow's kernel adds epsilon outside the square root, Keras
        inside.

        Rounding: the kernels form ``1 - beta_1``, ``1 - beta_2`` and ``1 - rho`` in the
        weights' dtype, where Keras forms them in Python (float64) first. In float64 nothing
        changes; in float32, ``1 - 0.999`` becomes 0.99998713e-3 instead of 1e-3, which makes
        an Adam step up to 6.4e-6 larger, relatively (the parity tolerance is 1e-5). Keras'
        own path has the opposite float32 habit in float64 models: ``ops.cast`` of a Python
        float goes through float32, so Keras' Adam raises 0.9f, not 0.9, to the step count;
        the kernels here get exact float64 constants.
        """
        tf = self._tf
        opt = self.optimizer
        cfg = self.optimizer_config
        variables = self._variables
        dtype = tf.as_dtype(self.dtype.name)
        raw = tf.raw_ops
        try:
            if self.optimizer_class == "SGD" and cfg["momentum"] == 0:

                def update(grads, lr):
                    for v, g in zip(variables, grads, strict=True):
                        raw.ResourceApplyGradientDescent(var=v.handle, alpha=lr, delta=g)

            elif self.optimizer_class == "SGD":
                slots = list(opt.momentums)
                momentum = tf.constant(cfg["momentum"], dtype)

                def update(grads, lr):
                    for v, m, g in zip(variables, slots, grads, strict=True):
                        raw.ResourceApplyKerasMomentum(
                            var=v.handle,
                            accum=m.handle,
                            lr=lr,
                            grad=g,
                            momentum=momentum,
                            use_nesterov=bool(cfg["nesterov"]),
                        )

            elif self.optimizer_class == "Adam":
                ms, vs = list(opt._momentums), list(opt._velocities)
                hats = list(opt._velocity_hats) if cfg["amsgrad"] else None
                beta_1 = tf.constant(cfg["beta_1"], dtype)
                beta_2 = tf.constant(cfg["beta_2"], dtype)
                eps = tf.constant(cfg["epsilon"], dtype)

                adam = _kernel(
                    raw.ResourceApplyAdam, raw.ResourceApplyAdamWithAmsgrad, "vhat", hats
                )

                def update(grads, lr):
                    t = tf.cast(opt.iterations + 1, dtype)
                    b1p, b2p = tf.pow(beta_1, t), tf.pow(beta_2, t)
                    for i, (v, g) in enumerate(zip(variables, grads, strict=True)):
                        adam(
                            i,
                            var=v.handle,
                            m=ms[i].handle,
                            v=vs[i].handle,
                            beta1_power=b1p,
                            beta2_power=b2p,
                            lr=lr,
                            beta1=beta_1,
                            beta2=beta_2,
                            epsilon=eps,
                            grad=g,
                        )

            elif self.optimizer_class == "RMSprop":
                velocities = list(opt._velocities)
                if cfg["momentum"] > 0:
                    moms = list(opt._momentums)
                else:
                    # The kernels always keep a momentum slot; with momentum 0 it holds the
                    # last increment, which 0 * slot + increment discards again.
                    self._rms_moms = [
                        tf.Variable(tf.zeros_like(v), trainable=False) for v in variables
                    ]
                    moms = self._rms_moms
                avgs = list(opt._average_gradients) if cfg["centered"] else None
                rho = tf.constant(cfg["rho"], dtype)
                momentum = tf.constant(cfg["momentum"], dtype)
                eps = tf.constant(cfg["epsilon"], dtype)

                rmsprop = _kernel(
                    raw.ResourceApplyRMSProp, raw.ResourceApplyCenteredRMSProp, "mg", avgs
                )

                def update(grads, lr):
                    for i, (v, g) in enumerate(zip(variables, grads, strict=True)):
                        rmsprop(
                            i,
                            var=v.handle,
                            ms=velocities[i].handle,
                            mom=moms[i].handle,
                            lr=lr,
                            rho=rho,
                            momentum=momentum,
                            epsilon=eps,
                            grad=g,
                        )

            else:
                return None
        except AttributeError:  # a Keras version that names its slots differently
            return None

        clip = self._clip_fn()

        def apply(grads):
            lr = tf.cast(opt.learning_rate, dtype)
            update(clip([tf.cast(g, dtype) for g in grads]), lr)
            opt.iterations.assign_add(1)

        return apply

    def _clip_fn(self):
        """Keras' ``_clip_gradients`` (clipnorm, global_clipnorm, clipvalue) with its
        constants in the model's dtype (Keras would round them through float32 in a float64
        model)."""
        tf = self._tf
        cfg = self.optimizer_config
        dtype = tf.as_dtype(self.dtype.name)
        if cfg.get("clipnorm"):
            c = tf.constant(cfg["clipnorm"], dtype)

            def clip_each(grads):
                out = []
                for g in grads:
                    l2sum = tf.reduce_sum(tf.square(g))
                    pred = l2sum > 0
                    l2norm = tf.where(
                        pred, tf.sqrt(tf.where(pred, l2sum, tf.ones_like(l2sum))), l2sum
                    )
                    out.append(g * c / tf.maximum(l2norm, c))
                return out

            return clip_each
        if cfg.get("global_clipnorm"):
            c = tf.constant(cfg["global_clipnorm"], dtype)
            one = tf.constant(1, dtype)

            def clip_global(grads):
                if not grads:
                    return grads
                norm = tf.sqrt(
                    tf.reduce_sum(tf.stack([tf.reduce_sum(tf.square(g)) for g in grads]))
                )
                # (norm - norm) makes the scale NaN when the norm is not finite, as in Keras.
                scale = c * tf.minimum(one / norm, one / c) + (norm - norm)
                return [g * scale for g in grads]

            return clip_global
        if cfg.get("clipvalue"):
            v = tf.constant(cfg["clipvalue"], dtype)
            return lambda grads: [tf.clip_by_value(g, -v, v) for g in grads]
        return lambda grads: grads

    def _apply_update(self, grads) -> None:
        """One optimizer step from ``grads`` (in a compiled function or eagerly)."""
        if self._fused is None:
            self.optimizer.apply(grads, self._variables)
        else:
            self._fused(grads)

    def _make_train_fn(self, x_spec, y_spec):
        tf = self._tf
        model = self.keras_model
        variables = self._variables
        backups = self._backups
        n_vars = len(variables)
        n_metrics = len(self.metrics)
        dtype = tf.as_dtype(self.dtype.name)
        no_flags = tf.zeros([n_vars], tf.bool)

        def quick_finite(loss, tensors):
            # One reduction per tensor: NaN/inf propagate into the sum. A huge but finite sum
            # can overflow too; that rare false alarm is settled by the exact check.
            if not tensors:
                return tf.math.is_finite(loss)
            return tf.math.is_finite(
                loss + tf.cast(tf.add_n([tf.reduce_sum(t) for t in tensors]), loss.dtype) * 0
            )

        def finite_flags(tensors):
            if not tensors:
                return no_flags
            return tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])

        def guarded_update(grads):
            for b, v in zip(backups, variables, strict=True):
                b.assign(v)
            self._apply_update(grads)

            def exact():
                flags = finite_flags(variables)

                def restore():
                    for b, v in zip(backups, variables, strict=True):
                        v.assign(b)
                    return tf.constant(_STATUS_WEIGHTS)

                st = tf.cond(tf.reduce_all(flags), lambda: tf.constant(_STATUS_OK), restore)
                return st, tf.logical_not(flags)

            zero = tf.zeros([], dtype)
            return tf.cond(
                quick_finite(zero, variables),
                lambda: (tf.constant(_STATUS_OK), no_flags),
                exact,
            )

        def run(xs, ys):
            k = tf.shape(xs)[0]
            losses = tf.TensorArray(dtype, size=k, element_shape=[])
            metrics = tf.TensorArray(dtype, size=k, element_shape=[n_metrics])

            def cond(i, status, bad, losses, metrics):
                return tf.logical_and(i < k, tf.equal(status, _STATUS_OK))

            def body(i, status, bad, losses, metrics):
                x, y = xs[i], ys[i]
                with tf.GradientTape() as tape:
                    out = model(x, training=True)
                    loss = self._loss_value(y, out)
                grads = tape.gradient(loss, variables)
                mets = self._metric_tensors(y, out)

                def exact_check():
                    flags = finite_flags(grads)
                    ok = tf.logical_and(tf.math.is_finite(loss), tf.reduce_all(flags))
                    return ok

                ok = tf.cond(quick_finite(loss, grads), lambda: tf.constant(True), exact_check)

                def skip():
                    st = tf.where(tf.math.is_finite(loss), _STATUS_GRAD, _STATUS_LOSS)
                    return st, tf.logical_not(finite_flags(grads))

                status, bad = tf.cond(ok, lambda: guarded_update(grads), skip)
                losses = losses.write(i, loss)
                metrics = metrics.write(i, tf.stack(mets) if mets else tf.zeros([0], dtype))
                return i + 1, status, bad, losses, metrics

            i, status, bad, losses, metrics = tf.while_loop(
                cond,
                body,
                (tf.constant(0), tf.constant(_STATUS_OK), no_flags, losses, metrics),
                parallel_iterations=1,
            )
            return i, status, bad, losses.stack(), metrics.stack()

        # XLA (jit_compile) was measured slower on CPU for these small dense nets.
        return tf.function(run, input_signature=[x_spec, y_spec])

    # ----------------------------------------------------------------- training
    def _cast_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def train_step(self, x: np.ndarray, y: np.ndarray, epoch: int = 0, step: int = 0) -> StepResult:
        """One optimizer step on a batch (see :meth:`train_steps`)."""
        return self.train_steps([x], [y], epoch=epoch, first_step=step)[0]

    def train_steps(
        self, xs: list[np.ndarray], ys: list[np.ndarray], epoch: int = 0, first_step: int = 1
    ) -> list[StepResult]:
        """Several optimizer steps, one per batch, in as few compiled calls as the batch sizes
        allow (consecutive batches of one size run in one call).

        Returns
        -------
        list of StepResult
            Per batch: the loss before its update and the metrics on the same output
            (``y_pred`` is None: nothing is copied back but these numbers).

        Raises
        ------
        NonFiniteError
            At the first batch whose loss, gradient or updated weights are not finite. The
            weights are those after the previous batch (the last finite ones).
        """
        results: list[StepResult] = []
        self._traced = False
        t0 = time.perf_counter()
        start = 0
        while start < len(xs):
            end = start + 1
            while end < len(xs) and len(xs[end]) == len(xs[start]):
                end += 1
            results.extend(self._run_block(xs[start:end], ys[start:end], epoch, first_step + start))
            start = end
        self._adapt_steps_per_call(len(xs), time.perf_counter() - t0)
        return results

    def _adapt_steps_per_call(self, steps: int, seconds: float) -> None:
        if self._traced or steps < self.steps_per_call or seconds <= 0:
            return  # tracing, or the short tail of an epoch: says little about the speed
        self.steps_per_call = _steps_for(_TARGET_CALL_SECONDS * steps / seconds)

    def _run_block(
        self, xs: list[np.ndarray], ys: list[np.ndarray], epoch: int, first_step: int
    ) -> list[StepResult]:
        x_block = np.stack([self._cast_x(x) for x in xs])
        y_block = np.stack([np.asarray(y) for y in ys])
        fn = self._train_fn(x_block, y_block)
        done, status, bad, losses, metrics = fn(x_block, y_block)
        status = int(status)
        losses = losses.numpy()
        metrics = metrics.numpy()
        n_ok = int(done) - (status != _STATUS_OK)
        results = [
            StepResult(
                float(losses[j]),
                None,
                {name: float(metrics[j, m]) for m, name in enumerate(self._metric_names)},
            )
            for j in range(n_ok)
        ]
        if status != _STATUS_OK:
            step = first_step + n_ok
            bad = bad.numpy()
            if status == _STATUS_LOSS:
                layer = self._first_nonfinite_forward(x_block[n_ok])
                raise NonFiniteError(epoch, step, layer, "the loss")
            if status == _STATUS_GRAD:
                raise NonFiniteError(epoch, step, self._first_flagged(bad, True), "the gradient")
            raise NonFiniteError(epoch, step, self._first_flagged(bad, False), "the weights")
        return results

    def _first_flagged(self, bad: np.ndarray, backward: bool) -> str | None:
        flagged = {self._var_keys[i][0] for i in np.flatnonzero(bad)}
        nodes = reversed(self.graph.nodes) if backward else self.graph.nodes
        for node in nodes:
            if node.name in flagged:
                return node.name
        return None

    def _first_nonfinite_forward(self, x: np.ndarray) -> str | None:
        outs = self.layer_outputs(x, training=False)
        for node in self.graph.nodes:
            if not np.isfinite(outs[node.name]).all():
                return node.name
        return None

    # ----------------------------------------------------------------- inference
    def _forward_fn(self):
        if self._predict_fn is None:
            tf = self._tf
            model = self.keras_model
            spec = tf.TensorSpec([None, *self.graph.input_shape], tf.as_dtype(self.dtype.name))
            self._predict_fn = tf.function(
                lambda x: model(x, training=False), input_signature=[spec]
            )
        return self._predict_fn

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Inference (dropout off) in batches; ``x`` of shape (n, *input_shape)."""
        x = self._cast_x(x)
        fn = self._forward_fn()
        parts = [fn(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0, *self.graph.output_shape), dtype=self.dtype)
        return np.concatenate(parts)

    def _eval_fn(self, y: np.ndarray):
        key = (y.dtype.str, y.shape[1:])
        fn = self._eval_fns.get(key)
        if fn is None:
            tf = self._tf
            model = self.keras_model

            def run(x, y):
                out = model(x, training=False)
                vals = [self._loss_value(y, out), *self._metric_tensors(y, out)]
                return tf.stack(vals)

            fn = tf.function(
                run,
                input_signature=[
                    self._x_spec(np.empty((0, *self.graph.input_shape)), 1),
                    self._y_spec(y, 1),
                ],
            )
            self._eval_fns[key] = fn
        return fn

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics over a dataset (inference mode), averaged over samples like Keras."""
        n = len(x)
        if n == 0:
            return {}
        x = self._cast_x(x)
        y = np.asarray(y)
        fn = self._eval_fn(y)
        totals = np.zeros(1 + len(self.metrics))
        for i in range(0, n, batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            totals += fn(xb, yb).numpy().astype(np.float64) * len(xb)
        names = ["loss", *self._metric_names]
        return {k: float(v / n) for k, v in zip(names, totals, strict=True)}

    def metric_values(self, y: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        from engine.backends.numpy.losses import metric_value

        return {
            name: float(metric_value(m, self.loss, y, y_pred))
            for name, m in zip(self._metric_names, self.metrics, strict=True)
        }

    # ----------------------------------------------------------------- inspection
    def _probe_model(self):
        """A Keras model sharing the layers, returning every layer's output (for views)."""
        if self._probe_keras is None:
            keras = self._keras
            self._probe_keras = keras.Model(
                self._symbolic[INPUT], [self._symbolic[n.name] for n in self.graph.nodes]
            )
        return self._probe_keras

    def _probe(self, x, training: bool) -> list:
        outs = self._probe_model()(x, training=training)
        # Keras hands back a bare tensor when the model has a single output.
        return list(outs) if isinstance(outs, (list, tuple)) else [outs]

    def layer_outputs(self, x: np.ndarray, training: bool = False) -> dict[str, np.ndarray]:
        """Every layer's output on ``x`` in one call (for the activation views).

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape)
        training : bool, default False
            Dropout on or off. With it on, the dropout streams advance (as in a step).

        Returns
        -------
        dict of str to ndarray
            ``{layer: (n, *output_shape)}`` in graph order.
        """
        outs = self._probe(self._cast_x(x), training)
        return {n.name: np.asarray(o) for n, o in zip(self.graph.nodes, outs, strict=True)}


    def _dropout_states(self) -> list[np.ndarray]:
        return [layer.seed_generator.state.numpy() for _, layer in self._dropouts]

    def _set_dropout_states(self, states: list[np.ndarray]) -> None:
        for (_, layer), s in zip(self._dropouts, states, strict=True):
            layer.seed_generator.state.assign(s)

    def _loss_and_grads(self, x: np.ndarray, y: np.ndarray, training: bool):
        tf = self._tf
        saved = self._dropout_states()
        try:
            with tf.GradientTape() as tape:
                outs = self._probe(self._cast_x(x), training)
                out = outs[[n.name for n in self.graph.nodes].index(self.graph.output)]
                loss = self._loss_value(y, out)
            grads = tape.gradient(loss, self._variables)
        finally:
            # Views must not change what training does next: the dropout streams rewind.
            self._set_dropout_states(saved)
        return outs, loss, grads

    def layer_gradients(
        self, x: np.ndarray, y: np.ndarray, training: bool = True
    ) -> dict[str, dict[str, np.ndarray]]:
        """Weight gradients of the loss on one batch at the current weights, without updating.

        For the live views; computed only when called (throttle the calls). Dropout is active
        when ``training`` (as in a training step) but its random stream is rewound afterwards,
        so asking for gradients never changes the training run.

        Returns
        -------
        dict
            ``{layer: {"kernel": (in, out), "bias": (out,)}}`` for every layer with weights.
        """
        _, _, grads = self._loss_and_grads(x, y, training)
        out: dict[str, dict[str, np.ndarray]] = {}
        for (layer, wname), g in zip(self._var_keys, grads, strict=True):
            out.setdefault(layer, {})[wname] = np.asarray(g)
        return out

    def trace_compare(self, x: np.ndarray, y: np.ndarray, training: bool = False) -> dict:
        """Everything one training step computes, layer by layer, leaving the model unchanged.

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape)
        y : ndarray
            Targets as the loss expects them.
        training : bool, default False
            Dropout on (True) or off. Off is what a comparison with the NumPy engine needs:
            the two backends draw different dropout masks.

        Returns
        -------
        dict
            ``outputs``: ``{layer: ndarray (n, *output_shape)}``; ``loss``: float;
            ``grads``: ``{layer: {"kernel": ..., "bias": ...}}``; ``weights``: the weights
            before the step; ``updated``: the weights one optimizer step later (computed, then
            undone together with the optimizer's state and the dropout streams).
        """
        outs, loss, grads = self._loss_and_grads(x, y, training)
        before_w = [v.numpy().copy() for v in self._variables]
        before_opt = [v.numpy().copy() for v in self.optimizer.variables]
        try:
            self._apply_update(grads)
            after_w = [v.numpy().copy() for v in self._variables]
        finally:
            for v, a in zip(self._variables, before_w, strict=True):
                v.assign(a)
            for v, a in zip(self.optimizer.variables, before_opt, strict=True):
                v.assign(a)

        def nest(values) -> dict[str, dict[str, np.ndarray]]:
            d: dict[str, dict[str, np.ndarray]] = {}
            for (layer, wname), a in zip(self._var_keys, values, strict=True):
                d.setdefault(layer, {})[wname] = np.asarray(a)
            return d

        return {
            "outputs": {n.name: np.asarray(o) for n, o in zip(self.graph.nodes, outs, strict=True)},
            "loss": float(loss),
            "grads": nest(grads),
            "weights": nest(before_w),
            "updated": nest(after_w),
        }
