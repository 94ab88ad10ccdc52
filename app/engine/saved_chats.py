"""Chats that resume instantly: a chat's KV cache, kept on disk after the user leaves it.

One file per chat and model, ``<chat>.<model fingerprint>.kvstate``:

    MAGIC | format (u32) | header length (u32) | payload length (u64) | sha256 (32 bytes) | header | payload

The header (JSON) names the model the state belongs to (its fingerprint: the files, their sizes
and dates, the context length and the llama.cpp version) and lists the segments the cache
holds, every token of them. The payload is llama.cpp's sequence state. The sha256 covers
header and payload: a damaged or truncated file is found out and ignored, never handed to
llama.cpp. Whether a state fits a new prompt is decided by comparing its tokens with the
prompt's (``prompt_cache.find_reuse``), never by the chat's name alone.

The folder is capped in total size; the states used least recently go first. This module does
not import llama.cpp: the UI deletes a chat's states with ``forget_chat``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.prompt_cache import MediaSegment, Segment, TextSegment

log = logging.getLogger(__name__)

MAGIC = b"HEARTHKV"
FORMAT = 1
SUFFIX = ".kvstate"
DEFAULT_CAP_BYTES = 4 * 2**30
_FIXED = struct.Struct("<8sIIQ32s")
_MAX_HEADER = 64 * 2**20  # a header larger than this is not one Hearth wrote
_CHAT_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def chat_key(conversation_id: int) -> str:
    """The name a chat's states go by."""
    return f"chat-{conversation_id}"


def valid_key(key: str) -> bool:
    return bool(_CHAT_KEY.fullmatch(key))


