"""The network doctor (engine.doctor, `nndesigner doctor`): one test per finding, on a project
that has it (the right layer and field), and its fix applied removes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine import edits
from engine.cli import main
from engine.data import load_dataset
from engine.doctor import ERROR, HINT, WARNING, apply_fix, diagnose
from engine.project import from_dict, save_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))


def spec(layers, loss="sparse_categorical_crossentropy", input_shape=(2,), dataset=None, **over):
    data = {
        "format_version": 1,
        "name": "doctor case",
        "model": {"input_shape": list(input_shape), "layers": layers},
        "compile": {"optimizer": {"class_name": "Adam", "config": {}}, "loss": loss},
        "fit": {"epochs": 1, "batch_size": 16, "validation_split": 0.0, "seed": 0},
        "dataset": dataset or {"name": "blobs", "n_samples": 120, "centers": 3},
        "backend": "numpy",
        "dtype": "float32",
    }
    for path, value in over.items():
        data = edits.set_setting(data, path.replace("__", "."), value)
    return data


def dense(name, units, activation="linear", **cfg):
    return {
        "class_name": "Dense",
        "config": {"name": name, "units": units, "activation": activation, **cfg},
    }


def layer(cls, name, **cfg):
    return {"class_name": cls, "config": {"name": name, **cfg}}


def findings(data, base_dir: Path | None = None):
    project = from_dict(copy.deepcopy(data))
    if base_dir is not None:
        project.path = base_dir / "p.json"
    dataset = None
    if "dataset" in project.data:
        dataset = load_dataset(project.dataset, project.base_dir, project.dtype)
    return diagnose(project, dataset)


def the(found, code):
    hits = [f for f in found if f.code == code]
    assert hits, f"no {code!r} in {[(f.code, f.message) for f in found]}"
    return hits[0]


def fixed(data, finding, base_dir=None):
    """The findings after applying ``finding``'s fix: it must be gone."""
    assert finding.fix is not None
    mended = apply_fix(data, finding.fix)
    after = findings(mended, base_dir)
    assert finding.code not in {f.code for f in after}, [(f.code, f.message) for f in after]
    return mended, after


# ------------------------------------------------------------------------ output vs loss
def test_softmax_with_binary_crossentropy_is_an_error_fixed_by_the_categorical_loss():
    data = spec([dense("h", 8, "relu"), dense("out", 3, "softmax")], loss="binary_crossentropy")
    f = the(findings(data), "softmax-binary-crossentropy")
    assert (f.level, f.layer, f.field) == (ERROR, "out", "activation")
    assert "sigmoid(z)" in f.message and "keras/src" in f.why
    mended, after = fixed(data, f)
    assert mended["compile"]["loss"] == "categorical_crossentropy"
    assert not [g for g in after if g.level == ERROR]


def test_sigmoid_with_categorical_crossentropy_is_an_error_fixed_by_softmax():
    data = spec([dense("h", 8, "relu"), dense("out", 3, "sigmoid")])
    f = the(findings(data), "sigmoid-categorical-crossentropy")
    assert (f.level, f.layer) == (ERROR, "out")
    mended, _ = fixed(data, f)
    assert edits.find_layer(mended, "out")["config"]["activation"] == "softmax"


@pytest.mark.parametrize("act", ["relu", "linear", "tanh"])
def test_a_cross_entropy_on_an_output_without_probabilities_is_an_error(act):
    data = spec([dense("h", 8, "relu"), dense("out", 3, act)])
    f = the(findings(data), "output-not-probabilities")
    assert (f.level, f.layer, f.field) == (ERROR, "out", "activation")
    assert f"'{act}'" in f.message
    fixed(data, f)


def test_from_logits_on_a_softmax_output_squashes_twice():
    loss = {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}
    data = spec([dense("h", 8, "relu"), dense("out", 3, "softmax")], loss=loss)
    f = the(findings(data), "logits-of-probabilities")
    mended, after = fixed(data, f)
    assert edits.find_layer(mended, "out")["config"]["activation"] == "linear"
    assert "output-not-probabilities" not in {g.code for g in after}  # logits are right here


