"""Documents the user attached, made ready for the model: their text (``document_text``), kept
beside the attachment; the pictures of their scanned pages; and, for every document, an SQLite
FTS5 index of its passages with their pages, so a document longer than the context still answers
each question with the passages that matter to it.

Everything is derived from the attached file and kept per content (its sha256), so a document
attached twice is prepared once. ``prepare`` does the slow work: call it off the UI thread; the
look-ups (``passages``) take milliseconds.
"""

from __future__ import annotations

import collections
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from app.storage.document_text import DocumentError, DocumentText, read_document, render_page

CHARS_PER_TOKEN = 3.8  # Gemma's tokenizer on English prose; a count, not a promise, so "about"
CHUNK_CHARS = 1200
MAX_SCANNED_PAGES = 8  # scanned pages read as pictures, by default (a setting per chat)
_WORD = re.compile(r"\w{2,}", re.UNICODE)
# Words that say nothing of what a question is about: matching them would rank every passage.
_COMMON = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "say",
        "says",
        "she",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_CACHED = 8


@dataclass(frozen=True)
class Passage:
    page: int  # from 1; 0 for formats without pages
    text: str


@dataclass(frozen=True)
class PreparedDocument:
    text: DocumentText
    tokens: int  # about how many tokens its whole text takes
    scans: list[tuple[int, Path]]  # scanned pages read as pictures: (page, picture)


def estimate_tokens(chars: int) -> int:
    return round(chars / CHARS_PER_TOKEN)


def split_passages(text: DocumentText) -> list[Passage]:
    """Passages of about ``CHUNK_CHARS`` characters, cut at paragraph or sentence ends, never
    across pages."""
    passages = []
    paged = text.format == "pdf"
    for number, page in enumerate(text.pages, 1):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n(?=\s*[-*•\d])", page) if p.strip()]
        if len(paragraphs) <= 1:
            paragraphs = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", page) if s.strip()]
        current = ""
        for paragraph in paragraphs:
            while len(paragraph) > CHUNK_CHARS:  # a paragraph longer than a passage is cut
                if current:
                    passages.append(Passage(number if paged else 0, current))
                    current = ""
                cut = paragraph.rfind(" ", CHUNK_CHARS // 2, CHUNK_CHARS)
                cut = cut if cut > 0 else CHUNK_CHARS  # at a space, when there is one
                passages.append(Passage(number if paged else 0, paragraph[:cut].strip()))
                paragraph = paragraph[cut:].strip()
            if current and len(current) + len(paragraph) > CHUNK_CHARS:
                passages.append(Passage(number if paged else 0, current))
                current = ""
            current = f"{current}\n{paragraph}" if current else paragraph
        if current:
            passages.append(Passage(number if paged else 0, current))
    return passages


class DocumentLibrary:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._texts: collections.OrderedDict[str, DocumentText] = collections.OrderedDict()

    def _dir(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256

    # --- the slow part, off the UI thread ---------------------------------------------------

    def prepare(
        self,
        sha256: str,
        source: Path,
        name: str,
        max_scans: int = MAX_SCANNED_PAGES,
        read: DocumentText | None = None,
    ) -> PreparedDocument:
        """Read (unless ``read`` holds its text already), index and picture the document
        ``source``, once per content; ``DocumentError`` in words if it cannot be read."""
        folder = self._dir(sha256)
        text = self.load(sha256)
        if text is None:
            text = read or read_document(source, name)
            folder.mkdir(parents=True, exist_ok=True)
            self._build_index(folder / "index.sqlite", split_passages(text))
            temp = folder / "text.json.part"
            temp.write_text(json.dumps(text.to_json(), ensure_ascii=False), encoding="utf-8")
            temp.replace(folder / "text.json")  # last: its presence means everything is ready
            self._remember(sha256, text)
        scans = []
        for page in text.scanned[:max_scans]:
            picture = folder / f"page-{page:04d}.png"
            if not picture.exists():
                data = render_page(source, page)
                partial = picture.with_suffix(".part")
                partial.write_bytes(data)
                partial.replace(picture)
            scans.append((page, picture))
        return PreparedDocument(text, estimate_tokens(text.chars), scans)

    @staticmethod
    def _build_index(path: Path, passages: list[Passage]) -> None:
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path)
        try:
            conn.execute(
                "CREATE VIRTUAL TABLE passages USING fts5(text, page UNINDEXED,"
                " tokenize='unicode61 remove_diacritics 2')"
            )
            conn.executemany(
                "INSERT INTO passages (text, page) VALUES (?, ?)", [(p.text, p.page) for p in passages]
            )
            conn.commit()
        finally:
            conn.close()

    # --- quick look-ups ---------------------------------------------------------------------

    def load(self, sha256: str) -> DocumentText | None:
        """The document's text, if it was prepared."""
        known = self._texts.get(sha256)
        if known is not None:
            self._texts.move_to_end(sha256)
            return known
        try:
            data = json.loads((self._dir(sha256) / "text.json").read_text(encoding="utf-8"))
            text = DocumentText.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self._remember(sha256, text)
        return text

    def _remember(self, sha256: str, text: DocumentText) -> None:
        self._texts[sha256] = text
        while len(self._texts) > _CACHED:
            self._texts.popitem(last=False)

    def scans(self, sha256: str, max_scans: int = MAX_SCANNED_PAGES) -> list[tuple[int, Path]]:
        text = self.load(sha256)
        if text is None:
            return []
        pictures = [(page, self._dir(sha256) / f"page-{page:04d}.png") for page in text.scanned[:max_scans]]
        return [(page, path) for page, path in pictures if path.is_file()]

    def passages(self, sha256: str, question: str, max_chars: int) -> list[Passage]:
        """The passages that best match ``question`` (FTS5's bm25), as many as ``max_chars`` holds,
        in the document's order."""
        words = [w for w in dict.fromkeys(w.lower() for w in _WORD.findall(question)) if w not in _COMMON]
        words = words[:48]
        if not words:
            return []
        query = " OR ".join(f'"{word}"' for word in words)
        try:
            conn = sqlite3.connect(f"file:{self._dir(sha256) / 'index.sqlite'}?mode=ro", uri=True)
        except sqlite3.Error:
            return []
        try:
            rows = conn.execute(
                "SELECT rowid, page, text FROM passages WHERE passages MATCH ?"
                " ORDER BY bm25(passages) LIMIT 60",
                (query,),
            ).fetchall()
        except sqlite3.Error:
            return []
        finally:
            conn.close()
        chosen, used = [], 0
        for rowid, page, text in rows:
            if used + len(text) > max_chars:
                break
            chosen.append((rowid, Passage(int(page), text)))
            used += len(text)
        return [passage for _rowid, passage in sorted(chosen, key=lambda item: item[0])]


__all__ = [
    "DocumentError",
    "DocumentLibrary",
    "Passage",
    "PreparedDocument",
    "estimate_tokens",
    "split_passages",
]
