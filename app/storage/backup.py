"""Copies of the chat database in ``backups/`` beside it, made with SQLite's online backup API.

A copy is written under a temporary name and renamed once complete, so a file with a backup's
name is always a whole database. Two kinds are kept, each pruned to its own limit:

- daily: taken at start in the background when the newest is older than a day. Five cover about
  a working week of use, so damage noticed a few days late can still be undone, while five full
  copies stay a modest share of the disk (a 5,000-message history is about 12 MB).
- before an upgrade: taken by ``open_database`` before it migrates the schema. Three let a user go
  back across the last three schema changes, e.g. to an older Hearth that cannot read the new one.
"""

from __future__ import annotations

import calendar
import contextlib
import errno
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

KEEP_DAILY = 5
KEEP_BEFORE_UPGRADE = 3
DAILY_INTERVAL_S = 24 * 3600
STALE_PARTIAL_S = 3600  # a partial copy this old was left by a run that died while writing it
_STAMP = "%Y-%m-%dT%H-%M-%SZ"  # UTC: the order of names is the order of time, across DST changes
_PARTIAL = ".partial"


class BackupKind(StrEnum):
    DAILY = "daily"
    BEFORE_UPGRADE = "before-upgrade"


KEEP = {BackupKind.DAILY: KEEP_DAILY, BackupKind.BEFORE_UPGRADE: KEEP_BEFORE_UPGRADE}


class BackupError(RuntimeError):
    """A copy could not be written; the message says why in plain words."""


class DamagedDatabaseError(sqlite3.DatabaseError):
    """``quick_check`` found damage. It carries SQLITE_CORRUPT, so it is handled as SQLite's own."""

    sqlite_errorcode = sqlite3.SQLITE_CORRUPT
    sqlite_errorname = "SQLITE_CORRUPT"


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: float  # seconds since the epoch
    version: int  # the schema version the copy holds
    kind: BackupKind


def backups_folder(database: Path) -> Path:
    """Where the copies of ``database`` go (``AppPaths.backups`` for the app's own database)."""
    return database.parent / "backups"


def timestamp(now: float) -> str:
    """``now`` as it appears in file names: 2026-12-02T10-30-00Z."""
    return time.strftime(_STAMP, time.gmtime(now))


def backup_name(database: Path, taken_at: float, version: int, kind: BackupKind) -> str:
    return f"{database.stem}-{timestamp(taken_at)}-v{version}-{kind}.sqlite3"


def list_backups(database: Path, folders: list[Path] | None = None) -> list[Backup]:
    """The complete copies of ``database`` in its backups folder (and ``folders``), newest first."""
    pattern = re.compile(
        rf"{re.escape(database.stem)}-(?P<stamp>[\dT-]+Z)-v(?P<version>\d+)-(?P<kind>[a-z-]+)\.sqlite3"
    )
    found: list[Backup] = []
    for folder in folders or [backups_folder(database)]:
        try:
            names = [entry.name for entry in os.scandir(folder) if entry.is_file()]
        except OSError:
            continue  # no folder yet, or one we cannot read: no copies there
        for name in names:
            match = pattern.fullmatch(name)
            if match is None or match["kind"] not in set(BackupKind):
                continue
            try:
                taken_at = float(calendar.timegm(time.strptime(match["stamp"], _STAMP)))
            except ValueError:
                continue  # named like a copy, but not by Hearth
            found.append(Backup(folder / name, taken_at, int(match["version"]), BackupKind(match["kind"])))
    # Copies taken in the same second (successive upgrades) are in the order of their versions.
    return sorted(found, key=lambda backup: (backup.taken_at, backup.version), reverse=True)


