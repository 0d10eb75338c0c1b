"""A saved Keras model (``.keras`` or legacy ``.h5``) as a project, with its weights.

:func:`import_keras_model` loads the model with Keras, walks its layers and maps each Keras
config onto NN Designer's layer table: a key the table lacks is dropped only when Keras holds it
at its "not used" value (``trainable`` true, no regularizer, no constraint...); anything else
NN Designer cannot represent is refused with a message naming the layer and the key. Layer names
are kept, so the weights are keyed ``"<keras layer name>/kernel"`` and ``"/bias"``. The compile
settings (optimizer, loss, metrics) are read when the model was saved compiled.

Keras is imported when :func:`import_keras_model` is called, never when this module is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engine.activations import ACTIVATION_NAMES
from engine.constraints import constraint_spec
from engine.errors import BackendUnavailableError, NNDError, ProjectError
from engine.graph import DTYPES, INPUT, analyze_model
from engine.initializers import parse_initializer as _parse_initializer
from engine.layers import INPUT_CLASS_NAME, LAYER_CLASS_NAMES, LAYER_TYPES
from engine.optimizers import OPTIMIZER_NAMES, PERCEPTRON
from engine.project import FORMAT_VERSION, Project, from_dict
from engine.regularizers import regularizer_spec

__all__ = ["MODEL_SUFFIXES", "import_keras_model"]

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")

# Keras config keys NN Designer has no field for, with the value that means "not used".
_UNUSED_VALUES: dict[str, Any] = {
    "trainable": True,
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "lora_rank": None,
    "lora_alpha": None,
    "quantization_config": None,
    "noise_shape": None,
    "data_format": "channels_last",
}

# The Keras optimizers NN Designer has (the Perceptron is its own rule, not Keras').
_OPTIMIZERS = tuple(name for name in OPTIMIZER_NAMES if name != PERCEPTRON)
# Names Keras gives models it was not told to name: the file name says more.
_AUTO_MODEL_NAME = re.compile(r"(sequential|functional|model)(_\d+)?")


def import_keras_model(path: str | os.PathLike, strict: bool = False) -> Project:
    """Read a saved Keras model into a project.

    Parameters
    ----------
    path : path
        A ``.keras`` file or a legacy ``.h5`` / ``.hdf5`` file; the model is Sequential or
        functional, with one input and one output, built from layers NN Designer supports.
    strict : bool
        Refuse a compile setting NN Designer cannot honour (an optimizer, loss or metric it does
        not have, a setting of one it cannot take). By default the rest of the model comes in:
        each such setting is replaced by the nearest supported one (Adam for an unknown
        optimizer, with its learning rate; a loss's own defaults for a setting the loss cannot
        take; an unknown metric left out) and named in ``project.load_warnings``. A layer
        setting NN Designer cannot represent is refused either way: it changes what the layer
        computes.

    Returns
    -------
    Project
        Not yet saved (``path`` None): ``name`` (the model's, or the file's stem when Keras
        named the model), ``model`` (``input_shape`` and the layers, with ``inbound`` only when
        the model is not a plain chain), ``compile`` when the model was saved compiled,
        ``backend`` and ``dtype``; no dataset. ``weights`` holds every weight keyed
        ``"<layer>/kernel"`` / ``"<layer>/bias"`` (None when the model has none).

    Raises
    ------
    NNDError
        The file is missing or not a Keras model (naming the file), a layer is of a class NN
        Designer does not support (naming the layer and the class), with ``strict`` a setting it
        cannot represent (naming the layer and the key), or Keras cannot be imported.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ProjectError("no such file", source)
    if path.is_dir():
        raise ProjectError(
            "is a folder (a TensorFlow SavedModel?), not a Keras model file; save the model with "
            "model.save('model.keras') and import that",
            source,
        )
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ProjectError(
            f"is not a Keras model file: expected a name ending in {', '.join(MODEL_SUFFIXES)}",
            source,
        )
    keras = _import_keras()
    model = _load(keras, path)
    warnings: list[str] | None = None if strict else []
    try:
        project = _project_from_model(keras, model, path, warnings)
        project.load_warnings = list(warnings or [])
        return project
    except NNDError as exc:
        if exc.where is None:
            raise NNDError(exc.message, source) from None
        raise
    except Exception as exc:  # noqa: BLE001 - Keras internals on an unusual model
        raise NNDError(
            f"cannot be imported ({type(exc).__name__}: {_first_line(exc)})", source
        ) from exc


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def _import_keras():
    try:
        import keras
    except Exception as exc:  # noqa: BLE001 - a broken TensorFlow fails in many ways
        raise BackendUnavailableError(
            f"importing a Keras model needs Keras (TensorFlow), which cannot be imported: {exc}"
        ) from None
    return keras


