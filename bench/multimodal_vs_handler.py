"""The same multimodal chat through Hearth's worker and through llama-cpp-python's own
``Gemma4ChatHandler`` (which clears the cache and re-encodes every image on every turn).
With no arguments it uses the tiny Gemma 4 test fixture. Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from pathlib import Path

from _harness import start_worker_with_model, wait_for
from multiturn import FIXTURES, IMAGE_TURNS, make_images
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, MediaKind, MediaRef, Role


def handler_run(model: str, mmproj: str, images: list[Path], turns: int, tokens: int) -> float:
    import llama_cpp
    from llama_cpp.llama_chat_format import Gemma4ChatHandler

    threads = os.cpu_count() or 1
    llm = llama_cpp.Llama(
        model,
        n_ctx=4096,
        n_batch=1152,
        n_ubatch=1152,
        n_threads=threads,
        n_threads_batch=threads,
        chat_handler=Gemma4ChatHandler(clip_model_path=mmproj, verbose=False, use_gpu=False),
        verbose=False,
    )
    pictures = iter(images)
    messages: list[dict] = []
    started = time.perf_counter()
    for turn in range(1, turns + 1):
        content: list[dict] = [{"type": "text", "text": f"Turn {turn}: what do you notice now?"}]
        if turn in IMAGE_TURNS:
            data = base64.b64encode(next(pictures).read_bytes()).decode()
            content.insert(0, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})
        messages.append({"role": "user", "content": content})
        reply = llm.create_chat_completion(messages=messages, max_tokens=tokens, temperature=0.0)
        messages.append({"role": "assistant", "content": reply["choices"][0]["message"]["content"] or ""})
    return time.perf_counter() - started


def hearth_run(model: str, mmproj: str, images: list[Path], turns: int, tokens: int) -> float:
    supervisor = start_worker_with_model(model, 4096, mmproj)
    pictures = iter(images)
    messages: list[ChatTurn] = []
    started = time.perf_counter()
    for turn in range(1, turns + 1):
        attached = [MediaRef(MediaKind.IMAGE, str(next(pictures)))] if turn in IMAGE_TURNS else []
        messages.append(ChatTurn(Role.USER, f"Turn {turn}: what do you notice now?", attached))
        done: list = []
        text: list[str] = []
        supervisor.finished.connect(done.append)
        supervisor.delta.connect(lambda _rid, t, _r, text=text: text.append(t))
        supervisor.generate(f"turn-{turn}", messages, GenerationSettings(temperature=0.0, max_tokens=tokens))
        wait_for(lambda done=done: bool(done), timeout_s=600)
        supervisor.finished.disconnect()
        supervisor.delta.disconnect()
        messages.append(ChatTurn(Role.ASSISTANT, "".join(text)))
    elapsed = time.perf_counter() - started
    supervisor.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(FIXTURES / "tiny-gemma4.gguf"))
    parser.add_argument("--mmproj", default=str(FIXTURES / "tiny-gemma4-mmproj.gguf"))
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    _app = QApplication([])
    images = make_images(Path(tempfile.mkdtemp(prefix="hearth-handler-")))
    hearth_s = hearth_run(args.model, args.mmproj, images, args.turns, args.tokens)
    handler_s = handler_run(args.model, args.mmproj, images, args.turns, args.tokens)
    print(
        json.dumps(
            {
                "model": Path(args.model).name,
                "turns": args.turns,
                "hearth_total_s": round(hearth_s, 2),
                "handler_total_s": round(handler_s, 2),
                "speedup": round(handler_s / hearth_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
