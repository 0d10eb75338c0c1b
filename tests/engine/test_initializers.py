"""Weight initializers: Keras 3 formulas, spec forms, determinism and messages."""

from __future__ import annotations

import importlib.util
import inspect
import math
import re

import numpy as np
import pytest

from engine.export import keras_code
from engine.export.keras_import import import_keras_model
from engine.initializers import (
    INITIALIZER_NAMES,
    check_initializer,
    compute_fans,
    initialize,
    parse_initializer,
    shape_problem,
)
from engine.project import from_dict
from engine.validate import check_project

SHAPE = (300, 200)  # a Dense kernel: fan_in 300, fan_out 200; 60 000 draws
# Keras builds Constant only from a config that has its value (see test_constant_needs_a_value).
CONSTANT = {"class_name": "Constant", "config": {"value": 0.5}}
# A spec for every name; shapes here are 2-D, so Orthogonal and Identity can draw them.
SPECS = [CONSTANT if name == "constant" else name for name in INITIALIZER_NAMES]
NEW_NAMES = (
    "truncated_normal",
    "orthogonal",
    "lecun_uniform",
    "constant",
    "identity",
    "variance_scaling",
)


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
        *NEW_NAMES,
    )
    for spec in SPECS:
        assert check_initializer(spec) is None


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


@pytest.mark.parametrize("name", SPECS, ids=str)
def test_dtype(name):
    assert draw(name, shape=(4, 3)).dtype == np.float32
    assert draw(name, shape=(4, 3), dtype=np.float64).dtype == np.float64
    assert draw(name, shape=(4, 3)).shape == (4, 3)


@pytest.mark.parametrize("name", SPECS, ids=str)
def test_deterministic_from_the_generator(name):
    np.testing.assert_array_equal(draw(name, seed=7), draw(name, seed=7))
    if name not in ("zeros", "ones", CONSTANT, "identity"):
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
        ({"class_name": "STFT"}, "unknown initializer 'STFT'"),
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


# --------------------------------------------------------------------------------------------
# The rest of Keras' initializers: TruncatedNormal, LecunUniform, VarianceScaling, Orthogonal,
# Constant, Identity
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras(tf_ready):
    import keras

    return keras


def camel(name):
    """The class name the exporter writes for a snake name."""
    return "".join(part.capitalize() for part in name.split("_"))


@pytest.mark.parametrize(
    ("name", "class_name"),
    [
        ("truncated_normal", "TruncatedNormal"),
        ("orthogonal", "Orthogonal"),
        ("lecun_uniform", "LecunUniform"),
        ("constant", "Constant"),
        ("identity", "Identity"),
        ("variance_scaling", "VarianceScaling"),
    ],
)
def test_new_names_camel_case_to_keras_class_names(name, class_name):
    assert camel(name) == class_name
    assert parse_initializer(class_name)[0] == name


@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_every_exported_class_exists_in_keras(keras, name):
    cls = getattr(keras.initializers, camel(name))
    assert isinstance(keras.initializers.get(name if name != "constant" else CONSTANT), cls)


@pytest.mark.parametrize("name", NEW_NAMES)
def test_new_names_parse_in_every_spelling(name):
    config = {"value": 0.5} if name == "constant" else {}
    spellings = [
        {"class_name": name, "config": config},
        {"class_name": camel(name), "config": config},
        # As keras.initializers.serialize writes it.
        {
            "module": "keras.initializers",
            "class_name": camel(name),
            "config": config,
            "registered_name": None,
        },
    ]
    if name != "constant":
        spellings += [name, camel(name), {"class_name": camel(name)}]
    expected = parse_initializer(spellings[0])
    for spec in spellings:
        assert check_initializer(spec) is None, spec
        assert parse_initializer(spec) == expected
        np.testing.assert_array_equal(draw(spec, seed=4), draw(spellings[0], seed=4))


@pytest.mark.parametrize(
    ("alias", "name"),
    [("IdentityInitializer", "identity"), ("OrthogonalInitializer", "orthogonal")],
)
def test_keras_compatibility_aliases(keras, alias, name):
    assert parse_initializer(alias)[0] == name
    assert isinstance(keras.initializers.get(alias), getattr(keras.initializers, camel(name)))