def fingerprint(files: list[str], context_length: int, engine_version: str) -> str:
    """What a state is only valid for: these exact files (path, size, date), this context length
    and this llama.cpp."""
    parts: list[Any] = [FORMAT, context_length, engine_version]
    for name in files:
        if not name:
            continue
        stat = os.stat(name)
        parts.append([os.path.realpath(name), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class SavedState:
    """A state file's header, read and checked; the payload is read only if it is worth it."""

    path: Path
    segments: list[Segment]
    header: bytes
    payload_length: int
    digest: bytes


class ChatStates:
    """The saved states of one loaded model (its ``fingerprint``) in ``folder``."""

    def __init__(self, folder: Path, cap_bytes: int, model_fingerprint: str) -> None:
        self.folder = folder
        self.cap_bytes = cap_bytes
        self.fingerprint = model_fingerprint

    def path_for(self, key: str) -> Path:
        return self.folder / f"{key}.{self.fingerprint[:20]}{SUFFIX}"

    def save(self, key: str, segments: list[Segment], payload: memoryview) -> int:
        """Write a chat's state (whole, or not at all); returns its size in bytes, 0 if it was not
        kept (larger than the cap, or the disk refused)."""
        header = json.dumps(
            {"fingerprint": self.fingerprint, "chat": key, "segments": [_dump(s) for s in segments]},
            separators=(",", ":"),
        ).encode()
        digest = hashlib.sha256(header)
        digest.update(payload)
        fixed = _FIXED.pack(MAGIC, FORMAT, len(header), len(payload), digest.digest())
        size = len(fixed) + len(header) + len(payload)
        target = self.path_for(key)
        if size > self.cap_bytes:
            target.unlink(missing_ok=True)  # an older, smaller state would now mislead
            return 0
        temporary = target.with_name(target.name + ".part")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as out:
                out.write(fixed)
                out.write(header)
                out.write(payload)
            os.replace(temporary, target)  # a reader sees the old state or the new, never half
        except OSError as exc:
            log.warning("the state of %s could not be saved: %s", key, exc)
            temporary.unlink(missing_ok=True)
            return 0
        self.evict(keep=target)
        return size

    def peek(self, key: str) -> SavedState | None:
        """The state saved for this chat and model, its header checked; None if there is none or
        it is not one to trust."""
        path = self.path_for(key)
        try:
            with open(path, "rb") as file:
                fixed = file.read(_FIXED.size)
                if len(fixed) != _FIXED.size:
                    raise ValueError("truncated")
                magic, version, header_length, payload_length, digest = _FIXED.unpack(fixed)
                if magic != MAGIC or version != FORMAT or header_length > _MAX_HEADER:
                    raise ValueError("not a state this Hearth wrote")
                if os.fstat(file.fileno()).st_size != _FIXED.size + header_length + payload_length:
                    raise ValueError("truncated or extended")
                header = file.read(header_length)
            data = json.loads(header)
            if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
                raise ValueError("not a state's header")
            if data.get("fingerprint") != self.fingerprint or data.get("chat") != key:
                raise ValueError("saved for another model or chat")
            segments = [_load(item) for item in data["segments"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the saved state %s: %s", path.name, exc)
            return None
        return SavedState(path, segments, header, payload_length, digest)

    def read_payload(self, saved: SavedState) -> Any | None:
        """The state's payload in a buffer llama.cpp can read, once its sha256 has been checked;
        None if the file changed or is damaged."""
        buffer = (ctypes.c_uint8 * max(1, saved.payload_length))()
        try:
            with open(saved.path, "rb") as file:
                file.seek(_FIXED.size + len(saved.header))
                read = file.readinto(buffer)
        except OSError as exc:
            log.warning("the saved state %s could not be read: %s", saved.path.name, exc)
            return None
        digest = hashlib.sha256(saved.header)
        digest.update(memoryview(buffer)[: saved.payload_length])
        if read != saved.payload_length or digest.digest() != saved.digest:
            log.warning("ignoring the saved state %s: it is damaged", saved.path.name)
            return None
        with contextlib.suppress(OSError):
            os.utime(saved.path)  # used now: the last to be evicted
        return buffer

    def forget(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def evict(self, keep: Path | None = None) -> None:
        """Delete the states used least recently until the folder is within its cap."""
        for leftover in self.folder.glob(f"*{SUFFIX}.part"):  # from a save that was cut short
            leftover.unlink(missing_ok=True)
        states = _states_in(self.folder)
        total = sum(size for _path, size, _used in states)
        for path, size, _used in sorted(states, key=lambda state: state[2]):
            if total <= self.cap_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size


def forget_chat(folder: Path, key: str) -> None:
    """Delete every state saved for this chat, whatever the model."""
    if not valid_key(key):
        return
    for path in folder.glob(f"{key}.*{SUFFIX}"):
        path.unlink(missing_ok=True)


def forget_all_chats(folder: Path) -> None:
    for path, _size, _used in _states_in(folder):
        path.unlink(missing_ok=True)


def saved_bytes(folder: Path) -> int:
    return sum(size for _path, size, _used in _states_in(folder))


def _states_in(folder: Path) -> list[tuple[Path, int, float]]:
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if entry.name.endswith(SUFFIX):
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append((Path(entry.path), stat.st_size, stat.st_mtime))
    return found


def _dump(segment: Segment) -> dict[str, Any]:
    if isinstance(segment, TextSegment):
        return {"tokens": list(segment.tokens)}
    return {
        "media": segment.media_id,
        "positions": segment.n_pos,
        "embeddings": segment.n_tokens,
        "kind": segment.kind,
    }


def _load(item: dict[str, Any]) -> Segment:
    if "tokens" in item:
        tokens = item["tokens"]
        if not all(type(token) is int for token in tokens):
            raise ValueError("a token is not a number")
        return TextSegment(tuple(tokens))
    media, positions, embeddings, kind = item["media"], item["positions"], item["embeddings"], item["kind"]
    if not (
        isinstance(media, str)
        and type(positions) is int
        and type(embeddings) is int
        and isinstance(kind, str)
    ):
        raise ValueError("a media segment is malformed")
    return MediaSegment(media, positions, embeddings, kind)
