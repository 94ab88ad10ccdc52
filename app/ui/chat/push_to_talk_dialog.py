"""Choosing the push-to-talk keys: press the combination to hold. It must have a modifier (or be a
function key), so that holding it never types into the message, and it may not be a shortcut
Hearth already uses."""

from __future__ import annotations

from collections.abc import Callable, Collection

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

DEFAULT_KEYS = "Ctrl+Space"
_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
)


def problem_with(keys: QKeySequence, taken: Collection[str]) -> str:
    """Why ``keys`` cannot be the push-to-talk keys ("" when they can)."""
    if keys.isEmpty():
        return "Press the keys to hold while you speak."
    combination = keys[0]  # type: ignore[index]
    key = combination.key()
    function_key = Qt.Key.Key_F1 <= key <= Qt.Key.Key_F35
    if not (combination.keyboardModifiers() & _MODIFIERS) and not function_key:
        return "Hold Ctrl, Alt or Meta with it (or choose a function key), so that it never types."
    text = keys.toString(QKeySequence.SequenceFormat.PortableText)
    if text in taken:
        return f"{keys.toString(QKeySequence.SequenceFormat.NativeText)} is already a Hearth shortcut."
    return ""


class PushToTalkDialog(QDialog):
    def __init__(
        self, parent: QWidget, current: str, taken: Collection[str], chosen: Callable[[str], None]
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pushToTalkDialog")
        self.setWindowTitle("Push-to-talk keys")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._taken, self._chosen = set(taken), chosen
        intro = QLabel("Hold these keys anywhere in the window to record; let go to stop.")
        intro.setWordWrap(True)
        self.editor = QKeySequenceEdit(QKeySequence(current))
        self.editor.setMaximumSequenceLength(1)
        self.editor.setAccessibleName("Push-to-talk keys")
        self.problem = QLabel()
        self.problem.setObjectName("composerHint")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        reset = QPushButton(f"Use {DEFAULT_KEYS}")
        buttons.addButton(reset, QDialogButtonBox.ButtonRole.ResetRole)
        reset.clicked.connect(lambda: self.editor.setKeySequence(QKeySequence(DEFAULT_KEYS)))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.editor.keySequenceChanged.connect(self._check)
        self.setMinimumWidth(400)
        column = QVBoxLayout(self)
        column.setContentsMargins(18, 16, 18, 14)
        column.setSpacing(10)
        column.addWidget(intro)
        column.addWidget(self.editor)
        column.addWidget(self.problem)
        column.addWidget(buttons)
        self._check()

    def _check(self) -> None:
        problem = problem_with(self.editor.keySequence(), self._taken)
        self.problem.setText(problem)
        self.ok.setEnabled(not problem)

    def accept(self) -> None:
        if not problem_with(self.editor.keySequence(), self._taken):
            self._chosen(self.editor.keySequence().toString(QKeySequence.SequenceFormat.PortableText))
            super().accept()
