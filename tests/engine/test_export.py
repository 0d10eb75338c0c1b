"""Export as Keras code: golden text, lint, refusals, identical data, and the generated files run.

The checks that need TensorFlow execute the generated files in one subprocess (TensorFlow takes
seconds to start): it builds every exported model (parameter counts, output shapes, compile
settings, predictions with the exported weights), then runs one script as ``python model.py
--epochs 1`` does (``runpy`` with ``__main__`` and that argv). ``UPDATE_GOLDEN=1 pytest
tests/engine/test_export.py`` rewrites the golden files after an intended change.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import NNDError, ValidationError
from engine.export import export_project, keras_code
from engine.graph import build_graph
from engine.project import from_dict, load_project, save_project
from engine.training import build_model, load_training_data
from engine.validate import optimizer_class

GOLDEN = Path(__file__).parent / "golden"

# Keras 3.15 on NumPy 2 warns from its own set_weights(); not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

SEED = {
    "format_version": 1,
    "name": "Seed MLP",
    "model": {
        "input_shape": [784],
        "layers": [
            {
                "class_name": "Dense",
                "config": {"name": "hidden", "units": 128, "activation": "relu"},
            },
            {"class_name": "Dropout", "config": {"rate": 0.2}},
            {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
        ],
    },
    "compile": {
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 5, "batch_size": 32, "validation_split": 0.1, "shuffle": True, "seed": 0},
    "dataset": {"name": "mnist"},
    "backend": "numpy",
    "dtype": "float32",
}

GRAPH = {
    "format_version": 1,
    "name": "Merge graph",
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "left", "units": 8, "activation": "relu"}},
            {
                "class_name": "Dense",
                "config": {
                    "name": "right",
                    "units": 8,
                    "activation": "tanh",
                    "kernel_initializer": "he_normal",
                },
                "inbound": ["input"],
            },
            {"class_name": "Add", "config": {"name": "sum"}, "inbound": ["left", "right"]},
            {"class_name": "Concatenate", "config": {"name": "join"}, "inbound": ["sum", "left"]},
            {"class_name": "Activation", "config": {"name": "act", "activation": "gelu"}},
            {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.1, "seed": 3}},
            {
                "class_name": "Dense",
                "config": {"name": "class", "units": 3, "activation": "softmax"},
            },
        ],
    },
    "compile": {
        "optimizer": "rmsprop",
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 30, "batch_size": 16, "validation_split": 0.2, "shuffle": True, "seed": 1},
    "dataset": {"name": "blobs", "n_samples": 120, "centers": 3},
    "backend": "numpy",
    "dtype": "float32",
}

XOR_SGD = {
    "format_version": 1,
    "name": "XOR with SGD",
    "model": {
        "input_shape": [2],
        "layers": [
            {
                "class_name": "Dense",
                "config": {
                    "name": "hidden",
                    "units": 8,
                    "activation": "tanh",
                    "kernel_initializer": {
                        "class_name": "RandomNormal",
                        "config": {"stddev": 0.5},
                    },
                },
            },
            {
                "class_name": "Dense",
                "config": {"name": "output", "units": 1, "activation": "sigmoid"},
            },
        ],
    },
    "compile": {
        "optimizer": {
            "class_name": "SGD",
            "config": {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        },
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 40, "batch_size": 8, "validation_split": 0.25, "shuffle": False, "seed": 2},
    "dataset": {"name": "xor", "n_samples": 200, "noise": 0.05, "standardize": True},
    "backend": "numpy",
    "dtype": "float32",
}

GOLDEN_PROJECTS = {"seed_mlp": SEED, "merge_graph": GRAPH, "xor_sgd": XOR_SGD}


def make(spec: dict, **changes) -> object:
    data = copy.deepcopy(spec)
    for key, value in changes.items():
        data[key] = value
    return from_dict(data)


def chain(
    input_dim: int,
    out_units: int,
    out_activation: str,
    loss: str,
    dataset: dict,
    *,
    dtype: str = "float32",
    split: float = 0.2,
    name: str = "Data check",
) -> object:
    return from_dict(
        {
            "format_version": 1,
            "name": name,
            "model": {
                "input_shape": [input_dim],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 6, "activation": "relu"}},
                    {
                        "class_name": "Dense",
                        "config": {"units": out_units, "activation": out_activation},
                    },
                ],
            },
            "compile": {"optimizer": "adam", "loss": loss, "metrics": []},
            "fit": {"epochs": 1, "batch_size": 16, "validation_split": split, "seed": 5},
            "dataset": dataset,
            "dtype": dtype,
        }
    )


def with_weights(project, seed: int = 0):
    """The project with its initial weights, perturbed so that no bias is zero."""
    graph = build_graph(project)
    model = build_model(project, graph)
    rng = np.random.default_rng(seed)
    project.weights = {
        k: (v + rng.normal(0, 0.1, size=v.shape)).astype(v.dtype)
        for k, v in model.flat_weights().items()
    }
    return project


def import_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ruff() -> list[str] | None:
    exe = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return [exe] if Path(exe).exists() or shutil.which(exe) else None


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_PROJECTS))
def test_generated_code_matches_golden_file(name):
    text = keras_code(from_dict(copy.deepcopy(GOLDEN_PROJECTS[name])))
    path = GOLDEN / f"{name}.py"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


def test_seed_code_is_the_seed_keras_example():
    text = keras_code(make(SEED))
    assert "keras.Sequential(" in text
    assert "keras.Input(shape=(784,))" in text
    assert 'layers.Dense(128, activation="relu", name="hidden")' in text
    assert 'layers.Dropout(0.2, name="dropout")' in text
    assert 'layers.Dense(10, activation="softmax", name="dense")' in text
    assert 'optimizer="adam"' in text
    assert 'loss="sparse_categorical_crossentropy"' in text
    assert 'metrics=["accuracy"]' in text
    assert "keras.datasets.mnist.load_data()" in text
    assert "lr=" not in text
    assert "import engine" not in text and "from engine" not in text


def test_graph_uses_the_functional_api_and_chain_does_not():
    graph_text = keras_code(make(GRAPH))
    assert "keras.Model(inputs=inputs, outputs=class_" in graph_text
    assert 'sum_ = layers.Add(name="sum")([left, right])' in graph_text
    assert 'join = layers.Concatenate(name="join")([sum_, left])' in graph_text
    assert "keras.Sequential" not in graph_text
    assert "keras.Model(" not in keras_code(make(XOR_SGD))


def test_dict_optimizer_writes_its_non_default_hyper_parameters():
    text = keras_code(make(XOR_SGD))
    assert "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)" in text
    adam = make(XOR_SGD)
    adam.data["compile"]["optimizer"] = {"class_name": "Adam", "config": {}}
    assert "optimizer=keras.optimizers.Adam(learning_rate=0.001)" in keras_code(adam)
    assert "keras.initializers.RandomNormal(stddev=0.5)" in text


def test_float64_projects_set_the_dtype_of_every_layer():
    text = keras_code(make(GRAPH, dtype="float64"))
    assert 'keras.Input(shape=(2,), dtype="float64")' in text
    assert text.count('dtype="float64"') == 1 + len(GRAPH["model"]["layers"])


def test_only_used_imports_and_weights_code_when_trained():
    plain = keras_code(make(SEED))
    assert "from pathlib import Path" not in plain and "load_weights" not in plain
    trained = keras_code(with_weights(make(XOR_SGD)))
    assert "from pathlib import Path" in trained
    assert 'WEIGHTS_PATH = Path(__file__).with_suffix(".weights.h5")' in trained
    assert "model.load_weights(weights_path)" in trained
    no_data = make(SEED)
    del no_data.data["dataset"]
    text = keras_code(no_data)
    assert "import numpy" not in text and "raise SystemExit(" in text


def generated_variants() -> dict[str, str]:
    odd = make(GRAPH)
    names = {"left": "1st-layer", "right": "lambda", "sum": "model", "join": "inputs"}
    for layer in odd.data["model"]["layers"]:
        old = layer["config"]["name"]
        layer["config"]["name"] = names.get(old, old)
        if "inbound" in layer:
            layer["inbound"] = [names.get(s, s) for s in layer["inbound"]]
    odd.data["name"] = 'A "quoted" name \\ with """ and a very long tail ' + "x" * 80
    odd.data["compile"]["optimizer"] = {
        "class_name": "Adam",
        "config": {"learning_rate": 0.002, "epsilon": 1e-08, "clipnorm": 1e20, "amsgrad": True},
    }
    npz = chain(3, 1, "linear", "mse", {"path": "data/points.npz"}, dtype="float64")
    return {
        **{name: keras_code(make(spec)) for name, spec in GOLDEN_PROJECTS.items()},
        "odd_names": keras_code(odd),
        "weights": keras_code(with_weights(make(GRAPH))),
        "float64_npz": keras_code(npz),
        "no_split": keras_code(
            chain(4, 3, "softmax", "categorical_crossentropy", {"name": "iris"}, split=0)
        ),
    }


