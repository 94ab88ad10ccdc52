"""Chats in real SQLite files: migrations, titles, soft delete, streaming saves, attachments, crash
safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.storage import db
from app.storage.attachment_files import RECENT_S, AttachmentFiles, StoredFile
from app.storage.chats import ChatStore, MessageStatus, derive_title
from app.storage.db import MIGRATIONS, DatabaseTooNewError, open_database

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    """A clock that only moves when told, so orderings and ages do not depend on timing."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "data" / "chats.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_path, clock) -> Iterator[ChatStore]:
    store = ChatStore(open_database(db_path), clock=clock)
    yield store
    store.close()


@pytest.fixture
def attachment_files(tmp_path) -> AttachmentFiles:
    return AttachmentFiles(tmp_path / "data" / "attachments")


def _image(files: AttachmentFiles, name: str) -> StoredFile:
    return files.import_bytes(f"pixels of {name}".encode(), "image", name, ".png")


def _scalar(path: Path, sql: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# --- the database -----------------------------------------------------------------------------


def test_a_new_database_is_created_and_fully_migrated(db_path):
    conn = open_database(db_path)
    assert db_path.is_file()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    names = {row["name"] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"conversations", "messages", "messages_by_conversation", "conversations_by_update"} <= names
    assert {"attachments", "attachments_by_message"} <= names
    conn.close()


def test_the_connection_is_in_wal_mode_with_safe_settings(db_path):
    conn = open_database(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.isolation_level is None
    conn.close()
    assert _scalar(db_path, "PRAGMA journal_mode") == "wal"  # WAL is a property of the file


def test_a_database_from_a_newer_version_is_refused_and_left_alone(db_path):
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(DatabaseTooNewError, match="newer version"):
        open_database(db_path)
    assert _scalar(db_path, "PRAGMA user_version") == len(MIGRATIONS) + 1
    assert _scalar(db_path, "SELECT count(*) FROM sqlite_master") == 0


def test_a_failing_migration_is_rolled_back_and_retried_on_the_next_open(db_path, monkeypatch):
    open_database(db_path).close()
    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE extra (x);\nCREATE TABLE broken (;"])
    with pytest.raises(sqlite3.OperationalError):
        open_database(db_path)
    assert _scalar(db_path, "PRAGMA user_version") == len(MIGRATIONS)
    assert _scalar(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'extra'") == 0

    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE extra (x);"])
    open_database(db_path).close()
    assert _scalar(db_path, "PRAGMA user_version") == len(MIGRATIONS) + 1


def test_migrations_split_where_sqlite_does_not_at_every_semicolon(db_path, monkeypatch):
    script = """
    CREATE TABLE notes (body TEXT NOT NULL DEFAULT 'one;
    two');
    CREATE TRIGGER notes_touch AFTER INSERT ON notes BEGIN
        UPDATE notes SET body = body || ';' WHERE rowid = new.rowid;
    END;
    """
    monkeypatch.setattr(db, "MIGRATIONS", [*MIGRATIONS, script])
    conn = open_database(db_path)
    conn.execute("INSERT INTO notes DEFAULT VALUES")
    assert conn.execute("SELECT body FROM notes").fetchone()[0] == "one;\n    two;"
    conn.close()


def test_a_database_from_before_attachments_is_migrated_with_its_chats(db_path, monkeypatch):
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:1])
    conn = open_database(db_path)
    # What the first version wrote: a chat of three messages, in order, and another chat.
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (7, 'old', 1, 1)")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (8, 'other', 1, 1)")
    for message_id, chat, role, text in [
        (1, 7, "user", "from the old version"),
        (2, 8, "user", "elsewhere"),
        (3, 7, "assistant", "an old answer"),
        (4, 7, "user", "an old follow-up"),
    ]:
        conn.execute(
            "INSERT INTO messages (id, conversation_id, role, content, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 1, 1)",
            (message_id, chat, role, text),
        )
    conn.close()
    assert _scalar(db_path, "PRAGMA user_version") == 1
    monkeypatch.undo()

    store = ChatStore(open_database(db_path))
    assert _scalar(db_path, "PRAGMA user_version") == len(MIGRATIONS)
    messages = store.messages(7)
    assert [(m.content, m.attachments) for m in messages] == [
        ("from the old version", ()),
        ("an old answer", ()),
        ("an old follow-up", ()),
    ]
    # One branch each, in the order they were written; the chat shows its end.
    assert [m.parent_id for m in messages] == [None, 1, 3]
    assert store.get_conversation(7).leaf_id == 4
    assert [m.content for m in store.messages(8)] == ["elsewhere"]
    assert [hit.message_id for hit in store.search("follow")] == [4]  # and the old text is searchable
    assert store.referenced_attachment_paths() == set()
    store.close()
    assert _scalar(db_path, "SELECT count(*) FROM attachments") == 0


def test_data_survives_reopening(db_path, clock):
    store = ChatStore(open_database(db_path), clock=clock)
    settings = GenerationSettings(temperature=0.3, top_k=5, think=True, seed=42)
    chat = store.create_conversation(model_path="/m.gguf", system_prompt="Be brief.", settings=settings)
    store.add_message(chat.id, "user", "hi")
    store.add_message(chat.id, "assistant", "hello", reasoning="greet back")
    store.close()

    again = ChatStore(open_database(db_path))
    kept = again.get_conversation(chat.id)
    assert kept is not None
    assert (kept.title, kept.model_path, kept.system_prompt, kept.settings) == (
        "hi",
        "/m.gguf",
        "Be brief.",
        settings,
    )
    assert [(m.role, m.content, m.reasoning) for m in again.messages(chat.id)] == [
        ("user", "hi", ""),
        ("assistant", "hello", "greet back"),
    ]
    again.close()


# --- titles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("", "New chat"),
        ("  \n\t\n  ", "New chat"),
        ("\n\n  Hello there  \nsecond line", "Hello there"),
        ("a   b\tc", "a b c"),
        ("x" * 60, "x" * 60),
        ("word " * 30, "word " * 11 + "word…"),  # the cut lands on a space: keep the whole word
        ("abcd " * 11 + "abcdefghij", "abcd " * 10 + "abcd…"),  # the cut lands mid-word: drop it
        ("Well, " + "w" * 70, "Well, " + "w" * 53 + "…"),  # no space late enough: cut mid-word
        ("y" * 40 + ", " + "z" * 30, "y" * 40 + "…"),  # no dangling comma before the ellipsis
    ],
)
def test_titles_come_from_the_first_line(text, title):
    assert derive_title(text) == title
    assert len(derive_title(text)) <= 60


