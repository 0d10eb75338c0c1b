"""The Inspector's editor of the fit settings' ``callbacks`` (Keras' form, ``[{"class_name":
"EarlyStopping", "config": {...}}]``): one entry per callback, in order: its class with a
remove button, and under it the settings that differ from Keras' defaults as a line of text
(``patience=2, restore_best_weights=true``: Enter applies); a combo at the end adds one of
:data:`engine.callbacks.CALLBACK_NAMES` with Keras' defaults.

A row's text that does not read as settings is named under the field and not committed; a
setting the callback refuses is named by the project's own check (``fit.callbacks``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import Field
from designer.panels.rule_field import parse_settings, settings_text
from engine.callbacks import CALLBACK_NAMES, resolve_callback

_ADD = "Add a callback…"


def _parts(spec: Any) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(class name, the settings given, Keras' defaults) of a callback spec, or None."""
    try:
        cls, _ = resolve_callback(spec)
    except (ValueError, TypeError):
        return None
    given = spec.get("config") if isinstance(spec, dict) else None
    return cls, dict(given or {}), resolve_callback(cls)[1]


class CallbacksField(Field):
    """The list of callbacks; ``on_commit(list or None)`` (None: no callbacks)."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        super().__init__(key, on_commit)
        box = QWidget()
        outer = QVBoxLayout(box)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(3)
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(3)
        outer.addLayout(self._rows_box)
        self.add_combo = QComboBox()
        self.add_combo.addItem(_ADD)
        for name in CALLBACK_NAMES:
            self.add_combo.addItem(name)
        self.add_combo.setToolTip("Keras' callbacks NN Designer runs, with Keras' defaults")
        self.add_combo.activated.connect(self._add)
        outer.addWidget(self.add_combo)
        self._set_editor(box)
        self._value: list[Any] = []
        self.rows: list[tuple[QLabel, QLineEdit, QToolButton]] = []

    def inputs(self) -> list[QWidget]:
        return [self.add_combo, *(edit for _, edit, _ in self.rows)]

    # ------------------------------------------------------------------ edits
    def _commit_list(self, specs: list[Any]) -> None:
        self._value = specs
        self.on_commit(specs or None)

    def _add(self, index: int) -> None:
        self.add_combo.setCurrentIndex(0)
        if index <= 0:
            return
        self._commit_list([*self._value, CALLBACK_NAMES[index - 1]])

    def _remove(self, i: int) -> None:
        self._commit_list([s for k, s in enumerate(self._value) if k != i])

    def _edited(self, i: int) -> None:
        parts = _parts(self._value[i]) if i < len(self._value) else None
        if parts is None:
            return
        cls, given, _ = parts
        edit = self.rows[i][1]
        try:
            config = parse_settings(edit.text())
        except ValueError as exc:
            self.show_errors([f"{cls}: {exc}"])
            return
        if config == given:
            return
        spec = {"class_name": cls, "config": config} if config else cls
        self._commit_list([spec if k == i else s for k, s in enumerate(self._value)])

    # ------------------------------------------------------------------ view
    def _build_rows(self, count: int) -> None:
        while len(self.rows) > count:
            label, edit, remove = self.rows.pop()
            for w in (label, edit, remove):
                w.hide()
                w.deleteLater()
        while len(self.rows) < count:
            i = len(self.rows)
            row = QHBoxLayout()
            label = QLabel()
            edit = QLineEdit()
            edit.setPlaceholderText("Keras' defaults")
            edit.editingFinished.connect(lambda i=i: self._edited(i))
            remove = QToolButton()
            remove.setText("✕")
            remove.setAutoRaise(True)
            remove.setToolTip("Remove this callback")
            remove.clicked.connect(lambda _=False, i=i: self._remove(i))
            row.addWidget(label, 1)
            row.addWidget(remove)
            self._rows_box.addLayout(row)
            self._rows_box.addWidget(edit)  # the settings under the class: room to read them
            self.rows.append((label, edit, remove))

    def show_value(self, value: Any) -> None:
        specs = list(value) if isinstance(value, list) else []
        self._value = specs
        self._build_rows(len(specs))
        for (label, edit, _), spec in zip(self.rows, specs, strict=True):
            parts = _parts(spec)
            if parts is None:
                label.setText(str(spec.get("class_name") if isinstance(spec, dict) else spec))
                continue
            cls, given, defaults = parts
            label.setText(cls)
            edit.setToolTip(f"{cls}'s settings (Keras' defaults): {settings_text(defaults)}")
            if not edit.hasFocus():
                edit.setText(settings_text(given))
