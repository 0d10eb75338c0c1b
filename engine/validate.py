"""Whole-project validation: the model, compile/fit settings, dataset spec, and the fit between
the network, the loss and the data. Every problem names the layer and field at fault.

Two levels: :func:`check_project` (``training=True``, the default) demands what training needs
(a dataset, a loss, a network that fits in memory); ``training=False`` checks only what the
model and settings say, so that a model imported from Keras without a dataset or compile
settings can be summarized and exported."""

from __future__ import annotations

import math

import numpy as np

from engine.errors import NNDError, Problem, ValidationError
from engine.graph import BACKENDS, DTYPES, Graph, analyze_model, memory_estimate
from engine.losses import canonical_loss, is_mismatched
from engine.memory import format_bytes, memory_limit
from engine.optimizers import DEFAULT_OPTIMIZER, is_perceptron, resolve_optimizer
from engine.optimizers import optimizer_class as _optimizer_class
from engine.regularizers import resolve_regularizer

COMPILE_KEYS = ("optimizer", "loss", "metrics")
FIT_KEYS = (
    "epochs",
    "batch_size",
    "validation_split",
    "validation_split_mode",
    "shuffle",
    "seed",
    "callbacks",
    "class_weight",
    "steps_per_epoch",
    "initial_epoch",
    "watch",
)
#: How validation_split holds samples out: NN Designer's seeded stratified draw, or the last
#: fraction as Keras' fit(validation_split=...) does.
VALIDATION_SPLIT_MODES = ("stratified", "last")
TOP_KEYS_KNOWN = (
    "format_version",
    "name",
    "model",
    "compile",
    "fit",
    "dataset",
    "backend",
    "dtype",
    "distribute",
)


#: What a command that needs data says of a project without a dataset (an imported model).
NO_DATASET = (
    "this project has no dataset; set one in the Dataset panel, or pass --data FILE to "
    "nndesigner train"
)
#: The largest seed: Keras' set_random_seed seeds NumPy's legacy generator, which takes 32 bits.
MAX_SEED = 2**32 - 1


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def compile_section(project) -> dict:
    """The project's ``compile`` object, or ``{}`` when it is missing or not an object (that
    is reported by :func:`settings_problems`)."""
    comp = project.data.get("compile")
    return comp if isinstance(comp, dict) else {}


def optimizer_class(project) -> str | None:
    """The resolved optimizer class name, or None when the spec is invalid."""
    return _optimizer_class(compile_section(project).get("optimizer", DEFAULT_OPTIMIZER))


