"""Searching chats in the real window: the box above the chat list, results with snippets, and a
result that opens its chat at the message, on the branch that holds it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.core.paths import resolve_paths
from app.storage.chats import ChatStore
from app.storage.db import open_database
from app.storage.search import MATCH_END, MATCH_START
from app.ui.application import build
from app.ui.chat.search_results import ResultRole

TIMEOUT = 10_000


@pytest.fixture
def chats(hearth_home, smollm2_path):
    """Two chats written before the app starts: one long, one with two versions of an answer. A
    model is on disk, so no first-run welcome opens over the window."""
    paths = resolve_paths(hearth_home).ensure()
    (paths.models / smollm2_path.name).symlink_to(smollm2_path)
    store = ChatStore(open_database(paths.database))
    long_chat = store.create_conversation()
    for number in range(300):
        store.add_message(long_chat.id, "user", f"Question {number} about boats")
        store.add_message(long_chat.id, "assistant", f"Answer {number}: sails and keels.")
    target = store.messages(long_chat.id)[41]  # "Answer 20", far from the end
    branched = store.create_conversation()
    question = store.add_message(branched.id, "user", "Name a mountain")
    older = store.add_message(branched.id, "assistant", "Kilimanjaro stands alone.")
    store.add_message(branched.id, "assistant", "Aconcagua.", parent_id=question.id)
    store.close()
    return paths, long_chat.id, target.id, branched.id, older.id


def test_search_all_chats_and_open_a_result_at_its_message(qtbot, chats):
    paths, long_chat, target, _branched, _older = chats
    hearth = build(paths, theme="light")
    qtbot.addWidget(hearth.window)
    try:
        window = hearth.window
        qtbot.waitUntil(window.isActiveWindow)  # its shortcuts work once it is the active window
        qtbot.keyClick(
            window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        assert window.search.field.placeholderText() == "Search all chats"
        qtbot.keyClicks(window.search.field, "answer 20:")
        qtbot.waitUntil(lambda: window.search.model.rowCount() > 0, timeout=TIMEOUT)
        hit = window.search.model.index(0).data(ResultRole.HIT)
        assert hit.message_id == target and f"{MATCH_START}20{MATCH_END}" in hit.snippet
        assert not window.list_view.isVisible() and window.search.results.isVisible()
        assert "found in your chats" in window.search.status.text()
        qtbot.keyClick(window.search.field, Qt.Key.Key_Return)
        assert window.current_id == long_chat
        view = window.chat_view
        assert target in view.message_ids() and view.current_message().message.id == target
        assert view.visualRect(view.currentIndex()).intersects(view.viewport().rect())
        qtbot.keyClick(window.search.field, Qt.Key.Key_Escape)
        assert window.search.field.text() == "" and window.list_view.isVisible()
    finally:
        hearth.shutdown()


def test_a_result_on_another_version_shows_that_version(qtbot, chats):
    paths, _long_chat, _target, branched, older = chats
    hearth = build(paths, theme="light")
    qtbot.addWidget(hearth.window)
    try:
        window = hearth.window
        qtbot.waitUntil(window.isActiveWindow)  # its shortcuts work once it is the active window
        window.show_conversation(branched)
        qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert window.search.field.placeholderText() == "Search this chat"
        window.search.close_search()
        assert window.chat_view.shown(window.chat_view.message_ids()[-1]).text == "Aconcagua."
        window.search.start(this_chat=True)
        assert window.search.scope_button.isChecked()
        qtbot.keyClicks(window.search.field, "kiliman")
        qtbot.waitUntil(lambda: window.search.model.rowCount() == 1, timeout=TIMEOUT)
        assert "in this chat" in window.search.status.text()
        qtbot.keyClick(window.search.field, Qt.Key.Key_Return)
        assert window.chat_view.message_ids()[-1] == older
        assert window.chat_view.shown(older).text == "Kilimanjaro stands alone."
        window.search.field.setText("nothing like this anywhere")
        qtbot.waitUntil(lambda: window.search.status.text().startswith("Nothing found"), timeout=TIMEOUT)
    finally:
        hearth.shutdown()
