"""The scrolling column of messages, with streaming updates coalesced to a steady frame rate."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.ui.chat.message_widget import MessageWidget

RENDER_INTERVAL_MS = 50
READABLE_WIDTH = 820
NEAR_BOTTOM_PX = 48


class ChatView(QScrollArea):
    regenerate_requested = Signal(int)
    """The user asked for a new version of this answer (its key)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Conversation")
        # One full-width column whose side margins keep lines at a readable length: word-wrapped
        # labels then get their real width, so heights (and scrolling) are exact.
        self.column = QWidget()
        self.column.setObjectName("chatColumn")
        # The scroll area would otherwise size the column by its minimum size hint, which word-
        # wrapped labels compute at a narrow width: too tall, leaving blank space at the end.
        self.column.setMinimumHeight(1)
        self._layout = QVBoxLayout(self.column)
        self._layout.setContentsMargins(24, 16, 24, 24)
        self._layout.setSpacing(10)
        self._layout.addStretch(1)
        self.setWidget(self.column)

        self.empty = QWidget()
        empty_layout = QVBoxLayout(self.empty)
        self.empty_title = QLabel()
        self.empty_title.setObjectName("emptyTitle")
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        for label in (self.empty_title, self.empty_hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            empty_layout.addWidget(label)
        empty_layout.setContentsMargins(0, 120, 0, 0)
        self._layout.insertWidget(0, self.empty)

        self._messages: dict[int, MessageWidget] = {}
        self._order: list[int] = []
        self._pending: dict[int, tuple[str, str]] = {}
        self._can_regenerate = True
        self._follow = True
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.flush)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._remember_follow)
        bar.rangeChanged.connect(self._keep_following)

    def resizeEvent(self, event) -> None:
        side = max(24, (self.viewport().width() - READABLE_WIDTH) // 2)
        self._layout.setContentsMargins(side, 16, side, 24)
        super().resizeEvent(event)

    # --- content ---------------------------------------------------------------------------

    def set_empty_text(self, title: str, hint: str = "") -> None:
        self.empty_title.setText(title)
        self.empty_hint.setText(hint)

    def clear(self) -> None:
        self._pending.clear()
        for key in list(self._order):
            widget = self._messages.pop(key)
            widget.setParent(None)
            widget.deleteLater()
        self._order.clear()
        self.empty.setVisible(True)
        self._follow = True

    def add_message(
        self, key: int, role: str, content: str = "", reasoning: str = "", status: str = "complete"
    ) -> MessageWidget:
        widget = MessageWidget(role)
        widget.set_content(content)
        widget.set_reasoning(reasoning)
        widget.set_status(status)
        widget.regenerate_requested.connect(lambda key=key: self.regenerate_requested.emit(key))
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self._messages[key] = widget
        self._order.append(key)
        self.empty.setVisible(False)
        self._follow = True
        self._update_regenerate()
        return widget

    def message(self, key: int) -> MessageWidget | None:
        return self._messages.get(key)

    def message_keys(self) -> list[int]:
        return list(self._order)

    def remove_from(self, key: int) -> None:
        if key not in self._messages:
            return
        index = self._order.index(key)
        for gone in self._order[index:]:
            self._pending.pop(gone, None)
            widget = self._messages.pop(gone)
            widget.setParent(None)
            widget.deleteLater()
        del self._order[index:]
        self.empty.setVisible(not self._order)
        self._update_regenerate()

    # --- streaming -------------------------------------------------------------------------

    def set_streaming_text(self, key: int, content: str, reasoning: str = "") -> None:
        """Show the newest text of an answer; repaints happen at most every 50 ms."""
        self._pending[key] = (content, reasoning)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def flush(self) -> None:
        self._render_timer.stop()
        pending, self._pending = self._pending, {}
        for key, (content, reasoning) in pending.items():
            widget = self._messages.get(key)
            if widget is not None:
                widget.set_reasoning(reasoning)
                widget.set_content(content)

    # --- regenerate ------------------------------------------------------------------------

    def set_regenerate_enabled(self, enabled: bool) -> None:
        self._can_regenerate = enabled
        self._update_regenerate()

    def _update_regenerate(self) -> None:
        last_answer = next((k for k in reversed(self._order) if self._messages[k].role == "assistant"), None)
        last = self._order[-1] if self._order else None
        for key, widget in self._messages.items():
            widget.set_can_regenerate(self._can_regenerate and key == last_answer == last)

    # --- scrolling -------------------------------------------------------------------------

    def _remember_follow(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = bar.maximum() - value <= NEAR_BOTTOM_PX

    def _keep_following(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def scroll_to_bottom(self) -> None:
        self._follow = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
