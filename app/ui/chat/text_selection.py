"""Text selected with the pointer inside one message: from an anchor to a cursor, each a text box of
the message's layout and a character position in it. Selection runs across a message's prose,
code and notes in reading order."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QTextCursor

from app.ui.chat.message_layout import MessageLayout

Place = tuple[int, int]  # (text box, character position)


@dataclass
class TextSelection:
    message_id: int
    anchor: Place
    cursor: Place

    @property
    def empty(self) -> bool:
        return self.anchor == self.cursor

    def span(self) -> tuple[int, int, int, int]:
        """(first box, start, last box, end), in reading order."""
        first, last = sorted((self.anchor, self.cursor))
        return first[0], first[1], last[0], last[1]

    def text(self, layout: MessageLayout) -> str:
        first, start, last, end = self.span()
        pieces = []
        for index in range(first, min(last, len(layout.texts) - 1) + 1):
            doc = layout.texts[index].doc
            limit = doc.characterCount() - 1
            cursor = QTextCursor(doc)
            cursor.setPosition(min(start, limit) if index == first else 0)
            cursor.setPosition(min(end, limit) if index == last else limit, QTextCursor.MoveMode.KeepAnchor)
            pieces.append(cursor.selection().toPlainText())
        return "\n\n".join(piece for piece in pieces if piece)


def word_at(layout: MessageLayout, place: Place) -> tuple[Place, Place]:
    """The word around ``place`` (for a double click)."""
    box, position = place
    cursor = QTextCursor(layout.texts[box].doc)
    cursor.setPosition(position)
    cursor.select(QTextCursor.SelectionType.WordUnderCursor)
    return (box, cursor.selectionStart()), (box, cursor.selectionEnd())