@contextlib.contextmanager
def _quiet():
    """Silence Keras' warnings while loading (legacy-format and optimizer notices)."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _load(keras, path: Path):
    source = str(path)
    with _quiet():
        try:
            return keras.saving.load_model(path, compile=True)
        except Exception:  # noqa: BLE001 - retried without the compile settings below
            pass
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - damaged files fail in many ways
            raise ProjectError(
                f"cannot be read as a Keras model ({type(exc).__name__}: {_first_line(exc)})",
                source,
            ) from None


# ------------------------------------------------------------------------------------------------
# Model -> spec
# ------------------------------------------------------------------------------------------------


def _article(word: str) -> str:
    if len(word) > 1 and word[:2].isupper():  # an acronym: LSTM, GRU, ReLU...
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[0].lower() in "aeiou" else "a"


def _unsupported(layer_name: str, class_name: str) -> NNDError:
    return NNDError(
        f"layer '{layer_name}' is {_article(class_name)} {class_name}, which NN Designer does "
        f"not support (supported: {', '.join(LAYER_CLASS_NAMES)})"
    )


def _project_name(model, path: Path) -> str:
    name = str(model.name or "")
    if not name or _AUTO_MODEL_NAME.fullmatch(name):
        return path.stem
    return name


def _settle(warnings: list[str] | None, message: str, replacement: str) -> None:
    """A setting NN Designer cannot honour: refused (``warnings`` None: --strict) or named in
    a warning with what replaces it."""
    if warnings is None:
        raise NNDError(message)
    warnings.append(f"{message}; {replacement}")


def _project_from_model(keras, model, path: Path, warnings: list[str] | None = None) -> Project:
    if not isinstance(model, keras.Model):
        raise NNDError(f"holds a {type(model).__name__}, not a Keras model")
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError):
        inputs, outputs = [], []
    if not inputs:
        raise NNDError(
            "the model has no defined input; build it with keras.Input(shape=...) before saving"
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise NNDError(
            f"the model has {len(inputs)} inputs and {len(outputs)} outputs; NN Designer "
            "models have one of each"
        )
    input_shape = list(inputs[0].shape[1:])
    if not input_shape or not all(isinstance(d, int) and d >= 1 for d in input_shape):
        shown = "(None, " + ", ".join(str(d) for d in input_shape) + ")"
        raise NNDError(
            f"the model input has shape {shown}; NN Designer needs every axis but the batch "
            "axis fixed"
        )

    input_names: set[str] = set()
    kept = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == INPUT_CLASS_NAME:
            input_names.add(layer.name)
            continue
        if cls not in LAYER_TYPES or not type(layer).__module__.startswith("keras."):
            raise _unsupported(layer.name, cls)
        kept.append(layer)
    if not kept:
        raise NNDError("the model has no layers")

    names = _project_names([layer.name for layer in kept])
    inbound = _inbound(model, kept, names, input_names)
    layers: list[dict] = []
    weights: dict[str, np.ndarray] = {}
    dtypes = set()
    for layer in kept:
        name = names[layer.name]
        cls = type(layer).__name__
        config = _layer_config(layer, cls, name)
        entry: dict[str, Any] = {"class_name": cls, "config": config}
        if inbound is not None:
            entry["inbound"] = inbound[layer.name]
        layers.append(entry)
        dtypes.add(_dtype_of(layer))
        expected = set(LAYER_TYPES[cls].weight_names(LAYER_TYPES[cls].resolve(config)))
        for var in layer.weights:
            wname = var.name.rpartition("/")[2]
            if wname not in expected:
                raise NNDError(
                    f"layer '{layer.name}' holds a weight '{wname}' that NN Designer cannot "
                    f"represent (a {cls} has {', '.join(sorted(expected)) or 'no weights'})"
                )
            weights[f"{name}/{wname}"] = np.array(var.numpy())
    if len(dtypes) > 1:
        raise NNDError(
            f"the layers compute in different dtypes ({', '.join(sorted(dtypes))}); NN Designer "
            "models use one dtype"
        )
    dtype = dtypes.pop()

    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": _project_name(model, path),
        "model": {"input_shape": input_shape, "layers": layers},
    }
    comp = _compile_settings(model, warnings)
    if comp:
        data["compile"] = comp
    data["backend"] = "numpy"
    data["dtype"] = dtype
    graph, problems = analyze_model(data["model"])
    if problems:
        raise NNDError("the model cannot be represented: " + "; ".join(str(p) for p in problems))
    project = from_dict(data, str(path))
    project.weights = weights or None
    return project


def _project_names(keras_names: list[str]) -> dict[str, str]:
    """Keras layer name -> project layer name: the same, except NN Designer's reserved
    ``input`` (the model input), which becomes ``input_1`` or the next free name."""
    taken = set(keras_names)
    out = {}
    for name in keras_names:
        if name == INPUT:
            n = 1
            while f"{INPUT}_{n}" in taken:
                n += 1
            new = f"{INPUT}_{n}"
            taken.add(new)
            out[name] = new
        else:
            out[name] = name
    return out


def _dtype_of(layer) -> str:
    policy = getattr(layer, "dtype_policy", None)
    name = getattr(policy, "name", None) or str(getattr(layer, "dtype", "float32"))
    if name not in DTYPES:
        raise NNDError(
            f"layer '{layer.name}' computes in dtype policy '{name}'; NN Designer supports "
            f"{' and '.join(DTYPES)}"
        )
    return name


def _inbound(
    model, kept, names: dict[str, str], input_names: set[str]
) -> dict[str, list[str]] | None:
    """Each layer's inputs by project name, or None for a plain chain (a Sequential)."""
    if type(model).__name__ == "Sequential":
        return None
    entries = {entry.get("name"): entry for entry in model.get_config().get("layers", [])}
    result: dict[str, list[str]] = {}
    for layer in kept:
        nodes = (entries.get(layer.name) or {}).get("inbound_nodes") or []
        if len(nodes) != 1:
            raise NNDError(
                f"layer '{layer.name}' is called {len(nodes)} times in the model; NN Designer "
                "layers are used once each (no shared layers)"
            )
        sources = []
        for tensor in _tensors(nodes[0].get("args", [])):
            history = tensor.get("config", {}).get("keras_history")
            if not history:
                continue
            src = history[0]
            sources.append(INPUT if src in input_names else names.get(src, src))
        if not sources:
            raise NNDError(f"cannot tell which layer feeds layer '{layer.name}'")
        result[layer.name] = sources
    previous = INPUT
    for layer in kept:
        if result[layer.name] != [previous]:
            return {names[k]: v for k, v in result.items()}
        previous = names[layer.name]
    return None


