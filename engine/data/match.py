""" "Match network to data": one pure edit that fits a project's input, output layer and loss to
a loaded dataset.

The rules (Keras' textbook choices):

- k >= 3 classes: ``Dense(k, softmax)`` + ``sparse_categorical_crossentropy``, metrics
  ``["accuracy"]``;
- 2 classes (default): ``Dense(2, softmax)`` + ``sparse_categorical_crossentropy``, metrics
  ``["accuracy"]``;
- 2 classes with ``binary="sigmoid"``: ``Dense(1, sigmoid)`` + ``binary_crossentropy``,
  metrics ``["accuracy"]``;
- k numeric targets: ``Dense(k, linear)`` + ``mean_squared_error``, metrics ``["mae"]``.

Two classes get a 2-unit softmax by default so that every classifier has one output per class:
predictions, the confusion matrix and the class names work the same for 2 classes as for 10,
and adding a third class changes only ``units``. ``binary="sigmoid"`` gives the one-unit form.

A project whose optimizer is the Perceptron keeps its single ``Dense(1, sign)`` unit and has
no loss set (the Perceptron rule needs none).

The input follows the network's kind:

- a flat network (no layer type with ``image_input``) gets the data's own sample shape, as
  ever: ``[64]`` for the digits, ``[784]`` for MNIST, ``[28, 28]`` for an archive of (n, 28,
  28) inputs, with a Flatten inserted right after the input when that shape has several axes
  and the network has no flattening layer;
- a convolutional network (some layer has ``image_input``: Conv2D, the poolings) gets the
  data's image shape ``[H, W, C]`` (``[8, 8, 1]`` for the digits; the samples reach it as
  images, :mod:`engine.data.layout`), no Flatten after the input, and a Flatten on each edge
  from a layer whose output still has image axes to a fully connected layer (Dense), so
  ``Conv2D -> MaxPooling2D -> Dense`` becomes ``Conv2D -> MaxPooling2D -> Flatten -> Dense``
  as in Keras' convnet examples; a Dense fed by the input itself gets one too (``input ->
  Dense -> Reshape -> Conv2D``, a side branch). A Dense after a layer whose output is flat
  already (Flatten, GlobalAveragePooling2D) gets none. The check uses the shapes of the
  matched network; a network whose shapes cannot be worked out (a kernel larger than the
  image...) gets no Flatten, and validation names its problem. Data that are not images (a
  table) leave a convolutional network's input at the model's current shape when it holds
  as many values as a sample (a flat row laid out as the network asks), else at the sample
  shape, which validation then explains.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from engine import edits
from engine.data.files import Dataset
from engine.graph import INPUT, analyze_model
from engine.layers import LAYER_TYPES, LayerType
from engine.optimizers import DEFAULT_OPTIMIZER, is_perceptron

__all__ = [
    "BINARY_OUTPUTS",
    "image_input_shape",
    "is_image_network",
    "match_network_to_data",
    "output_layer_name",
]

BINARY_OUTPUTS = ("softmax", "sigmoid")


def _layer_type(layer: Any) -> LayerType | None:
    cls = layer.get("class_name") if isinstance(layer, dict) else None
    return LAYER_TYPES.get(cls) if isinstance(cls, str) else None


def _flattening_class() -> str:
    """The registered layer type that turns any input into one axis (Keras' Flatten)."""
    return next(t.class_name for t in LAYER_TYPES.values() if t.flattens)


def _is_output_type(ltype: LayerType | None) -> bool:
    """Whether a layer of this type can be the output layer whose units and activation the
    table sets: fully connected, with ``units`` and an activation (Keras' Dense)."""
    return (
        ltype is not None
        and ltype.fully_connected
        and ltype.has_activation
        and ltype.param("units") is not None
    )


def _output_class() -> str:
    return next(t.class_name for t in LAYER_TYPES.values() if _is_output_type(t))


def output_layer_name(data: dict) -> str | None:
    """The layer the network's output comes from: the layer no other layer consumes (the last
    such in the list when there are several); None for a model without layers."""
    inbound = edits.explicit_inbound(data)
    consumed = {src for sources in inbound.values() for src in sources}
    sinks = [name for name, sources in inbound.items() if name not in consumed and sources]
    if sinks:
        return sinks[-1]
    names = list(inbound)
    return names[-1] if names else None


def _is_perceptron(data: dict) -> bool:
    optimizer = (
        data.get("compile", {}).get("optimizer") if isinstance(data.get("compile"), dict) else None
    )
    return is_perceptron(optimizer if optimizer is not None else DEFAULT_OPTIMIZER)


def _position_after(data: dict, name: str, dx: float = 220.0) -> tuple[float, float] | None:
    pos = edits.positions(data).get(name)
    if not pos:
        return None
    return (float(pos[0]) + dx, float(pos[1]))


def _flatten_input(data: dict) -> dict:
    """Insert a Flatten right after the input, feeding every layer the input fed."""
    inbound = edits.explicit_inbound(data)
    consumers = [name for name, sources in inbound.items() if INPUT in sources]
    position = _position_after(data, INPUT, 110.0)
    flatten = _flattening_class()
    if not consumers:  # an empty model: the Flatten becomes the sink the output follows
        return edits.add_layer(data, flatten, position=position, inbound=[INPUT])[0]
    new, flat = edits.insert_on_edge(data, flatten, INPUT, consumers[0], position=position)
    for name in consumers[1:]:
        new = edits.disconnect(new, INPUT, name)
        new = edits.connect(new, flat, name)
    return new


def is_image_network(data: dict) -> bool:
    """Whether some layer of the spec's model needs (H, W, C) inputs (``image_input``)."""
    model = data.get("model") if isinstance(data, dict) else None
    layers = model.get("layers") if isinstance(model, dict) else None
    if not isinstance(layers, list):
        return False
    return any((t := _layer_type(layer)) is not None and t.image_input for layer in layers)


def image_input_shape(data: dict, dataset: Dataset) -> list[int]:
    """The input shape a convolutional network gets for these data (see the module
    docstring): the image shape; else the model's current shape when it holds as many values
    as a sample; else the sample shape."""
    if dataset.image_shape is not None:
        return [int(d) for d in dataset.image_shape]
    feature = [int(d) for d in dataset.feature_shape] or [1]
    current = data.get("model", {}).get("input_shape")
    if (
        isinstance(current, list)
        and current
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in current)
        and math.prod(current) == math.prod(feature)
    ):
        return list(current)
    return feature


