"""The chat widgets on their own: Markdown blocks, the composer, the theme and the settings panel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.ui.chat.composer import EMPTY_HINT, PLACEHOLDER, Composer
from app.ui.chat.markdown_blocks import Block, split_blocks
from app.ui.theme import apply_theme, is_dark

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


def test_the_composer_controls_have_accessible_names(composer):
    for widget in (composer.editor, composer.button, composer.attach_button):
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


def test_a_new_placeholder_is_painted_at_once(composer, qtbot):
    # Qt repaints a plain-text box when its placeholder appears or goes, not when its words change:
    # "Loading the model…" stayed on screen after the model was ready.
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        paints = 0

        def eventFilter(self, _watched, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
            return False

    composer.set_blocked("Loading the model…")
    qtbot.waitExposed(composer)
    counter = PaintCounter()
    composer.editor.viewport().installEventFilter(counter)
    qtbot.wait(50)
    counter.paints = 0
    composer.set_blocked(None)
    qtbot.waitUntil(lambda: counter.paints > 0, timeout=2000)
