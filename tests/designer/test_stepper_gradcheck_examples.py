"""Backprop mode's "Check gradients" on every shipped example, untrained and trained: a
correct network never reads FAIL or WARN in the window (the CLI's side is in
tests/engine/test_gradcheck.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from designer.document import Document
from designer.stepper import StepperPanel
from engine.project import load_project
from engine.training import train_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
# seed_mlp.json trains on MNIST, which is not in the Keras cache here; seed_mlp_digits.json is
# the same network on the bundled digits. The Perceptron has no gradient (its own test).
NAMES = ["xor", "spiral", "iris", "skip_connection", "seed_mlp_digits"]
EPOCHS = {"xor": 60, "spiral": 60, "iris": 40, "skip_connection": 10, "seed_mlp_digits": 5}


@pytest.mark.slow
@pytest.mark.parametrize("trained", [False, True], ids=["untrained", "trained"])
@pytest.mark.parametrize("name", NAMES)
def test_check_gradients_passes_every_example(qtbot, name, trained):
    project = load_project(EXAMPLES / f"{name}.json")
    if trained:
        model, _ = train_project(project.copy(), epochs=EPOCHS[name], backend="numpy")
        project.weights = model.flat_weights()
    panel = StepperPanel(Document(project))
    qtbot.addWidget(panel)
    assert panel.start()
    assert ("trained" in panel.session.weights_source) == trained
    with qtbot.waitSignal(panel.checks_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(panel.gradcheck_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["gradients"]
    table = panel.checks_table
    grades = [table.item(r, 4).data(Qt.ItemDataRole.UserRole) for r in range(table.rowCount())]
    assert table.rowCount() == len(panel.session.model.flat_weights())
    assert "fail" not in grades and "warn" not in grades, (name, grades)
    assert "pass" in grades or panel.gradcheck_verdict != "pass"
    assert "FAIL" not in panel.checks_label.text()