def test_mse_on_classes_is_a_warning_fixed_by_a_cross_entropy():
    data = spec([dense("h", 8, "relu"), dense("out", 3, "softmax")], loss="mse")
    f = the(findings(data), "mse-classification")
    assert (f.level, f.field) == (WARNING, "compile.loss")
    mended, after = fixed(data, f)
    assert mended["compile"]["loss"] == "categorical_crossentropy"
    assert not [g for g in after if g.level == ERROR]
    one = spec(
        [dense("h", 8, "relu"), dense("out", 1, "sigmoid")],
        loss="mse",
        dataset={"name": "moons", "n_samples": 100},
    )
    mended, _ = fixed(one, the(findings(one), "mse-classification"))
    assert mended["compile"]["loss"] == "binary_crossentropy"


def test_the_output_width_against_the_classes_is_an_error_with_the_units_to_set():
    data = spec([dense("h", 8, "relu"), dense("out", 2, "softmax")])  # 3 blobs
    f = the(findings(data), "data-fit")
    assert (f.level, f.layer, f.field) == (ERROR, "out", "units")
    mended, _ = fixed(data, f)
    assert edits.find_layer(mended, "out")["config"]["units"] == 3


def test_two_classes_on_two_sigmoid_units_is_a_warning_fixed_by_one_unit():
    data = spec(
        [dense("h", 8, "relu"), dense("out", 2, "sigmoid")],
        loss="binary_crossentropy",
        dataset={"name": "moons", "n_samples": 100},
    )
    f = the(findings(data), "two-unit-sigmoid")
    assert (f.level, f.layer, f.field) == (WARNING, "out", "units")
    mended, after = fixed(data, f)
    assert edits.find_layer(mended, "out")["config"]["units"] == 1
    assert not [g for g in after if g.level == ERROR]


# ------------------------------------------------------------------------ structure
def test_two_dense_layers_without_a_nonlinearity_are_one_linear_map():
    data = spec(
        [
            dense("a", 8),
            layer("Dropout", "d", rate=0.1),
            dense("b", 8, "relu"),
            dense("out", 3, "softmax"),
        ]
    )
    f = the(findings(data), "linear-stack")
    assert (f.level, f.layer, f.field) == (WARNING, "a", "activation")
    assert "'a' and 'b' (through Dropout)" in f.message
    mended, _ = fixed(data, f)
    assert edits.find_layer(mended, "a")["config"]["activation"] == "relu"


def test_dropout_on_the_output_is_a_warning_fixed_by_removing_it():
    data = spec(
        [dense("h", 8, "relu"), dense("out", 3, "softmax"), layer("Dropout", "drop", rate=0.5)]
    )
    f = the(findings(data), "dropout-on-output")
    assert (f.level, f.layer) == (WARNING, "drop")
    mended, _ = fixed(data, f)
    assert "drop" not in edits.layer_names(mended)


def test_heavy_dropout_on_the_input_is_a_warning_light_dropout_is_not():
    data = spec(
        [layer("Dropout", "drop", rate=0.5), dense("h", 8, "relu"), dense("out", 3, "softmax")]
    )
    f = the(findings(data), "dropout-on-input")
    assert (f.layer, f.field) == ("drop", "rate")
    mended, _ = fixed(data, f)
    assert edits.find_layer(mended, "drop")["config"]["rate"] == 0.2


