"""A project as one readable, self-contained Keras 3 script.

:func:`keras_code` turns the spec into the text of a Python file that defines

- ``build_model()``: the network (``keras.Sequential`` for a chain, the functional API for a
  graph with merges), compiled with the project's optimizer, loss and metrics, and loading the
  exported weights when the project was trained;
- ``load_data()``: the project's dataset, read and prepared exactly as NN Designer does: the
  built-in sets, ``.npz`` and ``.npy`` files, IDX images, CSV/TSV tables and image folders;
  the test split, the seeded stratified validation split and the scaling (standardization or
  min-max, fitted on the training split) are written out in the file, which never imports NN
  Designer. It returns ``(x_train, y_train), validation`` (``(x_val, y_val)``, or None
  without a validation split) and, when the project has a test set (the data's own, such as
  MNIST's or an ``.npz`` file's ``x_test``, or a ``test_split``), ``(x_test, y_test)`` as a
  third item;
- ``main()``: trains with the project's fit settings, then evaluates on the test set when
  there is one; ``--epochs N`` overrides the epochs.

What the data looks like when the code is generated is written into the script as constants
(which files, the settings a table is read with, whether there is a test set); the values
are read when the script runs. Generation never imports TensorFlow, so the designer's code
preview can call :func:`keras_code` on every edit, and it reads no data except where a spec
leaves something to detection: the directory of an ``.npz`` archive and the presence of the
files beside an ``.npy`` or IDX file (stat calls), and the reading settings of a table or an
image folder that the spec does not pin (``engine.data.load_dataset``'s ``Dataset.detected``;
read once per version of the file, then remembered). :func:`export_project` writes the file
atomically and, for a trained project, ``<stem>.weights.h5`` beside it (Keras' own weights
format; Keras is imported then).

The code is written as a person would: only non-default arguments, Keras' names, lines of at
most 88 characters, and calls that do not fit split one argument per line with a trailing
comma, so that ``ruff format`` leaves the text as it is.
"""

from __future__ import annotations

import builtins
import functools
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
        # Never at hyphens: file names such as train-images-idx3-ubyte.gz stay whole.
        room = width - (3 if i == 0 else 0)
        text = " ".join(para.split())
        lines += textwrap.wrap(text, room, break_on_hyphens=False) or [""]
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
    args: list[Any] = node.layer_type.code_args(node.config, _lit, _initializer)
    if dtype != "float32":
        args.append(("dtype", _lit(dtype)))
    args.append(("name", _lit(node.name)))
    return _Call(f"layers.{node.class_name}", args)


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


def _compiled(project: Project) -> bool:
    """Whether the project has compile settings (an imported uncompiled model has none)."""
    return "compile" in project.data


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
    if _compiled(project):
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
    if _compiled(project):
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
def read_npz(path, *keys):
    """Arrays of an .npz file, by key (read without unpickling anything)."""
    with np.load(path, allow_pickle=False) as data:
        return [data[key] for key in keys]
'''

_AS_INPUTS = '''
def as_inputs(x):
    """Inputs as float32 rows; a 1-D array is one feature."""
    x = x.astype(np.float32)
    return x.reshape(-1, 1) if x.ndim == 1 else x
'''

_IS_CLASSIFICATION = '''
def is_classification(y):
    """Whole-number targets of shape (n,) or (n, 1) are class labels."""
    if y.ndim == 2 and y.shape[1] != 1:
        return False
    return y.dtype.kind in "biu" or bool(np.all(np.floor(y) == y))
'''

_AS_TARGETS = '''
def as_targets(ys, classification):
    """The targets of every part, training first. Classification: class indices 0, 1,
    ... of shape (n,), from one-hot rows, or from labels (n,) or (n, 1) numbered in
    sorted order of their values over all the parts (-1/+1 and 3/7 become 0/1; labels
    0, 1, 2... stay). Regression: float32 targets of shape (n, k)."""
    if not classification:
        return [y.astype(np.float32).reshape(len(y), -1) for y in ys]
    if ys[0].ndim == 2 and ys[0].shape[1] > 1:
        return [y.argmax(axis=1).astype(np.int64) for y in ys]
    labels = np.unique(np.concatenate([y.reshape(-1) for y in ys]))
    if not np.array_equal(labels, np.arange(len(labels))):
        shown = ", ".join(f"{v:g}" for v in labels)
        print(f"class labels {shown} are the classes 0 to {len(labels) - 1}")
    return [np.searchsorted(labels, y.reshape(-1)).astype(np.int64) for y in ys]
