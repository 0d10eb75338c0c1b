"""What an explanation is made of: formulas of symbols and numbers, and how numbers are written.

An :class:`Explanation` (what the math panel shows for one neuron or weight) holds
:class:`Section` s (forward, loss, backward, update) of :class:`Line` s, each a chain of parts:
text, a :class:`Sym` (a variable with sub/superscripts) or a :class:`Num` (a number, with where in
the step trace it comes from). :func:`fmt` writes numbers for people; :func:`plus`,
:func:`shown_terms` and :func:`more_terms` write long sums with their first terms and "…".

Imports only NumPy: the layer modules of :mod:`engine.layers` build their explanations from these
parts (the session-aware half is :mod:`engine.explain`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MINUS = "\u2212"
#: Sums with more terms than this are shown with their first terms and "…".
MAX_TERMS = 8

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()nit\u2212", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ⁻")

#: Where a shown number is in the step trace: ``(phase, layer, key, index)``; see
#: :func:`engine.explain.lookup`.
Source = tuple


# --------------------------------------------------------------------------------- numbers
def fmt(value: float, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, a true minus, ``×10ⁿ`` outside
    [1e-4, 1e5). Zero is ``0``; NaN and infinities are spelled ``NaN``, ``∞``."""
    v = float(value)
    if v == 0:
        return "0"
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return ("" if v > 0 else MINUS) + "∞"
    sign = MINUS if v < 0 else ""
    a = abs(v)
    if a < 1e5 and a == int(a):  # whole numbers (targets, labels, masks) as people write them
        return sign + str(int(a))
    if 1e-4 <= a < 1e5:
        text = f"{a:#.{digits}g}"
        if "e" in text:  # rounding carried into the next power (99999.5 -> 1.000e+05)
            return sign + _sci(a, digits)
        return sign + text.rstrip(".")
    return sign + _sci(a, digits)


def _sci(a: float, digits: int) -> str:
    mantissa, exp = f"{a:.{digits - 1}e}".split("e")
    return f"{mantissa}×10{str(int(exp)).translate(_SUP)}"


def fmt_param(value: float) -> str:
    """A hyper-parameter as written by people: ``0.9``, ``0.001``, ``1×10⁻⁷``."""
    v = float(value)
    if v == 0:
        return "0"
    a = abs(v)
    sign = MINUS if v < 0 else ""
    if 1e-4 <= a < 1e5:
        return sign + f"{a:.6g}"
    mantissa, exp = f"{a:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{sign}{mantissa}×10{str(int(exp)).translate(_SUP)}"


def exact_text(value: Any) -> str:
    """The shortest text that gives back ``value`` exactly in its own dtype."""
    if isinstance(value, np.floating):
        return str(value)
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return repr(float(value))


# --------------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Sym:
    """A variable: an italic name with an optional subscript and superscript."""

    name: str
    sub: str = ""
    sup: str = ""

    def text(self) -> str:
        return f"{self.name}{subscript(self.sub)}{superscript(self.sup)}"


def subscript(text: str) -> str:
    """``text`` in Unicode subscripts (``"1,2"`` -> ``"₁,₂"``); in brackets where a letter has
    none."""
    if not text:
        return ""
    out = text.translate(_SUB)
    # Characters without a Unicode subscript (a comma, capitals) are kept as they are; a
    # layer-name subscript that is not all digits reads better in brackets.
    if any(ch.isalpha() and ch == out[i] for i, ch in enumerate(text)):
        return f"[{text}]"
    return out


def superscript(text: str) -> str:
    """``text`` in Unicode superscripts; ``^text`` where a character has none."""
    if not text:
        return ""
    out = text.translate(_SUP)
    if any(ch not in "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ" for ch in out):
        return f"^{text}"
    return out


@dataclass(frozen=True)
class Num:
    """A number shown. ``source`` says where it is in the trace (None: computed here, for the
    learner to follow); ``exact`` is its full precision; ``paren`` wraps a negative value in
    parentheses (an operand of a product); ``param`` marks a hyper-parameter (written as set)."""

    value: float
    exact: str
    source: Source | None = None
    paren: bool = False
    param: bool = False

    def text(self) -> str:
        s = fmt_param(self.value) if self.param else fmt(self.value)
        if self.paren and (self.value < 0 or "×" in s):
            return f"({s})"
        return s

    def operand(self) -> Num:
        """The same number, parenthesised when negative (for products and powers)."""
        return Num(self.value, self.exact, self.source, True, self.param)