def test_a_huge_first_dense_on_images_suggests_a_convolution_and_inserts_one():
    data = spec(
        [layer("Flatten", "flat"), dense("big", 1600, "relu"), dense("out", 10, "softmax")],
        input_shape=(8, 8, 1),
        dataset={"name": "digits", "scale": "minmax"},
    )
    f = the(findings(data), "dense-on-images")
    assert (f.level, f.layer) == (HINT, "big")
    assert "102,400 weights" in f.message
    mended, after = fixed(data, f)
    assert [layer["class_name"] for layer in mended["model"]["layers"]][:3] == [
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
    ]
    assert not [g for g in after if g.level == ERROR]
    small = spec(
        [dense("h", 32, "relu"), dense("out", 10, "softmax")],
        input_shape=(64,),
        dataset={"name": "digits", "scale": "minmax"},
    )
    assert "dense-on-images" not in {g.code for g in findings(small)}


def test_batchnormalization_after_its_activation_is_a_hint_and_the_fix_moves_it():
    data = spec(
        [dense("h", 8, "relu"), layer("BatchNormalization", "bn"), dense("out", 3, "softmax")]
    )
    f = the(findings(data), "batchnorm-after-activation")
    assert (f.level, f.layer) == (HINT, "bn")
    mended, after = fixed(data, f)
    assert edits.find_layer(mended, "h")["config"]["activation"] == "linear"
    classes = [layer["class_name"] for layer in mended["model"]["layers"]]
    assert classes.index("BatchNormalization") < classes.index("Activation")
    assert "linear-stack" not in {g.code for g in after}  # BN, then relu: not linear


def test_an_unused_branch_is_an_error_and_the_fix_removes_it():
    data = spec(
        [
            dense("h", 8, "relu"),
            dense(
                "side",
                4,
                "relu",
            ),
            dense("out", 3, "softmax"),
        ]
    )
    data["model"]["layers"][1]["inbound"] = ["h"]
    data["model"]["layers"][2]["inbound"] = ["h"]
    found = findings(data)
    f = the(found, "unused-branch")
    assert (f.level, f.layer) == (ERROR, "side")
    assert not [g for g in found if "no consumer" in g.message]  # said once, as the branch
    mended, after = fixed(data, f)
    assert edits.layer_names(mended) == ["h", "out"]
    assert not [g for g in after if g.level == ERROR]


def test_a_network_near_the_memory_limit_is_a_warning(monkeypatch):
    from engine.doctor import structure_checks
    from engine.memory import MemoryLimit

    data = spec([dense("h", 64, "relu"), dense("out", 3, "softmax")])
    project = from_dict(copy.deepcopy(data))
    from engine.graph import build_graph, memory_estimate

    need = memory_estimate(build_graph(project), "float32", 16)
    monkeypatch.setattr(
        "engine.memory.memory_limit", lambda: MemoryLimit(int(need / 0.6), "test limit")
    )
    f = the(structure_checks.structure_findings(project, build_graph(project), None), "over-budget")
    assert f.level == WARNING and "test limit" in f.message


# ------------------------------------------------------------------------ data
def write_csv(path: Path, rows: list[list], header: list[str]) -> None:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def csv_spec(tmp_path, rows, header, out_units, **kw):
    write_csv(tmp_path / "d.csv", rows, header)
    return spec(
        [dense("h", 4, "relu"), dense("out", out_units, "softmax")],
        dataset={"path": "d.csv", "target": header[-1], **kw},
    )


def test_unscaled_features_are_a_warning_fixed_by_standardizing(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        [round(1000 + 300 * a, 3), round(b, 3), int(a > 0)] for a, b in rng.normal(size=(60, 2))
    ]
    data = csv_spec(tmp_path, rows, ["income", "age", "y"], 2)
    f = the(findings(data, tmp_path), "unscaled-features")
    assert (f.level, f.field) == (WARNING, "dataset.scale")
    assert "'income'" in f.message
    mended, _ = fixed(data, f, tmp_path)
    assert mended["dataset"]["scale"] == "standardize"


def test_pixels_of_0_to_16_are_unscaled_images_fixed_by_minmax():
    data = spec(
        [layer("Flatten", "flat"), dense("h", 16, "relu"), dense("out", 10, "softmax")],
        input_shape=(8, 8, 1),
        dataset={"name": "digits"},
    )
    f = the(findings(data), "unscaled-features")
    assert "16" in f.message
    mended, _ = fixed(data, f)
    assert mended["dataset"]["scale"] == "minmax"


