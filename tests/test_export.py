"""Export and import of chats with real SQLite, real files and real zips: a round trip loses
nothing, the Markdown reads well, and hostile archives are refused in words without changing
anything."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import posixpath
import re
import sqlite3
import stat
import struct
import wave
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.core.generation import GenerationSettings
from app.core.paths import AppPaths, resolve_paths
from app.storage.archive_format import JSON_ENTRY, ArchiveError
from app.storage.attachment_files import AttachmentFiles, StoredFile
from app.storage.chats import ChatStore, MessageStatus
from app.storage.db import open_database
from app.storage.export import export_chats
from app.storage.import_chats import import_chats
from app.storage.safe_zip import ArchiveLimits
from app.storage.tool_records import CallState, ToolCallRecord

CALLS = [
    ToolCallRecord(0, "calculator", {"expression": "2**10"}, CallState.DONE, "1024", 0.4),
    ToolCallRecord(
        1, "read_file", {"path": "notes/a.txt"}, CallState.DENIED, "The user did not allow it.", 0
    ),
]
CODE = "Here it is:\n\n```python\ndef greet(name):\n    return f'Hello, {name}!'\n```\n\nRun it."


def home(tmp_path: Path, name: str) -> AppPaths:
    return resolve_paths(tmp_path / name).ensure()


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def sound_bytes(seconds: float = 0.25) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(bytes(range(256)) * int(16000 * 2 * seconds / 256))
    return out.getvalue()


@pytest.fixture
def source(tmp_path) -> Iterator[tuple[AppPaths, ChatStore]]:
    paths = home(tmp_path, "source")
    ticks = count()
    # Times with many digits, so a float that loses precision on the way shows.
    store = ChatStore(
        open_database(paths.database), clock=lambda: 1_714_000_000.123456789 + next(ticks) * 61.7
    )
    yield paths, store
    store.close()


def build_chats(paths: AppPaths, store: ChatStore, tmp_path: Path) -> dict[str, Any]:
    """Two chats with every kind of content, one empty chat and one deleted chat."""
    files = AttachmentFiles(paths.attachments)
    beach = files.import_file(picture(tmp_path / "beach.png", (200, 180, 90)), "image", "beach day.png")
    chart = files.import_file(picture(tmp_path / "chart.png", (20, 40, 200)), "image", "chart [v2].png")
    voice = files.import_bytes(sound_bytes(), "audio", "question.wav", ".wav")

    settings = GenerationSettings(
        temperature=0.7, top_p=0.9, top_k=40, think=True, seed=1234, image_budget=560
    )
    chat = store.create_conversation(
        "/models/gemma-4-E2B-it-Q4_K_M.gguf", "Be brief.\nUse metric units.", settings
    )
    # The chart was sent at the most detail (its text), the beach at the chat's.
    chart_sent = dataclasses.replace(chart, detail=1120)
    question = store.add_message(
        chat.id, "user", "What is in these pictures?", attachments=[beach, chart_sent, voice]
    )
    first = store.add_message(
        chat.id, "assistant", "A beach and a chart.", reasoning="Two pictures, one sound."
    )
    store.update_message(
        first.id, stats={"tokens_per_s": 31.415926535, "prompt_tokens": 812, "cached": [1, 2.5]}
    )
    # A regenerated answer (stopped part-way, inside a code block), then an edited question.
    second = store.add_message(chat.id, "assistant", "```python\nprint(", parent_id=question.id)
    store.update_message(second.id, status=MessageStatus.STOPPED, reasoning="Thinking **hard**.")
    store.add_message(chat.id, "user", "Describe the chart only.", parent_id=None, attachments=[chart])
    answer = store.add_message(chat.id, "assistant", CODE, reasoning="The chart is blue.")
    store.update_message(answer.id, stats={"tokens_per_s": 12.0, "finish": "stop"}, tool_calls=CALLS)
    follow_up = store.add_message(chat.id, "user", "Thanks!")
    failed = store.add_message(chat.id, "assistant", "", status=MessageStatus.ERROR)
    store.add_message(
        chat.id, "assistant", "Cut off", parent_id=follow_up.id, status=MessageStatus.INTERRUPTED
    )
    store.show_branch(chat.id, failed.id)  # the branch on show is not the newest one
    store.rename_conversation(chat.id, "Beach / chart: day 1")

    other = store.create_conversation(settings=GenerationSettings(context_length=4096))
    store.add_message(other.id, "user", "Hello again", attachments=[beach])  # the same picture, kept once
    store.add_message(other.id, "assistant", "Hi!", status=MessageStatus.STREAMING)
    store.create_conversation()  # an empty chat
    gone = store.create_conversation()
    store.add_message(gone.id, "user", "delete me")
    store.delete_conversation(gone.id)
    return {"chat": chat.id, "second": second.id, "files": (beach, chart, voice)}


def snapshot(paths: AppPaths) -> list[dict[str, Any]]:
    """Every field of every chat and message, with ids replaced by their rank in the chat (the
    order of ids is kept by an import), and each attachment's file by its folder and content."""
    conn = sqlite3.connect(paths.database)
    conn.row_factory = sqlite3.Row
    store = ChatStore(conn)
    chats = []
    for c in sorted(store.list_conversations(), key=lambda c: c.id):
        query = "SELECT id FROM messages WHERE conversation_id = ? ORDER BY id"
        ids = [i for (i,) in conn.execute(query, (c.id,))]
        rank = {message_id: n for n, message_id in enumerate(ids)}
        chat = asdict(c) | {"id": None, "leaf_id": rank.get(c.leaf_id)}
        chat["branch"] = [rank[i] for i in store.path_ids(c.id)]
        chat["messages"] = []
        for m in store.messages_by_ids(ids):
            message = asdict(m) | {
                "id": rank[m.id],
                "conversation_id": None,
                "parent_id": rank.get(m.parent_id),
            }
            message["versions"] = [rank[i] for i in store.siblings([m.id])[m.id]]
            message["attachments"] = [
                a
                | {"id": None, "message_id": None, "path": None, "folder": a["path"].parent.parent}
                | {"content": hashlib.sha256(a["path"].read_bytes()).hexdigest()}
                for a in message["attachments"]
            ]
            chat["messages"].append(message)
        chats.append(chat)
    conn.close()
    return chats


