"""The text of one message as QTextDocuments: a document per prose section and per code block of an
answer, one for a question, one for the reasoning. While an answer streams only the documents whose
text changed are rendered again, so a long answer costs the same per update as a short one.

Documents are never shown by widgets: the conversation view paints them (``message_layout``)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPalette,
    QTextCursor,
    QTextDocument,
    QTextOption,
)

from app.storage.tool_records import ToolCallRecord
from app.ui.chat.markdown_blocks import Block, split_blocks, split_sections
from app.ui.chat.rich_text import link_citations, render_markdown, render_plain
from app.ui.chat.tool_cards import details_document

PROSE_PX = 15
THINKING_PX = 14
CODE_PX = 13
SMALL_PX = 12
NOTE_PX = 13


def chat_font(pixel_size: int, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
    font = QFont(QGuiApplication.font())
    font.setPixelSize(pixel_size)
    font.setWeight(weight)
    return font


def code_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPixelSize(CODE_PX)
    return font


def new_document(font: QFont, wrap_anywhere: bool = False) -> QTextDocument:
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.setUndoRedoEnabled(False)
    doc.setDefaultFont(font)
    option = doc.defaultTextOption()
    # Long words, URLs and code lines wrap rather than widen the chat past the window.
    option.setWrapMode(
        QTextOption.WrapMode.WrapAnywhere
        if wrap_anywhere
        else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
    )
    doc.setDefaultTextOption(option)
    return doc


@dataclass
class BlockDoc:
    block: Block
    doc: QTextDocument


class MessageDocs:
    """The documents of one message, kept up to date with its text."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.content = ""
        self.reasoning = ""
        self.blocks: list[BlockDoc] = []  # answers: prose sections and code blocks, in order
        self.user_doc: QTextDocument | None = None  # questions: the text as typed
        self.thinking_doc: QTextDocument | None = None  # made when first shown
        self.tool_docs: dict[int, tuple[ToolCallRecord, QTextDocument]] = {}  # open tool cards
        self._palette_key = ""

    def set_content(self, text: str, palette: QPalette) -> None:
        palette_key = palette.color(QPalette.ColorRole.Link).name()
        if text == self.content and palette_key == self._palette_key:
            return
        if palette_key != self._palette_key:
            self.blocks = []  # rendered Markdown carries its link and code colours
            self._palette_key = palette_key
        self.content = text
        if self.role == "user":
            if self.user_doc is None:
                self.user_doc = new_document(chat_font(PROSE_PX))
            render_plain(self.user_doc, text)
            return
        blocks = [section for block in split_blocks(text) for section in split_sections(block)]
        kept = 0
        for old, new in zip(self.blocks, blocks, strict=False):
            if old.block.kind != new.kind:
                break
            if old.block != new:
                _update(old, new, palette)
            kept += 1
        del self.blocks[kept:]
        self.blocks.extend(_make(block, palette) for block in blocks[kept:])

    def set_reasoning(self, text: str) -> None:
        if text != self.reasoning:
            self.reasoning = text
            if self.thinking_doc is not None:
                render_plain(self.thinking_doc, text.strip())

    def tool_details(self, index: int, call: ToolCallRecord) -> QTextDocument:
        """An open tool card's document, rendered again only when its call changed."""
        kept = self.tool_docs.get(index)
        if kept is not None and kept[0] == call:
            return kept[1]
        doc = new_document(code_font(), wrap_anywhere=True)
        details_document(doc, call)
        self.tool_docs[index] = (call, doc)
        return doc

    def thinking(self) -> QTextDocument:
        """The reasoning's document, rendered the first time the reasoning is shown."""
        if self.thinking_doc is None:
            self.thinking_doc = new_document(chat_font(THINKING_PX))
            render_plain(self.thinking_doc, self.reasoning.strip())
        return self.thinking_doc


def _make(block: Block, palette: QPalette) -> BlockDoc:
    if block.kind == "code":
        doc = new_document(code_font(), wrap_anywhere=True)
        render_plain(doc, block.text, line_height=100)
    else:
        doc = new_document(chat_font(PROSE_PX))
        render_markdown(doc, link_citations(block.text), palette)
    return BlockDoc(block, doc)


def _update(old: BlockDoc, new: Block, palette: QPalette) -> None:
    if new.kind == "code":
        current = old.block.text
        if current and new.text.startswith(current):
            # Streaming: append the new characters rather than laying the whole block out again.
            cursor = QTextCursor(old.doc)
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(new.text[len(current) :])
        else:
            render_plain(old.doc, new.text, line_height=100)
    else:
        render_markdown(old.doc, link_citations(new.text), palette)
    old.block = new
