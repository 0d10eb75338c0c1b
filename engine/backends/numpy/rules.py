"""A network's regularizers and constraints in the NumPy engine, as Keras applies them.

:class:`WeightRules` collects, from the layers' configs, each trainable weight's regularizer
(``<weight>_regularizer``) and constraint (``<weight>_constraint``) and each layer's
``activity_regularizer``. The engine adds :meth:`~WeightRules.weights_penalty` and
:meth:`~WeightRules.activity_penalty` to the loss (Keras' ``model.losses``: the penalty of the
weights as they are before the step, the penalty of each layer's output divided by the batch
size), their gradients to the weights' and outputs' gradients, and projects the weights with
:meth:`~WeightRules.constrain` after the optimizer's update.
"""

from __future__ import annotations

import numpy as np

from engine.constraints import project, resolve_constraint
from engine.graph import Graph
from engine.regularizers import penalty_gradient_of, penalty_of, resolve_regularizer


class WeightRules:
    def __init__(self, graph: Graph) -> None:
        # (flat key "layer/weight", (class name, config)): resolved once, not every step
        self.regularizers: list[tuple[str, tuple]] = []
        self.constraints: list[tuple[str, tuple]] = []
        self.activity: dict[str, tuple] = {}
        for node in graph.nodes:
            lt, cfg = node.layer_type, node.config
            for w in node.weights:
                if not w.trainable:
                    continue
                reg = lt.weight_rule(cfg, w.name, "regularizer")
                if reg is not None:
                    self.regularizers.append((f"{node.name}/{w.name}", resolve_regularizer(reg)))
                con = lt.weight_rule(cfg, w.name, "constraint")
                if con is not None:
                    self.constraints.append((f"{node.name}/{w.name}", resolve_constraint(con)))
            act = cfg.get("activity_regularizer") if lt.param("activity_regularizer") else None
            if act is not None:
                self.activity[node.name] = resolve_regularizer(act)

    @property
    def penalizes(self) -> bool:
        """Whether the loss has a regularization part."""
        return bool(self.regularizers or self.activity)

    def weights_penalty(self, flat: dict[str, np.ndarray], dtype: np.dtype):
        """Σ of the weight regularizers' penalties (a scalar of ``dtype``)."""
        total = dtype.type(0.0)
        for key, spec in self.regularizers:
            total = dtype.type(total + penalty_of(*spec, flat[key]))
        return total

    def weight_gradients(self, flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """∂(weight penalties)/∂w by flat key."""
        return {key: penalty_gradient_of(*spec, flat[key]) for key, spec in self.regularizers}

    def activity_penalty(self, outputs: dict[str, np.ndarray], dtype: np.dtype):
        """(Σ of the activity penalties, ∂ of it by each regularized layer's output): each
        layer's penalty of its output, divided by the batch size, as Keras' ``Layer.__call__``."""
        total = dtype.type(0.0)
        grads: dict[str, np.ndarray] = {}
        for name, spec in self.activity.items():
            a = outputs[name]
            if not len(a):  # Keras' divide_no_nan: an empty batch adds nothing
                grads[name] = np.zeros_like(a)
                continue
            n = dtype.type(len(a))
            total = dtype.type(total + penalty_of(*spec, a) / n)
            grads[name] = (penalty_gradient_of(*spec, a) / n).astype(dtype)
        return total, grads

    def constrain(self, flat: dict[str, np.ndarray]) -> None:
        """Project each constrained weight in place (after the optimizer's update)."""
        for key, spec in self.constraints:
            np.copyto(flat[key], project(*spec, flat[key]))
