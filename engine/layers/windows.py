"""Sliding-window arithmetic shared by the convolution and pooling layers (channels-last).

A window of ``kernel`` cells (spaced ``dilation`` apart) slides over the height and width of
(batch, height, width, channels) arrays in steps of ``strides``, as TensorFlow does:

- ``"valid"``: no padding, ``out = floor((n − (k − 1)·d − 1) / s) + 1`` (below 1 when the
  window is larger than the input);
- ``"same"``: ``out = ceil(n / s)``, padded by ``pad_total = max((out − 1)·s + (k − 1)·d + 1 −
  n, 0)`` cells, ``pad_total // 2`` before and the rest after.

:func:`window_geometry` works the sizes out once; :func:`patches` lays every window out
(im2col: (batch, out rows, out cols, kh, kw, channels)), :func:`col2im` adds such an array back
onto the input (the windows that overlap a cell all add to it): one strided gather, and a loop
over the kh·kw kernel offsets (each a slice of the whole batch), never over pixels.

The import of this module is light (NumPy only): it is not a layer type (no ``LAYER``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.layers.base import ShapeProblem, format_shape

Pair = tuple[int, int]


def image_hint(shape: tuple[int, ...]) -> str:
    """What to do about an input that is not (height, width, channels): the Reshape (or model
    input shape) that makes one, when a square of one channel or an extra channel axis fits."""
    shape = tuple(int(d) for d in shape)
    target = None
    if len(shape) == 2:
        target = (shape[0], shape[1], 1)
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        target = (side, side, 1)
    if target is None:
        return (
            "add a Reshape before it that lays each sample out as (height, width, channels), "
            "or give the model such an input shape"
        )
    listed = ", ".join(str(d) for d in target)
    return (
        f"add a Reshape before it (target_shape ({listed})), or set the model's input shape "
        f"to [{listed}]"
    )


def image_size(class_name: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``shape`` as (height, width, channels); a :class:`ShapeProblem` saying what to do
    otherwise."""
    if len(shape) != 3:
        raise ShapeProblem(
            f"{class_name} needs images shaped (height, width, channels) but gets "
            f"{format_shape(shape)}: {image_hint(shape)}"
        )
    return tuple(int(d) for d in shape)


def axis_geometry(n: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """``(out, pad_before, pad_after)`` along one axis of ``n`` cells for a window of ``k``
    cells ``d`` apart moved ``s`` at a time; ``out`` may be below 1 for ``"valid"``."""
    span = (k - 1) * d + 1
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + span - n, 0)
        return out, total // 2, total - total // 2
    return (n - span) // s + 1, 0, 0


