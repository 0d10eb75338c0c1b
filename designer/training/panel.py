"""The training panel: the run controls, the key settings (compactly; the inspector's project
settings page has them all), progress, and messages about the run. A project with a
``distribute`` section also gets a line on how training is distributed (:func:`distribute_text`).

Settings edits go through :meth:`Document.edit` with the inspector's merge keys, so that the two
editors of one field share its undo step.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.panels.fields import FloatSpinBox, error_color
from designer.plots.fit import ElidedLabel
from engine import edits
from engine.data import BUILTIN_DATASETS, keep_common_keys
from engine.optimizers import DEFAULT_OPTIMIZER

BACKEND_TITLES = {"numpy": "NumPy", "tensorflow": "TensorFlow"}
BUILDING_TEXT = "Loading the data and building the model…"


def backend_availability(project, graph) -> dict[str, str]:
    """``{backend: reason it cannot be used}`` ('' when usable). Cheap: never imports TF."""
    reasons = {"numpy": "", "tensorflow": ""}
    try:
        from engine.backends import tensorflow as tfb
    except ImportError as exc:  # pragma: no cover - the module ships with the engine
        reasons["tensorflow"] = f"the TensorFlow backend module is missing ({exc})"
        return reasons
    if not tfb.tensorflow_installed():
        reasons["tensorflow"] = f"TensorFlow is not installed. {tfb.INSTALL_HINT}"
    elif graph is not None:
        problems = tfb.unsupported_problems(
            graph, project.compile.get("optimizer", DEFAULT_OPTIMIZER)
        )
        if problems:
            reasons["tensorflow"] = "; ".join(str(p) for p in problems)
    return reasons


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def effective_learning_rate(project) -> float | None:
    from engine.optimizers import resolve_optimizer

    try:
        return float(
            resolve_optimizer(project.compile.get("optimizer", DEFAULT_OPTIMIZER))[1][
                "learning_rate"
            ]
        )
    except (ValueError, TypeError, KeyError):
        return None


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def distribute_text(project, replicas: int | None = None) -> str:
    """The panel's line on distributed training: the strategy, its replicas and each one's
    share of the global batch (``fit.batch_size``); '' when the project has no ``distribute``
    section or does not train on TensorFlow (validation says why).

    ``replicas``: the count that the worker's strategy reported (``num_replicas_in_sync``),
    for a mirrored strategy over every GPU, which only TensorFlow counts (None before a run).
    """
    from engine.backends.tensorflow.distribute import shard_sizes

    spec = project.data.get("distribute")
    if not isinstance(spec, dict) or project.backend != "tensorflow":
        return ""
    if spec.get("strategy") == "multiworker":
        return "MultiWorkerMirroredStrategy · trains from the command line, one process per worker"
    if spec.get("strategy") != "mirrored":
        return ""
    batch = project.fit.get("batch_size", 32)
    given = spec.get("replicas")
    if _is_count(given):
        kind = "device" if given == 1 else "devices"
        devices = f"{_plural(given, 'replica')} (logical CPU {kind})"
        replicas = given
    elif _is_count(replicas):
        devices = f"every GPU ({_plural(replicas, 'replica')})"
    else:
        devices, replicas = "every GPU", None
    if not _is_count(batch):
        return f"MirroredStrategy · {devices}"
    if replicas is None:
        return f"MirroredStrategy · {devices} · global batch {batch}, split over the GPUs"
    sizes = shard_sizes(batch, replicas)  # as the engine splits a batch: unevenly too
    share = str(sizes[0]) if min(sizes) == max(sizes) else f"{min(sizes)}–{max(sizes)}"
    return (
        f"MirroredStrategy · {devices} · {share} sample{'' if share == '1' else 's'} per "
        f"replica (global batch {batch})"
    )


def _line_label() -> ElidedLabel:
    """A one-line label that a narrow dock cuts short with "…" (the tooltip has it all)."""
    return ElidedLabel()


def _combo(chars: int) -> QComboBox:
    """A combo box as wide as ``chars`` characters at least, whatever the dock's width: a
    squeezed one showed "Numl" for NumPy (issue 13); longer items elide in the list."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo


class TrainingPanel(QWidget):
    """Controls and key settings of training for ``document``.

    Attributes
    ----------
    actions : dict of str to QAction
        ``play``, ``pause``, ``step``, ``step_epoch``, ``stop``, ``reset``: triggered by the
        panel's buttons and by the window's toolbar (a controller connects them).

    Signals
    -------
    show_settings_requested : the user asked for all settings (the inspector's page).
    """

    show_settings_requested = Signal()

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._syncing = False
        style = self.style()
        sp = QStyle.StandardPixmap
        specs = [
            ("play", "Play", sp.SP_MediaPlay, "Train (continue) until the epochs are done"),
            ("pause", "Pause", sp.SP_MediaPause, "Pause after the current step"),
            ("step", "Step", sp.SP_MediaSkipForward, "Train one batch"),
            ("step_epoch", "Step epoch", sp.SP_MediaSeekForward, "Train to the end of the epoch"),
            ("stop", "Stop", sp.SP_MediaStop, "Stop training (the weights are kept)"),
            ("reset", "Reset", sp.SP_BrowserReload, "Re-initialise the weights from the seed"),
        ]
        self.actions: dict[str, QAction] = {}
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for key, text, icon, tip in specs:
            act = QAction(style.standardIcon(icon), text, self)
            act.setToolTip(tip)
            act.setObjectName(f"training_{key}")
            self.actions[key] = act
            btn = QToolButton()
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            btn.setAutoRaise(True)
            buttons.addWidget(btn)
        buttons.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("Not trained")
        self.progress.setTextVisible(True)
        self.progress_label = ElidedLabel("")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.message.setVisible(False)
        self.message_level = ""

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A narrow dock puts a label above its field rather than squeezing the field (the
        # combos showed "Numl" for NumPy) or scrolling sideways.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setContentsMargins(0, 4, 0, 0)
        self.backend_combo = _combo(10)  # "TensorFlow" whole
        for key, title in BACKEND_TITLES.items():
            self.backend_combo.addItem(title, key)
        self.backend_combo.activated.connect(self._on_backend)
        form.addRow("Backend", self.backend_combo)
        self.dataset_combo = _combo(13)  # "breast_cancer", "fashion_mnist" whole
        for name, info in BUILTIN_DATASETS.items():
            self.dataset_combo.addItem(name, name)
            self.dataset_combo.setItemData(
                self.dataset_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole
            )
        self.dataset_combo.activated.connect(self._on_dataset)
        form.addRow("Dataset", self.dataset_combo)
        self.dataset_info = _line_label()
        form.addRow("", self.dataset_info)
        self.optimizer_label = _line_label()
        form.addRow("Compile", self.optimizer_label)
        self.lr_spin = FloatSpinBox(log_step=True)
        self.lr_spin.setRange(1e-7, 10.0)
        self.lr_spin.setKeyboardTracking(False)
        self.lr_spin.setToolTip("Applies live, between two steps, while training runs")
        self.lr_spin.valueChanged.connect(self._on_lr)
        form.addRow("Learning rate", self.lr_spin)
        self.batch_spin = self._int_spin(1, 10_000_000, "fit.batch_size")
        form.addRow("Batch size", self.batch_spin)
        #: How training is distributed (the project's ``distribute`` section; hidden without).
        #: It wraps rather than elides: cut short, it hid the per-replica batch (issue 18).
        self.distribute_label = QLabel()
        self.distribute_label.setWordWrap(True)
        form.addRow("Distributed", self.distribute_label)
        #: (distribute section, backend, replicas) of the last build (show_replicas).
        self._built_replicas: tuple | None = None
        self.epochs_spin = self._int_spin(1, 1_000_000, "fit.epochs")
        self.epochs_spin.setToolTip("Applies live: training runs until this many epochs")
        form.addRow("Epochs", self.epochs_spin)
        self.val_spin = FloatSpinBox()
        self.val_spin.setRange(0.0, 0.99)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setKeyboardTracking(False)
        self.val_spin.valueChanged.connect(
            lambda v: self._set("fit.validation_split", float(f"{v:.6g}"))
        )
        form.addRow("Validation split", self.val_spin)
        self.seed_spin = self._int_spin(0, 2**31 - 1, "fit.seed")
        self.seed_spin.setToolTip("Seeds the weights (Reset uses it), shuffling and dropout")
        form.addRow("Seed", self.seed_spin)
        self.settings_button = QPushButton("All settings…")
        self.settings_button.setFlat(True)
        self.settings_button.setStyleSheet("text-align: left; text-decoration: underline;")
        self.settings_button.setToolTip("Optimizer, loss, metrics and dataset parameters")
        self.settings_button.clicked.connect(self.show_settings_requested)
        form.addRow("", self.settings_button)
        self._form = form

        # The settings scroll when the dock is short; controls and progress stay in view.
        settings = QWidget()
        column = QVBoxLayout(settings)
        column.setContentsMargins(0, 0, 0, 0)
        # Messages (a divergence explained, a failure) scroll with the settings: a long one
        # must not make the panel taller than its dock.
        column.addWidget(self.message)
        column.addLayout(form)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(settings)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(scroll, 1)
        document.changed.connect(self.sync)
        self.sync()

    def _int_spin(self, lo: int, hi: int, path: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)
        spin.setAccelerated(True)
        spin.valueChanged.connect(lambda v, p=path: self._set(p, int(v)))
        return spin

    # ------------------------------------------------------------------ edits
    def _set(self, path: str, value: Any, text: str | None = None) -> None:
        if self._syncing:
            return
        self.document.edit(
            text or f"Change {path}",
            lambda d: edits.set_setting(d, path, value),
            merge_key=("settings", path),
        )

    def _on_backend(self, index: int) -> None:
        self._set("backend", self.backend_combo.itemData(index), "Change the backend")

    def _on_dataset(self, index: int) -> None:
        name = self.dataset_combo.itemData(index)
        if not isinstance(name, str) or name == self.document.project.dataset.get("name"):
            return
        new = keep_common_keys({"name": name}, self.document.project.dataset)
        self._set("dataset", new, f"Use the {name} dataset")

    def _on_lr(self, value: float) -> None:
        if self._syncing:
            return
        from engine.optimizers import resolve_optimizer

        spec = self.document.project.compile.get("optimizer", DEFAULT_OPTIMIZER)
        try:
            cls = resolve_optimizer(spec)[0]
        except (ValueError, TypeError):
            return
        new = dict(spec) if isinstance(spec, dict) else {}
        new["class_name"] = cls
        config = dict(new.get("config") or {})
        config["learning_rate"] = float(f"{value:.12g}")
        new["config"] = config
        self.document.edit(
            "Change the optimizer's learning_rate",
            lambda d: edits.set_setting(d, "compile.optimizer", new),
            merge_key=("settings", "compile.optimizer.learning_rate"),
        )

    # ------------------------------------------------------------------ display
    def sync(self) -> None:
        """Show the document's settings (without editing it back)."""
        doc = self.document
        p = doc.project
        self._syncing = True
        try:
            reasons = backend_availability(p, doc.graph)
            model: QStandardItemModel = self.backend_combo.model()
            for i in range(self.backend_combo.count()):
                key = self.backend_combo.itemData(i)
                reason = reasons.get(key, "")
                item = model.item(i)
                item.setEnabled(not reason or key == p.backend)
                item.setToolTip(reason or f"Train with the {BACKEND_TITLES[key]} backend")
            idx = self.backend_combo.findData(p.backend)
            if idx >= 0:
                self.backend_combo.setCurrentIndex(idx)
            reason = reasons.get(p.backend, "")
            self.backend_combo.setToolTip(reason or "Where the network trains")
            ds = p.dataset
            name = ds.get("name")
            idx = self.dataset_combo.findData(name)
            if idx < 0 and "path" in ds:
                if self.dataset_combo.findData("__file__") < 0:
                    self.dataset_combo.addItem("(file)", "__file__")
                idx = self.dataset_combo.findData("__file__")
            if idx >= 0:
                self.dataset_combo.setCurrentIndex(idx)
            params = [f"{k} {v}" for k, v in ds.items() if k not in ("name",)]
            info = " · ".join(params) if params else "default parameters"
            self.dataset_info.setText(info)
            self.dataset_info.setToolTip(info)
            comp = p.compile
            opt = comp.get("optimizer", DEFAULT_OPTIMIZER)
            opt_name = opt.get("class_name") if isinstance(opt, dict) else str(opt)
            self.optimizer_label.setText(f"{opt_name} · {comp.get('loss')}")
            self.optimizer_label.setToolTip(self.optimizer_label.text())
            lr = effective_learning_rate(p)
            self.lr_spin.setEnabled(lr is not None)
            opt_config = opt.get("config") if isinstance(opt, dict) else None
            schedule = (opt_config or {}).get("learning_rate")
            self.lr_spin.setToolTip(
                f"The learning rate follows the {schedule.get('class_name')} schedule (set it "
                "in the Inspector)"
                if isinstance(schedule, dict)
                else "Applies live, between two steps, while training runs"
            )
            if lr is not None and self.lr_spin.value() != lr:
                self.lr_spin.setValue(lr)
            fit = p.fit
            for spin, key in (
                (self.batch_spin, "batch_size"),
                (self.epochs_spin, "epochs"),
                (self.seed_spin, "seed"),
            ):
                v = fit.get(key)
                if isinstance(v, int) and not isinstance(v, bool) and spin.value() != v:
                    spin.setValue(v)
            v = fit.get("validation_split")
            if isinstance(v, (int, float)) and self.val_spin.value() != v:
                self.val_spin.setValue(float(v))
            self._sync_distribute()
        finally:
            self._syncing = False

    def _sync_distribute(self) -> None:
        p = self.document.project
        built = self._built_replicas
        replicas = None
        if built is not None and built[:2] == (p.data.get("distribute"), p.backend):
            replicas = built[2]  # the strategy of this very section counted them
        text = distribute_text(p, replicas)
        self.distribute_label.setText(text)
        self.distribute_label.setToolTip(text)
        self._form.setRowVisible(self.distribute_label, bool(text))

    def show_replicas(self, distribute: Any, backend: str | None, replicas: int | None) -> None:
        """The replicas the strategy of a build counted (``num_replicas_in_sync``), for the
        ``distribute`` section and backend it was built from: the line says them while the
        project keeps that section."""
        self._built_replicas = (distribute, backend, replicas)
        self._sync_distribute()

    def set_state(self, state: str, can_train: bool, reason: str = "") -> None:
        """Enable the controls for the worker's state (idle, building, running, paused)."""
        running = state in ("running", "building")
        a = self.actions
        a["play"].setEnabled(can_train and not running)
        a["play"].setToolTip(
            reason if not can_train else "Train (continue) until the epochs are done"
        )
        a["step"].setEnabled(can_train and not running)
        a["step_epoch"].setEnabled(can_train and not running)
        a["pause"].setEnabled(state == "running")
        a["stop"].setEnabled(state in ("running", "paused", "building"))
        a["reset"].setEnabled(state != "building")
        if state == "building":
            self.progress.setRange(0, 0)  # busy
            self.progress_label.setText(BUILDING_TEXT)
        else:
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1000)
            if self.progress_label.text() == BUILDING_TEXT:
                self.progress_label.setText("")

    def show_trained(self, epochs: int, target: int) -> None:
        """Trained weights that came with the project: ``epochs`` of ``target`` done."""
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self.progress.setValue(int(max(0.0, min(1.0, epochs / max(target, 1))) * 1000))
        self.progress.setFormat(f"Epoch {epochs}/{target}" if epochs else "Trained")
        self.progress_label.setText(
            f"trained weights from the file ({epochs} epoch{'s' if epochs != 1 else ''})"
            if epochs
            else "trained weights from the file"
        )

    def set_progress(
        self,
        epoch: int,
        target: int,
        step: int,
        steps_per_epoch: int,
        samples_per_s: float,
        eta_s: float,
    ) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        frac = ((epoch - 1) + step / max(steps_per_epoch, 1)) / max(target, 1)
        self.progress.setValue(int(max(0.0, min(1.0, frac)) * 1000))
        self.progress.setFormat(f"Epoch {epoch}/{target}")
        rate = f"{samples_per_s:,.0f} samples/s" if samples_per_s > 0 else "– samples/s"
        self.progress_label.setText(
            f"step {step}/{steps_per_epoch} · {rate} · ETA {format_duration(eta_s)}"
        )

    def show_message(self, html: str, level: str = "info") -> None:
        """A sentence about the run: ``info`` (plain), ``warning`` or ``error`` (red)."""
        color = error_color(self) if level in ("error", "warning") else ""
        self.message.setStyleSheet(f"color: {color};" if color else "")
        self.message.setText(html)
        self.message.setVisible(bool(html))
        self.message_level = level if html else ""

    def clear_message(self) -> None:
        self.show_message("")

    @property
    def message_text(self) -> str:
        return "" if self.message.isHidden() else self.message.text()
