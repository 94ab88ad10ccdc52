"""The real window, driven like a user: real worker, real model, real database."""

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
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.storage.chats import MessageStatus
from app.ui.application import Hearth, build
from app.ui.chat.message_layout import Action, Hit
from app.ui.chat.view_probe import ShownMessage
from app.ui.supervisor import WorkerState

TIMEOUT = 60_000
LONG_PROMPT = "Write a long story about a lighthouse keeper. Use many paragraphs."


@pytest.fixture
def start_app(qtbot, hearth_home, short_answers):
    apps: list[Hearth] = []
    paths = resolve_paths(hearth_home).ensure()

    def start(model: Path | None = None, wait_for_model: bool = True) -> Hearth:
        hearth = build(paths, model=str(model) if model else None, theme="light")
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        if model is not None and wait_for_model:
            qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def type_and_send(qtbot, hearth: Hearth, text: str) -> None:
    editor = hearth.window.composer.editor
    editor.setFocus()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def last_shown(hearth: Hearth) -> ShownMessage:
    """What the conversation view paints for the last message."""
    view = hearth.window.chat_view
    shown = view.shown(view.message_ids()[-1])
    assert shown is not None
    return shown


def wait_idle(qtbot, hearth: Hearth) -> None:
    qtbot.waitUntil(lambda: not hearth.window.controller.busy, timeout=TIMEOUT)


def test_type_send_stream_and_find_the_chat_after_a_restart(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, "What is the capital of France?")
    assert hearth.window.composer.text() == ""
    assert hearth.window.composer.button.text() == "Stop"
    qtbot.waitUntil(lambda: bool(last_shown(hearth).text), timeout=TIMEOUT)  # text streams in
    wait_idle(qtbot, hearth)
    answer = last_shown(hearth)
    assert answer.role == "assistant" and answer.text.strip()
    assert "tok/s" in answer.stats
    assert hearth.window.title_label.text() == "What is the capital of France?"
    conversation_id = hearth.window.current_id
    hearth.shutdown()

    again = start_app(smollm2_path)
    assert again.window.current_id == conversation_id
    view = again.window.chat_view
    assert [view.shown(i).role for i in view.message_ids()] == ["user", "assistant"]
    assert last_shown(again).text == answer.text


def test_stop_keeps_the_partial_answer(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, LONG_PROMPT)
    qtbot.waitUntil(lambda: len(last_shown(hearth).text) > 40, timeout=TIMEOUT)
    qtbot.keyClick(hearth.window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, hearth)
    stored = hearth.store.messages(hearth.window.current_id)[-1]
    assert stored.status == MessageStatus.STOPPED and len(stored.content) > 40
    assert last_shown(hearth).note == "Stopped"
    assert hearth.window.composer.button.text() == "Send"


def test_regenerate_writes_a_new_version_and_keeps_the_first(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, "Name a colour.")
    wait_idle(qtbot, hearth)
    view = hearth.window.chat_view
    first = hearth.store.messages(hearth.window.current_id)[-1]
    point = view.button_point(first.id, Hit(Action.REGENERATE))
    assert point is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    wait_idle(qtbot, hearth)
    messages = hearth.store.messages(hearth.window.current_id)
    assert [m.role for m in messages] == ["user", "assistant"] and messages[-1].id != first.id
    assert len(view.message_ids()) == 2
    assert "1/2" not in last_shown(hearth).buttons and "‹" in last_shown(hearth).buttons  # version 2 of 2
    point = view.button_point(messages[-1].id, Hit(Action.PREVIOUS))
    assert point is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    # The first answer is back, as version 1 of 2.
    assert view.message_ids()[-1] == first.id
    assert "›" in last_shown(hearth).buttons and "‹" not in last_shown(hearth).buttons


