"""When the data folder refuses a write: what went wrong (full, read-only, locked by another
process, or something else) and what to tell the user, whatever raised it (SQLite or the OS)."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

NOTHING_LOST = "nothing you typed was lost"

# SQLite's primary result codes: the low byte of the extended code Python reports.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_FULL = 5, 6, 8, 13
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
_NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
# Less room than this on the data folder's disk counts as full: SQLite grows its files by a page
# or more at a time, and reports a short write as an I/O error on some systems.
_ALMOST_FULL_BYTES = 64 * 1024


class StorageFault(StrEnum):
    FULL = "full"
    READ_ONLY = "read-only"
    LOCKED = "locked"
    OTHER = "other"


# Why, and what to do: the two halves of every message to the user.
_WORDS = {
    StorageFault.FULL: ("the disk is full", "Free some space"),
    StorageFault.READ_ONLY: (
        "it is read-only",
        "Make the folder writable again (or check the disk it is on)",
    ),
    StorageFault.LOCKED: (
        "another copy of Hearth is using the chat database",
        "Close the other copy",
    ),
    StorageFault.OTHER: ("of an error on the disk", "Check the disk"),
}


class StorageError(Exception):
    """Hearth could not write to its data folder. ``explain()`` says so in words for the user;
    ``str()`` keeps the system's own message for the log."""

    def __init__(self, fault: StorageFault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail

    @classmethod
    def from_exception(cls, error: BaseException, folder: Path | None = None) -> StorageError:
        """Classify ``error`` (``sqlite3.Error`` or ``OSError``). ``folder``, where the data lives,
        settles errors that do not say why, such as SQLite's "disk I/O error"."""
        if isinstance(error, StorageError):
            return error
        fault = _fault_of(error)
        if fault is StorageFault.OTHER and folder is not None:
            fault = _fault_of_folder(folder)
        return cls(fault, str(error) or type(error).__name__)

    @property
    def cause(self) -> str:
        """Why, after "because": "the disk is full"."""
        return _WORDS[self.fault][0]

    @property
    def remedy(self) -> str:
        """What the user can do: "Free some space"."""
        return _WORDS[self.fault][1]

    def explain(self, kept: str = NOTHING_LOST) -> str:
        """The whole story for the user; ``kept`` says what became of their change."""
        if self.fault is StorageFault.LOCKED:
            return f"Hearth could not save because {self.cause}. {self.remedy}; {kept}."
        if self.fault is StorageFault.OTHER:
            return f"Hearth could not save to its data folder ({self.detail}). {self.remedy}; {kept}."
        return f"Hearth could not save to its data folder because {self.cause}. {self.remedy}; {kept}."

    def summary(self) -> str:
        """A short line to keep on screen while writes wait: "Not saved yet: the disk is full"."""
        if self.fault is StorageFault.OTHER:
            return f"Not saved yet: {self.detail}"
        if self.fault is StorageFault.READ_ONLY:
            return "Not saved yet: the data folder is read-only"
        return f"Not saved yet: {self.cause}"


@contextmanager
def storage_errors(folder: Path | None = None) -> Iterator[None]:
    """Turn what a full, read-only or locked data folder raises into a ``StorageError``.

    Programming errors (a constraint violated, a closed connection) pass through unchanged."""
    try:
        yield
    except sqlite3.OperationalError as error:
        raise StorageError.from_exception(error, folder) from error
    except sqlite3.DatabaseError as error:
        if type(error) is not sqlite3.DatabaseError:  # IntegrityError and friends: a bug, not the disk
            raise
        raise StorageError.from_exception(error, folder) from error  # a damaged file
    except OSError as error:
        raise StorageError.from_exception(error, folder) from error


def _fault_of(error: BaseException) -> StorageFault:
    if isinstance(error, sqlite3.Error):
        code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
        if code == _SQLITE_FULL:
            return StorageFault.FULL
        if code == _SQLITE_READONLY:
            return StorageFault.READ_ONLY
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StorageFault.LOCKED
        return StorageFault.OTHER  # IOERR, CANTOPEN and the rest: the folder may say more
    if isinstance(error, OSError):
        if error.errno in _NO_SPACE:
            return StorageFault.FULL
        if error.errno in _NOT_WRITABLE:
            return StorageFault.READ_ONLY
    return StorageFault.OTHER


def _fault_of_folder(folder: Path) -> StorageFault:
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # gone, or Windows (no statvfs)
        return StorageFault.OTHER
    if stats.f_flag & getattr(os, "ST_RDONLY", 1):
        return StorageFault.READ_ONLY
    if stats.f_bavail * stats.f_frsize < _ALMOST_FULL_BYTES:
        return StorageFault.FULL
    return StorageFault.OTHER
