"""Importing TensorFlow: once, lazily, quietly; whether it can be used and on which device.

Nothing here imports TensorFlow when this module is imported: :func:`import_tensorflow` does, on
first use, and remembers a failure (a half-imported TensorFlow is not retried).
:func:`tensorflow_installed` is cheap (it only looks for the package);
:func:`tensorflow_available` says in one sentence whether the backend can be used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from engine.errors import BackendUnavailableError

__all__ = [
    "INSTALL_HINT",
    "device_name",
    "import_tensorflow",
    "tensorflow_available",
    "tensorflow_installed",
]

INSTALL_HINT = "Install with: pip install tensorflow"

_import_lock = threading.Lock()
# (tf, keras) once imported, or the BackendUnavailableError that importing raised.
_imported: tuple[Any, Any] | BackendUnavailableError | None = None


def tensorflow_installed() -> bool:
    """Whether a ``tensorflow`` package can be found, without importing it (cheap)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence TensorFlow's C++ start-up lines (written to fd 2 before its logging starts).

    Only when ``TF_CPP_MIN_LOG_LEVEL`` asks for quiet (>= 2, our default): a user who lowered it
    wants those lines.
    """
    try:
        quiet = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")) >= 2
    except ValueError:
        quiet = True
    if not quiet:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow() -> tuple[Any, Any]:
    """Import TensorFlow and Keras (once per process) and return ``(tf, keras)``.

    Sets ``KERAS_BACKEND=tensorflow`` and, unless the user chose otherwise,
    ``TF_CPP_MIN_LOG_LEVEL=2`` before importing. GPUs TensorFlow sees get memory growth, so that
    a small model does not reserve the whole card.

    Raises
    ------
    BackendUnavailableError
        When TensorFlow is not installed or fails to import (the message says which, why, and
        that the NumPy backend still works). The failure is remembered: a half-imported
        TensorFlow is not retried.
    """
    global _imported
    with _import_lock:
        if _imported is None:
            _imported = _do_import()
        if isinstance(_imported, BackendUnavailableError):
            raise BackendUnavailableError(_imported.message)
        return _imported


def _unavailable(kind: str, reason: str) -> BackendUnavailableError:
    reason = " ".join(str(reason).split()) or "unknown error"
    return BackendUnavailableError(
        f"TensorFlow {kind}: {reason}; the NumPy backend still works. {INSTALL_HINT}"
    )


def _do_import() -> tuple[Any, Any] | BackendUnavailableError:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with _quiet_native_stderr():
            import tensorflow as tf

            for gpu in tf.config.list_physical_devices("GPU"):
                with contextlib.suppress(RuntimeError, ValueError):
                    tf.config.experimental.set_memory_growth(gpu, True)
            import keras
    except ModuleNotFoundError as exc:
        if exc.name in ("tensorflow", "keras") and "halted" not in str(exc):
            return _unavailable("is not installed", f"no module named '{exc.name}'")
        return _unavailable("failed to import", f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # noqa: BLE001 - a broken install can raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _unavailable("failed to import", f"{type(exc).__name__}: {exc}")
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return _unavailable(
            "cannot be used",
            f"Keras runs on its {backend!r} backend in this process "
            f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}); set KERAS_BACKEND=tensorflow "
            "before starting NN Designer",
        )
    return tf, keras


def tensorflow_available() -> tuple[bool, str]:
    """Whether the TensorFlow backend can be used, and a sentence saying so.

    Imports TensorFlow on the first call (seconds); later calls are instant.

    Returns
    -------
    (bool, str)
        ``(True, "TensorFlow 2.x (Keras 3.x) on CPU")`` or ``(False, message)`` where the
        message is the one :class:`~engine.errors.BackendUnavailableError` carries.
    """
    try:
        tf, keras = import_tensorflow()
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, f"TensorFlow {tf.__version__} (Keras {keras.__version__}) on {device_name()}"


def device_name() -> str:
    """``"GPU (name)"`` when TensorFlow sees a GPU, else ``"CPU"``."""
    tf, _ = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    except (RuntimeError, ValueError, AttributeError):
        return f"GPU ({gpus[0].name})"
