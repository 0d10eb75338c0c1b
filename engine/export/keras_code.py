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

This module assembles the script (imports, constants, ``main()``) and writes the files; the
parts come from :mod:`engine.export.source` (the layout of Python source),
:mod:`engine.export.model_code` (``build_model()``) and :mod:`engine.export.data_code`
(``load_data()``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import NNDError, Problem, ValidationError
from engine.export.data_code import load_data_code
from engine.export.model_code import build_model_lines, check_exportable, compiled
from engine.export.source import INDENT, LINE_LENGTH, Call, docstring, lit, render
from engine.project import Project, atomic_write, make_ordinary, weights_by_layer

__all__ = ["LINE_LENGTH", "export_project", "keras_code"]


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
    graph = check_exportable(project)
    script = Path(script_dir) if script_dir is not None else None
    model_lines = build_model_lines(project, graph)
    data_lines, data = load_data_code(project, graph, script)
    fit = project.fit
    split = "dataset" in project.data and float(fit.get("validation_split", 0.0)) > 0

    imports_std = ["import argparse"] if compiled(project) else []
    imports_std += [f"import {m}" for m in ("csv", "gzip", "math") if m in data.imports]
    if compiled(project):
        imports_std.append("import os")  # TF_CONFIG, for --distribute multiworker
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
    if compiled(project):
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
    out = docstring(doc, 0) + [""] + (imports_std + [""] if imports_std else [])
    out += imports_third + [""]
    constants = [
        f"EPOCHS = {int(fit['epochs'])}",
        f"BATCH_SIZE = {int(fit['batch_size'])}",
    ]
    if split:
        constants.append(f"VALIDATION_SPLIT = {lit(float(fit['validation_split']))}")
    if data.test_split:
        constants.append(f"TEST_SPLIT = {lit(data.test_split)}")
    constants.append(f"SEED = {int(fit['seed'])}")
    if compiled(project):
        dist = (
            project.data.get("distribute")
            if isinstance(project.data.get("distribute"), dict)
            else {}
        )
        strategy = lit(dist.get("strategy"))
        constants.append(f"DISTRIBUTE = {strategy}  # or --distribute mirrored|multiworker")
        constants.append(f"REPLICAS = {lit(dist.get('replicas'))}  # or --replicas N")
    if project.weights:
        constants.append('WEIGHTS_PATH = Path(__file__).with_suffix(".weights.h5")')
    constants += data.constants
    out += constants + ["", ""]
    out += model_lines
    seen = set()
    helpers = list(data.helpers)
    trains = compiled(project) and "numpy" in data.imports  # else load_data() only raises
    if compiled(project):
        helpers.append(_DISTRIBUTION)
    if trains:
        helpers.append(_MULTIWORKER)
    for helper in helpers:
        if helper in seen:
            continue
        seen.add(helper)
        out += ["", ""] + helper.strip("\n").split("\n")
    out += ["", ""] + data_lines
    out += ["", ""] + _main_lines(project, data.has_test, data.weighted, trains)
    out += ["", "", 'if __name__ == "__main__":', f"{INDENT}main()"]
    return "\n".join(out) + "\n"


_DISTRIBUTION = '''
def distribution(kind, replicas):
    """TensorFlow's MirroredStrategy over every GPU, or over ``replicas`` logical
    CPU devices; MultiWorkerMirroredStrategy over the cluster TF_CONFIG names;
    the default strategy (one device) without ``kind``."""
    import tensorflow as tf

    if kind is None:
        if replicas:
            raise SystemExit("--replicas splits the CPU for --distribute mirrored")
        return tf.distribute.get_strategy()
    if kind == "multiworker":
        if replicas:
            raise SystemExit("--replicas is for --distribute mirrored")
        if not os.environ.get("TF_CONFIG"):
            raise SystemExit("--distribute multiworker needs TF_CONFIG (the cluster)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if not replicas:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    )
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:replicas]
    return tf.distribute.MirroredStrategy(devices=devices)
'''

_MULTIWORKER = '''
def fit_multiworker(strategy, model, x, y, epochs, validation_data=None, shuffle=True):
    """model.fit's training as a custom loop, for MultiWorkerMirroredStrategy, on which
    Keras 3's fit does not run (keras-team/keras#20585).

    Every worker holds the same data and takes its replicas' share of each global
    batch of BATCH_SIZE samples; tf.nn.compute_average_loss averages the loss over the
    global batch and Keras' optimizer all-reduces the gradients, so the run equals one
    device's. The validation data is scored by Keras' evaluate on a copy of the model
    outside the strategy. Returns the history, as model.fit's History.history.
    """
    import tensorflow as tf

    loss_fn = keras.losses.get(model.loss)
    per_sample = loss_fn.call if isinstance(loss_fn, keras.losses.Loss) else loss_fn
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)

    def replica_step(xb, yb, n):
        with tf.GradientTape() as tape:
            out = model(xb, training=True)
            if len(out.shape) == len(yb.shape) + 1 and out.shape[-1] == 1:
                yb = tf.expand_dims(yb, -1)  # labels (n,) for outputs (n, 1)
            per = per_sample(yb, out)
            loss = tf.nn.compute_average_loss(per, global_batch_size=n)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def train_step(xb, yb, n):
        losses = strategy.run(replica_step, args=(xb, yb, n))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def shard(batch):
        parts = np.array_split(batch, replicas)
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(parts[ctx.replica_id_in_sync_group])
        )

    plain = build_model()  # outside the strategy: Keras' evaluate runs there
    rng = np.random.default_rng(SEED)  # the same order on every worker
    history = {}
    for epoch in range(epochs):
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        total = 0.0
        for start in range(0, len(x), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            n = tf.constant(len(idx), tf.int64)
            total += float(train_step(shard(x[idx]), shard(y[idx]), n)) * len(idx)
        logs = {"loss": total / len(x)}
        if validation_data is not None:
            plain.set_weights(model.get_weights())
            scores = plain.evaluate(
                *validation_data, batch_size=BATCH_SIZE, verbose=0, return_dict=True
            )
            logs.update({"val_" + k: v for k, v in scores.items()})
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
        shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        print(f"Epoch {epoch + 1}/{epochs} - {shown}", flush=True)
    return history
'''


def _multiworker_lines(project: Project, weighted: bool) -> list[str]:
    """``if args.distribute == "multiworker":`` the custom loop (or why it cannot run)."""
    lines = [f'{INDENT}if args.distribute == "multiworker":']
    missing = [name for name, _ in _fit_extras(project) + _callbacks_arg(project)]
    if weighted:
        missing.insert(0, "sample_weight")
    if missing:
        message = f"the multiworker loop takes no {', '.join(missing)}; use model.fit"
        one = f"{INDENT * 2}raise SystemExit({lit(message)})"
        if len(one) <= 88:
            lines.append(one)
        else:  # as ruff formats it: the text on lines of its own
            import textwrap

            parts = textwrap.wrap(message, 70, drop_whitespace=False)
            lines.append(f"{INDENT * 2}raise SystemExit(")
            lines += [f"{INDENT * 3}{lit(part)}" for part in parts]
            lines.append(f"{INDENT * 2})")
    else:
        shuffle = lit(bool(project.fit.get("shuffle", True)))
        lines.append(f"{INDENT * 2}fit_multiworker(")
        lines.append(
            f"{INDENT * 3}strategy, model, x_train, y_train, args.epochs, validation_data, "
            f"{shuffle}"
        )
        lines.append(f"{INDENT * 2})")
    lines.append(f"{INDENT * 2}return")
    return lines


def _fit_extras(project: Project) -> list[tuple[str, Any]]:
    """``class_weight={0: 1.0, 1: 5.0}``, ``steps_per_epoch``, ``initial_epoch`` when set."""
    fit = project.fit
    out: list[tuple[str, Any]] = []
    weights = fit.get("class_weight")
    if weights:
        items = sorted((int(k), float(v)) for k, v in weights.items())
        out.append(("class_weight", "{" + ", ".join(f"{k}: {lit(v)}" for k, v in items) + "}"))
    if fit.get("steps_per_epoch") is not None:
        out.append(("steps_per_epoch", lit(int(fit["steps_per_epoch"]))))
    if fit.get("initial_epoch"):
        out.append(("initial_epoch", lit(int(fit["initial_epoch"]))))
    return out


def _callbacks_arg(project: Project) -> list[tuple[str, Call]]:
    """``callbacks=[keras.callbacks.EarlyStopping(...), ...]`` for the project's callbacks,
    each with the settings that differ from Keras' defaults; none when it has none."""
    from engine.callbacks import REQUIRED_KEYS, resolve_callback, resolve_callbacks

    calls = []
    for cls, config in resolve_callbacks(project.fit.get("callbacks")):
        defaults = resolve_callback(cls)[1]
        required = REQUIRED_KEYS.get(cls, ())
        args = [(k, lit(v)) for k, v in config.items() if k in required or v != defaults[k]]
        calls.append(Call(f"keras.callbacks.{cls}", args))
    return [("callbacks", Call("", calls, "[", "]"))] if calls else []


def _main_lines(
    project: Project, test: bool, weighted: bool = False, trains: bool = True
) -> list[str]:
    if not compiled(project):
        return [
            "def main():",
            f'{INDENT}"""Build the model and print its summary (it has no compile settings)."""',
            f"{INDENT}model = build_model()",
            f"{INDENT}model.summary()",
            f"{INDENT}# To train it: model.compile(optimizer=..., loss=...), then model.fit(...)",
            f"{INDENT}# on the data of load_data().",
        ]
    lines = ["def main():"]
    doc = "Train the model with the project's settings"
    lines += docstring(doc + (", then evaluate it on the test set." if test else "."), 1)
    lines.append(f"{INDENT}parser = argparse.ArgumentParser(description=__doc__)")
    lines += render(
        Call(
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
    lines += render(
        Call(
            "parser.add_argument",
            [
                '"--distribute"',
                ("choices", '["mirrored", "multiworker"]'),
                ("default", "DISTRIBUTE"),
                ("help", '"data-parallel: mirrored (every GPU), multiworker (TF_CONFIG)"'),
            ],
        ),
        1,
    )
    lines += render(
        Call(
            "parser.add_argument",
            [
                '"--replicas"',
                ("type", "int"),
                ("default", "REPLICAS"),
                ("help", '"with --distribute: N logical CPU devices"'),
            ],
        ),
        1,
    )
    lines.append(f"{INDENT}args = parser.parse_args()")
    lines.append(f"{INDENT}# before anything starts TensorFlow: its devices are made once")
    lines.append(f"{INDENT}strategy = distribution(args.distribute, args.replicas)")
    lines.append(f"{INDENT}keras.utils.set_random_seed(SEED)")
    train, tested = (
        ("(x_train, y_train, w_train)", "(x_test, y_test, w_test)")
        if weighted
        else (
            "(x_train, y_train)",
            "(x_test, y_test)",
        )
    )
    if test:
        lines.append(f"{INDENT}{train}, validation_data, {tested} = load_data()")
    else:
        lines.append(f"{INDENT}{train}, validation_data = load_data()")
    lines.append(f"{INDENT}with strategy.scope():  # one copy of the model per replica")
    lines.append(f"{INDENT}{INDENT}model = build_model()")
    if trains:
        lines += _multiworker_lines(project, weighted)
    fit = Call(
        "model.fit",
        [
            "x_train",
            "y_train",
            ("batch_size", "BATCH_SIZE"),
            ("epochs", "args.epochs"),
            ("shuffle", lit(bool(project.fit.get("shuffle", True)))),
            ("validation_data", "validation_data"),
        ]
        + ([("sample_weight", "w_train")] if weighted else [])
        + _callbacks_arg(project)
        + _fit_extras(project),
    )
    lines += render(fit, 1)
    if test:
        evaluate = Call(
            "model.evaluate",
            [
                "x_test",
                "y_test",
                ("batch_size", "BATCH_SIZE"),
                ("verbose", "0"),
                ("return_dict", "True"),
            ]
            + ([("sample_weight", "w_test")] if weighted else []),
        )
        lines += render(evaluate, 1, "scores = ")
        lines.append(
            f'{INDENT}print("test:", ", ".join(f"{{k}} {{v:.4f}}" for k, v in scores.items()))'
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
    graph = check_exportable(project)
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
