"""Project files: load/save of .json and .nnd, naming, versions, round trips."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ProjectError
from engine.project import (
    FORMAT_VERSION,
    Project,
    from_dict,
    load_project,
    project_bytes,
    save_project,
    seed_project,
)


def test_seed_project_names_layers_like_keras():
    p = seed_project()
    assert [layer["config"]["name"] for layer in p.layers] == ["hidden", "dropout", "dense"]
    assert p.name == "Seed MLP"


def test_auto_names_avoid_user_names_and_count_per_class():
    p = from_dict(
        {
            "model": {
                "input_shape": [4],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 3}},
                    {"class_name": "Dense", "config": {"name": "dense_1", "units": 3}},
                    {"class_name": "Dense", "config": {"units": 3}},
                    {"class_name": "Dropout", "config": {"rate": 0.1}},
                ],
            }
        }
    )
    assert [layer["config"]["name"] for layer in p.layers] == [
        "dense",
        "dense_1",
        "dense_2",
        "dropout",
    ]
    assert p.data["format_version"] == FORMAT_VERSION


def test_json_round_trip_same_bytes_and_unknown_keys_kept(tmp_path):
    data = seed_project().data
    data["layout"] = {"hidden": [10, 20], "note": "kept"}
    f = tmp_path / "p.json"
    f.write_text(json.dumps(data))
    p1 = load_project(f)
    save_project(p1, tmp_path / "a.json")
    p2 = load_project(tmp_path / "a.json")
    save_project(p2, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert p2.data["layout"] == {"hidden": [10, 20], "note": "kept"}


def test_nnd_round_trip_with_weights_and_history(tmp_path):
    p = seed_project()
    rng = np.random.default_rng(0)
    p.weights = {
        "hidden/kernel": rng.random((784, 128), dtype=np.float32),
        "hidden/bias": np.zeros(128, np.float32),
    }
    p.history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}
    save_project(p, tmp_path / "a.nnd")
    q = load_project(tmp_path / "a.nnd")
    assert q.data == p.data
    assert q.history == p.history
    np.testing.assert_array_equal(q.weights["hidden/kernel"], p.weights["hidden/kernel"])
    save_project(q, tmp_path / "b.nnd")
    assert (tmp_path / "a.nnd").read_bytes() == (tmp_path / "b.nnd").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.nnd") as zf:
        assert set(zf.namelist()) == {"project.json", "weights.npz", "history.json"}


def test_newer_major_version_is_refused_naming_both(tmp_path):
    f = tmp_path / "future.json"
    f.write_text(json.dumps({**seed_project().data, "format_version": "2.0"}))
    with pytest.raises(ProjectError) as err:
        load_project(f)
    msg = str(err.value)
    assert "2.0" in msg and "format version 1" in msg and str(f) in msg


def test_newer_minor_version_is_read(tmp_path):
    f = tmp_path / "minor.json"
    f.write_text(json.dumps({**seed_project().data, "format_version": "1.3"}))
    assert load_project(f).name == "Seed MLP"


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe\x00garbage", "not"),
        (b'{"format_version": "x"}', "format_version"),
    ],
)
def test_broken_files_give_project_error_naming_file(tmp_path, content, needle):
    f = tmp_path / "broken.json"
    f.write_bytes(content)
    with pytest.raises(ProjectError) as err:
        load_project(f)
    assert needle in str(err.value) and "broken.json" in str(err.value)


def test_broken_nnd(tmp_path):
    f = tmp_path / "x.nnd"
    f.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ProjectError, match="not a valid .nnd"):
        load_project(f)
    with zipfile.ZipFile(tmp_path / "y.nnd", "w") as zf:
        zf.writestr("other.txt", "hi")
    with pytest.raises(ProjectError, match="no project.json"):
        load_project(tmp_path / "y.nnd")


def test_missing_file(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        load_project(tmp_path / "nope.json")


def test_save_refuses_other_suffix(tmp_path):
    with pytest.raises(ProjectError, match=".json or .nnd"):
        save_project(seed_project(), tmp_path / "p.txt")


def test_nan_in_settings_is_refused_on_save(tmp_path):
    p = seed_project()
    p.data["fit"]["validation_split"] = float("nan")
    with pytest.raises(ProjectError, match="JSON cannot store"):
        save_project(p, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


def test_atomic_save_leaves_old_file_when_write_fails(tmp_path, monkeypatch):
    f = tmp_path / "p.json"
    save_project(seed_project(), f)
    before = f.read_bytes()
    import os

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    p = seed_project()
    p.data["name"] = "changed"
    with pytest.raises(ProjectError, match="could not be saved"):
        save_project(p, f)
    assert f.read_bytes() == before
    assert [x.name for x in tmp_path.iterdir()] == ["p.json"]  # no temp file left behind


# Hypothesis: random (structurally plausible) projects round-trip losslessly and deterministically.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
layer = st.fixed_dictionaries(
    {
        "class_name": st.sampled_from(
            ["Dense", "Dropout", "Activation", "Flatten", "Add", "Concatenate"]
        ),
        "config": st.dictionaries(
            st.sampled_from(["units", "rate", "activation", "name", "axis"]),
            json_scalars,
            max_size=3,
        ),
    }
)
projects = st.fixed_dictionaries(
    {
        "format_version": st.just(1),
        "name": st.text(max_size=20),
        "model": st.fixed_dictionaries(
            {
                "input_shape": st.lists(st.integers(1, 64), min_size=1, max_size=3),
                "layers": st.lists(layer, max_size=6),
            }
        ),
        "fit": st.dictionaries(
            st.sampled_from(["epochs", "batch_size", "seed"]), st.integers(1, 100), max_size=3
        ),
    },
    optional={"extra": json_values, "layout": json_values},
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects, st.sampled_from([".json", ".nnd"]))
def test_round_trip_property(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("rt")
    try:
        p = from_dict(json.loads(json.dumps(data)))
    except ProjectError:
        return
    save_project(p, folder / f"a{suffix}")
    q = load_project(folder / f"a{suffix}")
    assert q.data == p.data
    save_project(q, folder / f"b{suffix}")
    assert (folder / f"a{suffix}").read_bytes() == (folder / f"b{suffix}").read_bytes()
    assert project_bytes(q, suffix) == (folder / f"b{suffix}").read_bytes()


def test_project_properties_default():
    p = Project({"format_version": 1})
    assert p.name == "Untitled" and p.backend == "numpy" and p.dtype == "float32"
    assert p.fit["batch_size"] == 32
