"""A first launch trains: the seed project on MNIST, with no MNIST in the Keras cache, opens
with the Dataset panel in front offering "Download MNIST (11 MB)" and "Use the built-in 8×8
digits instead".

Offline and deterministic: the Keras home is a temporary KERAS_HOME; the download's URL and
hash (engine.data.download.KERAS_DOWNLOADS) point at a ThreadingHTTPServer on 127.0.0.1
serving a tiny well-formed mnist.npz (tests/support/fake_keras_server.py), or at a closed port
for the offline case. The download runs in a child process, as in the window.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from support import fake_keras_server as H

import engine.data.download as dl
from designer.document import spec_text

pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "resources" / "examples" / "seed_mlp.json"
TIMEOUT = 30_000


@pytest.fixture
def window_size():
    return (1366, 768)


@pytest.fixture
def server():
    with H.FakeKerasServer(H.fake_mnist_bytes(200, 20)) as s:
        yield s


@pytest.fixture
def point_download_at(monkeypatch):
    """``point_download_at(url, sha256)``: where the window's download goes (tests only)."""

    def point(url: str, sha256: str = "0" * 64) -> None:
        info = dataclasses.replace(dl.KERAS_DOWNLOADS["mnist"], url=url, sha256=sha256)
        monkeypatch.setitem(dl.KERAS_DOWNLOADS, "mnist", info)

    return point


def cache_files(home: Path) -> list[str]:
    folder = home / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def first_launch(qtbot, make_window):
    window = make_window(SEED)
    panel = window.dataset.panel
    qtbot.waitUntil(lambda: panel.offer_shown and panel.project_result is not None, timeout=TIMEOUT)
    return window, panel


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_offer_is_in_front_on_first_launch(qtbot, make_window, keras_home):
    window, panel = first_launch(qtbot, make_window)
    dock = window.dataset.dock
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()  # not tabbed behind
    assert panel.offer_box.isVisible()
    assert panel.download_button.text() == "Download MNIST (11 MB)"
    assert panel.digits_button.text() == "Use the built-in 8×8 digits instead"
    assert str(keras_home / "datasets") in panel.offer_label.text()
    # The engine's "not in the Keras cache" error is not shown beside the offer.
    assert "not in the Keras cache" in panel.project_result.error
    assert not panel.error_box.isVisible()


def test_download_fills_the_cache_then_the_data_loads_and_play_trains(
    qtbot, make_window, keras_home, server, point_download_at
):
    point_download_at(server.url(), server.sha256)
    window, panel = first_launch(qtbot, make_window)
    doc = window.document
    before, undo = spec_text(doc.data), doc.undo_stack.count()
    progress = []
    panel.downloader.progress.connect(lambda done, total: progress.append((done, total)))
    click(qtbot, panel.download_button)
    assert panel.download_row.isVisible() and not panel.download_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.downloader.busy, timeout=TIMEOUT)
    assert cache_files(keras_home) == ["mnist.npz"]
    assert (keras_home / "datasets" / "mnist.npz").read_bytes() == server.body
    size = len(server.body)
    assert progress and progress[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(progress, progress[1:], strict=False))
    assert panel.download_bar.value() == 1000
    # The project itself did not change; its data (the file just fetched) loads.
    assert spec_text(doc.data) == before and doc.undo_stack.count() == undo
    qtbot.waitUntil(lambda: panel.data_ready, timeout=TIMEOUT)
    assert panel.dataset.n_samples == 200 and panel.dataset.feature_shape == (784,)
    assert not panel.offer_box.isVisible() and not panel.error_box.isVisible()
    ctrl = window.training
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 1 and ctrl.state == "idle", timeout=60_000)
    assert not ctrl.errors
    assert len(doc.project.history["loss"]) == doc.data["fit"]["epochs"]


