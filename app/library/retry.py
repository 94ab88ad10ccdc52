"""When to try a failed transfer again, when to give up, and what to tell the user meanwhile."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.library.errors import ErrorKind


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial_delay``, then doubling up to ``max_delay``.

    ``give_up_after`` counts seconds *without progress* while the server can be reached: a
    connection that keeps dropping but moves the download forward each time is retried
    indefinitely, one that delivers nothing for that long ends the download with an error the
    user sees, and time with no connection at all does not count (a download started on a plane
    waits for the ground). ``max_delay`` is also how soon a returning connection is noticed.
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
    _budget_start: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._budget_start = self.clock()

    @property
    def next_attempt(self) -> int:
        """The number of the coming attempt since the last progress: 1, then 2 after a failure..."""
        return self.failures + 1

    def progressed(self) -> None:
        """Bytes arrived: the next failure starts the backoff over."""
        self.failures = 0
        self._budget_start = self.clock()

    def next_delay(self, *, offline: bool = False) -> float | None:
        """Seconds to wait before the next attempt, or None when the give-up budget is spent.

        ``offline`` (no connection could be made) never gives up: the budget starts again, so
        it only runs once the connection is back and the server is the one failing."""
        delay = min(self.policy.initial_delay * self.policy.multiplier**self.failures, self.policy.max_delay)
        self.failures += 1
        if offline:
            self._budget_start = self.clock()
            return delay
        waited = self.clock() - self._budget_start
        if waited >= self.policy.give_up_after:
            return None
        return min(delay, max(self.policy.give_up_after - waited, 0.0))


@dataclass(frozen=True)
class RetryNotice:
    """A transfer is waiting to try again: why (``reason``, words for the user), the number of the
    coming attempt, and when it starts (``at``, on the ``time.monotonic()`` clock)."""

    kind: ErrorKind
    reason: str
    attempt: int
    at: float

    def seconds_left(self, now: float | None = None) -> int:
        """Whole seconds until the next attempt, rounded up (0 once it is under way)."""
        now = time.monotonic() if now is None else now
        return max(0, math.ceil(self.at - now))


RetryCallback = Callable[[RetryNotice | None], None]
"""Told of each wait before a retry, and with None once the connection works again."""
