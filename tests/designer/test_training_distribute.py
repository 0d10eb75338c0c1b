"""Distributed training from the window: the Training panel's line on the project's
``distribute`` section, Play refusing a multiworker cluster (which trains from the command
line), and Play under ``{"strategy": "mirrored", "replicas": N}`` in the training process
(TensorFlow splits the CPU when it starts: another split gets a new process).

Every test waits with qtbot.waitUntil (no sleeps) and asserts on data.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow

from designer.document import Document
from designer.training.panel import TrainingPanel, distribute_text
from engine import edits
from engine.project import from_dict

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20_000
#: A training process that starts TensorFlow and traces a strategy's step: seconds on 2 cores.
TF_TIMEOUT = 120_000


def xor_spec(distribute: dict | None = None, **fit) -> dict:
    """resources/examples/xor.json on the TensorFlow backend, a few epochs."""
    spec = json.loads((ROOT / "resources/examples/xor.json").read_text())
    spec.pop("weights", None)
    spec.pop("history", None)
    spec["backend"] = "tensorflow"
    spec["fit"] = {**spec["fit"], "epochs": 3, **fit}
    if distribute is not None:
        spec["distribute"] = distribute
    return spec


def set_distribute(document, value) -> None:
    document.edit("Change distribute", lambda d: edits.set_setting(d, "distribute", value))


class Host(QMainWindow):
    """A stand-in main window: a document and the canvas, as the real one has."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        from designer.canvas.view import NetworkView

        self.document = Document(from_dict(copy.deepcopy(spec)))
        self.canvas = NetworkView(self.document)
        self.setCentralWidget(self.canvas)


@pytest.fixture
def make_window(qtbot):
    from designer.training import attach_training

    made = []

    def make(spec: dict):
        window = Host(spec)
        qtbot.addWidget(window)
        ctrl = attach_training(window)
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.resize(1400, 900)
        window.show()
        made.append(ctrl)
        return window, ctrl

    yield make
    for ctrl in made:
        ctrl.shutdown()
        assert ctrl.session.thread_finished


def tensorflow_or_skip() -> None:
    from engine.backends.tensorflow import tensorflow_available

    ok, reason = tensorflow_available()
    if not ok:
        pytest.skip(f"TensorFlow not usable here: {reason}")


# ------------------------------------------------------------------------------ the line
def test_the_panel_line_says_how_training_is_distributed_and_follows_the_project(qtbot):
    doc = Document(from_dict(xor_spec({"strategy": "mirrored", "replicas": 2}, batch_size=32)))
    panel = TrainingPanel(doc)
    qtbot.addWidget(panel)
    line = panel.distribute_label
    assert not line.isHidden()
    assert line.wordWrap()  # a narrow dock shows it on two lines, not cut short with "…"
    assert line.text() == (
        "MirroredStrategy · 2 replicas (logical CPU devices) · 16 samples per replica "
        "(global batch 32)"
    )
    doc.edit("batch", lambda d: edits.set_setting(d, "fit.batch_size", 33))
    assert "16–17 samples per replica (global batch 33)" in line.text()  # split unevenly
    set_distribute(doc, {"strategy": "mirrored", "replicas": 1})
    assert "1 replica (logical CPU device) · 33 samples per replica" in line.text()

    # Every GPU: TensorFlow counts them once a run starts.
    doc.edit("batch", lambda d: edits.set_setting(d, "fit.batch_size", 32))
    set_distribute(doc, {"strategy": "mirrored"})
    assert line.text() == "MirroredStrategy · every GPU · global batch 32, split over the GPUs"
    panel.show_replicas({"strategy": "mirrored"}, "tensorflow", 4)
    assert line.text() == (
        "MirroredStrategy · every GPU (4 replicas) · 8 samples per replica (global batch 32)"
    )
    set_distribute(doc, {"strategy": "mirrored", "replicas": 2})  # not what was counted
    assert line.text().startswith("MirroredStrategy · 2 replicas")

    set_distribute(doc, {"strategy": "multiworker"})
    assert line.text().startswith("MultiWorkerMirroredStrategy · trains from the command line")

    doc.edit("backend", lambda d: edits.set_setting(d, "backend", "numpy"))
    assert line.isHidden()  # validation says why: TensorFlow's strategies only
    doc.undo_stack.undo()
    assert not line.isHidden()
    set_distribute(doc, None)
    assert line.isHidden() and line.text() == ""


def test_distribute_text_without_a_section_is_empty():
    assert distribute_text(from_dict(xor_spec())) == ""
    spec = xor_spec({"strategy": "mirrored", "replicas": 3}, batch_size=16)
    assert distribute_text(from_dict(spec)).endswith("5–6 samples per replica (global batch 16)")
    assert distribute_text(from_dict(xor_spec({"strategy": "mirrored"})), 1).startswith(
        "MirroredStrategy · every GPU (1 replica) · 16 samples per replica"
    )


