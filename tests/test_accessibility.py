"""Accessibility in the real window: every control has a name a screen reader can say, the
conversation reads as a list of messages with their speakers, a finished answer is announced once,
and the whole app works from the keyboard alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.core.generation import GenerationSettings
from app.core.paths import resolve_paths
from app.ui.application import Hearth, build
from app.ui.chat.presets_dialog import PresetsDialog
from app.ui.shortcuts_dialog import ShortcutsDialog

TIMEOUT = 60_000
INTERACTIVE = (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)


def unnamed_controls(root: QWidget) -> list[str]:
    """Every interactive widget under ``root`` whose accessible name is empty, as a screen reader
    would get it (an explicit name, or one Qt derives from the text or a label)."""
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, INTERACTIVE) or not widget.isVisibleTo(root):
            continue
        if widget.objectName().startswith("qt_"):  # Qt's own parts (scroll bar arrows, spin box lines)
            continue
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if not name.strip():
            missing.append(
                f"{type(widget).__name__} {widget.objectName()!r} in {type(widget.parent()).__name__}"
            )
    return missing


@pytest.fixture
def start_app(qtbot, hearth_home):
    apps: list[Hearth] = []

    def start(model: Path | None = None) -> Hearth:
        hearth = build(
            resolve_paths(hearth_home).ensure(), model=str(model) if model else None, theme="light"
        )
        qtbot.addWidget(hearth.window)
        apps.append(hearth)
        if model is not None:
            qtbot.waitUntil(lambda: hearth.supervisor.loaded_model is not None, timeout=TIMEOUT)
        return hearth

    yield start
    for hearth in apps:
        hearth.shutdown()


def test_every_control_has_a_name(qtbot, start_app, smollm2_path):
    hearth = start_app(smollm2_path)
    window = hearth.window
    window.settings_button.setChecked(True)  # the settings panel too
    window.search.field.setText("x")  # and the search results
    assert unnamed_controls(window) == []
    for dialog in (
        PresetsDialog(window.settings.presets, "", window),
        ShortcutsDialog(window.menuBar(), window),
    ):
        qtbot.addWidget(dialog)
        dialog.show()
        assert unnamed_controls(dialog) == [], type(dialog).__name__
    models = hearth.models.show()
    for tab in range(models.tabs.count()):
        models.tabs.setCurrentIndex(tab)
        assert unnamed_controls(models) == [], models.tabs.tabText(tab)


def test_the_conversation_reads_as_a_list_and_a_finished_answer_is_announced_once(
    qtbot, start_app, smollm2_path
):
    hearth = start_app(smollm2_path)
    window = hearth.window
    hearth.store.set_settings(window.current_id, GenerationSettings(max_tokens=40))
    spoken: list[str] = []
    window.announcer.announced.connect(spoken.append)
    window.composer.set_text("Say hello.")
    window.composer.submit()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)
    answer = hearth.store.messages(window.current_id)[-1]
    assert len(spoken) == 1 and spoken[0].startswith("Hearth answered:")
    assert answer.content.split()[0] in spoken[0]
    interface = QAccessible.queryAccessibleInterface(window.chat_view)
    assert (
        interface.role() == QAccessible.Role.List and interface.text(QAccessible.Text.Name) == "Conversation"
    )
    assert interface.childCount() == 2
    texts = [interface.child(i).text(QAccessible.Text.Name) for i in range(interface.childCount())]
    assert texts[0] == "You: Say hello." and texts[1].startswith("Hearth: ")


def test_a_keyboard_only_session(qtbot, start_app, smollm2_path):
    """New chat, ask, read the answer, ask for another version, flip between versions, copy, edit the
    question, search, open the shortcut overview: keys only."""
    hearth = start_app(smollm2_path)
    window = hearth.window
    # Short answers, and greedy ones: a sampled answer may say "colour" and be found first below.
    hearth.store.set_settings(window.current_id, GenerationSettings(max_tokens=40, temperature=0.0))
    window.show_conversation(window.current_id)
    qtbot.waitUntil(window.isActiveWindow)

    def keys(key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        target = QApplication.focusWidget() or window
        qtbot.keyClick(target, key, modifiers)

    def idle() -> None:
        qtbot.waitUntil(lambda: not window.controller.busy, timeout=TIMEOUT)

    ctrl, alt = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier
    keys(Qt.Key.Key_L, ctrl)
    assert QApplication.focusWidget() is window.composer.editor
    qtbot.keyClicks(window.composer.editor, "Name a colour.")
    keys(Qt.Key.Key_Return)
    idle()
    keys(Qt.Key.Key_F6)  # from the message box, round to the chat list
    assert QApplication.focusWidget() is window.list_view
    keys(Qt.Key.Key_F6)  # then the conversation
    assert QApplication.focusWidget() is window.chat_view
    first = window.chat_view.current_message().message
    assert first.role == "assistant"
    keys(Qt.Key.Key_C, ctrl)
    assert QGuiApplication.clipboard().text() == first.content
    keys(Qt.Key.Key_R, ctrl)  # another version of the answer
    idle()
    window.chat_view.setFocus()
    assert window.chat_view.current_message().message.id != first.id
    keys(Qt.Key.Key_Left, alt)  # back to the first version
    assert window.chat_view.message_ids()[-1] == first.id
    keys(Qt.Key.Key_Up)
    keys(Qt.Key.Key_E, ctrl)  # edit the question
    assert window.composer.editing and window.composer.text() == "Name a colour."
    keys(Qt.Key.Key_Escape)
    assert not window.composer.editing
    keys(Qt.Key.Key_F, ctrl | Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is window.search.field
    qtbot.keyClicks(window.search.field, "colour")
    qtbot.waitUntil(lambda: window.search.model.rowCount() > 0, timeout=TIMEOUT)
    keys(Qt.Key.Key_Return)
    assert window.chat_view.current_message().message.content == "Name a colour."
    keys(Qt.Key.Key_Escape)
    assert not window.search.active
