"""The TensorFlow backend: the project's network as a Keras 3 model, trained by compiled steps.

:class:`TensorFlowModel` has the NumPy backend's interface (see :mod:`engine.backends.base`) so
that :class:`engine.training.Trainer` drives either. The network is built with Keras' own layer,
activation, loss and optimizer classes (a project's config keys are already Keras'), under the
project's layer names. Initial weights come from the NumPy engine's initializers, so that the
same seed gives the same starting point on both backends.

The fast path runs several training steps per call inside one ``tf.function`` (a while loop over
a stacked block of batches): forward, loss, gradients, a finiteness check and the optimizer
update all stay in the graph, and the per-step loss and metrics come back as one small array.
A non-finite loss or gradient skips that step's update; an update that makes a weight
non-finite is undone from an in-graph copy. Either way the call stops there and
:class:`~engine.errors.NonFiniteError` names the step and the layer, with the last finite
weights kept. Gradients for the live views (:meth:`TensorFlowModel.layer_gradients`) and the
per-layer comparison with the NumPy engine (:meth:`TensorFlowModel.trace_compare`) run only
when asked for.

TensorFlow is imported lazily, on first use, never when this package is imported: the rest of
the engine keeps working without it, and :func:`tensorflow_available` says why it cannot be
used in one sentence. A GPU is used when TensorFlow sees one; otherwise the CPU.

One module per job:

- :mod:`.runtime` — importing TensorFlow (once, quietly), whether it can be used, the device;
- :mod:`.build` — the Keras model from the graph (each layer by its layer type), the
  optimizer and the loss; what only the NumPy backend runs (:func:`unsupported_problems`);
- :mod:`.fused` — TensorFlow's fused kernels applying Keras' optimizer updates;
- :mod:`.steps` — the compiled multi-step training function, the in-graph loss and metrics;
- :mod:`.probes` — every layer's output, weight gradients, one whole step for comparison;
- :mod:`.model` — :class:`TensorFlowModel`, stitching them together.
"""

from __future__ import annotations

from engine.backends.tensorflow.build import unsupported_problems
from engine.backends.tensorflow.model import SWITCH_NOTE, TensorFlowModel
from engine.backends.tensorflow.runtime import (
    INSTALL_HINT,
    device_name,
    import_tensorflow,
    tensorflow_available,
    tensorflow_installed,
)
from engine.backends.tensorflow.steps import initial_steps_per_call

__all__ = [
    "INSTALL_HINT",
    "SWITCH_NOTE",
    "TensorFlowModel",
    "device_name",
    "import_tensorflow",
    "initial_steps_per_call",
    "tensorflow_available",
    "tensorflow_installed",
    "unsupported_problems",
]
