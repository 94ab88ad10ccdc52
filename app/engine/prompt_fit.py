"""Sizing a conversation's turns in tokens, and deciding which of them go into the prompt.

The UI sends the turns the model may still see (from the start of its memory on, with the pinned
ones); each turn's size is the one the UI kept from an earlier answer or is counted here once,
from its own text, so the work grows with what is sent, never with the whole chat. The choice
itself is ``context_window``'s: everything while it fits, else a new start that leaves room.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.core.gemma4 import IMAGE_BUDGETS
from app.engine.context_window import TurnSize, choose_window
from app.engine.protocol import ChatTurn, MediaEncoding, MediaKind, MediaRef, Role, TurnTokens
from app.engine.tool_turns import steps_text

DEFAULT_IMAGE_TOKENS = IMAGE_BUDGETS[2]  # what Gemma 4 gives a picture when left to choose
AUDIO_TOKENS_PER_S = 25
PCM_BYTES_PER_S = 16_000 * 4  # mono float32 at 16 kHz
FILE_BYTES_PER_S = 16_000 * 2  # a 16-bit 16 kHz WAV: compressed files only take fewer tokens than this says
MAX_AUDIO_TOKENS = 30 * 60 * AUDIO_TOKENS_PER_S
GUESSED_OVERHEAD = 12  # tokens around a turn, when the template cannot be asked


@dataclass
class FitPlan:
    turns: list[ChatTurn]  # what goes into the prompt, in order
    dropped: int = 0  # turns sent but left out
    memory_start_id: int = 0  # the first unpinned turn kept, when some were left out
    counted: list[TurnTokens] = field(default_factory=list)  # sizes counted here, for the UI to keep


def with_picture_detail(turns: list[ChatTurn], image_budget: int) -> list[ChatTurn]:
    """The turns with every picture that has no detail of its own read at ``image_budget`` (0:
    as many tokens as its size gives)."""
    if not image_budget:
        return turns

    def detailed(ref: MediaRef) -> MediaRef:
        if ref.kind == MediaKind.IMAGE and not ref.detail:
            return dataclasses.replace(ref, detail=image_budget)
        return ref

    return [
        dataclasses.replace(turn, attachments=[detailed(ref) for ref in turn.attachments])
        if turn.attachments
        else turn
        for turn in turns
    ]


def media_tokens(ref: MediaRef, image_budget: int) -> int:
    """About how many positions a picture or sound takes (an upper bound for sounds)."""
    if ref.kind == MediaKind.IMAGE:
        return ref.detail or image_budget or DEFAULT_IMAGE_TOKENS
    try:
        size = os.path.getsize(ref.path)
    except OSError:
        return AUDIO_TOKENS_PER_S
    per_second = PCM_BYTES_PER_S if ref.encoding == MediaEncoding.PCM else FILE_BYTES_PER_S
    return min(MAX_AUDIO_TOKENS, max(AUDIO_TOKENS_PER_S, size * AUDIO_TOKENS_PER_S // per_second))


def turn_overhead(render: Callable[[list[dict[str, str]]], str], count: Callable[[str], int]) -> int:
    """The tokens a chat template puts around each turn (Gemma 4: "<|turn>user" ... "<turn|>"),
    measured once on the model's own template; a template that fails on the sample gets a
    generous guess (the real prompt is checked anyway)."""
    try:
        one = render([{"role": "user", "content": "A"}])
        three = render(
            [
                {"role": "user", "content": "A"},
                {"role": "assistant", "content": "B"},
                {"role": "user", "content": "C"},
            ]
        )
    except ValueError:  # the template's own failures (TemplateRenderError and its kind)
        return GUESSED_OVERHEAD
    extra = count(three) - count(one) - count("B") - count("C")
    return max(2, -(-extra // 2))


def plan_fit(
    turns: Sequence[ChatTurn],
    room: int,
    count: Callable[[str], int],
    overhead: int,
    image_budget: int = 0,
) -> FitPlan:
    """Which turns fit ``room`` tokens (see ``context_window.choose_window``); raises
    ``ContextFullError`` when even the latest message does not."""
    sizes: list[TurnSize] = []
    counted: list[TurnTokens] = []
    for turn in turns:
        if turn.tokens > 0:
            tokens = turn.tokens
        else:
            tokens = (
                count(turn.content)
                + overhead
                + sum(media_tokens(a, image_budget) for a in turn.attachments)
                + (count(steps_text(turn)) if turn.tool_steps else 0)
            )
            if turn.id:
                counted.append(TurnTokens(turn.id, tokens))
        sizes.append(TurnSize(str(turn.role), tokens, pinned=turn.pinned or turn.role == Role.SYSTEM))
    window = choose_window(sizes, room)
    kept = [turns[i] for i in window.keep]
    start = turns[window.first_kept].id if window.moved and window.first_kept < len(turns) else 0
    return FitPlan(kept, window.dropped, start, counted)
