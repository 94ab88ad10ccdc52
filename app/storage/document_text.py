"""The text of a document the user attaches: PDF (through PDFium), Word (DOCX), HTML, Markdown,
plain text and source code. Pages are kept apart, so answers can cite them; a PDF page with no
text layer (a scan) is noted, to be read as a picture instead.

Every document is foreign input: size, page count and (for DOCX, a zip) unpacked size are bounded,
and whatever is wrong with a file is said in words. Call it off the UI thread: a long PDF takes a
while.
"""

from __future__ import annotations

import html.parser
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.storage.archive_format import ArchiveError
from app.storage.safe_zip import ArchiveLimits, CheckedZip

MB = 1024**2
MAX_DOCUMENT_BYTES = 100 * MB
MAX_PDF_PAGES = 1000  # a longer PDF is read this far, and says so
MAX_TEXT_CHARS = 8_000_000  # about 2 million tokens: far past any context, still quick to index
# A DOCX is a zip of XML: its document part is a few megabytes even for a book.
DOCX_LIMITS = ArchiveLimits(
    max_entries=5_000,
    max_json_bytes=32 * MB,
    max_entry_bytes=32 * MB,
    max_total_bytes=256 * MB,
    max_ratio=100.0,
)
SCAN_DPI = 150  # a scanned page as a picture: enough for Gemma 4 to read body text
SCANNED_CHARS = 16  # a page with a picture and less text than this is a scan
_IMAGE_OBJECT = 3  # FPDF_PAGEOBJ_IMAGE
_PROBE_BYTES = 8192

PDF_SUFFIXES = (".pdf",)
DOCX_SUFFIXES = (".docx",)
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (
    ".txt",
    ".md",
    ".markdown",
    ".rst",
    ".csv",
    ".tsv",
    ".json",
    ".jsonl",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".log",
    ".xml",
    ".tex",
    ".py",
    ".pyi",
    ".js",
    ".mjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cs",
    ".java",
    ".kt",
    ".swift",
    ".go",
    ".rs",
    ".rb",
    ".php",
    ".pl",
    ".lua",
    ".r",
    ".m",
    ".scala",
    ".sh",
    ".bash",
    ".zsh",
    ".ps1",
    ".bat",
    ".sql",
    ".css",
    ".scss",
    ".vue",
    ".svelte",
    ".dart",
    ".zig",
    ".nim",
    ".ex",
    ".exs",
    ".erl",
    ".hs",
    ".ml",
)
DOCUMENT_SUFFIXES = PDF_SUFFIXES + DOCX_SUFFIXES + HTML_SUFFIXES + TEXT_SUFFIXES
READABLE_DOCUMENTS = "documents (PDF, Word, HTML, Markdown, text and source code)"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocumentError(ValueError):
    """A document that cannot be read, in words for the user."""


@dataclass(frozen=True)
class DocumentText:
    name: str
    format: str  # "pdf", "docx", "html" or "text"
    pages: list[str]  # the text of each page (one page for formats without pages)
    scanned: list[int] = field(default_factory=list)  # pages (from 1) with no text layer
    total_pages: int = 1  # in the file; more than len(pages) when only the first were read
    note: str = ""  # what the user should know (pages left out)

    @property
    def chars(self) -> int:
        return sum(len(page) for page in self.pages)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentText:
        return cls(
            str(data["name"]),
            str(data["format"]),
            [str(page) for page in data["pages"]],
            [int(n) for n in data.get("scanned", [])],
            int(data.get("total_pages", len(data["pages"]))),
            str(data.get("note", "")),
        )


def is_document(path: Path) -> bool:
    return path.suffix.lower() in DOCUMENT_SUFFIXES


def read_document(path: Path, name: str | None = None) -> DocumentText:
    """The text of the document at ``path`` (shown as ``name``), or ``DocumentError``."""
    name = name or path.name
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DocumentError(f"“{name}” cannot be read: {error.strerror or error}.") from None
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"“{name}” is {size / MB:,.0f} MB; Hearth reads documents of up to "
            f"{MAX_DOCUMENT_BYTES // MB} MB. Split it, or attach the part you need."
        )
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return _pdf(path, name)
    if suffix in DOCX_SUFFIXES:
        return _docx(path, name)
    text = _text(path, name)
    if suffix in HTML_SUFFIXES:
        return DocumentText(name, "html", [_bounded(html_text(text))])
    return DocumentText(name, "text", [_bounded(text)])


