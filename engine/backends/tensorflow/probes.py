"""Looking inside a built TensorFlow model without changing it: every layer's output, the weight
gradients of a batch, and everything one training step computes (for the parity checks).

:class:`Probes` is a part of :class:`~engine.backends.tensorflow.model.TensorFlowModel`: it reads
the model's ``graph``, ``optimizer``, ``_keras``, ``_tf``, ``_symbolic`` (every layer's
symbolic output), ``_seeded`` (the layers with a seed generator), ``_var_keys``/``_variables`` and
``_state_keys``/``_states`` (the non-trainable weights)
and calls its ``_cast_x``, ``_loss_value`` and ``_apply_update``. Nothing it does changes what
training does next: the random streams rewind and a probing update is undone.
"""

from __future__ import annotations

import numpy as np

from engine.backends.tensorflow.steps import penalty
from engine.graph import INPUT

__all__ = ["Probes"]


class Probes:
    """Every layer's output, weight gradients and a whole step, for views and comparisons."""

    _probe_keras = None

    def _probe_model(self):
        """A Keras model sharing the layers, returning every layer's output (for views)."""
        if self._probe_keras is None:
            keras = self._keras
            self._probe_keras = keras.Model(
                self._symbolic[INPUT], [self._symbolic[n.name] for n in self.graph.nodes]
            )
        return self._probe_keras

    def _probe(self, x, training: bool) -> list:
        outs = self._probe_model()(x, training=training)
        # Keras hands back a bare tensor when the model has a single output.
        return list(outs) if isinstance(outs, (list, tuple)) else [outs]

    def layer_outputs(self, x: np.ndarray, training: bool = False) -> dict[str, np.ndarray]:
        """Every layer's output on ``x`` in one call (for the activation views).

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape)
        training : bool, default False
            Random layers (dropout) on or off. With them on, their streams advance (as in a
            step).

        Returns
        -------
        dict of str to ndarray
            ``{layer: (n, *output_shape)}`` in graph order.
        """
        outs = self._probe(self._cast_x(x), training)
        return {n.name: np.asarray(o) for n, o in zip(self.graph.nodes, outs, strict=True)}

    def _seed_states(self) -> list[np.ndarray]:
        return [layer.seed_generator.state.numpy() for _, layer in self._seeded]

    def _set_seed_states(self, states: list[np.ndarray]) -> None:
        for (_, layer), s in zip(self._seeded, states, strict=True):
            layer.seed_generator.state.assign(s)

    def _loss_and_grads(self, x: np.ndarray, y: np.ndarray, training: bool):
        """The layers' outputs, the loss and the trainable weights' gradients; the moving
        statistics a training-mode pass would leave are kept in ``self._states_after``."""
        tf = self._tf
        saved = self._seed_states()
        saved_states = [v.numpy().copy() for v in self._states]
        try:
            with tf.GradientTape() as tape:
                outs = self._probe(self._cast_x(x), training)
                out = outs[[n.name for n in self.graph.nodes].index(self.graph.output)]
                loss = self._loss_value(y, out)
                if self._penalized:
                    loss = loss + penalty(tf, self._probe_model(), self.dtype.name)
            grads = tape.gradient(loss, self._variables)
            self._states_after = [v.numpy().copy() for v in self._states]
        finally:
            # Views must not change what training does next: the random streams rewind and
            # the moving statistics a training-mode pass updated are put back.
            self._set_seed_states(saved)
            for v, a in zip(self._states, saved_states, strict=True):
                v.assign(a)
        return outs, loss, grads

    def layer_gradients(
        self, x: np.ndarray, y: np.ndarray, training: bool = True
    ) -> dict[str, dict[str, np.ndarray]]:
        """Weight gradients of the loss on one batch at the current weights, without updating.

        For the live views; computed only when called (throttle the calls). Random layers
        (dropout) are active when ``training`` (as in a training step) but their streams are
        rewound afterwards, so asking for gradients never changes the training run.

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape)
        y : ndarray
            Targets as the loss expects them.
        training : bool, default True

        Returns
        -------
        dict
            ``{layer: {"kernel": (in, out), "bias": (out,)}}`` for every layer with weights.
        """
        return self._by_layer(self._loss_and_grads(x, y, training)[2])

    def outputs_and_gradients(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Every layer's training-mode output and the weight gradients (as
        :meth:`layer_gradients`) from one pass, without an update; random streams and moving
        statistics are left as they were (the live views)."""
        outs, _, grads = self._loss_and_grads(x, y, True)
        outputs = {n.name: np.asarray(o) for n, o in zip(self.graph.nodes, outs, strict=True)}
        return outputs, self._by_layer(grads)

    def _by_layer(self, grads) -> dict[str, dict[str, np.ndarray]]:
        """Gradients in ``_var_keys`` order as ``{layer: {weight: array}}``."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for (layer, wname), g in zip(self._var_keys, grads, strict=True):
            out.setdefault(layer, {})[wname] = np.asarray(g)
        return out

    def trace_compare(self, x: np.ndarray, y: np.ndarray, training: bool = False) -> dict:
        """Everything one training step computes, layer by layer, leaving the model unchanged.

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape)
        y : ndarray
            Targets as the loss expects them.
        training : bool, default False
            Random layers (dropout) on (True) or off. Off is what a comparison with the NumPy
            engine needs: the two backends draw different dropout masks.

        Returns
        -------
        dict
            ``outputs``: ``{layer: ndarray (n, *output_shape)}``; ``loss``: float;
            ``grads``: ``{layer: {"kernel": ..., "bias": ...}}``; ``weights``: the weights
            before the step; ``updated``: the weights one optimizer step later (computed, then
            undone together with the optimizer's state and the random streams).
        """
        outs, loss, grads = self._loss_and_grads(x, y, training)
        states_after = self._states_after
        before_states = [v.numpy().copy() for v in self._states]
        before_w = [v.numpy().copy() for v in self._variables]
        before_opt = [v.numpy().copy() for v in self.optimizer.variables]
        try:
            self._apply_update(grads)
            after_w = [v.numpy().copy() for v in self._variables]
        finally:
            for v, a in zip(self._variables, before_w, strict=True):
                v.assign(a)
            for v, a in zip(self.optimizer.variables, before_opt, strict=True):
                v.assign(a)

        def nest(values, keys=None) -> dict[str, dict[str, np.ndarray]]:
            d: dict[str, dict[str, np.ndarray]] = {}
            for (layer, wname), a in zip(
                self._var_keys if keys is None else keys, values, strict=True
            ):
                d.setdefault(layer, {})[wname] = np.asarray(a)
            return d

        def merged(trainable, states) -> dict[str, dict[str, np.ndarray]]:
            d = nest(trainable)
            for layer, ws in nest(states, self._state_keys).items():
                d.setdefault(layer, {}).update(ws)
            return d

        return {
            "outputs": {n.name: np.asarray(o) for n, o in zip(self.graph.nodes, outs, strict=True)},
            "loss": float(loss),
            "grads": nest(grads),
            "weights": merged(before_w, before_states),
            "updated": merged(after_w, states_after),
        }
