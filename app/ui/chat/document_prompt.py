"""What the model reads of an attached document: the whole text, with its pages marked, when it
fits well within the context; otherwise the passages that match the question (from the
document's FTS5 index), with their pages. Scanned pages go as pictures. The model is asked to
cite pages as ``[p. N]``, which the chat turns into links to the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.storage.chats import Attachment
from app.storage.documents import CHARS_PER_TOKEN, MAX_SCANNED_PAGES, DocumentLibrary, estimate_tokens

WHOLE_DOCUMENT_SHARE = 0.5  # a document this share of the context or less is read whole
PASSAGES_SHARE = 0.3  # else its passages for a question take up to this share
CITE = "Cite the pages you use as [p. N]."


@dataclass
class DocumentPart:
    text: str
    scans: list[Path] = field(default_factory=list)  # pictures of scanned pages, in page order


def _pages(count: int) -> str:
    return f"{count:,} page{'s' if count != 1 else ''}"


def document_part(
    library: DocumentLibrary,
    attachment: Attachment,
    question: str,
    context_tokens: int,
    can_see: bool,
    max_scans: int = MAX_SCANNED_PAGES,
) -> DocumentPart:
    text = library.load(attachment.sha256)
    name = attachment.name
    if text is None:
        return DocumentPart(f"[A document, “{name}”, was attached here but is not available.]")
    paged = text.format == "pdf"
    scans = [path for _page, path in library.scans(attachment.sha256, max_scans)] if can_see else []
    notes = []
    if scans:
        pages = ", ".join(str(page) for page in text.scanned[: len(scans)])
        one = len(scans) == 1
        what = f"page {pages} is the picture" if one else f"pages {pages} are the pictures"
        notes.append(f"Its scanned {what} above.")
    unread = len(text.scanned) - len(scans)
    if unread:
        why = "this model cannot see pictures" if not can_see else "they are not read in this chat"
        scan = "is a scan" if unread == 1 else "are scans"
        notes.append(f"{_pages(unread)} of it {scan} and not shown: {why}.")
    if text.note:
        notes.append(text.note)
    size = f", {_pages(text.total_pages)}" if paged else ""
    if estimate_tokens(text.chars) <= context_tokens * WHOLE_DOCUMENT_SHARE:
        header = f"[Document “{name}”{size}. {' '.join([*notes, CITE if paged else ''])}".rstrip() + "]"
        body = [
            f"--- page {n} ---\n{page.strip()}" if paged else page.strip()
            for n, page in enumerate(text.pages, 1)
        ]
        return DocumentPart("\n".join([header, *body, f"[End of “{name}”]"]), scans)
    budget = int(context_tokens * PASSAGES_SHARE * CHARS_PER_TOKEN)
    return DocumentPart(passages_text(library, attachment, question, budget, notes, size), scans)


def passages_text(
    library: DocumentLibrary,
    attachment: Attachment,
    question: str,
    max_chars: int,
    notes: list[str] | None = None,
    size: str = "",
) -> str:
    name = attachment.name
    found = library.passages(attachment.sha256, question, max_chars)
    said = " ".join(notes or [])
    if not found:
        return (
            f"[Document “{name}”{size}: too long to read whole, and none of its passages match the words "
            f"of this question. {said}]".replace(" ]", "]")
        )
    header = (
        f"[Document “{name}”{size}: too long to read whole; these are its passages that match the "
        f"question, with their pages. {said} {CITE}]".replace("  ", " ")
    )
    body = [f"--- page {p.page} ---\n{p.text}" if p.page else p.text for p in found]
    return "\n".join([header, *body, f"[End of the passages from “{name}”]"])
