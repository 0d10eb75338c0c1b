"""A project as one readable, self-contained Keras 3 script.

:func:`keras_code` turns the spec into the text of a Python file that defines

- ``build_model()``: the network (``keras.Sequential`` for a chain, the functional API for a
  graph with merges), compiled with the project's optimizer, loss and metrics, and loading the
  exported weights when the project was trained;
- ``load_data()``: the project's dataset, split and scaled exactly as NN Designer does (the
  generators of the 2-D sets, the seeded stratified validation split and the standardization
  are written out in the file, which never imports NN Designer);
- ``main()``: trains with the project's fit settings; ``--epochs N`` overrides the epochs.

It is a pure function of the spec and never imports TensorFlow, so the designer's code preview
can call it on every edit. :func:`export_project` writes the file atomically and, for a trained
project, ``<stem>.weights.h5`` beside it (Keras' own weights format; Keras is imported then).

The code is written as a person would: only non-default arguments, Keras' names, lines of at
most 88 characters, and calls that do not fit split one argument per line with a trailing
comma, so that ``ruff format`` leaves the text as it is.
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from engine.data.builtin import BUILTIN_DATASETS, resolve_params
from engine.errors import NNDError, Problem, ValidationError
from engine.graph import Graph, Node, analyze_model
from engine.initializers import parse_initializer as _parse_initializer
from engine.project import Project, atomic_write, make_ordinary, weights_by_layer

__all__ = ["LINE_LENGTH", "export_project", "keras_code"]

#: Longest line the generated code holds (ruff's and black's default).
LINE_LENGTH = 88

_INDENT = "    "

_REFUSAL = (
    "the Perceptron optimizer and the 'sign' activation have no Keras equivalent; export a "
    "model trained with a gradient optimizer"
)

# Keras' string identifiers of the optimizers NN Designer knows.
# TensorFlow uses layer names as name scopes, which allow only these characters.
_KERAS_NAME = re.compile(r"[A-Za-z0-9_.>-]+")

_OPTIMIZER_IDS = {"SGD": "sgd", "Adam": "adam", "RMSprop": "rmsprop", "Adagrad": "adagrad"}
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
    }
)
_BUILTINS = frozenset(dir(builtins))


# ------------------------------------------------------------------------------------------------
# A tiny code layout engine: calls that fit stay on one line, others get one argument per line.
# ------------------------------------------------------------------------------------------------


@dataclass
class _Call:
    """``func(args)``; an argument is an expression or ``(keyword, expression)``.

    ``explode`` forces one argument per line (a list of layers reads better that way).
    """

    func: str
    args: list[Any] = field(default_factory=list)
    open: str = "("
    close: str = ")"
    explode: bool = False


def _flat(expr: Any) -> str | None:
    """One-line text of an expression, or None when it must span lines."""
    if isinstance(expr, str):
        return expr
    if expr.explode:
        return None
    parts = []
    for arg in expr.args:
        key, value = arg if isinstance(arg, tuple) else (None, arg)
        text = _flat(value)
        if text is None:
            return None
        parts.append(f"{key}={text}" if key else text)
    return f"{expr.func}{expr.open}{', '.join(parts)}{expr.close}"


def _render(expr: Any, indent: int, prefix: str = "", trailer: str = "") -> list[str]:
    """Lines of ``prefix + expr + trailer`` at ``indent`` levels, split like ruff format."""
    pad = _INDENT * indent
    text = _flat(expr)
    if text is not None and (
        len(pad + prefix + text + trailer) <= LINE_LENGTH or isinstance(expr, str) or not expr.args
    ):
        return [pad + prefix + text + trailer]
    lines = [pad + prefix + expr.func + expr.open]
    for arg in expr.args:
        key, value = arg if isinstance(arg, tuple) else (None, arg)
        lines += _render(value, indent + 1, f"{key}=" if key else "", ",")
    lines.append(pad + expr.close + trailer)
    return lines


def _lit(value: Any) -> str:
    """A Python literal for a JSON-like value (double-quoted strings, as ruff writes them)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # 1e+20 -> 1e20, as ruff format writes it
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = [_lit(v) for v in value]
        if isinstance(value, tuple):
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    raise TypeError(f"no literal for {value!r}")  # pragma: no cover - specs are JSON


