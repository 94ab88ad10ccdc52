"""An answer's tool rounds as chat templates take them.

Hearth keeps one answer as one turn: its tool rounds, then its text. Gemma 4's template takes the
rounds the way Google's own format has them, each as a model message carrying its calls and their
responses (``tool_calls`` and ``tool_responses``); the model's text then follows in the same model
turn. An answer still under way ends on its latest responses, and the template then leaves the
turn open for the model to go on (no new generation prompt).
"""

from __future__ import annotations

import json
from typing import Any

from app.engine.protocol import ChatTurn, Role, ToolStep


def template_messages(turn: ChatTurn, content: str) -> list[dict[str, Any]]:
    """``turn`` as template messages, with ``content`` (its text, media markers added) as text."""
    if turn.role is not Role.ASSISTANT or not turn.tool_steps:
        return [{"role": str(turn.role), "content": content}]
    messages = [_round(step) for step in turn.tool_steps]
    if content:
        messages.append({"role": "assistant", "content": content})
    return messages


def _round(step: ToolStep) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in step.calls
        ],
        "tool_responses": [{"name": r.name, "response": r.response} for r in step.responses],
    }
    if step.reasoning:
        message["reasoning_content"] = step.reasoning
    return message


def steps_text(turn: ChatTurn) -> str:
    """About what a turn's tool rounds add to the prompt, to size it before it is rendered."""
    parts = []
    for step in turn.tool_steps:
        parts.append(step.reasoning)
        parts.extend(f"call:{c.name}{json.dumps(c.arguments, ensure_ascii=False)}" for c in step.calls)
        parts.extend(f"response:{r.name}{json.dumps(r.response, ensure_ascii=False)}" for r in step.responses)
    return "\n".join(parts)
