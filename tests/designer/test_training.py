"""Training from the window: the worker thread, the controller, the panel and the live views.

Every test waits with qtbot.waitUntil / waitSignal (no sleeps) and asserts on data (history
arrays, images handed to the views, the project's weights), not on pixels. Qt warnings fail
the tests (qt_log_level_fail = WARNING), which is how cross-thread mistakes show.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow

from designer.document import Document
from engine import edits
from engine.project import from_dict

ROOT = Path(__file__).resolve().parents[2]

TIMEOUT = 20_000


def tiny_spec(**fit) -> dict:
    return {
        "format_version": 1,
        "name": "tiny",
        "model": {
            "input_shape": [2],
            "layers": [
                {
                    "class_name": "Dense",
                    "config": {"name": "hidden", "units": 6, "activation": "tanh"},
                },
                {
                    "class_name": "Dense",
                    "config": {"name": "out", "units": 2, "activation": "softmax"},
                },
            ],
        },
        "compile": {
            "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.05}},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {
            "epochs": 3,
            "batch_size": 16,
            "validation_split": 0.25,
            "shuffle": True,
            "seed": 1,
            **fit,
        },
        "dataset": {"name": "moons", "n_samples": 120, "noise": 0.1},
        "backend": "numpy",
        "dtype": "float32",
    }


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

    def make(spec: dict | None = None, show: bool = True):
        window = Host(spec or tiny_spec())
        qtbot.addWidget(window)
        ctrl = attach_training(window)
        if show:
            window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            window.resize(1400, 900)
            window.show()
        made.append(ctrl)
        return window, ctrl

    yield make
    for ctrl in made:
        ctrl.shutdown()
        assert ctrl.session.thread_finished


def wait_finished(qtbot, ctrl, runs: int = 1) -> None:
    qtbot.waitUntil(lambda: ctrl.finished_runs >= runs and ctrl.state == "idle", timeout=TIMEOUT)


def wait_idle(qtbot, ctrl) -> None:
    qtbot.waitUntil(
        lambda: ctrl.session.state in ("idle", "paused") and ctrl.state in ("idle", "paused"),
        timeout=TIMEOUT,
    )


# ------------------------------------------------------------------------------ the worker
def test_session_trains_and_keeps_every_step(qtbot):
    from designer.workers import RunConfig, TrainingSession

    session = TrainingSession()
    steps, epochs, kinds = [], [], []

    def on(batch):
        steps.extend(batch.steps)
        epochs.extend(batch.epochs)
        kinds.extend(ev[0] for ev in batch.events)

    session.drained.connect(on)
    session.configure(RunConfig(tiny_spec(epochs=4)))
    session.play()
    qtbot.waitUntil(lambda: "finished" in kinds, timeout=TIMEOUT)
    session.drain()
    spe = math.ceil(90 / 16)
    assert [s.gstep for s in steps] == list(range(1, 4 * spe + 1))  # none lost, in order
    assert [e[0] for e in epochs] == [1, 2, 3, 4]
    assert all(math.isfinite(s.batch_loss) for s in steps)
    assert session.drains < len(steps)  # coalesced: fewer drains than steps
    session.shutdown()
    assert session.thread_finished
    session.shutdown()  # idempotent


def test_worker_exception_reaches_the_user_and_the_project_is_untouched(
    qtbot, make_window, monkeypatch
):
    """An exception in a thread worker (the fallback mode, where a fault can be injected)."""
    import designer.worker_core as worker_core

    monkeypatch.setenv("NND_TRAINING_WORKER", "thread")
    window, ctrl = make_window()
    assert ctrl.session.mode == "thread"
    before = window.document.project.weights

    def broken(*_a, **_k):
        raise RuntimeError("the data source exploded")

    monkeypatch.setattr(worker_core, "make_model", broken)
    with qtbot.waitSignal(ctrl.session.error, timeout=TIMEOUT) as blocker:
        ctrl.play()
    assert "the data source exploded" in blocker.args[0]
    assert "worker_core.py" not in blocker.args[0] or "RuntimeError" in blocker.args[0]
    qtbot.waitUntil(lambda: ctrl.panel.message_level == "error", timeout=TIMEOUT)
    assert "exploded" in ctrl.panel.message_text and "not changed" in ctrl.panel.message_text
    assert window.document.project.weights is before is None
    # The app keeps working: without the fault, training runs.
    monkeypatch.undo()
    ctrl.play()
    wait_finished(qtbot, ctrl)
    assert window.document.project.weights is not None


def test_a_failure_in_the_training_process_reaches_the_user(qtbot, make_window, tmp_path):
    """The default worker is a child process: a data file that breaks after the project was
    checked fails there, and the message (naming the file) reaches the window."""
    data = tmp_path / "points.csv"
    data.write_text("x,y,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    spec = tiny_spec()
    spec["dataset"] = {"path": str(data), "target": "label"}
    window, ctrl = make_window(spec)
    assert ctrl.session.mode == "process"
    data.write_text("x,y,label\n1,2\n")  # broken after the window checked it
    with qtbot.waitSignal(ctrl.session.error, timeout=TIMEOUT) as blocker:
        ctrl.play()
    assert "points.csv" in blocker.args[0]
    assert ctrl.session.worker_pid() != os.getpid()
    assert window.document.project.weights is None


def test_a_killed_training_process_is_reported_and_the_next_play_starts_another(qtbot, make_window):
    """SIGKILL (what the out-of-memory killer sends) mid-run: the window says so, keeps the
    weights and history handed over last, and Play goes on from them in a new process."""
    window, ctrl = make_window(tiny_spec(epochs=1_000_000))
    p = window.document.project
    ctrl.play()
    qtbot.waitUntil(lambda: len(ctrl.history.epochs.get("loss", [])) >= 2, timeout=TIMEOUT)
    ctrl.pause()
    qtbot.waitUntil(lambda: ctrl.handoffs >= 1 and ctrl.state == "paused", timeout=TIMEOUT)
    handed = {k: v.copy() for k, v in p.weights.items()}
    losses = list(p.history["loss"])
    ctrl.activity.sample_spin.setValue(2)  # the activity view's sample outlives the process
    g = ctrl.history.gsteps
    ctrl.play()  # the same run goes on...
    qtbot.waitUntil(lambda: ctrl.history.gsteps > g + 3, timeout=TIMEOUT)
    pid = ctrl.session.worker_pid()
    assert pid != os.getpid()
    with qtbot.waitSignal(ctrl.session.error, timeout=TIMEOUT) as blocker:
        os.kill(pid, signal.SIGKILL)  # ...until its process is killed
    assert "stopped unexpectedly" in blocker.args[0] and "SIGKILL" in blocker.args[0]
    qtbot.waitUntil(lambda: ctrl.state == "idle", timeout=TIMEOUT)
    assert "stopped unexpectedly" in ctrl.panel.message_text
    assert "not changed" in ctrl.panel.message_text
    assert all(np.array_equal(p.weights[k], v) for k, v in handed.items())
    # Play starts a new process, from the weights and history handed over last.
    k = len(losses)
    window.document.edit("epochs", lambda d: edits.set_setting(d, "fit.epochs", k + 1))
    drawn = len(ctrl.history.epochs["loss"])
    ctrl.play()
    wait_finished(qtbot, ctrl)
    assert ctrl.session.worker_pid() not in (pid, os.getpid())
    # (A fresh start would reproduce the same losses from the seed: check the build itself.)
    assert ctrl._last_build["continued"] and ctrl._last_build["epochs_done"] == k
    assert p.history["loss"][:k] == losses and len(p.history["loss"]) == k + 1
    assert len(ctrl.history.epochs["loss"]) == drawn + 1  # the new process's epoch is drawn
    assert ctrl.history.gsteps > g  # and its steps count on
    assert ctrl.snapshot.sample_index == 2


def test_the_training_process_sees_the_environment_of_the_moment(
    qtbot, make_window, monkeypatch, tmp_path
):
    """Fork-server children start from the server's environment; the session hands them the
    window's current one (here KERAS_HOME, set after the server started)."""
    _, first = make_window(show=False)
    assert first.session.worker_pid() != os.getpid()  # the fork server runs
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "elsewhere"))
    spec = json.loads((ROOT / "resources" / "examples" / "seed_mlp.json").read_text())
    window, ctrl = make_window(spec, show=False)
    with qtbot.waitSignal(ctrl.session.error, timeout=TIMEOUT) as blocker:
        ctrl.play()
    assert str(tmp_path / "elsewhere") in blocker.args[0]