'''

_AS_NAMED_TARGETS = '''
def as_targets(ys, classification):
    """The targets of every part, training first. Classification: class indices of
    shape (n,), from one-hot rows or from labels (n,) or (n, 1), which index the
    archive's class_names. Regression: float32 targets of shape (n, k)."""
    if not classification:
        return [y.astype(np.float32).reshape(len(y), -1) for y in ys]
    if ys[0].ndim == 2 and ys[0].shape[1] > 1:
        return [y.argmax(axis=1).astype(np.int64) for y in ys]
    return [y.reshape(-1).astype(np.int64) for y in ys]
'''

_READ_TABLE = '''
def read_table(path):
    """The header (None without one) and the other non-blank rows of a delimited text
    file, each row a list of cells."""
    # Universal newlines, not newline="": NN Designer reads \\r\\n and \\r as \\n, in quoted
    # cells too.
    with open(path, encoding=ENCODING) as f:
        reader = csv.reader(f, delimiter=DELIMITER, skipinitialspace=True)
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    if HEADER:
        return [cell.strip() for cell in rows[0]], rows[1:]
    return None, rows
'''

_COLUMN = '''
def column(header, rows, ref):
    """The cells of one column, named by its header or by its 0-based index."""
    j = header.index(ref) if isinstance(ref, str) else ref
    return [row[j] for row in rows]
'''

_TO_NUMBERS = '''
def to_numbers(cells):
    """Cells as float64 numbers; ValueError for a cell that is not one."""
    if DECIMAL == ",":
        cells = [cell.replace(",", ".") for cell in cells]
    return np.array(cells, dtype=np.float64)
'''

_CLASS_INDICES = '''
def class_indices(cells):
    """Class indices 0, 1, ... of a target column, in sorted order of its values: sorted
    as numbers when every cell is a finite number, else as text."""
    try:
        values = to_numbers(cells)
        numeric = bool(np.all(np.abs(values) <= np.finfo(np.float32).max))
    except ValueError:
        numeric = False
    if not numeric:
        values = np.array([cell.strip() for cell in cells], dtype=str)
    return np.unique(values, return_inverse=True)[1].astype(np.int64).reshape(-1)
'''

_READ_IDX = '''
def read_idx(path):
    """The array in an IDX file (MNIST's format), gzip-compressed or not."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\\x1f\\x8b":
        data = gzip.decompress(data)
    types = {8: "u1", 9: "i1", 11: ">i2", 12: ">i4", 13: ">f4", 14: ">f8"}
    dtype = np.dtype(types[data[2]])
    shape = [int(d) for d in np.frombuffer(data, ">u4", count=data[3], offset=4)]
    values = np.frombuffer(data, dtype, offset=4 + 4 * data[3])
    return values.reshape(shape).astype(dtype.newbyteorder("="))
'''

_IDX_INPUTS = '''
def idx_inputs(images):
    """IDX images as float32 rows; 8-bit pixels are scaled to [0, 1]."""
    x = images.reshape(len(images), -1).astype(np.float32)
    return x / np.float32(255.0) if images.dtype == np.uint8 else x
'''

_READ_IMAGE_FOLDER = '''
def read_image_folder(folder):
    """Images and class indices from a folder with one subfolder per class: classes in
    sorted order of their names; hidden folders and other files are skipped."""
    suffixes = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
    entries = sorted(Path(folder).iterdir(), key=lambda p: p.name)
    classes = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    images, labels = [], []
    for label, class_folder in enumerate(classes):
        for path in sorted(class_folder.iterdir(), key=lambda p: p.name):
            if path.is_file() and path.suffix.lower() in suffixes:
                images.append(read_image(path))
                labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)
'''

_READ_IMAGE_GRAY = '''
def read_image(path):
    """One image as float32 values in [0, 1]: grayscale, resized to IMAGE_SIZE with
    bilinear filtering, flattened row by row."""
    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16"):  # 16-bit grayscale to 8 bits
            pixels = np.asarray(image, dtype=np.float64) / 65535.0 * 255.0
            image = Image.fromarray(pixels.round().astype(np.uint8))
        elif image.mode in ("I", "F"):  # 32 bits have no fixed range: to its maximum
            pixels = np.asarray(image, dtype=np.float64)
            finite = pixels.size and np.isfinite(pixels).all()
            top = float(pixels.max()) if finite else 0.0
            pixels = np.clip(pixels / top if top > 0 else pixels * 0, 0, 1) * 255.0
            image = Image.fromarray(pixels.round().astype(np.uint8))
        image = image.convert("L")
        size = (IMAGE_SIZE[1], IMAGE_SIZE[0])  # Pillow's sizes are (width, height)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(-1) / np.float32(255.0)
'''

_READ_IMAGE_RGB = '''
def read_image(path):
    """One image as float32 values in [0, 1]: RGB, resized to IMAGE_SIZE with bilinear
    filtering, flattened row by row with the channels last."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        size = (IMAGE_SIZE[1], IMAGE_SIZE[0])  # Pillow's sizes are (width, height)
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)
    return pixels.reshape(-1) / np.float32(255.0)
