"""Random JSON values in every field of a project: the CLI answers 0 or 2, never a traceback.

Each example takes one shipped example project, puts one random JSON value (null, booleans,
integers from -1 to 10**400, floats from 5e-324 to 1e308 and the non-finite ones, texts, lists,
nested objects) at one place in it (an existing key anywhere in the document, a layer config
key the example leaves at its default, a compile/fit/dataset key, or an unknown key), or
removes a key, and runs ``nndesigner summary`` and ``nndesigner export`` on it in-process; for
the small XOR and Perceptron examples, ``nndesigner train --epochs 1`` as well. Every exit
status must be 0 or 2 (3 for a training stopped by a non-finite loss) and no exception may
escape ``engine.cli.main``. Deterministic (``derandomize``) and about half a minute in all.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.data import COMMON_KEYS, FORMAT_KEYS
from engine.data.builtin import BUILTIN_DATASETS
from engine.layers import LAYER_TYPES
from engine.validate import COMPILE_KEYS, FIT_KEYS, TOP_KEYS_KNOWN

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
EXAMPLE_DATA = {p.stem: json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))}
# Small enough to train one epoch per example in milliseconds.
TRAINABLE = ("xor", "perceptron")

_DATASET_KEYS = sorted(
    {"name", "path", "task", "format", *COMMON_KEYS}
    | {k for keys in FORMAT_KEYS.values() for k in keys}
    | {k for ds in BUILTIN_DATASETS.values() for k in getattr(ds, "params", {})}
)
_OPTIMIZER_KEYS = ["learning_rate", "name", "momentum", "clipnorm", "weight_decay", "epsilon"]
_SECTION_KEYS = {
    ("compile",): list(COMPILE_KEYS),
    ("fit",): list(FIT_KEYS),
    ("dataset",): _DATASET_KEYS,
    (): list(TOP_KEYS_KNOWN),
    ("model",): ["input_shape", "layers"],
    ("compile", "optimizer", "config"): _OPTIMIZER_KEYS,
}
_UNKNOWN = "zz_unknown"

Place = tuple  # a place in the document: its keys and list indices


def places(doc: dict) -> list[Place]:
    """Every place a value can be put in ``doc``: each existing key or list item, the known
    keys of each section and layer config that are absent, and an unknown key per object."""
    found: list[Place] = []

    def walk(node, path: Place) -> None:
        if isinstance(node, dict):
            keys = list(node) + [k for k in _SECTION_KEYS.get(path, []) if k not in node]
            if len(path) == 4 and path[:2] == ("model", "layers") and path[3] == "config":
                ltype = LAYER_TYPES.get(doc["model"]["layers"][path[2]].get("class_name"))
                keys += [p.name for p in ltype.params if p.name not in node] if ltype else []
            for key in [*keys, _UNKNOWN]:
                found.append((*path, key))
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                found.append((*path, i))
                walk(value, (*path, i))

    walk(doc, ())
    return found


PLACES = {name: places(doc) for name, doc in EXAMPLE_DATA.items()}
_DELETE = object()

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([-1, 2**31, 2**32, 2**63, -(2**63), 10**30, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 5e-324, 0.5, -0.0, 1e-30])
    | st.text(max_size=6)
    | st.sampled_from(["", "a/b", "input", "relu", "adam", "mse", "float64", "tensorflow", "/"])
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["class_name", "config", "name", "x", ""]), inner, max_size=3
        )
    ),
    max_leaves=5,
)


def mutated(name: str, changes: list[tuple[Place, object]]) -> dict:
    doc = copy.deepcopy(EXAMPLE_DATA[name])
    for place, value in changes:
        node = doc
        for key in place[:-1]:
            # An earlier change may have replaced a section this place is inside.
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                break
        else:
            if isinstance(node, dict):
                if value is _DELETE:
                    node.pop(place[-1], None)
                else:
                    node[place[-1]] = value
            elif isinstance(node, list) and isinstance(place[-1], int) and place[-1] < len(node):
                if value is _DELETE:
                    del node[place[-1]]
                else:
                    node[place[-1]] = value
    return doc


@st.composite
def hostile_projects(draw, names):
    """``(example name, [(place, value or _DELETE), ...])``: one to three changes, half of
    them at the top of the document or of a section, where one wrong type reaches most code."""
    name = draw(st.sampled_from(names))
    shallow = [p for p in PLACES[name] if len(p) <= 2]
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(shallow) | st.sampled_from(PLACES[name]))
        changes.append((place, draw(st.just(_DELETE) | json_values)))
    return name, changes


def write(folder: Path, doc: dict) -> Path:
    path = folder / "p.json"
    # NaN and Infinity are written as Python's json writes them (not standard JSON): the
    # loader must refuse or validation must reject them, never crash.
    path.write_text(json.dumps(doc))
    return path


def run(argv: list[str], allowed=(0, 2)) -> int:
    code = main(argv)  # an escaping exception fails the test with its traceback
    assert code in allowed, (argv, code)
    return code


@contextlib.contextmanager
def address_space_cap(extra: int = 1536 << 20):
    """Hold this process to its current address space plus ``extra`` bytes (RLIMIT_AS), so a
    fuzzed network that would eat the machine's memory fails fast, as under ``ulimit -v``."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    cap = vm + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_case(case, *commands, allowed, capped: bool = True) -> None:
    """Write ``case`` (an example with its changes) to a temporary folder and run each command
    on it, ``command(path, folder) -> argv``, under :func:`address_space_cap` when ``capped``;
    every exit status must be in ``allowed``."""
    name, changes = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write(folder, mutated(name, changes))
        with address_space_cap() if capped else contextlib.nullcontext():
            for command in commands:
                run(command(path, folder), allowed=allowed)


FUZZ = settings(
    derandomize=True,
    database=None,
    # Each example takes milliseconds; the deadline only catches a value that makes a command
    # crawl (a huge allocation, a runaway loop), with room for a slow, shared CI machine.
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_every_place_of_every_example_is_reachable():
    # The fuzzer reaches every layer config key, the sections' keys and unknown keys.
    xor = set(PLACES["xor"])
    assert ("model", "layers", 0, "config", "kernel_initializer") in xor
    assert ("compile", "optimizer", "config", "name") in xor
    assert ("fit", "shuffle") in xor and ("dataset", "labels_path") in xor
    assert ("model", "layers", 1, _UNKNOWN) in xor and (_UNKNOWN,) in xor
    assert all(PLACES[name] for name in EXAMPLE_DATA)


@pytest.mark.slow
@settings(FUZZ, max_examples=600)
@given(hostile_projects(sorted(EXAMPLE_DATA)))
def test_summary_and_export_answer_any_value_with_0_or_2(case):
    name, changes = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write(folder, mutated(name, changes))
        run(["summary", str(path)])
        run(["export", str(path), "-o", str(folder / "out.py")])


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc as Linux has them")
@settings(FUZZ, max_examples=250)
@given(hostile_projects(list(TRAINABLE)))
def test_train_answers_any_value_with_0_2_or_3(case):
    run_case(case, train_argv, allowed=(0, 2, 3))


def train_argv(path: Path, folder: Path, *extra: str) -> list[str]:
    """One epoch of ``nndesigner train`` on the NumPy engine, quiet, into ``folder``."""
    return [
        "train",
        str(path),
        "--epochs",
        "1",
        "--backend",
        "numpy",
        "--quiet",
        "-o",
        str(folder / "out.nnd"),
        *extra,
    ]
