"""When to try a failed transfer again, and when to give up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial_delay``, then doubling up to ``max_delay``.

    ``give_up_after`` counts seconds *without progress*: a connection that keeps dropping but moves
    the download forward each time is retried indefinitely, while one that delivers nothing for that
    long ends the download with an error the user sees.
    """

    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    give_up_after: float = 600.0


@dataclass
class Backoff:
    """The retry state of one transfer."""

    policy: RetryPolicy
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    _last_progress: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._last_progress = self.clock()

    def progressed(self) -> None:
        """Bytes arrived: the next failure starts the backoff over."""
        self.failures = 0
        self._last_progress = self.clock()

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None when the give-up budget is spent."""
        waited = self.clock() - self._last_progress
        if waited >= self.policy.give_up_after:
            return None
        delay = self.policy.initial_delay * self.policy.multiplier**self.failures
        self.failures += 1
        delay = min(delay, self.policy.max_delay)
        return min(delay, max(self.policy.give_up_after - waited, 0.0))
