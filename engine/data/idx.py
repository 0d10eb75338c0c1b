"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order, big-endian. Files may be
gzip-compressed; compression is recognised by its magic bytes, not by the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import pathlib
import zlib
from typing import BinaryIO

import numpy as np

from engine.errors import DataError

__all__ = ["read_idx", "write_idx"]

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
        The file is missing, is not IDX, has an unknown type code, or holds more or fewer
        bytes than its header's dimensions require. The message names the file.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
    except FileNotFoundError:
        raise DataError("IDX file not found", where=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read IDX file: {exc.strerror or exc}", where=str(path)) from None
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as stream:
            return _read_idx_stream(stream, path)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
        raise DataError(f"corrupt gzip-compressed IDX file ({exc})", where=str(path)) from None


def _read_idx_stream(stream: BinaryIO, path: pathlib.Path) -> np.ndarray:
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
    # Read one byte more than needed: it tells extra data apart without reading all of it.
    data = stream.read(expected + 1)
    if len(data) != expected:
        found = f"{len(data)}" if len(data) <= expected else "more than that"
        raise DataError(
            f"IDX header dimensions {dims} of {dtype.name} need {expected} bytes of data, "
            f"the file holds {found}",
            where=str(path),
        )
    return np.frombuffer(data, dtype).reshape(dims).astype(dtype.newbyteorder("="))


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
