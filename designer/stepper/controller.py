"""Backprop mode in a main window, without the window's code knowing about it.

:func:`attach_stepper` adds a checkable "Backprop mode" action to the window's toolbar named
"main" (made when there is none), a dock with the :class:`StepperPanel`, and, while the mode is
on, shows the :class:`BackpropView` in place of the central widget: the central widget is
wrapped in a QStackedWidget together with the view, and unwrapped again when the mode is
turned off. The mode cannot be turned on while the document is invalid (the action says why in
its tooltip); when the data cannot be loaded the action turns itself off and says why. Any
edit of the document while the mode is on starts a new session (the network changed).

With ``central=True`` (the designer's main window, issue 13) there is no dock: the view and the
panel share the central area side by side in a splitter, where the math panel has room to
read; the window's Backprop workspace follows :attr:`StepperController.mode_changed`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from designer.stepper.panel import StepperPanel
from designer.stepper.view import BackpropView

ACTION_TIP = (
    "Step through one training step of this network, phase by phase, with every number "
    "(forward, loss, backward, update)"
)


class StepperController(QObject):
    """Owns the Backprop mode of one main window: the action, the dock, the view.

    Attributes
    ----------
    action : QAction
        The checkable "Backprop mode" toggle.
    panel : StepperPanel
    view : BackpropView
    dock : QDockWidget or None
        The panel's dock; None with ``central`` (the panel sits beside the view).
    splitter : QSplitter or None
        With ``central``, the view and the panel side by side while the mode is on.
    """

    #: The mode was turned on (True) or off (False), by the action, a call or a refusal.
    mode_changed = Signal(bool)

    def __init__(self, window: QMainWindow, central: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.central = central
        self.panel = StepperPanel(self.document)
        self.view = BackpropView()
        self.panel.view_grabber = self.view.grab
        self.splitter: QSplitter | None = None
        self.dock: QDockWidget | None = None
        if not central:
            self.dock = QDockWidget("Backprop", window)
            self.dock.setObjectName("backprop_dock")
            self.dock.setWidget(self.panel)
            self.dock.setMinimumWidth(480)
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            self.dock.hide()
        self._stack: QStackedWidget | None = None
        self._placed = False
        self._original: QWidget | None = None

        toolbar = window.findChild(QToolBar, "main")
        if toolbar is None:
            toolbar = window.addToolBar("Main")
            toolbar.setObjectName("main")
        self.toolbar = toolbar
        self.action = QAction("Backprop mode", window)
        self.action.setObjectName("backprop_mode_action")
        self.action.setCheckable(True)
        self.action.setShortcut("Ctrl+B")
        self.action.toggled.connect(self.set_active)
        toolbar.addAction(self.action)

        self.panel.session_changed.connect(self._on_session)
        self.panel.phase_changed.connect(self.view.refresh)
        self.panel.sample_changed.connect(self.view.set_sample)
        self.panel.pinned_changed.connect(self.view.set_pinned)
        self.panel.status_message.connect(self._status)
        self.view.neuron_pinned.connect(self.panel.pin_neuron)
        self.view.weight_pinned.connect(self.panel.pin_weight)
        self.view.param_pinned.connect(self.panel.pin_param)
        self.view.next_requested.connect(self.panel.next_phase)
        self.view.previous_requested.connect(self.panel.previous_phase)
        self.document.changed.connect(self._on_document_changed)
        self._update_action()

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        return self.action.isChecked()

    def _status(self, text: str) -> None:
        bar = self.window.statusBar() if hasattr(self.window, "statusBar") else None
        if bar is not None:
            bar.showMessage(text, 6000)

    def _update_action(self) -> None:
        doc = self.document
        if doc.valid:
            self.action.setEnabled(True)
            self.action.setToolTip(ACTION_TIP)
        else:
            self.action.setEnabled(self.active)  # it can always be turned off
            self.action.setToolTip(f"Backprop mode needs a valid project: {doc.invalid_reason()}")

    def set_active(self, on: bool) -> None:
        """Turn the mode on or off (the action follows)."""
        if self.action.isChecked() != on:
            self.action.setChecked(on)  # re-enters through toggled
            return
        if on:
            if not self.panel.start():
                self._refuse(self.panel.error)
                return
            self._show_view()
            self._show_dock()
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.panel.stop()
            self._hide_view()
            self._hide_dock()
        self._update_action()
        self.mode_changed.emit(on)

    def _hide_dock(self) -> None:
        if self.dock is not None:
            self.dock.hide()

    def _show_dock(self) -> None:
        if self.dock is None:
            return
        if not self._placed:
            # First time: share the right-hand column's full height (as a tab) rather than
            # squeezing under the panels already there.
            self._placed = True
            right = Qt.DockWidgetArea.RightDockWidgetArea
            for other in self.window.findChildren(QDockWidget):
                if (
                    other is not self.dock
                    and not other.isFloating()
                    and other.isVisible()
                    and self.window.dockWidgetArea(other) == right
                ):
                    self.window.tabifyDockWidget(other, self.dock)
                    break
        self.dock.show()
        self.dock.raise_()

    def _refuse(self, reason: str) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(False)
        was_on = self._stack is not None
        self.panel.stop()
        self._hide_view()
        self._hide_dock()
        self._update_action()
        self.action.setToolTip(f"Backprop mode is unavailable: {reason}")
        self._status(f"Backprop mode is unavailable: {reason}")
        if was_on:
            self.mode_changed.emit(False)

    def _dock_sizes(self) -> list[tuple[QDockWidget, Qt.Orientation, int]]:
        """The sizes of the window's docked docks, to put back after the central widget
        changes (QMainWindow otherwise lets the docks grow into the new central widget)."""
        out = []
        for dock in self.window.findChildren(QDockWidget):
            if dock is self.dock or dock.isFloating() or dock.visibleRegion().isEmpty():
                continue
            area = self.window.dockWidgetArea(dock)
            if area in (
                Qt.DockWidgetArea.TopDockWidgetArea,
                Qt.DockWidgetArea.BottomDockWidgetArea,
            ):
                out.append((dock, Qt.Orientation.Vertical, dock.height()))
            elif area != Qt.DockWidgetArea.NoDockWidgetArea:
                out.append((dock, Qt.Orientation.Horizontal, dock.width()))
        return out

    def _restore_dock_sizes_later(self, sizes) -> None:
        # The main window lays the new central widget out in its next event loop pass.
        QTimer.singleShot(0, self, lambda: self._restore_dock_sizes(sizes))

    def _restore_dock_sizes(self, sizes) -> None:
        sizes = [(d, o, n) for d, o, n in sizes if d.isVisible() and not d.isFloating()]
        for orientation in (Qt.Orientation.Vertical, Qt.Orientation.Horizontal):
            docks = [(d, n) for d, o, n in sizes if o == orientation]
            if docks:
                self.window.resizeDocks([d for d, _ in docks], [n for _, n in docks], orientation)

    def _show_view(self) -> None:
        if self._stack is not None:
            return
        window = self.window
        sizes = self._dock_sizes()
        self._original = window.takeCentralWidget()
        if self._original is not None and self._original.width() > 100 and not self.central:
            # Keep the canvas's room: the docks around it must not grow into it.
            self.view.preferred_size = self._original.size()
        stack = QStackedWidget()
        stack.setObjectName("backprop_stack")
        if self._original is not None:
            stack.addWidget(self._original)
        if self.central:
            # The math panel gets the room a dock never had: about 45 % of the central area.
            split = QSplitter(Qt.Orientation.Horizontal)
            split.setObjectName("backprop_splitter")
            split.setChildrenCollapsible(False)
            split.addWidget(self.view)
            split.addWidget(self.panel)
            split.setStretchFactor(0, 11)
            split.setStretchFactor(1, 9)
            stack.addWidget(split)
            stack.setCurrentWidget(split)
            self.splitter = split
        else:
            stack.addWidget(self.view)
            stack.setCurrentWidget(self.view)
        window.setCentralWidget(stack)
        if not self.central:  # with central, the window's workspace owns the dock sizes
            self._restore_dock_sizes_later(sizes)
        self._stack = stack
        self.view.fit()

    def _hide_view(self) -> None:
        stack = self._stack
        if stack is None:
            return
        window = self.window
        sizes = self._dock_sizes()
        window.takeCentralWidget()
        if self.splitter is not None:
            stack.removeWidget(self.splitter)
            self.panel.setParent(None)
            self.splitter.deleteLater()
            self.splitter = None
        else:
            stack.removeWidget(self.view)
        self.view.setParent(None)
        if self._original is not None:
            stack.removeWidget(self._original)
            window.setCentralWidget(self._original)
            self._original.show()
        if not self.central:  # with central, the window's workspace owns the dock sizes
            self._restore_dock_sizes_later(sizes)
        stack.deleteLater()
        self._stack = None
        self._original = None

    # ------------------------------------------------------------------ events
    def _on_session(self) -> None:
        self.view.set_session(self.panel.session)

    def _on_document_changed(self) -> None:
        self._update_action()
        if not self.active:
            return
        if not self.document.valid:
            self._refuse(self.document.invalid_reason())
            return
        if not self.panel.start():
            self._refuse(self.panel.error)
            return
        self._status("The network changed: the step starts over")


def attach_stepper(window: QMainWindow, central: bool = False) -> StepperController:
    """Give ``window`` (a QMainWindow with a ``document`` and a central widget) the Backprop
    mode; returns its controller (keep it, or rely on it being a child of the window).
    ``central`` puts the panel beside the view in the central area instead of in a dock."""
    controller = StepperController(window, central=central)
    window.stepper = controller
    return controller
