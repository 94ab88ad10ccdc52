"""Conversations and their messages, saved as they happen so a crash never loses what was shown.

Messages form a tree: each follows its parent, and an edited question or a regenerated answer is a
sibling of the one it replaces. A conversation shows one path through it, from a root to its leaf.
"""

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
from app.core.message_size import StoredSize
from app.storage.attachment_files import StoredFile
from app.storage.db import transaction
from app.storage.faults import storage_errors
from app.storage.search import SearchHit, search
from app.storage.tool_records import ToolAccess, ToolCallRecord, calls_from_json, calls_to_json

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
    leaf_id: int | None = None  # the last message of the branch on show
    memory_start_id: int | None = None  # the first message the model still sees (long chats)


@dataclass(frozen=True)
class Attachment:
    id: int
    message_id: int
    kind: str  # "image" or "audio"
    path: Path
    name: str  # the original file name, for display
    size: int
    sha256: str
    detail: int = 0  # a picture: the visual tokens it was sent at; 0: the chat's setting


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
    parent_id: int | None = None
    pinned: bool = False  # always in what the model sees, however long the chat
    token_count: int | None = None  # its size in the model's tokens, once the model counted it
    tool_calls: tuple[ToolCallRecord, ...] = ()  # an answer's calls, in the order it made them


@dataclass(frozen=True)
class RemovedMessage:
    """A deleted message and where it stood, so that deleting it can be undone."""

    message: Message
    children: tuple[int, ...]  # the messages that followed it
    leaf_id: int | None  # the end of the branch on show before it was deleted


class _Leaf:
    """The default parent of a new message: the end of the branch on show."""


CURRENT_LEAF: Any = _Leaf()


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
    "SELECT id, title, title_is_custom, created_at, updated_at, model_path, system_prompt, settings_json,"
    " leaf_id, memory_start_id FROM conversations"
)
_SELECT_MESSAGES = (
    "SELECT id, conversation_id, role, content, reasoning, status, created_at, updated_at, stats_json,"
    " parent_id, pinned, token_count, tool_calls_json FROM messages"
)


def _walk_up(limit: str = "") -> str:
    """``path(id, parent_id, depth)``: a message (depth 0) and its ancestors, up to the root or
    while ``limit`` (a condition on the step) holds."""
    return f"""
    WITH RECURSIVE path(id, parent_id, depth) AS (
        SELECT id, parent_id, 0 FROM messages WHERE id = ?
        UNION ALL
        SELECT m.id, m.parent_id, path.depth + 1 FROM messages AS m JOIN path ON m.id = path.parent_id
        {limit}
    )"""


# The path from the root to a message, root first.
_PATH_TO = _walk_up() + " SELECT id FROM path ORDER BY depth DESC"
# The end of that path: back from a message until ``stop`` (kept) or ``limit`` messages.
_PATH_TAIL = (
    _walk_up("WHERE path.id != ? AND path.depth + 1 < ?") + " SELECT id FROM path ORDER BY depth DESC"
)
# The pinned messages before a message on its path, with the turns next to them.
_PINNED_BEFORE = (
    _walk_up()
    + """
    SELECT path.id, m.role, m.pinned FROM path JOIN messages AS m ON m.id = path.id
    WHERE path.depth > 0 ORDER BY path.depth DESC
"""
)
# A message and everything that follows it, on every branch.
_SUBTREE_OF = """
    WITH RECURSIVE subtree(id) AS (
        SELECT id FROM messages WHERE id = ?
        UNION ALL
        SELECT m.id FROM messages AS m JOIN subtree ON m.parent_id = subtree.id
    )
    SELECT id FROM subtree
"""
_SELECT_ATTACHMENTS = "SELECT id, message_id, kind, path, name, size, sha256, detail FROM attachments"


def _conversation(row: sqlite3.Row) -> Conversation:
    id_, title, custom, created, updated, model, prompt, settings_json, leaf_id, memory_start = row
    settings = GenerationSettings.from_dict(_json_object(settings_json))
    return Conversation(
        id_, title, bool(custom), created, updated, model, prompt, settings, leaf_id, memory_start
    )


def _message(row: sqlite3.Row, attachments: Sequence[Attachment] = ()) -> Message:
    (
        id_,
        conversation_id,
        role,
        content,
        reasoning,
        status,
        created,
        updated,
        stats_json,
        parent_id,
        pinned,
        token_count,
        tool_calls_json,
    ) = row
    status, stats = MessageStatus(status), _json_object(stats_json)
    return Message(
        id_,
        conversation_id,
        role,
        content,
        reasoning,
        status,
        created,
        updated,
        stats,
        tuple(attachments),
        parent_id,
        bool(pinned),
        token_count,
        calls_from_json(tool_calls_json),
    )


