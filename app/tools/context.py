"""What a tool may know of the chat that called it: the folders the user shared with the model in
it, and where the chats are kept (for searching them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ToolContext:
    conversation_id: int = 0
    folders: tuple[Path, ...] = ()  # shared with the model in this chat, for the file tools
    database: Path | None = None  # the chats, for searching them
    extra: dict[str, object] = field(default_factory=dict)
