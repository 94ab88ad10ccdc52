"""Full-text search over every message (SQLite FTS5, kept up to date by triggers).

What the user types is turned into an FTS5 query word by word, each word quoted, so punctuation
or FTS5's own operators in a question never make the search fail; a last word still being typed
(nothing after it) also matches as a prefix, so results appear as the user types.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

# Marks around the matched words in a snippet: control characters, which no message holds.
MATCH_START = "\x02"
MATCH_END = "\x03"
SNIPPET_WORDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    title: str
    message_id: int
    role: str
    created_at: float
    snippet: str  # the matched words are between MATCH_START and MATCH_END


def fts_query(text: str) -> str:
    """An FTS5 query that finds messages holding every word of ``text`` ("" if it has none)."""
    words = _WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{word}"' for word in words]
    if _WORD.fullmatch(text[-1:]):  # still typing the last word ("boa" finds "boats")
        quoted[-1] += "*"
    return " ".join(quoted)


def search(
    conn: sqlite3.Connection, text: str, conversation_id: int | None = None, limit: int = 100
) -> list[SearchHit]:
    """Messages that match ``text``, best matches first; in one chat or in all that are not deleted."""
    query = fts_query(text)
    if not query:
        return []
    where = "messages_fts MATCH ? AND c.deleted_at IS NULL"
    params: list[object] = [query]
    if conversation_id is not None:
        where += " AND m.conversation_id = ?"
        params.append(conversation_id)
    rows = conn.execute(
        f"""
        SELECT m.conversation_id, c.title, m.id, m.role, m.created_at,
               snippet(messages_fts, 0, ?, ?, '…', {SNIPPET_WORDS})
        FROM messages_fts
        JOIN messages AS m ON m.id = messages_fts.rowid
        JOIN conversations AS c ON c.id = m.conversation_id
        WHERE {where}
        ORDER BY bm25(messages_fts), m.id DESC
        LIMIT ?
        """,
        [MATCH_START, MATCH_END, *params, limit],
    )
    return [SearchHit(*row) for row in rows]
