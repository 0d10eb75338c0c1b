"""No code outside engine/layers/ branches on a layer class name (issue 14).

Where behaviour differs between layer types, the code asks the layer type (a trait or a hook of
:class:`engine.layers.LayerType`); the types' names may appear as data (a project's layers, a
message) but never in a comparison, a membership test, a ``match`` case or as the key of a
per-class table. The names scanned for are the registry's, so a new type is covered at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

from engine.layers import INPUT_CLASS_NAME, LAYER_TYPES

ROOT = Path(__file__).resolve().parents[2]
NAMES = set(LAYER_TYPES) | {INPUT_CLASS_NAME}
SCANNED = ("engine", "designer", "nndesigner")
EXEMPT = ROOT / "engine" / "layers"


def _names_in(node: ast.AST) -> list[str]:
    """Class names among the constants of ``node`` (a constant, or a tuple/list/set of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [n for elt in node.elts for n in _names_in(elt)]
    return []


def class_name_branches(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every comparison, membership test, match case or table key on a
    layer class name in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                for name in _names_in(side):
                    found.append((node.lineno, f"compares with {name!r}"))
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                for name in _names_in(key) if key is not None else []:
                    found.append((node.lineno, f"a table keyed by {name!r}"))
        elif isinstance(node, ast.match_case):
            for sub in ast.walk(node.pattern):
                if isinstance(sub, ast.MatchValue):
                    for name in _names_in(sub.value):
                        found.append((sub.lineno, f"a match case on {name!r}"))
    return found


def test_no_code_outside_the_layer_kit_branches_on_a_class_name():
    offenders = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if EXEMPT in path.parents:
                continue
            for line, what in class_name_branches(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, "ask the layer type instead:\n" + "\n".join(offenders)


def test_the_scan_finds_each_kind_of_branch():
    name = next(iter(LAYER_TYPES))
    cases = {
        f"if node.class_name == {name!r}:\n    pass\n": "compares",
        f"ok = cls in ({name!r}, 'x')\n": "compares",
        f"COLORS = {{{name!r}: '#fff'}}\n": "table",
        f"match cls:\n    case {name!r}:\n        pass\n": "match",
    }
    for source, kind in cases.items():
        found = class_name_branches(source)
        assert len(found) == 1 and kind in found[0][1], (source, found)
    # Data is not a branch: a project's layer, a message.
    assert class_name_branches(f"layer = {{'class_name': {name!r}}}\nmsg = 'no {name}'\n") == []
