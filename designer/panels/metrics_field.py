"""The Inspector's editor of ``compile.metrics``: a check box per metric Keras users reach for
(:data:`engine.metrics.METRIC_CHOICES`), the common ones in front and the rest under "More
metrics", each checked metric that has settings followed by a line of them as Keras names them
(``curve="PR", num_thresholds=100``).

Checking a box adds the metric's spec; unchecking removes the first metric of that class,
which the box stands for; edited settings replace its spec with the shortest one
(:func:`engine.metrics.metric_spec`). Metrics the boxes do not cover (a BinaryAccuracy, a
second AUC under another name) are listed under the boxes and kept as they are. Text that
does not read as settings is named under the field and not committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import Field
from designer.panels.rule_field import parse_settings, settings_text
from engine.metrics import (
    COMMON_CHOICES,
    METRIC_CHOICES,
    METRIC_DEFAULTS,
    MetricSpec,
    metric_spec,
    resolve_metric,
)


def _resolved(spec: Any) -> MetricSpec | None:
    try:
        return resolve_metric(spec)
    except ValueError:
        return None


def _changed(spec: MetricSpec) -> dict[str, Any]:
    defaults = METRIC_DEFAULTS.get(spec.cls, {})
    return {k: v for k, v in spec.config.items() if v != defaults.get(k)}


class MetricsField(Field):
    """The list of compiled metrics."""

    def __init__(self, key: str, on_commit: Callable[[Any], None]) -> None:
        super().__init__(key, on_commit)
        self._value: list = []
        self._classes = {label: resolve_metric(spec).cls for label, spec in METRIC_CHOICES.items()}
        box = QWidget()
        outer = QVBoxLayout(box)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        self.boxes: dict[str, QCheckBox] = {}
        self.settings: dict[str, QLineEdit] = {}
        front, self.more = QWidget(), QWidget()
        grids = (QGridLayout(front), QGridLayout(self.more))
        for grid in grids:
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setVerticalSpacing(2)
            grid.setColumnMinimumWidth(0, 16)
            grid.setColumnStretch(1, 1)
        for i, label in enumerate(METRIC_CHOICES):
            grid = grids[0] if i < COMMON_CHOICES else grids[1]
            row = grid.rowCount()
            check = QCheckBox(label)
            cls = self._classes[label]
            check.setToolTip(f"keras.metrics.{cls}")
            check.toggled.connect(lambda on, label=label: self._toggled(label, on))
            # The settings line goes under its box, indented: the Inspector may be narrow.
            grid.addWidget(check, row, 0, 1, 2)
            self.boxes[label] = check
            if METRIC_DEFAULTS.get(cls):
                line = QLineEdit()
                line.setPlaceholderText(", ".join(METRIC_DEFAULTS[cls]))
                line.setToolTip(
                    f"{cls}'s settings as Keras names them, e.g. "
                    f"{settings_text(dict(list(METRIC_DEFAULTS[cls].items())[:1]))} "
                    "(Enter to apply; empty: Keras' defaults)"
                )
                line.setVisible(False)
                line.editingFinished.connect(lambda label=label: self._settings_done(label))
                grid.addWidget(line, row + 1, 1)
                self.settings[label] = line
        outer.addWidget(front)
        self.more_button = QToolButton()
        self.more_button.setAutoRaise(True)
        self.more_button.setCheckable(True)
        self.more_button.toggled.connect(self._show_more)
        outer.addWidget(self.more_button)
        outer.addWidget(self.more)
        self.others = QLabel()
        self.others.setWordWrap(True)
        self.others.setVisible(False)
        outer.addWidget(self.others)
        self._show_more(False)
        self._set_editor(box)

    def inputs(self):
        return [*self.boxes.values(), *self.settings.values()]

    def _show_more(self, on: bool) -> None:
        self.more.setVisible(on)
        self.more_button.setText(("▾ " if on else "▸ ") + "More metrics")

    def checked(self) -> list[str]:
        return [label for label, box in self.boxes.items() if box.isChecked()]

    def _of(self, label: str) -> list[int]:
        """The index of the project's metric that the box ``label`` stands for (the first of
        its class; a second one, under its own name, is listed with the others), or []."""
        cls = self._classes[label]
        for i, m in enumerate(self._value):
            r = _resolved(m)
            if r is not None and r.cls == cls:
                return [i]
        return []

    def _toggled(self, label: str, on: bool) -> None:
        value = list(self._value)
        if on:
            value.append(METRIC_CHOICES[label])
        else:
            drop = set(self._of(label))
            value = [m for i, m in enumerate(value) if i not in drop]
        self.on_commit(value)

    def _settings_done(self, label: str) -> None:
        line = self.settings[label]
        idx = self._of(label)
        if not idx:
            return
        current = resolve_metric(self._value[idx[0]])
        if line.text() == settings_text(_changed(current)):
            return
        try:
            config = {"name": current.key, **parse_settings(line.text())}
            new = metric_spec(resolve_metric({"class_name": current.cls, "config": config}))
        except ValueError as exc:
            self.show_errors([str(exc)])
            return
        value = list(self._value)
        value[idx[0]] = new
        self.on_commit(value)

    def show_value(self, value: Any) -> None:
        self._value = list(value) if isinstance(value, list) else []
        covered: set[int] = set()
        any_more = False
        for i, (label, check) in enumerate(self.boxes.items()):
            idx = self._of(label)
            covered.update(idx)
            on = bool(idx)
            any_more = any_more or (on and i >= COMMON_CHOICES)
            if check.isChecked() != on:
                check.blockSignals(True)
                check.setChecked(on)
                check.blockSignals(False)
            line = self.settings.get(label)
            if line is not None:
                line.setVisible(on)
                if on and not line.hasFocus():
                    line.setText(settings_text(_changed(resolve_metric(self._value[idx[0]]))))
        if any_more and not self.more_button.isChecked():
            self.more_button.setChecked(True)
        rest = [m for i, m in enumerate(self._value) if i not in covered]
        self.others.setVisible(bool(rest))
        if rest:
            shown = []
            for m in rest:
                r = _resolved(m)
                shown.append(f"{r.key} ({r.cls})" if r else repr(m))
            self.others.setText("Also: " + ", ".join(shown))
