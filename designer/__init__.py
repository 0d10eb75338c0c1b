"""NN Designer's Qt application (PySide6 + pyqtgraph).

Depends on :mod:`engine`, never the reverse. Importing it does not import TensorFlow.
"""

from __future__ import annotations