def settings_problems(project, training: bool = True) -> list[Problem]:
    """Problems in compile, fit, dataset, backend and dtype (not the layers).

    With ``training`` False, a project without a ``dataset`` or without a ``compile`` section
    (a Keras model imported uncompiled) is not at fault: only what is there is checked.
    """
    from engine.data import dataset_param_problems

    problems: list[Problem] = []
    data = project.data
    comp = data.get("compile", {})
    comp_ok = isinstance(comp, dict)
    if not comp_ok:
        problems.append(Problem(f"must be an object, got {json_kind(comp)}", field="compile"))
        comp = {}
    for key in comp:
        if key not in COMPILE_KEYS:
            problems.append(
                Problem(f"unknown key; known: {', '.join(COMPILE_KEYS)}", field=f"compile.{key}")
            )
    opt_class = None
    try:
        # Keras' compile() defaults to "rmsprop" when no optimizer is given.
        opt_class, _ = resolve_optimizer(comp.get("optimizer", DEFAULT_OPTIMIZER))
    except (ValueError, TypeError) as exc:
        problems.append(Problem(str(exc), field="compile.optimizer"))
    loss = comp.get("loss")
    uncompiled = "compile" not in data
    if loss is None:
        # A compile that is not an object is reported once, above, not again as a lost loss.
        if (
            opt_class is not None
            and not is_perceptron(opt_class)
            and comp_ok
            and (training or not uncompiled)
        ):
            why = (
                "the model has no compile settings (imported uncompiled?); choose a loss to "
                "train it"
                if uncompiled
                else "is required (only the Perceptron optimizer needs no loss)"
            )
            problems.append(Problem(why, field="compile.loss"))
    else:
        from engine.losses import LOSS_NAMES, resolve_loss

        try:
            resolve_loss(loss)
        except ValueError as exc:  # a known loss with a setting it cannot have
            problems.append(Problem(str(exc), field="compile.loss"))
        except (KeyError, TypeError, AttributeError):
            problems.append(
                Problem(
                    f"unknown loss {_short(loss)}; expected one of {', '.join(LOSS_NAMES)}",
                    field="compile.loss",
                )
            )
    metrics = comp.get("metrics", [])
    if not isinstance(metrics, list):
        problems.append(
            Problem(
                f'must be a list like ["accuracy"], got {_short(metrics)}', field="compile.metrics"
            )
        )
    else:
        from engine.metrics import resolve_metric

        keys: set[str] = set()
        for m in metrics:
            try:
                key = resolve_metric(m).key
            except ValueError as exc:
                problems.append(Problem(str(exc), field="compile.metrics"))
                continue
            if key in keys:  # Keras' history would hold one of them only
                problems.append(
                    Problem(
                        f"two metrics log under {key!r}; give one a 'name' of its own",
                        field="compile.metrics",
                    )
                )
            keys.add(key)

    fit = data.get("fit", {})
    if not isinstance(fit, dict):
        problems.append(Problem(f"must be an object, got {json_kind(fit)}", field="fit"))
        fit = {}
    for key in fit:
        if key not in FIT_KEYS:
            problems.append(
                Problem(f"unknown key; known: {', '.join(FIT_KEYS)}", field=f"fit.{key}")
            )
    for key, lo in (("epochs", 1), ("batch_size", 1)):
        if key in fit and (not _is_int(fit[key]) or fit[key] < lo):
            problems.append(
                Problem(
                    f"must be an integer of at least {lo}, got {_short(fit[key])}",
                    field=f"fit.{key}",
                )
            )
    if "seed" in fit and (not _is_int(fit["seed"]) or not 0 <= fit["seed"] <= MAX_SEED):
        problems.append(
            Problem(
                f"must be an integer from 0 to {MAX_SEED}, got {_short(fit['seed'])}",
                field="fit.seed",
            )
        )
    if "validation_split" in fit:
        v = fit["validation_split"]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not (0 <= v < 1)
            or not math.isfinite(v)
        ):
            problems.append(
                Problem(
                    f"must be a number in [0, 1), got {_short(v)}", field="fit.validation_split"
                )
            )
    mode = fit.get("validation_split_mode")
    if mode is not None and mode not in VALIDATION_SPLIT_MODES:
        problems.append(
            Problem(
                f"must be {' or '.join(VALIDATION_SPLIT_MODES)}, got {_short(mode)}",
                field="fit.validation_split_mode",
            )
        )
    problems += _fit_count_problems(fit)
    if "shuffle" in fit and not isinstance(fit["shuffle"], bool):
        problems.append(
            Problem(f"must be true or false, got {_short(fit['shuffle'])}", field="fit.shuffle")
        )
    if "watch" in fit:
        from engine.watch import watch_problems

        problems += [Problem(m, field="fit.watch") for m in watch_problems(fit["watch"])]
    if "callbacks" in fit:
        from engine.callbacks import resolve_callbacks

        try:
            callbacks = resolve_callbacks(fit["callbacks"])
        except ValueError as exc:
            problems.append(Problem(str(exc), field="fit.callbacks"))
        else:
            comp = data.get("compile") if isinstance(data.get("compile"), dict) else {}
            opt = comp.get("optimizer")
            config = opt.get("config") if isinstance(opt, dict) else None
            scheduled = isinstance((config or {}).get("learning_rate"), dict)
            if scheduled and any(cls == "ReduceLROnPlateau" for cls, _ in callbacks):
                problems.append(
                    Problem(
                        "ReduceLROnPlateau cannot change the rate of a learning-rate schedule "
                        "(Keras refuses it too); use a constant learning_rate or drop the "
                        "callback",
                        field="fit.callbacks",
                    )
                )

    ds = data.get("dataset")
    if ds is None and "dataset" not in data:
        if training:
            problems.append(Problem(NO_DATASET, field="dataset"))
    elif not isinstance(ds, dict):
        problems.append(
            Problem(
                'must be an object like {"name": "digits"} or {"path": "data.npz"}', field="dataset"
            )
        )
    else:
        for msg in dataset_param_problems(ds):
            problems.append(Problem(msg, field="dataset"))

    if data.get("backend", "numpy") not in BACKENDS:
        problems.append(
            Problem(
                f"must be one of {', '.join(BACKENDS)}, got {_short(data.get('backend'))}",
                field="backend",
            )
        )
    problems += _distribute_problems(data)
    if data.get("dtype", "float32") not in DTYPES:
        problems.append(
            Problem(
                f"must be one of {', '.join(DTYPES)}, got {_short(data.get('dtype'))}",
                field="dtype",
            )
        )
    if "name" in data and not isinstance(data["name"], str):
        problems.append(Problem(f"must be a text, got {_short(data['name'])}", field="name"))
    return problems


