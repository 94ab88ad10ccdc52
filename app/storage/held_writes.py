"""Writes the data folder refused, kept in memory to be tried again until they go through."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from app.storage.faults import StorageError, StorageFault


class HeldWrites:
    """Each write is a callable that raises ``StorageError`` when refused, under a key naming what it
    saves ("the answer 12", "the app settings"): a newer write for the same thing replaces the older,
    so only the latest state is written. Writes are tried in the order they were first held."""

    def __init__(self) -> None:
        self._writes: dict[Hashable, Callable[[], None]] = {}

    def __len__(self) -> int:
        return len(self._writes)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._writes

    def hold(self, key: Hashable, write: Callable[[], None]) -> None:
        self._writes[key] = write

    def flush(self) -> StorageError | None:
        """Try every held write; returns the first refusal (None: all written).

        The settings file may take a write the full database refuses, so one refusal does not stop
        the others, unless it is a lock: each write would wait out the lock timeout in turn."""
        first: StorageError | None = None
        for key, write in list(self._writes.items()):
            try:
                write()
            except StorageError as error:
                first = first or error
                if error.fault is StorageFault.LOCKED:
                    break
                continue
            if self._writes.get(key) is write:  # not replaced by a newer one meanwhile
                del self._writes[key]
        return first

    def drop(self, key: Hashable) -> None:
        self._writes.pop(key, None)

    def clear(self) -> int:
        """Forget every held write (the user chose to lose them); returns how many there were."""
        count = len(self._writes)
        self._writes.clear()
        return count