def test_early_stopping_ends_the_run_and_the_window_says_why_and_when(qtbot, make_window):
    spec = tiny_spec(epochs=30)
    spec["fit"]["callbacks"] = [
        {
            "class_name": "EarlyStopping",
            # an improvement no run makes: it stops after patience + 1 epochs
            "config": {
                "monitor": "loss",
                "patience": 1,
                "min_delta": 100.0,
                "restore_best_weights": True,
            },
        }
    ]
    window, ctrl = make_window(spec)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    text = ctrl.panel.message_text
    assert "Stopped early after epoch 2" in text, text
    assert "EarlyStopping: loss has not improved for 1 epoch" in text
    assert "the weights of epoch 1 (the best loss) restored" in text
    assert len(window.document.project.history["loss"]) == 2
    # Play again: a new fit, the callback anew (two more epochs)
    ctrl.play()
    wait_finished(qtbot, ctrl, runs=2)
    assert len(window.document.project.history["loss"]) == 4


def test_a_window_that_never_trains_starts_no_worker(qtbot, make_window):
    """Showing the window, picking a sample or pressing Reset starts no process; the sample
    picked before the first Play reaches the worker with it."""
    window, ctrl = make_window()
    ctrl.session.select_sample(3)  # (the view's own box has no range before a build)
    ctrl.reset()
    qtbot.waitUntil(lambda: ctrl.history.run_id != -1, timeout=TIMEOUT)  # the reset answered
    assert ctrl.session._host is None
    ctrl.play()
    wait_finished(qtbot, ctrl)
    assert ctrl.session._host is not None
    assert ctrl.snapshot.sample_index == 3


