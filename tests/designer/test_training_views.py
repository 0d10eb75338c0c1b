"""The live views keep up with the run (issue 13): what they draw, not how fast (the timings
are in tests/benchmarks/bench_view_lag.py). Each view notes what its last render drew
(``LiveView.shown``: run and global step), which these tests compare with the run's state."""

from __future__ import annotations

import copy

import pytest

from designer.theme import MIN_POINT_SIZE
from tests.designer.test_training import TIMEOUT, tiny_spec


@pytest.fixture
def make_window(training_window):
    """A stand-in window with the training views (tests/designer/conftest.py)."""
    return training_window


def spiral_spec(epochs: int = 40) -> dict:
    spec = tiny_spec(epochs=epochs)
    spec["dataset"] = {"name": "spiral", "n_samples": 120, "noise": 0.05, "standardize": True}
    return spec


def test_the_batch_that_ends_a_run_draws_the_final_state(qtbot, make_window):
    """No replay: when the run's last batch is handed over, every visible view has drawn the
    final step before the event loop turns again."""
    window, ctrl = make_window(spiral_spec())
    seen = []

    def after_controller(batch) -> None:  # connected after the controller: runs after it
        if any(ev[0] == "finished" for ev in batch.events):
            h = ctrl.history
            seen.append(
                (
                    (h.run_id, h.gsteps),
                    ctrl.loss_plot.shown,
                    ctrl.boundary.shown,
                    ctrl.layer_stats.shown if ctrl.layer_stats.isVisible() else "hidden",
                    ctrl.snapshot.step,
                )
            )

    ctrl.session.drained.connect(after_controller)
    ctrl.play()
    qtbot.waitUntil(lambda: bool(seen), timeout=TIMEOUT)
    final, loss, boundary, _layers, snap_step = seen[0]
    assert final[1] == 40 * 6  # 90 training samples in batches of 16: 6 steps an epoch
    assert loss == final
    assert snap_step == final[1]  # the worker's last snapshot is of the last step...
    assert boundary[:2] == final  # ...and that is what the boundary shows
    assert boundary[2] == ctrl.plane


def test_reset_and_a_plane_change_draw_without_waiting_for_the_pacing(qtbot, make_window):
    """Outside a run nothing paces the views: the re-initialised weights and a new plane are
    drawn at the next turn of the event loop after they arrive."""
    spec = tiny_spec(epochs=2)
    spec["model"]["input_shape"] = [4]
    spec["dataset"] = {"name": "iris"}
    spec["model"]["layers"][-1]["config"]["units"] = 3
    window, ctrl = make_window(spec)
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs == 1 and ctrl.state == "idle", timeout=TIMEOUT)
    run = ctrl.history.run_id
    ctrl._next_render = float("inf")  # were the pacing applied, nothing would ever render
    ctrl.reset()
    qtbot.waitUntil(
        lambda: ctrl.boundary.shown is not None and ctrl.boundary.shown[0] != run,
        timeout=TIMEOUT,
    )
    assert ctrl.boundary.shown[1] == 0  # the reset weights, before any step
    plane = ctrl.plane
    ctrl.boundary.projection_requested.emit({"kind": "features", "features": [2, 3]})
    qtbot.waitUntil(
        lambda: ctrl.boundary.shown is not None and ctrl.boundary.shown[2] > plane,
        timeout=TIMEOUT,
    )
    assert ctrl.info.points["projection"] == {"kind": "features", "features": [2, 3]}
    assert ctrl.boundary.shown[2] == ctrl.plane


def test_a_snapshot_of_the_previous_plane_is_not_drawn_on_the_new_one(qtbot, make_window):
    window, ctrl = make_window(spiral_spec(2))
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    ctrl.render_views()
    old = ctrl.boundary.snapshot
    from designer.worker_core import Batch

    ctrl.plane += 1  # as an "info" event of a new plane does
    stale = copy.copy(old)
    stale.step += 1
    ctrl._on_batch(Batch(snapshot=stale))
    assert ctrl.boundary.snapshot is old  # kept for the next snapshot, on the new plane
    assert ctrl.layer_stats.snapshot is stale  # the other views take it


def test_views_with_nothing_to_show_say_what_they_need_in_little_room(qtbot, make_window):
    window, ctrl = make_window(tiny_spec())
    for view in (ctrl.boundary, ctrl.tiles, ctrl.predictions, ctrl.confusion):
        assert view.empty
        assert "Play" in view.message.text()
        assert view.sizeHint().height() <= 60
    ctrl.play()
    qtbot.waitUntil(lambda: ctrl.finished_runs == 1 and ctrl.state == "idle", timeout=TIMEOUT)
    assert not ctrl.boundary.empty and not ctrl.confusion.empty
    assert ctrl.tiles.empty and "image data" in ctrl.tiles.message.text()


@pytest.fixture(params=[MIN_POINT_SIZE, 12.0], ids=["app-font", "12pt"])
def app_font(request, qapp):
    """The application font the app itself sets (designer.theme.ensure_readable_font), and a
    larger one: a widget's minimum width grows with it."""
    before = qapp.font()
    font = qapp.font()
    font.setPointSizeF(request.param)
    qapp.setFont(font)
    yield request.param
    qapp.setFont(before)


def test_widgets_ask_for_little_room_before_and_after_training(qtbot, make_window, app_font):
    """No training widget may raise the window's minimum size (issue 13): at most ~320×240,
    long texts elided with the whole text in the tooltip."""
    spec = tiny_spec(epochs=2)
    spec["model"]["input_shape"] = [4]
    spec["dataset"] = {"name": "iris"}
    spec["model"]["layers"][-1]["config"]["units"] = 3
    window, ctrl = make_window(spec)

    def sizes():
        out = {}
        for name in ("panel", "loss_plot", "layer_stats", "boundary", "tiles", "predictions"):
            out[name] = getattr(ctrl, name).minimumSizeHint()
        out["confusion"] = ctrl.confusion.minimumSizeHint()
        out["activity"] = ctrl.activity.minimumSizeHint()
        return out

    for when in ("before", "after"):
        for name, hint in sizes().items():
            assert hint.width() <= 320 and hint.height() <= 240, (when, name, hint)
        if when == "before":
            ctrl.play()
            qtbot.waitUntil(
                lambda: ctrl.finished_runs == 1 and ctrl.state == "idle", timeout=TIMEOUT
            )
            ctrl.render_views()
    best = ctrl.loss_plot.best_label
    assert best.text().startswith("best val_loss") and best.toolTip() == best.text()
    best.resize(80, best.height())
    assert best.is_elided() and best.elided_text().endswith("…")


def test_the_boundary_is_square_and_its_extent_fills_it(qtbot, make_window):
    window, ctrl = make_window(spiral_spec(1))
    ctrl.docks["boundary"].raise_()
    ctrl.step()
    qtbot.waitUntil(lambda: ctrl.snapshot is not None and ctrl.state == "paused", timeout=TIMEOUT)
    box = ctrl.boundary.square
    box.resize(500, 260)
    assert ctrl.boundary.graphics.width() == ctrl.boundary.graphics.height() == 260
    assert ctrl.boundary.graphics.x() == (500 - 260) // 2
    x0, x1, y0, y1 = ctrl.info.points["extent"]
    assert ctrl.boundary.plot.vb.state["aspectLocked"] == pytest.approx((y1 - y0) / (x1 - x0))
