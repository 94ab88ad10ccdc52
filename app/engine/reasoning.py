"""Split a streamed Gemma 4 answer into its reasoning and the visible answer.

Gemma 4 writes ``<|channel>thought\\n...<channel|>`` before its answer when thinking is on.
The markers are special tokens that arrive as text, possibly split across chunks, so the
splitter holds back any tail that could be the start of a marker.
"""

from __future__ import annotations

THOUGHT_OPEN = "<|channel>thought"
CHANNEL_OPEN = "<|channel>"
CHANNEL_CLOSE = "<channel|>"
# Markers that end a turn or belong to the template, never to the text the user reads.
STRAY_MARKERS = ("<turn|>", "<|turn>", "<eos>", "<end_of_turn>", "<start_of_turn>", "<|think|>")


class ReasoningSplitter:
    """Feed text chunks; get back ``(answer, reasoning)`` pieces safe to show."""

    def __init__(self) -> None:
        self._pending = ""
        self._in_thought = False

    def feed(self, text: str) -> tuple[str, str]:
        self._pending += text
        return self._drain(final=False)

    def finish(self) -> tuple[str, str]:
        return self._drain(final=True)

    def _drain(self, final: bool) -> tuple[str, str]:
        answer: list[str] = []
        reasoning: list[str] = []
        while self._pending:
            marker = CHANNEL_CLOSE if self._in_thought else CHANNEL_OPEN
            at = self._pending.find(marker)
            if at < 0:
                keep = 0 if final else _partial_marker_tail(self._pending)
                emit, self._pending = (
                    self._pending[: len(self._pending) - keep],
                    self._pending[len(self._pending) - keep :],
                )
                (reasoning if self._in_thought else answer).append(emit)
                break
            (reasoning if self._in_thought else answer).append(self._pending[:at])
            rest = self._pending[at + len(marker) :]
            if not self._in_thought:
                # Skip the channel name ("thought") and the newline after it.
                if not final and "\n" not in rest and len(rest) < len("thought\n"):
                    self._pending = self._pending[at:]
                    break
                name, sep, after = rest.partition("\n")
                rest = after if sep and name.strip() in ("thought", "") else rest.removeprefix("thought")
            self._in_thought = not self._in_thought
            self._pending = rest
        return _clean("".join(answer)), _clean("".join(reasoning))


def _partial_marker_tail(text: str) -> int:
    """Length of the longest suffix of ``text`` that could begin a marker."""
    longest = 0
    for marker in (CHANNEL_OPEN, CHANNEL_CLOSE, *STRAY_MARKERS):
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if marker.startswith(text[-size:]):
                longest = size
                break
    return longest


def _clean(text: str) -> str:
    for marker in STRAY_MARKERS:
        if marker in text:
            text = text.replace(marker, "")
    return text
