"""The conversation on screen: a list view that lays out and paints only the messages in sight.

Each message is painted from its layout (``message_layout``), built once and kept while its text,
width and state stay the same; a streaming answer re-renders only its last section. The window of
rows the model holds moves as the user scrolls (older pages are read near the top, newer ones near
the bottom, far ones let go), and the view keeps the message under the user's eyes in place while
rows come and go. Text is selected within a message with the pointer; every action also has a key
and a context-menu entry, so the conversation works from the keyboard alone.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFocusEvent,
    QGuiApplication,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from app.ui.chat import view_probe
from app.ui.chat.conversation_model import MAX_ROWS, ConversationModel, MessageRole, MessageRow
from app.ui.chat.message_actions import COPY_SELECTION, KEYS, message_actions
from app.ui.chat.message_docs import MessageDocs, chat_font
from app.ui.chat.message_layout import Action, Hit, Layouter, MessageLayout, RowFacts, describe_stats
from app.ui.chat.message_painter import MessagePainter, PaintState
from app.ui.chat.view_paging import Paging
from app.ui.chat.view_pointer import PointerInput
from app.ui.chat.view_probe import ShownMessage
from app.ui.theme import colors_for

READABLE_WIDTH = 820  # lines longer than this are tiring to read: wider windows get wider margins
SIDE_MARGIN = 24
NEAR_BOTTOM_PX = 48
RENDER_INTERVAL_MS = 50
MAX_RENDER_INTERVAL_MS = 400
RENDER_BUDGET = 0.25  # of the UI thread's time, at most, spent re-rendering a streaming answer
TYPING_FRAME_MS = 160
HIGHLIGHT_MS = 4000
CACHED_MESSAGES = MAX_ROWS + 60
ThumbnailSource = Callable[[Path, Callable[[bytes], None]], None]
_Index = QModelIndex | QPersistentModelIndex


class _Delegate(QStyledItemDelegate):
    def __init__(self, view: ConversationView) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(self, _option: QStyleOptionViewItem, index: _Index) -> QSize:
        # Qt asks for every row's size on each layout: straight to the row, no QVariant round trip.
        row = self._view.row_at(index.row())
        if row is None:
            return QSize(0, 0)
        return QSize(self._view.viewport().width(), self._view.row_height(row))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row = index.data(MessageRole.ROW)
        if row is not None:
            self._view.paint_row(painter, option.rect, index.row(), row)


class ConversationView(QListView):
    regenerate_requested = Signal(int)
    """The user asked for another answer in place of this one (message id)."""
    edit_requested = Signal(int)
    """The user wants to edit this question and ask again (message id)."""
    pin_requested = Signal(int, bool)
    """Keep this message in what the model sees (True), or let it go like the others (False)."""
    delete_requested = Signal(int)
    """The user wants this message deleted (message id)."""
    alternative_requested = Signal(int, int)
    """Show another version of this message: (message id, -1 for the previous, +1 for the next)."""
    attachment_opened = Signal(object)
    """The user clicked an attachment tile: the ``Attachment``."""
    page_requested = Signal(int, int)
    """A page citation in an answer was clicked: (the answer's id, the page)."""
    notice = Signal(str)
    """Something to tell the user in the status line (e.g. "Copied")."""

    def __init__(self, model: ConversationModel, thumbnails: ThumbnailSource | None = None) -> None:
        super().__init__()
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
        self.setAccessibleDescription("Messages, oldest first. Use the arrow keys to move between them.")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setAutoScroll(False)
        self.setMouseTracking(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalScrollBar().setSingleStep(48)
        self._model = model
        self.setModel(model)
        self.setItemDelegate(_Delegate(self))
        self._thumbnail_source = thumbnails
        self._layouter = Layouter()
        self._painter = MessagePainter(self._layouter.small, self._layouter.toggle_font)
        self._docs: collections.OrderedDict[int, MessageDocs] = collections.OrderedDict()
        self._layouts: dict[int, tuple[tuple, MessageLayout]] = {}
        self._state_revision = 0  # bumped when something every layout depends on changes
        self._thinking_open: set[int] = set()
        self._open_cards: dict[int, frozenset[int]] = {}  # per message, its open tool cards
        self._can_regenerate = True
        self._thumbnails: dict[Path, QPixmap] = {}
        # What a sound tile shows of its playback, by the sound's path ("" when not playing).
        self.sound_line: Callable[[Path], str] = lambda _path: ""
        self._asked_thumbnails: set[Path] = set()
        self._empty_title, self._empty_hint = "", ""
        self._follow = True
        self.pointer = PointerInput(self)
        self._highlighted: int | None = None
        self._typing_frame = 0
        self._pending: dict[int, tuple[str, str]] = {}
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.flush)
        self._typing_timer = QTimer(self, interval=TYPING_FRAME_MS)
        self._typing_timer.timeout.connect(self._advance_typing)
        self._highlight_timer = QTimer(self, singleShot=True, interval=HIGHLIGHT_MS)
        self._highlight_timer.timeout.connect(self._end_highlight)
        self.paging = Paging(self, model)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._keep_following)
        model.modelReset.connect(self._on_reset)
        model.dataChanged.connect(self._on_data_changed)
        model.rowsInserted.connect(lambda *_: self._update_typing())

    # --- layouts ---------------------------------------------------------------------------

    def column(self) -> tuple[float, float]:
        """(left edge, width) of the column messages are laid out in."""
        width = self.viewport().width()
        column = max(120.0, min(float(READABLE_WIDTH), width - 2.0 * SIDE_MARGIN))
        return (width - column) / 2, column

    @property
    def conversation(self) -> ConversationModel:
        return self._model

    def row_at(self, number: int) -> MessageRow | None:
        return self._model.row_at(number)

    def row_height(self, row: MessageRow) -> int:
        """A row's height in pixels: from the kept layout when it still holds (most rows)."""
        cached = self._layouts.get(row.message.id)
        if cached is not None and cached[0] == (row.revision, self.column()[1], self._state_revision):
            return math.ceil(cached[1].height)
        return math.ceil(self.layout_for(row).height)

    def layout_for(self, row: MessageRow) -> MessageLayout:
        """The message's layout at the current width: kept while the row, the width and the view's
        state stay the same (a dictionary look-up, as Qt asks for every row's size on each layout)."""
        message = row.message
        _left, width = self.column()
        key = (row.revision, width, self._state_revision)
        cached = self._layouts.get(message.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        docs = self._docs_for(message.id, message.role)
        palette = QGuiApplication.palette()
        docs.set_content(message.content, palette)
        docs.set_reasoning(message.reasoning)
        facts = RowFacts(
            alternative=row.alternative,
            alternatives=len(row.alternatives),
            thinking_open=message.id in self._thinking_open,
            can_regenerate=self._can_regenerate,
            first=row.first,
            stats_text=describe_stats(message.stats) if message.role == "assistant" else "",
            error_text=str(message.stats.get("error", "")),
            pinned=message.pinned,
            memory_start=row.memory_start,
            open_cards=self._open_cards.get(message.id, frozenset()),
        )
        layout = self._layouter.layout(message, docs, facts, width)
        self._layouts[message.id] = (key, layout)
        return layout

    def _docs_for(self, message_id: int, role: str) -> MessageDocs:
        docs = self._docs.get(message_id)
        if docs is None:
            docs = self._docs[message_id] = MessageDocs(role)
            while len(self._docs) > CACHED_MESSAGES:
                gone, _ = self._docs.popitem(last=False)
                self._layouts.pop(gone, None)
        else:
            self._docs.move_to_end(message_id)
        return docs

    def paint_row(self, painter: QPainter, rect: QRect, row_number: int, row: MessageRow) -> None:
        layout = self.layout_for(row)
        left, _width = self.column()
        message_id = row.message.id
        pointer = self.pointer
        hovered = pointer.hover is not None and pointer.hover[0] == message_id
        selection = (
            pointer.selection if pointer.selection and pointer.selection.message_id == message_id else None
        )
        state = PaintState(
            hovered=hovered,
            hover_hit=pointer.hover[1] if hovered and pointer.hover else None,
            pressed_hit=pointer.pressed[1] if pointer.pressed and pointer.pressed[0] == message_id else None,
            current=self.currentIndex().row() == row_number,
            focused=self.hasFocus(),
            highlighted=self._highlighted == message_id,
            selection=selection.span() if selection and not selection.empty else None,
            typing_frame=self._typing_frame,
            thumbnails=self._thumbnails,
            sounds={t.path: self.sound_line(t.path) for t in layout.tiles if t.kind == "audio"},
        )
        for tile in layout.tiles:
            if tile.kind == "image" and tile.path not in self._thumbnails:
                self._ask_thumbnail(tile.path)
        self._painter.paint(
            painter, layout, QPointF(rect.left() + left, rect.top()), colors_for(self.palette()), state
        )

    # --- the conversation ------------------------------------------------------------------

    def set_empty_text(self, title: str, hint: str = "") -> None:
        self._empty_title, self._empty_hint = title, hint
        self.viewport().update()

    def set_regenerate_enabled(self, enabled: bool) -> None:
        """Allow or forbid new answers (not while one is being written)."""
        if enabled != self._can_regenerate:
            self._can_regenerate = enabled
            self._state_changed()

    def set_streaming_text(self, message_id: int, content: str, reasoning: str = "") -> None:
        """Show the newest text of a streaming answer, rendered at most every RENDER_INTERVAL_MS
        (less often for very long answers: see ``flush``), whatever the rate tokens arrive at."""
        self._pending[message_id] = (content, reasoning)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def flush(self) -> None:
        """Render any pending streamed text now."""
        self._render_timer.stop()
        if not self._pending:
            return
        started = time.perf_counter()
        pending, self._pending = self._pending, {}
        grew = False
        for message_id, (content, reasoning) in pending.items():
            row = self._model.update_text(message_id, content, reasoning)
            if row >= 0:
                before = self._layouts.get(message_id)
                layout = self.layout_for(self._model.row_at(row))  # type: ignore[arg-type]
                grew = grew or before is None or before[1].height != layout.height
        if grew:
            self._relayout()
        self._update_typing()
        cost_ms = (time.perf_counter() - started) * 1000
        interval = min(MAX_RENDER_INTERVAL_MS, max(RENDER_INTERVAL_MS, cost_ms / RENDER_BUDGET))
        self._render_timer.setInterval(int(interval))

    def show_message(self, message_id: int, highlight: bool = True) -> bool:
        """Scroll to a message (read into the window if needed) and, with ``highlight``, mark it for
        a few seconds (a search result). False if it is not on the branch on show."""
        if message_id not in self._model.path:
            return False
        if self._model.row_of(message_id) < 0:
            self._model.reload(around=message_id)
        row = self._model.row_of(message_id)
        index = self._model.index(row)
        self.executeDelayedItemsLayout()
        self._follow = False
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.setCurrentIndex(index)
        if highlight:
            self._highlighted = message_id
            self._highlight_timer.start()
        self.viewport().update()
        return True

    def message_ids(self) -> list[int]:
        """The messages the view holds now (a window of the branch on show), in order."""
        return [row.message.id for row in self._model.rows()]

    def shown(self, message_id: int) -> ShownMessage | None:
        """What is painted for a message, in words (see ``view_probe``)."""
        return view_probe.shown(self, message_id)

    def button_point(self, message_id: int, hit: Hit) -> QPoint | None:
        """Where a message's button is on screen (see ``view_probe``)."""
        return view_probe.button_point(self, message_id, hit)

    def text_point(self, message_id: int, box: int, position: int) -> QPoint | None:
        """Where a character of a message is on screen (see ``view_probe``)."""
        return view_probe.text_point(self, message_id, box, position)

    def has_thumbnail(self, path: Path) -> bool:
        """Whether a sent picture's thumbnail has arrived (it is asked for when first painted)."""
        return path in self._thumbnails

    def is_at_bottom(self) -> bool:
        return self._follow

    def scroll_to_bottom(self) -> None:
        if self._model.can_load_newer():
            self._model.reload()
        self._follow = True
        self.executeDelayedItemsLayout()
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def _state_changed(self) -> None:
        self._state_revision += 1
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:
        # Rendered Markdown carries the theme's link and code colours: lay it out again.
        if event.type() == QEvent.Type.PaletteChange:
            self._state_changed()
        super().changeEvent(event)

    def _relayout(self) -> None:
        self.scheduleDelayedItemsLayout()
        self.executeDelayedItemsLayout()
        self.viewport().update()

    def _on_data_changed(self, *_args: object) -> None:
        # A message's state changed (it finished, failed, was stopped): its height may have too.
        if not self._render_timer.isActive():
            self.scheduleDelayedItemsLayout()

    def _on_reset(self) -> None:
        self.pointer.reset()
        self._pending.clear()
        self._follow = True
        self._update_typing()
        QTimer.singleShot(0, self._settle_after_reset)

    def _settle_after_reset(self) -> None:
        if self._follow:
            self.scroll_to_bottom()
        if self.hasFocus() and not self.currentIndex().isValid() and self._model.rowCount():
            self.setCurrentIndex(self._model.index(self._model.rowCount() - 1))

    # --- scrolling and paging --------------------------------------------------------------

    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = bar.maximum() - value <= NEAR_BOTTOM_PX and not self._model.can_load_newer()
        self.paging.scrolled()

    def _keep_following(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pending:
            self._render_timer.start()  # text that streamed in while the view was hidden

    def hideEvent(self, event: QHideEvent) -> None:
        self.paging.stop()
        self._render_timer.stop()
        super().hideEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        anchor = self.paging.anchor()
        super().resizeEvent(event)
        if not self._follow:
            self.paging.restore(anchor)

    # --- pointer ---------------------------------------------------------------------------

    def _row_at(self, point: QPoint) -> tuple[int, MessageRow, MessageLayout, QPointF] | None:
        """The row under ``point`` (viewport coordinates), its layout, and ``point`` in it."""
        index = self.indexAt(point)
        if not index.isValid():
            return None
        row = self._model.row_at(index.row())
        if row is None:
            return None
        layout = self.layout_for(row)
        rect = self.visualRect(index)
        left, _width = self.column()
        return index.row(), row, layout, QPointF(point.x() - rect.left() - left, point.y() - rect.top())

    def local_in(self, message_id: int, point: QPoint) -> tuple[MessageLayout, QPointF] | None:
        """``point`` relative to message ``message_id``, even when the pointer has left it."""
        row_number = self._model.row_of(message_id)
        row = self._model.row_at(row_number)
        if row is None:
            return None
        rect = self.visualRect(self._model.index(row_number))
        left, _width = self.column()
        return self.layout_for(row), QPointF(point.x() - rect.left() - left, point.y() - rect.top())

    def row_under(self, point: QPoint) -> tuple[int, MessageRow, MessageLayout, QPointF] | None:
        return self._row_at(point)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.pointer.press(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.pointer.double_click(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.pointer.move(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.pointer.leave()
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.pointer.release(event)

    def selected_text(self) -> str:
        selection = self.pointer.selection
        if selection is None or selection.empty:
            return ""
        row = self._model.row_at(self._model.row_of(selection.message_id))
        return selection.text(self.layout_for(row)) if row is not None else ""

    # --- actions ---------------------------------------------------------------------------

    def trigger(self, message_id: int, hit: Hit) -> None:
        """Do what a button, key or menu entry asks of a message."""
        row = self._model.row_at(self._model.row_of(message_id))
        if row is None:
            return
        message = row.message
        if hit.action == Action.COPY:
            self._copy(message.content, "Copied the answer." if message.role == "assistant" else "Copied.")
        elif hit.action == Action.COPY_CODE:
            codes = [
                part.block.text
                for part in self._docs_for(message.id, message.role).blocks
                if part.block.kind == "code"
            ]
            if 0 <= hit.index < len(codes):
                self._copy(codes[hit.index], "Copied the code.")
        elif hit.action == Action.THINKING:
            self._thinking_open ^= {message.id}
            self._state_changed()
        elif hit.action == Action.TOOL_CARD and 0 <= hit.index < len(message.tool_calls):
            self._open_cards[message.id] = self._open_cards.get(message.id, frozenset()) ^ {hit.index}
            self._state_changed()
        elif hit.action == Action.REGENERATE and message.role == "assistant" and self._can_regenerate:
            self.regenerate_requested.emit(message.id)
        elif hit.action == Action.EDIT and message.role == "user":
            self.edit_requested.emit(message.id)
        elif hit.action == Action.DELETE:
            self.delete_requested.emit(message.id)
        elif hit.action == Action.PIN and message.status != "streaming":
            self.pin_requested.emit(message.id, not message.pinned)
        elif hit.action in (Action.PREVIOUS, Action.NEXT) and len(row.alternatives) > 1:
            self.alternative_requested.emit(message.id, -1 if hit.action == Action.PREVIOUS else 1)
        elif hit.action == Action.OPEN_ATTACHMENT and 0 <= hit.index < len(message.attachments):
            self.attachment_opened.emit(message.attachments[hit.index])

    def _copy(self, text: str, words: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.notice.emit(words)

    def current_message(self) -> MessageRow | None:
        return self._model.row_at(self.currentIndex().row()) if self.currentIndex().isValid() else None

    def message_actions(self, row: MessageRow) -> list[tuple[str, str, Hit]]:
        """What can be done to a message: (label, shortcut, action), for the menu and the keys."""
        message = row.message
        selection = self.pointer.selection
        return message_actions(
            row,
            self._docs_for(message.id, message.role),
            has_selection=selection is not None
            and selection.message_id == message.id
            and not selection.empty,
            thinking_open=message.id in self._thinking_open,
            can_regenerate=self._can_regenerate,
        )

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        row: MessageRow | None
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            found = self._row_at(event.pos())
            if found is None:
                return
            self.setCurrentIndex(self._model.index(found[0]))
            row, where = found[1], event.globalPos()
        else:
            row = self.current_message()
            if row is None:
                return
            rect = self.visualRect(self.currentIndex())
            where = self.viewport().mapToGlobal(
                QPoint(rect.left() + int(self.column()[0]) + 24, max(0, rect.top()) + 16)
            )
        menu = QMenu(self)
        menu.setAccessibleName("Message actions")
        for label, shortcut, hit in self.message_actions(row):
            action = menu.addAction(label)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            message_id = row.message.id
            if hit == COPY_SELECTION:
                action.triggered.connect(lambda: self._copy(self.selected_text(), "Copied."))
            else:
                action.triggered.connect(lambda _=False, h=hit, m=message_id: self.trigger(m, h))
        menu.exec(where)

    # --- keyboard --------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        row = self.current_message()
        key, modifiers = event.key(), event.modifiers()
        if event.matches(QKeySequence.StandardKey.Copy):
            text = self.selected_text()
            if text:
                self._copy(text, "Copied.")
            elif row is not None:
                self.trigger(row.message.id, Hit(Action.COPY))
            return
        if event.matches(QKeySequence.StandardKey.MoveToStartOfDocument):
            self._jump_to_start()
            return
        if event.matches(QKeySequence.StandardKey.MoveToEndOfDocument):
            self.scroll_to_bottom()
            self.setCurrentIndex(self._model.index(self._model.rowCount() - 1))
            return
        if key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            step = self.viewport().height() - 40
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + (step if key == Qt.Key.Key_PageDown else -step))
            index = self.indexAt(QPoint(self.viewport().width() // 2, self.viewport().height() // 3))
            if index.isValid():
                self.setCurrentIndex(index)
            return
        if row is not None:
            hit = KEYS.get((Qt.Key(key), modifiers))
            if hit is not None and any(h == hit for _, _, h in self.message_actions(row)):
                self.trigger(row.message.id, hit)
                return
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and modifiers == Qt.KeyboardModifier.NoModifier:
            self._step(-1 if key == Qt.Key.Key_Up else 1)
            return
        super().keyPressEvent(event)

    def _step(self, step: int) -> None:
        """Move to the previous or next message, reading more of the chat at the window's ends."""
        current = self.currentIndex().row() if self.currentIndex().isValid() else self._model.rowCount()
        target = current + step
        if not 0 <= target < self._model.rowCount():
            # At an end of the window: read the next page there, then find the message again (the
            # window may have let go of rows at its other end).
            row = self._model.row_at(current)
            if target < 0:
                self.paging.load_older()
            else:
                self.paging.load_newer()
            self.executeDelayedItemsLayout()
            if row is not None:
                target = self._model.row_of(row.message.id) + step
        if not 0 <= target < self._model.rowCount():
            return
        index = self._model.index(target)
        self.setCurrentIndex(index)
        rect = self.visualRect(index)
        hint = (
            QAbstractItemView.ScrollHint.PositionAtTop
            if rect.height() > self.viewport().height() or rect.top() < 0
            else QAbstractItemView.ScrollHint.EnsureVisible
        )
        self.scrollTo(index, hint)

    def _jump_to_start(self) -> None:
        if self._model.can_load_older():
            self._model.open(
                self._model.conversation_id, around=self._model.path[0] if self._model.path else None
            )
        self.executeDelayedItemsLayout()
        self._follow = False
        self.verticalScrollBar().setValue(0)
        if self._model.rowCount():
            self.setCurrentIndex(self._model.index(0))

    def focusInEvent(self, event: QFocusEvent) -> None:
        # The keyboard arrives at the newest message in sight, not at the top of what is read.
        current = self.currentIndex()
        in_sight = current.isValid() and self.visualRect(current).intersects(self.viewport().rect())
        super().focusInEvent(event)
        if not in_sight and self._model.rowCount():
            bottom = self.indexAt(QPoint(self.viewport().width() // 2, self.viewport().height() - 2))
            self.setCurrentIndex(
                bottom if bottom.isValid() else self._model.index(self._model.rowCount() - 1)
            )
        self.viewport().update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.viewport().update()

    # --- small things ----------------------------------------------------------------------

    def _ask_thumbnail(self, path: Path) -> None:
        if self._thumbnail_source is None or path in self._asked_thumbnails:
            return
        self._asked_thumbnails.add(path)

        def arrived(png: bytes) -> None:
            pixmap = QPixmap()
            if pixmap.loadFromData(png):
                self._thumbnails[path] = pixmap
                self.viewport().update()

        self._thumbnail_source(path, arrived)

    def _update_typing(self) -> None:
        rows = self._model.rows()
        waiting = bool(rows) and rows[-1].message.status == "streaming" and not rows[-1].message.content
        if waiting and not self._typing_timer.isActive():
            self._typing_timer.start()
        elif not waiting:
            self._typing_timer.stop()

    def _advance_typing(self) -> None:
        self._typing_frame = (self._typing_frame + 1) % 3
        last = self._model.index(self._model.rowCount() - 1)
        if last.isValid():
            self.update(last)

    def _end_highlight(self) -> None:
        self._highlighted = None
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._model.rowCount() or not self._empty_title:
            super().paintEvent(event)
            return
        painter = QPainter(self.viewport())
        colors = colors_for(self.palette())
        rect = self.viewport().rect()
        title_font = chat_font(26)
        title_font.setWeight(title_font.Weight.DemiBold)
        painter.setFont(title_font)
        painter.setPen(QColor(colors.muted))
        middle = rect.height() * 2 // 5
        painter.drawText(
            QRectF(0, middle - 40, rect.width(), 40), Qt.AlignmentFlag.AlignCenter, self._empty_title
        )
        painter.setFont(chat_font(15))
        painter.drawText(
            QRectF(0, middle + 6, rect.width(), 30), Qt.AlignmentFlag.AlignCenter, self._empty_hint
        )
