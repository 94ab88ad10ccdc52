"""Pause and cancel requests for a running download, safe to make from any thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NoReturn

from app.library.errors import Cancelled, Paused

StopCheck = Callable[[], bool]


class StopControl:
    """Holds a pending pause or cancel; the download polls ``stopping()`` between chunks.

    A request is used up when the download stops on it, so running the same download again resumes.
    ``should_stop``, if given, is an extra poll (for callers that own their own flag) that pauses.
    """

    def __init__(self, should_stop: StopCheck | None = None) -> None:
        self._should_stop = should_stop
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._cancel = False
        self._delete_partial = False
        self.running = False

    def pause(self) -> None:
        self._event.set()

    def cancel(self, *, delete_partial: bool, discard: Callable[[], None]) -> None:
        with self._lock:
            self._cancel, self._delete_partial = True, delete_partial
            self._event.set()
            if not self.running and delete_partial:
                # Nothing is running to notice the request (a paused download being abandoned).
                discard()

    def set_running(self, running: bool) -> None:
        with self._lock:
            self.running = running

    def stopping(self) -> bool:
        return self._event.is_set() or (self._should_stop is not None and self._should_stop())

    def wait(self, seconds: float) -> bool:
        """Sleep, waking at once on pause() or cancel(); True if a stop was requested."""
        step = 0.1 if self._should_stop is not None else seconds
        remaining = seconds
        while remaining > 0:
            if self._event.wait(min(step, remaining)) or self.stopping():
                return True
            remaining -= step
        return self.stopping()

    def raise_stopped(self, discard: Callable[[], None]) -> NoReturn:
        with self._lock:
            cancel, delete = self._cancel, self._delete_partial
            self._cancel = self._delete_partial = False
            self._event.clear()
        if cancel:
            if delete:
                discard()
            raise Cancelled("The download was cancelled.")
        raise Paused("The download is paused; resuming it continues where it stopped.")
