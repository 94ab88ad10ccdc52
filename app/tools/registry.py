"""One place where tools are registered, described to the model, and called safely.

A tool is a plain function of keyword arguments with a JSON schema for them. A call the model
makes is checked against the schema first (unknown tools, missing or wrongly typed arguments get a
clear message back, which the model can read and correct), and whatever the tool returns or raises
becomes text of bounded size: a tool never breaks the chat, and never floods the context.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.tools.context import ToolContext

MAX_RESULT_CHARS = 8_000  # what one result may take of the context; the rest is cut, and said so

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class ToolError(Exception):
    """A tool refuses its input; the message is for the model (and the user) to read."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON schema of type "object"
    function: Callable[..., Any]
    reads_files: bool = False  # asks the user the first time in a chat
    takes_context: bool = False  # called with the chat's ``ToolContext`` first

    def schema(self) -> dict[str, Any]:
        """As chat templates take it (the OpenAI function format Gemma 4's template reads)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ToolResult:
    name: str
    ok: bool
    text: str  # what goes back to the model: the result, or what was wrong
    elapsed_ms: float = 0.0


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)

    def register(self, tool: Tool) -> Tool:
        if tool.name in self.tools:
            raise ValueError(f"a tool named {tool.name} is registered already")
        self.tools[tool.name] = tool
        return tool

    def schemas(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        chosen = self.tools.values() if names is None else (self.tools[n] for n in names)
        return [tool.schema() for tool in chosen]

    def call(self, name: str, arguments: Any, context: ToolContext | None = None) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolResult(name, False, f"There is no tool named “{name}”. Tools: {known}.")
        problem = check_arguments(tool.parameters, arguments)
        if problem:
            return ToolResult(name, False, f"{name}: {problem}")
        started = time.perf_counter()
        try:
            if tool.takes_context:
                value = tool.function(context or ToolContext(), **arguments)
            else:
                value = tool.function(**arguments)
        except ToolError as error:
            return ToolResult(name, False, f"{name}: {error}", _since(started))
        except Exception as error:  # a tool's own bug must not end the chat
            return ToolResult(name, False, f"{name} failed: {type(error).__name__}: {error}", _since(started))
        return ToolResult(name, True, bounded(as_text(value)), _since(started))


def check_arguments(schema: dict[str, Any], arguments: Any) -> str:
    """What is wrong with ``arguments`` for an object ``schema`` ("" if nothing): the subset of
    JSON schema tools use (properties with a type, required, enum)."""
    if not isinstance(arguments, dict):
        return "the arguments must be an object of named values"
    properties: dict[str, Any] = schema.get("properties", {})
    missing = [name for name in schema.get("required", []) if name not in arguments]
    if missing:
        return "missing " + ", ".join(missing)
    for name, value in arguments.items():
        spec = properties.get(name)
        if spec is None:
            return f"unknown argument “{name}” (takes {', '.join(properties) or 'none'})"
        wanted = spec.get("type")
        types = _JSON_TYPES.get(wanted, (object,)) if isinstance(wanted, str) else (object,)
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            article = "an" if str(wanted)[:1] in "aeiou" else "a"
            return f"“{name}” must be {article} {wanted}, not {json.dumps(value)[:40]}"
        if "enum" in spec and value not in spec["enum"]:
            return f"“{name}” must be one of {', '.join(map(str, spec['enum']))}"
    return ""


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def bounded(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… cut: {len(text) - limit} more characters]"


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