def _docstring(text: str, indent: int) -> list[str]:
    """A docstring of wrapped paragraphs (separated by blank lines) at ``indent`` levels."""
    pad = _INDENT * indent
    width = LINE_LENGTH - len(pad)
    lines: list[str] = []
    for i, para in enumerate(text.strip().split("\n\n")):
        if i:
            lines.append("")
        # The first line shares its room with the opening quotes.
        lines += textwrap.wrap(" ".join(para.split()), width - (3 if i == 0 else 0)) or [""]
    lines = [_safe_doc(line) for line in lines]
    if len(lines) == 1 and len(pad) + len(lines[0]) + 6 <= LINE_LENGTH:
        return [f'{pad}"""{lines[0]}"""']
    out = [f'{pad}"""{lines[0]}']
    out += [(pad + line) if line else "" for line in lines[1:]]
    out.append(f'{pad}"""')
    return out


def _safe_doc(text: str) -> str:
    # A user's project name goes into docstrings: keep it from closing or escaping them.
    text = text.replace("\\", "/").replace('"""', "'''")
    return "".join(ch if ch.isprintable() else " " for ch in text).rstrip()


# ------------------------------------------------------------------------------------------------
# Checking what Keras can express
# ------------------------------------------------------------------------------------------------


def _check(project: Project) -> Graph:
    """The validated graph, or an error that names what cannot be exported."""
    from engine.validate import optimizer_class, settings_problems

    sign_layers = [
        layer["config"].get("name")
        for layer in project.layers
        if isinstance(layer, dict)
        and isinstance(layer.get("config"), dict)
        and layer["config"].get("activation") == "sign"
    ]
    if optimizer_class(project) == "Perceptron" or sign_layers:
        used = []
        if optimizer_class(project) == "Perceptron":
            used.append("the Perceptron optimizer")
        if sign_layers:
            names = ", ".join(f"'{n}'" for n in sign_layers)
            used.append(f"the 'sign' activation in layer {names}")
        raise NNDError(f"{_REFUSAL} (this project uses {' and '.join(used)})")
    graph, problems = analyze_model(project.model)
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
    settings = settings_problems(project)
    if "dataset" not in project.data:
        # A model imported from Keras has no dataset yet; the script then asks for one.
        settings = [p for p in settings if p.field != "dataset"]
    problems = problems + settings
    if problems:
        raise ValidationError(problems)
    assert graph is not None
    return graph


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------


def _shape_tuple(shape: tuple[int, ...]) -> str:
    return _lit(tuple(int(d) for d in shape))


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _initializer(spec: Any) -> Any:
    name, config = _parse_initializer(spec)
    _, defaults = _parse_initializer(name)
    changed = [
        (k, v)
        for k, v in config.items()
        if k not in defaults or (v is None) != (defaults[k] is None) or v != defaults[k]
    ]
    if not changed:
        return _lit(name)
    return _Call(f"keras.initializers.{_camel(name)}", [(k, _lit(v)) for k, v in changed])


