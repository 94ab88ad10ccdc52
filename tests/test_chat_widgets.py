"""The chat widgets on their own: Markdown blocks, messages, the chat view and the composer."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.ui.chat.chat_view import ChatView
from app.ui.chat.composer import EMPTY_HINT, PLACEHOLDER, Composer
from app.ui.chat.markdown_blocks import Block, split_blocks
from app.ui.chat.message_widget import CodeBlock, MessageWidget, RichText
from app.ui.theme import apply_theme, is_dark

ANSWER = "Use **pathlib**:\n\n```python\nfrom pathlib import Path\nprint(Path.home())\n```\n\nThat is all."

# --- Markdown blocks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("Just *prose*.\n\nTwo paragraphs.", [Block("prose", "Just *prose*.\n\nTwo paragraphs.")]),
        (
            "Before\n```python\nx = 1\n```\nAfter",
            [Block("prose", "Before"), Block("code", "x = 1", "python"), Block("prose", "After")],
        ),
        ("~~~\nplain\n~~~", [Block("code", "plain")]),
        ('```js title="a.js"\nlet a\n```', [Block("code", "let a", "js")]),
        # A longer fence may hold a shorter one.
        ("````md\n```\ninner\n```\n````", [Block("code", "```\ninner\n```", "md")]),
        # Indented fences (inside a list item) lose their indent on the code lines.
        ("1. Run:\n   ```sh\n   ls -l\n   ```", [Block("prose", "1. Run:"), Block("code", "ls -l", "sh")]),
        # "```x```" on one line is inline code, not a fence.
        ("Say ```x``` here", [Block("prose", "Say ```x``` here")]),
        # A tilde fence is not closed by backticks.
        ("~~~\na\n```\nb", [Block("code", "a\n```\nb")]),
    ],
)
def test_split_blocks(text, expected):
    assert split_blocks(text) == expected


def test_split_blocks_while_streaming():
    # An unterminated fence is code so far, without the newline before the next line.
    assert split_blocks("Here:\n```python\nprint(1)\n") == [
        Block("prose", "Here:"),
        Block("code", "print(1)", "python"),
    ]
    assert split_blocks("Here:\n```") == [Block("prose", "Here:"), Block("code", "")]
    # What may become a fence is held back rather than flashing up as prose.
    assert split_blocks("Here:\n``") == [Block("prose", "Here:")]
    assert split_blocks("Inline `co") == [Block("prose", "Inline `co")]


def test_blocks_are_frozen():
    with pytest.raises(AttributeError):
        Block("prose", "x").text = "y"  # type: ignore[misc]


# --- MessageWidget --------------------------------------------------------------------------


@pytest.fixture
def assistant(qtbot):
    widget = MessageWidget("assistant")
    qtbot.addWidget(widget)
    widget.resize(700, 400)
    widget.show()
    return widget


def prose_blocks(widget: MessageWidget) -> list[RichText]:
    return [text for text in widget.findChildren(RichText) if text.objectName() == "prose"]


def test_assistant_renders_markdown_with_a_code_block(assistant, qtbot):
    assistant.set_content(ANSWER)
    assert assistant.role == "assistant" and assistant.content() == ANSWER
    code = assistant.findChildren(CodeBlock)
    assert len(code) == 1
    assert code[0].text() == "from pathlib import Path\nprint(Path.home())"
    assert code[0].language.text() == "python"
    # Sized to its content: it never scrolls inside the chat.
    assert code[0].editor.verticalScrollBar().maximum() == 0
    prose = prose_blocks(assistant)
    assert [text.source_text for text in prose] == ["Use **pathlib**:", "That is all."]
    assert prose[0].toPlainText() == "Use pathlib:"  # rendered, not shown as Markdown
    assert prose[0].toMarkdown().strip() == "Use **pathlib**:"
    flags = prose[0].textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
    assert flags & Qt.TextInteractionFlag.TextSelectableByKeyboard
    assert flags & Qt.TextInteractionFlag.LinksAccessibleByMouse
    # Sized to its text: the chat scrolls, never a paragraph.
    qtbot.waitUntil(lambda: prose[0].height() >= prose[0].document().size().height() - 10)
    assert prose[0].verticalScrollBar().maximum() <= 10


def test_code_copy_button_puts_the_code_on_the_clipboard(assistant, qtbot):
    assistant.set_content(ANSWER)
    block = assistant.code_blocks()[0]
    qtbot.mouseClick(block.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "from pathlib import Path\nprint(Path.home())"
    assert block.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: block.copy_button.text() == "Copy", timeout=3000)


def test_copy_action_copies_the_whole_answer(assistant, qtbot):
    assistant.set_content(ANSWER)
    with qtbot.waitSignal(assistant.copy_requested):
        qtbot.mouseClick(assistant.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == ANSWER


def test_a_long_code_line_scrolls_sideways(assistant, qtbot):
    assistant.set_content("```\n" + "x = 1  # " + "long " * 200 + "\n```")
    editor = assistant.code_blocks()[0].editor
    qtbot.waitUntil(lambda: editor.horizontalScrollBar().maximum() > 0)
    assert editor.lineWrapMode() == editor.LineWrapMode.NoWrap
    qtbot.waitUntil(lambda: editor.verticalScrollBar().maximum() == 0)


def test_streaming_reuses_block_widgets(assistant):
    assistant.set_content("Intro\n\n```python\nprint(1)")
    prose = prose_blocks(assistant)[0]
    code = assistant.code_blocks()[0]
    assistant.set_content("Intro\n\n```python\nprint(1)\nprint(2)\n```\n\nDone")
    assert prose_blocks(assistant)[0] is prose
    assert assistant.code_blocks()[0] is code
    assert code.text() == "print(1)\nprint(2)"
    assert prose_blocks(assistant)[1].source_text == "Done"
    # A block whose kind changes is replaced, and the ones after it go too.
    assistant.set_content("```\ncode first\n```")
    assert prose_blocks(assistant) == []
    assert assistant.code_blocks()[0].text() == "code first"


def test_user_messages_are_plain_text_in_a_bubble(qtbot):
    widget = MessageWidget("user")
    qtbot.addWidget(widget)
    widget.set_content("**not bold** <b>nor this</b>\nsecond line")
    assert widget.role == "user"
    assert widget.content() == "**not bold** <b>nor this</b>\nsecond line"
    assert widget.user_text.toPlainText() == "**not bold** <b>nor this</b>\nsecond line"
    assert widget.findChildren(CodeBlock) == []
    assert widget.body.objectName() == "userBubble"


def test_long_words_wrap_instead_of_widening_the_chat(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(560, 400)
    view.show()
    long_word = "https://example.com/" + "averyveryverylongpath" * 12
    user = view.add_message(1, "user", long_word)
    answer = view.add_message(2, "assistant", f"See {long_word} and `{'x' * 200}`.")
    qtbot.waitUntil(lambda: user.isVisible() and answer.isVisible())
    QApplication.processEvents()
    assert view.column.width() <= view.viewport().width()
    for text in (user.user_text, *answer.findChildren(RichText)):
        if text.isVisible():
            assert text.document().idealWidth() <= text.viewport().width() + 1


def test_reasoning_is_a_collapsed_section(assistant, qtbot):
    assistant.set_status("streaming")
    assert not assistant.thinking_toggle.isVisibleTo(assistant)
    assert assistant.typing.isVisibleTo(assistant)
    assistant.set_reasoning("Let me think about files.")
    assert assistant.thinking_toggle.isVisibleTo(assistant)
    assert assistant.thinking_toggle.text() == "Thinking…"
    assert not assistant.thinking_text.isVisibleTo(assistant)
    qtbot.mouseClick(assistant.thinking_toggle, Qt.MouseButton.LeftButton)
    assert assistant.thinking_text.isVisibleTo(assistant)
    assert assistant.thinking_text.toPlainText() == "Let me think about files."
    assistant.set_reasoning("Let me think about files. And folders.")
    assert assistant.thinking_text.toPlainText() == "Let me think about files. And folders."
    assistant.set_content("Answer")
    assistant.set_status("complete")
    assert "7 words" in assistant.thinking_toggle.text()
    assert not assistant.typing.isVisibleTo(assistant)
    assistant.set_reasoning("")
    assert not assistant.thinking_toggle.isVisibleTo(assistant)
    assert not assistant.thinking_text.isVisibleTo(assistant)


@pytest.mark.parametrize(
    ("status", "detail", "note"),
    [
        ("complete", "", ""),
        ("stopped", "", "Stopped"),
        ("interrupted", "", "Interrupted — the engine stopped unexpectedly. The answer above is incomplete."),
        ("error", "The model ran out of memory.", "The model ran out of memory."),
    ],
)
def test_status_notes(assistant, status, detail, note):
    assistant.set_content("Partial answer")
    assistant.set_status(status, detail)
    assert assistant.status() == status
    assert assistant.status_note.text() == note
    assert assistant.status_note.isVisibleTo(assistant) == bool(note)
    assert assistant.status_note.property("kind") == status


def test_footer_and_regenerate_button(assistant, qtbot):
    assistant.set_content("Answer")
    assistant.set_footer("42 tokens · 31.2 tok/s")
    assert assistant.stats_label.text() == "42 tokens · 31.2 tok/s"
    assert not assistant.regenerate_button.isVisibleTo(assistant)
    assistant.set_can_regenerate(True)
    assert assistant.regenerate_button.isVisibleTo(assistant)
    assert assistant.regenerate_button.accessibleName()
    with qtbot.waitSignal(assistant.regenerate_requested):
        qtbot.mouseClick(assistant.regenerate_button, Qt.MouseButton.LeftButton)
    assistant.set_status("streaming")
    assert not assistant.footer.isVisibleTo(assistant)


# --- ChatView -------------------------------------------------------------------------------


@pytest.fixture
def view(qtbot):
    chat = ChatView()
    qtbot.addWidget(chat)
    chat.resize(900, 500)
    chat.show()
    return chat


def test_streaming_text_is_coalesced(view, qtbot, monkeypatch):
    renders: list[str] = []
    original = MessageWidget.set_content

    def counting(self, text):
        renders.append(text)
        original(self, text)

    view.add_message(1, "user", "Count to a hundred")
    answer = view.add_message(2, "assistant", status="streaming")
    monkeypatch.setattr(MessageWidget, "set_content", counting)
    text = ""
    for number in range(1, 101):
        text += f"{number} "
        view.set_streaming_text(2, text, "counting")
    assert renders == []  # nothing yet: rendering waits for the next frame
    qtbot.waitUntil(lambda: answer.content() == text)
    assert len(renders) <= 3
    assert answer.reasoning() == "counting"
    view.set_streaming_text(2, text + "done")
    view.flush()  # applies at once
    assert answer.content() == text + "done"


def test_remove_from_removes_that_message_and_later_ones(view):
    for key, role in enumerate(["user", "assistant", "user", "assistant"], start=1):
        view.add_message(key, role, f"message {key}")
    view.remove_from(3)
    assert view.message_keys() == [1, 2]
    assert view.message(3) is None and view.message(4) is None
    view.remove_from(99)  # unknown: nothing happens
    assert view.message_keys() == [1, 2]
    view.clear()
    assert view.message_keys() == []


def test_only_the_last_answer_can_be_regenerated(view, qtbot):
    for key, role in enumerate(["user", "assistant", "user", "assistant"], start=1):
        view.add_message(key, role, f"message {key}")
    first, last = view.message(2), view.message(4)

    def can_regenerate(message: MessageWidget) -> bool:
        return message.regenerate_button.isVisibleTo(message)

    assert not can_regenerate(first) and can_regenerate(last)
    qtbot.waitUntil(last.isVisible)
    with qtbot.waitSignal(view.regenerate_requested) as signal:
        qtbot.mouseClick(last.regenerate_button, Qt.MouseButton.LeftButton)
    assert signal.args == [4]
    view.add_message(5, "user", "one more")  # the conversation now ends with a question
    assert not can_regenerate(last)
    view.remove_from(3)
    assert can_regenerate(first)
    view.set_regenerate_enabled(False)  # e.g. while another answer is being written
    assert not can_regenerate(first)


def test_empty_state(view):
    view.set_empty_text("Start a conversation", "Ask anything.")
    assert not view.empty.isHidden() and view.empty_title.text() == "Start a conversation"
    assert view.empty_hint.text() == "Ask anything."
    view.add_message(1, "user", "Hi")
    assert view.empty.isHidden()
    view.remove_from(1)
    assert not view.empty.isHidden()


def test_scrolls_with_the_answer_only_when_at_the_bottom(view, qtbot):
    for key in range(1, 9):
        view.add_message(key, "user" if key % 2 else "assistant", "Some text.\n\n" * 6)
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.add_message(9, "assistant", status="streaming")
    view.set_streaming_text(9, "A long answer.\n\n" * 20)
    view.flush()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    bar.setValue(0)  # the user scrolls up to read
    view.set_streaming_text(9, "A long answer.\n\n" * 40)
    view.flush()
    qtbot.waitUntil(lambda: view.message(9).content().count("\n") == 80)
    QApplication.processEvents()
    assert bar.value() == 0


# --- Composer -------------------------------------------------------------------------------


@pytest.fixture
def composer(qtbot):
    widget = Composer()
    qtbot.addWidget(widget)
    widget.resize(900, 120)
    widget.show()
    return widget


def test_enter_sends_and_clears(composer, qtbot):
    qtbot.keyClicks(composer.editor, "Hello there")
    with qtbot.waitSignal(composer.send_requested) as signal:
        qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert signal.args == ["Hello there"]
    assert composer.text() == ""


def test_ctrl_enter_sends_too(composer, qtbot):
    composer.set_text("Hi")
    with qtbot.waitSignal(composer.send_requested) as signal:
        qtbot.keyClick(composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert signal.args == ["Hi"]


def test_shift_enter_adds_a_line(composer, qtbot):
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    height = composer.editor.height()
    qtbot.keyClicks(composer.editor, "first")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.editor, "second")
    assert composer.text() == "first\nsecond" and sent == []
    qtbot.waitUntil(lambda: composer.editor.height() > height)  # grows with the text


def test_the_box_grows_up_to_a_limit_then_scrolls(composer, qtbot):
    one_line = composer.editor.height()
    composer.set_text("line\n" * 30)
    qtbot.waitUntil(lambda: composer.editor.verticalScrollBar().maximum() > 0)
    assert one_line < composer.editor.height() < one_line * 9


def test_empty_text_is_not_sent(composer, qtbot):
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    composer.set_text("   \n ")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == []
    assert composer.hint.isVisibleTo(composer) and composer.hint.text() == EMPTY_HINT
    qtbot.keyClicks(composer.editor, "x")
    assert not composer.hint.isVisibleTo(composer)


def test_escape_stops_only_while_busy(composer, qtbot):
    stops: list[bool] = []
    composer.stop_requested.connect(lambda: stops.append(True))
    qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    assert stops == []
    composer.set_busy(True)
    assert composer.button.text() == "Stop" and composer.button.isEnabled()
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.keyClick(composer.editor, Qt.Key.Key_Escape)
    with qtbot.waitSignal(composer.stop_requested):
        qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    composer.set_busy(False)
    assert composer.button.text() == "Send"


def test_nothing_is_sent_while_busy(composer, qtbot):
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    composer.set_busy(True)
    composer.set_text("next question")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == [] and composer.text() == "next question"


def test_blocked_keeps_the_text_and_does_not_send(composer, qtbot):
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    composer.set_blocked("Load a model to start chatting")
    assert composer.editor.placeholderText() == "Load a model to start chatting"
    qtbot.keyClicks(composer.editor, "draft")
    qtbot.keyClick(composer.editor, Qt.Key.Key_Return)
    assert sent == [] and composer.text() == "draft"
    assert not composer.button.isEnabled()
    assert composer.hint.text() == "Load a model to start chatting"
    composer.set_blocked(None)
    assert composer.editor.placeholderText() == PLACEHOLDER
    with qtbot.waitSignal(composer.send_requested):
        qtbot.keyClick(composer.editor, Qt.Key.Key_Return)


def test_interactive_widgets_have_accessible_names(composer, assistant):
    assistant.set_content(ANSWER)
    for widget in (
        composer.editor,
        composer.button,
        assistant.copy_button,
        assistant.regenerate_button,
        assistant.thinking_toggle,
        assistant.code_blocks()[0].copy_button,
    ):
        assert widget.accessibleName(), widget


# --- Theme ----------------------------------------------------------------------------------


def test_themes(qtbot):
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, "dark")
    assert is_dark(app)
    apply_theme(app, "light")
    assert not is_dark(app)
    apply_theme(app, "system")  # whatever the platform says; it must not fail
    with pytest.raises(ValueError):
        apply_theme(app, "sepia")
    app.setStyleSheet("")


def test_the_settings_panel_keeps_the_picture_detail_of_a_chat(qtbot):
    from app.core.generation import GenerationSettings
    from app.ui.chat.settings_panel import ChatSettingsPanel

    panel = ChatSettingsPanel()
    qtbot.addWidget(panel)
    panel.set_values(GenerationSettings(image_budget=280, temperature=0.4), "Be brief.")
    assert panel.image_budget.currentText() == "280 tokens"
    with qtbot.waitSignal(panel.settings_edited) as edited:
        panel.image_budget.setCurrentIndex(panel.image_budget.findData(1120))
    settings, prompt = edited.args
    assert settings.image_budget == 1120 and settings.temperature == 0.4 and prompt == "Be brief."
    with qtbot.waitSignal(panel.settings_edited) as edited:
        panel.temperature.setValue(0.7)  # another edit keeps the picture detail
    assert edited.args[0].image_budget == 1120
