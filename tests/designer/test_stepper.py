"""Backprop mode: the panel's controls, phase strip, math panel, checks and saving; the view's
colours and pins; attaching the mode to a main window. Values are checked against the trace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QMainWindow, QStackedWidget, QToolBar

from designer.document import Document
from designer.stepper import BackpropView, StepperPanel, attach_stepper
from engine import edits
from engine.explain import fmt, lookup
from engine.project import load_project
from engine.training import build_model, load_training_data
from engine.validate import check_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def doc_for(name: str) -> Document:
    return Document(load_project(EXAMPLES / f"{name}.json"))


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def xor_panel(qtbot):
    panel = StepperPanel(doc_for("xor"))
    qtbot.addWidget(panel)
    panel.resize(620, 900)
    assert panel.start()
    return panel


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


# --------------------------------------------------------------------------------- the panel
def test_math_panel_shows_the_trace_numbers_of_a_pinned_neuron(xor_panel):
    panel = xor_panel
    s = panel.session
    panel.pin_neuron("hidden", 1)
    assert "Press Next phase" in panel.math_text()
    panel.next_phase()
    fwd = s.current.data
    text = panel.math_text()
    for value in (fwd["z"][0, 1], fwd["a"][0, 1], fwd["inputs"][0, 0], fwd["inputs"][0, 1]):
        assert fmt(value) in text
    assert fmt(s.weights_before["hidden"]["kernel"][1, 1]) in text
    for _ in range(3):
        panel.next_phase()
    assert s.current.phase == "backward" and s.current.layer == "output"
    assert "Backward pass through hidden" not in panel.math_text()
    panel.next_phase()
    bwd = s.current.data
    text = panel.math_text()
    assert "Backward pass through hidden" in text
    assert fmt(bwd["grad_z"][0, 1]) in text and fmt(bwd["grad_a"][0, 1]) in text
    # Every blue number in the browser is the trace's, with its full precision in the tooltip.
    sourced = [n for n in panel.math_view.numbers if n.source is not None]
    assert len(sourced) > 10
    for num in sourced:
        value = lookup(s, num.source)
        assert num.value == float(value)
        assert panel.math_view.tooltip_for(num).startswith(str(value))
    panel.run_to_end()
    panel.pin_weight("output", 2, 0)
    upd = s.current.data
    text = panel.math_text()
    assert "Update (Adam)" in text
    assert fmt(upd["after"]["kernel"][2, 0]) in text
    assert fmt(upd["optimizer"]["kernel/momentum"][2, 0]) in text
    assert fmt(upd["optimizer"]["kernel/velocity"][2, 0]) in text


def test_math_panel_follows_the_active_layer_until_something_is_pinned(xor_panel):
    panel = xor_panel
    assert panel.followed() == ("neuron", "input", 0)
    panel.next_phase()
    assert panel.followed() == ("neuron", "hidden", 0)
    assert "hidden · unit 1" in panel.math_text()
    panel.run_to_end()
    assert panel.followed() == ("weight", "output", 0, 0)
    assert not panel.unpin_button.isEnabled()
    panel.pin_neuron("output", 0)
    assert panel.unpin_button.isEnabled()
    panel.previous_phase()
    assert panel.followed() == ("neuron", "output", 0)
    panel.unpin()
    assert panel.followed() == ("weight", "hidden", 0, 0)


def test_phase_strip_and_buttons_follow_the_step(xor_panel, qtbot):
    panel = xor_panel
    s = panel.session
    strip = panel.strip
    assert strip.labels() == s.strip()
    assert [strip.cell_state(i) for i in range(len(s.strip()))] == ["todo"] * 7
    assert not panel.previous_button.isEnabled() and panel.next_button.isEnabled()
    w0 = s.model.flat_weights()
    for k in range(6):
        click(qtbot, panel.next_button)
        assert strip.cell_state(k) == "current"
        assert all(strip.cell_state(i) == "done" for i in range(k))
        assert all(strip.cell_state(i) == "todo" for i in range(k + 1, 7))
        assert weights_equal(s.model.flat_weights(), w0)
    click(qtbot, panel.previous_button)
    click(qtbot, panel.previous_button)
    assert strip.cell_state(3) == "current" and strip.cell_state(5) == "done"
    assert weights_equal(s.model.flat_weights(), w0)
    panel.go_to(5)
    assert s.index == 5
    panel.go_to(6)  # not computed yet: clicking it does nothing
    assert s.index == 5
    assert weights_equal(s.model.flat_weights(), w0)
    click(qtbot, panel.run_button)
    assert s.at_end and strip.cell_state(6) == "current"
    assert not panel.next_button.isEnabled() and not panel.run_button.isEnabled()
    assert panel.previous_button.isEnabled() and panel.step_button.isEnabled()
    assert "update applied" in panel.status_label.text()

    project = panel.document.project
    graph = check_project(project)
    data = load_training_data(project, graph)
    fresh = build_model(project, graph, "numpy")
    fresh.train_step(data.x_train[:1], data.y_train[:1])
    assert weights_equal(s.model.flat_weights(), fresh.flat_weights())

    click(qtbot, panel.step_button)
    assert s.step_number == 2 and s.index == -1 and s.batch_indices.tolist() == [1]
    assert not panel.previous_button.isEnabled()
    click(qtbot, panel.reset_button)
    assert s.step_number == 1 and weights_equal(s.model.flat_weights(), w0)


def test_mini_batch_granularity_and_sample_choice(xor_panel, qtbot):
    panel = xor_panel
    panel.batch_radio.setChecked(True)
    panel.batch_spin.setValue(5)
    s = panel.session
    assert len(s.batch_x) == 5 and s.step_number == 1  # nothing computed: taken at once
    assert panel.sample_spin.isVisibleTo(panel) and panel.sample_spin.maximum() == 5
    panel.next_phase()
    with qtbot.waitSignal(panel.sample_changed):
        panel.sample_spin.setValue(4)
    assert panel.sample == 3
    assert fmt(s.current.data["a"][3, 0]) in panel.math_text()
    assert "sample 4 of 5" in panel.math_text()
    panel.batch_spin.setValue(2)  # mid-step: applies from the next step
    assert len(s.batch_x) == 5
    panel.next_step()
    assert s.batch_indices.tolist() == [5, 6] and panel.sample == 1


def test_perceptron_steps_one_sample_and_its_checks_say_why_not(qtbot):
    panel = StepperPanel(doc_for("perceptron"))
    qtbot.addWidget(panel)
    assert panel.start()
    assert not panel.batch_radio.isEnabled()
    assert not panel.gradcheck_button.isEnabled()
    assert "no gradient" in panel.gradcheck_button.toolTip()
    assert not panel.tf_button.isEnabled()
    assert "NumPy-only" in panel.tf_button.toolTip() and panel.tf_reason.isVisibleTo(panel)
    panel.run_to_end()
    panel.pin_weight("perceptron", 0, 0)
    text = panel.math_text()
    assert "w₁,₁ ← w₁,₁ + η·(t − ŷ)·x₁" in panel.explanation.text()
    assert "w1,1 + η·(t − ŷ)·x1" in text and "←" in text  # the browser shows subscripts
    after = panel.session.current.data["after"]["kernel"][0, 0]
    assert fmt(after) in text


def test_check_gradients_fills_the_table_with_passing_rows(xor_panel, qtbot):
    panel = xor_panel
    panel.next_phase()
    with qtbot.waitSignal(panel.checks_finished) as blocker:
        click(qtbot, panel.gradcheck_button)
    assert blocker.args == ["gradients"]
    t = panel.checks_table
    assert t.rowCount() == 4 and not t.isHidden()
    names = {t.item(r, 0).text() for r in range(4)}
    assert names == {"hidden/kernel", "hidden/bias", "output/kernel", "output/bias"}
    for r in range(4):
        assert float(t.item(r, 1).text()) < 1e-6
        assert t.item(r, 4).data(Qt.ItemDataRole.UserRole) == "pass"
    assert "PASS" in panel.checks_label.text()


def test_compare_with_tensorflow_runs_off_the_ui_thread_and_fills_the_table(
    xor_panel, qtbot, monkeypatch
):
    """The comparison itself is tested in tests/engine (it imports TensorFlow); here a stub
    report checks the worker, the table and the verdict."""
    from engine.parity import ParityReport, ParityRow
    from engine.stepper import StepSession

    rows = [
        ParityRow("hidden", "output", "output", (1, 4), 1e-8, 1e-8, 1e-5, 1e-6, True),
        ParityRow("output", "gradient of kernel", "gradient", (4, 1), 0.5, 0.5, 1e-4, 1e-5, False),
    ]
    report = ParityReport("XOR MLP", "float32", 1, "Adam", "w", 0.58, 0.58, rows, ["note"], "TF")
    monkeypatch.setattr(StepSession, "tensorflow_problem", lambda self: "")
    monkeypatch.setattr(StepSession, "compare_tensorflow", lambda self: report)
    panel = xor_panel
    assert panel.start()  # a new session: the stub says TensorFlow is there
    with qtbot.waitSignal(panel.checks_finished, timeout=10000) as blocker:
        click(qtbot, panel.tf_button)
    assert blocker.args == ["tensorflow"]
    t = panel.checks_table
    assert t.rowCount() == 2
    assert [t.item(r, 4).data(Qt.ItemDataRole.UserRole) for r in range(2)] == ["pass", "fail"]
    assert "DIFFER" in panel.checks_label.text()
    assert panel.next_button.isEnabled()


def test_save_this_step_writes_the_cli_json_and_a_png(xor_panel, tmp_path):
    panel = xor_panel
    panel.next_phase()
    w = panel.session.model.flat_weights()
    json_path, png_path = panel.save_step(tmp_path / "step")
    assert json_path.suffix == ".json" and png_path == tmp_path / "step.png"
    doc = json.loads(json_path.read_text())
    assert set(doc) == {"project", "batch_size", "optimizer", "loss", "phases"}
    assert [p["phase"] for p in doc["phases"]] == [
        "forward", "forward", "loss", "backward", "backward", "update", "update",
    ]  # fmt: skip
    assert doc["phases"][0]["z"] == panel.session.phases[0].data["z"].tolist()
    assert not QImage(str(png_path)).isNull()
    assert weights_equal(panel.session.model.flat_weights(), w) and panel.session.index == 0


def test_start_fails_with_the_reason_on_unloadable_data(qtbot, tmp_path):
    project = load_project(EXAMPLES / "xor.json")
    project.data["dataset"] = {"path": "missing.csv"}
    project.path = tmp_path / "p.json"
    panel = StepperPanel(Document(project))
    qtbot.addWidget(panel)
    assert not panel.start()
    assert "missing.csv" in panel.error and panel.session is None
    assert not panel.next_button.isEnabled()


# --------------------------------------------------------------------------------- the view
@pytest.fixture
def wired(qtbot):
    panel = StepperPanel(doc_for("xor"))
    view = BackpropView()
    qtbot.addWidget(panel)
    qtbot.addWidget(view)
    view.resize(900, 600)
    panel.session_changed.connect(lambda: view.set_session(panel.session))
    panel.phase_changed.connect(view.refresh)
    panel.sample_changed.connect(view.set_sample)
    view.neuron_pinned.connect(panel.pin_neuron)
    view.weight_pinned.connect(panel.pin_weight)
    assert panel.start()
    view.show()
    qtbot.waitExposed(view)
    return panel, view


def test_view_colours_show_activations_then_errors_then_weight_changes(wired):
    panel, view = wired
    s = panel.session
    x = s.batch_x[0]
    assert [view.neuron("input", i).value for i in range(2)] == [float(v) for v in x]
    assert view.neuron("hidden", 0).value is None  # not computed yet
    panel.next_phase()
    a = s.current.data["a"][0]
    assert [view.neuron("hidden", u).value for u in range(4)] == [float(v) for v in a]
    assert view.active_layer == "hidden" and view.columns["hidden"].highlight.isVisible()
    assert view.neuron("output", 0).value is None
    assert str(s.current.data["a"][0, 2]) in view.neuron("hidden", 2).toolTip()
    for _ in range(4):
        panel.next_phase()
    assert (s.current.phase, s.current.layer) == ("backward", "hidden")
    delta = s.current.data["grad_z"][0]
    assert [view.neuron("hidden", u).value for u in range(4)] == [float(v) for v in delta]
    assert view.layer_values("hidden")[0] == "δ"
    gk = s.current.data["grad_kernel"]
    assert view.edge("hidden", 1, 2).value == float(gk[1, 2])
    panel.run_to_end()
    up = s.current.data
    change = float(up["after"]["kernel"][3, 0]) - float(up["before"]["kernel"][3, 0])
    assert view.edge("output", 3, 0).value == change
    assert str(up["after"]["kernel"][3, 0]) in view.weight_tooltip("output", 3, 0)


def test_clicking_the_view_pins_into_the_math_panel(wired, qtbot):
    panel, view = wired
    panel.run_to_end()
    item = view.neuron("hidden", 3)
    pos = view.mapFromScene(item.scenePos())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert panel.pinned == ("neuron", "hidden", 3) and item.pinned
    assert "hidden · unit 4" in panel.math_text()
    edge = view.edge("output", 1, 0)
    point = edge.path().pointAtPercent(0.5)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(point))
    assert panel.pinned == ("weight", "output", 1, 0) and edge.pinned and not item.pinned
    assert "output · weight w₂,₁" in panel.math_text()


def test_merge_graph_shows_the_split_and_the_sum(qtbot):
    panel = StepperPanel(doc_for("skip_connection"))
    view = BackpropView()
    qtbot.addWidget(panel)
    qtbot.addWidget(view)
    assert panel.start()
    view.set_session(panel.session)
    s = panel.session
    assert s.strip().index("Backward skip") == s.strip().index("Loss") + 2
    while not (
        s.current is not None and s.current.phase == "backward" and s.current.layer == "stem"
    ):
        panel.next_phase()
    view.refresh()
    panel.pin_neuron("skip", 2)
    skip = s.event("backward", "skip").data
    text = panel.math_text()
    assert "Add splits the error" in text and fmt(skip["grad_a"][0, 2]) in text
    panel.pin_neuron("stem", 2)
    text = panel.math_text()
    assert "fan-out" in text and fmt(s.current.data["grad_a"][0, 2]) in text
    assert view.layer_values("skip")[0] == "∂L/∂a"  # an Add has no z


# --------------------------------------------------------------------------------- the window
def make_window(qtbot, doc: Document):
    window = QMainWindow()
    window.document = doc
    canvas = QLabel("canvas")
    window.setCentralWidget(canvas)
    qtbot.addWidget(window)
    return window, canvas


def test_attach_stepper_toggles_the_central_widget(qtbot):
    doc = doc_for("xor")
    window, canvas = make_window(qtbot, doc)
    controller = attach_stepper(window)
    toolbar = window.findChild(QToolBar, "main")
    assert toolbar is not None and controller.action in toolbar.actions()
    assert controller.action.isCheckable() and controller.action.isEnabled()
    assert window.centralWidget() is canvas
    controller.action.trigger()
    assert controller.active and controller.panel.session is not None
    stack = window.centralWidget()
    assert isinstance(stack, QStackedWidget) and stack.currentWidget() is controller.view
    assert stack.indexOf(canvas) >= 0 and not controller.dock.isHidden()
    controller.panel.next_phase()
    assert controller.view.active_layer == "hidden"
    # Editing the network while in the mode starts the step over.
    old = controller.panel.session
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", 3))
    assert controller.panel.session is not old and controller.panel.session.index == -1
    assert controller.view.columns["hidden"].n == 3
    controller.action.trigger()
    assert not controller.active and controller.panel.session is None
    assert window.centralWidget() is canvas and controller.dock.isHidden()


def test_attach_stepper_uses_an_existing_main_toolbar_and_refuses_invalid_projects(qtbot):
    doc = doc_for("xor")
    window, canvas = make_window(qtbot, doc)
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("main")
    window.addToolBar(toolbar)
    controller = attach_stepper(window)
    assert controller.toolbar is toolbar
    assert len(window.findChildren(QToolBar)) == 1
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", -2))
    assert not doc.valid
    assert not controller.action.isEnabled()
    assert "valid project" in controller.action.toolTip()
    controller.set_active(True)
    assert not controller.active and window.centralWidget() is canvas
    doc.undo_stack.undo()
    assert controller.action.isEnabled()
    controller.set_active(True)
    assert controller.active
    doc.edit("units", lambda d: edits.set_param(d, "hidden", "units", -2))
    assert not controller.active and window.centralWidget() is canvas
    assert "valid" in controller.action.toolTip() or "units" in controller.action.toolTip()


def test_attach_stepper_says_why_when_the_data_cannot_load(qtbot, tmp_path):
    project = load_project(EXAMPLES / "xor.json")
    project.data["dataset"] = {"path": "missing.csv"}
    project.path = tmp_path / "p.json"
    window, canvas = make_window(qtbot, Document(project))
    controller = attach_stepper(window)
    controller.action.trigger()
    assert not controller.active and not controller.action.isChecked()
    assert window.centralWidget() is canvas
    assert "missing.csv" in controller.action.toolTip()
