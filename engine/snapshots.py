"""A training run's state at an epoch's end, to continue it later exactly where it was.

A :class:`Snapshot` holds everything the next epoch depends on: the weights (trainable and
not: BatchNormalization's moving statistics), the optimizer's state (its step count, learning
rate, slots: Adam's moments, momentum...), the random streams (the shuffle's generator, the
pass over the data an epoch draws its batches from, every Dropout's generator) and the
callbacks' state (EarlyStopping's patience count and best value, ReduceLROnPlateau's
cooldown...). :func:`capture` takes one from a :class:`~engine.training.Trainer` after an
epoch; :func:`restore` puts a trainer back into it, so that a run continued from a snapshot
with the same settings is the same run, bit for bit on the NumPy engine.

On disk a snapshot is two entries of the project's ``.nnd``: ``<name>.json`` (the numbers, the
structure and an index of the arrays) and ``<name>.bin`` (the arrays' raw bytes, read with
``numpy.frombuffer``: no pickles, nothing executed), see :func:`to_entries` and
:func:`from_entries`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from engine.errors import ProjectError

#: The marker of an array in a snapshot's JSON: ``{"__array__": "name in the npz"}``.
_ARRAY = "__array__"
#: Keys of a callback object's state that are its settings or live links, not its state.
_NOT_STATE = frozenset({"config", "monitor", "lower", "min_delta"})


@dataclass(eq=False)  # compared by identity: it holds arrays
class Snapshot:
    """A run's state after ``epoch`` (1-based, counting an ``initial_epoch``)."""

    epoch: int
    weights: dict[str, np.ndarray]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    #: Only weights (a project saved before runs were kept): a run continued from it starts
    #: its optimizer and random streams afresh.
    partial: bool = False

    @cached_property
    def nbytes(self) -> int:
        """The bytes its arrays hold (what a project's snapshot budget counts)."""
        arrays: dict[str, np.ndarray] = {}
        _split(self._payload(), arrays)
        return sum(a.nbytes for a in arrays.values())

    def _payload(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "weights": self.weights,
            "optimizer": self.optimizer,
            "rng": self.rng,
            "callbacks": self.callbacks,
            "partial": self.partial,
        }


def _optimizer_state(model) -> dict[str, Any]:
    # Both engines' getters return copies already.
    get = getattr(model, "get_optimizer_state", None) or model.optimizer.get_state
    return get()


def capture(trainer) -> Snapshot:
    """The state of ``trainer`` (and its model) now, between epochs: copies."""
    model = trainer.model
    rng_states = getattr(model, "rng_states", None)
    order = trainer._pass_order
    rng = {
        "shuffle": copy.deepcopy(trainer._rng.bit_generator.state),
        "pass_order": None if order is None else order.copy(),
        "pass_used": trainer._pass_used,
        "layers": copy.deepcopy(rng_states()) if rng_states else {},
        # whose generators those are: another engine's Dropout streams do not carry over
        "backend": getattr(model, "name", None),
    }
    callbacks = [
        copy.deepcopy({k: v for k, v in vars(cb).items() if k not in _NOT_STATE})
        for cb in trainer.callbacks
    ]
    return Snapshot(
        epoch=trainer.epochs_done,
        weights=model.flat_weights(),
        optimizer=_optimizer_state(model),
        rng=rng,
        callbacks=callbacks,
    )


def restore(trainer, snap: Snapshot) -> None:
    """Put ``trainer`` and its model into the state of ``snap``: the next :meth:`run` goes on
    with epoch ``snap.epoch + 1`` as the captured run did (its callbacks not begun again). A
    partial snapshot gives the weights only."""
    model = trainer.model
    model.set_flat_weights({k: v.copy() for k, v in snap.weights.items()})
    trainer.epochs_done = snap.epoch
    if snap.partial:
        return
    set_state = getattr(model, "set_optimizer_state", None) or model.optimizer.set_state
    set_state(copy.deepcopy(snap.optimizer))
    rng = snap.rng
    trainer._rng.bit_generator.state = copy.deepcopy(rng["shuffle"])
    order = rng.get("pass_order")
    trainer._pass_order = None if order is None else np.asarray(order).copy()
    trainer._pass_used = rng.get("pass_used")
    set_rng = getattr(model, "set_rng_states", None)
    if set_rng and rng.get("layers") and rng.get("backend") == getattr(model, "name", None):
        set_rng(copy.deepcopy(rng["layers"]))
    if len(snap.callbacks) == len(trainer.callbacks):
        for cb, state in zip(trainer.callbacks, snap.callbacks, strict=True):
            for key, value in copy.deepcopy(state).items():
                setattr(cb, key, value)
        trainer._begun = True  # the callbacks go on; on_train_begin would reset them
        trainer.stop_reason = None


