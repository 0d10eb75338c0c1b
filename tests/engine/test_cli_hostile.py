"""Hostile options and settings through the CLI: exit 2 and a message, never a traceback.

Screenshot sizes, wrong JSON types in compile/fit with overriding options, initializer axes
beyond the weight's rank, optimizer names Keras refuses, memory (a size check against the
real limit, and a MemoryError turned into a message, both under ``ulimit -v`` in a
subprocess), and data paths kept valid when a project is written to another folder.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main, rebase_data_paths, screenshot_size
from engine.errors import NNDError
from engine.project import Project, load_project

ROOT = Path(__file__).resolve().parents[2]

XOR = {
    "format_version": 1,
    "name": "XOR",
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "hidden", "units": 4, "activation": "tanh"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1, "activation": "sigmoid"}},
        ],
    },
    "compile": {"optimizer": "adam", "loss": "binary_crossentropy"},
    "fit": {"epochs": 1, "batch_size": 8, "seed": 0},
    "dataset": {"name": "xor", "n_samples": 16},
}


def xor(**changes) -> dict:
    data = copy.deepcopy(XOR)
    data.update(changes)
    return data


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def fails(capsys, argv: list[str]) -> str:
    """Run the CLI in-process; it must exit 2 with a message and no traceback."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nndesigner") and "Traceback" not in err
    return err


# ------------------------------------------------------------------------------------------------
# screenshot --size
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, needle",
    [
        ("0x0", "from 200 to 8192"),
        ("100000x100000", "from 200 to 8192"),
        ("199x1000", "from 200 to 8192"),
        ("1600x8193", "from 200 to 8192"),
        ("-5x100", "must look like 1600x1000"),
        ("1600", "must look like 1600x1000"),
        ("axb", "must look like 1600x1000"),
        ("1600x1000x3", "must look like 1600x1000"),
        ("9" * 5000 + "x100", "must look like 1600x1000"),
        ("²00x300", "must look like 1600x1000"),
    ],
)
def test_screenshot_size_out_of_range_exits_2(tmp_path, capsys, size, needle):
    err = fails(capsys, ["screenshot", "-o", str(tmp_path / "s.png"), f"--size={size}"])
    assert needle in err
    assert not (tmp_path / "s.png").exists()


def test_screenshot_size_accepts_the_range_ends():
    assert screenshot_size("200x8192") == (200, 8192)
    assert screenshot_size(" 1600X1000 ") == (1600, 1000)
    with pytest.raises(NNDError, match="got 200x8193"):
        screenshot_size("200x8193")


@pytest.mark.parametrize("batch", ["0", "-3"])
def test_parity_refuses_a_batch_below_one_before_loading_tensorflow(tmp_path, capsys, batch):
    path = write(tmp_path / "p.json", xor())
    err = fails(capsys, ["parity", str(path), f"--batch-size={batch}"])
    assert f"--batch-size must be at least 1, got {batch}" in err


def test_train_refuses_a_non_nnd_output_before_loading_data(tmp_path, capsys):
    path = write(tmp_path / "p.json", xor(dataset={"path": "missing.npz"}))
    err = fails(capsys, ["train", str(path), "-o", str(tmp_path / "o.json")])
    assert ".nnd file" in err and "missing.npz" not in err


def test_screenshot_refuses_negative_training_epochs(tmp_path, capsys):
    err = fails(capsys, ["screenshot", "-o", str(tmp_path / "s.png"), "--train-epochs", "-1"])
    assert "--train-epochs" in err


# ------------------------------------------------------------------------------------------------
# Wrong JSON types and values
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fit", [[1], None, "fast", 3])
def test_fit_that_is_not_an_object_with_epochs_override(tmp_path, capsys, fit):
    path = write(tmp_path / "p.json", xor(fit=fit))
    err = fails(capsys, ["train", str(path), "--epochs", "3", "-o", str(tmp_path / "o.nnd")])
    assert "fit: must be an object" in err
    assert not (tmp_path / "o.nnd").exists()


@pytest.mark.parametrize("command", ["summary", "train", "export", "trace", "gradcheck"])
def test_compile_that_is_not_an_object(tmp_path, capsys, command):
    path = write(tmp_path / "p.json", xor(compile=[1]))
    extra = {"train": ["-o", str(tmp_path / "o.nnd")], "export": ["-o", str(tmp_path / "o.py")]}
    extra["trace"] = ["-o", str(tmp_path / "t.json")]
    err = fails(capsys, [command, str(path), *extra.get(command, [])])
    assert "compile: must be an object, got a list" in err


