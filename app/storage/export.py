"""Export chats into one ``.zip`` (see ``archive_format``): Markdown to read, Hearth JSON to keep,
and each picture or sound once.

Runs off the UI thread, on a read-only connection of its own inside one read transaction, so a
chat being answered meanwhile is exported as it stood. The archive is written beside the target
and renamed at the end: a failed export never leaves half a zip.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sqlite3
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import __version__
from app.storage.archive_format import (
    CHATS_FOLDER,
    FORMAT,
    JSON_ENTRY,
    VERSION,
    ArchiveError,
    attachment_entry,
)
from app.storage.attachment_files import BLOCK_SIZE, AttachmentFiles
from app.storage.chats import Attachment, ChatStore, Conversation, Message
from app.storage.export_markdown import chat_file_name, render_chat
from app.storage.tool_records import calls_as_items

TEMP_PREFIX = ".hearth-export-"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    conversations: int
    messages: int
    attachments: int  # files in the archive
    missing: int  # attachment files that were gone or damaged, so are not in it


def export_chats(
    database: Path,
    attachments: Path,
    target: Path,
    conversation_ids: Sequence[int] | None = None,
    clock: Callable[[], float] = time.time,
) -> ExportResult:
    """Write the chats ``conversation_ids`` (every chat if None) to the zip ``target``."""
    try:
        uri = f"{database.absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        raise ArchiveError(f"The chats could not be read ({exc}).") from exc
    conn.row_factory = sqlite3.Row  # as ChatStore expects
    try:
        conn.execute("BEGIN")  # one snapshot for the whole export
        store = ChatStore(conn)
        if conversation_ids is None:
            conversations = sorted(store.list_conversations(), key=lambda c: c.id)
        else:
            found = (store.get_conversation(i) for i in conversation_ids)
            conversations = [c for c in found if c is not None]
        if not conversations:
            raise ArchiveError("There are no chats to export.")
        writer = _ArchiveWriter(conn, AttachmentFiles(attachments), target)
        return _write_atomically(target, lambda archive: writer.write(archive, conversations, clock()))
    except sqlite3.Error as exc:
        raise ArchiveError(f"The chats could not be read ({exc}).") from exc
    finally:
        conn.close()


def _write_atomically(target: Path, write: Callable[[zipfile.ZipFile], ExportResult]) -> ExportResult:
    try:
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise _write_error(target, exc) from exc
    temp = Path(temp_name)
    try:
        with open(fd, "w+b") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
                result = write(archive)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from exc
        raise
    return result


class _ArchiveWriter:
    def __init__(self, conn: sqlite3.Connection, files: AttachmentFiles, target: Path) -> None:
        self._conn = conn
        self._store = ChatStore(conn)
        self._files = files
        self._target = target
        self._entries: dict[str, str | None] = {}  # sha256 -> archive entry; None: not exported

    def write(self, archive: zipfile.ZipFile, conversations: list[Conversation], now: float) -> ExportResult:
        records, message_count = [], 0
        for number, conversation in enumerate(conversations, 1):
            ids = [
                i
                for (i,) in self._conn.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? ORDER BY id", (conversation.id,)
                )
            ]
            messages = self._store.messages_by_ids(ids)
            message_count += len(messages)
            for message in messages:
                for attachment in message.attachments:
                    if attachment.sha256 not in self._entries:
                        self._entries[attachment.sha256] = self._add_file(archive, attachment)
            chat_file = CHATS_FOLDER + chat_file_name(number, conversation.title)
            archive.writestr(chat_file, self._markdown(conversation, messages, chat_file))
            records.append(self._record(conversation, messages))
        document = {
            "format": FORMAT,
            "version": VERSION,
            "app_version": __version__,
            "exported_at": now,
            "conversations": records,
        }
        archive.writestr(JSON_ENTRY, json.dumps(document, ensure_ascii=False, indent=1))
        written = sum(1 for entry in self._entries.values() if entry)
        missing = len(self._entries) - written
        return ExportResult(self._target, len(conversations), message_count, written, missing)

    def _markdown(self, conversation: Conversation, messages: list[Message], chat_file: str) -> str:
        by_id = {m.id: m for m in messages}
        branch = [by_id[i] for i in self._store.path_ids(conversation.id) if i in by_id]
        alternatives = Counter(m.parent_id for m in messages)
        others = {m.id: alternatives[m.parent_id] - 1 for m in branch}
        return render_chat(conversation, branch, others, self._entries, chat_file)

    def _add_file(self, archive: zipfile.ZipFile, attachment: Attachment) -> str | None:
        """Copy one attachment in, checking it is still the file that was sent; None if it is gone
        or damaged (its entry then stays in the archive, unused, as zip entries cannot be taken back)."""
        suffix = attachment.path.suffix
        path = attachment.path
        if not path.is_file():  # the data folder was moved: the file is known by its hash
            path = self._files.stored_path(attachment.sha256, suffix)
        try:
            source = path.open("rb")
        except OSError:
            return None
        with source:
            # Pictures are already compressed: stored as they are, with their own date.
            stat = os.fstat(source.fileno())
            info = zipfile.ZipInfo(attachment_entry(attachment.sha256, suffix), _zip_time(stat.st_mtime))
            info.external_attr = 0o644 << 16
            digest = hashlib.sha256()
            with archive.open(info, "w", force_zip64=stat.st_size >= zipfile.ZIP64_LIMIT) as out:
                while block := source.read(BLOCK_SIZE):
                    digest.update(block)
                    out.write(block)
        return info.filename if digest.hexdigest() == attachment.sha256 else None

    def _record(self, conversation: Conversation, messages: list[Message]) -> dict[str, Any]:
        return {
            "id": conversation.id,
            "title": conversation.title,
            "title_is_custom": conversation.title_is_custom,
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
            "model_path": conversation.model_path,
            "system_prompt": conversation.system_prompt,
            "settings": conversation.settings.to_dict(),
            "leaf_id": conversation.leaf_id,
            "messages": [self._message_record(m) for m in messages],
        }

    def _message_record(self, message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "parent_id": message.parent_id,
            "role": message.role,
            "content": message.content,
            "reasoning": message.reasoning,
            "status": str(message.status),
            "created_at": message.created_at,
            "updated_at": message.updated_at,
            "stats": message.stats,
            "tool_calls": calls_as_items(message.tool_calls),
            "attachments": [
                {
                    "sha256": a.sha256,
                    "name": a.name,
                    "kind": a.kind,
                    "size": a.size,
                    "detail": a.detail,
                    "file": self._entries.get(a.sha256),
                }
                for a in message.attachments
            ],
        }


def _zip_time(timestamp: float) -> tuple[int, int, int, int, int, int]:
    year, month, day, hour, minute, second = time.localtime(timestamp)[:6]
    if year < 1980:  # the earliest date a zip can hold
        return (1980, 1, 1, 0, 0, 0)
    return (year, month, day, hour, minute, second)


def _write_error(target: Path, exc: OSError) -> ArchiveError:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return ArchiveError(f"Not enough disk space to write {target.name}.")
    return ArchiveError(f"{target.name} could not be written ({exc.strerror or exc}).")
