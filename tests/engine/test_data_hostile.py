"""Hostile and broken data files: a clean DataError naming the file, never a MemoryError, a
traceback or a hang. Every file is made on the fly and tiny on disk (the sparse CSV has a
2 GB size and no blocks); memory limits are simulated by patching engine.memory.memory_limit.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import engine.memory
from engine.cli import main as cli_main
from engine.data import load_dataset
from engine.data.idx import write_idx
from engine.errors import DataError
from engine.memory import MemoryLimit

MiB = 1 << 20


@pytest.fixture
def limit(monkeypatch):
    """Set the memory limit this process sees (bytes)."""

    def set_limit(nbytes: int) -> None:
        monkeypatch.setattr(
            engine.memory, "memory_limit", lambda: MemoryLimit(nbytes, "a test's limit")
        )

    return set_limit


def idx_header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def refused(spec: dict, base: Path, *fragments: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_dataset(spec, base)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def project_file(folder: Path, dataset: dict) -> Path:
    spec = {
        "format_version": 1,
        "model": {
            "input_shape": [4],
            "layers": [{"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}],
        },
        "compile": {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy"},
        "fit": {"epochs": 1, "batch_size": 2},
        "dataset": dataset,
    }
    path = folder / "p.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def cli_refuses(folder: Path, dataset: dict, capsys, *fragments: str) -> None:
    code = cli_main(["train", str(project_file(folder, dataset)), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


# ------------------------------------------------------------------------------------------
# IDX
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_file_with_zero_images(tmp_path, capsys, compressed):
    suffix = ".gz" if compressed else ""
    write_idx(tmp_path / f"e-images-idx3-ubyte{suffix}", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / f"e-labels-idx1-ubyte{suffix}", np.zeros(0, np.uint8))
    spec = {"path": f"e-images-idx3-ubyte{suffix}"}
    error = refused(spec, tmp_path, "holds no images", "(0, 28, 28)")
    assert error.where.endswith(f"e-images-idx3-ubyte{suffix}")
    cli_refuses(tmp_path, spec, capsys, "holds no images")


def test_idx_gzip_header_claiming_huge_dimensions(tmp_path, capsys):
    # 60000 images of 100000 x 100000 pixels: 600 TB claimed by a file of a few dozen bytes.
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, (60000, 100000, 100000)) + b"\0" * 1000))
    write_idx(tmp_path / "bomb-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    spec = {"path": path.name}
    refused(spec, tmp_path, str(path), "would need", "more than can be had here")
    cli_refuses(tmp_path, spec, capsys, "would need")


def test_idx_gzip_bomb_inflating_past_its_header_stops_reading(tmp_path):
    # A 100 KB file inflating to 100 MB, behind a header that claims 3 images of 2 x 2.
    path = tmp_path / "z-images-idx3-ubyte.gz"
    body = idx_header(0x08, (3, 2, 2)) + bytes(100 * MiB)
    path.write_bytes(gzip.compress(body, compresslevel=9))
    assert path.stat().st_size < 200_000
    write_idx(tmp_path / "z-labels-idx1-ubyte", np.array([0, 1, 0], np.uint8))
    tracemalloc.start()
    try:
        refused({"path": path.name}, tmp_path, "need 12 bytes of data", "more than that")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB  # never inflated whole


def test_idx_header_over_the_memory_limit_is_refused_before_reading(tmp_path, limit):
    images = tmp_path / "m-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((2000, 28, 28), np.uint8))  # 1.5 MiB of pixels, 6 MiB float32
    write_idx(tmp_path / "m-labels-idx1-ubyte.gz", np.arange(2000, dtype=np.uint8) % 2)
    limit(2 * MiB)
    refused({"path": images.name}, tmp_path, "would need", "a test's limit")
    limit(64 * MiB)
    assert load_dataset({"path": images.name}, tmp_path).x.shape == (2000, 784)


# ------------------------------------------------------------------------------------------
# Image folders
# ------------------------------------------------------------------------------------------


def test_image_folder_resized_past_the_memory_limit(tmp_path, limit, capsys):
    pytest.importorskip("PIL")
    from PIL import Image

    for name in ("cats", "dogs"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (4, 4), (i * 40, 0, 0)).save(tmp_path / "imgs" / name / f"{i}.png")
    spec = {"path": "imgs/", "image_size": [1024, 1024], "color": "rgb"}
    limit(64 * MiB)  # 6 images x 1024 x 1024 x 3 x 4 bytes = 72 MiB
    error = refused(spec, tmp_path, "6 images of 1024 x 1024 rgb", "would need 72.0 MiB")
    assert error.where.endswith("imgs")
    small = load_dataset({**spec, "image_size": [8, 8]}, tmp_path)
    assert small.x.shape == (6, 8 * 8 * 3)


# ------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------


def test_two_gigabyte_sparse_csv_is_refused_after_its_first_chunk(tmp_path, capsys):
    path = tmp_path / "sparse.csv"
    with open(path, "wb") as f:
        f.truncate(2 * 10**9)  # a hole: no disk blocks, reads as zero bytes
    tracemalloc.start()
    try:
        refused({"path": path.name}, tmp_path, str(path), "binary data", "line 1")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB  # was 4.2 GB: the bytes and their decoded text, whole
    cli_refuses(tmp_path, {"path": path.name}, capsys, "binary data")


def test_binary_data_after_the_first_chunk_names_its_line(tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(300_000))  # about 2.3 MB
    path = tmp_path / "late.csv"
    path.write_bytes(b"a,t\n" + rows.encode() + b"7,\x00\n")
    refused({"path": path.name}, tmp_path, "character 0x00 on line 300002")


def test_non_utf8_byte_far_into_a_file_is_found_in_chunks(tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(300_000))
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,t\n" + rows.encode() + "9,caf\xe9\n".encode("latin-1"))
    ds = load_dataset({"path": path.name, "task": "classification"}, tmp_path)
    assert "line 300002 holds byte 0xe9" in ds.notes[0] and ds.detected["encoding"] == "cp1252"
    refused({"path": path.name, "encoding": "utf-8"}, tmp_path, "line 300002 holds byte 0xe9")


def test_table_too_large_for_the_memory_limit_is_refused_before_parsing(tmp_path, limit):
    path = tmp_path / "big.csv"
    path.write_text("a,b,t\n" + "1.5,2.5,0\n3.5,4.5,1\n" * 20_000, encoding="utf-8")
    limit(4 * MiB)  # 120,000 cells need about 9 MiB as Python strings
    refused({"path": path.name}, tmp_path, "the table (about", "cells", "would need")
    limit(256 * MiB)
    assert load_dataset({"path": path.name}, tmp_path).x.shape == (40_000, 2)


# ------------------------------------------------------------------------------------------
# NumPy files
# ------------------------------------------------------------------------------------------


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_npy_header_claiming_a_trillion_values(tmp_path, capsys):
    (tmp_path / "x.npy").write_bytes(npy_header((10**12,)))
    np.save(tmp_path / "y.npy", np.zeros(3))
    refused({"path": "x.npy"}, tmp_path, "declares shape (1000000000000,)", "truncated")
    cli_refuses(tmp_path, {"path": "x.npy"}, capsys, "truncated")


def test_npz_zip_bomb_member_is_refused_by_its_declared_size(tmp_path, limit):
    # A compressed member that truly inflates to 8 MiB (a few KB on disk).
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((MiB, 1)), y=np.arange(MiB) % 2)
    assert path.stat().st_size < 100_000
    limit(4 * MiB)
    refused({"path": path.name}, tmp_path, "key 'x'", "would need 8.0 MiB", "a test's limit")


def test_npz_member_header_lying_about_its_shape(tmp_path):
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", npy_header((10**12, 4)))
        archive.writestr("y.npy", npy_header((3,), "<i8") + bytes(24))
    refused({"path": path.name}, tmp_path, "key 'x' is truncated or corrupt")


def test_memory_error_while_loading_becomes_a_data_error(tmp_path, monkeypatch, capsys):
    import engine.data

    def explode(*args, **kwargs):
        raise MemoryError

    (tmp_path / "d.csv").write_text("a,t\n1,0\n2,1\n", encoding="utf-8")
    monkeypatch.setattr(engine.data, "load_table", explode)
    refused({"path": "d.csv"}, tmp_path, str(tmp_path / "d.csv"), "ran out of memory")
    cli_refuses(tmp_path, {"path": "d.csv"}, capsys, "ran out of memory", "d.csv")


# ------------------------------------------------------------------------------------------
# Not regular files
# ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize(
    "name", ["data.csv", "data.npz", "x.npy", "f-images-idx3-ubyte", "mystery"]
)
def test_a_fifo_as_the_data_file_is_refused_unopened(tmp_path, capsys, name):
    os.mkfifo(tmp_path / name)  # opening it for reading would block until a writer comes
    refused({"path": name}, tmp_path, "named pipe (FIFO)", "not a regular file")
    cli_refuses(tmp_path, {"path": name}, capsys, "named pipe")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_the_targets_or_labels_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    os.mkfifo(tmp_path / "y.npy")
    refused({"path": "x.npy", "y_path": "y.npy"}, tmp_path, "y.npy", "named pipe")
    write_idx(tmp_path / "g-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    os.mkfifo(tmp_path / "g-labels-idx1-ubyte")
    refused({"path": "g-images-idx3-ubyte"}, tmp_path, "g-labels-idx1-ubyte", "named pipe")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
@pytest.mark.parametrize("fmt", [None, "csv", "npz", "npy", "idx"])
def test_dev_zero_as_the_data_file(tmp_path, fmt):
    spec = {"path": "/dev/zero"} if fmt is None else {"path": "/dev/zero", "format": fmt}
    refused(spec, tmp_path, "/dev/zero", "a device, not a regular file")


def test_messages_say_which_file_not_how_python_failed(tmp_path):
    # The one-line sentence the CLI prints: no exception class names leak into it.
    write_idx(tmp_path / "e-images-idx3-ubyte", np.zeros((0, 2, 2), np.uint8))
    write_idx(tmp_path / "e-labels-idx1-ubyte", np.zeros(0, np.uint8))
    error = refused({"path": "e-images-idx3-ubyte"}, tmp_path)
    assert "ValueError" not in str(error) and "reshape" not in str(error)
