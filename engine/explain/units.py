"""One pinned neuron or weight: which sections are reached, and the parts every layer type
shares (the input's features, ∂L/∂a from the loss or summed over the layers a unit feeds, the
bias and kernel updates). What differs per layer type comes from its ``explain_*`` hooks.

A unit is its flat index in the layer's output; its index in the output's shape (``(h, w, c)``
for an image) is what the hooks receive. Any weight entry is :func:`explain_param`'s: it asks
the layer type's traits (``fully_connected``, ``filter_weight``) and the weight's spec
(trainable or not), never its class."""

from __future__ import annotations

import numpy as np

from engine.explain.builder import Builder, sample_text, waiting
from engine.explain.loss import loss_section
from engine.explain.perceptron import perceptron_neuron
from engine.explain.update import update_lines
from engine.explain_parts import gradient_sum, penalty_lines, weight_symbol
from engine.formula import (
    Explanation,
    Num,
    Section,
    Sym,
    one_based,
    plus,
    subscript,
    unit_index,
)
from engine.graph import INPUT
from engine.layers.base import LayerType
from engine.losses import is_mismatched


def penalty_total(b: Builder, sec: Section) -> None:
    """The loss the optimizer minimizes: the data's loss plus the regularizers' penalties
    (Keras' ``model.losses``), the ``loss`` the history reports."""
    value = b.num(("loss", None, "value", ()))
    reg = b.num(("loss", None, "regularization", ()))
    sec.add(
        ["L + R"],
        [value, " + ", reg],
        [b.num(("loss", None, "total", ()))],
        note="R: the regularizers' penalties of the weights (and of the outputs, per sample)",
    )


def explain_neuron(
    session, layer: str, sample: int = 0, unit: int = 0, phase: int | None = None
) -> Explanation:
    """The math of one neuron (unit) of ``layer`` for one sample of the current step.

    Parameters
    ----------
    session : StepSession
    layer : str
        A layer name, or ``"input"`` for the model input.
    sample : int
        Which sample of the step's batch (0-based).
    unit : int
        The unit's flat index within the layer's output (0-based).
    phase : int, optional
        Explain what is known up to this phase index (default: the phase shown).

    Returns
    -------
    Explanation
        Sections for the phases reached: forward (z = Σ wᵢxᵢ + b, a = f(z); a merge's sum; a
        dropout mask), loss (for the output layer: the loss and ∂L/∂ŷ), backward (∂L/∂a summed
        over the layers this one feeds, δ = ∂L/∂a·f′(z), the bias gradient; a merge's split),
        update (the bias, by the optimizer's rule).
    """
    b = Builder(session, phase)
    sample = int(min(max(sample, 0), max(len(session.batch_x) - 1, 0)))
    if layer == INPUT:
        idx = unit_index(session.graph.input_shape, unit)
        exp = Explanation(f"Input x{subscript(one_based(idx))}", sample_text(session, sample))
        sec = Section("Input", "input")
        sec.add([Sym("x", one_based(idx))], [b.num(("batch", None, "x", (sample, *idx)))])
        sec.remark("A feature of the sample, as fed to the network (after any scaling).")
        exp.sections.append(sec)
        return exp

    node = session.graph.by_name[layer]
    idx = unit_index(node.output_shape, unit)
    what = f"{node.class_name}" + (f", {node.activation}" if node.activation else "")
    exp = Explanation(f"{layer} · unit {one_based(idx)} ({what})", sample_text(session, sample))
    if session.perceptron:
        perceptron_neuron(b, exp, node, sample)
        return exp

    fwd = b.ev("forward", layer)
    if fwd is None:
        exp.sections.append(waiting("forward"))
        return exp
    exp.sections.append(_forward_section(b, node, sample, idx))
    if layer == session.graph.output and b.ev("loss") is not None:
        exp.sections.append(loss_section(b, node, sample, idx))
        if "regularization" in b.ev("loss").data:
            penalty_total(b, exp.sections[-1])
    if b.ev("backward", layer) is not None:
        exp.sections.append(_backward_section(b, node, sample, idx))
    if layer in session.model.weights and "bias" in session.weights_before.get(layer, {}):
        if b.ev("update", layer) is not None:
            j = idx[-1]
            sec = Section(f"Update of the bias b{subscript(str(j + 1))}", "update")
            g = b.num(("backward", layer, "grad_bias", (j,)))
            update_lines(b, sec, layer, "bias", (j,), Sym("b", str(j + 1)), g)
            exp.sections.append(sec)
    return exp


