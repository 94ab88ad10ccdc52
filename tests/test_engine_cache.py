"""The KV cache is reused exactly: follow-ups evaluate only new tokens, and nothing stale
survives an edit, a regenerate or a switch of chats (Gemma 3 has sliding-window layers).

llama.cpp's numbers depend slightly on how a prompt is cut into batches (kernels tile a
27-token batch differently from a 34-token one), so two runs agree bit for bit only when they
evaluate the same batches. The reference run therefore evaluates the same reused prefix, from
an otherwise empty cache, then the rest: any stale entry in the reusing runner shows up as a
different answer at temperature 0.
"""

from __future__ import annotations

import pytest

from app.core.generation import GenerationSettings
from app.engine.prompt_cache import TextSegment
from app.engine.protocol import ChatTurn, Role, StopReason

GREEDY = GenerationSettings(temperature=0.0, max_tokens=24, context_length=2048)


@pytest.fixture(scope="module")
def runner_for():
    from app.engine.runner import ModelRunner

    made: list[ModelRunner] = []

    def make(path) -> ModelRunner:
        runner = ModelRunner()
        runner.load(str(path), 2048, 0, lambda _f: None)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.unload()


def answer(runner, messages):
    parts: list[str] = []
    result = runner.generate(messages, GREEDY, lambda: False, lambda text, _r: parts.append(text))
    return "".join(parts), result


def reference_answer(runner, messages, reused: int) -> str:
    """Answer from a cache that holds exactly the first ``reused`` prompt tokens and nothing else."""
    runner._model.forget_from(0)
    prompt = runner._fit_prompt(messages, GREEDY)
    prefix = prompt.segments[0].tokens[:reused]
    runner._model.decode(list(prefix), 0)
    runner._cached = [TextSegment(prefix)]
    text, result = answer(runner, messages)
    assert result.prompt_tokens - result.prompt_tokens_evaluated == reused
    return text


def conversation(*turns):
    roles = [Role.USER, Role.ASSISTANT]
    return [ChatTurn(roles[i % 2], text) for i, text in enumerate(turns)]


@pytest.mark.parametrize("model", ["gemma3_path", "smollm2_path"])
def test_a_follow_up_evaluates_only_new_tokens_and_answers_exactly(request, runner_for, model):
    path = request.getfixturevalue(model)
    cached, reference = runner_for(path), runner_for(path)
    history = conversation("Name three rivers in Europe.")
    first, result = answer(cached, history)
    assert result.prompt_tokens_evaluated == result.prompt_tokens
    # The cache now holds the prompt and the answer (all of it when the model ended it; without
    # the last token when it ran into max_tokens, as that one was sampled but never decoded).
    held = result.prompt_tokens + result.completion_tokens - (result.stop_reason is StopReason.LENGTH)
    history += [ChatTurn(Role.ASSISTANT, first), ChatTurn(Role.USER, "Which is the longest?")]
    second, result = answer(cached, history)
    # Only the new question (and the end of turn around it) is evaluated: the answer is reused.
    assert result.prompt_tokens - result.prompt_tokens_evaluated == held
    reused = result.prompt_tokens - result.prompt_tokens_evaluated
    assert second == reference_answer(reference, history, reused)


@pytest.mark.parametrize("model", ["gemma3_path", "smollm2_path"])
def test_edits_and_chat_switches_never_reuse_a_stale_cache(request, runner_for, model):
    path = request.getfixturevalue(model)
    cached, reference = runner_for(path), runner_for(path)
    chat_a = conversation("Tell me about cats.", "Cats are small carnivores.", "And their sleep?")
    chat_b = conversation("Tell me about dogs.", "Dogs are loyal companions.", "And their sleep?")
    edited_a = conversation("Tell me about owls.", "Cats are small carnivores.", "And their sleep?")
    answer(cached, chat_a)
    for messages in (chat_b, edited_a, chat_a):
        text, result = answer(cached, messages)
        reused = result.prompt_tokens - result.prompt_tokens_evaluated
        assert reused < result.prompt_tokens - 10  # the chats differ from their first words on
        assert text == reference_answer(reference, messages, reused), messages[0].content


def test_regenerating_evaluates_one_token_and_repeats_at_temperature_zero(runner_for, smollm2_path):
    runner = runner_for(smollm2_path)
    messages = conversation("Say something about the moon.")
    first, _ = answer(runner, messages)
    again, result = answer(runner, messages)
    assert result.prompt_tokens_evaluated == 1 and again == first


def test_a_gemma4_follow_up_keeps_the_first_prompt_cached(runner_for):
    from pathlib import Path

    # Gemma 4 prompts each answer with an empty thought channel; the next prompt must hold it too,
    # or every follow-up would re-evaluate the previous answer from its first token.
    runner = runner_for(Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf")
    history = conversation("Hello there.")
    first, result = answer(runner, history)
    first_prompt = result.prompt_tokens
    history += [ChatTurn(Role.ASSISTANT, first), ChatTurn(Role.USER, "And then?")]
    _second, result = answer(runner, history)
    assert result.prompt_tokens - result.prompt_tokens_evaluated >= first_prompt


def test_a_follow_up_after_an_answer_spelled_letter_by_letter_reads_only_the_new_turn(
    runner_for, smollm2_path
):
    runner = runner_for(smollm2_path)
    model = runner._model
    question = ChatTurn(Role.USER, "Say a greeting.")
    written = "Hello there, traveller."
    prompt = runner._fit_prompt([question], GREEDY).segments[0].tokens
    # The answer as a model may sample it: one token per letter, which the tokenizer never makes.
    letters = tuple(t for c in written for t in model.tokenize(c, add_bos=False))
    assert letters != tuple(model.tokenize(written, add_bos=False))
    model.forget_from(0)
    model.decode(list(prompt + letters), 0)
    runner._cached = [TextSegment(prompt), TextSegment(letters)]

    _text, result = answer(
        runner, [question, ChatTurn(Role.ASSISTANT, written), ChatTurn(Role.USER, "Again.")]
    )
    assert result.prompt_tokens - result.prompt_tokens_evaluated == len(prompt) + len(letters)
    assert result.prompt_tokens_evaluated < 15  # the end of the answer's turn, and the new one
