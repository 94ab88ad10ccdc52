"""Shared helpers for the benchmarks: a Qt event loop around a real worker supervisor."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

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
    model: str, context_length: int = 2048, projector: str = "auto"
) -> WorkerSupervisor:
    supervisor = WorkerSupervisor()
    loaded: list[object] = []
    failures: list[str] = []
    supervisor.model_loaded.connect(loaded.append)
    supervisor.load_failed.connect(lambda _code, message: failures.append(message))
    supervisor.load_model(model, context_length, projector)
    wait_for(lambda: loaded or failures)
    if failures:
        raise SystemExit(f"could not load {model}: {failures[0]}")
    assert supervisor.state is WorkerState.IDLE
    return supervisor


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
