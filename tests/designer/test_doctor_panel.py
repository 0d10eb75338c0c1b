"""The Doctor panel (issue 19): the doctor's findings live in the window, the fix as one
undoable edit, double-click to go to the layer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from engine import edits
from engine.project import from_dict

ROOT = Path(__file__).resolve().parents[2]


def iris(**changes) -> dict:
    data = json.loads((ROOT / "resources/examples/iris.json").read_text())
    for path, value in changes.items():
        data = edits.set_setting(data, path, value)
    return data


def broken() -> dict:
    """Iris with a softmax output scored by binary cross-entropy (an error)."""
    return iris(**{"compile.loss": "binary_crossentropy"})


def codes(panel) -> list[str]:
    return [f.code for f in panel.findings]


def test_the_panel_lists_findings_and_the_fix_is_one_undoable_edit(qtbot, make_window):
    window = make_window(from_dict(copy.deepcopy(broken())))
    panel = window.doctor_panel
    window.workspaces.switch("design")
    window._raise_dock(window.doctor_dock)  # shown, it has the data loaded
    qtbot.waitUntil(lambda: window.dataset.dataset is not None, timeout=20_000)
    assert codes(panel)[0] == "softmax-binary-crossentropy"
    assert panel.table.topLevelItemCount() == len(panel.findings)
    first = panel.table.topLevelItem(0)
    assert first.text(0) == "● error" and first.text(1) == "species.activation"
    assert "1 error" in panel.verdict.text()
    assert "Keras computes" in panel.why.text()
    assert panel.fix_button.isEnabled()
    assert panel.fix_button.text() == "Fix: Use categorical_crossentropy"

    depth = window.document.undo_stack.count()
    panel.fix_button.click()
    assert window.document.project.compile["loss"] == "categorical_crossentropy"
    assert "softmax-binary-crossentropy" not in codes(panel)  # live, on the edit
    assert window.document.undo_stack.count() == depth + 1
    assert window.document.undo_stack.undoText() == "Doctor: Use categorical_crossentropy"
    window.document.undo_stack.undo()
    assert codes(panel)[0] == "softmax-binary-crossentropy"


def test_findings_follow_edits_and_the_data(qtbot, make_window):
    window = make_window(from_dict(iris()))
    panel = window.doctor_panel
    window.workspaces.switch("design")
    window._raise_dock(window.doctor_dock)  # shown, it has the data loaded
    qtbot.waitUntil(lambda: window.dataset.dataset is not None, timeout=20_000)
    assert panel.findings == [] and panel.verdict.text().startswith("No findings")
    assert not panel.fix_button.isEnabled()

    # A layer edit: the hidden layer loses its non-linearity before another Dense.
    doc = window.document
    doc.edit(
        "add",
        lambda d: edits.insert_on_edge(
            d, "Dense", "hidden", "species", {"name": "extra", "units": 8}
        )[0],
    )
    doc.edit("lin", lambda d: edits.set_param(d, "hidden", "activation", "linear"))
    assert "linear-stack" in codes(panel)

    # A data change: the scaling switched off gives the unscaled-features warning when the
    # features' spreads differ enough; iris's do not, so nothing new, but the check ran on
    # the loaded data (the class counts are balanced: no imbalance finding either).
    assert "class-imbalance" not in codes(panel)


def test_double_click_goes_to_the_layer(qtbot, make_window):
    window = make_window(from_dict(copy.deepcopy(broken())))
    panel = window.doctor_panel
    item = panel.table.topLevelItem(0)
    panel.table.setCurrentItem(item)
    with qtbot.waitSignal(panel.place_requested):
        panel.table.itemDoubleClicked.emit(item, 0)
    assert window.document.selection == ["species"]


def test_the_doctor_dock_is_in_the_design_workspace_and_the_view_menu(qtbot, make_window):
    window = make_window(from_dict(iris()))
    window.workspaces.switch("design")
    assert window.doctor_dock.isVisible() or window.tabifiedDockWidgets(window.doctor_dock)
    titles = [a.text() for a in window.panels_menu.actions()]
    assert "Doctor" in titles


def test_a_fix_that_no_longer_applies_says_so_and_changes_nothing(qtbot, make_window):
    window = make_window(from_dict(copy.deepcopy(broken())), show=False)
    panel = window.doctor_panel
    f = panel.selected()
    assert f is not None and f.fix is not None
    before = copy.deepcopy(window.document.data)
    # The finding's layer renamed behind the panel's back (no refresh in between).
    window.document.project.data = edits.rename_layer(before, "species", "probs")
    window.document.project.data = edits.set_setting(
        window.document.project.data, "compile.loss", "binary_crossentropy"
    )
    panel.findings = [
        type(f)(
            f.level,
            f.code,
            f.message,
            f.why,
            f.layer,
            f.field,
            type(f.fix)(
                "Use sigmoid",
                (("set_param", {"layer": "species", "key": "activation", "value": "sigmoid"}),),
            ),
        )
    ]
    assert panel.apply_selected() is False
    assert "no longer applies" in panel.why.text()
