"""The wire protocol: every message survives a round trip, and decode refuses anything else with a
message that names the message type and the field at fault."""

import json

import pytest

from app.core.generation import GenerationSettings
from app.engine import protocol as p

PICTURE = p.MediaRef(p.MediaKind.IMAGE, "/chats/1/cat.png")
MIC = p.MediaRef(p.MediaKind.AUDIO, "/chats/1/mic.f32", p.MediaEncoding.PCM)

SAMPLES = [
    p.LoadModel(
        model_path="/m.gguf",
        context_length=4096,
        threads=2,
        projector_path="",
        display_name="M",
        saved_chats_folder="/states",
        saved_chats_cap_mb=4096,
    ),
    p.UnloadModel(),
    p.Generate(
        request_id="r",
        messages=[
            p.ChatTurn(p.Role.SYSTEM, "Be brief."),
            p.ChatTurn(p.Role.USER, "hé ✓\nwhat is this?", [PICTURE, MIC]),
            p.ChatTurn(
                p.Role.ASSISTANT,
                "A cat, 3 years old.",
                tool_steps=[
                    p.ToolStep(
                        [p.ToolCall("age", {"born": "2023-05-01", "precise": True})],
                        [p.ToolResponse("age", {"result": 3})],
                        reasoning="I should ask the clock.",
                    )
                ],
            ),
        ],
        settings=GenerationSettings(temperature=0.2, top_k=3, think=True, seed=7, image_budget=560),
        tools=[p.ToolSpec("age", "How old", {"type": "object", "properties": {"born": {"type": "string"}}})],
        tool_choice=p.ToolChoice.REQUIRED,
        response_schema={"type": "object"},
        chat="chat-12",
    ),
    p.Cancel(request_id="r"),
    p.SaveChat(),
    p.ForgetChat(chat="chat-12"),
    p.Shutdown(),
    p.Hello(protocol=p.PROTOCOL_VERSION, app_version="1.2", pid=3),
    p.LoadProgress(fraction=0.5),
    p.ModelLoaded(
        model_path="/m.gguf",
        name="M",
        architecture="gemma4",
        context_length=4096,
        context_length_train=131072,
        load_ms=812.5,
        has_chat_template=True,
        vision=True,
        audio=True,
        projector_path="/mmproj.gguf",
        tools=True,
    ),
    p.ModelUnloaded(),
    p.LoadFailed(model_path="x", reason="not_gguf", message="no"),
    p.Delta(request_id="r", text="a\nb", reasoning="c"),
    p.Done(
        request_id="r",
        stop_reason=p.StopReason.TOOL_CALL,
        prompt_tokens=12,
        completion_tokens=4,
        ttft_ms=30.5,
        tokens_per_s=41.0,
        total_ms=130.0,
        dropped_turns=2,
        prompt_tokens_evaluated=5,
        media_encodes=1,
        tool_calls=[p.ToolCall("weather", {"city": "Oslo", "days": [1, 2], "metric": True, "x": None})],
        tool_call_errors=["call:oops{"],
        restored_tokens=3980,
    ),
    p.ChatSaved(chat="chat-12", bytes=74_000_000, save_ms=81.5),
    p.GenerationFailed(request_id="r", message="too long"),
    p.Error(message="Bad message"),
]


def test_the_samples_cover_every_message_type():
    assert {type(m) for m in SAMPLES} == set(p.message_types())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: m.type)
def test_every_message_type_survives_a_round_trip(message):
    line = message.encode()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["type"] == message.type  # readable JSON, one record per line
    decoded = p.decode(line)
    assert decoded == message and type(decoded) is type(message)


def test_decoded_payloads_are_typed():
    generate = p.decode(next(m for m in SAMPLES if isinstance(m, p.Generate)).encode())
    assert isinstance(generate, p.Generate)
    assert isinstance(generate.settings, GenerationSettings) and generate.settings.top_k == 3
    turn = generate.messages[1]
    assert turn.role is p.Role.USER and turn.attachments[1].encoding is p.MediaEncoding.PCM
    done = p.decode(next(m for m in SAMPLES if isinstance(m, p.Done)).encode())
    assert isinstance(done, p.Done) and done.stop_reason is p.StopReason.TOOL_CALL
    assert done.tool_calls[0].arguments["days"] == [1, 2]


def test_ints_are_accepted_where_numbers_are_expected_and_defaults_fill_in():
    decoded = p.decode('{"type":"generate","request_id":"r","messages":[],"settings":{"temperature":1}}')
    assert isinstance(decoded, p.Generate)
    assert decoded.settings == GenerationSettings(temperature=1.0)
    assert isinstance(decoded.settings.temperature, float)
    turn = p.decode('{"type":"generate","request_id":"r","messages":[{"role":"user","content":"x"}]}')
    assert isinstance(turn, p.Generate) and turn.messages == [p.ChatTurn(p.Role.USER, "x")]


def generate_with(**overrides) -> str:
    data = {"type": "generate", "request_id": "r", "messages": [{"role": "user", "content": "hi"}]}
    data.update(overrides)
    return json.dumps(data)


def done_with(**overrides) -> str:
    return json.dumps({"type": "done", "request_id": "r", "stop_reason": "end", **overrides})


