"""Chats that resume instantly: a chat's KV cache is saved when another chat takes the engine,
read back when the chat returns (in this engine or a new one), and only when its tokens start
the new prompt. Damaged, truncated or foreign states are ignored; the folder keeps to its cap.

The answers are compared with a runner that never left the chat: a state read back must give
the very same tokens as the cache it was saved from."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random

import pytest

from app.core.generation import GenerationSettings
from app.engine.prompt_cache import MediaSegment, TextSegment
from app.engine.protocol import ChatTurn, Role
from app.engine.saved_chats import SUFFIX, ChatStates, chat_key, forget_chat, saved_bytes

GREEDY = GenerationSettings(temperature=0.0, max_tokens=40, context_length=2048)
FIRST = (
    "Tell me about the rivers of Europe, one by one: the Danube, the Rhine, the Volga, the Elbe, "
    "the Loire, the Tagus, the Vistula and the Dnieper, with their length, the countries they "
    "cross, the cities on their banks and the seas they reach."
)
OTHER = "Write a short poem about a lighthouse keeper who counts the ships at night."


def load(path, folder=None, context=2048, cap=2**30):
    from app.engine.runner import ModelRunner

    runner = ModelRunner()
    runner.load(str(path), context, 0, lambda _f: None, states_folder=str(folder or ""), states_cap=cap)
    return runner


def ask(runner, messages, chat=""):
    parts: list[str] = []
    result = runner.generate(messages, GREEDY, lambda: False, lambda t, _r: parts.append(t), chat=chat)
    return "".join(parts), result


def chat_one(runner, chat="chat-1"):
    first, _ = ask(runner, [ChatTurn(Role.USER, FIRST)], chat)
    return [
        ChatTurn(Role.USER, FIRST),
        ChatTurn(Role.ASSISTANT, first),
        ChatTurn(Role.USER, "And the longest?"),
    ]


@pytest.fixture(scope="module")
def never_left(gemma3_path):
    """The follow-up's answer from a runner that stayed in the chat."""
    runner = load(gemma3_path)
    try:
        follow_up = chat_one(runner)
        return follow_up, ask(runner, follow_up)[0]
    finally:
        runner.unload()


@pytest.fixture(scope="module")
def read_cold(gemma3_path, never_left):
    """The follow-up's answer from a runner that reads the whole chat at once (llama.cpp's
    numbers differ a little with how a prompt is cut into batches)."""
    runner = load(gemma3_path)
    try:
        return ask(runner, never_left[0])[0]
    finally:
        runner.unload()


def states_in(folder):
    return sorted(path.name for path in folder.glob(f"*{SUFFIX}"))


def test_switching_back_reads_the_state_back_and_answers_the_same(gemma3_path, tmp_path, never_left):
    follow_up, expected = never_left
    runner = load(gemma3_path, tmp_path)
    try:
        assert chat_one(runner) == follow_up
        assert states_in(tmp_path) == []  # nothing is written while the chat goes on
        ask(runner, [ChatTurn(Role.USER, OTHER)], "chat-2")
        assert len(states_in(tmp_path)) == 1 and states_in(tmp_path)[0].startswith("chat-1.")
        answer, result = ask(runner, follow_up, "chat-1")
        assert answer == expected
        assert result.restored_tokens > 0
        # Read back: the whole chat up to the new question, so only that is evaluated.
        assert result.prompt_tokens_evaluated < 16
        assert result.restored_tokens + result.prompt_tokens_evaluated == result.prompt_tokens
        assert len(states_in(tmp_path)) == 2  # chat-2 was saved as it was left
    finally:
        runner.unload()


def test_a_new_engine_resumes_the_chat_from_disk(gemma3_path, tmp_path, never_left):
    follow_up, expected = never_left
    runner = load(gemma3_path, tmp_path)
    chat_one(runner)
    assert runner.save_chat() > 0  # as the app does when it quits
    assert runner.save_chat() == 0  # unchanged since: nothing to write
    runner.unload()
    restarted = load(gemma3_path, tmp_path)
    try:
        answer, result = ask(restarted, follow_up, "chat-1")
        assert answer == expected
        assert result.prompt_tokens_evaluated < 16 and result.restored_tokens > 100
    finally:
        restarted.unload()


