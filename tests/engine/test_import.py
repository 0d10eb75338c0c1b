"""Import a saved Keras model: layers, weights, compile settings, refusals, and the identity
import -> export -> import. The Keras models are built here, tiny, and saved as .keras and .h5.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from engine.errors import NNDError
from engine.export import export_project, import_keras_model
from engine.project import load_project, save_project
from engine.validate import check_project

keras = pytest.importorskip("keras")
layers = keras.layers

# Keras 3.15 on NumPy 2 warns from its own weight handling; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def sequential_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(5, activation="relu", kernel_initializer="he_normal", name="hidden"),
            layers.Dropout(0.25, name="drop"),
            layers.Dense(3, activation="softmax", name="out"),
        ],
        name="tiny_seq",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01, amsgrad=True),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def functional_model(dtype="float32"):
    inputs = keras.Input(shape=(2, 3), dtype=dtype)
    flat = layers.Flatten(dtype=dtype, name="flat")(inputs)
    # A branch declared before the layer it merges with: Keras orders layers by depth.
    side = layers.Dense(4, use_bias=False, dtype=dtype, name="side")(flat)
    a = layers.Dense(4, activation="tanh", dtype=dtype, name="a")(flat)
    b = layers.Dense(4, dtype=dtype, name="b")(a)
    total = layers.Add(dtype=dtype, name="total")([a, b, side])
    act = layers.Activation("sigmoid", dtype=dtype, name="act")(total)
    cat = layers.Concatenate(axis=1, dtype=dtype, name="cat")([act, flat])
    out = layers.Dense(1, dtype=dtype, name="out")(cat)
    model = keras.Model(inputs, out, name="tiny_graph")
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        loss=keras.losses.MeanSquaredError(),
        metrics=["mae"],
    )
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keras_models")
    paths = {}
    for name, model in (
        ("seq", sequential_model()),
        ("graph", functional_model()),
        ("graph64", functional_model("float64")),
    ):
        for suffix in (".keras", ".h5"):
            path = tmp / f"{name}{suffix}"
            model.save(path)
            paths[path.name] = path
        paths[f"{name}:weights"] = {
            f"{layer.name}/{w.name}": np.array(w.numpy())
            for layer in model.layers
            for w in layer.weights
        }
    plain = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="only")])
    plain.save(tmp / "uncompiled.keras")
    paths["uncompiled.keras"] = tmp / "uncompiled.keras"
    return paths


SEQ_DATA = {
    "format_version": 1,
    "name": "tiny_seq",
    "model": {
        "input_shape": [4],
        "layers": [
            {
                "class_name": "Dense",
                "config": {
                    "name": "hidden",
                    "units": 5,
                    "activation": "relu",
                    "kernel_initializer": "he_normal",
                },
            },
            {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.25}},
            {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}},
        ],
    },
    "compile": {
        "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01, "amsgrad": True}},
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    },
    "backend": "numpy",
    "dtype": "float32",
}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_import_sequential_model(saved, suffix):
    project = import_keras_model(saved[f"seq{suffix}"])
    assert project.data == SEQ_DATA
    expected = saved["seq:weights"]
    assert (
        sorted(project.weights)
        == sorted(expected)
        == [
            "hidden/bias",
            "hidden/kernel",
            "out/bias",
            "out/kernel",
        ]
    )
    for key, value in expected.items():
        np.testing.assert_array_equal(project.weights[key], value)
        assert project.weights[key].dtype == np.float32


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_import_functional_model(saved, suffix):
    project = import_keras_model(saved[f"graph{suffix}"])
    layers_by_name = {layer["config"]["name"]: layer for layer in project.layers}
    assert layers_by_name["flat"] == {
        "class_name": "Flatten",
        "config": {"name": "flat"},
        "inbound": ["input"],
    }
    assert layers_by_name["side"]["config"] == {"name": "side", "units": 4, "use_bias": False}
    assert layers_by_name["total"]["inbound"] == ["a", "b", "side"]
    assert layers_by_name["cat"] == {
        "class_name": "Concatenate",
        "config": {"name": "cat", "axis": 1},
        "inbound": ["act", "flat"],
    }
    assert project.model["input_shape"] == [2, 3]
    assert project.compile == {
        "optimizer": {
            "class_name": "SGD",
            "config": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
        },
        "loss": "mean_squared_error",
        # as the file keeps it, the key Keras' history logs it under ("mae" as compiled)
        "metrics": ["mae" if suffix == ".keras" else "mean_absolute_error"],
    }
    assert "side/bias" not in project.weights
    assert set(project.weights) == set(saved["graph:weights"])


def test_float64_model_gives_a_float64_project(saved):
    project = import_keras_model(saved["graph64.keras"])
    assert project.dtype == "float64"
    assert all(w.dtype == np.float64 for w in project.weights.values())


def test_uncompiled_model_has_no_compile_settings(saved):
    project = import_keras_model(saved["uncompiled.keras"])
    assert "compile" not in project.data
    assert project.name == "uncompiled"  # Keras' automatic model name gives way to the file's
    assert project.layers == [{"class_name": "Dense", "config": {"name": "only", "units": 2}}]


def test_imported_project_saves_and_loads_as_nnd(saved, tmp_path):
    project = import_keras_model(saved["graph.h5"])
    save_project(project, tmp_path / "graph.nnd")
    again = load_project(tmp_path / "graph.nnd")
    assert again.data == project.data
    for key, value in project.weights.items():
        np.testing.assert_array_equal(again.weights[key], value)


def reexport(project, folder: Path, name: str) -> Path:
    """Export the project, build the model with the exported code, save it as .keras."""
    script = export_project(project, folder / f"{name}.py")[0]
    spec = importlib.util.spec_from_file_location(f"reexported_{name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = folder / f"{name}_again.keras"
    module.build_model().save(path)
    return path


@pytest.mark.parametrize("name", ["seq.keras", "graph.h5", "graph64.keras"])
def test_import_export_import_is_the_identity(saved, tmp_path, name):
    first = import_keras_model(saved[name])
    second = import_keras_model(reexport(first, tmp_path, Path(name).stem))
    assert second.data == first.data
    assert sorted(second.weights) == sorted(first.weights)
    for key, value in first.weights.items():
        np.testing.assert_array_equal(second.weights[key], value)
        assert second.weights[key].dtype == value.dtype


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


def test_unsupported_layer_is_named_with_its_class(tmp_path):
    model = keras.Sequential(
        [keras.Input(shape=(5, 3)), layers.LSTM(4, name="lstm"), layers.Dense(1, name="out")]
    )
    path = tmp_path / "rnn.keras"
    model.save(path)
    with pytest.raises(NNDError) as info:
        import_keras_model(path)
    message = str(info.value)
    assert "layer 'lstm' is an LSTM, which NN Designer does not support" in message
    assert "Dense, Dropout" in message
    assert str(path) in message


def test_settings_nn_designer_cannot_represent_are_refused(tmp_path):
    """With strict=True (the CLI's --strict) every setting NN Designer cannot honour refuses
    the import, naming it; see the next test for the default."""
    import_model = functools.partial(import_keras_model, strict=True)
    regularized = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Flatten(activity_regularizer="l2", name="reg")]
    )
    regularized.save(tmp_path / "reg.keras")
    with pytest.raises(NNDError, match=r"layer 'reg' \(Flatten\) sets activity_regularizer"):
        import_model(tmp_path / "reg.keras")

    ignoring = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    ignoring.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0)
    )
    ignoring.save(tmp_path / "ignoring.keras")
    with pytest.raises(NNDError, match="the model's loss: .*'ignore_class' must be null"):
        import_model(tmp_path / "ignoring.keras")
    dice = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    dice.compile(optimizer="adam", loss=keras.losses.Dice())
    dice.save(tmp_path / "dice.keras")
    with pytest.raises(NNDError, match="loss 'Dice', which NN Designer does not support"):
        import_model(tmp_path / "dice.keras")

    lamb = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    lamb.compile(optimizer=keras.optimizers.Lamb(), loss="mse")
    lamb.save(tmp_path / "lamb.keras")
    with pytest.raises(NNDError, match="Lamb optimizer"):
        import_model(tmp_path / "lamb.keras")


def test_what_nn_designer_cannot_honour_is_replaced_with_a_warning(tmp_path, capsys):
    """By default the rest of the model comes in: the unsupported optimizer becomes Adam with
    its learning rate, the loss's setting falls back to the loss's default, the unknown metric
    is left out; each is named, and the CLI prints them (exit 0) while --strict refuses (exit
    2, no traceback). A layer setting it cannot represent is refused either way."""
    from engine.cli import main

    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    model.compile(
        optimizer=keras.optimizers.Lamb(learning_rate=0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
        metrics=["accuracy", keras.metrics.PearsonCorrelation()],
    )
    path = tmp_path / "m.keras"
    model.save(path)
    project = import_keras_model(path)
    assert project.compile["optimizer"] == {"class_name": "Adam", "config": {"learning_rate": 0.02}}
    assert project.compile["loss"] == "sparse_categorical_crossentropy"
    assert project.compile["metrics"] == ["accuracy"]
    text = "\n".join(project.load_warnings)
    assert len(project.load_warnings) == 3, text
    for words in ("Lamb optimizer", "Adam with learning_rate 0.02", "ignore_class", "Pearson"):
        assert words in text
    check_project(project, training=False)
    assert main(["import", str(path), "-o", str(tmp_path / "p.nnd")]) == 0
    assert capsys.readouterr().err.count("nndesigner: warning:") == 3
    assert main(["import", str(path), "-o", str(tmp_path / "q.nnd"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "Lamb" in err and "Traceback" not in err
    assert not (tmp_path / "q.nnd").exists()

    odd = keras.Sequential(
        [keras.Input(shape=(3,)), layers.Flatten(activity_regularizer="l2", name="flat")]
    )
    odd.save(tmp_path / "odd.keras")
    with pytest.raises(NNDError, match=r"'flat' \(Flatten\) sets activity_regularizer"):
        import_keras_model(tmp_path / "odd.keras")


def test_every_loss_imports_with_its_settings(tmp_path):
    from engine.losses import LOSS_CLASSES

    cases = [(getattr(keras.losses, cls)(), name) for name, cls in LOSS_CLASSES.items()]
    cases += [
        # Keras' Huber.get_config leaves delta out: a .keras file keeps only the class, so
        # Keras itself reloads it with delta 1.0, and so does the import.
        (keras.losses.Huber(delta=2.5), "huber"),
        (
            keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            {
                "class_name": "CategoricalCrossentropy",
                "config": {"from_logits": True, "label_smoothing": 0.1},
            },
        ),
        (
            keras.losses.MeanSquaredError(reduction="sum"),
            {"class_name": "MeanSquaredError", "config": {"reduction": "sum"}},
        ),
        ("mape", "mean_absolute_percentage_error"),
        ("kld", "kl_divergence"),
    ]
    for loss, expected in cases:
        model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
        model.compile(optimizer="sgd", loss=loss)
        model.save(tmp_path / "m.keras")
        project = import_keras_model(tmp_path / "m.keras")
        assert project.compile["loss"] == expected, loss
        check_project(project, training=False)


@pytest.mark.parametrize(
    ("optimizer", "expected"),
    [
        (lambda: keras.optimizers.AdamW(learning_rate=0.01), {"learning_rate": 0.01}),
        (
            lambda: keras.optimizers.AdamW(weight_decay=0.1, amsgrad=True),
            {"learning_rate": 0.001, "weight_decay": 0.1, "amsgrad": True},
        ),
        (lambda: keras.optimizers.Nadam(beta_2=0.99), {"learning_rate": 0.001, "beta_2": 0.99}),
        (lambda: keras.optimizers.Adamax(epsilon=1e-6), {"learning_rate": 0.001, "epsilon": 1e-6}),
        (lambda: keras.optimizers.Adadelta(rho=0.9), {"learning_rate": 0.001, "rho": 0.9}),
        (lambda: keras.optimizers.Lion(beta_1=0.95), {"learning_rate": 0.001, "beta_1": 0.95}),
        (
            lambda: keras.optimizers.Ftrl(l1_regularization_strength=0.01, beta=0.5),
            {"learning_rate": 0.001, "l1_regularization_strength": 0.01, "beta": 0.5},
        ),
        (
            lambda: keras.optimizers.SGD(momentum=0.9, weight_decay=0.05),
            {"learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.05},
        ),
    ],
)
def test_every_optimizer_imports_with_its_settings(tmp_path, optimizer, expected):
    opt = optimizer()
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    model.compile(optimizer=opt, loss="mse")
    model.save(tmp_path / "m.keras")
    project = import_keras_model(tmp_path / "m.keras")
    spec = project.compile["optimizer"]
    assert spec["class_name"] == type(opt).__name__
    assert spec["config"] == pytest.approx(expected)
    check_project(project, training=False)  # valid as it came in


def test_missing_damaged_and_foreign_files_are_named(tmp_path):
    with pytest.raises(NNDError, match="no such file") as info:
        import_keras_model(tmp_path / "nothing.keras")
    assert "nothing.keras" in str(info.value)
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(NNDError, match="cannot be read as a Keras model") as info:
        import_keras_model(damaged)
    assert str(damaged) in str(info.value)
    text = tmp_path / "model.txt"
    text.write_text("hello")
    with pytest.raises(NNDError, match=r"\.keras"):
        import_keras_model(text)


def test_cli_import_exits_2_without_traceback(tmp_path, capsys):
    from engine import cli

    if "import" not in cli.SUBCOMMANDS:
        pytest.skip("the CLI has no import subcommand yet")
    model = keras.Sequential([keras.Input(shape=(5, 3)), layers.LSTM(2, name="lstm")])
    model.save(tmp_path / "rnn.keras")
    assert cli.main(["import", str(tmp_path / "rnn.keras")]) == 2
    err = capsys.readouterr().err
    assert "LSTM" in err and "Traceback" not in err
    tiny = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    tiny.compile(optimizer="adam", loss="mse")
    tiny.save(tmp_path / "tiny.keras")
    assert cli.main(["import", str(tmp_path / "tiny.keras"), "-o", str(tmp_path / "t.nnd")]) == 0
    assert load_project(tmp_path / "t.nnd").weights["d/kernel"].shape == (3, 2)


def test_a_layer_named_input_is_renamed(tmp_path):
    inputs = keras.Input(shape=(3,))
    hidden = layers.Dense(2, name="input")(inputs)
    model = keras.Model(inputs, layers.Dense(1, name="input_1")(hidden))
    model.save(tmp_path / "named.keras")
    project = import_keras_model(tmp_path / "named.keras")
    assert [layer["config"]["name"] for layer in project.layers] == ["input_2", "input_1"]
    assert sorted(project.weights) == [
        "input_1/bias",
        "input_1/kernel",
        "input_2/bias",
        "input_2/kernel",
    ]


# --------------------------------------------------------------------------------------------
# Imported projects are first-class: every command that needs no data works on them
# --------------------------------------------------------------------------------------------


def imported(saved, tmp_path, name: str) -> Path:
    """``nndesigner import`` of one of the saved models, to a .nnd in a folder of its own."""
    from engine import cli

    out = tmp_path / "projects" / f"{Path(name).stem}.nnd"
    out.parent.mkdir(exist_ok=True)
    assert cli.main(["import", str(saved[name]), "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize("name", ["seq.keras", "uncompiled.keras", "graph.h5"])
def test_summary_of_an_imported_project(saved, tmp_path, capsys, name):
    from engine import cli

    nnd = imported(saved, tmp_path, name)
    capsys.readouterr()
    assert cli.main(["summary", str(nnd)]) == 0
    out = capsys.readouterr().out
    expected = load_project(nnd)
    for layer in expected.layers:
        assert f"{layer['config']['name']} ({layer['class_name']})" in out
    total = sum(w.size for w in expected.weights.values())
    assert f"Total params: {total:,}" in out


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--epochs", "1"],
        ["trace", "-o", "trace.json"],
        ["gradcheck"],
        ["parity"],
    ],
    ids=lambda c: c[0],
)
def test_commands_that_need_data_say_so_on_an_imported_project(saved, tmp_path, capsys, command):
    from engine import cli

    nnd = imported(saved, tmp_path, "seq.keras")
    before = nnd.read_bytes()
    capsys.readouterr()
    argv = [
        command[0],
        str(nnd),
        *[str(tmp_path / a) if a.endswith(".json") else a for a in command[1:]],
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "this project has no dataset" in err and "--data FILE" in err
    assert "Traceback" not in err
    assert nnd.read_bytes() == before  # nothing written over the project
    assert not (tmp_path / "trace.json").exists()


def test_an_imported_project_trains_on_data_given_with_data(saved, tmp_path, capsys):
    from engine import cli

    nnd = imported(saved, tmp_path, "seq.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(30, 4)), y=np.arange(30) % 3)
    out = tmp_path / "trained.nnd"
    argv = ["train", str(nnd), "--data", str(tmp_path / "d.npz"), "--epochs", "1", "-o", str(out)]
    assert cli.main([*argv, "--quiet"]) == 0, capsys.readouterr().err
    trained = load_project(out)
    assert trained.data["dataset"]["path"] == "d.npz"  # relative to the trained file
    assert not np.array_equal(
        trained.weights["out/kernel"], load_project(nnd).weights["out/kernel"]
    )


def test_an_uncompiled_project_needs_a_loss_to_train(saved, tmp_path, capsys):
    from engine import cli

    nnd = imported(saved, tmp_path, "uncompiled.keras")
    np.savez(tmp_path / "d.npz", x=np.zeros((8, 3)), y=np.zeros((8, 2)))
    capsys.readouterr()
    assert cli.main(["train", str(nnd), "--data", str(tmp_path / "d.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "compile.loss" in err and "no compile settings" in err and "Traceback" not in err


def test_an_uncompiled_project_exports_a_runnable_script(saved, tmp_path, capsys):
    from engine import cli

    nnd = imported(saved, tmp_path, "uncompiled.keras")
    script = tmp_path / "uncompiled.py"
    assert cli.main(["export", str(nnd), "-o", str(script)]) == 0, capsys.readouterr().err
    code = script.read_text()
    assert not any(
        line.strip().startswith(("model.compile(", "model.fit(")) for line in code.splitlines()
    )
    assert "no compile settings" in code
    spec = importlib.util.spec_from_file_location("exported_uncompiled", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build_model()
    assert model.compiled is False
    expected = load_project(nnd).weights
    np.testing.assert_array_equal(model.get_layer("only").kernel.numpy(), expected["only/kernel"])
    module.main()  # builds the model and prints its summary; trains nothing
    assert "only (Dense)" in capsys.readouterr().out


def test_a_model_compiled_without_a_loss_imports_as_uncompiled(tmp_path, capsys):
    from engine import cli

    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(2, name="d")])
    model.compile(optimizer="adam")
    model.save(tmp_path / "noloss.keras")
    project = import_keras_model(tmp_path / "noloss.keras")
    assert "compile" not in project.data
    save_project(project, tmp_path / "noloss.nnd")
    assert cli.main(["summary", str(tmp_path / "noloss.nnd")]) == 0
    assert "d (Dense)" in capsys.readouterr().out


def test_import_to_a_json_project_would_drop_the_weights_and_is_refused(saved, tmp_path, capsys):
    from engine import cli

    out = tmp_path / "seq.json"
    assert cli.main(["import", str(saved["seq.keras"]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "write it to a .nnd file" in err and str(out) in err and not out.exists()


def test_a_model_compiled_with_keras_metrics_imports_them(tmp_path):
    """Keras' serialized metrics come in with their settings and the keys Keras logs them
    under; F1Score's per-class default becomes average="macro" (one number per epoch), named
    in a warning; the project exports them in Keras' classes again."""
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, "softmax", name="d")])
    model.compile(
        optimizer="sgd",
        loss="categorical_crossentropy",
        metrics=[
            "acc",
            keras.metrics.AUC(curve="PR", name="prauc"),
            keras.metrics.Precision(thresholds=0.3),
            keras.metrics.TopKCategoricalAccuracy(k=2),
            keras.metrics.F1Score(),
            "mse",
        ],
    )
    path = tmp_path / "m.keras"
    model.save(path)
    project = import_keras_model(path)
    assert project.compile["metrics"] == [
        "acc",
        {"class_name": "AUC", "config": {"curve": "PR", "name": "prauc"}},
        {"class_name": "Precision", "config": {"thresholds": 0.3}},
        {"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}},
        {"class_name": "F1Score", "config": {"average": "macro"}},
        "mse",
    ]
    assert len(project.load_warnings) == 1
    assert 'average="macro" instead' in project.load_warnings[0]
    check_project(project, training=False)
    code = export_project(project, tmp_path / "m.py")[0].read_text()
    assert 'keras.metrics.AUC(curve="PR", name="prauc")' in code
    assert 'keras.metrics.F1Score(average="macro", name="f1_score")' in code

    sparse = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, "softmax", name="d")])
    sparse.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["auc"])
    sparse.save(tmp_path / "s.keras")
    project = import_keras_model(tmp_path / "s.keras")
    assert "metrics" not in project.compile  # AUC cannot score integer labels: left out
    assert "auc" in project.load_warnings[0] and "left out" in project.load_warnings[0]
    with pytest.raises(NNDError, match="auc"):
        import_keras_model(tmp_path / "s.keras", strict=True)
