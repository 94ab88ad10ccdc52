"""Parse a model's streamed output into reasoning, answer text and tool calls.

Gemma 4 writes ``<|channel>thought\\n...<channel|>`` before its answer when thinking is on, and
tool calls as ``<|tool_call>call:NAME{key:<|"|>text<|"|>,n:1}<tool_call|>``; ``<|tool_response>``
means "run the tool now" and ends the turn. The markers are special tokens that arrive as text,
possibly split across chunks, so the parser holds back any tail that could begin a marker. Like
llama.cpp's own parser it tolerates stray markers: a ``<|channel>`` that names no thought, a
lone ``<channel|>``, or turn markers are dropped, never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.engine.tool_call_syntax import ToolCallSyntaxError, parse_tool_call

CHANNEL_OPEN = "<|channel>"
CHANNEL_CLOSE = "<channel|>"
THOUGHT = "thought"
TOOL_OPEN = "<|tool_call>"
TOOL_CLOSE = "<tool_call|>"
TOOL_RESPONSE = "<|tool_response>"
# Markers that belong to the template or end a turn, never to the text the user reads.
STRAY_MARKERS = ("<turn|>", "<|turn>", "<eos>", "<end_of_turn>", "<start_of_turn>", "<|think|>")
_ALL_MARKERS = (CHANNEL_OPEN, CHANNEL_CLOSE, TOOL_OPEN, TOOL_CLOSE, TOOL_RESPONSE, *STRAY_MARKERS)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ParsedPiece:
    """What one chunk of output added."""

    answer: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # tool calls that could not be read
    stop: bool = False  # the model asked for a tool response: the turn is over


class OutputParser:
    def __init__(self) -> None:
        self._pending = ""
        self._mode = "answer"  # "answer", "thought" or "tool"
        self.stopped = False

    def feed(self, text: str) -> ParsedPiece:
        self._pending += text
        return self._drain(final=False)

    def finish(self) -> ParsedPiece:
        return self._drain(final=True)

    def _drain(self, final: bool) -> ParsedPiece:
        piece = ParsedPiece()
        answer: list[str] = []
        reasoning: list[str] = []
        while self._pending and not self.stopped:
            if self._mode == "tool":
                end = self._pending.find(TOOL_CLOSE)
                if end < 0:
                    if final:  # an unfinished call: report it rather than lose it
                        piece.problems.append(f"unfinished tool call: {self._pending.strip()[:200]}")
                        self._pending = ""
                    break
                self._read_tool_call(self._pending[:end], piece)
                self._pending = self._pending[end + len(TOOL_CLOSE) :]
                self._mode = "answer"
                continue
            target = reasoning if self._mode == "thought" else answer
            at, marker = _first_marker(self._pending)
            if marker is None:
                keep = 0 if final else _partial_marker_tail(self._pending)
                cut = len(self._pending) - keep
                target.append(self._pending[:cut])
                self._pending = self._pending[cut:]
                break
            target.append(self._pending[:at])
            rest = self._pending[at + len(marker) :]
            if marker == CHANNEL_OPEN and self._mode == "answer":
                if not final and len(rest) <= len(THOUGHT) and (THOUGHT + "\n").startswith(rest):
                    self._pending = self._pending[at:]  # wait: is it "<|channel>thought"?
                    break
                if rest.startswith(THOUGHT):
                    rest = rest[len(THOUGHT) :].lstrip("\n")
                    self._mode = "thought"
            elif marker == CHANNEL_CLOSE and self._mode == "thought":
                self._mode = "answer"
            elif marker == TOOL_OPEN:
                self._mode = "tool"
            elif marker == TOOL_RESPONSE:
                self.stopped = piece.stop = True
                rest = ""
            self._pending = rest
        piece.answer = "".join(answer)
        piece.reasoning = "".join(reasoning)
        return piece

    @staticmethod
    def _read_tool_call(body: str, piece: ParsedPiece) -> None:
        try:
            name, arguments = parse_tool_call(body)
        except ToolCallSyntaxError as exc:
            piece.problems.append(f"{exc}: {body.strip()[:200]}")
            return
        piece.tool_calls.append(ToolCall(name, arguments))


def _first_marker(text: str) -> tuple[int, str | None]:
    best, found = len(text), None
    for marker in _ALL_MARKERS:
        at = text.find(marker, 0, best + len(marker))
        if 0 <= at < best:
            best, found = at, marker
    return best, found


def _partial_marker_tail(text: str) -> int:
    """Length of the longest suffix of ``text`` that could begin a marker."""
    longest = 0
    for marker in _ALL_MARKERS:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if marker.startswith(text[-size:]):
                longest = size
                break
    return longest
