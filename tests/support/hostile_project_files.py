"""Hostile and broken project files, made on the fly and tiny on disk (issue 12).

Not a test module: tests/engine/test_project_hostile.py (through ``load_project`` and the CLI)
and tests/designer/test_open_hostile.py (through the window's open path) share these makers.
Each maker writes one file into a folder and returns its path; :data:`CASES` pairs a maker with
the words the refusal must contain.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.project import project_bytes, seed_project

GiB = 2**30


# ------------------------------------------------------------------------------ raw zips
@dataclass
class RawEntry:
    """One zip entry written byte by byte, so that its header may lie.

    ``payload`` is what is stored (already compressed for ``method`` 8); ``file_size`` and
    ``crc`` are the declared inflated size and CRC (by default the truth about ``plain``).
    """

    name: str
    payload: bytes
    method: int = zipfile.ZIP_STORED
    plain: bytes | None = None
    file_size: int | None = None
    crc: int | None = None
    flags: int = 0


def deflated(data: bytes) -> bytes:
    """Raw deflate (no zlib header), as zip entries hold it."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflate_entry(name: str, plain: bytes, **kw) -> RawEntry:
    return RawEntry(name, deflated(plain), zipfile.ZIP_DEFLATED, plain, **kw)


def raw_zip(entries: list[RawEntry]) -> bytes:
    """A zip (zip64 sizes where a declared size needs them) with the headers as given."""
    out = io.BytesIO()
    central = []
    for e in entries:
        plain = e.plain if e.plain is not None else e.payload
        size = len(plain) if e.file_size is None else e.file_size
        crc = zlib.crc32(plain) if e.crc is None else e.crc
        name = e.name.encode("utf-8")
        offset = out.tell()
        big = size >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(e.payload)) if big else b""
        s32, c32 = (0xFFFFFFFF, 0xFFFFFFFF) if big else (size, len(e.payload))
        version = 45 if big else 20
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                version,
                e.flags,
                e.method,
                0,
                0x21,
                crc,
                c32,
                s32,
                len(name),
                len(extra),
            )
            + name
            + extra
            + e.payload
        )
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", version, version, e.flags, e.method,
                0, 0x21, crc, c32, s32, len(name), len(extra), 0, 0, 0, 0, offset,
            )
            + name
            + extra
        )  # fmt: skip
    start = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                          len(cd), start, 0))  # fmt: skip
    return out.getvalue()


# ------------------------------------------------------------------------------ pieces
def seed_json() -> bytes:
    return project_bytes(seed_project(), ".json")


def seed_data() -> dict:
    return json.loads(seed_json())


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npz(arrays: dict[str, np.ndarray]) -> bytes:
    return raw_zip([deflate_entry(f"{k}.npy", npy(a)) for k, a in arrays.items()])


def seed_weights(kernel_value: float | None = None, dtype: str = "float32") -> dict:
    """Weights of the right shapes for the seed MLP (784-128-10)."""
    w = {
        "hidden/kernel": np.zeros((784, 128), dtype),
        "hidden/bias": np.zeros(128, dtype),
        "dense/kernel": np.zeros((128, 10), dtype),
        "dense/bias": np.zeros(10, dtype),
    }
    if kernel_value is not None:
        w["dense/kernel"][0, 0] = kernel_value
    return w


def nnd(
    folder: Path,
    name: str,
    project: bytes | RawEntry | None = None,
    weights: bytes | RawEntry | None = None,
    history: bytes | RawEntry | None = None,
) -> Path:
    """An .nnd with the given entries (bytes are deflated honestly; a RawEntry as it is)."""
    entries = []
    for entry_name, value in (
        ("project.json", seed_json() if project is None else project),
        ("weights.npz", weights),
        ("history.json", history),
    ):
        if value is None:
            continue
        entries.append(value if isinstance(value, RawEntry) else deflate_entry(entry_name, value))
    path = folder / name
    path.write_bytes(raw_zip(entries))
    return path


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def with_field(path_keys: list, value) -> bytes:
    """The seed project's JSON with one field (given by its keys) set to ``value``."""
    data = seed_data()
    node = data
    for k in path_keys[:-1]:
        node = node[k]
    node[path_keys[-1]] = value
    return json.dumps(data).encode("utf-8")


