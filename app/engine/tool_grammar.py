"""Grammars (GBNF) for llama.cpp's grammar sampler: well-formed Gemma 4 tool calls, and JSON.

A tool call is held to Gemma 4's call syntax (``<|tool_call>call:NAME{key:value,...}<tool_call|>``,
strings in ``<|"|>``) and to the tool's own parameters: a name on offer, the required arguments in
the schema's order, each of its type, enums to their values. Markers are matched as the special
tokens the model was trained on (GBNF's ``<|tool_call>`` token syntax), so the KV cache holds what
the chat template writes back on the next turn. Like llama.cpp's own Gemma 4 handler, a call the
model may or may not make is a lazy grammar that wakes on ``<|tool_call>``; a turn that must call
a tool is held to it from its first token.

JSON answers use llama.cpp's json-schema-to-grammar conversion (its Python port ships with
llama-cpp-python), so a schema means the same here as in llama-server's ``response_format``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.engine.protocol import ToolSpec

TOOL_CALL_TOKEN = "<|tool_call>"
_INTEGER = '"-"? ( "0" | [1-9] [0-9]{0,14} )'
_NUMBER = _INTEGER + ' ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?'

# Any Gemma 4 value, for arguments whose schema says nothing more (llama.cpp's gemma4 rules).
_GENERIC = r"""
gvalue ::= gstring | gdict | garray | gnumber | "true" | "false" | "null"
gstring ::= <|"|> gchar* <|"|>
gchar ::= [^<] | "<" [^|<]
gnumber ::= NUMBER
gdict ::= "{" ( gkv ( "," gkv )* )? "}"
gkv ::= [^:}<,{]+ ":" gvalue
garray ::= "[" ( gvalue ( "," gvalue )* )? "]"
thought ::= <|channel> "thought" gchar* <channel|>
""".replace("NUMBER", _NUMBER)


class GrammarError(ValueError):
    """A grammar that cannot be made or read: a schema it cannot follow, or a token the model's
    vocabulary lacks."""


@dataclass(frozen=True)
class Grammar:
    text: str
    lazy: bool = False  # wait for a trigger token before holding the output to the grammar
    trigger_tokens: tuple[str, ...] = ()  # as text; each must be one token of the model


@dataclass
class _Rules:
    rules: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, body: str) -> str:
        self.rules[name] = body
        return name

    def text(self) -> str:
        return "\n".join(f"{name} ::= {body}" for name, body in self.rules.items()) + _GENERIC


def tool_call_grammar(tools: list[ToolSpec], required: bool, think: bool = False) -> Grammar:
    """Calls to ``tools``. ``required``: the turn must be one call
    (after the model's thought, when it ``think``s; with thinking off the prompt has closed the
    thought already); otherwise the grammar wakes at a call's first token and the model may write
    anything before it."""
    rules = _Rules()
    calls = []
    for index, tool in enumerate(tools):
        arguments = _object(rules, f"t{index}", tool.parameters)
        calls.append(rules.add(f"call{index}", f'"{_escape(tool.name)}" {arguments}'))
    rules.add("call", f'<|tool_call> "call:" ( {" | ".join(calls)} ) <tool_call|>')
    if required:
        rules.rules = {"root": "thought? call" if think else "call", **rules.rules}
        return Grammar(rules.text())
    rules.rules = {"root": "call+", **rules.rules}
    return Grammar(rules.text(), lazy=True, trigger_tokens=(TOOL_CALL_TOKEN,))


def json_grammar(schema: dict[str, Any]) -> Grammar:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return Grammar(json_schema_to_gbnf(json.dumps(schema)))
    except Exception as exc:  # the converter's own complaints, whatever their type
        raise GrammarError(f"The answer's JSON schema cannot be followed: {exc}") from None


def _object(rules: _Rules, prefix: str, schema: Any) -> str:
    """The rule for an object's ``{key:value,...}``: required keys in order, then each optional
    one or not, in order (one rule per position, so many optional keys stay a short grammar)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return "gdict"
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required") or ())
    order = [name for name in properties if name in required] + [n for n in properties if n not in required]
    pairs = [
        (f'"{_escape(name)}:" {_value(rules, f"{prefix}-{i}", properties[name])}', name in required)
        for i, name in enumerate(order)
    ]
    # rest(i, first): the members from position i on; "first" when no comma is due before them.
    for i in range(len(pairs), -1, -1):
        for first in (True, False):
            name = f"{prefix}-rest{i}{'f' if first else ''}"
            if i == len(pairs):
                rules.add(name, '""')
                continue
            pair, is_required = pairs[i]
            comma = "" if first else '"," '
            taken = f"{comma}{pair} {prefix}-rest{i + 1}"
            rules.add(name, taken if is_required else f"{taken} | {prefix}-rest{i + 1}{'f' if first else ''}")
    return rules.add(f"{prefix}-obj", f'"{{" {prefix}-rest0f "}}"')


def _value(rules: _Rules, prefix: str, schema: Any) -> str:
    if not isinstance(schema, dict):
        return "gvalue"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        choices = [_literal(value) for value in schema["enum"]]
        return rules.add(f"{prefix}-enum", " | ".join(choices))
    kind = schema.get("type")
    if kind == "string":
        return "gstring"
    if kind == "integer":
        return rules.add(f"{prefix}-int", _INTEGER)
    if kind == "number":
        return "gnumber"
    if kind == "boolean":
        return rules.add(f"{prefix}-bool", '"true" | "false"')
    if kind == "array":
        item = _value(rules, f"{prefix}-item", schema.get("items"))
        return rules.add(f"{prefix}-list", f'"[" ( {item} ( "," {item} )* )? "]"')
    if kind == "object":
        return _object(rules, prefix, schema)
    return "gvalue"


def _literal(value: Any) -> str:
    """A constant as Gemma 4 writes it in a call."""
    if isinstance(value, str):
        return f'<|"|> "{_escape(value)}" <|"|>' if value else '<|"|> <|"|>'
    if isinstance(value, bool):
        return '"true"' if value else '"false"'
    return f'"{_escape(json.dumps(value))}"'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
