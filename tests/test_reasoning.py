"""Gemma 4's reasoning channel is split from the answer and never shown as raw markers."""

from app.engine.reasoning import ReasoningSplitter


def run(chunks):
    splitter = ReasoningSplitter()
    pieces = [splitter.feed(chunk) for chunk in chunks] + [splitter.finish()]
    return "".join(a for a, _ in pieces), "".join(r for _, r in pieces)


def test_thought_then_answer_in_one_chunk():
    assert run(["<|channel>thought\nLet me add.<channel|>2 + 2 = 4."]) == ("2 + 2 = 4.", "Let me add.")


def test_markers_split_across_every_character():
    text = "<|channel>thought\nHmm, <b>bold</b>?<channel|>Answer <i>x</i><turn|>"
    assert run(list(text)) == ("Answer <i>x</i>", "Hmm, <b>bold</b>?")


def test_plain_answer_passes_through_and_stray_markers_are_dropped():
    assert run(["Hello", " world<eos>"]) == ("Hello world", "")


def test_unfinished_reasoning_stays_reasoning():
    assert run(["<|channel>thought\nstill thinking"]) == ("", "still thinking")


def test_a_lone_angle_bracket_is_not_held_forever():
    splitter = ReasoningSplitter()
    assert splitter.feed("a <") == ("a ", "")
    assert splitter.feed(" b") == ("< b", "")
