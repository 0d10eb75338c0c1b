"""Losses and metrics of the NumPy backend: Keras 3 values, gradients, stability, dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.activations import get_activation
from engine.backends.numpy.losses import LossResult, compute_loss, metric_value
from engine.losses import (
    LOSS_CLASSES,
    LOSS_NAMES,
    canonical_loss,
    loss_spec,
    resolve_loss,
)

STRICT = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}
EPS = 1e-7


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Largest |a - n| / max(|a|, |n|) over the elements; 0 where both are 0."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(n))
    err = np.divide(np.abs(a - n), scale, out=np.zeros_like(a), where=scale > 0)
    return float(err.max(initial=0.0))


def numeric_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        out[idx] = (f(xp) - f(xm)) / (2 * h)
    return out


def targets(loss: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, k, n)
    if loss == "categorical_crossentropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss in ("binary_crossentropy", "hinge"):
        return rng.integers(0, 2, (n, k)).astype(np.float64)
    return rng.normal(size=(n, k))


def test_names_and_aliases():
    assert LOSS_NAMES[:6] == (
        "mean_squared_error",
        "mean_absolute_error",
        "binary_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "hinge",
    )
    assert set(LOSS_NAMES) == set(LOSS_CLASSES)
    assert canonical_loss("mse") == "mean_squared_error"
    assert canonical_loss("mae") == "mean_absolute_error"
    assert canonical_loss("hinge") == "hinge"
    for alias, name in [
        ("msle", "mean_squared_logarithmic_error"),
        ("mape", "mean_absolute_percentage_error"),
        ("kld", "kl_divergence"),
        ("logcosh", "log_cosh"),
    ]:
        assert canonical_loss(alias) == name
    with pytest.raises(KeyError, match="unknown loss 'dice'"):
        canonical_loss("dice")
    with pytest.raises(KeyError, match="unknown loss 'MSE'"):
        compute_loss("MSE", np.zeros((1, 1)), np.zeros((1, 1)))


@pytest.mark.parametrize(
    ("spec", "name", "config"),
    [
        ("huber", "huber", {"delta": 1.0, "reduction": "sum_over_batch_size"}),
        ({"class_name": "Huber", "config": {"delta": 3}}, "huber", {"delta": 3.0}),
        ({"class_name": "huber"}, "huber", {"delta": 1.0}),
        (
            # keras.losses.serialize(keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
            {
                "module": "keras.losses",
                "class_name": "CategoricalCrossentropy",
                "config": {
                    "name": "categorical_crossentropy",
                    "reduction": "sum_over_batch_size",
                    "from_logits": False,
                    "label_smoothing": 0.1,
                    "axis": -1,
                },
                "registered_name": None,
            },
            "categorical_crossentropy",
            {"label_smoothing": 0.1, "from_logits": False},
        ),
        (
            {"class_name": "mean_squared_error"},
            "mean_squared_error",
            {"reduction": "sum_over_batch_size"},
        ),
    ],
)
def test_loss_specs_resolve_in_keras_form(spec, name, config):
    got_name, got = resolve_loss(spec)
    assert got_name == name
    assert {k: got[k] for k in config} == config
    # the shortest spec round-trips
    assert resolve_loss(loss_spec(got_name, got)) == (got_name, got)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"class_name": "Huber", "config": {"delta": 0}}, "Huber: 'delta' must be a number"),
        ({"class_name": "Huber", "config": {"alpha": 1}}, "Huber has no setting 'alpha'"),
        (
            {"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 2}},
            "'label_smoothing' must be a number in [0, 1]",
        ),
        (
            {"class_name": "BinaryCrossentropy", "config": {"from_logits": "yes"}},
            "'from_logits' must be true or false",
        ),
        ({"class_name": "Poisson", "config": {"reduction": "none"}}, "'reduction' must be one of"),
        ({"class_name": "CosineSimilarity", "config": {"axis": 0}}, "'axis' must be -1"),
        ({"class_name": "Huber", "cfg": {}}, "unknown key 'cfg'"),
    ],
)
def test_bad_loss_settings_are_named(spec, fragment):
    with pytest.raises(ValueError) as info:
        resolve_loss(spec)
    assert fragment in str(info.value)
    with pytest.raises(KeyError):
        canonical_loss(spec)


def test_metric_names_and_aliases():
    from engine.metrics import resolve_metric

    assert resolve_metric("acc").cls == "accuracy"
    assert resolve_metric("mse").cls == "MeanSquaredError"
    assert resolve_metric("mae").cls == "MeanAbsoluteError"
    assert resolve_metric("auc").cls == "AUC"
    with pytest.raises(ValueError, match="unknown metric 'aucc'"):
        resolve_metric("aucc")


# --- values against hand-computed Keras formulas ---------------------------------------------


def test_mse_and_mae_values():
    y = np.array([[0.0, 1.0], [2.0, 2.0]])
    a = np.array([[1.0, 1.0], [0.0, 3.0]])
    # squared errors: [1, 0], [4, 1] -> per sample 0.5, 2.5 -> mean 1.5
    r = compute_loss("mse", y, a)
    assert isinstance(r, LossResult)
    assert r.value == pytest.approx(1.5)
    np.testing.assert_allclose(r.grad_a, 2 * (a - y) / 4)
    assert r.grad_z is None
    # absolute errors: [1, 0], [2, 1] -> 0.5, 1.5 -> 1.0; sign(0) gives gradient 0
    r = compute_loss("mae", y, a)
    assert r.value == pytest.approx(1.0)
    np.testing.assert_allclose(r.grad_a, [[0.25, 0.0], [-0.25, 0.25]])


def test_hinge_converts_binary_labels_like_keras():
    a = np.array([[0.5], [-2.0], [0.3]])
    y01 = np.array([[1.0], [0.0], [0.0]])
    # labels become +1, -1, -1: margins 0.5, -1, 1.3 -> hinge 0.5, 0, 1.3
    r = compute_loss("hinge", y01, a)
    assert r.value == pytest.approx((0.5 + 0 + 1.3) / 3)
    np.testing.assert_allclose(r.grad_a, [[-1 / 3], [0.0], [1 / 3]])
    # labels already -1/+1 are used unchanged, so the same result
    r_pm = compute_loss("hinge", 2 * y01 - 1, a)
    assert r_pm.value == pytest.approx(r.value)
    # labels that are not all 0/1 are not converted: y = 0.5, 0, 0 -> margins .75, 1, 1
    r_soft = compute_loss("hinge", np.array([[0.5], [0.0], [0.0]]), a)
    assert r_soft.value == pytest.approx((0.75 + 1 + 1) / 3)


def test_binary_crossentropy_value():
    y = np.array([[1.0, 0.0]])
    a = np.array([[0.8, 0.4]])
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert compute_loss("binary_crossentropy", y, a).value == pytest.approx(expected)


def test_categorical_crossentropy_renormalises_then_clips():
    y = np.array([[0.0, 1.0, 0.0]])
    a = np.array([[0.2, 0.2, 0.6]])  # sums to 1
    assert compute_loss("categorical_crossentropy", y, a).value == pytest.approx(-math.log(0.2))
    # Keras divides by the row sum first: 0.2 / 2.0
    a2 = np.array([[0.4, 0.2, 1.4]])
    assert compute_loss("categorical_crossentropy", y, a2).value == pytest.approx(-math.log(0.1))
    # then clips to [1e-7, 1 - 1e-7]: a zero probability costs -log(1e-7)
    a3 = np.array([[0.5, 0.0, 0.5]])
    r = compute_loss("categorical_crossentropy", y, a3)
    assert r.value == pytest.approx(-math.log(EPS))


def test_sparse_categorical_crossentropy_clips_then_renormalises():
    a = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    labels = np.array([1, 2])
    expected = (-math.log(0.7) - math.log(0.25)) / 2
    assert compute_loss("sparse_categorical_crossentropy", labels, a).value == pytest.approx(
        expected
    )
    # Keras' sparse path clips first and then renormalises through log-softmax.
    a0 = np.array([[0.0, 1.0]])
    expected0 = math.log(EPS + (1 - EPS)) - math.log(EPS)
    r = compute_loss("sparse_categorical_crossentropy", np.array([0]), a0)
    assert r.value == pytest.approx(expected0)
    # labels of shape (n, 1) are accepted too
    r1 = compute_loss("sparse_categorical_crossentropy", labels[:, None], a)
    assert r1.value == pytest.approx(expected)


def test_fused_paths_are_taken_for_any_softmax_or_sigmoid_output():
    # As Keras' TensorFlow backend (_get_logits): the logits stored on a softmax or sigmoid
    # output feed any crossentropy, with the loss's own function of them.
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    labels = rng.integers(0, 3, 4)
    onehot = np.eye(3)[labels]
    sm = get_activation("softmax").forward(z)
    sg = get_activation("sigmoid").forward(z)
    assert compute_loss("categorical_crossentropy", onehot, sm, z, "softmax").grad_z is not None
    assert (
        compute_loss("sparse_categorical_crossentropy", labels, sm, z, "softmax").grad_z is not None
    )
    assert compute_loss("binary_crossentropy", onehot, sg, z, "sigmoid").grad_z is not None
    # mismatched pairs: scored as the loss's own function of z, not as the output shown
    bce = compute_loss("binary_crossentropy", onehot, sm, z, "softmax")
    assert bce.value == pytest.approx(compute_loss("binary_crossentropy", onehot, sg).value)
    np.testing.assert_allclose(bce.grad_z, (sg - onehot) / 12, rtol=1e-12)
    cce = compute_loss("categorical_crossentropy", onehot, sg, z, "sigmoid")
    assert cce.value == pytest.approx(compute_loss("categorical_crossentropy", onehot, sm).value)
    np.testing.assert_allclose(cce.grad_z, (sm - onehot) / 4, rtol=1e-12)
    scce = compute_loss("sparse_categorical_crossentropy", labels, sg, z, "sigmoid")
    assert scce.value == pytest.approx(cce.value)
    # ∂L/∂p of the probabilities scored (shown only)
    np.testing.assert_allclose(
        cce.grad_a, compute_loss("categorical_crossentropy", onehot, sm).grad_a
    )
    assert compute_loss("categorical_crossentropy", onehot, sm, None, "softmax").grad_z is None
    assert compute_loss("mse", onehot, sm, z, "softmax").grad_z is None
    assert compute_loss("binary_crossentropy", onehot, sg, z, "hard_sigmoid").grad_z is None


def test_fused_gradients_are_the_textbook_forms():
    rng = np.random.default_rng(1)
    n, k = 5, 4
    z = rng.normal(size=(n, k))
    labels = rng.integers(0, k, n)
    onehot = np.eye(k)[labels]
    sm = get_activation("softmax").forward(z)
    sg = get_activation("sigmoid").forward(z)
    r = compute_loss("categorical_crossentropy", onehot, sm, z, "softmax")
    np.testing.assert_allclose(r.grad_z, (sm - onehot) / n, rtol=1e-12)
    r = compute_loss("sparse_categorical_crossentropy", labels, sm, z, "softmax")
    np.testing.assert_allclose(r.grad_z, (sm - onehot) / n, rtol=1e-12)
    y = rng.integers(0, 2, (n, k)).astype(float)
    r = compute_loss("binary_crossentropy", y, sg, z, "sigmoid")
    np.testing.assert_allclose(r.grad_z, (sg - y) / (n * k), rtol=1e-12)


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
        ("binary_crossentropy", "sigmoid"),
    ],
)
def test_fused_and_probability_paths_agree_without_clipping(loss, activation):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, 3))
    y = targets(loss, 6, 3, rng)
    act = get_activation(activation)
    a = act.forward(z)
    fused = compute_loss(loss, y, a, z, activation)
    plain = compute_loss(loss, y, a)
    assert fused.value == pytest.approx(plain.value, rel=1e-12)
    np.testing.assert_allclose(fused.grad_a, plain.grad_a)
    # the chain rule through the activation gives the fused gradient
    np.testing.assert_allclose(act.backward(z, a, plain.grad_a), fused.grad_z, rtol=1e-9)


# --- gradient checks (central differences, float64) ------------------------------------------


def _keep_inside_clip(a: np.ndarray) -> np.ndarray:
    return np.clip(a, 0.02, 0.98)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_probability_path_gradient(loss):
    rng = np.random.default_rng(3)
    n, k = 4, 3
    y = targets(loss, n, k, rng)
    if loss in ("binary_crossentropy", "categorical_crossentropy"):
        # inside the clip range (and, for categorical, a row sum that is not 1)
        a = _keep_inside_clip(rng.uniform(size=(n, k))) * (0.5 if loss[0] == "c" else 1)
    elif loss == "sparse_categorical_crossentropy":
        a = _keep_inside_clip(rng.uniform(size=(n, k)))
    elif loss in ("kl_divergence", "poisson", "mean_squared_logarithmic_error"):
        a = _keep_inside_clip(rng.uniform(size=(n, k)))  # where ŷ's guards do not bite
        y = np.abs(y)
    elif loss == "hinge":
        a = rng.normal(size=(n, k))
        margins = 1 - (2 * y - 1) * a
        a = np.where(np.abs(margins) < 0.05, a + 0.2, a)  # away from the kink
    else:
        a = rng.normal(size=(n, k))
    analytic = compute_loss(loss, y, a).grad_a
    numeric = numeric_grad(lambda x: compute_loss(loss, y, x).value, a)
    assert rel_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
        ("binary_crossentropy", "sigmoid"),
    ],
)
@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_fused_path_gradient(loss, activation, scale):
    rng = np.random.default_rng(4)
    n, k = 4, 3
    y = targets(loss, n, k, rng)
    act = get_activation(activation)
    z = rng.normal(size=(n, k)) * scale

    def value(zz):
        return compute_loss(loss, y, act.forward(zz), zz, activation).value

    analytic = compute_loss(loss, y, act.forward(z), z, activation).grad_z
    assert rel_error(analytic, numeric_grad(value, z)) < 1e-6


def test_clipped_outputs_get_zero_gradient():
    y = np.array([[1.0, 0.0]])
    a = np.array([[0.0, 1.0]])  # both outside [1e-7, 1 - 1e-7]
    r = compute_loss("binary_crossentropy", y, a)
    assert not r.grad_a.any()
    assert r.value == pytest.approx(-math.log(EPS), rel=1e-6)


# --- stability and dtypes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "activation"),
    [
        ("categorical_crossentropy", "softmax"),
        ("sparse_categorical_crossentropy", "softmax"),
        ("binary_crossentropy", "sigmoid"),
        ("categorical_crossentropy", "linear"),
        ("binary_crossentropy", "linear"),
        ("mean_squared_error", "linear"),
        ("mean_absolute_error", "linear"),
        ("hinge", "linear"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_and_dtypes(loss, activation, dtype):
    rng = np.random.default_rng(5)
    n, k = 6, 4
    z = (np.sign(rng.normal(size=(n, k))) * 1e4).astype(dtype)
    y = targets(loss, n, k, rng)
    act = get_activation(activation)
    a = act.forward(z)
    if activation == "linear" and "crossentropy" in loss:
        # a probability-space loss on values outside [0, 1]: clipped, still finite
        a = np.abs(a)
    with np.errstate(**STRICT):
        r = compute_loss(loss, y, a, z, activation)
    assert math.isfinite(r.value)
    assert r.grad_a.dtype == dtype and np.isfinite(r.grad_a).all()
    if r.grad_z is not None:
        assert r.grad_z.dtype == dtype and np.isfinite(r.grad_z).all()


def test_fused_value_at_huge_logits_is_exact():
    # The wrong class wins by 2e4: the loss is exactly 2e4, not -log(1e-7) = 16.1.
    z = np.array([[1e4, -1e4]])
    a = get_activation("softmax").forward(z)
    r = compute_loss("sparse_categorical_crossentropy", np.array([1]), a, z, "softmax")
    assert r.value == pytest.approx(2e4)
    np.testing.assert_allclose(r.grad_z, [[1.0, -1.0]])
    s = get_activation("sigmoid").forward(z)
    r = compute_loss("binary_crossentropy", np.array([[0.0, 1.0]]), s, z, "sigmoid")
    assert r.value == pytest.approx(1e4)


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "y", "fragment"),
    [
        ("sparse_categorical_crossentropy", np.array([0, 3]), "label 3 is out of range"),
        ("sparse_categorical_crossentropy", np.array([0, -1]), "label -1 is out of range"),
        ("sparse_categorical_crossentropy", np.array([0, 1, 2]), "one integer label per sample"),
        ("sparse_categorical_crossentropy", np.array([0.0, 1.5]), "whole numbers"),
        ("mean_squared_error", np.zeros((2, 2)), "targets of the output's shape"),
    ],
)
def test_bad_targets(loss, y, fragment):
    with pytest.raises(ValueError, match=fragment):
        compute_loss(loss, y, np.full((2, 3), 1 / 3))


def test_float_labels_that_are_whole_are_accepted():
    a = np.full((2, 3), 1 / 3)
    r = compute_loss("sparse_categorical_crossentropy", np.array([0.0, 2.0]), a)
    assert r.value == pytest.approx(math.log(3))


# --- metrics ---------------------------------------------------------------------------------


def test_accuracy_sparse_categorical():
    y_pred = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert metric_value(
        "accuracy", "sparse_categorical_crossentropy", np.array([1, 1, 1]), y_pred
    ) == (pytest.approx(2 / 3))


def test_accuracy_categorical():
    y_pred = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = np.array([[0, 1], [1, 0], [1, 0]])
    assert metric_value("acc", "categorical_crossentropy", y, y_pred) == pytest.approx(2 / 3)


def test_accuracy_binary_uses_threshold_half():
    y_pred = np.array([[0.5], [0.51], [0.2], [0.9]])
    y = np.array([[1.0], [1.0], [0.0], [0.0]])
    # 0.5 is not > 0.5, so it predicts 0
    assert metric_value("accuracy", "binary_crossentropy", y, y_pred) == pytest.approx(0.5)
    assert metric_value("accuracy", "mse", y, y_pred) == pytest.approx(0.5)


def test_accuracy_by_width_like_keras_compile():
    # Keras 3 picks the accuracy from the shapes: a wide output gets categorical accuracy.
    # (binary accuracy would be 0.25 here: only one of the four thresholded values matches)
    y_pred = np.array([[0.9, 0.8], [0.6, 0.3]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert metric_value("accuracy", "binary_crossentropy", y, y_pred) == 0.0


def test_perceptron_accuracy():
    y_pred = np.array([1, -1, 1, 1])
    y = np.array([1, -1, -1, 1])
    assert metric_value("accuracy", None, y, y_pred) == pytest.approx(0.75)
    assert metric_value("accuracy", None, y[:, None], y_pred) == pytest.approx(0.75)


def test_error_metrics():
    y = np.array([[0.0, 1.0], [2.0, 2.0]])
    y_pred = np.array([[1.0, 1.0], [0.0, 3.0]])
    assert metric_value("mse", "mse", y, y_pred) == pytest.approx(1.5)
    assert metric_value("mean_absolute_error", "mse", y, y_pred) == pytest.approx(1.0)