def _layer_call(node: Node, dtype: str) -> _Call:
    cfg = node.config
    defaults = node.layer_type.defaults()
    args: list[Any] = []
    cls = node.class_name
    if cls == "Dense":
        args.append(_lit(cfg["units"]))
        if cfg.get("activation") not in (None, "linear"):
            args.append(("activation", _lit(cfg["activation"])))
        if cfg["use_bias"] is not True:
            args.append(("use_bias", "False"))
        for key in ("kernel_initializer", "bias_initializer"):
            expr = _initializer(cfg[key])
            if expr != _lit(defaults[key]):
                args.append((key, expr))
    elif cls == "Dropout":
        args.append(_lit(cfg["rate"]))
        if cfg.get("seed") is not None:
            args.append(("seed", _lit(cfg["seed"])))
    elif cls == "Activation":
        args.append(_lit(cfg["activation"]))
    elif cls == "Concatenate":
        if cfg["axis"] != -1:
            args.append(("axis", _lit(cfg["axis"])))
    if dtype != "float32":
        args.append(("dtype", _lit(dtype)))
    args.append(("name", _lit(node.name)))
    return _Call(f"layers.{cls}", args)


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


def _optimizer_expr(spec: Any) -> str | _Call:
    from engine.backends.numpy.optimizers import resolve_optimizer

    class_name, config = resolve_optimizer(spec)
    if isinstance(spec, str):
        return _lit(_OPTIMIZER_IDS[class_name])
    _, defaults = resolve_optimizer(class_name)
    given = spec.get("config") or {}
    keys = ["learning_rate"] + [
        k for k in config if k not in ("learning_rate", "name") and k not in _GENERIC_OPTIMIZER_KEYS
    ]
    keys += [k for k in _GENERIC_OPTIMIZER_KEYS if k in config]
    args = []
    for key in keys:
        if key == "learning_rate" or config[key] != defaults[key]:
            args.append((key, _lit(config[key])))
    if given.get("name") is not None:
        args.append(("name", _lit(given["name"])))
    return _Call(f"keras.optimizers.{class_name}", args)


def _compile_call(project: Project) -> _Call:
    from engine.backends.numpy.losses import canonical_loss, canonical_metric

    comp = project.compile
    args: list[Any] = [("optimizer", _optimizer_expr(comp.get("optimizer", "rmsprop")))]
    args.append(("loss", _lit(canonical_loss(comp["loss"]))))
    metrics = [canonical_metric(m) for m in comp.get("metrics", [])]
    if metrics:
        args.append(("metrics", _lit(metrics)))
    return _Call("model.compile", args)


def _build_model_lines(project: Project, graph: Graph) -> list[str]:
    dtype = project.dtype
    weights = bool(project.weights)
    lines = ["def build_model(weights_path=WEIGHTS_PATH):" if weights else "def build_model():"]
    doc = "The network, compiled with the project's optimizer, loss and metrics."
    if weights:
        doc += (
            "\n\nLoads the trained weights from ``weights_path`` when that file exists (pass "
            "None for fresh weights)."
        )
    lines += _docstring(doc, 1)
    input_args: list[Any] = [("shape", _shape_tuple(graph.input_shape))]
    if dtype != "float32":
        input_args.append(("dtype", _lit(dtype)))
    input_call = _Call("keras.Input", input_args)
    name = ("name", _lit(_model_name(project)))
    if graph.is_chain:
        stack = _Call(
            "", [input_call] + [_layer_call(n, dtype) for n in graph.nodes], "[", "]", True
        )
        lines += _render(_Call("keras.Sequential", [stack, name]), 1, "model = ")
    else:
        var = _variable_names(graph)
        var["input"] = "inputs"
        lines += _render(input_call, 1, "inputs = ")
        for node in graph.nodes:
            sources = [var[s] for s in node.inbound]
            arg = f"[{', '.join(sources)}]" if node.layer_type.merge else sources[0]
            lines += _render(_layer_call(node, dtype), 1, f"{var[node.name]} = ", f"({arg})")
        model = _Call("keras.Model", [("inputs", "inputs"), ("outputs", var[graph.output]), name])
        lines += _render(model, 1, "model = ")
    lines += _render(_compile_call(project), 1)
    if weights:
        lines += [
            f"{_INDENT}if weights_path is not None and Path(weights_path).exists():",
            f"{_INDENT * 2}model.load_weights(weights_path)",
        ]
    lines.append(f"{_INDENT}return model")
    return lines


