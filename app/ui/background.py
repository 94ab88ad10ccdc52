"""Run slow functions (scans, header reads, network listings) on a thread and get their result
back on the GUI thread, like Picard's ``run_task(func, next_func)``.

The worker thread never touches a widget: it emits one queued signal with the result, and the
callback runs on the GUI thread. ``close()`` (called before the owner goes away) makes late
results vanish instead of reaching deleted widgets.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class BackgroundTasks(QObject):
    _finished = Signal(int, bool, object)
    """Internal, emitted from worker threads: (task id, succeeded, result or exception)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._closed = False
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Done, Failed | None]] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def run(self, work: Callable[[], Any], done: Done, failed: Failed | None = None, name: str = "") -> int:
        """Call ``work()`` on a new thread, then ``done(result)`` or ``failed(exception)`` here."""
        task_id = next(self._ids)
        thread = threading.Thread(
            target=self._work, args=(task_id, work), name=f"hearth-{name or 'task'}-{task_id}", daemon=True
        )
        with self._lock:
            if self._closed:
                return task_id
            self._callbacks[task_id] = (done, failed)
            self._threads[task_id] = thread
        thread.start()
        return task_id

    def busy(self) -> bool:
        with self._lock:
            return bool(self._callbacks)

    def close(self, wait: float = 5.0) -> None:
        """Drop every pending result and wait (up to ``wait`` seconds) for the threads to end."""
        with self._lock:
            self._closed = True
            self._callbacks.clear()
            threads = list(self._threads.values())
        deadline = time.monotonic() + wait
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self, task_id: int, work: Callable[[], Any]) -> None:
        try:
            result, ok = work(), True
        except Exception as exc:
            log.debug("Background task %d failed", task_id, exc_info=True)
            result, ok = exc, False
        with self._lock:
            self._threads.pop(task_id, None)
            if not self._closed:
                self._finished.emit(task_id, ok, result)

    def _deliver(self, task_id: int, ok: bool, result: Any) -> None:
        with self._lock:
            callbacks = self._callbacks.pop(task_id, None)
        if callbacks is None:
            return
        done, failed = callbacks
        if ok:
            done(result)
        elif failed is not None:
            failed(result)
        else:
            log.warning("Background task failed: %s", result, exc_info=result)
