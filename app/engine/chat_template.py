"""Turn a conversation into the model's prompt with the chat template embedded in its GGUF.

Rendering follows the Hugging Face conventions the templates are written for (``messages``,
``add_generation_prompt``, ``bos_token``...). Gemma 4's template also reads ``enable_thinking``
and strips earlier turns' reasoning itself. A model without a template gets a known fallback
for its architecture, or a clear ``NoChatTemplateError``.

A template comes from the model file, so it is foreign code: it is compiled and run in
``template_sandbox``, with a time, memory and size budget for every render.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from app.engine import template_sandbox as sandbox
from app.engine.model_check import shown

# Gemma 2/3 base models ship without a template but were trained on this turn format.
_GEMMA_TURNS = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '')"
    " + message['content'] | trim + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

FALLBACK_TEMPLATES = {"gemma": _GEMMA_TURNS, "gemma2": _GEMMA_TURNS, "gemma3": _GEMMA_TURNS}

# Gemma 4 with thinking off: the generation prompt opens an empty reasoning channel.
MODEL_TURN = "<|turn>model\n"
EMPTY_THOUGHT = "<|channel>thought\n<channel|>"
CALL_OPEN = "<|tool_call>call:"
_PROBE_TOOL = "hearth_probe_tool"
_MARK = "\ue000"  # a private-use character: never in a template, and not trimmed as whitespace


# Real templates are a few to a few tens of kilobytes; compiling megabytes would take long.
MAX_TEMPLATE_CHARS = 256 * 1024
MAX_STRFTIME_CHARS = 200  # a date format; each directive can grow tenfold
_DAMAGED_HINT = "The model file may be damaged or made wrongly: try another copy or build of it."


class NoChatTemplateError(ValueError):
    """The model has no chat template and none is known for its architecture."""


class BrokenTemplateError(ValueError):
    """The model's chat template cannot be compiled at all."""


class TemplateRenderError(ValueError):
    """The model's chat template failed on this conversation."""


class TemplateRunawayError(TemplateRenderError):
    """The model's chat template did not finish within its budget of time, memory or size."""


@dataclass(frozen=True)
class RenderBudget:
    """What one render may take; anything beyond it ends in ``TemplateRunawayError``."""

    seconds: float = sandbox.RENDER_SECONDS
    # Gemma 4's own template looks back over every earlier message for each message: its time
    # grows with the square of their number (about 3 µs a pair on a 2-core test machine, 3 s for
    # 1,000 messages), so the budget does too, with room for slower machines.
    seconds_per_message_pair: float = 10e-6
    memory_bytes: int = sandbox.RENDER_MEMORY_BYTES
    min_output_chars: int = sandbox.MIN_OUTPUT_CHARS

    def seconds_for(self, messages: int) -> float:
        return self.seconds + self.seconds_per_message_pair * messages**2


def pick_template(embedded: str, architecture: str) -> str:
    if embedded.strip():
        return embedded
    fallback = FALLBACK_TEMPLATES.get(architecture)
    if fallback is None:
        raise NoChatTemplateError(
            f"This model ({architecture or 'unknown architecture'}) has no chat template, so Hearth "
            'cannot tell how to format a conversation for it. Use an instruction-tuned ("-it") '
            "build of the model."
        )
    return fallback


