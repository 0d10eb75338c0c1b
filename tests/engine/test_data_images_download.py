"""Fashion-MNIST downloads like MNIST (issue 15): Keras' four gzip IDX files into
``<Keras home>/datasets/fashion-mnist/``, each atomic and checked; offline it fails with a
clear message and leaves nothing.

Never the network: the files are tiny well-formed IDX files made in ``tmp_path`` and served by
``file://`` URLs (the same urllib path as http), or a closed port on 127.0.0.1 for offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import fake_keras_server as H

import engine.data.download as dl
from engine.data import load_dataset
from engine.data.idx import write_idx
from engine.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
]


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Four tiny Fashion-MNIST files under ``tmp_path/origin``; the table points at them."""
    rng = np.random.default_rng(5)
    arrays = {
        NAMES[0]: (np.arange(30) % 10).astype(np.uint8),
        NAMES[1]: rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        NAMES[2]: (np.arange(8) % 10).astype(np.uint8),
        NAMES[3]: rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
    }
    origin = tmp_path / "origin"
    origin.mkdir()
    bodies = {}
    for name, array in arrays.items():
        write_idx(origin / name, array)  # gzip-compressed: the name ends in .gz
        bodies[name] = (origin / name).read_bytes()
    info = dl.KERAS_DOWNLOADS["fashion_mnist"]
    files = [
        dataclasses.replace(
            f,
            url=(origin / Path(f.fname).name).as_uri(),
            hash=hashlib.md5(bodies[Path(f.fname).name]).hexdigest(),
        )
        for f in info.files
    ]
    patched = dataclasses.replace(
        info, url=files[0].url, sha256=files[0].hash, more=tuple(files[1:])
    )
    monkeypatch.setitem(dl.KERAS_DOWNLOADS, "fashion_mnist", patched)
    return bodies, arrays


def _cache(home: Path) -> list[str]:
    folder = home / "datasets" / "fashion-mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_table_is_keras_own_files_and_folder():
    info = dl.KERAS_DOWNLOADS["fashion_mnist"]
    assert [Path(f.fname).name for f in info.files] == NAMES
    assert all(f.fname.startswith("fashion-mnist/") for f in info.files)
    assert all(f.algorithm == "md5" and len(f.hash) == 32 for f in info.files)
    assert info.total_size == sum(f.size for f in info.files) > 30_000_000
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("Keras is not installed")
    source = Path(list(spec.submodule_search_locations)[0]) / "src" / "datasets"
    source = source / "fashion_mnist.py"
    if not source.is_file():
        pytest.skip(f"no {source}")
    text = source.read_text(encoding="utf-8")
    base = re.search(r'base = "([^"]+)"', text).group(1)
    assert [f.url for f in info.files] == [base + name for name in NAMES]
    assert re.findall(r'"([a-z0-9]+-[a-z0-9]+-idx\d-ubyte\.gz)"', text) == NAMES
    assert 'os.path.join("datasets", "fashion-mnist")' in text


def test_download_fills_the_keras_cache_and_the_set_loads_as_images(keras_home, served):
    bodies, arrays = served
    assert dl.cached_file("fashion_mnist") is None
    with pytest.raises(DataError) as info:
        load_dataset({"name": "fashion_mnist"})
    message = str(info.value)
    assert "Download Fashion-MNIST" in message and "engine.data.download fashion_mnist" in message
    calls = []
    path = dl.download_keras_dataset("fashion_mnist", lambda d, t: calls.append((d, t)))
    folder = keras_home / "datasets" / "fashion-mnist"
    assert path == folder / NAMES[0]
    assert _cache(keras_home) == sorted(NAMES)  # no temporary file left
    for name in NAMES:
        assert (folder / name).read_bytes() == bodies[name]
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == sum(len(b) for b in bodies.values())
    assert calls[-1][1] == done[-1]
    assert dl.cached_file("fashion_mnist") == folder / NAMES[0]
    ds = load_dataset({"name": "fashion_mnist"})
    assert ds.n_samples == 30 and len(ds.x_test) == 8
    assert ds.feature_shape == (784,) and ds.image_shape == (28, 28, 1)
    np.testing.assert_allclose(ds.x[3].reshape(28, 28), arrays[NAMES[1]][3] / 255, atol=1e-6)
    assert ds.class_names[0] == "T-shirt/top"


def test_a_second_download_fetches_only_what_is_missing_or_damaged(keras_home, served):
    bodies, _ = served
    dl.download_keras_dataset("fashion_mnist")
    folder = keras_home / "datasets" / "fashion-mnist"
    (folder / NAMES[3]).write_bytes(b"damaged")
    (folder / NAMES[2]).unlink()
    assert dl.cached_file("fashion_mnist") is None  # one of four missing: not cached
    dl.download_keras_dataset("fashion_mnist")
    assert (folder / NAMES[3]).read_bytes() == bodies[NAMES[3]]
    assert (folder / NAMES[2]).read_bytes() == bodies[NAMES[2]]


def test_offline_fails_clearly_and_leaves_nothing(keras_home, monkeypatch):
    info = dl.KERAS_DOWNLOADS["fashion_mnist"]
    closed = H.closed_port_url()
    patched = dataclasses.replace(info, url=closed)
    monkeypatch.setitem(dl.KERAS_DOWNLOADS, "fashion_mnist", patched)
    with pytest.raises(DataError) as exc:
        dl.download_keras_dataset("fashion_mnist", timeout=5)
    message = str(exc.value)
    assert message.startswith(
        "could not download Fashion-MNIST (train-labels-idx1-ubyte.gz): no connection to 127.0.0.1"
    ), message
    assert _cache(keras_home) == []


def test_a_damaged_file_is_refused_by_its_md5(keras_home, served, tmp_path):
    bodies, _ = served
    (tmp_path / "origin" / NAMES[1]).write_bytes(bodies[NAMES[1]][:-10] + b"0" * 10)
    with pytest.raises(DataError) as exc:
        dl.download_keras_dataset("fashion_mnist")
    message = str(exc.value)
    assert "could not download Fashion-MNIST (train-images-idx3-ubyte.gz)" in message
    assert "its MD5 is" in message
    assert NAMES[1] not in _cache(keras_home)
    assert not any(name.endswith(".part") for name in _cache(keras_home))


def test_the_child_process_takes_one_url_and_digest_per_file(keras_home, served):
    bodies, _ = served
    info = dl.KERAS_DOWNLOADS["fashion_mnist"]
    args = []
    for f in info.files:
        args += ["--url", f.url, "--sha256", f.hash]
    done = subprocess.run(
        [sys.executable, "-m", "engine.data.download", "fashion_mnist", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_HOME": str(keras_home)},
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    total = sum(len(b) for b in bodies.values())
    assert lines[-2] == f"progress {total} {total}"
    assert lines[-1] == f"done {keras_home / 'datasets' / 'fashion-mnist' / NAMES[0]}"
    assert _cache(keras_home) == sorted(NAMES)
