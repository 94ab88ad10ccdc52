"""Chats in real SQLite files: migrations, titles, soft delete, streaming saves, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.storage.chats import ChatStore, MessageStatus, derive_title
from app.storage.db import MIGRATIONS, DatabaseTooNewError, open_database


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "chats.sqlite3"


@pytest.fixture
def store(db_path) -> ChatStore:
    return ChatStore(open_database(db_path))


def test_new_database_is_migrated_and_in_wal_mode(db_path):
    conn = open_database(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_version_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(DatabaseTooNewError, match="newer version"):
        open_database(db_path)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("  \n\n  ", "New chat"),
        ("Hello there\nsecond line", "Hello there"),
        ("a   b\tc", "a b c"),
        ("word " * 30, "word word word word word word word word word word word…"),
    ],
)
def test_titles_come_from_the_first_line(text, title):
    assert derive_title(text) == title


def test_first_user_message_names_the_chat_until_renamed(store):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "How do tides work?")
    store.add_message(chat.id, "user", "And the moon?")
    assert store.get_conversation(chat.id).title == "How do tides work?"
    store.rename_conversation(chat.id, "  Tides  ")
    assert store.get_conversation(chat.id).title == "Tides"
    store.rename_conversation(chat.id, "")
    reverted = store.get_conversation(chat.id)
    assert reverted.title == "How do tides work?" and not reverted.title_is_custom


def test_data_survives_reopening(db_path):
    store = ChatStore(open_database(db_path))
    settings = GenerationSettings(temperature=0.3, top_k=5, think=True)
    chat = store.create_conversation(model_path="/m.gguf", system_prompt="Be brief.", settings=settings)
    store.add_message(chat.id, "user", "hi")
    store.close()
    again = ChatStore(open_database(db_path))
    kept = again.get_conversation(chat.id)
    assert kept.settings == settings and kept.system_prompt == "Be brief." and kept.model_path == "/m.gguf"
    assert [m.content for m in again.messages(chat.id)] == ["hi"]


def test_soft_delete_restore_and_purge(store):
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "keep me?")
    store.delete_conversation(chat.id)
    assert store.get_conversation(chat.id) is None and store.list_conversations() == []
    store.restore_conversation(chat.id)
    assert store.get_conversation(chat.id) is not None
    store.delete_conversation(chat.id)
    assert store.purge_deleted() == 1
    store.restore_conversation(chat.id)
    assert store.get_conversation(chat.id) is None
    assert store.messages(chat.id) == []  # cascaded


def test_streaming_updates_then_finalize(store):
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
    store.update_message(answer.id, content="Partial")
    store.update_message(answer.id, content="Partial and done", status=MessageStatus.COMPLETE, stats={"n": 3})
    final = store.get_message(answer.id)
    assert (final.content, final.status, final.stats) == (
        "Partial and done",
        MessageStatus.COMPLETE,
        {"n": 3},
    )


def test_unfinished_answers_are_marked_interrupted(store):
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "half", status=MessageStatus.STREAMING)
    assert store.mark_unfinished_as_interrupted() == 1
    assert store.get_message(answer.id).status == MessageStatus.INTERRUPTED


def test_delete_messages_from_keeps_earlier_ones(store):
    chat = store.create_conversation()
    ids = [
        store.add_message(chat.id, role, text).id
        for role, text in [("user", "1"), ("assistant", "2"), ("user", "3"), ("assistant", "4")]
    ]
    store.delete_messages_from(ids[2])
    assert [m.content for m in store.messages(chat.id)] == ["1", "2"]


def test_most_recently_updated_chat_comes_first(store):
    old = store.create_conversation()
    new = store.create_conversation()
    time.sleep(0.01)
    store.add_message(old.id, "user", "bump")
    assert [c.id for c in store.list_conversations()] == [old.id, new.id]


def test_killing_a_writer_leaves_an_intact_database(db_path):
    script = textwrap.dedent(
        f"""
        import time
        from app.storage.chats import ChatStore, MessageStatus
        from app.storage.db import open_database
        from pathlib import Path
        store = ChatStore(open_database(Path({str(db_path)!r})))
        chat = store.create_conversation()
        answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
        for n in range(1, 100000):
            store.update_message(answer.id, content="x" * n)
            if n == 200:
                print("ready", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    assert writer.stdout.readline().strip() == "ready"
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    length = conn.execute("SELECT length(content) FROM messages").fetchone()[0]
    assert length >= 200
