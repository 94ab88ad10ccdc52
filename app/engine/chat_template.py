"""Turn a conversation into the model's prompt with the chat template embedded in its GGUF.

Rendering follows the Hugging Face conventions the templates are written for (``messages``,
``add_generation_prompt``, ``bos_token``...). Gemma 4's template also reads ``enable_thinking``
and strips earlier turns' reasoning itself. A model without a template gets a known fallback
for its architecture, or a clear ``NoChatTemplateError``.
"""

from __future__ import annotations

import datetime
from typing import Any

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
_MARK = "\ue000"  # a private-use character: never in a template, and not trimmed as whitespace


class NoChatTemplateError(ValueError):
    """The model has no chat template and none is known for its architecture."""


class TemplateRenderError(ValueError):
    """The model's chat template failed on this conversation."""


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
    """Compiles a template once and renders conversations with it."""

    def __init__(self, template: str, bos_token: str, eos_token: str) -> None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.globals["raise_exception"] = _raise
        env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
        self._template = env.from_string(template)
        self.bos, self.eos = bos_token, eos_token
        try:
            probe = self._render([{"role": "user", "content": "?"}], think=False)
        except TemplateRenderError:
            probe = ""
        self.replays_empty_thought = probe.endswith(MODEL_TURN + EMPTY_THOUGHT)

    def render(self, messages: list[dict[str, Any]], think: bool = False) -> str:
        if not (self.replays_empty_thought and not think):
            return self._render(messages, think)
        # Gemma 4's template prompts each answer with an empty reasoning channel, then writes
        # earlier answers without it. Kept in, the model reads each earlier turn exactly as it
        # wrote it, and the KV cache, which holds those tokens, stays valid: otherwise every
        # follow-up re-evaluates the whole previous answer (seconds per turn on a CPU). A mark
        # rides at the start of each earlier answer, so nothing a user typed is ever touched.
        marked = [
            {**m, "content": _MARK + m["content"].strip()}
            if m.get("role") == "assistant" and isinstance(m.get("content"), str)
            else m
            for m in messages
        ]
        text = self._render(marked, think)
        return text.replace(MODEL_TURN + _MARK, MODEL_TURN + EMPTY_THOUGHT).replace(_MARK, "")

    def _render(self, messages: list[dict[str, Any]], think: bool) -> str:
        try:
            return self._template.render(
                messages=messages,
                add_generation_prompt=True,
                enable_thinking=think,
                bos_token=self.bos,
                eos_token=self.eos,
                tools=None,
            )
        except Exception as exc:  # a template is foreign code: any failure is the template's
            raise TemplateRenderError(f"The model's chat template failed: {exc}") from exc


def _raise(message: str) -> None:
    raise TemplateRenderError(message)
