"""Random JSON values in every field of a project: ``nndesigner doctor`` answers 0, 1 or 2
(never a traceback), and ``train --watch`` 0, 2, 3 or 4. The fuzzer of test_spec_fuzz (one
shipped example, one to three values put anywhere or keys removed), deterministic."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from tests.engine.test_spec_fuzz import (
    EXAMPLE_DATA,
    FUZZ,
    TRAINABLE,
    address_space_cap,
    hostile_projects,
    mutated,
    run,
    write,
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc as Linux has them")
@settings(FUZZ, max_examples=300)
@given(hostile_projects(sorted(EXAMPLE_DATA)))
def test_doctor_answers_any_value_with_0_1_or_2(case):
    name, changes = case
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), mutated(name, changes))
        with address_space_cap():
            run(["doctor", str(path)], allowed=(0, 1, 2))
            run(["doctor", str(path), "--json"], allowed=(0, 1, 2))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc as Linux has them")
@settings(FUZZ, max_examples=150)
@given(hostile_projects(list(TRAINABLE)))
def test_train_watch_answers_any_value_with_0_2_3_or_4(case):
    name, changes = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write(folder, mutated(name, changes))
        argv = ["train", str(path), "--epochs", "1", "--backend", "numpy", "--quiet", "--watch"]
        with address_space_cap():
            run([*argv, "-o", str(folder / "out.nnd")], allowed=(0, 2, 3, 4))
