"""Read and write IDX files, the format of MNIST and Fashion-MNIST, and load them as datasets.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order, big-endian. Files may be
gzip-compressed; compression is recognised by its magic bytes, not by the file name.

A dataset spec ``{"path": "train-images-idx3-ubyte.gz"}`` names the images; the labels come
from ``"labels_path"`` or are found beside the images by the standard naming
(``*-images-idx3-ubyte[.gz]`` -> ``*-labels-idx1-ubyte[.gz]``, also with ``.`` before
``idx``). Images are flattened to (n, rows * cols) like the built-in MNIST, and the dataset's
``image_shape`` is (rows, cols, 1) (or the header's (rows, cols, channels)): a model whose input
is an image gets them as images (:mod:`engine.data.layout`). uint8 pixels are scaled to
[0, 1] (divided by 255), other types are kept as stored. When the images are a
``train-`` file and the matching ``t10k-`` images and labels lie beside them, those become the
test set.
"""

from __future__ import annotations

import gzip
import math
import os
import pathlib
import re
import zlib
from typing import BinaryIO

import numpy as np

from engine.data.files import (
    Dataset,
    check_fits,
    check_regular_file,
    dataset_from_arrays,
    out_of_memory_error,
)
from engine.errors import DataError

__all__ = ["find_labels_file", "is_idx_name", "load_idx_dataset", "read_idx", "write_idx"]

# Type code -> big-endian dtype (LeCun's "THE IDX FILE FORMAT").
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_NAME = re.compile(r"idx\d+[-_.]ubyte|\.idx\d*(\.gz)?$", re.IGNORECASE)


