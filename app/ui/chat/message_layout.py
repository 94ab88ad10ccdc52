"""Where everything of one message goes at a given width: its text documents, code frames,
attachment tiles, reasoning toggle, status note, buttons and statistics. Painting
(``message_painter``) and the pointer (``conversation_view``) both read the same layout, so what
is drawn is exactly what can be clicked or selected."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QFontMetricsF, QTextDocument

from app.storage.chats import Message
from app.ui.chat.message_docs import NOTE_PX, SMALL_PX, MessageDocs, chat_font, new_document
from app.ui.chat.rich_text import render_plain
from app.ui.chat.tool_cards import CARD_GAP, ToolCard, detail_origin, place_cards

ROW_GAP = 22  # under an answer
QUESTION_GAP = 8  # under a question: its buttons (shown on hover) already leave a gap
FIRST_TOP = 20  # above the first message of a chat
BLOCK_GAP = 14  # between the parts of an answer
BUBBLE_PAD_X, BUBBLE_PAD_Y = 16, 10
BUBBLE_SHARE = 0.8  # a question's bubble leaves a fifth of the column free, on the left
CODE_HEADER = 30
CODE_PAD = 10
TOGGLE_HEIGHT = 24
THINKING_INDENT = 12
TILE = 64
TILE_GAP = 8
SOUND_TILE_WIDTH = 220
FOOTER_HEIGHT = 26
BUTTON_PAD = 8
TYPING = QSizeF(44, 24)
NOTE_PAD_X, NOTE_PAD_Y = 12, 8
DIVIDER_HEIGHT = 34
MEMORY_NOTE = "Hearth's memory of this chat starts here: the messages above are no longer read"

STATUS_NOTES = {
    "stopped": "Stopped",
    "interrupted": "Interrupted — the engine stopped unexpectedly. The answer above is incomplete.",
}
ERROR_FALLBACK = "The answer failed."


class Action(StrEnum):
    COPY = "copy"
    REGENERATE = "regenerate"
    EDIT = "edit"
    DELETE = "delete"
    PREVIOUS = "previous"  # the previous alternative (an earlier edit or answer)
    NEXT = "next"
    THINKING = "thinking"  # show or hide the reasoning
    PIN = "pin"  # keep it in what the model sees, however long the chat grows (or stop)
    COPY_CODE = "copy_code"
    OPEN_ATTACHMENT = "open_attachment"
    TOOL_CARD = "tool_card"  # open or close a tool call's card


@dataclass(frozen=True)
class Hit:
    """Something clickable: an action, and which code block or attachment it is about."""

    action: Action
    index: int = 0


@dataclass
class TextBox:
    doc: QTextDocument
    origin: QPointF
    tone: str = "text"  # "text", "muted", "error" or "warning": the colour it is drawn in
    part: str = "content"  # "content" (the message itself), "reasoning", "tool" or "note"

    @property
    def rect(self) -> QRectF:
        return QRectF(self.origin, QSizeF(self.doc.textWidth(), self.doc.size().height()))


@dataclass
class Button:
    hit: Hit | None  # None: a label among the buttons ("2/3")
    rect: QRectF
    label: str
    description: str
    enabled: bool = True


@dataclass
class Tile:
    rect: QRectF
    index: int
    kind: str
    name: str
    path: Path


@dataclass
class CodeFrame:
    rect: QRectF
    header: QRectF
    language: str


@dataclass
class MessageLayout:
    width: float
    height: float
    texts: list[TextBox] = field(default_factory=list)  # in reading order: selection runs through them
    buttons: list[Button] = field(default_factory=list)
    tiles: list[Tile] = field(default_factory=list)
    codes: list[CodeFrame] = field(default_factory=list)
    cards: list[ToolCard] = field(default_factory=list)
    bubble: QRectF | None = None
    thinking_rule: QRectF | None = None
    toggle: QRectF | None = None  # the reasoning's "Thought for…" line
    toggle_text: str = ""
    toggle_open: bool = False
    note: QRectF | None = None  # a boxed status note (error, interrupted)
    note_text: str = ""
    typing: QRectF | None = None
    stats: tuple[QRectF, str] | None = None
    divider: tuple[QRectF, str] | None = None  # "the model remembers from here", above the message
    actions_on_hover: bool = False  # a question's buttons show only when the pointer is on it

    def hit_at(self, point: QPointF) -> Hit | None:
        for button in self.buttons:
            if button.hit is not None and button.enabled and button.rect.contains(point):
                return button.hit
        for tile in self.tiles:
            if tile.rect.contains(point):
                return Hit(Action.OPEN_ATTACHMENT, tile.index)
        if self.toggle is not None and self.toggle.contains(point):
            return Hit(Action.THINKING)
        for card in self.cards:
            if card.header.contains(point):
                return Hit(Action.TOOL_CARD, card.index)
        return None

    def text_at(self, point: QPointF, exact: bool = True) -> tuple[int, int] | None:
        """The text under ``point`` as (text box, character position); with ``exact`` unset, the
        nearest text, for a selection dragged past the ends."""
        best: tuple[float, int] | None = None
        for index, box in enumerate(self.texts):
            rect = box.rect
            if rect.contains(point):
                return index, _hit_test(box, point)
            if not exact:
                distance = (
                    0.0
                    if rect.top() <= point.y() <= rect.bottom()
                    else min(abs(point.y() - rect.top()), abs(point.y() - rect.bottom()))
                )
                if best is None or distance < best[0]:
                    best = (distance, index)
        if best is None:
            return None
        return best[1], _hit_test(self.texts[best[1]], point)

    def link_at(self, point: QPointF) -> str:
        for box in self.texts:
            if box.rect.contains(point):
                return box.doc.documentLayout().anchorAt(point - box.origin)
        return ""


def _hit_test(box: TextBox, point: QPointF) -> int:
    local = point - box.origin
    rect = box.rect
    local.setX(min(max(local.x(), 0.0), rect.width()))
    local.setY(min(max(local.y(), 0.0), max(0.0, rect.height() - 1)))
    position = box.doc.documentLayout().hitTest(local, Qt.HitTestAccuracy.FuzzyHit)
    return max(0, position)


@dataclass(frozen=True)
class RowFacts:
    """What a message's layout depends on besides its text."""

    alternative: int = 1  # this message is alternative number ``alternative`` of ``alternatives``
    alternatives: int = 1
    thinking_open: bool = False
    can_regenerate: bool = True
    first: bool = False
    stats_text: str = ""
    error_text: str = ""
    pinned: bool = False
    memory_start: bool = False  # the model no longer sees the messages above this one
    open_cards: frozenset[int] = frozenset()  # the tool calls whose cards are open


