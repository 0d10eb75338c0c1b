"""Pure edit functions on a project spec: each takes the spec dict and returns a new one.

The designer's undo commands apply these; nothing here mutates its input. After every edit the
layer list is kept in a canonical form: layers in topological order (unconnected ones last),
``inbound`` written only where it differs from "the previous layer" (so a chain stays a plain
list, as in a Keras Sequential), and block positions kept in ``data["layout"]["positions"]``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from engine.graph import INPUT
from engine.layers import LAYER_TYPES, snake_name

LAYOUT_KEY = "layout"


def _layers(data: dict) -> list[dict]:
    model = data.setdefault("model", {})
    layers = model.get("layers")
    if not isinstance(layers, list):
        layers = model["layers"] = []
    return layers


def layer_names(data: dict) -> list[str]:
    return [layer["config"]["name"] for layer in _layers(data)]


def find_layer(data: dict, name: str) -> dict:
    for layer in _layers(data):
        if layer.get("config", {}).get("name") == name:
            return layer
    raise KeyError(f"no layer named '{name}'")


def explicit_inbound(data: dict) -> dict[str, list[str]]:
    """Every layer's inputs, with the implicit "previous layer" rule resolved."""
    out: dict[str, list[str]] = {}
    prev = INPUT
    for layer in _layers(data):
        name = layer["config"]["name"]
        inbound = layer.get("inbound")
        if inbound is None:
            out[name] = [prev]
        elif isinstance(inbound, str):
            out[name] = [inbound]
        else:
            out[name] = list(inbound)
        prev = name
    return out


def positions(data: dict) -> dict[str, list[float]]:
    layout = data.get(LAYOUT_KEY)
    if isinstance(layout, dict) and isinstance(layout.get("positions"), dict):
        return layout["positions"]
    return {}


def unique_name(data: dict, stem: str) -> str:
    """The next free Keras-style name for ``stem`` (``dense``, ``dense_1``...)."""
    taken = set(layer_names(data)) | {INPUT}
    if stem not in taken:
        return stem
    i = 1
    while f"{stem}_{i}" in taken:
        i += 1
    return f"{stem}_{i}"


def _canonical(data: dict, inbound: dict[str, list[str]]) -> dict:
    """Rewrite ``data`` with layers in topological order and minimal ``inbound`` keys."""
    layers = {layer["config"]["name"]: layer for layer in _layers(data)}
    order = list(layers)
    placed = {INPUT}
    result: list[str] = []
    pending = [n for n in order if inbound.get(n)]
    while True:
        ready = [n for n in pending if all(s in placed for s in inbound[n])]
        if not ready:
            break
        # Prefer the layer that continues the chain from the last placed one: chains stay chains.
        last = result[-1] if result else INPUT
        pick = next((n for n in ready if inbound[n] == [last]), ready[0])
        result.append(pick)
        placed.add(pick)
        pending.remove(pick)
    result += [n for n in order if n not in result]  # unconnected or in a cycle: keep, last
    new_layers = []
    prev = INPUT
    for n in result:
        layer = {k: v for k, v in layers[n].items() if k != "inbound"}
        ins = inbound.get(n, [])
        if ins != [prev]:
            layer["inbound"] = list(ins)
        new_layers.append(layer)
        prev = n
    data["model"]["layers"] = new_layers
    return data


def _with_positions(data: dict, pos: dict[str, list[float]]) -> None:
    layout = data.get(LAYOUT_KEY)
    if not isinstance(layout, dict):
        layout = data[LAYOUT_KEY] = {}
    layout["positions"] = pos


def add_layer(
    data: dict,
    class_name: str,
    config: dict | None = None,
    position: tuple[float, float] | None = None,
    inbound: list[str] | None = None,
) -> tuple[dict, str]:
    """Add a layer; ``inbound=None`` adds it unconnected (flagged until connected).

    Returns the new spec and the new layer's name.
    """
    if class_name not in LAYER_TYPES:
        raise KeyError(f"unknown layer class {class_name!r}")
    new = copy.deepcopy(data)
    config = dict(config or {})
    name = config.get("name") or unique_name(new, snake_name(class_name))
    if name in layer_names(new) or name == INPUT:
        name = unique_name(new, name)
    config = {"name": name, **{k: v for k, v in config.items() if k != "name"}}
    ins = explicit_inbound(new)
    _layers(new).append({"class_name": class_name, "config": config})
    ins[name] = list(inbound or [])
    if position is not None:
        pos = dict(positions(new))
        pos[name] = [float(position[0]), float(position[1])]
        _with_positions(new, pos)
    return _canonical(new, ins), name


