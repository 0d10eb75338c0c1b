"""The network canvas: layer blocks joined by edges, edited by direct manipulation.

``NetworkView`` (the widget) owns a ``NetworkScene`` built from the document's spec; every
gesture becomes one undoable edit of that spec.
"""
