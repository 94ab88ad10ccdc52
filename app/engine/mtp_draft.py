"""A Gemma 4 multi-token-prediction assistant drafting for its model (``app.engine.speculative``).

The assistant has no cache of its own: its attention reads the model's (llama.cpp shares the
model's last sliding and last full layer with it), so it needs no catching up after a prompt, an
edit or a rejected guess. Each guess takes the token before it and a hidden state: first the
model's own, for the token it evaluated last, then the one the assistant hands itself. All the
guesses of one step sit at the same position, where the first token goes, as in llama.cpp's
``common/speculative.cpp`` for assistants that share the model's cache.

A mismatched pair stops the process inside llama.cpp (a failed assertion) as soon as the
assistant's context is made, so the pairing is checked beforehand and refused in words.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from typing import Any

from app.engine.native_model import NativeModel
from app.engine.speculative import MTP_ARCHITECTURE, DraftError

TARGET_ARCHITECTURE = "gemma4"
# Keys the assistant must state as the model does, when both state them: its queries meet the
# model's cached keys and values, so head sizes, head counts, window and RoPE must agree.
SHARED_ATTENTION_KEYS = (
    "attention.head_count_kv",
    "attention.key_length",
    "attention.key_length_swa",
    "attention.sliding_window",
    "rope.freq_base",
    "rope.freq_base_swa",
    "rope.dimension_count",
    "rope.dimension_count_swa",
)
_METADATA_BYTES = 256
MTP_CALLS = (
    "LLAMA_CONTEXT_TYPE_MTP",
    "llama_batch_ext_init",
    "llama_batch_ext_set_embd_token",
    "llama_process",
)


class MtpDrafter:
    kind = "mtp"

    def __init__(self, lib: Any, path: str, target: NativeModel, threads: int) -> None:
        name = os.path.basename(path)
        ext = _mtp_bindings(lib)
        if ext is None:
            raise DraftError("This build of llama.cpp cannot run multi-token-prediction assistants.")
        self._ext = ext
        self._lib, self._target = lib, target
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0  # as app.engine.draft_model: the assistant is small beside its model

        @lib.llama_progress_callback
        def quietly(_fraction: float, _user: ctypes.c_void_p) -> bool:
            return True  # (llama.cpp's own prints a dot per step)

        params.progress_callback = quietly
        model = lib.llama_model_load_from_file(path.encode("utf-8"), params)
        if not model:
            raise DraftError(f"The assistant “{name}” could not be loaded.")
        problem = _mismatch(lib, model, target)
        if problem:
            lib.llama_model_free(model)
            raise DraftError(f"“{name}” cannot draft for this model: {problem}.")
        ctx_params = lib.llama_context_default_params()
        ctx_params.ctx_type = lib.LLAMA_CONTEXT_TYPE_MTP
        ctx_params.ctx_other = target.ctx
        ctx_params.n_ctx = target.n_ctx
        ctx_params.n_batch = ctx_params.n_ubatch = 1  # one guess at a time
        ctx_params.n_seq_max = 1
        self._threads = threads or target.threads
        ctx_params.n_threads = ctx_params.n_threads_batch = self._threads
        ctx_params.swa_full = True  # as the model's cache, which this one views
        ctx_params.no_perf = True
        context = lib.llama_init_from_model(model, ctx_params)
        if not context:
            lib.llama_model_free(model)
            raise DraftError(f"llama.cpp could not set up the assistant “{name}” for this model.")
        self._model, self._ctx = model, context
        self._width = int(lib.llama_model_n_embd_out(model))
        # Hidden states only for rows with logits ("masked"): every row the assistant needs has
        # them (a prompt's last token, every row of a verification), and the model then spares
        # the rest of a prompt its last layer.
        self._ext.llama_set_embeddings_nextn(target.ctx, True, True)
        self._ext.llama_set_embeddings_nextn(context, True, True)
        self._batch = lib.llama_batch_ext_init(context)
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(self._chain, lib.llama_sampler_init_greedy())
        self._hidden = (ctypes.c_float * self._width)()  # the model's, for the token before ``last``
        self._has_hidden = False
        self._position = lib.llama_pos(0)

    def before_prompt(self) -> None:
        self._has_hidden = False

    def after_prompt(self) -> None:
        self._keep_target_row(-1)  # the prompt's last token (the only row with logits: "masked")

    def draft(self, context: Sequence[int], last: int, position: int, limit: int) -> list[int]:
        # llama.cpp takes a guess only where the model's cache ends (the guesses it keeps stay
        # in the cache, the others are dropped before the next draft).
        ends_at = int(self._lib.llama_memory_seq_pos_max(self._target.memory, 0)) + 1
        if not self._has_hidden or position != ends_at:
            return []
        lib = self._lib
        if self._threads != self._target.threads:  # the model follows the machine's load: so do we
            self._threads = self._target.threads
            lib.llama_set_n_threads(self._ctx, self._threads, self._threads)
        self._position.value = position
        token, hidden = last, ctypes.cast(self._hidden, ctypes.POINTER(ctypes.c_float))
        guesses: list[int] = []
        while len(guesses) < limit and hidden and self._evaluate(token, hidden):
            token = int(lib.llama_sampler_sample(self._chain, self._ctx, 0))
            guesses.append(token)
            if lib.llama_vocab_is_eog(self._target.vocab, token):
                break  # nothing follows the end of an answer
            hidden = self._ext.llama_get_embeddings_nextn_ith(self._ctx, 0)
        return guesses

    def _evaluate(self, token: int, hidden: Any) -> bool:
        """Run the assistant on ``token`` and ``hidden`` at the draft's position."""
        lib, batch = self._lib, self._batch
        lib.llama_batch_ext_clear(batch)
        row = lib.llama_batch_ext_add_token(batch, 0, token)
        # (The batch copies ``hidden``, which may point into the assistant's own last output.)
        filled = (
            row >= 0
            and lib.llama_batch_ext_set_pos(batch, row, ctypes.byref(self._position))
            and lib.llama_batch_ext_set_embd_token(batch, row, lib.llama_embd(hidden, 1, self._width))
            and lib.llama_batch_ext_set_output_logits(batch, row, True)
        )
        return bool(filled) and lib.llama_process(self._ctx, lib.LLAMA_PROCESS_TYPE_DECODE, batch) == 0

    def request_stop(self, stop: bool) -> None:
        pass  # a guess is one token on a few small layers: over in a moment

    def verified(self, accepted: int) -> None:
        # Row ``accepted`` of ``[last, *draft]`` is the last token kept, the one before the next
        # ``last`` (which the model's logits of that row give).
        self._keep_target_row(accepted)

    def _keep_target_row(self, row: int) -> None:
        source = self._ext.llama_get_embeddings_nextn_ith(self._target.ctx, row)
        self._has_hidden = bool(source)
        if source:
            ctypes.memmove(self._hidden, source, self._width * ctypes.sizeof(ctypes.c_float))

    def close(self) -> None:
        lib = self._lib
        if self._ctx:
            if self._target.ctx:
                self._ext.llama_set_embeddings_nextn(self._target.ctx, False, False)
            lib.llama_sampler_free(self._chain)
            lib.llama_batch_ext_free(self._batch)
            lib.llama_free(self._ctx)
            lib.llama_model_free(self._model)
            self._ctx = self._model = None


