"""Gemma 4 output: reasoning, answer and tool calls, however the stream is chunked."""

import pytest

from app.engine.output_parser import OutputParser, ToolCall
from app.engine.tool_call_syntax import ToolCallSyntaxError, parse_tool_call


def run(chunks):
    parser = OutputParser()
    pieces = [parser.feed(chunk) for chunk in chunks] + [parser.finish()]
    return (
        "".join(p.answer for p in pieces),
        "".join(p.reasoning for p in pieces),
        [c for p in pieces for c in p.tool_calls],
        any(p.stop for p in pieces),
    )


def test_thought_then_answer():
    assert run(["<|channel>thought\nLet me add.<channel|>2 + 2 = 4."])[:2] == ("2 + 2 = 4.", "Let me add.")


def test_markers_split_at_every_character():
    text = "<|channel>thought\nHmm, <b>bold</b>?<channel|>Answer <i>x</i><turn|>"
    assert run(list(text))[:2] == ("Answer <i>x</i>", "Hmm, <b>bold</b>?")


def test_plain_text_and_stray_markers():
    assert run(["Hello", " world<eos>"])[:2] == ("Hello world", "")
    assert run(["A<channel|>B<|channel>C"])[:2] == ("ABC", "")  # stray markers tolerated
    assert run(["<|channel>thought\n<channel|>Hi<|channel>thought\n<channel|>"])[:2] == ("Hi", "")


def test_unfinished_reasoning_stays_reasoning():
    assert run(["<|channel>thought\nstill thinking"])[:2] == ("", "still thinking")


def test_a_lone_angle_bracket_is_not_held_forever():
    parser = OutputParser()
    assert parser.feed("a <").answer == "a "
    assert parser.feed(" b").answer == "< b"


def test_tool_call_then_tool_response_stops():
    text = (
        'Let me check.<|tool_call>call:get_weather{city:<|"|>Paris, FR<|"|>,days:3,metric:true,'
        'extra:null,tags:[<|"|>a<|"|>,1.5],opts:{deep:{x:-2}}}<tool_call|><|tool_response>ignored'
    )
    for chunks in ([text], list(text)):
        answer, _reasoning, calls, stop = run(chunks)
        assert answer == "Let me check." and stop
        assert calls == [
            ToolCall(
                "get_weather",
                {
                    "city": "Paris, FR",
                    "days": 3,
                    "metric": True,
                    "extra": None,
                    "tags": ["a", 1.5],
                    "opts": {"deep": {"x": -2}},
                },
            )
        ]


def test_a_malformed_tool_call_is_reported_not_raised():
    parser = OutputParser()
    piece = parser.feed("<|tool_call>call:oops{a:<tool_call|>done")
    assert piece.tool_calls == [] and piece.problems and piece.answer == "done"


@pytest.mark.parametrize(
    "body", ["nope{}", "call:f", "call:f{a:1", "call:f{a:1} trailing", 'call:f{a:<|"|>x}']
)
def test_bad_syntax(body):
    with pytest.raises(ToolCallSyntaxError):
        parse_tool_call(body)


def test_empty_arguments():
    assert parse_tool_call("call:now{}") == ("now", {})