def deep(n: int, inner: str = "1") -> str:
    return "[" * n + inner + "]" * n


# ------------------------------------------------------------------------------ the makers
def deep_json(folder: Path) -> Path:
    text = seed_json().decode().replace('"backend"', f'"deep": {deep(5000)}, "backend"', 1)
    return write(folder, "deep.json", text.encode())


def medium_deep_json(folder: Path) -> Path:
    # Parses (under the interpreter's recursion limit) but copy.deepcopy would not.
    text = seed_json().decode().replace('"backend"', f'"deep": {deep(600)}, "backend"', 1)
    return write(folder, "medium_deep.json", text.encode())


def deep_project_json(folder: Path) -> Path:
    body = seed_json().decode().replace('"backend"', f'"d": {{"x": {deep(3000)}}}, "backend"', 1)
    return nnd(folder, "deep_project.nnd", project=body.encode())


def deep_history_json(folder: Path) -> Path:
    return nnd(folder, "deep_history.nnd", history=('{"loss": ' + deep(3000) + "}").encode())


def npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    """An .npy header alone (no data) claiming ``shape``."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def npy_claims_1e12(folder: Path) -> Path:
    # 10**12 float64 values claimed (7.3 TiB) by an entry holding the header alone.
    weights = raw_zip([deflate_entry("dense/kernel.npy", npy_header((10**12,)))])
    return nnd(folder, "npy_1e12.nnd", weights=weights)


def npy_claims_1e12_forged_size(folder: Path) -> Path:
    # The entry's declared size agrees with the header's claim (8 TB): refused by the size cap
    # and the compression ratio before its header is even looked at.
    header = npy_header((10**12,))
    entry = deflate_entry("dense/kernel.npy", header, file_size=len(header) + 8 * 10**12)
    return nnd(folder, "npy_1e12_forged.nnd", weights=raw_zip([entry]))


def bomb_weights_forged(folder: Path) -> Path:
    # weights.npz says it inflates to 10 GiB (its deflate stream is a few bytes).
    entry = deflate_entry("weights.npz", npz(seed_weights()), file_size=10 * GiB)
    return nnd(folder, "bomb_weights.nnd", weights=entry)


def bomb_project_forged(folder: Path) -> Path:
    entry = deflate_entry("project.json", seed_json(), file_size=10 * GiB)
    return nnd(folder, "bomb_project.nnd", project=entry)


def bomb_project_real(folder: Path) -> Path:
    # A real deflate bomb (honest sizes): 24 MiB of spaces in project.json, 24 KiB on disk.
    text = seed_json()[:-2] + b" " * (24 * 2**20) + b"}\n"
    return nnd(folder, "real_bomb_project.nnd", project=text)


def bomb_npy_real(folder: Path) -> Path:
    # A real bomb inside weights.npz: a 32 MiB array of zeros, 32 KiB on disk.
    weights = npz({"hidden/kernel": np.zeros(4 * 2**20, "float64")})
    return nnd(folder, "real_bomb_npy.nnd", weights=weights)


def declared_smaller_than_stream(folder: Path) -> Path:
    # The header says 100 bytes, the deflate stream holds 8 MiB: reading stops at 100.
    entry = deflate_entry("history.json", b" " * (8 * 2**20), file_size=100)
    return nnd(folder, "lying_small.nnd", history=entry)


def encrypted_entry(folder: Path) -> Path:
    entry = deflate_entry("project.json", seed_json(), flags=0x1)
    return nnd(folder, "encrypted.nnd", project=entry)


def encrypted_weights_member(folder: Path) -> Path:
    inner = raw_zip([deflate_entry("dense/kernel.npy", npy(np.zeros(3, "f4")), flags=0x1)])
    return nnd(folder, "encrypted_member.nnd", weights=inner)


def deflate64_entry(folder: Path) -> Path:
    entry = RawEntry("project.json", deflated(seed_json()), 9, seed_json())
    return nnd(folder, "deflate64.nnd", project=entry)


def deflate64_weights_member(folder: Path) -> Path:
    data = npy(np.zeros(3, "f4"))
    inner = raw_zip([RawEntry("dense/kernel.npy", deflated(data), 9, data)])
    return nnd(folder, "deflate64_member.nnd", weights=inner)


def float32_overflow(folder: Path) -> Path:
    return nnd(folder, "overflow.nnd", weights=npz(seed_weights(1e300, "float64")))


def history_list(folder: Path) -> Path:
    return nnd(folder, "history_list.nnd", history=b"[1, 2, 3]")


def history_text(folder: Path) -> Path:
    return nnd(folder, "history_text.nnd", history=b'{"loss": "low"}')


def history_text_value(folder: Path) -> Path:
    return nnd(folder, "history_text_value.nnd", history=b'{"loss": [0.5, "x"]}')


def history_nan(folder: Path) -> Path:
    return nnd(folder, "history_nan.nnd", history=b'{"loss": [0.5, NaN]}')


SURROGATE = "\ud800"


def surrogate(keys: list, name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        # json.dumps escapes the lone surrogate as \ud800: valid JSON, ASCII on disk.
        return write(folder, name, with_field(keys, f"x{SURROGATE}y"))

    make.__name__ = name
    return make


def surrogate_in_nnd(folder: Path) -> Path:
    return nnd(folder, "surrogate.nnd", project=with_field(["name"], SURROGATE))


def surrogate_in_key(folder: Path) -> Path:
    return nnd(folder, "surrogate_key.nnd", history=json.dumps({SURROGATE: [1.0]}).encode())


def dataset_field(key: str, value) -> bytes:
    data = seed_data()
    data["dataset"] = {"path": "data.csv", "target": "label", "encoding": "utf-8", key: value}
    return json.dumps(data).encode()


def surrogate_dataset(key: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return write(folder, f"surrogate_{key}.json", dataset_field(key, f"a{SURROGATE}"))

    make.__name__ = f"surrogate_{key}"
    return make


def version_5000_digits(folder: Path) -> Path:
    text = seed_json().decode().replace('"format_version": 1', '"format_version": ' + "9" * 5000)
    return write(folder, "version_digits.json", text.encode())


def version_5000_digit_text(folder: Path) -> Path:
    return write(folder, "version_text.json", with_field(["format_version"], "7" * 5000))


def version_superscript(folder: Path) -> Path:
    return write(folder, "version_sup.json", with_field(["format_version"], "²"))


def huge_int_field(folder: Path) -> Path:
    return write(folder, "huge_int.json", with_field(["fit", "epochs"], 10**30))


def nan_field(folder: Path) -> Path:
    text = seed_json().decode().replace('"epochs": 5', '"epochs": NaN')
    return write(folder, "nan.json", text.encode())


def inf_field(folder: Path) -> Path:
    text = seed_json().decode().replace('"epochs": 5', '"epochs": 1e400')
    return write(folder, "inf.json", text.encode())


def fifo(folder: Path) -> Path:
    path = folder / "fifo.json"
    os.mkfifo(path)
    return path


def dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


def oversized_json(folder: Path) -> Path:
    path = folder / "huge.json"
    with open(path, "wb") as fh:  # sparse: 65 MiB long, nothing on disk
        fh.write(b"{")
        fh.truncate(65 * 2**20)
    return path


def oversized_nnd(folder: Path) -> Path:
    path = folder / "huge.nnd"
    with open(path, "wb") as fh:  # sparse: 5 GiB long, nothing on disk
        fh.write(b"PK\x03\x04")
        fh.truncate(5 * GiB)
    return path


def many_entries(folder: Path) -> Path:
    # The end record claims 65,535 entries (the directory holds one).
    data = bytearray(raw_zip([deflate_entry("project.json", seed_json())]))
    eocd = data.rindex(b"PK\x05\x06")
    data[eocd + 8 : eocd + 12] = struct.pack("<HH", 0xFFFF, 0xFFFF)
    return write(folder, "many.nnd", bytes(data))


def not_npy_member(folder: Path) -> Path:
    inner = raw_zip([deflate_entry("dense/kernel.txt", b"1 2 3")])
    return nnd(folder, "not_npy.nnd", weights=inner)


def object_npy(folder: Path) -> Path:
    data = npy(np.zeros(3, "f8")).replace(b"'<f8'", b"'|O' ")
    return nnd(folder, "object.nnd", weights=raw_zip([deflate_entry("dense/kernel.npy", data)]))


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Path]
    words: tuple[str, ...]  # all must appear in the message (besides the file's name)
    posix_only: bool = False

    @property
    def id(self) -> str:
        return self.make.__name__


CASES = [
    Case(deep_json, ("nested", "deep")),
    Case(medium_deep_json, ("nested more than 100 levels",)),
    Case(deep_project_json, ("project.json", "nested")),
    Case(deep_history_json, ("history.json", "nested")),
    Case(npy_claims_1e12, ("dense/kernel", "header claims", "1,000,000,000,000 values")),
    Case(npy_claims_1e12_forged_size, ("dense/kernel", "would inflate")),
    Case(bomb_weights_forged, ("weights.npz", "would inflate to 10.0 GiB")),
    Case(bomb_project_forged, ("project.json", "would inflate to 10.0 GiB")),
    Case(bomb_project_real, ("project.json", "zip bomb")),
    Case(bomb_npy_real, ("hidden/kernel", "zip bomb")),
    Case(declared_smaller_than_stream, ("damaged",)),
    Case(encrypted_entry, ("project.json", "encrypted")),
    Case(encrypted_weights_member, ("dense/kernel", "encrypted")),
    Case(deflate64_entry, ("project.json", "deflate64")),
    Case(deflate64_weights_member, ("dense/kernel", "deflate64")),
    Case(float32_overflow, ("dense/kernel", "1e+300", "float32")),
    Case(history_list, ("history.json", "must be an object", "a list")),
    Case(history_text, ("history.json", "'loss'", "list of numbers")),
    Case(history_text_value, ("history.json", "'loss'[1]", "must be a number")),
    Case(history_nan, ("history.json", "loss[1]", "NaN")),
    Case(
        surrogate(["model", "layers", 0, "config", "name"], "surrogate_layer.json"),
        ("model.layers[0].config.name", "surrogate"),
    ),  # fmt: skip
    Case(surrogate(["name"], "surrogate_name.json"), ("name:", "surrogate")),
    Case(
        surrogate(["compile", "optimizer", "class_name"], "surrogate_optimizer.json"),
        ("compile.optimizer.class_name", "surrogate"),
    ),  # fmt: skip
    Case(surrogate_dataset("path"), ("dataset.path", "surrogate")),
    Case(surrogate_dataset("encoding"), ("dataset.encoding", "surrogate")),
    Case(surrogate_dataset("target"), ("dataset.target", "surrogate")),
    Case(surrogate_in_nnd, ("project.json", "name", "surrogate")),
    Case(surrogate_in_key, ("history.json", "surrogate")),
    Case(version_5000_digits, ("format_version", "5000 digits")),
    Case(version_5000_digit_text, ("format_version", "must be a number")),
    Case(version_superscript, ("format_version", "must be a number")),
    Case(huge_int_field, ("fit.epochs", "too large")),
    Case(nan_field, ("fit.epochs", "NaN")),
    Case(inf_field, ("fit.epochs", "inf")),
    Case(fifo, ("named pipe",), posix_only=True),
    Case(dev_zero, ("device",), posix_only=True),
    Case(oversized_json, ("larger than any project",)),
    Case(oversized_nnd, ("larger than any project",)),
    Case(many_entries, ("entries",)),
    Case(not_npy_member, ("dense/kernel.txt", "not an array")),
    Case(object_npy, ("dense/kernel", "not a float array")),
]
