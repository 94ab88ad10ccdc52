"""A conversation that outgrows the context: Hearth's cut against llama.cpp's context shift.

The same model, questions and greedy answers in one process, turn after turn, far past the
context's length:

- ``cut``: Hearth's runner. When the chat no longer fits, the oldest exchanges are left out until
  what is kept fills half the room, and what remains of the cache is moved down over them (the
  following turns reuse it too) (``app/engine/context_window.py``, ``plan_moves``).
- ``cut_reread``: the same cut, with the kept exchanges read again instead of moved: what Hearth
  does when a model's cache cannot be shifted, and what it always did before.
- ``shift``: llama.cpp's context shift, as its interactive command line does it (llama-server
  shifts only within one answer, and refuses a resent chat longer than its context): when the
  cache is full, the older half of it after the system prompt is removed and the rest moved down,
  wherever that falls (mid-message), so only each new question is ever read. Measured only where
  the chat template renders a conversation as a text that grows turn by turn (SmolLM2's does).

For each: the prompt tokens read per turn and the time to the first token (median, 95th
percentile, max, sum), and whether the model allows shifting at all. Prints one JSON object as
its last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.generation import GenerationSettings
from app.engine.chat_template import ChatFormatter, pick_template
from app.engine.model_check import preflight
from app.engine.native_model import NativeModel
from app.engine.protocol import ChatTurn, Role
from app.engine.runner import ModelRunner

SYSTEM = "You are a patient assistant. Answer in a few plain sentences."
TOPICS = ["lighthouses", "tides", "bread", "bees", "glaciers", "violins", "comets", "moss", "kites", "salt"]
CONTEXT = 2048
ANSWER_TOKENS = 64


def question(turn: int) -> str:
    topic = TOPICS[turn % len(TOPICS)]
    return (
        f"Question {turn}: tell me something surprising about {topic}, how people first learned it, "
        f"and why it still matters today. Keep it short, but do not repeat what you said about "
        f"{topic} before, and mention one number."
    )


def cut_run(model_path: str, turns: int, threads: int, move: bool) -> tuple[list[tuple[int, float]], bool]:
    """Hearth's runner, sent what the app sends: the turns from the start of the model's memory.
    Also says whether the model's cache can be shifted at all."""
    runner = ModelRunner()
    runner.load(model_path, CONTEXT, threads, lambda _progress: None)
    assert runner._model is not None
    can_shift = runner._model.can_shift
    if not move:
        runner._model.can_shift = False  # as for a model whose cache cannot be shifted
    settings = GenerationSettings(temperature=0.0, max_tokens=ANSWER_TOKENS, context_length=CONTEXT)
    chat = [ChatTurn(Role.SYSTEM, SYSTEM)]
    sizes: dict[int, int] = {}
    memory_start = 0
    figures = []
    pieces: list[str] = []  # the answer, as it streams
    for turn in range(turns):
        chat.append(ChatTurn(Role.USER, question(turn), id=2 * turn + 1))
        start = next((i for i, t in enumerate(chat) if memory_start and t.id == memory_start), 1)
        sent = [chat[0], *(_sized(t, sizes) for t in chat[start:])]
        pieces.clear()
        result = runner.generate(sent, settings, lambda: False, lambda text, _reasoning: pieces.append(text))
        sizes.update({counted.id: counted.tokens for counted in result.turn_tokens})
        memory_start = result.memory_start_id or memory_start
        chat.append(ChatTurn(Role.ASSISTANT, "".join(pieces), id=2 * turn + 2))
        figures.append((result.prompt_tokens_evaluated, result.ttft_ms))
    runner.unload()
    return figures, can_shift


def _sized(turn: ChatTurn, sizes: dict[int, int]) -> ChatTurn:
    return ChatTurn(turn.role, turn.content, id=turn.id, tokens=sizes.get(turn.id, 0))


class NotMeasured(Exception):
    """The model or its template does not allow this way."""


