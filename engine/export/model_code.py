"""The ``build_model()`` of the exported Keras script, and what Keras can express.

:func:`check_exportable` refuses what has no Keras equivalent (the Perceptron optimizer, the
``sign`` activation, layer names TensorFlow rejects) and returns the validated graph;
:func:`build_model_lines` writes the network (``keras.Sequential`` for a chain, the functional
API for a graph with merges) with its compile call. Each layer is written by its layer type
(``node.layer_type.code_args``): nothing here knows a layer class.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

from engine.constraints import CONSTRAINT_DEFAULTS, resolve_constraint
from engine.errors import NNDError, Problem, ValidationError
from engine.export.source import INDENT, Call, docstring, lit, render
from engine.graph import Graph, Node, analyze_model
from engine.initializers import parse_initializer as _parse_initializer
from engine.optimizers import DEFAULT_OPTIMIZER, is_perceptron
from engine.project import Project
from engine.regularizers import REGULARIZER_DEFAULTS, resolve_regularizer

__all__ = ["build_model_lines", "check_exportable", "compiled"]

_REFUSAL = (
    "the Perceptron optimizer and the 'sign' activation have no Keras equivalent; export a "
    "model trained with a gradient optimizer"
)

# TensorFlow uses layer names as name scopes, which allow only these characters.
_KERAS_NAME = re.compile(r"[A-Za-z0-9_.>-]+")

_GENERIC_OPTIMIZER_KEYS = (
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)

# Names the generated module defines or imports: a layer's variable never takes one of them.
_RESERVED = frozenset(
    {
        "argparse",
        "keras",
        "layers",
        "np",
        "Path",
        "model",
        "inputs",
        "outputs",
        "weights_path",
        "build_model",
        "load_data",
        "main",
        "EPOCHS",
        "BATCH_SIZE",
        "VALIDATION_SPLIT",
        "SEED",
        "WEIGHTS_PATH",
        "DATA_PATH",
        "TEST_SPLIT",
        "Y_PATH",
        "LABELS_PATH",
        "TEST_DATA_PATH",
        "TEST_LABELS_PATH",
        "DELIMITER",
        "HEADER",
        "ENCODING",
        "DECIMAL",
        "TARGET",
        "FEATURES",
        "IMAGE_SIZE",
        "csv",
        "gzip",
        "Image",
    }
)
_BUILTINS = frozenset(dir(builtins))


def check_exportable(project: Project) -> Graph:
    """The validated graph, or an error that names what cannot be exported."""
    from engine.validate import settings_problems

    sign_layers = [
        layer["config"].get("name")
        for layer in project.layers
        if isinstance(layer, dict)
        and isinstance(layer.get("config"), dict)
        and layer["config"].get("activation") == "sign"
    ]
    if is_perceptron(project) or sign_layers:
        used = []
        if is_perceptron(project):
            used.append("the Perceptron optimizer")
        if sign_layers:
            names = ", ".join(f"'{n}'" for n in sign_layers)
            used.append(f"the 'sign' activation in layer {names}")
        raise NNDError(f"{_REFUSAL} (this project uses {' and '.join(used)})")
    graph, problems = analyze_model(project.data.get("model", {}))
    if graph is not None:
        for node in graph.nodes:
            if not _KERAS_NAME.fullmatch(node.name):
                suggestion = re.sub(r"[^A-Za-z0-9_.>-]+", "_", node.name).strip("_") or "layer"
                problems.append(
                    Problem(
                        "Keras (TensorFlow) accepts only letters, digits and _ . - > in layer "
                        f"names; rename the layer (e.g. to '{suggestion}') to export it",
                        layer=node.name,
                        field="name",
                    )
                )
    # A model imported from Keras may have no dataset (the script then asks for one) and no
    # compile settings (the script then builds the model without compiling it).
    problems = problems + settings_problems(project, training=False)
    if problems:
        raise ValidationError(problems)
    assert graph is not None
    return graph


def _shape_tuple(shape: tuple[int, ...]) -> str:
    return lit(tuple(int(d) for d in shape))


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _keras_object(spec: Any, kind: str = "initializer") -> Any:
    """An initializer, regularizer or constraint (``kind``) as Keras code."""
    if kind == "regularizer":
        cls, config = resolve_regularizer(spec)
        return _object_call("regularizers", cls, config, REGULARIZER_DEFAULTS[cls])
    if kind == "constraint":
        cls, config = resolve_constraint(spec)
        return _object_call("constraints", cls, config, CONSTRAINT_DEFAULTS[cls])
    name, config = _parse_initializer(spec)
    _, defaults = _parse_initializer(name)
    changed = [
        (k, v)
        for k, v in config.items()
        if k not in defaults or (v is None) != (defaults[k] is None) or v != defaults[k]
    ]
    if not changed:
        return lit(name)
    return Call(f"keras.initializers.{_camel(name)}", [(k, lit(v)) for k, v in changed])


def _object_call(module: str, cls: str, config: dict, defaults: dict) -> Call:
    """``keras.<module>.<cls>(settings that differ from Keras' defaults)``."""
    changed = [(k, lit(v)) for k, v in config.items() if v != defaults[k]]
    return Call(f"keras.{module}.{cls}", changed)


def _layer_call(node: Node, dtype: str) -> Call:
    args: list[Any] = node.layer_type.code_args(node.config, lit, _keras_object)
    if dtype != "float32":
        args.append(("dtype", lit(dtype)))
    args.append(("name", lit(node.name)))
    return Call(f"layers.{node.class_name}", args)


def _variable_names(graph: Graph) -> dict[str, str]:
    """A distinct Python identifier for every layer's output, close to the layer's name."""
    taken = set(_RESERVED) | _BUILTINS
    out = {}
    for node in graph.nodes:
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in node.name)
        if not base or not (base[0].isalpha() or base[0] == "_"):
            base = f"x_{base}"
        if not base.isascii():
            base = f"layer_{node.index}"
        if keyword.iskeyword(base) or base in taken:
            base += "_"
        candidate, n = base, 1
        while candidate in taken:
            candidate = f"{base}{n}"
            n += 1
        taken.add(candidate)
        out[node.name] = candidate
    return out


