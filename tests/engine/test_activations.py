"""Activation functions: Keras 3 formulas, gradients, dtypes and numerical stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.activations import ACTIVATION_NAMES, Activation, get_activation

GRADIENT_NAMES = [n for n in ACTIVATION_NAMES if get_activation(n).has_gradient]
ELEMENTWISE_GRADIENT_NAMES = [n for n in GRADIENT_NAMES if get_activation(n).elementwise]
# Where the non-smooth activations have kinks; gradient checks stay away from them.
KINKS = (0.0, -3.0, 3.0)

# Overflow, invalid operations and division by zero must never happen; underflow to 0 is the
# correct IEEE result (TensorFlow returns the same zeros), so it is not trapped.
STRICT = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 0.0) -> float:
    """Largest |a - n| / max(|a|, |n|) over the elements; 0 where both are 0.

    ``floor`` raises the denominator for components whose exact value is below the noise of
    the finite difference itself.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    err = np.divide(np.abs(a - n), scale, out=np.zeros_like(a), where=scale > 0)
    return float(err.max(initial=0.0))


def away_from_kinks(z: np.ndarray, margin: float = 1e-2) -> np.ndarray:
    z = z.copy()
    for kink in KINKS:
        near = np.abs(z - kink) < margin
        z[near] = kink + 2 * margin
    return z


