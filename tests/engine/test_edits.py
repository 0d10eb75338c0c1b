"""Pure edits of the spec: canonical form, re-wiring, and random edit sequences."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import edits
from engine.graph import analyze_model
from engine.project import seed_project


def seed():
    return seed_project().data


def chain_names(data):
    return [layer["config"]["name"] for layer in data["model"]["layers"]]


def test_chain_stays_a_plain_list():
    data = seed()
    assert all("inbound" not in layer for layer in data["model"]["layers"])
    new, name = edits.insert_on_edge(
        data, "Dense", "hidden", "dropout", {"units": 32, "activation": "tanh"}
    )
    assert chain_names(new) == ["hidden", name, "dropout", "dense"]
    assert all("inbound" not in layer for layer in new["model"]["layers"])
    graph, problems = analyze_model(new["model"])
    assert not problems and graph.by_name[name].output_shape == (32,)
    assert data == seed()  # the input was not touched


def test_add_unconnected_is_flagged_then_connect():
    data, name = edits.add_layer(seed(), "Dense", {"units": 4}, position=(10, 20))
    assert name == "dense_1"
    _, problems = analyze_model(data["model"])
    assert any(p.layer == name and "not connected" in p.message for p in problems)
    data = edits.connect(data, "dense", name)
    _, problems = analyze_model(data["model"])
    assert not problems
    assert edits.positions(data)[name] == [10.0, 20.0]


def test_remove_from_chain_rewires():
    data = edits.remove_layers(seed(), ["dropout"])
    assert chain_names(data) == ["hidden", "dense"]
    assert not analyze_model(data["model"])[1]


def test_merge_connect_and_disconnect():
    data, add = edits.add_layer(seed(), "Add")
    data = edits.connect(data, "hidden", add)
    data = edits.connect(data, "dropout", add)
    assert edits.explicit_inbound(data)[add] == ["hidden", "dropout"]
    data = edits.connect(data, add, "dense")
    graph, problems = analyze_model(data["model"])
    assert not problems and graph.by_name["dense"].inbound == [add]
    data = edits.disconnect(data, "hidden", add)
    assert edits.explicit_inbound(data)[add] == ["dropout"]


def test_rename_updates_references_and_layout():
    data = edits.move_layers(seed(), {"hidden": (1, 2)})
    data = edits.rename_layer(data, "hidden", "features")
    assert chain_names(data)[0] == "features"
    assert "features" in edits.positions(data) and "hidden" not in edits.positions(data)


def test_paste_keeps_internal_edges_only():
    data = seed()
    specs = [copy.deepcopy(layer) for layer in data["model"]["layers"][:2]]
    specs[1]["inbound"] = ["hidden"]
    specs[0]["inbound"] = ["input"]
    new, names = edits.paste_layers(data, specs)
    ins = edits.explicit_inbound(new)
    assert ins[names[1]] == [names[0]] and ins[names[0]] == []


def test_set_param_none_restores_default_and_settings():
    data = edits.set_param(seed(), "hidden", "use_bias", False)
    assert edits.find_layer(data, "hidden")["config"]["use_bias"] is False
    data = edits.set_param(data, "hidden", "use_bias", None)
    assert "use_bias" not in edits.find_layer(data, "hidden")["config"]
    data = edits.set_setting(data, "fit.batch_size", 64)
    assert data["fit"]["batch_size"] == 64


def test_auto_layout_left_to_right():
    data = edits.auto_layout(seed())
    pos = edits.positions(data)
    xs = [pos[n][0] for n in ["input", "hidden", "dropout", "dense"]]
    assert xs == sorted(xs) and len(set(xs)) == 4


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["add", "insert", "remove", "connect", "disconnect", "rename", "move", "set"]
        ),
        st.integers(0, 10),
        st.integers(0, 10),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_edit_sequences_keep_the_spec_consistent(ops):
    data = seed()
    for op, i, j in ops:
        names = edits.layer_names(data)
        ins = edits.explicit_inbound(data)
        a = names[i % len(names)] if names else None
        b = names[j % len(names)] if names else None
        before = json.dumps(data, sort_keys=True)
        try:
            if op == "add":
                data, _ = edits.add_layer(
                    data,
                    ["Dense", "Dropout", "Add", "Activation"][i % 4],
                    {"units": 3}
                    if i % 4 == 0
                    else {"rate": 0.1}
                    if i % 4 == 1
                    else {"activation": "tanh"}
                    if i % 4 == 3
                    else {},
                )
            elif op == "insert" and a and ins[a]:
                data, _ = edits.insert_on_edge(data, "Dropout", ins[a][0], a, {"rate": 0.5})
            elif op == "remove" and a:
                data = edits.remove_layers(data, [a])
            elif op == "connect" and a and b and a != b:
                data = edits.connect(data, a, b)
            elif op == "disconnect" and a and ins[a]:
                data = edits.disconnect(data, ins[a][0], a)
            elif op == "rename" and a:
                data = edits.rename_layer(data, a, f"r{i}_{j}")
            elif op == "move" and a:
                data = edits.move_layers(data, {a: (i, j)})
            elif op == "set" and a:
                data = edits.set_param(data, a, "units", i + 1)
        except (KeyError, ValueError):
            assert json.dumps(data, sort_keys=True) == before  # a refused edit changes nothing
        names = edits.layer_names(data)
        assert len(names) == len(set(names))
        ins = edits.explicit_inbound(data)
        for n, srcs in ins.items():
            assert all(s == "input" or s in names for s in srcs), (n, srcs)
        assert set(edits.positions(data)) <= set(names) | {"input"}
        analyze_model(data["model"])  # never raises, whatever the edits made