def test_cancel_stops_the_download_and_leaves_no_partial_file(
    qtbot, make_window, keras_home, server, point_download_at
):
    point_download_at(server.url("/stall/mnist.npz"), server.sha256)
    window, panel = first_launch(qtbot, make_window)
    doc = window.document
    before = spec_text(doc.data)
    click(qtbot, panel.download_button)
    # The server has sent its first bytes and now sends nothing: a stalled download.
    qtbot.waitUntil(lambda: panel.download_bar.value() > 0, timeout=TIMEOUT)
    assert any(name.endswith(".part") for name in cache_files(keras_home))
    label = panel.download_label.text()
    assert label.startswith("Downloading… ") and label.endswith(
        f" of {len(server.body) / 1e3:.1f} kB"
    )
    click(qtbot, panel.cancel_download_button)
    qtbot.waitUntil(lambda: not panel.downloader.busy, timeout=TIMEOUT)
    assert cache_files(keras_home) == []
    assert panel.offer_message.text() == "Download cancelled; the project was not changed."
    assert spec_text(doc.data) == before
    assert panel.offer_box.isVisible() and panel.download_button.isEnabled()


def test_offline_the_download_fails_with_a_clear_message_and_the_project_is_kept(
    qtbot, make_window, keras_home, point_download_at
):
    point_download_at(H.closed_port_url())
    window, panel = first_launch(qtbot, make_window)
    doc = window.document
    before, undo = spec_text(doc.data), doc.undo_stack.count()
    click(qtbot, panel.download_button)
    qtbot.waitUntil(lambda: not panel.downloader.busy, timeout=TIMEOUT)
    message = panel.offer_message.text()
    assert message.startswith("Could not download MNIST: no connection to 127.0.0.1 (")
    assert message.endswith("; the project was not changed."), message
    assert panel.offer_message.isVisible()
    assert spec_text(doc.data) == before and doc.undo_stack.count() == undo
    assert cache_files(keras_home) == []
    assert panel.download_button.isEnabled()  # it can be tried again


def test_use_the_digits_is_one_undo_step_and_play_trains(qtbot, make_window, keras_home):
    window, panel = first_launch(qtbot, make_window)
    doc = window.document
    mnist, undo = spec_text(doc.data), doc.undo_stack.count()
    click(qtbot, panel.digits_button)
    assert doc.undo_stack.count() == undo + 1
    assert doc.data["dataset"] == {"name": "digits", "scale": "standardize"}
    assert doc.data["model"]["input_shape"] == [64]
    assert not panel.offer_box.isVisible()
    digits = spec_text(doc.data)
    doc.undo_stack.undo()
    assert spec_text(doc.data) == mnist
    qtbot.waitUntil(lambda: panel.offer_box.isVisible(), timeout=TIMEOUT)
    doc.undo_stack.redo()
    assert spec_text(doc.data) == digits
    qtbot.waitUntil(lambda: panel.data_ready, timeout=TIMEOUT)
    assert panel.dataset.feature_shape == (64,) and panel.dataset.n_classes == 10
    assert panel.fit_label.text() == "✓ The network fits this data."
    ctrl = window.training
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs >= 1 and ctrl.state == "idle", timeout=60_000)
    assert not ctrl.errors
    history = doc.project.history
    assert len(history["loss"]) == doc.data["fit"]["epochs"]
    assert history["loss"][-1] < history["loss"][0]
    assert cache_files(keras_home) == []  # nothing was downloaded


def test_opening_a_project_that_needs_mnist_brings_the_offer_forward(
    qtbot, make_window, keras_home
):
    window = make_window(ROOT / "resources" / "examples" / "xor.json")
    panel = window.dataset.panel
    inspector = window.inspector_dock
    qtbot.waitUntil(lambda: not inspector.visibleRegion().isEmpty(), timeout=TIMEOUT)
    assert not panel.offer_shown
    assert window.open_path(SEED)
    qtbot.waitUntil(lambda: not window.dataset.dock.visibleRegion().isEmpty(), timeout=TIMEOUT)
    assert panel.offer_shown and panel.offer_box.isVisible()


def test_closing_during_a_download_ends_it_and_leaves_nothing(
    qtbot, make_window, keras_home, server, point_download_at
):
    point_download_at(server.url("/stall/mnist.npz"), server.sha256)
    window, panel = first_launch(qtbot, make_window)
    click(qtbot, panel.download_button)
    qtbot.waitUntil(lambda: panel.download_bar.value() > 0, timeout=TIMEOUT)
    panel.shutdown()  # what quitting does (aboutToQuit)
    assert not panel.downloader.busy
    assert cache_files(keras_home) == []