def insert_on_edge(
    data: dict,
    class_name: str,
    src: str,
    dst: str,
    config: dict | None = None,
    position: tuple[float, float] | None = None,
) -> tuple[dict, str]:
    """Insert a new layer on the edge ``src -> dst``: src feeds it, it feeds dst."""
    ins = explicit_inbound(data)
    if src not in ins.get(dst, []):
        raise KeyError(f"there is no connection from '{src}' to '{dst}'")
    new, name = add_layer(data, class_name, config, position, inbound=[src])
    ins = explicit_inbound(new)
    ins[dst] = [name if s == src else s for s in ins[dst]]
    return _canonical(new, ins), name


def remove_layers(data: dict, names: list[str]) -> dict:
    """Remove layers. A removed single-input layer's consumers are re-wired to its input, so
    deleting a block from a chain keeps the chain connected."""
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    doomed = set(names)
    for name in names:
        if name not in ins:
            raise KeyError(f"no layer named '{name}'")
    for name in names:
        source = ins[name][0] if len(ins[name]) == 1 else None
        for other, srcs in ins.items():
            if other in doomed or name not in srcs:
                continue
            replaced: list[str] = []
            for s in srcs:
                if s == name:
                    if source is not None and source not in replaced and source not in srcs:
                        replaced.append(source)
                else:
                    replaced.append(s)
            ins[other] = replaced
        # A removed layer fed by another removed one passes its own source on.
        for other in doomed:
            if name in ins.get(other, []) and source is not None:
                ins[other] = [source if s == name else s for s in ins[other]]
    new["model"]["layers"] = [
        layer for layer in _layers(new) if layer["config"]["name"] not in doomed
    ]
    for name in doomed:
        ins.pop(name, None)
    pos = {k: v for k, v in positions(new).items() if k not in doomed}
    if LAYOUT_KEY in new and isinstance(new[LAYOUT_KEY], dict) and "positions" in new[LAYOUT_KEY]:
        _with_positions(new, pos)
    return _canonical(new, ins)


def connect(data: dict, src: str, dst: str) -> dict:
    """Connect ``src`` (a layer or ``"input"``) to ``dst``. A single-input layer's input is
    replaced; a merge layer (Add, Concatenate) gains one more input."""
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    if dst not in ins:
        raise KeyError(f"no layer named '{dst}'")
    if src != INPUT and src not in ins:
        raise KeyError(f"no layer named '{src}'")
    if src == dst:
        raise ValueError("a layer cannot feed itself")
    cls = find_layer(new, dst)["class_name"]
    merge = LAYER_TYPES[cls].merge if cls in LAYER_TYPES else False
    if merge:
        if src not in ins[dst]:
            ins[dst] = ins[dst] + [src]
    else:
        ins[dst] = [src]
    return _canonical(new, ins)


def disconnect(data: dict, src: str, dst: str) -> dict:
    """Remove the edge ``src -> dst`` (``dst`` may become unconnected)."""
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    if src not in ins.get(dst, []):
        raise KeyError(f"there is no connection from '{src}' to '{dst}'")
    ins[dst] = [s for s in ins[dst] if s != src]
    return _canonical(new, ins)


def set_param(data: dict, layer: str, key: str, value: Any) -> dict:
    """Set a layer's config key; ``value=None`` for a key with a default removes it."""
    if key == "name":
        return rename_layer(data, layer, value)
    new = copy.deepcopy(data)
    cfg = find_layer(new, layer)["config"]
    if value is None:
        cfg.pop(key, None)
    else:
        cfg[key] = value
    return new


def set_class(data: dict, layer: str, class_name: str) -> dict:
    """Change a layer's type, keeping the config keys the new type also has."""
    new = copy.deepcopy(data)
    spec = find_layer(new, layer)
    known = {p.name for p in LAYER_TYPES[class_name].params}
    spec["class_name"] = class_name
    spec["config"] = {k: v for k, v in spec["config"].items() if k in known}
    return new


def rename_layer(data: dict, old: str, new_name: str) -> dict:
    """Rename a layer, updating every reference (inbound, layout)."""
    if not isinstance(new_name, str) or not new_name.strip():
        raise ValueError("a layer name cannot be empty")
    if new_name == old:
        return copy.deepcopy(data)
    if new_name in layer_names(data) or new_name == INPUT or "/" in new_name:
        raise ValueError(f"'{new_name}' is already used or not allowed as a layer name")
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    find_layer(new, old)["config"]["name"] = new_name
    ins = {
        (new_name if k == old else k): [new_name if s == old else s for s in v]
        for k, v in ins.items()
    }
    pos = positions(new)
    if old in pos:
        pos = {(new_name if k == old else k): v for k, v in pos.items()}
        _with_positions(new, pos)
    return _canonical(new, ins)


