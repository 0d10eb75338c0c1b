"""The Watch panel (issue 19): the project's watchpoints (``fit.watch``, :mod:`engine.watch`)
as one row each, a check box to arm it and its main setting, edited as undoable edits. When
one fires, training pauses and Backprop mode opens on the batch (the training controller)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import FloatSpinBox
from engine import edits
from engine.errors import NNDError
from engine.watch import DEFAULTS, parse_condition, resolve, watch_problems

#: Each kind's row: its label, the setting the row edits (None: none) and what it says.
ROWS = (
    ("NonFinite", "Non-finite values", None, "NaN or inf in the loss, a gradient or a weight"),
    ("LossSpike", "Loss spike ×", "factor", "the batch loss above this many times its median"),
    ("DeadUnits", "Dead ReLU units", "level", "share of a layer's ReLU units at 0 all batch"),
    ("SaturatedUnits", "Saturated units", "level", "share of sigmoid/tanh outputs in the tails"),
    ("VanishingGradients", "Vanishing gradients", "ratio", "first/last layer gradient norm below"),
    ("ExplodingGradients", "Exploding gradients", "ratio", "first/last layer gradient norm above"),
    ("UpdateRatio", "Update ratio above", "high", "||dW|| / ||W|| per step above this for long"),
)


class WatchPanel(QWidget):
    """Arm and tune the watchpoints; the condition on a metric as text."""

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._syncing = False
        intro = QLabel(
            "Training pauses at the batch where an armed watchpoint fires, and Backprop mode "
            "opens on it with the weights before its step. Play resumes."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        self.checks: dict[str, QCheckBox] = {}
        self.values: dict[str, QDoubleSpinBox] = {}
        for kind, label, key, tip in ROWS:
            check = QCheckBox(label)
            check.setToolTip(tip)
            check.toggled.connect(lambda _on, k=kind: self._edit(k))
            self.checks[kind] = check
            if key is None:
                form.addRow(check)
                continue
            spin = FloatSpinBox(log_step=key in ("ratio", "high", "factor"))
            spin.setDecimals(6)
            spin.setRange(1e-9, 1e9)
            spin.setKeyboardTracking(False)
            spin.setToolTip(tip)
            spin.valueChanged.connect(lambda _v, k=kind: self._edit(k))
            self.values[kind] = spin
            form.addRow(check, spin)
        self.condition = QLineEdit()
        self.condition.setPlaceholderText("val_accuracy < 0.5 after epoch 20")
        self.condition.setToolTip("Pause when an epoch's logs meet it (METRIC OP VALUE)")
        self.condition.editingFinished.connect(self._edit_condition)
        form.addRow("Pause when", self.condition)
        self.error = QLabel()
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addStretch(1)
        document.changed.connect(self.sync)
        document.replaced.connect(self.sync)
        self.sync()

    # ------------------------------------------------------------------ project -> panel
    def _specs(self) -> list:
        specs = (self.document.project.fit or {}).get("watch") or []
        return specs if isinstance(specs, list) and not watch_problems(specs) else []

    def sync(self) -> None:
        self._syncing = True
        try:
            armed = dict(resolve(self._specs()))
            for kind, _label, key, _tip in ROWS:
                self.checks[kind].setChecked(kind in armed)
                if key is not None:
                    self.values[kind].setValue(float((armed.get(kind) or DEFAULTS[kind])[key]))
            cond = armed.get("MetricCondition")
            text = ""
            if cond is not None:
                after = f" after epoch {cond['after_epoch']}" if cond["after_epoch"] else ""
                text = f"{cond['metric']} {cond['op']} {cond['value']:g}{after}"
            if not self.condition.hasFocus():
                self.condition.setText(text)
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ panel -> project
    def _row_spec(self, kind: str) -> dict | None:
        if not self.checks[kind].isChecked():
            return None
        spec: dict = {"class_name": kind}
        key = next(k for kd, _l, k, _t in ROWS if kd == kind)
        if key is not None and self.values[kind].value() != DEFAULTS[kind][key]:
            spec["config"] = {key: float(f"{self.values[kind].value():.12g}")}
        return spec

    def _write(self, condition: dict | None, text: str) -> None:
        specs = [s for s in (self._row_spec(k) for k, *_ in ROWS) if s is not None]
        if condition is not None:
            specs.append({"class_name": "MetricCondition", "config": condition})
        value = specs or None
        self.document.edit(
            text, lambda d: edits.set_setting(d, "fit.watch", value), merge_key=("watch", text)
        )

    def _current_condition(self) -> dict | None:
        return dict(resolve(self._specs())).get("MetricCondition")

    def _edit(self, kind: str) -> None:
        if self._syncing:
            return
        self._write(self._current_condition(), f"Change the {kind} watchpoint")

    def _edit_condition(self) -> None:
        if self._syncing:
            return
        text = self.condition.text().strip()
        try:
            condition = parse_condition(text) if text else None
        except NNDError as exc:
            self.error.setText(str(exc))
            return
        self.error.setText("")
        if condition == self._current_condition():
            return
        self._write(condition, "Change the watch condition")