Part = str | Sym | Num


@dataclass
class Line:
    """``lhs op rhs`` with ``op`` "=" or "←" (an update); a continuation line has an empty
    ``lhs``: ``= rhs`` under the previous one. A line with neither is a remark: ``note``
    alone."""

    lhs: list[Part]
    rhs: list[Part]
    note: str = ""
    op: str = "="

    def text(self, lhs_width: int = 0) -> str:
        left = parts_text(self.lhs)
        right = parts_text(self.rhs)
        if not self.lhs and not self.rhs:
            return self.note
        eq = f"{left.rjust(lhs_width)} {self.op} {right}" if self.rhs else left
        return f"{eq}    ({self.note})" if self.note else eq


def parts_text(parts: list[Part]) -> str:
    """The parts as plain text (numbers as :meth:`Num.text` writes them)."""
    out = []
    for p in parts:
        out.append(p if isinstance(p, str) else p.text())
    return "".join(out)


@dataclass
class Section:
    """One phase's math: ``phase`` is forward, loss, backward, update (or input)."""

    title: str
    phase: str
    lines: list[Line] = field(default_factory=list)

    def add(self, lhs: list[Part], *chain: list[Part], note: str = "", op: str = "=") -> None:
        """``lhs op chain[0] = chain[1] …`` as one line per link. An ``lhs`` ending in
        ``" ← "`` is an update: ``op`` becomes "←"."""
        if lhs and lhs[-1] == " ← ":
            lhs, op = lhs[:-1], "←"
        for k, rhs in enumerate(chain):
            self.lines.append(
                Line(
                    lhs if k == 0 else [],
                    rhs,
                    note if k == len(chain) - 1 else "",
                    op if k == 0 else "=",
                )
            )

    def remark(self, text: str) -> None:
        self.lines.append(Line([], [], text))


@dataclass
class Explanation:
    """What the math panel shows for one pinned neuron or weight."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def text(self) -> str:
        out = [self.title]
        if self.subtitle:
            out.append(self.subtitle)
        for sec in self.sections:
            out.append("")
            out.append(sec.title)
            width = max((len(parts_text(ln.lhs)) for ln in sec.lines), default=0)
            out.extend("  " + ln.text(width) for ln in sec.lines)
        return "\n".join(out)

    def numbers(self) -> list[Num]:
        """Every number shown, in reading order."""
        return [
            p
            for sec in self.sections
            for ln in sec.lines
            for p in (*ln.lhs, *ln.rhs)
            if isinstance(p, Num)
        ]

    def section(self, phase: str) -> Section | None:
        return next((s for s in self.sections if s.phase == phase), None)


# ----------------------------------------------------------------------------------- sums
def plus(terms: list[list[Part]]) -> list[Part]:
    """``t₁ + t₂ + …``; the very first number needs no parentheses."""
    out: list[Part] = []
    for k, t in enumerate(terms):
        if k:
            out.append(" + ")
        if k == 0 and t and isinstance(t[0], Num) and t[0].paren and "×" not in t[0].text():
            t = [Num(t[0].value, t[0].exact, t[0].source, False, t[0].param), *t[1:]]
        out.extend(t)
    return out


def shown_terms(count: int) -> tuple[list[int], int]:
    """Which of ``count`` terms to show, and how many are left out."""
    if count <= MAX_TERMS:
        return list(range(count)), 0
    shown = MAX_TERMS - 2
    return list(range(shown)), count - shown


def more_terms(left: int) -> list[Part]:
    """The tail of a sum whose last ``left`` terms are not shown."""
    return [f" + … ({left} more terms)"] if left else []


# ---------------------------------------------------------------------------------- units
def unit_index(shape: tuple[int, ...], unit: int) -> tuple[int, ...]:
    """The index in ``shape`` (without the batch axis) of the flat ``unit``."""
    return tuple(int(i) for i in np.unravel_index(int(unit), shape))


def one_based(idx: tuple[int, ...]) -> str:
    """1-based subscript text of a unit's index: ``(0, 2)`` -> ``"1,3"``."""
    return ",".join(str(i + 1) for i in idx)
