"""Where the user writes: Enter sends, Shift+Enter adds a line, Escape stops an answer."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent, QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.ui.chat.chat_view import READABLE_WIDTH, SIDE_MARGIN
from app.ui.chat.message_widget import repolish

PLACEHOLDER = "Message Hearth…  (Enter to send, Shift+Enter for a new line)"
SHORT_PLACEHOLDER = "Message Hearth…"
EMPTY_HINT = "Type a message first."
MAX_LINES = 8


class Composer(QFrame):
    """A message box that grows with its text, and a Send button that turns into Stop."""

    send_requested = Signal(str)
    """The user sent this text (the box is already cleared)."""
    stop_requested = Signal()
    """The user asked to stop the answer being written (Stop button, or Escape while busy)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._busy = False
        self._blocked: str | None = None

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("composerInput")
        self.editor.setAccessibleName("Message")
        self.editor.setAccessibleDescription(
            "Enter sends the message, Shift+Enter starts a new line, Escape stops an answer"
        )
        self.editor.setTabChangesFocus(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.installEventFilter(self)
        self.editor.textChanged.connect(self._on_text_changed)
        # In lines: changes when typing, and when the width changes how the text wraps.
        self.editor.document().documentLayout().documentSizeChanged.connect(lambda *_: self._fit_height())

        self.button = QPushButton("Send")
        self.button.setObjectName("sendButton")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self._on_button)

        self.hint = QLabel()
        self.hint.setObjectName("composerHint")
        self.hint.setAccessibleName("Hint")
        self.hint.setVisible(False)

        self.box = QFrame()
        self.box.setObjectName("composerBox")
        row = QHBoxLayout(self.box)
        row.setContentsMargins(14, 8, 8, 8)
        row.setSpacing(8)
        row.addWidget(self.editor, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(SIDE_MARGIN, 6, SIDE_MARGIN, 14)
        self._layout.setSpacing(4)
        self._layout.addWidget(self.box)
        self._layout.addWidget(self.hint)
        self._update_placeholder()
        self._update_button()
        self._fit_height()

    # --- API -------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(QTextCursor.MoveOperation.End)

    def focus_input(self) -> None:
        self.editor.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_busy(self, busy: bool) -> None:
        """While an answer is being written the button stops it instead of sending."""
        self._busy = busy
        self.button.setProperty("busy", busy)
        repolish(self.button)
        self._update_button()

    def is_busy(self) -> bool:
        return self._busy

    def set_blocked(self, reason: str | None) -> None:
        """Disable sending and show why in the box; typing stays possible, so nothing is lost."""
        self._blocked = reason or None
        self.hint.setVisible(False)
        self._update_placeholder()
        self._update_button()

    def submit(self) -> None:
        """Send the text, if there is any and sending is possible (what Enter does)."""
        if self._busy:
            return
        if self._blocked:
            self._show_hint(self._blocked)
            return
        text = self.text()
        if not text.strip():
            self._show_hint(EMPTY_HINT)
            return
        self.editor.clear()
        self.send_requested.emit(text)

    # --- behaviour -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor and event.type() == QEvent.Type.FontChange:
            self._fit_height()  # the stylesheet sets the font after construction
            self._update_placeholder()
        if watched is self.editor and event.type() == QEvent.Type.Resize:
            assert isinstance(event, QResizeEvent)
            self._update_placeholder(event.size().width())
        if watched is self.editor and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    return False  # QPlainTextEdit inserts the new line
                self.submit()  # Enter, and Ctrl+Enter too
                return True
            if key == Qt.Key.Key_Escape and self._busy:
                self.stop_requested.emit()
                return True
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # The same readable width as the messages above, centred under them.
        side = max(SIDE_MARGIN, (self.width() - READABLE_WIDTH) // 2)
        margins = self._layout.contentsMargins()
        self._layout.setContentsMargins(side, margins.top(), side, margins.bottom())
        super().resizeEvent(event)

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
        self._update_button()

    def _update_placeholder(self, width: int | None = None) -> None:
        if self._blocked:
            text = self._blocked
        else:
            # The placeholder does not wrap into view: drop the key hints where they do not fit.
            width = self.editor.width() if width is None else width
            room = width - 2 * (self.editor.frameWidth() + self.editor.document().documentMargin()) - 4
            fits = self.editor.fontMetrics().horizontalAdvance(PLACEHOLDER) <= room
            text = PLACEHOLDER if fits else SHORT_PLACEHOLDER
        self.editor.setPlaceholderText(text)

    def _update_button(self) -> None:
        if self._busy:
            self.button.setText("Stop")
            self.button.setAccessibleName("Stop answer")
            self.button.setAccessibleDescription("Stops the answer being written (Escape)")
            self.button.setEnabled(True)
        else:
            self.button.setText("Send")
            self.button.setAccessibleName("Send message")
            self.button.setAccessibleDescription(self._blocked or "Sends the message (Enter)")
            self.button.setEnabled(not self._blocked and bool(self.text().strip()))

    def _fit_height(self) -> None:
        """Grow from one line to MAX_LINES, then scroll."""
        lines = self.editor.document().lineCount()
        policy = Qt.ScrollBarPolicy
        self.editor.setVerticalScrollBarPolicy(
            policy.ScrollBarAsNeeded if lines > MAX_LINES else policy.ScrollBarAlwaysOff
        )
        shown = min(MAX_LINES, max(1, lines))
        margin = 2 * self.editor.document().documentMargin()
        frame = 2 * self.editor.frameWidth()
        # One pixel more than the text, or QPlainTextEdit counts the last line as not fitting.
        height = shown * self.editor.fontMetrics().lineSpacing() + margin + frame + 1
        self.editor.setFixedHeight(int(height))
