"""Downloading a Keras dataset for the Dataset panel, in a child process.

:class:`DatasetDownloader` runs ``python -m engine.data.download NAME`` (see
:mod:`engine.data.download`) with a QProcess and turns its lines into signals. A child process
rather than a thread: the window never imports Keras or TensorFlow for it (the engine's
downloader needs neither), a read stalled on a dead connection cannot hold the window or its
exit, and Cancel is immediate (SIGTERM: the child removes its temporary file; a child that
does not end at once is killed and the file removed here, by its name). The file lands in the
Keras cache only complete and with Keras' hash, so a cancelled or failed download leaves the
cache, and the project, as they were.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine.data.download import KERAS_DOWNLOADS, download_targets, partial_path

__all__ = ["DatasetDownloader"]

_ROOT = Path(__file__).resolve().parents[2]  # holds the engine package
#: After Cancel, how long the child may take to end by itself before it is killed (ms).
KILL_AFTER_MS = 2000


class DatasetDownloader(QObject):
    """One download at a time.

    Signals
    -------
    progress(int, int) : bytes written, bytes announced (-1 when unknown).
    finished(str) : the file is in the Keras cache at this path.
    failed(str) : the engine's message ("could not download MNIST: ...").
    cancelled() : stopped by :meth:`cancel`; nothing was written.

    Attributes
    ----------
    name : str or None
        The dataset being downloaded (None when idle).
    """

    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name: str | None = None
        self._process: QProcess | None = None
        self._buffer = b""
        self._outcome: tuple[str, str] | None = None
        self._cancelling = False
        self._pid = 0
        # A QProcess deleted while its child runs warns and blocks: end the child first, when
        # the downloader (a child of the panel) goes without shutdown(). ``destroyed`` comes
        # before the children are deleted; the closure holds no reference to self.
        self._current: list = []  # [the QProcess, its child's temporary file once started]
        self.destroyed.connect(_killer(self._current))
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return self._process is not None

    def start(self, name: str) -> None:
        """Download ``name`` (a key of :data:`~engine.data.download.KERAS_DOWNLOADS`) with
        the table's URL and hash (tests change the table)."""
        if self._process is not None:
            return
        info = KERAS_DOWNLOADS[name]
        self.name = name
        self._buffer = b""
        self._outcome = None
        self._cancelling = False
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        paths = [str(_ROOT)] + [p for p in env.value("PYTHONPATH", "").split(os.pathsep) if p]
        env.insert("PYTHONPATH", os.pathsep.join(paths))
        process.setProcessEnvironment(env)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        process.started.connect(self._on_started)
        self._process = process
        self._current[:] = [process]
        args = ["-m", "engine.data.download", name]
        for file in info.files:  # the table's URLs and digests, one per file
            args += ["--url", file.url, "--sha256", file.hash]
        process.start(sys.executable, args)

    def _on_started(self) -> None:
        if self._process is None or self.name is None:
            return
        self._pid = int(self._process.processId())
        self._current[1:] = self._partials()

    def _partials(self) -> list[Path]:
        """The temporary files the child may be writing (one per file of the download)."""
        if not self.name or not self._pid:
            return []
        return [partial_path(t, self._pid) for t in download_targets(self.name, create=False)]

    def cancel(self) -> None:
        """Stop the download; ``cancelled`` follows once the child has ended."""
        process = self._process
        if process is None or self._cancelling:
            return
        self._cancelling = True
        process.terminate()
        QTimer.singleShot(KILL_AFTER_MS, self, self._kill)

    def _kill(self) -> None:
        if self._process is not None and self._cancelling:
            self._process.kill()

    def shutdown(self) -> None:
        """End a download in progress at once (the window closes). Idempotent."""
        process = self._process
        if process is None:
            return
        self._cancelling = True
        for signal in (process.finished, process.errorOccurred, process.readyReadStandardOutput):
            signal.disconnect()
        if process.state() != QProcess.ProcessState.NotRunning:
            process.kill()
            process.waitForFinished(3000)
        self._remove_partial()
        self._process = None
        self._current.clear()
        self.name = None
        process.deleteLater()

    # ------------------------------------------------------------------ the child's lines
    def _read(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            kind, _, rest = raw.decode("utf-8", "replace").strip().partition(" ")
            if kind == "progress":
                try:
                    done, total = (int(v) for v in rest.split())
                except ValueError:
                    continue
                self.progress.emit(done, total)
            elif kind in ("done", "error", "cancelled"):
                self._outcome = (kind, rest)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            name = KERAS_DOWNLOADS[self.name].title if self.name else "the data"
            detail = self._process.errorString() if self._process is not None else ""
            self._end(
                "error", f"could not download {name}: the download could not start ({detail})"
            )

    def _on_finished(self, exit_code: int, _status: QProcess.ExitStatus) -> None:
        self._read()
        if self._process is not None:
            self._buffer += bytes(self._process.readAllStandardOutput().data()) + b"\n"
            self._read()
        if self._outcome is not None and self._outcome[0] == "done":
            self._end(*self._outcome)  # it ended before the cancel reached it: the file is in
        elif self._cancelling:
            self._end("cancelled", "")
        elif self._outcome is not None:
            self._end(*self._outcome)
        else:
            err = b""
            if self._process is not None:
                err = bytes(self._process.readAllStandardError().data())
            last = err.decode("utf-8", "replace").strip().splitlines()
            title = KERAS_DOWNLOADS[self.name].title if self.name else "the data"
            detail = last[-1] if last else f"exit status {exit_code}"
            self._end("error", f"could not download {title}: the download stopped ({detail})")

    def _remove_partial(self) -> None:
        # The child removes its temporary file itself unless it was killed: then this does.
        for path in self._partials():
            try:
                path.unlink()
            except OSError:
                pass

    def _end(self, kind: str, text: str) -> None:
        process = self._process
        if process is None:
            return
        self._remove_partial()
        self._process = None
        self._current.clear()
        self.name = None
        self._pid = 0
        process.deleteLater()
        if kind == "done":
            self.finished.emit(text)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(text)


def _killer(current: list):
    def kill(*_args) -> None:
        if not current:
            return
        process, *partial = current
        try:
            if process.state() != QProcess.ProcessState.NotRunning:
                process.kill()
                process.waitForFinished(3000)
        except RuntimeError:  # already deleted
            pass
        for path in partial:
            try:
                path.unlink()
            except OSError:
                pass

    return kill