'''

_HOLD_OUT = '''
def hold_out(x, y, fraction, seed):
    """Hold out a seeded random share of the samples, keeping each class's share.

    Returns the rest and the share held out, ``(x, y), (x_out, y_out)``, both in the
    original sample order.
    """
    n = len(x)
    n_out = min(max(round(fraction * n), 1), n - 1)
    rng = np.random.default_rng(seed)
    if y.ndim == 1 and y.dtype.kind in "biu":
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        ideal = n_out * counts / n
        take = np.floor(ideal).astype(np.int64)
        # Leftover samples go to the classes with the largest remainders.
        order = np.lexsort((rng.random(len(classes)), -(ideal - take)))
        take[order[: n_out - int(take.sum())]] += 1
        chosen = []
        for c in range(len(classes)):
            chosen.append(rng.permutation(np.flatnonzero(inverse == c))[: take[c]])
        out_index = np.concatenate(chosen)
    else:
        out_index = rng.permutation(n)[:n_out]
    is_out = np.zeros(n, dtype=bool)
    is_out[out_index] = True
    return (x[~is_out], y[~is_out]), (x[is_out], y[is_out])
'''

_FIT_STANDARDIZER = '''
def fit_standardizer(x):
    """Per-feature mean and standard deviation of x (1 for a constant feature)."""
    x64 = x.astype(np.float64)
    std = x64.std(axis=0)
    std[np.ptp(x64, axis=0) == 0] = 1.0
    return x64.mean(axis=0).astype(x.dtype), std.astype(x.dtype)
'''

_FIT_MINMAX = '''
def fit_minmax(x):
    """Per-feature minimum and range of x (range 1 for a constant feature)."""
    x64 = x.astype(np.float64)
    low = x64.min(axis=0)
    span = x64.max(axis=0) - low
    span[span <= 0] = 1.0
    return low.astype(x.dtype), span.astype(x.dtype)
