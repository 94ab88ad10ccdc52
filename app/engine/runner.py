"""The model runner: owns one llama.cpp model (and its projector) inside the worker process.

It turns a conversation into segments (text tokens and media chunks), keeps what the KV cache
already holds, evaluates only what differs, and streams the answer. This package is the only
place that imports ``llama_cpp``; the UI process never does.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from app.core.cpu_cores import LoadWatch, detect_topology, threads_for
from app.core.gemma4 import batch_size
from app.core.generation import GenerationSettings
from app.engine.cached_spelling import keep_cached_spelling
from app.engine.chat_template import (
    BrokenTemplateError,
    ChatFormatter,
    NoChatTemplateError,
    TemplateRunawayError,
    pick_template,
)
from app.engine.context_window import ContextFullError
from app.engine.model_check import (
    LoadProblem,
    ModelLoadError,
    explain_load_failure,
    llama_reason,
    preflight,
    shown,
)
from app.engine.multimodal import Attachment, AttachmentIndex, MediaError, Projector
from app.engine.native_model import DecodeAborted, NativeModel
from app.engine.output_parser import OutputParser, ParsedPiece
from app.engine.prompt_cache import (
    MediaSegment,
    Reuse,
    Segment,
    TextSegment,
    find_reuse,
    plan_moves,
    prompt_positions,
)
from app.engine.prompt_fit import FitPlan, plan_fit, turn_overhead, with_picture_detail
from app.engine.protocol import ChatTurn, StopReason, ToolCall, ToolChoice, ToolSpec, TurnTokens
from app.engine.saved_chats import ChatStates, fingerprint, forget_chat, valid_key
from app.engine.speculative import DRAFT_MAX, MTP_ARCHITECTURE, Drafter, DraftError, DraftStats
from app.engine.tool_grammar import Grammar, json_grammar, tool_call_grammar
from app.engine.tool_turns import template_messages
from app.gguf.reader import GGUFInfo, read_gguf_info

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.04  # coalesce tokens: the UI repaints at most ~25 times a second
# A saved state is read back only if it spares reading at least this many more positions.
MIN_RESTORE_GAIN = 64
THREADS_CHECK_TOKENS = 16  # how often a long answer follows the machine's load


class PromptTooLongError(ValueError):
    """Even the latest message alone does not fit the context."""


@dataclass(frozen=True)
class AnswerShape:
    """What the answer may or must be: tools on offer and whether one must be called, or a JSON
    schema it must follow."""

    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = ToolChoice.AUTO
    response_schema: dict[str, Any] = field(default_factory=dict)

    def grammar(self, think: bool) -> Grammar | None:
        if self.response_schema:
            return json_grammar(self.response_schema)
        if self.tools and self.tool_choice is not ToolChoice.NONE:
            return tool_call_grammar(self.tools, self.tool_choice is ToolChoice.REQUIRED, think)
        return None


NO_SHAPE = AnswerShape()
# Tokens Gemma 4's tool syntax is made of: a model whose vocabulary lacks one cannot call tools
# the way the parser and the grammars read them, whatever its template says.
TOOL_TOKENS = ("<|tool_call>", "<tool_call|>", '<|"|>', "<|channel>", "<channel|>")


@dataclass
class GenerationResult:
    stop_reason: StopReason
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_s: float
    total_ms: float
    dropped_turns: int
    memory_start_id: int = 0
    turn_tokens: list[TurnTokens] = field(default_factory=list)
    prompt_tokens_evaluated: int = 0
    media_encodes: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_errors: list[str] = field(default_factory=list)
    threads: int = 0  # the threads it ended on
    restored_tokens: int = 0  # cached positions read back from the chat's saved state
    draft_steps: int = 0  # evaluations that checked a drafter's guesses (app.engine.speculative)
    draft_guesses: int = 0  # tokens it guessed
    draft_accepted: int = 0  # guesses kept


# ggml_log_level in the bundled ggml (llama_cpp/_logger.py's comment has an older numbering).
_WARN, _ERROR = 3, 4


class _LlamaLog:
    """Keeps llama.cpp's recent log lines: its own words are the best clue to a load failure."""

    _callbacks: ClassVar[list[Any]] = []

    def __init__(self, llama_cpp: Any) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=40)
        self.echo = os.environ.get("HEARTH_LLAMA_LOG") == "1"

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", errors="replace")
            if level in (_WARN, _ERROR) or self.echo:
                self.lines.append(line.rstrip())
            if self.echo or level == _ERROR:
                os.write(2, text)

        # llama.cpp keeps this pointer for good (other runners, projectors, later loads log
        # through it), so the callback must outlive this object: keep it with the class.
        _LlamaLog._callbacks.append(callback)
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def tail(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Prompt:
    segments: list[Segment]
    plan: FitPlan = field(default_factory=lambda: FitPlan([]))


class _AnswerStream:
    """The answer as its tokens come: decoded to text, parsed (reasoning, tool calls) and sent
    on in coalesced pieces; ``take`` says when it must stop."""

    def __init__(
        self, model: NativeModel, should_stop: Callable[[], bool], on_text: Callable[[str, str], None]
    ) -> None:
        self._is_end, self._piece = model.is_end_of_generation, model.piece
        self._should_stop, self._on_text = should_stop, on_text
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parser = OutputParser()
        self._pending: list[str] = []
        self._next_flush = 0.0
        self.generated: list[int] = []
        self.calls: list[ToolCall] = []
        self.problems: list[str] = []  # tool calls that could not be read
        self.first_at = 0.0
        self.stop_reason = StopReason.LENGTH

    def take(self, token: int) -> bool:
        """Add a sampled token; True if the answer ends here (the token is then not part of the
        cache's answer, unless it is text the user asked to stop after)."""
        now = time.perf_counter()
        if not self.first_at:
            self.first_at = now
        if self._is_end(token):
            self.stop_reason = StopReason.END
            return True
        self.generated.append(token)
        self._pending.append(self._decoder.decode(self._piece(token)))
        if self._should_stop():
            self.stop_reason = StopReason.CANCELLED
            return True
        if now >= self._next_flush:
            self._emit(self._parser.feed("".join(self._pending)))
            self._pending.clear()
            self._next_flush = now + FLUSH_INTERVAL_S
            if self._parser.stopped:
                self.stop_reason = StopReason.TOOL_CALL
                return True
        return False

    def finish(self) -> None:
        parser = self._parser
        self._emit(parser.feed("".join(self._pending) + self._decoder.decode(b"", final=True)))
        self._emit(parser.finish())
        # Gemma 4 ends a call with <|tool_response>, which llama.cpp counts as an end of
        # generation: the turn ended on the calls either way.
        if parser.stopped or (self.stop_reason is StopReason.END and (self.calls or self.problems)):
            self.stop_reason = StopReason.TOOL_CALL

    def _emit(self, piece: ParsedPiece) -> None:
        if piece.answer or piece.reasoning:
            self._on_text(piece.answer, piece.reasoning)
        self.calls.extend(ToolCall(call.name, call.arguments) for call in piece.tool_calls)
        self.problems.extend(piece.problems)


class ModelRunner:
    def __init__(self) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._log = _LlamaLog(llama_cpp)
        self._model: NativeModel | None = None
        self._projector: Projector | None = None
        self._projector_path = ""
        self._formatter: ChatFormatter | None = None
        self._cached: list[Segment] = []  # what the KV cache holds, in order
        self._attachments = AttachmentIndex()
        self.info: GGUFInfo | None = None
        self._tools = False  # the loaded model can call tools
        self._overhead: tuple[tuple[int, bool], int] = ((0, False), 0)  # per template and thinking
        # Threads: as many as asked, or (asked for 0) the performance cores less those that
        # other programs keep busy, checked as the load changes (app.core.cpu_cores).
        self._cpu = detect_topology()
        self._load_watch: LoadWatch | None = None
        self._threads_follow_load = False
        self._projector_gpu = False
        self._gpu_layers = 0
        # Chats that resume instantly (app.engine.saved_chats): the chat the cache holds, and
        # whether it changed since it was saved.
        self._states: ChatStates | None = None
        self._chat = ""
        self._unsaved = False
        self._drafter: Drafter | None = None
        self.draft_problem = ""  # why the drafter asked for was left out

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def chat(self) -> str:
        """The chat the cache holds ("": none named)."""
        return self._chat

    @property
    def context_length(self) -> int:
        return self._model.n_ctx if self._model else 0

    @property
    def gpu(self) -> dict[str, Any]:
        """What went to a GPU: the layers asked, and whether this build can offload at all."""
        return {
            "gpu_layers": self._gpu_layers if self._model else 0,
            "gpu_offload": bool(self._lib.llama_supports_gpu_offload()),
        }

    @property
    def capabilities(self) -> dict[str, bool]:
        projector = self._projector
        return {
            "vision": bool(projector and projector.vision),
            "audio": bool(projector and projector.audio),
            "tools": self._tools,
        }

    # --- loading ---------------------------------------------------------------------------

    def load(
        self,
        path: str,
        context_length: int,
        threads: int,
        on_progress: Callable[[float], None],
        projector_path: str = "",
        gpu_layers: int = 0,
        projector_gpu: bool = False,
        states_folder: str = "",
        states_cap: int = 0,
        draft_path: str = "",
    ) -> None:
        """Load a model (and its projector). Whatever the file holds, this either succeeds or
        raises ``ModelLoadError`` with words for the user, and leaves nothing loaded. Chats'
        states are saved in ``states_folder`` up to ``states_cap`` bytes ("": not at all).
        ``draft_path`` names a drafter (an MTP assistant or a smaller model of the same
        vocabulary); one that cannot go with the model is left out, and ``draft_problem`` says why."""
        if not states_folder or states_cap <= 0:
            self._states = None  # turned off: not even the chat being left is saved
        self.unload()
        info = preflight(path, context_length)
        try:
            template = pick_template(info.chat_template, info.architecture)
        except NoChatTemplateError as exc:
            raise ModelLoadError(LoadProblem.NO_CHAT_TEMPLATE, str(exc)) from None
        self._log.lines.clear()
        self._threads_follow_load = not threads
        if not threads:
            if self._load_watch is None:
                self._load_watch = LoadWatch(self._cpu.logical)
                self._load_watch.start()
            threads = threads_for(self._cpu, self._load_watch.busy_elsewhere)
        try:
            self._model = model = NativeModel(
                self._lib,
                str(path),
                context_length,
                threads,
                on_progress,
                batch=batch_size(bool(projector_path)),
                gpu_layers=gpu_layers,
            )
            self._projector_gpu, self._gpu_layers = projector_gpu, gpu_layers
            self.info, self._threads = info, threads
            self._formatter = ChatFormatter(template, model.bos_text, model.eos_text)
            self._tools = self._formatter.describes_tools and all(
                len(model.tokenize(token, add_bos=False)) == 1 for token in TOOL_TOKENS
            )
            if projector_path:
                self._open_projector(projector_path)
            if draft_path:
                self._open_drafter(draft_path)
            if states_folder and states_cap > 0:
                model_fingerprint = fingerprint(
                    [path, projector_path], model.n_ctx, getattr(self._lib, "__version__", "")
                )
                self._states = ChatStates(Path(states_folder), states_cap, model_fingerprint)
        except BaseException as exc:
            self.unload()  # nothing half-loaded stays, or each damaged file tried would keep a model
            raise self._load_error(info, exc) from None

    def _load_error(self, info: GGUFInfo, exc: BaseException) -> BaseException:
        """What a failed load raises: words for the user, whatever went wrong (the file is
        foreign input, and llama.cpp, its bindings or its template may fail in any way)."""
        if isinstance(exc, ModelLoadError) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, BrokenTemplateError | TemplateRunawayError):
            return ModelLoadError(LoadProblem.BROKEN_CHAT_TEMPLATE, str(exc))
        if not isinstance(exc, RuntimeError | MemoryError):  # what NativeModel raises on its own
            log.error("unexpected load failure", exc_info=exc)
        return explain_load_failure(info, self._log.tail() or str(exc) or type(exc).__name__)

    def _open_projector(self, path: str) -> None:
        from llama_cpp import mtmd_cpp

        assert self._model is not None
        if self._projector is not None:
            self._projector.close()
            self._projector = None
        self._log.lines.clear()
        try:
            self._projector = Projector(
                mtmd_cpp, self._lib, path, self._model.model, self._threads, self._projector_gpu
            )
        except MediaError as exc:
            reason = shown(llama_reason(self._log.tail()), 200)
            raise ModelLoadError(
                LoadProblem.PROJECTOR_MISMATCH, f"{exc} ({reason})" if reason else str(exc)
            ) from None
        except Exception as exc:  # a damaged projector file is foreign input too
            log.exception("the projector %s could not be opened", path)
            raise ModelLoadError(
                LoadProblem.PROJECTOR_MISMATCH,
                f"The projector “{os.path.basename(path)}” could not be opened ({type(exc).__name__}).",
            ) from None
        self._projector_path = path

    def _open_drafter(self, path: str) -> None:
        model = self._model
        assert model is not None
        self._log.lines.clear()
        try:
            if read_gguf_info(path).architecture == MTP_ARCHITECTURE:
                from app.engine.mtp_draft import MtpDrafter

                self._drafter = MtpDrafter(self._lib, path, model, self._threads)
            else:
                from app.engine.draft_model import DraftModel

                self._drafter = DraftModel(self._lib, path, model, self._threads)
        except DraftError as exc:
            self.draft_problem = str(exc)
        except Exception as exc:  # a damaged draft file is foreign input: the model answers alone
            log.exception("the drafter %s could not be opened", path)
            self.draft_problem = (
                f"“{os.path.basename(path)}” could not be opened as a draft ({type(exc).__name__})."
            )
        if self.draft_problem:
            log.warning("%s", self.draft_problem)

    @property
    def drafter(self) -> str:
        """The kind of drafter loaded ("": none)."""
        return self._drafter.kind if self._drafter is not None else ""

    def unload(self) -> None:
        self.save_chat()
        self._states, self._chat = None, ""
        if self._drafter is not None:
            self._drafter.close()  # before the model: an MTP assistant reads the model's cache
        self._drafter, self.draft_problem = None, ""
        if self._projector is not None:
            self._projector.close()
        if self._model is not None:
            self._model.close()
        self._model, self._projector, self._formatter, self.info = None, None, None, None
        self._cached = []

    def request_stop(self) -> None:
        """Stop a running prompt evaluation too (called from the worker's reader thread)."""
        if self._model is not None:
            self._model.request_stop(True)
        if self._drafter is not None:
            self._drafter.request_stop(True)

    # --- generation ------------------------------------------------------------------------

    def generate(
        self,
        messages: list[ChatTurn],
        settings: GenerationSettings,
        should_stop: Callable[[], bool],
        on_text: Callable[[str, str], None],
        shape: AnswerShape = NO_SHAPE,
        chat: str = "",
    ) -> GenerationResult:
        """Stream an answer; ``on_text(answer, reasoning)`` gets coalesced pieces. ``chat`` names
        the conversation the prompt belongs to: its saved state is read back when that spares
        reading the chat again, and the cache is saved as its state when another chat follows."""
        model = self._model
        if model is None or self._formatter is None:
            raise RuntimeError("No model is loaded.")
        started = time.perf_counter()
        model.request_stop(False)
        if self._drafter is not None:
            self._drafter.request_stop(False)
        messages = with_picture_detail(messages, settings.image_budget)
        self._fit_threads()
        encodes_before = self._projector.encodes if self._projector else 0
        tools = shape.tools if self._tools else []
        grammar = dataclasses.replace(shape, tools=tools).grammar(settings.think)
        prompt = self._fit_prompt(messages, settings, tools)
        restored = self._switch_chat(chat, prompt.segments)
        self._unsaved = True
        if self._drafter is not None and settings.speculative:
            self._drafter.before_prompt()
        try:
            n_past, evaluated = self._evaluate_prompt(prompt)
        except DecodeAborted:
            result = self._result(StopReason.CANCELLED, prompt, 0, started, 0.0, started, 0, encodes_before)
        else:
            result = self._sample(
                prompt, n_past, evaluated, settings, should_stop, on_text, started, encodes_before, grammar
            )
        result.restored_tokens = restored
        return result

    # --- saved states ----------------------------------------------------------------------

    def save_chat(self) -> int:
        """Save the cache as the state of the chat it holds, if it changed since; returns the
        bytes written (0: nothing to save, or not kept)."""
        model, states = self._model, self._states
        if model is None or states is None or not self._chat or not self._unsaved or not self._cached:
            return 0
        self._unsaved = False
        try:
            return states.save(self._chat, self._cached, model.save_state())
        except Exception:  # a state not saved costs one re-read later, nothing more
            log.exception("the state of %s could not be saved", self._chat)
            return 0

    def forget_chat_state(self, chat: str) -> None:
        """The chat was deleted: drop its saved states, whatever the model, and never save the
        cache as its state again."""
        if self._states is not None and valid_key(chat):
            forget_chat(self._states.folder, chat)
        if chat == self._chat:
            self._chat, self._unsaved = "", False

    def _switch_chat(self, chat: str, segments: list[Segment]) -> int:
        """Follow the prompt's chat: save the one being left, and read back the new one's saved
        state if its tokens start the prompt further than what the cache holds. Returns the
        positions read back."""
        if chat == self._chat:
            return 0
        self.save_chat()
        self._chat = chat if valid_key(chat) else ""
        model, states = self._model, self._states
        if not self._chat or model is None or states is None:
            return 0
        saved = states.peek(self._chat)
        if saved is None:
            return 0
        offered = self._reuse(saved.segments, segments)
        if offered < self._reuse(self._cached, segments) + MIN_RESTORE_GAIN:
            return 0
        payload = states.read_payload(saved)
        if payload is None:
            return 0
        if not model.load_state(payload, saved.payload_length):
            log.warning("llama.cpp refused the saved state of %s; the chat is read again", chat)
            self._cached = []
            return 0
        self._cached = saved.segments
        self._unsaved = False
        return offered

    def _sample(
        self,
        prompt: _Prompt,
        n_past: int,
        evaluated: int,
        settings: GenerationSettings,
        should_stop: Callable[[], bool],
        on_text: Callable[[str, str], None],
        started: float,
        encodes_before: int,
        grammar: Grammar | None,
    ) -> GenerationResult:
        model = self._model
        assert model is not None
        max_tokens = max(1, min(settings.max_tokens, model.n_ctx - n_past))
        seed = settings.seed if settings.seed >= 0 else random.randrange(2**31)
        chain = model.sampler(settings, seed, grammar)
        answer = _AnswerStream(model, should_stop, on_text)
        drafter = self._drafter if settings.speculative else None
        stats = DraftStats()
        model.abortable(False)
        try:
            if drafter is None:
                n_past = self._sample_plainly(chain, answer, n_past, max_tokens)
            else:
                n_past = self._sample_with_drafts(chain, answer, prompt, n_past, max_tokens, drafter, stats)
        except DecodeAborted:
            answer.stop_reason = StopReason.CANCELLED
        finally:
            model.abortable(True)
            model.free_sampler(chain)
        ended = time.perf_counter()
        generated = answer.generated
        self._cached = [
            *prompt.segments,
            TextSegment(tuple(generated[: n_past - prompt_positions(prompt.segments)])),
        ]
        answer.finish()
        result = self._result(
            answer.stop_reason,
            prompt,
            len(generated),
            started,
            answer.first_at,
            ended,
            evaluated,
            encodes_before,
        )
        result.tool_calls, result.tool_call_errors = answer.calls, answer.problems
        result.draft_steps, result.draft_guesses, result.draft_accepted = (
            stats.steps,
            stats.drafted,
            stats.accepted,
        )
        return result

    def _sample_plainly(self, chain: Any, answer: _AnswerStream, n_past: int, max_tokens: int) -> int:
        """One token per evaluation; returns the positions the cache holds."""
        model = self._model
        assert model is not None
        batch = model.single_token_batch()
        sample, decode_one, take, generated = model.sample, model.decode_one, answer.take, answer.generated
        try:
            while len(generated) < max_tokens:
                token = sample(chain)
                if take(token):
                    break
                if len(generated) < max_tokens:
                    decode_one(token, n_past, batch)
                    n_past += 1
                if len(generated) % THREADS_CHECK_TOKENS == 0:
                    self._fit_threads()
        finally:
            model.free_batch(batch)
        return n_past

    def _sample_with_drafts(
        self,
        chain: Any,
        answer: _AnswerStream,
        prompt: _Prompt,
        n_past: int,
        max_tokens: int,
        drafter: Drafter,
        stats: DraftStats,
    ) -> int:
        """The drafter guesses the tokens after each new one; the model evaluates the new token
        and the guesses at once and keeps guesses while its own sampler, at each guess's
        position, picks the same token (``app.engine.speculative``). Returns the positions the
        cache holds: guesses it did not keep are dropped from it."""
        model = self._model
        assert model is not None
        drafter.after_prompt()
        context = [
            token
            for segment in prompt.segments
            if isinstance(segment, TextSegment)
            for token in segment.tokens
        ]
        generated, take = answer.generated, answer.take
        token = model.sample(chain)
        # Guesses per step: as many as the last step kept, and one more while all are kept, so
        # that a drafter that often guesses wrong (sampling at a high temperature, say) costs
        # little more than answering without it.
        reach, evaluations = DRAFT_MAX, 0
        with model.open_batch(DRAFT_MAX + 1) as batch:
            while not take(token) and len(generated) < max_tokens:
                room = min(reach, max_tokens - len(generated) - 1)
                guesses = drafter.draft(context, token, n_past, room) if room > 0 else []
                model.decode_all([token, *guesses], n_past, batch)
                n_past += 1
                context.append(token)
                kept, stopped = 0, False
                for row, guess in enumerate(guesses):
                    token = model.sample_row(chain, row)
                    if token != guess:
                        break
                    kept += 1
                    if take(guess):
                        stopped = True
                        break
                    n_past += 1
                    context.append(guess)
                else:
                    token = model.sample_row(chain, len(guesses))
                drafter.verified(kept)
                if guesses:
                    stats.steps, stats.drafted, stats.accepted = (
                        stats.steps + 1,
                        stats.drafted + len(guesses),
                        stats.accepted + kept,
                    )
                    if kept < len(guesses) or stopped:
                        model.forget_from(n_past)
                    reach = min(DRAFT_MAX, reach + 1) if kept == len(guesses) else kept + 1
                if stopped:
                    break
                evaluations += 1
                if evaluations % THREADS_CHECK_TOKENS == 0:
                    self._fit_threads()
        return n_past

    def _result(
        self,
        stop_reason: StopReason,
        prompt: _Prompt,
        count: int,
        started: float,
        first_at: float,
        ended: float,
        evaluated: int,
        encodes_before: int,
    ) -> GenerationResult:
        decode_s = ended - first_at if first_at else 0.0
        return GenerationResult(
            stop_reason=stop_reason,
            prompt_tokens=prompt_positions(prompt.segments),
            completion_tokens=count,
            ttft_ms=(first_at - started) * 1000 if first_at else 0.0,
            tokens_per_s=(count - 1) / decode_s if count > 1 and decode_s > 0 else 0.0,
            total_ms=(ended - started) * 1000,
            dropped_turns=prompt.plan.dropped,
            memory_start_id=prompt.plan.memory_start_id,
            turn_tokens=prompt.plan.counted,
            prompt_tokens_evaluated=evaluated,
            media_encodes=(self._projector.encodes if self._projector else 0) - encodes_before,
            threads=self._model.threads if self._model else 0,
        )

    def _fit_threads(self) -> None:
        """Follow the machine's load, when the threads were left to Hearth."""
        if self._threads_follow_load and self._model is not None and self._load_watch is not None:
            self._model.set_threads(threads_for(self._cpu, self._load_watch.busy_elsewhere))

    def _evaluate_prompt(self, prompt: _Prompt) -> tuple[int, int]:
        """Evaluate what the cache does not hold yet; returns (positions, positions evaluated)."""
        model = self._model
        assert model is not None
        prompt.segments = self._respelled(self._cached, prompt.segments)
        reuse = find_reuse(self._cached, prompt.segments)
        if prompt.plan.memory_start_id and model.can_shift:
            reuse = self._move_cache(prompt, reuse)
        model.forget_from(reuse.n_past)
        self._cached = [*prompt.segments[: reuse.segment]]
        n_past = reuse.n_past
        if reuse.token_offset:
            head = prompt.segments[reuse.segment]
            assert isinstance(head, TextSegment)
            self._cached.append(TextSegment(head.tokens[: reuse.token_offset]))
        try:
            for index in range(reuse.segment, len(prompt.segments)):
                segment = prompt.segments[index]
                if isinstance(segment, TextSegment):
                    offset = reuse.token_offset if index == reuse.segment else 0
                    tokens = list(segment.tokens[offset:])
                    model.decode(tokens, n_past)
                    n_past += len(tokens)
                else:
                    assert self._projector is not None
                    n_past = self._projector.evaluate(model.ctx, segment, n_past, model.n_batch)
                self._cached = [*prompt.segments[: index + 1]]
        except DecodeAborted:
            # Keep only whole segments: a half-evaluated one would not match the next prompt.
            model.forget_from(prompt_positions(self._cached))
            raise
        return n_past, n_past - reuse.n_past

    def _reuse(self, cached: list[Segment], prompt: list[Segment]) -> int:
        return find_reuse(cached, self._respelled(cached, prompt)).n_past

    def _respelled(self, cached: list[Segment], prompt: list[Segment]) -> list[Segment]:
        model = self._model
        assert model is not None
        respelled = keep_cached_spelling(cached, prompt, model.piece_of_text)
        # A sampled spelling may take more tokens than the tokenizer's: never past the context.
        return respelled if prompt_positions(respelled) < model.n_ctx else prompt

    def _move_cache(self, prompt: _Prompt, reuse: Reuse) -> Reuse:
        """The oldest exchanges were just left out: keep what remains of the cache by moving it
        down over them, as llama.cpp's context shift does, instead of reading it all again. The
        moved positions were computed with the left-out text in view, so they are close to, not
        the same as, a fresh read; only a cut made for room does this, never an edit or a delete
        the user asked for. Text only: llama.cpp does not shift media positions."""
        model = self._model
        assert model is not None
        moves = plan_moves(self._cached, prompt.segments)
        kept = sum(move.length for move in moves)
        head = prompt.segments[0]
        if kept <= reuse.n_past or len(prompt.segments) != 1 or not isinstance(head, TextSegment):
            return reuse  # (a text-only prompt is one segment; plan_moves takes no other)
        if not model.keep_runs([(m.old_start, m.new_start, m.length) for m in moves]):
            log.warning("llama.cpp could not move the cache; the prompt is read again")
            self._cached = []
            return Reuse(0, 0, 0)
        self._cached = [TextSegment(head.tokens[:kept])]
        return Reuse(kept, 0, kept)

    def _fit_prompt(
        self, messages: list[ChatTurn], settings: GenerationSettings, tools: Sequence[ToolSpec] = ()
    ) -> _Prompt:
        """The prompt for the turns that fit the context with room left for an answer: chosen from
        each turn's size (``prompt_fit``), then tokenized once. Sizes are estimates (a template
        may add a little); should the prompt still be too long, less is kept and it is built again."""
        model, formatter = self._model, self._formatter
        assert model is not None and formatter is not None
        reserve = min(settings.max_tokens, model.n_ctx // 4)
        room = model.n_ctx - reserve
        overhead = self._turn_overhead(settings.think)
        budget = settings.image_budget
        for _attempt in range(4):
            try:
                plan = plan_fit(messages, room, self._count_tokens, overhead, budget)
            except ContextFullError:
                break
            prompt = self._tokenize(plan.turns, settings.think, tools)
            used = prompt_positions(prompt.segments)
            if used + reserve <= model.n_ctx:
                prompt.plan = plan
                return prompt
            room -= used + reserve - model.n_ctx + overhead
        latest = self._tokenize(messages[-1:], settings.think, tools)
        raise PromptTooLongError(
            f"This message is too long for the model's context: it takes "
            f"{prompt_positions(latest.segments):,} tokens with the pinned ones, and the context holds "
            f"{model.n_ctx:,}, of which {reserve:,} are kept for the answer, so {model.n_ctx - reserve:,} "
            "are left for the chat. Shorten it, unpin messages or raise the context length."
        )

    def _count_tokens(self, text: str) -> int:
        assert self._model is not None
        return len(self._model.tokenize(text, add_bos=False)) if text else 0

    def _turn_overhead(self, think: bool) -> int:
        formatter = self._formatter
        assert formatter is not None
        key = (id(formatter), think)
        if self._overhead[0] != key:
            self._overhead = (
                key,
                turn_overhead(lambda turns: formatter.render(turns, think), self._count_tokens),
            )
        return self._overhead[1]

    def _tokenize(self, messages: list[ChatTurn], think: bool, tools: Sequence[ToolSpec]) -> _Prompt:
        model, formatter = self._model, self._formatter
        assert model is not None and formatter is not None
        media: list[Attachment] = []
        rendered: list[dict[str, Any]] = []
        for message in messages:
            attachments = message.attachments
            if attachments and self._projector is None:
                raise MediaError("This model cannot take images or audio: it was loaded without a projector.")
            markers = ""
            for attachment in attachments:
                media.append(
                    self._attachments.identify(
                        attachment.kind, attachment.path, attachment.encoding, attachment.detail
                    )
                )
                markers += self._projector.marker + "\n" if self._projector else ""
            rendered.extend(template_messages(message, markers + message.content))
        text = formatter.render(rendered, think=think, tools=[_as_template_tool(t) for t in tools])
        # Templates write the BOS text themselves; let the tokenizer add it exactly once,
        # and only if the model asks for it.
        if formatter.bos and text.startswith(formatter.bos):
            text = text[len(formatter.bos) :]
        if not media:
            return _Prompt([TextSegment(tuple(model.tokenize(text, add_bos=True)))])
        assert self._projector is not None
        segments = self._projector.tokenize(
            text, media, add_bos=True, tokenize_text=lambda part: model.tokenize(part, add_bos=False)
        )
        return _Prompt(segments)


def _as_template_tool(tool: ToolSpec) -> dict[str, Any]:
    """As chat templates take a tool (the OpenAI function format Gemma 4's template reads)."""
    function = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return {"type": "function", "function": function}


__all__ = ["GenerationResult", "MediaError", "MediaSegment", "ModelRunner", "PromptTooLongError"]
