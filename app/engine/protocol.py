"""The wire protocol between the UI process and the inference worker.

One JSON object per line, each with a ``type`` and, in the worker's greeting, the protocol
version. Records are plain dataclasses and enums, so both sides agree on every field, and
``decode`` checks each field's type (nested ones included) against the dataclass annotations
(see ``json_records``): anything malformed is reported back as an ``error`` record instead of
crashing either side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from app.core.generation import GenerationSettings
from app.engine.json_records import RecordError, describe, from_json

PROTOCOL_VERSION = 7

# Room for a context length the bundled llama.cpp accepts, and for any machine's thread count.
LOAD_LIMITS: dict[str, tuple[float, float]] = {
    "context_length": GenerationSettings.LIMITS["context_length"],
    "threads": (0, 4096),
    "gpu_layers": (0, 100_000),
    "saved_chats_cap_mb": (0, 2**40),
}


class ProtocolError(ValueError):
    """A line that is not a valid message of this protocol version."""


# --- payloads ------------------------------------------------------------------------------


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MediaKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"


class MediaEncoding(StrEnum):
    FILE = "file"  # an image or sound file (PNG, JPEG, WAV, FLAC, MP3...)
    PCM = "pcm"  # raw mono float32 samples at the projector's rate, as the microphone gives them


class StopReason(StrEnum):
    END = "end"  # the model ended its answer
    LENGTH = "length"  # the answer reached max_tokens or the end of the context
    CANCELLED = "cancelled"
    TOOL_CALL = "tool_call"  # the model called a tool and waits for its response


class ToolChoice(StrEnum):
    AUTO = "auto"  # the model may call a tool; a call it starts is kept well-formed
    REQUIRED = "required"  # this turn must be a tool call
    NONE = "none"  # the tools stay described (the prompt does not change) but none may be called


@dataclass(frozen=True)
class MediaRef:
    """A picture or sound the worker reads from disk."""

    kind: MediaKind
    path: str
    encoding: MediaEncoding = MediaEncoding.FILE
    detail: int = 0  # a picture's visual tokens (app.media.picture_detail); 0: the answer's setting


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]  # whatever JSON the model wrote


@dataclass(frozen=True)
class ToolResponse:
    name: str
    response: dict[str, Any]  # what the tool gave, as the template writes it back to the model


@dataclass(frozen=True)
class ToolStep:
    """One round of an answer: the calls the model made and what the tools answered."""

    calls: list[ToolCall]
    responses: list[ToolResponse]
    reasoning: str = ""  # what the model thought before calling (with thinking on)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its parameters are a JSON schema of type "object"."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatTurn:
    role: Role
    content: str
    attachments: list[MediaRef] = field(default_factory=list)
    # An answer's tool rounds, before its ``content``; an answer still under way has its latest
    # round here and no content yet, and the model goes on from the tools' responses.
    tool_steps: list[ToolStep] = field(default_factory=list)
    id: int = 0  # the stored message's id (0: none, e.g. the system prompt)
    pinned: bool = False  # never left out when the chat outgrows the context
    tokens: int = 0  # its size as the model counted it before (0: not known yet)


@dataclass(frozen=True)
class TurnTokens:
    """How many tokens a turn took, for the UI to keep with the message."""

    id: int
    tokens: int


# --- messages ------------------------------------------------------------------------------


@dataclass
class Message:
    type: ClassVar[str] = ""

    def encode(self) -> bytes:
        payload = {"type": self.type, **asdict(self)}
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        # A lone surrogate (from a string the other side sent) is not UTF-8; written as "\udXXX"
        # it stays a valid JSON escape of the same string.
        return (text + "\n").encode("utf-8", errors="backslashreplace")


_REGISTRY: dict[str, type[Message]] = {}


def _register(cls: type[Message]) -> type[Message]:
    _REGISTRY[cls.type] = cls
    return cls


def message_types() -> list[type[Message]]:
    """Every message type of this protocol version."""
    return list(_REGISTRY.values())


@dataclass(frozen=True)
class RemoteServer:
    """An OpenAI-compatible server that answers instead of a local model (app.engine.remote_engine)."""

    url: str = ""  # "": the model is local
    model: str = ""
    api_key: str = field(default="", repr=False)  # never in a log line
    # What the user says the model takes, where the server does not say (llama-server does).
    vision: bool = False
    audio: bool = False


# --- UI -> worker -------------------------------------------------------------------------


@_register
@dataclass
class LoadModel(Message):
    type: ClassVar[str] = "load_model"
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = LOAD_LIMITS
    model_path: str
    context_length: int = 8192
    threads: int = 0  # 0: the performance cores, fewer while other programs keep some busy
    gpu_layers: int = 0  # layers llama.cpp offloads to a GPU (app.library.offload); 0: none
    projector_gpu: bool = False  # the projector runs on the GPU too
    # An mmproj file for images and audio; "auto": the one that belongs to the model; "": none.
    projector_path: str = "auto"
    display_name: str = ""  # the name to show; "": the one its download recorded, or its own
    # Where chats' KV states are kept so they resume instantly (app.engine.saved_chats), and the
    # most they may take together; "" or 0: not kept.
    saved_chats_folder: str = ""
    saved_chats_cap_mb: int = 0
    remote: RemoteServer = field(default_factory=RemoteServer)  # its url set: a server answers
    # A drafter for speculative decoding (app.engine.speculative): a Gemma 4 MTP assistant or a
    # smaller model of the same vocabulary; "auto": the assistant installed with it, if any; "": none.
    draft_path: str = ""


@_register
@dataclass
class UnloadModel(Message):
    type: ClassVar[str] = "unload_model"


@_register
@dataclass
class Generate(Message):
    """Answer the conversation ``messages``."""

    type: ClassVar[str] = "generate"
    request_id: str
    messages: list[ChatTurn]
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = ToolChoice.AUTO
    # A JSON schema the answer must follow (JSON output mode); empty: free text.
    response_schema: dict[str, Any] = field(default_factory=dict)
    # The chat the conversation is ("chat-12", see app.engine.saved_chats.chat_key); "": none,
    # its cache is never saved.
    chat: str = ""


@_register
@dataclass
class SaveChat(Message):
    """The user left the chat the cache holds (or is quitting): save its state now."""

    type: ClassVar[str] = "save_chat"


@_register
@dataclass
class ForgetChat(Message):
    """The chat was deleted: its saved states go, and the cache is never saved as its state."""

    type: ClassVar[str] = "forget_chat"
    chat: str


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
    tools: bool = False  # its chat template describes tools to the model
    gpu_layers: int = 0  # layers asked of a GPU (as loaded; llama.cpp's n_gpu_layers)
    gpu_offload: bool = False  # this build of llama.cpp can offload to a GPU at all
    drafter: str = ""  # the drafter loaded with it: "mtp", "draft model" or "" (none)
    draft_path: str = ""  # its file
    draft_problem: str = ""  # why the drafter asked for was left out, in words


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
    stop_reason: StopReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0
    total_ms: float = 0.0
    dropped_turns: int = 0  # turns sent but left out: the chat outgrew the context
    # The first turn the model still reads when turns were left out (its id; 0: nothing was).
    memory_start_id: int = 0
    turn_tokens: list[TurnTokens] = field(default_factory=list)  # sizes counted for this answer
    prompt_tokens_evaluated: int = 0  # prompt tokens not already in the cache
    media_encodes: int = 0  # images and audio clips that went through the encoder
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_errors: list[str] = field(default_factory=list)  # tool calls that could not be read
    threads: int = 0  # the threads the engine ended the answer on
    restored_tokens: int = 0  # positions read back from the chat's saved state, not evaluated
    draft_steps: int = 0  # evaluations that checked a drafter's guesses
    draft_guesses: int = 0  # tokens the drafter guessed
    draft_accepted: int = 0  # guesses kept: accepted per step is draft_accepted / draft_steps


@_register
@dataclass
class ChatSaved(Message):
    """The answer to ``save_chat``: the state written (bytes 0: there was nothing to save)."""

    type: ClassVar[str] = "chat_saved"
    chat: str = ""
    bytes: int = 0
    save_ms: float = 0.0


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


# --- decoding ------------------------------------------------------------------------------


def decode(line: bytes | str) -> Message:
    """Parse one line into its message record, or raise ``ProtocolError`` naming the message
    type and the path of the field at fault (``generate.messages[0].role: ...``)."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})") from None
    except RecursionError:
        raise ProtocolError("not JSON: nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"a message must be a JSON object, got {describe(data)}")
    kind = data.pop("type", None)
    cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {describe(kind)}")
    try:
        return from_json(cls, data, kind)
    except RecordError as exc:
        raise ProtocolError(str(exc)) from None


def greeting_version(line: bytes | str) -> int | None:
    """The protocol version a ``hello`` line announces, read leniently: a worker of another
    version may greet with other fields, and must still be told apart from a broken one."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data.get("type") == Hello.type:
        version = data.get("protocol")
        if isinstance(version, int) and not isinstance(version, bool):
            return version
    return None