@dataclass(frozen=True)
class Geometry:
    """How a window covers an input of ``size`` (height, width): the output's ``out``
    (rows, cols) and the padding ``pads`` ((top, bottom), (left, right))."""

    size: Pair
    kernel: Pair
    strides: Pair
    dilation: Pair
    padding: str
    out: Pair
    pads: tuple[Pair, Pair]

    @property
    def span(self) -> Pair:
        """The window's extent on the input: ``(k − 1)·d + 1`` along each axis."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation, strict=True))

    @property
    def valid(self) -> bool:
        """Whether the output has at least one row and one column."""
        return self.out[0] >= 1 and self.out[1] >= 1

    @property
    def padded_size(self) -> Pair:
        return tuple(n + b + a for n, (b, a) in zip(self.size, self.pads, strict=True))

    @property
    def padded(self) -> bool:
        return any(p for pair in self.pads for p in pair)

    def offsets(self) -> Iterator[tuple[int, int, tuple[slice, slice]]]:
        """``(i, j, (rows, cols))`` for each kernel offset, row by row: the slices of the
        padded input that offset (i, j) reads for every output position at once."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.strides, self.dilation, self.out
        for i in range(kh):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            for j in range(kw):
                yield i, j, (rows, slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))

    def window(self, r: int, c: int) -> tuple[list[int], list[int]]:
        """The input rows and columns (unpadded coordinates; below 0 or past the size: a
        padding cell) that output position (r, c) reads, in kernel order."""
        (top, _), (left, _) = self.pads
        rows = [r * self.strides[0] - top + i * self.dilation[0] for i in range(self.kernel[0])]
        cols = [c * self.strides[1] - left + j * self.dilation[1] for j in range(self.kernel[1])]
        return rows, cols

    def inside(self, row: int, col: int) -> bool:
        """Whether (row, col) of :meth:`window` is a real input cell (not padding)."""
        return 0 <= row < self.size[0] and 0 <= col < self.size[1]

    def covering(self, row: int, col: int) -> list[tuple[int, int, int, int]]:
        """``(r, c, i, j)``: every output position (r, c) whose window reads input cell
        (row, col), at kernel offset (i, j)."""
        (top, _), (left, _) = self.pads
        out = []
        for i in range(self.kernel[0]):
            pr = row + top - i * self.dilation[0]
            if pr < 0 or pr % self.strides[0] or pr // self.strides[0] >= self.out[0]:
                continue
            for j in range(self.kernel[1]):
                pc = col + left - j * self.dilation[1]
                if pc < 0 or pc % self.strides[1] or pc // self.strides[1] >= self.out[1]:
                    continue
                out.append((pr // self.strides[0], pc // self.strides[1], i, j))
        return sorted(out)


def window_geometry(
    size: Pair, kernel: Pair, strides: Pair, dilation: Pair, padding: str
) -> Geometry:
    """The :class:`Geometry` of a window over an input of ``size`` (height, width)."""
    rows = axis_geometry(size[0], kernel[0], strides[0], dilation[0], padding)
    cols = axis_geometry(size[1], kernel[1], strides[1], dilation[1], padding)
    return Geometry(
        tuple(size),
        tuple(kernel),
        tuple(strides),
        tuple(dilation),
        padding,
        (rows[0], cols[0]),
        ((rows[1], rows[2]), (cols[1], cols[2])),
    )


def pad(x: np.ndarray, g: Geometry, value: float = 0.0) -> np.ndarray:
    """``x`` (batch, height, width, channels) with ``g``'s padding of ``value`` (no copy when
    there is none)."""
    if not g.padded:
        return x
    return np.pad(x, ((0, 0), *g.pads, (0, 0)), constant_values=value)


def patches(x: np.ndarray, g: Geometry, value: float = 0.0) -> np.ndarray:
    """Every window of ``x`` (batch, height, width, channels), padding cells ``value``:
    (batch, out rows, out cols, kh, kw, channels), a new C-ordered array (im2col), gathered in
    one copy from a strided view of the padded input."""
    xp = pad(x, g, value)
    (sh, sw), (dh, dw), (oh, ow) = g.strides, g.dilation, g.out
    view = sliding_window_view(xp, g.span, axis=(1, 2))  # (batch, rows, cols, ch, span h, w)
    view = view[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, :, ::dh, ::dw]
    return np.ascontiguousarray(view.transpose(0, 1, 2, 4, 5, 3))


def col2im(cols: np.ndarray, g: Geometry) -> np.ndarray:
    """The sum, on the input (batch, height, width, channels), of ``cols`` (batch, out rows,
    out cols, kh, kw, channels) put back where :func:`patches` took each cell; the padding
    cells' share is dropped. ``cols`` is first laid out offset by offset (one copy), so that
    each of the kh·kw additions reads a contiguous block."""
    n, c = cols.shape[0], cols.shape[-1]
    by_offset = np.ascontiguousarray(np.moveaxis(cols, (3, 4), (0, 1)))
    out = np.zeros((n, *g.padded_size, c), dtype=cols.dtype)
    for i, j, (rows, colsl) in g.offsets():
        out[:, rows, colsl, :] += by_offset[i, j]
    return _unpad(out, g)


def _unpad(out: np.ndarray, g: Geometry) -> np.ndarray:
    """The real cells of a padded (batch, rows, cols, channels) array."""
    if not g.padded:
        return out
    (top, _), (left, _) = g.pads
    return out[:, top : top + g.size[0], left : left + g.size[1], :]


def window_max(x: np.ndarray, g: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The maximum of each window of ``x`` (padding never wins: −∞) and which kernel offset
    (``i·kw + j``) holds it — the first in row-major order on ties, as TensorFlow's gradient
    picks it: both (batch, out rows, out cols, channels)."""
    xp = pad(x, g, -np.inf)
    best = None
    arg = None
    for i, j, sl in g.offsets():
        part = xp[:, sl[0], sl[1], :]
        if best is None:
            best = part.copy()
            arg = np.zeros(best.shape, dtype=np.intp)
            continue
        better = part > best
        np.copyto(best, part, where=better)
        arg[better] = i * g.kernel[1] + j
    return best, arg


def scatter_max(grad: np.ndarray, arg: np.ndarray, g: Geometry) -> np.ndarray:
    """``grad`` (batch, out rows, out cols, channels) sent to each window's winner (``arg``
    from :func:`window_max`), summed where windows overlap: (batch, height, width, channels)."""
    n, c = grad.shape[0], grad.shape[-1]
    out = np.zeros((n, *g.padded_size, c), dtype=grad.dtype)
    zero = grad.dtype.type(0)
    for i, j, (rows, colsl) in g.offsets():
        out[:, rows, colsl, :] += np.where(arg == i * g.kernel[1] + j, grad, zero)
    return _unpad(out, g)


def window_sum(x: np.ndarray, g: Geometry) -> np.ndarray:
    """The sum of each window of ``x`` (padding counts 0): (batch, out rows, out cols, ch)."""
    xp = pad(x, g)
    total = np.zeros((x.shape[0], *g.out, x.shape[-1]), dtype=x.dtype)
    for _, _, (rows, colsl) in g.offsets():
        total += xp[:, rows, colsl, :]
    return total


def spread(grad: np.ndarray, g: Geometry) -> np.ndarray:
    """The adjoint of :func:`window_sum`: each output's ``grad`` added to every real cell of
    its window: (batch, height, width, channels)."""
    n, c = grad.shape[0], grad.shape[-1]
    out = np.zeros((n, *g.padded_size, c), dtype=grad.dtype)
    for _, _, (rows, colsl) in g.offsets():
        out[:, rows, colsl, :] += grad
    return _unpad(out, g)


def window_counts(g: Geometry) -> np.ndarray:
    """How many real (unpadded) cells each window holds: (out rows, out cols)."""
    ones = np.ones((1, *g.size, 1))
    return window_sum(ones, g)[0, :, :, 0]


def checked_geometry(
    class_name: str,
    shape: tuple[int, ...],
    kernel: Pair,
    strides: Pair,
    dilation: Pair,
    padding: str,
    kernel_key: str,
) -> Geometry:
    """The :class:`Geometry` of a layer's window over its input ``shape`` (height, width,
    channels); a :class:`ShapeProblem` when the input is no image, when strides and dilation
    are both above 1 (Keras refuses it) or when no window fits (``"valid"``)."""
    h, w, _ = image_size(class_name, shape)
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
        raise ShapeProblem(
            f"strides {pair_text(strides)} cannot go with dilation_rate {pair_text(dilation)}: "
            "Keras allows strides above 1 only without dilation (dilation_rate 1)",
            field="dilation_rate",
        )
    g = window_geometry((h, w), kernel, strides, dilation, padding)
    if not g.valid:
        what = "kernel" if kernel_key == "kernel_size" else "pool window"
        size = f"{what} {kernel[0]}×{kernel[1]}"
        if g.span != tuple(kernel):
            size += f" (dilated: {g.span[0]}×{g.span[1]})"
        raise ShapeProblem(
            f"the {size} is larger than the input's {h}×{w} with padding 'valid': "
            f"set padding to 'same' or use a smaller {kernel_key}",
            field=kernel_key,
        )
    return g


def pair_text(pair: Pair) -> str:
    """A pair as Keras writes a tuple: ``(3, 3)``."""
    return f"({int(pair[0])}, {int(pair[1])})"


def window_text(g: Geometry, rows: list[int], cols: list[int]) -> str:
    """The input rows and columns of a window (from :meth:`Geometry.window`) that are real
    cells, 1-based, for an explanation: "rows 1–3, columns 2–4"."""

    def span(word: str, items: list[int], size: int) -> str:
        items = [v + 1 for v in items if 0 <= v < size]
        if len(items) == 1:
            return f"{word} {items[0]}"
        step = items[1] - items[0]
        text = f"{word}s {items[0]}–{items[-1]}"
        return text if step == 1 else f"{text} (every {ordinal(step)})"

    if not any(g.inside(r, c) for r in rows for c in cols):
        return "padding cells only, none"
    return f"{span('row', rows, g.size[0])}, {span('column', cols, g.size[1])}"


def ordinal(n: int) -> str:
    """``2`` -> ``"2nd"``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cells_text(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"
