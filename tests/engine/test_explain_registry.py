"""Backprop mode's math for every registered layer type (issue 14): the layer types come from
:data:`engine.layers.LAYER_TYPES`, their test networks from ``tests/layer_cases/``.

For each case, the units of the type's layers and of the layers feeding them are explained at
every phase of two steps, for two samples of the batch. An output of at most ``EXPLAIN_CAP``
(16) units has every unit explained; a bigger one (an image) a deterministic sample of them:
every corner (the first and last index along each axis: row, column, channel), the centre,
and six units drawn by a generator seeded from the case and the layer's name, the same on
every run (:func:`support.layer_cases.units_to_explain`). Nothing raises, every number read
from the trace is the engine's own and was reached when shown, the forward section shows the
layer's own numbers (its ``explain_forward``), and the unit feeding it is told what this layer
sent back (its ``explain_to_input``). The explanation parts import without the session or the
graph, so that the layer modules can build on them without an import cycle.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.layer_cases import CASE_IDS, cases_of, targets, units_to_explain
from support.trace_numbers import trace_numbers

from engine.explain import explain_neuron
from engine.graph import INPUT
from engine.layers import LAYER_TYPES, LayerType
from engine.project import from_dict
from engine.stepper import StepSession
from engine.training import TrainingData
from engine.validate import check_project

ROOT = Path(__file__).resolve().parents[2]


def session_of(class_name: str, i: int, dtype: str = "float64") -> StepSession:
    case = cases_of(class_name)[i]
    project = from_dict(
        {
            "format_version": 1,
            "name": f"{class_name} case {i}",
            "model": {"input_shape": case["input_shape"], "layers": case["layers"]},
            "compile": {"optimizer": "adam", "loss": case["loss"], "metrics": []},
            "fit": {"batch_size": 3, "validation_split": 0.0, "shuffle": False, "seed": 3},
            # Validation asks for a dataset; the session is handed the arrays below instead.
            "dataset": {"name": "moons", "n_samples": 6},
            "dtype": dtype,
        }
    )
    rng = np.random.default_rng(i)
    n = 6
    x = rng.normal(size=(n, *case["input_shape"])).astype(dtype)
    out = check_project(project, training=False).output_shape
    y = targets(case["loss"], out, n, rng, dtype)
    return StepSession(project, batch_size=3, data=TrainingData(x, y, None, None))


@pytest.mark.parametrize("class_name", list(LAYER_TYPES))
def test_every_registered_type_explains_its_forward_pass(class_name):
    """The base class's forward explanation is a placeholder without numbers."""
    ltype = type(LAYER_TYPES[class_name])
    assert ltype.explain_forward is not LayerType.explain_forward, class_name
    assert cases_of(class_name), f"tests/layer_cases/{class_name}.json is missing"


@pytest.mark.parametrize("class_name,i", CASE_IDS, ids=[f"{c}-{i}" for c, i in CASE_IDS])
def test_every_phase_of_every_unit_is_explained_with_the_engines_numbers(class_name, i):
    session = session_of(class_name, i)
    graph = session.graph
    own = [n for n in graph.nodes if n.class_name == class_name]
    assert own, f"case {i} of {class_name} does not use it"
    own_names = {n.name for n in own}
    feeding = {src for n in own for src in n.inbound if src != INPUT} - own_names
    names = [n.name for n in own] + sorted(feeding)
    units = {
        name: units_to_explain(graph.by_name[name].output_shape, f"{class_name}-{i}-{name}")
        for name in names
    }
    for _step in range(2):
        session.run_to_end()
        for phase in range(session.total_phases):
            for sample in (0, 2):
                for name in names:
                    for unit in units[name]:
                        exp = explain_neuron(session, name, sample, unit, phase=phase)
                        nums = trace_numbers(session, exp, phase)
                        fwd = exp.section("forward")
                        if session.position("forward", name) > phase:
                            assert fwd is not None and fwd.title == "Not computed yet"
                            continue
                        if name in own_names:
                            # Its own hook shows numbers of its forward trace (or weights).
                            shown = [n for n in nums if n.source[1] == name]
                            assert shown, exp.text()
                        bwd = exp.section("backward")
                        reached = session.position("backward", name) <= phase
                        assert (bwd is not None) == reached, exp.text()
                        if reached and name in feeding:
                            # What each consumer of this type sent back is shown.
                            for c in own:
                                if name in c.inbound:
                                    sent = [
                                        n
                                        for n in nums
                                        if n.source[:2] == ("backward", c.name)
                                        and n.source[2].startswith("grad_inputs")
                                    ]
                                    assert sent, exp.text()
        session.next_step()


def test_the_explanation_parts_import_without_the_session_or_the_graph():
    """engine.layers is imported by engine.graph; its modules build on these parts."""
    code = (
        "import sys, engine.formula, engine.explain_parts; "
        "bad = [m for m in ('engine.graph', 'engine.explain', 'engine.stepper') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
