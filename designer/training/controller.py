"""Training in the main window: :func:`attach_training` adds the controls, the panel and the
live views to any QMainWindow that has a ``document`` (:class:`designer.document.Document`).

The controller is the only place that connects the document, the worker and the views:

- Play / Pause / Step / Step epoch / Stop / Reset drive a :class:`TrainingSession`; Play is
  disabled, with the reason as its tooltip, while the document is invalid, and while its
  ``distribute`` section is a multiworker cluster (which trains from the command line; the
  panel says so inline).
- Document edits are sorted by what they need: the learning rate and the epoch count apply
  live; anything else rebuilds the model (asking first while training runs). Editing the
  network while trained weights exist asks whether to keep the weights of unchanged layers
  (same name, class and weight shapes) or to reinitialise everything.
- When training pauses, stops, ends or diverges, the worker's copies of the weights and the
  history go into ``document.project.weights`` / ``.history`` (so Save writes them into the
  .nnd). An exception in the worker leaves the project as it was and shows the message.
- A project opened with trained weights says so (its epochs) and has the worker build the
  model and draw every view of those weights at once (:meth:`TrainingController.show_saved`);
  the decision boundary's plane is kept in the project (``"designer": {"plane": ...}``).
- While training runs the views render at most RENDER_HZ times a second, all visible ones in
  the same turn; outside a run (the end, a pause, a reset, another plane) at once.
- Closing the window stops the worker (a child process, or a thread) and waits for it: no
  dangling thread or process.
"""

from __future__ import annotations

import copy
import json
import math
import time

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QGraphicsEllipseItem,
    QGraphicsView,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from designer.document import set_view_state, view_state
from designer.training.activity import NetworkActivityView
from designer.training.history import RunHistory
from designer.training.panel import TrainingPanel, effective_learning_rate
from designer.training.run_log import RunLog
from designer.training.views import (
    ConfusionMatrixView,
    DecisionBoundaryView,
    FeatureMapsView,
    LayerStatsView,
    LossPlot,
    PaintMeter,
    PredictionsGrid,
    WeightTilesView,
)
from designer.training.views.runs import RunsView
from designer.worker_core import distribute_refusal
from designer.workers import RunConfig, TrainingSession, layer_classes
from engine.errors import NNDError
from engine.optimizers import DEFAULT_OPTIMIZER

#: The views render at most this often while training runs...
RENDER_HZ = 10.0
#: ...and spaced so that rendering takes at most 1/(1 + factor) of the UI thread's time. A
#: child process trains on its own CPU: the window may spend up to half its time drawing. A
#: worker thread shares the interpreter with the window: it draws less. (A factor of 25 with
#: one view per turn kept the views seconds behind a fast run, and made Reset and a plane
#: change wait as long: issue 13.)
RENDER_COST_FACTOR = {"process": 1.0, "thread": 4.0}
#: The run id of a history waiting for the worker to confirm a reset.
PENDING_RUN = -1
TRAINING_KEYS = ("model", "compile", "fit", "dataset", "backend", "dtype", "distribute")
BADGE_KEY = 0x4E4E44  # QGraphicsItem.data() key marking our badges


#: The project's own key for what the window shows (unknown to the engine, so it survives a
#: save); the workspace is kept there too (designer/workspaces.py): merge, never replace.
#: The planes a view starts on (engine.data.projection.default_choice): what the Dataset panel
#: chooses by itself when new data loads.
DEFAULT_PLANES = ({"kind": "features", "features": [0, 1]}, {"kind": "pca"})


def project_plane(data: dict) -> dict | None:
    """The decision boundary's plane saved in a project (``data["designer"]["plane"]``):
    ``{"kind": "pca"}`` or ``{"kind": "features", "features": [i, j]}``; None when there is
    none or it is not one of these (a hand-edited file)."""
    plane = view_state(data, "plane")
    if not isinstance(plane, dict):
        return None
    if plane.get("kind") == "pca":
        return {"kind": "pca"}
    feats = plane.get("features")
    if (
        plane.get("kind") == "features"
        and isinstance(feats, list)
        and len(feats) == 2
        and all(isinstance(f, int) and not isinstance(f, bool) and 0 <= f < 2**31 for f in feats)
        and feats[0] != feats[1]
    ):
        return {"kind": "features", "features": [int(feats[0]), int(feats[1])]}
    return None


def set_project_plane(data: dict, choice: dict | None) -> None:
    """Write ``choice`` as ``data["designer"]["plane"]`` (None removes it), keeping the other
    keys of ``data["designer"]`` (the workspace...)."""
    set_view_state(data, "plane", choice)


def training_signature(data: dict) -> str:
    """What a built model depends on: the spec minus the live settings (learning rate,
    epochs) and minus what training ignores (name, description, layout)."""
    from engine.optimizers import resolve_optimizer

    d = {k: copy.deepcopy(data.get(k)) for k in TRAINING_KEYS}
    fit = dict(d.get("fit") or {})
    fit.pop("epochs", None)
    d["fit"] = fit
    comp = dict(d.get("compile") or {})
    try:
        cls, cfg = resolve_optimizer(comp.get("optimizer", DEFAULT_OPTIMIZER))
        cfg = dict(cfg)
        if not isinstance(cfg.get("learning_rate"), dict):
            # A rate changes live; a schedule does not: changing one rebuilds the model.
            cfg.pop("learning_rate", None)
        comp["optimizer"] = [cls, cfg]
    except (ValueError, TypeError, KeyError):
        pass
    d["compile"] = comp
    return json.dumps(d, sort_keys=True, default=str)


def graph_weight_shapes(graph) -> dict[str, dict[str, tuple[int, ...]]]:
    """``{layer: {weight: shape}}`` from a graph, without a model (the layer types' weights,
    e.g. a Dense layer's ``kernel`` (in, units) and ``bias`` (units,))."""
    if graph is None:
        return {}
    return {
        node.name: {w.name: tuple(w.shape) for w in node.weights}
        for node in graph.nodes
        if node.weight_names
    }


def flat_shapes(flat: dict[str, np.ndarray] | None) -> dict[str, dict[str, tuple[int, ...]]]:
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, arr in (flat or {}).items():
        layer, _, w = key.rpartition("/")
        out.setdefault(layer, {})[w] = tuple(np.shape(arr))
    return out


