"""Speculative decoding: decode speed with a drafter and without, from one worker, and whether
the greedy answers are the same token for token. Prints one JSON object as its last line, with
``plain_tok_s``, ``spec_tok_s``, ``accepted_per_step`` and ``identical_greedy_output``.

A model drafting for itself (``--draft`` the same file) guesses nearly every token right, so the
ratio shows what checking guesses costs, not a speed-up: a real speed-up needs a drafter much
cheaper than the model (an MTP assistant, or E2B for 31B). With ``--llama-server``, llama.cpp's
own server answers the same question with the same draft (``--spec-type draft-mtp`` for a Gemma 4
assistant, a classic draft otherwise) and without, on the same threads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _harness import LONG_PROMPT, llama_server, median, server_timings, start_worker_with_model, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Done, Role
from app.engine.speculative import DRAFT_MAX, MTP_ARCHITECTURE
from app.gguf.reader import read_gguf_info
from app.ui.supervisor import WorkerSupervisor

CONTEXT = 2048


def hearth_answer(
    supervisor: WorkerSupervisor, request_id: str, tokens: int, speculative: bool
) -> tuple[Done, str]:
    done: list[Done] = []
    pieces: list[str] = []

    def on_delta(rid: str, text: str, _reasoning: str) -> None:
        if rid == request_id:
            pieces.append(text)

    def on_done(message: Done) -> None:
        if message.request_id == request_id:
            done.append(message)

    supervisor.delta.connect(on_delta)
    supervisor.finished.connect(on_done)
    settings = GenerationSettings(
        temperature=0.0, max_tokens=tokens, context_length=CONTEXT, speculative=speculative
    )
    supervisor.generate(request_id, [ChatTurn(Role.USER, LONG_PROMPT)], settings)
    wait_for(lambda: bool(done))
    supervisor.delta.disconnect(on_delta)
    supervisor.finished.disconnect(on_done)
    return done[0], "".join(pieces)


def server_answer(url: str, tokens: int) -> tuple[float, float]:
    """(tokens per second, share of guesses kept) from llama-server's own timings (it does not
    count steps)."""
    timings = server_timings(url, tokens)
    drafted, accepted = timings.get("draft_n", 0), timings.get("draft_n_accepted", 0)
    return float(timings["predicted_per_second"]), accepted / drafted if drafted else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--draft", required=True, help="an MTP assistant, or a model of the same vocabulary")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llama-server", help="llama.cpp's llama-server binary, to compare with")
    args = parser.parse_args()

    _app = QApplication([])
    supervisor = start_worker_with_model(args.model, CONTEXT, "", threads=args.threads, draft=args.draft)
    loaded = supervisor.loaded_model
    assert loaded is not None
    if not loaded.drafter:
        raise SystemExit(f"the draft was refused: {loaded.draft_problem}")
    plain, drafted, accepted, kept_share, texts = [], [], [], [], set()
    try:
        for index in range(args.rounds):  # alternating, so the machine's drift touches both alike
            done, text = hearth_answer(supervisor, f"plain-{index}", args.tokens, speculative=False)
            plain.append(done.tokens_per_s)
            texts.add(text)
            done, text = hearth_answer(supervisor, f"spec-{index}", args.tokens, speculative=True)
            drafted.append(done.tokens_per_s)
            accepted.append(done.draft_accepted / done.draft_steps if done.draft_steps else 0.0)
            kept_share.append(done.draft_accepted / done.draft_guesses if done.draft_guesses else 0.0)
            texts.add(text)
    finally:
        supervisor.stop()
    row: dict[str, object] = {
        "model": Path(args.model).name,
        "draft": Path(args.draft).name,
        "drafter": loaded.drafter,
        "tokens": args.tokens,
        "threads": args.threads,
        "plain_tok_s": round(median(plain), 2),
        "spec_tok_s": round(median(drafted), 2),
        "spec_over_plain": round(median(drafted) / median(plain), 3),
        "accepted_per_step": round(median(accepted), 2),
        "guesses_kept": round(median(kept_share), 3),
        "draft_max": DRAFT_MAX,
        "identical_greedy_output": len(texts) == 1,
    }
    if args.llama_server:
        mtp = read_gguf_info(args.draft).architecture == MTP_ARCHITECTURE
        kind = "draft-mtp" if mtp else "draft-simple"
        draft_args = ("-md", args.draft, "--spec-type", kind, "--spec-draft-n-max", str(DRAFT_MAX))
        server_plain, server_spec, server_accepted = [], [], []
        with llama_server(args.llama_server, Path(args.model), args.threads, CONTEXT) as url:
            server_plain = [server_answer(url, args.tokens)[0] for _ in range(args.rounds)]
        with llama_server(args.llama_server, Path(args.model), args.threads, CONTEXT, *draft_args) as url:
            for _ in range(args.rounds):
                speed, per_step = server_answer(url, args.tokens)
                server_spec.append(speed)
                server_accepted.append(per_step)
        row |= {
            "llama_server_spec_type": kind,
            "llama_server_plain_tok_s": round(median(server_plain), 2),
            "llama_server_spec_tok_s": round(median(server_spec), 2),
            "llama_server_guesses_kept": round(median(server_accepted), 3),
            "spec_vs_llama_server_spec": round(median(drafted) / median(server_spec), 3),
        }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