def without_folder(chats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for chat in chats:
        for message in chat["messages"]:
            for attachment in message["attachments"]:
                del attachment["folder"]
    return chats


def normalised_document(archive: Path) -> dict[str, Any]:
    """hearth.json with each message id replaced by its rank in its chat, and the chat ids and
    export time left out."""
    with zipfile.ZipFile(archive) as z:
        document = json.loads(z.read(JSON_ENTRY))
    document.pop("exported_at")
    for chat in document["conversations"]:
        chat.pop("id")
        rank = {m["id"]: n for n, m in enumerate(sorted(chat["messages"], key=lambda m: m["id"]))}
        chat["leaf_id"] = rank.get(chat["leaf_id"])
        for m in chat["messages"]:
            m["id"], m["parent_id"] = rank[m["id"]], rank.get(m["parent_id"])
    return document


def test_a_round_trip_loses_nothing(tmp_path, source):
    paths, store = source
    built = build_chats(paths, store, tmp_path)
    archive = tmp_path / "all chats.zip"
    result = export_chats(paths.database, paths.attachments, archive)
    assert (result.conversations, result.messages, result.attachments, result.missing) == (3, 10, 3, 0)
    assert not list(tmp_path.glob(".hearth-export-*")), "no temporary file is left beside the archive"

    fresh = home(tmp_path, "fresh")
    imported = import_chats(archive, fresh.database, fresh.attachments)
    assert (imported.conversations, imported.messages, imported.attachments) == (3, 10, 3)

    before, after = snapshot(paths), snapshot(fresh)
    assert [m["versions"] for m in after[0]["messages"]][:3] == [[0, 3], [1, 2], [1, 2]]
    assert (
        after[0]["branch"] == before[0]["branch"]
        and before[0]["branch"][-1] != len(before[0]["messages"]) - 1
    )
    assert without_folder(before) == without_folder(after)
    assert [a["detail"] for a in after[0]["messages"][0]["attachments"]] == [0, 1120, 0]
    # The copies live in the new data folder, byte for byte the files that were sent.
    for chat in snapshot(fresh):
        for message in chat["messages"]:
            assert all(a["folder"] == fresh.attachments for a in message["attachments"])
    for stored in built["files"]:
        copy = AttachmentFiles(fresh.attachments).stored_path(stored.sha256, stored.path.suffix)
        assert copy.read_bytes() == stored.path.read_bytes()

    again = tmp_path / "again.zip"
    export_chats(fresh.database, fresh.attachments, again)
    assert normalised_document(again) == normalised_document(archive)


def test_the_markdown_reads_well_and_its_pictures_are_in_the_archive(tmp_path, source):
    paths, store = source
    build_chats(paths, store, tmp_path)
    archive = tmp_path / "chats.zip"
    export_chats(paths.database, paths.attachments, archive)
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        chats = sorted(name for name in names if name.startswith("chats/"))
        assert chats == [
            "chats/001-Beach chart day 1.md",
            "chats/002-Hello again.md",
            "chats/003-New chat.md",
        ]
        text = z.read(chats[0]).decode("utf-8")
        links = re.findall(r"\]\((\.\./attachments/[^)]+)\)", text)
        for link in links:
            assert posixpath.normpath(posixpath.join("chats", link)) in names
        sent_first = z.read(chats[1]).decode("utf-8")

    assert text.startswith("# Beach / chart: day 1\n")
    assert "model gemma-4-E2B-it-Q4_K_M.gguf" in text and "> Be brief.\n> Use metric units." in text
    # The branch on show: from the edited question on, not the versions before it.
    assert text.count("## You · ") == 2 and text.count("## Assistant · ") == 2
    assert "Describe the chart only." in text and "What is in these pictures?" not in text
    assert CODE in text
    assert "<details>\n<summary>Reasoning</summary>\n\nThe chart is blue.\n\n</details>" in text
    assert (
        "<summary>Tool: calculator (done, 0 ms)</summary>\n\n"
        'Arguments: `{"expression": "2**10"}`\n\n~~~\n1024\n~~~' in text
    )
    assert "<summary>Tool: read_file (denied, 0 ms)</summary>" in text
    assert "*(1 other version of this question is in hearth.json.)*" in text
    assert "*This answer failed.*\n\n*(1 other version of this answer is in hearth.json.)*" in text
    assert re.search(r"!\[chart \\\[v2\\\]\.png\]\(\.\./attachments/[0-9a-f]{64}\.png\)", text)
    assert len(links) == 1
    assert re.search(r"## You · \d{4}-\d\d-\d\d \d\d:\d\d", text)
    assert (
        "![beach day.png](../attachments/" in sent_first
        and "This answer was still being written." in sent_first
    )


def test_a_stopped_code_block_is_closed_and_sounds_are_links(tmp_path, source):
    paths, store = source
    built = build_chats(paths, store, tmp_path)
    store.show_branch(built["chat"], built["second"])  # the first question and its second answer
    archive = tmp_path / "one.zip"
    result = export_chats(paths.database, paths.attachments, archive, [built["chat"]])
    assert result.conversations == 1
    with zipfile.ZipFile(archive) as z:
        (name,) = [n for n in z.namelist() if n.startswith("chats/")]
        text = z.read(name).decode("utf-8")
        assert len(json.loads(z.read(JSON_ENTRY))["conversations"]) == 1
    assert "[Sound: question.wav](../attachments/" in text
    assert "```python\nprint(\n```\n" in text and "*Stopped before the end.*" in text
    assert "*(1 other version of this answer is in hearth.json.)*" in text


def test_a_missing_attachment_file_does_not_stop_the_export(tmp_path, source):
    paths, store = source
    built = build_chats(paths, store, tmp_path)
    beach: StoredFile = built["files"][0]
    beach.path.unlink()
    archive = tmp_path / "chats.zip"
    result = export_chats(paths.database, paths.attachments, archive)
    assert (result.attachments, result.missing) == (2, 1)
    with zipfile.ZipFile(archive) as z:
        assert (
            "*(beach day.png was missing when this chat was exported.)*"
            in z.read("chats/002-Hello again.md").decode()
        )
    fresh = home(tmp_path, "fresh")
    import_chats(archive, fresh.database, fresh.attachments)
    store2 = ChatStore(open_database(fresh.database))
    hello = next(c for c in store2.list_conversations() if c.title == "Hello again")
    (kept,) = store2.messages(hello.id)[0].attachments
    assert (kept.name, kept.sha256, kept.path.exists()) == ("beach day.png", beach.sha256, False)
    store2.close()


def test_an_export_that_fails_leaves_no_file(tmp_path, source):
    paths, store = source
    build_chats(paths, store, tmp_path)
    target = tmp_path / "no such folder" / "chats.zip"
    with pytest.raises(ArchiveError, match="could not be written"):
        export_chats(paths.database, paths.attachments, target)
    empty = home(tmp_path, "empty")
    open_database(empty.database).close()
    with pytest.raises(ArchiveError, match="no chats to export"):
        export_chats(empty.database, empty.attachments, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists() and not list(tmp_path.glob(".hearth-export-*"))


# --- hostile archives ------------------------------------------------------------------------


@pytest.fixture
def valid_archive(tmp_path, source) -> Path:
    paths, store = source
    build_chats(paths, store, tmp_path)
    archive = tmp_path / "valid.zip"
    export_chats(paths.database, paths.attachments, archive)
    return archive


@pytest.fixture
def target(tmp_path) -> Iterator[AppPaths]:
    """A home with a chat and an attachment of its own, which no refused import may touch."""
    paths = home(tmp_path, "target")
    store = ChatStore(open_database(paths.database))
    mine = AttachmentFiles(paths.attachments).import_file(picture(tmp_path / "mine.png", (1, 2, 3)), "image")
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "my own chat", attachments=[mine])
    store.close()
    yield paths


def state(paths: AppPaths) -> tuple[list[Any], dict[str, bytes]]:
    conn = sqlite3.connect(paths.database)
    rows = [
        list(conn.execute(f"SELECT * FROM {table} ORDER BY rowid"))
        for table in ("conversations", "messages", "attachments")
    ]
    conn.close()
    files = {
        str(p.relative_to(paths.attachments)): p.read_bytes()
        for p in paths.attachments.rglob("*")
        if p.is_file()
    }
    return rows, files


def rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None] = lambda n, d: d) -> Path:
    """A copy of ``archive`` with each entry's data passed through ``change`` (None drops it)."""
    with zipfile.ZipFile(archive) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in z.infolist():
            data = change(info.filename, z.read(info))
            if data is not None:
                new.writestr(info.filename, data)
    return out


