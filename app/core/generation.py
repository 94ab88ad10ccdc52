"""Generation settings shared by chats, the protocol and the worker."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from app.core.gemma4 import AUTO_IMAGE_BUDGET, MAX_IMAGE_TOKENS


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling and context settings of one chat.

    Defaults follow Google's recommendation for Gemma 4 (temperature 1.0, top-p 0.95,
    top-k 64); the context length is kept modest so a laptop can hold the KV cache.
    """

    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int = 64
    max_tokens: int = 2048
    context_length: int = 8192
    think: bool = False
    seed: int = -1
    image_budget: int = AUTO_IMAGE_BUDGET  # visual tokens per picture, one of IMAGE_BUDGETS
    tools: bool = True  # offer the built-in tools (to a model that can call them)
    max_tool_rounds: int = 8  # rounds of tool calls in one answer before it must answer in words
    scanned_pages: int = 8  # scanned PDF pages read as pictures, per document
    speculative: bool = True  # let a drafter, when one is loaded, guess tokens ahead

    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "temperature": (0.0, 2.0),
        "top_p": (0.0, 1.0),
        "top_k": (0, 1000),
        "max_tokens": (1, 131072),
        "context_length": (256, 262144),
        "image_budget": (AUTO_IMAGE_BUDGET, MAX_IMAGE_TOKENS),
        "max_tool_rounds": (1, 32),
        "scanned_pages": (0, 100),
    }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Build settings from stored data, ignoring unknown keys and clamping out-of-range values."""
        if not data:
            return cls()
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known or value is None:
                continue
            default = getattr(cls(), name)
            try:
                value = type(default)(value)
            except (TypeError, ValueError, OverflowError):  # (int(float("inf")) overflows)
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue  # NaN compares false with everything: no limit would hold it
            if name in cls.LIMITS:
                low, high = cls.LIMITS[name]
                value = min(max(value, low), high)
            values[name] = value
        return replace(cls(), **values)
