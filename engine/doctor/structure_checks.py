"""The doctor's checks of the network's structure: layers that collapse into one linear map,
misplaced Dropout, a huge Dense on images, BatchNormalization's place, a branch that reaches
no output, memory against this machine."""

from __future__ import annotations

import math

from engine import edits
from engine.doctor.findings import ERROR, HINT, WARNING, Finding, fix
from engine.graph import INPUT, memory_estimate

#: A first Dense on image data with at least this many weights gets the convolution hint.
DENSE_ON_IMAGES_WEIGHTS = 100_000
#: Above this share of the memory limit, a warning (validation refuses above 80 %).
MEMORY_SHARE = 0.5


def _linear(node) -> bool:
    """Whether the activation a layer applies is the identity (None: it applies none)."""
    return node.activation in (None, "linear")


def _adds_no_nonlinearity(node) -> bool:
    """An ``affine`` layer, or an activation layer without weights that applies 'linear'."""
    lt = node.layer_type
    return lt.affine or (lt.has_activation and node.params == 0 and node.activation == "linear")


def _fed_by_one(graph, wanted):
    """``(node, its one input's node or None, every node by name)`` for each layer whose type
    ``wanted(layer_type)`` accepts and that has a single input."""
    by_name = {n.name: n for n in graph.nodes}
    for node in graph.nodes:
        if wanted(node.layer_type) and len(node.inbound) == 1:
            yield node, by_name.get(node.inbound[0]), by_name


def _linear_stacks(graph) -> list[Finding]:
    found = []
    for node, src, by_name in _fed_by_one(graph, lambda lt: lt.fully_connected):
        between = []
        while src is not None and _adds_no_nonlinearity(src):
            between.append(src.class_name)
            src = by_name.get(src.inbound[0]) if len(src.inbound) == 1 else None
        if src is None or not src.layer_type.fully_connected or not _linear(src):
            continue
        via = f" (through {', '.join(between)})" if between else ""
        found.append(
            Finding(
                WARNING,
                "linear-stack",
                f"'{src.name}' has no activation, so '{src.name}' and '{node.name}'{via} "
                "compute one linear map: the extra layer adds parameters, not power",
                "W2(W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2); only a non-linearity between "
                "them lets a deeper network draw curved boundaries",
                src.name,
                "activation",
                fix(
                    f"Use relu on '{src.name}'",
                    ("set_param", {"layer": src.name, "key": "activation", "value": "relu"}),
                ),
            )
        )
    return found


def _dropouts(graph) -> list[Finding]:
    found = []
    for node in graph.nodes:
        if not node.layer_type.random_in_training or "rate" not in node.config:
            continue
        rate = float(node.config.get("rate", 0.0) or 0.0)
        remove = fix(f"Remove '{node.name}'", ("remove_layers", {"names": [node.name]}))
        if node.name == graph.output:
            found.append(
                Finding(
                    WARNING,
                    "dropout-on-output",
                    f"'{node.name}' drops the network's predictions themselves: in training "
                    f"{rate:.0%} of the outputs are zeroed and the rest scaled by "
                    f"1/(1-{rate:g})",
                    "Dropout regularizes hidden units; on the output it only adds noise to the "
                    "loss (Srivastava et al. 2014 apply it to hidden and input units)",
                    node.name,
                    None,
                    remove,
                )
            )
        elif node.inbound == [INPUT] and rate > 0.2:
            found.append(
                Finding(
                    WARNING,
                    "dropout-on-input",
                    f"'{node.name}' drops {rate:.0%} of the input features of every sample",
                    "Srivastava et al. (2014) keep 80 % of the inputs (rate 0.2) and drop more "
                    "only in hidden layers: dropped inputs are information lost, not co-adaptation "
                    "broken",
                    node.name,
                    "rate",
                    fix(
                        f"Set '{node.name}' rate to 0.2",
                        ("set_param", {"layer": node.name, "key": "rate", "value": 0.2}),
                    ),
                )
            )
    return found


def _is_image(graph, dataset) -> bool:
    return getattr(dataset, "image_shape", None) is not None or len(graph.input_shape) == 3


