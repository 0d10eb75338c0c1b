"""From a :class:`~engine.data.files.Dataset` to training arrays: a test split, a validation
split, input scaling (standardize or min-max) fitted on the training split only, and the
compute dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import DTypeLike

from engine.data.files import Dataset
from engine.errors import DataError

__all__ = [
    "SCALES",
    "MinMaxScaler",
    "Prepared",
    "Standardizer",
    "prepare",
    "scaler_from_dict",
    "split_test",
    "split_validation",
]

#: Input scalings :func:`prepare` knows.
SCALES = ("none", "standardize", "minmax")


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hold out a random fraction of the samples for validation.

    Parameters
    ----------
    x : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples,) or (n_samples, k)
    fraction : float
        Share of the samples for validation, in ``[0, 1)``. The validation set gets
        ``round(fraction * n_samples)`` samples, at least 1 and at most ``n_samples - 1``.
    seed : int
        The same seed gives the same split.
    stratify : bool
        When ``y`` holds integer class labels of shape (n_samples,), keep each class's share
        in both parts (largest-remainder rounding). Ignored for other targets.

    Returns
    -------
    x_train : ndarray of shape (n_samples - n_val, ...)
    y_train : ndarray of shape (n_samples - n_val, ...)
    x_val : ndarray of shape (n_val, ...) or None
    y_val : ndarray of shape (n_val, ...) or None
        Both None when ``fraction`` is 0. Both parts keep the original sample order.

    Raises
    ------
    DataError
        ``fraction`` outside ``[0, 1)``, or too few samples to split.
    """
    return _split(x, y, fraction, seed, stratify, "validation_split")


