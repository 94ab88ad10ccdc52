"""Chats that resume instantly, in the real app: leaving a chat saves its state, coming back (or
starting the app again) reads it back instead of the chat, and deleting the chat deletes it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.engine.saved_chats import SUFFIX, chat_key
from tests.test_window import type_and_send, wait_idle

QUESTION = (
    "I am planning a walk along the Danube from Passau to Vienna over six days. Tell me which "
    "towns to sleep in, what to see in each of them, and how long each day's walk is."
)


@pytest.fixture
def greedy_answers(hearth_home, short_answers):
    """New chats answer at temperature 0: a sampled answer may hold bytes that are not UTF-8
    (shown and kept as "�"), and the next prompt, which reads the chat as kept, differs from the
    cache there. Greedy answers from these weights are plain text."""
    settings_file = resolve_paths(hearth_home).settings_file
    data = json.loads(settings_file.read_text(encoding="utf-8"))
    data["defaults"]["temperature"] = 0.0
    settings_file.write_text(json.dumps(data), encoding="utf-8")


def answers_of(hearth) -> list:
    done: list = []
    hearth.supervisor.finished.connect(done.append)
    return done


def states(hearth_home, conversation_id: int) -> list:
    folder = resolve_paths(hearth_home).saved_chats
    return list(folder.glob(f"{chat_key(conversation_id)}.*{SUFFIX}"))


def open_chat(hearth, conversation_id: int) -> None:
    window = hearth.window
    window.list_view.setCurrentIndex(window.list_model.index(window.list_model.row_of(conversation_id)))
    assert window.current_id == conversation_id


def test_a_chat_left_resumes_from_its_saved_state_even_after_a_restart(
    qtbot, greedy_answers, start_app, smollm2_path, hearth_home
):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, QUESTION)
    wait_idle(qtbot, hearth)
    first = hearth.window.current_id
    assert states(hearth_home, first) == []
    with qtbot.waitSignal(hearth.supervisor.chat_saved, timeout=30_000) as saved:
        qtbot.keyClick(hearth.window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # a new chat
    assert saved.args[0].chat == chat_key(first) and saved.args[0].bytes > 0
    assert len(states(hearth_home, first)) == 1
    type_and_send(qtbot, hearth, "Say hello.")
    wait_idle(qtbot, hearth)
    second = hearth.window.current_id

    open_chat(hearth, first)
    done = answers_of(hearth)
    type_and_send(qtbot, hearth, "Which day is the longest?")
    wait_idle(qtbot, hearth)
    assert done[-1].restored_tokens > 100
    assert done[-1].prompt_tokens_evaluated < 30  # the new question, not the whole chat
    assert len(states(hearth_home, second)) == 1  # the second chat was saved as it was left

    hearth.shutdown()  # quitting saves the chat on show, with its new exchange
    again = start_app(smollm2_path)
    assert again.window.current_id == first
    done = answers_of(again)
    type_and_send(qtbot, again, "And the shortest?")
    wait_idle(qtbot, again)
    assert done[-1].restored_tokens > 200 and done[-1].prompt_tokens_evaluated < 30

    again.window.delete_conversation(first)
    again.window._undo_timer.timeout.emit()  # the few seconds to undo are over
    assert states(hearth_home, first) == []
    assert len(states(hearth_home, second)) == 1


def test_with_saved_chats_off_nothing_is_written_and_what_was_kept_goes(
    qtbot, start_app, smollm2_path, hearth_home
):
    hearth = start_app(smollm2_path)
    type_and_send(qtbot, hearth, QUESTION)
    wait_idle(qtbot, hearth)
    first = hearth.window.current_id
    qtbot.keyClick(hearth.window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(states(hearth_home, first)) == 1, timeout=30_000)
    off = next(a for a in hearth.window.menus.saved_chats_actions.actions() if a.data() == 0)
    off.trigger()
    assert states(hearth_home, first) == []
    qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=60_000)
    open_chat(hearth, first)
    done = answers_of(hearth)
    type_and_send(qtbot, hearth, "Which day is the longest?")
    wait_idle(qtbot, hearth)
    assert done[-1].restored_tokens == 0
    hearth.shutdown()
    assert not list(resolve_paths(hearth_home).saved_chats.glob(f"*{SUFFIX}"))