def test_switching_chats_shows_each_history(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, "First chat question")
    wait_idle(qtbot, hearth)
    first = hearth.window.current_id
    qtbot.keyClick(hearth.window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert hearth.window.current_id != first and hearth.window.chat_view.message_ids() == []
    type_and_send(qtbot, hearth, "Second chat question")
    wait_idle(qtbot, hearth)
    assert hearth.window.list_model.rowCount() == 2
    row = hearth.window.list_model.row_of(first)
    hearth.window.list_view.setCurrentIndex(hearth.window.list_model.index(row))
    assert hearth.window.current_id == first
    view = hearth.window.chat_view
    assert view.shown(view.message_ids()[0]).text == "First chat question"


def test_delete_a_chat_and_undo(qtbot, start_app):
    hearth = start_app()
    type_and_send(qtbot, hearth, "kept?")  # no model: the message is kept in the box, not lost
    assert hearth.window.composer.text() == "kept?"
    chat = hearth.store.create_conversation()
    hearth.store.add_message(chat.id, "user", "precious")
    hearth.window.list_model.refresh()
    hearth.window.show_conversation(chat.id)
    hearth.window.delete_current()
    assert hearth.store.get_conversation(chat.id) is None
    qtbot.mouseClick(hearth.window.undo_button, Qt.MouseButton.LeftButton)
    assert hearth.store.get_conversation(chat.id) is not None
    assert hearth.window.current_id == chat.id


def test_an_empty_message_is_not_sent(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, "   ")
    assert hearth.window.chat_view.message_ids() == []
    assert hearth.window.composer.hint.text() == "Type a message first."


def test_a_bad_model_file_is_explained_and_nothing_is_lost(qtbot, start_app, not_a_gguf):
    hearth = start_app()
    hearth.window.composer.set_text("draft I am writing")
    with qtbot.waitSignal(hearth.supervisor.load_failed, timeout=TIMEOUT):
        hearth.window.load_model(str(not_a_gguf))
    assert "not a GGUF model file" in hearth.window.statusBar().currentMessage()
    assert hearth.window.composer.text() == "draft I am writing"


def test_worker_killed_mid_answer_keeps_the_partial_and_the_next_message_works(
    qtbot, start_app, smollm2_path
):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, LONG_PROMPT)
    qtbot.waitUntil(lambda: len(last_shown(hearth).text) > 40, timeout=TIMEOUT)
    os.kill(hearth.supervisor.worker_pid, signal.SIGKILL)
    wait_idle(qtbot, hearth)
    partial = hearth.store.messages(hearth.window.current_id)[-1]
    assert partial.status == MessageStatus.INTERRUPTED and len(partial.content) > 40
    assert "Interrupted" in last_shown(hearth).note
    qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)  # restarted
    assert hearth.supervisor.state is WorkerState.IDLE
    type_and_send(qtbot, hearth, "Say hello.")
    wait_idle(qtbot, hearth)
    final = hearth.store.messages(hearth.window.current_id)[-1]
    assert final.status == MessageStatus.COMPLETE and final.content.strip()


def test_killing_the_whole_app_mid_answer_keeps_the_database_intact(hearth_home, smollm2_path):
    script = textwrap.dedent(
        f"""
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from app.core.paths import resolve_paths
        from app.ui.application import build
        app = QApplication([])
        hearth = build(resolve_paths({str(hearth_home)!r}).ensure(), model={str(smollm2_path)!r})
        def send_when_ready():
            if hearth.supervisor.loaded_model is None:
                return QTimer.singleShot(50, send_when_ready)
            hearth.window.composer.set_text({LONG_PROMPT!r})
            hearth.window.composer.submit()
            print("sent", hearth.supervisor.worker_pid, flush=True)
        send_when_ready()
        app.exec()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    try:
        word, worker_pid = app.stdout.readline().split()
        assert word == "sent"
        database = resolve_paths(hearth_home).database
        query = "SELECT length(content) FROM messages WHERE role = 'assistant'"
        deadline = time.monotonic() + 60
        saved = 0
        while saved < 80 and time.monotonic() < deadline:  # wait for a few saves of the stream
            time.sleep(0.1)
            row = sqlite3.connect(database).execute(query).fetchone()
            saved = row[0] if row else 0
        app.send_signal(signal.SIGKILL)
        app.wait(10)
    finally:
        app.kill()
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT role, content, status FROM messages ORDER BY id").fetchall()
    assert rows[0] == ("user", LONG_PROMPT, "complete")
    assert rows[1][0] == "assistant" and len(rows[1][1]) >= saved >= 80
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (
        not Path(f"/proc/{worker_pid}").exists()
        or "State:\tZ" in Path(f"/proc/{worker_pid}/status").read_text()
    )
