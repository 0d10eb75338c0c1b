"""Callbacks in the fit settings: Keras' vocabulary, validation, the CLI's report of a stop.
(Training with them against Keras' model.fit: tests/engine/test_keras_fit.py.)"""

from __future__ import annotations

import copy

import pytest

from engine.callbacks import CALLBACK_NAMES, resolve_callback, resolve_callbacks
from engine.cli import main
from engine.project import from_dict, load_project
from engine.validate import settings_problems
from tests.engine.test_cli import XOR, write


def test_names_and_keras_defaults():
    assert CALLBACK_NAMES == (
        "EarlyStopping",
        "ReduceLROnPlateau",
        "TerminateOnNaN",
        "ModelCheckpoint",
    )
    cls, config = resolve_callback("earlystopping")
    assert cls == "EarlyStopping"
    assert config == {
        "monitor": "val_loss",
        "min_delta": 0.0,
        "patience": 0,
        "verbose": 0,
        "mode": "auto",
        "baseline": None,
        "restore_best_weights": False,
        "start_from_epoch": 0,
    }
    assert resolve_callback({"class_name": "ReduceLROnPlateau"})[1]["factor"] == 0.1
    assert resolve_callbacks(None) == []


@pytest.mark.parametrize(
    ("callbacks", "fragment"),
    [
        ({"class_name": "EarlyStopping"}, "'callbacks' must be a list"),
        ([{"class_name": "BackupAndRestore"}], "callback 1: unknown callback 'BackupAndRestore'"),
        (
            [{"class_name": "ModelCheckpoint", "config": {"filepath": "best.h5"}}],
            "'filepath' must be a file name ending in .keras",
        ),
        (
            [
                {
                    "class_name": "ModelCheckpoint",
                    "config": {"save_weights_only": True, "filepath": "best.keras"},
                }
            ],
            "ending in .weights.h5",
        ),
        (
            [{"class_name": "ModelCheckpoint", "config": {"save_freq": 10}}],
            "'save_freq' must be 'epoch'",
        ),
        (
            [{"class_name": "EarlyStopping", "config": {"patience": -1}}],
            "'patience' must be a whole number",
        ),
        (
            [{"class_name": "EarlyStopping", "config": {"mode": "up"}}],
            "'mode' must be 'auto', 'min' or 'max'",
        ),
        (
            [{"class_name": "EarlyStopping", "config": {"wait": 3}}],
            "EarlyStopping has no setting 'wait'",
        ),
        (
            [{"class_name": "ReduceLROnPlateau", "config": {"factor": 1.5}}],
            "'factor' must be a number in (0, 1)",
        ),
        (
            ["TerminateOnNaN", {"class_name": "EarlyStopping", "config": {"monitor": ""}}],
            "callback 2: ",
        ),
    ],
)
def test_bad_callbacks_are_named_in_the_fit_settings(callbacks, fragment):
    spec = copy.deepcopy(XOR)
    spec["fit"]["callbacks"] = callbacks
    problems = settings_problems(from_dict(spec))
    assert [p.field for p in problems] == ["fit.callbacks"], problems
    assert fragment in problems[0].message


def test_the_exported_script_writes_the_checkpoints_filepath():
    from engine.export import keras_code

    spec = copy.deepcopy(XOR)
    spec["fit"]["callbacks"] = [
        {"class_name": "ModelCheckpoint", "config": {"save_best_only": True}}
    ]
    code = keras_code(from_dict(spec))
    assert 'keras.callbacks.ModelCheckpoint(filepath="best.keras", save_best_only=True)' in code


def test_reduce_lr_on_plateau_refuses_a_schedule():
    spec = copy.deepcopy(XOR)
    spec["compile"]["optimizer"] = {
        "class_name": "SGD",
        "config": {
            "learning_rate": {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
            }
        },
    }
    spec["fit"]["callbacks"] = [{"class_name": "ReduceLROnPlateau"}]
    (problem,) = settings_problems(from_dict(spec))
    assert "cannot change the rate of a learning-rate schedule" in problem.message


def test_the_cli_says_why_and_when_training_stopped(tmp_path, capsys):
    spec = copy.deepcopy(XOR)
    spec["fit"]["epochs"] = 40
    # an impossible improvement: the run stops after patience + 1 epochs
    spec["fit"]["callbacks"] = [
        {
            "class_name": "EarlyStopping",
            "config": {
                "monitor": "loss",
                "patience": 2,
                "min_delta": 10.0,
                "restore_best_weights": True,
            },
        }
    ]
    out = tmp_path / "out.nnd"
    assert main(["train", str(write(tmp_path, spec)), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Stopped after epoch 3: EarlyStopping: loss has not improved for 2 epochs" in text
    assert "End of training: the weights of epoch 1 (the best loss) restored" in text
    assert "Epoch 4/40" not in text
    assert len(load_project(out).history["loss"]) == 3
