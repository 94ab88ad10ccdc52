"""Markdown and plain text rendered into QTextDocuments with the chat's typography: line spacing,
gaps between paragraphs, tamed headings, underlined links and shaded inline code."""

from __future__ import annotations

import re

from PySide6.QtCore import QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

LINE_HEIGHT_PERCENT = 140
# Markdown headings arrive as "font size adjustments" of +3 (h1) to -2; tone them down so a
# heading in an answer reads like a section title, not a poster.
_HEADING_ADJUSTMENT = {1: 2, 2: 1, 3: 1}


def mix(base: QColor, other: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(
        base.redF() + (other.redF() - base.redF()) * amount,
        base.greenF() + (other.greenF() - base.greenF()) * amount,
        base.blueF() + (other.blueF() - base.blueF()) * amount,
    )


def render_markdown(doc: QTextDocument, markdown: str, palette: QPalette) -> None:
    """Fill ``doc`` with Markdown, given comfortable spacing and the theme's colours.

    Qt's own Markdown rendering has no line spacing, gaps or inline-code background to speak
    of: the formats are adjusted after parsing.
    """
    doc.setMarkdown(markdown, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
    link = palette.color(QPalette.ColorRole.Link)
    muted = palette.color(QPalette.ColorRole.PlaceholderText)
    text = palette.color(QPalette.ColorRole.Text)
    code_background = mix(palette.color(QPalette.ColorRole.Base), text, 0.08)
    fixed_families = [QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family(), "monospace"]

    blocks = []
    block = doc.begin()
    while block.isValid():
        blocks.append(block)
        block = block.next()
    # Collected first and applied after: changing formats while iterating splits fragments.
    block_edits: list[tuple[int, QTextBlockFormat]] = []
    char_edits: list[tuple[int, int, QTextCharFormat]] = []
    for index, block in enumerate(blocks):
        fmt = block.blockFormat()
        fmt.setLineHeight(LINE_HEIGHT_PERCENT, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        level = fmt.headingLevel()
        in_list = block.textList() is not None
        in_table = QTextCursor(block).currentTable() is not None
        quote = bool(fmt.property(QTextFormat.Property.BlockQuoteLevel))
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        list_continues = in_list and following is not None and following.textList() is not None
        if in_table:
            fmt.setTopMargin(0)
            fmt.setBottomMargin(0)
        elif level:
            fmt.setTopMargin(14 if index else 6)
            fmt.setBottomMargin(4)
        else:
            fmt.setTopMargin(0)
            fmt.setBottomMargin(3 if list_continues else 10)
        if following is None:
            fmt.setBottomMargin(0)
        block_edits.append((block.position(), fmt))

        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            fragments += 1
            char = fragment.charFormat()
            if not (level or quote or char.isAnchor() or char.fontFixedPitch()):
                continue
            if level:
                char.setProperty(QTextFormat.Property.FontSizeAdjustment, _HEADING_ADJUSTMENT.get(level, 0))
                char.setFontWeight(QFont.Weight.DemiBold)
            if char.isAnchor():
                char.setForeground(link)
                char.setFontUnderline(True)  # not by colour alone
            if char.fontFixedPitch():
                char.setFontFamilies(fixed_families)
                char.clearProperty(QTextFormat.Property.FontPointSize)  # the text's size, not 9 pt
                char.setBackground(code_background)
            if quote:
                char.setForeground(muted)
            char_edits.append((fragment.position(), fragment.position() + fragment.length(), char))

    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    for position, fmt in block_edits:
        cursor.setPosition(position)
        cursor.setBlockFormat(fmt)
    for start, end, char in char_edits:
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(char)
    cursor.endEditBlock()


def render_plain(doc: QTextDocument, text: str, line_height: int = LINE_HEIGHT_PERCENT) -> None:
    """Fill ``doc`` with ``text`` as it is (no Markdown), with the chat's line spacing."""
    doc.setPlainText(text)
    if line_height == 100:
        return
    fmt = QTextBlockFormat()
    fmt.setLineHeight(line_height, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
    cursor = QTextCursor(doc)
    cursor.select(QTextCursor.SelectionType.Document)
    cursor.mergeBlockFormat(fmt)


PAGE_LINK = "hearth-page:"  # a citation of a document's page in an answer: "[p. 12]"
_CITATION = re.compile(r"\[(?:p\.|pp?\.|page)\s*(\d{1,5})\]", re.IGNORECASE)
_FENCED = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.DOTALL)


def link_citations(markdown: str) -> str:
    """Turn the page citations an answer makes (``[p. 12]``) into links to the page, leaving code
    as it is."""
    if "[" not in markdown:
        return markdown
    parts = _FENCED.split(markdown)
    for index in range(0, len(parts), 2):  # the even parts are outside code
        parts[index] = _CITATION.sub(
            lambda m: f"[\\[p. {m.group(1)}\\]]({PAGE_LINK}{m.group(1)})", parts[index]
        )
    return "".join(parts)


def open_link(url: QUrl) -> None:
    """Open a link from a message: only web and mail links leave the app; anything else (a local
    file, a script) does not."""
    if url.scheme().lower() in ("http", "https", "mailto"):
        QDesktopServices.openUrl(url)
