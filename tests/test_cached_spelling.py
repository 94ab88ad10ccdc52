"""A model may write a word in other tokens than the tokenizer reads it back in; the prompt then
takes the cache's spelling of the same bytes, and the follow-up reads only what is new (with a
real model: tests/test_engine_cache.py)."""

from __future__ import annotations

from app.engine.cached_spelling import keep_cached_spelling, same_text
from app.engine.prompt_cache import MediaSegment, TextSegment, find_reuse

# A toy vocabulary: ids to bytes, 0 a control token whose text a word could also spell.
PIECES = {0: None, 1: b"hel", 2: b"lo", 3: b"hello", 4: b" world", 5: b" ", 6: b"world", 7: b"!", 8: b"<end>"}


def piece(token: int) -> bytes | None:
    return PIECES[token]


def test_the_same_bytes_in_other_tokens_are_taken_from_the_cache():
    assert same_text((1, 2, 4), (3, 5, 6), piece) == (3, 3)
    assert same_text((1, 2, 4), (3, 5, 7), piece) == (2, 1)  # agrees up to "hello", then not
    cached = [TextSegment((9, 9, 1, 2, 5, 6, 0))]
    prompt = [TextSegment((9, 9, 3, 4, 0, 7, 7))]
    respelled = keep_cached_spelling(cached, prompt, piece)
    assert respelled == [TextSegment((9, 9, 1, 2, 5, 6, 0, 7, 7))]
    assert find_reuse(cached, respelled).n_past == 7


def test_control_tokens_are_never_respelled_and_media_stops_the_walk():
    # "<end>" written as text is not the control token 0 that the cache holds.
    assert same_text((0, 7), (8, 7), piece) == (0, 0)
    cached = [TextSegment((9, 1, 2)), MediaSegment("a", 4, 4), TextSegment((1, 2))]
    prompt = [TextSegment((9, 3)), MediaSegment("a", 4, 4), TextSegment((3, 7))]
    assert find_reuse(cached, keep_cached_spelling(cached, prompt, piece)).n_past == 3 + 4 + 2


def test_different_text_keeps_the_prompt_as_it_is():
    prompt = [TextSegment((9, 3, 7))]
    assert keep_cached_spelling([TextSegment((9, 1, 4))], prompt, piece) == prompt
    whole = [TextSegment((9, 3))]
    assert keep_cached_spelling(whole, whole, piece) == whole  # all cached: nothing to respell
