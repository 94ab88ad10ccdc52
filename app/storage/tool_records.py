"""The tool calls an answer made, as the chat keeps them: each with its round, arguments, result
and time, stored with the answer as JSON (they are read and written with it, never alone)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class CallState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # for the user to allow it
    DONE = "done"
    FAILED = "failed"  # the tool refused its input, raised, or ran out of time
    DENIED = "denied"  # the user did not allow it
    CANCELLED = "cancelled"  # the answer was stopped first


@dataclass(frozen=True)
class ToolCallRecord:
    round: int  # calls of one round were made together, then answered together
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    state: CallState = CallState.RUNNING
    result: str = ""  # what went back to the model
    elapsed_ms: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state not in (CallState.RUNNING, CallState.WAITING)


@dataclass(frozen=True)
class ToolAccess:
    """What one chat lets the tools read: the folders the user shared, and whether reading
    files is allowed without asking each time."""

    folders: tuple[str, ...] = ()
    always_read: bool = False

    def to_json(self) -> str:
        return json.dumps({"folders": list(self.folders), "always_read": self.always_read})

    @classmethod
    def from_json(cls, text: str | None) -> ToolAccess:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        folders = data.get("folders")
        return cls(
            tuple(str(f) for f in folders) if isinstance(folders, list) else (),
            data.get("always_read") is True,
        )


def calls_as_items(calls: Sequence[ToolCallRecord]) -> list[dict[str, Any]]:
    return [asdict(call) for call in calls]


def calls_to_json(calls: Sequence[ToolCallRecord]) -> str:
    return json.dumps(calls_as_items(calls), ensure_ascii=False) if calls else "[]"


def calls_from_json(text: str | None) -> tuple[ToolCallRecord, ...]:
    try:
        return calls_from_items(json.loads(text or "[]"))
    except ValueError:
        return ()


def calls_from_items(items: Any) -> tuple[ToolCallRecord, ...]:
    """The calls stored as ``items``; whatever cannot be read is left out (it is shown, never run)."""
    calls = []
    for item in items if isinstance(items, list) else ():
        try:
            calls.append(
                ToolCallRecord(
                    round=int(item["round"]),
                    name=str(item["name"]),
                    arguments=dict(item.get("arguments") or {}),
                    state=CallState(item.get("state", CallState.DONE)),
                    result=str(item.get("result", "")),
                    elapsed_ms=float(item.get("elapsed_ms", 0.0)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(calls)
