"""The Dataset panel with image data (issue 15): samples shown as images whatever the layout
of ``x`` ((n, H, W, C) archives, grey and RGB folders, flat built-in sets), Match network to
data for a convolutional network, and Fashion-MNIST's first-launch download offer.

Offline: every file is made in ``tmp_path``; the Fashion-MNIST "server" is ``file://`` URLs of
tiny IDX files, the Keras home a temporary KERAS_HOME. Assertions are on the spec and the
views' data.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import engine.data.download as dl
from designer.dataset import DatasetPanel
from designer.document import Document, spec_text
from engine.data.idx import write_idx
from engine.layers import LAYER_TYPES
from engine.project import from_dict, load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
TIMEOUT = 30_000


@pytest.fixture
def make_panel(qtbot, keras_home):
    panels: list[DatasetPanel] = []

    def make(doc: Document) -> DatasetPanel:
        panel = DatasetPanel(doc)
        qtbot.addWidget(panel)
        panels.append(panel)
        panel.resize(480, 900)
        panel.show()
        qtbot.waitUntil(lambda: panel.project_result is not None, timeout=TIMEOUT)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


def idle(qtbot, panel: DatasetPanel) -> None:
    qtbot.waitUntil(lambda: panel.loader.current is None, timeout=TIMEOUT)


def xor_document() -> Document:
    return Document(load_project(EXAMPLES / "xor.json"))


def test_an_rgb_archive_of_four_axes_shows_colour_images(make_panel, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((12, 5, 6, 3)).astype(np.float32)
    np.savez(tmp_path / "rgb.npz", x=x, y=np.arange(12) % 3)
    panel = make_panel(xor_document())
    panel.open_path(tmp_path / "rgb.npz")
    idle(qtbot, panel)
    assert panel.error == ""
    assert panel.dataset.feature_shape == (5, 6, 3)
    assert panel.image_shape == (5, 6, 3)
    view = panel.image_view
    assert [name for name, _ in view.columns] == ["0", "1", "2"]
    shown = view.columns[0][1][0]
    assert shown.shape == (5, 6, 3)
    # Sample 0 as it is, only rescaled over the shown pixels for display.
    corr = np.corrcoef(shown.ravel(), x[0].ravel())[0, 1]
    assert corr == pytest.approx(1.0, abs=1e-6)
    assert "RGB images" in panel.shape_label.text()


def test_a_one_channel_archive_shows_grey_images(make_panel, qtbot, tmp_path):
    x = np.random.default_rng(1).random((6, 4, 7, 1))
    np.savez(tmp_path / "gray.npz", x=x, y=np.arange(6) % 2)
    panel = make_panel(xor_document())
    panel.open_path(tmp_path / "gray.npz")
    idle(qtbot, panel)
    assert panel.image_shape == (4, 7)
    assert panel.image_view.columns[0][1][0].shape == (4, 7)


def test_an_rgb_folder_shows_colour_images(make_panel, qtbot, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    for name in ("red", "blue"):
        (tmp_path / "colours" / name).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
            Image.fromarray(pixels, mode="RGB").save(tmp_path / "colours" / name / f"{i}.png")
    panel = make_panel(xor_document())
    panel.open_path(tmp_path / "colours")
    idle(qtbot, panel)
    assert panel.error == ""
    assert panel.dataset.image_shape == (3, 4, 3)
    assert panel.image_shape == (3, 4, 3)
    assert [name for name, _ in panel.image_view.columns] == ["blue", "red"]
    assert panel.image_view.columns[0][1].shape == (2, 3, 4, 3)


@pytest.mark.skipif("Conv2D" not in LAYER_TYPES, reason="Conv2D is not registered yet")
def test_match_gives_a_convnet_the_digits_image_shape_in_one_undo_step(make_panel, qtbot):
    data = copy.deepcopy(load_project(EXAMPLES / "xor.json").data)
    data["dataset"] = {"name": "digits"}
    data["model"] = {
        "input_shape": [64],
        "layers": [
            {
                "class_name": "Conv2D",
                "config": {"name": "conv", "filters": 2, "kernel_size": [3, 3]},
            },
            {"class_name": "Dense", "config": {"name": "out", "units": 2}},
        ],
    }
    doc = Document(from_dict(data))
    panel = make_panel(doc)
    idle(qtbot, panel)
    assert panel.image_shape == (8, 8)
    assert not doc.valid  # a Conv2D on a flat [64] input cannot be built
    fit = panel.fit_label.text()
    assert fit.startswith("✗") and "set input_shape to [8, 8, 1]" in fit
    assert panel.match_button.isEnabled()
    assert "input (8, 8, 1)" in panel.match_button.toolTip()
    count = doc.undo_stack.count()
    panel.match_button.click()
    assert doc.undo_stack.count() == count + 1
    assert doc.data["model"]["input_shape"] == [8, 8, 1]
    classes = [layer["class_name"] for layer in doc.data["model"]["layers"]]
    flat = next(t.class_name for t in LAYER_TYPES.values() if t.flattens)
    assert classes == ["Conv2D", flat, "Dense"]
    assert doc.valid
    assert panel.fit_label.text().startswith("✓")


# ------------------------------------------------------------------ Fashion-MNIST's offer


@pytest.fixture
def fashion_origin(tmp_path, monkeypatch):
    """Tiny Fashion-MNIST files under ``tmp_path/origin``; the table points at them."""
    rng = np.random.default_rng(3)
    arrays = {
        "train-labels-idx1-ubyte.gz": (np.arange(40) % 10).astype(np.uint8),
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(10) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
    }
    origin = tmp_path / "origin"
    origin.mkdir()
    for name, array in arrays.items():
        write_idx(origin / name, array)
    info = dl.KERAS_DOWNLOADS["fashion_mnist"]
    files = []
    for f in info.files:
        path = origin / Path(f.fname).name
        files.append(
            dataclasses.replace(
                f, url=path.as_uri(), hash=hashlib.md5(path.read_bytes()).hexdigest()
            )
        )
    patched = dataclasses.replace(
        info, url=files[0].url, sha256=files[0].hash, more=tuple(files[1:])
    )
    monkeypatch.setitem(dl.KERAS_DOWNLOADS, "fashion_mnist", patched)
    return origin


def fashion_document() -> Document:
    data = copy.deepcopy(load_project(EXAMPLES / "seed_mlp.json").data)
    data["dataset"] = {"name": "fashion_mnist"}
    return Document(from_dict(data))


def test_fashion_mnist_is_offered_for_download_then_loads_as_images(
    make_panel, qtbot, keras_home, fashion_origin
):
    doc = fashion_document()
    panel = make_panel(doc)
    qtbot.waitUntil(lambda: panel.offer_shown, timeout=TIMEOUT)
    assert panel.offer_box.isVisible()
    assert panel.download_button.text() == "Download Fashion-MNIST (31 MB)"
    assert "4 files" in panel.download_button.toolTip()
    assert "not in the Keras cache" in panel.project_result.error
    before = spec_text(doc.data)
    progress = []
    panel.downloader.progress.connect(lambda done, total: progress.append((done, total)))
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.downloader.busy, timeout=TIMEOUT)
    folder = keras_home / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in fashion_origin.iterdir()
    )
    total = sum(p.stat().st_size for p in fashion_origin.iterdir())
    assert progress and progress[-1] == (total, total)
    assert spec_text(doc.data) == before  # the project did not change; its data now load
    qtbot.waitUntil(lambda: panel.data_ready, timeout=TIMEOUT)
    assert panel.dataset.n_samples == 40 and panel.dataset.image_shape == (28, 28, 1)
    assert panel.image_shape == (28, 28)
    assert panel.image_view.columns[0][0] == "T-shirt/top"
    assert not panel.offer_box.isVisible()


def test_fashion_mnist_offline_says_so_and_keeps_the_offer(
    make_panel, qtbot, keras_home, monkeypatch
):
    from support import fake_keras_server as H

    info = dataclasses.replace(dl.KERAS_DOWNLOADS["fashion_mnist"], url=H.closed_port_url())
    monkeypatch.setitem(dl.KERAS_DOWNLOADS, "fashion_mnist", info)
    panel = make_panel(fashion_document())
    qtbot.waitUntil(lambda: panel.offer_shown, timeout=TIMEOUT)
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.downloader.busy, timeout=TIMEOUT)
    message = panel.offer_message.text()
    assert message.startswith("Could not download Fashion-MNIST (train-labels-idx1-ubyte.gz)")
    assert "no connection to 127.0.0.1" in message
    assert panel.offer_box.isVisible() and panel.download_button.isEnabled()
    folder = keras_home / "datasets" / "fashion-mnist"
    assert not folder.is_dir() or list(folder.iterdir()) == []
