"""Conversations and their messages, saved as they happen so a crash never loses what was shown."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.core.generation import GenerationSettings
from app.storage.attachment_files import StoredFile
from app.storage.db import transaction
from app.storage.faults import storage_errors

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"  # the user pressed Stop; the partial answer is kept
    INTERRUPTED = "interrupted"  # the engine crashed or the app was killed mid-answer
    ERROR = "error"


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    title_is_custom: bool
    created_at: float
    updated_at: float
    model_path: str
    system_prompt: str
    settings: GenerationSettings


@dataclass(frozen=True)
class Attachment:
    id: int
    message_id: int
    kind: str  # "image" or "audio"
    path: Path
    name: str  # the original file name, for display
    size: int
    sha256: str


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    reasoning: str
    status: MessageStatus
    created_at: float
    updated_at: float
    stats: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


def derive_title(text: str) -> str:
    """The first non-empty line, whitespace collapsed, cut to ``TITLE_LENGTH`` at a word boundary."""
    line = next((" ".join(line.split()) for line in text.splitlines() if line.strip()), "")
    if not line:
        return DEFAULT_TITLE
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]  # room for the ellipsis
    # Back up to a space only when the cut falls inside a word, and only if that keeps half the
    # title: one 80-letter word is better cut mid-word than reduced to nothing.
    if line[len(cut)] != " " and " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


# Explicit columns, in the order of the dataclass fields, so a row unpacks straight into a record.
_SELECT_CONVERSATIONS = (
    "SELECT id, title, title_is_custom, created_at, updated_at, model_path, system_prompt, settings_json"
    " FROM conversations"
)
_SELECT_MESSAGES = (
    "SELECT id, conversation_id, role, content, reasoning, status, created_at, updated_at, stats_json"
    " FROM messages"
)
_SELECT_ATTACHMENTS = "SELECT id, message_id, kind, path, name, size, sha256 FROM attachments"


def _conversation(row: sqlite3.Row) -> Conversation:
    id_, title, custom, created, updated, model, prompt, settings_json = row
    settings = GenerationSettings.from_dict(_json_object(settings_json))
    return Conversation(id_, title, bool(custom), created, updated, model, prompt, settings)


def _message(row: sqlite3.Row, attachments: Sequence[Attachment] = ()) -> Message:
    id_, conversation_id, role, content, reasoning, status, created, updated, stats_json = row
    status, stats = MessageStatus(status), _json_object(stats_json)
    return Message(
        id_, conversation_id, role, content, reasoning, status, created, updated, stats, tuple(attachments)
    )


def _attachment(row: sqlite3.Row) -> Attachment:
    id_, message_id, kind, path, name, size, sha256 = row
    return Attachment(id_, message_id, kind, Path(path), name, size, sha256)


def _json_object(text: str) -> dict[str, Any]:
    # A damaged value costs the chat its settings or statistics, never the chat itself.
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ChatStore:
    """Chats on one connection from ``open_database``; ``clock`` is ``time.time`` unless a test's.

    Every write raises ``StorageError`` when the data folder refuses it (full, read-only, locked)
    and then changes nothing."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock
        self._depth = 0
        main = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
        self._folder = Path(main).parent if main else None

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection itself, for settings such as ``PRAGMA busy_timeout``."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One write for everything in the block: all of it is saved, or none of it (and
        ``StorageError`` says why). Store methods called inside join it."""
        if self._depth:
            yield self._conn
            return
        with storage_errors(self._folder):
            if self._conn.in_transaction:
                # Left open by a ROLLBACK the disk refused: end it, or no write could start again.
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            with transaction(self._conn) as conn:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1

    def create_conversation(
        self, model_path: str = "", system_prompt: str = "", settings: GenerationSettings | None = None
    ) -> Conversation:
        now = self._clock()
        settings = settings or GenerationSettings()
        with self.atomic() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, title_is_custom, created_at, updated_at, model_path,"
                " system_prompt, settings_json) VALUES (?, 0, ?, ?, ?, ?, ?)",
                (DEFAULT_TITLE, now, now, model_path, system_prompt, json.dumps(settings.to_dict())),
            )
        assert cursor.lastrowid is not None
        return Conversation(
            cursor.lastrowid, DEFAULT_TITLE, False, now, now, model_path, system_prompt, settings
        )

    def list_conversations(self) -> list[Conversation]:
        """Conversations not deleted, the most recently updated first."""
        rows = self._conn.execute(
            _SELECT_CONVERSATIONS + " WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC"
        )
        return [_conversation(row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = self._conn.execute(
            _SELECT_CONVERSATIONS + " WHERE id = ? AND deleted_at IS NULL", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Set a custom title; an empty one goes back to the title derived from the first question."""
        title = " ".join(title.split())
        custom = bool(title)
        with self.atomic() as conn:
            if not custom:
                first = conn.execute(
                    "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user'"
                    " ORDER BY id LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                title = derive_title(first["content"]) if first else DEFAULT_TITLE
            conn.execute(
                "UPDATE conversations SET title = ?, title_is_custom = ? WHERE id = ?",
                (title, custom, conversation_id),
            )

    def set_system_prompt(self, conversation_id: int, text: str) -> None:
        self._write("UPDATE conversations SET system_prompt = ? WHERE id = ?", (text, conversation_id))

    def set_settings(self, conversation_id: int, settings: GenerationSettings) -> None:
        settings_json = json.dumps(settings.to_dict())
        self._write(
            "UPDATE conversations SET settings_json = ? WHERE id = ?", (settings_json, conversation_id)
        )

    def set_model(self, conversation_id: int, model_path: str) -> None:
        self._write("UPDATE conversations SET model_path = ? WHERE id = ?", (model_path, conversation_id))

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide a conversation; ``restore_conversation`` brings it back until it is purged."""
        self._write(
            "UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            (self._clock(), conversation_id),
        )

    def restore_conversation(self, conversation_id: int) -> None:
        self._write("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        """Erase, with their messages, chats deleted ``older_than_s`` or more ago; returns how many.

        Their attachment files stay on disk until ``AttachmentFiles.delete_unreferenced``."""
        return self._write(
            "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (self._clock() - older_than_s,),
        )

    def _write(self, sql: str, parameters: Sequence[Any]) -> int:
        """One statement as one write; returns how many rows it changed."""
        with self.atomic() as conn:
            return conn.execute(sql, parameters).rowcount

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        status: MessageStatus = MessageStatus.COMPLETE,
        reasoning: str = "",
        attachments: Sequence[StoredFile] = (),
    ) -> Message:
        """Append a message with its attachments, in order; the first question of a chat also names it,
        unless the user did."""
        now = self._clock()
        with self.atomic() as conn:
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, reasoning, status, created_at,"
                " updated_at, stats_json) VALUES (?, ?, ?, ?, ?, ?, ?, '{}')",
                (conversation_id, role, content, reasoning, str(status), now, now),
            )
            assert cursor.lastrowid is not None
            message_id = cursor.lastrowid
            saved = [self._add_attachment(message_id, position, f) for position, f in enumerate(attachments)]
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            if role == "user":
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title_is_custom = 0 AND NOT EXISTS"
                    " (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user' AND id < ?)",
                    (derive_title(content), conversation_id, conversation_id, message_id),
                )
        status = MessageStatus(status)
        return Message(
            message_id, conversation_id, role, content, reasoning, status, now, now, attachments=tuple(saved)
        )

    def _add_attachment(self, message_id: int, position: int, file: StoredFile) -> Attachment:
        # The absolute path, as AttachmentFiles returns it: the store does not know the attachments
        # folder, and the engine opens the path as it is. A moved data folder can still be mended,
        # as the file's name is its sha256, which the row keeps.
        cursor = self._conn.execute(
            "INSERT INTO attachments (message_id, position, kind, path, name, size, sha256)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (message_id, position, file.kind, str(file.path), file.name, file.size, file.sha256),
        )
        assert cursor.lastrowid is not None
        return Attachment(
            cursor.lastrowid, message_id, file.kind, file.path, file.name, file.size, file.sha256
        )

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        status: MessageStatus | None = None,
        stats: dict[str, Any] | None = None,
    ) -> None:
        """Change only the given fields. Cheap enough to call on every streaming save:
        two indexed updates in one WAL commit, with no fsync under ``synchronous=NORMAL``."""
        given = {"content": content, "reasoning": reasoning, "status": status}
        given["stats_json"] = None if stats is None else json.dumps(stats)
        changes = {"updated_at": self._clock(), **{k: v for k, v in given.items() if v is not None}}
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self.atomic() as conn:
            conn.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id))
            conn.execute(
                "UPDATE conversations SET updated_at = ?"
                " WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
                (changes["updated_at"], message_id),
            )

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self._conn.execute(
            _SELECT_MESSAGES + " WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
        attachments: defaultdict[int, list[Attachment]] = defaultdict(list)
        for row in self._conn.execute(
            _SELECT_ATTACHMENTS + " WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = ?)"
            " ORDER BY message_id, position",
            (conversation_id,),
        ):
            attachments[row["message_id"]].append(_attachment(row))
        return [_message(row, attachments.get(row["id"], ())) for row in rows]

    def get_message(self, message_id: int) -> Message | None:
        row = self._conn.execute(_SELECT_MESSAGES + " WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        attachments = self._conn.execute(
            _SELECT_ATTACHMENTS + " WHERE message_id = ? ORDER BY position", (message_id,)
        )
        return _message(row, [_attachment(a) for a in attachments])

    def referenced_attachment_paths(self) -> set[Path]:
        """Every file a message still refers to, in deleted chats too until purged, so undo finds them."""
        return {Path(path) for (path,) in self._conn.execute("SELECT DISTINCT path FROM attachments")}

    def delete_messages_from(self, message_id: int) -> None:
        """Delete a message and everything after it in its conversation (regenerate, edit), with their
        attachment rows; the files stay on disk until ``AttachmentFiles.delete_unreferenced``."""
        self._write(
            "DELETE FROM messages WHERE id >= ?"
            " AND conversation_id = (SELECT conversation_id FROM messages WHERE id = ?)",
            (message_id, message_id),
        )

    def mark_unfinished_as_interrupted(self) -> int:
        """At start-up: answers still streaming were cut off when the app last died; returns how many."""
        return self._write(
            "UPDATE messages SET status = ? WHERE status = ?",
            (str(MessageStatus.INTERRUPTED), str(MessageStatus.STREAMING)),
        )
