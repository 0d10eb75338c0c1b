"""Files through the window: save/open round trips with the layout, refusing broken files,
unsaved-changes prompts, drops, trained projects saved as .json, saves killed midway, and
autosave with crash recovery.

Settings and autosaves go to the test's own folders; every dialog is replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.document import spec_text
from designer.main_window import MainWindow
from designer.recovery import (
    RecoveryStore,
    read_meta,
    save_project_cleanly,
    temp_files_for,
)
from engine import edits
from engine.project import load_project, save_project, seed_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SEED = EXAMPLES / "seed_mlp.json"
XOR = EXAMPLES / "xor.json"
Button = QMessageBox.StandardButton


pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def recovery_dir(tmp_path) -> Path:
    return tmp_path / "recovery"


def answer(monkeypatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make the Save/Discard/Cancel question answer ``button``; the questions asked."""
    asked: list[str] = []

    def question(parent, title, text, buttons=None, default=None):
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def save_as_returns(monkeypatch, path: Path | str, chosen_filter: str = "") -> None:
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(path), chosen_filter)),
    )


def record_critical(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda parent, title, text, *a: shown.append(text))
    )
    return shown


def set_units(window: MainWindow, units: int) -> None:
    window.document.edit("Units", lambda d: edits.set_param(d, "hidden", "units", units))


def units(window: MainWindow) -> int:
    return edits.find_layer(window.document.data, "hidden")["config"]["units"]


# ------------------------------------------------------------------------------ save & open
def test_save_as_and_open_round_trip_with_the_layout(make_window, tmp_path, monkeypatch):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = make_window(settings=settings)
    set_units(window, 64)
    window.document.edit("Move", lambda d: edits.move_layers(d, {"dense": (900.0, 140.0)}))
    window.actions["auto_layout"].trigger()
    window.document.edit("Move", lambda d: edits.move_layers(d, {"dense": (910.0, -60.0)}))
    target = tmp_path / "mine"  # no suffix: an architecture-only project becomes .json
    save_as_returns(monkeypatch, target)
    assert window.actions["save_as"].isEnabled()
    window.actions["save_as"].trigger()
    saved = tmp_path / "mine.json"
    assert saved.is_file() and not window.document.dirty
    assert window.document.path == saved.resolve()
    assert window.windowTitle() == "Seed MLP (mine.json) — NN Designer"
    assert window.recent_files()[0] == str(saved.resolve())
    expected = json.loads(spec_text(window.document.data))
    shown = window.canvas.network_scene.display_positions()

    other = make_window()
    assert other.open_path(saved)
    assert json.loads(spec_text(other.document.data)) == expected
    assert edits.positions(other.document.data)["dense"] == [910.0, -60.0]
    assert other.canvas.network_scene.display_positions() == shown
    assert not other.document.dirty and other.document.undo_stack.count() == 0

    # Save (Ctrl+S) writes back to the same file; the old temp leftovers are cleaned.
    stale = saved.with_name(f".{saved.name}.abc123.tmp")
    stale.write_bytes(b"interrupted")
    set_units(other, 32)
    assert other.save()
    assert load_project(saved).data["model"]["layers"][0]["config"]["units"] == 32
    assert temp_files_for(saved) == []


def test_opening_a_broken_or_future_file_changes_nothing(make_window, tmp_path, monkeypatch):
    window = make_window(SEED)
    set_units(window, 64)
    before = (spec_text(window.document.data), window.document.path, window.windowTitle())
    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "name": ', encoding="utf-8")
    future = tmp_path / "future.json"
    data = json.loads(SEED.read_text(encoding="utf-8"))
    data["format_version"] = 99
    future.write_text(json.dumps(data), encoding="utf-8")
    shown = record_critical(monkeypatch)

    assert not window.open_path(broken)
    assert not window.open_path(future)
    assert not window.open_path(tmp_path / "missing.nnd")
    assert len(shown) == 3
    assert "not valid JSON" in shown[0] and "broken.json" in shown[0]
    assert "99" in shown[1] and "future.json" in shown[1]
    assert "no such file" in shown[2]
    assert (spec_text(window.document.data), window.document.path, window.windowTitle()) == before
    assert window.document.dirty and window.document.undo_stack.count() == 1


