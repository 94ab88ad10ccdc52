"""Import chats from an archive made by ``export``: each becomes a new conversation, with its whole
tree, the branch it showed and every field as it was, and its pictures and sounds copied into the
data folder, checked against their sha256.

Nothing in the archive is trusted (see ``safe_zip`` and ``archive_schema``). An import is all or
nothing: the chats are written in one transaction, after every file is in place, and the files it
added are removed again if anything fails.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app.storage.archive_format import ATTACHMENT_ENTRY, JSON_ENTRY, ArchiveError
from app.storage.archive_schema import ArchivedAttachment, ArchivedConversation, parse_archive
from app.storage.attachment_files import AttachmentError, AttachmentFiles
from app.storage.db import DatabaseTooNewError, open_database, transaction
from app.storage.safe_zip import ArchiveLimits, CheckedZip
from app.storage.tool_records import calls_to_json


@dataclass(frozen=True)
class ImportResult:
    conversations: int
    messages: int
    attachments: int  # files copied into the data folder (or already there)


def import_chats(
    archive_path: Path, database: Path, attachments: Path, limits: ArchiveLimits | None = None
) -> ImportResult:
    """Add the chats in ``archive_path`` to ``database``; ``ArchiveError`` says why if it cannot,
    and then nothing has changed."""
    with CheckedZip(archive_path, limits) as archive:
        if JSON_ENTRY not in archive.entries:
            raise ArchiveError(f"{archive_path.name} holds no {JSON_ENTRY}: it is not an export of Hearth's.")
        conversations = parse_archive(archive.read(JSON_ENTRY))
        wanted = _files_to_copy(conversations, archive)
        files = AttachmentFiles(attachments)
        added: list[Path] = []
        try:
            stored = {sha: _copy(archive, files, a, added) for sha, a in wanted.items()}
            _save(database, conversations, stored, files)
        except BaseException:
            for path in added:
                with contextlib.suppress(OSError):
                    path.unlink()
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only if empty
            raise
    return ImportResult(len(conversations), sum(len(c.messages) for c in conversations), len(stored))


def _files_to_copy(
    conversations: list[ArchivedConversation], archive: CheckedZip
) -> dict[str, ArchivedAttachment]:
    """Each attachment file once, checked against the archive's directory before any is copied."""
    wanted: dict[str, ArchivedAttachment] = {}
    for conversation in conversations:
        for message in conversation.messages:
            for attachment in message.attachments:
                if attachment.file is None:
                    continue
                match = ATTACHMENT_ENTRY.fullmatch(attachment.file)
                if match is None or match["sha256"] != attachment.sha256:
                    raise ArchiveError(
                        f"hearth.json names “{attachment.file}” for {attachment.name}, "
                        "which is not where its file belongs."
                    )
                info = archive.entries.get(attachment.file)
                if info is None:
                    raise ArchiveError(f"The picture or sound “{attachment.file}” is not in the archive.")
                if info.file_size != attachment.size:
                    raise ArchiveError(
                        f"“{attachment.file}” in the archive is not the size hearth.json gives for it."
                    )
                wanted.setdefault(attachment.sha256, attachment)
    return wanted


def _copy(
    archive: CheckedZip, files: AttachmentFiles, attachment: ArchivedAttachment, added: list[Path]
) -> Path:
    assert attachment.file is not None
    suffix = PurePosixPath(attachment.file).suffix
    already_there = files.stored_path(attachment.sha256, suffix).exists()
    try:
        with archive.open(attachment.file) as reader:
            stored = files.import_stream(
                reader, attachment.kind, attachment.name, suffix, sha256=attachment.sha256
            )
    except AttachmentError as exc:
        raise ArchiveError(f"“{attachment.file}” in the archive: {exc}") from exc
    if not already_there:
        added.append(stored.path)
    return stored.path


def _save(
    database: Path,
    conversations: list[ArchivedConversation],
    stored: dict[str, Path],
    files: AttachmentFiles,
) -> None:
    try:
        conn = open_database(database)
    except (sqlite3.Error, DatabaseTooNewError) as exc:
        raise ArchiveError(f"The chats could not be saved ({exc}).") from exc
    try:
        with transaction(conn):
            for conversation in conversations:
                _insert(conn, conversation, stored, files)
    except sqlite3.Error as exc:
        raise ArchiveError(f"The chats could not be saved ({exc}).") from exc
    finally:
        conn.close()


def _insert(
    conn: sqlite3.Connection,
    conversation: ArchivedConversation,
    stored: dict[str, Path],
    files: AttachmentFiles,
) -> None:
    c = conversation
    cursor = conn.execute(
        "INSERT INTO conversations (title, title_is_custom, created_at, updated_at, model_path,"
        " system_prompt, settings_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            c.title,
            c.title_is_custom,
            c.created_at,
            c.updated_at,
            c.model_path,
            c.system_prompt,
            json.dumps(c.settings.to_dict()),
        ),
    )
    conversation_id = cursor.lastrowid
    # Inserted in the order of their old ids, so new ids keep that order: the order of versions
    # and which branch is newest depend on it. Parents are set once all exist, as a parent may
    # come after its child in that order.
    new_ids: dict[int, int] = {}
    for m in sorted(c.messages, key=lambda m: m.id):
        cursor = conn.execute(
            "INSERT INTO messages (conversation_id, role, content, reasoning, status, created_at,"
            " updated_at, stats_json, tool_calls_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                m.role,
                m.content,
                m.reasoning,
                str(m.status),
                m.created_at,
                m.updated_at,
                json.dumps(m.stats),
                calls_to_json(m.tool_calls),
            ),
        )
        assert cursor.lastrowid is not None
        new_ids[m.id] = cursor.lastrowid
        for position, a in enumerate(m.attachments):
            # A file that was missing at export is recorded where it would be, like any missing file.
            path = stored.get(a.sha256) or files.stored_path(a.sha256, PurePosixPath(a.name).suffix)
            conn.execute(
                "INSERT INTO attachments (message_id, position, kind, path, name, size, sha256, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (new_ids[m.id], position, a.kind, str(path), a.name, a.size, a.sha256, a.detail),
            )
    conn.executemany(
        "UPDATE messages SET parent_id = ? WHERE id = ?",
        [(new_ids[m.parent_id], new_ids[m.id]) for m in c.messages if m.parent_id is not None],
    )
    leaf = new_ids[c.leaf_id] if c.leaf_id is not None else None
    conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (leaf, conversation_id))