def test_class_imbalance_is_a_warning_fixed_by_balanced_class_weights(tmp_path):
    rows = [[i * 0.01, (i % 7) * 0.1, 0] for i in range(40)] + [
        [1 + i * 0.01, 0.5, 1] for i in range(8)
    ]
    data = csv_spec(tmp_path, rows, ["a", "b", "y"], 2)
    f = the(findings(data, tmp_path), "class-imbalance")
    assert f.field == "fit.class_weight" and "40 samples" in f.message and "5.0 to 1" in f.message
    mended, _ = fixed(data, f, tmp_path)
    assert mended["fit"]["class_weight"] == {"0": 0.6, "1": 3.0}  # 48 / (2 * count)


def test_too_few_samples_for_the_parameters_is_a_warning():
    data = spec(
        [dense("h", 500, "relu"), dense("out", 3, "softmax")],
        dataset={"name": "blobs", "n_samples": 60, "centers": 3},
    )
    f = the(findings(data), "few-samples")
    assert f.level == WARNING and "60 training samples" in f.message
    assert f.fix is None  # fewer units, more data or regularization: the user's choice


def test_constant_features_are_named(tmp_path):
    rows = [[i * 0.1, 7, (i % 5) * 0.2, i % 2] for i in range(30)]
    data = csv_spec(tmp_path, rows, ["a", "same", "c", "y"], 2)
    f = the(findings(data, tmp_path), "constant-features")
    assert "'same'" in f.message and "'a'" not in f.message


def test_labels_that_are_not_0_to_k_minus_1_are_a_hint(tmp_path):
    rows = [[i * 0.1, (i % 3) * 0.1, -1 if i % 2 else 1] for i in range(30)]
    data = csv_spec(tmp_path, rows, ["a", "b", "y"], 2)
    f = the(findings(data, tmp_path), "labels-renumbered")
    assert f.level == HINT and "-1, 1" in f.message


def test_whole_number_targets_read_as_a_regression_are_a_warning_fixed_by_classes(tmp_path):
    rows = [[i * 0.1, (i % 4) * 0.1, i % 3] for i in range(30)]
    write_csv(tmp_path / "d.csv", rows, ["a", "b", "y"])
    data = spec(
        [dense("h", 4, "relu"), dense("out", 1)],
        loss="mse",
        dataset={"path": "d.csv", "target": "y", "task": "regression"},
    )
    f = the(findings(data, tmp_path), "labels-as-numbers")
    assert f.field == "dataset.task"
    mended = apply_fix(data, f.fix)
    assert mended["dataset"]["task"] == "classification"


# ------------------------------------------------------------------------ optimizer
@pytest.mark.parametrize("cls,rate,direction", [("Adam", 0.5, "above"), ("SGD", 1e-7, "below")])
def test_a_learning_rate_far_outside_the_usual_range_is_a_warning(cls, rate, direction):
    data = spec([dense("h", 8, "relu"), dense("out", 3, "softmax")])
    data["compile"]["optimizer"] = {"class_name": cls, "config": {"learning_rate": rate}}
    f = the(findings(data), "learning-rate")
    assert direction in f.message and f.field == "compile.optimizer.learning_rate"
    mended, _ = fixed(data, f)
    expected = {"Adam": 0.001, "SGD": 0.01}[cls]  # Keras' defaults
    assert mended["compile"]["optimizer"]["config"]["learning_rate"] == pytest.approx(expected)


def test_perceptron_settings_batch_size_and_learning_rate():
    data = json.loads((ROOT / "resources/examples/perceptron.json").read_text())
    found = findings(data)
    assert [f.code for f in found] == ["perceptron-learning-rate"]  # the seed's own settings
    assert found[0].layer == "perceptron" and found[0].level == HINT
    data["fit"]["batch_size"] = 10
    f = the(findings(data), "perceptron-batch")
    assert f.level == WARNING
    fixed(data, f)


