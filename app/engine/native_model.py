"""A llama.cpp model and context on the low-level bindings: load with progress, decode tokens,
sample with llama.cpp's native sampler chain, abort a long evaluation.

Hearth uses the bindings directly (not ``llama_cpp.Llama``) so the worker controls the KV
cache itself: which prefix to keep, where media chunks go, and when to abort.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator
from typing import Any

from app.core.gemma4 import TEXT_BATCH
from app.core.generation import GenerationSettings
from app.engine.tool_grammar import Grammar, GrammarError


class DecodeError(RuntimeError):
    """llama.cpp could not evaluate a batch."""


class DecodeAborted(RuntimeError):
    """The evaluation was stopped on request."""


class NativeModel:
    def __init__(
        self,
        lib: Any,
        path: str,
        context_length: int,
        threads: int,
        on_progress: Callable[[float], None],
        batch: int = TEXT_BATCH,
        gpu_layers: int = 0,
    ) -> None:
        self._lib = lib
        lib.llama_backend_init()

        @lib.llama_progress_callback
        def progress(fraction: float, _user: ctypes.c_void_p) -> bool:
            on_progress(fraction)
            return True

        params = lib.llama_model_default_params()
        params.progress_callback = progress
        # Decided by the UI from the GPU's free memory (app.library.offload); a build of llama.cpp
        # without a GPU backend keeps every layer on the processor whatever this says.
        params.n_gpu_layers = gpu_layers
        model = lib.llama_model_load_from_file(path.encode("utf-8"), params)
        if not model:
            raise RuntimeError("llama.cpp could not load the model")
        self.model = model
        self.vocab = lib.llama_model_get_vocab(model)
        self.context_length_train = int(lib.llama_model_n_ctx_train(model))
        threads = threads or os.cpu_count() or 1
        ctx_params = lib.llama_context_default_params()
        # A damaged header can make the training length read as zero or negative: unknown then.
        trained = self.context_length_train if self.context_length_train > 0 else context_length
        ctx_params.n_ctx = min(context_length, trained)
        # core.gemma4.batch_size: a whole picture must fit one micro-batch.
        ctx_params.n_batch = self.n_batch = batch
        ctx_params.n_ubatch = batch
        ctx_params.n_threads = threads
        ctx_params.n_threads_batch = threads
        self.threads = threads
        ctx_params.no_perf = True
        # Full-size sliding-window cache: the cache can then be rolled back to any earlier
        # position (edit, regenerate, switch chats) and stay exact. The default SWA cache keeps
        # only the window and cannot be truncated to a point the window has moved past.
        ctx_params.swa_full = True
        self._stop_requested = False

        @lib.ggml_abort_callback
        def should_abort(_data: ctypes.c_void_p) -> bool:
            return self._stop_requested

        self._abort_callback = should_abort
        ctx_params.abort_callback = should_abort
        context = lib.llama_init_from_model(model, ctx_params)
        if not context:
            lib.llama_model_free(model)
            raise MemoryError("llama.cpp could not create the context (not enough memory?)")
        self.ctx = context
        self.n_ctx = int(lib.llama_n_ctx(context))
        self.memory = lib.llama_get_memory(context)
        # Whether cached positions can be moved (RoPE shifted); the sliding-window cache is full
        # size (above), so Gemma's can.
        self.can_shift = bool(lib.llama_memory_can_shift(self.memory))
        self._pieces: dict[int, bytes] = {}
        self._progress = progress  # keep the C callbacks alive as long as the model

    # --- vocabulary ------------------------------------------------------------------------

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        while True:
            buffer = (self._lib.llama_token * capacity)()
            count = self._lib.llama_tokenize(self.vocab, data, len(data), buffer, capacity, add_bos, True)
            if count >= 0:
                return list(buffer[:count])
            capacity = -count

    def piece(self, token: int) -> bytes:
        """The bytes of one token, special tokens included (cached: the hot loop calls this)."""
        cached = self._pieces.get(token)
        if cached is None:
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                written = self._lib.llama_token_to_piece(self.vocab, token, buffer, size, 0, True)
                if written >= 0:
                    break
                size = -written
            cached = self._pieces[token] = buffer.raw[:written]
        return cached

    def piece_of_text(self, token: int) -> bytes | None:
        """The bytes of a text token; None for a control token (a turn marker, an end)."""
        if self._lib.llama_vocab_is_control(self.vocab, token):
            return None
        return self.piece(token)

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (self._lib.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", errors="replace")

    @property
    def bos_text(self) -> str:
        return self.token_text(self._lib.llama_vocab_bos(self.vocab))

    @property
    def eos_text(self) -> str:
        return self.token_text(self._lib.llama_vocab_eos(self.vocab))

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    # --- evaluation ------------------------------------------------------------------------

    def request_stop(self, stop: bool = True) -> None:
        """Make a running ``decode`` give up between two micro-batches."""
        self._stop_requested = stop

    def forget_from(self, position: int) -> None:
        """Drop the cache from ``position`` on (everything if 0)."""
        if position <= 0:
            self._lib.llama_memory_clear(self.memory, True)
        elif not self._lib.llama_memory_seq_rm(self.memory, 0, position, -1):
            self._lib.llama_memory_clear(self.memory, True)
            raise DecodeError("the cache could not be truncated")

    def keep_runs(self, runs: list[tuple[int, int, int]]) -> bool:
        """Keep only these runs of the cache, each ``(old_start, new_start, length)`` in order,
        moved down to their new positions; everything else is dropped. False (and an empty
        cache) if llama.cpp refused."""
        lib, memory = self._lib, self.memory
        position = 0
        for old_start, _new_start, length in runs:
            if old_start > position and not lib.llama_memory_seq_rm(memory, 0, position, old_start):
                break
            position = old_start + length
        else:
            if lib.llama_memory_seq_rm(memory, 0, position, -1):
                for old_start, new_start, length in runs:
                    if new_start != old_start:
                        lib.llama_memory_seq_add(
                            memory, 0, old_start, old_start + length, new_start - old_start
                        )
                return True
        lib.llama_memory_clear(memory, True)
        return False

    def decode(self, tokens: list[int], start: int) -> None:
        """Evaluate ``tokens`` at positions ``start``...; logits are kept for the last one."""
        lib = self._lib
        for offset in range(0, len(tokens), self.n_batch):
            part = tokens[offset : offset + self.n_batch]
            batch = lib.llama_batch_init(len(part), 0, 1)
            try:
                for i, token in enumerate(part):
                    batch.token[i] = token
                    batch.pos[i] = start + offset + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = offset + i == len(tokens) - 1
                batch.n_tokens = len(part)
                self._check(lib.llama_decode(self.ctx, batch))
            finally:
                lib.llama_batch_free(batch)

    def abortable(self, on: bool) -> None:
        """Whether an evaluation can be stopped part-way (``request_stop``). ggml asks after every
        operation of the graph, hundreds of times a token, and each question is a call into
        Python: worth it while a long prompt is read, not while single tokens are generated (an
        answer stops between two tokens anyway, a few milliseconds apart)."""
        callback = self._abort_callback if on else self._lib.ggml_abort_callback()
        self._lib.llama_set_abort_callback(self.ctx, callback, None)

    @contextlib.contextmanager
    def open_batch(self, size: int) -> Iterator[Any]:
        batch = self._lib.llama_batch_init(size, 0, 1)
        try:
            yield batch
        finally:
            self._lib.llama_batch_free(batch)

    def decode_all(self, tokens: list[int], start: int, batch: Any) -> None:
        """Evaluate ``tokens`` (no more than ``batch`` holds) with logits kept for every one:
        row ``i`` is then sampled with ``sample_row(chain, i)``."""
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = start + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        self._check(self._lib.llama_decode(self.ctx, batch))

    def decode_one(self, token: int, position: int, batch: Any) -> None:
        batch.token[0] = token
        batch.pos[0] = position
        self._check(self._lib.llama_decode(self.ctx, batch))

    def single_token_batch(self) -> Any:
        batch = self._lib.llama_batch_init(1, 0, 1)
        batch.n_tokens = 1
        batch.n_seq_id[0] = 1
        batch.seq_id[0][0] = 0
        batch.logits[0] = True
        return batch

    def free_batch(self, batch: Any) -> None:
        self._lib.llama_batch_free(batch)

    def _check(self, status: int) -> None:
        if status == 2 or (status != 0 and self._stop_requested):
            raise DecodeAborted()
        if status == 1:
            raise DecodeError("the context is full")
        if status != 0:
            raise DecodeError(f"llama_decode failed ({status})")

    # --- sampling --------------------------------------------------------------------------

    def sampler(self, settings: GenerationSettings, seed: int, grammar: Grammar | None = None) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if grammar is not None:
            # First in the chain: what the grammar rules out must be gone before top-k and top-p
            # choose among the rest, or they could keep only tokens it forbids.
            lib.llama_sampler_chain_add(chain, self._grammar_sampler(grammar, chain))
        if settings.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if settings.top_k > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(settings.top_k))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(settings.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(settings.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def _grammar_sampler(self, grammar: Grammar, chain: Any) -> Any:
        lib = self._lib
        text = grammar.text.encode("utf-8")
        if grammar.lazy:
            triggers = [self.tokenize(word, add_bos=False) for word in grammar.trigger_tokens]
            ids = [ids[0] for ids in triggers if len(ids) == 1]
            tokens = (lib.llama_token * len(ids))(*ids)
            sampler = lib.llama_sampler_init_grammar_lazy_patterns(
                self.vocab, text, b"root", None, 0, tokens, len(ids)
            )
        else:
            sampler = lib.llama_sampler_init_grammar(self.vocab, text, b"root")
        if not sampler:
            lib.llama_sampler_free(chain)
            raise GrammarError("llama.cpp could not read the grammar for this answer")
        return sampler

    def sample(self, chain: Any) -> int:
        return int(self._lib.llama_sampler_sample(chain, self.ctx, -1))

    def sample_row(self, chain: Any, row: int) -> int:
        return int(self._lib.llama_sampler_sample(chain, self.ctx, row))

    def free_sampler(self, chain: Any) -> None:
        self._lib.llama_sampler_free(chain)

    def set_threads(self, threads: int) -> None:
        """Run on this many threads from the next evaluation on (cheap: no reload)."""
        if threads != self.threads:
            self._lib.llama_set_n_threads(self.ctx, threads, threads)
            self.threads = threads

    # --- saved states (app.engine.saved_chats) --------------------------------------------

    def save_state(self) -> memoryview:
        """A copy of the cache (llama.cpp's sequence state)."""
        size = int(self._lib.llama_state_seq_get_size(self.ctx, 0))
        buffer = (ctypes.c_uint8 * max(1, size))()
        written = int(self._lib.llama_state_seq_get_data(self.ctx, buffer, size, 0))
        return memoryview(buffer).cast("B")[:written]

    def load_state(self, buffer: Any, size: int) -> bool:
        """Replace the cache by a saved one; False (and an empty cache) if llama.cpp refused it."""
        self._lib.llama_memory_clear(self.memory, True)
        if int(self._lib.llama_state_seq_set_data(self.ctx, buffer, size, 0)) == 0:
            self._lib.llama_memory_clear(self.memory, True)
            return False
        return True

    def close(self) -> None:
        if self.ctx:
            self._lib.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            self._lib.llama_model_free(self.model)
            self.model = None