# ------------------------------------------------------------------------------------------------
# The data: the same arrays as engine.data.load_dataset + prepare + encode_targets
# ------------------------------------------------------------------------------------------------

# These functions repeat engine/data's code operation for operation: the exported file must not
# import NN Designer, and the test suite checks that both give identical arrays.
_MAKE_XOR = '''
def make_xor(n_samples, noise, seed):
    """NN Designer's XOR: class 1 where both coordinates have the same sign."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    pad = 0.06
    points = u * (1.0 - pad) + np.where(u >= 0.0, pad, -pad)
    y = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    points = points + rng.normal(0.0, noise, size=points.shape)
    return points, y
'''

_MAKE_SPIRAL = '''
def make_spiral(n_samples, noise, seed, n_classes):
    """NN Designer's spiral: one arm per class, winding 1.75 turns out to radius 1."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(n_classes):
        m = n_samples // n_classes + (c < n_samples % n_classes)
        r = np.arange(m) / max(m, 1)
        t = 1.75 * 2.0 * np.pi * r + 2.0 * np.pi * c / n_classes
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, c, dtype=np.int64))
    x = np.concatenate(xs)
    x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(n_samples)
    return x[order], np.concatenate(ys)[order]
'''

_READ_NPZ = '''
def read_npz(path):
    """Inputs and targets of an .npz file (keys x and y, or x_train and y_train)."""
    with np.load(path, allow_pickle=False) as data:
        suffix = "_train" if "x_train" in data.files else ""
        x, y = data["x" + suffix], data["y" + suffix]
    x = x.astype(np.float32)
    return (x.reshape(-1, 1) if x.ndim == 1 else x), y
'''

_IS_CLASSIFICATION = '''
def is_classification(y):
    """Whole-number targets of shape (n,) or (n, 1) are class labels."""
    if y.ndim == 2 and y.shape[1] != 1:
        return False
    return y.dtype.kind in "biu" or bool(np.all(np.floor(y) == y))
'''

_CLASS_LABELS = '''
def class_labels(y):
    """Class indices of shape (n,) from labels (n,) or (n, 1), or from one-hot rows."""
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    return y.reshape(-1).astype(np.int64)
'''

_SPLIT_VALIDATION = '''
def split_validation(x, y, fraction, seed):
    """Hold out a seeded random share of the samples, keeping each class's share.

    Returns ``(x_train, y_train), (x_val, y_val)``, both in the original sample order.
    """
    n = len(x)
    n_val = min(max(round(fraction * n), 1), n - 1)
    rng = np.random.default_rng(seed)
    if y.ndim == 1 and y.dtype.kind in "biu":
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        ideal = n_val * counts / n
        take = np.floor(ideal).astype(np.int64)
        # Leftover samples go to the classes with the largest remainders.
        order = np.lexsort((rng.random(len(classes)), -(ideal - take)))
        take[order[: n_val - int(take.sum())]] += 1
        chosen = []
        for c in range(len(classes)):
            chosen.append(rng.permutation(np.flatnonzero(inverse == c))[: take[c]])
        val_index = np.concatenate(chosen)
    else:
        val_index = rng.permutation(n)[:n_val]
    is_val = np.zeros(n, dtype=bool)
    is_val[val_index] = True
    return (x[~is_val], y[~is_val]), (x[is_val], y[is_val])
'''

_FIT_STANDARDIZER = '''
def fit_standardizer(x):
    """Per-feature mean and standard deviation of x (1 for a constant feature)."""
    x64 = x.astype(np.float64)
    std = x64.std(axis=0)
    std[np.ptp(x64, axis=0) == 0] = 1.0
    return x64.mean(axis=0).astype(x.dtype), std.astype(x.dtype)
'''


@dataclass
class _Data:
    """What load_data needs: helper functions, imports and its body."""

    helpers: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    sklearn: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    description: str = ""
    task: str | None = "classification"  # None: decided when the file is read
    constants: list[str] = field(default_factory=list)


