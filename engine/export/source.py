"""Python source as a person writes it, for the exported Keras script.

A tiny layout engine: :class:`Call` is ``func(args)``; :func:`render` keeps a call that fits on
one line and splits one that does not into one argument per line with a trailing comma, as
``ruff format`` does, so that ruff leaves the generated text as it is. :func:`lit` writes a
JSON-like value as a Python literal, :func:`docstring` a wrapped docstring.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

__all__ = ["INDENT", "LINE_LENGTH", "Call", "docstring", "lit", "render"]

#: Longest line the generated code holds (ruff's and black's default).
LINE_LENGTH = 88

INDENT = "    "


@dataclass
class Call:
    """``func(args)``; an argument is an expression or ``(keyword, expression)``.

    ``explode`` forces one argument per line (a list of layers reads better that way).
    """

    func: str
    args: list[Any] = field(default_factory=list)
    open: str = "("
    close: str = ")"
    explode: bool = False


def _flat(expr: Any) -> str | None:
    """One-line text of an expression, or None when it must span lines."""
    if isinstance(expr, str):
        return expr
    if expr.explode:
        return None
    parts = []
    for arg in expr.args:
        key, value = arg if isinstance(arg, tuple) else (None, arg)
        text = _flat(value)
        if text is None:
            return None
        parts.append(f"{key}={text}" if key else text)
    return f"{expr.func}{expr.open}{', '.join(parts)}{expr.close}"


def render(expr: Any, indent: int, prefix: str = "", trailer: str = "") -> list[str]:
    """Lines of ``prefix + expr + trailer`` at ``indent`` levels, split like ruff format."""
    pad = INDENT * indent
    text = _flat(expr)
    if text is not None and (
        len(pad + prefix + text + trailer) <= LINE_LENGTH or isinstance(expr, str) or not expr.args
    ):
        return [pad + prefix + text + trailer]
    lines = [pad + prefix + expr.func + expr.open]
    for arg in expr.args:
        key, value = arg if isinstance(arg, tuple) else (None, arg)
        lines += render(value, indent + 1, f"{key}=" if key else "", ",")
    lines.append(pad + expr.close + trailer)
    return lines


def lit(value: Any) -> str:
    """A Python literal for a JSON-like value (double-quoted strings, as ruff writes them)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # 1e+20 -> 1e20, as ruff format writes it
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = [lit(v) for v in value]
        if isinstance(value, tuple):
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    raise TypeError(f"no literal for {value!r}")  # pragma: no cover - specs are JSON


def docstring(text: str, indent: int) -> list[str]:
    """A docstring of wrapped paragraphs (separated by blank lines) at ``indent`` levels."""
    pad = INDENT * indent
    width = LINE_LENGTH - len(pad)
    lines: list[str] = []
    for i, para in enumerate(text.strip().split("\n\n")):
        if i:
            lines.append("")
        # The first line shares its room with the opening quotes.
        # Never at hyphens: file names such as train-images-idx3-ubyte.gz stay whole.
        room = width - (3 if i == 0 else 0)
        text = " ".join(para.split())
        lines += textwrap.wrap(text, room, break_on_hyphens=False) or [""]
    lines = [_safe_doc(line) for line in lines]
    if len(lines) == 1 and len(pad) + len(lines[0]) + 6 <= LINE_LENGTH:
        return [f'{pad}"""{lines[0]}"""']
    out = [f'{pad}"""{lines[0]}']
    out += [(pad + line) if line else "" for line in lines[1:]]
    out.append(f'{pad}"""')
    return out


def _safe_doc(text: str) -> str:
    # A user's project name goes into docstrings: keep it from closing or escaping them.
    text = text.replace("\\", "/").replace('"""', "'''")
    return "".join(ch if ch.isprintable() else " " for ch in text).rstrip()
