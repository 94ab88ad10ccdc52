"""What the stand-in hub does wrong on purpose, and its log of what it was asked."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    """What goes wrong next. The lists are used up one item per file body sent."""

    fail_next: int = 0  # answer this many requests (of any kind) with 503
    drop_after: list[int] = field(default_factory=list)  # body bytes sent before the socket is closed
    reset: bool = False  # drop with a TCP reset instead of a clean close
    stall: list[float] = field(default_factory=list)  # seconds of silence between headers and body
    hold: list[float] = field(default_factory=list)  # seconds of silence before a GET's headers
    corrupt_offset: int | None = None  # file offset whose byte is served inverted, every time
    ignore_range: bool = False  # answer ranged requests with the whole file, like some proxies
    bytes_per_second: int | None = None  # a slow line: file bodies are sent at this rate


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    host: str
    range: str | None
    authorized: bool
    status: int