def _kwargs(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_lit(v)}" for k, v in params.items())


def _builtin_source(name: str, params: dict[str, Any], data: _Data) -> None:
    info = BUILTIN_DATASETS[name]
    p = resolve_params(name, params)
    shown = f" ({_kwargs(p)})" if p else ""
    data.description = f"The built-in {name} dataset{shown}"
    data.task = info.task
    data.imports.add("numpy")
    emit = data.lines.append
    if name in ("xor", "spiral"):
        data.helpers.append(_MAKE_XOR if name == "xor" else _MAKE_SPIRAL)
        emit(f"x, y = make_{name}({_kwargs(p)})")
        emit("x = x.astype(np.float32)")
    elif name in ("circles", "moons", "blobs"):
        func = f"make_{name}"
        data.sklearn.append(func)
        noise = p["noise"] or None
        if name == "blobs":
            k = p["centers"]
            emit(f"angles = 2.0 * np.pi * np.arange({k}) / {k}")
            emit("centers = np.stack([np.cos(angles), np.sin(angles)], axis=1)")
            call = _Call(
                func,
                [
                    _lit(p["n_samples"]),
                    ("n_features", "2"),
                    ("centers", "centers"),
                    ("cluster_std", _lit(p["noise"])),
                    ("random_state", _lit(p["seed"])),
                ],
            )
        else:
            args: list[Any] = [_lit(p["n_samples"]), ("noise", _lit(noise))]
            if name == "circles":
                args.append(("factor", _lit(p["factor"])))
            args.append(("random_state", _lit(p["seed"])))
            call = _Call(func, args)
        data.lines += [line[len(_INDENT) :] for line in _render(call, 1, "x, y = ")]
        emit("x = x.astype(np.float32)")
        emit("y = y.astype(np.int64)")
    elif info.source == "scikit-learn":
        func = f"load_{name}"
        data.sklearn.append(func)
        emit(f"bunch = {func}()")
        emit("x = np.asarray(bunch.data, dtype=np.float32)")
        if info.task == "regression":
            emit("y = np.asarray(bunch.target, dtype=np.float32).reshape(-1, 1)")
        else:
            emit("y = np.asarray(bunch.target, dtype=np.int64)")
    else:  # the Keras cache sets: keras.datasets reads (or fetches) the same files
        emit(f"(x, y), _ = keras.datasets.{name}.load_data()")
        emit("x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)")
        emit("y = y.astype(np.int64)")


def _data_path_expr(project: Project, path: str, script_dir: Path | None) -> str:
    if path.startswith("~"):
        return f"Path({_lit(path)}).expanduser()"
    pure = PurePath(path)
    base = project.base_dir
    if pure.is_absolute():
        target = Path(path)
    elif base is None:
        # No project folder known: the file is taken to sit beside the script.
        return _path_beside(pure.as_posix())
    else:
        target = Path(os.path.normpath(base / pure))
    script_dir = script_dir or base
    if script_dir is not None:
        try:
            rel = os.path.relpath(target, script_dir)
        except ValueError:  # another drive (Windows)
            rel = None
        if rel is not None and not rel.startswith(".."):
            return _path_beside(Path(rel).as_posix())
    return f"Path({_lit(target.as_posix())})"


def _path_beside(rel: str) -> str:
    return f"Path(__file__).resolve().parent / {_lit(rel)}"


def _file_source(project: Project, spec: dict, script_dir: Path | None, data: _Data) -> None:
    data.imports |= {"numpy", "Path"}
    data.helpers.append(_READ_NPZ)
    data.constants.append(f"DATA_PATH = {_data_path_expr(project, spec['path'], script_dir)}")
    data.description = f"The data file {spec['path']}"
    data.lines.append("x, y = read_npz(DATA_PATH)")
    task = spec.get("task")
    data.task = task
    if task is None:
        data.helpers += [_IS_CLASSIFICATION, _CLASS_LABELS]
        data.lines += [
            "classification = is_classification(y)",
            "y = class_labels(y) if classification else y.astype(np.float32).reshape(len(y), -1)",
        ]
    elif task == "classification":
        data.helpers.append(_CLASS_LABELS)
        data.lines.append("y = class_labels(y)")
    else:
        data.lines.append("y = y.astype(np.float32).reshape(len(y), -1)")


