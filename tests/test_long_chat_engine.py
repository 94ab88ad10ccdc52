"""Long chats in the real engine (SmolLM2, a 512-token context): once a chat outgrows the context,
the oldest turns go in one step, and the following turns keep the same start and reuse the cache;
pinned turns stay; only the tail of a long chat is ever read, sent or tokenized."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Role, StopReason

TINY_GEMMA4 = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4.gguf"

SETTINGS = GenerationSettings(temperature=0.0, max_tokens=16, context_length=512)


@pytest.fixture(scope="module")
def runner(smollm2_path):
    from app.engine.runner import ModelRunner

    runner = ModelRunner()
    runner.load(str(smollm2_path), 512, 0, lambda _f: None)
    yield runner
    runner.unload()


def exchange(number: int) -> list[ChatTurn]:
    return [
        ChatTurn(
            Role.USER,
            f"Question {number}: " + " ".join(f"w{number}_{i}" for i in range(12)),
            id=2 * number + 1,
        ),
        ChatTurn(Role.ASSISTANT, f"Answer {number}: noted.", id=2 * number + 2),
    ]


def ask(runner, turns):
    return runner.generate(turns, SETTINGS, lambda: False, lambda _text, _reasoning: None)


def test_an_overflow_moves_the_start_once_and_the_next_turns_reuse_the_cache(runner):
    chat = [ChatTurn(Role.SYSTEM, "You are terse.")]
    starts, evaluated, prompts = [], [], []
    for number in range(40):
        chat += exchange(number)[:1]
        result = ask(runner, chat)
        chat.append(exchange(number)[1])
        if result.memory_start_id:  # the UI sends from there on next time
            first = next(i for i, turn in enumerate(chat) if turn.id == result.memory_start_id)
            chat = [chat[0], *chat[first:]]
        starts.append(result.memory_start_id)
        evaluated.append(result.prompt_tokens_evaluated)
        prompts.append(result.prompt_tokens)
        assert result.prompt_tokens + SETTINGS.max_tokens <= 512
    moves = [n for n, start in enumerate(starts) if start]
    # In a context this small (a dozen exchanges) the start moves every few turns, never every
    # turn: each move frees half the room, which the next few questions fill again.
    assert 2 <= len(moves) <= 10, moves
    assert all(b - a >= 3 for a, b in itertools.pairwise(moves)), moves
    quiet = [n for n in range(moves[0] + 1, 40) if n not in moves]
    # Between moves a turn reads only what is new since the last one (the answer before it, which
    # the test stores differently from what the model wrote, and the question), never the whole
    # prompt again; and a move reads no more than that: what remains of the cache is moved down
    # over the exchanges left out.
    new = {n: prompts[n] - prompts[n - 1] for n in quiet}
    assert quiet and all(evaluated[n] <= new[n] for n in quiet), [(evaluated[n], new[n]) for n in quiet]
    assert all(evaluated[n] <= max(new.values()) for n in moves), (moves, evaluated)


def test_a_cut_in_gemma_4_moves_its_sliding_window_cache_and_the_chat_goes_on():
    from app.engine.runner import ModelRunner

    runner = ModelRunner()
    runner.load(str(TINY_GEMMA4), 512, 0, lambda _f: None)
    try:
        assert runner._model is not None and runner._model.can_shift
        chat, results = [ChatTurn(Role.SYSTEM, "You are terse.")], []
        for number in range(30):
            chat.append(exchange(number)[0])
            result = ask(runner, chat)
            chat.append(exchange(number)[1])
            if result.memory_start_id:
                first = next(i for i, turn in enumerate(chat) if turn.id == result.memory_start_id)
                chat = [chat[0], *chat[first:]]
            results.append(result)
    finally:
        runner.unload()
    moves = [n for n, result in enumerate(results) if result.memory_start_id]
    assert moves and moves[-1] < 29, "the chat never outgrew the context"
    evaluated = [result.prompt_tokens_evaluated for result in results]
    for n in moves:  # a move reads what the quiet turn after it does: the last answer and a question
        assert results[n].completion_tokens > 0 and results[n].stop_reason != StopReason.CANCELLED
        assert evaluated[n] <= evaluated[n + 1] + 2, evaluated
        assert results[n].prompt_tokens - evaluated[n] > 64  # kept: more than the system prompt


def test_pinned_turns_stay_when_the_start_moves(runner):
    chat = [ChatTurn(Role.SYSTEM, "You are terse.")]
    for number in range(30):
        chat += exchange(number)
    chat[3] = ChatTurn(Role.USER, "The code word is heron.", id=3, pinned=True)
    chat[4] = ChatTurn(Role.ASSISTANT, "Noted: heron.", id=4, pinned=True)
    chat.append(ChatTurn(Role.USER, "Which code word did I give?", id=999))
    result = ask(runner, chat)
    assert result.memory_start_id > 4 and result.dropped_turns > 0
    prompt = runner._fit_prompt(chat, SETTINGS)
    assert [t.id for t in prompt.plan.turns[:3]] == [0, 3, 4]  # the system prompt, then the pinned pair


def test_sizes_are_counted_once_and_reported_for_the_ui(runner):
    chat = [ChatTurn(Role.SYSTEM, "You are terse."), *exchange(0)[:1]]
    result = ask(runner, chat)
    counted = {t.id: t.tokens for t in result.turn_tokens}
    assert set(counted) == {1} and counted[1] > 12
    # A size the UI kept is used as it is, not counted again.
    known = [chat[0], ChatTurn(Role.USER, chat[1].content, id=1, tokens=counted[1])]
    assert ask(runner, known).turn_tokens == []


def test_a_long_chat_in_the_window_sends_only_its_tail_and_marks_where_memory_starts(
    qtbot, hearth_home, smollm2_path, monkeypatch
):
    from app.core.paths import resolve_paths
    from app.storage.chats import ChatStore
    from app.storage.db import open_database
    from app.ui.application import build

    paths = resolve_paths(hearth_home).ensure()
    store = ChatStore(open_database(paths.database))
    chat = store.create_conversation(settings=GenerationSettings(max_tokens=16, context_length=512))
    for number in range(1000):
        store.add_message(chat.id, "user", f"Question {number}: " + " ".join(f"w{i}" for i in range(20)))
        store.add_message(chat.id, "assistant", f"Answer {number}: noted.")
    pinned = store.messages_by_ids(store.path_ids(chat.id)[:2])
    store.set_pinned(pinned[0].id, True)
    store.close()
    hearth = build(paths, model=str(smollm2_path), theme="light")
    qtbot.addWidget(hearth.window)
    try:
        qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=60_000)
        window = hearth.window
        window.show_conversation(chat.id)
        sent: list[list[ChatTurn]] = []
        generate = hearth.supervisor.generate
        monkeypatch.setattr(
            hearth.supervisor,
            "generate",
            lambda rid, turns, settings, *tools, **named: (
                sent.append(turns) or generate(rid, turns, settings, *tools, **named)
            ),
        )
        for question in ("And now?", "Once more?"):
            window.composer.set_text(question)
            window.composer.submit()
            qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
        first, second = sent
        # Two contexts' worth at most: a few dozen of the 2,000 messages, the pinned pair first.
        assert len(first) < 120 and [t.id for t in first[:2]] == [pinned[0].id, pinned[1].id]
        start = hearth.store.get_conversation(chat.id).memory_start_id
        assert start is not None and window.conversation.memory_start_id == start
        assert second[2].id == start  # the next turn starts where memory does
        assert len(second) < len(first)
        row = window.conversation.row_of(start)
        if row >= 0:
            layout = window.chat_view.layout_for(window.conversation.row_at(row))
            assert layout.divider is not None  # "the model's memory starts here"
        counted = hearth.store.messages_by_ids([second[-1].id])[0]
        assert counted.token_count and counted.token_count > 3  # the model's count is kept
    finally:
        hearth.shutdown()