def _dense_on_images(data: dict, graph, dataset) -> list[Finding]:
    if not _is_image(graph, dataset) or any(n.layer_type.image_input for n in graph.nodes):
        return []
    by_name = {n.name: n for n in graph.nodes}
    chain = []
    node = next((n for n in graph.nodes if n.inbound == [INPUT]), None)
    while node is not None and node.layer_type.passes_values:
        chain.append(node)
        node = by_name.get(node.outbound[0]) if len(node.outbound) == 1 else None
    if node is None or not node.layer_type.fully_connected:
        return []
    weights = math.prod(node.input_shapes[0]) * int(node.config.get("units", 0))
    if weights < DENSE_ON_IMAGES_WEIGHTS:
        return []
    image = getattr(dataset, "image_shape", None) or graph.input_shape
    the_fix = None
    if len(graph.input_shape) == 3 and chain and chain[0].layer_type.flattens:
        flatten = chain[0].name
        conv = edits.unique_name(data, "conv2d")
        pool = edits.unique_name(data, "max_pooling2d")
        the_fix = fix(
            f"Insert Conv2D + MaxPooling2D before '{flatten}'",
            (
                "insert_on_edge",
                {
                    "class_name": "Conv2D",
                    "src": INPUT,
                    "dst": flatten,
                    "config": {
                        "name": conv,
                        "filters": 16,
                        "kernel_size": [3, 3],
                        "activation": "relu",
                    },
                },
            ),
            (
                "insert_on_edge",
                {
                    "class_name": "MaxPooling2D",
                    "src": conv,
                    "dst": flatten,
                    "config": {"name": pool, "pool_size": [2, 2]},
                },
            ),
        )
    return [
        Finding(
            HINT,
            "dense-on-images",
            f"'{node.name}' joins every pixel of the {image[0]}x{image[1]} images to each of "
            f"its {node.config.get('units')} units: {weights:,} weights",
            "a convolution shares a small filter over the image: far fewer weights, and it "
            "finds a pattern wherever it is (LeCun et al. 1998)",
            node.name,
            "units",
            the_fix,
        )
    ]


def _batchnorm_after_activation(graph) -> list[Finding]:
    found = []
    for node, src, _by_name in _fed_by_one(graph, lambda lt: lt.normalizes):
        if src is None or not src.layer_type.has_activation or _linear(src):
            continue
        act = src.activation
        the_fix = None
        if len(src.outbound) == 1 and len(node.outbound) == 1:
            the_fix = fix(
                f"Move {act} after '{node.name}'",
                ("set_param", {"layer": src.name, "key": "activation", "value": "linear"}),
                (
                    "insert_on_edge",
                    {
                        "class_name": "Activation",
                        "src": node.name,
                        "dst": node.outbound[0],
                        "config": {"activation": act},
                    },
                ),
            )
        found.append(
            Finding(
                HINT,
                "batchnorm-after-activation",
                f"'{node.name}' normalizes the {act} outputs of '{src.name}'; the original "
                "places it before the non-linearity",
                "Ioffe & Szegedy (2015) normalize Wx + b, then apply the activation; both orders "
                "train, and after-activation sometimes does as well",
                node.name,
                None,
                the_fix,
            )
        )
    return found


def _memory(project, graph) -> list[Finding]:
    from engine.memory import format_bytes, memory_limit

    limit = memory_limit()
    batch = project.fit.get("batch_size", 32)
    if limit is None or not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        return []
    dtype = project.dtype if project.dtype in ("float32", "float64") else "float32"
    need = memory_estimate(graph, dtype, batch)
    if not (limit.nbytes * MEMORY_SHARE < need <= limit.nbytes * 0.8):
        return []  # above 80 %, validation refuses it (an error)
    return [
        Finding(
            WARNING,
            "over-budget",
            f"training needs about {format_bytes(need)} (weights, gradients, optimizer state, "
            f"one batch of activations), more than half of this machine's {limit.describe()}",
            "the estimate is a lower bound: copies on the way can exhaust the rest",
            None,
            "fit.batch_size",
            None,
        )
    ]


def unused_branch(data: dict) -> Finding | None:
    """Several layers without a consumer (the network is invalid): the layers that lead to
    none but the deepest one are an unused branch, and removing them is the fix."""
    try:
        inbound = edits.explicit_inbound(data)
    except (KeyError, TypeError, AttributeError):
        return None
    names = list(inbound)
    consumers: dict[str, list[str]] = {n: [] for n in names}
    for name, srcs in inbound.items():
        for s in srcs:
            if s in consumers:
                consumers[s].append(name)
    sinks = [n for n in names if not consumers[n]]
    if len(sinks) < 2:
        return None
    depth: dict[str, int] = {}

    def depth_of(name: str, seen: frozenset = frozenset()) -> int:
        if name not in inbound or name in seen:
            return 0
        if name not in depth:
            srcs = inbound[name]
            depth[name] = 1 + max((depth_of(s, seen | {name}) for s in srcs), default=-1)
        return depth[name]

    output = max(sinks, key=lambda n: (depth_of(n), names.index(n)))
    keep: set[str] = set()
    stack = [output]
    while stack:
        n = stack.pop()
        if n in keep or n not in inbound:
            continue
        keep.add(n)
        stack.extend(inbound[n])
    unused = [n for n in names if n not in keep]
    shown = ", ".join(f"'{n}'" for n in unused[:4]) + ("..." if len(unused) > 4 else "")
    return Finding(
        ERROR,
        "unused-branch",
        f"{shown} lead{'s' if len(unused) == 1 else ''} to no output: the network ends at "
        f"'{output}', and a model has one output",
        "layers whose values reach no output are never trained and only cost time",
        unused[0],
        None,
        fix(f"Remove {shown}", ("remove_layers", {"names": unused})),
    )


def structure_findings(project, graph, dataset) -> list[Finding]:
    if graph is None:
        return []
    return (
        _linear_stacks(graph)
        + _dropouts(graph)
        + _dense_on_images(project.data, graph, dataset)
        + _batchnorm_after_activation(graph)
        + _memory(project, graph)
    )
