"""The sidebar's list of conversations: a thin Qt model over the chat store."""

from __future__ import annotations

import time
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.storage.chats import ChatStore, Conversation

_Index = QModelIndex | QPersistentModelIndex


class ConversationRole(IntEnum):
    ID = Qt.ItemDataRole.UserRole + 1
    UPDATED = Qt.ItemDataRole.UserRole + 2
    SUBTITLE = Qt.ItemDataRole.UserRole + 3


def describe_age(timestamp: float, now: float | None = None) -> str:
    seconds = max(0.0, (now or time.time()) - timestamp)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return time.strftime("%d %b %Y", time.localtime(timestamp))


class ConversationListModel(QAbstractListModel):
    def __init__(self, store: ChatStore, parent: Any = None) -> None:
        super().__init__(parent)
        self._store = store
        self._rows: list[Conversation] = []
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._rows = self._store.list_conversations()
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.title}\nLast message {describe_age(row.updated_at)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{row.title}, {describe_age(row.updated_at)}"
        if role == ConversationRole.ID:
            return row.id
        if role == ConversationRole.UPDATED:
            return row.updated_at
        if role == ConversationRole.SUBTITLE:
            return describe_age(row.updated_at)
        return None

    def row_of(self, conversation_id: int) -> int:
        for row, conversation in enumerate(self._rows):
            if conversation.id == conversation_id:
                return row
        return -1

    def id_at(self, row: int) -> int | None:
        return self._rows[row].id if 0 <= row < len(self._rows) else None