def split_test(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hold out a test set, like :func:`split_validation` but drawn from its own seed stream.

    The test split is taken first and the validation split from what is left, so changing
    ``validation_split`` never changes which samples are tested on.

    Returns
    -------
    x_rest, y_rest, x_test, y_test
        As :func:`split_validation`'s four parts.
    """
    return _split(x, y, fraction, (int(seed), 0x7E57), stratify, "test_split")


def _split(
    x: np.ndarray,
    y: np.ndarray,
    fraction: float,
    seed: int | Sequence[int],
    stratify: bool,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise DataError(f"{what} must be a number, got {fraction!r}")
    if not (math.isfinite(fraction) and 0.0 <= fraction < 1.0):
        raise DataError(f"{what} must be at least 0 and below 1, got {fraction!r}")
    n = len(x)
    if len(y) != n:
        raise DataError(f"x has {n} rows but y has {len(y)}; they must match")
    if fraction == 0:
        return x, y, None, None
    if n < 2:
        raise DataError(f"{what} {fraction:g} needs at least 2 samples to split, there are {n}")
    n_val = min(max(round(fraction * n), 1), n - 1)
    rng = np.random.default_rng(seed)
    if stratify and y.ndim == 1 and y.dtype.kind in "biu":
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        ideal = n_val * counts / n
        take = np.floor(ideal).astype(np.int64)
        # Give the leftover samples to the classes with the largest remainders; the seeded
        # random key only breaks ties, so the result stays reproducible.
        order = np.lexsort((rng.random(len(classes)), -(ideal - take)))
        take[order[: n_val - int(take.sum())]] += 1
        val_index = np.concatenate(
            [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
        )
    else:
        val_index = rng.permutation(n)[:n_val]
    is_val = np.zeros(n, dtype=bool)
    is_val[val_index] = True
    return x[~is_val], y[~is_val], x[is_val], y[is_val]


class _FeatureScaler:
    """What :class:`Standardizer` and :class:`MinMaxScaler` share: two fitted float64 arrays
    of shape feature_shape (named by ``_keys``), an affine ``(x - offset) / scale`` transform
    and its inverse, and the ``to_dict`` / ``from_dict`` round trip.

    A subclass sets ``_keys``, ``_label`` (how error messages name it) and ``_verb`` (what
    :meth:`fit` cannot do without samples), and defines :meth:`_offset_scale` and
    :meth:`_check`.
    """

    _keys: tuple[str, str]
    _label: str
    _verb: str

    def _samples(self, x: np.ndarray) -> np.ndarray:
        """``x`` as float64 for :meth:`fit`; raises DataError when it has no rows."""
        x = np.asarray(x)
        if x.ndim == 0 or len(x) == 0:
            raise DataError(f"cannot {self._verb}: there are no training samples")
        return x.astype(np.float64, copy=False)

    def _arrays(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        first, second = (getattr(self, key) for key in self._keys)
        if first is None or second is None:
            raise RuntimeError(f"{type(self).__name__}.fit() must be called before {method}()")
        return first, second

    @staticmethod
    def _offset_scale(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The float64 ``offset`` and ``scale`` of the transform, from the fitted arrays."""
        raise NotImplementedError

    @staticmethod
    def _check(first: np.ndarray, second: np.ndarray) -> None:
        """Raise DataError when the two arrays :meth:`from_dict` read do not fit together."""
        raise NotImplementedError

    def _fitted(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        first, second = self._arrays("transform")
        if tuple(x.shape[1:]) != first.shape:
            raise DataError(
                f"the {self._label} was fitted on samples of shape {first.shape}, got "
                f"{tuple(x.shape[1:])}"
            )
        offset, scale = self._offset_scale(first, second)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return offset.astype(dtype), scale.astype(dtype), dtype

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_samples, *feature_shape).

        Returns
        -------
        ndarray of the same shape
            In ``x``'s dtype when it is floating, float64 otherwise.
        """
        x = np.asarray(x)
        offset, scale, dtype = self._fitted(x)
        return ((x.astype(dtype, copy=False) - offset) / scale).astype(dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` (``z * scale + offset``), same shape and dtype rule."""
        z = np.asarray(z)
        offset, scale, dtype = self._fitted(z)
        return (z.astype(dtype, copy=False) * scale + offset).astype(dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{key: nested lists}`` of the two fitted arrays, keyed by ``_keys``."""
        arrays = self._arrays("to_dict")
        return {key: value.tolist() for key, value in zip(self._keys, arrays, strict=True)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict`'s output.

        Raises
        ------
        DataError
            Missing keys, non-numeric or non-finite values, shapes that differ, or values
            that :meth:`_check` rejects.
        """
        label, (a, b) = cls._label, cls._keys
        if not isinstance(data, dict):
            raise DataError(f"{label}: expected an object with {a} and {b}, got {data!r}")
        arrays = {}
        for key in cls._keys:
            if key not in data:
                raise DataError(f"{label}: missing key '{key}'")
            try:
                value = np.asarray(data[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{label}.{key}: not a (nested) list of numbers") from None
            if not np.isfinite(value).all():
                raise DataError(f"{label}.{key}: holds NaN or inf")
            arrays[key] = value
        if arrays[a].shape != arrays[b].shape:
            raise DataError(
                f"{label}: {a} has shape {arrays[a].shape} but {b} has shape {arrays[b].shape}"
            )
        cls._check(arrays[a], arrays[b])
        result = cls()
        for key in cls._keys:
            setattr(result, key, arrays[key])
        return result


class Standardizer(_FeatureScaler):
    """Per-feature standardization, ``(x - mean) / std``, like scikit-learn's StandardScaler.

    Mean and (population) standard deviation are taken over axis 0, so each feature (each
    pixel, for images) gets its own. A feature that is constant in the fitted data gets
    ``std = 1``, so it maps to 0 instead of dividing by zero. :meth:`inverse_transform` is
    ``z * std + mean``; :meth:`to_dict` gives ``{"mean": nested lists, "std": nested lists}``.

    Attributes
    ----------
    mean, std : ndarray of shape feature_shape, float64, or None before :meth:`fit`
    """

    _keys = ("mean", "std")
    _label = "standardizer"
    _verb = "standardize"

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardizer:
        """Learn mean and std from ``x`` of shape (n_samples, *feature_shape); returns self.

        Raises
        ------
        DataError
            ``x`` has no rows.
        """
        x64 = self._samples(x)
        mean = x64.mean(axis=0)
        std = x64.std(axis=0)
        # Exactly constant features, not merely small std: the float mean of identical values
        # can be off by an ulp, which would leave a tiny non-zero std to divide by.
        std[np.ptp(x64, axis=0) == 0] = 1.0
        self.mean, self.std = mean, std
        return self

    @staticmethod
    def _offset_scale(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean, std

    @staticmethod
    def _check(mean: np.ndarray, std: np.ndarray) -> None:
        if (std <= 0).any():
            raise DataError("standardizer.std: every value must be above 0")


class MinMaxScaler(_FeatureScaler):
    """Per-feature min-max scaling to [0, 1], ``(x - min) / (max - min)``, like scikit-learn's
    MinMaxScaler.

    Minimum and maximum are taken over axis 0 of the fitted data. A feature that is constant
    there gets a range of 1, so it maps to 0. Data outside the fitted range (validation or
    test samples) maps outside [0, 1]; it is not clipped. :meth:`inverse_transform` is
    ``z * (max - min) + min``; :meth:`to_dict` gives ``{"min": nested lists, "max": nested
    lists}``, and :meth:`from_dict` also rejects a max below its min.

    Attributes
    ----------
    min, max : ndarray of shape feature_shape, float64, or None before :meth:`fit`
    """

    _keys = ("min", "max")
    _label = "scaler"
    _verb = "scale"

    def __init__(self) -> None:
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> MinMaxScaler:
        """Learn min and max from ``x`` of shape (n_samples, *feature_shape); returns self.

        Raises
        ------
        DataError
            ``x`` has no rows.
        """
        x64 = self._samples(x)
        self.min, self.max = x64.min(axis=0), x64.max(axis=0)
        return self

    @staticmethod
    def _offset_scale(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = high - low
        return low, np.where(span > 0, span, 1.0)

    @staticmethod
    def _check(low: np.ndarray, high: np.ndarray) -> None:
        if (high < low).any():
            raise DataError("scaler: every max must be at least its min")


def scaler_from_dict(data: dict[str, Any]) -> Standardizer | MinMaxScaler:
    """Rebuild a fitted scaler from its ``to_dict()`` output (``mean``/``std`` for a
    :class:`Standardizer`, ``min``/``max`` for a :class:`MinMaxScaler`).

    Raises
    ------
    DataError
        Neither layout, or bad values.
    """
    if isinstance(data, dict) and "min" in data:
        return MinMaxScaler.from_dict(data)
    return Standardizer.from_dict(data)


@dataclass
class Prepared:
    """Arrays ready for training.

    Attributes
    ----------
    x_train : ndarray of shape (n_train, *feature_shape), ``dtype``
    y_train : ndarray
        int64 of shape (n_train,) for classification; ``dtype`` of shape (n_train, k) for
        regression.
    x_val, y_val : ndarray or None
        The validation split, same layout; None when the split is 0.
    x_test, y_test : ndarray or None
        The test set (the dataset's own, or the ``test_split``), same layout; None when there
        is none.
    scaler : Standardizer or MinMaxScaler or None
        Fitted on ``x_train`` only (before the cast), when scaling was asked for; both kinds
        have ``transform`` / ``inverse_transform`` / ``to_dict``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    scaler: Standardizer | MinMaxScaler | None
    #: Each sample's loss weight per part (the dataset's ``sample_weight``), or None.
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None

    @property
    def standardizer(self) -> Standardizer | MinMaxScaler | None:
        """The fitted input scaler, whatever its kind (the name older callers use)."""
        return self.scaler


def split_last(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int = 0, stratify: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Keras' ``validation_split``: the last samples are the validation set, split at
    ``floor(n·(1 − fraction))`` (``keras/src/trainers/data_adapters/array_slicing.py``);
    ``seed`` and ``stratify`` are not used (the signature is :func:`split_validation`'s)."""
    if not fraction:
        return x, y, None, None
    n = len(x)
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at in (0, n):
        raise DataError(
            f"{n} samples cannot be split into a training and a validation set at "
            f"validation_split {fraction:g} (Keras splits at floor(n·(1 − split)) = {split_at})"
        )
    return x[:split_at], y[:split_at], x[split_at:], y[split_at:]


def prepare(
    dataset: Dataset,
    *,
    validation_split: float = 0.0,
    seed: int = 0,
    standardize: bool = False,
    dtype: DTypeLike = np.float32,
    scale: str | None = None,
    test_split: float = 0.0,
    validation_from_end: bool = False,
) -> Prepared:
    """Split, scale and cast a dataset for training.

    Parameters
    ----------
    dataset : Dataset
    validation_split : float
        Share of the training samples held out for validation, in ``[0, 1)`` (see
        :func:`split_validation`; stratified for classification). Taken after the test split.
    seed : int
        Seed of both splits (each draws from its own stream).
    standardize : bool
        Same as ``scale="standardize"`` (kept for older callers); ignored when ``scale`` is
        given.
    dtype : dtype-like
        A floating dtype for the inputs (and regression targets); class labels stay int64.
    scale : {"none", "standardize", "minmax"} or None
        Fit a :class:`Standardizer` or :class:`MinMaxScaler` on the training split and apply
        it to every part. None follows ``standardize``.
    test_split : float
        Share of ``dataset.x`` held out as the test set (see :func:`split_test`), in
        ``[0, 1)``; only for a dataset without its own test set.
    validation_from_end : bool
        Hold out the last samples instead, as Keras' ``fit(validation_split=...)`` does
        (:func:`split_last`): neither drawn nor stratified.

    Returns
    -------
    Prepared

    Raises
    ------
    DataError
        A bad split fraction, too few samples, or ``test_split`` on a dataset that has a test
        set already.
    ValueError
        ``dtype`` is not a floating dtype, or ``scale`` is unknown.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    if scale is None:
        scale = "standardize" if standardize else "none"
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    stratify = dataset.task == "classification"
    x, y = dataset.x, dataset.y
    x_test, y_test = dataset.x_test, dataset.y_test
    weights = getattr(dataset, "sample_weight", None)
    # With sample weights the splits pick row numbers, and every part takes its rows of x, y
    # and the weights: the same rows as the splits of x and y themselves.
    rows = None if weights is None else np.arange(len(x))
    w_test = None
    if test_split:
        if x_test is not None:
            raise DataError(
                f"the dataset has its own test set ({len(x_test)} samples); remove "
                '"test_split" or use the data without it'
            )
        if rows is None:
            x, y, x_test, y_test = split_test(x, y, test_split, seed, stratify=stratify)
        else:
            rows, _, test_rows, _ = split_test(rows, y, test_split, seed, stratify=stratify)
            x_test, y_test, w_test = x[test_rows], y[test_rows], weights[test_rows]
    split = split_last if validation_from_end else split_validation
    w_train = w_val = None
    if rows is None:
        x_train, y_train, x_val, y_val = split(x, y, validation_split, seed, stratify=stratify)
    else:
        # the parts of ``rows`` are row numbers of the whole dataset
        train_rows, _, val_rows, _ = split(rows, y[rows], validation_split, seed, stratify=stratify)
        x_train, y_train, w_train = x[train_rows], y[train_rows], weights[train_rows]
        if val_rows is not None:
            x_val, y_val, w_val = x[val_rows], y[val_rows], weights[val_rows]
        else:
            x_val = y_val = None
    scaler: Standardizer | MinMaxScaler | None = None
    if scale == "standardize":
        scaler = Standardizer().fit(x_train)
    elif scale == "minmax":
        scaler = MinMaxScaler().fit(x_train)

    def inputs(x: np.ndarray | None) -> np.ndarray | None:
        if x is None:
            return None
        x = x.astype(dtype, copy=False)
        if scaler is not None:
            x = scaler.transform(x)  # computed in ``dtype``: no float64 copy of MNIST
        return np.ascontiguousarray(x)

    def targets(y: np.ndarray | None) -> np.ndarray | None:
        if y is None:
            return None
        if dataset.task == "classification":
            return np.ascontiguousarray(y, dtype=np.int64)
        return np.ascontiguousarray(y, dtype=dtype)

    return Prepared(
        x_train=inputs(x_train),
        y_train=targets(y_train),
        x_val=inputs(x_val),
        y_val=targets(y_val),
        x_test=inputs(x_test),
        y_test=targets(y_test),
        scaler=scaler,
        w_train=weight_array(w_train, dtype),
        w_val=weight_array(w_val, dtype),
        w_test=weight_array(w_test, dtype),
    )


def weight_array(w: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """Sample weights in the model's dtype (Keras casts them to the loss's)."""
    return None if w is None else np.ascontiguousarray(w, dtype=dtype)
