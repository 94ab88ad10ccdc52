"""What the KV cache holds, and how much of a new prompt it already covers.

A prompt is a list of segments: runs of text tokens, and media chunks (an image or an audio
clip) known by the hash of their content. Text is compared token by token; media as a whole,
by hash, because an image's embeddings cannot be half reused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextSegment:
    tokens: tuple[int, ...]

    @property
    def n_pos(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class MediaSegment:
    media_id: str  # sha256 of the content
    n_pos: int  # positions it takes in the sequence
    n_tokens: int  # embeddings it contributes
    kind: str = "image"


Segment = TextSegment | MediaSegment


@dataclass(frozen=True)
class Reuse:
    """How much of a new prompt the cache already holds."""

    n_past: int  # positions to keep
    segment: int  # first segment (partly) left to evaluate
    token_offset: int  # tokens of that segment already cached (text segments only)


def find_reuse(cached: list[Segment], prompt: list[Segment]) -> Reuse:
    """The longest common prefix of ``cached`` and ``prompt``. At least one token is always
    left to evaluate, so that there are fresh logits to sample the answer from."""
    n_past = 0
    for index, (old, new) in enumerate(zip(cached, prompt, strict=False)):
        if isinstance(old, TextSegment) and isinstance(new, TextSegment):
            same = 0
            for a, b in zip(old.tokens, new.tokens, strict=False):
                if a != b:
                    break
                same += 1
            if same < len(new.tokens) or same < len(old.tokens):
                return _leave_one(prompt, Reuse(n_past + same, index, same))
            n_past += same
        elif old == new:
            n_past += new.n_pos
        else:
            return _leave_one(prompt, Reuse(n_past, index, 0))
    return _leave_one(prompt, Reuse(n_past, min(len(cached), len(prompt)), 0))


def _leave_one(prompt: list[Segment], reuse: Reuse) -> Reuse:
    total = sum(segment.n_pos for segment in prompt)
    if reuse.n_past < total:
        return reuse
    # The whole prompt is cached: re-evaluate its last text token (a prompt ends with text).
    last = len(prompt) - 1
    segment = prompt[last]
    if isinstance(segment, TextSegment) and segment.tokens:
        return Reuse(total - 1, last, len(segment.tokens) - 1)
    return Reuse(total - segment.n_pos, last, 0)


def prompt_positions(prompt: list[Segment]) -> int:
    return sum(segment.n_pos for segment in prompt)
