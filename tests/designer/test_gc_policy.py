"""Garbage collection happens on the UI thread only once a worker thread can run (the
dataset loader's thread once deadlocked Qt by collecting a closed window's menus)."""

from __future__ import annotations

import gc
import threading

from designer import gc_policy
from designer.worker_core import GcPause


def test_the_collector_is_off_in_every_thread_and_the_ui_thread_collects(qtbot, qapp):
    assert gc_policy.collect_on_ui_thread()
    assert gc_policy.active() and not gc.isenabled()

    # Garbage cycles made on a worker thread are not collected there...
    counts: list[int] = []

    def worker() -> None:
        for _ in range(5000):
            a: list = []
            a.append(a)
        counts.append(gc.get_count()[0])

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert counts[0] > gc.get_threshold()[0]
    # ...but by the UI thread's timer, soon after.
    qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=5000)


def test_a_training_pause_does_not_turn_the_collector_back_on(qapp):
    assert gc_policy.collect_on_ui_thread()
    GcPause.hold()
    GcPause.release()
    assert not gc.isenabled()


def test_off_the_ui_thread_the_policy_is_not_started_there(qapp, monkeypatch):
    monkeypatch.setattr(gc_policy, "_collector", None)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(gc_policy.collect_on_ui_thread()))
    t.start()
    t.join()
    assert result == [False] and gc_policy._collector is None