def test_generated_code_is_ruff_clean_and_formatted(tmp_path):
    cmd = ruff()
    if cmd is None:
        pytest.skip("ruff is not installed")
    files = []
    for name, text in generated_variants().items():
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    # --isolated: ruff's defaults (line length 88), whatever the repository configures.
    r = subprocess.run(
        [*cmd, "check", "--isolated", "--select", "F,E,W,I,B,UP", *files],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [*cmd, "format", "--isolated", "--check", "--diff", *files], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_keras_code_never_imports_tensorflow():
    code = (
        "import sys, copy, json\n"
        "from engine.project import from_dict\n"
        "from engine.export import keras_code\n"
        f"keras_code(from_dict(json.loads({json.dumps(json.dumps(GRAPH))})))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(root)),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_perceptron_and_sign_are_refused_with_a_message():
    project = from_dict(
        {
            "name": "p",
            "model": {
                "input_shape": [2],
                "layers": [
                    {
                        "class_name": "Dense",
                        "config": {"name": "perceptron", "units": 1, "activation": "sign"},
                    }
                ],
            },
            "compile": {"optimizer": {"class_name": "Perceptron", "config": {}}},
            "dataset": {"name": "blobs", "centers": 2},
        }
    )
    with pytest.raises(NNDError) as info:
        keras_code(project)
    message = str(info.value)
    assert message.startswith(
        "the Perceptron optimizer and the 'sign' activation have no Keras equivalent; "
        "export a model trained with a gradient optimizer"
    )
    assert "'perceptron'" in message


def test_invalid_projects_and_keras_incompatible_names_are_refused():
    bad = make(XOR_SGD)
    bad.data["model"]["layers"][0]["config"]["units"] = 0
    with pytest.raises(ValidationError, match="units"):
        keras_code(bad)
    spaced = make(XOR_SGD)
    spaced.data["model"]["layers"][0]["config"]["name"] = "my layer"
    with pytest.raises(ValidationError) as info:
        keras_code(spaced)
    assert info.value.problems[0].layer == "my layer"
    assert "my_layer" in str(info.value)


def test_export_refuses_weights_that_do_not_fit(tmp_path):
    project = with_weights(make(XOR_SGD))
    project.weights["hidden/kernel"] = np.zeros((3, 8), np.float32)
    with pytest.raises(ValidationError, match="hidden"):
        export_project(project, tmp_path / "model.py")
    assert list(tmp_path.iterdir()) == []


def test_data_paths_relative_to_the_script_or_absolute(tmp_path):
    proj_dir = tmp_path / "proj"
    (proj_dir / "data").mkdir(parents=True)
    project = chain(3, 1, "linear", "mse", {"path": "data/points.npz"})
    save_project(project, proj_dir / "p.json")
    beside = keras_code(project, script_dir=proj_dir)
    assert 'DATA_PATH = Path(__file__).resolve().parent / "data/points.npz"' in beside
    elsewhere = keras_code(project, script_dir=tmp_path / "other")
    expected = (proj_dir / "data" / "points.npz").as_posix()
    assert f'DATA_PATH = Path("{expected}")' in elsewhere


# --------------------------------------------------------------------------------------------
# The data: load_data() gives exactly the arrays the NumPy engine trains on
# --------------------------------------------------------------------------------------------


def data_cases(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(0)
    reg = tmp_path / "reg.npz"
    np.savez(reg, x=rng.normal(size=60), y=rng.normal(size=60) * 10)
    cls = tmp_path / "cls.npz"
    np.savez(cls, x_train=rng.normal(size=(50, 3)), y_train=rng.integers(0, 3, size=(50, 1)))
    onehot = tmp_path / "onehot.npz"
    np.savez(onehot, x=rng.normal(size=(40, 2)), y=np.eye(4)[rng.integers(0, 4, size=40)])
    return {
        "xor_sgd": make(XOR_SGD),
        "merge_graph": make(GRAPH),
        "spiral_float64": chain(
            2,
            3,
            "softmax",
            "categorical_crossentropy",
            {"name": "spiral", "n_classes": 3, "n_samples": 150, "standardize": True},
            dtype="float64",
        ),
        "iris": chain(
            4,
            3,
            "softmax",
            "sparse_categorical_crossentropy",
            {"name": "iris", "standardize": True},
        ),
        "moons_no_split": chain(
            2, 2, "softmax", "sparse_categorical_crossentropy", {"name": "moons"}, split=0
        ),
        "circles": chain(2, 2, "sigmoid", "mse", {"name": "circles", "noise": 0.0, "factor": 0.3}),
        "diabetes": chain(
            10, 1, "linear", "mse", {"name": "diabetes", "standardize": True}, dtype="float64"
        ),
        "digits": chain(64, 10, "softmax", "sparse_categorical_crossentropy", {"name": "digits"}),
        "npz_regression": chain(1, 1, "linear", "mae", {"path": str(reg)}),
        "npz_classes_float64": chain(
            3, 3, "softmax", "categorical_crossentropy", {"path": str(cls)}, dtype="float64"
        ),
        "npz_onehot": chain(
            2,
            4,
            "softmax",
            "categorical_crossentropy",
            {"path": str(onehot), "task": "classification"},
        ),
    }


def test_load_data_gives_the_engines_prepared_arrays(tmp_path):
    pytest.importorskip("keras")
    for name, project in data_cases(tmp_path).items():
        graph = build_graph(project)
        expected = load_training_data(project, graph)
        path = tmp_path / f"{name}.py"
        path.write_text(keras_code(project), encoding="utf-8")
        (x_train, y_train), validation = import_module(path).load_data()
        pairs = [(x_train, expected.x_train), (y_train, expected.y_train)]
        if expected.x_val is None:
            assert validation is None, name
        else:
            pairs += [(validation[0], expected.x_val), (validation[1], expected.y_val)]
        for got, want in pairs:
            assert got.dtype == want.dtype, name
            assert got.shape == want.shape, name
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_mnist_load_data_matches_when_cached(tmp_path):
    from engine.data import load_dataset
    from engine.errors import DataError

    try:
        load_dataset({"name": "mnist"})
    except DataError:
        pytest.skip("MNIST is not in the Keras cache")
    pytest.importorskip("keras")
    project = make(SEED)
    expected = load_training_data(project, build_graph(project))
    path = tmp_path / "seed.py"
    path.write_text(keras_code(project), encoding="utf-8")
    (x_train, y_train), (x_val, y_val) = import_module(path).load_data()
    np.testing.assert_array_equal(x_train, expected.x_train)
    np.testing.assert_array_equal(y_val, expected.y_val)


# --------------------------------------------------------------------------------------------
# The generated files run: one subprocess builds every model, one trains for an epoch
# --------------------------------------------------------------------------------------------

CHECKER = r"""
import contextlib, importlib.util, io, json, runpy, sys
import numpy as np

report = {}
for job in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("m_" + str(len(report)), job["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model()
    layers = []
    for layer in model.layers:
        cfg = layer.get_config()
        layers.append({
            "name": layer.name,
            "class_name": type(layer).__name__,
            "output_shape": list(layer.output.shape[1:]),
            "units": cfg.get("units"),
            "activation": cfg.get("activation"),
            "rate": cfg.get("rate"),
            "dtype": layer.dtype_policy.name,
        })
    compiled = model.get_compile_config()
    optimizer = model.optimizer
    entry = {
        "model": type(model).__name__,
        "params": int(model.count_params()),
        "output_shape": list(model.output_shape[1:]),
        "layers": layers,
        "optimizer": type(optimizer).__name__,
        "optimizer_config": {k: v for k, v in optimizer.get_config().items()
                             if isinstance(v, (int, float, bool, str))},
        "loss": compiled["loss"],
        "metrics": compiled["metrics"],
    }
    if job.get("x"):
        x = np.load(job["x"])
        np.save(job["out"], model.predict(x, verbose=0))
    report[job["name"]] = entry

# Last, run one script as `python SCRIPT --epochs 1` would (same process: one TensorFlow
# start-up for all the checks).
script = sys.argv[2]
sys.argv = [script, "--epochs", "1"]
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        runpy.run_path(script, run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
report["__run__"] = {"exit": code, "stdout": out.getvalue()}
print("REPORT " + json.dumps(report))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every case exported, then built (and run on inputs) by the generated code itself."""
    tmp = tmp_path_factory.mktemp("export")
    activations = from_dict(
        {
            "name": "Activations",
            "model": {
                "input_shape": [4],
                "layers": [
                    {"class_name": "Dense", "config": {"units": 6, "activation": a}}
                    for a in (
                        "sigmoid",
                        "tanh",
                        "relu",
                        "leaky_relu",
                        "elu",
                        "selu",
                        "softplus",
                        "softsign",
                        "swish",
                        "silu",
                        "gelu",
                        "hard_sigmoid",
                        "linear",
                    )
                ]
                + [
                    {"class_name": "Flatten", "config": {}},
                    {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}},
                ],
            },
            "compile": {"optimizer": "sgd", "loss": "sparse_categorical_crossentropy"},
            "dataset": {"name": "iris"},
        }
    )
    cases = {
        "seed": with_weights(make(SEED), 1),
        "graph": with_weights(make(GRAPH), 2),
        "graph_float64": with_weights(make(GRAPH, dtype="float64"), 3),
        "activations": with_weights(activations, 4),
        "xor_untrained": make(XOR_SGD),
    }
    jobs, written = [], {}
    rng = np.random.default_rng(9)
    for name, project in cases.items():
        files = export_project(project, tmp / f"{name}.py")
        written[name] = files
        job = {"name": name, "module": str(files[0])}
        if project.weights:
            graph = build_graph(project)
            x = rng.normal(size=(64, *graph.input_shape)).astype(project.dtype)
            np.save(tmp / f"{name}_x.npy", x)
            job.update(x=str(tmp / f"{name}_x.npy"), out=str(tmp / f"{name}_pred.npy"))
        jobs.append(job)
    r = subprocess.run(
        [sys.executable, "-c", CHECKER, json.dumps(jobs), str(written["graph"][0])],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("REPORT "))
    return {"tmp": tmp, "cases": cases, "written": written, "report": json.loads(line[7:])}


def test_export_writes_the_script_and_the_weights_beside_it(built):
    tmp = built["tmp"]
    assert built["written"]["seed"] == [tmp / "seed.py", tmp / "seed.weights.h5"]
    assert built["written"]["xor_untrained"] == [tmp / "xor_untrained.py"]
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")], "temporary files left"


def test_exported_models_have_the_projects_parameters_and_shapes(built):
    for name, project in built["cases"].items():
        graph = build_graph(project)
        entry = built["report"][name]
        assert entry["params"] == graph.total_params, name
        assert entry["output_shape"] == list(graph.output_shape), name
        by_name = {layer["name"]: layer for layer in entry["layers"]}
        for node in graph.nodes:
            assert by_name[node.name]["class_name"] == node.class_name, (name, node.name)
            assert by_name[node.name]["output_shape"] == list(node.output_shape), (name, node.name)
            assert by_name[node.name]["dtype"] == project.dtype, (name, node.name)
        assert entry["model"] == ("Sequential" if graph.is_chain else "Functional"), name


def test_seed_export_is_the_seed_model_layer_for_layer(built):
    entry = built["report"]["seed"]
    layers = [(e["class_name"], e["units"], e["activation"], e["rate"]) for e in entry["layers"]]
    assert layers == [
        ("Dense", 128, "relu", None),
        ("Dropout", None, None, 0.2),
        ("Dense", 10, "softmax", None),
    ]
    assert entry["optimizer"] == "Adam"
    assert entry["optimizer_config"]["learning_rate"] == pytest.approx(0.001)
    assert entry["loss"] == "sparse_categorical_crossentropy"
    assert entry["metrics"] == ["accuracy"]
    sgd = built["report"]["xor_untrained"]
    assert sgd["optimizer"] == "SGD"
    assert sgd["optimizer_config"]["momentum"] == pytest.approx(0.9)
    assert sgd["optimizer_config"]["nesterov"] is True


def test_exported_weights_predict_what_the_numpy_engine_predicts(built):
    for name, project in built["cases"].items():
        if not project.weights:
            continue
        graph = build_graph(project)
        model = build_model(project, graph)
        x = np.load(built["tmp"] / f"{name}_x.npy")
        keras_pred = np.load(built["tmp"] / f"{name}_pred.npy")
        np.testing.assert_allclose(keras_pred, model.predict(x), rtol=1e-5, atol=1e-5, err_msg=name)


def test_running_the_exported_file_trains_for_the_given_epochs(built):
    run = built["report"]["__run__"]
    assert run["exit"] == 0, run["stdout"][-2000:]
    # One epoch: one end-of-epoch report with validation metrics (the project says 30).
    assert run["stdout"].count("val_loss") == 1, run["stdout"][-2000:]


def test_example_projects_export_or_are_refused_by_name():
    root = Path(__file__).resolve().parents[2] / "resources" / "examples"
    for path in sorted(root.glob("*.json")):
        project = load_project(path)
        if optimizer_class(project) == "Perceptron":
            with pytest.raises(NNDError, match="Perceptron"):
                keras_code(project)
        else:
            assert "def build_model(" in keras_code(project), path.name


def test_cli_export_writes_the_script_and_weights(tmp_path, capsys):
    from engine import cli

    if "export" not in cli.SUBCOMMANDS:
        pytest.skip("the CLI has no export subcommand yet")
    pytest.importorskip("keras")
    save_project(with_weights(make(XOR_SGD)), tmp_path / "xor.nnd")
    assert cli.main(["export", str(tmp_path / "xor.nnd")]) == 0
    assert (tmp_path / "xor.py").is_file() and (tmp_path / "xor.weights.h5").is_file()
    perceptron = Path(__file__).resolve().parents[2] / "resources" / "examples" / "perceptron.json"
    capsys.readouterr()
    assert cli.main(["export", str(perceptron), "-o", str(tmp_path / "p.py")]) == 2
    err = capsys.readouterr().err
    assert "Perceptron" in err and "Traceback" not in err
    assert not (tmp_path / "p.py").exists()
