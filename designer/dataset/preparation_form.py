"""The Dataset panel's "Preparation" form: input scaling, the validation and test splits and
the seed, with the resulting sample counts and how the labels are encoded for the loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QGroupBox

from designer.dataset.source_form import group_form, hint
from designer.dataset.state import scale_edit
from designer.panels.fields import ChoiceField, FloatField, IntField, error_color
from engine.data import scale_of

if TYPE_CHECKING:
    from designer.dataset.panel import DatasetPanel

SCALE_CHOICES = [
    ("None (as in the file)", "none"),
    ("Standardize (mean 0, std 1)", "standardize"),
    ("Min-max (to 0…1)", "minmax"),
]


class PreparationForm(QGroupBox):
    """The "Preparation" group of the Dataset panel (see the module docstring)."""

    def __init__(self, panel: DatasetPanel) -> None:
        super().__init__("Preparation")
        self.panel = panel
        self.state = panel.state
        form = group_form(self)
        self.scale_field = ChoiceField("dataset.scale", self._on_scale, SCALE_CHOICES)
        panel.guard(self.scale_field.combo)
        form.addRow("Scale inputs", self.scale_field.widget)
        self.scale_field.combo.setToolTip(
            "Fitted on the training split only, then applied to validation and test data"
        )
        self.validation_field = FloatField(
            "fit.validation_split",
            lambda v: panel.set_setting("fit.validation_split", v, "Change the validation split"),
            0.0,
            0.95,
            0.05,
        )
        self.test_field = FloatField("dataset.test_split", self._on_test_split, 0.0, 0.95, 0.05)
        self.seed_field = IntField(
            "fit.seed", lambda v: panel.set_setting("fit.seed", v, "Change the seed"), 0, None
        )
        for field in (self.validation_field, self.test_field, self.seed_field):
            panel.guard(field.editor)
        form.addRow("Validation split", self.validation_field.widget)
        form.addRow("Test split", self.test_field.widget)
        form.addRow("Seed", self.seed_field.widget)
        self.validation_field.editor.setToolTip(
            "Share of the training data held out for validation (stratified by class, seeded)"
        )
        self.test_field.editor.setToolTip(
            "Share of the data held out as a test set before the validation split "
            "(stratified by class, seeded)"
        )
        self.seed_field.editor.setToolTip("Seeds the splits (and training): same seed, same split")
        self.split_label = hint()
        self.split_label.setObjectName("dataset_splits")
        form.addRow(self.split_label)
        self.labels_label = hint()
        self.labels_label.setObjectName("dataset_labels")
        form.addRow(self.labels_label)

    # ------------------------------------------------------------------ gestures
    def _on_scale(self, value: Any) -> None:
        self.panel.document.edit(f"Scale inputs: {value}", scale_edit(value))

    def _on_test_split(self, value: Any) -> None:
        value = None if not value else value
        self.panel.set_setting("dataset.test_split", value, "Change the test split")

    # ------------------------------------------------------------------ view
    def sync(self) -> None:
        state = self.state
        spec, fit = state.project_spec, state.fit
        self.scale_field.show_value(scale_of(spec))
        self.validation_field.show_value(fit.get("validation_split", 0.0))
        self.test_field.show_value(spec.get("test_split", 0.0))
        self.seed_field.show_value(fit.get("seed", 0))
        own_test = state.own_test_count()
        test_split = spec.get("test_split", 0.0) or 0.0
        self.test_field.editor.setEnabled(own_test is None or bool(test_split))
        text, problem = state.split_text()
        if problem:
            text = f"<span style='color:{error_color(self)}'>{text}</span>"
        self.split_label.setText(text)
        self.labels_label.setText(state.labels_text())
