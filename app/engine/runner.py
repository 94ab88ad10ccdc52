"""The model runner: owns one llama.cpp model inside the worker process.

This is the only module that imports ``llama_cpp``; the UI process never does.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import ctypes
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.core.generation import GenerationSettings
from app.engine.chat_template import ChatFormatter, NoChatTemplateError, pick_template
from app.engine.gguf_info import GGUFInfo
from app.engine.model_check import LoadProblem, ModelLoadError, explain_load_failure, preflight
from app.engine.output_parser import OutputParser, ParsedPiece

FLUSH_INTERVAL_S = 0.04  # coalesce tokens: the UI repaints at most ~25 times a second


class PromptTooLongError(ValueError):
    """Even the latest message alone does not fit the context."""


@dataclass
class GenerationResult:
    stop_reason: str
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_s: float
    total_ms: float
    dropped_turns: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class _LlamaLog:
    """Keeps llama.cpp's recent log lines: its own words are the best clue to a load failure."""

    def __init__(self, llama_cpp: Any) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=40)
        self.echo = os.environ.get("HEARTH_LLAMA_LOG") == "1"

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", errors="replace")
            if level in (2, 3) or self.echo:  # warnings and errors
                self.lines.append(line.rstrip())
            if self.echo or level == 3:
                os.write(2, text)

        self._callback = callback  # keep the C callback alive
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def tail(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def _progress_reporting(llama_cpp: Any, on_progress: Callable[[float], None]) -> Iterator[None]:
    """``Llama`` has no load-progress hook, so give its default model params our callback
    for the duration of the load."""

    @llama_cpp.llama_progress_callback
    def callback(progress: float, _user: ctypes.c_void_p) -> bool:
        on_progress(progress)
        return True

    bindings = llama_cpp.llama_cpp  # the module ``Llama`` looks the function up in
    original = bindings.llama_model_default_params

    def params_with_progress() -> Any:
        params = original()
        params.progress_callback = callback
        return params

    bindings.llama_model_default_params = params_with_progress
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


class ModelRunner:
    def __init__(self) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._log = _LlamaLog(llama_cpp)
        self._llm: Any = None
        self._formatter: ChatFormatter | None = None
        self._pieces: dict[int, bytes] = {}
        self.info: GGUFInfo | None = None

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(
        self, path: str, context_length: int, threads: int, on_progress: Callable[[float], None]
    ) -> None:
        self.unload()
        info = preflight(path, context_length)
        try:
            template = pick_template(info.chat_template, info.architecture)
        except NoChatTemplateError as exc:
            raise ModelLoadError(LoadProblem.NO_CHAT_TEMPLATE, str(exc)) from None
        threads = threads or os.cpu_count() or 1
        n_ctx = min(context_length, info.context_length or context_length)
        self._log.lines.clear()
        try:
            with _progress_reporting(self._lib, on_progress):
                llm = self._lib.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_batch=512,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as exc:
            raise explain_load_failure(info, self._log.tail() or str(exc)) from None
        vocab_model = llm._model
        bos = vocab_model.token_get_text(vocab_model.token_bos()) if vocab_model.token_bos() >= 0 else ""
        eos = vocab_model.token_get_text(vocab_model.token_eos()) if vocab_model.token_eos() >= 0 else ""
        self._formatter = ChatFormatter(template, bos, eos)
        self._llm, self.info = llm, info

    def unload(self) -> None:
        if self._llm is not None:
            self._llm.close()
        self._llm, self._formatter, self.info = None, None, None
        self._pieces = {}

    @property
    def context_length(self) -> int:
        return int(self._llm.n_ctx()) if self._llm is not None else 0

    def generate(
        self,
        messages: list[dict[str, Any]],
        settings: GenerationSettings,
        should_stop: Callable[[], bool],
        on_text: Callable[[str, str], None],
    ) -> GenerationResult:
        """Stream an answer; ``on_text(answer, reasoning)`` gets coalesced pieces."""
        llm = self._llm
        if llm is None or self._formatter is None:
            raise RuntimeError("No model is loaded.")
        started = time.perf_counter()
        prompt, dropped = self._fit_prompt(messages, settings)
        room = llm.n_ctx() - len(prompt)
        max_tokens = max(1, min(settings.max_tokens, room))
        llm.set_seed(settings.seed if settings.seed >= 0 else random.randrange(2**31))

        vocab = llm._model.vocab
        is_eog = self._lib.llama_token_is_eog
        to_piece = self._piece
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parser = OutputParser()
        tool_calls: list[dict[str, Any]] = []
        pending: list[str] = []
        count, first_at, stop_reason = 0, 0.0, "length"
        next_flush = 0.0
        stream = llm.generate(
            prompt,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=0.0,
            temp=settings.temperature,
            repeat_penalty=1.0,
        )
        try:
            for token in stream:
                now = time.perf_counter()
                if count == 0:
                    first_at = now
                if is_eog(vocab, token):
                    stop_reason = "end"
                    break
                count += 1
                pending.append(decoder.decode(to_piece(token)))
                if should_stop():
                    stop_reason = "cancelled"
                    break
                if now >= next_flush:
                    self._emit(parser.feed("".join(pending)), on_text, tool_calls)
                    pending.clear()
                    next_flush = now + FLUSH_INTERVAL_S
                    if parser.stopped:
                        stop_reason = "tool_call"
                        break
                if count >= max_tokens:
                    break
        finally:
            stream.close()
        ended = time.perf_counter()
        tail = "".join(pending) + decoder.decode(b"", final=True)
        self._emit(parser.feed(tail), on_text, tool_calls)
        self._emit(parser.finish(), on_text, tool_calls)
        if parser.stopped:
            stop_reason = "tool_call"
        decode_s = ended - first_at if first_at else 0.0
        return GenerationResult(
            stop_reason=stop_reason,
            prompt_tokens=len(prompt),
            completion_tokens=count,
            ttft_ms=(first_at - started) * 1000 if first_at else 0.0,
            tokens_per_s=(count - 1) / decode_s if count > 1 and decode_s > 0 else 0.0,
            total_ms=(ended - started) * 1000,
            dropped_turns=dropped,
            tool_calls=tool_calls,
        )

    @staticmethod
    def _emit(
        piece: ParsedPiece, on_text: Callable[[str, str], None], tool_calls: list[dict[str, Any]]
    ) -> None:
        if piece.answer or piece.reasoning:
            on_text(piece.answer, piece.reasoning)
        tool_calls.extend({"name": call.name, "arguments": call.arguments} for call in piece.tool_calls)
        tool_calls.extend({"error": problem} for problem in piece.problems)

    def _piece(self, token: int) -> bytes:
        """The bytes of one token, special tokens included (cached: the hot loop calls this)."""
        piece = self._pieces.get(token)
        if piece is None:
            lib, vocab = self._lib, self._llm._model.vocab
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                written = lib.llama_token_to_piece(vocab, token, buffer, size, 0, True)
                if written >= 0:
                    break
                size = -written
            piece = self._pieces[token] = buffer.raw[:written]
        return piece

    def _fit_prompt(
        self, messages: list[dict[str, Any]], settings: GenerationSettings
    ) -> tuple[list[int], int]:
        """Tokenize the conversation, dropping the oldest turns (never the system prompt or the
        latest message) until it leaves room for an answer."""
        assert self._llm is not None and self._formatter is not None
        n_ctx = self._llm.n_ctx()
        reserve = min(settings.max_tokens, n_ctx // 4)
        system = [m for m in messages[:1] if m.get("role") == "system"]
        turns = messages[len(system) :]
        dropped = 0
        while True:
            text = self._formatter.render(system + turns, think=settings.think)
            # Templates write the BOS text themselves; let the tokenizer add it exactly once,
            # and only if the model asks for it.
            if self._formatter.bos and text.startswith(self._formatter.bos):
                text = text[len(self._formatter.bos) :]
            tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            if len(tokens) + reserve <= n_ctx:
                return tokens, dropped
            if len(turns) <= 1:
                raise PromptTooLongError(
                    f"This message is too long for the model's context ({len(tokens)} tokens; the "
                    f"context holds {n_ctx}). Shorten it or raise the context length."
                )
            # Drop whole exchanges so the conversation still starts with a user turn.
            turns = turns[1:]
            dropped += 1
            while len(turns) > 1 and turns[0].get("role") != "user":
                turns = turns[1:]
                dropped += 1
