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
from dataclasses import dataclass
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
    QUrl,
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

from app.ui.chat.conversation_model import MAX_ROWS, ConversationModel, MessageRole, MessageRow
from app.ui.chat.message_docs import MessageDocs, chat_font
from app.ui.chat.message_layout import Action, Hit, Layouter, MessageLayout, RowFacts
from app.ui.chat.message_painter import MessagePainter, PaintState
from app.ui.chat.rich_text import open_link
from app.ui.chat.text_selection import TextSelection, word_at
from app.ui.theme import colors_for

READABLE_WIDTH = 820  # lines longer than this are tiring to read: wider windows get wider margins
SIDE_MARGIN = 24
NEAR_BOTTOM_PX = 48
RENDER_INTERVAL_MS = 50
MAX_RENDER_INTERVAL_MS = 400
RENDER_BUDGET = 0.25  # of the UI thread's time, at most, spent re-rendering a streaming answer
TYPING_FRAME_MS = 160
HIGHLIGHT_MS = 4000
AUTOSCROLL_MS = 30
CACHED_MESSAGES = MAX_ROWS + 60
ThumbnailSource = Callable[[Path, Callable[[bytes], None]], None]
_Index = QModelIndex | QPersistentModelIndex


def describe_stats(stats: dict) -> str:
    parts = []
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    if stats.get("ttft_ms"):
        parts.append(f"first token {stats['ttft_ms'] / 1000:.2f} s")
    if stats.get("stop_reason") == "length":
        parts.append("reached the length limit")
    return " · ".join(parts)


