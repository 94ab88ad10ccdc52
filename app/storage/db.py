"""The chat database: one SQLite file in WAL mode, migrated on ``PRAGMA user_version``."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.storage.backup import backup_before_migration

log = logging.getLogger(__name__)

# How long a write waits for another connection's write to end before giving up as "locked".
# Hearth's own writes take milliseconds; this covers two copies of Hearth starting at once, both
# migrating. A test holding the lock on purpose passes a shorter wait.
BUSY_TIMEOUT_MS = 5000

# Migration N (1-based) brings a database from user_version N-1 to N. Append, never edit:
# a released script has already run on users' files.
MIGRATIONS: list[str] = [
    # 1: conversations and their messages
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT 'New chat',
        title_is_custom INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        model_path TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        settings_json TEXT NOT NULL DEFAULT '{}',
        deleted_at REAL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL DEFAULT '',
        reasoning TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'complete',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        stats_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE INDEX conversations_by_update ON conversations(updated_at);
    """,
    # 2: the images and sound clips sent with a message, in the order they were attached. Rows go
    # with their message (foreign keys are on); the files stay until AttachmentFiles cleans up.
    # No CHECK on kind: a new kind should not need a table rebuild, and the code checks it.
    """
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL
    );
    CREATE INDEX attachments_by_message ON attachments(message_id, position);
    """,
    # 3: messages form a tree. Each message follows its parent; an edited question or a
    # regenerated answer is a sibling of the one it replaces, so no answer is ever lost. The
    # conversation shows the path from a root to its leaf. Existing chats become one branch.
    """
    ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE;
    UPDATE messages SET parent_id = (
        SELECT MAX(earlier.id) FROM messages AS earlier
        WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id
    );
    CREATE INDEX messages_by_parent ON messages(parent_id);
    ALTER TABLE conversations ADD COLUMN leaf_id INTEGER;
    UPDATE conversations SET leaf_id = (
        SELECT MAX(id) FROM messages WHERE messages.conversation_id = conversations.id
    );
    """,
    # 4: full-text search over every message, kept by triggers (also for streaming saves).
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
    """,
    # 5: what the model keeps in mind of a long chat: messages the user pinned (never left out),
    # each message's size in tokens as the model counted it, and the first message the model
    # still sees when the chat is longer than its context.
    """
    ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN token_count INTEGER;
    ALTER TABLE conversations ADD COLUMN memory_start_id INTEGER;
    """,
    # 6: the tool calls an answer made (storage.tool_records), read and written with it.
    """
    ALTER TABLE messages ADD COLUMN tool_calls_json TEXT NOT NULL DEFAULT '[]';
    """,
    # 7: what a chat lets the model's tools read (storage.tool_records.ToolAccess).
    """
    ALTER TABLE conversations ADD COLUMN tool_access_json TEXT NOT NULL DEFAULT '{}';
    """,
    # 8: the detail a picture was sent at, in visual tokens (app.media.picture_detail); 0: the
    # chat's setting, as pictures sent before it have.
    """
    ALTER TABLE attachments ADD COLUMN detail INTEGER NOT NULL DEFAULT 0;
    """,
]


class DatabaseTooNewError(RuntimeError):
    """The database was written by a newer Hearth; opening it could damage it."""


def open_database(
    path: Path,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    on_backup_problem: Callable[[str], None] = lambda text: log.warning("%s", text),
) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``.

    A database at an older schema is copied first (``backup.BackupError`` if no copy can be made;
    ``on_backup_problem`` hears of a copy that had to go elsewhere). The connection is in autocommit
    mode: callers wrap multi-statement writes in ``transaction``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        version = _user_version(conn)
        _check_version(version)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            # Some network file systems cannot share the WAL index; SQLite then keeps its old mode.
            log.warning("SQLite refused WAL mode for %s (journal_mode=%s)", path, mode)
        # NORMAL in WAL mode survives an application crash; only a power cut can lose the last commits.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if 0 < version < len(MIGRATIONS):  # a new, empty file has nothing to lose
            backup_before_migration(conn, path, version, on_backup_problem)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block as one write: committed if it ends normally, rolled back if it raises."""
    # IMMEDIATE takes the write lock up front, so a second writer waits (busy_timeout)
    # instead of failing halfway through with SQLITE_BUSY.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        # A COMMIT refused (disk full, locked) can leave the transaction open: rolled back below,
        # or every later BEGIN would fail too.
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have rolled back on its own (disk full, I/O error); a second
        # ROLLBACK would then raise and hide the original error, as would a failing one.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this database lacks, each with its version bump in one transaction."""
    while True:
        with transaction(conn):
            # Read inside the write lock: another Hearth starting at the same moment may have migrated.
            version = _user_version(conn)
            _check_version(version)
            if version == len(MIGRATIONS):
                return
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
        log.info("Chat database migrated to schema %d", version + 1)


def _statements(script: str) -> list[str]:
    """Split a script at the line ends where SQLite sees a statement close (so quotes and
    triggers may hold semicolons). One statement per line end, as ``MIGRATIONS`` is written.

    ``executescript`` would split for us, but it commits first, which would separate a
    migration from its version bump.
    """
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:80]!r}")
    return statements


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_version(version: int) -> None:
    if version > len(MIGRATIONS):
        raise DatabaseTooNewError(
            f"This chat database was written by a newer version of Hearth (schema {version}, "
            f"this version knows up to {len(MIGRATIONS)}); update Hearth to open it."
        )
