"""The sliding-window arithmetic of Conv2D and the poolings (engine.layers.windows) against
TensorFlow's own ops: output sizes and padding on a grid of sizes, kernels, strides, dilations
and both paddings; the windows' values (convolution, max, mean) and their gradients; the
geometry's bookkeeping (which windows read a cell) against the windows themselves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.layers.windows import (
    axis_geometry,
    col2im,
    patches,
    scatter_max,
    spread,
    window_counts,
    window_geometry,
    window_max,
    window_sum,
)

# (size, kernel, stride, dilation) along one axis; strides and dilations above 1 never together
# (neither TensorFlow's CPU convolution nor Keras takes both).
AXES = [
    (n, k, s, d)
    for n, k, (s, d) in itertools.product(
        range(1, 8), range(1, 5), [(1, 1), (2, 1), (3, 1), (1, 2), (1, 3)]
    )
]


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def pairs():
    """Rows and columns from different entries of the grid, so that no axis mirrors the
    other."""
    cols = AXES[::-1]
    out = []
    for a, b in zip(AXES, cols, strict=True):
        if (a[2] > 1 or b[2] > 1) and (a[3] > 1 or b[3] > 1):
            b = (b[0], b[1], 1, 1)
        out.append((a, b))
    return out


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_sizes_padding_and_convolution_values_match_tensorflow(tf, padding):
    rng = np.random.default_rng(0)
    for (h, kh, sh, dh), (w, kw, sw, dw) in pairs():
        g = window_geometry((h, w), (kh, kw), (sh, sw), (dh, dw), padding)
        x = rng.normal(size=(2, h, w, 3))
        kernel = rng.normal(size=(kh, kw, 3, 2))
        where = (padding, (h, kh, sh, dh), (w, kw, sw, dw))
        if not g.valid:
            assert padding == "valid"
            assert (h - (kh - 1) * dh - 1) < 0 or (w - (kw - 1) * dw - 1) < 0, where
            continue
        want = tf.nn.conv2d(x, kernel, (sh, sw), padding.upper(), dilations=(dh, dw)).numpy()
        assert want.shape[1:3] == g.out, where
        cols = patches(x, g)
        got = (cols.reshape(-1, kh * kw * 3) @ kernel.reshape(-1, 2)).reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=str(where))


def test_same_padding_splits_the_extra_cell_after():
    # TensorFlow pads the odd cell at the end: 4 cells, window 2, stride 1 -> 0 before, 1 after.
    assert axis_geometry(4, 2, 1, 1, "same") == (4, 0, 1)
    assert axis_geometry(5, 3, 2, 1, "same") == (3, 1, 1)
    assert axis_geometry(6, 3, 2, 1, "same") == (3, 0, 1)
    assert axis_geometry(5, 3, 1, 2, "same") == (5, 2, 2)
    assert axis_geometry(7, 1, 3, 1, "same") == (3, 0, 0)
    assert axis_geometry(5, 3, 2, 1, "valid") == (2, 0, 0)
    assert axis_geometry(2, 3, 1, 1, "valid")[0] == 0


POOLS = [
    ((h, w), (ph, pw), (sh, sw), padding)
    for (h, w), (ph, pw), (sh, sw), padding in itertools.product(
        [(5, 5), (6, 4), (3, 7), (1, 2)],
        [(2, 2), (3, 3), (1, 2), (3, 1)],
        [(1, 1), (2, 2), (3, 1)],
        ["valid", "same"],
    )
]


def test_max_and_average_pooling_and_their_gradients_match_tensorflow(tf):
    rng = np.random.default_rng(1)
    checked = 0
    for size, pool, strides, padding in POOLS:
        g = window_geometry(size, pool, strides, (1, 1), padding)
        if not g.valid:
            continue
        x = tf.constant(rng.normal(size=(2, *size, 3)))
        grad = rng.normal(size=(2, *g.out, 3))
        where = (size, pool, strides, padding)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            mx = tf.nn.max_pool2d(x, pool, strides, padding.upper())
            av = tf.nn.avg_pool2d(x, pool, strides, padding.upper())
        want_mx_grad = tape.gradient(mx, x, output_gradients=grad).numpy()
        want_av_grad = tape.gradient(av, x, output_gradients=grad).numpy()
        xn = x.numpy()
        best, arg = window_max(xn, g)
        np.testing.assert_array_equal(best, mx.numpy(), err_msg=str(where))
        np.testing.assert_allclose(scatter_max(grad, arg, g), want_mx_grad, rtol=1e-12, atol=0)
        counts = window_counts(g)[None, :, :, None]
        np.testing.assert_allclose(window_sum(xn, g) / counts, av.numpy(), rtol=1e-12)
        np.testing.assert_allclose(spread(grad / counts, g), want_av_grad, rtol=1e-12, atol=1e-15)
        checked += 1
    assert checked > 50


def test_max_pooling_gives_a_tie_to_the_first_maximum_in_row_major_order(tf):
    """As TensorFlow's MaxPoolGrad does: one cell per window takes the whole error."""
    x = np.zeros((1, 4, 4, 1))
    x[0, 2, 3, 0] = x[0, 3, 2, 0] = 2.0  # a tie in the last window
    g = window_geometry((4, 4), (2, 2), (2, 2), (1, 1), "valid")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, 2, 2, "VALID")
    ones = np.ones((1, 2, 2, 1))
    want = tape.gradient(y, xt, output_gradients=ones).numpy()
    got = scatter_max(ones, window_max(x, g)[1], g)
    np.testing.assert_array_equal(got, want)
    assert got[0, 0, 0, 0] == 1 and got[0, 2, 3, 0] == 1 and got[0, 3, 2, 0] == 0