def _attachment(row: sqlite3.Row) -> Attachment:
    id_, message_id, kind, path, name, size, sha256, detail = row
    return Attachment(id_, message_id, kind, Path(path), name, size, sha256, detail)


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

    @property
    def database_path(self) -> Path | None:
        """The database file (None in memory), for readers that need a connection of their own."""
        row = self._conn.execute("PRAGMA database_list").fetchone()
        return Path(row[2]) if row and row[2] else None

    def tool_access(self, conversation_id: int) -> ToolAccess:
        row = self._conn.execute(
            "SELECT tool_access_json FROM conversations WHERE id = ?", (conversation_id,)
        )
        return ToolAccess.from_json((row.fetchone() or ("{}",))[0])

    def set_tool_access(self, conversation_id: int, access: ToolAccess) -> None:
        self._write(
            "UPDATE conversations SET tool_access_json = ? WHERE id = ?", (access.to_json(), conversation_id)
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
        parent_id: int | None = CURRENT_LEAF,
    ) -> Message:
        """Add a message with its attachments, in order, after ``parent_id`` (by default the end of
        the branch on show; None starts a new root); it becomes the end of the branch on show. The
        first question of a chat also names it, unless the user did."""
        now = self._clock()
        with self.atomic() as conn:
            if parent_id is CURRENT_LEAF:
                row = conn.execute("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,))
                parent_id = (row.fetchone() or (None,))[0]
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, reasoning, status, created_at,"
                " updated_at, stats_json, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?)",
                (conversation_id, role, content, reasoning, str(status), now, now, parent_id),
            )
            assert cursor.lastrowid is not None
            message_id = cursor.lastrowid
            saved = [self._add_attachment(message_id, position, f) for position, f in enumerate(attachments)]
            conn.execute(
                "UPDATE conversations SET updated_at = ?, leaf_id = ? WHERE id = ?",
                (now, message_id, conversation_id),
            )
            if role == "user":
                conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title_is_custom = 0 AND NOT EXISTS"
                    " (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user' AND id < ?)",
                    (derive_title(content), conversation_id, conversation_id, message_id),
                )
        status = MessageStatus(status)
        return Message(
            message_id,
            conversation_id,
            role,
            content,
            reasoning,
            status,
            now,
            now,
            attachments=tuple(saved),
            parent_id=parent_id,
        )

    def _add_attachment(self, message_id: int, position: int, file: StoredFile) -> Attachment:
        # The absolute path, as AttachmentFiles returns it: the store does not know the attachments
        # folder, and the engine opens the path as it is. A moved data folder can still be mended,
        # as the file's name is its sha256, which the row keeps.
        cursor = self._conn.execute(
            "INSERT INTO attachments (message_id, position, kind, path, name, size, sha256, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, position, file.kind, str(file.path), file.name, file.size, file.sha256, file.detail),
        )
        assert cursor.lastrowid is not None
        return Attachment(
            cursor.lastrowid, message_id, file.kind, file.path, file.name, file.size, file.sha256, file.detail
        )

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        status: MessageStatus | None = None,
        stats: dict[str, Any] | None = None,
        tool_calls: Sequence[ToolCallRecord] | None = None,
    ) -> None:
        """Change only the given fields. Cheap enough to call on every streaming save:
        two indexed updates in one WAL commit, with no fsync under ``synchronous=NORMAL``."""
        given = {"content": content, "reasoning": reasoning, "status": status}
        given["stats_json"] = None if stats is None else json.dumps(stats)
        given["tool_calls_json"] = None if tool_calls is None else calls_to_json(list(tool_calls))
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
        """Every message of the branch on show, in order. For long chats, read ``path_ids`` and then
        ``messages_by_ids`` a page at a time instead."""
        return self.messages_by_ids(self.path_ids(conversation_id))

    def path_ids(self, conversation_id: int, leaf_id: int | None = None) -> list[int]:
        """The ids of the branch that ends at ``leaf_id`` (by default the one on show), root first."""
        if leaf_id is None:
            row = self._conn.execute("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,))
            leaf_id = (row.fetchone() or (None,))[0]
            if leaf_id is None:
                return []
        return [message_id for (message_id,) in self._conn.execute(_PATH_TO, (leaf_id,))]

    def path_tail(self, leaf_id: int, stop_at: int | None, limit: int) -> list[int]:
        """The end of the path to ``leaf_id``, root side first: back to ``stop_at`` (included) if it
        is on the way, else at most ``limit`` messages. Reads only those, whatever the chat's length."""
        return [i for (i,) in self._conn.execute(_PATH_TAIL, (leaf_id, stop_at or -1, max(1, limit)))]

    def pinned_before(self, message_id: int) -> list[int]:
        """The pinned messages on the path before ``message_id``, each with the other half of its
        exchange (a question pinned brings its answer, an answer its question), in order. Walks the
        whole path only when the chat has a pin at all."""
        has_pins = self._conn.execute(
            "SELECT 1 FROM messages WHERE pinned = 1 AND conversation_id ="
            " (SELECT conversation_id FROM messages WHERE id = ?) LIMIT 1",
            (message_id,),
        ).fetchone()
        if not has_pins:
            return []
        path = self._conn.execute(_PINNED_BEFORE, (message_id,)).fetchall()
        chosen: set[int] = set()
        for index, (ancestor, role, pinned) in enumerate(path):
            if not pinned:
                continue
            chosen.add(ancestor)
            if role == "user" and index + 1 < len(path) and path[index + 1][1] == "assistant":
                chosen.add(path[index + 1][0])
            elif role == "assistant" and index > 0 and path[index - 1][1] == "user":
                chosen.add(path[index - 1][0])
        return [ancestor for ancestor, _role, _pinned in path if ancestor in chosen]

    def messages_by_ids(self, ids: Sequence[int]) -> list[Message]:
        """These messages with their attachments, in the order given (unknown ids are left out)."""
        if not ids:
            return []
        found: dict[int, sqlite3.Row] = {}
        attachments: defaultdict[int, list[Attachment]] = defaultdict(list)
        # SQLite allows 32,766 parameters since 3.32; a page is far smaller.
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"{_SELECT_MESSAGES} WHERE id IN ({marks})", chunk):
                found[row["id"]] = row
            for row in self._conn.execute(
                f"{_SELECT_ATTACHMENTS} WHERE message_id IN ({marks}) ORDER BY message_id, position", chunk
            ):
                attachments[row["message_id"]].append(_attachment(row))
        return [_message(found[i], attachments.get(i, ())) for i in ids if i in found]

    def message_sizes(self, ids: Sequence[int]) -> list[StoredSize]:
        """How big these messages are, in order, without reading their text: enough to choose what
        of a long chat to send to the model."""
        found: dict[int, StoredSize] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for message_id, role, chars, tokens, pinned in self._conn.execute(
                f"SELECT id, role, length(content), token_count, pinned FROM messages WHERE id IN ({marks})",
                chunk,
            ):
                found[message_id] = StoredSize(role, chars, tokens, bool(pinned))
        return [found[i] for i in ids if i in found]

    def siblings(self, message_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """For each message, the alternatives it is one of (itself included), oldest first."""
        if not message_ids:
            return {}
        marks = ",".join("?" * len(message_ids))
        parents = dict(
            self._conn.execute(
                f"SELECT id, parent_id FROM messages WHERE id IN ({marks})", list(message_ids)
            ).fetchall()
        )
        groups: defaultdict[int | None, list[int]] = defaultdict(list)
        known = {p for p in parents.values() if p is not None}
        if known:
            marks = ",".join("?" * len(known))
            for message_id, parent in self._conn.execute(
                f"SELECT id, parent_id FROM messages WHERE parent_id IN ({marks}) ORDER BY id", list(known)
            ):
                groups[parent].append(message_id)
        roots = [i for i, parent in parents.items() if parent is None]
        if roots:
            conversation = self._conn.execute(
                "SELECT conversation_id FROM messages WHERE id = ?", (roots[0],)
            ).fetchone()[0]
            groups[None] = [
                message_id
                for (message_id,) in self._conn.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS NULL ORDER BY id",
                    (conversation,),
                )
            ]
        return {i: tuple(groups[parents[i]]) for i in message_ids if i in parents}

    def show_branch(self, conversation_id: int, message_id: int) -> int:
        """Show the branch through ``message_id``: the most recent path that continues from it (its
        newest descendant is a leaf, as children are always newer). Returns the new leaf."""
        ids = [row[0] for row in self._conn.execute(_SUBTREE_OF, (message_id,))]
        leaf = max(ids) if ids else message_id
        self._write("UPDATE conversations SET leaf_id = ? WHERE id = ?", (leaf, conversation_id))
        return leaf

    def delete_message(self, message_id: int) -> RemovedMessage | None:
        """Delete one message; what followed it now follows its parent, so the conversation goes on
        without it. Returns what ``restore_message`` needs to undo it."""
        message = self.get_message(message_id)
        if message is None:
            return None
        conversation_id, parent_id = message.conversation_id, message.parent_id
        with self.atomic() as conn:
            children = tuple(
                child
                for (child,) in conn.execute("SELECT id FROM messages WHERE parent_id = ?", (message_id,))
            )
            conn.execute("UPDATE messages SET parent_id = ? WHERE parent_id = ?", (parent_id, message_id))
            leaf = conn.execute(
                "SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            removed = RemovedMessage(message, children, leaf[0] if leaf else None)
            if leaf is not None and leaf[0] == message_id:
                # The shown branch ended here: it now ends at the newest message that took its place,
                # or at its parent.
                newest = conn.execute(
                    "SELECT MAX(id) FROM messages WHERE parent_id IS ? AND conversation_id = ?",
                    (parent_id, conversation_id),
                ).fetchone()[0]
                conn.execute(
                    "UPDATE conversations SET leaf_id = ? WHERE id = ?",
                    (newest if newest is not None else parent_id, conversation_id),
                )
        return removed

    def restore_message(self, removed: RemovedMessage) -> None:
        """Put a deleted message back where it was, with its id, attachments and followers."""
        m = removed.message
        with self.atomic() as conn:
            conn.execute(
                "INSERT INTO messages (id, conversation_id, role, content, reasoning, status, created_at,"
                " updated_at, stats_json, parent_id, pinned, token_count, tool_calls_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.id,
                    m.conversation_id,
                    m.role,
                    m.content,
                    m.reasoning,
                    str(m.status),
                    m.created_at,
                    m.updated_at,
                    json.dumps(m.stats),
                    m.parent_id,
                    int(m.pinned),
                    m.token_count,
                    calls_to_json(m.tool_calls),
                ),
            )
            for position, a in enumerate(m.attachments):
                conn.execute(
                    "INSERT INTO attachments"
                    " (id, message_id, position, kind, path, name, size, sha256, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (a.id, m.id, position, a.kind, str(a.path), a.name, a.size, a.sha256, a.detail),
                )
            if removed.children:
                marks = ",".join("?" * len(removed.children))
                conn.execute(
                    f"UPDATE messages SET parent_id = ? WHERE id IN ({marks})", (m.id, *removed.children)
                )
            conn.execute(
                "UPDATE conversations SET leaf_id = ? WHERE id = ?", (removed.leaf_id, m.conversation_id)
            )

    def get_message(self, message_id: int) -> Message | None:
        row = self._conn.execute(_SELECT_MESSAGES + " WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            return None
        attachments = self._conn.execute(
            _SELECT_ATTACHMENTS + " WHERE message_id = ? ORDER BY position", (message_id,)
        )
        return _message(row, [_attachment(a) for a in attachments])

    def set_pinned(self, message_id: int, pinned: bool) -> None:
        self._write("UPDATE messages SET pinned = ? WHERE id = ?", (int(pinned), message_id))

    def set_token_counts(self, counts: Sequence[tuple[int, int]]) -> None:
        """Remember how many tokens the model counted for these messages: (message id, tokens)."""
        if counts:
            with self.atomic() as conn:
                conn.executemany(
                    "UPDATE messages SET token_count = ? WHERE id = ?", [(n, i) for i, n in counts]
                )

    def set_memory_start(self, conversation_id: int, message_id: int | None) -> None:
        self._write(
            "UPDATE conversations SET memory_start_id = ? WHERE id = ?", (message_id, conversation_id)
        )

    def search(self, text: str, conversation_id: int | None = None, limit: int = 100) -> list[SearchHit]:
        """Messages holding every word of ``text`` (see ``app.storage.search``)."""
        return search(self._conn, text, conversation_id, limit)

    def document_attachments(self) -> list[tuple[str, Path, str]]:
        """Every attached document once: (sha256, path, name)."""
        rows = self._conn.execute(
            "SELECT sha256, MIN(path), MIN(name) FROM attachments WHERE kind = 'document' GROUP BY sha256"
        )
        return [(sha256, Path(path), name) for sha256, path, name in rows]

    def referenced_attachment_paths(self) -> set[Path]:
        """Every file a message still refers to, in deleted chats too until purged, so undo finds them."""
        return {Path(path) for (path,) in self._conn.execute("SELECT DISTINCT path FROM attachments")}

    def delete_messages_from(self, message_id: int) -> None:
        """Delete a message and everything that follows it on every branch, with their attachment
        rows (the files stay on disk until ``AttachmentFiles.delete_unreferenced``); the branch on
        show then ends at its parent."""
        row = self._conn.execute(
            "SELECT conversation_id, parent_id FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            return
        conversation_id, parent_id = row
        with self.atomic() as conn:
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))  # the rest by cascade
            conn.execute(
                "UPDATE conversations SET leaf_id = ? WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.id = conversations.leaf_id)",
                (parent_id, conversation_id),
            )

    def mark_unfinished_as_interrupted(self) -> int:
        """At start-up: answers still streaming were cut off when the app last died; returns how many."""
        return self._write(
            "UPDATE messages SET status = ? WHERE status = ?",
            (str(MessageStatus.INTERRUPTED), str(MessageStatus.STREAMING)),
        )
