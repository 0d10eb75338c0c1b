"""How a dataset's samples reach the model: in the model's ``input_shape``.

A :class:`~engine.data.files.Dataset` keeps ``x`` in its source's layout: flat rows for the
built-in digits (64 values), MNIST and Fashion-MNIST (784), IDX files and image folders (as
the classic Keras MLP examples feed them), the archive's own axes for ``.npz``/``.npy`` files
((n, H, W, C), (n, H, W), (n, d)...). A source of images also says what one sample is as an
image in :attr:`~engine.data.files.Dataset.image_shape`, ``(H, W, C)`` channels-last (Keras'
``image_data_format`` default).

The model decides the layout: a network whose ``input_shape`` is ``[8, 8, 1]`` gets the digits
as images, one whose ``input_shape`` is ``[64]`` gets them flat. :func:`input_layouts` lists
the shapes a dataset can be given as, :func:`layout_problem` explains a shape it cannot, and
:func:`fit_to_input` lays the arrays out (a reshape, never a copy: row-major order, channels
innermost, which is the order of Keras' ``Flatten`` and ``Reshape``).

The rule: the samples' own shape, always; flat (flattening keeps the row-major order); the
image shape ``(H, W, C)`` (and ``(H, W)`` for one channel) when the data are images; any shape
of the same size for flat rows that are no images (a table of pixel values: a flat row has no
axes to scramble, Keras' ``Reshape``). Never another shape of the same size for images (28 x 28
images as 14 x 56 would scramble every picture).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from engine.data.files import Dataset
from engine.layers import format_shape

__all__ = [
    "fit_to_input",
    "input_layouts",
    "layout_problem",
    "shape_text",
    "to_input_shape",
]


def shape_text(shape: Sequence[int]) -> str:
    """A sample shape as messages write it, Keras' summary style with the batch axis:
    ``(None, 8, 8, 1)``, ``(None, 64)``."""
    return format_shape(tuple(int(d) for d in shape))


def input_layouts(dataset: Dataset) -> list[tuple[int, ...]]:
    """The input shapes the dataset can be given as without scrambling a sample, most natural
    first: the samples' own shape, the image shape (and ``(H, W)`` for one channel), flat.
    Any other shape of the same size is possible too when the samples are flat rows that are
    no images (see :func:`layout_problem`)."""
    own = tuple(int(d) for d in dataset.feature_shape)
    size = math.prod(own)
    shapes = [own]
    image = dataset.image_shape
    if image is not None and math.prod(image) == size:
        shapes.append(tuple(image))
        if image[2] == 1:
            shapes.append(tuple(image[:2]))
    shapes.append((size,))
    out: list[tuple[int, ...]] = []
    for shape in shapes:
        if shape not in out:
            out.append(shape)
    return out


def layout_problem(dataset: Dataset, input_shape: Sequence[int]) -> str | None:
    """Why the samples cannot reach a model of this ``input_shape``; None when they can.

    The message names both shapes and the fix (the shape to set, or Match network to data).
    """
    want = tuple(int(d) for d in input_shape)
    own = tuple(int(d) for d in dataset.feature_shape)
    layouts = input_layouts(dataset)
    size = math.prod(own)
    if want in layouts:
        return None
    image = dataset.image_shape
    if math.prod(want) == size and len(own) == 1 and image is None:
        return None  # a flat row that is no image, laid out as the network asks (Reshape)
    what = f"samples of shape {shape_text(own)}"
    if image is not None and image != own:
        what += f" ({image[0]}x{image[1]} images with {image[2]} channel{'s' * (image[2] != 1)})"
    best = layouts[1] if image is not None and len(layouts) > 1 else layouts[0]
    if math.prod(want) != size:
        why = f"{math.prod(want)} values per sample, the data have {size}"
    else:
        why = "the same number of values in other axes would scramble every sample"
    return (
        f"the data have {what} but the model input is {shape_text(want)} ({why}); set "
        f"input_shape to {list(best)} or use Match network to data"
    )


def to_input_shape(x: np.ndarray | None, input_shape: Sequence[int]) -> np.ndarray | None:
    """``x`` (n, ...) reshaped to (n, *input_shape): a view when ``x`` is contiguous."""
    if x is None:
        return None
    want = tuple(int(d) for d in input_shape)
    if tuple(x.shape[1:]) == want:
        return x
    return x.reshape((len(x), *want))


def fit_to_input(dataset: Dataset, input_shape: Sequence[int]) -> Dataset:
    """The dataset with ``x`` and ``x_test`` in the model's ``input_shape`` (the same object
    when they are already); check :func:`layout_problem` first.

    Raises
    ------
    ValueError
        When the sizes differ (:func:`layout_problem` says why in words).
    """
    want = tuple(int(d) for d in input_shape)
    if tuple(dataset.feature_shape) == want:
        return dataset
    if math.prod(want) != math.prod(dataset.feature_shape):
        raise ValueError(
            f"samples of shape {shape_text(dataset.feature_shape)} cannot become {shape_text(want)}"
        )
    return dataclasses.replace(
        dataset,
        x=to_input_shape(dataset.x, want),
        x_test=to_input_shape(dataset.x_test, want),
        # Shared lists stay shared copies: the replaced dataset is a view, not a new load.
        notes=list(dataset.notes),
        detected=dict(dataset.detected),
    )
