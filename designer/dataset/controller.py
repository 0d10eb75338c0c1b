"""The Dataset panel in a main window, without the window's code knowing about it.

:func:`attach_dataset` adds

- a "Dataset" dock with the :class:`~designer.dataset.panel.DatasetPanel`, tabbed with the
  Inspector the first time the window is shown (unless a saved layout places it);
- an "Open data file…" action in the File menu (after "Open…"), or on the toolbar named
  "main" when the window has no File menu, and the dock's toggle in View ▸ Panels when the
  window has that menu;
- the offer to download the project's data when it is not in the Keras cache (MNIST on a
  first launch): the dock is brought to the front when the window opens or a project is
  opened that needs it;
- drops: a data file or folder dropped on the window (``.csv .tsv .txt .npz .npy .gz``, IDX,
  a folder of class subfolders) becomes the dataset. An event filter on the window takes
  these drops before the window's own handlers, which keep handling project files.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar

from designer.dataset.load_job import is_data_path
from designer.dataset.panel import DatasetPanel
from engine.data.projection import Projection

__all__ = ["DatasetController", "attach_dataset", "dropped_data_path"]

PROJECT_SUFFIXES = (".json", ".nnd")


def dropped_data_path(mime) -> Path | None:
    """The first local data file or folder among dropped URLs (never a project file)."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.suffix.lower() in PROJECT_SUFFIXES:
            continue
        if is_data_path(path):
            return path
    return None


def _menu_named(window: QMainWindow, title: str) -> QMenu | None:
    bar = window.menuBar() if hasattr(window, "menuBar") else None
    if bar is None:
        return None
    for action in bar.actions():
        menu = action.menu()
        if menu is not None and action.text().replace("&", "").strip() == title:
            return menu
    return None


