"""The daily copy of the chat database, taken on a background thread with its own connection.

It is also the daily check of the file: the copy holds the database's pages as they are, so a copy
that fails ``quick_check`` means the database itself is damaged. That copy is deleted (it must not
push a good one out), the older copies stay, and the next start checks the file and restores it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.storage.backup import (
    DAILY_INTERVAL_S,
    Backup,
    BackupError,
    BackupKind,
    backups_folder,
    is_damage,
    list_backups,
    passes_quick_check,
    prune,
    write_backup,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyResult:
    backup: Backup | None = None  # None: not due, nothing to copy yet, or it failed
    notice: str | None = None  # what went wrong, in words for the user
    damaged: bool = False


class DailyBackup:
    """``run()`` (on a thread of its own) copies the database if the newest daily copy is a day
    old; ``on_damage`` is called there if the copy shows the database is damaged."""

    def __init__(
        self,
        database: Path,
        on_damage: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._on_damage = on_damage
        self._clock = clock

    def due(self) -> bool:
        daily = [backup for backup in list_backups(self._database) if backup.kind == BackupKind.DAILY]
        return not daily or self._clock() - daily[0].taken_at >= DAILY_INTERVAL_S

    def run(self) -> DailyResult:
        if not self.due():
            return DailyResult()
        now = self._clock()
        try:
            # Its own connection: a connection must not be shared across threads, and in WAL mode
            # this reader does not hold up the chat's writes while it copies.
            conn = sqlite3.connect(self._database, timeout=5.0, isolation_level=None)
            try:
                if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM messages)").fetchone()[0]:
                    return DailyResult()  # nothing written yet: a copy would hold nothing to restore
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                backup = write_backup(
                    conn, self._database, version, BackupKind.DAILY, now, backups_folder(self._database)
                )
            finally:
                conn.close()
        except (BackupError, sqlite3.Error) as exc:
            if is_damage(exc):
                return self._damaged()
            log.warning("The daily backup of the chat database failed: %s", exc)
            return DailyResult(
                notice=f"Hearth could not save today's copy of your chat history ({exc}). "
                "Your chats are fine; Hearth tries again the next time it starts."
            )
        if not passes_quick_check(backup.path):
            backup.path.unlink(missing_ok=True)
            return self._damaged()
        prune(self._database, BackupKind.DAILY, now)
        return DailyResult(backup=backup)

    def _damaged(self) -> DailyResult:
        log.error("The chat database %s is damaged (found by the daily backup)", self._database)
        self._on_damage()
        return DailyResult(
            damaged=True,
            notice="Hearth found damage in its chat history file. Close Hearth and start it again: "
            "it will then restore your chats from the last good copy.",
        )
