"""Fixtures shared by the main-window tests (test_files.py, test_main_window.py) and the
training-view tests (test_reopen.py, test_training_views.py: ``training_window``).

``isolated`` is not autouse here: a test module opts in with
``pytestmark = pytest.mark.usefixtures("isolated")``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox

from designer.document import Document
from designer.main_window import MainWindow
from engine.project import Project, from_dict, load_project


def _unexpected(*args, **kwargs):
    raise AssertionError(f"unexpected dialog: {args[1:3] if len(args) > 2 else args}")


@pytest.fixture
def unexpected_dialog():
    """A stand-in for a dialog no test asked for: it fails the test."""
    return _unexpected


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real settings, no real recovery folder, and no dialog a test did not ask for."""
    monkeypatch.setenv("NNDESIGNER_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("NNDESIGNER_RECOVERY_DIR", str(tmp_path / "recovery"))
    for name in ("question", "critical", "warning", "information", "about"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(_unexpected))
    monkeypatch.setattr(QMessageBox, "exec", _unexpected)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(_unexpected))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(_unexpected))


@pytest.fixture
def window_size() -> tuple[int, int] | None:
    """The size :func:`make_window` gives a window it shows; None keeps MainWindow's own.
    A test module overrides this fixture to choose another."""
    return None


@pytest.fixture
def make_window(qtbot, window_size):
    """``make(project=None, show=True, **options)``: a MainWindow on ``project`` (a path, a
    project dict, or None for the seed), shown unless ``show`` is false."""
    windows: list[MainWindow] = []

    def make(project=None, show: bool = True, **options) -> MainWindow:
        doc = Document(load_project(project) if isinstance(project, (str, Path)) else project)
        window = MainWindow(doc, **options)
        # pytest-qt closes its widgets before fixtures tear down: closing must not ask to save.
        qtbot.addWidget(window, before_close_func=lambda w: w.document.set_clean())
        windows.append(window)
        if show:
            if window_size is not None:
                window.resize(*window_size)
            window.show()
            qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        window.document.undo_stack.clear()


def _drag_drop(window, path, drop: bool = True):
    """Drag ``path`` (a file or folder) over the middle of ``window`` and, when the window
    accepts it and ``drop`` is true, drop it there (Qt delivers a drop only after an accepted
    enter). Returns ``(accepted, mime)``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(window.width() / 2, window.height() / 2)
    buttons = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton)
    enter = QDragEnterEvent(pos.toPoint(), *buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if enter.isAccepted() and drop:
        QApplication.sendEvent(window, QDropEvent(pos, *buttons, Qt.KeyboardModifier.NoModifier))
    return enter.isAccepted(), mime


@pytest.fixture
def drag_drop():
    """``drag_drop(window, path, drop=True) -> (accepted, mime)``: a file dragged from a file
    manager onto the window."""
    return _drag_drop


class TrainingHost(QMainWindow):
    """A stand-in main window for the training views: only a document (from a spec dict or a
    Project), shown offscreen."""

    def __init__(self, spec_or_project) -> None:
        super().__init__()
        project = spec_or_project
        if not isinstance(project, Project):
            project = from_dict(copy.deepcopy(spec_or_project))
        self.document = Document(project)


@pytest.fixture
def training_window(qtbot):
    """``make(spec_or_project) -> (window, controller)``: a shown :class:`TrainingHost` with
    the training views attached (designer.training.attach_training); every controller made is
    shut down at the end of the test."""
    from designer.training import attach_training

    made = []

    def make(spec_or_project):
        window = TrainingHost(spec_or_project)
        qtbot.addWidget(window, before_close_func=lambda w: w.document.set_clean())
        ctrl = attach_training(window)
        window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        window.resize(1400, 900)
        window.show()
        made.append(ctrl)
        return window, ctrl

    yield make
    for ctrl in made:
        ctrl.shutdown()
