"""An :class:`~engine.explain.Explanation` as HTML that looks typeset: serif type, italic
variables with real subscripts, one equation chain per table with its "=" signs aligned, and
the trace's numbers in blue (links ``n:<k>`` so the browser can show their full precision)."""

from __future__ import annotations

import html
import re

from engine.formula import Explanation, Line, Num, Part, Sym

SERIF = "'STIX Two Text', 'Cambria', 'Latin Modern Roman', 'DejaVu Serif', 'Times New Roman', serif"
TRACE_COLOR = "#1d4ed8"
TRACE_COLOR_DARK = "#7fb0ff"
NOTE_COLOR = "#6b7280"
NOTE_COLOR_DARK = "#9ca3af"

PHASE_COLORS = {
    "input": "#64748b",
    "forward": "#2563eb",
    "loss": "#b45309",
    "backward": "#b91c1c",
    "update": "#15803d",
}


def _sym(s: Sym) -> str:
    out = f"<i>{html.escape(s.name)}</i>"
    if s.sub:
        out += f"<sub>{html.escape(s.sub)}</sub>"
    if s.sup:
        out += f"<sup>{html.escape(s.sup)}</sup>"
    return out


# A lone letter (Latin or Greek, maybe with a hat) in formula text is a variable: italic.
_VARIABLE = re.compile(
    r"(?<![A-Za-z\u0370-\u03ff])([A-Za-z\u03b1-\u03c9]\u0302?|ŷ|ḡ)(?![A-Za-z(\u0370-\u03ff])"
)


def _formula_text(text: str) -> str:
    out, last = [], 0
    for m in _VARIABLE.finditer(text):
        out.append(html.escape(text[last : m.start()]))
        out.append(f"<i>{html.escape(m.group(0))}</i>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _parts(parts: list[Part], numbers: list[Num], trace_color: str) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(_formula_text(p))
        elif isinstance(p, Sym):
            out.append(_sym(p))
        else:
            k = len(numbers)
            numbers.append(p)
            text = html.escape(p.text())
            if p.source is not None:
                out.append(
                    f"<a href='n:{k}' style='color:{trace_color}; text-decoration:none'>{text}</a>"
                )
            else:
                out.append(
                    f"<a href='n:{k}' style='color:inherit; text-decoration:none'>{text}</a>"
                )
    return "".join(out)


def explanation_html(exp: Explanation, dark: bool = False) -> tuple[str, list[Num]]:
    """The HTML of ``exp`` and its numbers in link order (link ``n:k`` is ``numbers[k]``)."""
    trace_color = TRACE_COLOR_DARK if dark else TRACE_COLOR
    note_color = NOTE_COLOR_DARK if dark else NOTE_COLOR
    numbers: list[Num] = []
    out = [
        f'<div style="font-family:{SERIF}; font-size:13pt">',
        f"<div style='font-size:14.5pt; font-weight:bold'>{html.escape(exp.title)}</div>",
    ]
    if exp.subtitle:
        out.append(
            f"<div style='font-family:sans-serif; font-size:9.5pt; color:{note_color}'>"
            f"{html.escape(exp.subtitle)}</div>"
        )
    for sec in exp.sections:
        color = PHASE_COLORS.get(sec.phase, "#374151")
        out.append(
            f"<div style='margin-top:12px; font-family:sans-serif; font-size:10.5pt; "
            f"font-weight:bold; color:{color}'>{html.escape(sec.title)}</div>"
        )
        # One table per run of equations, so that a long remark cannot widen their columns.
        rows: list[str] = []
        for ln in [*sec.lines, None]:
            if ln is not None and (ln.lhs or ln.rhs):
                rows.append(_row(ln, numbers, trace_color, note_color))
                continue
            if rows:
                out.append(
                    "<table cellspacing='0' cellpadding='1' style='margin-left:6px'>"
                    + "".join(rows) + "</table>"
                )  # fmt: skip
                rows = []
            if ln is not None:
                out.append(
                    f"<div style='font-family:sans-serif; font-size:9.5pt; font-style:italic; "
                    f"color:{note_color}; margin-left:6px'>{html.escape(ln.note)}</div>"
                )
    out.append("</div>")
    return "".join(out), numbers


def _row(ln: Line, numbers: list[Num], trace_color: str, note_color: str) -> str:
    note = ""
    if ln.note:
        note = (
            f"<span style='font-family:sans-serif; font-size:9pt; color:{note_color}'>"
            f"&nbsp;&nbsp;&nbsp;{html.escape(ln.note)}</span>"
        )
    lhs = _parts(ln.lhs, numbers, trace_color)
    rhs = _parts(ln.rhs, numbers, trace_color)
    return (
        f"<tr><td align='right' style='white-space:nowrap'>{lhs}</td>"
        f"<td align='center' style='white-space:nowrap'>&nbsp;{html.escape(ln.op)}&nbsp;</td>"
        f"<td>{rhs}{note}</td></tr>"
    )


def placeholder_html(text: str, dark: bool = False) -> str:
    color = NOTE_COLOR_DARK if dark else NOTE_COLOR
    return (
        f'<div style="font-family:sans-serif; font-size:10pt; color:{color}">'
        f"{html.escape(text)}</div>"
    )
