"""The thread that runs the Dataset panel's load jobs, off the UI thread.

:class:`DatasetLoader` (UI side) owns a QThread in which a :class:`LoadWorker` loads one
request at a time with :func:`~designer.dataset.load_job.load_now` (large files and image
folders in a child process, :func:`~designer.dataset.load_job.load_in_subprocess`). Results
come back as one :class:`~designer.dataset.load_job.LoadResult` by signal. Only the newest
request matters: the worker skips requests that were superseded before it reached them and
stops a child process whose request was superseded; the loader drops results of older
requests (a superseded load in this thread cannot be interrupted halfway: it runs to its end
and is then ignored).

Nothing here touches a widget; the worker only emits.
"""

from __future__ import annotations

import atexit
import json
import weakref
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from designer.dataset.load_job import (
    LoadRequest,
    LoadResult,
    load_in_subprocess,
    load_now,
    wants_subprocess,
)
from designer.gc_policy import collect_on_ui_thread

__all__ = ["DatasetLoader", "LoadRequest", "LoadResult", "LoadWorker"]


#: Loaders whose thread runs: ended at exit, before Python tears down the QThread objects (a
#: QThread destroyed while running aborts the process).
_LIVE: weakref.WeakSet[DatasetLoader] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for loader in list(_LIVE):
        try:
            loader.shutdown()
        except RuntimeError:  # its C++ object is gone already
            pass


class _Latest:
    """The newest request's id, shared with the worker (an int read under the GIL)."""

    value = 0


class LoadWorker(QObject):
    """Lives in the loader's thread; loads requests in order, skipping superseded ones."""

    finished = Signal(object)  # LoadResult

    def __init__(self, latest: _Latest) -> None:
        super().__init__()
        self._latest = latest

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        if request.id < self._latest.value:
            return  # a newer request is queued behind this one
        if wants_subprocess(request):
            result = load_in_subprocess(request, lambda: request.id < self._latest.value)
            if result is None:
                return  # superseded: the child was stopped
        else:
            result = load_now(request)
        self.finished.emit(result)


class DatasetLoader(QObject):
    """The UI side: :meth:`request` returns at once; ``loaded`` brings the newest request's
    :class:`LoadResult`; ``busy_changed`` says when loading starts and ends.

    The thread starts with the first request and ends in :meth:`shutdown` (or when the loader
    is deleted; a load in progress is waited for).
    """

    loaded = Signal(object)
    busy_changed = Signal(bool)
    _post = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._latest = _Latest()
        self._thread: QThread | None = None
        self._worker: LoadWorker | None = None
        self.current: LoadRequest | None = None
        self.results = 0

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def latest_id(self) -> int:
        return self._latest.value

    def _start(self) -> None:
        collect_on_ui_thread()  # before the thread allocates (see designer.gc_policy)
        thread = QThread()
        thread.setObjectName("nnd-dataset-loader")
        worker = LoadWorker(self._latest)
        worker.moveToThread(thread)
        self._post.connect(worker.load)
        worker.finished.connect(self._on_finished)
        thread.finished.connect(worker.deleteLater)
        thread.start()
        self._thread, self._worker = thread, worker
        _LIVE.add(self)
        # Deleting a running QThread aborts the process: stop it when the loader goes away
        # without shutdown(). ``destroyed`` comes before the children are deleted; the closure
        # holds no reference to self.
        self.destroyed.connect(_stopper(thread))
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def request(
        self, spec: dict[str, Any], base_dir: Path | None, purpose: str = "project"
    ) -> LoadRequest:
        """Load ``spec`` in the background; supersedes every earlier request."""
        if self._thread is None:
            self._start()
        self._latest.value += 1
        req = LoadRequest(self._latest.value, json.loads(json.dumps(spec)), base_dir, purpose)
        was_busy = self.busy
        self.current = req
        self._post.emit(req)
        if not was_busy:
            self.busy_changed.emit(True)
        return req

    def cancel(self) -> None:
        """Forget the request in progress (its result will be dropped)."""
        if self.current is None:
            return
        self._latest.value += 1
        self.current = None
        self.busy_changed.emit(False)

    def _on_finished(self, result: LoadResult) -> None:
        if self.current is None or result.request.id != self.current.id:
            return  # superseded or cancelled
        self.current = None
        self.results += 1
        self.busy_changed.emit(False)
        self.loaded.emit(result)

    def shutdown(self) -> None:
        """End the thread (waits for a load in progress). Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._thread = None
        _LIVE.discard(self)
        self._latest.value += 1
        self.current = None
        thread.quit()
        thread.wait()
        thread.deleteLater()


def _stopper(thread: QThread):
    def stop(*_args) -> None:
        try:
            if thread.isRunning():
                thread.quit()
                thread.wait()
        except RuntimeError:  # already deleted
            pass

    return stop