def test_col2im_is_the_adjoint_of_patches():
    """⟨patches(x), c⟩ = ⟨x, col2im(c)⟩ for every geometry: the backward pass of the windows."""
    rng = np.random.default_rng(2)
    for (h, kh, sh, dh), (w, kw, sw, dw) in pairs()[::7]:
        for padding in ("valid", "same"):
            g = window_geometry((h, w), (kh, kw), (sh, sw), (dh, dw), padding)
            if not g.valid:
                continue
            x = rng.normal(size=(2, h, w, 2))
            c = rng.normal(size=(2, *g.out, kh, kw, 2))
            assert col2im(c, g).shape == x.shape
            np.testing.assert_allclose(
                np.vdot(patches(x, g), c), np.vdot(x, col2im(c, g)), rtol=1e-10
            )


def test_the_windows_that_read_a_cell_are_those_whose_window_holds_it():
    for (h, kh, sh, dh), (w, kw, sw, dw) in pairs()[::5]:
        for padding in ("valid", "same"):
            g = window_geometry((h, w), (kh, kw), (sh, sw), (dh, dw), padding)
            if not g.valid:
                continue
            reads: dict[tuple[int, int], list] = {}
            for r in range(g.out[0]):
                for c in range(g.out[1]):
                    rows, cols = g.window(r, c)
                    for i, row in enumerate(rows):
                        for j, col in enumerate(cols):
                            if g.inside(row, col):
                                reads.setdefault((row, col), []).append((r, c, i, j))
            for row in range(h):
                for col in range(w):
                    assert g.covering(row, col) == sorted(reads.get((row, col), []))


def test_patches_keep_the_dtype_and_padding_value():
    g = window_geometry((3, 3), (2, 2), (1, 1), (1, 1), "same")
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    cols = patches(x, g)
    assert cols.dtype == np.float32 and cols.shape == (1, 3, 3, 2, 2, 1)
    assert cols[0, 2, 2, :, :, 0].tolist() == [[8, 0], [0, 0]]
    best, _ = window_max(-x - 1, g)  # all negative: the −∞ padding never wins
    assert best.dtype == np.float32 and best[0, 2, 2, 0] == -9