def saved_chat_one(gemma3_path, folder):
    runner = load(gemma3_path, folder)
    follow_up = chat_one(runner)
    runner.unload()  # leaving the model saves the chat too
    (path,) = folder.glob(f"chat-1.*{SUFFIX}")
    return follow_up, path


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "header", "empty"])
def test_a_damaged_state_is_ignored_and_the_chat_read_again(gemma3_path, tmp_path, read_cold, damage):
    expected = read_cold
    follow_up, path = saved_chat_one(gemma3_path, tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flipped byte":
        data[-1000] ^= 0x40
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "header":
        data[60:70] = b"xxxxxxxxxx"
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    runner = load(gemma3_path, tmp_path)
    try:
        answer, result = ask(runner, follow_up, "chat-1")
        assert result.restored_tokens == 0
        assert result.prompt_tokens_evaluated == result.prompt_tokens
        assert answer == expected
    finally:
        runner.unload()


def test_a_state_is_not_used_for_another_prompt_another_context_or_another_model(
    gemma3_path, smollm2_path, tmp_path
):
    follow_up, path = saved_chat_one(gemma3_path, tmp_path)
    edited = [ChatTurn(Role.USER, "Which mountains are the highest in Europe?"), *follow_up[1:]]
    runner = load(gemma3_path, tmp_path)
    try:
        _, result = ask(runner, edited, "chat-1")
        assert result.restored_tokens == 0  # the chat's first message was edited: its tokens differ
    finally:
        runner.unload()
    # Another context length: another fingerprint, so another file name; and the old file put
    # under the new name is refused by its header.
    wider = load(gemma3_path, tmp_path, context=4096)
    try:
        os.replace(path, wider._states.path_for("chat-1"))
        _, result = ask(wider, follow_up, "chat-1")
        assert result.restored_tokens == 0 and result.prompt_tokens_evaluated == result.prompt_tokens
    finally:
        wider.unload()
    other = load(smollm2_path, tmp_path)
    try:
        _, result = ask(other, follow_up, "chat-1")
        assert result.restored_tokens == 0
    finally:
        other.unload()


def test_a_deleted_chat_loses_its_states_and_is_not_saved_again(gemma3_path, tmp_path):
    runner = load(gemma3_path, tmp_path)
    try:
        chat_one(runner)
        ask(runner, [ChatTurn(Role.USER, OTHER)], "chat-2")  # chat-1 saved
        ask(runner, [ChatTurn(Role.USER, FIRST)], "chat-1")
        runner.forget_chat_state("chat-1")
        assert not list(tmp_path.glob(f"chat-1.*{SUFFIX}"))
        assert runner.save_chat() == 0  # the cache still holds it, but it is never written again
        assert [name.split(".")[0] for name in states_in(tmp_path)] == ["chat-2"]
    finally:
        runner.unload()


# --- the folder, without a model --------------------------------------------------------------


def payload(size: int) -> memoryview:
    return memoryview(bytes(range(256)) * (size // 256))


def test_states_are_evicted_least_recently_used_first(tmp_path):
    states = ChatStates(tmp_path, 3 * 1024 + 2048, "f" * 64)
    segments = [TextSegment((1, 2, 3)), MediaSegment("abc@280", 282, 280, "image"), TextSegment((4,))]
    for number in (1, 2, 3):
        assert states.save(chat_key(number), segments, payload(1024)) > 1024
        os.utime(states.path_for(chat_key(number)), (number, number))  # chat-1 the oldest
    saved = states.peek("chat-1")
    assert saved is not None and saved.segments == segments
    buffer = states.read_payload(saved)
    assert bytes(ctypes.cast(buffer, ctypes.POINTER(ctypes.c_uint8 * 1024)).contents) == bytes(payload(1024))
    states.save(chat_key(4), segments, payload(1024))  # over the cap: chat-2, now the oldest, goes
    assert sorted(name.split(".")[0] for name in states_in(tmp_path)) == ["chat-1", "chat-3", "chat-4"]
    assert saved_bytes(tmp_path) <= states.cap_bytes
    # A state larger than the whole cap is not kept (and an older one of that chat goes too).
    assert states.save(chat_key(3), segments, payload(8192)) == 0
    assert states.peek("chat-3") is None
    forget_chat(tmp_path, "chat-1")
    assert [name.split(".")[0] for name in states_in(tmp_path)] == ["chat-4"]


def test_a_save_cut_short_leaves_no_state(tmp_path):
    states = ChatStates(tmp_path, 2**20, "f" * 64)
    (tmp_path / f"chat-5.{'f' * 20}{SUFFIX}.part").write_bytes(b"HEARTHKV half")
    assert states.peek("chat-5") is None
    states.save("chat-6", [TextSegment((1,))], payload(256))
    assert states_in(tmp_path) == [states.path_for("chat-6").name]
    assert not list(tmp_path.glob("*.part"))


HOSTILE_HEADERS = [
    [],
    5,
    None,
    "chat-1",
    {"fingerprint": "f" * 64, "chat": "chat-1"},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": 5},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [5]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [[1, 2]]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [{}]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [{"tokens": "abc"}]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [{"tokens": [1.5, None]}]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [{"tokens": 7}]},
    {"fingerprint": "f" * 64, "chat": "chat-1", "segments": [{"media": 1, "positions": "x"}]},
    {"fingerprint": "f" * 64, "chat": "chat-2", "segments": []},
    {"fingerprint": 1, "chat": ["chat-1"], "segments": []},
]


def test_no_damage_to_a_state_file_makes_it_trusted_or_makes_reading_it_fail(tmp_path):
    """Bytes flipped anywhere, the file cut or extended, and headers of every wrong shape (with
    lengths and checksum made to match, as only a deliberate forgery would): each is refused in
    peace, never trusted and never an exception."""
    from app.engine.saved_chats import _FIXED, FORMAT, MAGIC

    rng = random.Random(20261203)
    states = ChatStates(tmp_path, 2**20, "f" * 64)
    segments = [TextSegment((1, 2, 3)), MediaSegment("abc@280", 282, 280, "image"), TextSegment((4,))]
    states.save("chat-1", segments, payload(2048))
    path = states.path_for("chat-1")
    good = path.read_bytes()
    body = bytes(payload(2048))
    for trial in range(400):
        data = bytearray(good)
        if trial % 3 == 0:
            for spot in rng.sample(range(len(data)), rng.randint(1, 4)):
                data[spot] ^= rng.randint(1, 255)
        elif trial % 3 == 1:
            cut = rng.randrange(len(data))
            data = data[:cut] if rng.random() < 0.7 else data + bytes(rng.randint(1, 64))
        else:
            header = json.dumps(HOSTILE_HEADERS[trial % len(HOSTILE_HEADERS)]).encode()
            digest = hashlib.sha256(header + body).digest()
            data = bytearray(_FIXED.pack(MAGIC, FORMAT, len(header), len(body), digest) + header + body)
        path.write_bytes(bytes(data))
        saved = states.peek("chat-1")
        if saved is not None:
            assert states.read_payload(saved) is None, trial
    path.write_bytes(good)  # and the good one is still read
    saved = states.peek("chat-1")
    assert saved is not None and states.read_payload(saved) is not None
