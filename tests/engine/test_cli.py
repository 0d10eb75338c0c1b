"""The headless CLI: exit codes, messages without tracebacks, trained outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.project import load_project

ROOT = Path(__file__).resolve().parents[2]

XOR = {
    "format_version": 1,
    "name": "XOR",
    "model": {
        "input_shape": [2],
        "layers": [
            {"class_name": "Dense", "config": {"name": "hidden", "units": 8, "activation": "tanh"}},
            {"class_name": "Dense", "config": {"name": "out", "units": 1, "activation": "sigmoid"}},
        ],
    },
    "compile": {
        "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.05}},
        "loss": "binary_crossentropy",
        "metrics": ["accuracy"],
    },
    "fit": {"epochs": 3, "batch_size": 16, "validation_split": 0.2, "shuffle": True, "seed": 0},
    "dataset": {"name": "xor", "n_samples": 120},
}


def write(tmp_path, data, name="p.json"):
    f = tmp_path / name
    f.write_text(json.dumps(data))
    return f


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_train_writes_nnd_with_keras_layout_weights(tmp_path, capsys):
    f = write(tmp_path, XOR)
    assert main(["train", str(f), "-o", str(tmp_path / "out.nnd"), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "val_loss" in out
    p = load_project(tmp_path / "out.nnd")
    assert p.weights["hidden/kernel"].shape == (2, 8)
    assert p.weights["hidden/bias"].shape == (8,)
    assert p.weights["out/kernel"].shape == (8, 1)
    assert len(p.history["loss"]) == 2 and p.data["fit"]["epochs"] == 2


def test_train_quiet_prints_nothing(tmp_path, capsys):
    f = write(tmp_path, XOR)
    assert main(["train", str(f), "--quiet", "-o", str(tmp_path / "q.nnd")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_train_continues_from_trained_weights(tmp_path):
    f = write(tmp_path, XOR)
    main(["train", str(f), "--quiet", "-o", str(tmp_path / "a.nnd"), "--epochs", "1"])
    first = load_project(tmp_path / "a.nnd").weights
    main(["train", str(tmp_path / "a.nnd"), "--quiet", "--epochs", "1"])  # default output: in place
    second = load_project(tmp_path / "a.nnd").weights
    assert not np.array_equal(first["hidden/kernel"], second["hidden/kernel"])


def test_summary(tmp_path, capsys):
    assert main(["summary", str(write(tmp_path, XOR))]) == 0
    out = capsys.readouterr().out
    assert "hidden (Dense)" in out and "Total params: 33" in out


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{oops", "not valid JSON"),
        (json.dumps({**XOR, "format_version": 9}), "newer"),
        (
            json.dumps(
                {
                    **XOR,
                    "model": {"input_shape": [2], "layers": [{"class_name": "LSTM", "config": {}}]},
                }
            ),
            "LSTM",
        ),
        (json.dumps({**XOR, "dataset": {"path": "missing.npz"}}), "missing.npz"),
    ],
)
def test_bad_input_exit_2_without_traceback(tmp_path, content, needle):
    f = tmp_path / "bad.json"
    f.write_text(content)
    r = run_cli("train", str(f), "-o", str(tmp_path / "x.nnd"))
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.nnd").exists()


def test_missing_file_and_bad_args_exit_2(tmp_path):
    r = run_cli("summary", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_cli("train", "x.json", "--epochs", "many")
    assert r.returncode == 2 and "invalid int value" in r.stderr


def test_divergence_exit_3_keeps_finite_weights(tmp_path):
    data = json.loads(json.dumps(XOR))
    data["compile"]["optimizer"] = {"class_name": "SGD", "config": {"learning_rate": 1e38}}
    f = write(tmp_path, data)
    r = run_cli("train", str(f), "-o", str(tmp_path / "d.nnd"))
    assert r.returncode == 3, r.stderr
    assert "non-finite" in r.stderr and "epoch 1" in r.stderr and "Traceback" not in r.stderr
    p = load_project(tmp_path / "d.nnd")
    assert all(np.isfinite(w).all() for w in p.weights.values())


def test_gradcheck_passes(tmp_path, capsys):
    assert main(["gradcheck", str(write(tmp_path, XOR))]) == 0
    out = capsys.readouterr().out
    assert "hidden/kernel" in out and "PASSED" in out


def test_gradcheck_fails_with_exit_1_on_a_broken_gradient(tmp_path, monkeypatch, capsys):
    from engine.backends.numpy import model as model_mod

    real = model_mod.NumpyModel._backward_node

    def broken(self, node, c, grad_a, grad_z, need):
        gins, wgrads, gz = real(self, node, c, grad_a, grad_z, need)
        if "kernel" in wgrads and node.name == "hidden":
            wgrads["kernel"] = wgrads["kernel"] * 1.01
        return gins, wgrads, gz

    monkeypatch.setattr(model_mod.NumpyModel, "_backward_node", broken)
    assert main(["gradcheck", str(write(tmp_path, XOR))]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_trace_json_format(tmp_path):
    f = write(tmp_path, XOR)
    out = tmp_path / "trace.json"
    assert main(["trace", str(f), "--batch-size", "4", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    phases = doc["phases"]
    assert [(p["phase"], p["layer"]) for p in phases] == [
        ("forward", "hidden"),
        ("forward", "out"),
        ("loss", "out"),
        ("backward", "out"),
        ("backward", "hidden"),
        ("update", "hidden"),
        ("update", "out"),
    ]
    fwd = phases[0]
    assert np.array(fwd["inputs"]).shape == (4, 2) and np.array(fwd["z"]).shape == (4, 8)
    assert set(phases[2]) >= {"value", "targets", "grad"}
    assert set(phases[3]) >= {"grad_a", "grad_z", "grad_kernel", "grad_bias", "grad_inputs"}
    upd = phases[5]
    assert set(upd["before"]) == {"kernel", "bias"} and np.array(upd["after"]["kernel"]).shape == (
        2,
        8,
    )


def test_trace_uses_trained_weights(tmp_path):
    f = write(tmp_path, XOR)
    main(["train", str(f), "--quiet", "-o", str(tmp_path / "t.nnd")])
    main(["trace", str(tmp_path / "t.nnd"), "-o", str(tmp_path / "tr.json")])
    doc = json.loads((tmp_path / "tr.json").read_text())
    trained = load_project(tmp_path / "t.nnd").weights["hidden/kernel"]
    np.testing.assert_allclose(np.array(doc["phases"][-2]["before"]["kernel"]), trained, rtol=1e-6)


def test_cli_headless_commands_do_not_import_qt_or_tensorflow(tmp_path):
    f = write(tmp_path, XOR)
    code = (
        "import sys; from engine.cli import main; "
        f"rc = main(['summary', {str(f)!r}]); "
        f"rc |= main(['train', {str(f)!r}, '--quiet', '-o', {str(tmp_path / 'z.nnd')!r}]); "
        "bad = [m for m in ('PySide6', 'pyqtgraph', 'tensorflow', 'keras') if m in sys.modules]; "
        "print(rc, bad)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    assert r.stdout.strip().endswith("0 []"), r.stdout + r.stderr


def test_train_with_tensorflow_then_numpy_carries_weights(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    f = write(tmp_path, XOR)
    assert (
        main(
            [
                "train",
                str(f),
                "--backend",
                "tensorflow",
                "--epochs",
                "2",
                "-o",
                str(tmp_path / "tf.nnd"),
            ]
        )
        == 0
    )
    tf_weights = load_project(tmp_path / "tf.nnd").weights
    capsys.readouterr()
    assert main(["train", str(tmp_path / "tf.nnd"), "--backend", "numpy", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    # run 2 goes on from run 1's state after epoch 2, on the other engine
    assert "Run 2: continuing run 1 after epoch 2" in out and "backend 'numpy'" in out
    np_weights = load_project(tmp_path / "tf.nnd").weights
    assert set(np_weights) == set(tf_weights)
    # One more epoch moved the weights a little from where TensorFlow left them, not from scratch.
    diff = np.abs(np_weights["hidden/kernel"] - tf_weights["hidden/kernel"]).max()
    assert 0 < diff < 0.5


def test_parity_command(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    assert main(["parity", str(write(tmp_path, XOR)), "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "hidden" in out and "agree" in out


def test_perceptron_refused_on_tensorflow(tmp_path):
    data = json.loads((ROOT / "resources" / "examples" / "perceptron.json").read_text())
    data["backend"] = "tensorflow"
    f = write(tmp_path, data)
    r = run_cli("train", str(f), "-o", str(tmp_path / "p.nnd"))
    assert r.returncode == 2 and "NumPy" in r.stderr and "Traceback" not in r.stderr


IRIS_CSV = "sepal_length,sepal_width,petal_length,petal_width,species\n" + "".join(
    f"{5 + (i % 7) * 0.1:.1f},{3 + (i % 5) * 0.1:.1f},{1 + (i % 3) * 2.2:.1f},{0.2 + (i % 3):.1f},"
    f"{['setosa', 'versicolor', 'virginica'][i % 3]}\n"
    for i in range(60)
)


def test_train_on_a_csv_with_match(tmp_path, capsys):
    (tmp_path / "flowers.csv").write_text(IRIS_CSV)
    f = write(tmp_path, XOR)
    rc = main(
        [
            "train",
            str(f),
            "--data",
            str(tmp_path / "flowers.csv"),
            "--target",
            "species",
            "--match",
            "--epochs",
            "2",
            "-o",
            str(tmp_path / "out.nnd"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    p = load_project(tmp_path / "out.nnd")
    assert p.data["dataset"]["path"] == "flowers.csv" and p.data["model"]["input_shape"] == [4]
    assert p.weights["out/kernel"].shape[1] == 3  # one softmax unit per species
    assert json.loads(f.read_text()) == XOR  # the project file itself is untouched


def test_train_on_a_broken_csv_names_the_cell(tmp_path):
    bad = IRIS_CSV.splitlines()
    bad[5] = "5.1,n/a,1.4,0.2,setosa"
    (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n")
    r = run_cli("train", str(write(tmp_path, XOR)), "--data", str(tmp_path / "bad.csv"), "--match")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (
        "bad.csv" in r.stderr
        and "row 6" in r.stderr
        and "sepal_width" in r.stderr
        and "n/a" in r.stderr
    )


def test_target_without_data_is_refused(tmp_path):
    r = run_cli("train", str(write(tmp_path, XOR)), "--target", "species")
    assert r.returncode == 2 and "--data" in r.stderr