def test_model_that_is_not_an_object_is_refused_by_export(tmp_path, capsys):
    path = write(tmp_path / "p.json", xor(model=True))
    err = fails(capsys, ["export", str(path), "-o", str(tmp_path / "o.py")])
    assert "model: must be an object" in err and not (tmp_path / "o.py").exists()


@pytest.mark.parametrize(
    "initializer, weight, needle",
    [
        (
            {"class_name": "GlorotUniform", "config": {"input_axes": [2], "output_axes": [1]}},
            "kernel_initializer",
            "axis 2, but the weight has 2 axes",
        ),
        (
            {"class_name": "HeNormal", "config": {"input_axes": [0], "output_axes": [-3]}},
            "kernel_initializer",
            "axis -3",
        ),
        (
            {"class_name": "LecunNormal", "config": {"input_axes": [0], "output_axes": [1]}},
            "bias_initializer",
            "axis 1, but the weight has 1 axis",
        ),
    ],
)
def test_initializer_axes_beyond_the_weight_rank(tmp_path, capsys, initializer, weight, needle):
    data = xor()
    data["model"]["layers"][0]["config"][weight] = initializer
    path = write(tmp_path / "p.json", data)
    for command in (["summary"], ["train", "--quiet", "-o", str(tmp_path / "o.nnd")]):
        err = fails(capsys, [command[0], str(path), *command[1:]])
        assert f"layer 'hidden', field '{weight}'" in err and needle in err


def test_initializer_axes_within_the_rank_train(tmp_path, capsys):
    data = xor()
    data["model"]["layers"][0]["config"]["kernel_initializer"] = {
        "class_name": "GlorotUniform",
        "config": {"input_axes": [-2], "output_axes": [1]},
    }
    path = write(tmp_path / "p.json", data)
    assert main(["train", str(path), "--quiet", "-o", str(tmp_path / "o.nnd")]) == 0


@pytest.mark.parametrize("name", ["a/b", "a b", "_x", "é", "x:y"])
def test_optimizer_names_keras_refuses(tmp_path, capsys, name):
    data = xor(
        compile={"optimizer": {"class_name": "Adam", "config": {"name": name}}, "loss": "mse"}
    )
    path = write(tmp_path / "p.json", data)
    err = fails(capsys, ["train", str(path), "--quiet", "-o", str(tmp_path / "o.nnd")])
    assert "compile.optimizer" in err and "'name' must be a name Keras accepts" in err
    fails(capsys, ["export", str(path), "-o", str(tmp_path / "o.py")])


def test_optimizer_name_keras_accepts_trains(tmp_path):
    data = xor(compile={"optimizer": {"class_name": "Adam", "config": {"name": "adam.2-b>c"}}})
    data["compile"]["loss"] = "mse"
    path = write(tmp_path / "p.json", data)
    assert main(["train", str(path), "--quiet", "-o", str(tmp_path / "o.nnd")]) == 0


def test_seed_beyond_32_bits_is_refused(tmp_path, capsys):
    # Keras' set_random_seed (in the exported script) seeds NumPy's 32-bit legacy generator.
    path = write(tmp_path / "p.json", xor(fit={"seed": 2**32}))
    err = fails(capsys, ["train", str(path), "--quiet", "-o", str(tmp_path / "o.nnd")])
    assert "fit.seed: must be an integer from 0 to 4294967295, got 4294967296" in err
    assert (
        main(
            ["train", str(path), "--quiet", "--seed", str(2**32 - 1), "-o", str(tmp_path / "o.nnd")]
        )
        == 0
    )


# ------------------------------------------------------------------------------------------------
# Memory: the real limit (ulimit -v), and MemoryError as a message
# ------------------------------------------------------------------------------------------------

# 40 million tanh units on 2 inputs: 160 million parameters, about 4 GiB to train with Adam.
BIG = xor(
    model={
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "wide", "units": 40_000_000}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1, "activation": "sigmoid"}},
        ],
    },
    fit={"epochs": 1, "batch_size": 4},
)
LIMIT = 1536 << 20  # enough for Python and NumPy, not for BIG


