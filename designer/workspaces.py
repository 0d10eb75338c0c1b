"""Workspaces (issue 13): Design, Train and Backprop arrangements of the main window.

A workspace says which docks are shown where, and what the central area holds:

- **Design**: the Layers palette (left), the canvas, the Inspector / Keras code / Dataset /
  Doctor tabs (right) and the Summary / Undo history tabs (under the canvas).
- **Train**: the Training panel (left), a smaller canvas over the curves (loss and metrics,
  layer statistics, confusion matrix), and the live views large on the right (decision
  boundary, weight tiles, predictions, network activity).
- **Backprop**: the stepper's view and its math panel side by side in the central area.

One click on the toolbar's segmented control, or Ctrl+1/2/3, switches (Ctrl+B still toggles
Backprop mode, which is the Backprop workspace). Each workspace remembers its own arrangement:
``QMainWindow.saveState`` per workspace, kept in QSettings under ``workspace/<name>/state``.
A workspace seen for the first time, and Reset Layout, get a default computed from the window's
size, which is itself fitted to the screen's available geometry.

No dock may raise the window's minimum size beyond the screen: :func:`cap_dock_minimums` gives
every dock's content an explicit minimum (which Qt's layouts prefer to the content's own
``minimumSizeHint``), so a long label inside a panel clips at worst instead of widening the
window past the screen.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QByteArray, QObject, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QTabBar,
    QToolButton,
    QWidget,
)

from designer.document import set_view_state, view_state
from designer.settings import KEY_WORKSPACE

WORKSPACES = ("design", "train", "backprop")
TITLES = {"design": "Design", "train": "Train", "backprop": "Backprop"}
SHORTCUTS = {"design": "Ctrl+1", "train": "Ctrl+2", "backprop": "Ctrl+3"}
TIPS = {
    "design": "Build the network: layers, canvas, inspector, summary and code",
    "train": "Train it: the training panel, the curves and the live views large",
    "backprop": "Step through one training step with every number (also Ctrl+B)",
}
STATE_VERSION = 4  # 4: the Doctor and Watch docks (issue 19); older layouts give way
#: The explicit minimum of every dock's content: small enough that three columns and a bottom
#: row fit a 1366×768 screen, large enough that a squeezed panel still shows something.
DOCK_MIN = QSize(160, 90)
#: The first window's share of the screen's available geometry (never more than all of it).
SCREEN_SHARE = 0.9


def state_key(name: str) -> str:
    return f"workspace/{name}/state"


def project_workspace(data: dict) -> str | None:
    """The workspace a project was saved in (``data["designer"]["workspace"]``), or None."""
    name = view_state(data, "workspace")
    return name if isinstance(name, str) and name in WORKSPACES else None


def set_project_workspace(data: dict, name: str) -> None:
    """Write ``name`` into ``data["designer"]``, keeping the other keys there (the plane...)."""
    set_view_state(data, "workspace", name)


def available_geometry(window: QWidget) -> QRect:
    """The available geometry of the screen the window is on (the primary one before show)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fitted_size(available: QRect, share: float = SCREEN_SHARE) -> QSize:
    """``share`` of ``available``, never more than all of it."""
    return QSize(
        min(available.width(), round(available.width() * share)),
        min(available.height(), round(available.height() * share)),
    )


def fit_to_screen(window: QWidget) -> None:
    """Shrink and move ``window`` so that its frame lies within its screen's available area
    (a restored geometry may come from a larger screen)."""
    if window.isMaximized() or window.isFullScreen():
        return
    avail = available_geometry(window)
    frame = window.frameGeometry()
    extra_w = frame.width() - window.width()
    extra_h = frame.height() - window.height()
    width = min(window.width(), avail.width() - extra_w)
    height = min(window.height(), avail.height() - extra_h)
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    x = min(max(frame.x(), avail.x()), avail.right() + 1 - frame.width())
    y = min(max(frame.y(), avail.y()), avail.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(x, y)


def cap_dock_minimums(docks: list[QDockWidget], minimum: QSize = DOCK_MIN) -> None:
    """Give each dock's content the explicit minimum ``minimum``: Qt's layouts use an explicit
    minimum instead of ``minimumSizeHint`` (qSmartMinSize), so no label or plot inside can
    widen the window beyond the screen."""
    for dock in docks:
        inner = dock.widget()
        if inner is not None:
            inner.setMinimumSize(minimum)


def right_area() -> Qt.DockWidgetArea:
    return Qt.DockWidgetArea.RightDockWidgetArea


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, value)))


