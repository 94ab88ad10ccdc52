"""A stored message's size as the chat store knows it without reading its text: what the UI needs
to choose which part of a long chat to send to the model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoredSize:
    role: str
    chars: int
    tokens: int | None  # as the model counted it, if it did
    pinned: bool

    def estimate(self) -> int:
        # Three characters a token is on the generous side for prose and code alike: when the
        # model has not counted a message yet, sending a little too much beats too little.
        return self.tokens if self.tokens else self.chars // 3 + 8