def turn_with(**overrides) -> str:
    turn = {"role": "user", "content": "hi", **overrides}
    return generate_with(messages=[turn])


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "a message must be a JSON object, got a list"),
        (b'{"type": "nope"}', 'unknown message type "nope"'),
        (b'{"kind": "cancel"}', "unknown message type null"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 50_000, "nested too deeply"),
        (b'{"type": "cancel", "bogus": 1}', "cancel.bogus: unknown field"),
        (b'{"type": "load_model"}', "load_model.model_path: missing"),
        (b'{"type": "cancel", "request_id": 7}', "cancel.request_id: expected a string, got 7"),
        (
            b'{"type": "hello", "protocol": true, "app_version": "1", "pid": 1}',
            "expected an integer, got true",
        ),
        (b'{"type": "hello", "protocol": 2.5, "app_version": "1", "pid": 1}', "expected an integer, got 2.5"),
        (
            b'{"type": "load_progress", "fraction": "half"}',
            'load_progress.fraction: expected a number, got "half"',
        ),
        (
            b'{"type": "load_progress", "fraction": false}',
            "load_progress.fraction: expected a number, got false",
        ),
        (b'{"type": "load_progress", "fraction": 1e999}', "expected a finite number"),
        (b'{"type": "load_progress", "fraction": NaN}', "expected a finite number"),
        (
            b'{"type": "load_model", "model_path": "m", "context_length": 1e3}',
            "expected an integer, got 1000.0",
        ),
        (
            b'{"type": "load_model", "model_path": "m", "context_length": 99999999999}',
            "is outside 256 to 262144",
        ),
        (
            generate_with(settings={"temperature": "hot"}),
            'generate.settings.temperature: expected a number, got "hot"',
        ),
        (generate_with(settings={"think": 1}), "generate.settings.think: expected true or false, got 1"),
        (generate_with(settings={"top_k": 64.0}), "generate.settings.top_k: expected an integer, got 64.0"),
        (
            generate_with(settings={"max_tokens": 10**30}),
            "generate.settings.max_tokens: 1000000000000000000000000000000 is",
        ),
        (generate_with(settings={"colour": "red"}), "generate.settings.colour: unknown field"),
        (generate_with(settings=[]), "generate.settings: expected an object, got a list"),
        (generate_with(messages={"role": "user"}), "generate.messages: expected a list, got an object"),
        (generate_with(messages=["hi"]), 'generate.messages[0]: expected an object, got "hi"'),
        (
            turn_with(role="robot"),
            'generate.messages[0].role: expected one of "system", "user", "assistant", got "robot"',
        ),
        (turn_with(role=None), "generate.messages[0].role: expected one of"),
        (turn_with(content=None), "generate.messages[0].content: expected a string, got null"),
        (generate_with(messages=[{"role": "user"}]), "generate.messages[0].content: missing"),
        (
            turn_with(attachments=[{"kind": "video", "path": "v"}]),
            "generate.messages[0].attachments[0].kind: expected one of",
        ),
        (turn_with(attachments=[{"kind": "image"}]), "generate.messages[0].attachments[0].path: missing"),
        (
            turn_with(attachments=[{"kind": "audio", "path": "a", "encoding": "mp3"}]),
            '.encoding: expected one of "file", "pcm", got "mp3"',
        ),
        (turn_with(extra=1), "generate.messages[0].extra: unknown field"),
        (
            b'{"type": "done", "request_id": "r", "stop_reason": "bored"}',
            'done.stop_reason: expected one of "end", "length"',
        ),
        (
            done_with(tool_calls=[{"name": 1, "arguments": {}}]),
            "done.tool_calls[0].name: expected a string, got 1",
        ),
        (
            done_with(tool_calls=[{"name": "f", "arguments": []}]),
            "done.tool_calls[0].arguments: expected an object, got a list",
        ),
        (
            b'{"type": "done", "request_id": "r", "stop_reason": "end", "tool_call_errors": [null]}',
            "done.tool_call_errors[0]: expected a string, got null",
        ),
    ],
)
def test_malformed_lines_are_refused_with_the_field_at_fault(line, error):
    with pytest.raises(p.ProtocolError) as caught:
        p.decode(line)
    assert error in str(caught.value)


def test_a_long_value_is_shortened_in_the_error():
    with pytest.raises(p.ProtocolError) as caught:
        p.decode(json.dumps({"type": "load_progress", "fraction": "w" * 10_000}))
    assert len(str(caught.value)) < 100


def test_a_greeting_of_another_version_is_read_even_with_other_fields():
    line = b'{"type": "hello", "protocol": 999, "app_version": "9", "pid": 1, "features": ["x"]}'
    with pytest.raises(p.ProtocolError):
        p.decode(line)
    assert p.greeting_version(line) == 999
    assert p.greeting_version(b'{"type": "delta", "protocol": 999}') is None
    assert p.greeting_version(b"\xff") is None


def test_a_lone_surrogate_from_the_other_side_still_encodes_as_valid_json():
    error = p.decode('{"type": "error", "message": "bad \\ud800 text"}')
    line = error.encode()
    line.decode("utf-8")  # valid UTF-8 on the wire
    assert p.decode(line) == error


def test_settings_from_outside_keep_to_their_limits_and_never_carry_nan_or_infinity():
    odd = {
        "temperature": float("nan"),
        "max_tokens": float("inf"),
        "top_p": "x",
        "top_k": 10**9,
        "seed": -1e300,
    }
    settings = GenerationSettings.from_dict(odd)
    assert settings.temperature == GenerationSettings().temperature
    assert settings.max_tokens == GenerationSettings().max_tokens and settings.top_k == 1000
    assert p.decode(p.Generate(request_id="r", messages=[], settings=settings).encode()).settings == settings