def test_the_first_question_names_the_chat_until_renamed(store):
    chat = store.create_conversation()
    assert (chat.title, chat.title_is_custom) == ("New chat", False)
    store.add_message(chat.id, "system", "You are terse.")
    store.add_message(chat.id, "user", "How do tides work?")
    store.add_message(chat.id, "assistant", "The moon.")
    store.add_message(chat.id, "user", "And the sun?")
    assert store.get_conversation(chat.id).title == "How do tides work?"

    store.rename_conversation(chat.id, "  Tides  ")
    renamed = store.get_conversation(chat.id)
    assert (renamed.title, renamed.title_is_custom) == ("Tides", True)

    store.rename_conversation(chat.id, "   ")
    reverted = store.get_conversation(chat.id)
    assert (reverted.title, reverted.title_is_custom) == ("How do tides work?", False)


def test_a_custom_title_is_kept_when_the_first_question_arrives(store):
    chat = store.create_conversation()
    store.rename_conversation(chat.id, "Trip plans")
    store.add_message(chat.id, "user", "Where should we go?")
    assert store.get_conversation(chat.id).title == "Trip plans"
    empty = store.create_conversation()
    store.rename_conversation(empty.id, "")
    assert store.get_conversation(empty.id).title == "New chat"


# --- conversations ----------------------------------------------------------------------------


