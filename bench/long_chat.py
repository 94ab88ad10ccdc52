"""Long chats in the real window: chats of 1,000 and 5,000 messages (code blocks, long answers,
some pictures) in a temporary home, opened, scrolled, searched, streamed into and followed up in,
with a real model in the real worker. Prints one JSON object as its last line.

- open_ms: from asking for a chat to the first paint of its messages.
- ui_rss_mb: the UI process's resident memory after opening the 5,000-message chat.
- scroll_p99_frame_ms: the time to scroll one step and paint, from the first message to the last.
- stream_p99_ms / stream_max_ms: UI event-loop gaps (a 1 ms timer) while a 2,000-token answer with
  code blocks streams into the 5,000-message chat. A 135M test model seldom writes code on request,
  so the answer is a fixed one (prose and ten code blocks) fed to the window the way the worker's
  deltas arrive (every 40 ms, at the model's measured speed); stream_model_* are the same gaps
  while the real model streams a long answer of its own through the real worker.
- search_ms: median time of a full-text search over every message.
- followup_ttft_ratio: time to first token of a follow-up in the 5,000-message chat over the same
  in a 10-message chat, each measured on the turn after a first one (the engine's cache warm).
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
import zlib
from pathlib import Path

from _harness import LONG_PROMPT, LoopGaps, median, wait_for
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.storage.attachment_files import AttachmentFiles
from app.storage.chats import ChatStore
from app.storage.db import open_database
from app.ui.application import build

CODE_ANSWER = """Here is one way to do it, step {n}:

```python
def step_{n}(values: list[int]) -> int:
    total = 0
    for value in values:
        if value % {m} == 0:
            total += value * {n}
    return total
```

The loop keeps memory flat, and the modulo test skips what is not needed. For larger inputs,
consider a generator expression such as `sum(v * {n} for v in values if v % {m} == 0)`, which reads
the same and avoids the temporary variable. Each call is independent, so it also parallelises well.
"""
LONG_ANSWER = (
    "Lighthouses were once kept by families who lived beside them all year round. {n} " * 12
    + "\n\n## What changed\n\n"
    + "Automation arrived, and with it a quieter coast, though the lamps still turn every night. " * 8
)
FOLLOW_UP = "And in one more sentence?"
REPLAY_SECTION = """### Step {n}

This function keeps a running total and skips what it does not need, so memory stays flat even
for very long inputs; the check on line three is what makes it safe to call on empty lists.

```python
def step_{n}(values: list[int]) -> int:
    total = 0
    for index, value in enumerate(values):
        if value % {m} == 0 and index % 2 == 0:
            total += value * {n}
        elif value < 0:
            total -= value
    return total
```