def _distribute_problems(data: dict) -> list[Problem]:
    """The ``distribute`` section: ``{"strategy": "mirrored", "replicas": N}`` (replicas:
    logical CPU devices; absent: every GPU) or ``{"strategy": "multiworker"}`` (the cluster
    from ``TF_CONFIG``), TensorFlow backend only."""
    spec = data.get("distribute")
    if spec is None:
        return []
    from engine.backends.tensorflow.distribute import DISTRIBUTE_CHOICES

    if not isinstance(spec, dict):
        return [
            Problem(f'must be {{"strategy": "mirrored"}}, got {_short(spec)}', field="distribute")
        ]
    problems = []
    for key in spec:
        if key not in ("strategy", "replicas"):
            problems.append(
                Problem("unknown key; known: strategy, replicas", field=f"distribute.{key}")
            )
    if spec.get("strategy") not in DISTRIBUTE_CHOICES:
        problems.append(
            Problem(
                f"must be one of {', '.join(DISTRIBUTE_CHOICES)}, got "
                f"{_short(spec.get('strategy'))}",
                field="distribute.strategy",
            )
        )
    replicas = spec.get("replicas")
    if replicas is not None and (not _is_int(replicas) or not 1 <= replicas <= 64):
        problems.append(
            Problem(
                f"must be a whole number from 1 to 64, got {_short(replicas)}",
                field="distribute.replicas",
            )
        )
    if replicas is not None and spec.get("strategy") == "multiworker":
        problems.append(
            Problem(
                "splits one machine's CPU for the mirrored strategy; a multiworker cluster "
                "uses each worker's GPUs, or its CPU",
                field="distribute.replicas",
            )
        )
    if data.get("backend", "numpy") != "tensorflow":
        problems.append(
            Problem(
                "distributed training runs on TensorFlow's strategies: set the backend to "
                "tensorflow",
                field="distribute",
            )
        )
    fit = data.get("fit") if isinstance(data.get("fit"), dict) else {}
    batch = fit.get("batch_size", 32)
    if _is_int(replicas) and _is_int(batch) and batch < replicas:
        problems.append(
            Problem(
                f"{replicas} replicas each need a sample of every batch; batch_size is {batch}",
                field="distribute.replicas",
            )
        )
    return problems


def _fit_count_problems(fit: dict) -> list[Problem]:
    """steps_per_epoch, initial_epoch and class_weight, as Keras' fit takes them."""
    problems = []
    spe = fit.get("steps_per_epoch")
    if spe is not None and (not _is_int(spe) or spe < 1):
        problems.append(
            Problem(
                f"must be a whole number of at least 1 (absent: a whole pass), got {_short(spe)}",
                field="fit.steps_per_epoch",
            )
        )
    start = fit.get("initial_epoch", 0)
    epochs = fit.get("epochs", 1)
    if not _is_int(start) or start < 0:
        problems.append(
            Problem(
                f"must be a whole number of at least 0, got {_short(start)}",
                field="fit.initial_epoch",
            )
        )
    elif _is_int(epochs) and start >= epochs:
        problems.append(
            Problem(
                f"is {_short(start)} but epochs is {_short(epochs)}: Keras' epochs counts to "
                f"the last epoch's number, so nothing would train; set epochs above "
                f"{_short(start)}",
                field="fit.initial_epoch",
            )
        )
    weights = fit.get("class_weight")
    if weights is not None:
        why = class_weight_problem(weights)
        if why:
            problems.append(Problem(why, field="fit.class_weight"))
    return problems


