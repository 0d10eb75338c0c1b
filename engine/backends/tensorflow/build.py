"""Building the project's network in Keras: layers, model, optimizer, loss; and what cannot be.

Every layer is made by its layer type (``node.layer_type.keras_layer``) under the project's
layer name; the optimizers and losses are Keras' own classes with the project's (already Keras)
config. :func:`unsupported_problems` says what only the NumPy backend runs, without importing
TensorFlow. The functions that build take the imported ``tf``/``keras`` modules
(:func:`~engine.backends.tensorflow.runtime.import_tensorflow`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import Problem
from engine.graph import INPUT, Graph, Node
from engine.layers import KerasContext
from engine.optimizers import is_perceptron

__all__ = [
    "SCALAR_ATTRIBUTES",
    "SLOT_ATTRIBUTES",
    "Network",
    "build_network",
    "keras_activation",
    "make_loss",
    "make_optimizer",
    "unsupported_problems",
]

# Keras' slot variables per optimizer (the attributes that hold them), by the slot names both
# engines use (Keras' own, engine.optimizers.SLOTS); and its optimizer-wide scalars.
_ADAM_SLOTS = {
    "momentum": "_momentums",
    "velocity": "_velocities",
    "velocity_hat": "_velocity_hats",
}
SLOT_ATTRIBUTES = {
    "SGD": {"momentum": "momentums"},
    "Adam": _ADAM_SLOTS,
    "AdamW": _ADAM_SLOTS,
    "RMSprop": {
        "velocity": "_velocities",
        "momentum": "_momentums",
        "average_gradient": "_average_gradients",
    },
    "Adagrad": {"accumulator": "_accumulators"},
    "Adadelta": {
        "accumulated_grad": "_accumulated_grads",
        "accumulated_delta_var": "_accumulated_delta_vars",
    },
    "Adamax": {"momentum": "_m", "norm": "_u"},
    "Nadam": {"momentum": "_momentums", "velocity": "_velocities"},
    "Lion": {"momentum": "_momentums"},
    "Ftrl": {"accumulator": "_accumulators", "linear": "_linears"},
}
SCALAR_ATTRIBUTES = {"Nadam": {"u_product": "_u_product"}}

# keras.config.set_floatx is global: building a float64 optimizer flips it briefly, under a lock.
_floatx_lock = threading.Lock()


# --------------------------------------------------------------------------------- refusals
def unsupported_problems(graph: Graph, optimizer: str | dict) -> list[Problem]:
    """What in a project only the NumPy backend can run (the Perceptron rule, ``sign``).

    Cheap: does not import TensorFlow, so a validator or a backend menu can call it.
    """
    from engine.optimizers import resolve_optimizer

    problems: list[Problem] = []
    try:
        opt_class = resolve_optimizer(optimizer)[0]
    except (ValueError, TypeError):
        opt_class = None
    if is_perceptron(opt_class):
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


# --------------------------------------------------------------------------------- the network
@dataclass
class Network:
    """A graph built in Keras.

    Attributes
    ----------
    keras_model : keras.Model
        The functional model from the input to the graph's output.
    symbolic : dict of str to KerasTensor
        Every layer's symbolic output, and the input's under ``INPUT``.
    layers : dict of str to keras.layers.Layer
        By the project's layer name.
    seeded : list of (Node, keras.layers.Layer)
        The layers that draw random numbers in training and keep a seed generator.
    var_keys : list of (str, str)
        ``(layer, weight name)`` of every trainable weight, in a fixed order (graph order,
        then the layer type's weight order).
    variables : list of keras.Variable
        The trainable variables in the order of ``var_keys``.
    state_keys, states : list
        The same for the non-trainable weights (moving statistics), which Keras' layers
        update themselves in a training-mode call.
    all_keys, all_variables : list
        Every weight, trainable or not, in graph order then the layer type's weight order
        (what ``get_weights`` and ``set_weights`` cover).
    """

    keras_model: Any
    symbolic: dict[str, Any]
    layers: dict[str, Any]
    seeded: list[tuple[Node, Any]] = field(default_factory=list)
    var_keys: list[tuple[str, str]] = field(default_factory=list)
    variables: list[Any] = field(default_factory=list)
    state_keys: list[tuple[str, str]] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)
    all_keys: list[tuple[str, str]] = field(default_factory=list)
    all_variables: list[Any] = field(default_factory=list)


def build_network(keras, graph: Graph, dtype: str, seed: int, activation) -> Network:
    """The Keras model of ``graph``, each layer made by its layer type.

    Parameters
    ----------
    keras : module
    graph : Graph
        Validated.
    dtype : {"float32", "float64"}
    seed : int
        The project's seed (layers without a seed of their own derive theirs from it).
    activation : callable
        ``activation(name)``: the Keras activation to pass for an activation name (see
        :func:`keras_activation`).
    """
    inputs = keras.Input(shape=tuple(graph.input_shape), dtype=dtype, name=INPUT)
    tensors = {INPUT: inputs}
    layers: dict[str, Any] = {}
    seeded: list[tuple[Node, Any]] = []
    ctx = KerasContext(keras, dtype, activation, seed)
    for node in graph.nodes:
        layer = node.layer_type.keras_layer(ctx, node)
        if node.layer_type.random_in_training and hasattr(layer, "seed_generator"):
            seeded.append((node, layer))  # Keras makes a generator only for rate > 0
        layers[node.name] = layer
        ins = [tensors[s] for s in node.inbound]
        tensors[node.name] = layer(ins if node.layer_type.merge else ins[0])
    net = Network(
        keras.Model(inputs, tensors[graph.output], name="nndesigner"), tensors, layers, seeded
    )
    for node in graph.nodes:
        by_name = {v.name.rpartition("/")[2]: v for v in layers[node.name].weights}
        for weight in node.weights:
            key, var = (node.name, weight.name), by_name[weight.name]
            net.all_keys.append(key)
            net.all_variables.append(var)
            if weight.trainable:
                net.var_keys.append(key)
                net.variables.append(var)
            else:
                net.state_keys.append(key)
                net.states.append(var)
    return net


def keras_activation(tf, dtype: str, name: str | None):
    """Keras' activation by name; in float64, two of them with float64 constants.

    TensorFlow rounds two constants to float32 even for float64 tensors: ``tf.nn.gelu``
    builds sqrt(1/2) with ``tf.cast`` of a Python float (which goes through float32), and
    ``tf.nn.leaky_relu`` takes its slope as a float32 attribute. Both then differ from the
    exact function by about 1e-8 relative. The float64 model computes the same formulas
    (Keras 3's defaults: exact erf GELU, slope 0.2) with float64 constants.
    """
    if dtype != "float64" or name not in ("gelu", "leaky_relu"):
        return name
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


def make_optimizer(keras, optimizer_class: str, optimizer_config: dict, dtype: str):
    """Keras' optimizer ``optimizer_class`` with the resolved config, in the model's dtype."""
    config = {k: v for k, v in optimizer_config.items() if k != "name"}
    if optimizer_config.get("name"):
        config["name"] = optimizer_config["name"]
    lr = config["learning_rate"]
    if isinstance(lr, dict):
        # A schedule: Keras' own class, from its serialized form.
        config["learning_rate"] = keras.optimizers.schedules.deserialize(
            {"class_name": lr["class_name"], "config": dict(lr["config"])}
        )
    else:
        config["learning_rate"] = float(lr)
    if dtype == "float64":
        # Keras' update steps cast their hyper-parameters with ops.cast, which takes a Python
        # float through float32 first (0.9 becomes 0.8999999762); NumPy float64 scalars keep
        # every digit, so a float64 model computes with the numbers set, as the NumPy engine.
        for key, value in config.items():
            if isinstance(value, float) and key != "learning_rate":
                config[key] = np.float64(value)
    # Keras keeps the learning rate in a floatx variable; a float64 model gets a float64
    # one, so its updates use the same learning rate as the NumPy engine's float64 math.
    with _floatx_lock:
        previous = keras.config.floatx()
        keras.config.set_floatx(dtype)
        try:
            return getattr(keras.optimizers, optimizer_class)(**config)
        finally:
            keras.config.set_floatx(previous)


def make_loss(keras, loss: str, config: dict, dtype: str):
    """Keras' loss object for a canonical loss name and its resolved config, computing in
    ``dtype`` (Keras' default is floatx, float32)."""
    from engine.losses import LOSS_CLASSES

    return getattr(keras.losses, LOSS_CLASSES[loss])(**config, dtype=dtype)
