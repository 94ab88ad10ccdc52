"""Speculative decoding: a cheap drafter guesses the next few tokens, the model checks them all
in one evaluation, and keeps the guesses it would have chosen itself.

Each kept token is sampled by the model's own sampler chain from the model's own logits, at the
position it would have had without a draft (``ModelRunner._sample``), so the answer follows the
model's distribution exactly: with a drafter that proposes one token ``x``, sampling ``y`` from
the model's distribution ``p`` and keeping ``x`` when ``y == x`` accepts with probability
``p(x)`` and otherwise yields ``y`` drawn from ``p`` without ``x``, which is the standard
acceptance rule (accept with ``min(1, p(x)/q(x))``, else resample from ``max(0, p - q)``) for a
draft distribution ``q`` that is all on ``x``. Greedy answers are the same token for token.

Two drafters: a Gemma 4 multi-token-prediction assistant, which reads the model's own cache
(``app.engine.mtp_draft``), and a smaller model of the same vocabulary with a cache of its own
(``app.engine.draft_model``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.gguf.drafters import MTP_ARCHITECTURE

DRAFT_MAX = 4  # tokens guessed per step: more is wasted work when guesses fail early


__all__ = ["DRAFT_MAX", "MTP_ARCHITECTURE", "DraftError", "DraftStats", "Drafter"]


class DraftError(ValueError):
    """A drafter that cannot go with this model; the message says why, in words."""


class Drafter(Protocol):
    """Guesses tokens for a model (the target) whose cache it may read but never writes."""

    kind: str  # "mtp" or "draft model", for the answer's statistics

    def before_prompt(self) -> None:
        """The target is about to evaluate a prompt (MTP: keep its hidden states)."""

    def after_prompt(self) -> None:
        """The target evaluated the prompt; its last logits are about to be sampled."""

    def draft(self, context: Sequence[int], last: int, position: int, limit: int) -> list[int]:
        """Up to ``limit`` tokens guessed to follow ``last``, which the target has not evaluated
        yet and which goes at ``position``. ``context`` is the text the target's cache holds
        before it (media left out), for drafters that keep a cache of their own."""
        ...

    def verified(self, accepted: int) -> None:
        """The target evaluated ``[last, *draft]`` at once and kept ``accepted`` of the draft."""

    def request_stop(self, stop: bool) -> None:
        """Make a long evaluation of the drafter's give up (called from another thread)."""

    def close(self) -> None: ...


@dataclass
class DraftStats:
    steps: int = 0  # evaluations of the target that checked a draft
    drafted: int = 0
    accepted: int = 0

    @property
    def accepted_per_step(self) -> float:
        return self.accepted / self.steps if self.steps else 0.0
