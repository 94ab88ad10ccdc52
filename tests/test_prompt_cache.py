"""Prefix reuse: text by tokens, media by content hash, never a stale or empty evaluation; and
after a cut, the runs of the cache that remain, found to be moved down over the holes."""

from app.engine.prompt_cache import MediaSegment, Move, Reuse, TextSegment, find_reuse, plan_moves

A = MediaSegment("a" * 64, n_pos=10, n_tokens=10)
B = MediaSegment("b" * 64, n_pos=10, n_tokens=10)


def text(*tokens):
    return TextSegment(tuple(tokens))


def test_empty_cache_evaluates_everything():
    assert find_reuse([], [text(1, 2, 3)]) == Reuse(0, 0, 0)


def test_follow_up_turn_reuses_the_whole_previous_prompt():
    cached = [text(1, 2), A, text(3, 4, 5)]
    prompt = [text(1, 2), A, text(3, 4, 5, 6, 7)]
    assert find_reuse(cached, prompt) == Reuse(2 + 10 + 3, 2, 3)


def test_an_edited_earlier_message_evaluates_from_the_first_difference():
    cached = [text(1, 2, 3, 4)]
    assert find_reuse(cached, [text(1, 2, 9, 4)]) == Reuse(2, 0, 2)


def test_a_different_image_is_never_reused():
    cached = [text(1), A, text(2)]
    assert find_reuse(cached, [text(1), B, text(2)]) == Reuse(1, 1, 0)


def test_a_fully_cached_prompt_re_evaluates_its_last_token():
    prompt = [text(1), A, text(2, 3)]
    assert find_reuse(prompt, prompt) == Reuse(1 + 10 + 1, 2, 1)


def test_cache_longer_than_prompt_is_cut():
    cached = [text(1, 2, 3, 4, 5)]
    assert find_reuse(cached, [text(1, 2, 3)]) == Reuse(2, 0, 2)


def test_the_generated_answer_is_reused_across_the_segment_boundary():
    # The cache holds the prompt and, as a second segment, the answer generated after it; the
    # next prompt writes both (and the new question) as one run of text.
    cached = [text(1, 2, 3), text(4, 5)]
    assert find_reuse(cached, [text(1, 2, 3, 4, 5, 6, 7)]) == Reuse(5, 0, 5)
    assert find_reuse(cached, [text(1, 2, 3, 4, 9, 6)]) == Reuse(4, 0, 4)
    cached = [text(1), A, text(2, 3), text(4)]
    assert find_reuse(cached, [text(1), A, text(2, 3, 4, 5)]) == Reuse(1 + 10 + 3, 2, 3)
    assert find_reuse(cached, [text(1), A, text(2, 3), B]) == Reuse(1 + 10 + 2, 3, 0)


def test_empty_segments_are_skipped():
    assert find_reuse([text(1), text(), text(2)], [text(1, 2, 3)]) == Reuse(2, 0, 2)


def run(start: int, length: int) -> tuple[int, ...]:
    return tuple(range(start, start + length))


def test_after_a_cut_the_kept_turns_are_moved_down_and_only_the_question_is_left():
    system, dropped, kept, question = run(1000, 5), run(2000, 300), run(3000, 400), run(4000, 20)
    cached = [text(*system, *dropped, *kept[:-40]), text(*kept[-40:])]  # a prompt, then its answer
    moves = plan_moves(cached, [text(*system, *kept, *question)])
    assert moves == [Move(0, 0, 5), Move(305, 5, 400)]


def test_pinned_turns_before_the_cut_move_with_the_tail():
    system, old, pinned, more, tail = (
        run(1000, 5),
        run(2000, 100),
        run(3000, 50),
        run(4000, 200),
        run(5000, 80),
    )
    cached = [text(*system, *old, *pinned, *more, *tail)]
    moves = plan_moves(cached, [text(*system, *pinned, *tail, 7)])
    assert moves == [Move(0, 0, 5), Move(105, 5, 50), Move(355, 55, 80)]


def test_a_whole_prompt_found_in_the_cache_keeps_one_token_to_evaluate():
    system, dropped, kept = run(1000, 5), run(2000, 100), run(3000, 64)
    moves = plan_moves([text(*system, *dropped, *kept)], [text(*system, *kept)])
    assert moves == [Move(0, 0, 5), Move(105, 5, 63)]


def test_nothing_moves_for_short_runs_media_or_a_plain_follow_up():
    system, dropped = run(1000, 5), run(2000, 100)
    assert plan_moves([text(*system, *dropped, *run(3000, 31))], [text(*system, *run(3000, 31), 9)]) == []
    assert plan_moves([text(*system, *dropped)], [text(*system, *dropped, 9)]) == []  # nothing to move
    kept = run(3000, 64)
    assert plan_moves([text(*system, *dropped), A, text(*kept)], [text(*system), A, text(*kept, 9)]) == []
