"""NN Designer against Keras itself: the same project trained by an engine and by ``model.fit``.

:func:`keras_twin` runs the project's exported script (its ``build_model()``: the network with
the project's optimizer, loss and metrics, in Keras' own classes) and gives the model the NumPy
engine's initial weights for the project's seed, by layer name. :func:`fit_both` then trains the
twin with ``model.fit`` and the project with NN Designer's :class:`~engine.training.Trainer` on
the same batches (no shuffling, no validation split) and returns both weights and histories.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.export import keras_code
from engine.project import Project
from engine.training import TrainingData, build_model, class_sample_weights, make_trainer
from engine.validate import check_project


def keras_twin(project: Project, initial: dict[str, np.ndarray]):
    """The exported script's compiled Keras model holding ``initial`` (flat weights
    ``"layer/kernel"``), and the validated graph."""
    graph = check_project(project)
    namespace: dict[str, Any] = {"__name__": "nndesigner_twin", "__file__": "twin.py"}
    exec(compile(keras_code(project), "twin.py", "exec"), namespace)  # noqa: S102 - our code
    model = namespace["build_model"]()
    set_initial(model, graph, initial)
    return model, graph


def keras_weights(model, graph) -> dict[str, np.ndarray]:
    """The Keras model's weights, flat by NN Designer's names."""
    out = {}
    for node in graph.nodes:
        for name, value in zip(
            node.weight_names, model.get_layer(node.name).get_weights(), strict=True
        ):
            out[f"{node.name}/{name}"] = np.asarray(value)
    return out


def fit_both(
    project: Project,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    backend: str = "numpy",
    validation: tuple | None = None,
    sample_weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train ``project`` on ``(x, y)`` for ``epochs`` with NN Designer's ``backend`` and with
    Keras' ``model.fit``, from the same initial weights, on the same batches; with the
    project's callbacks (Keras' own classes for ``model.fit``) and ``validation`` data when
    given (``(x, y)`` or ``(x, y, sample weights)``), each training sample's loss weighted by
    ``sample_weight`` when given.

    Returns
    -------
    dict
        ``ours`` and ``keras``: each ``{"weights": {"layer/kernel": ndarray}, "history":
        {"loss": [...], ...}}``; ``initial``: the initial weights.
    """
    graph = check_project(project)
    model = build_model(project, graph, backend, weights=False)
    initial = model.flat_weights()
    x_val, y_val, *w_val = validation if validation is not None else (None, None)
    fit = {**project.fit, "shuffle": False, "seed": 0}
    weights = fit.get("class_weight")
    sw = class_sample_weights(y, weights, np.dtype(project.dtype)) if weights else sample_weight
    data = TrainingData(x, y, x_val, y_val, sw_train=sw, sw_val=w_val[0] if w_val else None)
    trainer = make_trainer(model, data, fit)
    for _ in trainer.run(epochs - int(fit.get("initial_epoch", 0))):
        pass
    trainer.finish()
    twin, graph = keras_twin(project, initial)
    return {
        "initial": initial,
        "ours": {"weights": model.flat_weights(), "history": dict(trainer.history)},
        "keras": keras_fit(twin, graph, project, x, y, epochs, validation, sample_weight),
        "stop_reason": trainer.stop_reason,
    }


def keras_fit(
    keras_model, graph, project: Project, x, y, epochs: int, validation=None, sample_weight=None
) -> dict:
    """``model.fit`` of a compiled Keras model holding the initial weights, with the project's
    batch size, callbacks (Keras' own classes), class_weight, steps_per_epoch and
    initial_epoch, unshuffled: ``{"weights", "history"}``."""
    import keras

    from engine.callbacks import resolve_callbacks

    fit = project.fit
    specs = fit.get("callbacks")
    callbacks = [getattr(keras.callbacks, cls)(**cfg) for cls, cfg in resolve_callbacks(specs)]
    extra = {}
    if fit.get("class_weight"):
        extra["class_weight"] = {int(k): float(v) for k, v in fit["class_weight"].items()}
    for key in ("steps_per_epoch", "initial_epoch"):
        if fit.get(key) is not None:
            extra[key] = fit[key]
    if sample_weight is not None:
        extra["sample_weight"] = sample_weight
    history = keras_model.fit(
        x,
        y,
        batch_size=int(project.fit["batch_size"]),
        epochs=epochs,
        shuffle=False,
        verbose=0,
        validation_data=validation,
        callbacks=callbacks,
        **extra,
    )
    return {"weights": keras_weights(keras_model, graph), "history": dict(history.history)}


def set_initial(keras_model, graph, initial: dict[str, np.ndarray]) -> None:
    """Give a Keras model the flat ``initial`` weights (``"layer/kernel"``), by layer name."""
    for node in graph.nodes:
        if node.weight_names:
            keras_model.get_layer(node.name).set_weights(
                [initial[f"{node.name}/{w}"] for w in node.weight_names]
            )


def assert_same_training(result: dict[str, Any], rtol: float = 2e-5, atol: float = 1e-6) -> None:
    """Weights and history of :func:`fit_both` agree within float32 rounding; the training
    moved the weights (a test that cannot fail by training nothing)."""
    ours, theirs = result["ours"], result["keras"]
    moved = max(
        float(np.max(np.abs(result["initial"][k] - theirs["weights"][k])))
        for k in result["initial"]
    )
    assert moved > 100 * atol, "training did not move the weights"
    assert set(ours["weights"]) == set(theirs["weights"])
    for key, value in theirs["weights"].items():
        np.testing.assert_allclose(ours["weights"][key], value, rtol=rtol, atol=atol, err_msg=key)
    for key, values in theirs["history"].items():
        np.testing.assert_allclose(
            ours["history"][key], values, rtol=rtol, atol=atol, err_msg=f"history {key}"
        )
