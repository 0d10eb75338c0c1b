"""From a :class:`~engine.data.files.Dataset` to training arrays: a test split, a validation
split, input scaling (standardize or min-max) fitted on the training split only, and the
compute dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


class Standardizer:
    """Per-feature standardization, ``(x - mean) / std``, like scikit-learn's StandardScaler.

    Mean and (population) standard deviation are taken over axis 0, so each feature (each
    pixel, for images) gets its own. A feature that is constant in the fitted data gets
    ``std = 1``, so it maps to 0 instead of dividing by zero.

    Attributes
    ----------
    mean, std : ndarray of shape feature_shape, float64, or None before :meth:`fit`
    """

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
        x = np.asarray(x)
        if x.ndim == 0 or len(x) == 0:
            raise DataError("cannot standardize: there are no training samples")
        x64 = x.astype(np.float64, copy=False)
        mean = x64.mean(axis=0)
        std = x64.std(axis=0)
        # Exactly constant features, not merely small std: the float mean of identical values
        # can be off by an ulp, which would leave a tiny non-zero std to divide by.
        std[np.ptp(x64, axis=0) == 0] = 1.0
        self.mean, self.std = mean, std
        return self

    def _fitted(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer.fit() must be called before transform()")
        if tuple(x.shape[1:]) != self.mean.shape:
            raise DataError(
                f"the standardizer was fitted on samples of shape {self.mean.shape}, got "
                f"{tuple(x.shape[1:])}"
            )
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return self.mean.astype(dtype), self.std.astype(dtype), dtype

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardize ``x`` of shape (n_samples, *feature_shape).

        Returns
        -------
        ndarray of the same shape
            In ``x``'s dtype when it is floating, float64 otherwise.
        """
        x = np.asarray(x)
        mean, std, dtype = self._fitted(x)
        return ((x.astype(dtype, copy=False) - mean) / std).astype(dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``z * std + mean``, same shape and dtype rule."""
        z = np.asarray(z)
        mean, std, dtype = self._fitted(z)
        return (z.astype(dtype, copy=False) * std + mean).astype(dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"mean": nested lists, "std": nested lists}`` of the fitted values."""
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer.fit() must be called before to_dict()")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Rebuild from :meth:`to_dict`'s output.

        Raises
        ------
        DataError
            Missing keys, non-numeric or non-finite values, shapes that differ, or std <= 0.
        """
        if not isinstance(data, dict):
            raise DataError(f"standardizer: expected an object with mean and std, got {data!r}")
        arrays = {}
        for key in ("mean", "std"):
            if key not in data:
                raise DataError(f"standardizer: missing key '{key}'")
            try:
                value = np.asarray(data[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"standardizer.{key}: not a (nested) list of numbers") from None
            if not np.isfinite(value).all():
                raise DataError(f"standardizer.{key}: holds NaN or inf")
            arrays[key] = value
        if arrays["mean"].shape != arrays["std"].shape:
            raise DataError(
                f"standardizer: mean has shape {arrays['mean'].shape} but std has shape "
                f"{arrays['std'].shape}"
            )
        if (arrays["std"] <= 0).any():
            raise DataError("standardizer.std: every value must be above 0")
        result = cls()
        result.mean, result.std = arrays["mean"], arrays["std"]
        return result


class MinMaxScaler:
    """Per-feature min-max scaling to [0, 1], ``(x - min) / (max - min)``, like scikit-learn's
    MinMaxScaler.

    Minimum and maximum are taken over axis 0 of the fitted data. A feature that is constant
    there gets a range of 1, so it maps to 0. Data outside the fitted range (validation or
    test samples) maps outside [0, 1]; it is not clipped.

    Attributes
    ----------
    min, max : ndarray of shape feature_shape, float64, or None before :meth:`fit`
    """

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
        x = np.asarray(x)
        if x.ndim == 0 or len(x) == 0:
            raise DataError("cannot scale: there are no training samples")
        x64 = x.astype(np.float64, copy=False)
        self.min, self.max = x64.min(axis=0), x64.max(axis=0)
        return self

    def _fitted(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        if self.min is None or self.max is None:
            raise RuntimeError("MinMaxScaler.fit() must be called before transform()")
        if tuple(x.shape[1:]) != self.min.shape:
            raise DataError(
                f"the scaler was fitted on samples of shape {self.min.shape}, got "
                f"{tuple(x.shape[1:])}"
            )
        span = self.max - self.min
        span = np.where(span > 0, span, 1.0)
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return self.min.astype(dtype), span.astype(dtype), dtype

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_samples, *feature_shape); same shape, ``x``'s float dtype
        (float64 for integer input)."""
        x = np.asarray(x)
        low, span, dtype = self._fitted(x)
        return ((x.astype(dtype, copy=False) - low) / span).astype(dtype, copy=False)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``z * (max - min) + min``."""
        z = np.asarray(z)
        low, span, dtype = self._fitted(z)
        return (z.astype(dtype, copy=False) * span + low).astype(dtype, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"min": nested lists, "max": nested lists}``."""
        if self.min is None or self.max is None:
            raise RuntimeError("MinMaxScaler.fit() must be called before to_dict()")
        return {"min": self.min.tolist(), "max": self.max.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MinMaxScaler:
        """Rebuild from :meth:`to_dict`'s output.

        Raises
        ------
        DataError
            Missing keys, non-numeric or non-finite values, shapes that differ, max < min.
        """
        if not isinstance(data, dict):
            raise DataError(f"scaler: expected an object with min and max, got {data!r}")
        arrays = {}
        for key in ("min", "max"):
            if key not in data:
                raise DataError(f"scaler: missing key '{key}'")
            try:
                value = np.asarray(data[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise DataError(f"scaler.{key}: not a (nested) list of numbers") from None
            if not np.isfinite(value).all():
                raise DataError(f"scaler.{key}: holds NaN or inf")
            arrays[key] = value
        if arrays["min"].shape != arrays["max"].shape:
            raise DataError(
                f"scaler: min has shape {arrays['min'].shape} but max has shape "
                f"{arrays['max'].shape}"
            )
        if (arrays["max"] < arrays["min"]).any():
            raise DataError("scaler: every max must be at least its min")
        result = cls()
        result.min, result.max = arrays["min"], arrays["max"]
        return result


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

    @property
    def standardizer(self) -> Standardizer | MinMaxScaler | None:
        """The fitted input scaler, whatever its kind (the name older callers use)."""
        return self.scaler


def prepare(
    dataset: Dataset,
    *,
    validation_split: float = 0.0,
    seed: int = 0,
    standardize: bool = False,
    dtype: DTypeLike = np.float32,
    scale: str | None = None,
    test_split: float = 0.0,
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
    if test_split:
        if x_test is not None:
            raise DataError(
                f"the dataset has its own test set ({len(x_test)} samples); remove "
                '"test_split" or use the data without it'
            )
        x, y, x_test, y_test = split_test(x, y, test_split, seed, stratify=stratify)
    x_train, y_train, x_val, y_val = split_validation(
        x, y, validation_split, seed, stratify=stratify
    )
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
    )
