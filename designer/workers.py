"""Training off the UI thread: :class:`TrainingSession` owns a :class:`TrainingCore`
(:mod:`designer.worker_core`, where the data flow is described) running either

- in a **child process** (the default): a forkserver child on Linux, a spawned one elsewhere.
  Training then never waits for the UI's interpreter lock (on a small machine that wait cost
  more than the views' own drawing), and a backend that crashes or runs out of memory ends the
  child, not the window: the session reports it and starts a new one on the next command; or
- in a **QThread** of this process (``NND_TRAINING_WORKER=thread``, and the fallback when no
  process can be started).

Either way the UI thread drains one :class:`Mailbox` with a QTimer (≤ 30 Hz) and emits one
``drained(Batch)`` per drain; every method of the session is called on the UI thread and
returns at once.

TensorFlow fixes its devices once per process, when it starts: a configuration whose
``distribute`` section splits the CPU into another count of logical devices (``"replicas":
N``) than the child's TensorFlow started with gets a new child (:func:`designer.worker_core.
cpu_devices`). A thread shares the window's TensorFlow: there the engine refuses another split
with its message.
"""

from __future__ import annotations

import atexit
import copy
import os
import pickle
import queue
import signal
import sys
import threading
import weakref

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from designer.gc_policy import collect_on_ui_thread
from designer.worker_core import (  # noqa: F401 - also the names the app and tests import here
    CHILD_PRELOAD,
    DRAIN_INTERVAL_MS,
    GC_TICK_MS,
    Batch,
    GcPause,
    Mailbox,
    RunConfig,
    StepRecord,
    TrainingCore,
    child_main,
    cpu_devices,
    layer_classes,
    make_model,
)

#: Where the training core runs: "process" (the default) or "thread".
WORKER_MODES = ("process", "thread")


def default_mode() -> str:
    """``NND_TRAINING_WORKER`` when it names a mode, else "process"."""
    mode = os.environ.get("NND_TRAINING_WORKER", "").strip().lower()
    return mode if mode in WORKER_MODES else "process"


# ------------------------------------------------------------------------------ in a thread
class TrainingWorker(QObject):
    """A :class:`TrainingCore` in a QThread of this process. Its signals are emitted from the
    worker thread (connect them queued): ``wake``, ``failed(str)``, ``finished``."""

    wake = Signal()
    failed = Signal(str)
    finished = Signal()

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__()
        self.core = TrainingCore(
            mailbox,
            on_wake=self.wake.emit,
            on_failed=self.failed.emit,
            on_finished=self.finished.emit,
        )

    def post(self, *cmd) -> None:
        self.core.post(*cmd)

    @Slot()
    def run(self) -> None:
        self.core.run()


class _ThreadHost:
    """The core on a QThread (a child of ``parent``, which must not be deleted before
    :meth:`close`; the session connects its ``destroyed`` to it)."""

    mode = "thread"
    #: As on a process host: a thread always starts and never dies on its own.
    start_error = None
    received = 0

    def __init__(self, mailbox: Mailbox, on_wake, parent: QObject) -> None:
        self.thread = QThread(parent)
        self.thread.setObjectName("nnd-training")
        self.worker = TrainingWorker(mailbox)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.thread.finished.connect(self.worker.deleteLater)
        self.worker.wake.connect(on_wake)
        collect_on_ui_thread()  # before the thread allocates (see designer.gc_policy)
        self.thread.start()
        self.pid = os.getpid()
        self.dead = False  # a thread does not end on its own
        self.ended = False

    def post(self, *cmd) -> None:
        self.worker.post(*cmd)

    def close(self) -> None:
        """End the thread (blocks until it has ended). Idempotent."""
        try:
            if self.thread.isRunning():
                self.worker.core.quit_now()
                self.thread.quit()
                self.thread.wait()
            self.ended = self.thread.isFinished()
        except RuntimeError:  # deleted already: nothing left to stop
            self.ended = True


# ------------------------------------------------------------------------------ in a process
class _Waker(QObject):
    wake = Signal()


