"""What can be done to a message, in words and with its key: the one list that the message's
context menu shows, the conversation's keys act on, and the shortcut overview describes."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui.chat.conversation_model import MessageRow
from app.ui.chat.message_docs import MessageDocs
from app.ui.chat.message_layout import Action, Hit

COPY_SELECTION = Hit(Action.COPY, -1)

# The conversation's own keys (when it has the keyboard focus), for the current message.
KEYS: dict[tuple[Qt.Key, Qt.KeyboardModifier], Hit] = {
    (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier): Hit(Action.THINKING),
    (Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier): Hit(Action.THINKING),
    (Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier): Hit(Action.EDIT),
    (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier): Hit(Action.REGENERATE),
    (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier): Hit(Action.DELETE),
    (Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier): Hit(Action.PIN),
    (Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier): Hit(Action.PREVIOUS),
    (Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier): Hit(Action.NEXT),
}


def message_actions(
    row: MessageRow, docs: MessageDocs, has_selection: bool, thinking_open: bool, can_regenerate: bool
) -> list[tuple[str, str, Hit]]:
    """(label, keys, action) for everything that can be done to this message now."""
    message = row.message
    actions: list[tuple[str, str, Hit]] = []
    if has_selection:
        actions.append(("Copy selected text", "Ctrl+C", COPY_SELECTION))
    actions.append(("Copy message", "" if actions else "Ctrl+C", Hit(Action.COPY)))
    codes = [part.block for part in docs.blocks if part.block.kind == "code"]
    for number, block in enumerate(codes):
        label = f"Copy code block {number + 1} ({block.language or 'code'})"
        actions.append((label, "", Hit(Action.COPY_CODE, number)))
    if docs.reasoning.strip():
        label = "Hide the reasoning" if thinking_open else "Show the reasoning"
        actions.append((label, "Enter", Hit(Action.THINKING)))
    if message.role == "user":
        actions.append(("Edit and ask again…", "Ctrl+E", Hit(Action.EDIT)))
    elif can_regenerate and message.status != "streaming":
        actions.append(("Regenerate", "Ctrl+R", Hit(Action.REGENERATE)))
    if len(row.alternatives) > 1:
        if row.alternative > 1:
            actions.append(("Previous version", "Alt+Left", Hit(Action.PREVIOUS)))
        if row.alternative < len(row.alternatives):
            actions.append(("Next version", "Alt+Right", Hit(Action.NEXT)))
    for number, attachment in enumerate(message.attachments):
        actions.append((f"Open “{attachment.name}”", "", Hit(Action.OPEN_ATTACHMENT, number)))
    if message.status != "streaming":
        pin = "Unpin" if message.pinned else "Pin: always read by the model"
        actions.append((pin, "Ctrl+P", Hit(Action.PIN)))
        actions.append(("Delete message", "Delete", Hit(Action.DELETE)))
    return actions
