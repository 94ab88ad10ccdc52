"""Writes the data folder refused (disk full, read-only, locked by another copy of Hearth), kept in
memory and tried again until they go through, with what to tell the user meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, QTimer, Signal

from app.storage.faults import StorageError
from app.storage.held_writes import HeldWrites

log = logging.getLogger(__name__)

# How often refused writes are tried again. A try costs little when the disk is full, but waits
# out the lock timeout when another process holds the database.
RETRY_MS = 2000
UNSAVED_KEPT = "what is not saved yet stays on screen and will be saved as soon as Hearth can"
SAVED_AGAIN = "Hearth can save again: everything is saved."


class PendingSaves(QObject):
    notice = Signal(str)
    """Something the user should read in the status line: a write was refused, or all is saved again."""
    trouble_changed = Signal(str)
    """Writes wait because the data folder refuses them: a short line saying why, to keep on
    screen; "" once everything is saved."""

    def __init__(self, parent: QObject | None = None, retry_ms: int = RETRY_MS) -> None:
        super().__init__(parent)
        self._held = HeldWrites()
        self._trouble: StorageError | None = None
        self._timer = QTimer(self, interval=retry_ms)
        self._timer.timeout.connect(self.retry)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._held

    @property
    def waiting(self) -> bool:
        """Some writes wait for the data folder to take them."""
        return len(self._held) > 0

    @property
    def trouble(self) -> StorageError | None:
        """Why writes wait; None when none do."""
        return self._trouble

    def keep(self, key: Hashable, write: Callable[[], None], kept: str) -> bool:
        """Run ``write`` (which raises ``StorageError`` when refused) now, with the writes still
        waiting. If it is refused, tell the user (``kept`` says what became of their change) and
        try again every ``RETRY_MS`` until it goes through; a later write with the same ``key``
        replaces it. True: written now."""
        self._held.hold(key, write)
        error = self._flush()
        if key not in self._held:
            return True
        assert error is not None
        self.notice.emit(error.explain(kept))
        return False

    def hold(self, key: Hashable, write: Callable[[], None]) -> None:
        """Queue ``write`` for the next try without trying now (the folder refused the last ones)."""
        self._held.hold(key, write)
        if not self._timer.isActive():
            self._timer.start()

    def drop(self, key: Hashable) -> None:
        """Forget a waiting write whose data is gone anyway."""
        self._held.drop(key)

    def retry(self) -> bool:
        """Try the waiting writes again; True once nothing waits."""
        previous = self._trouble
        error = self._flush()
        if error is not None and previous is not None and error.fault is not previous.fault:
            self.notice.emit(error.explain(UNSAVED_KEPT))
        return error is None

    def discard(self) -> int:
        """Forget every waiting write (the user chose to close anyway); returns how many."""
        count = self._held.clear()
        if count:
            log.warning("Closing with %d change(s) the data folder refused; they are lost", count)
        self._timer.stop()
        if self._trouble is not None:
            self._trouble = None
            self.trouble_changed.emit("")
        return count

    def _flush(self) -> StorageError | None:
        error = self._held.flush()
        if error is None:
            self._timer.stop()
            if self._trouble is not None:
                self._trouble = None
                self.trouble_changed.emit("")
                self.notice.emit(SAVED_AGAIN)
            return None
        if self._trouble is None or error.fault is not self._trouble.fault:
            log.warning("The data folder refuses writes (%s): %s", error.fault, error)
        self._trouble = error
        if not self._timer.isActive():
            self._timer.start()
        self.trouble_changed.emit(error.summary())
        return error