def _encode_lines(project: Project, graph: Graph, np_dtype: str, parts: list[str]) -> list[str]:
    """Class labels as the loss wants them (engine.validate.encode_targets)."""
    from engine.backends.numpy.losses import canonical_loss

    loss = canonical_loss(project.compile["loss"])
    if loss == "sparse_categorical_crossentropy":
        return []
    width = graph.output_shape[-1]
    lines = []
    for y in parts:
        if width == 1:
            lines.append(f"{y} = {y}.reshape(-1, 1).astype({np_dtype})")
        else:
            lines.append(f"{y} = np.eye({width}, dtype={np_dtype})[{y}]")
    return lines


def _load_data(project: Project, graph: Graph, script_dir: Path | None) -> tuple[list[str], _Data]:
    spec = project.dataset
    data = _Data()
    if "dataset" not in project.data:
        data.lines = [
            "raise SystemExit(",
            f'{_INDENT}"This model was exported without a dataset: write load_data() to return "',
            f'{_INDENT}"(x_train, y_train), (x_val, y_val)."',
            ")",
        ]
        body = ["def load_data():"]
        body += _docstring("Training and validation data: the project names no dataset.", 1)
        body += [_INDENT + line for line in data.lines]
        return body, data
    if "name" in spec:
        params = {k: v for k, v in spec.items() if k not in ("name", "standardize")}
        _builtin_source(spec["name"], params, data)
    else:
        _file_source(project, spec, script_dir, data)
    np_dtype = f"np.{project.dtype}"
    lines = data.lines
    if project.dtype != "float32":
        lines.append(f"x = x.astype({np_dtype})")
        if data.task == "regression":
            lines.append(f"y = y.astype({np_dtype})")
        elif data.task is None:
            lines += ["if not classification:", f"{_INDENT}y = y.astype({np_dtype})"]
    split = float(project.fit.get("validation_split", 0.0)) > 0
    if split:
        data.helpers.append(_SPLIT_VALIDATION)
        lines.append(
            "(x_train, y_train), (x_val, y_val) = split_validation(x, y, VALIDATION_SPLIT, SEED)"
        )
    else:
        lines.append("x_train, y_train = x, y")
    if project.dataset.get("standardize"):
        data.helpers.append(_FIT_STANDARDIZER)
        lines.append("mean, std = fit_standardizer(x_train)")
        lines.append("x_train = (x_train - mean) / std")
        if split:
            lines.append("x_val = (x_val - mean) / std")
    ys = ["y_train", "y_val"] if split else ["y_train"]
    encode = _encode_lines(project, graph, np_dtype, ys)
    if encode and data.task is None:
        lines.append("if classification:")
        lines += [_INDENT + line for line in encode]
    elif data.task != "regression":
        lines += encode
    lines.append(
        "return (x_train, y_train), (x_val, y_val)" if split else "return (x_train, y_train), None"
    )

    how = ["split"] if split else []
    if project.dataset.get("standardize"):
        how.append("standardized")
    done = f", {' and '.join(how)} as NN Designer does" if how else ""
    returns = "``(x_val, y_val)``" if split else "None (the project holds out no validation data)"
    doc = (
        "Training and validation data, prepared as in NN Designer.\n\n"
        f"{data.description}{done}. Returns ``(x_train, y_train)`` and {returns}."
    )
    body = (
        ["def load_data():"]
        + _docstring(doc, 1)
        + [_INDENT + line if line else "" for line in lines]
    )
    return body, data