@pytest.mark.parametrize(
    "name", ["truncated_normal", "orthogonal", "lecun_uniform", "variance_scaling"]
)
def test_config_keys_and_defaults_are_keras(keras, name):
    # Same keys, same defaults, same order as Keras' get_config().
    ours = parse_initializer(name)[1]
    theirs = keras.initializers.get(name).get_config()
    assert list(ours.items()) == list(theirs.items())


@pytest.mark.parametrize(
    "config",
    [
        {"scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": 3},
        {"mode": "fan_avg", "distribution": "untruncated_normal"},
        {"input_axes": [0], "output_axes": [1, 2]},
    ],
)
def test_variance_scaling_config_matches_keras(keras, config):
    ours = parse_initializer({"class_name": "VarianceScaling", "config": config})[1]
    assert ours == keras.initializers.VarianceScaling(**config).get_config()


def test_identity_and_constant_settings_are_keras_constructor_arguments(keras):
    # Keras' Identity.get_config() is {} (the gain is not saved), so compare with __init__.
    identity = inspect.signature(keras.initializers.Identity.__init__).parameters
    assert [(k, p.default) for k, p in identity.items() if k != "self"] == list(
        parse_initializer("identity")[1].items()
    )
    constant = inspect.signature(keras.initializers.Constant.__init__).parameters
    assert [k for k in constant if k != "self"] == list(parse_initializer("constant")[1])


def test_constant_needs_a_value(keras):
    # Keras' constructor defaults value to 0.0, but a name or a config without the value
    # cannot be built: Constant.from_config reads config["value"].
    for spec in ("constant", "Constant", {"class_name": "Constant", "config": {}}):
        message = check_initializer(spec)
        assert message is not None and "'constant' needs a 'value'" in message
        with pytest.raises(ValueError, match="needs a 'value'"):
            draw(spec)
        with pytest.raises(KeyError, match="value"):
            keras.initializers.get(spec)
    # The exporter compares with the defaults of the bare name: that still resolves.
    assert parse_initializer("constant") == ("constant", {"value": None})


def test_truncated_normal_defaults():
    w = draw("truncated_normal", dtype=np.float64)
    # Truncated at mean +- 2 stddev; Keras does not rescale, so the std is 0.8796 * stddev.
    assert np.abs(w).max() <= 0.1
    assert np.abs(w).max() > 0.098
    assert abs(w.mean()) < 0.001
    assert w.std() == pytest.approx(0.05 * 0.87962566103423978, rel=0.02)


def test_truncated_normal_config():
    spec = {"class_name": "TruncatedNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 9}}
    w = draw(spec, dtype=np.float64)
    assert w.min() >= 0.0 and w.max() <= 2.0
    assert w.min() < 0.02 and w.max() > 1.98
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.std() == pytest.approx(0.5 * 0.87962566103423978, rel=0.02)


def test_lecun_uniform():
    limit = math.sqrt(3 / 300)
    w = draw("lecun_uniform", dtype=np.float64)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert abs(w.mean()) < 0.02 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


FANS = {"fan_in": 300, "fan_out": 200, "fan_avg": 250}  # of SHAPE


@pytest.mark.parametrize("mode", list(FANS))
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_every_mode_and_distribution(mode, distribution):
    scale = 2.5
    spec = {
        "class_name": "VarianceScaling",
        "config": {"scale": scale, "mode": mode, "distribution": distribution},
    }
    w = draw(spec, dtype=np.float64)
    target_std = math.sqrt(scale / FANS[mode])
    # The fans differ by 10 % or more (300, 250, 200); the std is checked to 2 %.
    assert w.std() == pytest.approx(target_std, rel=0.02)
    assert abs(w.mean()) < 0.02 * target_std
    if distribution == "uniform":
        limit = math.sqrt(3 * scale / FANS[mode])
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    elif distribution == "truncated_normal":
        stddev = target_std / 0.87962566103423978
        assert np.abs(w).max() <= 2 * stddev
        assert np.abs(w).max() > 1.95 * stddev
    else:  # not truncated: 60 000 normal draws go well past 3 standard deviations
        assert np.abs(w).max() > 3.5 * target_std


@pytest.mark.parametrize("mode", list(FANS))
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_spread_matches_keras_draws(keras, mode, distribution):
    config = {"scale": 0.7, "mode": mode, "distribution": distribution}
    ours = draw({"class_name": "VarianceScaling", "config": config}, dtype=np.float64)
    theirs = np.asarray(keras.initializers.VarianceScaling(seed=1, **config)(SHAPE))
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.25)