def _tensors(args: Any) -> list[dict]:
    """The serialized Keras tensors among a node's call arguments, in order."""
    if isinstance(args, dict):
        if args.get("class_name") == "__keras_tensor__":
            return [args]
        return []
    if isinstance(args, (list, tuple)):
        out = []
        for a in args:
            out += _tensors(a)
        return out
    return []


def _activation_name(value: Any, where: str) -> str:
    if isinstance(value, dict):  # a serialized function
        value = value.get("config") if value.get("class_name") == "function" else None
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in ACTIVATION_NAMES or value == "sign":
        raise NNDError(
            f"{where} uses the activation {value!r}, which NN Designer does not support "
            f"(supported: {', '.join(a for a in ACTIVATION_NAMES if a != 'sign')})"
        )
    return value


def _initializer_spec(value: Any, where: str) -> Any:
    if isinstance(value, str):
        spec: Any = value
    elif isinstance(value, dict):
        spec = {"class_name": value.get("class_name"), "config": value.get("config") or {}}
    else:
        raise NNDError(f"{where} is {value!r}, which NN Designer cannot represent")
    try:
        name, config = _parse_initializer(spec)
    except ValueError as exc:
        raise NNDError(f"{where}: {exc}") from None
    _, defaults = _parse_initializer(name)
    changed = {
        k: v for k, v in config.items() if (v is None) != (defaults[k] is None) or v != defaults[k]
    }
    if not changed:
        return name
    class_name = "".join(part.capitalize() for part in name.split("_"))
    return {"class_name": class_name, "config": changed}


def _rule_spec(kind: str, value: Any, where: str) -> Any:
    """A Keras regularizer or constraint as the project writes it (its shortest spec)."""
    if isinstance(value, dict):
        value = {"class_name": value.get("class_name"), "config": value.get("config") or {}}
    try:
        return regularizer_spec(value) if kind == "regularizer" else constraint_spec(value)
    except ValueError as exc:
        raise NNDError(f"{where}: {exc}") from None


