"""What the conversation view paints, read back in words and places: the text, buttons and notes
of a message as drawn, and where on screen a button or a character is. Tests click and select by
these; they read the same layouts the painter draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRectF

from app.ui.chat.message_layout import Action, Hit

if TYPE_CHECKING:
    from app.ui.chat.conversation_view import ConversationView


@dataclass(frozen=True)
class ShownMessage:
    """What the view paints for a message, in words: for tests and for reading it aloud."""

    role: str
    text: str  # the message itself as shown (Markdown rendered), in reading order
    reasoning: str  # the reasoning, when its section is open
    code: tuple[str, ...]  # the code blocks' languages
    note: str  # a status note (error, interrupted, stopped)
    stats: str
    buttons: tuple[str, ...]  # the labels of the buttons that can be clicked now
    toggle: str  # the reasoning's line, if there is reasoning
    tiles: tuple[str, ...]  # attachment names
    tools: tuple[str, ...] = ()  # the tool cards' lines: "name · arguments · state"
    tool_details: str = ""  # what the open cards show


def shown(view: ConversationView, message_id: int) -> ShownMessage | None:
    row = view.conversation.row_at(view.conversation.row_of(message_id))
    if row is None:
        return None
    layout = view.layout_for(row)
    return ShownMessage(
        role=row.message.role,
        text="\n".join(box.doc.toPlainText() for box in layout.texts if box.part == "content"),
        reasoning="\n".join(box.doc.toPlainText() for box in layout.texts if box.part == "reasoning"),
        code=tuple(frame.language for frame in layout.codes),
        note=layout.note_text,
        stats=layout.stats[1] if layout.stats else "",
        buttons=tuple(b.label for b in layout.buttons if b.hit is not None and b.enabled),
        toggle=layout.toggle_text,
        tiles=tuple(tile.name for tile in layout.tiles),
        tools=tuple(" · ".join(filter(None, (c.name, c.summary, c.state))) for c in layout.cards),
        tool_details="\n".join(box.doc.toPlainText() for box in layout.texts if box.part == "tool"),
    )


def button_point(view: ConversationView, message_id: int, hit: Hit) -> QPoint | None:
    """Where to click a message's button, in viewport coordinates (scrolled into view first)."""
    row_number = view.conversation.row_of(message_id)
    row = view.conversation.row_at(row_number)
    if row is None:
        return None
    layout = view.layout_for(row)
    target: QRectF | None
    if hit.action == Action.THINKING:
        target = layout.toggle
    elif hit.action == Action.OPEN_ATTACHMENT:
        target = next((t.rect for t in layout.tiles if t.index == hit.index), None)
    elif hit.action == Action.TOOL_CARD:
        target = next((c.header for c in layout.cards if c.index == hit.index), None)
    else:
        target = next((b.rect for b in layout.buttons if b.hit == hit), None)
    if target is None:
        return None
    index = view.conversation.index(row_number)
    view.scrollTo(index)
    rect = view.visualRect(index)
    left, _width = view.column()
    center = target.center()
    return QPoint(int(rect.left() + left + center.x()), int(rect.top() + center.y()))


def text_point(view: ConversationView, message_id: int, box: int, position: int) -> QPoint | None:
    """Where character ``position`` of a message's text box ``box`` is drawn (viewport)."""
    row_number = view.conversation.row_of(message_id)
    row = view.conversation.row_at(row_number)
    if row is None:
        return None
    layout = view.layout_for(row)
    if not 0 <= box < len(layout.texts):
        return None
    text = layout.texts[box]
    block = text.doc.findBlock(position)
    line = block.layout().lineForTextPosition(position - block.position())
    x = float(line.cursorToX(position - block.position())[0])  # type: ignore[index]
    y = text.doc.documentLayout().blockBoundingRect(block).top() + line.y() + line.height() / 2
    rect = view.visualRect(view.conversation.index(row_number))
    left, _width = view.column()
    return QPoint(int(rect.left() + left + text.origin.x() + x), int(rect.top() + text.origin.y() + y))