class WorkspaceBar(QWidget):
    """A segmented control of the workspaces (checkable tool buttons in an exclusive group)."""

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workspace_bar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 8, 0)
        layout.setSpacing(0)
        # Exclusive through the actions' QActionGroup (a QButtonGroup as well would trigger
        # the unchecked button's action).
        self.buttons: dict[str, QToolButton] = {}
        for name in WORKSPACES:
            button = QToolButton(self)
            button.setObjectName(f"workspace_{name}")
            button.setDefaultAction(actions[name])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAutoRaise(False)
            layout.addWidget(button)
            self.buttons[name] = button


class WorkspaceManager(QObject):
    """The workspaces of one :class:`~designer.main_window.MainWindow`.

    Attributes
    ----------
    current : str
        ``"design"``, ``"train"`` or ``"backprop"``.
    actions : dict of str to QAction
        One checkable action per workspace (Ctrl+1/2/3), in an exclusive group.
    bar : WorkspaceBar
        The segmented control (the window puts it at the toolbar's left).
    """

    #: The workspace shown now (after a switch).
    changed = Signal(str)

    def __init__(self, window: QMainWindow, settings=None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.current = "design"
        self._previous = "design"
        self._switching = False
        self._states: dict[str, QByteArray] = {}
        self._seen_build = None
        group = QActionGroup(self)
        group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for i, name in enumerate(WORKSPACES):
            action = QAction(TITLES[name], window)
            action.setObjectName(f"workspace_{name}_action")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setToolTip(f"{TITLES[name]} workspace ({SHORTCUTS[name]}): {TIPS[name]}")
            action.setStatusTip(TIPS[name])
            action.setChecked(i == 0)
            action.triggered.connect(partial(self._on_action, name))
            group.addAction(action)
            window.addAction(action)
            self.actions[name] = action
        self.bar = WorkspaceBar(self.actions)
        if settings is not None:
            for name in WORKSPACES:
                value = settings.value(state_key(name))
                if isinstance(value, QByteArray) and not value.isEmpty():
                    self._states[name] = value

    def _on_action(self, name: str, _checked: bool = False) -> None:
        self.switch(name)

    # ------------------------------------------------------------------ who is where
    def _training(self):
        return getattr(self.window, "training", None)

    def groups(self, name: str) -> list[tuple[Qt.DockWidgetArea, list[QDockWidget]]]:
        """The default arrangement of ``name``: (area, tabbed docks, first one in front)."""
        w = self.window
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        if name == "design":
            return [
                (left, [w.palette_dock]),
                # The Doctor here: a third tab under the canvas would widen a 800 px window.
                (right, [w.inspector_dock, w.code_dock, w.dataset.dock, w.doctor_dock]),
                (bottom, [w.summary_dock, w.history_dock]),
            ]
        if name == "train":
            d = self._training().docks
            views = [d[k] for k in ("boundary", "tiles", "predictions")]
            return [
                (left, [d["panel"], w.inspector_dock, d["runs"], d["watch"]]),
                (right, [v for v in views if self._relevant(v)]),
                # Under the data views, in the same column: four tabs would elide their titles.
                (right, [d["activity"]]),
                (bottom, [d[k] for k in ("loss", "layers", "confusion") if self._relevant(d[k])]),
            ]
        return []

    def _relevant(self, dock: QDockWidget) -> bool:
        """Whether a training view has something to show for the last build (the training
        controller hides the boundary for images, the tiles for convolutions, ...)."""
        ctl = self._training()
        info = getattr(ctl, "info", None)
        if info is None:
            return dock is not ctl.docks.get("predictions")  # nothing built yet: no images
        d = ctl.docks
        checks = {
            id(d["boundary"]): getattr(info, "points", None) is not None,
            id(d["tiles"]): getattr(info, "tiles_layer", None) is not None,
            id(d["predictions"]): getattr(info, "sample_images", None) is not None,
            id(d["confusion"]): getattr(info, "task", "") == "classification",
        }
        return checks.get(id(dock), True)

    def all_docks(self) -> list[QDockWidget]:
        return [d for d in self.window.findChildren(QDockWidget) if d.parent() is self.window]

    # ------------------------------------------------------------------ layouts
    def hide_others(self, name: str | None = None) -> None:
        """Hide the docks ``name`` does not show: before the first show, so that the window is
        not first laid out (and grown) with every dock of every workspace in it."""
        shown = {id(d) for _a, docks in self.groups(name or self.current) for d in docks}
        for dock in self.all_docks():
            if id(dock) not in shown:
                dock.hide()

    def apply_default(self, name: str | None = None) -> None:
        """Arrange ``name`` (default: the current workspace) for the window's size."""
        name = name or self.current
        w = self.window
        groups = self.groups(name)
        shown = {id(d) for _a, docks in groups for d in docks}
        for dock in self.all_docks():
            if id(dock) not in shown:
                dock.hide()
        for area, docks in groups:
            for dock in docks:
                dock.setFloating(False)
                w.addDockWidget(area, dock)
                dock.show()
            for dock in docks[1:]:
                w.tabifyDockWidget(docks[0], dock)
            if docks:
                docks[0].raise_()
        self._default_sizes(name, groups)
        self._tidy_later()
        update = getattr(w, "_update_title_bars", None)
        if callable(update):
            update()

    def _default_sizes(self, name: str, groups) -> None:
        w = self.window
        width, height = w.width(), w.height()
        first: dict = {}
        for area, docks in groups:
            if docks:
                first.setdefault(area, docks[0])
        left = first.get(Qt.DockWidgetArea.LeftDockWidgetArea)
        right = first.get(Qt.DockWidgetArea.RightDockWidgetArea)
        bottom = first.get(Qt.DockWidgetArea.BottomDockWidgetArea)
        if name == "design":
            # The Inspector's fields need about 380 px (no horizontal scroll bar); the
            # palette about 210.
            sides = (_clamp(width * 0.16, 210, 260), _clamp(width * 0.28, 380, 480))
            low = _clamp(height * 0.26, 150, 300)
        else:
            sides = (_clamp(width * 0.2, 300, 380), _clamp(width * 0.34, 360, 700))
            low = _clamp(height * 0.46, 200, 480)
        pairs = [(d, s) for d, s in zip((left, right), sides, strict=True) if d is not None]
        if pairs:
            w.resizeDocks([d for d, _ in pairs], [s for _, s in pairs], Qt.Orientation.Horizontal)
        if bottom is not None:
            w.resizeDocks([bottom], [low], Qt.Orientation.Vertical)
        below = [docks[0] for area, docks in groups if docks and area == right_area()]
        if len(below) == 2:  # Train: the data views over the network activity, 3 : 2
            column = max(w.height() - 120, 300)
            w.resizeDocks(below, [column * 3 // 5, column * 2 // 5], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------ switching
    def save_current(self) -> None:
        """Remember the current workspace's arrangement (in memory and in the settings)."""
        state = self.window.saveState(STATE_VERSION)
        self._states[self.current] = state
        if self.settings is not None:
            self.settings.setValue(state_key(self.current), state)
            self.settings.setValue(KEY_WORKSPACE, self.current)

    def forget(self, name: str | None = None) -> None:
        name = name or self.current
        self._states.pop(name, None)
        if self.settings is not None:
            self.settings.remove(state_key(name))

    def enter(self, name: str) -> None:
        """Show ``name``'s remembered arrangement, else its default (no save of the old one)."""
        self._tidy_later()
        state = self._states.get(name)
        if state is None or not self.window.restoreState(state, STATE_VERSION):
            self.apply_default(name)
        else:
            if name == "train":
                self._apply_relevance()
            update = getattr(self.window, "_update_title_bars", None)
            if callable(update):
                update()

    def hide_stray_tab_bars(self) -> int:
        """Hide the main window's dock tab bars that no visible dock group uses; returns how
        many. Qt 6.11 can leave an old group's tab bar shown after the docks are re-arranged
        (restoreState, or tabifying hidden docks), drawn over the real one."""
        w = self.window
        docks = [
            d for d in self.all_docks() if d.isVisible() and not d.isFloating() and not d.isHidden()
        ]
        hidden = 0
        for bar in w.findChildren(QTabBar):
            if bar.parent() is not w or not bar.isVisible():
                continue
            texts = {bar.tabText(i) for i in range(bar.count())}
            geo = bar.geometry()
            used = any(
                d.windowTitle() in texts and d.x() == geo.x() and d.width() == geo.width()
                for d in docks
            )
            if not used:
                bar.hide()
                hidden += 1
        return hidden

    def _tidy_later(self) -> None:
        # The window lays its docks out in the next event-loop pass; tidy after that.
        QTimer.singleShot(0, self, self.hide_stray_tab_bars)

    def _apply_relevance(self) -> None:
        for key, dock in self._training().docks.items():
            if key in ("boundary", "tiles", "predictions", "confusion") and not self._relevant(
                dock
            ):
                dock.hide()

    def switch(self, name: str) -> bool:
        """Show workspace ``name``; False when it cannot be shown now (Backprop needs a valid
        project whose data loads: the stepper says why in the status bar)."""
        if name not in WORKSPACES:
            raise ValueError(f"unknown workspace {name!r}")
        if name == self.current or self._switching:
            self._sync_actions()
            return name == self.current
        self._switching = True
        try:
            stepper = getattr(self.window, "stepper", None)
            self.save_current()
            if name == "backprop" and stepper is not None and not stepper.active:
                stepper.set_active(True)
                if not stepper.active:
                    return False
            old, self.current = self.current, name
            self._previous = old
            if old == "backprop" and stepper is not None and stepper.active:
                stepper.set_active(False)
            self.enter(name)
            if self.settings is not None:
                self.settings.setValue(KEY_WORKSPACE, name)
            set_project_workspace(self.window.document.project.data, name)
        finally:
            self._switching = False
            self._sync_actions()
        self.changed.emit(name)
        return True

    def on_backprop_mode(self, on: bool) -> None:
        """The stepper was turned on or off by itself (Ctrl+B, its action, a refusal)."""
        if self._switching:
            return
        if on and self.current != "backprop":
            self.switch("backprop")
        elif not on and self.current == "backprop":
            self.switch(self._previous if self._previous != "backprop" else "design")

    def on_run_requested(self) -> None:
        """Play or Step from the Design workspace: show the run (Qt Creator's Debug mode)."""
        if self.current == "design":
            self.switch("train")

    def on_training_batch(self, _batch=None) -> None:
        """A new build shows the views that fit it; outside Train they stay hidden."""
        ctl = self._training()
        build = getattr(ctl, "_last_build", None)
        if build is self._seen_build:
            return
        self._seen_build = build
        if self.current == "train":
            return
        for key in ("boundary", "tiles", "predictions", "confusion", "activity"):
            dock = ctl.docks[key]
            if not dock.isFloating():
                dock.hide()

    def _sync_actions(self) -> None:
        action = self.actions[self.current]
        if not action.isChecked():
            action.setChecked(True)
