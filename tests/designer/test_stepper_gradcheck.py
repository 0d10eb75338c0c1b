"""Backprop mode's "Check gradients" on trained networks: a correct one passes or is too small
to judge (never FAIL), a broken backward pass fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from designer.document import Document
from designer.stepper import StepperPanel
from engine.backends.numpy import model as model_mod
from engine.gradcheck import TOO_SMALL
from engine.project import load_project
from engine.training import train_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


@pytest.fixture(scope="module")
def trained_spiral():
    """The spiral example trained (NumPy backend) for 60 epochs: its weights, flat."""
    project = load_project(EXAMPLES / "spiral.json")
    model, _ = train_project(project, epochs=60, backend="numpy")
    return model.flat_weights()


def panel_for(qtbot, weights: dict, batch: int | None = None, sharpen: float = 1.0):
    project = load_project(EXAMPLES / "spiral.json")
    # A sharper output layer: the same decisions, far more confident (gradients below 1e-13).
    project.weights = {
        k: v * sharpen if k.startswith("output/") else v.copy() for k, v in weights.items()
    }
    panel = StepperPanel(Document(project))
    qtbot.addWidget(panel)
    assert panel.start()
    assert "trained" in panel.session.weights_source
    if batch is not None:
        panel.batch_radio.setChecked(True)
        panel.batch_spin.setValue(batch)
        panel.next_step()
        assert len(panel.session.batch_x) == batch
    return panel


def check(qtbot, panel) -> list[str]:
    button = panel.gradcheck_button
    assert button.isEnabled()
    with qtbot.waitSignal(panel.checks_finished) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["gradients"]
    t = panel.checks_table
    assert t.rowCount() == 8 and not t.isHidden()
    return [t.item(r, 4).data(Qt.ItemDataRole.UserRole) for r in range(t.rowCount())]


@pytest.mark.parametrize("batch", [None, 8])
def test_trained_spiral_passes(qtbot, trained_spiral, batch):
    panel = panel_for(qtbot, trained_spiral, batch)
    grades = check(qtbot, panel)
    assert "fail" not in grades and "warn" not in grades
    assert panel.gradcheck_verdict in ("pass", TOO_SMALL)
    assert "FAIL" not in panel.checks_label.text()
    for r, g in enumerate(grades):
        if g == "pass":
            assert float(panel.checks_table.item(r, 1).text()) <= 1e-6


def test_confident_trained_spiral_is_too_small_to_judge(qtbot, trained_spiral):
    """The issue's case: gradients of ~1e-13 read as FAIL with 8.8e-1 on every layer."""
    panel = panel_for(qtbot, trained_spiral, sharpen=8.0)
    s = panel.session
    twin = s._twin(dtype="float64")

    def largest_gradient(i: int) -> float:
        x, y = s.data.x_train[i : i + 1].astype(np.float64), s.data.y_train[i : i + 1]
        return max(float(np.abs(g).max()) for g in twin.loss_and_grads(x, y)[1].values())

    # The first sample of the training split the network classifies with confidence; start
    # the step there without stepping (an Adam step moves every weight by ~lr, however small
    # its gradient).
    sample = next(i for i in range(s.n_samples) if largest_gradient(i) < 1e-13)
    assert largest_gradient(sample) > 0
    s._cursor = sample
    s._start_step()
    grades = check(qtbot, panel)
    assert grades == [TOO_SMALL] * 8
    assert panel.gradcheck_verdict == TOO_SMALL
    assert "TOO SMALL TO JUDGE" in panel.checks_label.text()
    t = panel.checks_table
    assert all(t.item(r, 1).text() == "—" for r in range(8))
    # "too small / kink": every checked entry is at the floor.
    assert all(t.item(r, 3).text() == f"{t.item(r, 2).text()} / 0" for r in range(8))


def test_a_broken_backward_pass_fails_in_the_window(qtbot, trained_spiral, monkeypatch):
    real = model_mod.NumpyModel._backward_node

    def broken(self, node, c, grad_a, grad_z, need):
        gins, wgrads, gz = real(self, node, c, grad_a, grad_z, need)
        if node.name == "dense_1":
            wgrads = dict(wgrads, kernel=wgrads["kernel"] * 1.01)
        return gins, wgrads, gz

    monkeypatch.setattr(model_mod.NumpyModel, "_backward_node", broken)
    panel = panel_for(qtbot, trained_spiral, batch=8)
    grades = check(qtbot, panel)
    names = [panel.checks_table.item(r, 0).text() for r in range(8)]
    assert dict(zip(names, grades, strict=True))["dense_1/kernel"] == "fail"
    assert grades.count("fail") == 1
    assert panel.gradcheck_verdict == "fail" and "FAIL" in panel.checks_label.text()