def test_open_asks_about_unsaved_changes_first(make_window, monkeypatch):
    window = make_window()
    set_units(window, 64)
    asked = answer(monkeypatch, Button.Cancel)
    assert not window.open_path(XOR)
    assert len(asked) == 1 and units(window) == 64
    answer(monkeypatch, Button.Discard)
    assert window.open_path(XOR)
    assert window.document.project.name == "XOR MLP" and not window.document.dirty


@pytest.mark.parametrize("choice", ["save", "discard", "cancel"])
def test_closing_with_unsaved_changes(make_window, tmp_path, monkeypatch, choice):
    path = tmp_path / "p.json"
    save_project(seed_project(), path)
    original = path.read_bytes()
    window = make_window(path)
    set_units(window, 7)
    button = {"save": Button.Save, "discard": Button.Discard, "cancel": Button.Cancel}[choice]
    asked = answer(monkeypatch, button)
    closed = window.close()
    assert len(asked) == 1 and "“Seed MLP” has unsaved changes" in asked[0]
    if choice == "cancel":
        assert not closed and window.isVisible()
        assert path.read_bytes() == original and window.document.dirty
    else:
        assert closed and not window.isVisible()
        saved_units = load_project(path).data["model"]["layers"][0]["config"]["units"]
        assert saved_units == (7 if choice == "save" else 128)


def test_closing_an_untitled_project_with_save_asks_where(make_window, tmp_path, monkeypatch):
    window = make_window()
    set_units(window, 9)
    answer(monkeypatch, Button.Save)
    # Cancelling the file dialog cancels the close.
    save_as_returns(monkeypatch, "")
    assert not window.close() and window.isVisible()
    save_as_returns(monkeypatch, tmp_path / "untitled.json")
    assert window.close()
    assert load_project(tmp_path / "untitled.json").data["model"]["layers"][0]["config"] == {
        "name": "hidden",
        "units": 9,
        "activation": "relu",
    }


def test_dropping_a_project_file_onto_the_window_opens_it(make_window, qtbot, tmp_path, drag_drop):
    window = make_window()
    accepted, _mime = drag_drop(window, XOR)
    assert accepted
    qtbot.waitUntil(lambda: window.document.project.name == "XOR MLP")
    assert window.document.path == XOR.resolve()

    # Anything else is refused.
    assert not drag_drop(window, tmp_path / "notes.txt")[0]


def trained_seed():
    project = load_project(XOR)
    rng = np.random.default_rng(0)
    project.weights = {
        "hidden/kernel": rng.standard_normal((2, 4)).astype("float32"),
        "hidden/bias": np.zeros(4, "float32"),
        "output/kernel": rng.standard_normal((4, 1)).astype("float32"),
        "output/bias": np.zeros(1, "float32"),
    }
    return project


def test_trained_project_saved_as_json_offers_nnd(make_window, tmp_path, monkeypatch):
    window = make_window(trained_seed())
    choices = iter(["cancel", "nnd", "json"])
    asked: list[Path] = []

    def ask(self, path):
        asked.append(path)
        return next(choices)

    monkeypatch.setattr(MainWindow, "ask_weights_json", ask)
    target = tmp_path / "trained.json"
    save_as_returns(monkeypatch, target)
    assert not window.save_as()
    assert not target.exists() and not target.with_suffix(".nnd").exists()

    assert window.save_as()
    nnd = tmp_path / "trained.nnd"
    assert window.document.path == nnd.resolve()
    assert set(load_project(nnd).weights) == set(window.document.project.weights)

    assert window.save_as()  # "json": saved without weights, as asked
    assert load_project(target).weights is None
    assert asked == [target, target, target]


def test_recent_files_menu(make_window, tmp_path, monkeypatch):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = make_window(settings=settings)
    assert window.open_path(XOR)
    assert window.open_path(SEED)
    assert window.recent_files() == [str(SEED.resolve()), str(XOR.resolve())]
    window.recent_menu.aboutToShow.emit()
    texts = [a.text() for a in window.recent_menu.actions() if a.data()]
    assert texts[0].startswith("&1  seed_mlp.json")
    gone = tmp_path / "gone.json"
    save_project(seed_project(), gone)
    assert window.open_path(gone)
    gone.unlink()
    shown = record_critical(monkeypatch)
    assert not window.open_recent(str(gone.resolve()))
    assert "no longer exists" in shown[0]
    assert str(gone.resolve()) not in window.recent_files()