def class_weight_problem(weights) -> str | None:
    """What is wrong with a ``class_weight`` mapping (class index -> weight), or None."""
    if not isinstance(weights, dict):
        return (
            f'must map class indices to weights, like {{"0": 1.0, "1": 5.0}}, got {_short(weights)}'
        )
    for key, value in weights.items():
        is_index = (isinstance(key, str) and key.isdigit() and len(key) <= 9) or (
            _is_int(key) and 0 <= key < 10**9
        )
        if not is_index:
            return f"the class {_short(key)} is not a class index (0, 1, 2, ...)"
        text = str(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            return f"class {text}'s weight must be a number of at least 0, got {_short(value)}"
    if len({int(k) for k in weights}) != len(weights):
        return "a class is given twice"
    return None


def json_kind(value) -> str:
    """A JSON value's kind as a person names it: ``[1]`` -> ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _short(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a 5000-digit number stays readable."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr (sys.int_info.str_digits_check_threshold)
        return f"a {value.bit_length()}-bit integer"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def combination_problems(project, graph: Graph, training: bool = True) -> list[Problem]:
    """Problems that need both the graph and the settings (sign/Perceptron, and with
    ``training`` whether training fits in memory)."""
    problems: list[Problem] = []
    opt_class = optimizer_class(project)
    for node in graph.nodes:
        if node.activation == "sign" and opt_class is not None and not is_perceptron(opt_class):
            problems.append(
                Problem(
                    "activation 'sign' has no useful gradient; it is valid only with the "
                    f"Perceptron optimizer (the project uses {opt_class})",
                    layer=node.name,
                    field="activation",
                )
            )
    if is_perceptron(opt_class):
        # The perceptron is one fully connected unit; a layer that flattens may feed it.
        dense = [n for n in graph.nodes if n.layer_type.fully_connected]
        others = [
            n for n in graph.nodes if not (n.layer_type.fully_connected or n.layer_type.flattens)
        ]
        if len(dense) != 1 or others:
            problems.append(
                Problem(
                    "the Perceptron optimizer trains a single perceptron: the model must be one "
                    'Dense(1, activation="sign") layer (a Flatten before it is allowed)',
                    field="compile.optimizer",
                )
            )
        else:
            d = dense[0]
            if d.config["units"] != 1 or d.activation != "sign":
                problems.append(
                    Problem(
                        'the Perceptron optimizer needs units=1 and activation="sign" '
                        f"(got units={d.config['units']}, activation={d.activation!r})",
                        layer=d.name,
                    )
                )
            if d.output_shape != (1,):
                problems.append(
                    Problem("the perceptron's input must be flat (add a Flatten)", layer=d.name)
                )
    problems += _metric_problems(project, graph)
    column = project.dataset.get("sample_weight") if isinstance(project.dataset, dict) else None
    if column is not None:
        if project.fit.get("class_weight"):
            problems.append(
                Problem(
                    "the dataset's sample_weight column and fit.class_weight cannot both weigh "
                    "the samples (Keras refuses both); remove one",
                    field="fit.class_weight",
                )
            )
        problems += _weighting_problems(graph, opt_class, "sample", "dataset.sample_weight")
    if project.fit.get("class_weight"):
        problems += _weighting_problems(graph, opt_class, "class", "fit.class_weight")
    if project.dtype == "float64":
        problems += _float32_only_problems(graph)
    if project.backend == "tensorflow":
        from engine.backends.tensorflow import unsupported_problems

        problems += unsupported_problems(
            graph, compile_section(project).get("optimizer", DEFAULT_OPTIMIZER)
        )
    if training:
        problems += _memory_problems(project, graph)
    return problems


def _weighting_problems(graph: Graph, opt_class, what: str, field: str) -> list[Problem]:
    """Why the network cannot weigh its samples' losses (``what``: "sample" or "class")."""
    if is_perceptron(opt_class):
        return [
            Problem(
                f"the Perceptron's rule updates on each mistake alike; it takes no {what} weights",
                field=field,
            )
        ]
    shape = graph.output_node.output_shape
    if len(shape) != 1:
        return [
            Problem(
                f"weighs each sample's loss; the output must be one vector per sample (it is "
                f"{shape})",
                field=field,
            )
        ]
    return []


def _metric_problems(project, graph: Graph) -> list[Problem]:
    """The metrics that cannot score this output against the loss's targets."""
    from engine.metrics import metric_problem, resolve_metric

    comp = compile_section(project)
    metrics = comp.get("metrics", [])
    loss = comp.get("loss")
    try:
        sparse = loss is not None and canonical_loss(loss) == "sparse_categorical_crossentropy"
    except KeyError:
        return []  # the loss is reported on its own
    width = graph.output_node.output_shape[-1]
    problems = []
    for m in metrics if isinstance(metrics, list) else []:
        try:
            spec = resolve_metric(m)
        except ValueError:
            continue  # reported by settings_problems
        why = metric_problem(spec, width, sparse, is_perceptron(optimizer_class(project)))
        if why:
            problems.append(Problem(why, field="compile.metrics"))
    return problems


def _float32_only_problems(graph: Graph) -> list[Problem]:
    """Keras 3's OrthogonalRegularizer multiplies its float32 factor with the tensor and fails
    on a float64 model (a TypeError in model.fit): the project would not run in Keras."""
    problems = []
    for node in graph.nodes:
        for p in node.layer_type.params:
            value = node.config.get(p.name) if p.kind == "regularizer" else None
            if value is not None and resolve_regularizer(value)[0] == "OrthogonalRegularizer":
                problems.append(
                    Problem(
                        "OrthogonalRegularizer works on float32 models only: Keras multiplies "
                        "its float32 factor with float64 weights and fails (use dtype "
                        "float32, or L1/L2)",
                        layer=node.name,
                        field=p.name,
                    )
                )
    return problems


def _memory_problems(project, graph: Graph) -> list[Problem]:
    """Training must fit in the real limit (RAM, ``ulimit -v``, the cgroup's)."""
    problems: list[Problem] = []
    fit = project.fit
    batch = fit.get("batch_size", 32) if _is_int(fit.get("batch_size")) else 32
    need = memory_estimate(graph, project.dtype if project.dtype in DTYPES else "float32", batch)
    limit = memory_limit()
    if limit is not None and need > limit.nbytes * 0.8:
        problems.append(
            Problem(
                f"the network is too large for this machine: training it needs about "
                f"{_format_need(need)} (weights, gradients, optimizer state and one batch of "
                f"activations) but the limit here is {limit.describe()}",
                field="model",
            )
        )
    return problems


def _format_need(nbytes: int) -> str:
    # A network of 10**400 units needs more bytes than a float can hold.
    limit = 1 << 60
    return format_bytes(nbytes) if nbytes < limit else f"more than {format_bytes(limit)}"


def project_problems(project, training: bool = True) -> tuple[Graph | None, list[Problem]]:
    """Every problem of the project that can be found without loading data.

    ``training`` False leaves out what only training needs: a dataset, a loss when the project
    has no compile section, and the memory check (see :func:`settings_problems`).
    """
    graph, problems = analyze_model(project.data.get("model", {}))
    problems = problems + settings_problems(project, training)
    if graph is not None:
        problems += combination_problems(project, graph, training)
    return graph, problems


def check_project(project, training: bool = True) -> Graph:
    """Validate everything except the data; return the graph or raise ValidationError.

    ``training`` False checks only what a summary or an export needs (see
    :func:`project_problems`).
    """
    graph, problems = project_problems(project, training)
    if problems:
        raise ValidationError(problems)
    assert graph is not None
    return graph


def input_layout_problem(graph: Graph, dataset) -> str | None:
    """Why the data cannot reach the network's input (:func:`engine.data.layout.layout_problem`
    says it for any network); None when they can. A network with image layers (Conv2D, the
    poolings: ``image_input``) given flat data that are not images hears which layers need
    images and what to do."""
    from engine.data.layout import layout_problem, shape_text

    message = layout_problem(dataset, graph.input_shape)
    if message is None:
        return None
    image_layers = [nd.name for nd in graph.nodes if nd.layer_type.image_input]
    if image_layers and getattr(dataset, "image_shape", None) is None:
        shown = ", ".join(f"'{n}'" for n in image_layers[:3]) + (
            "..." if len(image_layers) > 3 else ""
        )
        return (
            f"the network's image layers ({shown}) need images of shape (height, width, "
            f"channels) but the data have samples of shape "
            f"{shape_text(dataset.feature_shape)}, which are not images, and the model input "
            f"{shape_text(graph.input_shape)} holds a different number of values; use image "
            "data (an image folder, IDX files, an .npz archive of (n, H, W, C) inputs) or set "
            "input_shape to a shape with as many values as a sample"
        )
    return message


def image_input_hint(project, dataset) -> Problem | None:
    """For a network that cannot be built yet: when it has image layers (``image_input``)
    and the data are images of another shape than its input, the input shape to set (a flat
    ``[64]`` before a Conv2D on the digits). None otherwise. Needs no graph: the spec's layer
    types and input shape say it."""
    from engine.data.layout import shape_text
    from engine.data.match import is_image_network

    image = getattr(dataset, "image_shape", None)
    if image is None or not is_image_network(project.data):
        return None
    current = (project.data.get("model") or {}).get("input_shape")
    if isinstance(current, list) and [*current] == [*image]:
        return None
    shown = list(current) if isinstance(current, list) else current
    return Problem(
        f"the network's image layers need the data's {image[0]}x{image[1]} images with "
        f"{image[2]} channel{'s' * (image[2] != 1)}, but the model input is {shown!r}; set "
        f"input_shape to {list(image)} (the samples {shape_text(dataset.feature_shape)} are "
        "then given as images) or use Match network to data",
        field="model.input_shape",
    )


def data_fit_problems(project, graph: Graph, dataset) -> list[Problem]:
    """Does the network fit the data: input shape, output width vs loss and classes."""
    problems: list[Problem] = []
    shape_problem = input_layout_problem(graph, dataset)
    if shape_problem is not None:
        problems.append(Problem(shape_problem, field="model.input_shape"))
    out = graph.output_node
    width = out.output_shape[-1]
    loss_raw = compile_section(project).get("loss")
    loss = canonical_loss(loss_raw) if loss_raw is not None else None
    opt_class = optimizer_class(project)
    cls = dataset.task == "classification"
    k = dataset.n_classes or 0
    # The output width is the units field of a fully connected output layer.
    where = {"layer": out.name, "field": "units" if out.layer_type.fully_connected else None}

    class_weight = project.fit.get("class_weight")
    if class_weight and isinstance(class_weight, dict):
        if not cls:
            problems.append(
                Problem(
                    "weighs classes, but the data has a numeric target (regression)",
                    field="fit.class_weight",
                )
            )
        else:
            beyond = sorted(
                int(c) for c in class_weight if class_weight_problem({c: 1}) is None and int(c) >= k
            )
            if beyond:
                problems.append(
                    Problem(
                        f"names class {beyond[0]}, but the data has {k} classes (0 to {k - 1})",
                        field="fit.class_weight",
                    )
                )
    if is_perceptron(opt_class):
        if not cls or k > 2:
            problems.append(
                Problem(
                    f"the Perceptron separates two classes; the data has "
                    f"{'a numeric target' if not cls else f'{k} classes'}",
                    field="dataset",
                )
            )
        return problems
    if loss is None:
        return problems
    if loss == "sparse_categorical_crossentropy":
        if not cls:
            problems.append(
                Problem(
                    "sparse_categorical_crossentropy needs class labels, the data has a numeric "
                    "target",
                    field="compile.loss",
                )
            )
        elif width < k:
            problems.append(
                Problem(
                    f"the output has {width} units but the data has {k} classes; set units to {k}",
                    **where,
                )
            )
    elif loss in ("categorical_crossentropy", "categorical_focal_crossentropy"):
        if cls and width != k:
            problems.append(
                Problem(
                    f"{loss} needs one output unit per class: {k} classes but {width} units",
                    **where,
                )
            )
        if not cls:
            problems.append(
                Problem(
                    f"{loss} needs class labels, the data has a numeric target",
                    field="compile.loss",
                )
            )
    elif loss in ("binary_crossentropy", "hinge", "binary_focal_crossentropy"):
        if cls and k > 2 and width != k:
            problems.append(
                Problem(
                    f"{loss} with {k} classes needs {k} output units (one-hot), got {width}; "
                    "for one label per sample use sparse_categorical_crossentropy",
                    **where,
                )
            )
        elif cls and k <= 2 and width != 1 and width != k:
            problems.append(
                Problem(f"{loss} on two classes needs 1 output unit, got {width}", **where)
            )
        if not cls:
            ys = dataset.y
            if ys.ndim == 2 and ys.shape[1] != width:
                problems.append(
                    Problem(
                        f"the target has {ys.shape[1]} columns but the output has {width} units",
                        **where,
                    )
                )
    else:  # mean_squared_error, mean_absolute_error
        if cls and width not in (1, k):
            problems.append(
                Problem(
                    f"{loss} on {k} classes needs {k} output units (one-hot) or 1 (the label as a "
                    f"number), got {width}",
                    **where,
                )
            )
        if not cls:
            cols = dataset.y.shape[1] if dataset.y.ndim == 2 else 1
            if cols != width:
                problems.append(
                    Problem(
                        f"the target has {cols} column(s) but the output has {width} units", **where
                    )
                )
    return problems


CATEGORICAL_LOSSES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
)
BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")


