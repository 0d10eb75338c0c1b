"""The plane a decision boundary is drawn on for data with more than two features: exact
back-mapping, other features held at their means, PCA of data lying in a plane."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.projection import Projection


def _data(n: int = 200, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.arange(1, d + 1) + np.arange(d) * 10.0


def test_features_plane_holds_the_other_features_at_their_training_means():
    x = _data()
    proj = Projection("features", (3, 1)).fit(x)
    np.testing.assert_allclose(proj.mean, x.mean(axis=0))
    np.testing.assert_array_equal(proj.to_plane(x), x[:, [3, 1]])

    points, full = proj.grid(res=7)
    assert points.shape == (49, 2) and full.shape == (49, 5)
    np.testing.assert_array_equal(full[:, 3], points[:, 0])
    np.testing.assert_array_equal(full[:, 1], points[:, 1])
    for other in (0, 2, 4):
        np.testing.assert_array_equal(full[:, other], np.full(49, proj.mean[other]))
    # Back and forth is exact.
    np.testing.assert_array_equal(proj.to_plane(full), points)


def test_grid_is_row_major_over_the_padded_extent():
    x = np.array([[0.0, 10.0, 5.0], [2.0, 30.0, 5.0]])
    proj = Projection("features", (0, 1)).fit(x)
    assert proj.extent(margin=0.5) == (-1.0, 3.0, 0.0, 40.0)
    points, _ = proj.grid(res=3, margin=0.5)
    grid = points.reshape(3, 3, 2)
    np.testing.assert_array_equal(grid[0, :, 0], [-1.0, 1.0, 3.0])  # x varies along a row
    np.testing.assert_array_equal(grid[:, 0, 1], [0.0, 20.0, 40.0])  # y down the rows
    # A constant feature still gets an axis of width 1.
    flat = Projection("features", (2, 0)).fit(x)
    assert flat.extent(margin=0.1)[:2] == (4.5, 5.5)


def test_pca_of_data_lying_in_a_plane_reproduces_it():
    rng = np.random.default_rng(3)
    d = 6
    basis, _ = np.linalg.qr(rng.normal(size=(d, 2)))  # two orthonormal directions in R^6
    coords = rng.normal(size=(300, 2)) * [5.0, 1.0]
    origin = rng.normal(size=d) * 3
    x = origin + coords @ basis.T
    proj = Projection("pca").fit(x)

    np.testing.assert_allclose(proj.mean, x.mean(axis=0))
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-12)
    # The components span the data's plane...
    np.testing.assert_allclose(proj.components @ basis @ basis.T, proj.components, atol=1e-10)
    # ...so mapping to the plane and back gives every sample exactly.
    np.testing.assert_allclose(proj.to_full(proj.to_plane(x)), x, atol=1e-10)
    np.testing.assert_allclose(proj.explained_variance_ratio.sum(), 1.0)
    assert proj.explained_variance_ratio[0] > proj.explained_variance_ratio[1]
    # The grid's inputs lie in the plane too: pca back-mapping is mean + p1 c1 + p2 c2.
    points, full = proj.grid(res=5)
    expected = proj.mean + points[:, :1] * proj.components[0] + points[:, 1:] * proj.components[1]
    np.testing.assert_allclose(full, expected)
    np.testing.assert_allclose(proj.to_plane(full), points, atol=1e-10)


def test_pca_signs_are_deterministic_and_labels_say_the_variance():
    x = _data(d=4)
    a = Projection("pca").fit(x)
    b = Projection("pca").fit(x[::-1].copy())
    np.testing.assert_allclose(a.components, b.components, atol=1e-12)
    label1, label2 = a.axis_labels()
    assert label1.startswith("PC1 (") and label2.startswith("PC2 (")
    names = ["a", "b", "c", "d"]
    assert Projection("features", (2, 0)).fit(x).axis_labels(names) == ("c", "a")


def test_degenerate_inputs():
    one = Projection("pca").fit(np.array([[1.0, 2.0, 3.0]]))  # one sample: any plane
    np.testing.assert_allclose(one.components @ one.components.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(one.to_full([[0.0, 0.0]]), [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="at least 2 features"):
        Projection().fit(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="out of range"):
        Projection("features", (0, 3)).fit(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="must differ"):
        Projection("features", (1, 1))
    with pytest.raises(ValueError, match="NaN"):
        Projection().fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(RuntimeError, match="fit"):
        Projection().to_plane(np.zeros((2, 2)))


def test_choice_round_trip_and_image_inputs():
    for choice in ({"kind": "pca"}, {"kind": "features", "features": [2, 0]}):
        assert Projection.from_choice(choice).choice() == choice
    images = np.random.default_rng(0).random((10, 4, 4))
    proj = Projection("features", (0, 15)).fit(images)
    np.testing.assert_array_equal(proj.to_plane(images)[:, 1], images[:, 3, 3])


def test_include_widens_the_extent_only():
    x = np.array([[0.0, 0.0, 1.0], [1.0, 2.0, 1.0]])
    proj = Projection("features", (0, 1)).fit(x)
    mean = proj.mean.copy()
    proj.include(np.array([[-3.0, 1.0, 0.0], [0.5, 5.0, 0.0], [np.nan, 9.0, 0.0]]))
    np.testing.assert_array_equal(proj.lo, [-3.0, 0.0])
    np.testing.assert_array_equal(proj.hi, [1.0, 5.0])
    np.testing.assert_array_equal(proj.mean, mean)


def test_default_choice():
    from engine.data.projection import PCA_DEFAULT_ABOVE, default_choice

    assert default_choice(2) == {"kind": "features", "features": [0, 1]}
    assert default_choice(PCA_DEFAULT_ABOVE) == {"kind": "features", "features": [0, 1]}
    assert default_choice(PCA_DEFAULT_ABOVE + 1) == {"kind": "pca"}
    assert default_choice(4, images=True) == {"kind": "pca"}


@pytest.mark.parametrize("n, d", [(400, 6), (30, 40), (3000, 120)])
def test_pca_components_and_variance_agree_with_scikit_learn(n, d):
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d)) @ np.diag(np.linspace(3.0, 0.1, d)) + 5.0
    proj = Projection("pca").fit(x.astype(np.float32))
    sk = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(np.abs(proj.components), np.abs(sk.components_), atol=1e-4)
    np.testing.assert_allclose(
        proj.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-4
    )
