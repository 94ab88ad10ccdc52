"""The question asked before a tool reads the user's files, in place above the message box: what
the model wants to read, and three answers (this answer only, always in this chat, no). The
answer waits for it; Stop still stops it."""

from __future__ import annotations

import json

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.storage.tool_records import ToolCallRecord
from app.ui.chat.tool_rounds import Approval

MAX_LISTED = 3


class ApprovalBar(QWidget):
    chosen = Signal(object)
    """The user answered: an ``Approval``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("The model asks to read files")
        box = QFrame()
        box.setObjectName("approvalBar")
        self.question = QLabel("The model wants to read your files.")
        self.question.setObjectName("approvalQuestion")
        self.question.setWordWrap(True)
        self.details = QLabel()
        self.details.setObjectName("approvalDetails")
        self.details.setWordWrap(True)
        self.buttons: dict[Approval, QPushButton] = {}
        row = QHBoxLayout()
        row.setContentsMargins(0, 4, 0, 0)
        for choice, label, tip in (
            (Approval.ONCE, "Allow once", "Let the model read files for this answer"),
            (Approval.ALWAYS, "Always in this chat", "Let the model read the shared folders in this chat"),
            (Approval.DENY, "Deny", "The model is told it may not read them"),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.setAccessibleName(label)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, c=choice: self._choose(c))
            self.buttons[choice] = button
            row.addWidget(button)
        self.buttons[Approval.ONCE].setDefault(True)
        row.addStretch(1)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addWidget(self.question)
        layout.addWidget(self.details)
        layout.addLayout(row)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 4, 24, 4)
        outer.addWidget(box)
        self.setVisible(False)

    def ask(self, calls: list[ToolCallRecord], folders: tuple[str, ...]) -> None:
        shared = ", ".join(folders) if folders else "none yet (share one in the chat's settings)"
        lines = [f"{call.name}({_arguments(call)})" for call in calls[:MAX_LISTED]]
        if len(calls) > MAX_LISTED:
            lines.append(f"and {len(calls) - MAX_LISTED} more")
        self.details.setText("\n".join([*lines, f"Shared in this chat: {shared}"]))
        self.setVisible(True)
        self.buttons[Approval.ONCE].setFocus()

    def _choose(self, choice: Approval) -> None:
        self.setVisible(False)
        self.chosen.emit(choice)


def _arguments(call: ToolCallRecord) -> str:
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in call.arguments.items())
    return text if len(text) < 160 else text[:159] + "…"