def change_json(archive: Path, out: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    def change(name: str, data: bytes) -> bytes:
        if name != JSON_ENTRY:
            return data
        document = json.loads(data)
        edit(document)
        return json.dumps(document).encode()

    return rewrite(archive, out, change)


def with_entry(archive: Path, out: Path, info: zipfile.ZipInfo | str, data: bytes, **options) -> Path:
    rewrite(archive, out)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr(info, data, **options)
    return out


def lie_about_size(archive: Path, name: str, declared: int) -> None:
    """Patch the uncompressed size of ``name`` in its local header and the central directory."""
    data = bytearray(archive.read_bytes())
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        for match in re.finditer(re.escape(signature), data):
            start = match.start()
            if data[start + name_at : start + name_at + len(encoded)] == encoded:
                struct.pack_into("<I", data, start + size_at, declared)
    archive.write_bytes(bytes(data))


def first_message(document: dict[str, Any]) -> dict[str, Any]:
    return document["conversations"][0]["messages"][0]


def cycle(document: dict[str, Any]) -> None:
    a, b = document["conversations"][0]["messages"][:2]
    a["parent_id"], b["parent_id"] = b["id"], a["id"]


def symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("attachments/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


HOSTILE: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "path traversal": (lambda a, o: with_entry(a, o, "../evil", b"x"), "points outside the archive"),
    "deep traversal": (lambda a, o: with_entry(a, o, "chats/../../evil", b"x"), "points outside"),
    "absolute path": (lambda a, o: with_entry(a, o, "/etc/evil", b"x"), "has an absolute path"),
    "drive letter": (lambda a, o: with_entry(a, o, "C:/evil", b"x"), "has an absolute path"),
    "backslash": (lambda a, o: with_entry(a, o, "..\\evil", b"x"), "backslash"),
    "symlink": (lambda a, o: with_entry(a, o, symlink_entry(), b"/etc/passwd"), "symbolic link"),
    "zip bomb": (
        lambda a, o: with_entry(
            a, o, "chats/bomb.md", bytes(32 * 1024**2), compress_type=zipfile.ZIP_DEFLATED
        ),
        "as a zip bomb does",
    ),
    "not a zip": (lambda a, o: (o.write_bytes(b"PK\x03\x04 nothing more"), o)[1], "not a zip archive"),
    "no hearth.json": (
        lambda a, o: rewrite(a, o, lambda n, d: None if n == JSON_ENTRY else d),
        "holds no hearth.json",
    ),
    "malformed JSON": (
        lambda a, o: rewrite(a, o, lambda n, d: d[:-40] if n == JSON_ENTRY else d),
        "hearth.json is not valid JSON",
    ),
    "not our format": (
        lambda a, o: change_json(a, o, lambda d: d.update(format="other")),
        "not a Hearth chats file",
    ),
    "newer version": (
        lambda a, o: change_json(a, o, lambda d: d.update(version=2)),
        "exported by a newer Hearth",
    ),
    "wrong type": (
        lambda a, o: change_json(a, o, lambda d: first_message(d).update(content=5)),
        "chat 1, message 1: “content” should be text, not a number",
    ),
    "true as an id": (
        lambda a, o: change_json(a, o, lambda d: first_message(d).update(id=True)),
        "“id” should be a whole number, not true or false",
    ),
    "NaN time": (
        lambda a, o: rewrite(
            a,
            o,
            lambda n, d: (
                re.sub(rb'"created_at": [^,]+', b'"created_at": NaN', d, count=1) if n == JSON_ENTRY else d
            ),
        ),
        "not valid JSON",
    ),
    "unknown status": (
        lambda a, o: change_json(a, o, lambda d: first_message(d).update(status="pending")),
        "“pending” is not a message status",
    ),
    "missing parent": (
        lambda a, o: change_json(a, o, lambda d: first_message(d).update(parent_id=999_999)),
        "follows message 999999, which is not there",
    ),
    "parent cycle": (lambda a, o: change_json(a, o, cycle), "a cycle"),
    "missing leaf": (
        lambda a, o: change_json(a, o, lambda d: d["conversations"][0].update(leaf_id=424242)),
        "ends at message 424242",
    ),
    "escaping file name": (
        lambda a, o: change_json(
            a,
            o,
            lambda d: first_message(d)["attachments"][0].update(
                file="../" + first_message(d)["attachments"][0]["file"]
            ),
        ),
        "not where its file belongs",
    ),
}


def refuse(archive: Path, paths: AppPaths, match: str, limits: ArchiveLimits | None = None) -> None:
    before = state(paths)
    with pytest.raises(ArchiveError, match=re.escape(match)):
        import_chats(archive, paths.database, paths.attachments, limits)
    assert state(paths) == before, "a refused import changed something"


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_archive_is_refused_in_words_and_changes_nothing(tmp_path, valid_archive, target, case):
    make, words = HOSTILE[case]
    refuse(make(valid_archive, tmp_path / f"{case}.zip"), target, words)


def test_an_oversized_entry_and_too_much_in_all_are_refused(valid_archive, target):
    refuse(valid_archive, target, "is too large", ArchiveLimits(max_entry_bytes=100))
    refuse(valid_archive, target, "The entry “hearth.json” is too large", ArchiveLimits(max_json_bytes=1000))
    refuse(valid_archive, target, "unpacks to more than", ArchiveLimits(max_total_bytes=5000))
    refuse(valid_archive, target, "entries, more than Hearth imports", ArchiveLimits(max_entries=3))


def test_a_declared_size_that_lies_is_caught_while_reading(tmp_path, valid_archive, target):
    padded = rewrite(
        valid_archive, tmp_path / "padded.zip", lambda n, d: d + b" " * 200_000 if n == JSON_ENTRY else d
    )
    lie_about_size(padded, JSON_ENTRY, 1000)  # small enough to pass every check of the directory
    with zipfile.ZipFile(padded) as z:
        assert z.getinfo(JSON_ENTRY).file_size == 1000
    refuse(padded, target, "“hearth.json” is damaged, or is not the size the archive says")

    grown = rewrite(valid_archive, tmp_path / "grown.zip")
    lie_about_size(grown, JSON_ENTRY, grown.stat().st_size * 3)
    refuse(grown, target, "“hearth.json” is damaged, or is not the size the archive says")


def test_an_attachment_whose_hash_differs_is_refused_and_copies_are_removed(tmp_path, valid_archive, target):
    with zipfile.ZipFile(valid_archive) as z:
        document = json.loads(z.read(JSON_ENTRY))
    attachments = [a for m in document["conversations"][0]["messages"] for a in m["attachments"]]
    # The sound comes after both pictures: they are copied first, and must go again.
    last = next(a["file"] for a in attachments if a["kind"] == "audio")

    def tamper(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 0xFF]) if name == last else data  # same size, other bytes

    archive = rewrite(valid_archive, tmp_path / "tampered.zip", tamper)
    refuse(archive, target, "its sha256 differs")
    assert not list(target.attachments.glob(".incoming-*"))

    wrong_size = change_json(
        valid_archive, tmp_path / "size.zip", lambda d: first_message(d)["attachments"][0].update(size=1)
    )
    refuse(wrong_size, target, "is not the size hearth.json gives for it")
    gone = rewrite(valid_archive, tmp_path / "gone.zip", lambda n, d: None if n == last else d)
    refuse(gone, target, "is not in the archive")