def _forward_section(b: Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    sec = Section(f"Forward pass through {node.name}", "forward")
    node.layer_type.explain_forward(b, sec, node, sample, idx)
    return sec


def _contribution(b: Builder, node, consumer, sample: int, idx) -> tuple[list, Num]:
    """What ``consumer`` sends back to ``node``'s unit: (expanded chain, value)."""
    k = consumer.inbound.index(node.name)
    key = f"grad_inputs.{k}" if consumer.layer_type.merge else "grad_inputs"
    value = b.num(("backward", consumer.name, key, (sample, *idx)))
    chain = consumer.layer_type.explain_to_input(b, consumer, k, sample, idx)
    return chain, value


def _backward_section(b: Builder, node, sample: int, idx: tuple[int, ...]) -> Section:
    """∂L/∂a of the unit (from the loss, or summed over the layers it feeds), then what its
    layer type does with it."""
    s = b.s
    name = node.name
    sec = Section(f"Backward pass through {name}", "backward")
    full = (sample, *idx)
    u = one_based(idx)
    ga = b.num(("backward", name, "grad_a", full))
    dl_da = [f"∂L/∂a{subscript(u)}"]
    activity = "grad_activity" in b.ev("backward", name).data
    if activity and not (name == s.graph.output and s.model.fused):
        # dL/da = what comes from the loss or the layers it feeds + ∂(R/n)/∂a
        dl_da = [f"∂L/∂a{subscript(u)} (data)"]
        ga = b.calc(
            b.value(("backward", name, "grad_a", full))
            - b.value(("backward", name, "grad_activity", full))
        )
    if name == s.graph.output:
        note = "from the loss"
        h = "ŷ"
        if is_mismatched(node.activation, s.loss_name):
            h = "p"
            note += "; shown for reference: the loss scores p, and δ comes straight from z"
        elif s.model.fused:
            note += "; shown for reference: with the fused loss, δ comes straight from z"
        sec.add(dl_da, [f"∂L/∂{h}{subscript(u)}"], [ga], note=note)
    else:
        consumers = [s.graph.by_name[c] for c in node.outbound]
        parts = []
        for c in consumers:
            chain, value = _contribution(b, node, c, sample, idx)
            if len(consumers) == 1:
                sec.add(dl_da, *chain, [value], note=f"from {c.name}")
            else:
                sec.add([f"∂L/∂a{subscript(u)} via {c.name}"], *chain, [value])
            parts.append(value.operand())
        if len(consumers) > 1:
            sec.add(
                dl_da,
                plus([[f"(from {c.name})"] for c in consumers]),
                plus([[p] for p in parts]),
                [ga],
                note="the errors from every layer this one feeds are summed (fan-out)",
            )
    if activity:
        _activity_line(b, sec, node, full, u, ga)
    node.layer_type.explain_backward(b, sec, node, sample, idx)
    return sec


def _activity_line(b: Builder, sec: Section, node, full, u: str, data: Num) -> None:
    """The activity regularizer's term of ∂L/∂a: its penalty of the output, divided by the
    batch size n, differentiated."""
    from engine.regularizers import regularizer_text

    spec = node.config["activity_regularizer"]
    act = b.num(("backward", node.name, "grad_activity", full))
    text = regularizer_text(spec)
    if b.s.model.fused and node.name == b.s.graph.output:
        sec.remark(
            f"activity_regularizer {text}: its gradient ∂(R/n)/∂a = {act.text()} goes into δ "
            "below through f′(z), besides the loss's own (ŷ − y)/n."
        )
        return
    sec.add(
        [f"∂L/∂a{subscript(u)}"],
        [
            data.operand() if data.value < 0 else data,
            " + ",
            act.operand() if act.value < 0 else act,
        ],
        [b.num(("backward", node.name, "grad_a", full))],
        note=f"plus ∂(R/n)/∂a of the activity_regularizer {text} (n: the batch size)",
    )


def explain_weight(
    session, layer: str, i: int, j: int, sample: int = 0, phase: int | None = None
) -> Explanation:
    """The math of one kernel entry ``w[i, j]`` of a ``fully_connected`` ``layer`` (from its
    input ``i`` to its unit ``j``, 0-based) in the current step.

    Sections for the phases reached: forward (its term w·x in z for ``sample``), backward
    (∂L/∂w = Σ over the batch of x·δ), update (the optimizer's rule with its hyper-parameters
    and slots, or the Perceptron's w ← w + η(t − ŷ)x).
    """
    b = Builder(session, phase)
    node = session.graph.by_name[layer]
    sample = int(min(max(sample, 0), max(len(session.batch_x) - 1, 0)))
    wsym = Sym("w", f"{i + 1},{j + 1}")
    src = node.inbound[0]
    src_text = "the input" if src == INPUT else f"'{src}'"
    exp = Explanation(
        f"{layer} · weight w{subscript(f'{i + 1},{j + 1}')}",
        f"from unit {i + 1} of {src_text} to unit {j + 1} of '{layer}'; "
        + sample_text(session, sample),
    )
    sec = Section("Forward pass", "forward")
    w = b.num(("start", layer, "kernel", (i, j)))
    sec.add([wsym], [w], note="its value when this step began")
    fwd = b.ev("forward", layer)
    if fwd is not None and np.ndim(fwd.data["inputs"]) > 2:
        sec.remark("It multiplies input unit i at every position of the sample.")
    elif fwd is not None:
        x = b.num(("forward", layer, "inputs", (sample, i)), paren=True)
        sec.add(
            [wsym, "·", Sym("x", str(i + 1))],
            [w.operand() if w.value < 0 else w, "·", x],
            [b.calc(np.float64(w.value) * np.float64(x.value))],
            note=f"its term in z{subscript(str(j + 1))}",
        )
    else:
        sec.remark("Press Next phase to compute the forward pass.")
    exp.sections.append(sec)

    if b.ev("backward", layer) is None:
        return exp
    sec = Section("Backward pass", "backward")
    if session.perceptron:
        err = b.num(("loss", None, "grad", (0, 0)))
        x = b.num(("forward", layer, "inputs", (0, i)), paren=True)
        sec.add(
            [f"g{subscript(f'{i + 1},{j + 1}')}"],
            ["−(t − ŷ)·", Sym("x", str(i + 1))],
            [err.operand(), "·", x],
            [b.num(("backward", layer, "grad_kernel", (i, j)))],
            note="the perceptron rule's pseudo-gradient",
        )
    else:
        gradient_sum(b, sec, node, i, j, [f"∂L/∂w{subscript(f'{i + 1},{j + 1}')}"])
    exp.sections.append(sec)

    if b.ev("update", layer) is None:
        return exp
    sec = Section(f"Update ({session.optimizer_class})", "update")
    g = b.num(("backward", layer, "grad_kernel", (i, j)))
    update_lines(b, sec, layer, "kernel", (i, j), wsym, g)
    exp.sections.append(sec)
    return exp


def _filter_text(index: tuple[int, ...]) -> str:
    """Where a filter weight's entry sits: row, column, input channel and filter."""
    i, j, c, f = index
    return (
        f"row {i + 1}, column {j + 1} of the window, input channel {c + 1}, "
        f"filter {f + 1} (output channel {f + 1})"
    )


def explain_param(
    session,
    layer: str,
    weight: str,
    index: tuple[int, ...],
    sample: int = 0,
    phase: int | None = None,
) -> Explanation:
    """The math of entry ``index`` of any weight ``weight`` of ``layer`` in the current step:
    its value when the step began, its gradient (summed over the batch, and over every window
    position for a filter weight) and its update by the optimizer's rule, with before and
    after; a non-trainable weight (BatchNormalization's moving statistics) is updated by the
    layer itself, not the optimizer, and says so.

    A ``fully_connected`` layer's kernel entry ``(i, j)`` is :func:`explain_weight`'s (its
    term w·x in the unit's sum, ∂L/∂w as the sum of x·δ).
    """
    node = session.graph.by_name[layer]
    index = tuple(int(k) for k in index)
    ltype = node.layer_type
    if ltype.fully_connected and weight == "kernel" and len(index) == 2:
        return explain_weight(session, layer, index[0], index[1], sample, phase)
    specs = {w.name: w for w in node.weights}
    if weight not in specs:
        raise KeyError(f"'{layer}' has no weight '{weight}' (it has {', '.join(specs) or 'none'})")
    spec = specs[weight]
    shape = tuple(session.weights_before[layer][weight].shape)
    if len(index) != len(shape) or any(not 0 <= k < n for k, n in zip(index, shape, strict=True)):
        raise IndexError(f"index {index} is outside {layer}/{weight} of shape {shape}")
    b = Builder(session, phase)
    sample = int(min(max(sample, 0), max(len(session.batch_x) - 1, 0)))
    wsym = weight_symbol(weight, index)
    is_filter = ltype.filter_weight == weight and len(shape) == 4
    where = _filter_text(index) if is_filter else f"entry {one_based(index)} of {shape}"
    exp = Explanation(
        f"{layer} · {weight} {wsym.text()}",
        f"{where}; {'trainable' if spec.trainable else 'not trainable'}; "
        + sample_text(session, sample),
    )

    sec = Section("Forward pass", "forward")
    sec.add([wsym], [b.num(("start", layer, weight, index))], note="its value when this step began")
    if is_filter:
        i, j, c, f = index
        sec.remark(
            f"It multiplies input channel {c + 1} at row {i + 1}, column {j + 1} of every window "
            f"the filter slides over: a term of every output of channel {f + 1}."
        )
    elif not spec.trainable:
        sec.remark("Not trainable: the optimizer never changes it.")
    exp.sections.append(sec)

    if b.ev("backward", layer) is None:
        return exp
    sec = Section("Backward pass", "backward")
    gkey = f"grad_{weight}"
    bwd = b.ev("backward", layer)
    g = None
    if spec.trainable and gkey in bwd.data:
        g = b.num(("backward", layer, gkey, index))
        note = (
            "summed over the batch and every window position: Σ (input under the entry)·δ of "
            f"channel {index[3] + 1}"
            if is_filter
            else "summed over the batch"
        )
        if f"data_{gkey}" in bwd.data:  # the data's gradient, then the regularizer's term
            data = b.num(("backward", layer, f"data_{gkey}", index))
            sec.add([f"∂L/∂{wsym.text()} (data)"], [data], note=note)
            penalty_lines(b, sec, node, weight, index, [f"∂L/∂{wsym.text()}"])
        else:
            sec.add([f"∂L/∂{wsym.text()}"], [g], note=note)
    else:
        sec.remark("No gradient: the weight is not trainable.")
    exp.sections.append(sec)

    upd = b.ev("update", layer)
    if upd is None:
        return exp
    if spec.trainable and g is not None:
        sec = Section(f"Update ({session.optimizer_class})", "update")
        update_lines(b, sec, layer, weight, index, wsym, g)
    else:
        sec = Section("Update (by the layer)", "update")
        before = b.num(("update", layer, f"before.{weight}", index))
        after = b.num(("update", layer, f"after.{weight}", index))
        sec.add([wsym, " before"], [before])
        sec.add([wsym, " after"], [after])
        delta = b.value(("update", layer, f"after.{weight}", index)) - b.value(
            ("update", layer, f"before.{weight}", index)
        )
        sec.add(["Δ"], [after, " − ", before.operand()], [b.calc(float(delta))])
        own = type(ltype).state_updates is not LayerType.state_updates
        sec.remark(
            "Updated by the layer, not the optimizer"
            + (" (its state update in training mode)." if own else ".")
        )
    exp.sections.append(sec)
    return exp