def test_settings_model_and_system_prompt_round_trip(store):
    chat = store.create_conversation()
    assert chat.settings == GenerationSettings()
    settings = GenerationSettings(
        temperature=0.7, top_p=0.8, max_tokens=99, context_length=4096, image_budget=280
    )
    store.set_settings(chat.id, settings)
    store.set_model(chat.id, "/models/gemma.gguf")
    store.set_system_prompt(chat.id, "Answer in French.")
    kept = store.get_conversation(chat.id)
    assert kept.settings == settings and kept.settings.to_dict() == settings.to_dict()
    assert (kept.model_path, kept.system_prompt) == ("/models/gemma.gguf", "Answer in French.")


def test_damaged_settings_fall_back_to_defaults(store, db_path):
    chat = store.create_conversation(settings=GenerationSettings(top_k=3))
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE conversations SET settings_json = 'not json' WHERE id = ?", (chat.id,))
    conn.close()
    assert store.get_conversation(chat.id).settings == GenerationSettings()


def test_the_most_recently_updated_chat_comes_first(store, clock):
    first, second, third = (store.create_conversation() for _ in range(3))
    assert [c.id for c in store.list_conversations()] == [third.id, second.id, first.id]
    clock.advance()
    store.add_message(first.id, "user", "bump")
    assert [c.id for c in store.list_conversations()] == [first.id, third.id, second.id]
    clock.advance()
    answer = store.add_message(second.id, "assistant", "", status=MessageStatus.STREAMING)
    clock.advance()
    store.add_message(third.id, "user", "later")
    clock.advance()
    store.update_message(answer.id, content="streamed")
    assert [c.id for c in store.list_conversations()] == [second.id, third.id, first.id]
    store.delete_conversation(third.id)
    assert [c.id for c in store.list_conversations()] == [second.id, first.id]


def test_soft_delete_restore_and_purge(store, db_path, clock):
    kept = store.create_conversation()
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "keep me?")
    store.add_message(chat.id, "assistant", "maybe")

    store.delete_conversation(chat.id)
    assert store.get_conversation(chat.id) is None
    assert [c.id for c in store.list_conversations()] == [kept.id]
    store.restore_conversation(chat.id)
    assert store.get_conversation(chat.id).title == "keep me?"
    assert len(store.messages(chat.id)) == 2

    store.delete_conversation(chat.id)
    clock.advance(30)
    assert store.purge_deleted(older_than_s=60) == 0  # still within the undo window
    clock.advance(30)
    assert store.purge_deleted(older_than_s=60) == 1
    store.restore_conversation(chat.id)
    assert store.get_conversation(chat.id) is None
    assert _scalar(db_path, f"SELECT count(*) FROM messages WHERE conversation_id = {chat.id}") == 0
    assert store.get_conversation(kept.id) is not None


# --- messages ---------------------------------------------------------------------------------


def test_streaming_updates_then_finalize(store, clock):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "Count to three")
    answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
    assert (answer.status, answer.content, answer.stats) == (MessageStatus.STREAMING, "", {})

    clock.advance()
    store.update_message(answer.id, reasoning="Counting.")
    store.update_message(answer.id, content="One, two")
    partial = store.get_message(answer.id)
    assert (partial.content, partial.reasoning, partial.status) == (
        "One, two",
        "Counting.",
        MessageStatus.STREAMING,
    )
    assert partial.updated_at == clock.now > partial.created_at
    assert store.get_conversation(chat.id).updated_at == clock.now

    clock.advance()
    store.update_message(
        answer.id, content="One, two, three", status=MessageStatus.COMPLETE, stats={"tokens": 7}
    )
    final = store.get_message(answer.id)
    assert (final.content, final.reasoning, final.status, final.stats) == (
        "One, two, three",
        "Counting.",
        MessageStatus.COMPLETE,
        {"tokens": 7},
    )
    assert store.get_conversation(chat.id).updated_at == clock.now