class DatasetController(QObject):
    """Owns the Dataset panel of one main window: the dock, the action, the drops.

    Signals
    -------
    projection_changed(dict) : the plane chosen for many-feature data (see
        :attr:`DatasetPanel.projection_choice`), for the decision-boundary view.

    Attributes
    ----------
    panel : DatasetPanel
    dock : QDockWidget
    action : QAction
        "Open data file…".
    """

    projection_changed = Signal(dict)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.panel = DatasetPanel(self.document)
        # Until the dock is placed: shown with the window, it may end up behind the Inspector.
        self.panel.auto_load = False
        self.dock = QDockWidget("Dataset", window)
        self.dock.setObjectName("dataset_dock")
        self.dock.setWidget(self.panel)
        self.dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        update_title_bars = getattr(window, "_update_title_bars", None)
        if callable(update_title_bars):
            self.dock.topLevelChanged.connect(lambda _floating: update_title_bars())
            self.dock.dockLocationChanged.connect(lambda _area: update_title_bars())
        if isinstance(getattr(window, "mode_docks", None), list):
            window.mode_docks.append(self.dock)
        else:
            window.mode_docks = [self.dock]
        self._placed = False

        self.action = QAction("Open &Data File…", window)
        self.action.setObjectName("open_data_file_action")
        self.action.setShortcut("Ctrl+Shift+D")
        tip = "Use a CSV/TSV table, NumPy file, IDX images or an image folder as the dataset"
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        self.action.triggered.connect(self.open_data_dialog)
        self._add_action()

        # A tabbed dock brought to the front: load what it shows, once it is laid out.
        self.dock.visibilityChanged.connect(
            lambda visible: visible and QTimer.singleShot(0, self.panel, self.panel.refresh)
        )
        self.panel.status_message.connect(self._status)
        self.panel.projection_changed.connect(self.projection_changed)
        self.document.replaced.connect(self._on_replaced)
        window.installEventFilter(self)

    def _on_replaced(self) -> None:
        # A project opened whose data must be downloaded first: show the panel's offer.
        if self._placed and self.panel.download_name() is not None:
            QTimer.singleShot(0, self, self.show_dock)

    def _add_action(self) -> None:
        window = self.window
        file_menu = _menu_named(window, "File")
        if file_menu is not None:
            actions = file_menu.actions()
            open_action = getattr(window, "actions", {}).get("open")
            if isinstance(getattr(window, "actions", None), dict) and open_action in actions:
                at = actions.index(open_action) + 1
                before = actions[at] if at < len(actions) else None
                file_menu.insertAction(before, self.action)
            else:
                file_menu.addAction(self.action)
        else:
            toolbar = window.findChild(QToolBar, "main")
            if toolbar is None:
                toolbar = window.addToolBar("Main")
                toolbar.setObjectName("main")
            toolbar.addAction(self.action)
            window.addAction(self.action)
        if isinstance(getattr(window, "panels_menu", None), QMenu):
            window.add_panel_toggle(self.dock)

    # ------------------------------------------------------------------ API
    @property
    def dataset(self):
        """The project's data as last loaded (None until loaded)."""
        return self.panel.dataset

    @property
    def projection_choice(self) -> dict:
        return dict(self.panel.projection_choice)

    def projection(self) -> Projection:
        """An unfitted :class:`~engine.data.projection.Projection` for the chosen plane."""
        return self.panel.projection()

    def set_projection(self, choice: dict) -> None:
        """Choose the plane (emits ``projection_changed`` when it changes)."""
        self.panel.set_projection(choice)

    def open_data_file(self, path: str | Path) -> None:
        """Use a data file or folder as the dataset (it enters the project once it loads; a
        failure is shown in the panel and changes nothing) and show the panel."""
        self.panel.open_path(path)
        self.show_dock()

    def open_data_dialog(self) -> None:
        path = self.panel.ask_data_file()
        if path:
            self.open_data_file(path)

    def show_dock(self) -> None:
        self._place()
        self.dock.show()
        self.dock.raise_()

    def _place(self) -> None:
        """Tab the dock with the Inspector, once, unless a saved layout placed it."""
        if self._placed:
            return
        self._placed = True
        self._tabify()
        if self.panel.download_name() is not None:
            self.dock.raise_()  # first launch without MNIST: the offer to download it is here
        self.panel.auto_load = True
        QTimer.singleShot(0, self.panel, self.panel.refresh)

    def _tabify(self) -> None:
        window = self.window
        if getattr(window, "_layout_restored", False) or self.dock.isFloating():
            return
        inspector = getattr(window, "inspector_dock", None)
        if (
            isinstance(inspector, QDockWidget)
            and self.dock not in window.tabifiedDockWidgets(inspector)
            and not inspector.isFloating()
            and window.dockWidgetArea(inspector) == Qt.DockWidgetArea.RightDockWidgetArea
        ):
            window.tabifyDockWidget(inspector, self.dock)
            inspector.raise_()
            update = getattr(window, "_update_title_bars", None)
            if callable(update):
                update()

    def _status(self, text: str) -> None:
        bar = self.window.statusBar() if hasattr(self.window, "statusBar") else None
        if bar is not None:
            bar.showMessage(text, 6000)

    # ------------------------------------------------------------------ events
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        if watched is not self.window:
            return False
        kind = event.type()
        if kind == QEvent.Type.Show and not self._placed:
            # Qt 6.11 leaves a stray tab bar when docks are tabified before the window is
            # shown; the window tabs its own docks in its showEvent, this comes after.
            QTimer.singleShot(0, self, self._place)
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_data_path(event.mimeData()) is not None:
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            path = dropped_data_path(event.mimeData())
            if path is not None:
                event.acceptProposedAction()
                # After the drop returns: the drag source must not wait for the load.
                QTimer.singleShot(0, self, lambda p=path: self.open_data_file(p))
                return True
        return False


def attach_dataset(window: QMainWindow) -> DatasetController:
    """Give ``window`` (a QMainWindow with a ``document``) the Dataset panel; returns its
    controller, also kept as ``window.dataset``."""
    controller = DatasetController(window)
    window.dataset = controller
    return controller