def test_without_processes_training_falls_back_to_a_thread(qtbot, make_window, monkeypatch):
    import designer.workers as workers

    real = workers._mp_context()

    class NoProcesses:
        """A multiprocessing context whose processes cannot start (a locked-down sandbox)."""

        Pipe = staticmethod(real.Pipe)

        @staticmethod
        def Process(**kwargs):  # noqa: N802 - multiprocessing's name
            process = real.Process(**kwargs)

            def refuse() -> None:
                raise OSError("no process for you")

            process.start = refuse
            return process

    monkeypatch.setattr(workers, "_mp_context", NoProcesses)
    window, ctrl = make_window()
    ctrl.play()
    # The commands the process never got go to the thread: the run goes on, with a notice.
    wait_finished(qtbot, ctrl)
    assert ctrl.errors == []
    assert ctrl.panel.message_level == "warning"
    assert "could not run in a separate process" in ctrl.panel.message_text
    assert "no process for you" in ctrl.panel.message_text
    assert ctrl.session.mode == "thread"
    assert ctrl.session.worker_pid() == os.getpid()
    assert len(window.document.project.history["loss"]) == 3


def test_a_process_that_dies_at_start_up_twice_gives_way_to_a_thread(
    qtbot, make_window, monkeypatch
):
    """A child that ends before it reports anything (a broken installation, say): each time
    the window says so; after the second, training moves to a thread and runs."""
    import designer.workers as workers

    real = workers._mp_context()

    class DyingProcesses:
        Pipe = staticmethod(real.Pipe)

        @staticmethod
        def Process(**kwargs):  # noqa: N802 - multiprocessing's name
            return real.Process(target=os._exit, args=(3,), name=kwargs.get("name"))

    monkeypatch.setattr(workers, "_mp_context", DyingProcesses)
    window, ctrl = make_window()
    for _ in range(2):
        with qtbot.waitSignal(ctrl.session.error, timeout=TIMEOUT) as blocker:
            ctrl.play()
        assert "stopped unexpectedly: it exited with status 3" in blocker.args[0]
        qtbot.waitUntil(lambda: ctrl.state == "idle", timeout=TIMEOUT)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    assert ctrl.session.mode == "thread"
    assert "could not run in a separate process" in ctrl.panel.message_text
    assert len(window.document.project.history["loss"]) == 3


def test_a_spawned_training_process_trains(qtbot, monkeypatch):
    """macOS and Windows start processes by spawning (no fork server): the same session
    works that way."""
    import multiprocessing

    import designer.workers as workers
    from designer.workers import RunConfig, TrainingSession

    monkeypatch.setattr(workers, "_mp_context", lambda: multiprocessing.get_context("spawn"))
    session = TrainingSession(mode="process")
    finished = []
    session.drained.connect(lambda b: finished.extend(e for e in b.events if e[0] == "finished"))
    session.configure(RunConfig(tiny_spec(epochs=2)))
    session.play()
    qtbot.waitUntil(lambda: bool(finished), timeout=60_000)
    assert finished[0][1] == 2
    assert session.worker_pid() != os.getpid()
    session.shutdown()
    assert session.thread_finished


# ------------------------------------------------------------------------------ controls
def test_play_trains_hands_weights_to_the_project_and_plots_receive_the_history(qtbot, make_window):
    window, ctrl = make_window()
    ctrl.play()
    wait_finished(qtbot, ctrl)
    ctrl.render_views(all_views=True)
    h = ctrl.history
    p = window.document.project
    assert set(p.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert len(p.history["loss"]) == 3 == len(h.epochs["loss"])
    assert sorted(p.weights) == ["hidden/bias", "hidden/kernel", "out/bias", "out/kernel"]
    # The loss plot shows exactly the history: every step, and one point per epoch.
    x, y = ctrl.loss_plot.raw_loss.getData()
    np.testing.assert_array_equal(x, h.step_x.data)
    np.testing.assert_array_equal(y, h.batch_loss.data)
    assert len(x) == h.gsteps == 3 * math.ceil(90 / 16)
    ex, ey = ctrl.loss_plot.val_loss.getData()
    np.testing.assert_allclose(ey, p.history["val_loss"])
    np.testing.assert_array_equal(ex, [1.0, 2.0, 3.0])
    assert x.dtype == np.float64
    # Layer statistics: one gradient-norm curve per layer with weights, fed by snapshots.
    assert sorted(ctrl.layer_stats.norm_curves) == ["hidden", "out"]
    gx, gy = ctrl.layer_stats.norm_curves["hidden"].getOriginalDataset()
    assert len(gx) >= 1 and np.all(gy > 0)
    # The progress bar says where it is.
    assert ctrl.panel.progress.format() == "Epoch 3/3"
    # Play again continues for another fit.epochs epochs.
    ctrl.play()
    wait_finished(qtbot, ctrl, runs=2)
    assert len(p.history["loss"]) == 6


def test_step_and_step_epoch_and_pause_keep_the_epoch(qtbot, make_window):
    window, ctrl = make_window()
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.history.gsteps == 1 and ctrl.state == "paused", timeout=TIMEOUT)
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.history.gsteps == 2, timeout=TIMEOUT)
    assert ctrl.history.epochs == {}
    ctrl.step_epoch()
    spe = math.ceil(90 / 16)
    qtbot.waitUntil(lambda: len(ctrl.history.epoch_x) == 1, timeout=TIMEOUT)
    wait_idle(qtbot, ctrl)
    assert ctrl.history.gsteps == spe  # the step epoch finished the epoch begun by the steps
    assert window.document.project.weights is not None  # handed over on pause


