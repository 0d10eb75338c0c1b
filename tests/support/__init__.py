"""Code the tests share: hostile project files, a fake Keras download server, and
:func:`test_module` for tests that borrow another test file's helpers.

Test files are not a package (``--import-mode=importlib``); tests/conftest.py puts tests/ on
``sys.path`` so that ``from support import ...`` works from every test folder.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parents[1]


def test_module(relative: str) -> ModuleType:
    """The test file ``tests/<relative>`` as a module, loaded once (for its helpers)."""
    name = "_nnd_" + relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while being built
        spec.loader.exec_module(module)
    return sys.modules[name]


test_module.__test__ = False  # not a test, whatever its name