'''

# The settings a table is read with; the script writes each as a constant.
_TABLE_KEYS = ("delimiter", "header", "encoding", "decimal", "target", "features", "task")


@dataclass
class _Data:
    """What load_data needs: helper functions, imports and its body."""

    helpers: list[str] = field(default_factory=list)
    # "numpy", "Path", "csv", "gzip", "PIL"
    imports: set[str] = field(default_factory=set)
    sklearn: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    description: str = ""
    task: str | None = "classification"  # None: decided when the file is read
    constants: list[str] = field(default_factory=list)
    # The source holds a test set of its own: the lines define x_test and y_test too.
    own_test: bool = False
    test_split: float = 0.0
    # Why the data could not be described (a table or image folder unreadable at export).
    unavailable: str | None = None

    @property
    def has_test(self) -> bool:
        return self.own_test or self.test_split > 0


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
        data.own_test = True
        data.description += " with its test set"
        emit(f"(x, y), (x_test, y_test) = keras.datasets.{name}.load_data()")
        emit("x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)")
        emit("x_test = x_test.reshape(len(x_test), -1).astype(np.float32) / np.float32(255.0)")
        emit("y, y_test = y.astype(np.int64), y_test.astype(np.int64)")


def _data_path(project: Project, path: str, script_dir: Path | None) -> tuple[str, str]:
    """Where a spec's path points, for the script: ``("home", "~/...")``, ``("beside",
    relative path from the script's folder)`` or ``("absolute", path)``."""
    if path.startswith("~"):
        return "home", path
    pure = PurePath(path)
    base = project.base_dir
    if pure.is_absolute():
        target = Path(path)
    elif base is None:
        # No project folder known: the file is taken to sit beside the script.
        return "beside", pure.as_posix()
    else:
        target = Path(os.path.normpath(base / pure))
    script_dir = script_dir or base
    if script_dir is not None:
        try:
            rel = os.path.relpath(target, script_dir)
        except ValueError:  # another drive (Windows)
            rel = None
        if rel is not None and not rel.startswith(".."):
            return "beside", Path(rel).as_posix()
    return "absolute", target.as_posix()


def _path_constant(name: str, kind: str, path: str) -> list[str]:
    """``NAME = <the path as a pathlib expression>``, its path split at slashes over lines
    when the line would be too long (ruff format keeps that layout)."""
    one_line = {
        "home": f"Path({_lit(path)}).expanduser()",
        "beside": f"Path(__file__).resolve().parent / {_lit(path)}",
        "absolute": f"Path({_lit(path)})",
    }[kind]
    if len(f"{name} = {one_line}") <= LINE_LENGTH:
        return [f"{name} = {one_line}"]
    room = LINE_LENGTH - len(_INDENT) - 3  # quotes and comma
    chunks: list[str] = []
    for part in path.split("/"):
        joined = chunks[-1].rstrip("/") + "/" + part if chunks else part or "/"
        if chunks and len(_lit(joined)) - 2 <= room:
            chunks[-1] = joined
        else:
            chunks.append(part or "/")
    func = "Path(__file__).resolve().parent.joinpath" if kind == "beside" else "Path"
    trailer = ".expanduser()" if kind == "home" else ""
    call = _Call(func, [_lit(c) for c in chunks], explode=True)
    return _render(call, 0, f"{name} = ", trailer)


@dataclass
class _Source:
    """A file dataset as code generation sees it."""

    project: Project
    spec: dict
    path: Path  # resolved
    script_dir: Path | None
    data: _Data

    def path_constant(self, name: str, path: str) -> list[str]:
        return _path_constant(name, *_data_path(self.project, path, self.script_dir))


def _file_source(project: Project, spec: dict, script_dir: Path | None, data: _Data) -> None:
    from engine.data import detect_format
    from engine.data.files import resolve_path

    source = _Source(project, spec, resolve_path(spec["path"], project.base_dir), script_dir, data)
    fmt = spec.get("format") or detect_format(source.path)
    data.imports |= {"numpy", "Path"}
    data.constants += source.path_constant("DATA_PATH", spec["path"])
    if fmt == "csv":
        _table_source(source)
    elif fmt == "npz":
        _npz_source(source)
    elif fmt == "npy":
        _npy_source(source)
    elif fmt == "idx":
        _idx_source(source)
    else:
        _images_source(source)


def _targets_line(ys: list[str], flag: str = "True") -> str:
    """``y, y_test = as_targets([y, y_test], flag)`` (``(y,) = ...`` for one part)."""
    names = ", ".join(ys)
    left = f"({names},)" if len(ys) == 1 else names
    return f"{left} = as_targets([{names}], {flag})"


def _file_targets(source: _Source, ys: list[str], named: bool = False) -> None:
    """Targets of an .npz or .npy file: the project's task, else inferred from all of them;
    labels numbered as engine.data.files numbers them (``named``: they index the archive's
    class_names)."""
    data = source.data
    data.task = source.spec.get("task")
    data.helpers.append(_AS_NAMED_TARGETS if named else _AS_TARGETS)
    if data.task is None:
        data.helpers.append(_IS_CLASSIFICATION)
        data.lines.append("classification = " + " and ".join(f"is_classification({y})" for y in ys))
        flag = "classification"
    else:
        flag = f"classification={data.task == 'classification'}"
    data.lines.append(_targets_line(ys, flag))


def _npz_source(source: _Source) -> None:
    from engine.data.files import npz_keys

    data = source.data
    try:
        # The archive's directory only (not its arrays): which layout, whether a test set.
        keys = npz_keys(source.path)
    except NNDError:
        keys = []  # not readable now: the x/y layout, without a test set
    suffix = "_train" if "x_train" in keys else ""
    data.own_test = "x_test" in keys or "y_test" in keys
    data.helpers += [_READ_NPZ, _AS_INPUTS]
    data.description = f"The data file {source.spec['path']}"
    data.lines.append(f'x, y = read_npz(DATA_PATH, "x{suffix}", "y{suffix}")')
    if data.own_test:
        data.description += " with its test set"
        data.lines.append('x_test, y_test = read_npz(DATA_PATH, "x_test", "y_test")')
        data.lines.append("x, x_test = as_inputs(x), as_inputs(x_test)")
    else:
        data.lines.append("x = as_inputs(x)")
    _file_targets(source, ["y", "y_test"] if data.own_test else ["y"], "class_names" in keys)


def _npy_source(source: _Source) -> None:
    from engine.data.files import find_y_file, resolve_path

    data, spec = source.data, source.spec
    if "y_path" in spec:
        y_path = resolve_path(spec["y_path"], source.project.base_dir)
        data.constants += source.path_constant("Y_PATH", spec["y_path"])
    else:
        y_path = find_y_file(source.path)  # by name, beside the inputs
        if y_path is None:
            data.unavailable = (
                f"no targets file was found beside {source.path.name} when this script was "
                'exported; give it as "y_path"'
            )
            return
        data.constants.append(f"Y_PATH = DATA_PATH.with_name({_lit(y_path.name)})")
    data.helpers.append(_AS_INPUTS)
    data.description = f"The arrays {source.path.name} and {y_path.name}"
    data.lines.append("x = as_inputs(np.load(DATA_PATH, allow_pickle=False))")
    data.lines.append("y = np.load(Y_PATH, allow_pickle=False)")
    _file_targets(source, ["y"])


def _idx_source(source: _Source) -> None:
    from engine.data.files import resolve_path
    from engine.data.idx import find_labels_file

    data, spec, path = source.data, source.spec, source.path
    found = find_labels_file(path)  # stat calls only, as for the test files below
    if "labels_path" in spec:
        labels = resolve_path(spec["labels_path"], source.project.base_dir)
        data.constants += source.path_constant("LABELS_PATH", spec["labels_path"])
    elif found is not None:
        labels = found
        data.constants.append(f"LABELS_PATH = DATA_PATH.with_name({_lit(found.name)})")
    else:
        data.unavailable = (
            f"no labels file was found beside {path.name} when this script was exported; "
            'give it as "labels_path"'
        )
        return
    # As NN Designer does: train-* images with their own labels get the t10k-* files beside
    # them as the test set.
    test_images = path.with_name("t10k" + path.name[len("train") :])
    test_labels = None
    if labels == found and path.name.lower().startswith("train") and test_images.is_file():
        test_labels = find_labels_file(test_images)
    data.own_test = test_labels is not None
    data.imports.add("gzip")
    data.helpers += [_READ_IDX, _IDX_INPUTS]
    data.task = spec.get("task") or "classification"
    data.description = f"The IDX images {path.name} with the labels {labels.name}"
    parts = [("", "DATA_PATH", "LABELS_PATH")]
    if test_labels is not None:
        data.constants += [
            f"TEST_DATA_PATH = DATA_PATH.with_name({_lit(test_images.name)})",
            f"TEST_LABELS_PATH = DATA_PATH.with_name({_lit(test_labels.name)})",
        ]
        data.description += f", and the test set in {test_images.name} and {test_labels.name}"
        parts.append(("_test", "TEST_DATA_PATH", "TEST_LABELS_PATH"))
    for suffix, images, labels_name in parts:
        data.lines.append(f"x{suffix} = idx_inputs(read_idx({images}))")
        if data.task == "classification":
            data.lines.append(f"y{suffix} = read_idx({labels_name})")
        else:
            data.lines.append(
                f"y{suffix} = read_idx({labels_name}).astype(np.float32).reshape(-1, 1)"
            )
    if data.task == "classification":
        # Labels numbered 0..k-1 in sorted order over both parts, as NN Designer does.
        data.helpers.append(_AS_TARGETS)
        data.lines.append(_targets_line(["y", "y_test"] if test_labels is not None else ["y"]))


def _table_source(source: _Source) -> None:
    from engine.data.tables import normalize_encoding

    data, spec = source.data, source.spec
    settings = _pinned_table_settings(spec)
    if settings is None:
        settings, error = _detected(spec, source.path)
        if settings is None:
            data.unavailable = (
                f"{spec['path']} could not be read when this script was exported ({error})"
            )
            return
    encoding = normalize_encoding(settings["encoding"])
    data.imports.add("csv")
    data.constants += [
        "# How NN Designer reads the table:",
        f"DELIMITER = {_lit(settings['delimiter'])}",
        f"HEADER = {_lit(bool(settings['header']))}",
        # NN Designer skips a byte order mark at the start of UTF-8 text, as utf-8-sig does.
        'ENCODING = "utf-8-sig"  # UTF-8, skipping a byte order mark'
        if encoding == "utf-8"
        else f"ENCODING = {_lit(encoding)}",
        f"DECIMAL = {_lit(settings['decimal'])}",
    ]
    target, features = settings["target"], settings["features"]
    data.constants += _render(_list_expr(target), 0, "TARGET = ")
    data.constants += _render(_list_expr(features), 0, "FEATURES = ")
    data.helpers += [_READ_TABLE, _COLUMN, _TO_NUMBERS]
    data.task = settings["task"]
    data.description = f"The table {spec['path']}"
    emit = data.lines.append
    emit("header, rows = read_table(DATA_PATH)")
    emit("x = np.stack([to_numbers(column(header, rows, name)) for name in FEATURES], axis=1)")
    emit("x = x.astype(np.float32)")
    if isinstance(target, list):
        emit("y = np.stack([to_numbers(column(header, rows, t)) for t in TARGET], axis=1)")
        emit("y = y.astype(np.float32)")
    elif data.task == "classification":
        data.helpers.append(_CLASS_INDICES)
        emit("y = class_indices(column(header, rows, TARGET))")
    else:
        emit("y = to_numbers(column(header, rows, TARGET)).astype(np.float32).reshape(-1, 1)")


def _list_expr(value: Any) -> Any:
    if not isinstance(value, list):
        return _lit(value)
    first = value[0] if value else None
    if (
        len(value) > 3
        and isinstance(first, int)
        and not isinstance(first, bool)
        and value == list(range(first, first + len(value)))
    ):
        start = f"{first}, " if first else ""
        return f"list(range({start}{first + len(value)}))"  # the columns of a wide table
    return _Call("", [_lit(v) for v in value], "[", "]")


def _pinned_table_settings(spec: dict) -> dict | None:
    """The table settings when the spec pins every one of them in the form the script uses
    (columns by header name or by index from 0), else None."""
    if not all(key in spec for key in _TABLE_KEYS):
        return None
    target = spec["target"]
    refs = (target if isinstance(target, list) else [target]) + list(spec["features"])
    for ref in refs:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            return None
        if isinstance(ref, int) and ref < 0:
            return None
        if isinstance(ref, str) and (not spec["header"] or ref != ref.strip() or _int_like(ref)):
            return None  # a name to resolve, or a string read as an index: detect them
    return {key: spec[key] for key in _TABLE_KEYS}


def _int_like(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def _images_source(source: _Source) -> None:
    data, spec = source.data, source.spec
    if "image_size" in spec and "color" in spec:
        settings = {"image_size": spec["image_size"], "color": spec["color"]}
    else:
        settings, error = _detected(spec, source.path)
        if settings is None:
            data.unavailable = (
                f"{spec['path']} could not be read when this script was exported ({error})"
            )
            return
    height, width = (int(v) for v in settings["image_size"])
    color = settings["color"]
    data.constants.append(f"IMAGE_SIZE = ({height}, {width})  # height, width")
    data.imports.add("PIL")
    data.helpers += [
        _READ_IMAGE_GRAY if color == "grayscale" else _READ_IMAGE_RGB,
        _READ_IMAGE_FOLDER,
    ]
    data.description = (
        f"The images in {spec['path']}, one subfolder per class, {height}x{width} {color}"
    )
    data.lines.append("x, y = read_image_folder(DATA_PATH)")


def _detected(spec: dict, path: Path) -> tuple[dict | None, str | None]:
    """How NN Designer reads a table or image folder (``Dataset.detected``), or None and why
    it cannot be read.

    The script writes these settings as constants so that it never sniffs. Knowing them
    means reading the data once: the result is kept per version of the file (size and
    modification time; for a folder, those of it and its class folders), so the code
    preview, which regenerates the code on every edit, reads the data once per change.
    """
    from engine.data import COMMON_KEYS

    file_spec = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    file_spec["path"] = str(path)
    detected, error = _detect(json.dumps(file_spec, sort_keys=True), _version(path))
    return (dict(detected) if detected is not None else None), error


@functools.lru_cache(maxsize=16)
def _detect(spec_json: str, version: tuple) -> tuple[dict | None, str | None]:
    from engine.data import load_dataset

    try:
        return load_dataset(json.loads(spec_json)).detected, None
    except NNDError as exc:
        return None, str(exc)


def _version(path: Path) -> tuple:
    try:
        stats = [path.stat()]
        if path.is_dir():
            stats += [p.stat() for p in sorted(path.iterdir()) if p.is_dir()]
    except OSError:
        return ()
    return tuple((s.st_size, s.st_mtime_ns) for s in stats)


def _encode_lines(project: Project, graph: Graph, np_dtype: str, parts: list[str]) -> list[str]:
    """Class labels as the loss wants them (engine.validate.encode_targets)."""
    from engine.backends.numpy.losses import canonical_loss

    if not _compiled(project):
        return []  # no loss to encode for: the labels stay as the data has them
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


def _raising_load_data(doc: str, message: str) -> list[str]:
    """A load_data() that stops the script with ``message``."""
    body = ["def load_data():"] + _docstring(doc, 1)
    one_line = f"{_INDENT}raise SystemExit({_lit(message)})"
    if len(one_line) <= LINE_LENGTH:
        return body + [one_line]
    # Implicitly concatenated pieces, one a line, each ending in a space but the last.
    width = LINE_LENGTH - 2 * len(_INDENT) - 2
    pieces, piece = [], ""
    for word in message.split(" "):
        if piece and len(_lit(piece + word)) > width:
            pieces.append(piece)
            piece = ""
        piece += word + " "
    pieces.append(piece.rstrip(" "))
    return (
        body
        + [f"{_INDENT}raise SystemExit("]
        + [_INDENT * 2 + _lit(p) for p in pieces]
        + [f"{_INDENT})"]
    )


def _in_dtype(code: str, dtype: str) -> str:
    """Data-reading code that makes float32 arrays, made to make ``dtype`` ones instead (the
    float32 range check of table cells stays: NN Designer keeps it whatever the dtype)."""
    for old in (".astype(np.float32)", "dtype=np.float32", "np.float32(255.0)"):
        code = code.replace(old, old.replace("float32", dtype))
    return code.replace("as float32", f"as {dtype}").replace("float32 targets", f"{dtype} targets")


def _load_data(project: Project, graph: Graph, script_dir: Path | None) -> tuple[list[str], _Data]:
    from engine.data import COMMON_KEYS, scale_of

    spec = project.dataset
    data = _Data()
    if "dataset" not in project.data:
        body = _raising_load_data(
            "Training and validation data: the project names no dataset.",
            "This model was exported without a dataset: write load_data() to return "
            "(x_train, y_train), (x_val, y_val).",
        )
        return body, data
    if "name" in spec:
        params = {k: v for k, v in spec.items() if k != "name" and k not in COMMON_KEYS}
        _builtin_source(spec["name"], params, data)
    else:
        _file_source(project, spec, script_dir, data)
    if data.unavailable is not None:
        body = _raising_load_data(
            "Training and validation data: the data could not be read at export.",
            f"{data.unavailable}. Export the project again once NN Designer can read its data.",
        )
        return body, _Data()
    data.test_split = float(spec.get("test_split", 0.0))
    if data.own_test and data.test_split:
        # NN Designer refuses it too (engine.data.prepare).
        raise NNDError(
            f"{spec.get('name') or spec['path']} has a test set of its own; remove "
            '"test_split" from the dataset or use the data without its test set'
        )
    np_dtype = f"np.{project.dtype}"
    if project.dtype != "float32":
        # NN Designer reads the data in the project's dtype (engine.data.load_dataset), never
        # through float32: the script's readers do the same.
        data.helpers = [_in_dtype(h, project.dtype) for h in data.helpers]
        data.lines = [_in_dtype(line, project.dtype) for line in data.lines]
    lines = data.lines
    split = float(project.fit.get("validation_split", 0.0)) > 0
    if data.test_split:
        data.helpers.append(_HOLD_OUT)
        lines += [
            "# The test set first, from a seed stream of its own: another validation_split",
            "# never changes which samples it holds.",
            "(x, y), (x_test, y_test) = hold_out(x, y, TEST_SPLIT, (SEED, 0x7E57))",
        ]
    if split:
        data.helpers.append(_HOLD_OUT)
        lines.append("(x_train, y_train), (x_val, y_val) = hold_out(x, y, VALIDATION_SPLIT, SEED)")
    else:
        lines.append("x_train, y_train = x, y")
    parts = ["train"] + (["val"] if split else []) + (["test"] if data.has_test else [])
    scale = scale_of(spec)
    if scale != "none":
        helper, fit, shift, factor = {
            "standardize": (_FIT_STANDARDIZER, "fit_standardizer", "mean", "std"),
            "minmax": (_FIT_MINMAX, "fit_minmax", "low", "span"),
        }[scale]
        data.helpers.append(helper)
        lines.append(f"{shift}, {factor} = {fit}(x_train)")
        lines += [f"x_{p} = (x_{p} - {shift}) / {factor}" for p in parts]
    encode = _encode_lines(project, graph, np_dtype, [f"y_{p}" for p in parts])
    if encode and data.task is None:
        lines.append("if classification:")
        lines += [_INDENT + line for line in encode]
    elif data.task != "regression":
        lines += encode
    returned = ["(x_train, y_train)", "(x_val, y_val)" if split else "None"]
    if data.has_test:
        returned.append("(x_test, y_test)")
    lines.append("return " + ", ".join(returned))

    how = ["split"] if split or data.test_split else []
    how += {"standardize": ["standardized"], "minmax": ["min-max scaled"]}.get(scale, [])
    done = f", {' and '.join(how)} as NN Designer does" if how else ""
    val = "``(x_val, y_val)``" if split else "None (the project holds out no validation data)"
    if data.has_test:
        title = "Training, validation and test data, prepared as in NN Designer."
        returns = f"``(x_train, y_train)``, {val} and ``(x_test, y_test)``"
    else:
        title = "Training and validation data, prepared as in NN Designer."
        returns = f"``(x_train, y_train)`` and {val}"
    doc = f"{title}\n\n{data.description}{done}. Returns {returns}."
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

    imports_std = ["import argparse"] if _compiled(project) else []
    imports_std += [f"import {m}" for m in ("csv", "gzip") if m in data.imports]
    if project.weights or "Path" in data.imports:
        imports_std.append("from pathlib import Path")
    imports_third = ["import keras"]
    if "numpy" in data.imports:
        imports_third.append("import numpy as np")
    imports_third.append("from keras import layers")
    if "PIL" in data.imports:
        imports_third.append("from PIL import Image")
    if data.sklearn:
        imports_third.append(f"from sklearn.datasets import {', '.join(sorted(data.sklearn))}")

    title = project.name
    then = " and then evaluates it on the test set" if data.has_test else ""
    if _compiled(project):
        doc = (
            f"{title}: a Keras model exported from NN Designer.\n\n"
            f'Generated by NN Designer from the project "{title}". build_model() returns the '
            "compiled network, load_data() the data prepared as in the designer, and running "
            "this file trains the model with the project's settings (--epochs N overrides the "
            f"number of epochs){then}."
        )
    else:
        doc = (
            f"{title}: a Keras model exported from NN Designer.\n\n"
            f'Generated by NN Designer from the project "{title}", which has no compile '
            "settings: build_model() returns the network, not compiled, and running this file "
            "builds it and prints its summary. Compile it with an optimizer and a loss to "
            "train it."
        )
    if project.weights:
        doc += (
            " The trained weights are read from the .weights.h5 file of the same name beside "
            "this file."
        )
    out = _docstring(doc, 0) + [""] + (imports_std + [""] if imports_std else [])
    out += imports_third + [""]
    constants = [
        f"EPOCHS = {int(fit['epochs'])}",
        f"BATCH_SIZE = {int(fit['batch_size'])}",
    ]
    if split:
        constants.append(f"VALIDATION_SPLIT = {_lit(float(fit['validation_split']))}")
    if data.test_split:
        constants.append(f"TEST_SPLIT = {_lit(data.test_split)}")
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
    out += ["", ""] + _main_lines(project, data.has_test)
    out += ["", "", 'if __name__ == "__main__":', f"{_INDENT}main()"]
    return "\n".join(out) + "\n"


def _main_lines(project: Project, test: bool) -> list[str]:
    if not _compiled(project):
        return [
            "def main():",
            f'{_INDENT}"""Build the model and print its summary (it has no compile settings)."""',
            f"{_INDENT}model = build_model()",
            f"{_INDENT}model.summary()",
            f"{_INDENT}# To train it: model.compile(optimizer=..., loss=...), then model.fit(...)",
            f"{_INDENT}# on the data of load_data().",
        ]
    lines = ["def main():"]
    doc = "Train the model with the project's settings"
    lines += _docstring(doc + (", then evaluate it on the test set." if test else "."), 1)
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
    if test:
        lines.append(
            f"{_INDENT}(x_train, y_train), validation_data, (x_test, y_test) = load_data()"
        )
    else:
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
    if test:
        evaluate = _Call(
            "model.evaluate",
            [
                "x_test",
                "y_test",
                ("batch_size", "BATCH_SIZE"),
                ("verbose", "0"),
                ("return_dict", "True"),
            ],
        )
        lines += _render(evaluate, 1, "scores = ")
        lines.append(
            f'{_INDENT}print("test:", ", ".join(f"{{k}} {{v:.4f}}" for k, v in scores.items()))'
        )
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