def move_layers(data: dict, moves: dict[str, tuple[float, float]]) -> dict:
    """Set block positions (``"input"`` included)."""
    new = copy.deepcopy(data)
    pos = dict(positions(new))
    for name, (x, y) in moves.items():
        pos[name] = [float(x), float(y)]
    _with_positions(new, pos)
    return new


def set_setting(data: dict, path: str, value: Any) -> dict:
    """Set a project setting by dotted path (``"fit.batch_size"``, ``"compile.loss"``,
    ``"backend"``); ``value=None`` removes the key."""
    new = copy.deepcopy(data)
    parts = path.split(".")
    target = new
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    if value is None:
        target.pop(parts[-1], None)
    else:
        target[parts[-1]] = copy.deepcopy(value)
    return new


def paste_layers(
    data: dict,
    specs: list[dict],
    offset: tuple[float, float] = (40.0, 40.0),
    source_positions: dict[str, list[float]] | None = None,
) -> tuple[dict, list[str]]:
    """Paste copies of layer specs (from a copy or duplicate). Connections among the pasted
    layers are kept; connections to layers outside the selection are dropped. Returns the new
    spec and the new names, in order."""
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    renames: dict[str, str] = {}
    pos = dict(positions(new))
    for spec in specs:
        old = spec["config"]["name"]
        name = unique_name(new, old.rsplit("_", 1)[0] if old.rsplit("_", 1)[-1].isdigit() else old)
        renames[old] = name
        layer = copy.deepcopy({k: v for k, v in spec.items() if k != "inbound"})
        layer["config"]["name"] = name
        _layers(new).append(layer)
        src = (source_positions or {}).get(old)
        if src is not None:
            pos[name] = [src[0] + offset[0], src[1] + offset[1]]
    for spec in specs:
        name = renames[spec["config"]["name"]]
        ins[name] = [renames[s] for s in spec.get("inbound", []) if s in renames]
    if pos:
        _with_positions(new, pos)
    return _canonical(new, ins), [renames[s["config"]["name"]] for s in specs]


def auto_layout(data: dict, dx: float = 220.0, dy: float = 120.0) -> dict:
    """Arrange blocks left to right by depth from the input; siblings stacked and centred."""
    ins = explicit_inbound(data)
    depth: dict[str, int] = {INPUT: 0}
    changed = True
    names = list(ins)
    while changed:
        changed = False
        for n in names:
            srcs = [s for s in ins[n] if s in depth]
            if not srcs and ins[n]:
                continue
            d = 1 + max((depth[s] for s in srcs), default=-1) if srcs else 0
            if not ins[n]:
                d = max(depth.values()) + 1  # unconnected blocks go to the far right
            if depth.get(n) != d and d <= len(names) + 1:
                depth[n] = d
                changed = True
    for n in names:
        depth.setdefault(n, max(depth.values()) + 1)
    columns: dict[int, list[str]] = {}
    for n in [INPUT, *names]:
        columns.setdefault(depth[n], []).append(n)
    moves = {}
    for d, members in columns.items():
        top = -(len(members) - 1) * dy / 2
        for i, n in enumerate(members):
            moves[n] = (d * dx, top + i * dy)
    return move_layers(data, moves)


# The canvas block's size and the auto-layout's spacing, in scene units. The designer passes its
# own values; these defaults match it so that headless callers get the same layout.
BLOCK_SIZE = (172.0, 86.0)
SPACING = (220.0, 120.0)


def flow_direction(
    inbound: dict[str, list[str]], pos: dict[str, tuple[float, float]]
) -> tuple[int, int]:
    """The direction data flows in the current layout: ``(axis, sign)``.

    ``axis`` is 0 (left/right) or 1 (up/down), ``sign`` +1 or -1: the dominant component of
    the sum of all edge vectors (source centre to consumer centre). Left to right when the
    layout says nothing (no edges, or every block on one spot).
    """
    total = [0.0, 0.0]
    for dst, srcs in inbound.items():
        for src in srcs:
            if src in pos and dst in pos:
                total[0] += pos[dst][0] - pos[src][0]
                total[1] += pos[dst][1] - pos[src][1]
    axis = 1 if abs(total[1]) > abs(total[0]) else 0
    return axis, (-1 if total[axis] < 0 else 1)


def _downstream_of(inbound: dict[str, list[str]], start: str) -> list[str]:
    """Every layer fed, directly or not, by ``start``, in a stable order."""
    consumers: dict[str, list[str]] = {}
    for name, srcs in inbound.items():
        for s in srcs:
            consumers.setdefault(s, []).append(name)
    seen: list[str] = []
    todo = list(consumers.get(start, []))
    while todo:
        n = todo.pop(0)
        if n not in seen and n != start:
            seen.append(n)
            todo += consumers.get(n, [])
    return seen


