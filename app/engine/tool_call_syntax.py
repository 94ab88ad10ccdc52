"""Read Gemma 4's tool-call syntax: ``call:NAME{key:value,...}`` where strings are wrapped in
``<|"|>`` and keys are bare words; values may be strings, numbers, booleans, null, lists or
nested objects (the grammar of llama.cpp's gemma4 parser)."""

from __future__ import annotations

import json
import re
from typing import Any

QUOTE = '<|"|>'
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"call:\s*([A-Za-z_][\w.\-]*)\s*")


class ToolCallSyntaxError(ValueError):
    """The text is not a well-formed Gemma 4 tool call."""


def parse_tool_call(body: str) -> tuple[str, dict[str, Any]]:
    """Parse the text between ``<|tool_call>`` and ``<tool_call|>``."""
    match = _NAME.match(body.strip())
    if match is None:
        raise ToolCallSyntaxError("a tool call must start with call:NAME")
    text = body.strip()
    reader = _Reader(text, match.end())
    arguments = reader.value()
    reader.skip_space()
    if not isinstance(arguments, dict) or reader.pos != len(text):
        raise ToolCallSyntaxError("tool call arguments must be one {...} object")
    return match.group(1), arguments


class _Reader:
    def __init__(self, text: str, pos: int) -> None:
        self.text, self.pos = text, pos

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, literal: str) -> None:
        self.skip_space()
        if not self.text.startswith(literal, self.pos):
            raise ToolCallSyntaxError(f"expected {literal!r} at position {self.pos}")
        self.pos += len(literal)

    def value(self) -> Any:
        self.skip_space()
        text, pos = self.text, self.pos
        if text.startswith(QUOTE, pos):
            end = text.find(QUOTE, pos + len(QUOTE))
            if end < 0:
                raise ToolCallSyntaxError("unterminated string")
            self.pos = end + len(QUOTE)
            return text[pos + len(QUOTE) : end]
        if text.startswith("{", pos):
            return self.mapping()
        if text.startswith("[", pos):
            return self.sequence()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                self.pos += len(word)
                return value
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            return json.loads(number.group())
        raise ToolCallSyntaxError(f"unexpected {text[pos : pos + 10]!r}")

    def mapping(self) -> dict[str, Any]:
        self.expect("{")
        result: dict[str, Any] = {}
        self.skip_space()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return result
        while True:
            self.skip_space()
            colon = self.text.find(":", self.pos)
            if colon < 0:
                raise ToolCallSyntaxError("a key must be followed by ':'")
            key = self.text[self.pos : colon].strip()
            if key.startswith(QUOTE) and key.endswith(QUOTE):
                key = key[len(QUOTE) : -len(QUOTE)]
            if not key or "}" in key or "," in key:
                raise ToolCallSyntaxError(f"bad key {key!r}")
            self.pos = colon + 1
            result[key] = self.value()
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("}")
            return result

    def sequence(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        self.skip_space()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("]")
            return items
