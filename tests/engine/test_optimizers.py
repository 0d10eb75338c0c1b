"""Optimizers of the NumPy backend: Keras 3 defaults, update formulas, state and messages.

The expected numbers are written out from Keras 3's update rules (keras/src/optimizers/*.py),
independently of the code under test. Every case runs two steps on one weight w = 1.0 with the
gradients g1 = 0.5 and g2 = -1.0.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from engine.backends.numpy.optimizers import make_optimizer
from engine.optimizers import OPTIMIZER_NAMES, resolve_optimizer

G1, G2 = 0.5, -1.0


def two_steps(class_name: str, config: dict) -> tuple[float, float, object]:
    opt = make_optimizer(class_name, config)
    weights = {"w": np.array([1.0])}
    opt.apply(weights, {"w": np.array([G1])})
    w1 = float(weights["w"][0])
    opt.apply(weights, {"w": np.array([G2])})
    return w1, float(weights["w"][0]), opt


# --- resolution ------------------------------------------------------------------------------


def test_names():
    assert OPTIMIZER_NAMES == (
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "Nadam",
        "Lion",
        "Ftrl",
        "Perceptron",
    )


@pytest.mark.parametrize(
    ("spec", "class_name", "own"),
    [
        ("sgd", "SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
        (
            "Adam",
            "Adam",
            {
                "learning_rate": 0.001,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-7,
                "amsgrad": False,
            },
        ),
        (
            "RMSPROP",
            "RMSprop",
            {
                "learning_rate": 0.001,
                "rho": 0.9,
                "momentum": 0.0,
                "epsilon": 1e-7,
                "centered": False,
            },
        ),
        (
            "adagrad",
            "Adagrad",
            {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
        ),
        ("perceptron", "Perceptron", {"learning_rate": 0.01}),
    ],
)
def test_defaults(spec, class_name, own):
    name, config = resolve_optimizer(spec)
    assert name == class_name
    for key, value in own.items():
        assert config[key] == value and type(config[key]) is type(value)
    if class_name == "Perceptron":
        assert config == {"name": None, **own}
    else:
        assert config["clipnorm"] is None and config["use_ema"] is False


def test_dict_form_and_overrides():
    name, config = resolve_optimizer({"class_name": "adam", "config": {"learning_rate": 1}})
    assert name == "Adam"
    assert config["learning_rate"] == 1.0 and isinstance(config["learning_rate"], float)
    assert config["beta_2"] == 0.999


def test_keras_serialized_config_is_accepted():
    # keras.optimizers.serialize(keras.optimizers.Adam()) in Keras 3.
    spec = {
        "module": "keras.optimizers",
        "class_name": "Adam",
        "config": {
            "name": "adam",
            "learning_rate": 0.0010000000474974513,
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
        "registered_name": None,
    }
    name, config = resolve_optimizer(spec)
    assert name == "Adam"
    assert config == spec["config"]
    # the resolved pair round-trips
    assert resolve_optimizer({"class_name": name, "config": config}) == (name, config)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("adafactor", "unknown optimizer 'adafactor'; expected one of SGD, Adam, AdamW"),
        ({"class_name": "Lamb"}, "unknown optimizer 'Lamb'"),
        ({"config": {}}, "needs a 'class_name'"),
        ({"class_name": "SGD", "cfg": {}}, "unknown key 'cfg'"),
        ({"class_name": "SGD", "config": [1]}, "'config' must be a mapping"),
        (3, "must be a name or a"),
        ({"class_name": "Adam", "config": {"lr": 0.1}}, "Adam has no setting 'lr'"),
        ({"class_name": "SGD", "config": {"beta_1": 0.9}}, "SGD has no setting 'beta_1'"),
        (
            {"class_name": "Perceptron", "config": {"clipnorm": 1.0}},
            "Perceptron has no setting 'clipnorm'",
        ),
        ({"class_name": "SGD", "config": {"learning_rate": 0}}, "'learning_rate' must be a number"),
        ({"class_name": "SGD", "config": {"learning_rate": "fast"}}, "got 'fast'"),
        ({"class_name": "SGD", "config": {"learning_rate": True}}, "'learning_rate'"),
        ({"class_name": "SGD", "config": {"learning_rate": math.inf}}, "'learning_rate'"),
        (
            {"class_name": "SGD", "config": {"momentum": 1.0}},
            "'momentum' must be a number in [0, 1)",
        ),
        ({"class_name": "SGD", "config": {"momentum": -0.1}}, "'momentum'"),
        ({"class_name": "SGD", "config": {"nesterov": "yes"}}, "'nesterov' must be true or false"),
        ({"class_name": "Adam", "config": {"beta_1": 1.0}}, "Adam: 'beta_1' must be a number"),
        ({"class_name": "Adam", "config": {"beta_2": -0.5}}, "'beta_2'"),
        ({"class_name": "Adam", "config": {"epsilon": 0.0}}, "'epsilon' must be a number greater"),
        ({"class_name": "Adam", "config": {"amsgrad": 1}}, "'amsgrad' must be true or false"),
        ({"class_name": "RMSprop", "config": {"rho": 1.5}}, "'rho'"),
        ({"class_name": "RMSprop", "config": {"centered": None}}, "'centered'"),
        (
            {"class_name": "Adagrad", "config": {"initial_accumulator_value": -1}},
            "'initial_accumulator_value'",
        ),
        (
            {"class_name": "Adam", "config": {"weight_decay": -0.01}},
            "'weight_decay' must be a number at least 0",
        ),
        (
            {"class_name": "AdamW", "config": {"weight_decay": None}},
            "AdamW: 'weight_decay' must be a number >= 0",
        ),
        ({"class_name": "SGD", "config": {"weight_decay": True}}, "'weight_decay'"),
        (
            {"class_name": "Lion", "config": {"beta_1": 0.0}},
            "Lion: 'beta_1' must be a number in (0, 1]",
        ),
        ({"class_name": "Lion", "config": {"beta_2": 1.0}}, "'beta_2' must be a number in [0, 1)"),
        ({"class_name": "Adadelta", "config": {"rho": 1.0}}, "'rho'"),
        (
            {"class_name": "Ftrl", "config": {"learning_rate_power": 0.5}},
            "'learning_rate_power' must be a number at most 0",
        ),
        (
            {"class_name": "Ftrl", "config": {"l1_regularization_strength": -1}},
            "'l1_regularization_strength' must be a number at least 0",
        ),
        ({"class_name": "Ftrl", "config": {"beta": -0.5}}, "'beta'"),
        ({"class_name": "Adam", "config": {"use_ema": True}}, "'use_ema' must be false"),
        ({"class_name": "Adam", "config": {"clipnorm": -1.0}}, "'clipnorm'"),
        (
            {"class_name": "Adam", "config": {"clipnorm": 1.0, "clipvalue": 1.0}},
            "only one of 'clipnorm', 'clipvalue' and 'global_clipnorm'",
        ),
        ({"class_name": "Adam", "config": {"loss_scale_factor": 2.0}}, "'loss_scale_factor'"),
        (
            {"class_name": "Adam", "config": {"gradient_accumulation_steps": 4}},
            "'gradient_accumulation_steps'",
        ),
        ({"class_name": "Adam", "config": {"name": 5}}, "'name' must be a string"),
    ],
)
def test_bad_specs_have_messages(spec, fragment):
    with pytest.raises(ValueError) as info:
        resolve_optimizer(spec)
    assert fragment in str(info.value)


def test_make_optimizer_validates_too():
    with pytest.raises(ValueError, match="SGD has no setting 'beta_1'"):
        make_optimizer("SGD", {"beta_1": 0.9})
    assert make_optimizer("adam").class_name == "Adam"


def test_weight_decay_zero_is_accepted():
    assert resolve_optimizer({"class_name": "SGD", "config": {"weight_decay": 0}})[0] == "SGD"


def test_adamw_decays_by_default_and_lion_takes_beta_1_one():
    assert resolve_optimizer("adamw")[1]["weight_decay"] == 0.004
    assert resolve_optimizer("adam")[1]["weight_decay"] is None
    assert resolve_optimizer({"class_name": "Lion", "config": {"beta_1": 1}})[1]["beta_1"] == 1.0


# --- update formulas, two steps, expected values from Keras' rules ---------------------------


def test_sgd_plain():
    w1, w2, _ = two_steps("SGD", {"learning_rate": 0.1})
    assert w1 == pytest.approx(1.0 - 0.1 * 0.5, rel=1e-15)  # 0.95
    assert w2 == pytest.approx(0.95 + 0.1, rel=1e-15)  # 1.05


def test_sgd_momentum():
    # m = momentum*m - lr*g; w += m
    w1, w2, opt = two_steps("SGD", {"learning_rate": 0.1, "momentum": 0.9})
    assert w1 == pytest.approx(0.95, rel=1e-15)  # m1 = -0.05
    assert w2 == pytest.approx(0.95 + 0.055, rel=1e-15)  # m2 = -0.045 + 0.1
    assert opt.slots()["w"]["momentum"][0] == pytest.approx(0.055, rel=1e-14)


def test_sgd_nesterov():
    # m = momentum*m - lr*g; w += momentum*m - lr*g
    w1, w2, _ = two_steps("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True})
    assert w1 == pytest.approx(1.0 + (0.9 * -0.05 - 0.05), rel=1e-15)  # 0.905
    assert w2 == pytest.approx(0.905 + (0.9 * 0.055 + 0.1), rel=1e-15)  # 1.0545


def _adam_expected(amsgrad: bool) -> tuple[float, float]:
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    m1 = 0.5 * (1 - b1)  # 0.05
    v1 = 0.25 * (1 - b2)  # 0.00025
    alpha1 = lr * math.sqrt(1 - b2) / (1 - b1)
    w1 = 1.0 - alpha1 * m1 / (math.sqrt(v1) + eps)
    m2 = m1 + (-1.0 - m1) * (1 - b1)  # -0.055
    v2 = v1 + (1.0 - v1) * (1 - b2)  # 0.00124975
    if amsgrad:
        v2 = max(v1, v2)
    alpha2 = lr * math.sqrt(1 - b2**2) / (1 - b1**2)
    w2 = w1 - alpha2 * m2 / (math.sqrt(v2) + eps)
    return w1, w2


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    w1, w2, opt = two_steps("Adam", {"learning_rate": 0.1, "amsgrad": amsgrad})
    e1, e2 = _adam_expected(amsgrad)
    assert w1 == pytest.approx(e1, rel=1e-13)
    assert w2 == pytest.approx(e2, rel=1e-13)
    slots = opt.slots()["w"]
    assert slots["momentum"][0] == pytest.approx(-0.055, rel=1e-13)
    assert slots["velocity"][0] == pytest.approx(0.00124975, rel=1e-13)
    assert ("velocity_hat" in slots) == amsgrad
    assert opt.iterations == 2


def test_adam_amsgrad_keeps_the_largest_velocity():
    opt = make_optimizer("Adam", {"learning_rate": 0.1, "amsgrad": True})
    weights = {"w": np.array([1.0])}
    for g in (10.0, 0.0):  # the velocity shrinks on the second step, velocity_hat does not
        opt.apply(weights, {"w": np.array([g])})
    slots = opt.slots()["w"]
    assert slots["velocity_hat"][0] == pytest.approx(100 * 0.001, rel=1e-13)
    assert slots["velocity"][0] == pytest.approx(100 * 0.001 * 0.999, rel=1e-13)


def test_rmsprop():
    lr, rho, eps = 0.1, 0.9, 1e-7
    w1, w2, _ = two_steps("RMSprop", {"learning_rate": lr})
    v1 = (1 - rho) * 0.25  # 0.025
    e1 = 1.0 - lr * 0.5 / math.sqrt(v1 + eps)
    v2 = rho * v1 + (1 - rho) * 1.0  # 0.1225
    e2 = e1 + lr * 1.0 / math.sqrt(v2 + eps)
    assert w1 == pytest.approx(e1, rel=1e-14)
    assert w2 == pytest.approx(e2, rel=1e-14)


def test_rmsprop_centered_with_momentum():
    lr, rho, eps, mom = 0.1, 0.9, 1e-7, 0.5
    w1, w2, opt = two_steps("RMSprop", {"learning_rate": lr, "momentum": mom, "centered": True})
    v1, avg1 = 0.025, 0.05
    inc1 = lr * 0.5 / math.sqrt(v1 - avg1**2 + eps)
    e1 = 1.0 - inc1
    v2, avg2 = 0.1225, rho * avg1 + (1 - rho) * -1.0  # avg2 = -0.055
    inc2 = lr * -1.0 / math.sqrt(v2 - avg2**2 + eps)
    e2 = e1 - (mom * inc1 + inc2)
    assert w1 == pytest.approx(e1, rel=1e-14)
    assert w2 == pytest.approx(e2, rel=1e-14)
    assert set(opt.slots()["w"]) == {"velocity", "momentum", "average_gradient"}


def test_adagrad():
    lr, eps = 0.1, 1e-7
    w1, w2, opt = two_steps("Adagrad", {"learning_rate": lr})
    e1 = 1.0 - lr * 0.5 / math.sqrt(0.1 + 0.25 + eps)
    e2 = e1 + lr * 1.0 / math.sqrt(0.35 + 1.0 + eps)
    assert w1 == pytest.approx(e1, rel=1e-14)
    assert w2 == pytest.approx(e2, rel=1e-14)
    assert opt.slots()["w"]["accumulator"][0] == pytest.approx(1.35, rel=1e-14)


def _adam_like(g_seq, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
    """Adam by the textbook (bias-corrected moments; Keras puts ε before the correction, so it
    appears as ε/√(1 − β₂ᵗ)), after a decoupled decay w -= w·wd·lr."""
    w, m, v, out = 1.0, 0.0, 0.0, []
    for t, g in enumerate(g_seq, start=1):
        w -= w * wd * lr
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps / math.sqrt(1 - b2**t))
        out.append(w)
    return out


def test_adamw_is_adam_after_the_weight_decay():
    w1, w2, _ = two_steps("AdamW", {"learning_rate": 0.1, "weight_decay": 0.5})
    e1, e2 = _adam_like([G1, G2], lr=0.1, wd=0.5)
    assert (w1, w2) == (pytest.approx(e1, rel=1e-12), pytest.approx(e2, rel=1e-12))


def test_weight_decay_on_sgd_shrinks_before_the_step():
    w1, w2, _ = two_steps("SGD", {"learning_rate": 0.1, "weight_decay": 0.5})
    e1 = 1.0 * (1 - 0.05) - 0.1 * G1
    assert w1 == pytest.approx(e1, rel=1e-15)
    assert w2 == pytest.approx(e1 * (1 - 0.05) - 0.1 * G2, rel=1e-15)


def test_adamax():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    w, m, u = 1.0, 0.0, 0.0
    expected = []
    for t, g in enumerate([G1, G2], start=1):
        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, abs(g))
        w -= lr * m / ((1 - b1**t) * (u + eps))
        expected.append(w)
    w1, w2, opt = two_steps("Adamax", {"learning_rate": lr})
    assert (w1, w2) == (
        pytest.approx(expected[0], rel=1e-12),
        pytest.approx(expected[1], rel=1e-12),
    )
    assert set(opt.slots()["w"]) == {"momentum", "norm"}


def test_nadam_with_its_momentum_schedule():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    decay = float(np.float32(0.96))  # Keras casts the literal through float32 in the update
    w, m, v, product = 1.0, 0.0, 0.0, 1.0
    expected = []
    for t, g in enumerate([G1, G2], start=1):
        product *= b1 * (1 - 0.5 * 0.96**t)
        u_t = b1 * (1 - 0.5 * decay**t)
        u_next = b1 * (1 - 0.5 * decay ** (t + 1))
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        w -= m_hat * lr / (math.sqrt(v / (1 - b2**t)) + eps)
        expected.append(w)
    w1, w2, opt = two_steps("Nadam", {"learning_rate": lr})
    assert (w1, w2) == (
        pytest.approx(expected[0], rel=1e-12),
        pytest.approx(expected[1], rel=1e-12),
    )
    assert opt.get_state()["scalars"]["u_product"] == pytest.approx(product, rel=1e-15)


def test_adadelta():
    lr, rho, eps = 1.0, 0.95, 1e-7
    w, acc_g, acc_d = 1.0, 0.0, 0.0
    expected = []
    for g in (G1, G2):
        acc_g = rho * acc_g + (1 - rho) * g * g
        delta = -math.sqrt(acc_d + eps) * g / math.sqrt(acc_g + eps)
        acc_d = rho * acc_d + (1 - rho) * delta * delta
        w += lr * delta
        expected.append(w)
    w1, w2, _ = two_steps("Adadelta", {"learning_rate": lr})
    assert (w1, w2) == (
        pytest.approx(expected[0], rel=1e-12),
        pytest.approx(expected[1], rel=1e-12),
    )


def test_lion_steps_by_the_sign():
    lr, b1, b2 = 0.1, 0.9, 0.99
    # step 1: sign(0.1·0.5) = +1; m = 0.01·0.5; step 2: sign(0.9·0.005 − 0.1) = −1
    w1, w2, opt = two_steps("Lion", {"learning_rate": lr})
    assert w1 == pytest.approx(0.9, rel=1e-15)
    assert w2 == pytest.approx(1.0, rel=1e-15)
    m = (1 - b2) * G1
    assert opt.slots()["w"]["momentum"][0] == pytest.approx(b2 * m + (1 - b2) * G2, rel=1e-15)
    assert b1 * m + (1 - b1) * G2 < 0


@pytest.mark.parametrize(
    "config",
    [
        {"learning_rate": 0.1},
        {
            "learning_rate": 0.1,
            "learning_rate_power": -0.7,
            "l1_regularization_strength": 0.01,
            "l2_regularization_strength": 0.1,
            "l2_shrinkage_regularization_strength": 0.05,
            "beta": 0.5,
        },
    ],
)
def test_ftrl(config):
    full = resolve_optimizer({"class_name": "Ftrl", "config": config})[1]
    lr, p = full["learning_rate"], -full["learning_rate_power"]
    l1, l2 = full["l1_regularization_strength"], full["l2_regularization_strength"]
    shrink, beta = full["l2_shrinkage_regularization_strength"], full["beta"]
    w, n, z = 1.0, full["initial_accumulator_value"], 0.0
    expected = []
    for g in (G1, G2):
        n_new = n + g * g
        z += g + 2 * shrink * w - (n_new**p - n**p) / lr * w
        quadratic = n_new**p / lr + 2 * (l2 + beta / (2 * lr))
        w = (min(max(z, -l1), l1) - z) / quadratic
        n = n_new
        expected.append(w)
    w1, w2, opt = two_steps("Ftrl", config)
    assert (w1, w2) == (
        pytest.approx(expected[0], rel=1e-12),
        pytest.approx(expected[1], rel=1e-12),
    )
    assert opt.slots()["w"]["accumulator"][0] == pytest.approx(n, rel=1e-15)


def test_perceptron_is_a_plain_step_on_the_pseudo_gradient():
    w1, w2, opt = two_steps("Perceptron", {"learning_rate": 0.01})
    assert w1 == pytest.approx(1.0 - 0.005, rel=1e-15)
    assert w2 == pytest.approx(0.995 + 0.01, rel=1e-15)
    assert opt.slots() == {}


# --- clipping (Keras' _clip_gradients) -------------------------------------------------------


def test_clipnorm_clips_each_gradient_by_its_own_norm():
    opt = make_optimizer("SGD", {"learning_rate": 1.0, "clipnorm": 1.0})
    weights = {"a": np.zeros(2), "b": np.zeros(1)}
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([0.5])}
    opt.apply(weights, grads)
    np.testing.assert_allclose(weights["a"], [-0.6, -0.8], rtol=1e-15)
    np.testing.assert_allclose(weights["b"], [-0.5], rtol=1e-15)  # norm below 1: unchanged
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])  # the caller's arrays are untouched


def test_global_clipnorm_scales_all_gradients_together():
    opt = make_optimizer("SGD", {"learning_rate": 1.0, "global_clipnorm": 1.0})
    weights = {"a": np.zeros(1), "b": np.zeros(1)}
    opt.apply(weights, {"a": np.array([3.0]), "b": np.array([4.0])})  # global norm 5
    np.testing.assert_allclose(weights["a"], [-0.6], rtol=1e-15)
    np.testing.assert_allclose(weights["b"], [-0.8], rtol=1e-15)


def test_clipvalue():
    opt = make_optimizer("SGD", {"learning_rate": 1.0, "clipvalue": 0.5})
    weights = {"a": np.zeros(3)}
    opt.apply(weights, {"a": np.array([3.0, -4.0, 0.1])})
    np.testing.assert_allclose(weights["a"], [-0.5, 0.5, -0.1], rtol=1e-15)


def test_zero_gradients_pass_clipping_unchanged():
    for key in ("clipnorm", "global_clipnorm"):
        opt = make_optimizer("SGD", {"learning_rate": 1.0, key: 1.0})
        weights = {"a": np.ones(2)}
        with np.errstate(all="raise"):
            opt.apply(weights, {"a": np.zeros(2)})
        np.testing.assert_array_equal(weights["a"], [1.0, 1.0])


# --- state, slots, dtypes --------------------------------------------------------------------


def test_updates_in_place_and_keeps_dtype():
    rng = np.random.default_rng(0)
    for name in OPTIMIZER_NAMES:
        opt = make_optimizer(name, {"momentum": 0.9} if name == "SGD" else {})
        kernel = rng.normal(size=(4, 3)).astype(np.float32)
        weights = {"dense/kernel": kernel}
        opt.apply(weights, {"dense/kernel": rng.normal(size=(4, 3)).astype(np.float32)})
        assert weights["dense/kernel"] is kernel
        assert kernel.dtype == np.float32
        for slot in opt.slots().get("dense/kernel", {}).values():
            assert slot.dtype == np.float32 and slot.shape == (4, 3)


def test_slots_are_lazy_and_keras_named():
    opt = make_optimizer("Adagrad")
    assert opt.slots() == {}
    weights = {"d/kernel": np.ones((2, 2)), "d/bias": np.ones(2)}
    opt.apply(weights, {"d/kernel": np.zeros((2, 2))})  # no gradient for the bias
    slots = opt.slots()
    assert list(slots) == ["d/kernel"]
    np.testing.assert_array_equal(slots["d/kernel"]["accumulator"], np.full((2, 2), 0.1))
    np.testing.assert_array_equal(weights["d/bias"], [1.0, 1.0])
    assert make_optimizer("SGD").slots() == {}  # momentum 0: Keras creates no slot


def test_slots_returns_copies():
    _, _, opt = two_steps("Adam", {})
    opt.slots()["w"]["momentum"][0] = 123.0
    assert opt.slots()["w"]["momentum"][0] != 123.0


def test_learning_rate_can_change_between_steps():
    opt = make_optimizer("SGD", {"learning_rate": 0.1})
    weights = {"w": np.array([1.0])}
    opt.apply(weights, {"w": np.array([1.0])})
    opt.learning_rate = 0.5
    opt.apply(weights, {"w": np.array([1.0])})
    assert weights["w"][0] == pytest.approx(1.0 - 0.1 - 0.5, rel=1e-15)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_state_replays_a_step_bit_for_bit(name):
    rng = np.random.default_rng(1)
    config = {"momentum": 0.9, "centered": True} if name == "RMSprop" else {}
    opt = make_optimizer(name, config)
    weights = {"k": rng.normal(size=(5, 4)), "b": rng.normal(size=4)}
    grads = [{"k": rng.normal(size=(5, 4)), "b": rng.normal(size=4)} for _ in range(3)]
    opt.apply(weights, grads[0])
    state = opt.get_state()
    snapshot = copy.deepcopy(state)
    saved = {k: v.copy() for k, v in weights.items()}
    opt.apply(weights, grads[1])
    first = {k: v.copy() for k, v in weights.items()}
    # the state is a copy: the step just taken has not reached it
    for key, slots in state["slots"].items():
        for slot, arr in slots.items():
            np.testing.assert_array_equal(arr, snapshot["slots"][key][slot])
    opt.set_state(state)
    assert opt.iterations == 1
    for k in weights:
        np.copyto(weights[k], saved[k])
    opt.apply(weights, grads[1])
    for k in weights:
        np.testing.assert_array_equal(weights[k], first[k])
    assert opt.iterations == 2


def test_set_state_copies_its_input():
    _, _, opt = two_steps("Adam", {})
    state = opt.get_state()
    opt.set_state(state)
    state["slots"]["w"]["momentum"][0] = 99.0
    assert opt.slots()["w"]["momentum"][0] != 99.0
