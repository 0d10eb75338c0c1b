"""Validation, topological order, shape inference and the summary table.

:func:`build_graph` turns a :class:`~engine.project.Project` into a :class:`Graph` or raises
:class:`~engine.errors.ValidationError` listing every problem, each naming the layer and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.constraints import axis_problem
from engine.errors import Problem, ValidationError
from engine.initializers import shape_problem
from engine.layers import LAYER_TYPES, LayerType, Shape, ShapeProblem, format_shape
from engine.regularizers import rank_problem

INPUT = "input"
BACKENDS = ("numpy", "tensorflow")
DTYPES = ("float32", "float64")
DTYPE_BYTES = {"float32": 4, "float64": 8}


@dataclass
class Node:
    """One layer of a validated graph.

    ``config`` is complete (defaults filled in); shapes exclude the batch axis.
    """

    name: str
    class_name: str
    config: dict
    inbound: list[str]
    input_shapes: list[Shape]
    output_shape: Shape
    params: int
    flops: int
    index: int
    layer_type: LayerType
    outbound: list[str] = field(default_factory=list)

    @property
    def activation(self) -> str | None:
        return self.layer_type.activation_of(self.config, self.input_shapes)

    @property
    def weight_names(self) -> tuple[str, ...]:
        return self.layer_type.weight_names(self.config)

    @property
    def weights(self) -> tuple:
        """The layer's :class:`~engine.layers.Weight` specs, with shapes, in Keras' order."""
        return self.layer_type.weights(self.config, self.input_shapes)


@dataclass
class SummaryRow:
    name: str
    class_name: str
    output_shape: Shape
    params: int
    flops: int
    inbound: list[str]


@dataclass
class Graph:
    """A validated network: nodes in topological order and its single output."""

    input_shape: Shape
    nodes: list[Node]
    output: str

    def __post_init__(self) -> None:
        self.by_name = {n.name: n for n in self.nodes}

    @property
    def output_node(self) -> Node:
        return self.by_name[self.output]

    @property
    def output_shape(self) -> Shape:
        return self.output_node.output_shape

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        """Parameters the optimizer updates (Keras' "Trainable params"); the rest, such as
        moving statistics, are ``total_params - trainable_params``."""
        return sum(math.prod(w.shape) for n in self.nodes for w in n.weights if w.trainable)

    @property
    def total_flops(self) -> int:
        return sum(n.flops for n in self.nodes)

    @property
    def is_chain(self) -> bool:
        """True when every layer takes exactly the previous one (a Keras Sequential)."""
        prev = INPUT
        for n in self.nodes:
            if n.inbound != [prev]:
                return False
            prev = n.name
        return True

    def shape_of(self, name: str) -> Shape:
        return self.input_shape if name == INPUT else self.by_name[name].output_shape

    def summary(self) -> list[SummaryRow]:
        return [
            SummaryRow(n.name, n.class_name, n.output_shape, n.params, n.flops, list(n.inbound))
            for n in self.nodes
        ]

    def summary_text(self, title: str | None = None) -> str:
        """A table like Keras' ``model.summary()``, plus FLOPs per sample."""
        chain = self.is_chain
        headers = ["Layer (type)", "Output Shape", "Param #", "FLOPs"]
        if not chain:
            headers.append("Connected to")
        rows = [["input (InputLayer)", format_shape(self.input_shape), "0", "0"]]
        if not chain:
            rows[0].append("-")
        for n in self.nodes:
            row = [
                f"{n.name} ({n.class_name})",
                format_shape(n.output_shape),
                f"{n.params:,}",
                f"{n.flops:,}",
            ]
            if not chain:
                row.append(", ".join(n.inbound))
            rows.append(row)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        total_width = sum(widths) + 3 * (len(widths) - 1)

        def line(cells: list[str]) -> str:
            return "   ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        out = []
        if title:
            out.append(f'Model: "{title}"')
        out.append("━" * total_width)
        out.append(line(headers))
        out.append("━" * total_width)
        for i, r in enumerate(rows):
            out.append(line(r))
            out.append(("─" if i < len(rows) - 1 else "━") * total_width)
        trainable = self.trainable_params
        out.append(f" Total params: {self.total_params:,}")
        out.append(f" Trainable params: {trainable:,}")
        out.append(f" Non-trainable params: {self.total_params - trainable:,}")
        out.append(f" FLOPs per sample (forward): {self.total_flops:,}")
        return "\n".join(out)


def _inbound_of(layer: dict, index: int, names: list[str | None]) -> list[str] | None:
    inbound = layer.get("inbound")
    if inbound is None:
        if index == 0:
            return [INPUT]
        prev = names[index - 1]
        return [prev] if prev else None
    if isinstance(inbound, str):
        return [inbound]
    return inbound


def rule_problems(ltype: LayerType, cfg: dict, weight) -> list[tuple[str, str]]:
    """``(config key, message)`` of a weight's regularizer or constraint that cannot apply
    to its shape (an OrthogonalRegularizer on a 4-D kernel, a constraint's axis outside it)."""
    out = []
    reg = ltype.weight_rule(cfg, weight.name, "regularizer")
    if reg is not None and weight.shape is not None:
        msg = rank_problem(reg, weight.shape)
        if msg:
            out.append((f"{weight.name}_regularizer", f"{msg} (the {weight.name})"))
    con = ltype.weight_rule(cfg, weight.name, "constraint")
    if con is not None and weight.shape is not None:
        msg = axis_problem(con, weight.shape)
        if msg:
            out.append((f"{weight.name}_constraint", msg))
    return out


def build_graph(project) -> Graph:
    """Validate the model part of ``project`` and infer shapes.

    Raises
    ------
    ValidationError
        Listing every problem found, each naming the layer and field at fault.
    """
    graph, problems = analyze_model(project.data.get("model", {}))
    if problems:
        raise ValidationError(problems)
    assert graph is not None
    return graph


def analyze_model(model: dict) -> tuple[Graph | None, list[Problem]]:
    """Validate a ``model`` dict; return the graph (when valid) and all problems found."""
    problems: list[Problem] = []
    if not isinstance(model, dict):
        return None, [Problem("must be an object with 'input_shape' and 'layers'", field="model")]
    unknown = set(model) - {"input_shape", "layers"}
    for key in sorted(unknown):
        problems.append(Problem(f"unknown key '{key}'", field=f"model.{key}"))

    input_shape = model.get("input_shape")
    if (
        not isinstance(input_shape, list)
        or not input_shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape)
    ):
        problems.append(
            Problem(
                f"must be a list of positive integers like [784], got {input_shape!r}",
                field="model.input_shape",
            )
        )
        input_shape = None
    else:
        input_shape = tuple(input_shape)

    layers = model.get("layers")
    if not isinstance(layers, list) or not layers:
        problems.append(Problem("must be a non-empty list of layers", field="model.layers"))
        return None, problems

    # Pass 1: each layer on its own.
    names: list[str | None] = []
    entries: list[tuple[str, LayerType, dict] | None] = []
    for i, layer in enumerate(layers):
        label = f"#{i + 1}"
        if not isinstance(layer, dict):
            problems.append(
                Problem(
                    "must be an object with 'class_name' and 'config'", field=f"model.layers[{i}]"
                )
            )
            names.append(None)
            entries.append(None)
            continue
        cfg = layer.get("config", {})
        name = cfg.get("name") if isinstance(cfg, dict) else None
        if isinstance(name, str) and name:
            label = name
        names.append(name if isinstance(name, str) and name else None)
        extra = set(layer) - {"class_name", "config", "inbound"}
        for key in sorted(extra):
            problems.append(
                Problem(
                    f"unknown key '{key}' (a layer has class_name, config, inbound)", layer=label
                )
            )
        class_name = layer.get("class_name")
        ltype = LAYER_TYPES.get(class_name) if isinstance(class_name, str) else None
        if ltype is None:
            import difflib

            hint = difflib.get_close_matches(str(class_name), list(LAYER_TYPES), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            problems.append(
                Problem(
                    f"unknown layer class {class_name!r}{tip}; supported: {', '.join(LAYER_TYPES)}",
                    layer=label,
                    field="class_name",
                )
            )
            entries.append(None)
            continue
        config_problems = ltype.check_config(cfg)
        for fld, msg in config_problems:
            problems.append(Problem(msg, layer=label, field=fld))
        if config_problems or not isinstance(cfg, dict):
            entries.append(None)
            continue
        entries.append((label, ltype, ltype.resolve(cfg)))

    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            problems.append(
                Problem(
                    f"duplicate layer name (layers {seen[name] + 1} and {i + 1})",
                    layer=name,
                    field="name",
                )
            )
        else:
            seen[name] = i

    # Pass 2: connections.
    inbound_map: dict[str, list[str]] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or names[i] is None:
            continue
        name = names[i]
        inbound = _inbound_of(layer, i, names)
        if inbound is None:
            problems.append(
                Problem(
                    "cannot tell which layer feeds it (the previous layer has no name)", layer=name
                )
            )
            continue
        if isinstance(inbound, list) and not inbound:
            problems.append(
                Problem(
                    "is not connected: connect a layer (or the input) to it",
                    layer=name,
                    field="inbound",
                )
            )
            continue
        if not isinstance(inbound, list) or not all(isinstance(s, str) for s in inbound):
            problems.append(
                Problem(
                    f"must be a non-empty list of layer names, got {inbound!r}",
                    layer=name,
                    field="inbound",
                )
            )
            continue
        bad = False
        for src in inbound:
            if src != INPUT and src not in seen:
                problems.append(Problem(f"unknown layer '{src}'", layer=name, field="inbound"))
                bad = True
            if src == name:
                problems.append(Problem("a layer cannot feed itself", layer=name, field="inbound"))
                bad = True
        if len(set(inbound)) != len(inbound):
            problems.append(Problem("lists the same layer twice", layer=name, field="inbound"))
            bad = True
        entry = entries[i]
        if entry is not None and not entry[1].merge and len(inbound) != 1:
            problems.append(
                Problem(
                    f"{entry[1].class_name} takes exactly one input, got {len(inbound)} "
                    "(use Add or Concatenate to merge)",
                    layer=name,
                    field="inbound",
                )
            )
            bad = True
        if entry is not None and entry[1].merge and len(inbound) < 2:
            problems.append(
                Problem(
                    f"{entry[1].class_name} needs at least 2 inputs, got {len(inbound)}",
                    layer=name,
                    field="inbound",
                )
            )
            bad = True
        if not bad:
            inbound_map[name] = inbound

    if problems:
        return None, problems

    # Topological order (Kahn), stable in file order; report cycles and unreachable layers.
    order: list[str] = []
    placed = {INPUT}
    pending = [n for n in names if n is not None]
    while pending:
        progressed = False
        for n in list(pending):
            if all(src in placed for src in inbound_map[n]):
                order.append(n)
                placed.add(n)
                pending.remove(n)
                progressed = True
        if not progressed:
            break
    if pending:
        cyc = ", ".join(f"'{n}'" for n in pending)
        problems.append(
            Problem(
                f"layers {cyc} form a cycle or depend on one; a model must be acyclic",
                field="model.layers",
            )
        )
        return None, problems

    consumers: dict[str, list[str]] = {n: [] for n in [INPUT, *order]}
    for n in order:
        for src in inbound_map[n]:
            consumers[src].append(n)
    if not consumers[INPUT]:
        problems.append(Problem("no layer takes the model input", field="model.layers"))
    sinks = [n for n in order if not consumers[n]]
    if len(sinks) > 1:
        listed = ", ".join(f"'{s}'" for s in sinks)
        problems.append(
            Problem(
                f"layers {listed} all have no consumer; a model has exactly one output "
                "(connect or remove the extra ones)",
                field="model.layers",
            )
        )
    if problems or input_shape is None:
        return None, problems

    # Shape inference in topological order.
    index_of = {n: i for i, n in enumerate(names) if n is not None}
    shapes: dict[str, Shape] = {INPUT: input_shape}
    nodes: list[Node] = []
    for n in order:
        entry = entries[index_of[n]]
        assert entry is not None
        _, ltype, cfg = entry
        in_shapes = [shapes[s] for s in inbound_map[n]]
        try:
            out = ltype.output_shape(cfg, in_shapes)
        except ShapeProblem as exc:
            problems.append(Problem(str(exc), layer=n, field=exc.field or "inbound"))
            shapes[n] = in_shapes[0]
            continue
        shapes[n] = out
        bad_init = False
        for weight in ltype.weights(cfg, in_shapes):
            key = weight.initializer
            msg = shape_problem(cfg[key], weight.shape) if key in cfg else None
            if msg:
                problems.append(Problem(msg, layer=n, field=key))
                bad_init = True
            for key_at_fault, msg in rule_problems(ltype, cfg, weight):
                problems.append(Problem(msg, layer=n, field=key_at_fault))
                bad_init = True
        activity = cfg.get("activity_regularizer") if ltype.param("activity_regularizer") else None
        if activity is not None and rank_problem(activity, (None, *out)):
            msg = rank_problem(activity, (None, *out))
            problems.append(
                Problem(
                    f"{msg} (the output, with its batch axis)",
                    layer=n,
                    field="activity_regularizer",
                )
            )
            bad_init = True
        if bad_init:
            continue
        nodes.append(
            Node(
                name=n,
                class_name=ltype.class_name,
                config=cfg,
                inbound=list(inbound_map[n]),
                input_shapes=in_shapes,
                output_shape=out,
                params=ltype.param_count(cfg, in_shapes),
                flops=ltype.flops(cfg, in_shapes, out),
                index=index_of[n],
                layer_type=ltype,
                outbound=list(consumers[n]),
            )
        )
    if problems:
        return None, problems
    return Graph(input_shape, nodes, sinks[0]), problems


def memory_estimate(graph: Graph, dtype: str, batch_size: int) -> int:
    """Bytes needed to train: weights, gradients and up to two optimizer slots, plus the
    activations and their gradients for one batch (a lower bound used to refuse early)."""
    item = DTYPE_BYTES.get(dtype, 4)
    weights = graph.total_params * item * 4
    acts = sum(math.prod(n.output_shape) for n in graph.nodes) + math.prod(graph.input_shape)
    return weights + acts * batch_size * item * 3
