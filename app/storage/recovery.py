"""Opening the chat database at start, and recovering it when it is damaged.

A damaged file is set aside (renamed, never deleted, with its -wal and -shm), the newest copy that
passes ``quick_check`` takes its place, and the report says in words what was restored and from
when. With no good copy, Hearth starts a new, empty database and says so.

Damage is looked for in three ways, so start-up stays within its time budget on big histories:
- always: SQLite refuses the file when it is opened ("file is not a database", a truncated file);
- after a run that did not close the database (a marker file is left behind): ``quick_check``,
  which reads the whole file (about 0.1 s for 5,000 messages but 0.8 s for 50,000 from a cold
  disk cache, too slow for every start) and is most worth its cost after a crash or power cut;
- once a day, in the background: the daily copy is checked (``daily_backup``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.storage.backup import (
    Backup,
    DamagedDatabaseError,
    backups_folder,
    is_damage,
    is_whole,
    list_backups,
    passes_quick_check,
    timestamp,
)
from app.storage.db import open_database

log = logging.getLogger(__name__)

T = TypeVar("T")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class CleanCloseMarker:
    """A file beside the database that exists while Hearth has it open. Found at start, it means
    the last run ended without closing the database (a crash, a kill, a power cut), so the file
    is checked before use. ``check_next_start`` keeps it through a clean close too."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(f"{database.name}.in-use")
        self._keep = False

    def left_behind(self) -> bool:
        return self.path.exists()

    def set(self) -> None:
        try:
            self.path.touch()
        except OSError:
            log.warning("Could not write %s; a crash would go unnoticed at next start", self.path)

    def check_next_start(self) -> None:
        self._keep = True
        self.set()

    def clear(self) -> None:
        """Called once the database is closed."""
        if self._keep:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            log.warning("Could not delete %s; the next start checks the database", self.path)


@dataclass(frozen=True)
class StartReport:
    """What happened to the database at start, for the user."""

    damaged_file: Path | None = None  # where a damaged database was set aside
    restored_from: Backup | None = None  # the copy that replaced it (None: a new database)
    problems: tuple[str, ...] = ()  # backups that could not be written where they belong

    @property
    def notice(self) -> str | None:
        told = list(self.problems)
        if self.damaged_file is not None and self.restored_from is not None:
            told.insert(
                0,
                f"Hearth's chat history was damaged. It was restored from the copy of "
                f"{describe_time(self.restored_from.taken_at)}; anything after that is in the damaged "
                f"file, kept as {self.damaged_file}.",
            )
        elif self.damaged_file is not None:
            told.insert(
                0,
                "Hearth's chat history was damaged and no good copy of it was found, so Hearth "
                f"started a new, empty one. The damaged file is kept as {self.damaged_file}.",
            )
        return " ".join(told) or None


@dataclass
class OpenedDatabase:
    connection: sqlite3.Connection
    report: StartReport
    marker: CleanCloseMarker  # clear it once the connection is closed


def open_chat_database(
    database: Path, first_use: Callable[[sqlite3.Connection], T], clock: Callable[[], float] = time.time
) -> tuple[OpenedDatabase, T]:
    """Open (creating and migrating as needed) the chat database, recovering it if it is damaged,
    and return it with what ``first_use`` (the start-up reads and writes) returned. Damage found by
    ``first_use`` is recovered from too: it is the first to read much of the file.

    Errors that are not damage (a locked or unreadable file, a full disk, a newer schema) are
    raised as ``open_database`` raises them: the file is fine and must be left where it is.
    """
    marker = CleanCloseMarker(database)
    problems: list[str] = []
    opened = _open_if_whole(database, marker.left_behind(), problems.append, first_use)
    if opened is not None:
        conn, result = opened
        report = StartReport(problems=tuple(problems))
    else:
        # The copy is staged before the damaged file moves, so that a crash in between never
        # leaves no database at all (the next start would quietly begin a new, empty one).
        restored_from = _newest_good_copy(database)
        staged = _stage(restored_from.path, database) if restored_from else None
        damaged = set_aside(database, clock())
        if staged is not None:
            os.replace(staged, database)
        conn = open_database(database, on_backup_problem=problems.append)
        try:
            result = first_use(conn)
        except BaseException:
            conn.close()
            raise
        report = StartReport(damaged, restored_from, tuple(problems))
    marker.set()
    return OpenedDatabase(conn, report, marker), result


def _open_if_whole(
    database: Path,
    check: bool,
    on_problem: Callable[[str], None],
    first_use: Callable[[sqlite3.Connection], T],
) -> tuple[sqlite3.Connection, T] | None:
    """The open database and what ``first_use`` returned, or None if the file is damaged."""
    try:
        if check and not _passes_check(database):
            raise DamagedDatabaseError(f"{database} fails quick_check")
        conn = open_database(database, on_backup_problem=on_problem)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        log.error("The chat database %s is damaged: %s", database, exc)
        return None
    try:
        return conn, first_use(conn)
    except BaseException as exc:
        conn.close()
        if not is_damage(exc):
            raise
        log.error("The chat database %s is damaged: %s", database, exc)
        return None


def _passes_check(database: Path) -> bool:
    if not database.exists():
        return True
    log.info("Hearth did not close its chat database last time: checking %s", database)
    started = time.perf_counter()
    # Read-only: it reads the -wal a crash left without folding it into the file on close, so a
    # damaged file is set aside exactly as it was found, with its -wal. (After a clean close there
    # is no -wal, so a read-write connection that finds damage later has nothing to fold in.)
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        whole = is_whole(conn)
    finally:
        conn.close()
    log.info("quick_check took %.0f ms", (time.perf_counter() - started) * 1000)
    return whole


def _newest_good_copy(database: Path) -> Backup | None:
    # Copies made before an upgrade may have gone beside the database when the backups folder was full.
    for backup in list_backups(database, [backups_folder(database), database.parent]):
        if passes_quick_check(backup.path):
            log.warning("Restoring the chat database from %s", backup.path)
            return backup
        log.warning("Not restoring from %s: it fails its check", backup.path)
    log.warning("No good copy of the chat database: starting a new one")
    return None


def set_aside(database: Path, now: float) -> Path:
    """Rename a damaged database and its -wal and -shm files out of the way; returns its new path.
    The -wal keeps its suffix so that SQLite reads the pair together if someone salvages them."""
    aside = database.with_name(f"{database.name}.damaged-{timestamp(now)}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{database}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{aside}{suffix}"))
    log.warning("Set the damaged chat database aside as %s", aside)
    return aside


def _stage(backup: Path, database: Path) -> Path:
    """A copy of ``backup`` beside the database, on disk, ready to be renamed into its place."""
    staged = database.with_name(f"{database.name}.restoring")
    shutil.copyfile(backup, staged)
    with staged.open("rb+") as file:
        os.fsync(file.fileno())
    return staged


def describe_time(moment: float) -> str:
    """'1 Dec at 10:30' in local time, with the year when it is not this one."""
    local, today = time.localtime(moment), time.localtime()
    year = f" {local.tm_year}" if local.tm_year != today.tm_year else ""
    return f"{local.tm_mday} {_MONTHS[local.tm_mon - 1]}{year} at {local.tm_hour:02d}:{local.tm_min:02d}"