def make_room(
    data: dict,
    name: str,
    shown: dict[str, tuple[float, float]] | None = None,
    spacing: tuple[float, float] = SPACING,
    block: tuple[float, float] = BLOCK_SIZE,
) -> dict:
    """Place the just-inserted layer ``name`` between its input and its consumers, moving the
    blocks downstream of it along the layout's flow so that no two blocks overlap.

    The new block goes one spacing after its input (or halfway, when the gap to its consumer
    already holds two spacings); its consumers and everything they feed shift along the flow
    just enough to keep one spacing after it. A block that is not downstream but would be hit
    by a shifted one shifts with them, so the layout stays overlap-free. Every block is pinned
    at its resulting position, so the saved layout is what the canvas shows.

    Parameters
    ----------
    data : the spec after the insertion (``name`` fed by one layer, feeding the old consumer).
    name : the inserted layer.
    shown : block centres as displayed now, ``{name: (x, y)}``, for blocks the spec has no
        position for; stored positions win.
    spacing : ``(dx, dy)``, the distance between neighbouring blocks along x and along y.
    block : ``(width, height)`` of a block.

    Returns
    -------
    A new spec with ``data["layout"]["positions"]`` set for every block.
    """
    new = copy.deepcopy(data)
    ins = explicit_inbound(new)
    if name not in ins:
        raise KeyError(f"no layer named '{name}'")
    pos: dict[str, tuple[float, float]] = {
        k: (float(v[0]), float(v[1])) for k, v in (shown or {}).items()
    }
    for k, v in positions(new).items():
        # A hand-edited file may hold anything here; the canvas ignores such entries too.
        if (
            isinstance(v, (list, tuple))
            and len(v) == 2
            and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                for c in v
            )
        ):
            pos[k] = (float(v[0]), float(v[1]))
    known = [INPUT, *ins]
    pos = {k: v for k, v in pos.items() if k in known and k != name}
    srcs = [s for s in ins[name] if s in pos]
    after = _downstream_of(ins, name)
    heads = [n for n, s in ins.items() if name in s and n in pos]
    if not srcs:
        return new  # nothing to place it against: leave it where it was dropped
    axis, sign = flow_direction({k: v for k, v in ins.items() if k != name}, pos)
    cross = 1 - axis
    # Distances measured along the flow, so that "ahead" is always larger.
    along = {k: sign * v[axis] for k, v in pos.items()}
    src_along = max(along[s] for s in srcs)
    min_step = max(spacing[axis], block[axis] + 20)
    if heads:
        gap = min(along[h] for h in heads) - src_along
        cross_at = pos[heads[0]][cross]
    else:
        gap = 0.0
        cross_at = sum(pos[s][cross] for s in srcs) / len(srcs)
    if gap >= 2 * min_step:
        new_along, shift = src_along + gap / 2, 0.0
        cross_at = (cross_at + sum(pos[s][cross] for s in srcs) / len(srcs)) / 2
    else:
        step = max(min_step, gap)
        new_along = src_along + step
        shift = max(0.0, new_along + step - (src_along + gap)) if heads else 0.0

    def collide(a: tuple[float, float], b: tuple[float, float]) -> bool:
        # The same clearance the canvas keeps for blocks it places itself.
        return abs(a[0] - b[0]) < block[0] + 20 and abs(a[1] - b[1]) < block[1] + 10

    def at(a: float, c: float) -> tuple[float, float]:
        p = [0.0, 0.0]
        p[axis], p[cross] = sign * a, c
        return (p[0], p[1])

    moved = set(after) & set(pos)
    fixed = {INPUT, *srcs}
    result = dict(pos)
    if shift:
        # Shift the downstream blocks; whatever they would land on shifts with them.
        while True:
            result = {
                k: (at(along[k] + shift, v[cross]) if k in moved else v) for k, v in pos.items()
            }
            hit = {
                k
                for k in pos
                if k not in moved and k not in fixed
                for m in moved
                if collide(result[k], result[m])
            }
            if not hit:
                break
            moved |= hit
    mine = at(new_along, cross_at)
    # The new block's own spot: slide across the flow until it is clear (rare: a crowded row).
    for i in range(1, 200):
        if not any(collide(mine, p) for p in result.values()):
            break
        offset = ((i + 1) // 2) * spacing[cross] * (1 if i % 2 else -1)
        mine = at(new_along, cross_at + offset)
    result[name] = mine
    _with_positions(new, {k: [round(v[0], 1), round(v[1], 1)] for k, v in result.items()})
    return new
