"""The network scene: layer blocks and edges derived from the document's spec.

The scene is rebuilt incrementally from the spec on every ``document.changed``: items whose
layer still exists are kept and updated, the others removed, new ones created. Gestures (drop,
connect, move, delete, paste, rename) each become exactly one ``document.edit`` with a pure
function from :mod:`engine.edits`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
)

from designer.canvas.items import (
    BLOCK_H,
    BLOCK_W,
    INPUT_CLASS,
    INPUT_SUBTITLE,
    EdgeItem,
    LayerItem,
    NameEditorItem,
    PortItem,
    bezier,
    block_shape_text,
    palette,
)
from engine import edits
from engine.graph import INPUT
from engine.layers import LAYER_TYPES, ShapeProblem

LAYER_MIME = "application/x-nndesigner-layer"
LAYERS_MIME = "application/x-nndesigner-layers"

COLUMN_DX = 220.0
ROW_DY = 120.0


def new_layer_config(class_name: str) -> dict:
    """A sensible starting config for a new layer of ``class_name``: the layer type's
    ``new_config`` (what a freshly dropped block starts with, so that it is valid as soon as it
    is connected), any other required key filled in."""
    ltype = LAYER_TYPES.get(class_name)
    if ltype is None:
        return {}
    cfg = dict(ltype.new_config)
    for p in ltype.params:
        if p.required and p.name not in cfg:
            if p.kind == "int":
                cfg[p.name] = int(max(p.minimum or 1, 1))
            elif p.kind == "float":
                cfg[p.name] = float(p.minimum or 0.0)
            elif p.kind == "activation":
                cfg[p.name] = "relu"
    return cfg


def _entries(data: dict) -> list[tuple[str, str, dict, list[str]]]:
    """``(name, class_name, config, inbound)`` of every well-formed layer, the implicit
    "previous layer" input resolved. Malformed entries are skipped (the engine reports them)."""
    model = data.get("model") if isinstance(data, dict) else None
    layers = model.get("layers") if isinstance(model, dict) else None
    if not isinstance(layers, list):
        return []
    out: list[tuple[str, str, dict, list[str]]] = []
    prev: str | None = INPUT
    seen: set[str] = set()
    for layer in layers:
        cfg = layer.get("config") if isinstance(layer, dict) else None
        name = cfg.get("name") if isinstance(cfg, dict) else None
        if not isinstance(name, str) or not name or name in seen or name == INPUT:
            prev = None
            continue
        seen.add(name)
        inbound = layer.get("inbound")
        if inbound is None:
            ins = [prev] if prev else []
        elif isinstance(inbound, str):
            ins = [inbound]
        elif isinstance(inbound, list):
            ins = [s for s in inbound if isinstance(s, str)]
        else:
            ins = []
        cls = layer.get("class_name")
        out.append((name, cls if isinstance(cls, str) else "?", cfg, ins))
        prev = name
    return out


def infer_partial(data: dict) -> dict[str, tuple[tuple[int, ...], int]]:
    """Output shape and parameter count of every layer whose inputs can be inferred, even when
    the model as a whole is invalid (an unconnected block elsewhere must not blank the rest)."""
    model = data.get("model", {}) if isinstance(data, dict) else {}
    shape = model.get("input_shape") if isinstance(model, dict) else None
    known: dict[str, tuple[tuple[int, ...], int]] = {}
    if (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
    ):
        known[INPUT] = (tuple(shape), 0)
    entries = _entries(data)
    failed: set[str] = set()
    progress = True
    while progress:
        progress = False
        for name, cls, cfg, ins in entries:
            if name in known or name in failed or not ins:
                continue
            if not all(s in known for s in ins):
                continue
            progress = True
            ltype = LAYER_TYPES.get(cls)
            if ltype is None or ltype.check_config(cfg):
                failed.add(name)
                continue
            full = ltype.resolve(cfg)
            in_shapes = [known[s][0] for s in ins]
            try:
                out = ltype.output_shape(full, in_shapes)
                params = ltype.param_count(full, in_shapes)
            except (ShapeProblem, ArithmeticError, IndexError, KeyError, TypeError, ValueError):
                failed.add(name)
                continue
            known[name] = (tuple(out), int(params))
    return known


class NetworkScene(QGraphicsScene):
    """Layer blocks and edges of ``document``'s model, kept in step with its spec.

    Signals
    -------
    status_message(str) : a transient message for the status bar (refused rename, ...).
    """

    status_message = Signal(str)

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self._items: dict[str, LayerItem] = {}
        self._edges: dict[tuple[str, str], EdgeItem] = {}
        # Display positions of blocks the spec has no position for, computed once per name so
        # they do not jump around between edits (never written to the spec).
        self._auto_pos: dict[str, tuple[float, float]] = {}
        self._syncing = False
        self._pushing_selection = False
        self._press_pos: dict[str, QPointF] = {}
        self._link_from: tuple[str, str] | None = None  # (layer, "out"/"in") being dragged
        self._link_item: QGraphicsPathItem | None = None
        self._hot_port: PortItem | None = None
        self._editor: NameEditorItem | None = None
        self._drop_edge: EdgeItem | None = None
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.selectionChanged.connect(self._on_scene_selection)
        document.changed.connect(self.sync)
        document.replaced.connect(self._on_replaced)
        document.selection_changed.connect(self._apply_doc_selection)
        self.sync()

    # ------------------------------------------------------------------ queries
    def item_for(self, name: str) -> LayerItem | None:
        return self._items.get(name)

    def layer_items(self) -> list[LayerItem]:
        return list(self._items.values())

    def edge_items(self) -> list[EdgeItem]:
        return list(self._edges.values())

    def edge_for(self, src: str, dst: str) -> EdgeItem | None:
        return self._edges.get((src, dst))

    def selected_layer_names(self, include_input: bool = False) -> list[str]:
        """Selected blocks in spec order (the input first when asked for)."""
        order = [INPUT, *(e[0] for e in _entries(self.document.data))]
        chosen = {
            it.name for it in self.selectedItems() if isinstance(it, LayerItem) and it.scene()
        }
        return [n for n in order if n in chosen and (include_input or n != INPUT)]

    def selected_edges(self) -> list[EdgeItem]:
        return [it for it in self.selectedItems() if isinstance(it, EdgeItem)]

    def edge_at(self, pos: QPointF) -> EdgeItem | None:
        """The edge under ``pos`` (within a few pixels), nearest to its middle."""
        hits = [
            it
            for it in self.items(QRectF(pos.x() - 8, pos.y() - 8, 16, 16))
            if isinstance(it, EdgeItem) and it.shape().contains(pos)
        ]
        if not hits:
            return None
        return min(hits, key=lambda e: _dist(e.midpoint(), pos))

    def display_positions(self) -> dict[str, tuple[float, float]]:
        """Where every block is shown now (scene coordinates of block centres)."""
        return {n: (it.pos().x(), it.pos().y()) for n, it in self._items.items()}

    # ------------------------------------------------------------------ rebuild
    def _on_replaced(self) -> None:
        self._finish_rename_silently()
        self._auto_pos.clear()
        self.sync()

    def sync(self) -> None:
        """Bring items in line with the spec: keep, update, add, remove; never leak."""
        doc = self.document
        data = doc.data
        self._syncing = True
        try:
            self._finish_rename_silently()
            entries = _entries(data)
            classes = {INPUT: INPUT_CLASS, **{n: c for n, c, _, _ in entries}}
            configs = {n: cfg for n, _, cfg, _ in entries}
            inbound = {n: [s for s in ins if s in classes] for n, _, _, ins in entries}

            # A rename (one name gone, one new of the same class) keeps its block and place.
            gone = [n for n in self._items if n not in classes]
            new = [n for n in classes if n not in self._items]
            if (
                len(gone) == 1
                and len(new) == 1
                and self._items[gone[0]].class_name == (classes[new[0]])
            ):
                item = self._items.pop(gone[0])
                item.set_name(new[0])
                self._items[new[0]] = item
                if gone[0] in self._auto_pos:
                    self._auto_pos[new[0]] = self._auto_pos.pop(gone[0])
                for key in [k for k in self._edges if gone[0] in k]:
                    self._edges[tuple(new[0] if s == gone[0] else s for s in key)] = (
                        self._edges.pop(key)
                    )

            for name in [n for n in self._items if n not in classes]:
                self._remove_layer_item(name)

            positions = self._positions_for(data, classes, inbound)
            for name, cls in classes.items():
                item = self._items.get(name)
                if item is None or (
                    item.class_name != cls and INPUT_CLASS in (cls, item.class_name)
                ):
                    if item is not None:
                        self._remove_layer_item(name)
                    item = LayerItem(name, cls)
                    self.addItem(item)
                    self._items[name] = item
                x, y = positions[name]
                if item.pos() != QPointF(x, y):
                    item.setPos(x, y)

            self._sync_edges(inbound)
            self._update_contents(classes, configs, inbound)
            self._apply_doc_selection(doc.selection)
        finally:
            self._syncing = False

    def _remove_layer_item(self, name: str) -> None:
        item = self._items.pop(name)
        for key in [k for k in self._edges if name in k]:
            self._remove_edge(key)
        self.removeItem(item)

    def _remove_edge(self, key: tuple[str, str]) -> None:
        edge = self._edges.pop(key)
        for end in (edge.src_item, edge.dst_item):
            if edge in end.edges:
                end.edges.remove(edge)
        if self._drop_edge is edge:
            self._drop_edge = None
        self.removeItem(edge)

    def _sync_edges(self, inbound: dict[str, list[str]]) -> None:
        wanted: dict[tuple[str, str], tuple[int, int]] = {}
        for dst, srcs in inbound.items():
            for i, src in enumerate(srcs):
                wanted[(src, dst)] = (i, len(srcs))
        for key in [k for k in self._edges if k not in wanted]:
            self._remove_edge(key)
        for key, (slot, slots) in wanted.items():
            edge = self._edges.get(key)
            if edge is None:
                src, dst = self._items[key[0]], self._items[key[1]]
                edge = EdgeItem(src, dst, slot, slots)
                src.edges.append(edge)
                dst.edges.append(edge)
                self.addItem(edge)
                self._edges[key] = edge
            else:
                edge.set_slot(slot, slots)
            edge.update_path()

    def _update_contents(
        self, classes: dict[str, str], configs: dict[str, dict], inbound: dict[str, list[str]]
    ) -> None:
        doc = self.document
        graph = doc.graph
        if graph is not None:
            info = {INPUT: (graph.input_shape, 0)}
            info.update({n.name: (n.output_shape, n.params) for n in graph.nodes})
        else:
            info = infer_partial(doc.data)
        input_problems = [
            str(p)
            for p in doc.general_problems()
            if p.field == "model.input_shape" or "takes the model input" in p.message
        ]
        for name, item in self._items.items():
            cls = classes[name]
            shape, params = info.get(name, (None, None))
            shape_text = block_shape_text(shape)
            if name == INPUT:
                problems, activation, params_text = input_problems, None, ""
            else:
                problems = [_problem_text(p) for p in doc.problems_for(name)]
                ltype = LAYER_TYPES.get(cls)
                activation = None
                if ltype is not None and ltype.has_activation:
                    act = configs[name].get("activation") or "linear"
                    activation = act if isinstance(act, str) else None
                params_text = "" if params is None else f"{params:,} params"
            item.set_content(
                cls,
                _subtitle(cls, configs.get(name, {}), activation),
                activation,
                shape_text,
                params_text,
                problems,
                graph is not None and graph.output == name,
                len(inbound.get(name, [])),
            )
        for (_src, dst), edge in self._edges.items():
            edge.set_problems([p.message for p in doc.problems_for(dst) if p.field == "inbound"])

    def _positions_for(
        self, data: dict, classes: dict[str, str], inbound: dict[str, list[str]]
    ) -> dict[str, tuple[float, float]]:
        stored = edits.positions(data)
        out: dict[str, tuple[float, float]] = {}
        for name in classes:
            p = stored.get(name)
            if (
                isinstance(p, (list, tuple))
                and len(p) == 2
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p)
            ):
                out[name] = (float(p[0]), float(p[1]))
            elif name in self._auto_pos:
                out[name] = self._auto_pos[name]
        missing = [n for n in classes if n not in out]
        if not missing:
            return out
        # Where the auto-layout would put them, unless that spot is taken by a placed block.
        try:
            laid = edits.positions(edits.auto_layout(data))
        except (KeyError, TypeError, ValueError):
            laid = {}
        occupied = list(out.values())
        for name in missing:
            if name in laid:
                x, y = float(laid[name][0]), float(laid[name][1])
                if not _collides(x, y, occupied):
                    out[name] = (x, y)
                    occupied.append((x, y))
        for name in [n for n in missing if n not in out]:
            srcs = [s for s in inbound.get(name, []) if s in out]
            if srcs:
                x = max(out[s][0] for s in srcs) + COLUMN_DX
                y = sum(out[s][1] for s in srcs) / len(srcs)
            else:
                x = max((p[0] for p in occupied), default=-COLUMN_DX) + COLUMN_DX
                y = 0.0
            while _collides(x, y, occupied):
                y += ROW_DY
            out[name] = (x, y)
            occupied.append((x, y))
        for name in missing:
            self._auto_pos[name] = out[name]
        return out

    # ------------------------------------------------------------------ selection
    def _on_scene_selection(self) -> None:
        if self._syncing:
            return
        self._pushing_selection = True
        try:
            self.document.set_selection(self.selected_layer_names())
        finally:
            self._pushing_selection = False

    def _apply_doc_selection(self, names: list[str]) -> None:
        if self._pushing_selection:
            return
        was = self._syncing
        self._syncing = True
        try:
            wanted = set(names)
            for name, item in self._items.items():
                if name == INPUT:
                    continue
                if item.isSelected() != (name in wanted):
                    item.setSelected(name in wanted)
        finally:
            self._syncing = was

    def select_names(self, names: list[str]) -> None:
        self.clearSelection()
        for name in names:
            item = self._items.get(name)
            if item is not None:
                item.setSelected(True)

    def select_all(self) -> None:
        for item in self._items.values():
            if not item.is_input:
                item.setSelected(True)

    # ------------------------------------------------------------------ edits
    def _edit(self, text: str, fn) -> bool:
        """One undoable edit; a refused edit becomes a status message, never an exception."""
        try:
            return self.document.edit(text, fn)
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            self.status_message.emit(f"{text}: {msg}")
            return False

    def add_layer_at(self, class_name: str, pos: QPointF, edge: EdgeItem | None = None) -> str:
        """Add a block of ``class_name`` centred at ``pos``: on ``edge`` it is inserted there,
        otherwise it is added unconnected. Returns the new name ('' when refused)."""
        if class_name not in LAYER_TYPES:
            self.status_message.emit(f"Unknown layer type {class_name!r}")
            return ""
        where = (round(pos.x()), round(pos.y()))
        config = new_layer_config(class_name)
        result: dict[str, str] = {}
        shown = self.display_positions()

        def fn(d: dict) -> dict:
            if edge is not None:
                new, name = edits.insert_on_edge(d, class_name, edge.src, edge.dst, config, where)
                # Make room in the same edit, so that one undo takes the block and the moves back.
                new = self.make_room(new, name, shown)
            else:
                new, name = edits.add_layer(d, class_name, config, where)
            result["name"] = name
            return new

        text = f"Insert {class_name}" if edge is not None else f"Add {class_name}"
        if self._edit(text, fn):
            self.document.set_selection([result["name"]])
            if edge is None:
                self.status_message.emit(
                    f"Added '{result['name']}': connect it by dragging from an output port"
                )
            return result["name"]
        return ""

    @staticmethod
    def make_room(data: dict, name: str, shown: dict[str, tuple[float, float]]) -> dict:
        """``data`` with the freshly inserted ``name`` placed after its input and the blocks
        downstream moved along the flow to make room (see :func:`engine.edits.make_room`),
        with this canvas' block size and spacing. ``shown``: :meth:`display_positions` from
        before the insertion. For any caller that inserts a layer on an edge."""
        return edits.make_room(data, name, shown, (COLUMN_DX, ROW_DY), (BLOCK_W, BLOCK_H))

    def delete_selection(self) -> bool:
        names = self.selected_layer_names()
        links = [(e.src, e.dst) for e in self.selected_edges()]
        if (
            self._items.get(INPUT) is not None
            and self._items[INPUT].isSelected()
            and not (names or links)
        ):
            self.status_message.emit("The model input cannot be deleted")
            return False
        if not names and not links:
            return False

        def fn(d: dict) -> dict:
            for src, dst in links:
                if src in names or dst in names:
                    continue
                d = edits.disconnect(d, src, dst)
            if names:
                d = edits.remove_layers(d, names)
            return d

        parts = []
        if names:
            parts.append(f"{len(names)} layer{'s' if len(names) > 1 else ''}")
        kept_links = [x for x in links if x[0] not in names and x[1] not in names]
        if kept_links:
            parts.append(f"{len(kept_links)} connection{'s' if len(kept_links) > 1 else ''}")
        return self._edit("Delete " + " and ".join(parts or ["selection"]), fn)

    def connect_layers(self, src: str, dst: str) -> bool:
        if src == dst:
            self.status_message.emit("A layer cannot feed itself")
            return False
        if dst == INPUT:
            self.status_message.emit("Nothing can feed the model input")
            return False
        if self._reaches(dst, src):
            self.status_message.emit(f"Connecting '{src}' to '{dst}' would make a cycle")
            return False
        return self._edit(f"Connect {src} → {dst}", lambda d: edits.connect(d, src, dst))

    def _reaches(self, start: str, goal: str) -> bool:
        """True when ``goal`` is downstream of ``start`` (so goal -> start would loop)."""
        consumers: dict[str, list[str]] = {}
        for name, _, _, ins in _entries(self.document.data):
            for s in ins:
                consumers.setdefault(s, []).append(name)
        todo, seen = [start], set()
        while todo:
            n = todo.pop()
            if n == goal:
                return True
            if n in seen:
                continue
            seen.add(n)
            todo += consumers.get(n, [])
        return False

    def auto_layout(self) -> bool:
        if not self._edit("Auto layout", edits.auto_layout):
            self.status_message.emit("The layout is already tidy")
            return False
        return True

    # ------------------------------------------------------------------ clipboard
    def selection_payload(self) -> dict | None:
        """The selected layers as paste-able specs (explicit inputs) with their positions."""
        names = self.selected_layer_names()
        if not names:
            return None
        data = self.document.data
        ins = edits.explicit_inbound(data)
        shown = self.display_positions()
        specs = []
        for name in names:
            spec = {k: v for k, v in edits.find_layer(data, name).items() if k != "inbound"}
            spec = json.loads(json.dumps(spec))
            spec["inbound"] = list(ins.get(name, []))
            specs.append(spec)
        pos = {n: [shown[n][0], shown[n][1]] for n in names if n in shown}
        return {"layers": specs, "positions": pos}

    def paste_payload(self, payload: dict, offset: tuple[float, float]) -> list[str]:
        """Paste ``payload`` (from :meth:`selection_payload`) as one edit; selects the copies."""
        specs = payload.get("layers") if isinstance(payload, dict) else None
        if not isinstance(specs, list) or not specs:
            self.status_message.emit("Nothing to paste")
            return []
        valid = [
            s
            for s in specs
            if isinstance(s, dict)
            and isinstance(s.get("config"), dict)
            and isinstance(s["config"].get("name"), str)
            and isinstance(s.get("class_name"), str)
        ]
        if len(valid) != len(specs):
            self.status_message.emit("The clipboard does not hold NN Designer layers")
            return []
        pos = payload.get("positions") if isinstance(payload.get("positions"), dict) else {}
        result: dict[str, list[str]] = {}

        def fn(d: dict) -> dict:
            new, names = edits.paste_layers(d, valid, offset, pos)
            result["names"] = names
            return new

        n = len(valid)
        if self._edit(f"Paste {n} layer{'s' if n > 1 else ''}", fn):
            self.select_names(result["names"])
            return result["names"]
        return []

    # ------------------------------------------------------------------ rename
    def start_rename(self, name: str) -> bool:
        item = self._items.get(name)
        if item is None or item.is_input:
            return False
        self._finish_rename_silently()
        item.set_notice("")
        editor = NameEditorItem(item)
        editor.committed.connect(lambda text, n=name: self._commit_rename(n, text))
        editor.cancelled.connect(self._end_rename)
        self._editor = editor
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        cursor = editor.textCursor()
        cursor.select(cursor.SelectionType.Document)
        editor.setTextCursor(cursor)
        return True

    @property
    def rename_editor(self) -> NameEditorItem | None:
        return self._editor

    def _commit_rename(self, old: str, text: str) -> None:
        self._end_rename()
        if text == old:
            return
        try:
            edits.rename_layer(self.document.data, old, text)
        except (KeyError, ValueError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            item = self._items.get(old)
            if item is not None:
                item.set_notice(f"Rename refused: {msg}")
            self.status_message.emit(f"Rename refused: {msg}")
            return
        self._edit(f"Rename {old} → {text}", lambda d: edits.rename_layer(d, old, text))

    def _end_rename(self) -> None:
        editor, self._editor = self._editor, None
        if editor is not None:
            editor.done = True
            editor.clearFocus()
            editor.hide()
            # Often called from inside the editor's own key handler: delete it afterwards.
            editor.deleteLater()

    def _finish_rename_silently(self) -> None:
        """The spec changed under an open editor: drop it without committing."""
        if self._editor is not None:
            self._end_rename()

    # ------------------------------------------------------------------ palette drag feedback
    def set_drop_edge(self, edge: EdgeItem | None) -> None:
        if self._drop_edge is not None and self._drop_edge is not edge:
            self._drop_edge.set_drop_target(False)
        self._drop_edge = edge
        if edge is not None:
            edge.set_drop_target(True)

    # ------------------------------------------------------------------ mouse
    def _port_at(self, pos: QPointF) -> PortItem | None:
        for it in self.items(pos):
            if isinstance(it, PortItem):
                return it
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # Qt override
        if event.button() == Qt.MouseButton.LeftButton and self._editor is None:
            port = self._port_at(event.scenePos())
            if port is not None:
                self._link_from = (port.layer.name, port.kind)
                path = QGraphicsPathItem()
                pen = QPen(palette().color(palette().ColorRole.Highlight), 2.2)
                pen.setStyle(Qt.PenStyle.DashLine)
                path.setPen(pen)
                path.setZValue(10)
                self.addItem(path)
                self._link_item = path
                self._update_link(event.scenePos())
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = {
                it.name: QPointF(it.pos())
                for it in self.selectedItems()
                if isinstance(it, LayerItem)
            }

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # Qt override
        if self._link_from is not None:
            self._update_link(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # Qt override
        if self._link_from is not None:
            self._finish_link(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or not self._press_pos:
            return
        moves: dict[str, tuple[float, float]] = {}
        for name, start in self._press_pos.items():
            item = self._items.get(name)
            if item is not None and item.scene() is self and item.pos() != start:
                moves[name] = (round(item.pos().x()), round(item.pos().y()))
        self._press_pos = {}
        if moves:
            n = len(moves)
            text = f"Move {next(iter(moves))}" if n == 1 else f"Move {n} blocks"
            # Pin the blocks that only had a display position too, so that the saved layout
            # reopens exactly as the user sees it now.
            stored = edits.positions(self.document.data)
            shown = {k: v for k, v in self.display_positions().items() if k not in stored}
            all_moves = {**shown, **moves}
            if not self._edit(text, lambda d: edits.move_layers(d, all_moves)):
                self.sync()

    def _target_port(self, pos: QPointF) -> PortItem | None:
        """The port a link dragged to ``pos`` would attach to (ports or whole blocks count)."""
        assert self._link_from is not None
        name, kind = self._link_from
        want = "in" if kind == "out" else "out"
        port = self._port_at(pos)
        if port is not None and port.kind == want and port.layer.name != name:
            return port
        for it in self.items(pos):
            if isinstance(it, LayerItem) and it.name != name:
                return it.in_port if want == "in" else it.out_port
        return None

    def _update_link(self, pos: QPointF) -> None:
        assert self._link_from is not None and self._link_item is not None
        name, kind = self._link_from
        item = self._items[name]
        target = self._target_port(pos)
        if target is not self._hot_port:
            if self._hot_port is not None:
                self._hot_port.hot = False
                self._hot_port.update()
            self._hot_port = target
            if target is not None:
                target.hot = True
                target.update()
        end = target.scenePos() if target is not None else pos
        if kind == "out":
            path = bezier(item.output_port_pos(), end)
        else:
            path = bezier(end, item.input_port_pos())
        self._link_item.setPath(path)

    def _finish_link(self, pos: QPointF) -> None:
        assert self._link_from is not None
        name, kind = self._link_from
        target = self._target_port(pos)
        self._link_from = None
        if self._hot_port is not None:
            self._hot_port.hot = False
            self._hot_port.update()
            self._hot_port = None
        if self._link_item is not None:
            self.removeItem(self._link_item)
            self._link_item = None
        if target is None:
            return
        other = target.layer.name
        if kind == "out":
            self.connect_layers(name, other)
        else:
            self.connect_layers(other, name)

    def cancel_link(self) -> None:
        if self._link_from is not None:
            self._link_from = None
            if self._hot_port is not None:
                self._hot_port.hot = False
                self._hot_port = None
            if self._link_item is not None:
                self.removeItem(self._link_item)
                self._link_item = None


def _collides(x: float, y: float, occupied: list[tuple[float, float]]) -> bool:
    return any(abs(px - x) < BLOCK_W + 20 and abs(py - y) < BLOCK_H + 10 for px, py in occupied)


def _dist(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


def _subtitle(class_name: str, config: dict, activation: str | None) -> str:
    """The block's second line: its type and the one setting that tells it apart (the
    activation first, else what the layer type says)."""
    if class_name == INPUT_CLASS:
        return INPUT_SUBTITLE
    if activation is not None:
        detail = activation
    else:
        ltype = LAYER_TYPES.get(class_name)
        detail = ltype.subtitle(config) if ltype is not None else ""
    return f"{class_name} · {detail}" if detail else class_name


def _problem_text(p: Any) -> str:
    return f"{p.field}: {p.message}" if p.field and p.field != "inbound" else p.message


def put_on_clipboard(payload: dict) -> None:
    """Put copied layers on the clipboard: the JSON as plain text (readable anywhere) plus the
    same bytes under our MIME type.

    The clipboard makes its own QMimeData (through ``setText``) and we add our format to it. A
    QMimeData created from Python would be deleted by Qt's clipboard at process exit, after the
    interpreter is gone, and crash there (seen with PySide6 6.11 and 6.12 on offscreen).
    """
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    clipboard = QApplication.clipboard()
    clipboard.setText(text)
    mime = clipboard.mimeData()
    if mime is not None:
        mime.setData(LAYERS_MIME, text.encode("utf-8"))


def payload_from_mime(mime: QMimeData | None) -> dict | None:
    """The copied layers on the clipboard, from our MIME type or JSON text; None otherwise."""
    if mime is None:
        return None
    raw: str | None = None
    if mime.hasFormat(LAYERS_MIME):
        raw = bytes(mime.data(LAYERS_MIME).data()).decode("utf-8", "replace")
    elif mime.hasText():
        raw = mime.text()
    if not raw:
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("layers"), list):
        return payload
    return None


def clipboard_payload() -> dict | None:
    return payload_from_mime(QApplication.clipboard().mimeData())