def _model_name(project: Project) -> str:
    # TensorFlow uses the model's name as a name scope, which allows only these characters.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", project.name).strip("_")
    return name if name and name[0].isalnum() else f"model_{name}".rstrip("_")


def _optimizer_expr(spec: Any) -> str | Call:
    from engine.optimizers import resolve_optimizer

    class_name, config = resolve_optimizer(spec)
    if isinstance(spec, str):
        # Keras' string identifier of an optimizer: its class name in lower case.
        return lit(class_name.lower())
    _, defaults = resolve_optimizer(class_name)
    given = spec.get("config") or {}
    keys = ["learning_rate"] + [
        k for k in config if k not in ("learning_rate", "name") and k not in _GENERIC_OPTIMIZER_KEYS
    ]
    keys += [k for k in _GENERIC_OPTIMIZER_KEYS if k in config]
    args: list[tuple[str, Any]] = []
    for key in keys:
        if key == "learning_rate" and isinstance(config[key], dict):
            args.append((key, _schedule_expr(config[key])))
        elif key == "learning_rate" or config[key] != defaults[key]:
            args.append((key, lit(config[key])))
    if given.get("name") is not None:
        args.append(("name", lit(given["name"])))
    return Call(f"keras.optimizers.{class_name}", args)


def _schedule_expr(spec: dict) -> Call:
    """Keras' schedule class with the required settings and those that differ from its
    defaults (``keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=100, ...)``)."""
    from engine.schedules import schedule_spec

    short = schedule_spec(spec["class_name"], spec["config"])
    args = [(k, lit(v)) for k, v in short["config"].items()]
    return Call(f"keras.optimizers.schedules.{spec['class_name']}", args)


def _loss_expr(spec: Any) -> str | Call:
    """Keras' string identifier of a loss at its defaults, else its class with the settings
    that differ (``keras.losses.Huber(delta=2.0)``)."""
    from engine.losses import LOSS_CLASSES, loss_defaults, resolve_loss

    name, config = resolve_loss(spec)
    defaults = loss_defaults(name)
    args = [(k, lit(v)) for k, v in config.items() if v != defaults[k]]
    if not args:
        return lit(name)
    return Call(f"keras.losses.{LOSS_CLASSES[name]}", args)


