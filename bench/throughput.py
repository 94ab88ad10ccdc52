"""Decode speed through Hearth's worker and protocol, against raw llama-cpp-python.

Both sides run the same model, prompt (rendered by the model's own chat template), greedy
sampling, context, batch and thread count, alternating rounds. Speed is decode tokens per
second between the first and the last token, as seen by the caller.
With ``--busy-core``, the rounds are run again while another process keeps one core busy
(``busy_tok_s``: Hearth, which follows the load; ``busy_raw_tok_s``: raw llama-cpp-python on every
core). Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _harness import LONG_PROMPT, median, start_worker_with_model, timed_answer
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Role

CONTEXT = 2048


def raw_round(llm, prompt: str, max_tokens: int) -> tuple[int, float]:
    first = last = 0.0
    count = 0
    for _chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True):
        now = time.perf_counter()
        if count == 0:
            first = now
        last = now
        count += 1
    return count, (count - 1) / (last - first)


def app_round(supervisor, messages, max_tokens: int, index: int) -> tuple[int, float]:
    settings = GenerationSettings(temperature=0.0, max_tokens=max_tokens, context_length=CONTEXT)
    answer = timed_answer(supervisor, f"bench-{index}", messages, settings)
    count = answer.done.completion_tokens
    return count, (count - 1) / (answer.finished - answer.first_delta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-core", action="store_true", help="also measure with one core kept busy")
    parser.add_argument(
        "--mmproj",
        default="",
        help="also time a 10-turn chat with 3 images through Hearth and through Gemma4ChatHandler",
    )
    args = parser.parse_args()

    _app = QApplication([])
    import llama_cpp

    from app.engine.chat_template import ChatFormatter, pick_template
    from app.gguf.reader import read_gguf_info

    messages = [ChatTurn(Role.USER, LONG_PROMPT)]
    info = read_gguf_info(args.model)
    threads = os.cpu_count() or 1
    llm = llama_cpp.Llama(
        args.model, n_ctx=CONTEXT, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    model = llm._model
    formatter = ChatFormatter(
        pick_template(info.chat_template, info.architecture),
        model.token_get_text(model.token_bos()),
        model.token_get_text(model.token_eos()),
    )
    prompt = formatter.render([{"role": "user", "content": LONG_PROMPT}])
    if formatter.bos and prompt.startswith(formatter.bos):
        prompt = prompt[len(formatter.bos) :]

    supervisor = start_worker_with_model(args.model, CONTEXT)
    raw, app, counts = [], [], []
    for index in range(args.rounds):
        llm.reset()  # speeds are timed from the first token on, so prompt caching does not count
        raw_count, raw_speed = raw_round(llm, prompt, args.tokens)
        app_count, app_speed = app_round(supervisor, messages, args.tokens, index)
        raw.append(raw_speed)
        app.append(app_speed)
        counts.append((raw_count, app_count))
    busy: dict[str, float] = {}
    if args.busy_core:
        from threads import one_core_busy

        busy_raw, busy_app = [], []
        with one_core_busy(True):
            for index in range(args.rounds):
                llm.reset()
                busy_raw.append(raw_round(llm, prompt, args.tokens)[1])
                busy_app.append(app_round(supervisor, messages, args.tokens, 100 + index)[1])
        busy = {"busy_tok_s": round(median(busy_app), 2), "busy_raw_tok_s": round(median(busy_raw), 2)}
    supervisor.stop()
    raw_tok_s, app_tok_s = median(raw), median(app)
    multimodal = {}
    if args.mmproj:
        import tempfile
        from pathlib import Path

        from multimodal_vs_handler import handler_run, hearth_run
        from multiturn import make_images

        images = make_images(Path(tempfile.mkdtemp(prefix="hearth-throughput-")))
        multimodal = {
            "hearth_total_s": round(hearth_run(args.model, args.mmproj, images, 10, 16), 2),
            "handler_total_s": round(handler_run(args.model, args.mmproj, images, 10, 16), 2),
        }
    print(
        json.dumps(
            {
                "model": os.path.basename(args.model),
                "tokens": counts,
                "raw_tok_s_rounds": [round(v, 2) for v in raw],
                "app_tok_s_rounds": [round(v, 2) for v in app],
                "raw_tok_s": round(raw_tok_s, 2),
                "app_tok_s": round(app_tok_s, 2),
                "ratio": round(app_tok_s / raw_tok_s, 3),
                # The stock path is llama-cpp-python's own Llama.create_completion stream.
                "vs_stock_ratio": round(app_tok_s / raw_tok_s, 3),
                **busy,
                **multimodal,
            }
        )
    )


if __name__ == "__main__":
    main()
