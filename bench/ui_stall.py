"""How long the UI event loop stalls while a model loads and a 1,000-token answer streams into
the real chat window. A 1 ms timer records the gaps between its ticks.
Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import json
import tempfile

from _harness import LONG_PROMPT, LoopGaps, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.ui.application import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", type=int, default=1000)
    args = parser.parse_args()
    app = QApplication([])
    home = tempfile.mkdtemp(prefix="hearth-bench-")
    hearth = build(resolve_paths(home).ensure(), theme="light")
    window = hearth.window
    window.resize(1280, 800)
    wait_for(lambda: hearth.supervisor.worker_pid != 0)
    settings = GenerationSettings(max_tokens=args.tokens, temperature=1.0, context_length=4096)
    hearth.store.set_settings(window.current_id, settings)

    meter = LoopGaps()
    meter.start()
    window.load_model(args.model)
    wait_for(lambda: hearth.supervisor.loaded_model is not None)
    streamed = 0
    answers = 0
    while streamed < args.tokens:
        window.composer.set_text(LONG_PROMPT if answers == 0 else "Continue the story.")
        window.composer.submit()
        wait_for(lambda: window.controller.busy)
        wait_for(lambda: not window.controller.busy, timeout_s=600)
        last_message = hearth.store.messages(window.current_id)[-1]
        streamed += int(last_message.stats.get("completion_tokens", 0))
        answers += 1
    meter.stop()
    hearth.shutdown()
    gaps = meter.gaps
    ordered = sorted(gaps)
    p99 = ordered[int(len(ordered) * 0.99)]
    print(
        json.dumps(
            {
                "model": args.model.rsplit("/", 1)[-1],
                "tokens_streamed": streamed,
                "answers": answers,
                "ticks": len(gaps),
                "p50_ms": round(ordered[len(ordered) // 2], 2),
                "p99_ms": round(p99, 2),
                "max_ms": round(ordered[-1], 2),
            }
        )
    )
    app.quit()


if __name__ == "__main__":
    main()
