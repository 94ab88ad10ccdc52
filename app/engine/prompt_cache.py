"""What the KV cache holds, and how much of a new prompt it already covers.

A prompt is a list of segments: runs of text tokens, and media chunks (an image or an audio
clip) known by the hash of their content. Text is compared token by token; media as a whole,
by hash, because an image's embeddings cannot be half reused.

When a long chat's oldest exchanges are left out, the new prompt is the old one with holes: the
cache can be kept by moving the runs that remain down over the holes (``plan_moves``) instead of
reading them again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextSegment:
    tokens: tuple[int, ...]

    @property
    def n_pos(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class MediaSegment:
    media_id: str  # sha256 of the content
    n_pos: int  # positions it takes in the sequence
    n_tokens: int  # embeddings it contributes
    kind: str = "image"


Segment = TextSegment | MediaSegment


@dataclass(frozen=True)
class Reuse:
    """How much of a new prompt the cache already holds."""

    n_past: int  # positions to keep
    segment: int  # first segment (partly) left to evaluate
    token_offset: int  # tokens of that segment already cached (text segments only)


def find_reuse(cached: list[Segment], prompt: list[Segment]) -> Reuse:
    """The longest common prefix of ``cached`` and ``prompt``, compared position by position: text
    token by token (a cached prompt and the answer generated after it are two segments that one
    prompt segment may span), media whole, by hash. At least one token is always left to
    evaluate, so that there are fresh logits to sample the answer from."""
    n_past = 0
    old_index, old_offset = 0, 0  # the next cached position: segment, and token within it
    for index, new in enumerate(prompt):
        if isinstance(new, MediaSegment):
            if old_index < len(cached) and old_offset == 0 and cached[old_index] == new:
                n_past += new.n_pos
                old_index += 1
                continue
            return _leave_one(prompt, Reuse(n_past, index, 0))
        offset = 0
        while offset < len(new.tokens):
            old = cached[old_index] if old_index < len(cached) else None
            if not isinstance(old, TextSegment):
                return _leave_one(prompt, Reuse(n_past, index, offset))
            same = _common_length(old.tokens, old_offset, new.tokens, offset)
            n_past, old_offset, offset = n_past + same, old_offset + same, offset + same
            if old_offset == len(old.tokens):
                old_index, old_offset = old_index + 1, 0
            elif offset < len(new.tokens):
                return _leave_one(prompt, Reuse(n_past, index, offset))
    return _leave_one(prompt, Reuse(n_past, len(prompt), 0))


def _common_length(a: tuple[int, ...], a_start: int, b: tuple[int, ...], b_start: int) -> int:
    limit = min(len(a) - a_start, len(b) - b_start)
    if a[a_start : a_start + limit] == b[b_start : b_start + limit]:
        return limit  # the usual case (a follow-up), at C speed
    same = 0
    while same < limit and a[a_start + same] == b[b_start + same]:
        same += 1
    return same


def _leave_one(prompt: list[Segment], reuse: Reuse) -> Reuse:
    total = sum(segment.n_pos for segment in prompt)
    if reuse.n_past < total:
        return reuse
    # The whole prompt is cached: re-evaluate its last text token (a prompt ends with text).
    last = len(prompt) - 1
    segment = prompt[last]
    if isinstance(segment, TextSegment) and segment.tokens:
        return Reuse(total - 1, last, len(segment.tokens) - 1)
    return Reuse(total - segment.n_pos, last, 0)


@dataclass(frozen=True)
class Move:
    """A run of cached positions that stays, and where it goes."""

    old_start: int
    new_start: int
    length: int


MIN_MOVED_RUN = 32  # tokens: a shorter run is not worth a move, and could match by chance


def plan_moves(cached: list[Segment], prompt: list[Segment], min_run: int = MIN_MOVED_RUN) -> list[Move]:
    """How to turn the cache into the start of ``prompt`` by leaving out stretches of it: the
    common prefix, then run after run of the prompt found further on in the cache, in order, each
    at least ``min_run`` tokens. Empty when nothing would move, or when either side holds media
    (their positions are not plain token positions). At least one token is left to evaluate."""
    cached_text = [segment for segment in cached if isinstance(segment, TextSegment)]
    prompt_text = [segment for segment in prompt if isinstance(segment, TextSegment)]
    if len(cached_text) != len(cached) or len(prompt_text) != len(prompt):
        return []
    old = tuple(token for segment in cached_text for token in segment.tokens)
    new = tuple(token for segment in prompt_text for token in segment.tokens)
    moves: list[Move] = []
    prefix = _common_length(old, 0, new, 0)
    if prefix:
        moves.append(Move(0, 0, prefix))
    done, searched = prefix, prefix  # positions of the prompt covered; where the cache search goes on
    while len(new) - done >= min_run:
        found = _find_run(old, new[done : done + min_run], searched)
        if found < 0:
            break
        length = min_run + _common_length(old, found + min_run, new, done + min_run)
        moves.append(Move(found, done, length))
        done, searched = done + length, found + length
    if done == len(new) and moves:  # keep one token to evaluate, for fresh logits
        last = moves.pop()
        if last.length > 1:
            moves.append(Move(last.old_start, last.new_start, last.length - 1))
    return moves if any(move.old_start != move.new_start for move in moves) else []


def _find_run(old: tuple[int, ...], needle: tuple[int, ...], start: int) -> int:
    first, size = needle[0], len(needle)
    position = start
    while True:
        try:
            position = old.index(first, position, len(old) - size + 1)
        except ValueError:
            return -1
        if old[position : position + size] == needle:
            return position
        position += 1


def prompt_positions(prompt: list[Segment]) -> int:
    return sum(segment.n_pos for segment in prompt)
