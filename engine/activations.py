"""Activation functions in Keras 3's vocabulary, with their derivatives, in pure NumPy.

Every function matches Keras 3 (TensorFlow backend) in defaults and formula:
``leaky_relu`` uses ``negative_slope=0.2`` (``keras.activations.leaky_relu``), ``elu`` uses
``alpha=1.0``, ``gelu`` is the exact erf form (``approximate=False``), ``hard_sigmoid`` is
``relu6(x + 3) / 6`` and ``swish`` is an alias of ``silu``. ``sign`` is not a Keras activation:
it is the seed Perceptron's step function (+1 where ``z >= 0``, else -1) and has no gradient.

Gradients at kinks follow TensorFlow's registered gradients, so that the NumPy backend and the
TensorFlow backend agree bit for bit in the cases where a kink is hit exactly: ReLU has slope 0
at 0, leaky ReLU slope ``negative_slope`` at 0, ELU and SELU the slope of their positive
branch at 0 (1 and ``scale``), and ``hard_sigmoid`` slope 0 at -3 and 3.

All functions keep the input's floating dtype (float32 stays float32) and overflow nowhere,
even for inputs of ±1e4: exponentials only ever see non-positive arguments. Underflow to 0 is
allowed (it is the correct IEEE result and what TensorFlow returns as well).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

ACTIVATION_NAMES: tuple[str, ...] = (
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

LEAKY_RELU_NEGATIVE_SLOPE = 0.2
ELU_ALPHA = 1.0
# The constants of tf.nn.selu (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327

Array = np.ndarray
# derivative(z, a) -> f'(z): `a` is the already computed f(z), which many derivatives reuse.
_Derivative = Callable[[Array, Array], Array]


def _as_float(z: object) -> Array:
    """Return ``z`` as a floating ndarray; integer or boolean input becomes float64."""
    arr = np.asarray(z)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


# ---------------------------------------------------------------------------------------------
# Forward functions. Each takes a floating ndarray and returns one of the same dtype.
# ---------------------------------------------------------------------------------------------


def _linear(z: Array) -> Array:
    # A copy, so that callers that keep both z and a never see one change under the other.
    return z.copy()


def _sigmoid(z: Array) -> Array:
    # exp(-|z|) never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _tanh(z: Array) -> Array:
    return np.tanh(z)


def _relu(z: Array) -> Array:
    return np.maximum(z, 0)


def _leaky_relu(z: Array) -> Array:
    return np.where(z > 0, z, z * LEAKY_RELU_NEGATIVE_SLOPE)


def _elu(z: Array) -> Array:
    # expm1 only of the negative part, so that large positive z cannot overflow.
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)) * ELU_ALPHA)


def _selu(z: Array) -> Array:
    neg = np.expm1(np.minimum(z, 0)) * (SELU_SCALE * SELU_ALPHA)
    return np.where(z > 0, z * SELU_SCALE, neg)


def _softplus(z: Array) -> Array:
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|), the form that cannot overflow.
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _softsign(z: Array) -> Array:
    return z / (1 + np.abs(z))


def _silu(z: Array) -> Array:
    return z * _sigmoid(z)


def _erfc(x: Array) -> Array:
    """Complementary error function, elementwise, keeping float32 as float32."""
    try:
        # scipy is a dependency of scikit-learn; imported lazily because it is slow to import.
        from scipy.special import erfc
    except ImportError:  # pragma: no cover - scipy is normally installed
        return np.vectorize(math.erfc, otypes=[x.dtype])(x)
    return erfc(x)


def _gelu(z: Array) -> Array:
    # tf.nn.gelu(approximate=False) writes 1 + erf(z/√2) as erfc(-z/√2), which keeps full
    # precision for very negative z where 1 + erf would cancel.
    return z * _erfc(z * -_SQRT_HALF) * 0.5


def _softmax(z: Array) -> Array:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    e /= np.sum(e, axis=-1, keepdims=True)
    return e


def _hard_sigmoid(z: Array) -> Array:
    return np.clip(z + 3, 0, 6) / 6


def _relu6(z: Array) -> Array:
    return np.clip(z, 0, 6)


def _hard_silu(z: Array) -> Array:
    return z * _hard_sigmoid(z)


def _mish(z: Array) -> Array:
    # Keras' Mish: x · tanh(softplus(x)).
    return z * np.tanh(_softplus(z))


def _log_softmax(z: Array) -> Array:
    # tf.nn.log_softmax: (z − max) − log Σ e^(z − max), over the last axis.
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _sign(z: Array) -> Array:
    return np.where(z >= 0, 1, -1).astype(z.dtype)


# ---------------------------------------------------------------------------------------------
# Elementwise derivatives f'(z), given z and a = f(z).
# ---------------------------------------------------------------------------------------------


def _d_linear(z: Array, a: Array) -> Array:
    return np.ones_like(z)


def _d_sigmoid(z: Array, a: Array) -> Array:
    return a * (1 - a)


def _d_tanh(z: Array, a: Array) -> Array:
    return 1 - a * a


def _d_relu(z: Array, a: Array) -> Array:
    return (z > 0).astype(z.dtype)


def _d_leaky_relu(z: Array, a: Array) -> Array:
    return np.where(z > 0, 1, LEAKY_RELU_NEGATIVE_SLOPE).astype(z.dtype)


def _d_elu(z: Array, a: Array) -> Array:
    # TensorFlow's EluGrad: output + alpha where the output is < 0, else 1.
    return np.where(a < 0, a + ELU_ALPHA, 1).astype(z.dtype)


def _d_selu(z: Array, a: Array) -> Array:
    # TensorFlow's SeluGrad: output + scale*alpha where the output is < 0, else scale.
    return np.where(a < 0, a + SELU_SCALE * SELU_ALPHA, SELU_SCALE).astype(z.dtype)


def _d_softplus(z: Array, a: Array) -> Array:
    return _sigmoid(z)


def _d_softsign(z: Array, a: Array) -> Array:
    # (1/(1+|z|))² rather than 1/(1+|z|)², which would overflow for huge |z|.
    r = 1 / (1 + np.abs(z))
    return r * r


def _d_silu(z: Array, a: Array) -> Array:
    s = _sigmoid(z)
    return s * (1 + z * (1 - s))


def _d_gelu(z: Array, a: Array) -> Array:
    # Φ(z) + z·φ(z). φ is computed on z clipped to ±40 (where it is 0 in float64 anyway) so
    # that z*z cannot overflow for huge inputs.
    zc = np.clip(z, -40, 40)
    pdf = np.exp(zc * zc * -0.5) * _INV_SQRT_2PI
    return _erfc(z * -_SQRT_HALF) * 0.5 + z * pdf


def _d_softmax(z: Array, a: Array) -> Array:
    # Only the diagonal of the Jacobian; the full vector-Jacobian product is in backward().
    return a * (1 - a)


def _d_hard_sigmoid(z: Array, a: Array) -> Array:
    # TensorFlow's Relu6Grad passes the gradient only strictly inside (0, 6).
    return np.where((z > -3) & (z < 3), 1 / 6, 0).astype(z.dtype)


def _d_relu6(z: Array, a: Array) -> Array:
    # TensorFlow's Relu6Grad: 1 strictly inside (0, 6).
    return ((z > 0) & (z < 6)).astype(z.dtype)


def _d_hard_silu(z: Array, a: Array) -> Array:
    # x·hard_sigmoid(x): hard_sigmoid(x) + x·hard_sigmoid′(x).
    return _hard_sigmoid(z) + z * _d_hard_sigmoid(z, a)


def _d_mish(z: Array, a: Array) -> Array:
    # tanh(sp) + x·(1 − tanh²(sp))·sigmoid(x), sp = softplus(x).
    t = np.tanh(_softplus(z))
    return t + z * (1 - t * t) * _sigmoid(z)


def _d_log_softmax(z: Array, a: Array) -> Array:
    # Only the diagonal of the Jacobian, 1 − softmax(z); backward() has the full product.
    return 1 - np.exp(a)


def _d_sign(z: Array, a: Array) -> Array:
    return np.zeros_like(z)


class Activation:
    """One activation function with its derivative and vector-Jacobian product.

    Attributes
    ----------
    name : str
        The Keras name (``"relu"``, ``"softmax"``...).
    elementwise : bool
        False only for ``softmax``, whose output mixes the last axis.
    smooth : bool
        True when the function is continuously differentiable everywhere, so that a central
        difference is a valid gradient check at any input. False for ``relu``, ``leaky_relu``,
        ``selu`` (its slope jumps from 1.758 to 1.051 at 0), ``hard_sigmoid`` and ``sign``.
        ``elu`` with ``alpha=1`` is smooth in this sense: both one-sided slopes at 0 are 1.
    has_gradient : bool
        False only for ``sign``: its derivative is 0 wherever it exists, so it cannot be
        trained by backpropagation (the Perceptron rule trains it instead).
    """

    __slots__ = (
        "name",
        "elementwise",
        "smooth",
        "has_gradient",
        "_forward",
        "_derivative",
        "_vjp",
    )

    def __init__(
        self,
        name: str,
        forward: Callable[[Array], Array],
        derivative: _Derivative,
        *,
        elementwise: bool = True,
        smooth: bool = True,
        has_gradient: bool = True,
        vjp: Callable[[Array, Array], Array] | None = None,
    ) -> None:
        self.name = name
        # (a, grad_a) -> grad_z of a function that mixes the last axis (softmax, log_softmax)
        self._vjp = vjp
        self.elementwise = elementwise
        self.smooth = smooth
        self.has_gradient = has_gradient
        self._forward = forward
        self._derivative = derivative

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def forward(self, z: Array) -> Array:
        """Apply the activation.

        Parameters
        ----------
        z : ndarray of shape (..., k)
            Pre-activations. Softmax normalises over the last axis.

        Returns
        -------
        a : ndarray of the same shape and floating dtype as ``z``
            A new array (never ``z`` itself).
        """
        return self._forward(_as_float(z))

    def backward(self, z: Array, a: Array, grad_a: Array) -> Array:
        """Vector-Jacobian product: the gradient with respect to ``z``.

        Parameters
        ----------
        z : ndarray of shape (..., k)
            Pre-activations of the forward pass.
        a : ndarray of shape (..., k)
            ``forward(z)``, passed in because most derivatives reuse it.
        grad_a : ndarray of shape (..., k)
            Gradient of the loss with respect to ``a``.

        Returns
        -------
        grad_z : ndarray of shape (..., k)
            Gradient of the loss with respect to ``z``, in the dtype of ``z``. For softmax this
            is ``a * (grad_a - sum(grad_a * a, axis=-1))``; for ``sign`` it is all zeros.
        """
        z = _as_float(z)
        a = np.asarray(a, dtype=z.dtype)
        grad_a = np.asarray(grad_a, dtype=z.dtype)
        if self._vjp is not None:
            return self._vjp(a, grad_a)
        return grad_a * self._derivative(z, a)

    def derivative(self, z: Array) -> Array:
        """Elementwise derivative ``f'(z)``, for plots.

        Parameters
        ----------
        z : ndarray of shape (..., k)
            Points at which to evaluate the derivative.

        Returns
        -------
        ndarray of the same shape and floating dtype as ``z``
            ``f'(z)``. For softmax, the diagonal of the Jacobian ``a * (1 - a)``; for ``sign``,
            zeros.
        """
        z = _as_float(z)
        return self._derivative(z, self._forward(z))


def _softmax_vjp(a: Array, grad_a: Array) -> Array:
    # J = diag(a) - a aᵀ per row, so gᵀJ = a * (g - <g, a>).
    inner = np.sum(grad_a * a, axis=-1, keepdims=True)
    return a * (grad_a - inner)


def _log_softmax_vjp(a: Array, grad_a: Array) -> Array:
    # ∂(z_i − logΣe^z)/∂z_j = δ_ij − softmax_j: gᵀJ = g − softmax·Σg (tf.nn.log_softmax's).
    return grad_a - np.exp(a) * np.sum(grad_a, axis=-1, keepdims=True)


_ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", _linear, _d_linear),
    "sigmoid": Activation("sigmoid", _sigmoid, _d_sigmoid),
    "tanh": Activation("tanh", _tanh, _d_tanh),
    "relu": Activation("relu", _relu, _d_relu, smooth=False),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _d_leaky_relu, smooth=False),
    "elu": Activation("elu", _elu, _d_elu),
    "selu": Activation("selu", _selu, _d_selu, smooth=False),
    "softplus": Activation("softplus", _softplus, _d_softplus),
    "softsign": Activation("softsign", _softsign, _d_softsign),
    # Keras 3 registers "swish" as another name for silu; keep the requested name visible.
    "swish": Activation("swish", _silu, _d_silu),
    "silu": Activation("silu", _silu, _d_silu),
    "gelu": Activation("gelu", _gelu, _d_gelu),
    "softmax": Activation("softmax", _softmax, _d_softmax, elementwise=False, vjp=_softmax_vjp),
    "hard_sigmoid": Activation("hard_sigmoid", _hard_sigmoid, _d_hard_sigmoid, smooth=False),
    "relu6": Activation("relu6", _relu6, _d_relu6, smooth=False),
    "hard_silu": Activation("hard_silu", _hard_silu, _d_hard_silu, smooth=False),
    # Keras registers "hard_swish" as another name for hard_silu.
    "hard_swish": Activation("hard_swish", _hard_silu, _d_hard_silu, smooth=False),
    "mish": Activation("mish", _mish, _d_mish),
    "log_softmax": Activation(
        "log_softmax", _log_softmax, _d_log_softmax, elementwise=False, vjp=_log_softmax_vjp
    ),
    "sign": Activation("sign", _sign, _d_sign, smooth=False, has_gradient=False),
}


def get_activation(name: str | None) -> Activation:
    """Look an activation up by its Keras name.

    Parameters
    ----------
    name : str or None
        One of :data:`ACTIVATION_NAMES`. ``None`` means ``"linear"``, as in
        ``keras.layers.Dense(activation=None)``.

    Returns
    -------
    Activation
        A shared, stateless instance.

    Raises
    ------
    KeyError
        For an unknown name; its single argument is a message for people.
    """
    if name is None:
        name = "linear"
    try:
        return _ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise KeyError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATION_NAMES)}"
        ) from None
