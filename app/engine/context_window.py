"""Which turns of a long conversation the model sees, when they do not all fit its context.

Dropping the oldest exchange one at a time, turn after turn, moves the start of the prompt on
every turn, so no turn can reuse what the model already read. Here, once the conversation no longer
fits, enough of the oldest exchanges are left out in one step that what is kept fills only part of
the room (half by default): the next turns then fit behind the same start and reuse the cache, until
the room runs out again. Pinned turns and the system prompt are never left out. Pure arithmetic on
token counts, so it costs the same whatever the length of the chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.message_size import StoredSize

REFILL_SHARE = 0.5  # of the room, what a conversation is cut down to when it overflows


class ContextFullError(ValueError):
    """Even the latest message with the pinned ones and the system prompt does not fit."""


@dataclass(frozen=True)
class TurnSize:
    role: str  # "system", "user" or "assistant"
    tokens: int
    pinned: bool = False  # kept whatever happens (the system prompt always is)


@dataclass(frozen=True)
class Window:
    keep: tuple[int, ...]  # the turns to send, by index, in order
    first_kept: int  # the first turn of the unpinned tail that is kept
    dropped: int  # turns left out

    @property
    def moved(self) -> bool:
        return self.dropped > 0


def choose_window(
    turns: Sequence[TurnSize], room: int, start: int = 0, share: float = REFILL_SHARE
) -> Window:
    """The turns to send: all from ``start`` on (earlier unpinned turns are already out of the
    model's memory), if they fit in ``room`` tokens; otherwise a start far enough on that the kept
    turns take at most ``share`` of the room. The kept tail always begins with a user turn, so the
    conversation still alternates, and always holds the last turn."""
    if not turns:
        return Window((), 0, 0)
    last = len(turns) - 1
    fixed = [i for i, t in enumerate(turns) if t.pinned or t.role == "system"]
    start = _user_turn_at_or_after(turns, min(max(0, start), last), last)
    fixed_before = [i for i in fixed if i < start]
    fixed_tokens = sum(turns[i].tokens for i in fixed_before)
    tail_tokens = sum(t.tokens for t in turns[start:])
    if fixed_tokens + tail_tokens <= room:
        return Window((*fixed_before, *range(start, last + 1)), start, _unpinned_before(turns, start))
    latest = _user_turn_at_or_before(turns, last)
    needed = sum(turns[i].tokens for i in fixed if i < latest) + sum(t.tokens for t in turns[latest:])
    if needed > room:
        raise ContextFullError(
            f"The latest message, with the pinned ones and the system prompt, takes about {needed} tokens, "
            f"more than the {room} the context has room for."
        )
    target = max(needed, int(room * share))
    # Walk forward from the current start, leaving out unpinned turns, until what remains fits the
    # target; then move on to the next user turn so the tail begins with a question.
    kept = fixed_tokens + tail_tokens
    cut = start
    while cut < latest and kept > target:
        if not (turns[cut].pinned or turns[cut].role == "system"):
            kept -= turns[cut].tokens
        cut += 1
        while cut < latest and turns[cut].role != "user":
            if not (turns[cut].pinned or turns[cut].role == "system"):
                kept -= turns[cut].tokens
            cut += 1
    cut = _user_turn_at_or_after(turns, cut, latest)
    fixed_before = [i for i in fixed if i < cut]
    return Window((*fixed_before, *range(cut, last + 1)), cut, _unpinned_before(turns, cut))


def _user_turn_at_or_after(turns: Sequence[TurnSize], index: int, limit: int) -> int:
    while index < limit and turns[index].role != "user":
        index += 1
    return index


def _user_turn_at_or_before(turns: Sequence[TurnSize], index: int) -> int:
    probe = index
    while probe > 0 and turns[probe].role != "user":
        probe -= 1
    return probe if turns[probe].role == "user" else index


def _unpinned_before(turns: Sequence[TurnSize], index: int) -> int:
    return sum(1 for t in turns[:index] if not (t.pinned or t.role == "system"))


@dataclass(frozen=True)
class Sending:
    pinned: tuple[int, ...]  # pinned exchanges from before the tail
    start: int  # the tail: from here to the end
    end: int

    @property
    def indices(self) -> list[int]:
        return [*self.pinned, *range(self.start, self.end)]


def turns_to_send(sizes: Sequence[StoredSize], memory_start: int, limit: int) -> Sending:
    """Which messages of a branch to send (by index): from the start of the model's memory on (or
    less, if even that is over ``limit`` tokens, e.g. after switching to a smaller model), and
    every pinned exchange before it. A question and its answer are pinned together, so what is
    sent still alternates between the user and the model."""
    if not sizes:
        return Sending((), 0, 0)
    last = len(sizes) - 1
    start = min(max(0, memory_start), last)
    total, cut = 0, len(sizes)
    while cut > start and total + sizes[cut - 1].estimate() <= limit:
        cut -= 1
        total += sizes[cut].estimate()
    cut = min(cut, last)
    while cut < last and sizes[cut].role != "user":
        cut += 1
    pinned: set[int] = set()
    for index in range(cut):
        if not sizes[index].pinned:
            continue
        pinned.add(index)
        if sizes[index].role == "user" and index + 1 < cut and sizes[index + 1].role == "assistant":
            pinned.add(index + 1)
        elif sizes[index].role == "assistant" and index > 0 and sizes[index - 1].role == "user":
            pinned.add(index - 1)
    return Sending(tuple(sorted(pinned)), cut, len(sizes))
