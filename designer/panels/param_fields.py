"""The editor of one layer parameter, chosen by its :class:`~engine.layers.Param` kind: the
layer form is generated from these (:func:`make_param_field`), so a new layer type needs no
inspector code.

Kinds: ``int`` and ``float`` (spin boxes honouring the range), ``bool`` (a check box),
``activation`` (a combo with a live plot of ``f`` and ``f'``), ``initializer`` (a combo; a
Keras dict spec is shown read-only), ``choice`` (a combo of ``choices``), ``int_tuple``
(``length`` spin boxes side by side), ``shape`` (a line of sizes, ``8, 8, 1``); any other kind is
shown read-only. A nullable param shows None as its ``none_text`` ("same as pool_size") or
"None".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLineEdit

from designer.panels.fields import (
    BoolField,
    ChoiceField,
    Field,
    FloatField,
    IntField,
    IntTupleField,
    ReadOnlyField,
    ShapeField,
)
from designer.panels.rule_field import RuleField, parse_settings, settings_text
from engine.activations import ACTIVATION_NAMES
from engine.initializers import (
    INITIALIZER_NAMES,
    changed_settings,
    initializer_spec,
    parse_initializer,
)
from engine.layers import Param

#: Params whose arrows step along 1-2-5 (0.001, 0.002, 0.005, 0.01...).
LOG_STEP_KEYS = frozenset({"learning_rate", "epsilon"})


class ActivationField(ChoiceField):
    """The activation picker: a combo of Keras names and a live plot of ``f`` and ``f'`` that
    follows the item under the mouse while the list is open."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        # Imported here: pyqtgraph loads only when a layer with an activation is inspected.
        from designer.plots.activation_plot import ActivationPlot, activation_title

        super().__init__(
            key,
            on_commit,
            [(name, name) for name in ACTIVATION_NAMES],
            {name: activation_title(name) for name in ACTIVATION_NAMES},
        )
        self.plot = ActivationPlot()
        self.plot.setFixedHeight(150)
        self.plot.setMinimumWidth(160)
        self._outer.insertWidget(1, self.plot)
        self.combo.highlighted.connect(self._preview)
        self.combo.popup_hidden.connect(self._end_preview)

    def _preview(self, index: int) -> None:
        value = self.value_at(index)
        if isinstance(value, str):
            self.plot.set_activation(value)

    def _end_preview(self) -> None:
        value = self.value()
        self.plot.set_activation(value if value in ACTIVATION_NAMES else None)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        super().show_value(value, extra_text)
        if not self.combo.view().isVisible():
            self.plot.set_activation(value if value in ACTIVATION_NAMES else None)


class InitializerField(ChoiceField):
    """A combo of initializer names and, for one with settings, a line of them as Keras names
    them (``stddev=0.1, seed=3``; Constant's ``value``). A name alone commits the name (Keras'
    defaults); edited settings commit ``{"class_name": "RandomNormal", "config": {the settings
    that differ}}``. Constant, whose value Keras requires, commits ``value=0.0`` when chosen.
    Text that does not read as settings is named under the line and not committed."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        self._commit = on_commit
        super().__init__(key, self._chosen, [(name, name) for name in INITIALIZER_NAMES])
        self.settings = QLineEdit()
        self.settings.setPlaceholderText("settings")
        self.settings.setToolTip(
            "The initializer's settings as Keras names them, e.g. stddev=0.1, seed=3 "
            "(Enter to apply)"
        )
        self.settings.setVisible(False)
        self.settings.editingFinished.connect(self._settings_done)
        self._outer.insertWidget(1, self.settings)
        self._name: str | None = None
        self._shown = ""

    def inputs(self):
        return [self.editor, self.settings]

    def _chosen(self, value: Any) -> None:
        # Keras builds Constant only with its value: choosing it gives one.
        if value == "constant":
            value = {"class_name": "Constant", "config": {"value": 0.0}}
        self._commit(value)

    def _settings_done(self) -> None:
        text = self.settings.text()
        if self._name is None or text == self._shown:
            return
        try:
            spec = initializer_spec(self._name, parse_settings(text))
        except ValueError as exc:
            self.show_errors([str(exc)])
            return
        self._shown = text
        self._commit(spec)

    def show_value(self, value: Any, extra_text: str | None = None) -> None:
        try:
            name, config = parse_initializer(value)
        except ValueError:
            name, config = None, {}
        shown = name if name is not None else value
        super().show_value(shown, extra_text)
        self._name = name
        self._shown = settings_text(changed_settings(name, config)) if name else ""
        if not self.settings.hasFocus():
            self.settings.setText(self._shown)
        self.settings.setPlaceholderText(", ".join(config) if config else "settings")
        self.settings.setVisible(bool(config))


def make_param_field(p: Param, commit: Callable[[Any], None]) -> Field:
    """The editor of param ``p``; ``commit(value)`` is called on every change (``None``: back
    to the default, from the reset button shown for optional params)."""
    none_text = p.none_text or "None"
    if p.kind == "int":
        field: Field = IntField(
            p.name, commit, p.minimum, p.maximum, nullable=p.nullable, none_text=none_text
        )
    elif p.kind == "float":
        low = -1e9 if p.minimum is None else p.minimum
        high = 1e9 if p.maximum is None else p.maximum
        if p.exclusive_max and p.maximum is not None:
            high = p.maximum - (0.01 if p.maximum - low >= 0.5 else 1e-6)
        step = 0.05 if (p.minimum is not None and p.maximum is not None and high <= 1) else 0.1
        field = FloatField(
            p.name,
            commit,
            low,
            high,
            step,
            log_step=p.name in LOG_STEP_KEYS,
            nullable=p.nullable,
            none_text=none_text,
        )
    elif p.kind == "int_tuple":
        field = IntTupleField(
            p.name, commit, p.length, p.minimum, p.maximum, p.nullable, none_text=none_text
        )
    elif p.kind == "shape":
        field = ShapeField(p.name, commit)
    elif p.kind == "choice":
        choices: list[tuple[str, Any]] = [(c, c) for c in p.choices]
        if p.nullable:
            choices.insert(0, (none_text, None))
        field = ChoiceField(p.name, commit, choices)
    elif p.kind == "bool":
        field = BoolField(p.name, commit)
    elif p.kind == "activation":
        field = ActivationField(p.name, commit)
    elif p.kind == "initializer":
        field = InitializerField(p.name, commit)
    elif p.kind in ("regularizer", "constraint"):
        field = RuleField(p.name, commit, p.kind)
    else:
        field = ReadOnlyField(p.name)
    if not p.required:
        shown = p.none_text if p.default is None and p.none_text else repr(p.default)
        field.add_reset(lambda: commit(None), f"Reset to the default ({shown})")
    return field


def is_default(p: Param, value: Any) -> bool:
    """Whether ``value`` is ``p``'s default (an ``int_tuple`` in any spelling: 3, [3, 3])."""
    return p.is_default(value)