def _mp_context():
    import multiprocessing as mp
    import multiprocessing.util  # noqa: F401 - registers the hook that terminates children

    # Exit hooks run last registered first: ask our children to end before that hook would
    # terminate them.
    atexit.unregister(_shutdown_live_sessions)
    atexit.register(_shutdown_live_sessions)
    # Fork servers only on Linux: macOS lists one too, but forking after its system libraries
    # started (Accelerate, libdispatch) is why Python starts processes there by spawning.
    if sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(CHILD_PRELOAD)
        return ctx
    return mp.get_context("spawn")


def _exit_text(code: int | None) -> str:
    """Why a child ended, for people: "it was killed (SIGKILL, often a lack of memory)"."""
    if code is None:
        return "it did not answer"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ", often a lack of memory" if name == "SIGKILL" else ""
        return f"it was killed ({name}{hint})"
    return f"it exited with status {code}"


class _ProcessHost:
    """The core in a child process (:func:`designer.worker_core.child_main`).

    Two helper threads keep the UI thread from ever blocking on the pipes: the reader starts
    the process (the fork server's first start takes a moment), then unpickles each batch the
    child sends into ``mailbox`` and wakes the session; the writer sends the commands, which
    are pickled on the UI thread. While the host lives, Python's collector is paused
    (:class:`GcPause`) so that it never runs on those threads; the session collects on the UI
    thread instead.
    """

    mode = "process"

    def __init__(self, mailbox: Mailbox, on_wake, parent: QObject) -> None:
        self.mailbox = mailbox
        self._waker = _Waker(parent)
        self._waker.wake.connect(on_wake)
        ctx = _mp_context()
        cmd_r, self._cmd_w = ctx.Pipe(duplex=False)
        self._evt_r, evt_w = ctx.Pipe(duplex=False)
        self._child_ends = (cmd_r, evt_w)
        self.process = ctx.Process(
            target=child_main,
            args=(cmd_r, evt_w, dict(os.environ)),
            name="nnd-training",
            daemon=True,
        )
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._started = threading.Event()
        self.pid: int | None = None
        #: Why the process could not start (the session then falls back to a thread, which
        #: gets the commands this host could not deliver: ``undelivered``, pickled).
        self.start_error: str | None = None
        self.undelivered: list[bytes] = []
        #: The child ended without being asked to (the next command starts another).
        self.dead = False
        self.ended = False
        self._closing = False
        #: Batches received (a child that dies without sending any failed to start up).
        self.received = 0
        #: The logical CPU devices the child's TensorFlow starts with (its first TensorFlow
        #: configuration's count, 1 by default); None until it is given one.
        self.tf_devices: int | None = None
        self._release_lock = threading.Lock()
        self._reader_done = self._closed = self._released = False
        collect_on_ui_thread()
        GcPause.hold()
        self._reader = threading.Thread(target=self._read, name="nnd-training-reader")
        self._writer = threading.Thread(target=self._write, name="nnd-training-writer")
        self._reader.daemon = self._writer.daemon = True
        self._reader.start()
        self._writer.start()

    def post(self, *cmd) -> None:
        self._outbox.put(pickle.dumps(cmd, pickle.HIGHEST_PROTOCOL))

    def wait_started(self, timeout: float = 30.0) -> int | None:
        """Block until the process has started; its pid (None if it could not start)."""
        self._started.wait(timeout)
        return self.pid

    # ---------------------------------------------------------------- helper threads
    def _read(self) -> None:
        try:
            self._serve()
        finally:
            self._arrive("_reader_done")

    def _serve(self) -> None:
        from multiprocessing.connection import wait

        try:
            self.process.start()
            self.pid = self.process.pid
        except Exception as exc:  # noqa: BLE001 - reported to the session, which falls back
            self.start_error = f"{type(exc).__name__}: {exc}"
        finally:
            for end in self._child_ends:
                end.close()  # the child has its own copies: EOF comes when the child ends
            self._started.set()
        if self.start_error is not None:
            self.dead = True
            self._waker.wake.emit()
            return
        # The process's sentinel as well as the pipe: a child that dies before it took its
        # end of the pipe over (spawning, on Windows) would never close the parent's copy.
        ended = False
        while True:
            if not ended:
                ended = self.process.sentinel in wait([self._evt_r, self.process.sentinel])
            if ended and not self._evt_r.poll():
                break  # ended, and nothing (or only EOF) is left to read
            try:
                data = self._evt_r.recv_bytes()
            except (EOFError, OSError):
                break
            try:
                batch = pickle.loads(data)
            except Exception as exc:  # noqa: BLE001 - tell the user; the next batch may do
                batch = Batch(events=[("notice", f"training results could not be read: {exc}")])
            self.received += 1
            self.mailbox.merge(batch)
            self._waker.wake.emit()
        self.process.join(timeout=10)
        if not self._closing:
            self.dead = True
            self.mailbox.post_event(
                "error",
                "the training process stopped unexpectedly: "
                f"{_exit_text(self.process.exitcode)}. Play starts a new one.",
            )
            self.mailbox.post_event("state", "idle")
            self._waker.wake.emit()

    def _write(self) -> None:
        self._started.wait()
        while True:
            data = self._outbox.get()
            if data is None:
                break
            if self.start_error is not None:
                self.undelivered.append(data)  # for whatever takes over
                continue
            try:
                self._cmd_w.send_bytes(data)
            except OSError:  # the child is gone; the reader reports it
                break
        self._cmd_w.close()

    # ---------------------------------------------------------------- closing
    def close(self, timeout: float = 10.0) -> None:
        """Ask the child to end and wait for it (killing it if it does not end in time).
        Idempotent."""
        if self.ended:
            return
        self._closing = True
        self.post("quit")
        self._outbox.put(None)
        if self._started.wait(timeout) and self.start_error is None:
            self._reader.join(timeout)
            for stop in (self.process.terminate, self.process.kill):
                if not self._reader.is_alive():
                    break
                stop()
                self._reader.join(5.0)
        self._writer.join(5.0)
        self.ended = self.start_error is not None or (
            not self._reader.is_alive() and self.process.exitcode is not None
        )
        # The pipe closes and the collector comes back once the reader has ended (closing
        # a pipe it still reads, or collecting on its thread, is what must not happen).
        self._arrive("_closed")

    def _arrive(self, flag: str) -> None:
        """The reader's end and :meth:`close` each set their flag; whichever comes second
        closes the pipe and lets the collector run again (once)."""
        with self._release_lock:
            setattr(self, flag, True)
            if not (self._reader_done and self._closed) or self._released:
                return
            self._released = True
        self._evt_r.close()
        GcPause.release()


