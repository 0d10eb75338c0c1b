"""Hostile and broken project files through the window's real open path (issue 12).

``MainWindow.open_path`` (what File ▸ Open, Open Recent and a drop call) must show the
"Could not open the project" dialog naming the file and the fault, and keep the project it
had: its spec, file, title, unsaved changes and undo history. The files are those of
tests/support/hostile_project_files.py. Autosaves left by a crashed session are as untrusted:
recovery reports a hostile one and keeps the window's project.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox
from support import hostile_project_files as H

from designer.document import spec_text
from designer.main_window import MainWindow
from designer.recovery import META_ENTRY, RecoveryStore
from designer.training.controller import TrainingController
from engine import edits

ROOT = Path(__file__).resolve().parents[2]
XOR = ROOT / "resources" / "examples" / "xor.json"

pytestmark = pytest.mark.usefixtures("isolated")


CASES = [
    pytest.param(
        c,
        id=c.id,
        marks=[pytest.mark.skipif(os.name != "posix", reason="POSIX files")] * c.posix_only,
    )
    for c in H.CASES
]


def record_critical(monkeypatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox,
        "critical",
        staticmethod(lambda parent, title, text, *a: shown.append((title, text))),
    )
    return shown


def edited_window(make_window):
    """A window on XOR with one unsaved edit: what an open must not lose."""
    window = make_window(XOR)
    window.document.edit("Units", lambda d: edits.set_param(d, "hidden", "units", 7))
    return window


def state(window: MainWindow):
    doc = window.document
    return (
        spec_text(doc.data),
        doc.path,
        window.windowTitle(),
        doc.dirty,
        doc.undo_stack.count(),
        doc.project.weights,
        doc.project.history,
    )


@pytest.mark.parametrize("case", CASES)
def test_open_shows_the_fault_and_keeps_the_project(case, make_window, tmp_path, monkeypatch):
    window = edited_window(make_window)
    before = state(window)
    path = case.make(tmp_path)
    shown = record_critical(monkeypatch)

    assert window.open_path(path) is False

    assert len(shown) == 1, shown
    title, text = shown[0]
    assert title == "Open project" and text.startswith("Could not open the project.")
    assert str(path) in text
    for word in case.words:
        assert word in text, (word, text)
    assert state(window) == before
    assert str(Path(path).resolve()) not in window.recent_files()


def test_open_example_and_recent_go_the_same_way(make_window, tmp_path, monkeypatch):
    window = edited_window(make_window)
    before = state(window)
    shown = record_critical(monkeypatch)
    assert not window.open_example(H.history_list(tmp_path))
    assert not window.open_recent(str(H.bomb_project_forged(tmp_path)))
    assert [t for t, _ in shown] == ["Open project"] * 2
    assert "a list" in shown[0][1] and "10.0 GiB" in shown[1][1]
    assert state(window) == before


def test_weights_for_no_layer_open_with_a_note(make_window, tmp_path, monkeypatch):
    data = json.loads(XOR.read_text(encoding="utf-8"))
    weights = {
        "hidden/kernel": np.ones((2, 4), "float32"),
        "hidden/bias": np.zeros(4, "float32"),
        "output/kernel": np.ones((4, 1), "float32"),
        "output/bias": np.zeros(1, "float32"),
        "ghost/kernel": np.ones((3, 3), "float32"),
    }
    path = H.nnd(tmp_path, "ghost.nnd", project=json.dumps(data).encode(), weights=H.npz(weights))
    window = make_window(XOR)
    assert window.open_path(path)
    note = window.statusBar().currentMessage()
    assert "ghost/kernel" in note and "no layer" in note
    assert "ghost/kernel" in window.document.project.weights  # kept: saving keeps them
    assert window.document.weight_warnings() == window.document.project.load_warnings

    # A layer whose weights no longer fit is named too (a shape the file cannot use), and the
    # training panel asks whether to keep the weights of the others, as after an edit.
    asked = []
    monkeypatch.setattr(
        TrainingController, "ask_keep_weights", lambda self, changed: asked.append(changed) or True
    )
    weights.pop("ghost/kernel")
    weights["output/kernel"] = np.ones((4, 2), "float32")
    path = H.nnd(tmp_path, "misfit.nnd", project=json.dumps(data).encode(), weights=H.npz(weights))
    assert window.open_path(path)
    note = window.statusBar().currentMessage()
    assert "'output'" in note and "do not fit" in note
    assert asked == [["output"]]


# ------------------------------------------------------------------------------ recovery
def hostile_autosave(folder: Path, name: str, project: bytes | None = None, meta=None) -> Path:
    """An autosave as a crashed session leaves it (no live lock), with hostile parts."""
    folder.mkdir(parents=True, exist_ok=True)
    meta_entry = meta
    if meta_entry is None:
        meta_entry = H.deflate_entry(
            META_ENTRY,
            json.dumps({"original_path": None, "project_name": "Crashed",
                        "saved_at": "2026-01-02T03:04:05+00:00"}).encode(),
        )  # fmt: skip
    entries = [
        H.deflate_entry("project.json", H.seed_json() if project is None else project),
        meta_entry,
    ]
    path = folder / f"autosave-{name}.nnd"
    path.write_bytes(H.raw_zip(entries))
    return path


def test_a_hostile_autosave_is_reported_and_the_project_kept(make_window, tmp_path, monkeypatch):
    folder = tmp_path / "recovery"
    deep = H.seed_json().decode().replace('"backend"', f'"d": {H.deep(5000)}, "backend"', 1)
    bad = hostile_autosave(folder, "deep", project=deep.encode())
    window = make_window(XOR, recovery_dir=folder)
    window.document.edit("Units", lambda d: edits.set_param(d, "hidden", "units", 7))
    before = state(window)
    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, entry: "recover")
    shown = record_critical(monkeypatch)

    assert not window.offer_recovery()

    assert [t for t, _ in shown] == ["Recover"]
    assert "The autosave cannot be read" in shown[0][1] and "nested" in shown[0][1]
    assert str(bad) in shown[0][1]
    assert state(window) == before


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(lambda: H.deflate_entry(META_ENTRY, b"{}", file_size=10 * H.GiB), id="bomb"),
        pytest.param(lambda: H.deflate_entry(META_ENTRY, H.deep(4000).encode()), id="deep"),
        pytest.param(
            lambda: H.deflate_entry(META_ENTRY, b'{"project_name": "\\ud800"}'), id="surrogate"
        ),  # fmt: skip
        pytest.param(lambda: H.deflate_entry(META_ENTRY, b'{"original_path": [1]}'), id="type"),
        pytest.param(lambda: H.deflate_entry(META_ENTRY, b"{}", flags=1), id="encrypted"),
    ],
)
def test_a_hostile_recovery_note_is_an_unreadable_entry(tmp_path, qtbot, meta):
    folder = tmp_path / "recovery"
    path = hostile_autosave(folder, "x", meta=meta())
    store = RecoveryStore(folder)
    try:
        (entry,) = store.orphans()
    finally:
        store.close()
    assert entry.path == path and entry.error
    assert "cannot be read" in entry.describe()
    entry.describe().encode("utf-8")


def test_stale_autosave_temp_files_are_tidied_at_start(tmp_path, qtbot):
    import subprocess

    folder = tmp_path / "recovery"
    folder.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    from engine.project import _HOST_TAG

    dead = folder / f".autosave-20260101-000000-abcd.nnd.{child.pid}-{_HOST_TAG}.q1w2e3r4.tmp"
    live = folder / f".autosave-20260101-000000-efgh.nnd.{os.getpid()}-{_HOST_TAG}.q1w2e3r4.tmp"
    for p in (dead, live):
        p.write_bytes(b"half an autosave")
    store = RecoveryStore(folder)
    try:
        assert store.orphans() == []
    finally:
        store.close()
    assert not dead.exists() and live.exists()


@pytest.mark.parametrize("size", [(0, 0), (100_000, 100_000), (1600, -1), (199, 800)])
def test_a_screenshot_of_an_impossible_size_is_refused_before_qt_sees_it(size, tmp_path):
    """Qt aborts on a 0x0 window and cannot allocate a 100000x100000 image: the app's own
    screenshot function refuses them, not only the CLI."""
    from designer.app import screenshot
    from engine.errors import NNDError

    with pytest.raises(NNDError, match="from 200 to 8192 pixels"):
        screenshot(None, tmp_path / "shot.png", size)
    assert not (tmp_path / "shot.png").exists()