def test_a_failure_while_saving_rolls_everything_back(tmp_path, valid_archive, target):
    # A fault at the database boundary: the second chat cannot be saved, after the first was.
    conn = sqlite3.connect(target.database)
    conn.execute(
        "CREATE TRIGGER refuse_hello BEFORE INSERT ON messages WHEN NEW.content = 'Hello again'"
        " BEGIN SELECT RAISE(ABORT, 'the disk refused it'); END"
    )
    conn.close()
    refuse(valid_archive, target, "The chats could not be saved (the disk refused it)")

    conn = sqlite3.connect(target.database)
    conn.execute("DROP TRIGGER refuse_hello")
    conn.execute("PRAGMA user_version = 99")  # written by a newer Hearth: nothing may be saved
    conn.close()
    refuse(valid_archive, target, "newer version of Hearth")


def test_a_tree_listed_out_of_order_imports_with_its_order_kept(tmp_path, source, valid_archive):
    """Parents may come after their children in the file, and ids need not be small."""

    def shuffle(document: dict[str, Any]) -> None:
        chat = document["conversations"][0]
        chat["messages"].reverse()
        for m in chat["messages"]:
            m["id"] += 10**12
            m["parent_id"] = None if m["parent_id"] is None else m["parent_id"] + 10**12
        chat["leaf_id"] += 10**12

    archive = change_json(valid_archive, tmp_path / "shuffled.zip", shuffle)
    fresh = home(tmp_path, "fresh")
    import_chats(archive, fresh.database, fresh.attachments)
    assert without_folder(snapshot(fresh)) == without_folder(snapshot(source[0]))