def _pdf(path: Path, name: str) -> DocumentText:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise DocumentError(
                f"“{name}” is locked with a password, so Hearth cannot read it. Save a copy without "
                "the password (Print → Save as PDF) and attach that."
            ) from None
        raise DocumentError(f"“{name}” is damaged or not really a PDF, so Hearth cannot read it.") from None
    try:
        total = len(pdf)
        pages: list[str] = []
        scanned: list[int] = []
        chars = 0
        for index in range(min(total, MAX_PDF_PAGES)):
            page = pdf[index]
            try:
                text = page.get_textpage().get_text_bounded().replace("\r\n", "\n").replace("\x00", "")
                # A scan: a picture of a page, with no text (or a stray word) on it.
                if len(text.strip()) < SCANNED_CHARS and any(
                    obj.type == _IMAGE_OBJECT for obj in page.get_objects(max_depth=2)
                ):
                    scanned.append(index + 1)
            finally:
                page.close()
            pages.append(text)
            chars += len(text)
            if chars > MAX_TEXT_CHARS:
                break
    except pdfium.PdfiumError:
        raise DocumentError(f"“{name}” is damaged: Hearth could not read all its pages.") from None
    finally:
        pdf.close()
    note = ""
    if len(pages) < total:
        note = f"Hearth read the first {len(pages):,} of its {total:,} pages."
    if not total:
        raise DocumentError(f"“{name}” has no pages.")
    return DocumentText(name, "pdf", pages, scanned, total, note)


def render_page(path: Path, page: int, dpi: int = SCAN_DPI, max_side: int = 2000) -> bytes:
    """Page ``page`` (from 1) of the PDF at ``path`` as a PNG, at most ``max_side`` pixels long."""
    import io

    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        raise DocumentError(f"“{path.name}” cannot be opened any more.") from None
    try:
        if not 1 <= page <= len(pdf):
            raise DocumentError(f"“{path.name}” has no page {page}.")
        sheet = pdf[page - 1]
        width, height = sheet.get_size()  # in points, 72 to the inch
        scale = min(dpi / 72, max_side / max(width, height, 1))
        picture = sheet.render(scale=scale).to_pil()
        sheet.close()
    finally:
        pdf.close()
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=False)
    return out.getvalue()


def _docx(path: Path, name: str) -> DocumentText:
    try:
        with CheckedZip(path, DOCX_LIMITS) as archive:
            data = archive.read("word/document.xml")
    except ArchiveError as error:
        raise DocumentError(f"“{name}” is not a Word document Hearth can read: {error}") from None
    except KeyError:
        raise DocumentError(f"“{name}” is not a Word document: it has no text part.") from None
    try:
        # Bounded above; expat expands no external entities and caps entity amplification.
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise DocumentError(f"“{name}” is damaged: its text cannot be read.") from None
    paragraphs = []
    for paragraph in root.iter(f"{_W}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    return DocumentText(name, "docx", [_bounded("\n".join(paragraphs).strip())])


def _text(path: Path, name: str) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:_PROBE_BYTES]:
        raise DocumentError(f"“{name}” is not a text file, whatever its name says.")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        raise DocumentError(f"“{name}” is not a text file Hearth can read (it is not UTF-8 text).")
    return text


def _bounded(text: str) -> str:
    return text[:MAX_TEXT_CHARS]


_HTML_BLOCKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "pre",
        "blockquote",
        "table",
        "ul",
        "ol",
        "header",
        "footer",
        "dt",
        "dd",
    }
)
_HTML_HIDDEN = frozenset({"script", "style", "noscript", "template", "head"})


class _HTMLText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_HIDDEN:
            self._hidden += 1
        elif tag in _HTML_BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _HTML_BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
