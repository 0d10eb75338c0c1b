"""The Inspector's editor of a regularizer or a constraint (Keras' ``kernel_regularizer``,
``activity_regularizer``, ``kernel_constraint``...): a combo of Keras' classes ("None" first)
and, once one is chosen, a line of its settings as Keras names them (``l2=0.01``,
``max_value=2, axis=0``), every setting shown with its value.

A class alone commits its name (Keras' defaults); edited settings commit the shortest spec
(:func:`engine.regularizers.regularizer_spec`), ``{"class_name": "L2", "config": {"l2":
0.001}}``. Text that does not read as settings is named under the line and not committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLineEdit

from designer.panels.fields import ChoiceField
from engine.constraints import CONSTRAINT_NAMES, constraint_spec, resolve_constraint
from engine.regularizers import REGULARIZER_NAMES, regularizer_spec, resolve_regularizer

_KINDS = {
    "regularizer": (REGULARIZER_NAMES, resolve_regularizer, regularizer_spec),
    "constraint": (CONSTRAINT_NAMES, resolve_constraint, constraint_spec),
}


def settings_text(config: dict[str, Any]) -> str:
    """``{"l2": 0.01}`` -> ``"l2=0.01"``; strings and lists as JSON (``mode="rows"``)."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in config.items())


def parse_settings(text: str) -> dict[str, Any]:
    """``"l2=0.01, mode=rows"`` -> ``{"l2": 0.01, "mode": "rows"}``; a value is JSON (a bare
    word is text). Raises ValueError naming the part that does not read."""
    out: dict[str, Any] = {}
    depth, part, parts = 0, "", []
    for ch in text:  # split on the commas outside [...] (an axis list)
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    for piece in (p.strip() for p in parts):
        if not piece:
            continue
        key, eq, raw = piece.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{piece!r} is not setting=value")
        raw = raw.strip()
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw.strip("'\"")
        out[key.strip()] = value
    return out


class RuleField(ChoiceField):
    """A regularizer or constraint (``kind``) of a layer."""

    def __init__(self, key: str, on_commit: Callable[[Any], None], kind: str) -> None:
        names, self._resolve, self._spec = _KINDS[kind]
        super().__init__(key, on_commit, [("None", None), *((n, n) for n in names)])
        self.kind = kind
        self.settings = QLineEdit()
        self.settings.setPlaceholderText("settings")
        self.settings.setToolTip(
            "The class's settings as Keras names them, e.g. l2=0.001 (Enter to apply)"
        )
        self.settings.setVisible(False)
        self.settings.editingFinished.connect(self._settings_done)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.settings, 1)
        # the reset button's column, so that the line ends where the combo ends
        line.addSpacing(self.reset_button.width() + self._row.spacing())
        self._outer.insertLayout(1, line)
        self._cls: str | None = None
        self._shown = ""

    def inputs(self):
        return [self.editor, self.settings]

    def _settings_done(self) -> None:
        text = self.settings.text()
        if self._cls is None or text == self._shown:
            return
        try:
            spec = self._spec({"class_name": self._cls, "config": parse_settings(text)})
        except ValueError as exc:
            self.show_errors([str(exc)])
            return
        self._shown = text
        self.on_commit(spec)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        try:
            cls, config = self._resolve(value) if value is not None else (None, {})
        except ValueError:
            super().show_value(value, extra_text)
            self._cls = None
            self.settings.setVisible(False)
            return
        super().show_value(cls, extra_text)
        self._cls = cls
        self._shown = settings_text(config)
        if not self.settings.hasFocus():
            self.settings.setText(self._shown)
        self.settings.setVisible(bool(config))