def elementwise_numeric(act: Activation, z: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """Central difference of each f(z_i) alone: valid because f acts element by element."""
    h = 1e-6
    return grad_a * (act.forward(z + h) - act.forward(z - h)) / (2 * h)


def full_numeric(act: Activation, z: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """Central difference of sum(grad_a * f(z)) with respect to every element of z."""
    h = 1e-6
    out = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        out[idx] = (np.sum(grad_a * act.forward(zp)) - np.sum(grad_a * act.forward(zm))) / (2 * h)
    return out


def test_names_are_the_keras_vocabulary():
    assert ACTIVATION_NAMES == (
        "linear",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "softplus",
        "softsign",
        "swish",
        "silu",
        "gelu",
        "softmax",
        "hard_sigmoid",
        "relu6",
        "hard_silu",
        "hard_swish",
        "mish",
        "log_softmax",
        "sign",
    )
    for name in ACTIVATION_NAMES:
        assert get_activation(name).name == name


def test_unknown_name_raises_key_error_with_message():
    with pytest.raises(KeyError) as info:
        get_activation("relu7")
    message = info.value.args[0]
    assert "unknown activation 'relu7'" in message
    assert "softmax" in message


def test_none_means_linear():
    assert get_activation(None).name == "linear"


def test_flags():
    mixing = [n for n in ACTIVATION_NAMES if not get_activation(n).elementwise]
    assert mixing == ["softmax", "log_softmax"]
    assert [n for n in ACTIVATION_NAMES if not get_activation(n).has_gradient] == ["sign"]
    not_smooth = {n for n in ACTIVATION_NAMES if not get_activation(n).smooth}
    assert not_smooth == {
        "relu",
        "leaky_relu",
        "selu",
        "hard_sigmoid",
        "relu6",
        "hard_silu",
        "hard_swish",
        "sign",
    }


KERAS_NAMES = [n for n in ACTIVATION_NAMES if n != "sign"]


@pytest.mark.parametrize("name", KERAS_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_and_its_gradient_are_keras(tf_ready, name, dtype):
    """Keras' own activation by the same name on the same inputs (kinks included: 0, ±3, 6),
    and TensorFlow's gradient of Σ g·f(z) against backward()."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(2)
    z = np.concatenate([rng.uniform(-8, 8, 42), [0.0, -3.0, 3.0, 6.0, -0.5, 1e-3]])
    z = z.reshape(-1, 4).astype(dtype)
    g = rng.normal(size=z.shape).astype(dtype)
    fn = keras.activations.get(name)
    var = tf.Variable(z)
    with tf.GradientTape() as tape:
        out = fn(var)
        total = tf.reduce_sum(out * g)
    theirs, grad = out.numpy(), tape.gradient(total, var).numpy()
    act = get_activation(name)
    ours = act.forward(z)
    if dtype == "float64" and name in ("gelu", "leaky_relu"):
        pytest.skip("TensorFlow rounds these constants to float32 (engine.backends.tensorflow)")
    rtol = 2e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(act.backward(z, ours, g), grad, rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    ("name", "z", "expected"),
    [
        ("linear", -2.5, -2.5),
        ("sigmoid", 0.0, 0.5),
        ("sigmoid", 2.0, 1 / (1 + math.exp(-2.0))),
        ("sigmoid", -2.0, 1 / (1 + math.exp(2.0))),
        ("tanh", 0.5, math.tanh(0.5)),
        ("relu", -1.0, 0.0),
        ("relu", 2.0, 2.0),
        ("leaky_relu", -1.0, -0.2),
        ("leaky_relu", 3.0, 3.0),
        ("elu", -1.0, math.exp(-1.0) - 1),
        ("elu", 2.0, 2.0),
        ("selu", -1.0, 1.0507009873554805 * 1.6732632423543772 * (math.exp(-1.0) - 1)),
        ("selu", 2.0, 2 * 1.0507009873554805),
        ("softplus", 0.0, math.log(2.0)),
        ("softplus", 3.0, math.log1p(math.exp(3.0))),
        ("softsign", 1.0, 0.5),
        ("softsign", -3.0, -0.75),
        ("swish", 1.0, 1 / (1 + math.exp(-1.0))),
        ("silu", -2.0, -2 / (1 + math.exp(2.0))),
        ("gelu", 1.0, 0.5 * (1 + math.erf(1 / math.sqrt(2)))),
        ("gelu", -2.0, -1.0 * (1 + math.erf(-2 / math.sqrt(2)))),
        ("hard_sigmoid", -3.0, 0.0),
        ("hard_sigmoid", 0.0, 0.5),
        ("hard_sigmoid", 1.5, 0.75),
        ("hard_sigmoid", 4.0, 1.0),
        ("relu6", 7.5, 6.0),
        ("relu6", -1.0, 0.0),
        ("hard_silu", 1.5, 1.5 * 4.5 / 6),
        ("hard_swish", -4.0, 0.0),
        ("mish", 1.0, 1.0 * np.tanh(np.log1p(np.e))),
        ("sign", 0.0, 1.0),
        ("sign", -1e-9, -1.0),
        ("sign", 2.0, 1.0),
    ],
)
def test_forward_matches_keras_formula(name, z, expected):
    out = get_activation(name).forward(np.array([z]))
    assert out[0] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_softmax_rows():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    a = get_activation("softmax").forward(z)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(a[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(a[1], [1 / 3] * 3, rtol=1e-14)


@pytest.mark.parametrize(
    ("name", "z", "expected"),
    [
        ("relu", 0.0, 0.0),
        ("leaky_relu", 0.0, 0.2),
        ("elu", 0.0, 1.0),
        ("selu", 0.0, 1.0507009873554805),
        ("hard_sigmoid", -3.0, 0.0),
        ("hard_sigmoid", 3.0, 0.0),
        ("hard_sigmoid", 0.0, 1 / 6),
        ("relu6", 0.0, 0.0),
        ("relu6", 6.0, 0.0),
        ("hard_silu", 3.0, 1.0),
        ("hard_silu", -3.0, 0.0),
        ("sign", 0.5, 0.0),
    ],
)
def test_derivative_at_kinks_follows_tensorflow(name, z, expected):
    assert get_activation(name).derivative(np.array([z]))[0] == pytest.approx(expected)


def test_softmax_derivative_is_the_jacobian_diagonal():
    z = np.array([[0.3, -1.0, 2.0]])
    a = get_activation("softmax").forward(z)
    np.testing.assert_allclose(get_activation("softmax").derivative(z), a * (1 - a))


def test_sign_backward_is_zero():
    act = get_activation("sign")
    z = np.array([[-1.0, 2.0]])
    assert not act.backward(z, act.forward(z), np.ones_like(z)).any()


@pytest.mark.parametrize("name", GRADIENT_NAMES)
def test_backward_matches_central_differences(name):
    act = get_activation(name)
    rng = np.random.default_rng(1)
    z = away_from_kinks(rng.uniform(-4, 4, size=(6, 5)))
    grad_a = rng.normal(size=z.shape)
    analytic = act.backward(z, act.forward(z), grad_a)
    if act.elementwise:
        numeric = elementwise_numeric(act, z, grad_a)
        floor = 0.0
    else:
        numeric = full_numeric(act, z, grad_a)
        floor = 1e-7
    assert rel_error(analytic, numeric, floor=floor) < 1e-6


@pytest.mark.parametrize("name", ELEMENTWISE_GRADIENT_NAMES)
def test_derivative_agrees_with_backward(name):
    act = get_activation(name)
    z = away_from_kinks(np.linspace(-5, 5, 41))
    ones = np.ones_like(z)
    np.testing.assert_array_equal(act.derivative(z), act.backward(z, act.forward(z), ones))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(ELEMENTWISE_GRADIENT_NAMES),
    z=arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 6)),
        elements=st.floats(-4, 4, allow_nan=False),
    ),
    seed=st.integers(0, 2**16),
)
def test_backward_elementwise_property(name, z, seed):
    act = get_activation(name)
    z = away_from_kinks(z)
    grad_a = np.random.default_rng(seed).normal(size=z.shape)
    analytic = act.backward(z, act.forward(z), grad_a)
    assert rel_error(analytic, elementwise_numeric(act, z, grad_a)) < 1e-6


@settings(max_examples=30, deadline=None)
@given(
    z=arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 5)),
        elements=st.floats(-3, 3, allow_nan=False),
    ),
    seed=st.integers(0, 2**16),
)
def test_softmax_backward_property(z, seed):
    act = get_activation("softmax")
    grad_a = np.random.default_rng(seed).normal(size=z.shape)
    analytic = act.backward(z, act.forward(z), grad_a)
    # The central difference carries ~1e-10 of round-off; below |g| = 1e-3 that noise would
    # dominate a relative error, so the floor judges those components by absolute error (1e-9).
    assert rel_error(analytic, full_numeric(act, z, grad_a), floor=1e-3) < 1e-6


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_no_overflow_at_huge_inputs(name, dtype):
    act = get_activation(name)
    z = np.array([[-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4]], dtype=dtype)
    with np.errstate(**STRICT):
        a = act.forward(z)
        d = act.derivative(z)
        g = act.backward(z, a, np.ones_like(z))
    for arr in (a, d, g):
        assert arr.dtype == dtype
        assert np.all(np.isfinite(arr))


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("sigmoid", 0.0, 1.0),
        ("tanh", -1.0, 1.0),
        ("softsign", -1.0, 1.0),
        ("hard_sigmoid", 0.0, 1.0),
        ("softmax", 0.0, 1.0),
    ],
)
def test_saturating_limits(name, low, high):
    a = get_activation(name).forward(np.array([-1e4, 1e4]))
    assert low <= a.min() and a.max() <= high


def test_saturated_values():
    big = np.array([-1e4, 1e4])
    np.testing.assert_array_equal(get_activation("sigmoid").forward(big), [0.0, 1.0])
    np.testing.assert_array_equal(get_activation("softplus").forward(big), [0.0, 1e4])
    np.testing.assert_array_equal(get_activation("gelu").forward(big), [-0.0, 1e4])
    np.testing.assert_array_equal(get_activation("elu").forward(big), [-1.0, 1e4])


def test_integer_input_becomes_float():
    a = get_activation("relu").forward(np.array([-1, 2]))
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, [0.0, 2.0])


def test_forward_returns_a_new_array():
    z = np.array([1.0, 2.0])
    a = get_activation("linear").forward(z)
    a[0] = 5.0
    assert z[0] == 1.0
