"""Speaks to screen readers: a finished answer, and other changes a sighted user would notice on
screen, are announced once through Qt's accessibility events (never token by token)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent

# Long answers are announced by their start; the reader goes on in the conversation itself.
SPOKEN_LENGTH = 400


class Announcer(QObject):
    announced = Signal(str)
    """A message was announced (its words), for anyone who wants to know what was said."""

    def __init__(self, source: QObject) -> None:
        super().__init__(source)
        self._source = source

    def announce(self, text: str, assertive: bool = False) -> None:
        text = " ".join(text.split())
        if len(text) > SPOKEN_LENGTH:
            text = text[: SPOKEN_LENGTH - 1].rsplit(" ", 1)[0] + "…"
        if not text:
            return
        event = QAccessibleAnnouncementEvent(self._source, text)
        if assertive:
            event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
        QAccessible.updateAccessibility(event)
        self.announced.emit(text)


def describe_finished(content: str, status: str, error: str = "") -> str:
    """What to say when an answer ends."""
    if status == "error":
        return f"The answer failed. {error}".strip()
    if status == "stopped":
        return f"Answer stopped. {content}".strip()
    if status == "interrupted":
        return f"The answer was interrupted. {content}".strip()
    return f"Hearth answered: {content}".strip()
