"""Reads ``hearth.json`` from an archive into typed records, trusting nothing: the format and
version, every field's type, and each conversation's tree (parents that exist, no cycles) are
checked, and any problem is told in words saying where it is."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from app.core.gemma4 import MAX_IMAGE_TOKENS
from app.core.generation import GenerationSettings
from app.storage.archive_format import FORMAT, VERSION, ArchiveError
from app.storage.attachment_files import KINDS
from app.storage.chats import MessageStatus
from app.storage.tool_records import ToolCallRecord, calls_from_items

ROLES = ("system", "user", "assistant")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArchivedAttachment:
    sha256: str
    name: str
    kind: str
    size: int
    file: str | None  # its entry in the archive; None: the file was missing when exported
    detail: int = 0  # a picture's visual tokens (absent from archives made before it was kept)


@dataclass(frozen=True)
class ArchivedMessage:
    id: int  # the id in the archive, only to connect the tree
    parent_id: int | None
    role: str
    content: str
    reasoning: str
    status: MessageStatus
    created_at: float
    updated_at: float
    stats: dict[str, Any]
    attachments: tuple[ArchivedAttachment, ...]
    tool_calls: tuple[ToolCallRecord, ...] = ()


@dataclass(frozen=True)
class ArchivedConversation:
    title: str
    title_is_custom: bool
    created_at: float
    updated_at: float
    model_path: str
    system_prompt: str
    settings: GenerationSettings
    leaf_id: int | None
    messages: tuple[ArchivedMessage, ...]


def parse_archive(data: bytes) -> list[ArchivedConversation]:
    """The conversations in ``hearth.json``, or ``ArchiveError`` saying what is wrong."""
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArchiveError("hearth.json is not valid JSON: the archive is damaged.") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArchiveError("hearth.json is not a Hearth chats file.")
    version = document.get("version")
    if type(version) is not int:
        raise ArchiveError("hearth.json does not say which version of the format it is.")
    if version > VERSION:
        raise ArchiveError(
            f"These chats were exported by a newer Hearth (format version {version}); "
            "update Hearth to import them."
        )
    if version != VERSION:
        raise ArchiveError(f"hearth.json has a format version Hearth does not know ({version}).")
    conversations = _field(document, "conversations", list, "hearth.json")
    return [_conversation(item, f"chat {n}") for n, item in enumerate(conversations, 1)]


def _conversation(item: Any, where: str) -> ArchivedConversation:
    item = _object(item, where)
    messages = tuple(
        _message(m, f"{where}, message {n}") for n, m in enumerate(_field(item, "messages", list, where), 1)
    )
    leaf_id = _optional_id(item, "leaf_id", where)
    _check_tree(messages, leaf_id, where)
    return ArchivedConversation(
        title=_field(item, "title", str, where),
        title_is_custom=_field(item, "title_is_custom", bool, where),
        created_at=_time(item, "created_at", where),
        updated_at=_time(item, "updated_at", where),
        model_path=_field(item, "model_path", str, where),
        system_prompt=_field(item, "system_prompt", str, where),
        # Values out of range are brought into it, as for settings read from the database.
        settings=GenerationSettings.from_dict(_field(item, "settings", dict, where)),
        leaf_id=leaf_id,
        messages=messages,
    )


def _message(item: Any, where: str) -> ArchivedMessage:
    item = _object(item, where)
    role = _field(item, "role", str, where)
    if role not in ROLES:
        raise ArchiveError(f"hearth.json, {where}: “{role}” is not a speaker Hearth knows.")
    status = _field(item, "status", str, where)
    if status not in set(MessageStatus):
        raise ArchiveError(f"hearth.json, {where}: “{status}” is not a message status Hearth knows.")
    attachments = tuple(
        _attachment(a, f"{where}, attachment {n}")
        for n, a in enumerate(_field(item, "attachments", list, where), 1)
    )
    return ArchivedMessage(
        id=_id(item, "id", where),
        parent_id=_optional_id(item, "parent_id", where),
        role=role,
        content=_field(item, "content", str, where),
        reasoning=_field(item, "reasoning", str, where),
        status=MessageStatus(status),
        created_at=_time(item, "created_at", where),
        updated_at=_time(item, "updated_at", where),
        stats=_field(item, "stats", dict, where),
        attachments=attachments,
        # Archives from before tools have none; a call that cannot be read is left out.
        tool_calls=calls_from_items(item.get("tool_calls", [])),
    )


def _attachment(item: Any, where: str) -> ArchivedAttachment:
    item = _object(item, where)
    sha256 = _field(item, "sha256", str, where)
    if not _SHA256.fullmatch(sha256):
        raise ArchiveError(f"hearth.json, {where}: “sha256” is not a SHA-256 hash.")
    kind = _field(item, "kind", str, where)
    if kind not in KINDS:
        raise ArchiveError(f"hearth.json, {where}: “{kind}” is not a kind of attachment Hearth knows.")
    size = _field(item, "size", int, where)
    if not 0 <= size < 2**62:
        raise ArchiveError(f"hearth.json, {where}: “size” is not a file size.")
    file = item.get("file")
    if file is not None and not isinstance(file, str):
        raise ArchiveError(f"hearth.json, {where}: “file” should be text or null.")
    detail = item.get("detail", 0)
    if not isinstance(detail, int) or isinstance(detail, bool) or not 0 <= detail <= MAX_IMAGE_TOKENS:
        raise ArchiveError(f"hearth.json, {where}: “detail” is not a picture's detail.")
    return ArchivedAttachment(sha256, _field(item, "name", str, where), kind, size, file, detail)


def _check_tree(messages: tuple[ArchivedMessage, ...], leaf_id: int | None, where: str) -> None:
    parents: dict[int, int | None] = {}
    for message in messages:
        if message.id in parents:
            raise ArchiveError(f"hearth.json, {where}: two messages have the id {message.id}.")
        parents[message.id] = message.parent_id
    for message_id, parent in parents.items():
        if parent is not None and parent not in parents:
            raise ArchiveError(
                f"hearth.json, {where}: message {message_id} follows message {parent}, which is not there."
            )
    if leaf_id is not None and leaf_id not in parents:
        raise ArchiveError(f"hearth.json, {where}: the chat ends at message {leaf_id}, which is not there.")
    # Walk up from each message; reaching a message seen on this same walk is a cycle.
    reaches_root: set[int] = set()
    for start in parents:
        walk: list[int] = []
        on_walk: set[int] = set()
        node: int | None = start
        while node is not None and node not in reaches_root:
            if node in on_walk:
                raise ArchiveError(
                    f"hearth.json, {where}: message {node} follows itself through its parents (a cycle)."
                )
            walk.append(node)
            on_walk.add(node)
            node = parents[node]
        reaches_root.update(walk)


def _object(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ArchiveError(f"hearth.json, {where}: expected an object, found {_kind(item)}.")
    return item


_WORDS = {str: "text", bool: "true or false", int: "a whole number", list: "a list", dict: "an object"}


def _field(item: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = item.get(key)
    # bool is an int to Python, but not to JSON: true is no message id.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ArchiveError(f"hearth.json, {where}: “{key}” should be {_WORDS[kind]}, not {_kind(value)}.")
    return value


def _id(item: dict[str, Any], key: str, where: str) -> int:
    return int(_field(item, key, int, where))


def _optional_id(item: dict[str, Any], key: str, where: str) -> int | None:
    return None if item.get(key) is None else _id(item, key, where)


def _time(item: dict[str, Any], key: str, where: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise ArchiveError(f"hearth.json, {where}: “{key}” should be a time in seconds, not {_kind(value)}.")
    return float(value)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true or false", str: "text", list: "a list", dict: "an object"}.get(
        type(value), "a number"
    )


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