def _layer_config(layer, cls: str, name: str) -> dict:
    """The project config of one Keras layer: its name and the non-default values (a value
    NN Designer cannot represent is refused, naming the layer and the key)."""
    ltype = LAYER_TYPES[cls]
    raw = ltype.import_config(layer.get_config())
    config: dict[str, Any] = {"name": name}
    label = f"layer '{layer.name}'"
    for key, value in raw.items():
        if key in ("name", "dtype"):
            continue
        param = ltype.param(key)
        if param is None:
            if key in _UNUSED_VALUES and value == _UNUSED_VALUES[key]:
                continue
            if key not in _UNUSED_VALUES and value is None:
                continue  # a Keras setting left unset
            # Refused even without --strict: a layer setting changes what the layer computes
            # (channels_first, a regularizer on a layer without one), so no replacement is near.
            raise NNDError(
                f"{label} ({cls}) sets {key}={value!r}, which NN Designer cannot represent"
            )
        if param.kind == "activation":
            value = _activation_name(value, label)
        elif param.kind == "initializer":
            value = _initializer_spec(value, f"{label}, {key}")
        elif param.kind in ("regularizer", "constraint") and value is not None:
            value = _rule_spec(param.kind, value, f"{label}, {key}")
        elif param.kind == "float" and isinstance(value, (int, float)):
            value = float(value)
        problem = param.check(value)
        if problem:
            raise NNDError(f"{label}, {key}: {problem}")
        if param.required or not param.is_default(value):
            # JSON has no tuples: Keras' (3, 3) is written [3, 3].
            config[key] = list(value) if isinstance(value, tuple) else value
    return config


# ------------------------------------------------------------------------------------------------
# Compile settings
# ------------------------------------------------------------------------------------------------


def _compile_settings(model, warnings: list[str] | None = None) -> dict:
    try:
        cc = model.get_compile_config()
    except Exception:  # noqa: BLE001 - no compile settings to read
        return {}
    if not cc or cc.get("loss") is None:
        # Compiled without a loss (Keras allows it for models that add their own): NN Designer
        # cannot train with an optimizer alone, so the project is taken as uncompiled.
        return {}
    for key in ("loss_weights", "weighted_metrics"):
        if cc.get(key):
            _settle(
                warnings,
                f"the model was compiled with {key}, which NN Designer does not support",
                "left out",
            )
    out: dict[str, Any] = {}
    if cc.get("optimizer") is not None:
        try:
            out["optimizer"] = _optimizer(cc["optimizer"])
        except NNDError as exc:
            out["optimizer"] = _nearest_optimizer(cc["optimizer"])
            rate = out["optimizer"]["config"]["learning_rate"]
            _settle(warnings, exc.message, f"Adam with learning_rate {rate:g} instead")
    if cc.get("loss") is not None:
        try:
            out["loss"] = _loss(cc["loss"])
        except NNDError as exc:
            out["loss"] = _nearest_loss(cc["loss"])
            _settle(warnings, exc.message, f"{out['loss']!r} instead")
    metrics = cc.get("metrics")
    if metrics:
        if not isinstance(metrics, (list, tuple)):
            raise NNDError(
                f"the model's metrics {metrics!r} are not a list; NN Designer models have one "
                "output"
            )
        out["metrics"] = []
        for m in metrics:
            try:
                out["metrics"].append(_metric(m))
            except NNDError as exc:
                _settle(warnings, exc.message, "left out")
        width = model.outputs[0].shape[-1] if model.outputs else None
        if width is not None and out.get("loss") is not None:
            out["metrics"] = _fitting_metrics(out["metrics"], out["loss"], width, warnings)
        if not out["metrics"]:
            del out["metrics"]
    return out


def _nearest_optimizer(spec: Any) -> dict:
    """Adam with the optimizer's learning rate (when it is a number), for an optimizer NN
    Designer cannot run or a setting it cannot honour."""
    config = spec.get("config") if isinstance(spec, dict) else None
    rate = (config or {}).get("learning_rate")
    number = isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0
    return {
        "class_name": "Adam",
        "config": {"learning_rate": _as_float32_value(float(rate)) if number else 0.001},
    }


def _nearest_loss(spec: Any) -> str:
    """The loss itself at its defaults when only a setting is out of reach (a crossentropy's
    ignore_class), else the nearest one NN Designer has: binary crossentropy for the overlap
    losses of masks (Dice, Tversky), mean squared error otherwise."""
    from engine.losses import resolve_loss

    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")
    name = spec.get("class_name") if isinstance(spec, dict) else spec
    try:
        return resolve_loss({"class_name": name} if isinstance(spec, dict) else name)[0]
    except (KeyError, ValueError, TypeError):
        pass
    if isinstance(name, str) and name.lower() in ("dice", "tversky"):
        return "binary_crossentropy"
    return "mean_squared_error"