class ChatFormatter:
    """Compiles a template once and renders conversations with it.

    Raises ``BrokenTemplateError`` for a template that cannot be compiled and
    ``TemplateRunawayError`` for one that does not finish on a one-line conversation."""

    def __init__(
        self, template: str, bos_token: str, eos_token: str, budget: RenderBudget | None = None
    ) -> None:
        self._budget = budget or RenderBudget()
        if len(template) > MAX_TEMPLATE_CHARS:
            raise BrokenTemplateError(
                f"This model's chat template is {len(template):,} characters long, far more than any "
                f"real one. {_DAMAGED_HINT}"
            )
        self._env = env = sandbox.BoundedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = _strftime_now
        env.output_limit = self._budget.min_output_chars
        try:
            self._template = self._within_budget(lambda: env.from_string(template), self._budget.seconds)
        except TemplateRunawayError:
            raise
        except Exception as exc:  # a syntax error, an unknown filter, a template nested too deeply
            raise BrokenTemplateError(
                f"This model's chat template cannot be read ({_foreign(exc)}). {_DAMAGED_HINT}"
            ) from None
        self.bos, self.eos = bos_token, eos_token
        try:
            probe = self._render([{"role": "user", "content": "?"}], think=False)
        except TemplateRunawayError:
            raise
        except TemplateRenderError:
            probe = ""  # it may refuse only this conversation: later ones say why in its words
        self.replays_empty_thought = probe.endswith(MODEL_TURN + EMPTY_THOUGHT)
        self.describes_tools = self._describes_tools()

    def _describes_tools(self) -> bool:
        """Whether the template tells the model about the tools it is given."""
        tool = {"type": "function", "function": {"name": _PROBE_TOOL, "description": "", "parameters": {}}}
        try:
            return _PROBE_TOOL in self._render([{"role": "user", "content": "?"}], False, [tool])
        except TemplateRenderError:
            return False

    def render(
        self, messages: list[dict[str, Any]], think: bool = False, tools: list[dict[str, Any]] | None = None
    ) -> str:
        if not (self.replays_empty_thought and not think):
            return self._render(messages, think, tools)
        # Gemma 4's template prompts each answer with an empty reasoning channel, then writes
        # earlier answers without it. Kept in, the model reads each earlier turn exactly as it
        # wrote it, and the KV cache, which holds those tokens, stays valid: otherwise every
        # follow-up re-evaluates the whole previous answer (seconds per turn on a CPU). A mark
        # rides at the start of each earlier answer (or its first tool call, which comes first),
        # so nothing a user typed is ever touched.
        text = self._render([_marked(m) for m in messages], think, tools)
        text = text.replace(MODEL_TURN + CALL_OPEN + _MARK, MODEL_TURN + EMPTY_THOUGHT + CALL_OPEN)
        return text.replace(MODEL_TURN + _MARK, MODEL_TURN + EMPTY_THOUGHT).replace(_MARK, "")

    def _render(
        self, messages: list[dict[str, Any]], think: bool, tools: list[dict[str, Any]] | None = None
    ) -> str:
        given = sum(len(m["content"]) for m in messages if isinstance(m.get("content"), str))
        self._env.output_limit = max(self._budget.min_output_chars, sandbox.OUTPUT_PER_INPUT_CHAR * given)
        variables = {
            "messages": messages,
            "add_generation_prompt": True,
            "enable_thinking": think,
            "bos_token": self.bos,
            "eos_token": self.eos,
            "tools": tools or None,
        }
        try:
            seconds = self._budget.seconds_for(len(messages))
            return str(self._within_budget(lambda: self._template.render(**variables), seconds))
        except TemplateRenderError:
            raise
        except RecursionError:
            raise self._runaway("it calls itself without end") from None
        except Exception as exc:  # a template is foreign code: any failure is the template's
            raise TemplateRenderError(f"The model's chat template failed: {_foreign(exc)}") from None

    def _within_budget(self, work: Any, seconds: float) -> Any:
        try:
            return sandbox.run_with_budget(work, seconds, self._budget.memory_bytes)
        except sandbox.TemplateRunaway as exc:
            raise self._runaway(exc) from None
        except MemoryError:
            raise self._runaway("it ran out of memory") from None

    @staticmethod
    def _runaway(why: object) -> TemplateRunawayError:
        return TemplateRunawayError(f"This model's chat template does not finish: {why}. {_DAMAGED_HINT}")


def _marked(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("role") != "assistant":
        return message
    calls = message.get("tool_calls")
    if calls:
        first = calls[0]
        function = {**first["function"], "name": _MARK + first["function"]["name"]}
        return {**message, "tool_calls": [{**first, "function": function}, *calls[1:]]}
    content = message.get("content")
    return {**message, "content": _MARK + content.strip()} if isinstance(content, str) else message


def _raise(message: Any) -> None:
    raise TemplateRenderError(f"The model's chat template refused this conversation: {_foreign(message)}")


def _strftime_now(fmt: Any) -> str:
    return datetime.datetime.now().strftime(str(fmt)[:MAX_STRFTIME_CHARS])


def _foreign(said: Any) -> str:
    """What a template (or Jinja about it) said, fit for a message."""
    return shown(str(said), 200) or "no reason given"