# ------------------------------------------------------------------------------------------------
# The whole file
# ------------------------------------------------------------------------------------------------


def keras_code(project: Project, *, script_dir: str | os.PathLike | None = None) -> str:
    """The project as the text of a self-contained Keras 3 script.

    Parameters
    ----------
    project : Project
    script_dir : path, optional
        The folder the script will be written to; a data file inside it is then found relative
        to the script. Defaults to the project's folder (where export writes by default).

    Returns
    -------
    str
        Python source defining ``build_model()``, ``load_data()`` and ``main()``; it imports
        ``keras`` and ``numpy`` (and scikit-learn for its datasets), never NN Designer.

    Raises
    ------
    NNDError
        When the project uses something Keras cannot express (the Perceptron optimizer, the
        ``sign`` activation), naming it.
    ValidationError
        When the project is not valid (every problem listed).
    """
    graph = _check(project)
    script = Path(script_dir) if script_dir is not None else None
    model_lines = _build_model_lines(project, graph)
    data_lines, data = _load_data(project, graph, script)
    fit = project.fit
    split = "dataset" in project.data and float(fit.get("validation_split", 0.0)) > 0

    imports_std = ["import argparse"]
    if project.weights or "Path" in data.imports:
        imports_std.append("from pathlib import Path")
    imports_third = ["import keras"]
    if "numpy" in data.imports:
        imports_third.append("import numpy as np")
    imports_third.append("from keras import layers")
    if data.sklearn:
        imports_third.append(f"from sklearn.datasets import {', '.join(sorted(data.sklearn))}")

    title = project.name
    doc = (
        f"{title}: a Keras model exported from NN Designer.\n\n"
        f'Generated by NN Designer from the project "{title}". build_model() returns the '
        "compiled network, load_data() the data prepared as in the designer, and running this "
        "file trains the model with the project's settings (--epochs N overrides the number "
        "of epochs)."
    )
    if project.weights:
        doc += (
            " The trained weights are read from the .weights.h5 file of the same name beside "
            "this file."
        )
    out = _docstring(doc, 0) + [""] + imports_std + [""] + imports_third + [""]
    constants = [
        f"EPOCHS = {int(fit['epochs'])}",
        f"BATCH_SIZE = {int(fit['batch_size'])}",
    ]
    if split:
        constants.append(f"VALIDATION_SPLIT = {_lit(float(fit['validation_split']))}")
    constants.append(f"SEED = {int(fit['seed'])}")
    if project.weights:
        constants.append('WEIGHTS_PATH = Path(__file__).with_suffix(".weights.h5")')
    constants += data.constants
    out += constants + ["", ""]
    out += model_lines
    seen = set()
    for helper in data.helpers:
        if helper in seen:
            continue
        seen.add(helper)
        out += ["", ""] + helper.strip("\n").split("\n")
    out += ["", ""] + data_lines
    out += ["", ""] + _main_lines(project)
    out += ["", "", 'if __name__ == "__main__":', f"{_INDENT}main()"]
    return "\n".join(out) + "\n"


def _main_lines(project: Project) -> list[str]:
    lines = ["def main():"]
    lines += _docstring("Train the model with the project's settings.", 1)
    lines.append(f"{_INDENT}parser = argparse.ArgumentParser(description=__doc__)")
    lines += _render(
        _Call(
            "parser.add_argument",
            [
                '"--epochs"',
                ("type", "int"),
                ("default", "EPOCHS"),
                ("help", '"number of epochs (default: %(default)s)"'),
            ],
        ),
        1,
    )
    lines.append(f"{_INDENT}args = parser.parse_args()")
    lines.append(f"{_INDENT}keras.utils.set_random_seed(SEED)")
    lines.append(f"{_INDENT}(x_train, y_train), validation_data = load_data()")
    lines.append(f"{_INDENT}model = build_model()")
    fit = _Call(
        "model.fit",
        [
            "x_train",
            "y_train",
            ("batch_size", "BATCH_SIZE"),
            ("epochs", "args.epochs"),
            ("shuffle", _lit(bool(project.fit.get("shuffle", True)))),
            ("validation_data", "validation_data"),
        ],
    )
    lines += _render(fit, 1)
    return lines