def test_reset_reinitialises_from_the_seed_and_keeps_the_old_run_faint(qtbot, make_window):
    window, ctrl = make_window()
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.history.gsteps == 1, timeout=TIMEOUT)
    first = ctrl.snapshot.layers["hidden"].kernel.copy()
    ctrl.play()
    wait_finished(qtbot, ctrl)
    trained = window.document.project.weights["hidden/kernel"].copy()
    assert not np.allclose(trained, first)
    ctrl.reset()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.snapshot.step == 0, timeout=TIMEOUT)
    assert window.document.project.weights is None
    assert ctrl.loss_plot.earlier_runs == 1
    assert ctrl.history.gsteps == 0
    # Re-initialised with the seed: the kernel equals a fresh model's.
    from designer.workers import make_model
    from engine.validate import check_project

    fresh = make_model(window.document.project, check_project(window.document.project))
    np.testing.assert_array_equal(
        ctrl.snapshot.layers["hidden"].kernel, fresh.get_weights()["hidden"]["kernel"]
    )
    ctrl.loss_plot.clear_earlier()
    assert ctrl.loss_plot.earlier_runs == 0


def test_play_is_disabled_with_the_reason_while_the_project_is_invalid(qtbot, make_window):
    window, ctrl = make_window()
    play = ctrl.panel.actions["play"]
    assert play.isEnabled()
    window.document.edit("bad", lambda d: edits.set_setting(d, "fit.batch_size", 0))
    assert not play.isEnabled()
    assert "batch_size" in play.toolTip()
    assert play in ctrl.toolbar.actions()
    window.document.undo_stack.undo()
    assert play.isEnabled()


def test_learning_rate_applies_live(qtbot, make_window):
    window, ctrl = make_window(tiny_spec(epochs=1_000_000))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.history.gsteps > 5, timeout=TIMEOUT)
    asked = []
    ctrl.ask_rebuild = lambda: asked.append(1) or True
    ctrl.panel.lr_spin.setValue(0.0123)  # the panel edits the document...
    opt = window.document.project.compile["optimizer"]
    assert opt["config"]["learning_rate"] == pytest.approx(0.0123)
    ctrl.pause()
    wait_idle(qtbot, ctrl)
    # ...and the worker's model got it without a rebuild or a question.
    assert not asked
    assert ctrl.last_handoff["learning_rate"] == pytest.approx(0.0123)
    assert ctrl.run_id == 1


def test_rebuild_change_while_running_asks_and_no_undoes_it(qtbot, make_window):
    window, ctrl = make_window(tiny_spec(epochs=1_000_000))  # still running when edited
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.history.gsteps > 3, timeout=TIMEOUT)
    ctrl.ask_rebuild = lambda: False
    window.document.edit("batch", lambda d: edits.set_setting(d, "fit.batch_size", 8))
    qtbot.waitUntil(lambda: window.document.project.fit["batch_size"] == 16, timeout=TIMEOUT)
    assert ctrl.state == "running"
    ctrl.stop()
    wait_idle(qtbot, ctrl)


def test_editing_the_network_asks_to_keep_the_weights_of_unchanged_layers(qtbot, make_window):
    window, ctrl = make_window()
    ctrl.play()
    wait_finished(qtbot, ctrl)
    trained = {k: v.copy() for k, v in window.document.project.weights.items()}
    asked = []
    ctrl.ask_keep_weights = lambda changed: asked.append(changed) or True
    window.document.edit("units", lambda d: edits.set_param(d, "hidden", "units", 9))
    assert asked == [["hidden", "out"]]  # out's kernel shape (6, 2) became (9, 2)
    ctrl.ask_keep_weights = lambda changed: pytest.fail("asked twice")
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.history.gsteps >= 1 and ctrl.state == "paused", timeout=TIMEOUT)
    assert window.document.project.weights["hidden/kernel"].shape == (2, 9)
    assert not np.allclose(
        window.document.project.weights["hidden/kernel"][:, :6], trained["hidden/kernel"]
    )


def test_keep_weights_keeps_unchanged_layers(qtbot, make_window):
    spec = tiny_spec()
    spec["model"]["layers"].insert(
        1, {"class_name": "Dense", "config": {"name": "mid", "units": 6, "activation": "tanh"}}
    )
    window, ctrl = make_window(spec)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    trained = {k: v.copy() for k, v in window.document.project.weights.items()}
    asked = []
    ctrl.ask_keep_weights = lambda changed: asked.append(changed) or True
    window.document.edit("units", lambda d: edits.set_param(d, "mid", "units", 5))
    assert asked == [["mid", "out"]]
    ctrl.step()
    qtbot.waitUntil(lambda: bool(ctrl._last_build and ctrl._last_build["kept"]), timeout=TIMEOUT)
    assert ctrl._last_build["kept"] == ["hidden"]
    # 'hidden' started from its trained weights (one step moved them only a little).
    qtbot.waitUntil(lambda: ctrl.state == "paused", timeout=TIMEOUT)
    built = ctrl._last_build["weights"]
    np.testing.assert_array_equal(built["hidden/kernel"], trained["hidden/kernel"])


