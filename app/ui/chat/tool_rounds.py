"""Running the tools an answer calls, off the UI thread and within a time limit, and turning the
calls the chat keeps into the rounds the model reads again."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine import protocol as p
from app.storage.tool_records import CallState, ToolCallRecord
from app.tools.context import ToolContext
from app.tools.registry import ToolRegistry, ToolResult

TOOL_TIME_LIMIT_S = 10.0  # a tool still running then is given up, and the model told so
DENIED = "The user did not allow reading files for this answer."


class Approval(StrEnum):
    """The user's answer when a tool would read files."""

    ONCE = "once"  # for this answer
    ALWAYS = "always"  # in this chat, from now on
    DENY = "deny"


class ToolRunner(QObject):
    """Runs one round of calls at a time on a thread of its own; a call past the time limit is
    left to finish on its own (a thread cannot be stopped) and answered with a failure."""

    finished = Signal(object, object)
    """A round ended: (its ticket, a ``ToolResult`` for each call, in order)."""

    def __init__(
        self, registry: ToolRegistry, time_limit_s: float = TOOL_TIME_LIMIT_S, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.time_limit_s = time_limit_s

    def specs(self) -> list[p.ToolSpec]:
        return [p.ToolSpec(t.name, t.description, t.parameters) for t in self.registry.tools.values()]

    def run(
        self,
        ticket: Any,
        calls: Sequence[p.ToolCall],
        context: ToolContext | None = None,
        refused: Collection[int] = (),
    ) -> None:
        """Run ``calls`` (but those at the positions ``refused``, which get ``DENIED``)."""
        args = (ticket, list(calls), context or ToolContext(), set(refused))
        threading.Thread(target=self._round, args=args, daemon=True).start()

    def _round(self, ticket: Any, calls: list[p.ToolCall], context: ToolContext, refused: set[int]) -> None:
        results = [
            ToolResult(call.name, False, DENIED) if i in refused else self._call(call, context)
            for i, call in enumerate(calls)
        ]
        self.finished.emit(ticket, results)  # queued to the UI thread, where the receiver lives

    def _call(self, call: p.ToolCall, context: ToolContext) -> ToolResult:
        box: list[ToolResult] = []
        worker = threading.Thread(
            target=lambda: box.append(self.registry.call(call.name, call.arguments, context)), daemon=True
        )
        worker.start()
        worker.join(self.time_limit_s)
        if box:
            return box[0]
        limit = f"{self.time_limit_s:g}"
        return ToolResult(
            call.name,
            False,
            f"{call.name} took longer than {limit} s and was given up.",
            self.time_limit_s * 1000,
        )


def rounds_to_send(
    calls: Sequence[ToolCallRecord], thoughts: Mapping[int, str] | None = None
) -> list[p.ToolStep]:
    """The finished rounds of an answer's calls, as the model reads them back; ``thoughts`` holds
    what the model thought before each round's calls (an answer under way keeps them: Gemma 4
    reads its reasoning between calls, not in earlier answers)."""
    steps: dict[int, p.ToolStep] = {}
    for call in calls:
        if not call.name or not call.finished:
            continue
        response = {"result": call.result} if call.state is CallState.DONE else {"error": call.result}
        thought = (thoughts or {}).get(call.round, "")
        step = steps.setdefault(call.round, p.ToolStep([], [], reasoning=thought))
        step.calls.append(p.ToolCall(call.name, call.arguments))
        step.responses.append(p.ToolResponse(call.name, response))
    return [steps[number] for number in sorted(steps)]