"""
REPLAY_FLUSH_S = 0.04  # the worker coalesces tokens this long before sending them
SEARCH_WORDS = ["modulo", "lighthouses automation", "generator", "step_2218", "quieter coast"]


def png(width: int, height: int, shade: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes([shade, 120, 200 - shade // 2]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_chat(store: ChatStore, files: AttachmentFiles, count: int, context: int) -> int:
    chat = store.create_conversation(settings=GenerationSettings(context_length=context, max_tokens=64))
    for number in range(count // 2):
        attachments = []
        if number % 50 == 7:
            attachments = [
                files.import_bytes(png(96, 64, number % 200), "image", f"photo {number}.png", ".png")
            ]
        store.add_message(
            chat.id, "user", f"Question {number}: how would you do step {number}?", attachments=attachments
        )
        template = CODE_ANSWER if number % 3 else LONG_ANSWER
        store.add_message(chat.id, "assistant", template.format(n=number, m=number % 7 + 2))
    return chat.id


class PaintWatch(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.painted_at = 0.0
        self.paints = 0

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
            self.painted_at = self.painted_at or time.perf_counter()
        return False


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_chat(hearth, chat_id: int) -> float:
    view = hearth.window.chat_view
    watch = PaintWatch()
    view.viewport().installEventFilter(watch)
    started = time.perf_counter()
    hearth.window.show_conversation(chat_id)
    wait_for(lambda: watch.painted_at and view.model().rowCount() > 0)
    view.viewport().removeEventFilter(watch)
    return (watch.painted_at - started) * 1000


def scroll_through(hearth, step_px: int) -> tuple[list[float], int]:
    """Scroll from the first message to the last, a step per frame; returns each frame's time (the
    scroll, any page read, and the paint) and how many paints there were."""
    view = hearth.window.chat_view
    view.setFocus()
    view._jump_to_start()
    QApplication.processEvents()
    bar = view.verticalScrollBar()
    frames: list[float] = []
    model = view.model()
    watch = PaintWatch()
    view.viewport().installEventFilter(watch)
    while True:
        started = time.perf_counter()
        bar.setValue(bar.value() + step_px)
        QApplication.processEvents()  # the scroll, pages read near the ends, and the paint
        frames.append((time.perf_counter() - started) * 1000)
        if bar.value() >= bar.maximum() and not model.can_load_newer():
            view.viewport().removeEventFilter(watch)
            return frames, watch.paints


def ask(hearth, text: str) -> dict:
    done: list = []
    hearth.supervisor.finished.connect(done.append)
    hearth.window.composer.set_text(text)
    hearth.window.composer.submit()
    wait_for(lambda: done, timeout_s=900)
    hearth.supervisor.finished.disconnect(done.append)
    return {
        "ttft_ms": done[0].ttft_ms,
        "evaluated": done[0].prompt_tokens_evaluated,
        "tokens": done[0].completion_tokens,
    }


def followup_ttft(hearth, chat_id: int) -> dict:
    hearth.window.show_conversation(chat_id)
    first = ask(hearth, "Briefly, what did we discuss?")
    second = ask(hearth, FOLLOW_UP)
    return {"first": first, "followup": second}


def stream_gaps(hearth, chat_id: int, tokens: int) -> tuple[list[float], dict]:
    """UI gaps while the real model writes ``tokens`` tokens into the chat, over as many answers as
    it takes (a small model ends a story early; "Continue" asks for more)."""
    hearth.window.show_conversation(chat_id)
    context = hearth.store.get_conversation(chat_id).settings.context_length
    hearth.store.set_settings(chat_id, GenerationSettings(context_length=context, max_tokens=tokens))
    meter = LoopGaps()
    done: list = []
    hearth.supervisor.finished.connect(done.append)
    written = answers = 0
    while written < tokens:
        hearth.window.composer.set_text(LONG_PROMPT if not answers else "Continue the story.")
        hearth.window.composer.submit()
        meter.start()
        wait_for(lambda count=answers: len(done) > count, timeout_s=900)
        meter.stop()
        written += done[-1].completion_tokens
        answers += 1
    rates = [d.tokens_per_s for d in done if d.tokens_per_s]
    tok_s = round(median(rates), 1) if rates else 0.0
    return meter.gaps, {"tokens": written, "answers": answers, "tok_s": tok_s}


def replay_gaps(hearth, chat_id: int, tokens_per_s: float) -> tuple[list[float], dict]:
    """Stream a fixed 2,000-token answer with code blocks into the window through the same path the
    worker's deltas take (``answer_streamed``), a chunk every 40 ms at ``tokens_per_s``."""
    from app.storage.chats import MessageStatus

    window = hearth.window
    window.show_conversation(chat_id)
    answer = "".join(REPLAY_SECTION.format(n=n, m=n % 5 + 2) for n in range(1, 11))
    answer = (answer * 3)[: 2000 * 4]  # about 2,000 tokens at four characters each
    placeholder = hearth.store.add_message(chat_id, "assistant", "", status=MessageStatus.STREAMING)
    window.conversation.append(placeholder)
    chunk = max(4, int(tokens_per_s * REPLAY_FLUSH_S * 4))
    meter = LoopGaps()
    meter.start()
    shown = 0
    next_at = time.perf_counter()
    while shown < len(answer):
        wait_for(lambda due=next_at: time.perf_counter() >= due)
        shown = min(len(answer), shown + chunk)
        window.controller.answer_streamed.emit(chat_id, placeholder.id, answer[:shown], "")
        next_at += REPLAY_FLUSH_S
    window.chat_view.flush()
    QApplication.processEvents()
    meter.stop()
    return meter.gaps, {"characters": len(answer), "code_blocks": answer.count("```python")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="a GGUF chat model; without one, only the window is measured")
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--stream-tokens", type=int, default=2000)
    parser.add_argument("--scroll-step", type=int, default=120, help="pixels per scroll step (a wheel notch)")
    args = parser.parse_args()
    app = QApplication([])
    home = tempfile.mkdtemp(prefix="hearth-long-chat-")
    paths = resolve_paths(home).ensure()
    store = ChatStore(open_database(paths.database))
    files = AttachmentFiles(paths.attachments)
    built = time.perf_counter()
    chats = {count: make_chat(store, files, count, args.context) for count in (10, 1000, 5000)}
    build_s = time.perf_counter() - built
    store.close()
    if args.model:  # a model on disk: no first-run welcome opens in the middle of the measurements
        (paths.models / Path(args.model).name).symlink_to(Path(args.model).resolve())

    hearth = build(paths, theme="light")
    hearth.window.resize(1280, 800)
    hearth.window.show()
    wait_for(lambda: hearth.supervisor.worker_pid != 0)
    settle = time.perf_counter() + 2.0  # the first-run check and its window, if any, come and go
    wait_for(lambda: time.perf_counter() > settle)
    if hearth.models.window is not None:
        hearth.models.window.hide()
    QApplication.processEvents()
    result: dict = {
        "model": Path(args.model).name if args.model else "",
        "context": args.context,
        "build_chats_s": round(build_s, 1),
    }
    result["open_ms"] = {str(count): round(open_chat(hearth, chats[count]), 1) for count in (1000, 5000)}
    result["open_ms_again"] = {
        str(count): round(open_chat(hearth, chats[count]), 1) for count in (1000, 5000)
    }
    result["ui_rss_mb"] = round(resident_mb(), 1)
    frames, paints = scroll_through(hearth, args.scroll_step)
    frames.sort()
    result["scroll_frames"] = len(frames)
    result["scroll_paints"] = paints
    result["scroll_p99_frame_ms"] = round(frames[int(len(frames) * 0.99)], 2)
    result["scroll_max_frame_ms"] = round(frames[-1], 2)
    result["ui_rss_mb_after_scroll"] = round(resident_mb(), 1)
    timings = []
    for words in SEARCH_WORDS * 3:
        started = time.perf_counter()
        hits = hearth.store.search(words)
        timings.append((time.perf_counter() - started) * 1000)
        assert hits, words
    result["search_ms"] = round(median(timings), 2)
    result["search_max_ms"] = round(max(timings), 2)

    if not args.model:
        hearth.shutdown()
        print(json.dumps(result))
        return
    hearth.window.load_model(args.model)
    wait_for(lambda: hearth.supervisor.loaded_model is not None, timeout_s=300)
    short = followup_ttft(hearth, chats[10])
    long = followup_ttft(hearth, chats[5000])
    result["followup_short"] = short
    result["followup_long"] = long
    result["followup_ttft_ratio"] = round(
        long["followup"]["ttft_ms"] / max(short["followup"]["ttft_ms"], 1e-3), 2
    )
    gaps, streamed = stream_gaps(hearth, chats[5000], args.stream_tokens)
    ordered = sorted(gaps)
    result["stream_model"] = {**streamed, "ticks": len(gaps)}
    result["stream_model_p99_ms"] = round(ordered[int(len(ordered) * 0.99)], 2)
    result["stream_model_max_ms"] = round(ordered[-1], 2)
    gaps, replayed = replay_gaps(hearth, chats[5000], streamed["tok_s"] or 60.0)
    ordered = sorted(gaps)
    result["stream"] = {**replayed, "ticks": len(gaps)}
    result["stream_p99_ms"] = round(ordered[int(len(ordered) * 0.99)], 2)
    result["stream_max_ms"] = round(ordered[-1], 2)
    result["ui_rss_mb_end"] = round(resident_mb(), 1)
    hearth.shutdown()
    print(json.dumps(result))
    app.quit()


if __name__ == "__main__":
    main()
