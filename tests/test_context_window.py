"""Which turns of a long conversation the model sees: all while they fit; then a start far enough on
to leave room for many more turns; pinned turns and the system prompt always."""

from __future__ import annotations

import pytest

from app.core.message_size import StoredSize
from app.engine.context_window import ContextFullError, TurnSize, choose_window, turns_to_send


def chat(exchanges: int, size: int = 10, system: bool = True) -> list[TurnSize]:
    turns = [TurnSize("system", 20)] if system else []
    for _ in range(exchanges):
        turns += [TurnSize("user", size), TurnSize("assistant", size)]
    return turns


def test_everything_is_sent_while_it_fits():
    turns = chat(5)
    window = choose_window(turns, room=1000)
    assert window.keep == tuple(range(len(turns))) and window.dropped == 0 and not window.moved


def test_an_overflow_frees_half_the_room_in_one_step_and_later_turns_keep_that_start():
    turns = chat(50)  # 20 + 100 turns of 10 = 1020 tokens
    window = choose_window(turns, room=1000)
    kept = sum(turns[i].tokens for i in window.keep)
    assert kept <= 500 and window.keep[0] == 0  # the system prompt stays
    assert turns[window.first_kept].role == "user" and window.keep[-1] == len(turns) - 1
    # The next turns fit behind the same start: the prompt begins the same way, the cache holds.
    longer = [*turns, TurnSize("user", 10), TurnSize("assistant", 10)]
    again = choose_window(longer, room=1000, start=window.first_kept)
    assert again.first_kept == window.first_kept and again.keep[: len(window.keep)] == window.keep


def test_pinned_turns_stay_whatever_happens():
    turns = chat(50, system=False)
    turns[2] = TurnSize("user", 10, pinned=True)
    turns[3] = TurnSize("assistant", 10, pinned=True)
    window = choose_window(turns, room=400)
    assert window.keep[:2] == (2, 3) and window.first_kept > 3
    assert sum(turns[i].tokens for i in window.keep) <= 200


def test_a_message_too_long_for_the_context_is_refused_in_words():
    turns = [TurnSize("system", 20), TurnSize("user", 5000)]
    with pytest.raises(ContextFullError, match="more than the 1000"):
        choose_window(turns, room=1000)


def test_the_work_does_not_grow_with_what_was_already_left_out():
    turns = chat(2000)
    window = choose_window(turns, room=1000, start=len(turns) - 40)
    assert window.keep[0] == 0 and window.first_kept == len(turns) - 40


def stored(count: int, chars: int = 300) -> list[StoredSize]:
    return [StoredSize("user" if i % 2 == 0 else "assistant", chars, None, False) for i in range(count)]


def test_only_what_the_model_may_still_see_is_sent():
    sizes = stored(5000)
    sent = turns_to_send(sizes, memory_start=4900, limit=100_000).indices
    assert sent == list(range(4900, 5000))
    # Without a recorded start, a long chat is cut at about twice the context, at a question.
    sent = turns_to_send(sizes, memory_start=0, limit=4096).indices
    assert 30 < len(sent) < 60 and sizes[sent[0]].role == "user" and sent[-1] == 4999


def test_pinned_exchanges_go_along_whole():
    sizes = stored(100)
    sizes[11] = StoredSize("assistant", 300, None, True)  # an answer pinned: its question comes too
    sizes[40] = StoredSize("user", 300, 120, True)  # a question pinned: its answer comes too
    sending = turns_to_send(sizes, memory_start=90, limit=100_000)
    assert sending.indices == [10, 11, 40, 41, *range(90, 100)] and sending.pinned == (10, 11, 40, 41)
