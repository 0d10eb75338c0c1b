"""Random JSON values in every field of a project: ``nndesigner doctor`` answers 0, 1 or 2
(never a traceback), and ``train --watch`` 0, 2, 3 or 4. The fuzzer of test_spec_fuzz (one
shipped example, one to three values put anywhere or keys removed), deterministic."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings

from tests.engine.test_spec_fuzz import (
    EXAMPLE_DATA,
    FUZZ,
    TRAINABLE,
    hostile_projects,
    run_case,
    train_argv,
)

LINUX_ONLY = pytest.mark.skipif(
    sys.platform != "linux", reason="RLIMIT_AS and /proc as Linux has them"
)


@pytest.mark.slow
@LINUX_ONLY
@settings(FUZZ, max_examples=300)
@given(hostile_projects(sorted(EXAMPLE_DATA)))
def test_doctor_answers_any_value_with_0_1_or_2(case):
    run_case(
        case,
        lambda path, _folder: ["doctor", str(path)],
        lambda path, _folder: ["doctor", str(path), "--json"],
        allowed=(0, 1, 2),
    )


@pytest.mark.slow
@LINUX_ONLY
@settings(FUZZ, max_examples=150)
@given(hostile_projects(list(TRAINABLE)))
def test_train_watch_answers_any_value_with_0_2_3_or_4(case):
    run_case(case, lambda path, folder: train_argv(path, folder, "--watch"), allowed=(0, 2, 3, 4))
