"""Weight initializers: Keras 3 formulas, spec forms, determinism and messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.initializers import (
    INITIALIZER_NAMES,
    check_initializer,
    compute_fans,
    initialize,
)

SHAPE = (300, 200)  # a Dense kernel: fan_in 300, fan_out 200; 60 000 draws


def draw(spec, shape=SHAPE, seed=0, dtype=np.float32):
    return initialize(spec, shape, np.random.default_rng(seed), dtype)


def test_names():
    assert INITIALIZER_NAMES == (
        "zeros",
        "ones",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_normal",
        "random_normal",
        "random_uniform",
    )
    for name in INITIALIZER_NAMES:
        assert check_initializer(name) is None


@pytest.mark.parametrize(
    ("shape", "fans"),
    [((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), ((2, 3, 4, 5), (24, 30))],
)
def test_compute_fans_as_keras(shape, fans):
    assert compute_fans(shape) == fans


def test_compute_fans_with_axes():
    assert compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


def test_constants():
    assert not draw("zeros").any()
    assert (draw("ones") == 1).all()
    assert draw("zeros").shape == SHAPE


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("glorot_uniform", math.sqrt(6 / (300 + 200))),
        ("he_uniform", math.sqrt(6 / 300)),
    ],
)
def test_uniform_variance_scaling(name, limit):
    w = draw(name, dtype=np.float64)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert abs(w.mean()) < 0.02 * limit
    # Uniform on (-L, L) has standard deviation L / sqrt(3).
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    ("name", "target_std"),
    [
        ("glorot_normal", math.sqrt(2 / (300 + 200))),
        ("he_normal", math.sqrt(2 / 300)),
        ("lecun_normal", math.sqrt(1 / 300)),
    ],
)
def test_truncated_normal_variance_scaling(name, target_std):
    w = draw(name, dtype=np.float64)
    # Keras divides the stddev by 0.8796... so that the draw truncated at 2 stddev keeps the
    # target variance.
    stddev = target_std / 0.87962566103423978
    assert np.abs(w).max() <= 2 * stddev
    assert np.abs(w).max() > 1.95 * stddev
    assert abs(w.mean()) < 0.02 * target_std
    assert w.std() == pytest.approx(target_std, rel=0.02)


def test_one_dimensional_shape_uses_its_length_for_both_fans():
    w = draw("glorot_uniform", shape=(50,), dtype=np.float64)
    assert np.abs(w).max() <= math.sqrt(6 / 100)


def test_random_normal_defaults_and_config():
    w = draw("random_normal", dtype=np.float64)
    assert abs(w.mean()) < 0.002
    assert w.std() == pytest.approx(0.05, rel=0.02)
    spec = {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5}}
    w = draw(spec, dtype=np.float64)
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.std() == pytest.approx(0.5, rel=0.02)


def test_random_uniform_defaults_and_config():
    w = draw("random_uniform", dtype=np.float64)
    assert w.min() >= -0.05 and w.max() <= 0.05
    assert w.std() == pytest.approx(0.1 / math.sqrt(12), rel=0.02)
    w = draw({"class_name": "random_uniform", "config": {"minval": 2, "maxval": 3}})
    assert w.min() >= 2 and w.max() <= 3
    assert w.mean() == pytest.approx(2.5, abs=0.01)


@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_dtype(name):
    assert draw(name, shape=(4, 3)).dtype == np.float32
    assert draw(name, shape=(4, 3), dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_deterministic_from_the_generator(name):
    np.testing.assert_array_equal(draw(name, seed=7), draw(name, seed=7))
    if name not in ("zeros", "ones"):
        assert not np.array_equal(draw(name, seed=7), draw(name, seed=8))


@pytest.mark.parametrize(
    "spec",
    [
        "HeNormal",
        {"class_name": "HeNormal"},
        {"class_name": "he_normal", "config": {}},
        # As keras.initializers.serialize writes it; the seed is ignored.
        {
            "module": "keras.initializers",
            "class_name": "HeNormal",
            "config": {"seed": 123, "input_axes": None, "output_axes": None},
            "registered_name": None,
        },
    ],
)
def test_spec_forms_are_equivalent(spec):
    assert check_initializer(spec) is None
    np.testing.assert_array_equal(draw(spec, seed=3), draw("he_normal", seed=3))


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("foo", "unknown initializer 'foo'; expected one of zeros, ones, glorot_uniform"),
        ({"class_name": "Orthogonal"}, "unknown initializer 'Orthogonal'"),
        ({"config": {}}, "no 'class_name'"),
        ({"class_name": 3}, "'class_name' must be a string"),
        ({"class_name": "Zeros", "config": [1]}, "'config' must be a mapping"),
        ({"class_name": "Zeros", "extra": 1}, "unknown key 'extra'"),
        (
            {"class_name": "RandomNormal", "config": {"std": 1.0}},
            "'random_normal' has no setting 'std'; known settings: seed, mean, stddev",
        ),
        ({"class_name": "Zeros", "config": {"seed": 1}}, "'zeros' has no setting 'seed'"),
        (
            {"class_name": "RandomNormal", "config": {"stddev": "wide"}},
            "'stddev' must be a finite number",
        ),
        ({"class_name": "RandomNormal", "config": {"stddev": -1}}, "'stddev' must be >= 0"),
        ({"class_name": "RandomNormal", "config": {"mean": True}}, "'mean' must be a finite"),
        ({"class_name": "RandomUniform", "config": {"minval": 1, "maxval": 0}}, "must not exceed"),
        ({"class_name": "GlorotUniform", "config": {"seed": "x"}}, "'seed' must be an integer"),
        (
            {"class_name": "GlorotUniform", "config": {"input_axes": [0]}},
            "must be given together",
        ),
        (42, "must be a name or a"),
    ],
)
def test_invalid_specs_have_messages(spec, fragment):
    message = check_initializer(spec)
    assert message is not None and fragment in message
    with pytest.raises(ValueError) as info:
        initialize(spec, (2, 2), np.random.default_rng(0))
    assert str(info.value) == message