@dataclass(frozen=True)
class ShownMessage:
    """What the view paints for a message, in words: for tests and for reading it aloud."""

    role: str
    text: str  # the message itself as shown (Markdown rendered), in reading order
    reasoning: str  # the reasoning, when its section is open
    code: tuple[str, ...]  # the code blocks' languages
    note: str  # a status note (error, interrupted, stopped)
    stats: str
    buttons: tuple[str, ...]  # the labels of the buttons that can be clicked now
    toggle: str  # the reasoning's line, if there is reasoning
    tiles: tuple[str, ...]  # attachment names


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
    """The user clicked an attachment tile: its ``Path``."""
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
        self._can_regenerate = True
        self._thumbnails: dict[Path, QPixmap] = {}
        self._asked_thumbnails: set[Path] = set()
        self._empty_title, self._empty_hint = "", ""
        self._follow = True
        self._hover: tuple[int, Hit | None] | None = None  # (message id, what is under the pointer)
        self._pressed: tuple[int, Hit] | None = None
        self._selection: TextSelection | None = None
        self._selecting = False
        self._press_point = QPoint()
        self._highlighted: int | None = None
        self._typing_frame = 0
        self._pending: dict[int, tuple[str, str]] = {}
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self.flush)
        self._typing_timer = QTimer(self, interval=TYPING_FRAME_MS)
        self._typing_timer.timeout.connect(self._advance_typing)
        self._highlight_timer = QTimer(self, singleShot=True, interval=HIGHLIGHT_MS)
        self._highlight_timer.timeout.connect(self._end_highlight)
        self._autoscroll = QTimer(self, interval=AUTOSCROLL_MS)
        self._autoscroll.timeout.connect(self._autoscroll_step)
        self._paging = False
        # Pages are read between frames, never inside a scroll event; stopped when the view hides.
        self._page_timer = QTimer(self, singleShot=True, interval=0)
        self._page_timer.timeout.connect(self._read_pages)
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
        hovered = self._hover is not None and self._hover[0] == message_id
        selection = self._selection if self._selection and self._selection.message_id == message_id else None
        state = PaintState(
            hovered=hovered,
            hover_hit=self._hover[1] if hovered and self._hover else None,
            pressed_hit=self._pressed[1] if self._pressed and self._pressed[0] == message_id else None,
            current=self.currentIndex().row() == row_number,
            focused=self.hasFocus(),
            highlighted=self._highlighted == message_id,
            selection=selection.span() if selection and not selection.empty else None,
            typing_frame=self._typing_frame,
            thumbnails=self._thumbnails,
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
        row = self._model.row_at(self._model.row_of(message_id))
        if row is None:
            return None
        layout = self.layout_for(row)
        return ShownMessage(
            role=row.message.role,
            text="\n".join(box.doc.toPlainText() for box in layout.texts if box.part == "content"),
            reasoning="\n".join(box.doc.toPlainText() for box in layout.texts if box.part == "reasoning"),
            code=tuple(frame.language for frame in layout.codes),
            note=layout.note_text,
            stats=layout.stats[1] if layout.stats else "",
            buttons=tuple(b.label for b in layout.buttons if b.hit is not None and b.enabled),
            toggle=layout.toggle_text,
            tiles=tuple(tile.name for tile in layout.tiles),
        )

    def button_point(self, message_id: int, hit: Hit) -> QPoint | None:
        """Where to click a message's button, in viewport coordinates (scrolled into view first)."""
        row_number = self._model.row_of(message_id)
        row = self._model.row_at(row_number)
        if row is None:
            return None
        layout = self.layout_for(row)
        target: QRectF | None
        if hit.action == Action.THINKING:
            target = layout.toggle
        elif hit.action == Action.OPEN_ATTACHMENT:
            target = next((t.rect for t in layout.tiles if t.index == hit.index), None)
        else:
            target = next((b.rect for b in layout.buttons if b.hit == hit), None)
        if target is None:
            return None
        index = self._model.index(row_number)
        self.scrollTo(index)
        rect = self.visualRect(index)
        left, _width = self.column()
        center = target.center()
        return QPoint(int(rect.left() + left + center.x()), int(rect.top() + center.y()))

    def text_point(self, message_id: int, box: int, position: int) -> QPoint | None:
        """Where character ``position`` of a message's text box ``box`` is drawn (viewport)."""
        row_number = self._model.row_of(message_id)
        row = self._model.row_at(row_number)
        if row is None:
            return None
        layout = self.layout_for(row)
        if not 0 <= box < len(layout.texts):
            return None
        text = layout.texts[box]
        block = text.doc.findBlock(position)
        line = block.layout().lineForTextPosition(position - block.position())
        x = float(line.cursorToX(position - block.position())[0])  # type: ignore[index]
        y = text.doc.documentLayout().blockBoundingRect(block).top() + line.y() + line.height() / 2
        rect = self.visualRect(self._model.index(row_number))
        left, _width = self.column()
        return QPoint(int(rect.left() + left + text.origin.x() + x), int(rect.top() + text.origin.y() + y))

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
        self._selection = None
        self._hover = self._pressed = None
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
        if not self._paging:
            self._page_timer.start()

    def _read_pages(self) -> None:
        if not self.isVisible():
            return
        bar = self.verticalScrollBar()
        if bar.value() < self.viewport().height() and self._model.can_load_older():
            self._load_older()
        elif bar.maximum() - bar.value() < self.viewport().height() and self._model.can_load_newer():
            self._load_newer()

    def _anchor(self) -> tuple[int, int] | None:
        """The message at the top of the view and how far its top is above the view's top."""
        index = self.indexAt(QPoint(self.viewport().width() // 2, 1))
        if not index.isValid():
            return None
        return index.data(MessageRole.ID), self.visualRect(index).top()

    def _restore(self, anchor: tuple[int, int] | None) -> None:
        if anchor is None:
            return
        row = self._model.row_of(anchor[0])
        if row < 0:
            return
        self.executeDelayedItemsLayout()
        top = self.visualRect(self._model.index(row)).top()
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + top - anchor[1])

    def _load_older(self) -> None:
        if self._paging or not self._model.can_load_older():
            return
        self._paging = True
        try:
            anchor = self._anchor()
            self._model.load_older()
            self._restore(anchor)
            excess = self._model.rowCount() - MAX_ROWS
            if excess > 0:
                self._model.drop_newer(excess)  # below the view: nothing moves
        finally:
            self._paging = False

    def _load_newer(self) -> None:
        if self._paging or not self._model.can_load_newer():
            return
        self._paging = True
        try:
            anchor = self._anchor()  # before anything moves: one layout for the whole step
            self._model.load_newer()
            excess = self._model.rowCount() - MAX_ROWS
            if excess > 0:
                self._model.drop_older(excess)
            self._restore(anchor)
        finally:
            self._paging = False

    def _keep_following(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pending:
            self._render_timer.start()  # text that streamed in while the view was hidden

    def hideEvent(self, event: QHideEvent) -> None:
        self._page_timer.stop()
        self._render_timer.stop()
        super().hideEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        anchor = self._anchor()
        super().resizeEvent(event)
        if not self._follow:
            self._restore(anchor)

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

    def _local_in(self, message_id: int, point: QPoint) -> tuple[MessageLayout, QPointF] | None:
        """``point`` relative to message ``message_id``, even when the pointer has left it."""
        row_number = self._model.row_of(message_id)
        row = self._model.row_at(row_number)
        if row is None:
            return None
        rect = self.visualRect(self._model.index(row_number))
        left, _width = self.column()
        return self.layout_for(row), QPointF(point.x() - rect.left() - left, point.y() - rect.top())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        found = self._row_at(event.position().toPoint())
        if found is None or event.button() != Qt.MouseButton.LeftButton:
            if event.button() == Qt.MouseButton.LeftButton:
                self._set_selection(None)
            return
        row_number, row, layout, local = found
        self.setCurrentIndex(self._model.index(row_number))
        hit = layout.hit_at(local)
        self._press_point = event.position().toPoint()
        if hit is not None:
            self._pressed = (row.message.id, hit)
            self.viewport().update()
            return
        place = layout.text_at(local)
        if place is None:
            self._set_selection(None)
            return
        self._set_selection(TextSelection(row.message.id, place, place))
        self._selecting = True

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        found = self._row_at(event.position().toPoint())
        if found is None or event.button() != Qt.MouseButton.LeftButton:
            return
        _row_number, row, layout, local = found
        place = layout.text_at(local)
        if place is not None and layout.hit_at(local) is None:
            start, end = word_at(layout, place)
            self._set_selection(TextSelection(row.message.id, start, end))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = event.position().toPoint()
        if self._selecting and self._selection is not None:
            self._extend_selection(point)
            margin = 24
            near_edge = point.y() < margin or point.y() > self.viewport().height() - margin
            if near_edge and not self._autoscroll.isActive():
                self._autoscroll.start()
            elif not near_edge:
                self._autoscroll.stop()
            return
        found = self._row_at(point)
        hover: tuple[int, Hit | None] | None = None
        cursor = Qt.CursorShape.ArrowCursor
        if found is not None:
            _row_number, row, layout, local = found
            hit = layout.hit_at(local)
            hover = (row.message.id, hit)
            if hit is not None or layout.link_at(local):
                cursor = Qt.CursorShape.PointingHandCursor
            elif layout.text_at(local) is not None:
                cursor = Qt.CursorShape.IBeamCursor
        self.viewport().setCursor(cursor)
        if hover != self._hover:
            self._hover = hover
            self.viewport().update()

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover is not None:
            self._hover = None
            self.viewport().update()
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        point = event.position().toPoint()
        self._autoscroll.stop()
        if self._selecting:
            self._selecting = False
            if self._selection is not None and self._selection.empty:
                self._set_selection(None)
                found = self._row_at(point)
                if found is not None and (point - self._press_point).manhattanLength() < 4:
                    link = found[2].link_at(found[3])
                    if link:
                        open_link(QUrl(link))
            return
        pressed, self._pressed = self._pressed, None
        self.viewport().update()
        if pressed is None:
            return
        found = self._row_at(point)
        if (
            found is not None
            and found[1].message.id == pressed[0]
            and found[2].hit_at(found[3]) == pressed[1]
        ):
            self.trigger(pressed[0], pressed[1])

    def _extend_selection(self, point: QPoint) -> None:
        assert self._selection is not None
        found = self._local_in(self._selection.message_id, point)
        if found is None:
            return
        layout, local = found
        place = layout.text_at(local, exact=False)
        if place is not None and place != self._selection.cursor:
            self._selection.cursor = place
            self.viewport().update()

    def _autoscroll_step(self) -> None:
        point = self.viewport().mapFromGlobal(self.cursor().pos())
        bar = self.verticalScrollBar()
        if point.y() < 24:
            bar.setValue(bar.value() - max(4, (24 - point.y()) // 2))
        elif point.y() > self.viewport().height() - 24:
            bar.setValue(bar.value() + max(4, (point.y() - self.viewport().height() + 24) // 2))
        if self._selection is not None:
            self._extend_selection(point)

    def _set_selection(self, selection: TextSelection | None) -> None:
        if selection != self._selection:
            self._selection = selection
            self.viewport().update()

    def selected_text(self) -> str:
        if self._selection is None or self._selection.empty:
            return ""
        row = self._model.row_at(self._model.row_of(self._selection.message_id))
        return self._selection.text(self.layout_for(row)) if row is not None else ""

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
            self.attachment_opened.emit(message.attachments[hit.index].path)

    def _copy(self, text: str, words: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.notice.emit(words)

    def current_message(self) -> MessageRow | None:
        return self._model.row_at(self.currentIndex().row()) if self.currentIndex().isValid() else None

    def message_actions(self, row: MessageRow) -> list[tuple[str, str, Hit]]:
        """What can be done to a message: (label, shortcut, action), for the menu and the keys."""
        message = row.message
        actions: list[tuple[str, str, Hit]] = []
        if (
            self._selection is not None
            and self._selection.message_id == message.id
            and not self._selection.empty
        ):
            actions.append(("Copy selected text", "Ctrl+C", Hit(Action.COPY, -1)))
        actions.append(("Copy message", "" if actions else "Ctrl+C", Hit(Action.COPY)))
        docs = self._docs_for(message.id, message.role)
        codes = [part.block for part in docs.blocks if part.block.kind == "code"]
        for number, block in enumerate(codes):
            actions.append(
                (
                    f"Copy code block {number + 1} ({block.language or 'code'})",
                    "",
                    Hit(Action.COPY_CODE, number),
                )
            )
        if docs.reasoning.strip():
            shown = message.id in self._thinking_open
            actions.append(
                ("Hide the reasoning" if shown else "Show the reasoning", "Enter", Hit(Action.THINKING))
            )
        if message.role == "user":
            actions.append(("Edit and ask again…", "Ctrl+E", Hit(Action.EDIT)))
        elif self._can_regenerate and message.status != "streaming":
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
            if hit == Hit(Action.COPY, -1):
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
            shortcuts = {
                (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier): Hit(Action.THINKING),
                (Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier): Hit(Action.THINKING),
                (Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier): Hit(Action.EDIT),
                (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier): Hit(Action.REGENERATE),
                (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier): Hit(Action.DELETE),
                (Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier): Hit(Action.PIN),
                (Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier): Hit(Action.PREVIOUS),
                (Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier): Hit(Action.NEXT),
            }
            hit = shortcuts.get((Qt.Key(key), modifiers))
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
        if target < 0 and self._model.can_load_older():
            added = self._model.load_older()
            target += added
            self.executeDelayedItemsLayout()
        elif target >= self._model.rowCount() and self._model.can_load_newer():
            self._model.load_newer()
            self.executeDelayedItemsLayout()
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
