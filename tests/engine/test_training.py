"""The training loop: events, history, determinism, stop/pause, divergence."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.project import from_dict
from engine.training import Trainer, TrainingData, build_model, load_training_data, train_project
from engine.validate import check_project


def moons_project(**fit):
    return from_dict(
        {
            "name": "moons",
            "model": {
                "input_shape": [2],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 8, "activation": "tanh"}},
                    {"class_name": "Dropout", "config": {"rate": 0.1}},
                    {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}},
                ],
            },
            "compile": {
                "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.02}},
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {
                "epochs": 3,
                "batch_size": 16,
                "validation_split": 0.2,
                "shuffle": True,
                "seed": 3,
                **fit,
            },
            "dataset": {"name": "moons", "n_samples": 200, "noise": 0.1},
        }
    )


def test_history_has_keras_keys_and_learns():
    model, trainer = train_project(moons_project(epochs=15))
    h = trainer.history
    assert set(h) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 15 for v in h.values())
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_accuracy"][-1] > 0.8


def test_same_project_same_seed_bit_identical():
    m1, t1 = train_project(moons_project())
    m2, t2 = train_project(moons_project())
    assert t1.history == t2.history
    for k, v in m1.flat_weights().items():
        np.testing.assert_array_equal(v, m2.flat_weights()[k])


def test_events_sequence():
    project = moons_project(epochs=2)
    graph = check_project(project)
    data = load_training_data(project, graph)
    trainer = Trainer(build_model(project, graph), data, 16, True, 0)
    events = list(trainer.run(2))
    kinds = [e.kind for e in events]
    spe = trainer.steps_per_epoch
    assert kinds == ["begin"] + (["step"] * spe + ["epoch"]) * 2 + ["end"]
    assert events[-2].epoch == 2 and "val_loss" in events[-2].logs
    assert events[-1].error is None and not events[-1].stopped
    # Continuing keeps counting epochs.
    more = list(trainer.run(1))
    assert more[-2].epoch == 3 and len(trainer.history["loss"]) == 3


def test_stop_request_ends_cleanly():
    project = moons_project(epochs=50)
    graph = check_project(project)
    trainer = Trainer(build_model(project, graph), load_training_data(project, graph), 16, True, 0)
    seen = []
    for ev in trainer.run(50):
        seen.append(ev)
        if ev.kind == "step" and ev.epoch == 2 and ev.step == 3:
            trainer.request_stop()
    assert seen[-1].kind == "end" and seen[-1].stopped
    assert len(trainer.history["loss"]) == 1  # the interrupted epoch is not recorded


def test_pause_blocks_until_resume_from_another_thread():
    project = moons_project(epochs=1)
    graph = check_project(project)
    trainer = Trainer(build_model(project, graph), load_training_data(project, graph), 16, True, 0)
    gen = trainer.run(1)
    next(gen)  # begin
    trainer.pause()
    assert trainer.paused
    resumed = threading.Event()

    def resume_later():
        resumed.set()
        trainer.resume()

    t = threading.Timer(0.05, resume_later)
    t.start()
    ev = next(gen)  # blocks while paused
    t.join()
    assert resumed.is_set() and ev.kind == "step"
    gen.close()


def test_divergence_stops_at_first_nonfinite_keeping_finite_weights():
    project = moons_project(epochs=5)
    project.data["compile"]["optimizer"] = {"class_name": "SGD", "config": {"learning_rate": 1e38}}
    graph = check_project(project)
    model = build_model(project, graph)
    trainer = Trainer(model, load_training_data(project, graph), 16, True, 0)
    events = list(trainer.run(5))
    end = events[-1]
    assert end.kind == "end" and end.error is not None
    assert end.error.epoch == 1 and end.error.step >= 1
    assert all(np.isfinite(w).all() for w in model.flat_weights().values())
    assert trainer.best("val_loss") is None or np.isfinite(trainer.best("val_loss"))


def test_best_ignores_nan():
    t = Trainer.__new__(Trainer)
    t.history = {"val_loss": [0.5, float("nan"), 0.7]}
    assert t.best() == 0.5


def test_empty_training_split_is_an_error():
    from engine.errors import DataError

    data = TrainingData(np.zeros((0, 2)), np.zeros((0,)), None, None)
    with pytest.raises(DataError, match="empty"):
        Trainer(object(), data)


def test_digits_seed_mlp_reaches_90_percent():
    project = from_dict(
        {
            "model": {
                "input_shape": [64],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "hidden", "units": 128, "activation": "relu"},
                    },
                    {"class_name": "Dropout", "config": {"rate": 0.2}},
                    {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
                ],
            },
            "compile": {
                "optimizer": "adam",
                "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"],
            },
            "fit": {
                "epochs": 10,
                "batch_size": 32,
                "validation_split": 0.1,
                "shuffle": True,
                "seed": 0,
            },
            "dataset": {"name": "digits", "standardize": True},
        }
    )
    _, trainer = train_project(project)
    assert trainer.history["val_accuracy"][-1] > 0.9


def test_perceptron_project_trains_on_separable_blobs():
    project = from_dict(
        {
            "model": {
                "input_shape": [2],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {
                            "name": "perceptron",
                            "units": 1,
                            "activation": "sign",
                            "kernel_initializer": "zeros",
                        },
                    }
                ],
            },
            "compile": {
                "optimizer": {"class_name": "Perceptron", "config": {"learning_rate": 0.01}},
                "metrics": ["accuracy"],
            },
            "fit": {
                "epochs": 10,
                "batch_size": 1,
                "validation_split": 0.0,
                "shuffle": False,
                "seed": 0,
            },
            "dataset": {"name": "blobs", "n_samples": 100, "centers": 2, "noise": 0.2},
        }
    )
    _, trainer = train_project(project)
    assert trainer.history["accuracy"][-1] == 1.0
    assert trainer.history["loss"][-1] == 0.0  # no misclassified sample in the last pass
