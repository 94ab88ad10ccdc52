"""The same text, spelled in the tokens the cache already holds.

A model writes its answer one sampled token at a time, and may spell a word in pieces ("hel" +
"lo") that the tokenizer, reading the answer back in the next prompt, spells otherwise
("hello"). Compared token by token, the cache would stop matching at the first such word, and
the rest of the answer, and of the chat after it, would be read again. Where the prompt says the
same bytes as the cache, it takes the cache's tokens instead: the model reads back exactly what it
wrote. Control tokens (turn markers, end of generation) are never respelled: they must be the same
token, not text that looks like one.
"""

from __future__ import annotations

from collections.abc import Callable

from app.engine.prompt_cache import MediaSegment, Segment, TextSegment, find_reuse

# A token's bytes, or None for a control token.
Piece = Callable[[int], bytes | None]

MAX_RESPELLINGS = 256  # places a prompt is respelled at, at most: each is a few tokens of one answer


def keep_cached_spelling(cached: list[Segment], prompt: list[Segment], piece: Piece) -> list[Segment]:
    """``prompt``, with every stretch that the cache spells differently but identically in bytes
    taken from the cache, so that ``find_reuse`` matches as far as the text really agrees."""
    result = list(prompt)
    for _ in range(MAX_RESPELLINGS):
        reuse = find_reuse(cached, result)
        if reuse.segment >= len(result) or not isinstance(result[reuse.segment], TextSegment):
            break
        segment = result[reuse.segment]
        assert isinstance(segment, TextSegment)
        written = _text_from(cached, reuse.n_past)
        reading = segment.tokens[reuse.token_offset :]
        took, gave = same_text(written, reading, piece)
        if took == 0:
            break
        respelled = segment.tokens[: reuse.token_offset] + written[:took] + reading[gave:]
        if respelled == segment.tokens:
            break  # (the whole prompt is cached: its last token is left to evaluate)
        result[reuse.segment] = TextSegment(respelled)
    return result


def same_text(written: tuple[int, ...], reading: tuple[int, ...], piece: Piece) -> tuple[int, int]:
    """The longest starts of ``written`` and ``reading`` that spell the same bytes and end on a
    token boundary in both: (tokens of ``written``, tokens of ``reading``); (0, 0) if none."""
    best = (0, 0)
    i = j = 0
    ours = theirs = b""  # the bytes since the last common boundary
    while True:
        if ours == theirs:
            best, ours, theirs = (i, j), b"", b""
            if i == len(written) or j == len(reading):
                return best
            if written[i] == reading[j]:
                i, j = i + 1, j + 1  # the same token, control tokens included
                continue
            mine, yours = piece(written[i]), piece(reading[j])
            if mine is None or yours is None:
                return best
            ours, theirs, i, j = mine, yours, i + 1, j + 1
        elif len(ours) < len(theirs):
            mine = piece(written[i]) if i < len(written) else None
            if mine is None:
                return best
            ours, i = ours + mine, i + 1
        else:
            yours = piece(reading[j]) if j < len(reading) else None
            if yours is None:
                return best
            theirs, j = theirs + yours, j + 1
        if not (ours.startswith(theirs) or theirs.startswith(ours)):
            return best


def _text_from(cached: list[Segment], position: int) -> tuple[int, ...]:
    """The cache's text tokens from ``position`` on, up to its next media (or its end)."""
    tokens: list[int] = []
    start = 0
    for segment in cached:
        end = start + segment.n_pos
        if end > position:
            if isinstance(segment, MediaSegment):
                break
            tokens.extend(segment.tokens[max(0, position - start) :])
        start = end
    return tuple(tokens)