# ------------------------------------------------------------------------------ kill -9 saves
SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from designer.recovery import remove_stale_temp_files
    from engine.project import atomic_write

    target, a, b, first = sys.argv[1:5]
    # The bytes save_project writes for each version (the same every time), so the loop spends
    # its time writing, where a kill matters, rather than compressing.
    payloads = [Path(a).read_bytes(), Path(b).read_bytes()]
    target = Path(target)
    print("ready", flush=True)
    i = int(first)
    while True:
        # What the designer's save does: clean earlier leftovers, then write atomically.
        remove_stale_temp_files(target)
        atomic_write(target, payloads[i % 2])
        i += 1
    """
)


def big_project(seed: int):
    project = seed_project()
    project.data["model"]["layers"][0]["config"]["units"] = 1600
    rng = np.random.default_rng(seed)
    # Incompressible weights: about 5 MB on disk.
    project.weights = {
        "hidden/kernel": rng.standard_normal((784, 1600)).astype("float32"),
        "hidden/bias": rng.standard_normal(1600).astype("float32"),
    }
    return project


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killing_a_save_never_damages_the_file(tmp_path):
    """A process saving a large .nnd in a loop is SIGKILLed at random moments, 24 times: the
    file on disk is always exactly one of the two versions, and at most the one write
    interrupted last leaves a temp file ``.<name>.<random>.tmp`` (the next save removes it)."""
    a, b = tmp_path / "a.nnd", tmp_path / "b.nnd"
    save_project(big_project(1), a)
    save_project(big_project(2), b)
    assert a.stat().st_size > 4_000_000
    digests = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in (a, b)}
    target = tmp_path / "work" / "project.nnd"
    target.parent.mkdir()
    target.write_bytes(a.read_bytes())
    rng = random.Random(20240601)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    seen = {"a.nnd": 0, "b.nnd": 0}
    leftovers = 0
    for _ in range(24):
        first = str(rng.randint(0, 1))
        child = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(target), str(a), str(b), first],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))  # a random moment, not a wait for something
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        assert digest in digests, "the project file was damaged by a killed save"
        seen[digests[digest]] += 1  # byte for byte a version that loads (checked below)
        temps = temp_files_for(target)
        assert len(temps) <= 1, temps
        leftovers += len(temps)
        others = sorted(p.name for p in target.parent.iterdir() if p not in temps)
        assert others == ["project.nnd"]
    assert seen["a.nnd"] and seen["b.nnd"], seen  # the saves really ran
    print(f"kills left a temp file {leftovers} times of 24; versions seen: {seen}")
    assert load_project(target).weights["hidden/kernel"].shape == (784, 1600)
    save_project_cleanly(load_project(a), target)
    assert temp_files_for(target) == []


# ------------------------------------------------------------------------------ autosave
def test_autosave_writes_a_recovery_file_only_while_dirty(make_window, recovery_dir, qtbot):
    window = make_window(SEED, recovery_dir=recovery_dir, autosave_ms=60_000)
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() == 60_000
    assert window.autosave_now() is None  # nothing unsaved
    assert list(recovery_dir.glob("autosave-*.nnd")) == []

    set_units(window, 64)
    path = window.autosave_now()
    assert path is not None and path.parent == recovery_dir
    recovered = load_project(path)
    assert recovered.data == window.document.data
    meta = read_meta(path)
    assert meta["original_path"] == str(SEED.resolve())
    assert meta["project_name"] == "Seed MLP"
    # Never over the user's file.
    assert load_project(SEED).data["model"]["layers"][0]["config"]["units"] == 128

    # The timer does it by itself.
    window.autosave_timer.setInterval(10)
    set_units(window, 65)
    qtbot.waitUntil(lambda: load_project(path).data == window.document.data, timeout=3000)

    # Back at the saved state: nothing to recover.
    window.actions["undo"].trigger()
    window.actions["undo"].trigger()
    assert not window.document.dirty and not path.exists()


def test_save_and_clean_exit_remove_the_recovery_file(make_window, recovery_dir, tmp_path):
    path = tmp_path / "p.json"
    save_project(seed_project(), path)
    window = make_window(path, recovery_dir=recovery_dir)
    set_units(window, 64)
    autosave = window.autosave_now()
    assert autosave.exists()
    assert window.save()
    assert not autosave.exists()

    set_units(window, 65)
    assert window.autosave_now().exists()
    window.document.undo_stack.setClean()  # as after "Discard" at the prompt
    assert window.close()
    assert list(recovery_dir.glob("autosave-*")) == []


def crashed_session(recovery_dir: Path, window: MainWindow) -> Path:
    """Autosave, then end the session as a crash would: the file stays, the lock goes."""
    path = window.autosave_now()
    window.recovery.close(remove_file=False)
    window.autosave_timer.stop()
    window.recovery = None
    return path


def test_recovery_is_offered_and_restores_the_content(make_window, recovery_dir, monkeypatch):
    first = make_window(SEED, recovery_dir=recovery_dir)
    set_units(first, 77)
    autosave = crashed_session(recovery_dir, first)
    expected = json.loads(spec_text(first.document.data))

    offered = []

    def ask(self, entry):
        offered.append(entry)
        return "recover"

    monkeypatch.setattr(MainWindow, "ask_recover", ask)
    second = make_window(recovery_dir=recovery_dir)
    assert second.offer_recovery()
    (entry,) = offered
    assert entry.project_name == "Seed MLP" and entry.original_path == SEED.resolve()
    assert "Seed MLP" in entry.describe() and entry.saved_at.strftime("%H:%M") in entry.describe()
    assert json.loads(spec_text(second.document.data)) == expected
    assert second.document.dirty and units(second) == 77
    assert second.document.path == SEED.resolve()
    assert second.windowTitle() == "Seed MLP (seed_mlp.json) * — NN Designer"
    # The old autosave is gone; this session's own holds the recovered changes already.
    assert not autosave.exists()
    assert load_project(second.recovery.path).data == second.document.data
    assert not second.offer_recovery()


def test_recovery_discard_and_not_now(make_window, recovery_dir, monkeypatch):
    first = make_window(recovery_dir=recovery_dir)  # untitled sessions are recoverable too
    set_units(first, 5)
    autosave = crashed_session(recovery_dir, first)

    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, entry: "later")
    second = make_window(recovery_dir=recovery_dir)
    assert not second.offer_recovery()
    assert autosave.exists() and not second.document.dirty

    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, entry: "discard")
    third = make_window(recovery_dir=recovery_dir)
    assert not third.offer_recovery()
    assert not autosave.exists() and units(third) == 128


def test_a_running_sessions_autosave_is_not_offered(
    make_window, recovery_dir, monkeypatch, unexpected_dialog
):
    running = make_window(recovery_dir=recovery_dir)
    set_units(running, 3)
    assert running.autosave_now().exists()
    monkeypatch.setattr(MainWindow, "ask_recover", unexpected_dialog)
    other = make_window(recovery_dir=recovery_dir)
    assert not other.offer_recovery()
    assert RecoveryStore(recovery_dir).orphans() == []


CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv[:1])
    from designer.document import Document
    from designer.main_window import MainWindow
    from engine import edits
    window = MainWindow(Document(), recovery_dir=sys.argv[1])
    window.document.edit("Units", lambda d: edits.set_param(d, "hidden", "units", 321))
    assert window.autosave_now() is not None
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_session_is_recovered_at_the_next_start(make_window, recovery_dir, monkeypatch):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", CRASHER, str(recovery_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(list(recovery_dir.glob("autosave-*.nnd"))) == 1
    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, entry: "recover")
    window = make_window(recovery_dir=recovery_dir)
    assert window.offer_recovery()
    assert units(window) == 321 and window.document.dirty and window.document.path is None


def test_new_project_asks_about_unsaved_changes(make_window, monkeypatch):
    window = make_window()
    set_units(window, 64)
    answer(monkeypatch, Button.Cancel)
    assert not window.new_project()
    assert units(window) == 64
    answer(monkeypatch, Button.Discard)
    window.actions["new"].trigger()
    assert window.document.project.name == "Untitled" and window.document.path is None
    assert edits.layer_names(window.document.data) == [] and not window.document.dirty
    assert window.document.undo_stack.count() == 0
