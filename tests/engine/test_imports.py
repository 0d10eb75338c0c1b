"""The engine is usable without Qt and without TensorFlow (DESIGN.md, principle 2)."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def engine_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(engine.__path__, prefix="engine.")
        if not m.name.endswith("__main__")
    )


def test_every_engine_module_imports_without_qt_or_tensorflow():
    modules = engine_modules()
    assert {
        "engine.cli",
        "engine.project",
        "engine.graph",
        "engine.backends.numpy.model",
        "engine.training",
    } <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'tensorflow', 'keras', 'designer'))\n"
        "print('LOADED', bad)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout, r.stdout
