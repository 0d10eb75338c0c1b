"""The open document: the current Project, its undo stack, validation and file state.

Views never change the spec themselves: a gesture calls :meth:`Document.edit` with a pure
function from :mod:`engine.edits`; the document pushes an :class:`~designer.commands.EditCommand`
on its QUndoStack, re-validates, and emits ``changed``. Views listen and redraw.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.errors import NNDError, Problem
from engine.graph import Graph
from engine.project import (
    Project,
    empty_project,
    load_project,
    save_project,
    seed_project,
    weight_key_problems,
)
from engine.validate import project_problems

#: The project's key for how the window shows it (the workspace, the decision boundary's
#: plane): unknown to the engine, saved with the project, and view state rather than an edit,
#: so undo and redo leave it as it is.
VIEW_KEY = "designer"


def view_state(data: dict, key: str) -> Any:
    """``data["designer"][key]``, or None when absent or malformed (a hand-edited file)."""
    own = data.get(VIEW_KEY) if isinstance(data, dict) else None
    return own.get(key) if isinstance(own, dict) else None


def set_view_state(data: dict, key: str, value: Any) -> None:
    """Write ``data["designer"][key] = value`` (None removes it), keeping the other keys."""
    own = data.get(VIEW_KEY)
    own = dict(own) if isinstance(own, dict) else {}
    if value is None:
        own.pop(key, None)
    else:
        own[key] = copy.deepcopy(value)
    if own:
        data[VIEW_KEY] = own
    else:
        data.pop(VIEW_KEY, None)


def spec_text(data: dict) -> str:
    """The canonical serialization used to compare specs (undo tests, dirty state), without
    the view state (:data:`VIEW_KEY`): showing another workspace or plane changes no spec."""
    spec = {k: v for k, v in data.items() if k != VIEW_KEY} if isinstance(data, dict) else data
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


class Document(QObject):
    """Owns the current :class:`Project` and its QUndoStack.

    Signals
    -------
    changed : the spec changed (an edit, undo or redo).
    replaced : a different project was loaded (new/open/recover).
    file_state_changed : the path or the clean/dirty state changed.
    selection_changed(list) : the selected layer names.
    """

    changed = Signal()
    replaced = Signal()
    file_state_changed = Signal()
    selection_changed = Signal(list)

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.project: Project = project or seed_project()
        self.graph: Graph | None = None
        self.problems: list[Problem] = []
        self.selection: list[str] = []
        self._trained_unsaved = False
        self._validate()

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_state_changed.emit()

    # ------------------------------------------------------------------ state
    @property
    def data(self) -> dict:
        return self.project.data

    @property
    def path(self) -> Path | None:
        return self.project.path

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean() or self._trained_unsaved

    def set_clean(self) -> None:
        """Treat the current state as saved (nothing to ask on close)."""
        self._trained_unsaved = False
        self.undo_stack.setClean()
        self.file_state_changed.emit()

    def set_trained(self, weights: dict | None, history: dict | None) -> None:
        """Attach trained weights and history (from the training worker, as copies). They are
        not an undoable edit, but they are unsaved work: the document becomes dirty, so closing
        asks to save and autosave keeps them."""
        self.project.weights = weights
        self.project.history = history
        self._trained_unsaved = True
        self.file_state_changed.emit()

    @property
    def valid(self) -> bool:
        return not self.problems

    def problems_for(self, layer: str) -> list[Problem]:
        return [p for p in self.problems if p.layer == layer]

    def general_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.layer is None]

    def invalid_reason(self) -> str:
        """One line saying why training/export are disabled ('' when valid)."""
        if not self.problems:
            return ""
        first = str(self.problems[0])
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")

    def weight_warnings(self) -> list[str]:
        """Trained weights the network does not use (for no layer, no such weight, or not
        fitting the layer), one sentence each: shown when a project is opened, since they
        would otherwise go unnoticed (the file keeps them; training does not use them)."""
        return weight_key_problems(self.project, self.graph)

    def _validate(self) -> None:
        self.graph, self.problems = project_problems(self.project)

    # ------------------------------------------------------------------ edits
    def edit(self, text: str, fn: Callable[[dict], dict], merge_key: object | None = None) -> bool:
        """Apply a pure edit ``fn(spec) -> new spec`` as one undoable command.

        ``merge_key``: consecutive edits with the same key merge into one undo step (e.g. the
        same field edited repeatedly). Returns False when the edit changed nothing.
        """
        from designer.commands import EditCommand

        before = copy.deepcopy(self.project.data)
        after = fn(copy.deepcopy(before))
        if spec_text(after) == spec_text(before):
            return False
        self.undo_stack.push(EditCommand(self, text, before, after, merge_key))
        return True

    def set_data(self, data: dict) -> None:
        """Replace the spec (called by commands on redo/undo) and notify the views."""
        view = self.project.data.get(VIEW_KEY)
        self.project.data = copy.deepcopy(data)
        # How the window shows the project is not part of the step being undone or redone.
        if view is None:
            self.project.data.pop(VIEW_KEY, None)
        else:
            self.project.data[VIEW_KEY] = view
        # Trained weights stay attached; a layer that no longer fits them is rebuilt on training.
        self._validate()
        names = set(self._layer_names())
        sel = [n for n in self.selection if n in names]
        if sel != self.selection:
            self.selection = sel
            self.selection_changed.emit(sel)
        self.changed.emit()

    def _layer_names(self) -> list[str]:
        return [layer.get("config", {}).get("name") for layer in self.project.layers]

    def set_selection(self, names: list[str]) -> None:
        names = list(names)
        if names != self.selection:
            self.selection = names
            self.selection_changed.emit(names)

    # ------------------------------------------------------------------ files
    def replace(self, project: Project) -> None:
        """Start over with another project (new/open): clears undo history."""
        self.project = project
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._trained_unsaved = False
        self.selection = []
        self._validate()
        self.replaced.emit()
        self.changed.emit()
        self.file_state_changed.emit()

    def new(self) -> None:
        self.replace(empty_project())

    def open(self, path: str | Path) -> None:
        """Load ``path``; on any error raise NNDError and leave the current document untouched."""
        project = load_project(path)
        self.replace(project)

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.project.path
        if target is None:
            raise NNDError("the project has no file yet; choose where to save it")
        save_project(self.project, target)
        self._trained_unsaved = False
        self.undo_stack.setClean()
        self.file_state_changed.emit()
        return target

    @property
    def title(self) -> str:
        name = self.project.name
        where = self.project.path.name if self.project.path else "unsaved"
        return f"{name} ({where}){' *' if self.dirty else ''}"
