"""Tool calls in the engine, with the real model runner: Gemma 4's template renders the tools and
the rounds of an answer, the grammar sampler makes calls well-formed (and forced when a turn must
call), rounds reuse the cache, and JSON answers follow their schema.

The tiny Gemma 4 fixture has random weights: it never calls a tool unaided, which is exactly why
the grammar is what these tests lean on, as the product does for a forced call."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.engine.chat_template import ChatFormatter
from app.engine.tool_turns import template_messages
from app.gguf.reader import read_gguf_info

TINY_GEMMA4 = Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf"
ADD = p.ToolSpec(
    "add",
    "Add two whole numbers.",
    {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "integer"},
            "unit": {"type": "string", "enum": ["apples", "pears"]},
        },
        "required": ["a", "b"],
    },
)
NOW = p.ToolSpec("now", "The time.", {"type": "object", "properties": {}})
SETTINGS = GenerationSettings(temperature=0.8, seed=11, max_tokens=80, context_length=2048)


@pytest.fixture(scope="module")
def runner():
    from app.engine.runner import ModelRunner

    runner = ModelRunner()
    runner.load(str(TINY_GEMMA4), 2048, 0, lambda _f: None)
    yield runner
    runner.unload()


def answer(runner, turns, shape, settings=SETTINGS):
    parts: list[str] = []
    result = runner.generate(turns, settings, lambda: False, lambda text, _r: parts.append(text), shape)
    return result, "".join(parts)


def test_gemma4_renders_tool_rounds_in_its_own_format():
    info = read_gguf_info(TINY_GEMMA4)
    formatter = ChatFormatter(info.chat_template, "<bos>", "<eos>")
    assert formatter.describes_tools
    step = p.ToolStep([p.ToolCall("add", {"b": 2, "a": 1})], [p.ToolResponse("add", {"result": 3})])
    done = p.ChatTurn(p.Role.ASSISTANT, "It is 3.", tool_steps=[step])
    pending = p.ChatTurn(p.Role.ASSISTANT, "", tool_steps=[step])
    question = {"role": "user", "content": "1+2?"}
    tools = [{"type": "function", "function": {"name": "add", "description": "Add.", "parameters": {}}}]

    finished = formatter.render([question, *template_messages(done, done.content)], tools=tools)
    assert '<|tool>declaration:add{description:<|"|>Add.<|"|>' in finished
    round_text = (
        "<|turn>model\n<|channel>thought\n<channel|>"  # the empty thought the model was prompted with
        "<|tool_call>call:add{a:1,b:2}<tool_call|>"
        "<|tool_response>response:add{result:3}<tool_response|>"
    )
    assert finished.endswith(round_text + "It is 3.<turn|>\n<|turn>model\n<|channel>thought\n<channel|>")
    # Under way: the turn stays open after the responses, for the model to go on.
    assert formatter.render([question, *template_messages(pending, "")], tools=tools).endswith(round_text)

    # Thinking: what the model thought before its calls is read back with them.
    thought = dataclasses.replace(step, reasoning="Adding is arithmetic.")
    thinking = p.ChatTurn(p.Role.ASSISTANT, "", tool_steps=[thought])
    rendered = formatter.render([question, *template_messages(thinking, "")], think=True, tools=tools)
    assert rendered.endswith(
        "<|turn>model\n<|channel>thought\nAdding is arithmetic.\n<channel|>"
        "<|tool_call>call:add{a:1,b:2}<tool_call|><|tool_response>response:add{result:3}<tool_response|>"
    )


def test_only_models_that_speak_gemma4_tool_calls_are_offered_tools(runner, smollm2_path):
    from app.engine.runner import ModelRunner

    assert runner.capabilities["tools"]
    other = ModelRunner()
    other.load(str(smollm2_path), 1024, 0, lambda _f: None)
    try:
        assert not other.capabilities["tools"]
    finally:
        other.unload()


def test_a_forced_call_is_well_formed_and_the_next_round_reuses_the_cache(runner):
    from app.engine.runner import AnswerShape

    question = [p.ChatTurn(p.Role.USER, "What is 2 and 3 apples?", id=1)]
    shape = AnswerShape([NOW, ADD], p.ToolChoice.REQUIRED)
    first, text = answer(runner, question, shape)
    assert first.stop_reason is p.StopReason.TOOL_CALL and first.tool_call_errors == []
    (call,) = first.tool_calls
    assert call.name in ("add", "now")
    if call.name == "add":
        assert {"a", "b"} <= call.arguments.keys() <= {"a", "b", "unit"}
        assert all(isinstance(call.arguments[k], int) for k in "ab")
    assert text == ""  # the call is not answer text

    step = p.ToolStep([call], [p.ToolResponse(call.name, {"result": 5})])
    under_way = [*question, p.ChatTurn(p.Role.ASSISTANT, "", tool_steps=[step], id=2)]
    second, _ = answer(runner, under_way, AnswerShape([NOW, ADD], p.ToolChoice.NONE))
    assert second.stop_reason in (p.StopReason.END, p.StopReason.LENGTH) and second.tool_calls == []
    # The question and its tool declarations are not read again: only the round is new.
    assert second.prompt_tokens_evaluated <= second.prompt_tokens - first.prompt_tokens


def test_two_rounds_in_a_row(runner):
    from app.engine.runner import AnswerShape

    question = [p.ChatTurn(p.Role.USER, "Add twice.", id=1)]
    shape = AnswerShape([ADD], p.ToolChoice.REQUIRED)
    steps: list[p.ToolStep] = []
    for round_number in range(2):
        turns = [*question, p.ChatTurn(p.Role.ASSISTANT, "", tool_steps=steps, id=2)] if steps else question
        result, _ = answer(runner, turns, shape)
        assert result.stop_reason is p.StopReason.TOOL_CALL, round_number
        (call,) = result.tool_calls
        steps = [*steps, p.ToolStep([call], [p.ToolResponse("add", {"result": round_number})])]
    assert len(steps) == 2


def test_a_json_answer_follows_its_schema(runner):
    from app.engine.runner import AnswerShape

    schema = {
        "type": "object",
        "properties": {
            "mood": {"enum": ["calm", "busy"]},
            "count": {"type": "integer", "minimum": 0, "maximum": 99},
            "done": {"type": "boolean"},
        },
        "required": ["mood", "count", "done"],
        "additionalProperties": False,
    }
    settings = GenerationSettings(temperature=0.8, seed=5, max_tokens=200, context_length=2048)
    result, text = answer(
        runner, [p.ChatTurn(p.Role.USER, "Report.")], AnswerShape(response_schema=schema), settings
    )
    assert result.stop_reason is p.StopReason.END
    data = json.loads(text)
    assert data["mood"] in ("calm", "busy") and 0 <= data["count"] <= 99 and isinstance(data["done"], bool)


def test_a_schema_that_cannot_be_followed_is_refused_in_words(runner):
    from app.engine.runner import AnswerShape
    from app.engine.tool_grammar import GrammarError

    with pytest.raises(GrammarError, match="JSON schema"):
        answer(runner, [p.ChatTurn(p.Role.USER, "x")], AnswerShape(response_schema={"type": "nonsense"}))