def probability_activation(loss: str, width: int, activation: str | None) -> str | None:
    """The output activation a cross-entropy ``loss`` (canonical name) wants: softmax for the
    categorical ones, sigmoid for a binary one on one unit (or in place of a softmax); None
    when the loss asks for none."""
    if loss in CATEGORICAL_LOSSES:
        return "softmax"
    if loss in BINARY_LOSSES and (width == 1 or activation == "softmax"):
        return "sigmoid"
    return None


def loss_output_problems(project, graph: Graph | None, dataset=None) -> list[Problem]:
    """Mismatches between the output layer and the loss that still train, badly: a
    cross-entropy needs probabilities (softmax, or sigmoid for one unit), a mismatched pair
    (:func:`engine.losses.is_mismatched`: Keras scores another function of the logits than the
    output shows) is named with its fix, and a sparse cross-entropy over ``k`` classes wants
    ``k`` output units (more are never the answer).

    ``dataset`` (a loaded engine dataset, or None) gives the number of classes.
    """
    loss = (project.data.get("compile") or {}).get("loss")
    if not isinstance(loss, str) or graph is None or graph.output_node is None:
        return []
    try:
        loss = canonical_loss(loss)
    except (KeyError, ValueError, NNDError):
        return []
    out = graph.output_node
    act = out.activation
    width = out.output_shape[-1] if out.output_shape else 0
    problems = []
    want = probability_activation(loss, width, act)
    if is_mismatched(act, loss):
        other = (
            " (independent yes/no outputs), or categorical_crossentropy (one class per sample)"
            if want == "sigmoid" and width > 1
            else ""
        )
        problems.append(
            Problem(
                f"Keras scores a {act} output with {loss} as {want}(z) of its logits, so the "
                f"loss does not measure the {act} outputs the network shows (the app and the "
                f"exported script both train on {want}(z)); use '{want}'{other}",
                layer=out.name,
                field="activation",
            )
        )
    elif want is not None and act is not None and act != want:
        problems.append(
            Problem(
                f"{loss} expects probabilities but the output uses activation '{act}'; use "
                f"'{want}'",
                layer=out.name,
                field="activation",
            )
        )
    k = getattr(dataset, "n_classes", None) or 0
    if (
        loss == "sparse_categorical_crossentropy"
        and getattr(dataset, "task", "") == "classification"
        and k
        and width > k
    ):
        problems.append(
            Problem(
                f"the output has {width} units but the data has {k} classes; set units to {k}",
                layer=out.name,
                field="units",
            )
        )
    return problems


