"""The tool calls of an answer as compact cards above its text: one line each (the tool, its
arguments in short, how it went and how long it took), opened with a click to show the arguments
in full and the result the model read."""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF, QTextDocument

from app.storage.tool_records import CallState, ToolCallRecord
from app.ui.chat.rich_text import render_plain
from app.ui.theme import Colors

CARD_HEADER = 30
CARD_GAP = 6
CARD_PAD = 10
SUMMARY_CHARS = 120

STATES = {
    CallState.RUNNING: ("Running…", "muted"),
    CallState.WAITING: ("Waiting for you", "warning"),
    CallState.DONE: ("Done", "text"),
    CallState.FAILED: ("Failed", "error"),
    CallState.DENIED: ("Not allowed", "warning"),
    CallState.CANCELLED: ("Stopped", "muted"),
}


@dataclass
class ToolCard:
    rect: QRectF  # the whole card, its details included when open
    header: QRectF
    index: int
    name: str
    summary: str  # the arguments in short
    state: str  # how it went, with the time taken
    tone: str
    open: bool


def summary_of(call: ToolCallRecord) -> str:
    parts = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in call.arguments.items()]
    text = ", ".join(parts)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def state_of(call: ToolCallRecord, streaming: bool) -> tuple[str, str]:
    """How the call went, in words and a tone; one left running by an answer that ended some
    other way (Hearth closed mid-tool) was stopped."""
    if not call.finished and not streaming:
        return STATES[CallState.CANCELLED]
    words, tone = STATES[call.state]
    if call.finished and call.elapsed_ms:
        ms = call.elapsed_ms
        elapsed = "under 1 ms" if ms < 1 else f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
        words = f"{words} · {elapsed}"
    return words, tone


def details_of(call: ToolCallRecord) -> str:
    """What an open card shows: the arguments in full, then the result as the model read it."""
    arguments = json.dumps(call.arguments, ensure_ascii=False, indent=2) if call.arguments else "(none)"
    result = call.result if call.finished else "(not finished)"
    return f"Arguments\n{arguments}\n\nResult\n{result}"


def place_cards(
    calls: tuple[ToolCallRecord, ...],
    open_cards: frozenset[int],
    details: dict[int, QTextDocument],
    width: float,
    y: float,
    streaming: bool,
) -> tuple[list[ToolCard], float]:
    """Cards for ``calls`` from ``y`` down; ``details`` holds the documents of the open ones."""
    cards = []
    for index, call in enumerate(calls):
        header = QRectF(0, y, width, CARD_HEADER)
        height = float(CARD_HEADER)
        doc = details.get(index)
        is_open = index in open_cards and doc is not None
        if is_open and doc is not None:
            doc.setTextWidth(max(40.0, width - 2 * CARD_PAD))
            height += doc.size().height() + 2 * CARD_PAD
        state, tone = state_of(call, streaming)
        name = call.name or "unreadable call"
        cards.append(
            ToolCard(QRectF(0, y, width, height), header, index, name, summary_of(call), state, tone, is_open)
        )
        y += height + CARD_GAP
    return cards, y


def detail_origin(card: ToolCard) -> QPointF:
    return QPointF(CARD_PAD, card.header.bottom() + CARD_PAD)


def paint_card(
    painter: QPainter,
    card: ToolCard,
    font: QFont,
    bold: QFont,
    c: Colors,
    hovered: bool,
) -> None:
    """The card's frame and header line (an open card's details are a text box painted after)."""
    painter.setPen(QPen(QColor(c.muted if hovered else c.border), 1))
    painter.setBrush(QColor(c.raised))
    painter.drawRoundedRect(card.rect.adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
    if card.open:
        painter.drawLine(
            QPointF(card.rect.left() + 1, card.header.bottom()),
            QPointF(card.rect.right() - 1, card.header.bottom()),
        )
    header = card.header
    cx, cy = header.left() + 14, header.center().y()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(c.text if hovered else c.muted))
    if card.open:
        arrow = QPolygonF([QPointF(cx - 4, cy - 2), QPointF(cx + 4, cy - 2), QPointF(cx, cy + 3)])
    else:
        arrow = QPolygonF([QPointF(cx - 2, cy - 4), QPointF(cx - 2, cy + 4), QPointF(cx + 3, cy)])
    painter.drawPolygon(arrow)

    metrics, bold_metrics = QFontMetricsF(font), QFontMetricsF(bold)
    tone_color = {"error": c.error, "warning": c.warning}.get(card.tone, c.muted)
    state_width = metrics.horizontalAdvance(card.state) + 12
    state_rect = QRectF(header.right() - state_width, header.top(), state_width - 10, header.height())
    painter.setFont(font)
    painter.setPen(QColor(tone_color))
    painter.drawText(state_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, card.state)

    x = header.left() + 26
    name_width = min(bold_metrics.horizontalAdvance(card.name), max(0.0, state_rect.left() - x - 8))
    painter.setFont(bold)
    painter.setPen(QColor(c.text))
    name = bold_metrics.elidedText(card.name, Qt.TextElideMode.ElideRight, name_width + 1)
    painter.drawText(
        QRectF(x, header.top(), name_width + 1, header.height()),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        name,
    )
    x += name_width + 10
    room = state_rect.left() - x - 8
    if room > 20 and card.summary:
        painter.setFont(font)
        painter.setPen(QColor(c.muted))
        summary = metrics.elidedText(card.summary, Qt.TextElideMode.ElideRight, room)
        painter.drawText(
            QRectF(x, header.top(), room, header.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            summary,
        )


def details_document(doc: QTextDocument, call: ToolCallRecord) -> None:
    render_plain(doc, details_of(call), line_height=110)
