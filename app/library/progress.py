"""Download progress for people: a few updates per second and a speed that does not jitter."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

ProgressCallback = Callable[[int, int, float], None]
"""Called with ``(done_bytes, total_bytes, bytes_per_second)``."""


class ProgressMeter:
    """Throttles progress reports to ``interval`` seconds and smooths the speed.

    The speed is an exponential moving average over roughly ``smoothing`` seconds, so a burst
    after a stall does not make the time-left estimate jump around.
    """

    def __init__(
        self,
        callback: ProgressCallback | None,
        total: int,
        *,
        interval: float = 0.1,
        smoothing: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callback = callback
        self.total = total
        self._interval = interval
        self._smoothing = smoothing
        self._clock = clock
        self._done = 0
        self._speed = 0.0
        self._sample_time: float | None = None
        self._sample_done = 0
        self._last_report: float | None = None

    @property
    def speed(self) -> float:
        return self._speed

    def start(self, done: int) -> None:
        """Begin (or resume after a retry) at ``done`` bytes; the pause between attempts is not
        counted as slow transfer."""
        self._done = done
        self._sample_time = self._clock()
        self._sample_done = done
        self.report(force=True)

    def update(self, done: int) -> None:
        self._done = done
        now = self._clock()
        if self._sample_time is None:
            self._sample_time, self._sample_done = now, done
        elapsed = now - self._sample_time
        # Speed is sampled over at least 50 ms even when every chunk is reported: a coarse clock can
        # show no time passing between two chunks.
        if elapsed >= max(self._interval, 0.05):
            instant = (done - self._sample_done) / elapsed
            if self._speed == 0.0:
                self._speed = instant
            else:
                weight = 1.0 - math.exp(-elapsed / self._smoothing)
                self._speed += weight * (instant - self._speed)
            self._sample_time, self._sample_done = now, done
        self.report()

    def report(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and self._last_report is not None and now - self._last_report < self._interval:
            return
        self._last_report = now
        if self._callback is not None:
            self._callback(self._done, self.total, self._speed)