def compiled(project: Project) -> bool:
    """Whether the project has compile settings (an imported uncompiled model has none)."""
    return "compile" in project.data


def _metric_expr(spec: Any) -> str | Call:
    """A metric as the project names it (Keras' compile reads the same names and logs under
    them), else its class with the settings that differ and its name, always: an unnamed
    Keras metric is named by a process-wide counter (a second ``AUC()`` logs ``auc_1``)
    (``keras.metrics.AUC(curve="PR", name="auc")``)."""
    from engine.metrics import METRIC_DEFAULTS, resolve_metric

    if isinstance(spec, str):
        return lit(spec)
    m = resolve_metric(spec)
    defaults = METRIC_DEFAULTS[m.cls]
    args = [(k, lit(v)) for k, v in m.config.items() if v != defaults[k]]
    return Call(f"keras.metrics.{m.cls}", [*args, ("name", lit(m.key))])


def _compile_call(project: Project) -> Call:
    comp = project.compile
    args: list[Any] = [("optimizer", _optimizer_expr(comp.get("optimizer", DEFAULT_OPTIMIZER)))]
    args.append(("loss", _loss_expr(comp["loss"])))
    metrics = [_metric_expr(m) for m in comp.get("metrics", [])]
    if metrics:
        args.append(("metrics", Call("", metrics, "[", "]")))
    return Call("model.compile", args)


def _regularized(graph: Graph) -> bool:
    """Whether any layer has a regularizer set."""
    return any(
        node.config.get(p.name) is not None
        for node in graph.nodes
        for p in node.layer_type.params
        if p.kind == "regularizer"
    )


def build_model_lines(project: Project, graph: Graph) -> list[str]:
    """The lines of the script's ``def build_model(): ...`` for the validated ``graph``."""
    dtype = project.dtype
    weights = bool(project.weights)
    lines = ["def build_model(weights_path=WEIGHTS_PATH):" if weights else "def build_model():"]
    if compiled(project):
        doc = "The network, compiled with the project's optimizer, loss and metrics."
    else:
        doc = (
            "The network, not compiled: the project has no optimizer or loss (the model was "
            "imported uncompiled). Call model.compile(optimizer=..., loss=...) to train it."
        )
    if weights:
        doc += (
            "\n\nLoads the trained weights from ``weights_path`` when that file exists (pass "
            "None for fresh weights)."
        )
    lines += docstring(doc, 1)
    if dtype == "float64" and compiled(project) and _regularized(graph):
        # Keras sums the regularizers' float64 penalties with a loss in floatx: model.fit
        # fails on a float64 model unless floatx is float64 too.
        lines.append(f'{INDENT}keras.config.set_floatx("float64")  # the penalties are float64')
    input_args: list[Any] = [("shape", _shape_tuple(graph.input_shape))]
    if dtype != "float32":
        input_args.append(("dtype", lit(dtype)))
    input_call = Call("keras.Input", input_args)
    name = ("name", lit(_model_name(project)))
    if graph.is_chain:
        stack = Call(
            "", [input_call] + [_layer_call(n, dtype) for n in graph.nodes], "[", "]", True
        )
        lines += render(Call("keras.Sequential", [stack, name]), 1, "model = ")
    else:
        var = _variable_names(graph)
        var["input"] = "inputs"
        lines += render(input_call, 1, "inputs = ")
        for node in graph.nodes:
            sources = [var[s] for s in node.inbound]
            arg = f"[{', '.join(sources)}]" if node.layer_type.merge else sources[0]
            lines += render(_layer_call(node, dtype), 1, f"{var[node.name]} = ", f"({arg})")
        model = Call("keras.Model", [("inputs", "inputs"), ("outputs", var[graph.output]), name])
        lines += render(model, 1, "model = ")
    if compiled(project):
        lines += render(_compile_call(project), 1)
    if weights:
        lines += [
            f"{INDENT}if weights_path is not None and Path(weights_path).exists():",
            f"{INDENT * 2}model.load_weights(weights_path)",
        ]
    lines.append(f"{INDENT}return model")
    return lines