def changed_layers(
    old_shapes: dict, old_classes: dict, new_shapes: dict, new_classes: dict
) -> list[str]:
    """Layers with weights whose trained weights cannot be kept (new, other class or shape)."""
    return [
        name
        for name, shapes in new_shapes.items()
        if old_shapes.get(name) != shapes or old_classes.get(name) != new_classes.get(name)
    ]


class _BadgeItem(QGraphicsEllipseItem):
    """A small warning disc on a canvas block (a child item: it goes with its block)."""

    def __init__(self, parent) -> None:
        super().__init__(-8, -8, 16, 16, parent)
        self.setBrush(QBrush(QColor("#f59e0b")))
        self.setPen(QPen(QColor("#7c2d12"), 1.2))
        self.setZValue(10)
        self.setData(BADGE_KEY, True)
        self.setAcceptHoverEvents(True)


class TrainingController(QObject):
    """Connects a window's document, a :class:`TrainingSession` and the views."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.session = TrainingSession(self)
        self.panel = TrainingPanel(self.document)
        self.loss_plot = LossPlot()
        self.layer_stats = LayerStatsView()
        self.boundary = DecisionBoundaryView()
        self.tiles = WeightTilesView()
        self.predictions = PredictionsGrid()
        self.confusion = ConfusionMatrixView()
        self.activity = NetworkActivityView()
        self.feature_maps = FeatureMapsView()
        from designer.panels.watch import WatchPanel

        self.watch_panel = WatchPanel(self.document)
        self.runs_view = RunsView()
        self.runs_view.selection_changed.connect(self._on_runs_selected)
        self.runs_view.continue_requested.connect(self.continue_from)
        self.loss_plot.scrubber.rewind.connect(self._on_rewind)
        #: The epoch the views show from a snapshot (the scrubber), or None: now.
        self.rewound: tuple[int, int] | None = None
        #: The watchpoint that paused the run (its hit, the state before its step, the
        #: batch's rows), until the run goes on.
        self.last_watch: dict | None = None
        self.run_log = RunLog(self.document)
        self._runs_dirty = False
        #: A snapshot the next configuration continues from (Continue from here).
        self._restore = None
        self.history = RunHistory()
        self.info = None
        self.snapshot = None
        self.report = None
        self.state = "idle"
        self.run_id = 0
        self.batches = 0
        #: Counters of what the worker reported (tests and scripts wait on them).
        self.finished_runs = 0
        self.handoffs = 0
        self.last_handoff: dict | None = None
        self.errors: list[str] = []
        self._gen = 0
        self._sent_signature: str | None = None
        self._keep_weights = True
        self._asked_keep = False
        self._fresh = True
        self._weights_spec = (
            copy.deepcopy(self.document.data) if self.document.project.weights else None
        )
        self._reverting = False
        self._closing = False
        self._shut = False
        self._rate = (0.0, 0.0, 0)  # (samples/s, time of last batch, gstep then)
        self._target_epochs = 1
        self._last_build: dict | None = None
        self._pending_progress = None
        #: The refusal to start the panel shows inline (a multiworker cluster), or "".
        self._refusal = ""
        #: A change of the CPU's split while training ran: the run stopped (handing its
        #: weights over), and goes on in a new process once the worker is idle.
        self._resume_after_stop = False
        self._badges_view: QGraphicsView | None = None
        #: The decision boundary's plane for data with more than two features (None: default).
        self.projection_choice: dict | None = None
        #: The worker's count of planes (see TrainingCore.plane): the boundary's current one.
        self.plane = 0
        self._build_ui()
        self.session.drained.connect(self._on_batch)
        self.document.changed.connect(self._on_document_changed)
        self.document.replaced.connect(self._on_replaced)
        self.panel.show_settings_requested.connect(self.show_all_settings)
        # One selected sample for the views that show one (the worker keeps one).
        for spin in (self.activity.sample_spin, self.feature_maps.sample_spin):
            spin.valueChanged.connect(self._on_sample)
        self.boundary.projection_requested.connect(self._on_boundary_plane)
        #: A plane restored from the project, kept until the Dataset panel has loaded the
        #: project's data (it picks a default plane for new data, which must not replace it).
        self._plane_pending: dict | None = None
        self._resending = False
        #: The saved weights are being drawn (show_saved); no run has started since.
        self._showing = False
        dataset = getattr(window, "dataset", None)
        loaded = getattr(getattr(dataset, "panel", None), "dataset_loaded", None)
        if loaded is not None:
            loaded.connect(self._on_dataset_loaded)
        self._restore_plane()
        window.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._load_project_history()
        self.refresh_runs()
        self._update_controls()

    # ------------------------------------------------------------------ window parts
    def _build_ui(self) -> None:
        w = self.window
        a = self.panel.actions
        a["play"].triggered.connect(self.play)
        a["pause"].triggered.connect(self.pause)
        a["step"].triggered.connect(self.step)
        a["step_epoch"].triggered.connect(self.step_epoch)
        a["stop"].triggered.connect(self.stop)
        a["reset"].triggered.connect(self.reset)
        a["play"].setShortcut("F5")
        a["pause"].setShortcut("F6")
        a["step"].setShortcut("F10")
        a["stop"].setShortcut("Shift+F5")
        toolbar = w.findChild(QToolBar, "main")
        if toolbar is None:
            toolbar = w.addToolBar("Training")
            toolbar.setObjectName("training_toolbar")
        else:
            toolbar.addSeparator()
        for key in ("play", "pause", "step", "step_epoch", "stop", "reset"):
            toolbar.addAction(a[key])
        self.toolbar = toolbar

        def dock(title: str, name: str, widget: QWidget, area) -> QDockWidget:
            d = QDockWidget(title, w)
            d.setObjectName(name)
            d.setWidget(widget)
            w.addDockWidget(area, d)
            return d

        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {
            "panel": dock("Training", "training_panel_dock", self.panel, bottom),
            "boundary": dock("Decision boundary", "training_boundary_dock", self.boundary, right),
            "tiles": dock("Weight tiles", "training_tiles_dock", self.tiles, right),
            "predictions": dock(
                "Predictions", "training_predictions_dock", self.predictions, right
            ),
            "activity": dock("Network activity", "training_activity_dock", self.activity, right),
            "maps": dock("Feature maps", "training_maps_dock", self.feature_maps, right),
            "loss": dock("Loss and metrics", "training_loss_dock", self.loss_plot, bottom),
            "layers": dock("Layer statistics", "training_layers_dock", self.layer_stats, bottom),
            "confusion": dock(
                "Confusion matrix", "training_confusion_dock", self.confusion, bottom
            ),
            "runs": dock("Runs", "training_runs_dock", self.runs_view, bottom),
            "watch": dock("Watch", "training_watch_dock", self.watch_panel, bottom),
        }
        self._laid_out = False
        if w.isVisible():
            self.lay_out_docks()
        # else on the window's first show (Qt 6.11 leaves a stray tab bar when dock groups
        # are tabified before the window is shown); a restored saved layout wins either way.
        for view in self.views():
            view.auto_refresh = False
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self.render_views)
        self._next_render = 0.0

    def lay_out_docks(self) -> None:
        """The default arrangement. Bottom: the panel (and the Runs table, a tab beside it)
        beside the loss / layer statistics / confusion tabs. Right: the views of the data
        (boundary, tiles, predictions, network activity) as tabs."""
        self._laid_out = True
        w, d = self.window, self.docks
        w.splitDockWidget(d["panel"], d["loss"], Qt.Orientation.Horizontal)
        for key in ("tiles", "maps", "predictions", "activity"):
            w.tabifyDockWidget(d["boundary"], d[key])
        for key in ("layers", "confusion"):
            w.tabifyDockWidget(d["loss"], d[key])
        # Beside the plots, not behind them: the runs chosen in it are drawn on them.
        w.tabifyDockWidget(d["panel"], d["runs"])
        w.tabifyDockWidget(d["panel"], d["watch"])
        d["panel"].raise_()
        d["boundary"].raise_()
        d["loss"].raise_()
        w.resizeDocks([d["panel"], d["loss"]], [330, 900], Qt.Orientation.Horizontal)
        w.resizeDocks([d["loss"]], [330], Qt.Orientation.Vertical)
        w.resizeDocks([d["boundary"]], [520], Qt.Orientation.Horizontal)
        update = getattr(w, "_update_title_bars", None)  # the main window's tab-only titles
        if callable(update):
            update()

    def train_blocking(self, epochs: int | None = None, timeout_s: float = 600.0) -> bool:
        """Play and wait (running the event loop) until the run ends, diverges or fails, or
        ``timeout_s`` passes; for scripts and the screenshot command. ``epochs`` sets the
        project's epoch count first (a live setting). True when the run finished."""
        from PySide6.QtCore import QEventLoop

        if not self.can_train()[0]:
            self._update_controls()  # the reason, in the panel and on Play
            return False
        if epochs is not None:
            self.document.project.data.setdefault("fit", {})["epochs"] = int(epochs)
            if self._sent_signature is not None:
                self.session.apply_live(self.document.data)
            self._target_epochs = int(epochs)
            self.panel.sync()
        done = self.finished_runs
        deadline = time.perf_counter() + timeout_s
        loop = QEventLoop()
        timer = QTimer()

        def check() -> None:
            if (
                self.finished_runs > done
                or self.errors
                or self.history.divergence is not None
                or time.perf_counter() > deadline
                or (self.state == "idle" and not self.session.alive)
            ):
                loop.quit()

        timer.timeout.connect(check)
        timer.start(50)
        self.play()
        loop.exec()
        timer.stop()
        self.render_views(all_views=True)
        return self.finished_runs > done

    def _built_views(self) -> tuple:
        """The views that lay themselves out for a build (``set_build``)."""
        return (
            self.boundary,
            self.tiles,
            self.predictions,
            self.confusion,
            self.activity,
            self.feature_maps,
        )

    def views(self) -> list[QWidget]:
        return [self.loss_plot, self.layer_stats, *self._built_views()]

    def _on_sample(self, index: int) -> None:
        """A view's sample selector moved: the other follows, the worker is told once."""
        for spin in (self.activity.sample_spin, self.feature_maps.sample_spin):
            if spin.value() != index:
                spin.blockSignals(True)
                spin.setValue(index)
                spin.blockSignals(False)
        self.session.select_sample(index)

    def show_all_settings(self) -> None:
        """The inspector's project-settings page: nothing selected, its dock raised."""
        self.document.set_selection([])
        for d in self.window.findChildren(QDockWidget):
            inner = d.widget()
            if inner is not None and type(inner).__name__ == "InspectorPanel":
                d.show()
                d.raise_()

    # ------------------------------------------------------------------ commands
    def can_train(self) -> tuple[bool, str]:
        reason = self.document.invalid_reason()
        if reason:
            return False, f"Fix the project first: {reason}"
        refusal = distribute_refusal(self.document.data)
        if refusal:
            return False, refusal
        return True, ""

    def play(self) -> None:
        if self._start():
            self.session.play()

    def step(self) -> None:
        if self._start():
            self.session.step(1)

    def step_epoch(self) -> None:
        if self._start():
            self.session.step_epoch()

    def pause(self) -> None:
        self.session.pause()

    def stop(self) -> None:
        self.session.stop()
        self.run_log.close(self.run_id)  # Play … Stop is one run; training on makes another

    def reset(self) -> None:
        """Re-initialise the weights from the seed; this run's curves stay, faint."""
        self.loss_plot.archive(self.history)
        # Until the worker confirms the reset, what it posted before belongs to no run shown.
        self.history = RunHistory(PENDING_RUN)
        self.session.reset()
        self.panel.clear_message()
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat("Not trained")
        self.panel.progress_label.setText("")
        self._render_history()

    def _start(self) -> bool:
        ok, _reason = self.can_train()
        if not ok:
            self._update_controls()
            return False
        if self.panel.message_level == "error" or self.panel.message_level == "warning":
            self.panel.clear_message()
        self._configure_if_needed()
        self._set_state("running")
        return True

    def _configure_if_needed(self) -> None:
        sig = training_signature(self.document.data)
        if sig == self._sent_signature and not self._fresh:
            return
        p = self.document.project
        self._gen += 1
        history = copy.deepcopy(p.history) if p.history else None
        epochs_done = len(history.get("loss", [])) if history else 0
        self.session.configure(
            RunConfig(
                spec=copy.deepcopy(self.document.data),
                path=str(p.path) if p.path else None,
                weights={k: v.copy() for k, v in p.weights.items()} if p.weights else None,
                weights_spec=copy.deepcopy(self._weights_spec),
                keep_weights=self._keep_weights,
                history=history,
                epochs_done=epochs_done,
                fresh=self._fresh,
                gen=self._gen,
                projection=copy.deepcopy(self.projection_choice),
                restore=self._restore,
                run_id=self.run_id,
                gstep=self.history.gsteps,
            )
        )
        self._restore = None
        self._sent_signature = sig
        self._fresh = False
        self._keep_weights = True
        self._asked_keep = False

    # ------------------------------------------------------------------ questions
    def ask_rebuild(self) -> bool:
        """Training runs and an edit needs a rebuild: apply it now (True) or undo it."""
        answer = QMessageBox.question(
            self.window,
            "Rebuild the model?",
            "This change needs the model to be rebuilt. Rebuild now and continue training "
            "(the weights are kept where the layers did not change)?\n\n"
            "No keeps training as it was and undoes the change.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def ask_keep_weights(self, changed: list[str]) -> bool:
        """Trained weights exist and the network changed: keep those of unchanged layers?"""
        names = ", ".join(f"'{n}'" for n in changed[:6]) + (" …" if len(changed) > 6 else "")
        box = QMessageBox(self.window)
        box.setWindowTitle("Keep the trained weights?")
        box.setText(
            f"The network changed ({names} cannot keep their weights). Keep the trained "
            "weights of the layers that did not change (same name, type and shapes), or "
            "re-initialise every layer?"
        )
        keep = box.addButton("Keep unchanged layers", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Re-initialise all", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        box.exec()
        return box.clickedButton() is keep

    # ------------------------------------------------------------------ document
    def _trained_reference(self) -> tuple[dict, dict] | None:
        """(weight shapes, layer classes) of the trained weights we have, if any."""
        p = self.document.project
        if p.weights:
            return flat_shapes(p.weights), layer_classes(self._weights_spec)
        if self._last_build is not None and self.history.gsteps > 0:
            info = self._last_build["info"]
            shapes = {
                layer.name: layer.weight_shapes for layer in info.layers if layer.weight_shapes
            }
            return shapes, {layer.name: layer.class_name for layer in info.layers}
        return None

    def _on_document_changed(self) -> None:
        self._update_controls()
        if self._reverting or self._shut:
            return
        # (Undo and redo keep the plane: Document.set_data leaves the view state as it is.)
        doc = self.document
        if not doc.valid:
            return
        sig = training_signature(doc.data)
        if self._sent_signature is None:
            self._check_keep_weights()
            return
        if sig == self._sent_signature:
            self.session.apply_live(doc.data)  # the learning rate or the epochs
            self._target_epochs = int(doc.project.fit.get("epochs", 1))
            return
        if self.state == "running":
            if not self.ask_rebuild():
                self._reverting = True
                QTimer.singleShot(0, self._undo_last)
                return
            self._check_keep_weights()
            if self.session.new_process_for(doc.data):
                # Another split of the CPU needs a new process: the run stops first, so that
                # its weights reach the project, and goes on from them (_resume).
                self._resume_after_stop = True
                self.session.stop()
                return
            self._configure_if_needed()
            self.session.play()
            return
        self._check_keep_weights()

    def _resume(self) -> None:
        """Train on after a stop for another split of the CPU (a new process)."""
        if self._resume_after_stop and not self._shut:
            self._resume_after_stop = False
            if self.can_train()[0]:
                self._configure_if_needed()
                self._set_state("running")
                self.session.play()

    def _undo_last(self) -> None:
        try:
            self.document.undo_stack.undo()
        finally:
            self._reverting = False

    def _check_keep_weights(self) -> None:
        if self._asked_keep:
            return
        ref = self._trained_reference()
        if ref is None:
            return
        old_shapes, old_classes = ref
        new_shapes = graph_weight_shapes(self.document.graph)
        new_classes = layer_classes(self.document.data)
        changed = changed_layers(old_shapes, old_classes, new_shapes, new_classes)
        if not changed:
            return
        self._asked_keep = True
        keep = self.ask_keep_weights(changed)
        self._keep_weights = keep
        if not keep:
            self._fresh = True
            self.loss_plot.archive(self.history)
            self.history = RunHistory(self.run_id)
            self.document.project.weights = None
            self.document.project.history = None
            self._weights_spec = None
            self._render_history()

    # ------------------------------------------------------------------ runs
    def refresh_runs(self) -> None:
        """The Runs table from the project's runs (and the overlays of those still chosen)."""
        from engine.memory import format_bytes

        self._runs_dirty = False
        store = self.document.project.runs
        rows = store.table() if store is not None else []
        summary = ""
        if store is not None and rows:
            thinned = sum(r.thinned for r in store.runs)
            summary = (
                f"Snapshots: {format_bytes(store.nbytes)} of the {store.budget_mb:g} MB budget "
                f"({store.count} kept" + (f", {thinned} thinned" if thinned else "") + "). "
                "Select runs to draw them over the loss and metric plots."
            )
        kept = {r.number: sorted(r.snapshots) for r in store.runs} if store is not None else {}
        self.runs_view.set_rows(rows, summary, kept)
        self._sync_scrubber()
        self._on_runs_selected(self.runs_view.selected())

    def _scrubbed_run(self) -> int | None:
        """The run the scrubber moves over: the one selected in the Runs table, else the
        project's last."""
        store = self.document.project.runs
        if store is None or not store.runs:
            return None
        chosen = self.runs_view.selected()
        return chosen[0] if len(chosen) == 1 else store.runs[-1].number

    def _sync_scrubber(self) -> None:
        store = self.document.project.runs
        number = self._scrubbed_run()
        epochs = sorted(store.get(number).snapshots) if number is not None else []
        self.loss_plot.scrubber.set_epochs(number, epochs)
        self.loss_plot.scrubber.setEnabled(self.state != "running")

    def _on_rewind(self, number: int, epoch: int) -> None:
        """The scrubber moved: every view as it was after that epoch of that run (from its
        snapshot); (-1, -1): back to now. Backprop mode then starts from that epoch too."""
        stepper = getattr(getattr(self.window, "stepper", None), "panel", None)
        if number < 0 or self.state == "running":
            if self.rewound is not None:
                self.rewound = None
                self.session.rewind(None, None)
            self.loss_plot.mark_epoch(None)
            if stepper is not None:
                stepper.start_snapshot = None
            return
        store = self.document.project.runs
        try:
            snap = store.snapshot(number, epoch)
        except (NNDError, AttributeError):
            return
        if self._last_build is None:  # nothing built yet: build what the project holds
            self._configure_if_needed()
            self.session.show()
        self.rewound = (number, epoch)
        self.session.rewind(epoch, {k: v.copy() for k, v in snap.weights.items()})
        self.loss_plot.mark_epoch(epoch)
        if stepper is not None:
            stepper.start_snapshot = (snap, f"run {number}'s weights after epoch {epoch}")

    def _on_runs_selected(self, numbers: list[int]) -> None:
        self._sync_scrubber()
        store = self.document.project.runs
        if store is not None and len(numbers) == 2:
            from engine.runs import weight_difference

            rows = weight_difference(store, numbers[0], numbers[1])
            self.runs_view.show_difference(numbers[0], numbers[1], rows)
        else:
            self.runs_view.show_difference(None, None, [])
        overlays = []
        for number in numbers if store is not None else []:
            run = store.get(number)
            fork = None
            if run.parent:
                from engine.runs import parse_point

                parent_number, epoch = parse_point(run.parent)
                try:
                    parent = store.get(parent_number)
                except NNDError:  # a parent no longer kept: no marker
                    parent = None
                if parent is not None:
                    i = epoch - parent.first_epoch
                    at = {k: v[i] for k, v in parent.history.items() if 0 <= i < len(v)}
                    fork = (epoch, at)
            overlays.append(
                {
                    "number": run.number,
                    "x": list(range(run.first_epoch, run.last_epoch + 1)),
                    "history": run.history,
                    "fork": fork,
                }
            )
        self.loss_plot.show_runs(overlays)

    def continue_from(self, number: int, epoch: int) -> bool:
        """Continue run ``number`` from its snapshot after ``epoch``: the project takes that
        run's settings (one undoable edit) and that epoch's weights and history, and training
        goes on from there as a new run (its parent ``number:epoch``), optimizer and random
        streams as they were. False (with a message) when it cannot."""
        from engine.run_recorder import line_history

        store = self.document.project.runs
        try:
            if store is None:
                raise NNDError("the project has no runs")
            run = store.get(number)
            snap = store.snapshot(number, epoch)
        except NNDError as exc:
            self.panel.show_message(_esc(exc.message), "warning")
            return False
        if self.state == "running":
            self.session.stop()
        settings = copy.deepcopy(run.settings)
        self.document.edit(f"Continue run {number} from epoch {epoch}", lambda d: {**d, **settings})
        history = line_history(store, run, epoch - run.first_epoch + 1)
        self.document.set_trained({k: v.copy() for k, v in snap.weights.items()}, history)
        self._weights_spec = copy.deepcopy(self.document.data)
        self.run_log.pending_parent = f"{number}:{epoch}"
        self._restore = snap
        self._fresh = True
        self._sent_signature = None
        self._status(f"Continuing run {number} from epoch {epoch}")
        self.play()
        return True

    def _on_replaced(self) -> None:
        """Another project was opened: stop, forget the model, start the views over."""
        self.run_log.forget()
        self.refresh_runs()
        self.session.stop()
        self._sent_signature = None
        self._fresh = True
        self._keep_weights = True
        self._asked_keep = False
        self._weights_spec = (
            copy.deepcopy(self.document.data) if self.document.project.weights else None
        )
        self.loss_plot.clear_earlier()
        self.history = RunHistory()
        self.info = self.snapshot = self.report = None
        self._last_build = None
        for view in self._built_views():
            view.set_build(None)
        self.layer_stats.set_layers([])
        self.layer_stats.snapshot = None
        self.panel.clear_message()
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat("Not trained")
        self.panel.progress_label.setText("")
        self._restore_plane()
        self._load_project_history()
        self._update_controls()

    def _load_project_history(self) -> None:
        h = self.document.project.history
        if h:
            self.history.load_epochs(h)
        self._render_history()
        self._show_saved_progress()
        if self.document.project.weights:
            # A trained project (reopened): draw its views from the saved weights at once,
            # once the window is built (the plane it saved applies first).
            QTimer.singleShot(0, self.show_saved)

    def epochs_saved(self) -> int:
        """Epochs the project's history holds (its trained weights' epoch count)."""
        h = self.document.project.history or {}
        return max((len(v) for v in h.values() if isinstance(v, list)), default=0)

    def _show_saved_progress(self) -> None:
        """The panel's progress for what the project holds: its saved epochs, or nothing."""
        p = self.document.project
        if not p.weights:
            return
        done = self.epochs_saved()
        target = max(int(p.fit.get("epochs", 1) or 1), done, 1)
        self.panel.show_trained(done, target)

    def show_saved(self) -> None:
        """Build the model from the project's weights (in the worker) and draw every view of
        them (boundary, tiles, predictions, activity, confusion matrix) without training."""
        if self._shut or not self.document.project.weights:
            return
        if self.history.gsteps > 0 or not self.can_train()[0]:
            return  # trained in this window already, or nothing the worker could build
        p = self.document.project
        shapes = graph_weight_shapes(self.document.graph)
        if changed_layers(flat_shapes(p.weights), {}, shapes, {}) or (
            self.document.weight_warnings()
        ):
            return  # weights that do not fit: drawing them would mean re-initialising some
        self._showing = True
        self._configure_if_needed()
        self.session.show()

    # ------------------------------------------------------------------ state
    def _set_state(self, state: str) -> None:
        self.state = state
        self._update_controls()

    def _update_controls(self) -> None:
        ok, reason = self.can_train()
        self.panel.set_state(self.state, ok, reason)
        self._show_refusal(distribute_refusal(self.document.data) if not ok else "")

    def _show_refusal(self, text: str) -> None:
        """Say inline why Play does not start (a multiworker cluster), and take it back
        when it no longer applies (unless another message replaced it)."""
        html = f"<b>Training does not start here.</b> {_esc(text)}" if text else ""
        if html == self._refusal and (not html or self.panel.message_text == html):
            return
        if html:
            self.panel.show_message(html, "warning")
        elif self.panel.message_text == self._refusal:
            self.panel.clear_message()
        self._refusal = html

    # ------------------------------------------------------------------ worker output
    def _on_batch(self, batch) -> None:
        self.batches += 1
        h = self.history
        for ev in batch.events:
            kind = ev[0]
            if kind == "build":
                self._on_build(ev[1])
                self._showing = False  # built: what could fail while drawing has passed
                h = self.history
            elif kind == "info":
                self._on_info(ev[1])
            elif kind == "reset":
                self.snapshot = None
                self.history = h = RunHistory(ev[1] if ev[1] is not None else self.run_id)
                self.run_id = h.run_id
                p = self.document.project
                p.weights = p.history = None
                self._weights_spec = None
            elif kind == "state":
                self.state = ev[1]
                if ev[1] == "idle" and self._resume_after_stop:
                    QTimer.singleShot(0, self, self._resume)
                if ev[1] == "running":
                    self._showing = False
                    self._forget_watch()
                    if self.rewound is not None:  # training: the views follow it again
                        self.loss_plot.scrubber.back_to_now()
                self.loss_plot.scrubber.setEnabled(ev[1] != "running")
            elif kind == "handoff":
                self._on_handoff(ev[1])
                if self._runs_dirty:
                    self.refresh_runs()
            elif kind == "run_snapshot":
                if ev[1].get("gen", self._gen) == self._gen:
                    self.run_log.on_snapshot(ev[1])
                    self._runs_dirty = True
            elif kind == "diverged":
                self._on_diverged(ev[1])
            elif kind == "watch":
                self._on_watch(ev[1])
            elif kind == "error":
                self.errors.append(ev[1])
                # The worker lost its model (or its process): the next Play configures it
                # again from the document, with the weights and history handed over last.
                self._sent_signature = None
                if self._showing:  # nothing was trained: the saved weights could not be drawn
                    self.panel.show_message(
                        f"The saved weights could not be drawn: {_esc(ev[1])}", "warning"
                    )
                    self._status(f"The saved weights could not be drawn: {ev[1]}")
                else:
                    hint = ""
                    if "cannot split the CPU" in ev[1] and self.session.mode == "thread":
                        hint = (
                            "<br>Training runs in a thread of NN Designer's own process here "
                            "(NND_TRAINING_WORKER=thread, or no process could start), where "
                            "TensorFlow has started already: restart NN Designer to train "
                            "with this split."
                        )
                    self.panel.show_message(
                        f"<b>Training failed.</b> {_esc(ev[1])}<br>The project was not "
                        f"changed.{hint}",
                        "error",
                    )
                    self._status(f"Training failed: {ev[1]}")
                self._showing = False
            elif kind == "notice":  # worth knowing; the run goes on
                self.panel.show_message(_esc(ev[1]), "warning")
                self._status(ev[1])
            elif kind == "finished":
                self.finished_runs += 1
                self.run_log.close(self.run_id)
                if self._runs_dirty:
                    self.refresh_runs()
                why = ev[4] if len(ev) > 4 and isinstance(ev[4], dict) else {}
                if why.get("stopped"):
                    end = f"; {why['end']}" if why.get("end") else ""
                    text = f"Stopped early after epoch {ev[1]}: {why['stopped']}{end}."
                    self.panel.show_message(_esc(text), "info")
                    self._status(text)
                else:
                    end = f" ({why['end']})" if why.get("end") else ""
                    self._status(f"Training finished after {ev[1]} epochs{end}")
        run = h.run_id
        steps = [r for r in batch.steps if r.run == run]
        h.add_steps(steps)
        h.add_epochs([e for e in batch.epochs if e[2] == run])
        if batch.snapshot is not None and batch.snapshot.run != run:
            batch.snapshot = None
        if batch.epoch_report is not None and batch.epoch_report.run != run:
            batch.epoch_report = None
        batch.steps = steps
        if batch.snapshot is not None:
            self.snapshot = batch.snapshot
            h.add_snapshot(batch.snapshot)
            for view in (
                self.layer_stats,
                self.tiles,
                self.predictions,
                self.activity,
                self.feature_maps,
            ):
                view.set_snapshot(batch.snapshot)
            # A snapshot drawn on the plane before the latest change waits for the next.
            if getattr(batch.snapshot, "plane", self.plane) == self.plane:
                self.boundary.set_snapshot(batch.snapshot)
            self._update_badges(batch.snapshot.warnings())
        if batch.epoch_report is not None:
            self.report = batch.epoch_report
            self.confusion.set_report(batch.epoch_report)
        if batch.steps or batch.epochs or batch.snapshot is not None:
            self._render_history()
        if batch.steps:
            self._pending_progress = batch.steps[-1]
        if any(ev[0] == "state" for ev in batch.events):
            self._update_controls()
            if self.state == "idle" and self.history.gsteps == 0:
                self._show_saved_progress()  # built from saved weights: say what they are
            if self.state != "running":
                self.render_views()  # a pause/stop/end shows its state at once
        else:
            self._schedule_render()

    # ------------------------------------------------------------------ render pacing
    def _schedule_render(self) -> None:
        if self.state != "running":
            # Nothing trains: draw what changed (a reset, another plane, a snapshot of the
            # saved weights) at the next turn of the event loop.
            self._render_timer.start(0)
            return
        if self._render_timer.isActive():
            return
        delay = max(0.0, self._next_render - time.perf_counter())
        self._render_timer.start(int(delay * 1000))

    def render_views(self, all_views: bool = False) -> None:
        """Render every visible view that has new data (hidden ones render when shown);
        ``all_views``: the hidden ones too (screenshots, tests, scripts: everything drawn now).

        Paced while training runs: at most RENDER_HZ renders a second, and spaced so that
        rendering and painting take at most 1/(1 + RENDER_COST_FACTOR) of the UI thread's
        time. Every visible view renders in the same turn, so all of them show one state and
        none waits for the others' turns.
        """
        self._render_timer.stop()
        # CPU time of this thread, not wall time: waiting for the interpreter lock while the
        # worker computes is no cost to training.
        t0 = time.thread_time()
        painted = PaintMeter.take()  # what the previous renders cost to paint
        if self._pending_progress is not None:
            self._update_progress(self._pending_progress)
            self._pending_progress = None
        for view in self.views():
            if view.dirty and (all_views or view.isVisible()):
                view.refresh(force=all_views)
        cost = (time.thread_time() - t0) + painted
        factor = RENDER_COST_FACTOR.get(self.session.mode, RENDER_COST_FACTOR["thread"])
        self._next_render = time.perf_counter() + max(1.0 / RENDER_HZ, factor * cost)

    def _on_build(self, build: dict) -> None:
        if build.get("gen", self._gen) != self._gen:
            return
        self.run_log.on_build(build)
        info = build["info"]
        if not build["continued"]:
            self.loss_plot.archive(self.history)
            self.history = RunHistory(build["run_id"])
            if build["history"]:
                self.history.load_epochs(build["history"])
        self.run_id = build["run_id"]
        self.plane = build.get("plane", self.plane)
        self._last_build = build
        self.info = info
        self._target_epochs = int(self.document.project.fit.get("epochs", 1))
        self.layer_stats.set_layers([x.name for x in info.layers if x.weight_shapes])
        for view in self._built_views():
            view.set_build(info)
        relevant = {
            "boundary": info.points is not None,
            "tiles": info.tiles_layer is not None,
            "maps": bool(getattr(info, "map_sent", None)),
            "predictions": info.sample_images is not None,
            "confusion": info.task == "classification",
        }
        spaces = getattr(self.window, "workspaces", None)
        elsewhere = getattr(spaces, "current", "train") != "train"
        for key, show in relevant.items():
            if key == "maps" and show and elsewhere:
                continue  # a build outside the Train workspace shows no new view there
            self.docks[key].setVisible(show)
        if info.points is not None:
            self.docks["boundary"].raise_()
        elif info.tiles_layer is not None:
            self.docks["tiles"].raise_()
        else:
            self.docks["activity"].raise_()
        if build.get("kept"):
            self.document.project.weights = build["weights"]
            self._weights_spec = copy.deepcopy(self.document.data)
        if build.get("note"):
            self.panel.show_message(_esc(build["note"]), "info")
        self.panel.show_replicas(
            build.get("distribute"), build.get("backend"), build.get("replicas")
        )

    def _on_info(self, payload: dict) -> None:
        """The same model, another plane for the decision boundary."""
        if payload.get("gen", self._gen) != self._gen or payload["run_id"] != self.run_id:
            return
        self.info = payload["info"]
        self.plane = payload.get("plane", self.plane)
        if self._last_build is not None:
            self._last_build["info"] = self.info
        self.boundary.set_build(self.info)

    def set_projection(self, choice: dict | None) -> None:
        """Draw the decision boundary on another plane (data with more than two features):
        ``{"kind": "features", "features": [i, j]}`` or ``{"kind": "pca"}``. Applies at once,
        during training too; the run goes on.

        The choice is kept in the project (``data["designer"]["plane"]``) and saved with it:
        not an undo step (it is how the project is viewed, not what it is) and not an unsaved
        change on its own, like the workspace."""
        choice = copy.deepcopy(choice) if choice else None
        pending = self._plane_pending
        if pending is not None and choice != pending and choice in DEFAULT_PLANES:
            # The Dataset panel's own start on new data: the project's plane wins, and the
            # panel is told so (it follows the boundary's choices).
            QTimer.singleShot(0, self, self._resend_plane)
            return
        if choice is not None:
            set_project_plane(self.document.project.data, choice)
        if choice == self.projection_choice:
            return
        self.projection_choice = choice
        if self.session.alive:
            self.session.set_projection(choice)

    def _on_boundary_plane(self, choice: dict) -> None:
        if not self._resending:
            self._plane_pending = None  # the user's own choice
        self.set_projection(choice)

    def _on_dataset_loaded(self) -> None:
        self._plane_pending = None

    def _resend_plane(self) -> None:
        if self.projection_choice is not None and not self._shut:
            # To the Dataset panel (the main window connects it): the same plane there.
            self._resending = True
            try:
                self.boundary.projection_requested.emit(copy.deepcopy(self.projection_choice))
            finally:
                self._resending = False

    def _restore_plane(self) -> None:
        """The plane the project was saved with (if any) becomes the current one."""
        saved = project_plane(self.document.project.data)
        self._plane_pending = saved
        if saved is None:
            return
        if saved != self.projection_choice:
            self.projection_choice = saved
            if self.session.alive:
                self.session.set_projection(saved)
        QTimer.singleShot(0, self, self._resend_plane)

    def _on_handoff(self, payload: dict) -> None:
        if payload.get("gen", self._gen) != self._gen:
            return  # from before the project was replaced or rebuilt
        self.document.set_trained(payload["weights"], payload["history"] or None)
        self._weights_spec = payload["spec"]
        self.handoffs += 1
        #: The last hand-over: weights, history, backend, learning rate, spec.
        self.last_handoff = payload

    def _on_diverged(self, info: dict) -> None:
        last = self.history.last_step
        spe = last.steps_per_epoch if last is not None else 1
        x = (info["epoch"] - 1) + info["step"] / max(spe, 1)
        self.history.divergence = {**info, "x": x}
        where = f" in layer <b>{_esc(info['layer'])}</b>" if info.get("layer") else ""
        lr = effective_learning_rate(self.document.project)
        lr_text = f" (now {lr:g})" if lr is not None else ""
        html = (
            f"<b>Training stopped at epoch {info['epoch']}, step {info['step']}</b>: "
            f"{_esc(info['what'])}{where} became non-finite (NaN or inf). The last finite "
            f"weights were restored.<br>What usually helps: a lower learning rate{lr_text}, "
            "gradient clipping (clipnorm), standardized inputs, or fewer/narrower layers. "
            "It may also indicate a bug in the data (NaN or huge values)."
        )
        self.panel.show_message(html, "warning")
        self._status(
            f"Training diverged at epoch {info['epoch']}, step {info['step']}"
            + (f" in layer '{info['layer']}'" if info.get("layer") else "")
        )

    def _forget_watch(self) -> None:
        """The run goes on: Backprop mode starts from the project's weights again."""
        if self.last_watch is None:
            return
        self.last_watch = None
        stepper = getattr(getattr(self.window, "stepper", None), "panel", None)
        if stepper is not None:
            stepper.start_snapshot = None
            stepper.start_rows = None

    def _on_watch(self, info: dict) -> None:
        """A watchpoint paused the run: say which, where and why, and open Backprop mode on
        that batch from the weights before its step (Play resumes the run)."""
        hit = info["hit"]
        self.last_watch = info
        where = f", layer <b>{_esc(hit['layer'])}</b>" if hit.get("layer") else ""
        step = f", step {hit['step']}" if hit["step"] else ""
        applied = (
            " Its update was made (the spike is in that step's loss); Backprop mode replays it."
            if hit["step_applied"] and hit["step"]
            else ""
        )
        html = (
            f"<b>Paused by the {_esc(hit['watchpoint'])} watchpoint at epoch {hit['epoch']}"
            f"{step}</b>{where}: {_esc(hit['message'])}.{applied}<br>Backprop mode shows that "
            "batch from the weights before its step; Play resumes the run."
        )
        self.panel.show_message(html, "warning")
        self.panel.progress.setFormat(f"Paused at epoch {hit['epoch']}{step} ({hit['watchpoint']})")
        self._status(info["text"])
        stepper = getattr(self.window, "stepper", None)
        if stepper is None:
            return
        if info.get("replay_note"):
            label = f"{info['replay_note']} ({hit['watchpoint']} watchpoint)"
        elif hit["step"]:
            label = (
                f"the weights before epoch {hit['epoch']}, step {hit['step']} "
                f"({hit['watchpoint']} watchpoint)"
            )
        else:
            label = f"the weights after epoch {hit['epoch']} ({hit['watchpoint']} watchpoint)"
        stepper.panel.start_snapshot = (info["snapshot"], label)
        stepper.panel.start_rows = info["rows"]
        if stepper.active:
            stepper.set_active(False)  # opened again below, on the new batch
        stepper.set_active(True)

    def _status(self, text: str) -> None:
        try:
            self.window.statusBar().showMessage(text, 10000)
        except (AttributeError, RuntimeError):
            pass

    def _render_history(self) -> None:
        self.loss_plot.set_history(self.history)
        self.layer_stats.set_history(self.history)
        self._schedule_render()

    def _update_progress(self, rec) -> None:
        now = time.perf_counter()
        rate, t_prev, g_prev = self._rate
        batch_size = self._last_build["batch_size"] if self._last_build else 1
        if t_prev > 0 and now > t_prev and rec.gstep > g_prev:
            inst = (rec.gstep - g_prev) * batch_size / (now - t_prev)
            rate = inst if rate <= 0 else 0.8 * rate + 0.2 * inst
        self._rate = (rate, now, rec.gstep)
        target = max(self._target_epochs, rec.epoch)
        remaining = (target - rec.epoch) * rec.steps_per_epoch + (rec.steps_per_epoch - rec.step)
        eta = remaining * batch_size / rate if rate > 0 else math.nan
        self.panel.set_progress(rec.epoch, target, rec.step, rec.steps_per_epoch, rate, eta)

    # ------------------------------------------------------------------ canvas badges
    def _canvas_scene(self):
        view = self._badges_view
        if view is None:
            for v in self.window.findChildren(QGraphicsView):
                if hasattr(v.scene(), "item_for"):
                    self._badges_view = view = v
                    break
        return view.scene() if view is not None else None

    def _update_badges(self, warnings: dict[str, str]) -> None:
        scene = self._canvas_scene()
        if scene is None:
            return
        for item in scene.layer_items():
            badge = next(
                (c for c in item.childItems() if c.data(BADGE_KEY)),
                None,
            )
            text = warnings.get(item.name)
            if text is None:
                if badge is not None:
                    badge.setVisible(False)
                continue
            if badge is None:
                badge = _BadgeItem(item)
                rect = item.block_rect() if hasattr(item, "block_rect") else item.boundingRect()
                badge.setPos(rect.right() - 6, rect.top() + 6)
            badge.setToolTip(f"⚠ {item.name}: {text}")
            badge.setVisible(True)

    def badge_texts(self) -> dict[str, str]:
        """The warnings shown on the canvas now (for tests)."""
        scene = self._canvas_scene()
        out = {}
        if scene is None:
            return out
        for item in scene.layer_items():
            for c in item.childItems():
                if c.data(BADGE_KEY) and c.isVisible():
                    out[item.name] = c.toolTip()
        return out

    # ------------------------------------------------------------------ shutdown
    def eventFilter(self, watched, event) -> bool:  # Qt override
        if watched is self.window:
            t = event.type()
            if t == QEvent.Type.Show and not self._laid_out:
                # A layout the window restored from its settings (the main window's
                # restoreState, which knows these docks by name) is the user's: keep it.
                if not getattr(self.window, "_layout_restored", False):
                    self.lay_out_docks()
                self._laid_out = True
            elif t == QEvent.Type.Close:
                self._closing = True
                QTimer.singleShot(0, self._close_check)
            elif t == QEvent.Type.Hide and self._closing and not event.spontaneous():
                self.shutdown()
        return False

    def _close_check(self) -> None:
        self._closing = False

    def shutdown(self) -> None:
        """Stop training and end the worker (waits for it). Idempotent."""
        if self._shut:
            return
        self._shut = True
        self.session.shutdown()


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attach_training(window: QMainWindow) -> TrainingController:
    """Add training to ``window`` (a QMainWindow with a ``document``): toolbar actions (on the
    toolbar named "main" when there is one), the training panel and the live views in docks
    (added to ``window.mode_docks`` and the ``window.view_menu`` when the window has them).
    Returns the controller (also kept as ``window.training_controller``); a second call
    returns the same one."""
    existing = getattr(window, "training_controller", None)
    if isinstance(existing, TrainingController):
        return existing  # attached already: one controller per window
    controller = TrainingController(window)
    window.training_controller = controller
    docks = list(controller.docks.values())
    # The main window keeps its mode docks' title bars tab-only and lists them under View.
    if isinstance(getattr(window, "mode_docks", None), list):
        window.mode_docks.extend(docks)
    view_menu = getattr(window, "view_menu", None)
    if view_menu is not None and hasattr(view_menu, "addAction"):
        view_menu.addSeparator()
        for dock in docks:
            view_menu.addAction(dock.toggleViewAction())
    return controller