# ------------------------------------------------------------------------------------------------
# Writing the files
# ------------------------------------------------------------------------------------------------


def export_project(project: Project, out_path: str | os.PathLike) -> list[Path]:
    """Write the project as a Keras script, plus its trained weights when it has them.

    Parameters
    ----------
    project : Project
    out_path : path
        The script to write (``.py``). A trained project also gets ``<stem>.weights.h5``
        beside it, in Keras' weights format, which the script's ``build_model()`` loads.

    Returns
    -------
    list of Path
        The files written: the script, then the weights file when there is one.

    Raises
    ------
    NNDError
        What cannot be exported (see :func:`keras_code`), weights that do not fit the model,
        Keras missing when weights must be written, or a file that cannot be written.
    """
    out_path = Path(out_path)
    if out_path.suffix != ".py":
        raise NNDError("the exported script must be a .py file", str(out_path))
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise NNDError("the folder does not exist", str(folder))
    code = keras_code(project, script_dir=folder.resolve())
    written = [out_path]
    weights_path = out_path.with_name(out_path.stem + ".weights.h5")
    tmp_weights = None
    if project.weights:
        tmp_weights = _write_weights(project, code, out_path, folder)
    try:
        atomic_write(out_path, code.encode("utf-8"))
        _readable(out_path)
        if tmp_weights is not None:
            _readable(Path(tmp_weights))
            os.replace(tmp_weights, weights_path)
            tmp_weights = None
            written.append(weights_path)
    except OSError as exc:
        raise NNDError(f"could not be written: {exc.strerror or exc}", str(weights_path)) from exc
    finally:
        if tmp_weights is not None:
            Path(tmp_weights).unlink(missing_ok=True)
    return written


def _readable(path: Path) -> None:
    # Temporary files are created private (0600); an exported file is an ordinary file.
    make_ordinary(path)


def _write_weights(project: Project, code: str, out_path: Path, folder: Path) -> str:
    """Build the script's model, set the project's weights by layer name, save them to a
    temporary ``.weights.h5`` in ``folder``; return its path."""
    try:
        import keras  # noqa: F401 - checks Keras is there before running the script's code
    except Exception as exc:  # noqa: BLE001 - a broken TensorFlow fails in many ways
        from engine.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"writing the trained weights needs Keras (TensorFlow), which cannot be imported: {exc}"
        ) from exc
    namespace: dict[str, Any] = {"__name__": "nndesigner_export", "__file__": str(out_path)}
    exec(compile(code, str(out_path), "exec"), namespace)  # noqa: S102 - our own generated code
    model = namespace["build_model"](weights_path=None)
    nested = weights_by_layer(project.weights or {})
    graph = _check(project)
    problems = []
    for node in graph.nodes:
        names = node.weight_names
        if not names:
            continue
        have = nested.get(node.name, {})
        missing = [w for w in names if w not in have]
        if missing:
            problems.append(
                Problem(f"the trained weights lack '{node.name}/{missing[0]}'", layer=node.name)
            )
            continue
        layer = model.get_layer(node.name)
        expected = [tuple(v.shape) for v in layer.weights]
        arrays = [have[w] for w in names]
        got = [tuple(a.shape) for a in arrays]
        if got != expected:
            problems.append(
                Problem(
                    f"the trained weights have shapes {got} but the layer needs {expected}",
                    layer=node.name,
                )
            )
            continue
        layer.set_weights(arrays)
    if problems:
        raise ValidationError(problems)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=".weights.h5", dir=folder)
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NNDError(
            f"could not write the weights: {exc}", str(out_path.with_suffix(".weights.h5"))
        ) from exc
    return tmp
