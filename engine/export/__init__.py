"""Keras interchange: a project as a runnable Keras 3 script, and a saved Keras model as a project.

:func:`keras_code` is a pure function of the spec (the designer's code preview calls it on every
edit); :func:`export_project` writes the script and, for a trained project, its weights in Keras'
own ``.weights.h5`` format; :func:`import_keras_model` reads a ``.keras`` or ``.h5`` model.
Importing this package never imports TensorFlow or Keras: the functions that need them import
them when called.
"""

from __future__ import annotations

from engine.export.keras_code import export_project, keras_code
from engine.export.keras_import import import_keras_model

__all__ = ["export_project", "import_keras_model", "keras_code"]