# --- the window ------------------------------------------------------------------------------


@pytest.fixture
def start_app(qtbot):
    from app.ui.application import Hearth, build

    apps: list[Hearth] = []

    def start(paths: AppPaths) -> Hearth:
        hearth = build(paths, theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def test_export_all_and_import_through_the_window(qtbot, tmp_path, start_app):
    first = start_app(home(tmp_path, "first"))
    window = first.window
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus[0] == "&File" and menus[-1] == "&Help"
    files = AttachmentFiles(first.paths.attachments)
    photo = files.import_file(picture(tmp_path / "photo.png", (9, 99, 199)), "image", "photo.png")
    chat = window.store.get_conversation(window.current_id)
    window.store.add_message(chat.id, "user", "What is this?", attachments=[photo])
    window.store.add_message(chat.id, "assistant", CODE)
    other = window.store.create_conversation()
    window.store.add_message(other.id, "user", "A second chat")
    window.list_model.refresh()

    # The file dialogs are the one boundary replaced: the test stands in for the person choosing.
    archive = tmp_path / "exports" / "everything"
    archive.parent.mkdir()
    window.export_actions.choose_export_target = lambda suggested: archive.with_suffix(".zip")
    window.menus.export_all_action.trigger()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Exported"), timeout=10_000)
    assert window.statusBar().currentMessage() == f"Exported 2 chats to {archive.with_suffix('.zip')}."

    window.show_conversation(chat.id)
    window.export_actions.choose_export_target = lambda suggested: tmp_path / "exports" / suggested
    window.menus.export_chat_action.trigger()
    one = tmp_path / "exports" / "What is this.zip"
    qtbot.waitUntil(
        lambda: window.statusBar().currentMessage() == f"Exported 1 chat to {one}.", timeout=10_000
    )
    with zipfile.ZipFile(one) as z:
        assert [c["title"] for c in json.loads(z.read(JSON_ENTRY))["conversations"]] == ["What is this?"]

    second = start_app(home(tmp_path, "second"))
    assert second.window.list_model.rowCount() == 1  # its own empty chat
    second.window.export_actions.choose_archive = lambda: archive.with_suffix(".zip")
    second.window.menus.import_chats_action.trigger()
    qtbot.waitUntil(lambda: second.window.statusBar().currentMessage() == "Imported 2 chats.", timeout=10_000)
    titles = {
        second.window.list_model.index(row).data() for row in range(second.window.list_model.rowCount())
    }
    assert titles == {"New chat", "What is this?", "A second chat"}

    second.window.export_actions.choose_archive = lambda: tmp_path / "photo.png"
    second.window.menus.import_chats_action.trigger()
    qtbot.waitUntil(
        lambda: second.window.statusBar().currentMessage().startswith("Nothing was imported"), timeout=10_000
    )
    assert second.window.statusBar().currentMessage() == (
        "Nothing was imported: photo.png is not a zip archive, or it is damaged."
    )
    assert second.window.list_model.rowCount() == 3
