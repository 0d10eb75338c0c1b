"""Hostile data files through the window: File ▸ Open Data File… and a drop on the window.

Each file (made tiny on disk by the helpers of tests/engine/test_data_hostile.py) must give an
inline error in the Dataset panel naming the file, while the project keeps its data (the spec
and the loaded xor set). Memory limits are simulated by patching engine.memory.memory_limit;
those cases load in the window's loading thread (not the child process large files and folders
use), where the patch applies.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from support import test_module

import designer.dataset.load_thread
import engine.data
import engine.memory
from designer.document import spec_text
from engine.data.idx import write_idx
from engine.memory import MemoryLimit

pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parents[2]
XOR = ROOT / "resources" / "examples" / "xor.json"
MiB = 1 << 20
TIMEOUT = 30_000


H = test_module("engine/test_data_hostile.py")


@dataclass
class Case:
    id: str
    fragments: tuple[str, ...]
    thread: bool = False  # load in the loading thread (patched memory limit, MemoryError)


def make_case(case: str, folder: Path, monkeypatch) -> Path:
    """The hostile file (or folder) of ``case`` in ``folder``; patches what the case needs."""
    if case == "idx_no_images":
        write_idx(folder / "e-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
        write_idx(folder / "e-labels-idx1-ubyte", np.zeros(0, np.uint8))
        return folder / "e-images-idx3-ubyte"
    if case == "idx_huge_header":
        path = folder / "bomb-images-idx3-ubyte.gz"
        path.write_bytes(gzip.compress(H.idx_header(0x08, (60000, 100000, 100000)) + bytes(1000)))
        write_idx(folder / "bomb-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
        return path
    if case == "gzip_bomb":
        path = folder / "z-images-idx3-ubyte.gz"
        body = H.idx_header(0x08, (3, 2, 2)) + bytes(32 * MiB)
        path.write_bytes(gzip.compress(body, compresslevel=9))
        write_idx(folder / "z-labels-idx1-ubyte", np.array([0, 1, 0], np.uint8))
        return path
    if case == "fifo":
        os.mkfifo(folder / "data.csv")  # opening it would block until a writer came
        return folder / "data.csv"
    if case == "dev_zero":
        return Path("/dev/zero")
    if case == "npy_huge_shape":
        (folder / "x.npy").write_bytes(H.npy_header((10**12,)))
        np.save(folder / "y.npy", np.zeros(3))
        return folder / "x.npy"
    if case == "image_folder_too_large":
        from PIL import Image

        root = folder / "imgs"
        for name in ("cats", "dogs"):
            (root / name).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (100, 100), (i * 40, 0, 0)).save(root / name / f"{i}.png")
        # 6 images of 100 x 100 rgb as float32: 720 KB, over this limit.
        limit = MemoryLimit(512 * 1024, "a test's limit")
        monkeypatch.setattr(engine.memory, "memory_limit", lambda: limit)
        return root
    if case == "csv_binary":
        path = folder / "table.csv"
        path.write_bytes(b"a,t\n" + bytes(range(256)) * 8 + b"\n1,0\n")
        return path
    if case == "memory_error":

        def explode(*args, **kwargs):
            raise MemoryError

        path = folder / "d.csv"
        path.write_text("a,t\n1,0\n2,1\n", encoding="utf-8")
        monkeypatch.setattr(engine.data, "load_table", explode)
        return path
    raise AssertionError(case)


CASES = [
    Case("idx_no_images", ("holds no images",)),
    Case("idx_huge_header", ("would need", "more than can be had here")),
    Case("gzip_bomb", ("need 12 bytes of data",)),
    Case("fifo", ("named pipe (FIFO)", "not a regular file")),
    Case("dev_zero", ("a device, not a regular file",)),
    Case("npy_huge_shape", ("declares shape (1000000000000,)", "truncated")),
    Case("image_folder_too_large", ("6 images of 100 x 100 rgb", "would need"), thread=True),
    Case("csv_binary", ("binary data",)),
    Case("memory_error", ("ran out of memory",), thread=True),
]


@pytest.fixture
def xor_window(qtbot, make_window):
    window = make_window(XOR)
    window.dataset.show_dock()
    panel = window.dataset.panel
    qtbot.waitUntil(lambda: panel.data_ready, timeout=TIMEOUT)
    return window


@pytest.mark.parametrize("how", ["open", "drop"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_data_file_is_named_and_the_project_keeps_its_data(
    case, how, qtbot, xor_window, tmp_path, monkeypatch, drag_drop
):
    if case.id == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    if case.id == "dev_zero" and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    if case.id == "image_folder_too_large":
        pytest.importorskip("PIL")
    window = xor_window
    panel = window.dataset.panel
    doc = window.document
    before, undo, data = spec_text(doc.data), doc.undo_stack.count(), panel.dataset
    if case.thread:
        monkeypatch.setattr(designer.dataset.load_thread, "wants_subprocess", lambda request: False)
    path = make_case(case.id, tmp_path, monkeypatch)

    if how == "open":
        monkeypatch.setattr(panel, "ask_data_file", lambda: str(path))
        window.dataset.action.trigger()
    else:
        accepted, _mime = drag_drop(window, path)
        assert accepted, f"the window ignored a dropped {path.name}"
    qtbot.waitUntil(lambda: panel.pending_result is not None, timeout=TIMEOUT)

    message = panel.error_label.text()
    assert panel.error_box.isVisible()
    assert str(path) in message or path.name in message, message
    for fragment in case.fragments:
        assert fragment in message, message
    assert "Traceback" not in message and "MemoryError" not in message
    assert panel.error_keep.text().startswith("Not used: the project keeps xor")
    # The project keeps its data: the spec, the undo history and the loaded arrays.
    assert spec_text(doc.data) == before and doc.undo_stack.count() == undo
    assert panel.dataset is data and panel.data_ready
    # "Keep the current data" forgets the file.
    panel.discard_button.click()
    assert panel.pending is None and not panel.error_box.isVisible()
    assert spec_text(doc.data) == before


def test_a_memory_error_outside_the_engine_loader_is_a_message_too(
    qtbot, xor_window, tmp_path, monkeypatch
):
    # MemoryError raised past load_dataset's own handling (the loading thread's last resort).
    import designer.dataset.load_job as loading

    def explode(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(loading, "load_dataset", explode)
    path = tmp_path / "fine.csv"
    path.write_text("a,t\n1,0\n2,1\n", encoding="utf-8")
    panel = xor_window.dataset.panel
    before = spec_text(xor_window.document.data)
    xor_window.dataset.open_data_file(path)
    qtbot.waitUntil(lambda: panel.pending_result is not None, timeout=TIMEOUT)
    assert panel.error_label.text() == f"{path}: the data do not fit in memory"
    assert spec_text(xor_window.document.data) == before


def test_a_huge_image_size_for_a_folder_is_refused_before_decoding(
    qtbot, xor_window, tmp_path, monkeypatch
):
    pytest.importorskip("PIL")
    root = make_case("image_folder_too_large", tmp_path, monkeypatch)
    limit = MemoryLimit(64 * MiB, "a test's limit")
    monkeypatch.setattr(engine.memory, "memory_limit", lambda: limit)
    monkeypatch.setattr(designer.dataset.load_thread, "wants_subprocess", lambda request: False)
    panel = xor_window.dataset.panel
    before = spec_text(xor_window.document.data)
    # As a project (or its JSON edited by hand) can ask: 1024 x 1024 rgb, 12 MiB an image.
    spec = {"path": str(root), "image_size": [1024, 1024], "color": "rgb"}
    panel.propose(spec, "Use the images")
    qtbot.waitUntil(lambda: panel.pending_result is not None, timeout=TIMEOUT)
    message = panel.error_label.text()
    assert message.startswith(f"{root}: 6 images of 1024 x 1024 rgb"), message
    assert "would need 72.0 MiB" in message
    assert spec_text(xor_window.document.data) == before
    assert panel.dataset.name.startswith("xor")
