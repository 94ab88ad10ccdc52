"""Conversations and messages, stored so that nothing the user wrote or saw is ever lost."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.core.generation import GenerationSettings

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"  # the user pressed Stop; the partial answer is kept
    INTERRUPTED = "interrupted"  # the engine or the app died mid-answer
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


def derive_title(text: str) -> str:
    """A short title from the first line of a message."""
    for line in text.splitlines():
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            break
    else:
        return DEFAULT_TITLE
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]
    if " " in cut[TITLE_LENGTH // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        title_is_custom=bool(row["title_is_custom"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        model_path=row["model_path"],
        system_prompt=row["system_prompt"],
        settings=GenerationSettings.from_dict(_json(row["settings_json"])),
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        reasoning=row["reasoning"],
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        stats=_json(row["stats_json"]),
    )


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class ChatStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- conversations ---------------------------------------------------------------------

    def create_conversation(
        self, model_path: str = "", system_prompt: str = "", settings: GenerationSettings | None = None
    ) -> Conversation:
        now = time.time()
        cursor = self._conn.execute(
            "INSERT INTO conversations"
            " (title, created_at, updated_at, model_path, system_prompt, settings_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                DEFAULT_TITLE,
                now,
                now,
                model_path,
                system_prompt,
                json.dumps((settings or GenerationSettings()).to_dict()),
            ),
        )
        created = self.get_conversation(int(cursor.lastrowid or 0))
        assert created is not None
        return created

    def list_conversations(self) -> list[Conversation]:
        rows = self._conn.execute(
            "SELECT * FROM conversations WHERE deleted_at IS NULL ORDER BY updated_at DESC, id DESC"
        )
        return [_conversation(row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        row = self._conn.execute(
            "SELECT * FROM conversations WHERE id = ? AND deleted_at IS NULL", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Set a custom title; an empty one goes back to the title derived from the chat."""
        title = re.sub(r"\s+", " ", title).strip()
        if not title:
            first = self._conn.execute(
                "SELECT content FROM messages WHERE conversation_id = ? AND role = 'user'"
                " ORDER BY id LIMIT 1",
                (conversation_id,),
            ).fetchone()
            title = derive_title(first["content"]) if first else DEFAULT_TITLE
            custom = 0
        else:
            custom = 1
        self._conn.execute(
            "UPDATE conversations SET title = ?, title_is_custom = ? WHERE id = ?",
            (title, custom, conversation_id),
        )

    def set_system_prompt(self, conversation_id: int, text: str) -> None:
        self._conn.execute("UPDATE conversations SET system_prompt = ? WHERE id = ?", (text, conversation_id))

    def set_settings(self, conversation_id: int, settings: GenerationSettings) -> None:
        self._conn.execute(
            "UPDATE conversations SET settings_json = ? WHERE id = ?",
            (json.dumps(settings.to_dict()), conversation_id),
        )

    def set_model(self, conversation_id: int, model_path: str) -> None:
        self._conn.execute(
            "UPDATE conversations SET model_path = ? WHERE id = ?", (model_path, conversation_id)
        )

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide a conversation; ``restore_conversation`` undoes it until it is purged."""
        self._conn.execute(
            "UPDATE conversations SET deleted_at = ? WHERE id = ?", (time.time(), conversation_id)
        )

    def restore_conversation(self, conversation_id: int) -> None:
        self._conn.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        cursor = self._conn.execute(
            "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
            (time.time() - older_than_s,),
        )
        return cursor.rowcount

    # --- messages --------------------------------------------------------------------------

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        status: MessageStatus = MessageStatus.COMPLETE,
        reasoning: str = "",
    ) -> Message:
        now = time.time()
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO messages"
                " (conversation_id, role, content, reasoning, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, reasoning, str(status), now, now),
            )
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            if role == "user":
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title_is_custom = 0 AND NOT EXISTS"
                    " (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user' AND id < ?)",
                    (derive_title(content), conversation_id, conversation_id, cursor.lastrowid),
                )
        message = self.get_message(int(cursor.lastrowid or 0))
        assert message is not None
        return message

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        status: MessageStatus | None = None,
        stats: dict[str, Any] | None = None,
    ) -> None:
        changes: dict[str, Any] = {"updated_at": time.time()}
        if content is not None:
            changes["content"] = content
        if reasoning is not None:
            changes["reasoning"] = reasoning
        if status is not None:
            changes["status"] = str(status)
        if stats is not None:
            changes["stats_json"] = json.dumps(stats)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        with self._transaction() as conn:
            conn.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id))
            conn.execute(
                "UPDATE conversations SET updated_at = ?"
                " WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
                (changes["updated_at"], message_id),
            )

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self._conn.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        return [_message(row) for row in rows]

    def get_message(self, message_id: int) -> Message | None:
        row = self._conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return _message(row) if row else None

    def delete_messages_from(self, message_id: int) -> None:
        """Delete a message and everything after it in its conversation (regenerate, edit)."""
        self._conn.execute(
            "DELETE FROM messages WHERE conversation_id = (SELECT conversation_id FROM messages WHERE id = ?)"
            " AND id >= ?",
            (message_id, message_id),
        )

    def mark_unfinished_as_interrupted(self) -> int:
        """Answers still streaming were cut off when the app last died."""
        cursor = self._conn.execute(
            "UPDATE messages SET status = ? WHERE status = ?",
            (str(MessageStatus.INTERRUPTED), str(MessageStatus.STREAMING)),
        )
        return cursor.rowcount
