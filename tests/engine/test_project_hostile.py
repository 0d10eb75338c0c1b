"""Hostile and broken project files (issue 12): each is refused by ``load_project`` with a
ProjectError naming the file and the fault, and by the CLI (``summary``, ``train``) with exit
status 2 and that message, never a traceback, a hang or an unbounded allocation. Also: weights a
float32 project cannot hold, weights for no layer, and temp files of interrupted saves.

The files come from tests/support/hostile_project_files.py (tiny on disk).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import hostile_project_files as H

from engine import cli
from engine.errors import ProjectError
from engine.graph import build_graph
from engine.project import (
    MAX_JSON_DEPTH,
    STALE_TEMP_AGE_S,
    atomic_write,
    is_stale_temp_file,
    load_project,
    loads_project,
    remove_stale_temp_files,
    save_project,
    seed_project,
    temp_files_of,
    weight_key_problems,
)

ROOT = Path(__file__).resolve().parents[2]
XOR = ROOT / "resources" / "examples" / "xor.json"


CASES = [
    pytest.param(
        c,
        id=c.id,
        marks=[pytest.mark.skipif(os.name != "posix", reason="POSIX files")] * c.posix_only,
    )
    for c in H.CASES
]


def assert_names_fault(message: str, path: Path, case) -> None:
    assert str(path) in message, message
    for word in case.words:
        assert word in message, (word, message)
    assert "Traceback" not in message
    message.encode("utf-8")  # the message itself can be printed and shown


@pytest.mark.parametrize("case", CASES)
def test_load_refuses_with_a_message(case, tmp_path):
    path = case.make(tmp_path)
    with pytest.raises(ProjectError) as info:
        load_project(path)
    assert_names_fault(str(info.value), path, case)


@pytest.mark.parametrize("case", CASES)
def test_cli_summary_exits_2(case, tmp_path, capsys):
    path = case.make(tmp_path)
    assert cli.main(["summary", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("nndesigner: ") and err.count("\n") == 1, err
    assert_names_fault(err, path, case)


@pytest.mark.parametrize("case", CASES)
def test_cli_train_exits_2_and_writes_nothing(case, tmp_path, capsys):
    path = case.make(tmp_path)
    out = tmp_path / "trained.nnd"
    assert cli.main(["train", str(path), "--epochs", "1", "--quiet", "-o", str(out)]) == 2
    assert_names_fault(capsys.readouterr().err, path, case)
    assert not out.exists()


def test_the_hostile_files_are_tiny_on_disk(tmp_path):
    for case in H.CASES:
        path = case.make(tmp_path)
        if path.is_file() and path.parent == tmp_path:
            assert path.stat().st_blocks * 512 < 64 * 1024, case.id


# ------------------------------------------------------------------------------ memory
BOMB_RSS = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from engine.errors import ProjectError
    from engine.project import load_project
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for p in sys.argv[1:]:
        try:
            load_project(p)
        except ProjectError:
            pass
        else:
            raise SystemExit(p + " loaded")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) // 1024)  # KiB to MiB (Linux reports KiB)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_zip_bombs_do_not_grow_memory(tmp_path):
    """Refused before reading: the peak RSS of loading every bomb grows by under 16 MiB."""
    makers = (
        H.bomb_weights_forged,
        H.bomb_project_forged,
        H.bomb_project_real,
        H.bomb_npy_real,
        H.npy_claims_1e12,
        H.npy_claims_1e12_forged_size,
        H.declared_smaller_than_stream,
    )
    paths = [str(m(tmp_path)) for m in makers]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", BOMB_RSS, *paths], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 16, done.stdout


# ------------------------------------------------------------------------------ JSON
def test_json_just_within_the_depth_limit_loads():
    data = json.loads(H.seed_json())
    data["deep"] = json.loads(H.deep(MAX_JSON_DEPTH - 2))  # depth counts the root object
    project = loads_project(json.dumps(data))
    assert project.copy().data["deep"] == data["deep"]
    data["deep"] = json.loads(H.deep(MAX_JSON_DEPTH))
    with pytest.raises(ProjectError, match="nested more than"):
        loads_project(json.dumps(data))


def test_saving_a_spec_that_could_not_be_read_back_is_refused(tmp_path):
    p = seed_project()
    p.data["name"] = "a\ud800"
    with pytest.raises(ProjectError, match=r"^the project: name: .*surrogate"):
        save_project(p, tmp_path / "s.json")
    p = seed_project()
    node = p.data["deep"] = []
    for _ in range(3000):  # made in memory (no file could give it): too deep to write
        node.append([])
        node = node[0]
    with pytest.raises(ProjectError, match="nested more than"):
        save_project(p, tmp_path / "d.nnd")
    assert not list(tmp_path.iterdir())


def test_paired_surrogates_and_other_unicode_load(tmp_path):
    path = tmp_path / "emoji.json"
    path.write_bytes(H.with_field(["name"], "Netz 😀 ü"))  # json.dumps writes \ud83d\ude00
    assert load_project(path).name == "Netz 😀 ü"


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["name", "dtype", "model", "fit", "compile", "dataset", "x"]),
       value=JSON)  # fmt: skip
def test_any_json_value_in_a_field_loads_or_is_refused_cleanly(field, value):
    data = json.loads(H.seed_json())
    data[field] = value
    try:
        text = json.dumps(data)  # NaN/inf become the NaN/Infinity literals Python reads
    except (ValueError, RecursionError):
        return
    try:
        project = loads_project(text, "p.json")
    except ProjectError as exc:
        str(exc).encode("utf-8")
        return
    project.to_json_text().encode("utf-8")  # what loads can be saved again
    project.copy()


# ------------------------------------------------------------------------------ weights
def test_float64_project_may_hold_weights_beyond_float32(tmp_path):
    """Decision: 1e300 is a finite float64; only a float32 (or float16) project refuses it."""
    data = H.seed_data()
    data["dtype"] = "float64"
    path = H.nnd(
        tmp_path,
        "f64.nnd",
        project=json.dumps(data).encode(),
        weights=H.npz(H.seed_weights(1e300, "float64")),
    )
    project = load_project(path)
    assert project.weights["dense/kernel"][0, 0] == 1e300
    # In range, float64 weights in a float32 project are fine (they are cast on use).
    ok = H.nnd(tmp_path, "ok.nnd", weights=H.npz(H.seed_weights(3e38, "float64")))
    assert load_project(ok).weights["dense/kernel"][0, 0] == 3e38


def test_weights_round_trip_through_the_checked_reader(tmp_path):
    project = seed_project()
    rng = np.random.default_rng(0)
    project.weights = {k: rng.standard_normal(v.shape).astype("float32")
                       for k, v in H.seed_weights().items()}  # fmt: skip
    project.weights["hidden/kernel"] = np.asfortranarray(project.weights["hidden/kernel"])
    project.history = {"loss": [0.9, 0.5], "accuracy": [1, 0.75]}
    save_project(project, tmp_path / "p.nnd")
    back = load_project(tmp_path / "p.nnd")
    assert back.weights.keys() == project.weights.keys()
    for k, v in project.weights.items():
        np.testing.assert_array_equal(back.weights[k], v)
        assert back.weights[k].dtype == np.float32
    assert back.history == project.history
    assert back.load_warnings == []


def test_weights_for_no_layer_are_kept_and_named(tmp_path, capsys):
    """Decision: weights the network does not use do not stop the file from opening (our own
    window writes them when a trained layer is removed) but are named: a warning on stderr in
    the CLI, a note in the window's status bar; saving keeps them."""
    weights = H.seed_weights()
    weights["ghost/kernel"] = np.ones((2, 2), "float32")
    path = H.nnd(tmp_path, "ghost.nnd", weights=H.npz(weights))
    project = load_project(path)
    assert len(project.load_warnings) == 1 and "'ghost/kernel'" in project.load_warnings[0]
    save_project(project, tmp_path / "again.nnd")
    assert "ghost/kernel" in load_project(tmp_path / "again.nnd").weights
    capsys.readouterr()
    assert cli.main(["summary", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"nndesigner: warning: {path}: " in err and "'ghost/kernel'" in err


def test_the_cli_prints_the_weights_warning(tmp_path):
    weights = H.seed_weights()
    weights["ghost/kernel"] = np.ones((2, 2), "float32")
    path = H.nnd(tmp_path, "ghost.nnd", weights=H.npz(weights))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "summary", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ghost/kernel" in done.stderr and "no layer" in done.stderr
    assert "Traceback" not in done.stderr


def test_weights_that_do_not_fit_the_layers_are_named(tmp_path):
    weights = H.seed_weights()
    weights["hidden/kernel"] = np.zeros((784, 64), "float32")
    weights["dense/gamma"] = np.zeros(10, "float32")
    project = seed_project()
    project.weights = weights
    problems = weight_key_problems(project, build_graph(project))
    assert any("'hidden'" in p and "do not fit" in p for p in problems), problems
    assert any("'gamma'" in p and "'dense'" in p for p in problems), problems
    project.weights = H.seed_weights()
    assert weight_key_problems(project, build_graph(project)) == []


def test_cli_train_refuses_weights_of_the_wrong_shape(tmp_path, capsys):
    project = load_project(XOR)
    project.weights = {
        "hidden/kernel": np.zeros((2, 3), "float32"),  # the layer has 4 units
        "hidden/bias": np.zeros(3, "float32"),
        "output/kernel": np.zeros((4, 1), "float32"),
        "output/bias": np.zeros(1, "float32"),
    }
    path = tmp_path / "wrong.nnd"
    save_project(project, path)
    assert cli.main(["train", str(path), "--epochs", "1", "-o", str(tmp_path / "o.nnd")]) == 2
    err = capsys.readouterr().err
    assert "hidden" in err and "shape" in err and "Traceback" not in err


# ------------------------------------------------------------------------------ temp files
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def tagged(target: Path, pid: int, host: str | None = None, rand: str = "abcd1234") -> Path:
    from engine.project import _HOST_TAG

    tmp = target.with_name(f".{target.name}.{pid}-{host or _HOST_TAG}.{rand}.tmp")
    tmp.write_bytes(b"half a save")
    return tmp


@pytest.mark.skipif(os.name != "posix", reason="pid checks are POSIX")
def test_stale_temp_files_go_and_live_ones_stay(tmp_path):
    target = tmp_path / "p.nnd"
    dead = tagged(target, dead_pid())
    live = tagged(target, os.getppid())  # pytest's parent: running
    mine = tagged(target, os.getpid())  # this process may be saving it right now
    other_host = tagged(target, dead_pid(), host="0a0b0c")
    legacy = target.with_name(f".{target.name}.k2j3h4.tmp")  # before tags: an older version
    legacy.write_bytes(b"x")
    old_live = tagged(target, os.getppid(), rand="old00000")
    hours_ago = time.time() - STALE_TEMP_AGE_S - 60
    os.utime(old_live, (hours_ago, hours_ago))
    folder = target.with_name(f".{target.name}.1-{'f' * 6}.dir.tmp")
    folder.mkdir()
    unrelated = tmp_path / ".other.nnd.1.abc.tmp"
    unrelated.write_bytes(b"x")

    assert remove_stale_temp_files(target) == 3
    left = set(temp_files_of(target))
    assert left == {live, mine, other_host, folder}
    assert not dead.exists() and not legacy.exists() and not old_live.exists()
    assert unrelated.exists()
    assert is_stale_temp_file(live, target.name, now=time.time() + 2 * STALE_TEMP_AGE_S)


def test_atomic_write_tags_its_temp_file_and_a_save_cleans(tmp_path, monkeypatch):
    target = tmp_path / "p.json"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(target, b"{}")
    assert seen[0].startswith(f".p.json.{os.getpid()}-") and seen[0].endswith(".tmp")
    if os.name == "posix":
        dead = tagged(target, dead_pid())
        save_project(seed_project(), target)  # the CLI's saves clean too
        assert not dead.exists()
    assert temp_files_of(target) == []


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
def test_weights_written_by_numpy_itself_load(tmp_path, writer):
    """The checked reader takes what NumPy writes: its zip flavours, byte order, Fortran order."""
    import io

    buf = io.BytesIO()
    kernel = np.asfortranarray(np.arange(784 * 128, dtype=">f8").reshape(784, 128) / 1e5)
    writer(buf, **{"hidden/kernel": kernel, "hidden/bias": np.ones(128, "f4")})
    path = H.nnd(tmp_path, "np.nnd", weights=buf.getvalue())
    weights = load_project(path).weights
    np.testing.assert_array_equal(weights["hidden/kernel"], kernel)
    assert weights["hidden/kernel"].dtype.isnative and weights["hidden/bias"].dtype == np.float32