@pytest.mark.parametrize(
    ("config", "same_as"),
    [
        ({}, "lecun_normal"),
        ({"scale": 2.0}, "he_normal"),
        ({"scale": 2.0, "distribution": "uniform"}, "he_uniform"),
        ({"mode": "fan_avg", "distribution": "uniform"}, "glorot_uniform"),
        ({"mode": "fan_avg", "distribution": "truncated_normal"}, "glorot_normal"),
        ({"distribution": "uniform"}, "lecun_uniform"),
    ],
)
def test_variance_scaling_generalizes_the_named_variants(config, same_as):
    spec = {"class_name": "VarianceScaling", "config": config}
    np.testing.assert_array_equal(draw(spec, seed=5), draw(same_as, seed=5))


def test_variance_scaling_distribution_spelling_as_keras(keras):
    # Keras lower-cases the distribution and reads "normal" as "truncated_normal".
    for distribution in ("normal", "Normal", "TRUNCATED_NORMAL"):
        spec = {"class_name": "VarianceScaling", "config": {"distribution": distribution}}
        assert parse_initializer(spec)[1]["distribution"] == "truncated_normal"
        assert keras.initializers.get(spec).get_config()["distribution"] == "truncated_normal"
        np.testing.assert_array_equal(draw(spec, seed=2), draw("variance_scaling", seed=2))


def test_variance_scaling_with_axes():
    # compute_fans would give fan_in 50 * 40 = 2000; the axes say 40.
    config = {"mode": "fan_in", "distribution": "uniform", "input_axes": [0], "output_axes": [1, 2]}
    w = draw(
        {"class_name": "VarianceScaling", "config": config}, shape=(40, 50, 30), dtype=np.float64
    )
    limit = math.sqrt(3 / 40)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    "shape",
    [(300, 200), (200, 300), (7, 7), (3, 3, 8, 16), (2, 3, 4, 60)],
)
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    spec = {"class_name": "Orthogonal", "config": {"gain": gain}}
    w = draw(spec, shape=shape, dtype=np.float64)
    assert w.shape == shape
    rows, cols = math.prod(shape[:-1]), shape[-1]
    m = w.reshape(rows, cols)
    # Orthonormal columns for a tall (or square) matrix, orthonormal rows for a wide one.
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=1e-12)
    # Q of the QR of the normal draw, its columns' signs those of R's diagonal: Q^T A = R is
    # upper triangular with a positive diagonal.
    a = np.random.default_rng(0).standard_normal((max(rows, cols), min(rows, cols)))
    q = m / gain if rows >= cols else m.T / gain
    r = q.T @ a
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-10)
    assert (np.diag(r) > 0).all()


def test_orthogonal_float32_and_spread(keras):
    w = draw({"class_name": "Orthogonal", "config": {"gain": 2.0}}, shape=(64, 32))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(32), atol=1e-4)
    theirs = np.asarray(keras.initializers.Orthogonal(gain=2.0, seed=1)((64, 32)))
    np.testing.assert_allclose(theirs.T @ theirs, 4 * np.eye(32), atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (1, 6)])
