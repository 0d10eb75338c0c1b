"""Editor fields of the inspector: one editor, an inline error label and an optional reset
button each. A field shows a value without emitting (signals blocked, unchanged values left
alone so that the cursor of a widget being typed in never jumps) and calls ``on_commit(value)``
when the user changes it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.panels.values import same_value
from designer.plots.theme import is_dark
from engine.layers.base import check_shape

__all__ = [
    "INT_MAX",
    "NOT_SET",
    "BoolField",
    "ChoiceCombo",
    "ChoiceField",
    "Field",
    "FloatField",
    "FloatSpinBox",
    "IntField",
    "IntTupleField",
    "ReadOnlyField",
    "ShapeField",
    "TextField",
    "WheelGuard",
    "error_color",
    "format_number",
    "make_error_label",
    "parse_shape_text",
    "same_value",
    "shape_text",
]

INT_MAX = 2**31 - 1
NOT_SET = "(not set)"


def error_color(widget: QWidget | None = None) -> str:
    """A red that reads well on the current background."""
    return "#ff8a80" if is_dark(widget) else "#c62828"


def make_error_label(parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(f"color: {error_color(parent)};")
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.setVisible(False)
    return label


def format_number(value: float) -> str:
    return f"{value:.6g}"


class WheelGuard(QObject):
    """Stops the mouse wheel from changing spin boxes and combo boxes that do not have focus,
    so that scrolling the inspector never edits the project by accident."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget):
            if not watched.hasFocus():
                event.ignore()  # the scroll area above gets it instead
                return True
        return False


class FloatSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows numbers like ``%g`` (0.001, 1e-07), accepts any float text,
    and can step along a 1-2-5 ladder (for learning rates and epsilons)."""

    def __init__(self, parent: QWidget | None = None, *, log_step: bool = False) -> None:
        super().__init__(parent)
        self.setDecimals(15)
        self.log_step = log_step

    def textFromValue(self, value: float) -> str:  # Qt override
        return format_number(value)

    def valueFromText(self, text: str) -> float:  # Qt override
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:  # Qt override
        stripped = text.strip()
        if self.specialValueText() and stripped == self.specialValueText():
            return QValidator.State.Acceptable
        if stripped in ("", "-", "+", ".", "-.") or stripped.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Invalid
        if not math.isfinite(value):
            return QValidator.State.Invalid
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate

    def stepBy(self, steps: int) -> None:  # Qt override
        if not self.log_step or self.value() <= 0:
            super().stepBy(steps)
            return
        value = self.value()
        for _ in range(abs(steps)):
            value = _ladder_step(value, up=steps > 0)
        self.setValue(min(max(value, self.minimum()), self.maximum()))


def _ladder_step(value: float, up: bool) -> float:
    """The next value of the 1-2-5 ladder (…, 0.001, 0.002, 0.005, 0.01, …) above or below."""
    exp = math.floor(math.log10(value))
    candidates = sorted(m * 10.0**e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5))
    if up:
        nxt = [c for c in candidates if c > value * (1 + 1e-9)]
        return float(f"{nxt[0]:.12g}")
    prev = [c for c in candidates if c < value * (1 - 1e-9)]
    return float(f"{prev[-1]:.12g}")


class Field:
    """Base of the editor fields.

    Attributes
    ----------
    key : str
        What the field edits (``"units"``, ``"fit.epochs"``...).
    editor : QWidget
        The input widget.
    widget : QWidget
        The editor with its error label (and reset button), to put in a form.
    """

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        self.key = key
        self.on_commit = on_commit
        self.widget = QWidget()
        self._outer = QVBoxLayout(self.widget)
        self._outer.setContentsMargins(0, 0, 0, 0)
        self._outer.setSpacing(2)
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(4)
        self._outer.addLayout(self._row)
        self.error_label = make_error_label(self.widget)
        self._outer.addWidget(self.error_label)
        # Every field keeps room for a reset button, so that editors in a column line up.
        self.reset_button = QToolButton()
        self.reset_button.setText("↺")
        self.reset_button.setAutoRaise(True)
        self.reset_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reset_button.setFixedWidth(20)
        policy = self.reset_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.reset_button.setSizePolicy(policy)
        self.reset_button.setVisible(False)
        self._resettable = False

    def _set_spin(self, spin, nullable: bool, none_text: str) -> None:
        """A spin box as this field's editor: focus by click or tab, accelerated, None shown
        as ``none_text`` at the minimum when ``nullable``, every change committed."""
        spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        spin.setAccelerated(True)
        if nullable:
            spin.setSpecialValueText(none_text)
        spin.valueChanged.connect(self._changed)
        self._set_editor(spin)

    def _set_editor(self, editor: QWidget, stretch: int = 1) -> None:
        self.editor = editor
        self._row.addWidget(editor, stretch)
        self._row.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignTop)

    def add_reset(self, on_reset: Callable[[], None], tooltip: str) -> None:
        """Make the reset button put the default back (shown when a value is set)."""
        self.reset_button.setToolTip(tooltip)
        self.reset_button.clicked.connect(on_reset)
        self._resettable = True

    def set_overridden(self, overridden: bool) -> None:
        """Whether the value is set explicitly (shows the reset button)."""
        self.reset_button.setVisible(self._resettable and overridden)

    def inputs(self) -> list[QWidget]:
        """The widgets the user types or scrolls in (the wheel guard goes on each)."""
        return [self.editor]

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def show_errors(self, messages: Sequence[str]) -> None:
        text = "\n".join(messages)
        if self.error_label.text() != text:
            self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    @property
    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()


def _widen_to(spin: QSpinBox, value: int, nullable: bool) -> None:
    """Let ``spin`` show ``value`` although it is outside the param's range (a value from a
    file is shown as it is; validation flags it)."""
    if value < spin.minimum() and not nullable:
        spin.setMinimum(max(value, -INT_MAX))
    if value > spin.maximum():
        spin.setMaximum(min(value, INT_MAX))


def _int_range(minimum: float | None, maximum: float | None, nullable: bool) -> tuple[int, int]:
    """A spin box's integer range for a param's bounds; a nullable one has an extra value below
    the minimum that stands for None."""
    low = -INT_MAX if minimum is None else int(minimum)
    high = INT_MAX if maximum is None else int(min(maximum, INT_MAX))
    return (low - 1 if nullable else low), high


class IntField(Field):
    """An integer in a QSpinBox; ``nullable`` shows None as "None" just below the minimum."""

    def __init__(
        self,
        key: str,
        on_commit: Callable[[Any], None],
        minimum: float | None = None,
        maximum: float | None = None,
        nullable: bool = False,
        none_text: str = "None",
    ) -> None:
        super().__init__(key, on_commit)
        self.nullable = nullable
        self.low, self.high = _int_range(minimum, maximum, nullable)
        spin = QSpinBox()
        spin.setRange(self.low, self.high)
        self._set_spin(spin, nullable, none_text)

    def _changed(self, value: int) -> None:
        self.on_commit(None if self.nullable and value == self.low else value)

    def show_value(self, value: Any) -> None:
        spin: QSpinBox = self.editor
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            target = self.low
        else:
            target = value
            _widen_to(spin, target, self.nullable)
        if spin.value() != target:
            spin.blockSignals(True)
            spin.setValue(target)
            spin.blockSignals(False)


class IntTupleField(Field):
    """``length`` integers side by side, one QSpinBox each (Keras' ``kernel_size=(3, 3)``).

    A single integer from a file stands for all of them (``3`` shows as 3, 3). A change commits
    the ``length`` integers as a list (JSON has no tuples). ``nullable``: each box shows None
    just below the minimum; setting one box to it commits None, and setting one box of a None
    value to a number gives every box that number.
    """

    def __init__(
        self,
        key: str,
        on_commit: Callable[[Any], None],
        length: int,
        minimum: float | None = None,
        maximum: float | None = None,
        nullable: bool = False,
        none_text: str = "None",
    ) -> None:
        super().__init__(key, on_commit)
        self.nullable = nullable
        self.low, self.high = _int_range(minimum, maximum, nullable)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.spins: list[QSpinBox] = []
        for i in range(max(1, int(length))):
            spin = QSpinBox()
            spin.setRange(self.low, self.high)
            spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            spin.setAccelerated(True)
            if nullable:
                spin.setSpecialValueText(none_text)
            spin.valueChanged.connect(lambda value, i=i: self._changed(i, value))
            row.addWidget(spin, 1)
            self.spins.append(spin)
        self._set_editor(box)

    def inputs(self) -> list[QWidget]:
        return list(self.spins)

    def values(self) -> list[int]:
        return [spin.value() for spin in self.spins]

    def _show(self, targets: Sequence[int]) -> None:
        for spin, target in zip(self.spins, targets, strict=True):
            if spin.value() != target:
                spin.blockSignals(True)
                spin.setValue(target)
                spin.blockSignals(False)

    def _changed(self, index: int, value: int) -> None:
        if self.nullable:
            if value == self.low:
                self._show([self.low] * len(self.spins))
                self.on_commit(None)
                return
            # Coming from None: the other boxes still show None; they take the same number.
            self._show([value if v == self.low else v for v in self.values()])
        self.on_commit(self.values())

    def show_value(self, value: Any) -> None:
        n = len(self.spins)
        if isinstance(value, int) and not isinstance(value, bool):
            items: list[Any] = [value] * n
        elif isinstance(value, (list, tuple)) and len(value) == 1:
            items = list(value) * n
        elif isinstance(value, (list, tuple)):
            items = list(value[:n]) + [None] * (n - len(value))
        else:
            items = [None] * n  # None, or not integers at all: validation says what is wrong
        targets = []
        for spin, item in zip(self.spins, items, strict=True):
            if item is None or isinstance(item, bool) or not isinstance(item, int):
                targets.append(self.low)
                continue
            _widen_to(spin, item, self.nullable)
            targets.append(item)
        self._show(targets)


class FloatField(Field):
    """A number in a :class:`FloatSpinBox`; ``nullable`` shows None as "None" at the minimum."""

    def __init__(
        self,
        key: str,
        on_commit: Callable[[Any], None],
        minimum: float,
        maximum: float,
        step: float = 0.1,
        log_step: bool = False,
        nullable: bool = False,
        none_text: str = "None",
    ) -> None:
        super().__init__(key, on_commit)
        self.nullable = nullable
        spin = FloatSpinBox(log_step=log_step)
        spin.setRange(minimum, maximum)
        spin.setSingleStep(step)
        self._set_spin(spin, nullable, none_text)

    def _changed(self, value: float) -> None:
        spin: FloatSpinBox = self.editor
        if self.nullable and value == spin.minimum():
            self.on_commit(None)
        else:
            self.on_commit(float(f"{value:.12g}"))

    def show_value(self, value: Any) -> None:
        spin: FloatSpinBox = self.editor
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            target = spin.minimum()
        elif not math.isfinite(value):
            target = spin.minimum()
        else:
            target = float(value)
            if target < spin.minimum() and not self.nullable:
                spin.setMinimum(target)
            if target > spin.maximum():
                spin.setMaximum(target)
        if spin.value() != target:
            spin.blockSignals(True)
            spin.setValue(target)
            spin.blockSignals(False)


class BoolField(Field):
    def __init__(self, key: str, on_commit: Callable[[Any], None], text: str = "") -> None:
        super().__init__(key, on_commit)
        box = QCheckBox(text)
        box.toggled.connect(lambda checked: self.on_commit(bool(checked)))
        self._set_editor(box)

    def show_value(self, value: Any) -> None:
        box: QCheckBox = self.editor
        checked = value is True
        if box.isChecked() != checked:
            box.blockSignals(True)
            box.setChecked(checked)
            box.blockSignals(False)


class ChoiceCombo(QComboBox):
    """A QComboBox that says when its popup closes (to end a hover preview)."""

    popup_hidden = Signal()

    def hidePopup(self) -> None:  # Qt override
        super().hidePopup()
        self.popup_hidden.emit()


_EXTRA = object()  # data marker of the extra item that shows an unknown or missing value


class ChoiceField(Field):
    """One of a list of values in a combo box. A value not in the list (an unknown name from a
    file, or a missing required value) is shown as an extra first item."""

    def __init__(
        self,
        key: str,
        on_commit: Callable[[Any], None],
        choices: Sequence[tuple[str, Any]],
        tooltips: dict[Any, str] | None = None,
    ) -> None:
        super().__init__(key, on_commit)
        self._values: list[Any] = []
        combo = ChoiceCombo()
        combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        self._set_editor(combo)
        self.set_choices(choices, tooltips)
        combo.currentIndexChanged.connect(self._activated)

    @property
    def combo(self) -> ChoiceCombo:
        return self.editor

    @property
    def values(self) -> list[Any]:
        """The values of the choices, in order (what :meth:`set_choices` was given)."""
        return list(self._values)

    def set_choices(
        self, choices: Sequence[tuple[str, Any]], tooltips: dict[Any, str] | None = None
    ) -> None:
        combo = self.combo
        current = self.value()
        combo.blockSignals(True)
        combo.clear()
        self._values = [value for _, value in choices]
        for label, value in choices:
            combo.addItem(label)
            combo.setItemData(
                combo.count() - 1, (tooltips or {}).get(value, ""), Qt.ItemDataRole.ToolTipRole
            )
        combo.blockSignals(False)
        # The open list is as wide as its longest entry, even when the box itself is narrow.
        combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
        if current is not None:
            self.show_value(current)

    def _index_of(self, value: Any) -> int:
        for i, v in enumerate(self._values):
            if same_value(v, value):
                return i
        return -1

    def value_at(self, index: int) -> Any:
        offset = 1 if self._has_extra() else 0
        if index < offset:
            return _EXTRA
        return self._values[index - offset]

    def value(self) -> Any:
        index = self.combo.currentIndex()
        if index < 0:
            return None
        v = self.value_at(index)
        return None if v is _EXTRA else v

    def _has_extra(self) -> bool:
        return self.combo.count() > len(self._values)

    def _activated(self, index: int) -> None:
        value = self.value_at(index)
        if value is _EXTRA:
            return
        if self._has_extra():
            self.combo.blockSignals(True)
            self.combo.removeItem(0)
            self.combo.setCurrentIndex(index - 1)
            self.combo.blockSignals(False)
        self.combo.setToolTip(self.combo.currentText())
        self.on_commit(value)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        combo = self.combo
        index = self._index_of(value)
        combo.blockSignals(True)
        if index >= 0:
            if self._has_extra():
                combo.removeItem(0)
            if combo.currentIndex() != index:
                combo.setCurrentIndex(index)
        else:
            text = extra_text or (NOT_SET if value is None else f"{value!r} (unknown)")
            if self._has_extra():
                combo.setItemText(0, text)
            else:
                combo.insertItem(0, text)
            combo.setCurrentIndex(0)
        combo.blockSignals(False)
        combo.setToolTip(combo.currentText())


class TextField(Field):
    """A line of text. ``live``: commit on every keystroke (merged into one undo step by the
    caller); otherwise on Enter or when the field loses focus."""

    def __init__(
        self, key: str, on_commit: Callable[[Any], None], live: bool = False, placeholder: str = ""
    ) -> None:
        super().__init__(key, on_commit)
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        self.pending = False
        if live:
            edit.textEdited.connect(self.on_commit)
        else:
            edit.textEdited.connect(self._edited)
            edit.editingFinished.connect(self._finished)
        self._set_editor(edit)

    def _edited(self, _text: str) -> None:
        self.pending = True

    def _finished(self) -> None:
        if self.pending:
            self.pending = False
            self.on_commit(self.editor.text())

    def show_value(self, value: Any) -> None:
        edit: QLineEdit = self.editor
        text = "" if value is None else str(value)
        # Never overwrite what the user is typing, or a refused text they are to correct.
        if self.pending:
            return
        if edit.text() != text:
            edit.setText(text)

    def discard(self) -> None:
        """Forget text that was typed but not committed (the field shows the value again)."""
        self.pending = False


_SHAPE_SEPARATORS = re.compile(r"[,;\s]+")
_SHAPE_TIMES = re.compile(r"(?<=\d)\s*[×xX*]\s*(?=-?\d)")  # 8×8×1, 8x8x1: only between sizes


def parse_shape_text(text: str) -> list[int]:
    """A shape typed as ``8, 8, 1`` (or ``(8, 8, 1)``, ``[8 8 1]``, ``8×8×1``; ``-1`` for the
    size to infer) as a list of integers; ``ValueError`` with what is wrong otherwise (the
    shape param's own rules included: 1 to 8 sizes, each at least 1 or -1, one -1 at most)."""
    body = text.strip()
    while body[:1] in ("(", "[") and body[-1:] in (")", "]"):
        body = body[1:-1].strip()
    parts = [part for part in _SHAPE_SEPARATORS.split(_SHAPE_TIMES.sub(",", body)) if part]
    if not parts:
        raise ValueError("give the sizes, like 8, 8, 1 (one may be -1: inferred)")
    sizes = []
    for part in parts:
        try:
            sizes.append(int(part))
        except ValueError:
            raise ValueError(f"{part!r} is not an integer; give sizes like 8, 8, 1") from None
    problem = check_shape(sizes)
    if problem:
        raise ValueError(problem)
    return sizes


def shape_text(value: Any) -> str:
    """A ``shape`` value as the editor shows it: ``8, 8, 1``; anything else as JSON."""
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return ", ".join(str(v) for v in value)
    return "" if value is None else json.dumps(value)


class ShapeField(TextField):
    """A shape (Keras' ``target_shape``) typed as ``8, 8, 1``: committed as a list on Enter or
    when the field loses focus. Text that is no shape is not committed: its message shows
    under the field, and the text stays for the user to correct, until a valid shape is
    entered or the value changes elsewhere (undo)."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        super().__init__(key, on_commit, placeholder="e.g. 8, 8, 1  (-1: inferred)")
        self.parse_error = ""
        self._shown: Any = None
        self._messages: list[str] = []

    def _finished(self) -> None:
        if not self.pending:
            return
        try:
            value = parse_shape_text(self.editor.text())
        except ValueError as exc:
            self.parse_error = str(exc)
            self._render_errors()
            return
        self.pending = False
        self.parse_error = ""
        self._shown = value
        self._render_errors()
        self.on_commit(value)

    def show_value(self, value: Any) -> None:
        if self.pending and same_value(value, self._shown):
            return  # the user's refused or unfinished text stays
        self.pending = False
        self.parse_error = ""
        self._shown = value
        text = shape_text(value)
        if self.editor.text() != text:
            self.editor.setText(text)
        self._render_errors()

    def discard(self) -> None:
        super().discard()
        self.parse_error = ""
        self._render_errors()

    def show_errors(self, messages: Sequence[str]) -> None:
        self._messages = list(messages)
        self._render_errors()

    def _render_errors(self) -> None:
        super().show_errors(([self.parse_error] if self.parse_error else []) + self._messages)


class ReadOnlyField(Field):
    """A value shown as text that cannot be edited here (a file path, a custom spec)."""

    def __init__(self, key: str) -> None:
        super().__init__(key, lambda value: None)
        edit = QLineEdit()
        edit.setReadOnly(True)
        edit.setFrame(False)
        edit.setStyleSheet("background: transparent;")
        self._set_editor(edit)

    def show_value(self, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        if self.editor.text() != text:
            self.editor.setText(text)
            self.editor.setCursorPosition(0)
            self.editor.setToolTip(text)