# ------------------------------------------------------------------------ every example, the CLI
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_no_shipped_example_has_an_error(path):
    project = from_dict(json.loads(path.read_text()))
    from engine.doctor_cli import load_data

    dataset, unreadable = load_data(project)
    assert unreadable is None or unreadable.level == WARNING  # MNIST not in the cache here
    assert not [f for f in diagnose(project, dataset) if f.level == ERROR]


def test_cli_doctor_exit_status_text_and_json(tmp_path, capsys):
    bad = spec([dense("h", 8, "relu"), dense("out", 3, "softmax")], loss="binary_crossentropy")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert main(["doctor", str(path)]) == 1
    text = capsys.readouterr().out
    assert (
        "1 error" in text
        and "out.activation" in text
        and "fix: Use categorical_crossentropy" in text
    )
    assert main(["doctor", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    first = doc["findings"][0]
    assert first["code"] == "softmax-binary-crossentropy" and first["level"] == "error"
    assert first["fix"]["edits"] == [
        {"edit": "set_setting", "path": "compile.loss", "value": "categorical_crossentropy"}
    ]
    mended = tmp_path / "mended.json"
    assert main(["doctor", str(path), "--fix", str(mended)]) == 0
    out = capsys.readouterr().out
    assert "applied: Use categorical_crossentropy" in out and "Saved" in out
    assert json.loads(mended.read_text())["compile"]["loss"] == "categorical_crossentropy"
    assert main(["doctor", str(ROOT / "resources/examples/iris.json")]) == 0
    assert "no findings" in capsys.readouterr().out


def test_cli_doctor_on_a_broken_project_or_data_says_where(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text("{ not json")
    assert main(["doctor", str(path)]) == 2
    err = capsys.readouterr().err
    assert "p.json" in err and "Traceback" not in err
    data = spec(
        [dense("h", 8, "relu"), dense("out", 2, "softmax")],
        dataset={"path": "missing.csv", "target": "y"},
    )
    path.write_text(json.dumps(data))
    assert main(["doctor", str(path)]) == 1
    out = capsys.readouterr().out
    assert "data file not found" in out and "missing.csv" in out


def test_a_fix_that_no_longer_applies_raises_a_clear_key_error():
    data = spec([dense("h", 8, "relu"), dense("out", 3, "sigmoid")])
    f = the(findings(data), "sigmoid-categorical-crossentropy")
    renamed = edits.rename_layer(data, "out", "probs")
    with pytest.raises(KeyError):
        apply_fix(renamed, f.fix)


def test_a_saved_nnd_is_diagnosed_like_its_json(tmp_path, capsys):
    project = from_dict(spec([dense("a", 8), dense("out", 3, "softmax")]))
    save_project(project, tmp_path / "p.nnd")
    assert main(["doctor", str(tmp_path / "p.nnd"), "--json"]) == 0  # a warning only
    codes = [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert codes == ["linear-stack"]


def test_the_linear_stack_check_asks_the_layer_types_not_their_names():
    relu = spec(
        [dense("a", 8), layer("ReLU", "r"), dense("b", 8, "relu"), dense("out", 3, "softmax")]
    )
    assert "linear-stack" not in {f.code for f in findings(relu)}  # ReLU is not affine
    ident = spec(
        [
            dense("a", 8),
            layer("Activation", "act", activation="linear"),
            dense("b", 8, "relu"),
            dense("out", 3, "softmax"),
        ]
    )
    assert "(through Activation)" in the(findings(ident), "linear-stack").message
    bn = spec([dense("a", 8), layer("BatchNormalization", "bn"), dense("out", 3, "softmax")])
    assert the(findings(bn), "linear-stack").layer == "a"  # BatchNormalization is affine