def _read_exactly(stream: BinaryIO, size: int, path: pathlib.Path, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise DataError(
            f"IDX file is truncated: expected {size} bytes of {what}, found {len(data)}",
            where=str(path),
        )
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file, plain or gzip-compressed.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray of shape (d0, d1, ...)
        The values with the dimensions from the header, in native byte order (``uint8`` for
        MNIST).

    Raises
    ------
    DataError
        The file is missing or not a regular file, is not IDX, has an unknown type code, holds
        more or fewer bytes than its header's dimensions require, or declares more data than
        memory can hold (checked before anything is allocated or inflated: a small ``.gz``
        cannot inflate without bound). The message names the file.
    """
    path = pathlib.Path(path)
    size = check_regular_file(path, "IDX file")
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise DataError(f"cannot read IDX file: {exc.strerror or exc}", where=str(path)) from None
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as stream:
            return _read_idx_stream(stream, path, None if compressed else size)
    except MemoryError:
        raise out_of_memory_error(str(path), "reading the IDX file") from None
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
        raise DataError(f"corrupt gzip-compressed IDX file ({exc})", where=str(path)) from None


def _read_idx_stream(stream: BinaryIO, path: pathlib.Path, size: int | None) -> np.ndarray:
    """The array of an open IDX stream; ``size`` is the file's size when not compressed."""
    magic = _read_exactly(stream, 4, path, "magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(
            f"not an IDX file: magic number {magic.hex()} does not start with two zero bytes",
            where=str(path),
        )
    code, ndim = magic[2], magic[3]
    if code not in _CODE_TO_DTYPE:
        raise DataError(f"not an IDX file: unknown type code 0x{code:02x}", where=str(path))
    if ndim == 0:
        raise DataError("IDX header declares 0 dimensions", where=str(path))
    dims = tuple(
        int(d) for d in np.frombuffer(_read_exactly(stream, 4 * ndim, path, "dimensions"), ">u4")
    )
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(dims) * dtype.itemsize
    header = 4 + 4 * ndim
    if size is not None and expected != size - header:
        # Uncompressed: the file's size tells a lying header at once, nothing read.
        found = f"{max(size - header, 0)}" if size - header <= expected else "more than that"
        raise DataError(
            f"IDX header dimensions {dims} of {dtype.name} need {expected} bytes of data, "
            f"the file holds {found}",
            where=str(path),
        )
    # Compressed, only inflating tells; refuse a header that claims more than memory holds
    # before inflating a byte of it (a gzip bomb is a few MB that claims or inflates to GBs).
    check_fits(expected, f"the IDX data (dimensions {dims} of {dtype.name})", str(path))
    # Read into one buffer, in chunks, never past the declared size (+1 byte to tell extra
    # data apart): inflation stops there, however much more the stream would give.
    out = np.empty(expected, dtype=np.uint8)
    view = memoryview(out)
    total = 0
    while total < expected:
        got = stream.readinto(view[total : min(total + (1 << 20), expected)])
        if not got:
            break
        total += got
    extra = stream.read(1) if total == expected else b""
    if total != expected or extra:
        found = f"{total}" if not extra else "more than that"
        raise DataError(
            f"IDX header dimensions {dims} of {dtype.name} need {expected} bytes of data, "
            f"the file holds {found}",
            where=str(path),
        )
    array = out.view(dtype).reshape(dims)
    if dtype.byteorder == ">":  # big-endian on this machine: swap in place, no copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an array as an IDX file, gzip-compressed when the name ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    array : ndarray of shape (d0, d1, ...)
        At least one dimension; dtype uint8, int8, int16, int32, float32 or float64.

    Raises
    ------
    ValueError
        The dtype has no IDX type code, or the array is 0-dimensional.
    """
    array = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = np.ascontiguousarray(array, _CODE_TO_DTYPE[code]).tobytes()
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + body)


def is_idx_name(name: str) -> bool:
    """Whether a file name follows IDX naming (``*-idx3-ubyte``, ``*.idx1-ubyte.gz``, ``*.idx``)."""
    return bool(_IDX_NAME.search(name))


def _labels_names(name: str) -> list[str]:
    """Candidate labels file names for an images file name, most likely first."""
    base = name[:-3] if name.lower().endswith(".gz") else name
    swapped = re.sub(r"images", "labels", base, flags=re.IGNORECASE)
    swapped = re.sub(r"idx[2-9]", "idx1", swapped, flags=re.IGNORECASE)
    if swapped == base:
        return []
    first, second = (
        (swapped + ".gz", swapped)
        if name.lower().endswith(".gz")
        else (
            swapped,
            swapped + ".gz",
        )
    )
    return [first, second]


def find_labels_file(images: pathlib.Path) -> pathlib.Path | None:
    """The labels file beside an images file, by MNIST's naming; None when there is none.

    ``train-images-idx3-ubyte.gz`` -> ``train-labels-idx1-ubyte.gz`` (or without ``.gz``);
    ``t10k-images.idx3-ubyte`` -> ``t10k-labels.idx1-ubyte``.
    """
    for candidate in _labels_names(images.name):
        path = images.with_name(candidate)
        # exists(), not is_file(): a FIFO there is found, then refused by name.
        if path.exists() and not path.is_dir():
            return path
    return None


def _test_pair(images: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path] | None:
    if not images.name.lower().startswith("train"):
        return None
    test_images = images.with_name("t10k" + images.name[len("train") :])
    if not test_images.is_file():
        return None
    test_labels = find_labels_file(test_images)
    return (test_images, test_labels) if test_labels is not None else None


def _images_to_x(images: np.ndarray, path: pathlib.Path, dtype: np.dtype) -> np.ndarray:
    """Images (n, rows, cols, ...) as rows (n, rows * cols * ...) of ``dtype``; uint8 pixels
    divided by 255."""
    if images.ndim < 2:
        raise DataError(
            f"IDX images must have at least 2 dimensions (n, rows, cols), the header declares "
            f'{images.shape}; is this a labels file? point "path" at the images',
            where=str(path),
        )
    if images.shape[0] == 0:
        raise DataError(
            f"the IDX file holds no images: its header declares dimensions {images.shape}",
            where=str(path),
        )
    width = math.prod(images.shape[1:])
    if width == 0:
        raise DataError(
            f"the IDX images are empty: its header declares dimensions {images.shape}",
            where=str(path),
        )
    flat = images.reshape(images.shape[0], width)
    if images.dtype == np.uint8:
        check_fits(flat.size * dtype.itemsize, f"the images as {dtype.name}", str(path))
        x = flat.astype(dtype)
        x /= dtype.type(255.0)  # in place: no second copy of the images
        return x
    return flat


def _labels_to_y(labels: np.ndarray, path: pathlib.Path) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"IDX labels must be one integer per image, the file holds {labels.dtype} of shape "
            f"{labels.shape}",
            where=str(path),
        )
    if labels.shape[0] == 0:
        raise DataError("the IDX labels file holds no labels", where=str(path))
    return labels


def load_idx_dataset(
    path: pathlib.Path,
    labels_path: pathlib.Path | None = None,
    *,
    task: str | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Load MNIST-format images and labels as a classification dataset.

    Parameters
    ----------
    path : Path
        The images, e.g. ``train-images-idx3-ubyte.gz``: shape (n, rows, cols[, ...]).
    labels_path : Path, optional
        The labels, shape (n,); found beside the images by :func:`find_labels_file` when None.
    task : {"classification", "regression"} or None
        Forces the task; classification (labels are class indices) when None.
    dtype : floating dtype
        The dtype of ``x`` (and of regression targets).

    Returns
    -------
    Dataset
        ``x`` of ``dtype`` and shape (n, rows * cols) (uint8 pixels scaled to [0, 1]) and
        ``image_shape`` (rows, cols, 1), or the header's (rows, cols, channels); ``y``
        int64 of shape (n,); class names the labels (``"0"``, ``"1"``...; labels other than
        0..k-1 are numbered in sorted order); ``x_test`` / ``y_test`` from the matching
        ``t10k-`` files when they lie beside ``train-`` files.

    Raises
    ------
    DataError
        A missing labels file, corrupt IDX files, labels that are not integers, counts that
        differ between images and labels.
    """
    where = str(path)
    notes: list[str] = []
    if labels_path is None:
        labels_path = find_labels_file(path)
        if labels_path is None:
            looked = " or ".join(_labels_names(path.name)) or "a '*-labels-idx1-ubyte' file"
            raise DataError(
                f'no labels file beside the images (looked for {looked}); give it as "labels_path"',
                where=where,
            )
        notes.append(f"labels read from {labels_path.name}, found beside the images")
    dtype = np.dtype(dtype)
    images = read_idx(path)
    dims = tuple(int(d) for d in images.shape[1:])
    arrays = {path.name: _images_to_x(images, path, dtype)}
    del images
    y_key = labels_path.name if labels_path.name != path.name else f"labels ({labels_path})"
    arrays[y_key] = _labels_to_y(read_idx(labels_path), labels_path)
    test = _test_pair(path) if labels_path == find_labels_file(path) else None
    if test is not None:
        test_images = read_idx(test[0])
        if tuple(test_images.shape[1:]) != dims:
            raise DataError(
                f"the test images {test[0].name} are {_dims_text(test_images.shape[1:])} but "
                f"the training images are {_dims_text(dims)}; they must match",
                where=where,
            )
        arrays["x_test"] = _images_to_x(test_images, test[0], dtype)
        del test_images
        arrays["y_test"] = _labels_to_y(read_idx(test[1]), test[1])
        notes.append(f"test set read from {test[0].name} and {test[1].name}")
    dataset = dataset_from_arrays(
        arrays,
        where=where,
        task=task or "classification",
        x_key=path.name,
        y_key=y_key,
        dtype=dtype,
    )
    if dataset.task == "classification" and dataset.class_names is None:
        dataset.class_names = [str(c) for c in range(dataset.n_classes or 0)]
    counts = f"{dataset.n_samples} samples"
    if dataset.x_test is not None:
        counts += f" + {len(dataset.x_test)} test"
    dataset.name = f"{path.name} ({counts})"
    dataset.notes = notes + dataset.notes
    dataset.detected = {"labels_path": str(labels_path), "task": dataset.task}
    # (n, rows, cols) images are one channel; (n, rows, cols, channels) channels-last.
    if len(dims) == 2:
        dataset.image_shape = (dims[0], dims[1], 1)
    elif len(dims) == 3:
        dataset.image_shape = (dims[0], dims[1], dims[2])
    return dataset


def _dims_text(dims: tuple[int, ...]) -> str:
    return " x ".join(str(int(d)) for d in dims)
