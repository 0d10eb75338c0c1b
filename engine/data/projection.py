"""A plane through the input space, for drawing a decision boundary of data with more than two
features.

Two kinds of plane:

- ``"features"``: two chosen input features ``(i, j)`` span the plane; every other feature is
  held at its training mean;
- ``"pca"``: the first two principal components of the training inputs span the plane through
  their mean (computed with an SVD; no scikit-learn).

After :meth:`Projection.fit`, :meth:`Projection.to_plane` maps samples to plane coordinates
(for the scatter of the data) and :meth:`Projection.grid` gives a grid of plane points together
with the full inputs they stand for, so that a view can call ``model.predict(x_full)`` and draw
the predicted class over the plane.

Pure NumPy; no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["KINDS", "PCA_DEFAULT_ABOVE", "Projection", "default_choice"]

#: The kinds of plane.
KINDS = ("features", "pca")
#: PCA is fitted on at most this many samples (a seeded subset of larger data): the
#: components of 20000 samples are as good as those of 60000 for a picture, at a third of the
#: cost...
MAX_PCA_SAMPLES = 20_000
#: ...and on at most this many values (samples times features): 784 features (MNIST's
#: pixels) take 5100 samples, an SVD of ~0.3 s instead of ~1.5 s.
MAX_PCA_VALUES = 4_000_000
#: Above this many features (and for images) the plane starts on the principal components:
#: two of many features say little about the data.
PCA_DEFAULT_ABOVE = 20


def default_choice(n_features: int, images: bool = False) -> dict[str, Any]:
    """The plane a view starts on: the first two features, or the principal components for
    images and data with more than :data:`PCA_DEFAULT_ABOVE` features."""
    if images or n_features > PCA_DEFAULT_ABOVE:
        return {"kind": "pca"}
    return {"kind": "features", "features": [0, 1]}


class Projection:
    """A plane through the input space (see the module docstring).

    Parameters
    ----------
    kind : {"features", "pca"}
    features : (int, int)
        The two feature indices (0-based columns of the flat inputs) spanning the plane;
        used when ``kind`` is ``"features"``.

    Attributes
    ----------
    mean : ndarray of shape (d,), float64
        Training means (after :meth:`fit`).
    components : ndarray of shape (2, d), float64
        Orthonormal rows spanning the plane: two unit vectors along the chosen features, or
        the first two principal directions (sign fixed so that each row's largest-magnitude
        entry is positive).
    explained_variance_ratio : ndarray of shape (2,)
        PCA only: each component's share of the total variance (zeros for constant data).
    lo, hi : ndarray of shape (2,)
        The training data's extent in plane coordinates.
    """

    def __init__(self, kind: str = "features", features: Sequence[int] = (0, 1)) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        i, j = (int(f) for f in features)
        if kind == "features" and i == j:
            raise ValueError(f"the two features must differ, got ({i}, {j})")
        self.kind = kind
        self.features = (i, j)
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.explained_variance_ratio = np.zeros(2)
        self.lo = np.zeros(2)
        self.hi = np.ones(2)

    # ------------------------------------------------------------------ spec
    @classmethod
    def from_choice(cls, choice: dict[str, Any]) -> Projection:
        """From ``{"kind": "features", "features": [i, j]}`` or ``{"kind": "pca"}``."""
        return cls(choice.get("kind", "features"), tuple(choice.get("features", (0, 1))))

    def choice(self) -> dict[str, Any]:
        """The inverse of :meth:`from_choice` (JSON-friendly)."""
        if self.kind == "pca":
            return {"kind": "pca"}
        return {"kind": "features", "features": list(self.features)}

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def n_features(self) -> int:
        self._check_fitted()
        return int(self.mean.shape[0])

    def _check_fitted(self) -> None:
        if self.mean is None:
            raise RuntimeError("call fit(x_train) first")

    # ------------------------------------------------------------------ fitting
    def fit(self, x_train: np.ndarray, seed: int = 0) -> Projection:
        """Learn the means (and the principal components) from the training inputs.

        Parameters
        ----------
        x_train : ndarray of shape (n_samples, d) or (n_samples, *feature_shape)
            Flattened to (n_samples, d); d must be at least 2 and n_samples at least 1.
        seed : int
            Chooses the subset PCA is fitted on when there are more than
            :data:`MAX_PCA_SAMPLES` samples (or :data:`MAX_PCA_VALUES` values).

        Returns
        -------
        Projection
            ``self``.

        Raises
        ------
        ValueError
            Fewer than 2 features, no samples, non-finite values, or a feature index out of
            range.
        """
        x = np.asarray(x_train)
        if x.dtype.kind not in "fiu":
            x = x.astype(np.float64)
        x = x.reshape(len(x), -1) if x.ndim != 2 else x
        n, d = x.shape
        if n < 1:
            raise ValueError("no samples to fit the projection on")
        if d < 2:
            raise ValueError(f"a plane needs at least 2 features, the data has {d}")
        if not np.all(np.isfinite(x)):
            raise ValueError("the inputs hold NaN or infinite values")
        rng = np.random.default_rng(seed)
        mean = x.mean(axis=0, dtype=np.float64)  # no float64 copy of large data
        if self.kind == "features":
            for f in self.features:
                if not -d <= f < d:
                    raise ValueError(f"feature index {f} is out of range for {d} features")
            self.features = (self.features[0] % d, self.features[1] % d)
            if self.features[0] == self.features[1]:
                raise ValueError(f"the two features must differ, got {self.features}")
            components = np.zeros((2, d))
            components[0, self.features[0]] = 1.0
            components[1, self.features[1]] = 1.0
        else:
            sample = x
            cap = max(min(MAX_PCA_SAMPLES, MAX_PCA_VALUES // d), min(n, 2 * d, 1000))
            if n > cap:
                sample = x[np.sort(rng.choice(n, cap, replace=False))]
            centered = sample.astype(np.float64) - mean
            if len(centered) > 2 * d:
                # Many more samples than features: the eigenvectors of the d x d scatter
                # matrix (one matrix product and a small eigh) instead of an SVD of the
                # samples, ~5x faster for MNIST's 784 pixels.
                evals, evecs = np.linalg.eigh(centered.T @ centered)
                order = np.argsort(evals)[::-1]
                s = np.sqrt(np.clip(evals[order], 0.0, None))
                vt = evecs[:, order].T
                vt = vt[: int(np.sum(s > s[0] * 1e-12))] if s[0] > 0 else vt[:0]
            else:
                _, s, vt = np.linalg.svd(centered, full_matrices=False)
                vt = vt[: int(np.sum(s > s[0] * 1e-12))] if len(s) and s[0] > 0 else vt[:0]
            components = _complete_basis(vt[:2], d)
            # A deterministic sign (scikit-learn's svd_flip on the rows).
            big = np.argmax(np.abs(components), axis=1)
            signs = np.sign(components[np.arange(2), big])
            components *= np.where(signs == 0, 1.0, signs)[:, None]
            variance = s**2
            total = float(variance.sum())
            top = np.zeros(2)
            top[: min(2, len(variance))] = variance[:2]
            self.explained_variance_ratio = top / total if total > 0 else np.zeros(2)
        self.mean = mean
        self.components = components
        # The extent: of every sample, or of a seeded subset of very large data (widen it to
        # the samples a view draws with include()).
        if n * d > MAX_PCA_VALUES and n > MAX_PCA_SAMPLES:
            x = x[np.sort(rng.choice(n, MAX_PCA_SAMPLES, replace=False))]
        plane = self.to_plane(x)
        self.lo, self.hi = plane.min(axis=0), plane.max(axis=0)
        return self

    def include(self, x: np.ndarray) -> Projection:
        """Widen the extent (:attr:`lo`, :attr:`hi`) to cover samples ``x`` too (a validation
        split drawn beside the training data); the plane itself stays as fitted. Non-finite
        rows are ignored. Returns ``self``."""
        plane = self.to_plane(x)
        plane = plane[np.all(np.isfinite(plane), axis=1)]
        if len(plane):
            self.lo = np.minimum(self.lo, plane.min(axis=0))
            self.hi = np.maximum(self.hi, plane.max(axis=0))
        return self

    # ------------------------------------------------------------------ mapping
    def to_plane(self, x: np.ndarray) -> np.ndarray:
        """Plane coordinates of samples.

        Parameters
        ----------
        x : ndarray of shape (n, d) or (n, *feature_shape)

        Returns
        -------
        ndarray of shape (n, 2), float64
            The two chosen features' values, or the coordinates along the two principal
            components (relative to the mean).
        """
        self._check_fitted()
        x = np.asarray(x, dtype=np.float64)
        x = x.reshape(len(x), -1) if x.ndim != 2 else x
        if self.kind == "features":
            return x[:, list(self.features)].copy()
        return (x - self.mean) @ self.components.T

    def to_full(self, points: np.ndarray) -> np.ndarray:
        """The full inputs that plane points stand for.

        Parameters
        ----------
        points : ndarray of shape (m, 2)

        Returns
        -------
        ndarray of shape (m, d), float64
            ``"features"``: the training means with features ``i`` and ``j`` replaced by the
            point's two coordinates; ``"pca"``: ``mean + p1 * c1 + p2 * c2``.
        """
        self._check_fitted()
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.kind == "features":
            full = np.tile(self.mean, (len(p), 1))
            full[:, self.features[0]] = p[:, 0]
            full[:, self.features[1]] = p[:, 1]
            return full
        return self.mean + p @ self.components

    def extent(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` of the training data in the plane, widened by
        ``margin`` times its size on each side (a flat axis gets a width of 1)."""
        self._check_fitted()
        size = self.hi - self.lo
        pad = np.where(size > 0, size * margin, 0.5)
        lo, hi = self.lo - pad, self.hi + pad
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))

    def grid(self, res: int = 80, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """A ``res`` x ``res`` grid over :meth:`extent` and the inputs it stands for.

        Parameters
        ----------
        res : int
            Points along each axis (at least 2).
        margin : float
            See :meth:`extent`.

        Returns
        -------
        points : ndarray of shape (res * res, 2), float64
            Plane coordinates, row by row: point ``r * res + c`` lies at column ``c`` (the
            first coordinate, increasing) of row ``r`` (the second, increasing); reshaped to
            (res, res) the first axis is the plane's y, as an image.
        x_full : ndarray of shape (res * res, d), float64
            :meth:`to_full` of the points: what to feed the network.
        """
        if res < 2:
            raise ValueError(f"res must be at least 2, got {res}")
        x0, x1, y0, y1 = self.extent(margin)
        gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res))
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        return points, self.to_full(points)

    def axis_labels(self, feature_names: Sequence[str] | None = None) -> tuple[str, str]:
        """Names of the plane's two axes: the features' names, or ``"PC1 (73%)"``..."""
        if self.kind == "pca":
            r = self.explained_variance_ratio
            return (f"PC1 ({r[0]:.0%})", f"PC2 ({r[1]:.0%})")
        names = list(feature_names or [])

        def name(f: int) -> str:
            return names[f] if 0 <= f < len(names) else f"x{f}"

        return (name(self.features[0]), name(self.features[1]))


def _complete_basis(rows: np.ndarray, d: int) -> np.ndarray:
    """Two orthonormal rows: ``rows`` (0 to 2 of them, orthonormal) completed with vectors
    orthogonal to them (data with a single sample, or a single feature's worth of rows)."""
    if len(rows) >= 2:
        return np.array(rows[:2], dtype=np.float64)
    basis = np.vstack([rows, np.eye(d)]) if len(rows) else np.eye(d)
    q, _ = np.linalg.qr(basis.T)
    out = q[:, :2].T.copy()
    if len(rows):
        out[0] = rows[0]  # QR may flip its sign
    return out
