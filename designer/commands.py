"""Undo commands. Each holds the spec before and after one edit (a pure function of the spec),
so undo restores the project exactly, byte for byte."""

from __future__ import annotations

import copy
import weakref

from PySide6.QtGui import QUndoCommand

_MERGE_ID = 1


class EditCommand(QUndoCommand):
    """One edit of the document's spec.

    Consecutive commands with the same non-None ``merge_key`` merge into one undo step (the
    same field edited repeatedly, a block dragged in several moves).
    """

    def __init__(
        self, document, text: str, before: dict, after: dict, merge_key: object | None = None
    ) -> None:
        super().__init__(text)
        # A weak reference: the document's undo stack owns this command, and a strong one back
        # would keep the document alive until interpreter shutdown, where Qt crashes freeing it.
        self._document = weakref.ref(document)
        self.before = before
        self.after = after
        self.merge_key = merge_key

    @property
    def document(self):
        return self._document()

    def id(self) -> int:  # Qt override
        return _MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # Qt override
        if not isinstance(other, EditCommand) or other.merge_key != self.merge_key:
            return False
        self.after = copy.deepcopy(other.after)
        return True

    def redo(self) -> None:  # Qt override
        self.document.set_data(self.after)

    def undo(self) -> None:  # Qt override
        self.document.set_data(self.before)
