"""Split Markdown into prose and fenced code blocks, tolerating a fence still being streamed."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$")


@dataclass(frozen=True)
class Block:
    kind: str  # "prose" or "code"
    text: str
    language: str = ""


def split_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    language = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not fence:
            if match:
                if prose:
                    blocks.append(Block("prose", "\n".join(prose)))
                    prose = []
                fence, language = match.group(1), match.group(2)
            else:
                prose.append(line)
        elif (
            match
            and match.group(1)[0] == fence[0]
            and len(match.group(1)) >= len(fence)
            and not match.group(2)
        ):
            blocks.append(Block("code", "\n".join(code), language))
            code, fence = [], ""
        else:
            code.append(line)
    if fence:  # unterminated: the model is still writing this block
        blocks.append(Block("code", "\n".join(code), language))
    elif prose and "\n".join(prose).strip():
        blocks.append(Block("prose", "\n".join(prose)))
    return [b for b in blocks if b.kind == "code" or b.text.strip()]