def run_limited(args: list[str], code: str | None = None) -> subprocess.CompletedProcess:
    """``nndesigner ARGS`` in a subprocess held to LIMIT bytes of address space."""
    resource = pytest.importorskip("resource")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    # One BLAS thread: each thread's stack and buffers take address space too.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    head = ["-m", "engine.cli"] if code is None else ["-c", code]
    return subprocess.run(
        [sys.executable, *head, *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limit,
        timeout=120,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux applies it")
def test_network_too_large_for_ulimit_is_refused_before_training(tmp_path):
    path = write(tmp_path / "big.json", BIG)
    r = run_limited(["train", str(path), "--backend", "numpy", "-o", str(tmp_path / "o.nnd")])
    assert r.returncode == 2, r.stderr
    assert "too large" in r.stderr and "1.5 GiB" in r.stderr and "ulimit -v" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o.nnd").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux applies it")
def test_memory_error_while_training_is_a_message_naming_the_limit(tmp_path):
    # The size check is an estimate (a lower bound): here it is switched off, as when the
    # estimate passes, so that the allocation itself fails under the limit.
    path = write(tmp_path / "big.json", BIG)
    code = (
        "import sys, engine.validate as v; v.memory_limit = lambda: None; "
        "from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", str(path), "--backend", "numpy", "--quiet", "-o", str(tmp_path / "o.nnd")]
    r = run_limited(args, code)
    assert r.returncode == 2, r.stderr
    assert "ran out of memory while training the project" in r.stderr
    assert "1.5 GiB" in r.stderr and "ulimit -v" in r.stderr
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr


def test_memory_error_in_any_command_is_a_message(monkeypatch, tmp_path, capsys):
    from engine import cli

    def exhausted(args):
        raise MemoryError

    monkeypatch.setitem(cli.COMMANDS, "export", exhausted)
    err = fails(capsys, ["export", str(tmp_path / "p.json")])
    assert "ran out of memory while exporting the project" in err


# ------------------------------------------------------------------------------------------------
# Data paths follow a project written to another folder
# ------------------------------------------------------------------------------------------------


def npz_project(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "d.npz", x=rng.normal(size=(16, 2)), y=np.arange(16) % 2)
    return write(folder / "p.json", xor(dataset={"path": "d.npz"}))


def test_train_to_another_folder_rebases_the_data_path(tmp_path):
    project = npz_project(tmp_path / "p")
    out = tmp_path / "elsewhere" / "deeper" / "out.nnd"
    out.parent.mkdir(parents=True)
    assert main(["train", str(project), "--quiet", "-o", str(out)]) == 0
    trained = load_project(out)
    assert trained.data["dataset"]["path"] == "../../p/d.npz"
    # The saved project finds its data: it trains again from where it was written.
    assert main(["train", str(out), "--quiet"]) == 0
    # The source project is untouched.
    assert json.loads(project.read_text())["dataset"]["path"] == "d.npz"


def test_train_in_the_same_folder_keeps_the_data_path(tmp_path):
    project = npz_project(tmp_path / "p")
    assert main(["train", str(project), "--quiet", "-o", str(tmp_path / "p" / "o.nnd")]) == 0
    assert load_project(tmp_path / "p" / "o.nnd").data["dataset"]["path"] == "d.npz"


def test_rebase_rewrites_every_relative_path_key_and_keeps_absolute_ones(tmp_path):
    src = tmp_path / "a" / "p.json"
    absolute = str(tmp_path / "abs" / "x.npy")
    spec = {"path": "x.npy", "y_path": "sub/y.npy", "labels_path": absolute, "target": "x.npy"}
    project = Project({"dataset": dict(spec)}, path=src)
    rebase_data_paths(project, tmp_path / "b" / "out.nnd")
    ds = project.data["dataset"]
    assert ds["path"] == "../a/x.npy" and ds["y_path"] == "../a/sub/y.npy"
    assert ds["labels_path"] == absolute and ds["target"] == "x.npy"
    same = Project({"dataset": dict(spec)}, path=src)
    rebase_data_paths(same, tmp_path / "a" / "out.nnd")
    assert same.data["dataset"] == spec
    for odd in ([1], None, {"path": 5}, {"path": ""}):
        rebase_data_paths(Project({"dataset": odd}, path=src), tmp_path / "b" / "o.nnd")


def test_train_from_an_unsaved_location_with_data_flag_stores_the_path_beside_the_output(
    tmp_path,
):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(16, 2)), y=np.arange(16) % 2)
    project = write(tmp_path / "p" / "p.json", xor())
    out = tmp_path / "out" / "o.nnd"
    out.parent.mkdir()
    assert (
        main(["train", str(project), "--data", str(tmp_path / "d.npz"), "--quiet", "-o", str(out)])
        == 0
    )
    assert load_project(out).data["dataset"]["path"] == "../d.npz"


@pytest.mark.parametrize(
    "key, value",
    [("model", True), ("model", [1]), ("model", "Dense"), ("compile", [1]), ("compile", 3)],
)
def test_the_code_preview_names_a_section_of_the_wrong_type(key, value):
    """The window's code preview renders any spec it is given, valid or not: a section of the
    wrong type is a ValidationError naming it, not an AttributeError."""
    from engine.errors import ValidationError
    from engine.export.keras_code import keras_code
    from engine.project import from_dict

    with pytest.raises(ValidationError, match=key):
        keras_code(from_dict({**copy.deepcopy(XOR), key: value}))
