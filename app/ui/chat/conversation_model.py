"""The conversation as a Qt list model: the branch on show, read from SQLite a page at a time.

The model holds a window of the branch, never all of it: opening a chat reads its last page, and
the view asks for older (or newer) pages as the user scrolls, while far-away pages are let go, so
memory and layout work stay the same for a chat of ten messages or ten thousand. Only the GUI
thread touches it; the ids of the whole branch (a few bytes each) are all it keeps of the rest.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.storage.chats import ChatStore, Message

_Index = QModelIndex | QPersistentModelIndex

PAGE = 20  # messages read at a time
MAX_ROWS = 120  # messages held at once; the rest stay in the database
_revisions = itertools.count(1)


class MessageRole(IntEnum):
    ROW = Qt.ItemDataRole.UserRole + 1  # the MessageRow
    ID = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class MessageRow:
    message: Message
    alternatives: tuple[int, ...] = ()  # the versions this message is one of (itself included)
    first: bool = False  # the first message of the branch
    memory_start: bool = False  # the first message the model still sees of a long chat
    # Changes whenever the row does: the view keeps a message's layout while its revision stands.
    revision: int = dataclasses.field(default_factory=lambda: next(_revisions), compare=False)

    @property
    def alternative(self) -> int:
        """This version's number among its alternatives, from 1."""
        try:
            return self.alternatives.index(self.message.id) + 1
        except ValueError:
            return 1


def speaker(role: str) -> str:
    return "You" if role == "user" else "Hearth"