def test_a_rejected_message_leaves_no_trace(store, clock):
    chat = store.create_conversation()
    clock.advance()
    with pytest.raises(sqlite3.IntegrityError):
        store.add_message(chat.id, "narrator", "Once upon a time")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_message(chat.id + 100, "user", "to nowhere")
    assert store.messages(chat.id) == []
    assert store.get_conversation(chat.id).updated_at == chat.updated_at


def test_delete_messages_from_keeps_earlier_ones_and_other_chats(store):
    chat, other = store.create_conversation(), store.create_conversation()
    ids = []
    for role, text in [("user", "1"), ("assistant", "2"), ("user", "3"), ("assistant", "4")]:
        ids.append(store.add_message(chat.id, role, text).id)
        store.add_message(other.id, role, "other " + text)
    store.delete_messages_from(ids[2])
    assert [m.content for m in store.messages(chat.id)] == ["1", "2"]
    assert len(store.messages(other.id)) == 4
    assert store.get_message(ids[3]) is None


# --- attachments ------------------------------------------------------------------------------


def test_attachments_round_trip_in_order(store, db_path, attachment_files):
    chat = store.create_conversation()
    photo, chart = _image(attachment_files, "IMG_2041.jpg"), _image(attachment_files, "chart.png")
    clip = attachment_files.import_bytes(b"RIFF", "audio", "Recording 14:02.wav", ".wav")
    sent = store.add_message(chat.id, "user", "What is in these?", attachments=[chart, clip, photo])
    answer = store.add_message(chat.id, "assistant", "A chart, a sound and a photo.")
    follow_up = store.add_message(chat.id, "user", "And this one?", attachments=[photo])

    expected = [(f.kind, f.path, f.name, f.size, f.sha256) for f in (chart, clip, photo)]
    assert [(a.kind, a.path, a.name, a.size, a.sha256) for a in sent.attachments] == expected
    assert {a.message_id for a in sent.attachments} == {sent.id}
    assert answer.attachments == ()
    store.close()

    again = ChatStore(open_database(db_path))
    assert [m.attachments for m in again.messages(chat.id)] == [
        sent.attachments,
        (),
        follow_up.attachments,
    ]
    assert again.get_message(sent.id) == sent
    assert again.get_message(answer.id).attachments == ()
    assert again.referenced_attachment_paths() == {chart.path, clip.path, photo.path}
    again.close()


def test_a_conversations_attachments_load_in_one_query(db_path, attachment_files):
    conn = open_database(db_path)
    store = ChatStore(conn)
    chat = store.create_conversation()
    for n in range(5):
        store.add_message(chat.id, "user", str(n), attachments=[_image(attachment_files, f"{n}.png")])
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    assert [len(m.attachments) for m in store.messages(chat.id)] == [1] * 5
    conn.set_trace_callback(None)
    assert len(statements) == 4  # the leaf, the path, the messages, their attachments: not one per message
    store.close()


def test_a_message_whose_attachment_is_refused_leaves_no_trace(store, attachment_files, clock):
    chat = store.create_conversation()
    broken = StoredFile("image", Path("/x.png"), None, 1, "0" * 64)  # type: ignore[arg-type]
    clock.advance()
    with pytest.raises(sqlite3.IntegrityError):
        store.add_message(chat.id, "user", "look", attachments=[_image(attachment_files, "a.png"), broken])
    assert store.messages(chat.id) == []
    assert store.referenced_attachment_paths() == set()
    assert store.get_conversation(chat.id).updated_at == chat.updated_at


