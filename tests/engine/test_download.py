"""engine.data.download: Keras' MNIST download without Keras, into the Keras cache, atomic.

Offline and deterministic: the "server" is a ThreadingHTTPServer on 127.0.0.1 (or a file://
URL) serving a tiny well-formed mnist.npz; the Keras home is a temporary KERAS_HOME.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from support import fake_keras_server as H

import engine.data.download as dl
from engine.data import load_dataset
from engine.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server():
    with H.FakeKerasServer() as s:
        yield s


def cache_files(home: Path) -> list[str]:
    folder = home / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_downloads_into_the_keras_cache_with_progress_and_loads(keras_home, server):
    calls = []
    path = dl.download_keras_dataset(
        "mnist",
        lambda done, total: calls.append((done, total)),
        url=server.url(),
        sha256=server.sha256,
    )
    assert path == keras_home / "datasets" / "mnist.npz"
    assert path.read_bytes() == server.body
    assert cache_files(keras_home) == ["mnist.npz"]  # no temporary file left beside it
    size = len(server.body)
    assert len(calls) == -(-size // dl.CHUNK) >= 3
    assert [t for _, t in calls] == [size] * len(calls)
    assert [d for d, _ in calls] == sorted({d for d, _ in calls}) and calls[-1][0] == size
    # The engine's loader finds it where Keras would.
    assert dl.cached_file("mnist") == path
    ds = load_dataset({"name": "mnist"})
    assert ds.x.shape == (200, 784) and ds.x_test.shape == (20, 784)
    # A second call finds the good file and fetches nothing.
    before = len(server.requests)
    assert dl.download_keras_dataset("mnist", url=server.url(), sha256=server.sha256) == path
    assert len(server.requests) == before


def test_a_file_url_works_the_same(keras_home, tmp_path):
    body = H.fake_mnist_bytes(30, 5)
    source = tmp_path / "served.npz"
    source.write_bytes(body)
    path = dl.download_keras_dataset("mnist", url=source.as_uri(), sha256=H.sha256(body))
    assert path.read_bytes() == body


def test_cancel_stops_and_leaves_nothing(keras_home, server):
    seen = []

    def progress(done, total):
        seen.append(done)

    with pytest.raises(dl.DownloadCancelled, match="cancelled"):
        dl.download_keras_dataset(
            "mnist", progress, lambda: len(seen) >= 1, url=server.url(), sha256=server.sha256
        )
    assert seen == [dl.CHUNK]  # stopped at the next block
    assert cache_files(keras_home) == []


def test_offline_says_no_connection_and_leaves_nothing(keras_home):
    url = H.closed_port_url()
    with pytest.raises(DataError) as info:
        dl.download_keras_dataset("mnist", url=url)
    assert str(info.value).startswith("could not download MNIST: no connection to 127.0.0.1 (")
    assert "refused" in str(info.value).lower()
    assert cache_files(keras_home) == []


def test_no_name_resolution_names_keras_host(keras_home, monkeypatch):
    # What this machine (no internet) gives for Keras' real origin, without trying it.
    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as info:
        dl.download_keras_dataset("mnist")
    assert str(info.value) == (
        "could not download MNIST: no connection to storage.googleapis.com "
        "(Temporary failure in name resolution)"
    )


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/missing.npz", "127.0.0.1 answered HTTP 404"),
        ("/short/mnist.npz", "broke off after"),
    ],
)
def test_http_errors_and_cut_downloads(keras_home, server, path, fragment):
    with pytest.raises(DataError, match=re.escape(fragment)):
        dl.download_keras_dataset("mnist", url=server.url(path), sha256=server.sha256)
    assert cache_files(keras_home) == []


def test_a_damaged_download_is_refused_and_a_damaged_cache_file_replaced(keras_home, server):
    with pytest.raises(DataError, match="damaged or not Keras' mnist.npz") as info:
        dl.download_keras_dataset("mnist", url=server.url(), sha256="0" * 64)
    assert "000000000000…" in str(info.value)
    assert cache_files(keras_home) == []
    # A truncated mnist.npz already in the cache (as get_file could leave) is fetched again.
    target = dl.download_target("mnist")
    target.write_bytes(server.body[:100])
    dl.download_keras_dataset("mnist", url=server.url(), sha256=server.sha256)
    assert target.read_bytes() == server.body


def test_an_unknown_dataset_is_refused():
    with pytest.raises(DataError, match="no download is known for the dataset 'iris'"):
        dl.download_keras_dataset("iris")


def test_an_unwritable_keras_home_falls_back_as_keras_does(tmp_path, monkeypatch):
    home = tmp_path / "ro"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    real_access = os.access
    # As for a user who cannot write there (root can write anywhere, so it is simulated).
    monkeypatch.setattr(dl.os, "access", lambda p, mode: Path(p) != home and real_access(p, mode))
    assert dl.keras_download_dir(create=False) == Path("/tmp/.keras/datasets")
    monkeypatch.setattr(dl.os, "access", real_access)
    assert dl.keras_download_dir(create=False) == home / "datasets"


def test_the_origin_and_hash_are_keras_own():
    # Read from the installed Keras' source, without importing it (that imports TensorFlow).
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("Keras is not installed")
    source = Path(list(spec.submodule_search_locations)[0]) / "src" / "datasets" / "mnist.py"
    if not source.is_file():
        pytest.skip(f"no {source}")
    text = source.read_text(encoding="utf-8")
    info = dl.KERAS_DOWNLOADS["mnist"]
    folder = re.search(r'origin_folder = \(\s*"([^"]+)"', text).group(1)
    assert f"{folder}mnist.npz" == info.url
    assert re.search(r'file_hash=\(\s*(?:#.*\n\s*)?"([0-9a-f]{64})"', text).group(1) == info.sha256
    assert "fname=path" in text and 'path="mnist.npz"' in text


def run_child(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.data.download", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def test_the_child_process_reports_progress_then_the_path(keras_home, server):
    env = {**os.environ, "KERAS_HOME": str(keras_home)}
    done = run_child("mnist", "--url", server.url(), "--sha256", server.sha256, env=env)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[0].startswith("progress ") and lines[-2] == (
        f"progress {len(server.body)} {len(server.body)}"
    )
    assert lines[-1] == f"done {keras_home / 'datasets' / 'mnist.npz'}"
    failed = run_child("mnist", "--url", H.closed_port_url(), env=env)
    assert failed.returncode == 2
    assert failed.stdout.startswith("error could not download MNIST: no connection to 127.0.0.1")


def test_sigterm_cancels_the_child_even_in_a_stalled_read(keras_home, server):
    env = {**os.environ, "KERAS_HOME": str(keras_home)}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.data.download",
            "mnist",
            "--url",
            server.url("/stall/mnist.npz"),
            "--sha256",
            server.sha256,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        first = child.stdout.readline()  # the server now sends nothing more
        assert first.startswith("progress ")
        assert any(n.endswith(".part") for n in cache_files(keras_home))
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 3 and "cancelled" in out
    assert cache_files(keras_home) == []


@pytest.mark.slow
def test_keras_own_get_file_finds_the_download(keras_home, server):
    # Keras' get_file with the hash of what was downloaded returns it without fetching: the
    # folder and file name are Keras' own. (Imports Keras, in a child, with KERAS_HOME set.)
    pytest.importorskip("keras")
    path = dl.download_keras_dataset("mnist", url=server.url(), sha256=server.sha256)
    code = (
        "import keras; print(keras.utils.get_file('mnist.npz', "
        f"origin='{H.closed_port_url()}', file_hash='{server.sha256}'))"
    )
    env = {**os.environ, "KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(path)