def _as_float32_value(value: Any) -> Any:
    # Keras keeps the learning rate in a float32 variable: 0.01 comes back as
    # 0.009999999776482582. The shortest float32 text gives the number the user wrote.
    if isinstance(value, float):
        return float(str(np.float32(value)))
    return value


def _optimizer(spec: Any) -> Any:
    from engine.optimizers import resolve_optimizer

    if isinstance(spec, str):
        class_name, config = spec, {}
    elif isinstance(spec, dict):
        class_name, config = spec.get("class_name"), dict(spec.get("config") or {})
    else:
        raise NNDError(f"the model's optimizer {spec!r} cannot be read")
    resolved = next((o for o in _OPTIMIZERS if o.lower() == str(class_name).lower()), None)
    if resolved is None:
        raise NNDError(
            f"the model was compiled with the {class_name} optimizer, which NN Designer does not "
            f"support (supported: {', '.join(_OPTIMIZERS)})"
        )
    config.pop("name", None)
    config = {k: _as_float32_value(v) if k == "learning_rate" else v for k, v in config.items()}
    try:
        _, full = resolve_optimizer({"class_name": resolved, "config": config})
    except ValueError as exc:
        raise NNDError(f"the model's optimizer: {exc}") from None
    _, defaults = resolve_optimizer(resolved)
    lr = full["learning_rate"]
    if isinstance(lr, dict):  # a schedule: its required settings and those Keras changed
        from engine.schedules import schedule_spec

        lr = schedule_spec(lr["class_name"], lr["config"])
    kept = {"learning_rate": lr}
    kept.update(
        {
            k: v
            for k, v in full.items()
            if k not in ("name", "learning_rate")
            and ((v is None) != (defaults[k] is None) or v != defaults[k])
        }
    )
    return {"class_name": resolved, "config": kept}


def _loss(spec: Any) -> Any:
    """The project's loss spec for a compiled Keras loss (a name, a serialized function or a
    loss object's ``{"class_name": ..., "config": ...}``): the name at Keras' defaults, else
    the class with the settings that differ."""
    from engine.losses import LOSS_CLASSES, loss_spec, resolve_loss

    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")
    try:
        name, config = resolve_loss(spec)
    except KeyError:
        shown = spec.get("class_name") if isinstance(spec, dict) else spec
        raise NNDError(
            f"the model was compiled with the loss {shown!r}, which NN Designer does not "
            f"support (supported: {', '.join(LOSS_CLASSES.values())})"
        ) from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise NNDError(f"the model's loss: {exc}") from None
    return loss_spec(name, config)


def _metric(spec: Any) -> Any:
    """A compiled metric as a project spec (:func:`engine.metrics.metric_spec`): a name as
    Keras' compile took it, or its serialized form with the settings that differ."""
    from engine.metrics import metric_spec, resolve_metric

    if isinstance(spec, dict) and spec.get("class_name") == "function":
        spec = spec.get("config")
    if isinstance(spec, dict) and spec.get("class_name") == "MeanMetricWrapper":
        fn = (spec.get("config") or {}).get("fn")
        spec = fn.get("config") if isinstance(fn, dict) else fn
    try:
        return metric_spec(resolve_metric(spec))
    except ValueError as exc:
        shown = spec.get("class_name") if isinstance(spec, dict) else spec
        raise NNDError(f"the model's metric {shown!r}: {exc}") from None


def _fitting_metrics(metrics: list, loss: Any, width: int, warnings: list[str] | None) -> list:
    """The metrics that can score this output against the loss's targets: F1Score's
    per-class default (average=None) becomes average="macro" (one number per epoch); one that
    cannot score it at all is left out; each named in a warning."""
    from engine.losses import canonical_loss
    from engine.metrics import MetricSpec, metric_problem, metric_spec, resolve_metric

    sparse = canonical_loss(loss) == "sparse_categorical_crossentropy"
    kept = []
    for m in metrics:
        spec = resolve_metric(m)
        why = metric_problem(spec, width, sparse, False)
        if why and spec.cls in ("F1Score", "FBetaScore") and spec.config["average"] is None:
            fixed = MetricSpec(spec.cls, spec.key, {**spec.config, "average": "macro"})
            if metric_problem(fixed, width, sparse, False) is None:
                _settle(warnings, f"the model's metric {why}", 'average="macro" instead')
                kept.append(metric_spec(fixed))
                continue
        if why:
            _settle(warnings, f"the model's metric {why}", "left out")
            continue
        kept.append(m)
    return kept