def test_deleting_messages_takes_their_attachments_along(store, db_path, attachment_files):
    chat = store.create_conversation()
    first = store.add_message(chat.id, "user", "1", attachments=[_image(attachment_files, "one.png")])
    store.add_message(chat.id, "assistant", "2")
    later = store.add_message(chat.id, "user", "3", attachments=[_image(attachment_files, "three.png")])
    store.delete_messages_from(later.id)
    assert store.referenced_attachment_paths() == {first.attachments[0].path}
    assert _scalar(db_path, "SELECT count(*) FROM attachments") == 1


def test_purging_a_chat_frees_its_files_and_undo_keeps_them(store, db_path, attachment_files, clock):
    kept, chat = store.create_conversation(), store.create_conversation()
    shared, own = _image(attachment_files, "shared.png"), _image(attachment_files, "own.png")
    store.add_message(kept.id, "user", "mine", attachments=[shared])
    store.add_message(chat.id, "user", "theirs", attachments=[shared, own])
    long_ago = time.time() - RECENT_S - 60  # past the grace period for imports under way
    for path in (shared.path, own.path):
        os.utime(path, (long_ago, long_ago))

    store.delete_conversation(chat.id)
    assert attachment_files.delete_unreferenced(store.referenced_attachment_paths()) == 0
    store.restore_conversation(chat.id)
    assert [a.path for a in store.messages(chat.id)[0].attachments] == [shared.path, own.path]
    assert own.path.is_file()

    store.delete_conversation(chat.id)
    clock.advance(60)
    assert store.purge_deleted(older_than_s=60) == 1
    assert _scalar(db_path, "SELECT count(*) FROM attachments") == 1
    assert store.referenced_attachment_paths() == {shared.path}
    assert attachment_files.delete_unreferenced(store.referenced_attachment_paths()) == 1
    assert shared.path.is_file() and not own.path.exists()


def test_unfinished_answers_are_marked_interrupted(store):
    chat, other = store.create_conversation(), store.create_conversation()
    cut = store.add_message(chat.id, "assistant", "half", status=MessageStatus.STREAMING)
    also_cut = store.add_message(other.id, "assistant", "", status=MessageStatus.STREAMING)
    stopped = store.add_message(other.id, "assistant", "part", status=MessageStatus.STOPPED)
    done = store.add_message(chat.id, "assistant", "all")
    assert store.mark_unfinished_as_interrupted() == 2
    assert store.get_message(cut.id).status == MessageStatus.INTERRUPTED
    assert store.get_message(cut.id).content == "half"
    assert store.get_message(also_cut.id).status == MessageStatus.INTERRUPTED
    assert store.get_message(stopped.id).status == MessageStatus.STOPPED
    assert store.get_message(done.id).status == MessageStatus.COMPLETE
    assert store.mark_unfinished_as_interrupted() == 0


def test_killing_a_writer_mid_answer_loses_nothing_it_saved(db_path):
    """The app dies while saving a streaming answer: the file stays sound and holds the last save."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from app.storage.chats import ChatStore, MessageStatus
        from app.storage.db import open_database
        store = ChatStore(open_database(Path({str(db_path)!r})))
        chat = store.create_conversation()
        answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
        for n in range(1, 1_000_000):
            store.update_message(answer.id, content="x" * n)
            if n % 25 == 0:
                print(n, flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    watchdog = threading.Timer(60, writer.kill)  # a hung writer fails the test instead of hanging it
    watchdog.start()
    try:
        saved = 0
        while saved < 500:
            line = writer.stdout.readline()
            assert line, "the writer exited early"
            saved = int(line)
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(10) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        writer.kill()
        writer.stdout.close()

    assert _scalar(db_path, "PRAGMA integrity_check") == "ok"
    store = ChatStore(open_database(db_path))
    assert store.mark_unfinished_as_interrupted() == 1
    [chat] = store.list_conversations()
    [answer] = store.messages(chat.id)
    assert answer.status == MessageStatus.INTERRUPTED
    assert len(answer.content) >= saved and answer.content == "x" * len(answer.content)
    store.close()