def test_reinitialise_answer_drops_the_trained_weights(qtbot, make_window):
    window, ctrl = make_window()
    ctrl.play()
    wait_finished(qtbot, ctrl)
    ctrl.ask_keep_weights = lambda changed: False
    window.document.edit("units", lambda d: edits.set_param(d, "hidden", "units", 4))
    assert window.document.project.weights is None
    assert ctrl.loss_plot.earlier_runs == 1
    ctrl.step()
    qtbot.waitUntil(
        lambda: ctrl.state == "paused" and ctrl._last_build is not None, timeout=TIMEOUT
    )
    assert ctrl._last_build["kept"] == [] and not ctrl._last_build["continued"]


# ------------------------------------------------------------------------------ divergence
def nan_spec() -> dict:
    spec = tiny_spec(epochs=5)
    spec["model"]["layers"] = [
        {"class_name": "Dense", "config": {"name": "hidden", "units": 8, "activation": "relu"}},
        {"class_name": "Dense", "config": {"name": "out", "units": 1, "activation": "linear"}},
    ]
    spec["compile"] = {
        "optimizer": {"class_name": "SGD", "config": {"learning_rate": 1e8}},
        "loss": "mean_squared_error",
        "metrics": [],
    }
    spec["dataset"] = {"name": "moons", "n_samples": 200}
    return spec


def test_nan_stops_within_one_step_restores_weights_and_says_where(qtbot, make_window):
    from engine.training import Trainer, load_training_data
    from engine.validate import check_project

    window, ctrl = make_window(nan_spec())
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.history.divergence is not None, timeout=TIMEOUT)
    wait_idle(qtbot, ctrl)
    div = ctrl.history.divergence
    # The same run headless: where it stops, and the weights it keeps.
    project = from_dict(nan_spec())
    graph = check_project(project)
    from designer.workers import make_model

    model = make_model(project, graph)
    trainer = Trainer(model, load_training_data(project, graph), 16, True, 1)
    end = list(trainer.run(5))[-1]
    assert end.error is not None
    assert (div["epoch"], div["step"], div["layer"]) == (
        end.error.epoch,
        end.error.step,
        end.error.layer,
    )
    # Stopped within one step: no step at or after the bad one was recorded.
    assert ctrl.history.gsteps == end.error.step - 1
    msg = ctrl.panel.message_text
    assert f"epoch {div['epoch']}, step {div['step']}" in msg
    assert "out" in msg and "learning rate" in msg and "restored" in msg
    assert ctrl.panel.message_level == "warning"
    weights = window.document.project.weights
    assert all(np.isfinite(w).all() for w in weights.values())
    for key, arr in model.flat_weights().items():
        np.testing.assert_array_equal(weights[key], arr)
    # Plots stay readable: finite data only, and a marker at the divergence.
    ctrl.render_views(all_views=True)
    _, y = ctrl.loss_plot.raw_loss.getData()
    assert np.isfinite(y).all()
    assert ctrl.loss_plot.nan_line.isVisible()
    # NaN never counts as best.
    ctrl.history.epochs["val_loss"] = [float("nan"), 0.5, float("inf")]
    assert ctrl.history.best("val_loss") == (0.5, 2)


# ------------------------------------------------------------------------------ backends
def test_backend_switch_mid_training_keeps_the_weights(qtbot, make_window):
    from engine.backends.tensorflow import tensorflow_available

    ok, reason = tensorflow_available()
    if not ok:
        pytest.skip(f"TensorFlow not usable here: {reason}")
    window, ctrl = make_window(tiny_spec(epochs=1000))
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.history.gsteps > 8, timeout=TIMEOUT)
    ctrl.pause()
    wait_idle(qtbot, ctrl)
    before = {k: v.copy() for k, v in window.document.project.weights.items()}
    steps_before = ctrl.history.gsteps
    ctrl.ask_keep_weights = lambda changed: pytest.fail(f"nothing changed shape: {changed}")
    window.document.edit("backend", lambda d: edits.set_setting(d, "backend", "tensorflow"))
    ctrl.step()
    qtbot.waitUntil(
        lambda: ctrl._last_build is not None and ctrl._last_build["backend"] == "tensorflow",
        timeout=60_000,
    )
    build = ctrl._last_build
    assert build["continued"] and sorted(build["kept"]) == ["hidden", "out"]
    for key, arr in before.items():
        np.testing.assert_allclose(build["weights"][key], arr, rtol=1e-6, atol=1e-7)
    qtbot.waitUntil(
        lambda: ctrl.history.gsteps > steps_before and ctrl.state == "paused", timeout=60_000
    )
    assert ctrl.run_id == 1  # the same run goes on: the curves continue
    assert "optimizer state" in ctrl.panel.message_text