@pytest.mark.parametrize("gain", [None, 2.5, -1])
def test_identity_equals_keras(keras, shape, gain):
    spec = "identity" if gain is None else {"class_name": "Identity", "config": {"gain": gain}}
    ours = draw(spec, shape=shape)
    theirs = np.asarray(keras.initializers.get(spec)(shape))
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, (1.0 if gain is None else gain) * np.eye(*shape))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,)])
@pytest.mark.parametrize("value", [0.3, -2, 0.0])
def test_constant_equals_keras(keras, shape, value):
    spec = {"class_name": "Constant", "config": {"value": value}}
    ours = draw(spec, shape=shape)
    theirs = np.asarray(keras.initializers.get(spec)(shape))
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)
    assert (draw(spec, shape=shape, dtype=np.float64) == value).all()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"class_name": "VarianceScaling", "config": {"scale": 0}}, "'scale' must be a positive"),
        ({"class_name": "VarianceScaling", "config": {"scale": -1.0}}, "got -1.0"),
        ({"class_name": "VarianceScaling", "config": {"scale": "big"}}, "'scale' must be a finite"),
        (
            {"class_name": "VarianceScaling", "config": {"mode": "fan_sum"}},
            "'mode' must be one of fan_in, fan_out, fan_avg, got 'fan_sum'",
        ),
        ({"class_name": "VarianceScaling", "config": {"mode": "FAN_IN"}}, "'mode' must be one"),
        (
            {"class_name": "VarianceScaling", "config": {"distribution": "gaussian"}},
            "'distribution' must be one of truncated_normal, untruncated_normal, uniform",
        ),
        ({"class_name": "VarianceScaling", "config": {"distribution": 3}}, "got 3"),
        ({"class_name": "VarianceScaling", "config": {"gain": 1}}, "has no setting 'gain'"),
        ({"class_name": "Orthogonal", "config": {"gain": float("nan")}}, "'gain' must be a finite"),
        ({"class_name": "Orthogonal", "config": {"seed": 1.5}}, "'seed' must be an integer"),
        ({"class_name": "Identity", "config": {"gain": "x"}}, "'gain' must be a finite number"),
        ({"class_name": "Identity", "config": {"seed": 1}}, "'identity' has no setting 'seed'"),
        ({"class_name": "Constant", "config": {"value": float("inf")}}, "'value' must be a finite"),
        ({"class_name": "Constant", "config": {"value": True}}, "'value' must be a finite"),
        ({"class_name": "Constant", "config": {"value": [1, 2]}}, "'value' must be a finite"),
        ({"class_name": "Constant", "config": {"value": None}}, "'constant' needs a 'value'"),
        ({"class_name": "Constant", "config": {"seed": 1}}, "'constant' has no setting 'seed'"),
        ({"class_name": "TruncatedNormal", "config": {"stddev": -1}}, "'stddev' must be >= 0"),
        ({"class_name": "TruncatedNormal", "config": {"mean": "0"}}, "'mean' must be a finite"),
        ({"class_name": "LecunUniform", "config": {"output_axes": [1]}}, "must be given together"),
    ],
)
def test_invalid_new_specs_have_messages(spec, fragment):
    message = check_initializer(spec)
    assert message is not None and fragment in message
    assert shape_problem(spec, (2, 2)) == message
    with pytest.raises(ValueError) as info:
        initialize(spec, (2, 2), np.random.default_rng(0))
    assert str(info.value) == message


@pytest.mark.parametrize(
    "config", [{"scale": 0}, {"scale": -1.0}, {"mode": "fan_sum"}, {"distribution": "gaussian"}]
)
def test_keras_refuses_the_same_variance_scaling_settings(keras, config):
    with pytest.raises(ValueError):
        keras.initializers.VarianceScaling(**config)


@pytest.mark.parametrize(
    ("spec", "shape", "fragment"),
    [
        (
            "orthogonal",
            (5,),
            "'orthogonal' needs a weight of at least 2 axes, but the weight has 1 axis "
            "(shape (5,))",
        ),
        ("Orthogonal", (), "has 0 axes (shape ())"),
        (
            "identity",
            (2, 3, 4),
            "'identity' makes only 2-D weights (a matrix), but the weight has 3 axes "
            "(shape (2, 3, 4))",
        ),
        ({"class_name": "Identity", "config": {"gain": 2.0}}, (6,), "(shape (6,))"),
    ],
)
def test_shape_problems(keras, spec, shape, fragment):
    message = shape_problem(spec, shape)
    assert message is not None and fragment in message
    assert check_initializer(spec) is None
    with pytest.raises(ValueError) as info:
        initialize(spec, shape, np.random.default_rng(0))
    assert str(info.value) == message
    with pytest.raises(ValueError):  # Keras cannot either
        keras.initializers.get(spec)(shape)


@pytest.mark.parametrize(
    ("spec", "shape"),
    [("orthogonal", (3, 4)), ("orthogonal", (3, 3, 2)), ("identity", (3, 4)), (CONSTANT, (5,))],
)
def test_shapes_they_can_draw_have_no_problem(spec, shape):
    assert shape_problem(spec, shape) is None


# --------------------------------------------------------------------------------------------
# End to end: validation, export, import
# --------------------------------------------------------------------------------------------

VARIANCE_SCALING = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"},
}


