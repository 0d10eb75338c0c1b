"""The ``nndesigner`` command starts from a module above engine and designer; engine never
imports designer (DESIGN.md: designer depends on engine, never the reverse)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine import cli
from engine.cli import SUBCOMMANDS
from nndesigner import launcher

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Top-level packages engine must not import: the app, and the launcher that stands above it.
ABOVE_ENGINE = ("designer", "nndesigner")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, at any depth (lazy imports included), and
    of every ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                if isinstance(arg.value, str):
                    found.append((node.lineno, arg.value))
    return found


def test_engine_never_imports_the_designer_or_the_launcher():
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "engine").rglob("*.py"))
        for line, module in imported_modules(path)
        if module.split(".")[0] in ABOVE_ENGINE
    ]
    assert bad == []


def test_the_import_scan_sees_lazy_and_dynamic_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "def f():\n"
        "    from designer.app import main\n"
        "    import designer.theme as t\n"
        "    return importlib.import_module('designer.main_window')\n"
    )
    assert imported_modules(sample) == [
        (1, "os"),
        (3, "designer.app"),
        (4, "designer.theme"),
        (5, "designer.main_window"),
    ]


def declared_entry_point() -> str:
    return PYPROJECT["project"]["scripts"]["nndesigner"]


def test_the_console_script_is_the_launcher_and_the_launcher_is_installed():
    assert declared_entry_point() == "nndesigner.launcher:main"
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "nndesigner" in include, "a fresh install must carry the launcher"
    assert {"engine", "designer"} <= set(include)


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def test_the_declared_entry_point_starts_the_cli_without_qt():
    module, func = declared_entry_point().split(":")
    code = (
        "import sys\n"
        f"from {module} import {func} as main\n"
        "rc = main(['--help'])\n"
        "loaded = [m for m in ('PySide6', 'designer', 'tensorflow') if m in sys.modules]\n"
        "print('RESULT', rc, loaded)\n"
    )
    r = run_python("-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: nndesigner"), r.stdout
    assert all(name in r.stdout for name in SUBCOMMANDS)
    assert "RESULT 0 []" in r.stdout


def test_python_dash_m_nndesigner_runs_a_subcommand():
    r = run_python("-m", "nndesigner", "summary", str(ROOT / "resources/examples/xor.json"))
    assert r.returncode == 0, r.stderr
    assert "Total params: 17" in r.stdout


def test_the_installed_console_script_starts_the_cli():
    script = Path(sys.executable).parent / "nndesigner"
    if not script.exists():
        pytest.skip(f"no nndesigner script beside {sys.executable}: the project is not installed")
    module, func = declared_entry_point().split(":")
    # pip writes the entry point into the script as an import line.
    assert f"from {module} import {func}" in script.read_text(encoding="utf-8"), (
        f"{script} is older than pyproject.toml: run `python3 bootstrap.py setup` "
        "(or pip install -e .) to reinstall it"
    )
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: nndesigner") and "train" in r.stdout


@pytest.mark.parametrize(
    "argv, opens",
    [
        ([], True),
        (["project.json"], True),
        (["-x"], False),  # an option: the command line refuses it (exit 2)
        (["--version"], False),
        (["train"], False),
        (["screenshot", "-o", "a.png"], False),
        (["--help"], False),
        (["-h"], False),
        (["project.json", "more"], False),  # the CLI says: unknown command
    ],
)
def test_what_opens_the_app(argv, opens):
    assert launcher.opens_the_app(argv) is opens


def test_the_launcher_opens_the_app_on_a_project(monkeypatch):
    import designer.app

    calls = []
    monkeypatch.setattr(designer.app, "main", lambda path=None: calls.append(path) or 7)
    assert launcher.main([]) == 7
    assert launcher.main(["some.json"]) == 7
    assert calls == [None, "some.json"]


def test_the_launcher_draws_screenshots_with_the_designer(monkeypatch, tmp_path, capsys):
    import designer.app

    calls = []

    def fake(project, out, size, train_epochs=0):
        calls.append((project, out, size, train_epochs))

    monkeypatch.setattr(designer.app, "screenshot", fake)
    out = str(tmp_path / "s.png")
    argv = ["screenshot", "p.json", "-o", out, "--size", "800x600", "--train-epochs", "2"]
    assert launcher.main(argv) == 0
    assert calls == [("p.json", out, (800, 600), 2)]
    assert f"Saved {out}" in capsys.readouterr().out


def test_the_engine_cli_alone_needs_a_command_and_cannot_draw(tmp_path, capsys):
    assert cli.main([]) == 2
    assert "no command given; commands: train" in capsys.readouterr().err
    assert cli.main(["project.json"]) == 2
    assert "unknown command 'project.json'" in capsys.readouterr().err
    assert cli.main(["screenshot", "-o", str(tmp_path / "s.png")]) == 2
    assert "run it as 'nndesigner screenshot'" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_version_is_an_option_not_a_project(capsys):
    assert launcher.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nndesigner ")
