"""A small meter by the message box: how much of the model's context the chat takes with what is
about to be sent (pictures, sounds and documents counted), and the room kept for the answer.
It fills amber past three quarters and red when the next message would not fit."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from app.engine.prompt_fit import AUDIO_TOKENS_PER_S
from app.storage.documents import CHARS_PER_TOKEN
from app.ui.chat.document_prompt import PASSAGES_SHARE, WHOLE_DOCUMENT_SHARE
from app.ui.chat.intake import PendingAttachment
from app.ui.chat.picture_cost import cost_of
from app.ui.theme import colors_for


@dataclass(frozen=True)
class ContextUse:
    chat: int  # tokens the chat took in the last answer (its prompt and the answer)
    pending: int  # about how many the message being written adds, attachments included
    context: int
    reserve: int  # kept for the answer

    @property
    def used(self) -> int:
        return self.chat + self.pending

    @property
    def fraction(self) -> float:
        return min(1.0, self.used / self.context) if self.context else 0.0

    @property
    def overflows(self) -> bool:
        return self.used + self.reserve > self.context

    def words(self) -> str:
        if not self.context:
            return "Load a model to see how much of its context this chat takes."
        text = f"Context: about {self.used:,} of {self.context:,} tokens"
        if self.pending:
            text += f" ({self.pending:,} in the message being written)"
        text += f"; {self.reserve:,} are kept for the answer."
        if self.overflows:
            text += (
                " This message would not fit: the oldest exchanges will be left out (pin what the "
                "model must keep), or shorten it."
            )
        return text


def pending_tokens(text: str, items: list[PendingAttachment], chat_budget: int, context: int) -> int:
    """About what the message being written adds: its words, and each attachment as the model
    reads it (a picture at its detail, exactly; a sound at 25 tokens a second; a document whole
    or, when it is too long for that, the passages a question brings)."""
    total = round(len(text) / CHARS_PER_TOKEN)
    for item in items:
        kind = item.stored.kind
        if kind == "image":
            total += cost_of(item, chat_budget)
        elif kind == "audio":
            total += round((item.seconds or 0) * AUDIO_TOKENS_PER_S)
        elif item.tokens > context * WHOLE_DOCUMENT_SHARE:
            total += round(context * PASSAGES_SHARE)
        else:
            total += item.tokens
    return total


class ContextMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.use = ContextUse(0, 0, 0, 0)
        self.setAccessibleName("Context use")
        self.setFixedSize(QSize(44, 20))
        self.set_use(self.use)

    def set_use(self, use: ContextUse) -> None:
        self.use = use
        self.setToolTip(use.words())
        self.setAccessibleDescription(use.words())
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        colors = colors_for(self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(2, self.height() / 2 - 3, self.width() - 4, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colors.border))
        painter.drawRoundedRect(track, 3, 3)
        use = self.use
        if use.context:
            fill = QRectF(track)
            fill.setWidth(max(3.0, track.width() * use.fraction))
            tone = colors.error if use.overflows else colors.warning if use.fraction > 0.75 else colors.accent
            painter.setBrush(QColor(tone))
            painter.drawRoundedRect(fill, 3, 3)
        painter.end()