def dense_project(hidden_config, output_config=None):
    return from_dict(
        {
            "format_version": 1,
            "name": "Initializers",
            "model": {
                "input_shape": [4],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "hidden", "units": 4, **hidden_config},
                    },
                    {
                        "class_name": "Dense",
                        "config": {"name": "out", "units": 1, **(output_config or {})},
                    },
                ],
            },
            "compile": {"optimizer": "adam", "loss": "mse", "metrics": []},
            "fit": {"epochs": 1, "batch_size": 8, "validation_split": 0.0, "seed": 1},
            "dataset": {"name": "blobs", "n_samples": 40, "centers": 2},
        }
    )


def test_dense_with_variance_scaling_validates_and_exports():
    project = dense_project({"kernel_initializer": VARIANCE_SCALING})
    check_project(project)
    text = keras_code(project)
    assert "keras.initializers.VarianceScaling(" in text
    # The settings that differ from Keras' defaults, however the call is wrapped.
    call = r"keras\.initializers\.VarianceScaling\(\s*scale=2\.0,\s*mode=\"fan_out\","
    assert re.search(call + r"\s*distribution=\"uniform\",?\s*\)", text)


def test_exported_initializers_build_in_keras(keras, tmp_path):
    project = dense_project(
        {
            "kernel_initializer": {"class_name": "Identity", "config": {"gain": 3.0}},
            "bias_initializer": {"class_name": "Constant", "config": {"value": 0.0}},
        },
        {
            "kernel_initializer": {"class_name": "Orthogonal", "config": {"gain": 0.5}},
            "bias_initializer": {"class_name": "Constant", "config": {"value": 0.25}},
        },
    )
    check_project(project)
    text = keras_code(project)
    for call in (
        "keras.initializers.Identity(gain=3.0)",
        "keras.initializers.Orthogonal(gain=0.5)",
        # A constant's value is always written: Keras cannot build "constant" by name.
        "keras.initializers.Constant(value=0.0)",
        "keras.initializers.Constant(value=0.25)",
    ):
        assert call in text
    script = tmp_path / "initializers_model.py"
    script.write_text(text)
    spec = importlib.util.spec_from_file_location("initializers_model", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model()
    hidden, out = model.get_layer("hidden"), model.get_layer("out")
    np.testing.assert_array_equal(np.asarray(hidden.kernel), 3.0 * np.eye(4))
    np.testing.assert_array_equal(np.asarray(hidden.bias), np.zeros(4))
    np.testing.assert_array_equal(np.asarray(out.bias), [0.25])
    kernel = np.asarray(out.kernel)
    assert kernel.T @ kernel == pytest.approx(0.25, abs=1e-6)


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"bias_initializer": "orthogonal"}, "bias_initializer", "(shape (4,))"),
        ({"bias_initializer": "identity"}, "bias_initializer", "only 2-D weights"),
        ({"kernel_initializer": "constant"}, "kernel_initializer", "needs a 'value'"),
    ],
)
def test_validation_names_the_initializer_problem(config, field, fragment):
    from engine.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        check_project(dense_project(config))
    problems = info.value.problems
    assert any(p.field == field and p.layer == "hidden" and fragment in p.message for p in problems)


def test_import_keeps_orthogonal_gain(keras, tmp_path):
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(
                3, kernel_initializer=keras.initializers.Orthogonal(gain=0.5), name="hidden"
            ),
            keras.layers.Dense(
                1,
                kernel_initializer=keras.initializers.VarianceScaling(
                    scale=2.0, mode="fan_out", distribution="uniform"
                ),
                bias_initializer=keras.initializers.Constant(0.0),
                name="out",
            ),
        ]
    )
    path = tmp_path / "orthogonal.keras"
    model.save(path)
    project = import_keras_model(path)
    assert not getattr(project, "load_warnings", [])  # nothing replaced by a default
    hidden, out = (layer["config"] for layer in project.layers)
    assert hidden["kernel_initializer"] == {"class_name": "Orthogonal", "config": {"gain": 0.5}}
    assert out["kernel_initializer"] == VARIANCE_SCALING
    assert out["bias_initializer"] == {"class_name": "Constant", "config": {"value": 0.0}}
    check_project(project, training=False)
    assert "keras.initializers.Orthogonal(gain=0.5)" in keras_code(project)