# ------------------------------------------------------------------------------ views
def test_decision_boundary_updates_on_a_2d_set(qtbot, make_window):
    spec = tiny_spec(epochs=30)
    spec["dataset"] = {"name": "spiral", "n_samples": 120, "noise": 0.05, "standardize": True}
    window, ctrl = make_window(spec)
    view = ctrl.boundary
    ctrl.docks["boundary"].raise_()
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    ctrl.render_views(all_views=True)
    first = view.boundary_image.copy()
    assert first.shape == (80, 80, 2)
    np.testing.assert_allclose(first.sum(axis=-1), 1.0, atol=1e-5)
    img = view.image.image
    assert img.shape == (80, 80, 3) and img.dtype == np.uint8
    # The image spans the data (the grid's extent), train and validation points on top.
    rect = view.image.mapRectToParent(view.image.boundingRect())
    x0, x1, y0, y1 = ctrl.info.points["extent"]
    assert rect.left() == pytest.approx(x0) and rect.right() == pytest.approx(x1)
    assert len(view.train_points.data) == 90 and len(view.val_points.data) == 30
    # Hidden neuron maps: one tile per unit of the hidden layer.
    assert list(view.map_items) == ["hidden"]
    assert ctrl.snapshot.neuron_maps["hidden"].shape == (6, 28, 28)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    ctrl.render_views(all_views=True)
    assert not np.allclose(view.boundary_image, first, atol=1e-3)


def test_weight_tiles_and_predictions_on_digits(qtbot, make_window):
    spec = tiny_spec(epochs=1)
    spec["model"] = {
        "input_shape": [64],
        "layers": [
            {
                "class_name": "Dense",
                "config": {"name": "hidden", "units": 12, "activation": "relu"},
            },
            {
                "class_name": "Dense",
                "config": {"name": "out", "units": 10, "activation": "softmax"},
            },
        ],
    }
    spec["dataset"] = {"name": "digits", "standardize": True}
    spec["fit"]["batch_size"] = 64
    window, ctrl = make_window(spec)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    ctrl.render_views(all_views=True)
    for view in (ctrl.tiles, ctrl.predictions, ctrl.confusion):
        view.refresh(force=True)
    assert ctrl.tiles.tiles.shape == (12, 8, 8)
    np.testing.assert_array_equal(
        ctrl.tiles.tiles, window.document.project.weights["hidden/kernel"].T.reshape(12, 8, 8)
    )
    assert ctrl.tiles.image.image is not None
    info = ctrl.info
    assert info.sample_images.shape == (24, 8, 8)
    grid = ctrl.predictions
    assert grid.wrong is not None and grid.wrong.shape == (24,)
    for i, text in enumerate(grid.texts):
        assert ("✗" in text.text()) == bool(grid.wrong[i])
    assert ctrl.docks["tiles"].isVisibleTo(window) and not ctrl.docks["boundary"].isVisibleTo(
        window
    )


def test_confusion_matrix_matches_sklearn_on_the_validation_split(qtbot, make_window):
    from sklearn.metrics import confusion_matrix

    from designer.workers import make_model
    from engine.training import load_training_data
    from engine.validate import check_project

    spec = tiny_spec(epochs=4)
    spec["dataset"] = {"name": "blobs", "n_samples": 150, "centers": 3}
    spec["model"]["layers"][1]["config"]["units"] = 3
    window, ctrl = make_window(spec)
    ctrl.play()
    wait_finished(qtbot, ctrl)
    ctrl.confusion.refresh(force=True)
    project = window.document.project
    graph = check_project(project)
    data = load_training_data(project, graph)
    model = make_model(project, graph)
    model.set_flat_weights(project.weights)
    expected = confusion_matrix(
        data.y_val, model.predict(data.x_val).argmax(axis=1), labels=[0, 1, 2]
    )
    np.testing.assert_array_equal(ctrl.confusion.matrix, expected)
    assert ctrl.report.epoch == 4 and ctrl.report.split == "validation"
    np.testing.assert_allclose(ctrl.confusion.per_class, np.diag(expected) / expected.sum(axis=1))
    texts = [t.text() for t in ctrl.confusion.texts]
    assert texts == [str(v) for v in expected.ravel()]


def test_network_activity_view_colours_neurons_and_edges(qtbot, make_window):
    window, ctrl = make_window()
    view = ctrl.activity
    ctrl.docks["activity"].raise_()
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    view.refresh(force=True)
    assert [c.name for c in view.columns] == ["input", "hidden", "out"]
    assert [len(c.neurons) for c in view.columns] == [2, 6, 2]
    kernel = ctrl.snapshot.layers["hidden"].kernel
    np.testing.assert_array_equal(view.edge_weights("hidden"), kernel)
    # Edge colour follows the sign of its weight; its width the magnitude.
    edges = next(lk for lk in view.links if lk[0] == "hidden")[3]
    big = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pen = edges[big[0]][big[1]].pen()
    assert pen.widthF() == pytest.approx(max(p.pen().widthF() for row in edges for p in row))
    from designer.training.colors import NEGATIVE, POSITIVE

    want = POSITIVE if kernel[big] > 0 else NEGATIVE
    assert pen.color().name() == want
    # Neurons show the selected sample's activations; another sample, other values.
    a0 = view.neuron_values("hidden")
    np.testing.assert_allclose(a0, ctrl.snapshot.activations["hidden"])
    view.sample_spin.setValue(5)
    qtbot.waitUntil(lambda: ctrl.snapshot.sample_index == 5, timeout=TIMEOUT)
    view.refresh(force=True)
    assert not np.allclose(view.neuron_values("hidden"), a0)


