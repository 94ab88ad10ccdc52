"""The wire protocol between the UI process and the inference worker.

One JSON object per line, each with a ``type`` and, in the worker's greeting, the protocol
version. Records are plain dataclasses so both sides agree on fields; anything malformed is
reported back as an ``error`` record instead of crashing either side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

PROTOCOL_VERSION = 1


class ProtocolError(ValueError):
    """A line that is not a valid message of this protocol version."""


@dataclass
class Message:
    type: ClassVar[str] = ""

    def encode(self) -> bytes:
        payload = {"type": self.type, **asdict(self)}
        return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


_REGISTRY: dict[str, type[Message]] = {}


def _register(cls: type[Message]) -> type[Message]:
    _REGISTRY[cls.type] = cls
    return cls


# --- UI -> worker -------------------------------------------------------------------------


@_register
@dataclass
class LoadModel(Message):
    type: ClassVar[str] = "load_model"
    model_path: str
    context_length: int = 8192
    threads: int = 0
    # An mmproj file for images and audio; "auto": the one that belongs to the model; "": none.
    projector_path: str = "auto"
    display_name: str = ""  # the name to show; "": the one its download recorded, or its own


@_register
@dataclass
class UnloadModel(Message):
    type: ClassVar[str] = "unload_model"


@_register
@dataclass
class Generate(Message):
    """Answer the conversation ``messages`` (dicts with ``role`` and ``content``)."""

    type: ClassVar[str] = "generate"
    request_id: str
    messages: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


@_register
@dataclass
class Cancel(Message):
    type: ClassVar[str] = "cancel"
    request_id: str = ""


@_register
@dataclass
class Shutdown(Message):
    type: ClassVar[str] = "shutdown"


# --- worker -> UI -------------------------------------------------------------------------


@_register
@dataclass
class Hello(Message):
    type: ClassVar[str] = "hello"
    protocol: int
    app_version: str
    pid: int


@_register
@dataclass
class LoadProgress(Message):
    type: ClassVar[str] = "load_progress"
    fraction: float


@_register
@dataclass
class ModelLoaded(Message):
    type: ClassVar[str] = "model_loaded"
    model_path: str
    name: str
    architecture: str
    context_length: int
    context_length_train: int
    load_ms: float
    has_chat_template: bool
    vision: bool = False
    audio: bool = False
    projector_path: str = ""


@_register
@dataclass
class ModelUnloaded(Message):
    type: ClassVar[str] = "model_unloaded"


@_register
@dataclass
class LoadFailed(Message):
    type: ClassVar[str] = "load_failed"
    model_path: str
    reason: str  # a stable code, see app.engine.model_check.LoadProblem
    message: str  # words for the user


@_register
@dataclass
class Delta(Message):
    """Newly generated text, coalesced over a few tens of milliseconds."""

    type: ClassVar[str] = "delta"
    request_id: str
    text: str = ""
    reasoning: str = ""


@_register
@dataclass
class Done(Message):
    type: ClassVar[str] = "done"
    request_id: str
    stop_reason: str  # "end", "length", "cancelled", "tool_call"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    total_ms: float = 0.0
    dropped_turns: int = 0
    prompt_tokens_evaluated: int = 0  # prompt tokens not already in the cache
    media_encodes: int = 0  # images and audio clips that went through the encoder
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments"} or {"error"}


@_register
@dataclass
class GenerationFailed(Message):
    type: ClassVar[str] = "generation_failed"
    request_id: str
    message: str


@_register
@dataclass
class Error(Message):
    """A request the worker could not understand or perform."""

    type: ClassVar[str] = "error"
    message: str


def decode(line: bytes | str) -> Message:
    """Parse one line into its message record, or raise ``ProtocolError``."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object")
    kind = data.pop("type", None)
    cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ProtocolError(f"{kind}: unknown fields {sorted(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ProtocolError(f"{kind}: {exc}") from None
