"""The designer's main window: the canvas in the centre, dockable panels around it, the menus,
file handling (new/open/save/recent/examples/drop), autosave and crash recovery.

The docks are arranged in workspaces (Design, Train, Backprop; see :mod:`designer.workspaces`),
each remembered in QSettings with the window geometry; the first window is fitted to the screen
and the workspace shown is saved in the project (``"designer": {"workspace": ...}``).

Every edit goes through :class:`~designer.document.Document` (one undo step each); this window
only wires gestures, menus and files to it. Dialogs are reached through small methods
(``ask_save_changes``, ``ask_recover``, ``ask_weights_json``) or QFileDialog/QMessageBox static
functions, so tests can replace them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QPointF,
    QSettings,
    QSize,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QTabWidget,
    QUndoView,
    QWidget,
)

from designer import theme
from designer.canvas.items import BLOCK_H, BLOCK_W
from designer.canvas.scene import COLUMN_DX, ROW_DY, new_layer_config
from designer.canvas.view import NetworkView
from designer.document import Document
from designer.panels.code import CodePanel
from designer.panels.inspector import InspectorPanel
from designer.panels.palette import PalettePanel
from designer.panels.summary import SummaryPanel
from designer.recovery import (
    AUTOSAVE_INTERVAL_MS,
    RecoveryEntry,
    RecoveryStore,
    remove_stale_temp_files,
)
from designer.settings import (
    KEY_GEOMETRY,
    KEY_LAST_FOLDER,
    KEY_WORKSPACE,
    add_recent_file,
    recent_files,
    remove_recent_file,
    set_theme_mode,
)
from designer.workspaces import (
    WORKSPACES,
    WorkspaceManager,
    available_geometry,
    cap_dock_minimums,
    fit_to_screen,
    fitted_size,
    project_workspace,
    set_project_workspace,
)
from engine import edits
from engine.errors import NNDError, Problem, ProjectError
from engine.graph import INPUT
from engine.layers import LAYER_TYPES
from engine.memory import out_of_memory_message
from engine.project import Project, load_project

APP_NAME = "NN Designer"
RESOURCES_DIR = Path(__file__).resolve().parents[1] / "resources"
EXAMPLES_DIR = RESOURCES_DIR / "examples"
EXAMPLE_ORDER = (
    "perceptron",
    "xor",
    "seed_mlp",
    "seed_mlp_digits",
    "spiral",
    "iris",
    "skip_connection",
    "cnn_digits",
    "lenet5_mnist",
    "cnn_fashion_mnist",
)
PROJECT_SUFFIXES = (".json", ".nnd")
PROJECT_FILTER = "NN Designer projects (*.json *.nnd);;All files (*)"
SAVE_FILTERS = ("Project JSON, architecture only (*.json)", "Project with weights (*.nnd)")
STATE_VERSION = 1
STATUS_MS = 6000
OK_COLORS = ("#15803d", "#4ade80")  # light, dark
BAD_COLORS = ("#dc2626", "#f87171")
WARN_COLORS = ("#b45309", "#fbbf24")


@dataclass(frozen=True)
class Example:
    path: Path
    title: str
    description: str
    # Its dataset comes from the user's Keras cache (MNIST, Fashion-MNIST): offered for download.
    needs_download: bool


def keras_cache_problem(name: str) -> str:
    """'' when the built-in dataset ``name`` is not one of the Keras cache's or is cached, else
    the engine's message saying how to get it. Only looks for the files (a stat each): nothing
    is loaded here."""
    from engine.data.builtin import BUILTIN_DATASETS, cache_problem
    from engine.data.download import KERAS_DOWNLOADS, cached_file

    info = BUILTIN_DATASETS.get(name)
    if info is None or info.source != "keras cache" or name not in KERAS_DOWNLOADS:
        return ""
    if cached_file(name) is not None:
        return ""
    download = KERAS_DOWNLOADS[name]
    return cache_problem(download.title, name, [f.fname for f in download.files])


def list_examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    """The shipped examples, in teaching order, titled by their ``name``."""
    from engine.data.builtin import BUILTIN_DATASETS
    from engine.data.download import KERAS_DOWNLOADS

    files = sorted(folder.glob("*.json"), key=_example_rank)
    out = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        dataset = str((data.get("dataset") or {}).get("name", ""))
        info = BUILTIN_DATASETS.get(dataset)
        needs_download = info is not None and info.source == "keras cache"
        title = str(data.get("name") or path.stem)
        description = str(data.get("description") or _default_description(data))
        if needs_download and dataset in KERAS_DOWNLOADS:
            download = KERAS_DOWNLOADS[dataset]
            if download.title.lower() not in title.lower():
                title += f" on {download.title}"
            megabytes = round(download.total_size / 1e6)
            description += (
                f" Reads {download.title} from the Keras cache; without it, the Dataset panel "
                f"offers to download it ({megabytes} MB) or to use the built-in 8×8 digits."
            )
        out.append(Example(path, title, description, needs_download))
    return out


def _example_rank(path: Path) -> tuple[int, str]:
    stem = path.stem
    return (EXAMPLE_ORDER.index(stem) if stem in EXAMPLE_ORDER else len(EXAMPLE_ORDER), stem)


def _default_description(data: dict) -> str:
    model = data.get("model") or {}
    layers = model.get("layers") or []
    parts = [f"Input {tuple(model.get('input_shape') or [])}"]
    for layer in layers:
        cfg = layer.get("config") or {}
        # The settings a Keras call names first (Dense(units), Dropout(rate)), and the activation.
        ltype = LAYER_TYPES.get(layer.get("class_name"))
        keys = list(ltype.code_positional) if ltype is not None else []
        if ltype is not None and ltype.has_activation and "activation" not in keys:
            keys.append("activation")
        args = ", ".join(str(cfg[k]) for k in keys if k in cfg and cfg[k] is not None)
        parts.append(f"{layer.get('class_name')}({args})")
    dataset = (data.get("dataset") or {}).get("name", "?")
    return f"{' → '.join(parts)}, trained on {dataset}."


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_").lower() or "project"


class MainWindow(QMainWindow):
    """The designer window for one :class:`Document`.

    Parameters
    ----------
    document : Document, optional
        A new one holding the seed project when omitted.
    settings : QSettings, optional
        Where the layout, recent files and theme are remembered; None remembers nothing
        (screenshots, most tests).
    recovery_dir : path, optional
        The autosave folder; None turns autosave and recovery off.
    autosave_ms : int
        The autosave interval (60 s).

    Attributes
    ----------
    canvas : NetworkView
    palette_panel, inspector_panel, summary_panel, code_panel, undo_view
    palette_dock, inspector_dock, code_dock, summary_dock, history_dock : QDockWidget
    actions : dict of str to QAction
        ``new open save save_as export quit undo redo cut copy paste duplicate delete
        select_all rename auto_layout fit activations theme_system theme_light theme_dark``.
    validity_label : QLabel
        The status bar's "Valid — N params" or first problem.
    recovery : RecoveryStore or None
    autosave_timer : QTimer
    """

    #: Emitted after a file was opened, saved or recovered (its path, '' for untitled).
    file_opened = Signal(str)

    def __init__(
        self,
        document: Document | None = None,
        *,
        settings: QSettings | None = None,
        recovery_dir: str | Path | None = None,
        autosave_ms: int = AUTOSAVE_INTERVAL_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document if document is not None else Document(parent=self)
        if self.document.parent() is None:
            self.document.setParent(self)
        self.settings = settings
        self.recovery = RecoveryStore(recovery_dir) if recovery_dir is not None else None
        self._revision = 0
        self._autosaved_revision: int | None = None
        self._activations_dialog = None
        self._layout_restored = False
        self._first_show_done = False
        self.actions: dict[str, QAction] = {}

        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setDocumentMode(True)
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)

        self.canvas = NetworkView(self.document, self)
        self.setCentralWidget(self.canvas)
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_tool_bar()
        self._build_status_bar()
        self._attach_modes()

        doc = self.document
        doc.changed.connect(self._on_changed)
        doc.replaced.connect(self._on_changed)
        doc.file_state_changed.connect(self._on_file_state)
        self.canvas.status_message.connect(self.show_message)
        self.palette_panel.add_requested.connect(self.add_layer_from_palette)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(max(int(autosave_ms), 1))
        self.autosave_timer.timeout.connect(self.autosave_now)
        if self.recovery is not None:
            self.autosave_timer.start()

        # Fitted to the screen (a 1440×900 window does not fit a 1366×768 laptop).
        self.resize(fitted_size(available_geometry(self)))
        self._restore_layout()
        self._on_changed()
        self._on_file_state()

    # ================================================================== construction
    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        dock.topLevelChanged.connect(lambda _floating: self._update_title_bars())
        dock.dockLocationChanged.connect(lambda _area: self._update_title_bars())
        return dock

    def _docks(self) -> list[QDockWidget]:
        docks = [
            self.palette_dock,
            self.inspector_dock,
            self.code_dock,
            self.summary_dock,
            self.history_dock,
        ]
        return docks + [d for d in getattr(self, "mode_docks", []) if d is not None]

    def _attach_modes(self) -> None:
        """Backprop mode (issue 6): its toolbar toggle, dock and View-menu entry."""
        from designer.stepper import attach_stepper

        # In the central area, beside its view: a dock was too narrow for the math panel.
        self.stepper = attach_stepper(self, central=True)
        self.mode_docks = []
        self.tool_bar.removeAction(self.stepper.action)  # the workspace bar's "Backprop" is it
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.stepper.action)
        # Own data (issue 7): the Dataset dock, File > Open Data File..., data-file drops.
        from designer.dataset import attach_dataset

        attach_dataset(self)  # sets self.dataset; adds its dock to self.mode_docks
        # Training with live views (issue 5): Play/Pause/Step/Stop, the panel and the views.
        from designer.training import attach_training

        self.training = attach_training(self)
        # One plane for many-feature data, chosen in the Dataset panel's scatter or above the
        # decision boundary: each follows the other (an unchanged choice emits nothing).
        self.dataset.projection_changed.connect(self.training.set_projection)
        self.training.boundary.projection_requested.connect(self.dataset.set_projection)
        self.training.set_projection(self.dataset.projection_choice)
        self.dataset.panel.dataset_loaded.connect(self._on_changed)
        self._attach_doctor()
        self._attach_workspaces()

    def _attach_doctor(self) -> None:
        """The Doctor panel (issue 19): findings on every edit and when the data load."""
        from designer.panels.doctor import DoctorPanel

        self.doctor_panel = DoctorPanel(
            self.document, lambda: getattr(self.dataset, "dataset", None), self
        )
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.doctor_dock = self._dock("Doctor", "doctor_dock", self.doctor_panel, bottom)
        self.mode_docks.append(self.doctor_dock)
        self.dataset.panel.dataset_loaded.connect(self.doctor_panel.refresh)
        # The data checks need the data: shown, the panel has the Dataset panel load them.
        data_panel = self.dataset.panel
        self.doctor_dock.visibilityChanged.connect(
            lambda visible: visible and QTimer.singleShot(0, data_panel, data_panel.ensure_loaded)
        )
        self.doctor_panel.place_requested.connect(self.show_place)
        self.add_panel_toggle(self.doctor_dock)

    def add_panel_toggle(self, dock: QDockWidget) -> None:
        """List ``dock`` in View > Panels, before Reset Layout."""
        separators = [a for a in self.panels_menu.actions() if a.isSeparator()]
        self.panels_menu.insertAction(
            separators[0] if separators else None, dock.toggleViewAction()
        )

    def _attach_workspaces(self) -> None:
        """Design / Train / Backprop (issue 13): the segmented control at the toolbar's left,
        Ctrl+1/2/3, and the links that keep the workspace and the modes in step."""
        manager = self.workspaces = WorkspaceManager(self, self.settings)
        first = self.tool_bar.actions()[0] if self.tool_bar.actions() else None
        self.tool_bar.insertWidget(first, manager.bar)
        self.tool_bar.insertSeparator(first)
        self.stepper.mode_changed.connect(manager.on_backprop_mode)
        actions = self.training.panel.actions
        for key in ("play", "step", "step_epoch"):
            actions[key].triggered.connect(manager.on_run_requested)
        self.training.session.drained.connect(manager.on_training_batch)
        self.document.replaced.connect(self._on_replaced_workspace)
        # A long label or a wide plot inside a panel must not widen the window past the screen.
        cap_dock_minimums(self._docks())
        panels = self.view_menu.addMenu("&Workspace")
        for name in WORKSPACES:
            panels.addAction(manager.actions[name])
        requested = project_workspace(self.document.project.data)
        stored = self.settings.value(KEY_WORKSPACE) if self.settings is not None else None
        self._initial_workspace = requested or (stored if stored in WORKSPACES else "design")
        if self._initial_workspace == "backprop":
            self._initial_workspace = "design"  # entered after the first show (it loads data)
            self._backprop_after_show = True
        else:
            self._backprop_after_show = False
        manager.current = self._initial_workspace
        manager.actions[manager.current].setChecked(True)
        manager.hide_others()

    def _on_replaced_workspace(self) -> None:
        """A project opened (or recovered): show the workspace it was saved in."""
        name = project_workspace(self.document.project.data)
        if name is not None and self._first_show_done:
            self.workspaces.switch(name)
        # The project keeps the workspace shown (merged into its "designer" key).
        set_project_workspace(self.document.project.data, self.workspaces.current)

    def _update_title_bars(self) -> None:
        """Tabbed docks show their tab only (a title bar would repeat the tab's text);
        single and floating docks keep their title bar (to move, float and close them)."""
        for dock in self._docks():
            tabbed = not dock.isFloating() and bool(self.tabifiedDockWidgets(dock))
            has_blank = isinstance(dock.titleBarWidget(), _BlankTitleBar)
            if tabbed and not has_blank:
                dock.setTitleBarWidget(_BlankTitleBar(dock))
            elif not tabbed and has_blank:
                blank = dock.titleBarWidget()
                dock.setTitleBarWidget(None)
                blank.deleteLater()

    def _build_docks(self) -> None:
        doc = self.document
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        # The bottom docks span only the canvas: the side panels keep their full height.
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        self.palette_panel = PalettePanel(self)
        self.inspector_panel = InspectorPanel(doc, self)
        self.code_panel = CodePanel(doc, parent=self)
        self.summary_panel = SummaryPanel(doc, self)
        self.undo_view = QUndoView(doc.undo_stack, self)
        self.undo_view.setEmptyLabel("<project opened>")

        self.palette_dock = self._dock("Layers", "palette_dock", self.palette_panel, left)
        self.inspector_dock = self._dock("Inspector", "inspector_dock", self.inspector_panel, right)
        self.code_dock = self._dock("Keras code", "code_dock", self.code_panel, right)
        self.summary_dock = self._dock("Summary", "summary_dock", self.summary_panel, bottom)
        self.history_dock = self._dock("Undo history", "history_dock", self.undo_view, bottom)
        # Tabbed on first show (see showEvent): Qt 6.11 leaves a stray duplicate tab bar when
        # two groups are tabified before the window is shown.

    def _action(
        self,
        key: str,
        text: str,
        slot=None,
        shortcut=None,
        tip: str = "",
        canvas_only: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if slot is not None:
            action.triggered.connect(lambda _checked=False, f=slot: f())
        if canvas_only:
            # Layer editing keys act on the canvas: in a text field the same keys edit text.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.canvas.addAction(action)
        else:
            self.addAction(action)
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        SK = QKeySequence.StandardKey
        canvas = self.canvas
        a = self._action
        a("new", "&New", self.new_project, SK.New, "Start a new, empty project")
        a("open", "&Open…", self.open_dialog, SK.Open, "Open a .json or .nnd project")
        a("save", "&Save", self.save, SK.Save, "Save the project")
        a("save_as", "Save &As…", self.save_as, SK.SaveAs, "Save the project under a new name")
        a("export", "&Export Keras code…", self.export_code, "Ctrl+E")
        a("quit", "&Quit", self.close, SK.Quit, "Close the window")
        self.actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)

        stack = self.document.undo_stack
        undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(SK.Undo))
        redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence(SK.Redo), QKeySequence("Ctrl+Y")])
        for key, action in (("undo", undo), ("redo", redo)):
            self.addAction(action)
            self.actions[key] = action

        a("cut", "Cu&t", canvas.cut_selection, SK.Cut, "Cut the selected layers", True)
        a("copy", "&Copy", canvas.copy_selection, SK.Copy, "Copy the selected layers", True)
        a("paste", "&Paste", canvas.paste, SK.Paste, "Paste layers", True)
        a("duplicate", "D&uplicate", canvas.duplicate_selection, "Ctrl+D", "", True)
        a("delete", "&Delete", canvas.delete_selection, SK.Delete, "", True)
        a("select_all", "Select &All", canvas.select_all, SK.SelectAll, "", True)
        a("rename", "&Rename…", canvas.rename_selected, "F2", "Rename the selected layer", True)
        a("auto_layout", "Auto-&layout", canvas.auto_layout, "Ctrl+L", "Tidy the blocks")
        a("fit", "&Fit to Window", canvas.fit_all, "Ctrl+0", "Show the whole network")
        a("activations", "&Activation Functions", self.show_activations, None)
        self.actions["activations"].setToolTip("Sigmoid, ReLU and tanh side by side")
        a("about", "&About NN Designer", self.show_about)
        self.actions["about"].setMenuRole(QAction.MenuRole.AboutRole)

        group = QActionGroup(self)
        group.setExclusive(True)
        for mode, label in theme.THEMES:
            action = self._action(f"theme_{mode}", label, lambda m=mode: self.set_theme(m))
            action.setCheckable(True)
            action.setChecked(mode == theme.current_mode())
            group.addAction(action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        act = self.actions
        file_menu = bar.addMenu("&File")
        file_menu.setToolTipsVisible(True)
        file_menu.addAction(act["new"])
        file_menu.addAction(act["open"])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(act["save"])
        file_menu.addAction(act["save_as"])
        file_menu.addSeparator()
        file_menu.addAction(act["export"])
        file_menu.addSeparator()
        file_menu.addAction(act["quit"])

        edit = bar.addMenu("&Edit")
        edit.setToolTipsVisible(True)
        for key in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete"):
            edit.addSeparator() if key is None else edit.addAction(act[key])
        edit.addSeparator()
        edit.addAction(act["select_all"])
        edit.addAction(act["rename"])
        edit.addSeparator()
        edit.addAction(act["auto_layout"])

        view = self.view_menu = bar.addMenu("&View")
        view.setToolTipsVisible(True)
        self.panels_menu = view.addMenu("&Panels")
        for dock in self._docks():
            self.panels_menu.addAction(dock.toggleViewAction())
        self.panels_menu.addSeparator()
        reset = QAction("&Reset Layout", self)
        reset.triggered.connect(self.reset_layout)
        self.panels_menu.addAction(reset)
        self.actions["reset_layout"] = reset
        view.addSeparator()
        view.addAction(act["fit"])
        view.addAction(act["auto_layout"])
        view.addSeparator()
        view.addAction(act["activations"])
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        for mode, _label in theme.THEMES:
            theme_menu.addAction(act[f"theme_{mode}"])

        self.examples_menu = bar.addMenu("E&xamples")
        self.examples_menu.setToolTipsVisible(True)
        for example in list_examples():
            action = self.examples_menu.addAction(example.title)
            action.setToolTip(example.description)
            action.setStatusTip(example.description)
            action.setData(str(example.path))
            action.triggered.connect(lambda _c=False, e=example: self.open_example(e.path))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(act["about"])

    def _build_tool_bar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main")  # the Backprop and training modes add their actions here
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        groups = (
            ("new", "open", "save"),
            ("undo", "redo"),
            ("auto_layout", "fit"),
            ("export",),
        )
        stack = self.document.undo_stack
        # Fixed texts: the stack's "Undo Change activation of 'dense_1'" made the buttons
        # after it jump; the full text is the tooltip (and in the Edit menu).
        self.toolbar_actions: dict[str, QAction] = {}
        for key, label, can, text_changed, slot in (
            ("undo", "Undo", stack.canUndo, stack.undoTextChanged, stack.undo),
            ("redo", "Redo", stack.canRedo, stack.redoTextChanged, stack.redo),
        ):
            proxy = QAction(label, self)
            proxy.setObjectName(f"toolbar_{key}")
            proxy.setEnabled(can())
            proxy.triggered.connect(lambda _c=False, f=slot: f())
            real = self.actions[key]
            real.enabledChanged.connect(proxy.setEnabled)
            # A bound method, not a lambda: Qt drops the connection with the window, while
            # the document's undo stack may live on.
            text_changed.connect(self._sync_undo_tips)
            self.toolbar_actions[key] = proxy
        self._sync_undo_tips()
        for i, group in enumerate(groups):
            if i:
                bar.addSeparator()
            for key in group:
                bar.addAction(self.toolbar_actions.get(key) or self.actions[key])
        self.tool_bar = bar

    def _sync_undo_tips(self, _text: str = "") -> None:
        """The fixed Undo/Redo buttons' tooltips name the step ("Undo Add Dense (Ctrl+Z)")."""
        for key, proxy in self.toolbar_actions.items():
            real = self.actions[key]
            text = real.text().replace("&", "")
            shortcut = real.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            proxy.setToolTip(f"{text} ({shortcut})" if shortcut else text)
            proxy.setStatusTip(text)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(True)
        self.hint_label = _ElidedLabel(
            "Drag a layer from the Layers panel onto the canvas · connect blocks by dragging "
            "from an output port · double-click a layer type to add it after the selection"
        )
        self.hint_label.setContentsMargins(6, 0, 6, 0)
        self.hint_label.setStyleSheet("color: palette(placeholder-text);")
        bar.addWidget(self.hint_label, 1)
        self.validity_label = _VerdictLabel()
        self.validity_label.setObjectName("validity_label")
        self.validity_label.clicked.connect(self.go_to_problem)
        self.validity_label.setContentsMargins(8, 0, 8, 0)
        self.validity_label.setTextFormat(Qt.TextFormat.PlainText)
        bar.addPermanentWidget(self.validity_label)

    # ================================================================== layout
    def _restore_layout(self) -> None:
        s = self.settings
        if s is None:
            return
        geometry = s.value(KEY_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            fit_to_screen(self)  # saved on a larger screen, perhaps
        # The workspace's own arrangement is restored on the first show (see showEvent); the
        # training and dataset docks keep it rather than laying themselves out.
        name = getattr(self, "_initial_workspace", "design")
        self._layout_restored = name in self.workspaces._states

    def save_layout(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue(KEY_GEOMETRY, self.saveGeometry())
        self.workspaces.save_current()
        self.settings.sync()

    def apply_default_sizes(self) -> None:
        """The current workspace's default arrangement for the window's current size."""
        self.workspaces.apply_default()

    def reset_layout(self) -> None:
        """Put every panel of the current workspace back where it starts, for a window that
        fits the screen it is on."""
        if not (self.isMaximized() or self.isFullScreen()):
            avail = available_geometry(self)
            if self.width() > avail.width() or self.height() > avail.height():
                self.resize(fitted_size(avail))
            fit_to_screen(self)
        self.workspaces.forget()
        self.workspaces.apply_default()

    def showEvent(self, event) -> None:  # Qt override
        super().showEvent(event)
        if not self._first_show_done:
            self._first_show_done = True
            # Laid out once shown: Qt 6.11 leaves a stray duplicate tab bar when two groups
            # are tabified before the window is shown.
            self.workspaces.enter(self.workspaces.current)
            set_project_workspace(self.document.project.data, self.workspaces.current)
            if self._backprop_after_show:
                self._backprop_after_show = False
                QTimer.singleShot(0, self, lambda: self.workspaces.switch("backprop"))

    # ================================================================== state display
    def verdict_problems(self) -> list[Problem]:
        """What the status bar's verdict reports: the project's problems, else whether the
        network fits the loaded data (engine.validate.data_fit_problems, as the Dataset panel
        says) and whether the output suits the loss (engine.validate.loss_output_problems)."""
        doc = self.document
        if not doc.valid or doc.graph is None:
            return list(doc.problems)
        from engine.validate import data_fit_problems, loss_output_problems

        dataset = getattr(getattr(self, "dataset", None), "dataset", None)
        problems: list[Problem] = []
        if dataset is not None:
            try:
                problems = data_fit_problems(doc.project, doc.graph, dataset)
            except (ValueError, TypeError, AttributeError, IndexError):
                problems = []  # data of another spec still loading: the panel reloads it
        return problems + [
            p for p in loss_output_problems(doc.project, doc.graph, dataset) if p not in problems
        ]

    def _on_changed(self) -> None:
        self._revision += 1
        doc = self.document
        dark = theme.resolve(theme.current_mode()) == "dark"
        problems = self.verdict_problems()
        self._verdict = problems
        if doc.valid and doc.graph is not None and not problems:
            text = f"●  Valid — {doc.graph.total_params:,} params"
            color = OK_COLORS[dark]
            tip = "The network is valid: it can be exported and trained."
        else:
            text = f"●  {problems[0]}" if problems else "●  Not valid"
            if len(problems) > 1:
                text += f"   (+{len(problems) - 1} more)"
            if doc.valid:
                # Valid, so it exports; but training it on this data fails or learns nothing.
                text = f"▲  {doc.graph.total_params:,} params · {problems[0]}"
                color = WARN_COLORS[dark]
            else:
                color = BAD_COLORS[dark]
            tip = "\n".join(str(p) for p in problems) + "\n\nClick to go to the problem."
        self.validity_label.setText(text)
        self.validity_label.setToolTip(tip)
        self.validity_label.setStyleSheet(f"color: {color}; font-weight: 600;")
        self._update_title()
        self._update_actions()

    def _on_file_state(self) -> None:
        self._update_title()
        self.actions["save"].setEnabled(True)
        if not self.document.dirty and self.recovery is not None:
            # Saved (or back at the saved state): nothing left to recover.
            self.recovery.remove()
            self._autosaved_revision = None

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.title} — {APP_NAME}")

    def _update_actions(self) -> None:
        doc = self.document
        export = self.actions["export"]
        export.setEnabled(doc.valid)
        if doc.valid:
            tip = "Write the project as a runnable Keras script (.py)"
        else:
            tip = f"Fix the network first: {doc.invalid_reason()}"
        export.setToolTip(tip)
        export.setStatusTip(tip)

    def go_to_problem(self) -> str:
        """Show where the verdict's first problem is: select its layer (Inspector raised), or
        raise the Dataset panel or the project settings. Returns what was shown: a layer
        name, ``"dataset"``, ``"settings"`` or ''."""
        problems = getattr(self, "_verdict", None) or []
        if not problems:
            return ""
        return self.show_place(problems[0].layer, problems[0].field)

    def show_place(self, layer: str | None, field: str | None) -> str:
        """Show a layer (selected, Inspector raised), the Dataset panel (a ``dataset`` or
        input-shape field) or the project settings; what was shown, as :meth:`go_to_problem`."""
        if self.workspaces.current == "backprop":
            self.workspaces.switch("design")
        if layer and edits.find_layer(self.document.data, layer) is not None:
            self.document.set_selection([layer])
            item = self.canvas.network_scene.item_for(layer)
            if item is not None:
                self.canvas.ensureVisible(item.sceneBoundingRect(), 40, 40)
            self._raise_dock(self.inspector_dock)
            return layer
        field = field or ""
        if field.startswith(("dataset", "model.input_shape")):
            self.dataset.show_dock()
            return "dataset"
        self.document.set_selection([])  # the Inspector's project settings
        self._raise_dock(self.inspector_dock)
        return "settings"

    def _raise_dock(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def show_message(self, text: str, ms: int = STATUS_MS) -> None:
        self.statusBar().showMessage(text, ms)

    # ================================================================== palette
    def add_layer_from_palette(self, class_name: str) -> str:
        """Add ``class_name`` after the selected layer (inserted before its consumer when it
        has one), or unconnected in view when nothing is selected. Returns the new name."""
        scene = self.canvas.network_scene
        selected = scene.selected_layer_names(include_input=True)
        if not selected:
            centre = self.canvas.mapToScene(self.canvas.viewport().rect().center())
            return scene.add_layer_at(class_name, self._free_spot(centre))
        anchor = selected[-1]
        shown = scene.display_positions()
        ax, ay = shown.get(anchor, (0.0, 0.0))
        doc_data = self.document.data
        config = new_layer_config(class_name)
        result: dict[str, str] = {}

        def fn(data: dict) -> dict:
            ins = edits.explicit_inbound(data)
            consumers = [n for n, srcs in ins.items() if anchor in srcs]
            if consumers:
                new, name = edits.insert_on_edge(data, class_name, anchor, consumers[0], config)
                result["name"] = name
                return scene.make_room(new, name, shown)
            else:
                new, name = edits.add_layer(data, class_name, config, None, inbound=[anchor])
                spot = self._free_spot(QPointF(ax + COLUMN_DX, ay))
                moves = {n: shown[n] for n in shown if n in ins or n == INPUT}
                moves[name] = (spot.x(), spot.y())
            result["name"] = name
            return edits.move_layers(new, moves)

        has_consumer = any(anchor in srcs for srcs in edits.explicit_inbound(doc_data).values())
        text = f"{'Insert' if has_consumer else 'Add'} {class_name}"
        try:
            changed = self.document.edit(text, fn)
        except (KeyError, ValueError) as exc:
            self.show_message(f"{text}: {exc.args[0] if exc.args else exc}")
            return ""
        if not changed:
            return ""
        self.document.set_selection([result["name"]])
        self.canvas.ensureVisible(scene.item_for(result["name"]).sceneBoundingRect(), 40, 40)
        return result["name"]

    def _free_spot(self, pos: QPointF) -> QPointF:
        """``pos``, or the first place below it where a block does not overlap another."""
        taken = list(self.canvas.network_scene.display_positions().values())
        x, y = round(pos.x()), round(pos.y())
        for _ in range(50):
            if all(
                abs(x - px) >= BLOCK_W * 0.8 or abs(y - py) >= BLOCK_H * 0.9 for px, py in taken
            ):
                break
            y += ROW_DY
        return QPointF(x, y)

    # ================================================================== files
    def _start_folder(self) -> str:
        """Where file dialogs open: the project's folder, else the last folder used (QSettings),
        else the user's Documents folder; never inside the shipped examples."""
        candidates = []
        path = self.document.path
        if path is not None:
            candidates.append(Path(path).parent)
        if self.settings is not None:
            last = self.settings.value(KEY_LAST_FOLDER)
            if isinstance(last, str) and last:
                candidates.append(Path(last))
        recent = self.recent_files()
        if recent:
            candidates.append(Path(recent[0]).parent)
        for folder in candidates:
            if folder.is_dir() and not _inside(folder, RESOURCES_DIR):
                return str(folder)
        return documents_folder()

    def recent_files(self) -> list[str]:
        return recent_files(self.settings)

    def _remember(self, path: Path | str) -> None:
        add_recent_file(self.settings, path)
        folder = Path(path).resolve().parent
        if self.settings is not None and not _inside(folder, RESOURCES_DIR):
            self.settings.setValue(KEY_LAST_FOLDER, str(folder))

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.recent_files()
        for i, file in enumerate(files, 1):
            path = Path(file)
            action = menu.addAction(f"&{i}  {path.name}   —   {path.parent}")
            action.setData(file)
            action.triggered.connect(lambda _c=False, f=file: self.open_recent(f))
        if not files:
            none = menu.addAction("No recent files")
            none.setEnabled(False)
        else:
            menu.addSeparator()
            clear = menu.addAction("Clear Recent Files")
            clear.triggered.connect(self.clear_recent)

    def clear_recent(self) -> None:
        if self.settings is not None:
            for f in self.recent_files():
                remove_recent_file(self.settings, f)

    def open_recent(self, file: str) -> bool:
        if not Path(file).exists():
            remove_recent_file(self.settings, file)
            QMessageBox.critical(
                self,
                "Open project",
                f"The file no longer exists:\n{file}\n\nIt was removed from the recent files.",
            )
            return False
        return self.open_path(file)

    def ask_save_changes(self) -> QMessageBox.StandardButton:
        """Save / Discard / Cancel for unsaved changes."""
        name = self.document.project.name
        return QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{name}” has unsaved changes.\n\nSave them before continuing?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or clean)."""
        if not self.document.dirty:
            return True
        answer = self.ask_save_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def _replace(self, project: Project, message: str) -> None:
        self.document.replace(project)
        warnings = self.document.weight_warnings()
        if warnings:
            # Not an error (the file opened and keeps them) but never silent.
            message = f"{message}. Note: {' '.join(warnings)}"
        self.show_message(message, 30000 if warnings else STATUS_MS)
        self.file_opened.emit(str(project.path or ""))

    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self.document.new()
        self.show_message("New project: drag layers from the Layers panel onto the canvas")
        return True

    def open_dialog(self) -> bool:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open project", self._start_folder(), PROJECT_FILTER
        )
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path) -> bool:
        """Open ``path``. A file that cannot be read is reported and changes nothing."""
        project = self._read_to_open(path)
        if project is None:
            return False
        self._replace(project, f"Opened {project.path}")
        self._remember(project.path)
        self._warn_mnist(project)
        return True

    def show_open_error(self, exc: Exception) -> None:
        QMessageBox.critical(self, "Open project", f"Could not open the project.\n\n{exc}")

    def open_example(self, path: str | Path) -> bool:
        """Open a shipped example as a new, untitled project (Save asks where to put it, so
        the example itself is never overwritten)."""
        project = self._read_to_open(path)
        if project is None:
            return False
        project.path = None
        self._replace(project, f"Opened the example “{project.name}”")
        self._warn_mnist(project)
        return True

    def _read_to_open(self, path: str | Path) -> Project | None:
        """The project at ``path`` when it can be read and the current one may be replaced
        (saved or discarded); None after reporting a read error or a cancel."""
        try:
            project = load_project(path)
        except NNDError as exc:
            self.show_open_error(exc)
            return None
        except MemoryError:  # load_project bounds its reads; this is the last resort
            self.show_open_error(
                ProjectError(out_of_memory_message("reading the project"), str(path))
            )
            return None
        return project if self.maybe_save() else None

    def _warn_mnist(self, project: Project) -> None:
        """A project on MNIST or Fashion-MNIST that is not in the Keras cache yet: say where
        to get it (the Dataset panel's offer)."""
        from engine.data.download import KERAS_DOWNLOADS

        name = str((project.dataset or {}).get("name", ""))
        if keras_cache_problem(name):
            self.show_message(
                f"{KERAS_DOWNLOADS[name].title} is not in the Keras cache yet: the Dataset "
                "panel offers to download it or to use the built-in digits",
                20000,
            )

    def ask_weights_json(self, path: Path) -> str:
        """A trained project is about to be saved as .json, which cannot hold weights:
        ``"nnd"`` (save as .nnd instead), ``"json"`` (drop the weights) or ``"cancel"``."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Save project")
        box.setText(
            "This project has trained weights, but a .json file holds only the "
            "architecture and settings."
        )
        box.setInformativeText(f"Save as {path.with_suffix('.nnd').name} to keep the weights?")
        nnd = box.addButton("Save as .nnd", QMessageBox.ButtonRole.AcceptRole)
        json_button = box.addButton(
            "Save .json without weights", QMessageBox.ButtonRole.DestructiveRole
        )
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(nnd)
        box.exec()
        clicked = box.clickedButton()
        return "nnd" if clicked is nnd else "json" if clicked is json_button else "cancel"

    def save(self) -> bool:
        path = self.document.path
        if path is None:
            return self.save_as()
        return self._save_to(Path(path))

    def save_as(self) -> bool:
        project = self.document.project
        suffix = ".nnd" if project.weights else ".json"
        folder = Path(self._start_folder())
        start = self.document.path or folder / f"{_slug(project.name)}{suffix}"
        selected = SAVE_FILTERS[1] if suffix == ".nnd" else SAVE_FILTERS[0]
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save project as", str(start), ";;".join(SAVE_FILTERS), selected
        )
        if not path:
            return False
        target = Path(path)
        if target.suffix.lower() not in PROJECT_SUFFIXES:
            target = target.with_name(target.name + (".nnd" if "nnd" in (chosen or "") else suffix))
        return self._save_to(target)

    def _save_to(self, target: Path) -> bool:
        project = self.document.project
        if target.suffix.lower() == ".json" and project.weights:
            choice = self.ask_weights_json(target)
            if choice == "cancel":
                return False
            if choice == "nnd":
                target = target.with_suffix(".nnd")
        # The workspace shown travels with the project (merged: other keys stay).
        set_project_workspace(project.data, self.workspaces.current)
        try:
            remove_stale_temp_files(target)
            saved = self.document.save(target)
        except NNDError as exc:
            QMessageBox.critical(self, "Save project", f"The project was not saved.\n\n{exc}")
            return False
        if self.recovery is not None:
            self.recovery.remove()
        self._remember(saved)
        self.show_message(f"Saved {saved}")
        self.file_opened.emit(str(self.document.path))
        return True

    def export_code(self) -> bool:
        """Write the project as a Keras script (File ▸ Export Keras code…): its current
        weights, or, while the Rewind scrubber shows a run's epoch, that run's settings and
        its weights after that epoch."""
        doc = self.document
        if not doc.valid:
            self.show_message(f"Cannot export: {doc.invalid_reason()}")
            return False
        project = doc.project
        rewound = getattr(getattr(self, "training", None), "rewound", None)
        suffix = ""
        if rewound is not None and project.runs is not None:
            number, epoch = rewound
            project = project.copy()
            project.data.update(copy.deepcopy(project.runs.get(number).settings))
            project.weights = dict(project.runs.snapshot(number, epoch).weights)
            suffix = f"_run{number}_epoch{epoch}"
        folder = Path(self._start_folder())
        start = folder / f"{_slug(doc.project.name)}{suffix}.py"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export Keras code", str(start), "Python script (*.py)"
        )
        if not path:
            return False
        target = Path(path) if path.endswith(".py") else Path(path + ".py")
        from engine.export import export_project

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = export_project(project, target)
        except NNDError as exc:
            QApplication.restoreOverrideCursor()
            QMessageBox.critical(self, "Export Keras code", f"Nothing was exported.\n\n{exc}")
            return False
        QApplication.restoreOverrideCursor()
        what = f" (run {rewound[0]} after epoch {rewound[1]})" if suffix else ""
        self.show_message("Exported " + ", ".join(str(p) for p in written) + what)
        return True

    # ------------------------------------------------------------------ drops
    @staticmethod
    def _dropped_project(event) -> Path | None:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in PROJECT_SUFFIXES:
                    return path
        return None

    def dragEnterEvent(self, event) -> None:  # Qt override
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # Qt override
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # Qt override
        path = self._dropped_project(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Opened after the drop returns: a dialog inside a drop would block the drag source.
        QTimer.singleShot(0, lambda p=path: self.open_path(p))

    # ================================================================== autosave & recovery
    def autosave_now(self) -> Path | None:
        """Write the recovery file if there are unsaved changes not yet autosaved; the
        recovery file's path (None when nothing needs recovering)."""
        store = self.recovery
        if store is None:
            return None
        if not self.document.dirty:
            store.remove()
            return None
        if self._autosaved_revision == self._revision and store.exists():
            return store.path
        try:
            store.write(self.document.project, self.document.path)
        except NNDError as exc:
            self.show_message(f"Autosave failed: {exc}")
            return None
        self._autosaved_revision = self._revision
        return store.path

    def ask_recover(self, entry: RecoveryEntry) -> str:
        """``"recover"``, ``"discard"`` or ``"later"`` (ask again next start)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Recover unsaved changes")
        box.setText("NN Designer did not close properly last time.")
        if entry.error:
            box.setInformativeText(entry.describe())
            recover = None
        else:
            box.setInformativeText(f"Recover the unsaved changes of {entry.describe()}?")
            recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        if recover is not None:
            box.setDefaultButton(recover)
        box.exec()
        clicked = box.clickedButton()
        if recover is not None and clicked is recover:
            return "recover"
        return "discard" if clicked is discard else "later"

    def offer_recovery(self) -> bool:
        """Offer the autosaves that crashed sessions left, newest first; True when one was
        recovered (it becomes this window's document, with unsaved changes)."""
        store = self.recovery
        if store is None:
            return False
        entries = store.orphans()
        try:
            for i, entry in enumerate(entries):
                choice = self.ask_recover(entry)
                if choice == "discard":
                    store.discard(entry)
                    continue
                if choice != "recover" or entry.error:
                    return False  # "later": every file stays for the next start
                try:
                    project = store.load(entry)
                except NNDError as exc:
                    QMessageBox.critical(self, "Recover", f"The autosave cannot be read.\n\n{exc}")
                    continue
                self.document.replace(project)
                self.document.undo_stack.resetClean()  # recovered changes are unsaved changes
                self.autosave_now()  # safe in this session's file before the old one goes
                store.adopted(entry)
                when = entry.saved_at.strftime("%H:%M:%S")
                self.show_message(f"Recovered “{project.name}” as autosaved at {when}", 15000)
                self.file_opened.emit(str(project.path or ""))
                del entries[: i + 1]
                return True
            return False
        finally:
            for entry in entries:
                store.release(entry.path)

    # ================================================================== view
    def show_activations(self):
        """View ▸ Activation Functions: sigmoid, ReLU and tanh side by side."""
        if self._activations_dialog is None:
            from designer.panels.activations import ActivationsDialog

            self._activations_dialog = ActivationsDialog(self)
        dialog = self._activations_dialog
        if dialog.isVisible() and QGuiApplication.platformName() != "offscreen":
            dialog.raise_()  # the offscreen platform warns that it cannot raise windows
            dialog.activateWindow()
        dialog.show()
        return dialog

    def set_theme(self, mode: str) -> None:
        app = QApplication.instance()
        theme.apply_theme(app, mode)
        set_theme_mode(self.settings, mode)
        self.actions[f"theme_{mode}"].setChecked(True)
        self._on_changed()
        self.canvas.viewport().update()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b><p>Design, train and step through small Keras-style neural "
            "networks.</p><p>Drag layers from the Layers panel onto the canvas, connect them by "
            "dragging from an output port, and edit them in the Inspector. The Keras code "
            "panel shows the model as a runnable script.</p>",
        )

    # ================================================================== closing
    def closeEvent(self, event) -> None:  # Qt override
        if not self.maybe_save():
            event.ignore()
            return
        self.save_layout()
        self.autosave_timer.stop()
        if self.recovery is not None:
            self.recovery.close(remove_file=True)
        if self._activations_dialog is not None:
            self._activations_dialog.close()
        event.accept()

    def changeEvent(self, event) -> None:  # Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self.canvas.viewport().update()
        super().changeEvent(event)


def documents_folder() -> str:
    """The user's Documents folder (QStandardPaths), else the home folder."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def _inside(folder: Path, root: Path) -> bool:
    try:
        return Path(folder).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


class _ElidedLabel(QLabel):
    """A one-line label that elides its text to the room it gets (a long hint must not set
    the status bar's, and so the window's, minimum width)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def minimumSizeHint(self) -> QSize:  # Qt override
        return QSize(40, super().minimumSizeHint().height())

    def is_elided(self) -> bool:
        room = self.contentsRect().width()
        return self.fontMetrics().horizontalAdvance(self.text()) > room

    def paintEvent(self, event) -> None:  # Qt override
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


class _VerdictLabel(_ElidedLabel):
    """The status bar's verdict: elided to its room, the whole text in the tooltip; a click
    goes to the problem."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # Qt override
        hint = super().sizeHint()
        return QSize(min(hint.width(), 520), hint.height())

    def mouseReleaseEvent(self, event) -> None:  # Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class _BlankTitleBar(QWidget):
    """An empty title bar for a tabbed dock."""

    def sizeHint(self):  # Qt override
        return QSize(0, 0)

    def minimumSizeHint(self):  # Qt override
        return QSize(0, 0)
