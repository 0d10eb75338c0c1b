"""The Dataset panel: choose, preview and prepare the data, and match the network to it.

- :class:`~designer.dataset.panel.DatasetPanel`: the panel.
- :class:`~designer.dataset.load_thread.DatasetLoader`: loading in a background thread (large
  files in a child process, :mod:`designer.dataset.load_job`).
- :func:`~designer.dataset.controller.attach_dataset`: the panel in a main window (a dock,
  "Open data file…", dropped data files).

The names are imported on first use: the loading child process imports
:mod:`designer.dataset.load_job` only, without Qt.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DatasetController",
    "DatasetLoader",
    "DatasetPanel",
    "LoadResult",
    "attach_dataset",
    "dropped_data_path",
]

_WHERE = {
    "DatasetController": "controller",
    "attach_dataset": "controller",
    "dropped_data_path": "controller",
    "DatasetLoader": "load_thread",
    "LoadResult": "load_job",
    "DatasetPanel": "panel",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