def _mtp_bindings(lib: Any) -> Any:
    """llama-cpp-python's bindings for llama.cpp's non-public MTP calls; None when this build has
    none, found now rather than half-way through an answer."""
    try:
        # Imported by name, not built from ``lib``: the app bundle takes in only the modules its
        # analysis sees imported.
        from llama_cpp import llama_cpp_ext as ext
    except (ImportError, AttributeError):  # (its import fails on a symbol the library lacks)
        return None
    return ext if all(hasattr(lib, call) for call in MTP_CALLS) else None


def _mismatch(lib: Any, model: Any, target: NativeModel) -> str:
    """Why the assistant ``model`` cannot draft for ``target`` ("" if it can)."""
    architecture = _metadata(lib, model, "general.architecture")
    if architecture != MTP_ARCHITECTURE:
        return f"it is not a Gemma 4 assistant (its architecture is “{architecture}”)"
    target_architecture = _metadata(lib, target.model, "general.architecture")
    if target_architecture != TARGET_ARCHITECTURE:
        return f"Gemma 4 assistants draft for Gemma 4 models, not “{target_architecture}” ones"
    width, target_width = int(lib.llama_model_n_embd_out(model)), int(lib.llama_model_n_embd(target.model))
    if width != target_width:
        return f"it was made for a model {width:,} wide, and this one is {target_width:,} wide"
    size = int(lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model)))
    target_size = int(lib.llama_vocab_n_tokens(target.vocab))
    if size != target_size:
        return f"their vocabularies differ in size ({size:,} and {target_size:,} tokens)"
    if int(lib.llama_model_n_layer(target.model)) < 2:
        return "the model has too few layers to share"
    for key in SHARED_ATTENTION_KEYS:
        ours = _metadata(lib, model, f"{MTP_ARCHITECTURE}.{key}")
        theirs = _metadata(lib, target.model, f"{TARGET_ARCHITECTURE}.{key}")
        if ours is not None and theirs is not None and ours != theirs:
            return f"its attention does not match the model's ({key} is {ours}, not {theirs})"
    return ""


def _metadata(lib: Any, model: Any, key: str) -> str | None:
    """A metadata value as llama.cpp prints it; None when absent or an array."""
    buffer = ctypes.create_string_buffer(_METADATA_BYTES)
    if lib.llama_model_meta_val_str(model, key.encode("utf-8"), buffer, _METADATA_BYTES) < 0:
        return None
    return buffer.value.decode("utf-8", errors="replace")
