"""Python's cyclic garbage collector runs on the UI thread only.

The collector runs in whichever thread allocates when a generation fills up. In a worker
thread (the dataset loader importing scikit-learn, the TensorFlow comparison, training in
thread mode) it then deletes garbage Qt objects of closed windows (menus, actions, pyqtgraph
items) off their thread, which deadlocks or crashes Qt: seen as the loader thread waiting for
the interpreter lock inside ``QMenu::~QMenu`` while the UI thread waits for Qt's mutex inside
another ``~QObject``. pyqtgraph's :class:`GarbageCollector` turns automatic collection off and
collects from a timer on the UI thread instead; :func:`collect_on_ui_thread` starts it once per
process, before the first worker thread starts.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QThread

#: Seconds between checks of the collector's counts (a check is cheap; it collects only a
#: generation that has filled up, as the automatic collector would).
INTERVAL_S = 0.25

_collector = None


def collect_on_ui_thread() -> bool:
    """Make garbage collection happen on the UI thread only, from now on (idempotent).

    Returns whether the policy is active: it needs a QApplication and must be called from its
    thread (the timer lives there).
    """
    global _collector
    if _collector is not None:
        return True
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return False
    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collector = GarbageCollector(interval=INTERVAL_S)
    return True


def active() -> bool:
    """Whether automatic collection is off for good, replaced by the UI thread's timer."""
    return _collector is not None