# ------------------------------------------------------------------------------ on disk
def _split(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` with every array replaced by a marker (the array goes to ``arrays``)."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {_ARRAY: name}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _split(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(v, arrays) for v in value]
    return value


def _join(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            name = value[_ARRAY]
            if not isinstance(name, str) or name not in arrays:
                raise ProjectError(f"a snapshot names an array {name!r} it does not hold", where)
            return arrays[name]
        return {k: _join(v, arrays, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays, where) for v in value]
    return value


#: The dtypes a snapshot's arrays may have (weights, slots, orders, generator states).
_DTYPES = frozenset(
    np.dtype(t).str for t in ("float16", "float32", "float64", "int32", "int64", "uint32", "uint64")
) | {np.dtype(bool).str}


def to_entries(snap: Snapshot) -> tuple[bytes, bytes]:
    """``(json bytes, array bytes)`` of a snapshot: the JSON holds the structure and an index
    (``"__arrays__": {name: [dtype, shape, offset]}``) into one buffer of the arrays' raw
    bytes, each 8-byte aligned (no pickles; the same bytes for the same snapshot)."""
    arrays: dict[str, np.ndarray] = {}
    meta = _split(snap._payload(), arrays)
    index: dict[str, list] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        if arr.dtype.str not in _DTYPES:
            arr = arr.astype(np.float64)
        raw = arr.tobytes()
        index[name] = [arr.dtype.str, list(arr.shape), offset]
        pad = (-len(raw)) % 8
        chunks.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    meta["__arrays__"] = index
    text = json.dumps(meta, sort_keys=True, allow_nan=True).encode("utf-8")
    return text, b"".join(chunks)


def from_entries(meta_bytes: bytes, raw: bytes, where: str, max_bytes: int) -> Snapshot:
    """The snapshot of :func:`to_entries`' bytes; ProjectError naming ``where`` for anything
    malformed (an index outside the buffer, a dtype that is not a number's, a shape beyond
    ``max_bytes``)."""
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"a snapshot's JSON does not read: {exc}", where) from None
    if not isinstance(meta, dict):
        raise ProjectError("a snapshot's JSON must be an object", where)
    index = meta.pop("__arrays__", {})
    if not isinstance(index, dict):
        raise ProjectError("a snapshot's array index must be an object", where)
    arrays: dict[str, np.ndarray] = {}
    for name, item in index.items():
        try:
            dtype_text, shape, offset = item
            dtype = np.dtype(dtype_text) if dtype_text in _DTYPES else None
            shape = tuple(int(d) for d in shape)
            offset = int(offset)
        except (TypeError, ValueError):
            raise ProjectError(
                f"a snapshot's array {name!r} is not [dtype, shape, offset]", where
            ) from None
        if dtype is None:
            raise ProjectError(f"a snapshot's array {name!r} has the dtype {dtype_text!r}", where)
        if any(d < 0 for d in shape) or offset < 0:
            raise ProjectError(f"a snapshot's array {name!r} has a negative size", where)
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if nbytes > max_bytes or offset + nbytes > len(raw):
            raise ProjectError(f"a snapshot's array {name!r} lies outside its data", where)
        count = nbytes // dtype.itemsize
        arrays[name] = np.frombuffer(raw, dtype, count, offset).reshape(shape).copy()
    if not isinstance(meta, dict) or not {"epoch", "weights", "optimizer", "rng"} <= set(meta):
        raise ProjectError("a snapshot lacks its epoch, weights, optimizer or rng", where)
    data = _join(meta, arrays, where)
    epoch = data["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ProjectError(f"a snapshot's epoch must be a count, got {epoch!r}", where)
    weights = data["weights"]
    if not isinstance(weights, dict) or not all(
        isinstance(v, np.ndarray) for v in weights.values()
    ):
        raise ProjectError("a snapshot's weights must be arrays by name", where)
    callbacks = data.get("callbacks") or []
    if not isinstance(callbacks, list) or not all(isinstance(c, dict) for c in callbacks):
        raise ProjectError("a snapshot's callbacks must be a list of states", where)
    if not isinstance(data["optimizer"], dict) or not isinstance(data["rng"], dict):
        raise ProjectError("a snapshot's optimizer and rng must be objects", where)
    return Snapshot(
        epoch=epoch,
        weights=weights,
        optimizer=data["optimizer"],
        rng=data["rng"],
        callbacks=callbacks,
        partial=bool(data.get("partial", False)),
    )