def shift_run(model_path: str, turns: int, threads: int) -> list[tuple[int, float]]:
    """llama.cpp's context shift on the same model: the cache is never read again from text."""
    from llama_cpp import llama_cpp as lib

    info = preflight(model_path, CONTEXT)
    model = NativeModel(lib, model_path, CONTEXT, threads, lambda _progress: None)
    settings = GenerationSettings(temperature=0.0, max_tokens=ANSWER_TOKENS, context_length=CONTEXT)
    chain = model.sampler(settings, 0)
    batch = model.single_token_batch()
    try:
        if not model.can_shift:
            raise NotMeasured("this model's cache cannot be shifted")
        formatter = ChatFormatter(
            pick_template(info.chat_template, info.architecture), model.bos_text, model.eos_text
        )
        return _shifting_chat(lib, model, formatter, chain, batch, turns)
    finally:
        model.free_batch(batch)
        model.free_sampler(chain)
        model.close()


def _shifting_chat(lib, model, formatter, chain, batch, turns: int) -> list[tuple[int, float]]:
    messages = [{"role": "system", "content": SYSTEM}]
    keep = len(model.tokenize(formatter.render(messages), add_bos=True))
    read_so_far = ""  # the rendered text the cache holds, answers included
    n_past = 0
    figures = []
    for turn in range(turns):
        messages.append({"role": "user", "content": question(turn)})
        rendered = formatter.render(messages)
        if not rendered.startswith(read_so_far):
            raise NotMeasured("the chat template does not render a conversation as a growing text")
        new_text = rendered[len(read_so_far) :]
        if not read_so_far and formatter.bos and new_text.startswith(formatter.bos):
            new_text = new_text[len(formatter.bos) :]
        tokens = model.tokenize(new_text, add_bos=not read_so_far)
        started = time.perf_counter()
        reserve = min(ANSWER_TOKENS, model.n_ctx // 4)
        if n_past + len(tokens) + reserve > model.n_ctx:
            discard = (n_past - keep) // 2  # llama.cpp's default: half of what is not kept
            lib.llama_memory_seq_rm(model.memory, 0, keep, keep + discard)
            lib.llama_memory_seq_add(model.memory, 0, keep + discard, n_past, -discard)
            n_past -= discard
        model.decode(tokens, n_past)
        n_past += len(tokens)
        token = model.sample(chain)
        figures.append((len(tokens), (time.perf_counter() - started) * 1000))
        answer: list[int] = []
        while not model.is_end_of_generation(token) and len(answer) < ANSWER_TOKENS:
            answer.append(token)
            model.decode_one(token, n_past, batch)
            n_past += 1
            token = model.sample(chain)
        text = b"".join(model.piece(t) for t in answer).decode("utf-8", errors="replace")
        messages.append({"role": "assistant", "content": text})
        # What the cache holds: the prompt so far and the answer's tokens (the end-of-turn token
        # that stopped it was sampled, not read, so the next turn's text starts with it).
        read_so_far = rendered + text
    return figures


def summary(figures: list[tuple[int, float]]) -> dict:
    read = [tokens for tokens, _ms in figures]
    ttft = sorted(ms for _tokens, ms in figures)
    return {
        "tokens_read_per_turn": read,
        "tokens_read_total": sum(read),
        "ttft_median_ms": round(statistics.median(ttft), 1),
        "ttft_p95_ms": round(ttft[int(0.95 * (len(ttft) - 1))], 1),
        "ttft_max_ms": round(ttft[-1], 1),
        "ttft_total_ms": round(sum(ttft)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    cut, can_shift = cut_run(args.model, args.turns, args.threads, move=True)
    cut_reread, _ = cut_run(args.model, args.turns, args.threads, move=False)
    try:
        shifted: dict | str = summary(shift_run(args.model, args.turns, args.threads))
    except NotMeasured as reason:
        shifted = f"not measured: {reason}"
    result = {
        "model": Path(args.model).name,
        "context": CONTEXT,
        "turns": args.turns,
        "can_shift": can_shift,
        "cut": summary(cut),
        "cut_reread": summary(cut_reread),
        "shift": shifted,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