def write_backup(
    source: sqlite3.Connection, database: Path, version: int, kind: BackupKind, now: float, folder: Path
) -> Backup:
    """Copy the database open on ``source`` into ``folder``; raises ``BackupError`` if it cannot.

    The copy is a consistent snapshot (WAL readers do not block the writer) in rollback-journal
    mode, so it opens read-only on its own, without -wal or -shm files.
    """
    final = folder / backup_name(database, now, version, kind)
    partial = final.with_name(final.name + _PARTIAL)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
        os.replace(partial, final)
    except (OSError, sqlite3.Error) as exc:
        _remove(partial, partial.with_name(partial.name + "-journal"))
        if is_damage(exc):
            raise  # the source is damaged: not a problem of the backups folder
        log.warning("Could not write a backup of the chat database to %s", folder, exc_info=True)
        raise BackupError(describe_failure(exc, folder)) from exc
    log.info("Chat database backed up to %s", final)
    return Backup(final, float(int(now)), version, kind)


def prune(database: Path, kind: BackupKind, now: float, folders: list[Path] | None = None) -> list[Path]:
    """Delete the copies of ``kind`` beyond its limit, oldest first, and stale partial copies."""
    removed = [b.path for b in list_backups(database, folders) if b.kind == kind][KEEP[kind] :]
    for folder in folders or [backups_folder(database)]:
        with contextlib.suppress(OSError):
            removed += [
                path
                for path in folder.glob(f"{database.stem}-*{_PARTIAL}*")
                if now - path.stat().st_mtime > STALE_PARTIAL_S
            ]
    _remove(*removed)
    return removed


def passes_quick_check(path: Path) -> bool:
    """Whether the database file at ``path`` is whole, read without changing it."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return is_whole(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("%s fails its check: %s", path, exc)
        return False


def is_whole(conn: sqlite3.Connection) -> bool:
    """``PRAGMA quick_check``: every page and index entry is readable and well formed.

    It reads the whole file (about 100 ms for 5,000 messages from a cold disk cache, 0.8 s for
    50,000) but not the cross-checks of ``integrity_check``, which take about as long again.
    A damaged file may fail the pragma itself with SQLITE_CORRUPT or SQLITE_NOTADB.
    """
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        return False
    return [tuple(row) for row in rows] == [("ok",)]


def is_damage(exc: BaseException | None) -> bool:
    """Whether SQLite refused the file because its bytes are wrong (not because it is busy or
    the disk failed): SQLITE_CORRUPT ("database disk image is malformed") or SQLITE_NOTADB."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code, without the extension
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def backup_before_migration(
    conn: sqlite3.Connection,
    database: Path,
    version: int,
    on_problem: Callable[[str], None],
    clock: Callable[[], float] = time.time,
) -> Backup:
    """The copy a migration needs before it may run. If the backups folder cannot take it (full,
    read-only), the copy goes beside the database instead and ``on_problem`` is told where; if
    neither can, ``BackupError`` is raised and the migration must not run.

    The copy is checked (cheaply: it was just written, so it is read from memory). A damaged
    database must not be migrated, nor its copy push a good one out: ``DamagedDatabaseError``.
    """
    now = clock()
    folders = [backups_folder(database), database.parent]
    try:
        backup = write_backup(conn, database, version, BackupKind.BEFORE_UPGRADE, now, folders[0])
    except BackupError as first:
        try:
            backup = write_backup(conn, database, version, BackupKind.BEFORE_UPGRADE, now, folders[1])
        except BackupError as second:
            raise BackupError(
                "Hearth must update its chat history to work with this version, and first saves a "
                f"copy of it, but could not ({second}). Nothing was changed: free some disk space "
                "and start Hearth again."
            ) from second
        on_problem(
            f"Hearth could not save a copy of your chats in its backups folder ({first}), so the "
            f"copy made before updating them is in {backup.path.parent} instead."
        )
    if not passes_quick_check(backup.path):
        _remove(backup.path)
        raise DamagedDatabaseError(f"{database} fails quick_check; it is not migrated")
    prune(database, BackupKind.BEFORE_UPGRADE, now, folders)
    return backup


def describe_failure(exc: BaseException, folder: Path) -> str:
    """Why a copy into ``folder`` failed, in words for the user."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) or getattr(
        exc, "errno", None
    ) in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{folder} cannot be written to"
    return str(exc)


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("Could not delete %s", path, exc_info=True)
