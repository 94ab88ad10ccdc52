"""Decode speed through Hearth's remote engine, against the same server asked directly.

One OpenAI-compatible server (llama-cpp-python's own, ``python -m llama_cpp.server``) serves the
model on 127.0.0.1. Each round asks it the same question twice, alternating: once directly (a
streamed /v1/chat/completions read by this script) and once through Hearth (the UI's supervisor,
the worker's remote engine, the protocol back). Speed is tokens per second between the first and
the last token, as the caller sees them. Prints one JSON object as its last line.

The server runs on one thread by default, so that the caller's side (this script, or Hearth's two
processes) has a core of its own: on a two-core machine a llama.cpp on both threads slows down
whenever anything else runs, and the benchmark would measure that, not the remote engine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
import urllib.parse
from pathlib import Path

from _harness import LONG_PROMPT, median, timed_answer, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.ui.supervisor import WorkerSupervisor
from tests.remote_server import RemoteServer


def direct_round(url: str, model: str, max_tokens: int) -> tuple[int, float]:
    """Stream one answer straight from the server: (chunks of text, tokens per second)."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=300)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
    }
    connection.request(
        "POST", address.path + "/chat/completions", json.dumps(body), {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    first = last = 0.0
    count = 0
    for raw in response:
        line = raw.strip()
        if not line.startswith(b"data:") or line == b"data: [DONE]":
            continue
        choices = json.loads(line[5:]).get("choices") or [{}]
        if not (choices[0].get("delta") or {}).get("content"):
            continue
        now = time.perf_counter()
        first = first or now
        last, count = now, count + 1
    connection.close()
    return count, (count - 1) / (last - first) if count > 1 else 0.0


def hearth_round(supervisor: WorkerSupervisor, max_tokens: int, index: int) -> tuple[int, float]:
    settings = GenerationSettings(temperature=0.0, max_tokens=max_tokens, context_length=2048)
    messages = [p.ChatTurn(p.Role.USER, LONG_PROMPT)]
    answer = timed_answer(supervisor, f"bench-{index}", messages, settings)
    count = answer.done.completion_tokens
    return count, (count - 1) / (answer.last_delta - answer.first_delta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="a GGUF file for the server to serve")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-threads", type=int, default=1)
    args = parser.parse_args()

    _app = QApplication([])
    server = RemoteServer(Path(args.model), threads=args.server_threads)
    supervisor = WorkerSupervisor()
    try:
        loaded: list[object] = []
        failed: list[str] = []
        supervisor.model_loaded.connect(loaded.append)
        supervisor.load_failed.connect(lambda _code, message: failed.append(message))
        remote = p.RemoteServer(server.url, server.model, "")
        supervisor.load_model("remote+bench", 2048, "", "the server's model", remote=remote)
        wait_for(lambda: loaded or failed)
        if failed:
            raise SystemExit(f"Hearth could not use the server: {failed[0]}")
        direct_round(server.url, server.model, 8)  # the server's first answer warms it up
        direct, through, counts = [], [], []
        for index in range(args.rounds):
            direct_count, direct_speed = direct_round(server.url, server.model, args.tokens)
            hearth_count, hearth_speed = hearth_round(supervisor, args.tokens, index)
            direct.append(direct_speed)
            through.append(hearth_speed)
            counts.append((direct_count, hearth_count))
    finally:
        supervisor.stop()
        server.stop()
    direct_tok_s, hearth_tok_s = median(direct), median(through)
    print(f"rounds (direct, through Hearth) tokens: {counts}")
    print(
        json.dumps(
            {
                "model": Path(args.model).name,
                "tokens": args.tokens,
                "rounds": args.rounds,
                "server_threads": args.server_threads,
                "direct_tok_s": round(direct_tok_s, 2),
                "hearth_tok_s": round(hearth_tok_s, 2),
                "ratio": round(hearth_tok_s / direct_tok_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
