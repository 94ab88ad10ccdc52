"""Shared helpers for the benchmarks: a Qt event loop around a real worker supervisor."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, Qt, QTimer

from app.ui.supervisor import WorkerState, WorkerSupervisor

LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm. Use many paragraphs."


def wait_for(predicate, timeout_s: float = 120.0) -> None:
    """Spin the Qt event loop until ``predicate()`` is true."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        QTimer.singleShot(5, loop.quit)
        loop.exec()


class LoopGaps:
    """The gaps between the ticks of a 1 ms timer on the UI thread, in ms: how long the event
    loop was kept from running while the timer ran."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer(timerType=Qt.TimerType.PreciseTimer, interval=1)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def start_worker_with_model(
    model: str, context_length: int = 2048, projector: str = "auto", threads: int = 0, draft: str = ""
) -> WorkerSupervisor:
    supervisor = WorkerSupervisor()
    loaded: list[object] = []
    failures: list[str] = []
    supervisor.model_loaded.connect(loaded.append)
    supervisor.load_failed.connect(lambda _code, message: failures.append(message))
    supervisor.load_model(model, context_length, projector, threads=threads, draft_path=draft)
    wait_for(lambda: loaded or failures)
    if failures:
        raise SystemExit(f"could not load {model}: {failures[0]}")
    assert supervisor.state is WorkerState.IDLE
    return supervisor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(binary: str, model: Path, threads: int, context: int, *extra: str) -> Iterator[str]:
    """llama.cpp's own llama-server on 127.0.0.1, one slot; yields its address."""
    port = free_port()
    server = subprocess.Popen(
        [
            *(binary, "-m", str(model), "-t", str(threads), "-tb", str(threads), "-c", str(context)),
            *("--host", "127.0.0.1", "--port", str(port), "-np", "1"),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("llama-server did not start")
        time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(10)


def server_timings(url: str, max_tokens: int) -> dict[str, Any]:
    """llama-server's own ``timings`` for one greedy answer to ``LONG_PROMPT``, read afresh."""
    body = {
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "cache_prompt": False,
    }
    request = urllib.request.Request(
        f"{url}/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as reply:
        return dict(json.load(reply)["timings"])


@dataclass
class TimedAnswer:
    """One answer through the supervisor, with when its pieces reached the caller."""

    done: Any
    first_delta: float
    last_delta: float  # the last piece that held text
    finished: float


def timed_answer(supervisor: WorkerSupervisor, request_id: str, messages: list, settings: Any) -> TimedAnswer:
    """Ask through the supervisor and wait for the answer, noting when its pieces arrived."""
    marks: dict[str, float] = {}
    done: list[Any] = []

    def on_delta(rid: str, text: str, _reasoning: str) -> None:
        if rid == request_id:
            now = time.perf_counter()
            marks.setdefault("first", now)
            if text:
                marks["last"] = now

    def on_done(message: Any) -> None:
        marks["finished"] = time.perf_counter()
        done.append(message)

    supervisor.delta.connect(on_delta)
    supervisor.finished.connect(on_done)
    supervisor.generate(request_id, messages, settings)
    wait_for(lambda: done)
    supervisor.delta.disconnect(on_delta)
    supervisor.finished.disconnect(on_done)
    first = marks.get("first", marks["finished"])
    return TimedAnswer(done[0], first, marks.get("last", first), marks["finished"])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