def test_network_activity_view_aggregates_large_layers():
    from designer.training.activity import GROUPS, _groups

    groups = _groups(128)
    assert len(groups) == GROUPS and sum(len(g) for g in groups) == 128
    assert len(_groups(32)) == 32


def test_canvas_badge_marks_a_dying_layer(qtbot, make_window):
    from engine.monitor import LayerStats, Snapshot

    window, ctrl = make_window()
    snap = Snapshot(step=1, epoch=1)
    snap.layers["hidden"] = LayerStats("hidden", dead_fraction=0.75)
    ctrl._update_badges(snap.warnings())
    badges = ctrl.badge_texts()
    assert list(badges) == ["hidden"] and "dying: 75%" in badges["hidden"]
    ctrl._update_badges({})
    assert ctrl.badge_texts() == {}


def test_loss_plot_log_scale_and_earlier_runs_are_bounded(qtbot):
    from designer.training.history import RunHistory
    from designer.training.views.loss import MAX_EARLIER_RUNS, LossPlot
    from designer.workers import StepRecord

    plot = LossPlot()
    qtbot.addWidget(plot)
    items_before = len(plot.loss_plot.items)
    for run in range(MAX_EARLIER_RUNS + 3):
        h = RunHistory(run)
        h.add_steps(
            [
                StepRecord(i, 1, i, 10, i / 10, 1.0 / (i + 1), {"accuracy": 0.5}, i)
                for i in range(1, 11)
            ]
        )
        plot.set_history(h)
        plot.archive(h)
    assert plot.earlier_runs == MAX_EARLIER_RUNS
    assert len(plot.loss_plot.items) == items_before  # items reused, never added
    plot.set_log_scale(True)
    assert plot.loss_plot.ctrl.logYCheck.isChecked()
    x, y = plot.smooth_loss.getData()
    assert len(x) == 10 and np.all(np.isfinite(y))


