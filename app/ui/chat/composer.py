"""Where the user writes: Enter sends, Shift+Enter adds a line, Escape stops an answer."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

PLACEHOLDER = "Message Hearth…   (Enter to send, Shift+Enter for a new line)"
MAX_LINES = 8


class Composer(QFrame):
    send_requested = Signal(str)
    """The user sent this text (the box is already cleared)."""
    stop_requested = Signal()
    """The user asked to stop the current answer (Stop button or Escape)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._busy = False
        self._blocked: str | None = None
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("composerInput")
        self.editor.setAccessibleName("Message")
        self.editor.setPlaceholderText(PLACEHOLDER)
        self.editor.setTabChangesFocus(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.installEventFilter(self)
        self.editor.textChanged.connect(self._on_text_changed)
        self.button = QPushButton("Send")
        self.button.setObjectName("sendButton")
        self.button.setAccessibleName("Send")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self._on_button)
        self.hint = QLabel()
        self.hint.setObjectName("composerHint")
        self.hint.setVisible(False)

        box = QFrame()
        box.setObjectName("composerBox")
        row = QHBoxLayout(box)
        row.setContentsMargins(12, 8, 8, 8)
        row.addWidget(self.editor, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 8, 24, 14)
        layout.setSpacing(4)
        layout.addWidget(box)
        layout.addWidget(self.hint)
        self._fit_height()

    # --- API -------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def focus_input(self) -> None:
        self.editor.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_busy(self, busy: bool) -> None:
        """While an answer streams the button becomes Stop."""
        self._busy = busy
        self.button.setText("Stop" if busy else "Send")
        self.button.setAccessibleName("Stop answering" if busy else "Send")
        self.button.setProperty("busy", busy)
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)
        self._update_button()

    def set_blocked(self, reason: str | None) -> None:
        """Disable sending (typing stays possible, so nothing is lost) and say why."""
        self._blocked = reason
        self.editor.setPlaceholderText(reason or PLACEHOLDER)
        self._update_button()

    def is_busy(self) -> bool:
        return self._busy

    # --- behaviour -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key, mods = event.key(), event.modifiers()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if mods & Qt.KeyboardModifier.ShiftModifier:
                    return False  # a new line
                self.submit()
                return True
            if key == Qt.Key.Key_Escape and self._busy:
                self.stop_requested.emit()
                return True
        return super().eventFilter(watched, event)

    def submit(self) -> None:
        if self._busy:
            return
        text = self.text()
        if self._blocked:
            self._show_hint(self._blocked)
            return
        if not text.strip():
            self._show_hint("Type a message first.")
            return
        self.editor.clear()
        self.send_requested.emit(text)

    def _on_button(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self.submit()

    def _show_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.setVisible(True)

    def _on_text_changed(self) -> None:
        self.hint.setVisible(False)
        self._fit_height()
        self._update_button()

    def _update_button(self) -> None:
        self.button.setEnabled(self._busy or (not self._blocked and bool(self.text().strip())))

    def _fit_height(self) -> None:
        lines = min(MAX_LINES, max(1, self.editor.document().lineCount()))
        metrics = self.editor.fontMetrics()
        margin = 2 * int(self.editor.document().documentMargin())
        self.editor.setFixedHeight(lines * metrics.lineSpacing() + margin + 4)