def check_data_fit(project, graph: Graph, dataset) -> None:
    problems = data_fit_problems(project, graph, dataset)
    if problems:
        raise ValidationError(problems)


def encode_targets(
    project, graph: Graph, y: np.ndarray, n_classes: int | None, task: str, dtype
) -> np.ndarray:
    """Turn dataset labels into what the loss expects.

    Parameters
    ----------
    y : ndarray of shape (n,) int for classification, (n, k) float for regression

    Returns
    -------
    ndarray
        ``(n,)`` int64 for sparse_categorical_crossentropy; ``(n, width)`` floats otherwise
        (one-hot when the output has one unit per class; -1/+1 for the Perceptron).
    """
    width = graph.output_node.output_shape[-1]
    opt_class = optimizer_class(project)
    if is_perceptron(opt_class):
        # The seed's rule works on targets -1/+1; 0/1 labels map to them.
        return np.where(y.reshape(-1, 1) > 0, 1.0, -1.0).astype(dtype)
    loss_raw = compile_section(project).get("loss")
    loss = canonical_loss(loss_raw) if loss_raw is not None else None
    if task != "classification":
        y2 = y.reshape(len(y), -1)
        return y2.astype(dtype)
    if loss == "sparse_categorical_crossentropy":
        return y.astype(np.int64).reshape(-1)
    if width == 1:
        return y.reshape(-1, 1).astype(dtype)
    onehot = np.zeros((len(y), width), dtype=dtype)
    onehot[np.arange(len(y)), y.astype(np.int64)] = 1
    return onehot
