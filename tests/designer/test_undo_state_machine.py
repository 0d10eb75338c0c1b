"""A Hypothesis state machine of edits on the document: undoing everything restores the original
project byte for byte, and redoing everything restores the final one."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from designer.document import Document
from engine import edits
from engine.project import load_project, project_bytes

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def serialized(doc: Document) -> bytes:
    return project_bytes(doc.project, ".json")


class EditMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.doc = Document(load_project(EXAMPLES / "skip_connection.json"))
        self.original = serialized(self.doc)
        self.pushed = 0

    def names(self):
        return edits.layer_names(self.doc.data)

    def _edit(self, text, fn, merge_key=None):
        before = serialized(self.doc)
        try:
            self.doc.edit(text, fn, merge_key)
        except (KeyError, ValueError):
            assert serialized(self.doc) == before  # a refused edit changes nothing

    @rule(
        cls=st.sampled_from(["Dense", "Dropout", "Activation", "Add", "Concatenate", "Flatten"]),
        x=st.integers(-300, 600),
        y=st.integers(-200, 200),
    )
    def add(self, cls, x, y):
        cfg = {
            "Dense": {"units": 4},
            "Dropout": {"rate": 0.3},
            "Activation": {"activation": "relu"},
        }.get(cls, {})
        self._edit("add", lambda d: edits.add_layer(d, cls, cfg, (x, y))[0])

    @precondition(lambda self: self.names())
    @rule(i=st.integers(0, 20))
    def remove(self, i):
        name = self.names()[i % len(self.names())]
        self._edit("remove", lambda d: edits.remove_layers(d, [name]))

    @precondition(lambda self: self.names())
    @rule(i=st.integers(0, 20), j=st.integers(0, 20))
    def connect(self, i, j):
        names = ["input", *self.names()]
        src, dst = names[i % len(names)], self.names()[j % len(self.names())]
        self._edit("connect", lambda d: edits.connect(d, src, dst))

    @precondition(lambda self: self.names())
    @rule(i=st.integers(0, 20), units=st.integers(1, 64))
    def set_units(self, i, units):
        name = self.names()[i % len(self.names())]
        if edits.find_layer(self.doc.data, name)["class_name"] == "Dense":
            self._edit("units", lambda d: edits.set_param(d, name, "units", units), (name, "units"))

    @precondition(lambda self: self.names())
    @rule(i=st.integers(0, 20), x=st.integers(-300, 600))
    def move(self, i, x):
        name = self.names()[i % len(self.names())]
        self._edit("move", lambda d: edits.move_layers(d, {name: (x, x / 2)}))

    @precondition(lambda self: self.names())
    @rule(i=st.integers(0, 20), k=st.integers(0, 99))
    def rename(self, i, k):
        name = self.names()[i % len(self.names())]
        self._edit("rename", lambda d: edits.rename_layer(d, name, f"renamed_{k}"))

    @rule()
    def layout(self):
        self._edit("layout", edits.auto_layout)

    @precondition(lambda self: self.doc.undo_stack.canUndo())
    @rule()
    def undo(self):
        self.doc.undo_stack.undo()

    @precondition(lambda self: self.doc.undo_stack.canRedo())
    @rule()
    def redo(self):
        self.doc.undo_stack.redo()

    @invariant()
    def names_unique_and_json_safe(self):
        names = self.names()
        assert len(names) == len(set(names))
        json.dumps(self.doc.data, allow_nan=False)

    def teardown(self):
        stack = self.doc.undo_stack
        stack.setIndex(stack.count())
        final = serialized(self.doc)
        stack.setIndex(0)
        assert serialized(self.doc) == self.original
        stack.setIndex(stack.count())
        assert serialized(self.doc) == final


EditMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEditMachine = EditMachine.TestCase
