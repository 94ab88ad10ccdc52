"""How fast Stop ends an answer: from the cancel request to the worker's final message at
the UI side, over several answers stopped at random moments.
Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import json
import random
import time

from _harness import LONG_PROMPT, median, start_worker_with_model, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, Role, StopReason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    _app = QApplication([])
    supervisor = start_worker_with_model(args.model)
    rng = random.Random(4)
    timings = []
    messages = [ChatTurn(Role.USER, LONG_PROMPT)]
    for trial in range(args.trials):
        request_id = f"cancel-{trial}"
        deltas: list[str] = []
        done: list[object] = []
        supervisor.delta.connect(lambda rid, text, _r, deltas=deltas: deltas.append(text))
        supervisor.finished.connect(done.append)
        supervisor.generate(request_id, messages, GenerationSettings(max_tokens=4000, temperature=1.0))
        wait_for(lambda deltas=deltas: deltas)
        stop_after = time.monotonic() + rng.uniform(0.05, 0.8)
        wait_for(lambda stop_after=stop_after, done=done: time.monotonic() >= stop_after or bool(done))
        if done:
            continue  # the answer ended on its own first; not a cancel
        started = time.perf_counter()
        supervisor.cancel(request_id)
        wait_for(lambda done=done: done)
        timings.append((time.perf_counter() - started) * 1000)
        assert done[0].stop_reason is StopReason.CANCELLED, done[0]
        supervisor.delta.disconnect()
        supervisor.finished.disconnect()
    supervisor.stop()
    print(
        json.dumps(
            {
                "trials": len(timings),
                "cancel_ms": [round(t, 1) for t in timings],
                "cancel_ms_p50": round(median(timings), 1),
                "cancel_ms_max": round(max(timings), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