# ------------------------------------------------------------------------------ UI side
class TrainingSession(QObject):
    """The UI-side owner of a training core (in a process or a thread; see the module).

    Emits one ``drained(Batch)`` per drain, and ``state_changed(str)`` and ``error(str)`` from
    the events. The core starts with the first command.
    """

    drained = Signal(object)
    state_changed = Signal(str)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None, mode: str | None = None) -> None:
        super().__init__(parent)
        if mode is not None and mode not in WORKER_MODES:
            raise ValueError(f"unknown worker mode {mode!r}; expected one of {WORKER_MODES}")
        self.mode = mode or default_mode()
        self.mailbox = Mailbox()
        self.state = "idle"
        self._host: _ThreadHost | _ProcessHost | None = None
        self._closed = False
        #: The last configuration sent: a core started anew (after a crash) gets it again.
        self._last_config: RunConfig | None = None
        #: The last sample picked for the activity view (a new worker gets it too).
        self._last_sample: tuple | None = None
        self._silent_deaths = 0
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self._drain_soon = False
        self.drains = 0
        #: True once the worker (thread or process) has ended after :meth:`shutdown`.
        self.thread_finished = False
        self._gc_ticks = 0
        self._gc_timer = QTimer(self)
        self._gc_timer.setInterval(GC_TICK_MS)
        self._gc_timer.timeout.connect(self._collect)
        self._gc_timer.start()
        _LIVE_SESSIONS.add(self)

    # ------------------------------------------------------------------ the worker
    @property
    def alive(self) -> bool:
        return not self._closed

    @property
    def worker(self) -> TrainingWorker | None:
        """The thread-mode worker (None in process mode or before the first command)."""
        return getattr(self._host, "worker", None)

    def worker_pid(self, timeout: float = 30.0) -> int | None:
        """The process the core runs in (this one in thread mode), starting it if need be."""
        if self._closed:
            return None
        host = self._ensure_host()
        return host.wait_started(timeout) if isinstance(host, _ProcessHost) else host.pid

    def _ensure_host(self):
        host = self._host
        if host is not None and not host.dead:
            return host
        replay: list[tuple] = []
        if host is not None:  # the child died (or never started): clean up, start anew
            host.close()
            silent = host.start_error is None and host.received == 0
            self._silent_deaths = self._silent_deaths + 1 if silent else 0
            if host.start_error is not None or self._silent_deaths >= 2:
                # No process works here: a thread takes over, with every command so far
                # (none of which reached a process that could not start).
                reason = host.start_error or "it ended twice before it could report anything"
                self.mode = "thread"
                self.mailbox.post_event(
                    "notice",
                    f"Training could not run in a separate process ({reason}); it runs in a "
                    "thread of this window from now on.",
                )
                if host.start_error is not None:
                    replay = [pickle.loads(d) for d in host.undelivered]
                    replay = [cmd for cmd in replay if cmd[0] not in ("quit", "taken")]
                elif self._last_config is not None:
                    replay = [("configure", self._last_config)]
            elif self._last_config is not None:
                # The child died: a new one starts from the last configuration.
                replay = [("configure", self._last_config)]
            if self._last_sample is not None and not any(c[0] == "sample" for c in replay):
                replay.append(self._last_sample)
        elif self._last_sample is not None:
            replay = [self._last_sample]  # picked before the first configuration
        make = _ProcessHost if self.mode == "process" else _ThreadHost
        self._host = host = make(self.mailbox, self._on_wake, self)
        # Deleting a running QThread aborts the process, and a child would outlive its
        # window: if the session goes without shutdown() (its window deleted, say), stop the
        # worker first (``destroyed`` comes before the children are deleted; the closure
        # holds no reference to the session).
        self.destroyed.connect(_stopper(host))
        for cmd in replay:
            host.post(*cmd)
        return host

    # ------------------------------------------------------------------ commands
    def _post(self, *cmd) -> None:
        if self._closed:
            return
        if cmd[0] == "sample":
            self._last_sample = cmd
        host = self._host
        idle = host is None or (host.dead and host.start_error is None)
        if idle and cmd[0] not in ("configure", "play", "step", "step_epoch", "show"):
            # No worker (yet, or since its process died), and this command does not need
            # one: a window that never trains starts no process. Nothing runs to pause or
            # stop; the learning rate and the plane come with the configuration; the sample
            # follows it.
            if cmd[0] == "reset":  # what a worker without a model answers
                if self._last_config is not None:
                    self._last_config.weights = self._last_config.history = None
                self.mailbox.post_event("reset", None)
                self._on_wake()
            elif cmd[0] == "projection" and self._last_config is not None:
                self._last_config.projection = cmd[1]
            elif cmd[0] == "live" and self._last_config is not None:
                self._last_config.spec = cmd[1]
            return
        if cmd[0] == "configure" and self.new_process_for(cmd[1].spec):
            self._retire_host()
        host = self._ensure_host()
        if cmd[0] == "configure":
            self._last_config = cmd[1]
            if isinstance(host, _ProcessHost) and host.tf_devices is None:
                if cmd[1].spec.get("backend") == "tensorflow":
                    host.tf_devices = cpu_devices(cmd[1].spec) or 1
        elif cmd[0] == "projection" and self._last_config is not None:
            self._last_config.projection = cmd[1]
        elif cmd[0] == "live" and self._last_config is not None:
            self._last_config.spec = cmd[1]
        host.post(*cmd)
        if not self._timer.isActive():
            self._timer.start()

    def configure(self, config: RunConfig) -> None:
        """Build from ``config`` at the next command that trains (in a new child process when
        its TensorFlow must split the CPU otherwise: :meth:`new_process_for`)."""
        self._post("configure", config)

    def new_process_for(self, spec: dict) -> bool:
        """Whether a configuration of ``spec`` gets a new child process: it needs TensorFlow
        to start with another count of logical CPU devices than it did in the child now."""
        host = self._host
        need = cpu_devices(spec)
        return (
            isinstance(host, _ProcessHost)
            and not host.dead
            and need is not None
            and host.tf_devices not in (None, need)
        )

    def _retire_host(self) -> None:
        """End the child (at its next step boundary; waits for it): the next command starts
        another, which gets the configuration that comes with it."""
        host, self._host = self._host, None
        host.close()

    def play(self) -> None:
        self._post("play")

    def pause(self) -> None:
        self._post("pause")

    def step(self, n: int = 1) -> None:
        self._post("step", n)

    def step_epoch(self) -> None:
        self._post("step_epoch")

    def stop(self) -> None:
        self._post("stop")

    def reset(self) -> None:
        self._post("reset")

    def apply_live(self, spec: dict) -> None:
        """A spec whose only changes since the build are the learning rate or the epochs."""
        self._post("live", copy.deepcopy(spec))

    def show(self) -> None:
        """Build the configured model if need be and send the views of its weights (a
        snapshot and, for classification, the confusion matrix) without training."""
        self._post("show")

    def rewind(self, epoch: int | None, weights: dict | None) -> None:
        """Show the views as they were after ``epoch`` (``weights``: that epoch's snapshot),
        without training; ``None``: back to the model's own weights. Training (Play, Step)
        goes back first, by itself."""
        self._post("rewind", epoch, weights)

    def select_sample(self, index: int) -> None:
        self._post("sample", int(index))

    def set_projection(self, choice: dict | None) -> None:
        """The plane of the decision boundary (data with more than two features)."""
        self._post("projection", copy.deepcopy(choice))

    # ------------------------------------------------------------------ draining
    def _collect(self) -> None:
        self._gc_ticks += 1
        GcPause.collect_on_ui(self._gc_ticks)

    def _on_wake(self) -> None:
        if self._closed:
            return
        if not self._timer.isActive():
            self._timer.start()
        # Something arrived (a batch from the child, a snapshot, a state change): hand it to
        # the views now rather than at the next tick (up to DRAIN_INTERVAL_MS later), once per
        # turn of the event loop however many wakes came.
        if not self._drain_soon:
            self._drain_soon = True
            QTimer.singleShot(0, self, self._drain_now)

    def _drain_now(self) -> None:
        self._drain_soon = False
        if not self._closed:
            self.drain()

    def drain(self) -> Batch:
        """Take what the worker posted and hand it to the views (one signal)."""
        host = self._host
        if not self._closed and host is not None and host.dead and host.start_error is not None:
            host = self._ensure_host()  # no process could start: a thread takes over
        batch = self.mailbox.take()
        if (
            batch.snapshot is not None
            and isinstance(host, _ProcessHost)
            and not (host.dead or self._closed)
        ):
            # Back-pressure, as a thread has it: the child makes its next snapshot only now
            # (one it made sooner would be overwritten here, and missing from the history).
            host.post("taken")
        if batch:
            self.drains += 1
            for ev in batch.events:
                if ev[0] == "state":
                    self.state = ev[1]
            self.drained.emit(batch)
            for ev in batch.events:
                if ev[0] == "state":
                    self.state_changed.emit(ev[1])
                elif ev[0] == "error":
                    self.error.emit(ev[1])
        elif self.state in ("idle", "paused") and self._timer.isActive():
            self._timer.stop()  # nothing runs: no need to poll until the next wake
        return batch

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop training and end the worker (blocks until it has ended). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        if self._host is not None:
            self._host.close()
            self.thread_finished = self._host.ended
        else:
            self.thread_finished = True
        self._gc_timer.stop()
        # Whatever was still in the mailbox is dropped: the views are going away.
        self.mailbox.take()


#: Sessions whose worker may still run. A script that makes a window and ends without closing
#: it (no ``aboutToQuit`` either) would otherwise leave the worker running into interpreter
#: teardown, where its last signal finds its QObject already deleted.
_LIVE_SESSIONS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _shutdown_live_sessions() -> None:
    for session in list(_LIVE_SESSIONS):
        try:
            session.shutdown()
        except RuntimeError:  # its Qt object is gone already
            pass


def _stopper(host):
    def stop(*_args) -> None:
        host.close()

    return stop
