"""NN Designer engine: the Qt-free, TensorFlow-free core.

Importing this package (or any module below it) never imports PySide6, pyqtgraph or
TensorFlow; the TensorFlow backend and the Keras export/import modules import them lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"
