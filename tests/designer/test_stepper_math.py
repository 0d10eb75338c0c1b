"""The Backprop panel's math, read from the text the panel shows: every displayed expression,
evaluated from its displayed numbers, gives the value displayed beside it, at every phase, for
pinned and followed neurons and weights (the softmax unit of the sample's class and one that is
not among them). The evaluator and checker are those of tests/engine/test_explain_arithmetic.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import test_module

from designer.document import Document
from designer.stepper import StepperPanel
from engine.graph import INPUT
from engine.project import load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"


A = test_module("engine/test_explain_arithmetic.py")

OPS = (" = ", " ← ")
NOTE = "   "  # the panel sets a line's note three (non-breaking) spaces after its value


def panel_chains(text: str) -> list:
    """The equation chains in the math panel's plain text: each equation is a table row whose
    cells come out one per line: lhs, ``" = "`` (or ``" ← "``), rhs with its note; a row with
    an empty lhs continues the chain above."""
    lines = text.split("\n")
    chains: list = []
    for i, line in enumerate(lines):
        if line not in OPS or i == 0 or i + 1 >= len(lines):
            continue
        lhs, rhs = lines[i - 1], lines[i + 1].split(NOTE)[0]
        if lhs:
            chains.append(A.Chain(lhs, line.strip(), [rhs]))
        else:
            assert chains, f"a continuation without an equation in {text!r}"
            chains[-1].links.append(rhs)
    return chains


def check_panel(panel: StepperPanel) -> int:
    """Check the panel's math as shown; return how many expressions were evaluated."""
    text = panel.math_text()
    chains = panel_chains(text)
    exp = panel.explanation
    if exp is not None:
        # Reading the plain text found every equation of the explanation shown.
        expected = A.chains_of(exp)
        assert [len(c.links) for c in chains] == [len(c.links) for c in expected], text
        A.check_trace_numbers(panel.session, exp)
    rep = A.check_chains(chains)
    assert not rep.failures, "\n".join(rep.failures) + "\n\n" + text
    return rep.checked


@pytest.fixture
def make_panel(qtbot):
    def make(name: str) -> StepperPanel:
        panel = StepperPanel(Document(load_project(EXAMPLES / name)))
        qtbot.addWidget(panel)
        panel.resize(620, 900)
        assert panel.start()
        return panel

    return make


@pytest.mark.parametrize("name", ["iris.json", "xor.json", "skip_connection.json"])
def test_the_panel_math_adds_up_at_every_phase(make_panel, name):
    panel = make_panel(name)
    s = panel.session
    out = s.graph.output
    checked = 0
    for _step in range(2):
        while not s.at_end:
            panel.next_phase()
            checked += check_panel(panel)  # following the active layer
            label = int(s.batch_y[0]) if s.batch_y.ndim == 1 else 0
            k = s.graph.by_name[out].output_shape[-1]
            for unit in sorted({label, (label + 1) % k}):
                panel.pin_neuron(out, unit)
                checked += check_panel(panel)
            first = s.graph.nodes[0].name
            panel.pin_neuron(first, 1)
            checked += check_panel(panel)
            panel.pin_weight(out, 0, k - 1)
            checked += check_panel(panel)
            panel.pin_neuron(INPUT, 0)
            checked += check_panel(panel)
            panel.unpin()
        panel.next_step()
    assert checked > 100


def test_the_issues_non_target_unit_reads_consistently_in_the_panel(make_panel):
    """iris, softmax + sparse categorical crossentropy: the unit of a class that is not the
    sample's shows ∂L/∂ŷ worked out with its numbers, and ∂L/∂a is that same value."""
    panel = make_panel("iris.json")
    s = panel.session
    panel.run_to_end()
    label = int(s.batch_y[0])
    other = (label + 1) % 3
    panel.pin_neuron(s.graph.output, other)
    check_panel(panel)
    chains = {c.lhs: c for c in panel_chains(panel.math_text())}
    u = chr(0x2080 + other + 1)
    grad = chains[f"∂L/∂ŷ{u}"]
    assert any(A._is_arithmetic(link) for link in grad.links[:-1]), grad
    back = chains[f"∂L/∂a{u}"]
    assert back.links == [f"∂L/∂ŷ{u}", grad.links[-1]]