class ConversationModel(QAbstractListModel):
    window_moved = Signal()
    """Rows were read or let go at either end of the window (the view keeps its place)."""

    def __init__(
        self, store: ChatStore, parent: Any = None, overlay: Callable[[Message], Message] | None = None
    ) -> None:
        super().__init__(parent)
        self._store = store
        # What is shown of a stored message: an answer still in memory (streaming, or waiting for
        # the disk) is shown as it is there, not as the database last heard of it.
        self._overlay = overlay or (lambda message: message)
        self.conversation_id: int | None = None
        self.path: list[int] = []  # the ids of the whole branch on show, root first
        self.start = 0  # where the window begins in the path
        self.memory_start_id: int | None = None
        self._rows: list[MessageRow] = []

    # --- Qt --------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        message = row.message
        if role == MessageRole.ROW:
            return row
        if role == MessageRole.ID:
            return message.id
        if role == Qt.ItemDataRole.DisplayRole:
            return message.content
        if role == Qt.ItemDataRole.AccessibleTextRole:
            names = ", ".join(a.name for a in message.attachments)
            attached = f" (attached: {names})" if names else ""
            text = message.content.strip() or ("writing…" if message.status == "streaming" else "")
            return f"{speaker(message.role)}: {text}{attached}"
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            parts = (
                [f"{row.alternative} of {len(row.alternatives)} versions"]
                if len(row.alternatives) > 1
                else []
            )
            if message.status not in ("complete", "streaming"):
                parts.append(str(message.status))
            return ", ".join(parts)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # --- opening ---------------------------------------------------------------------------

    def open(self, conversation_id: int | None, around: int | None = None) -> None:
        """Show a conversation: its last page, or the page around message ``around``."""
        self.beginResetModel()
        self.conversation_id = conversation_id
        self.path = self._store.path_ids(conversation_id) if conversation_id is not None else []
        conversation = self._store.get_conversation(conversation_id) if conversation_id is not None else None
        self.memory_start_id = conversation.memory_start_id if conversation is not None else None
        if around is not None and around in self.path:
            end = min(len(self.path), max(self.path.index(around) + PAGE // 2, PAGE))
        else:
            end = len(self.path)
        self.start = max(0, end - PAGE)
        self._rows = self._read(self.path[self.start : end], self.start)
        self.endResetModel()

    def reload(self, around: int | None = None) -> None:
        """Read the branch again (after an edit, a new version or a deletion changed it)."""
        self.open(self.conversation_id, around)

    @property
    def end(self) -> int:
        """Where the window ends in the path."""
        return self.start + len(self._rows)

    def can_load_older(self) -> bool:
        return self.start > 0

    def can_load_newer(self) -> bool:
        return self.end < len(self.path)

    def load_older(self, count: int = PAGE) -> int:
        """Read up to ``count`` earlier messages in front of the window; returns how many."""
        first = max(0, self.start - count)
        rows = self._read(self.path[first : self.start], first)
        if not rows:
            return 0
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[:0] = rows
        self.start = first
        self.endInsertRows()
        self.window_moved.emit()
        return len(rows)

    def load_newer(self, count: int = PAGE) -> int:
        end = self.end
        rows = self._read(self.path[end : end + count], end)
        if not rows:
            return 0
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()
        self.window_moved.emit()
        return len(rows)

    def drop_older(self, count: int) -> None:
        """Let go of the first ``count`` rows (they stay in the database)."""
        count = min(count, len(self._rows))
        if count <= 0:
            return
        self.beginRemoveRows(QModelIndex(), 0, count - 1)
        del self._rows[:count]
        self.start += count
        self.endRemoveRows()
        self.window_moved.emit()

    def drop_newer(self, count: int) -> None:
        count = min(count, len(self._rows))
        if count <= 0:
            return
        self.beginRemoveRows(QModelIndex(), len(self._rows) - count, len(self._rows) - 1)
        del self._rows[-count:]
        self.endRemoveRows()
        self.window_moved.emit()

    def _read(self, ids: list[int], offset: int) -> list[MessageRow]:
        messages = [self._overlay(m) for m in self._store.messages_by_ids(ids)]
        alternatives = self._store.siblings([m.id for m in messages])
        return [
            MessageRow(
                m,
                alternatives.get(m.id, (m.id,)),
                first=offset + i == 0,
                memory_start=m.id == self.memory_start_id and offset + i > 0,
            )
            for i, m in enumerate(messages)
        ]

    # --- changes ---------------------------------------------------------------------------

    def append(self, message: Message) -> None:
        """A new message ends the branch (a question, or an answer starting)."""
        if message.conversation_id != self.conversation_id:
            return
        follows_end = message.parent_id == (self.path[-1] if self.path else None)
        if self.can_load_newer() or not follows_end:
            # The window is elsewhere, or the message starts a new branch (an edited question, a
            # new answer): show the end of the branch it is on.
            self.reload()
            return
        alternatives = self._store.siblings([message.id]).get(message.id, (message.id,))
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self.path.append(message.id)
        self._rows.append(MessageRow(message, alternatives, first=len(self.path) == 1))
        self.endInsertRows()

    def update_text(self, message_id: int, content: str, reasoning: str) -> int:
        """New text of a streaming answer, not read back from the database; returns its row or -1."""
        row = self.row_of(message_id)
        if row < 0:
            return -1
        old = self._rows[row]
        if old.message.content != content or old.message.reasoning != reasoning:
            message = dataclasses.replace(old.message, content=content, reasoning=reasoning)
            self._rows[row] = dataclasses.replace(old, message=message, revision=next(_revisions))
            index = self.index(row)
            self.dataChanged.emit(index, index, [MessageRole.ROW])
        return row

    def replace(self, message: Message) -> None:
        """The stored state of a message changed (an answer finished, failed or was stopped)."""
        row = self.row_of(message.id)
        if row < 0:
            return
        self._rows[row] = dataclasses.replace(self._rows[row], message=message, revision=next(_revisions))
        index = self.index(row)
        self.dataChanged.emit(index, index, [MessageRole.ROW])

    # --- reading ---------------------------------------------------------------------------

    def set_memory_start(self, message_id: int | None) -> None:
        """Mark where the model's memory of the chat now begins (the divider moves)."""
        if message_id == self.memory_start_id:
            return
        self.memory_start_id = message_id
        for row, item in enumerate(self._rows):
            marked = item.message.id == message_id and self.start + row > 0
            if item.memory_start != marked:
                self._rows[row] = dataclasses.replace(item, memory_start=marked, revision=next(_revisions))
                index = self.index(row)
                self.dataChanged.emit(index, index, [MessageRole.ROW])

    def row_of(self, message_id: int) -> int:
        # The streaming answer is the last row; search from the end.
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].message.id == message_id:
                return row
        return -1

    def row_at(self, row: int) -> MessageRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rows(self) -> list[MessageRow]:
        return list(self._rows)