class Layouter:
    """Builds layouts with the chat's fonts; one per view (fonts are measured once)."""

    def __init__(self) -> None:
        self.small = chat_font(SMALL_PX)
        self.toggle_font = chat_font(NOTE_PX)
        self.small_metrics = QFontMetricsF(self.small)
        self.toggle_metrics = QFontMetricsF(self.toggle_font)

    def layout(self, message: Message, docs: MessageDocs, facts: RowFacts, width: float) -> MessageLayout:
        out = MessageLayout(width=width, height=0)
        y = float(FIRST_TOP if facts.first else 0)
        if facts.memory_start:
            text = self.small_metrics.elidedText(MEMORY_NOTE, Qt.TextElideMode.ElideRight, width - 40)
            out.divider = (QRectF(0, y, width, DIVIDER_HEIGHT - 10), text)
            y += DIVIDER_HEIGHT
        if message.role == "user":
            y = self._user(message, docs, facts, width, y, out)
        else:
            y = self._answer(message, docs, facts, width, y, out)
        out.height = y + (QUESTION_GAP if message.role == "user" else ROW_GAP)
        return out

    # --- questions -------------------------------------------------------------------------

    def _user(
        self, message: Message, docs: MessageDocs, facts: RowFacts, width: float, y: float, out: MessageLayout
    ) -> float:
        if message.attachments:
            y = self._tiles(message, width, y, out, align_right=True) + 8
        doc = docs.user_doc
        if doc is not None and message.content.strip():
            text_width = max(40.0, width * BUBBLE_SHARE - 2 * BUBBLE_PAD_X)
            doc.setTextWidth(text_width)
            used = min(text_width, max(8.0, doc.idealWidth()))
            doc.setTextWidth(used + 1)  # the last pixel of the widest line
            height = doc.size().height()
            bubble_width = used + 1 + 2 * BUBBLE_PAD_X
            out.bubble = QRectF(width - bubble_width, y, bubble_width, height + 2 * BUBBLE_PAD_Y)
            out.texts.append(TextBox(doc, QPointF(out.bubble.left() + BUBBLE_PAD_X, y + BUBBLE_PAD_Y)))
            y = out.bubble.bottom()
        if message.status == "error":
            y = self._note(facts.error_text or ERROR_FALLBACK, "error", width, y + 8, out)
        out.actions_on_hover = True
        buttons = [
            (Hit(Action.EDIT), "Edit", "Edit this question and ask again"),
            (Hit(Action.COPY), "Copy", "Copy this question"),
        ]
        return self._footer(buttons, facts, width, y + 2, out, align_right=True)

    # --- answers ---------------------------------------------------------------------------

    def _answer(
        self, message: Message, docs: MessageDocs, facts: RowFacts, width: float, y: float, out: MessageLayout
    ) -> float:
        streaming = message.status == "streaming"
        if docs.reasoning.strip():
            words = len(docs.reasoning.split())
            if streaming and not docs.content:
                out.toggle_text = "Thinking…"
            else:
                out.toggle_text = f"Thought for a moment · {words} word{'s' if words != 1 else ''}"
            text_width = self.toggle_metrics.horizontalAdvance(out.toggle_text)
            out.toggle = QRectF(0, y, text_width + 26, TOGGLE_HEIGHT)
            out.toggle_open = facts.thinking_open
            y += TOGGLE_HEIGHT + 6
            if facts.thinking_open:
                doc = docs.thinking()
                doc.setTextWidth(max(40.0, width - THINKING_INDENT))
                height = doc.size().height()
                out.thinking_rule = QRectF(0, y, 2, height)
                out.texts.append(TextBox(doc, QPointF(THINKING_INDENT, y), tone="muted", part="reasoning"))
                y += height + BLOCK_GAP
        if message.tool_calls:
            details = {i: docs.tool_details(i, message.tool_calls[i]) for i in facts.open_cards}
            out.cards, y = place_cards(message.tool_calls, facts.open_cards, details, width, y, streaming)
            for card in out.cards:
                if card.open:
                    out.texts.append(
                        TextBox(details[card.index], detail_origin(card), tone="muted", part="tool")
                    )
            y += BLOCK_GAP - CARD_GAP
        if message.attachments:
            y = self._tiles(message, width, y, out, align_right=False) + BLOCK_GAP
        for index, part in enumerate(docs.blocks):
            if index:
                y += BLOCK_GAP
            if part.block.kind == "code":
                doc = part.doc
                doc.setTextWidth(max(40.0, width - 2 * CODE_PAD))
                height = doc.size().height()
                frame = QRectF(0, y, width, CODE_HEADER + height + 2 * CODE_PAD)
                header = QRectF(0, y, width, CODE_HEADER)
                out.codes.append(CodeFrame(frame, header, part.block.language.lower() or "code"))
                copy_index = len(out.codes) - 1
                label = "Copy"
                button_width = self.small_metrics.horizontalAdvance(label) + 2 * BUTTON_PAD
                out.buttons.append(
                    Button(
                        Hit(Action.COPY_CODE, copy_index),
                        QRectF(width - button_width - 6, y + 4, button_width, CODE_HEADER - 8),
                        label,
                        f"Copy {part.block.language or ''} code".replace("  ", " "),
                    )
                )
                out.texts.append(TextBox(part.doc, QPointF(CODE_PAD, y + CODE_HEADER + CODE_PAD)))
                y = frame.bottom()
            else:
                part.doc.setTextWidth(width)
                out.texts.append(TextBox(part.doc, QPointF(0, y)))
                y += part.doc.size().height()
        if streaming and not docs.content:
            out.typing = QRectF(QPointF(0, y + (4 if docs.blocks else 0)), TYPING)
            y = out.typing.bottom()
        status = str(message.status)
        if status == "error":
            y = self._note(facts.error_text or ERROR_FALLBACK, "error", width, y + 10, out)
        elif status == "interrupted":
            y = self._note(STATUS_NOTES["interrupted"], "warning", width, y + 10, out)
        elif status == "stopped":
            y = self._plain_note(STATUS_NOTES["stopped"], width, y + 8, out)
        if streaming:
            return y
        buttons = [(Hit(Action.COPY), "Copy", "Copy the whole answer")]
        if facts.can_regenerate:
            buttons.append(
                (Hit(Action.REGENERATE), "Regenerate", "Write another answer to the same question")
            )
        y = self._footer(buttons, facts, width, y + 8, out, align_right=False)
        return y

    # --- shared pieces ---------------------------------------------------------------------

    def _tiles(
        self, message: Message, width: float, y: float, out: MessageLayout, align_right: bool
    ) -> float:
        x = 0.0
        row_top = y
        placed: list[Tile] = []
        for index, attachment in enumerate(message.attachments):
            tile_width = float(TILE if attachment.kind == "image" else SOUND_TILE_WIDTH)
            if x and x + tile_width > width:
                x, row_top = 0.0, row_top + TILE + TILE_GAP
            placed.append(
                Tile(
                    QRectF(x, row_top, tile_width, TILE),
                    index,
                    attachment.kind,
                    attachment.name,
                    attachment.path,
                )
            )
            x += tile_width + TILE_GAP
        if align_right:
            # Each row of tiles ends at the right edge, like the bubble under it.
            rows: dict[float, list[Tile]] = {}
            for tile in placed:
                rows.setdefault(tile.rect.top(), []).append(tile)
            for tiles in rows.values():
                shift = width - tiles[-1].rect.right()
                for tile in tiles:
                    tile.rect.translate(shift, 0)
        out.tiles.extend(placed)
        return row_top + TILE

    def _note(self, text: str, tone: str, width: float, y: float, out: MessageLayout) -> float:
        doc = new_document(self.toggle_font)
        render_plain(doc, text, line_height=130)
        doc.setTextWidth(max(40.0, width - 2 * NOTE_PAD_X))
        height = doc.size().height()
        out.note = QRectF(0, y, width, height + 2 * NOTE_PAD_Y)
        out.note_text = text
        out.texts.append(TextBox(doc, QPointF(NOTE_PAD_X, y + NOTE_PAD_Y), tone=tone, part="note"))
        return out.note.bottom()

    def _plain_note(self, text: str, width: float, y: float, out: MessageLayout) -> float:
        doc = new_document(self.toggle_font)
        render_plain(doc, text, line_height=100)
        doc.setTextWidth(width)
        out.note_text = text
        out.texts.append(TextBox(doc, QPointF(0, y), tone="muted", part="note"))
        return y + doc.size().height()

    def _footer(
        self,
        buttons: list[tuple[Hit, str, str]],
        facts: RowFacts,
        width: float,
        y: float,
        out: MessageLayout,
        align_right: bool,
    ) -> float:
        items: list[tuple[Hit | None, str, str, bool]] = [
            (hit, label, desc, True) for hit, label, desc in buttons
        ]
        if facts.pinned:
            items.insert(0, (Hit(Action.PIN), "Pinned", "Always read by the model; click to unpin", True))
        if facts.alternatives > 1:
            items = [
                (Hit(Action.PREVIOUS), "‹", "Show the previous version", facts.alternative > 1),
                (None, f"{facts.alternative}/{facts.alternatives}", "", True),
                (Hit(Action.NEXT), "›", "Show the next version", facts.alternative < facts.alternatives),
                *items,
            ]
        widths = [self.small_metrics.horizontalAdvance(label) + 2 * BUTTON_PAD for _, label, _, _ in items]
        x = width - sum(widths) - 2 * (len(widths) - 1) if align_right else 0.0
        for (hit, label, description, enabled), item_width in zip(items, widths, strict=True):
            out.buttons.append(
                Button(hit, QRectF(x, y, item_width, FOOTER_HEIGHT), label, description, enabled)
            )
            x += item_width + 2
        if facts.stats_text and not align_right:
            stats_rect = QRectF(x + 6, y, max(0.0, width - x - 6), FOOTER_HEIGHT)
            text = self.small_metrics.elidedText(
                facts.stats_text, Qt.TextElideMode.ElideRight, stats_rect.width()
            )
            out.stats = (stats_rect, text)
        return y + FOOTER_HEIGHT


def describe_stats(stats: dict) -> str:
    parts = []
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    if stats.get("accepted_per_step"):
        parts.append(f"{stats['accepted_per_step']:.1f} drafted tokens kept per step")
    if stats.get("ttft_ms"):
        parts.append(f"first token {stats['ttft_ms'] / 1000:.2f} s")
    if stats.get("stop_reason") == "length":
        parts.append("reached the length limit")
    return " · ".join(parts)
