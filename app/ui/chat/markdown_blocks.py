"""Split Markdown into prose and fenced code blocks, tolerating a fence still being streamed.

Pure Python (no Qt), so the splitting rules can be tested and reused on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# An opening or closing fence (CommonMark): up to three spaces of indent, then three or more
# backticks or tildes, then an optional info string whose first word is the language.
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
# The end of a streamed answer that may be the start of a fence ("`", "``"): held back so the
# characters do not flash up as prose for one frame before the block becomes code.
_PARTIAL_FENCE = re.compile(r"(?:^|\n) {0,3}(?:`{1,2}|~{1,2})$")
# A blank line followed by an ATX heading ("## Title"): where a long answer's sections start.
_SECTION_START = re.compile(r"\n[ \t]*\n(?= {0,3}#{1,6}(?:[ \t]|$))")


@dataclass(frozen=True)
class Block:
    """A run of Markdown prose, or the contents of one fenced code block."""

    kind: Literal["prose", "code"]
    text: str
    language: str = ""


def split_blocks(text: str) -> list[Block]:
    """Split ``text`` into prose and code blocks, in order.

    Handles ````` ``` ````` and ``~~~`` fences with an optional language, indented fences (their
    indent is removed from the code lines) and an unterminated fence, which is what a model
    still writing a code block produces: everything after it is code so far. Prose that is only
    whitespace is dropped; code blocks are kept even when empty.
    """
    text = _PARTIAL_FENCE.sub("", text) if text.endswith(("`", "~")) else text
    blocks: list[Block] = []
    lines: list[str] = []
    fence = ""
    indent = 0
    language = ""

    def flush_prose() -> None:
        joined = "\n".join(lines)
        if joined.strip():
            blocks.append(Block("prose", joined.strip("\n")))

    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not fence:
            if match and _is_opening(match):
                flush_prose()
                lines = []
                fence = match["fence"]
                indent = len(match["indent"])
                language = match["info"].split(maxsplit=1)[0] if match["info"].strip() else ""
            else:
                lines.append(line)
        elif match and _closes(match, fence):
            blocks.append(Block("code", "\n".join(lines), language))
            lines, fence = [], ""
        else:
            lines.append(_dedent(line, indent))
    if fence:
        # Unterminated: the model is still writing this block. A final empty line is only the
        # newline before a line that has not arrived yet.
        if lines and not lines[-1].strip():
            lines.pop()
        blocks.append(Block("code", "\n".join(lines), language))
    else:
        flush_prose()
    return blocks


def _is_opening(match: re.Match[str]) -> bool:
    # A backtick fence's info string cannot contain backticks: "```x```" is inline code.
    return not (match["fence"][0] == "`" and "`" in match["info"])


def _closes(match: re.Match[str], fence: str) -> bool:
    marker = match["fence"]
    return marker[0] == fence[0] and len(marker) >= len(fence) and not match["info"].strip()


def _dedent(line: str, indent: int) -> str:
    """Remove up to ``indent`` leading spaces, as CommonMark does inside an indented fence."""
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(indent, stripped) :]


def split_sections(block: Block) -> list[Block]:
    """Split a prose block before each heading that follows a blank line.

    Re-rendering a streamed answer then only touches its last section, not the whole text;
    headings never sit inside a list or a paragraph, so nothing else is cut apart.
    """
    if block.kind != "prose":
        return [block]
    return [Block("prose", part.strip("\n")) for part in _SECTION_START.split(block.text) if part.strip()]
