"""Settings for the whole test suite, applied before any test imports Qt or TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# tests/ on the path: ``from support import ...`` (shared test code) from every test folder;
# the repository root before it, so that ``engine`` is the package, never tests/engine.
_TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(_TESTS.parent), str(_TESTS)]

# GUI tests run headless (Qt's offscreen platform) unless the caller chose a platform.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# TensorFlow's C++ start-up messages bury the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    from hypothesis import settings
except ImportError:  # hypothesis comes with the "test" extra; plain pytest still runs
    pass
else:
    # Tests are deterministic: the same examples on every run and machine (no random seed, no
    # example database replaying old failures). Set HYPOTHESIS_PROFILE=explore to search anew.
    settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
    settings.register_profile("explore", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


# Qt's objects are torn down in an order CPython does not control when the interpreter exits;
# with PySide6 that can crash (SIGSEGV) after every test has passed and been reported. Once the
# session is over and its summary printed, leave without that teardown, keeping pytest's status.
import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    yield  # the terminal summary is printed inside
    import sys

    if "PySide6" in sys.modules and not os.environ.get("NNDESIGNER_NORMAL_EXIT"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(session.exitstatus))


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty Keras home for the test (``KERAS_HOME``; the folder is not created: Keras
    creates it, so must a download)."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home