def _flatten_input_before_dense(data: dict) -> dict:
    """One Flatten between an image input and the fully connected layers it feeds directly
    (a Dense before a Reshape, a side branch), before any shape is worked out: a Dense on
    (H, W, C) would act on the channels alone and break the shapes after it."""
    shape = data.get("model", {}).get("input_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        return data
    inbound = edits.explicit_inbound(data)
    dense = [
        name
        for layer in data["model"].get("layers") or []
        if isinstance(layer, dict)
        and (t := _layer_type(layer)) is not None
        and t.fully_connected
        and (name := (layer.get("config") or {}).get("name")) is not None
        and INPUT in inbound.get(name, [])
    ]
    if not dense:
        return data
    new, flat = edits.insert_on_edge(
        data, _flattening_class(), INPUT, dense[0], position=_position_after(data, INPUT, 110.0)
    )
    for name in dense[1:]:
        new = edits.disconnect(new, INPUT, name)
        new = edits.connect(new, flat, name)
    return new


def _flatten_before_dense(data: dict) -> dict:
    """A Flatten on each edge from a layer whose output keeps image axes (a chain of layers
    from an ``image_input`` layer, none flattening) into a fully connected layer; one Flatten
    per source, shared by its fully connected consumers. Unchanged when the shapes cannot be
    worked out."""
    data = _flatten_input_before_dense(data)
    graph, _problems = analyze_model(data.get("model", {}))
    if graph is None:
        return data
    images: set[str] = set()  # layers whose output still has image axes
    wanted: dict[str, list[str]] = {}  # source -> the fully connected layers it feeds
    for node in graph.nodes:
        ltype = node.layer_type
        from_image = [src for src in node.inbound if src in images]
        if ltype.fully_connected:
            for src in from_image:
                wanted.setdefault(src, []).append(node.name)
            continue  # with a Flatten before it, its output is flat
        if ltype.flattens or len(node.output_shape) < 2:
            continue
        if ltype.image_input or from_image:
            images.add(node.name)
    new = data
    flatten = _flattening_class()
    for src, consumers in wanted.items():
        position = _position_after(new, src, 110.0)
        new, flat = edits.insert_on_edge(new, flatten, src, consumers[0], position=position)
        for name in consumers[1:]:
            ins = edits.explicit_inbound(new)
            if src in ins.get(name, []):
                new = edits.disconnect(new, src, name)
                new = edits.connect(new, flat, name)
    return new


def match_network_to_data(
    data: dict[str, Any], dataset: Dataset, *, binary: str = "softmax"
) -> dict[str, Any]:
    """Fit a project spec to a dataset; returns a new spec (the input is not changed).

    Parameters
    ----------
    data : dict
        The project spec (``Project.data``): ``model``, ``compile``...
    dataset : Dataset
        The loaded data.
    binary : {"softmax", "sigmoid"}
        The output for two classes (see the module docstring).

    Returns
    -------
    dict
        A copy of ``data`` where

        - ``model.input_shape`` is the data's feature shape; when it has more than one axis
          and the model has no Flatten layer, a Flatten is inserted right after the input;
          for a convolutional network, the data's image shape, with a Flatten before each
          Dense that follows image layers (see the module docstring);
        - the output layer (the graph's sink) is a Dense with the units and activation of the
          table above; when the sink is not a Dense (or there are no layers), a new Dense is
          appended after it;
        - ``compile.loss`` and ``compile.metrics`` follow the table; the optimizer and every
          other setting are kept.

    Raises
    ------
    ValueError
        ``binary`` is not one of :data:`BINARY_OUTPUTS`.
    """
    if binary not in BINARY_OUTPUTS:
        raise ValueError(f"binary must be one of {', '.join(BINARY_OUTPUTS)}, got {binary!r}")
    new = copy.deepcopy(data)
    if not isinstance(new.get("model"), dict):
        new["model"] = {}
    if not isinstance(new["model"].get("layers"), list):
        new["model"]["layers"] = []
    if not isinstance(new.get("compile"), dict):
        new["compile"] = {}
    image_network = is_image_network(new)
    if image_network:
        feature_shape = image_input_shape(new, dataset)
    else:
        feature_shape = [int(d) for d in dataset.feature_shape] or [1]
    new["model"]["input_shape"] = feature_shape

    perceptron = _is_perceptron(new)
    classification = dataset.task == "classification"
    if classification:
        k = int(dataset.n_classes or (int(dataset.y.max()) + 1 if len(dataset.y) else 2))
        if perceptron and k <= 2:
            units, activation, loss, metrics = 1, "sign", None, ["accuracy"]
        elif k <= 2 and binary == "sigmoid":
            units, activation, loss, metrics = 1, "sigmoid", "binary_crossentropy", ["accuracy"]
        else:
            units, activation = max(k, 2), "softmax"
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        k = int(dataset.y.shape[1]) if dataset.y.ndim == 2 else 1
        units, activation, loss, metrics = k, "linear", "mean_squared_error", ["mae"]

    types = [_layer_type(layer) for layer in new["model"]["layers"]]
    if (
        not image_network
        and len(feature_shape) > 1
        and not any(t is not None and t.flattens for t in types)
    ):
        new = _flatten_input(new)

    out = output_layer_name(new)
    layer = edits.find_layer(new, out) if out is not None else None
    if layer is not None and _is_output_type(_layer_type(layer)):
        layer["config"]["units"] = units
        layer["config"]["activation"] = activation
    else:
        source = out if out is not None else INPUT
        new, _ = edits.add_layer(
            new,
            _output_class(),
            {"units": units, "activation": activation},
            position=_position_after(new, source),
            inbound=[source],
        )

    if image_network:
        new = _flatten_before_dense(new)

    if loss is None:
        new["compile"].pop("loss", None)
    else:
        new["compile"]["loss"] = loss
    new["compile"]["metrics"] = metrics
    return new
