"""The conversation view over a real chat database: what it paints, what clicks and keys do, text
selection, streaming, and paging through long chats."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.storage.chats import ChatStore, MessageStatus
from app.storage.db import open_database
from app.ui.chat.conversation_model import MAX_ROWS, PAGE, ConversationModel
from app.ui.chat.conversation_view import ConversationView
from app.ui.chat.message_docs import MessageDocs
from app.ui.chat.message_layout import Action, Hit

ANSWER = "Use **pathlib**:\n\n```python\nfrom pathlib import Path\nprint(Path.home())\n```\n\nThat is all."
CODE = "from pathlib import Path\nprint(Path.home())"


@pytest.fixture
def store(tmp_path) -> Iterator[ChatStore]:
    store = ChatStore(open_database(tmp_path / "chats.sqlite3"))
    yield store
    store.close()


@pytest.fixture
def chat(store):
    return store.create_conversation()


@pytest.fixture
def view(qtbot, store):
    model = ConversationModel(store)
    widget = ConversationView(model)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def open_chat(view: ConversationView, chat_id: int) -> None:
    view.model().open(chat_id)
    QApplication.processEvents()


def click(qtbot, view: ConversationView, point: QPoint | None) -> None:
    assert point is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


# --- what is painted --------------------------------------------------------------------------


def test_an_answer_shows_rendered_markdown_and_a_code_block(view, store, chat):
    store.add_message(chat.id, "user", "How do I find my home folder?")
    answer = store.add_message(chat.id, "assistant", ANSWER)
    open_chat(view, chat.id)
    shown = view.shown(answer.id)
    assert shown is not None and shown.role == "assistant"
    assert shown.text.split("\n")[0] == "Use pathlib:"  # rendered, not shown as Markdown
    assert CODE in shown.text and shown.text.endswith("That is all.")
    assert shown.code == ("python",)
    assert set(shown.buttons) >= {"Copy", "Regenerate"}


def test_a_question_is_plain_text_in_a_bubble(view, store, chat):
    question = store.add_message(chat.id, "user", "**not bold** <b>nor this</b>\nsecond line")
    open_chat(view, chat.id)
    assert view.shown(question.id).text == "**not bold** <b>nor this</b>\nsecond line"
    layout = view.layout_for(view.model().row_at(0))
    assert layout.bubble is not None and layout.bubble.right() == pytest.approx(layout.width)
    assert layout.bubble.width() < layout.width * 0.5  # a short question gets a snug bubble


def test_code_copy_and_answer_copy_put_text_on_the_clipboard(qtbot, view, store, chat):
    store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", ANSWER)
    open_chat(view, chat.id)
    with qtbot.waitSignal(view.notice) as told:
        click(qtbot, view, view.button_point(answer.id, Hit(Action.COPY_CODE, 0)))
    assert QGuiApplication.clipboard().text() == CODE and told.args == ["Copied the code."]
    click(qtbot, view, view.button_point(answer.id, Hit(Action.COPY)))
    assert QGuiApplication.clipboard().text() == ANSWER


def test_long_words_and_code_lines_wrap_inside_the_column(view, store, chat):
    long_word = "https://example.com/" + "averyveryverylongpath" * 12
    store.add_message(chat.id, "user", long_word)
    store.add_message(
        chat.id, "assistant", f"See {long_word} and `{'x' * 200}`.\n\n```\n{'y = 1  # ' * 60}\n```"
    )
    view.resize(560, 400)
    open_chat(view, chat.id)
    left, width = view.column()
    assert left >= 0 and left + width <= view.viewport().width()
    for row in view.model().rows():
        layout = view.layout_for(row)
        for box in layout.texts:
            assert box.origin.x() >= 0 and box.rect.right() <= width + 1
            assert box.doc.idealWidth() <= box.doc.textWidth() + 1
    assert view.horizontalScrollBar().maximum() == 0


def test_reasoning_is_a_collapsed_section_that_opens_on_click(qtbot, view, store, chat):
    store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
    open_chat(view, chat.id)
    assert view.shown(answer.id).toggle == ""  # nothing to show yet: the typing dots are
    view.set_streaming_text(answer.id, "", "Let me think about files.")
    view.flush()
    shown = view.shown(answer.id)
    assert shown.toggle == "Thinking…" and "Let me think" not in shown.text
    click(qtbot, view, view.button_point(answer.id, Hit(Action.THINKING)))
    assert view.shown(answer.id).reasoning == "Let me think about files."
    view.set_streaming_text(answer.id, "Answer", "Let me think about files. And folders.")
    view.flush()
    reasoning = "Let me think about files. And folders."
    store.update_message(answer.id, content="Answer", reasoning=reasoning, status=MessageStatus.COMPLETE)
    view.model().replace(store.get_message(answer.id))
    shown = view.shown(answer.id)
    assert shown.toggle == "Thought for a moment · 7 words"
    assert shown.reasoning == "Let me think about files. And folders." and shown.text == "Answer"


@pytest.mark.parametrize(
    ("status", "detail", "note"),
    [
        (MessageStatus.COMPLETE, "", ""),
        (MessageStatus.STOPPED, "", "Stopped"),
        (
            MessageStatus.INTERRUPTED,
            "",
            "Interrupted — the engine stopped unexpectedly. The answer above is incomplete.",
        ),
        (MessageStatus.ERROR, "The model ran out of memory.", "The model ran out of memory."),
    ],
)
def test_status_notes(view, store, chat, status, detail, note):
    store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", "Partial answer", status=status)
    if detail:
        store.update_message(answer.id, stats={"error": detail})
    open_chat(view, chat.id)
    assert view.shown(answer.id).note == note


def test_statistics_and_regenerate_for_any_answer(qtbot, view, store, chat):
    store.add_message(chat.id, "user", "first")
    first = store.add_message(chat.id, "assistant", "one")
    store.update_message(first.id, stats={"completion_tokens": 42, "tokens_per_s": 31.2})
    store.add_message(chat.id, "user", "second")
    store.add_message(chat.id, "assistant", "two")
    open_chat(view, chat.id)
    assert view.shown(first.id).stats == "42 tokens · 31.2 tok/s"
    with qtbot.waitSignal(view.regenerate_requested) as asked:
        click(qtbot, view, view.button_point(first.id, Hit(Action.REGENERATE)))
    assert asked.args == [first.id]  # not only the last answer
    view.set_regenerate_enabled(False)  # e.g. while another answer is being written
    assert "Regenerate" not in view.shown(first.id).buttons


def test_versions_show_their_number_and_switch(qtbot, view, store, chat):
    question = store.add_message(chat.id, "user", "Name a colour")
    store.add_message(chat.id, "assistant", "Red")
    blue = store.add_message(chat.id, "assistant", "Blue", parent_id=question.id)
    open_chat(view, chat.id)
    shown = view.shown(blue.id)
    assert shown.text == "Blue" and "‹" in shown.buttons and "›" not in shown.buttons
    layout = view.layout_for(view.model().row_at(1))
    assert any(button.label == "2/2" for button in layout.buttons)
    with qtbot.waitSignal(view.alternative_requested) as asked:
        click(qtbot, view, view.button_point(blue.id, Hit(Action.PREVIOUS)))
    assert asked.args == [blue.id, -1]


# --- streaming --------------------------------------------------------------------------------


def test_streaming_text_is_coalesced_and_reuses_documents(qtbot, view, store, chat, monkeypatch):
    store.add_message(chat.id, "user", "Count to a hundred")
    answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
    open_chat(view, chat.id)
    renders: list[str] = []
    original = MessageDocs.set_content

    def counting(self, text, palette):
        renders.append(text)
        original(self, text, palette)

    monkeypatch.setattr(MessageDocs, "set_content", counting)
    text = ""
    for number in range(1, 101):
        text += f"{number} "
        view.set_streaming_text(answer.id, text, "counting")
    assert renders == []  # nothing yet: rendering waits for the next frame
    qtbot.waitUntil(lambda: view.shown(answer.id).text == text.strip())
    assert len(set(renders)) <= 3

    view.set_streaming_text(answer.id, "Intro\n\n```python\nprint(1)")
    view.flush()
    docs = view._docs[answer.id]
    prose, code = docs.blocks[0].doc, docs.blocks[1].doc
    view.set_streaming_text(answer.id, "Intro\n\n```python\nprint(1)\nprint(2)\n```\n\nDone")
    view.flush()
    assert docs.blocks[0].doc is prose and docs.blocks[1].doc is code  # only new text is laid out
    assert code.toPlainText() == "print(1)\nprint(2)" and docs.blocks[2].doc.toPlainText() == "Done"


def test_follows_the_answer_only_when_at_the_bottom(qtbot, view, store, chat):
    for number in range(8):
        store.add_message(chat.id, "user" if number % 2 == 0 else "assistant", "Some text.\n\n" * 6)
    answer = store.add_message(chat.id, "assistant", "", status=MessageStatus.STREAMING)
    open_chat(view, chat.id)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.set_streaming_text(answer.id, "A long answer.\n\n" * 20)
    view.flush()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    bar.setValue(bar.maximum() // 2)  # the user scrolls up to read
    kept = bar.value()
    view.set_streaming_text(answer.id, "A long answer.\n\n" * 40)
    view.flush()
    QApplication.processEvents()
    assert bar.value() == kept


# --- long chats -------------------------------------------------------------------------------


def long_chat(store: ChatStore, count: int) -> list[int]:
    chat = store.create_conversation()
    ids = []
    for number in range(count):
        role = "user" if number % 2 == 0 else "assistant"
        text = f"Question {number}?" if role == "user" else f"Answer {number}.\n\n```\nvalue = {number}\n```"
        ids.append(store.add_message(chat.id, role, text).id)
    return [chat.id, *ids]


def test_a_long_chat_opens_at_its_end_reading_one_page(qtbot, view, store):
    chat_id, *ids = long_chat(store, 1000)
    open_chat(view, chat_id)
    assert view.message_ids() == ids[-PAGE:]
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())


def top_message(view: ConversationView) -> tuple[int, int]:
    index = view.indexAt(QPoint(view.viewport().width() // 2, 1))
    return view.model().row_at(index.row()).message.id, view.visualRect(index).top()


def test_scrolling_up_reads_older_pages_and_keeps_the_message_in_place(qtbot, view, store):
    chat_id, *ids = long_chat(store, 1000)
    open_chat(view, chat_id)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    for _ in range(12):
        bar.setValue(8)  # near the top of what is read: the page before it is read next
        message_id, top = top_message(view)
        QApplication.processEvents()
        index = view.model().index(view.model().row_of(message_id))
        assert view.visualRect(index).top() == top  # nothing under the user's eyes moved
        assert len(view.message_ids()) <= MAX_ROWS
    assert view.message_ids()[0] == ids[-PAGE * 13]
    # And down again: newer pages come back, older ones are let go.
    for _ in range(12):
        bar.setValue(bar.maximum() - 8)
        message_id, top = top_message(view)
        QApplication.processEvents()
        index = view.model().index(view.model().row_of(message_id))
        assert view.visualRect(index).top() == top
        assert len(view.message_ids()) <= MAX_ROWS
    assert view.message_ids()[-1] == ids[-1]


def test_keys_move_between_messages_and_to_both_ends(qtbot, view, store):
    chat_id, *ids = long_chat(store, 200)
    open_chat(view, chat_id)
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    assert view.current_message().message.id == ids[-1]  # the keyboard starts at the end
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.current_message().message.id == ids[-2]
    qtbot.keyClick(view, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    assert view.current_message().message.id == ids[0] and view.verticalScrollBar().value() == 0
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.current_message().message.id == ids[1]
    qtbot.keyClick(view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert view.current_message().message.id == ids[-1]


def test_show_message_reads_its_page_and_highlights_it(qtbot, view, store):
    chat_id, *ids = long_chat(store, 600)
    open_chat(view, chat_id)
    assert view.show_message(ids[40])
    assert ids[40] in view.message_ids() and view.current_message().message.id == ids[40]
    rect = view.visualRect(view.currentIndex())
    assert rect.intersects(view.viewport().rect())
    assert not view.show_message(10**9)


# --- the keyboard and the pointer -------------------------------------------------------------


def test_message_keys_act_on_the_current_message(qtbot, view, store, chat):
    question = store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", "a", reasoning="hmm")
    open_chat(view, chat.id)
    view.setFocus()
    view.setCurrentIndex(view.model().index(1))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert view.shown(answer.id).reasoning == "hmm"  # the reasoning opened
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "a"
    with qtbot.waitSignal(view.regenerate_requested):
        qtbot.keyClick(view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(view.delete_requested) as asked:
        qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert asked.args == [answer.id]
    qtbot.keyClick(view, Qt.Key.Key_Up)
    with qtbot.waitSignal(view.edit_requested) as asked:
        qtbot.keyClick(view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked.args == [question.id]
    labels = [label for label, _key, _hit in view.message_actions(view.current_message())]
    assert labels == [
        "Copy message",
        "Edit and ask again…",
        "Pin: always read by the model",
        "Delete message",
    ]
    with qtbot.waitSignal(view.pin_requested) as asked:
        qtbot.keyClick(view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert asked.args == [question.id, True]


def test_dragging_selects_text_within_a_message_and_copy_takes_it(qtbot, view, store, chat):
    store.add_message(chat.id, "user", "q")
    answer = store.add_message(chat.id, "assistant", "Alpha beta gamma.\n\n```\nDelta epsilon\n```")
    open_chat(view, chat.id)
    start = view.text_point(answer.id, 0, 6)  # "beta", in the prose
    end = view.text_point(answer.id, 1, 5)  # "Delta", in the code block
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert view.selected_text() == "beta gamma.\n\nDelta"
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "beta gamma.\n\nDelta"
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.text_point(answer.id, 0, 13))
    assert view.selected_text() == "gamma"


def test_the_messages_read_as_a_list_with_speakers(view, store, chat):
    store.add_message(chat.id, "user", "Hello?")
    store.add_message(chat.id, "assistant", "Hi there.")
    open_chat(view, chat.id)
    model = view.model()
    texts = [model.index(row).data(Qt.ItemDataRole.AccessibleTextRole) for row in range(2)]
    assert texts == ["You: Hello?", "Hearth: Hi there."]
    assert view.accessibleName() == "Conversation"
