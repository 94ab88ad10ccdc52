"""search_chats: the user's earlier chats, through the same full-text index as the search box."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from app.storage.search import MATCH_END, MATCH_START, search
from app.tools.context import ToolContext
from app.tools.registry import Tool, ToolError

MAX_HITS = 10


def search_chats(context: ToolContext, query: str) -> dict[str, Any]:
    if context.database is None:
        raise ToolError("The chats cannot be searched here.")
    # A connection of its own, read only: tools run on another thread than the app's connection.
    conn = sqlite3.connect(f"file:{context.database}?mode=ro", uri=True, timeout=2.0)
    try:
        hits = [
            h
            for h in search(conn, query, limit=MAX_HITS + 20)
            if h.conversation_id != context.conversation_id
        ]
    except sqlite3.Error as error:
        raise ToolError(f"The chats could not be searched: {error}") from None
    finally:
        conn.close()
    found = [
        {
            "chat": hit.title,
            "date": time.strftime("%Y-%m-%d", time.localtime(hit.created_at)),
            "speaker": "user" if hit.role == "user" else "assistant",
            "text": hit.snippet.replace(MATCH_START, "").replace(MATCH_END, ""),
        }
        for hit in hits[:MAX_HITS]
    ]
    return (
        {"query": query, "found": found}
        if found
        else {"query": query, "found": [], "note": "no other chat matches"}
    )


SEARCH_CHATS = Tool(
    name="search_chats",
    description="Search the user's other chats with Hearth for words; gives matching passages with the "
    "chat's title and date.",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string", "description": "the words to look for"}},
        "required": ["query"],
    },
    function=search_chats,
    takes_context=True,
)
