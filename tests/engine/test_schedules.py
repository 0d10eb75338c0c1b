"""Learning-rate schedules: Keras' vocabulary, and the rate per step against Keras' own classes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backends.numpy.optimizers import make_optimizer
from engine.backends.numpy.schedules import initial_rate, schedule_value
from engine.optimizers import resolve_optimizer
from engine.schedules import SCHEDULE_NAMES, resolve_schedule, schedule_spec
from tests.engine.test_keras_fit import SCHEDULES


@pytest.mark.parametrize("spec", SCHEDULES, ids=lambda s: s["class_name"] + str(len(s["config"])))
def test_every_rate_is_keras_own_at_every_step(tf_ready, spec):
    from engine.backends.tensorflow import import_tensorflow

    keras = import_tensorflow()[1]
    theirs = keras.optimizers.schedules.deserialize(spec)
    cls, config = resolve_schedule(spec)
    for step in range(40):
        expected = float(np.asarray(theirs(step)))
        # the same float32 operations; NumPy's cos and TensorFlow's may differ by an ulp, which
        # 1 + cos(x) near x = π magnifies (a few ulps of the rate)
        assert schedule_value(cls, config, step) == pytest.approx(expected, rel=2e-6), (step, cls)


def test_names_defaults_and_round_trip():
    assert SCHEDULE_NAMES == (
        "ExponentialDecay",
        "InverseTimeDecay",
        "PiecewiseConstantDecay",
        "PolynomialDecay",
        "CosineDecay",
        "CosineDecayRestarts",
    )
    cls, config = resolve_schedule(
        {
            "module": "keras.optimizers.schedules",
            "class_name": "CosineDecay",
            "config": {"initial_learning_rate": 0.1, "decay_steps": 100, "name": "CosineDecay"},
            "registered_name": None,
        }
    )
    assert cls == "CosineDecay"
    assert config == {
        "initial_learning_rate": 0.1,
        "decay_steps": 100,
        "alpha": 0.0,
        "warmup_target": None,
        "warmup_steps": 0,
    }
    short = schedule_spec(cls, config)
    assert short == {
        "class_name": "CosineDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 100},
    }
    assert resolve_schedule(short) == (cls, config)
    assert initial_rate(short) == pytest.approx(0.1)
    assert initial_rate(0.05) == 0.05


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"class_name": "StepDecay", "config": {}}, "unknown learning-rate schedule 'StepDecay'"),
        (
            {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1}},
            "needs 'decay_steps'",
        ),
        (
            {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 0, "decay_rate": 0.5},
            },
            "'decay_steps' must be a number greater than 0",
        ),
        (
            {
                "class_name": "PiecewiseConstantDecay",
                "config": {"boundaries": [5, 2], "values": [1, 2, 3]},
            },
            "'boundaries' must be increasing",
        ),
        (
            {
                "class_name": "PiecewiseConstantDecay",
                "config": {"boundaries": [5], "values": [0.1]},
            },
            "one more entry than 'boundaries'",
        ),
        (
            {
                "class_name": "CosineDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 9, "gamma": 2},
            },
            "CosineDecay has no setting 'gamma'",
        ),
        ({"class_name": "CosineDecay", "cfg": {}}, "unknown key 'cfg'"),
    ],
)
def test_bad_schedules_are_named(spec, fragment):
    with pytest.raises(ValueError) as info:
        resolve_schedule(spec)
    assert fragment in str(info.value)
    with pytest.raises(ValueError, match="SGD: 'learning_rate': "):
        resolve_optimizer({"class_name": "SGD", "config": {"learning_rate": spec}})


def test_the_optimizer_reads_the_rate_at_its_step_and_refuses_a_set():
    spec = {
        "class_name": "PiecewiseConstantDecay",
        "config": {"boundaries": [1], "values": [0.5, 0.1]},
    }
    opt = make_optimizer("SGD", {"learning_rate": spec})
    w = {"w": np.array([1.0])}
    rates = []
    for _ in range(3):
        rates.append(opt.learning_rate)
        opt.apply(w, {"w": np.array([1.0])})
    # steps 0 and 1 are <= the boundary 1 (Keras: step <= boundary), step 2 is after it
    assert rates == [0.5, 0.5, pytest.approx(0.1)]
    assert w["w"][0] == pytest.approx(1.0 - 0.5 - 0.5 - 0.1)
    with pytest.raises(ValueError, match="follows the PiecewiseConstantDecay schedule"):
        opt.learning_rate = 0.3
    state = opt.get_state()
    opt.set_state(state)  # a state with a rate in it does not try to set it
    assert opt.iterations == 3


@pytest.mark.parametrize("backend", ["numpy", "tensorflow"])
def test_training_reports_the_rate_of_every_step(tf_ready, backend):
    """Step events carry the rate their update used: the schedule's at steps 0, 1, 2... (the
    TensorFlow backend runs several steps per call and reports each)."""
    from engine.training import Trainer, TrainingData, build_model
    from engine.validate import check_project
    from tests.engine.test_keras_fit import data_for, project_of

    spec = {
        "class_name": "InverseTimeDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 1.0},
    }
    project = project_of(
        "softmax",
        "categorical_crossentropy",
        {"class_name": "SGD", "config": {"learning_rate": spec}},
    )
    model = build_model(project, check_project(project), backend, weights=False)
    if backend == "tensorflow":
        model.steps_per_call = 3
    x, y = data_for("categorical_crossentropy")
    trainer = Trainer(model, TrainingData(x[:40], y[:40], None, None), 8, False, 0)
    rates = [ev.learning_rate for ev in trainer.run(2) if ev.kind == "step"]
    cls, config = resolve_schedule(spec)
    assert rates == pytest.approx([schedule_value(cls, config, s) for s in range(10)], rel=1e-6)
    assert rates[0] == pytest.approx(0.1) and rates[4] == pytest.approx(0.1 / 3)
