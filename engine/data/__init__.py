"""Datasets: built-in sets, the user's ``.npz`` files, and preparation for training.

A project's ``"dataset"`` object is one of

- ``{"name": "moons", "n_samples": 400, "noise": 0.1, "seed": 0}``: a built-in set (see
  :data:`BUILTIN_DATASETS` for the names, their parameters and defaults);
- ``{"path": "data.npz", "task": "classification"}``: a file, relative to the project's folder
  (``task`` is optional and overrides the inferred one).

Either may also hold ``"standardize": true``, read by the caller and passed to :func:`prepare`.

Importing this package imports only NumPy; scikit-learn is imported when a set that needs it
is loaded, and TensorFlow/Keras never.
"""

from __future__ import annotations

import pathlib
from typing import Any

from engine.data.builtin import BUILTIN_DATASETS, BuiltinInfo, ParamInfo, builtin_param_problems
from engine.data.builtin import load_builtin as _load_builtin
from engine.data.files import TASKS, Dataset, load_npz_file, resolve_path
from engine.data.prepare import Prepared, Standardizer, prepare, split_validation
from engine.errors import DataError

__all__ = [
    "BUILTIN_DATASETS",
    "COMMON_KEYS",
    "BuiltinInfo",
    "Dataset",
    "ParamInfo",
    "Prepared",
    "Standardizer",
    "dataset_param_problems",
    "load_dataset",
    "prepare",
    "split_validation",
]

#: Keys every dataset spec may hold; they are read by the caller, not by :func:`load_dataset`.
COMMON_KEYS = ("standardize",)
_FILE_KEYS = ("path", "task")


def dataset_param_problems(spec: dict[str, Any]) -> list[str]:
    """Everything wrong with a dataset spec that can be told without loading it.

    Parameters
    ----------
    spec : dict
        The project's ``"dataset"`` object.

    Returns
    -------
    list of str
        One sentence per problem (unknown name or key, wrong type, value out of range), each
        starting with ``dataset`` or ``dataset.<key>:``; empty when the spec is valid. Whether a
        file exists and what it holds is only known by :func:`load_dataset`.
    """
    if not isinstance(spec, dict):
        return [f'dataset: must be an object with a "name" or a "path", got {spec!r}']
    problems: list[str] = []
    if "standardize" in spec and not isinstance(spec["standardize"], bool):
        problems.append(f"dataset.standardize: must be true or false, got {spec['standardize']!r}")
    has_name, has_path = "name" in spec, "path" in spec
    if has_name and has_path:
        return [*problems, 'dataset: give either "name" (a built-in set) or "path", not both']
    if not has_name and not has_path:
        return [*problems, 'dataset: needs a "name" (a built-in set) or a "path" (an .npz file)']
    rest = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    if has_name:
        name = rest.pop("name")
        if not isinstance(name, str):
            return [*problems, f"dataset.name: must be a string, got {name!r}"]
        return problems + builtin_param_problems(name, rest)
    path = rest.get("path")
    if not isinstance(path, str) or not path.strip():
        problems.append(f"dataset.path: must be a non-empty string, got {path!r}")
    if "task" in rest and rest["task"] not in TASKS:
        problems.append(
            f'dataset.task: must be "classification" or "regression", got {rest["task"]!r}'
        )
    for key in rest:
        if key not in _FILE_KEYS:
            known = ", ".join(_FILE_KEYS + COMMON_KEYS)
            problems.append(f"dataset.{key}: unknown key for a file dataset (known: {known})")
    return problems


def load_dataset(spec: dict[str, Any], base_dir: pathlib.Path | None = None) -> Dataset:
    """Load the dataset a spec describes.

    Parameters
    ----------
    spec : dict
        The project's ``"dataset"`` object (see the module docstring).
    base_dir : Path, optional
        Folder that relative ``"path"`` values are resolved against (the project file's
        folder); the current directory when None.

    Returns
    -------
    Dataset
        ``x`` float32 of shape (n, *feature_shape); ``y`` int64 of shape (n,) for
        classification or float32 of shape (n, k) for regression.

    Raises
    ------
    DataError
        An invalid spec (all problems listed), a missing or malformed file (the message names
        the path, key and first bad index), or a Keras-cache set that is not cached.
    """
    problems = dataset_param_problems(spec)
    if problems:
        raise DataError("; ".join(problems))
    if "name" in spec:
        params = {k: v for k, v in spec.items() if k not in COMMON_KEYS and k != "name"}
        return _load_builtin(spec["name"], params)
    path = resolve_path(spec["path"], base_dir)
    return load_npz_file(path, task=spec.get("task"))
