"""A smaller model of the same family drafting for a larger one (E2B for 31B, say): the classic
speculative decoding of ``app.engine.speculative``, for models without an MTP assistant.

The draft keeps a cache of its own, of the text the target's holds (pictures and sounds left
out: it cannot see them, and its guesses are checked anyway), brought up to date before each
draft by comparing tokens, as the target's cache is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from app.engine.native_model import DecodeAborted, DecodeError, NativeModel
from app.engine.speculative import DraftError

# As llama.cpp's own check (common/speculative.cpp): the first few ids are special tokens that
# models of one family may number differently without their text differing.
FIRST_CHECKED_TOKEN = 5
MAX_VOCAB_SIZE_DIFFERENCE = 128
LONG_READ = 64  # tokens the draft reads at once (a prompt) past which Stop can interrupt it


def vocabulary_difference(lib: Any, draft: NativeModel, target: NativeModel) -> str:
    """Why ``draft`` cannot guess tokens for ``target`` ("" if it can): a guess is a token id,
    so both must give every id the same text and start and end a text alike."""
    draft_vocab, target_vocab = draft.vocab, target.vocab
    if lib.llama_vocab_type(draft_vocab) != lib.llama_vocab_type(target_vocab):
        return "their tokenizers are of different kinds"
    draft_size = int(lib.llama_vocab_n_tokens(draft_vocab))
    target_size = int(lib.llama_vocab_n_tokens(target_vocab))
    if abs(draft_size - target_size) > MAX_VOCAB_SIZE_DIFFERENCE:
        return f"their vocabularies differ in size ({draft_size:,} and {target_size:,} tokens)"
    if lib.llama_vocab_get_add_bos(draft_vocab) != lib.llama_vocab_get_add_bos(target_vocab) or (
        lib.llama_vocab_bos(draft_vocab) != lib.llama_vocab_bos(target_vocab)
        or lib.llama_vocab_eos(draft_vocab) != lib.llama_vocab_eos(target_vocab)
    ):
        return "they begin or end a text with different tokens"
    for token in range(FIRST_CHECKED_TOKEN, min(draft_size, target_size)):
        ours, theirs = draft.token_text(token), target.token_text(token)
        if ours != theirs:
            return (
                f"their vocabularies differ (token {token:,} is “{ours}” in one and “{theirs}” in the other)"
            )
    return ""


class DraftModel:
    kind = "draft model"

    def __init__(self, lib: Any, path: str, target: NativeModel, threads: int) -> None:
        name = os.path.basename(path)
        try:
            self._model = NativeModel(lib, path, target.n_ctx, threads, lambda _fraction: None)
        except (RuntimeError, MemoryError) as exc:
            raise DraftError(f"The draft model “{name}” could not be loaded ({exc}).") from None
        # A guess is one token: not worth a question per operation of the graph (see
        # NativeModel.abortable), unlike catching up with a long prompt.
        self._model.abortable(False)
        difference = vocabulary_difference(lib, self._model, target)
        if difference:
            self._model.close()
            raise DraftError(f"“{name}” cannot draft for this model: {difference}.")
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(self._chain, lib.llama_sampler_init_greedy())
        self._lib, self._target = lib, target
        self._batch = self._model.single_token_batch()
        self._cached: list[int] = []  # what the draft's cache holds

    def before_prompt(self) -> None:
        pass

    def after_prompt(self) -> None:
        pass

    def draft(self, context: Sequence[int], last: int, position: int, limit: int) -> list[int]:
        model = self._model
        if position + limit > model.n_ctx:
            return []  # the draft's context is shorter than the target's: the target goes on alone
        model.set_threads(self._target.threads)  # the model follows the machine's load: so does its draft
        tokens = [*context, last]
        same = _common_length(self._cached, tokens)
        same = min(same, len(tokens) - 1)  # the last token is evaluated again, for fresh logits
        try:
            model.forget_from(same)
            self._cached = tokens[:same]
            long_read = len(tokens) - same > LONG_READ
            model.abortable(long_read)
            try:
                model.decode(tokens[same:], same)
            finally:
                if long_read:
                    model.abortable(False)
            self._cached = tokens
            guesses: list[int] = []
            while True:
                guess = int(self._lib.llama_sampler_sample(self._chain, model.ctx, -1))
                guesses.append(guess)
                if len(guesses) == limit or model.is_end_of_generation(guess):
                    return guesses
                model.decode_one(guess, len(self._cached), self._batch)
                self._cached.append(guess)
        except DecodeAborted:  # the answer was stopped while the draft read the prompt
            model.forget_from(len(self._cached))
            return []
        except DecodeError:
            self._cached = []
            model.forget_from(0)
            return []

    def verified(self, accepted: int) -> None:
        pass

    def request_stop(self, stop: bool) -> None:
        self._model.request_stop(stop)

    def close(self) -> None:
        self._lib.llama_sampler_free(self._chain)
        self._model.free_batch(self._batch)
        self._model.close()


def _common_length(cached: list[int], tokens: list[int]) -> int:
    if len(cached) <= len(tokens) and tokens[: len(cached)] == cached:
        return len(cached)  # the usual case: the target went on from where the draft was
    same = 0
    for ours, theirs in zip(cached, tokens, strict=False):
        if ours != theirs:
            break
        same += 1
    return same
