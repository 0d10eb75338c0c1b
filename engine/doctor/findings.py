"""What the network doctor reports: a :class:`Finding` (level, where, what, why) and its
:class:`Fix`, a list of :mod:`engine.edits` calls written as data, so that the CLI prints it
(``--json``) and the window applies it as one undoable edit (:func:`apply_fix`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import edits

ERROR, WARNING, HINT = "error", "warning", "hint"
#: Most severe first: the order findings are listed in.
LEVELS = (ERROR, WARNING, HINT)

#: The edits a fix may call, by name: every one takes the project dict first and returns the
#: new dict (or ``(dict, new layer name)``). Nothing else is ever called from a fix.
EDITS = {
    "set_param": edits.set_param,
    "set_setting": edits.set_setting,
    "set_class": edits.set_class,
    "remove_layers": edits.remove_layers,
    "insert_on_edge": edits.insert_on_edge,
}


@dataclass(frozen=True)
class Fix:
    """One undoable change: ``label`` (the Edit menu's "Undo …" text) and ``steps``, each
    ``(edit name, keyword arguments)`` applied in order to the project dict."""

    label: str
    steps: tuple[tuple[str, dict], ...]

    def to_json(self) -> dict:
        return {"label": self.label, "edits": [{"edit": n, **kw} for n, kw in self.steps]}


def fix(label: str, *steps: tuple[str, dict]) -> Fix:
    for name, _ in steps:
        if name not in EDITS:
            raise KeyError(f"a fix may not call {name!r}")
    return Fix(label, tuple(steps))


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found.

    Attributes
    ----------
    level : {"error", "warning", "hint"}
        An error stops training or makes it meaningless; a warning trains, badly; a hint is
        a better way that is not wrong.
    code : str
        Stable identifier of the check (``"softmax-binary-crossentropy"``), for tests,
        scripts and the README's list.
    message : str
        What is wrong, in one sentence.
    why : str
        One line on why it matters (with a source where it helps).
    layer, field : str or None
        The layer, and the setting or parameter (``"activation"``, ``"fit.batch_size"``).
    fix : Fix or None
        The change that removes it, when there is one the doctor can be sure of.
    """

    level: str
    code: str
    message: str
    why: str
    layer: str | None = None
    field: str | None = None
    fix: Fix | None = None

    def where(self) -> str:
        if self.layer and self.field:
            return f"{self.layer}.{self.field}"
        return self.layer or self.field or "project"

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "code": self.code,
            "layer": self.layer,
            "field": self.field,
            "message": self.message,
            "why": self.why,
            "fix": self.fix.to_json() if self.fix else None,
        }


def apply_fix(data: dict, the_fix: Fix) -> dict:
    """The project dict after ``the_fix``'s edits (a new dict; ``data`` is not changed).

    Raises
    ------
    KeyError, ValueError
        When an edit does not apply any more (the layer was renamed since the finding).
    """
    for name, kwargs in the_fix.steps:
        result = EDITS[name](data, **kwargs)
        data = result[0] if isinstance(result, tuple) else result
    return data


def counts_text(findings: list[Finding]) -> str:
    """``"1 error, 2 warnings"``: how many findings of each level, most severe first."""
    parts = []
    for level in LEVELS:
        n = sum(f.level == level for f in findings)
        if n:
            parts.append(f"{n} {level}{'s' if n != 1 else ''}")
    return ", ".join(parts) or "no findings"


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then hints; the order of the checks within a level."""
    return sorted(findings, key=lambda f: LEVELS.index(f.level))
