"""The scrolling column of messages, with streaming updates coalesced to a steady frame rate."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.ui.chat.message_widget import MessageWidget

RENDER_INTERVAL_MS = 50
# A very long answer costs more per render: it gets fewer frames rather than a sluggish window.
MAX_RENDER_INTERVAL_MS = 400
RENDER_BUDGET = 0.25  # of the UI thread's time, at most, spent re-rendering a streaming answer
# Lines longer than this are tiring to read: wider windows get wider side margins instead.
READABLE_WIDTH = 820
SIDE_MARGIN = 24
NEAR_BOTTOM_PX = 48


class ChatView(QScrollArea):
    """Messages in order, by key (the stored message id), centred at a readable width."""

    regenerate_requested = Signal(int)
    """The user asked for a new version of the answer with this key."""

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
        self._layout.setContentsMargins(SIDE_MARGIN, 20, SIDE_MARGIN, 24)
        self._layout.setSpacing(22)
        self.setWidget(self.column)

        self.empty = QWidget()
        self.empty.setObjectName("emptyState")
        self.empty_title = QLabel()
        self.empty_title.setObjectName("emptyTitle")
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.setSpacing(8)
        empty_layout.addStretch(2)  # a little above the middle looks centred
        for label in (self.empty_title, self.empty_hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            empty_layout.addWidget(label)
        empty_layout.addStretch(3)
        self._layout.addWidget(self.empty, 1)
        self._layout.addStretch(0)  # keeps messages at the top when they do not fill the view

        self._messages: dict[int, MessageWidget] = {}
        self._order: list[int] = []
        self._pending: dict[int, tuple[str, str]] = {}
        self._can_regenerate = True
        self._follow = True
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.flush)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._remember_follow)
        bar.rangeChanged.connect(self._keep_following)
        self._show_empty()

    def resizeEvent(self, event: QResizeEvent) -> None:
        side = max(SIDE_MARGIN, (self.viewport().width() - READABLE_WIDTH) // 2)
        margins = self._layout.contentsMargins()
        self._layout.setContentsMargins(side, margins.top(), side, margins.bottom())
        super().resizeEvent(event)

    # --- content ---------------------------------------------------------------------------

    def set_empty_text(self, title: str, hint: str = "") -> None:
        """What an empty conversation shows: a large muted title and an optional hint line."""
        self.empty_title.setText(title)
        self.empty_hint.setText(hint)
        self.empty_hint.setVisible(bool(hint))

    def clear(self) -> None:
        self._pending.clear()
        self._render_timer.stop()
        for key in self._order:
            self._discard(self._messages.pop(key))
        self._order.clear()
        self._follow = True
        self._show_empty()

    def add_message(
        self, key: int, role: str, content: str = "", reasoning: str = "", status: str = "complete"
    ) -> MessageWidget:
        """Append a message and return its widget.

        A key already on screen is removed first, with the messages after it (history was
        rewritten from there).
        """
        if key in self._messages:
            self.remove_from(key)
        widget = MessageWidget(role)
        widget.set_content(content)
        widget.set_reasoning(reasoning)
        widget.set_status(status)
        widget.regenerate_requested.connect(lambda key=key: self.regenerate_requested.emit(key))
        # Before the trailing stretch.
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self._messages[key] = widget
        self._order.append(key)
        self._follow = True  # a new message is what the user wants to see
        self._show_empty()
        self._update_regenerate()
        return widget

    def message(self, key: int) -> MessageWidget | None:
        return self._messages.get(key)

    def message_keys(self) -> list[int]:
        return list(self._order)

    def remove_from(self, key: int) -> None:
        """Remove the message with this key and every message after it."""
        if key not in self._messages:
            return
        index = self._order.index(key)
        for gone in self._order[index:]:
            self._pending.pop(gone, None)
            self._discard(self._messages.pop(gone))
        del self._order[index:]
        self._show_empty()
        self._update_regenerate()

    def _discard(self, widget: MessageWidget) -> None:
        widget.setParent(None)
        widget.deleteLater()

    def _show_empty(self) -> None:
        empty = not self._order
        self.empty.setVisible(empty)
        # Messages sit at the top; the empty state takes the whole height to centre itself.
        self._layout.setStretch(self._layout.count() - 1, 0 if empty else 1)

    # --- streaming -------------------------------------------------------------------------

    def set_streaming_text(self, key: int, content: str, reasoning: str = "") -> None:
        """Show the newest text of a streaming answer.

        Only the latest text is kept, and it is rendered at most every RENDER_INTERVAL_MS, so
        a fast model costs at most ~20 re-renders a second however many tokens it produces
        (fewer for very long answers, see ``flush``).
        """
        self._pending[key] = (content, reasoning)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def flush(self) -> None:
        """Render any pending streamed text now."""
        self._render_timer.stop()
        if not self._pending:
            return
        started = time.perf_counter()
        pending, self._pending = self._pending, {}
        for key, (content, reasoning) in pending.items():
            widget = self._messages.get(key)
            if widget is not None:
                widget.set_reasoning(reasoning)
                widget.set_content(content)
        self._layout.activate()  # lay the new text out now, so that its cost is measured
        cost_ms = (time.perf_counter() - started) * 1000
        interval = min(MAX_RENDER_INTERVAL_MS, max(RENDER_INTERVAL_MS, cost_ms / RENDER_BUDGET))
        self._render_timer.setInterval(int(interval))

    # --- regenerate ------------------------------------------------------------------------

    def set_regenerate_enabled(self, enabled: bool) -> None:
        """Allow or forbid regenerating at all (e.g. not while an answer is being written)."""
        self._can_regenerate = enabled
        self._update_regenerate()

    def _update_regenerate(self) -> None:
        # Only the answer that ends the conversation can be replaced.
        last = self._order[-1] if self._order else None
        for key, widget in self._messages.items():
            widget.set_can_regenerate(self._can_regenerate and key == last and widget.role == "assistant")

    # --- scrolling -------------------------------------------------------------------------

    def _remember_follow(self, value: int) -> None:
        self._follow = self.verticalScrollBar().maximum() - value <= NEAR_BOTTOM_PX

    def _keep_following(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def is_at_bottom(self) -> bool:
        return self._follow

    def scroll_to_bottom(self) -> None:
        self._follow = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