# ------------------------------------------------------------------------------ multiworker
def test_play_refuses_a_multiworker_cluster_inline_and_starts_nothing(qtbot, make_window):
    window, ctrl = make_window(xor_spec({"strategy": "multiworker"}))
    play = ctrl.panel.actions["play"]
    assert not play.isEnabled()
    assert "command line" in play.toolTip()
    text = ctrl.panel.message_text
    assert ctrl.panel.message_level == "warning"
    assert "nndesigner train PROJECT --backend tensorflow --distribute multiworker" in text
    assert "TF_CONFIG" in text and "mirrored" in text
    ctrl.play()
    ctrl.step()
    assert not ctrl.train_blocking(timeout_s=30)  # at once: nothing to wait for
    assert ctrl.session._host is None  # no training process started
    assert ctrl.state == "idle"
    assert ctrl.panel.message_text == text  # still said

    set_distribute(window.document, {"strategy": "mirrored", "replicas": 2})
    assert play.isEnabled()
    assert ctrl.panel.message_text == ""  # the refusal is taken back
    set_distribute(window.document, {"strategy": "multiworker"})
    assert ctrl.panel.message_text == text


def test_the_training_worker_refuses_a_multiworker_cluster_too(qtbot):
    from designer.workers import RunConfig, TrainingSession

    session = TrainingSession(mode="thread")
    errors = []
    session.error.connect(errors.append)
    session.configure(RunConfig(xor_spec({"strategy": "multiworker"})))
    session.play()
    qtbot.waitUntil(lambda: bool(errors), timeout=TIMEOUT)
    assert "trains from the command line" in errors[0]
    assert session.state == "idle"
    session.shutdown()
    assert session.thread_finished


# ------------------------------------------------------------------------------ mirrored
@pytest.mark.slow
def test_play_trains_under_a_mirrored_strategy_in_the_training_process(qtbot, make_window):
    tensorflow_or_skip()
    window, ctrl = make_window(xor_spec({"strategy": "mirrored", "replicas": 2}))
    assert ctrl.session.mode == "process"
    assert ctrl.train_blocking(timeout_s=TF_TIMEOUT / 1000)
    assert ctrl.errors == []
    build = ctrl._last_build
    assert build["replicas"] == 2  # the strategy's num_replicas_in_sync
    history = window.document.project.history
    assert len(history["loss"]) == 3 and len(history["val_loss"]) == 3
    assert window.document.project.weights
    assert ctrl.panel.distribute_label.text().startswith(
        "MirroredStrategy · 2 replicas (logical CPU devices) · 8 samples per replica"
    )
    first = ctrl.session.worker_pid()

    # Without a section, the same process (its first CPU device) trains on.
    set_distribute(window.document, None)
    assert not ctrl.session.new_process_for(window.document.data)
    assert ctrl.train_blocking(timeout_s=TF_TIMEOUT / 1000)
    assert ctrl.session.worker_pid() == first and ctrl._last_build["replicas"] == 1

    # Another split of the CPU: a new process, where TensorFlow starts with 3 devices.
    set_distribute(window.document, {"strategy": "mirrored", "replicas": 3})
    assert ctrl.session.new_process_for(window.document.data)
    assert ctrl.train_blocking(timeout_s=TF_TIMEOUT / 1000)
    assert ctrl.errors == []
    assert ctrl.session.worker_pid() != first
    assert ctrl._last_build["replicas"] == 3


@pytest.mark.slow
def test_another_split_while_training_goes_on_from_the_weights_in_a_new_process(qtbot, make_window):
    tensorflow_or_skip()
    window, ctrl = make_window(xor_spec({"strategy": "mirrored", "replicas": 2}, epochs=100_000))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.history.gsteps > 5, timeout=TF_TIMEOUT)
    first = ctrl.session.worker_pid()
    run = ctrl.run_id
    ctrl.ask_rebuild = lambda: True
    set_distribute(window.document, {"strategy": "mirrored", "replicas": 1})
    qtbot.waitUntil(
        lambda: ctrl._last_build is not None and ctrl._last_build["replicas"] == 1,
        timeout=TF_TIMEOUT,
    )
    build = ctrl._last_build
    assert build["continued"]  # the stopped run's weights, handed over, went on
    steps = ctrl.history.gsteps
    qtbot.waitUntil(lambda: ctrl.history.gsteps > steps + 5, timeout=TF_TIMEOUT)
    assert ctrl.state == "running" and ctrl.run_id == run
    assert ctrl.session.worker_pid() != first
    ctrl.stop()
    qtbot.waitUntil(lambda: ctrl.state == "idle", timeout=TIMEOUT)
    assert ctrl.errors == []


@pytest.mark.slow
def test_a_thread_whose_tensorflow_started_says_why_it_cannot_split(
    qtbot, make_window, monkeypatch
):
    tensorflow_or_skip()
    import tensorflow as tf

    tf.config.list_logical_devices("CPU")  # TensorFlow starts in this process
    monkeypatch.setenv("NND_TRAINING_WORKER", "thread")
    cpus = len(tf.config.list_logical_devices("CPU"))
    window, ctrl = make_window(xor_spec({"strategy": "mirrored", "replicas": cpus + 1}))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.panel.message_level == "error", timeout=TF_TIMEOUT)
    text = ctrl.panel.message_text
    assert f"cannot split the CPU into {cpus + 1} devices" in text
    assert "restart NN Designer" in text
    assert ctrl.state == "idle"