def test_the_loss_plot_shows_the_learning_rate_of_every_step(qtbot):
    from designer.training.history import RunHistory
    from designer.training.views.loss import LossPlot
    from designer.workers import StepRecord

    plot = LossPlot()
    qtbot.addWidget(plot)
    h = RunHistory(1)
    rates = [0.1 * 0.5 ** (i // 4) for i in range(12)]
    h.add_steps(
        [
            StepRecord(i + 1, 1, i + 1, 12, (i + 1) / 12, 1.0, {}, i, learning_rate=rates[i])
            for i in range(12)
        ]
    )
    plot.set_history(h)
    plot.refresh(force=True)
    assert not plot.lr_view.isVisible()
    plot.show_learning_rate(True)
    assert plot.lr_box.isChecked() and plot.loss_plot.getAxis("right").isVisible()
    x, y = plot.lr_curve.getData()
    assert list(y) == pytest.approx(rates) and len(x) == 12
    low, high = plot.lr_view.viewRange()[1]
    assert low <= min(rates) and high >= max(rates)
    plot.show_learning_rate(False)
    assert not plot.lr_view.isVisible()


def test_the_loss_plot_draws_the_regularization_part_not_as_a_metric(qtbot):
    """A regularized run's regularization_loss is a dashed curve on the loss plot (with a
    legend entry), never the metric plot's metric; a run without one adds no curve."""
    from designer.training.history import RunHistory
    from designer.training.views.loss import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plain = RunHistory(1)
    plain.add_epochs([(1, {"loss": 0.9, "accuracy": 0.5})])
    plot.set_history(plain)
    plot.refresh(force=True)
    assert plot.reg_loss is None
    h = RunHistory(2)
    h.add_epochs(
        [
            (1, {"loss": 0.9, "regularization_loss": 0.2, "accuracy": 0.5}),
            (2, {"loss": 0.7, "regularization_loss": 0.15, "accuracy": 0.6}),
        ]
    )
    assert h.metric_keys() == ["accuracy"]
    plot.set_history(h)
    plot.refresh(force=True)
    assert plot.metric_key == "accuracy"
    x, y = plot.reg_loss.getData()
    assert list(x) == [1.0, 2.0] and list(y) == pytest.approx([0.2, 0.15])
    assert plot.reg_loss.opts["pen"].style() == Qt.PenStyle.DashLine


def test_the_metric_plot_shows_the_metric_chosen_in_its_combo(qtbot):
    """Every compiled metric is offered; the choice is drawn at once (also after the run,
    when the controller no longer refreshes), and it survives new epochs; the best label
    takes the metric's direction (mae falls)."""
    from designer.training.history import RunHistory
    from designer.training.views.loss import LossPlot

    plot = LossPlot()
    plot.auto_refresh = False  # as the controller runs it
    qtbot.addWidget(plot)
    plot.show()
    h = RunHistory(1)
    h.add_epochs(
        [
            (1, {"loss": 0.9, "accuracy": 0.5, "auc": 0.6, "mae": 0.4, "val_auc": 0.55}),
            (2, {"loss": 0.7, "accuracy": 0.6, "auc": 0.7, "mae": 0.3, "val_auc": 0.65}),
        ]
    )
    plot.set_history(h)
    plot.refresh(force=True)
    box = plot.metric_box
    assert box.isVisible() and [box.itemText(i) for i in range(box.count())] == [
        "accuracy",
        "auc",
        "mae",
    ]
    assert plot.metric_key == "accuracy"
    box.activated.emit(1)
    assert plot.metric_key == "auc" and plot.metric_plot.titleLabel.text == "AUC"
    assert list(plot.epoch_metric.getData()[1]) == pytest.approx([0.6, 0.7])
    assert list(plot.val_metric.getData()[1]) == pytest.approx([0.55, 0.65])
    h.add_epochs([(3, {"loss": 0.6, "accuracy": 0.7, "auc": 0.8, "mae": 0.35})])
    plot.refresh(force=True)
    assert plot.metric_key == "auc" and box.currentText() == "auc"
    assert h.best("mae") == (0.3, 2) and h.best("auc") == (0.8, 3)


# ------------------------------------------------------------------------------ torture
def test_start_pause_stop_reset_torture(qtbot, make_window):
    """200 cycles of random commands at random moments: no crash, no dangling thread or
    process, no Qt warning (qt_log_level_fail), and the state always settles."""
    rng = np.random.default_rng(1234)
    spec = tiny_spec(epochs=2)
    spec["dataset"]["n_samples"] = 40
    window, ctrl = make_window(spec)
    sessions = [ctrl.session]
    actions = ["play", "pause", "step", "step_epoch", "stop", "reset"]
    for cycle in range(200):
        action = actions[int(rng.integers(len(actions)))]
        getattr(ctrl, action)()
        if rng.random() < 0.5:
            qtbot.wait(int(rng.integers(0, 6)))
        if cycle % 50 == 49:
            # Close the window mid-training now and then: the thread must end with it.
            ctrl.play()
            window.close()
            assert ctrl.session.thread_finished
            window, ctrl = make_window(spec)
            sessions.append(ctrl.session)
    ctrl.stop()
    wait_idle(qtbot, ctrl)
    ctrl.play()
    wait_finished(qtbot, ctrl, runs=1)
    assert ctrl.errors == []
    ctrl.shutdown()
    assert all(s.thread_finished for s in sessions)
    # No training process outlives its window.
    import multiprocessing

    assert [p for p in multiprocessing.active_children() if p.name == "nnd-training"] == []


def test_attaches_to_the_main_window(qtbot):
    """The real main window: its "main" toolbar gets the controls, the docks are laid out on
    the first show, and Play trains the window's document."""
    from designer.main_window import MainWindow
    from designer.training import attach_training

    window = MainWindow(Document(from_dict(tiny_spec())))
    qtbot.addWidget(window)
    ctrl = attach_training(window)  # the main window may attach it itself: one controller
    assert attach_training(window) is ctrl
    try:
        assert ctrl.docks["loss"] in window.mode_docks
        assert window.findChild(type(ctrl.toolbar), "main") is ctrl.toolbar
        assert ctrl.panel.actions["play"] in ctrl.toolbar.actions()
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.show()
        workspaces = getattr(window, "workspaces", None)
        if workspaces is not None:  # the training docks belong to the Train workspace
            workspaces.switch("train")
        assert ctrl.docks["layers"] in window.tabifiedDockWidgets(ctrl.docks["loss"])
        assert ctrl.train_blocking(2, timeout_s=20)
        assert len(window.document.project.history["loss"]) == 2
        assert ctrl.loss_plot.raw_loss.getData()[0] is not None
        assert window.document.dirty  # trained weights are unsaved work: closing would ask
        window.document.set_clean()
        window.close()  # closing the window ends the training thread
        assert ctrl.session.thread_finished
    finally:
        ctrl.shutdown()


def test_screenshot_after_training_shows_populated_plots(qtbot, tmp_path):
    from designer.training.screenshot import train_and_screenshot

    path = tmp_path / "tiny.json"
    import json

    path.write_text(json.dumps(tiny_spec(epochs=3)))
    out = tmp_path / "shot.png"
    window, ctrl = train_and_screenshot(path, out, epochs=3, size=(1200, 800), keep_open=True)
    qtbot.addWidget(window)
    try:
        from PySide6.QtGui import QImage

        img = QImage(str(out))
        assert (img.width(), img.height()) == (1200, 800)
        x, y = ctrl.loss_plot.raw_loss.getData()
        assert len(x) == ctrl.history.gsteps > 0
        assert ctrl.boundary.image.image is not None
        assert len(ctrl.history.epochs["loss"]) == 3
    finally:
        ctrl.shutdown()


def test_a_script_that_never_closes_its_window_exits_cleanly(tmp_path):
    """No aboutToQuit, no close: the training thread still ends before the interpreter does
    (it used to print "Signal source has been deleted" from the worker's last signal)."""
    import os
    import subprocess
    import sys

    code = (
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from designer.main_window import MainWindow\n"
        "from designer.document import Document\n"
        "from engine.project import load_project\n"
        f"w = MainWindow(Document(load_project({str(ROOT / 'resources/examples/xor.json')!r})))\n"
        "w.show(); app.processEvents(); print('made')\n"
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "NNDESIGNER_SETTINGS_DIR": str(tmp_path / "settings"),
        "NNDESIGNER_RECOVERY_DIR": str(tmp_path / "recovery"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0 and "made" in out.stdout
    assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr
