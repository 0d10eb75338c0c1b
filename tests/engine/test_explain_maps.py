"""The math of image layers' units (h, w, c) and of any weight's entries (``explain_param``):
a filter weight kernel[i, j, c, f] (before, gradient, the optimizer's update, after), a 1-D
weight, and non-trainable moving statistics ("updated by the layer, not the optimizer"), with
the engine's numbers, each shown only once its phase is reached."""

from __future__ import annotations

import numpy as np
import pytest
from support.image_nets import BN_NET
from support.trace_numbers import trace_numbers

from engine.explain import Explanation, Num, explain_neuron, explain_param, explain_weight
from engine.project import from_dict
from engine.stepper import StepSession
from engine.training import TrainingData

CONV_NET = [
    {
        "class_name": "Conv2D",
        "config": {"name": "conv", "filters": 3, "kernel_size": [3, 3], "activation": "relu"},
    },
    {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2]}},
    {"class_name": "Flatten", "config": {"name": "flat"}},
    {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}},
]


def session_of(layers, input_shape, optimizer="adam", dtype="float32") -> StepSession:
    project = from_dict(
        {
            "format_version": 1,
            "name": "image layers",
            "model": {"input_shape": input_shape, "layers": layers},
            "compile": {"optimizer": optimizer, "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 3, "validation_split": 0.0, "shuffle": False, "seed": 5},
            "dataset": {"name": "moons", "n_samples": 6},
            "dtype": dtype,
        }
    )
    rng = np.random.default_rng(11)
    x = rng.normal(size=(6, *input_shape)).astype(dtype)
    y = rng.integers(0, 3, size=6)
    return StepSession(project, batch_size=3, data=TrainingData(x, y, None, None))


def checked(session: StepSession, exp: Explanation, upto: int | None = None) -> list:
    """The trace sources of the numbers shown: each is the engine's value and was reached by
    ``upto``."""
    upto = session.index if upto is None else upto
    return [num.source for num in trace_numbers(session, exp, upto)]


def test_a_rank3_unit_is_explained_at_its_h_w_c():
    s = session_of(BN_NET, [4, 5, 2])
    s.run_to_end()
    h, w, c = 3, 1, 1
    unit = int(np.ravel_multi_index((h, w, c), (4, 5, 2)))
    exp = explain_neuron(s, "bn", 2, unit)
    assert exp.title.startswith("bn · unit 4,2,2")
    sources = checked(s, exp)
    assert ("forward", "bn", "a", (2, h, w, c)) in sources
    assert ("forward", "bn", "inputs", (2, h, w, c)) in sources
    assert ("backward", "bn", "grad_a", (2, h, w, c)) in sources
    inp = explain_neuron(s, "input", 1, unit)
    assert checked(s, inp) == [("batch", None, "x", (1, h, w, c))]
    assert "x₄,₂,₂" in inp.text()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_trainable_weight_of_any_shape_shows_its_gradient_and_update(optimizer):
    s = session_of(BN_NET, [4, 5, 2], optimizer)
    upto_of = {}
    for phase in ("forward", "backward", "update"):
        while s.index < s.position(phase, "bn"):
            s.next()
        upto_of[phase] = s.index
        exp = explain_param(s, "bn", "gamma", (1,), sample=1)
        sources = checked(s, exp)
        assert ("start", "bn", "gamma", (1,)) in sources
        has_grad = ("backward", "bn", "grad_gamma", (1,)) in sources
        has_after = ("update", "bn", "after.gamma", (1,)) in sources
        assert has_grad == (phase != "forward") and has_after == (phase == "update")
    assert "γ₂" in exp.text() and "not the optimizer" not in exp.text()
    assert exp.section("update").title.startswith("Update (")
    # Asked for an earlier phase, the update is not shown.
    early = explain_param(s, "bn", "gamma", (1,), phase=upto_of["backward"])
    assert early.section("update") is None and early.section("backward") is not None


def test_moving_statistics_are_updated_by_the_layer_not_the_optimizer():
    s = session_of(BN_NET, [4, 5, 2])
    s.run_to_end()
    exp = explain_param(s, "bn", "moving_variance", (0,))
    text = exp.text()
    assert "not trainable" in exp.subtitle
    assert "Updated by the layer, not the optimizer" in text
    assert "No gradient" in text
    sources = checked(s, exp)
    upd = s.event("update", "bn").data
    assert ("update", "bn", "before.moving_variance", (0,)) in sources
    assert ("update", "bn", "after.moving_variance", (0,)) in sources
    change = upd["after"]["moving_variance"][0] - upd["before"]["moving_variance"][0]
    assert change != 0  # the step changed it
    sec = exp.section("update")
    delta = [p for ln in sec.lines for p in ln.rhs if isinstance(p, Num) and p.source is None]
    assert delta and delta[-1].value == float(change)


def test_a_dense_kernel_entry_is_the_weight_explanation():
    s = session_of(BN_NET, [4, 5, 2])
    s.run_to_end()
    assert explain_param(s, "out", "kernel", (7, 2)).text() == explain_weight(s, "out", 7, 2).text()
    bias = explain_param(s, "out", "bias", (2,))
    assert ("backward", "out", "grad_bias", (2,)) in checked(s, bias)


def test_a_wrong_weight_or_index_is_named():
    s = session_of(BN_NET, [4, 5, 2])
    with pytest.raises(KeyError, match="'bn' has no weight 'kernel'"):
        explain_param(s, "bn", "kernel", (0, 0))
    with pytest.raises(IndexError, match=r"outside bn/gamma of shape \(2,\)"):
        explain_param(s, "bn", "gamma", (2,))


def test_a_filter_entry_shows_before_gradient_update_and_after():
    s = session_of(CONV_NET, [6, 6, 2])
    s.run_to_end()
    index = (2, 0, 1, 2)  # row 3, column 1, input channel 2, filter 3
    exp = explain_param(s, "conv", "kernel", index, sample=1)
    sources = checked(s, exp)
    for source in (
        ("start", "conv", "kernel", index),
        ("backward", "conv", "grad_kernel", index),
        ("update", "conv", "before.kernel", index),
        ("update", "conv", "after.kernel", index),
    ):
        assert source in sources, source
    text = exp.text()
    assert "input channel 2" in text and "filter 3" in text and "Update (Adam)" in text
    assert "w₃,₁,₂,₃" in text


def test_conv_and_pool_units_are_explained_through_their_hooks():
    s = session_of(CONV_NET, [6, 6, 2])
    s.run_to_end()
    for name in ("conv", "pool"):
        shape = tuple(s.graph.by_name[name].output_shape)
        a = s.event("forward", name).data["a"][2]
        unit = int(np.argmax(np.abs(a)))
        idx = tuple(int(i) for i in np.unravel_index(unit, shape))
        exp = explain_neuron(s, name, 2, unit)
        sources = checked(s, exp)
        assert ("forward", name, "a", (2, *idx)) in sources or (
            "forward",
            name,
            "z",
            (2, *idx),
        ) in sources, exp.text()
        assert exp.section("backward") is not None
