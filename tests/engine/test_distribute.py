"""Data-parallel training on TensorFlow's MirroredStrategy (issue 18, first slice): over 2
logical CPU devices it trains as one device does (the global batch split across the
replicas, unevenly too; Keras' optimizer all-reducing the gradients), within float32
rounding. Logical devices must be made before TensorFlow starts: each training runs the CLI
in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.project import from_dict, load_project
from engine.validate import project_problems

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"

pytestmark = pytest.mark.slow


def _train(tmp_path: Path, name: str, *args: str) -> Path:
    spec = json.loads((EXAMPLES / "xor.json").read_text())
    spec["fit"].update({"epochs": 3, "batch_size": 9})  # 9 = 5 + 4: uneven shards each step
    src = tmp_path / "xor.json"
    src.write_text(json.dumps(spec))
    out = tmp_path / f"{name}.nnd"
    cmd = [sys.executable, "-m", "engine.cli", "train", str(src), "--backend", "tensorflow"]
    r = subprocess.run(
        [*cmd, "-o", str(out), "--quiet", *args], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_mirrored_over_two_logical_devices_trains_as_one_device(tf_ready, tmp_path):
    one = load_project(_train(tmp_path, "one"))
    two = load_project(_train(tmp_path, "two", "--distribute", "mirrored", "--replicas", "2"))
    assert two.data["distribute"] == {"strategy": "mirrored", "replicas": 2}
    moved = max(float(np.max(np.abs(v))) for v in one.weights.values())
    assert moved > 0.1
    for key, value in one.weights.items():
        np.testing.assert_allclose(two.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
    for key, values in one.history.items():
        np.testing.assert_allclose(two.history[key], values, rtol=1e-4, atol=2e-5, err_msg=key)


def test_distribution_settings_are_checked(capsys, tmp_path):
    spec = json.loads((EXAMPLES / "xor.json").read_text())
    spec["distribute"] = {"strategy": "mirrored", "replicas": 4}
    spec["fit"]["batch_size"] = 2
    texts = [str(p) for p in project_problems(from_dict(spec))[1]]
    assert any("set the backend to tensorflow" in t for t in texts), texts
    assert any("4 replicas each need a sample of every batch" in t for t in texts), texts
    spec["distribute"] = {"strategy": "central", "gpus": 2}
    texts = [str(p) for p in project_problems(from_dict(spec))[1]]
    assert any("distribute.strategy" in t for t in texts) and any(
        "distribute.gpus" in t for t in texts
    )
    src = tmp_path / "x.json"
    src.write_text((EXAMPLES / "xor.json").read_text())
    assert main(["train", str(src), "--replicas", "2", "-o", str(tmp_path / "o.nnd")]) == 2
    assert "give --distribute" in capsys.readouterr().err


def test_the_exported_script_trains_on_two_replicas_as_on_one_device(tf_ready, tmp_path):
    """``python model.py --distribute mirrored --replicas 2`` (Keras' model.fit under the
    strategy's scope) ends where the one-device run ends."""
    import re

    spec = json.loads((EXAMPLES / "xor.json").read_text())
    spec["fit"].update({"epochs": 2, "shuffle": False})
    src = tmp_path / "xor.json"
    src.write_text(json.dumps(spec))
    assert main(["export", str(src), "-o", str(tmp_path / "m.py")]) == 0

    def run(*args):
        r = subprocess.run(
            [sys.executable, str(tmp_path / "m.py"), *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        return [float(v) for v in re.findall(r"val_loss: (\d+\.\d+)", r.stdout)]

    one = run()
    two = run("--distribute", "mirrored", "--replicas", "2")
    assert len(one) == 2 and two == pytest.approx(one, abs=2e-4)
