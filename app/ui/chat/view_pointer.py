"""The pointer in the conversation: what it hovers (for highlights and the cursor's shape), buttons
pressed and released, links opened, and text selected by dragging, with the view scrolling along
when the drag reaches its edge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QCursor, QMouseEvent

from app.ui.chat.message_layout import Hit
from app.ui.chat.rich_text import PAGE_LINK, open_link
from app.ui.chat.text_selection import TextSelection, word_at

if TYPE_CHECKING:
    from app.ui.chat.conversation_view import ConversationView

AUTOSCROLL_MS = 30
EDGE_PX = 24
CLICK_SLOP_PX = 4  # a press and release this close together is a click, not a drag


class PointerInput(QObject):
    def __init__(self, view: ConversationView) -> None:
        super().__init__(view)
        self._view = view
        self.hover: tuple[int, Hit | None] | None = None  # (message id, what is under the pointer)
        self.pressed: tuple[int, Hit] | None = None
        self.selection: TextSelection | None = None
        self._selecting = False
        self._press_point = QPoint()
        self._autoscroll = QTimer(self, interval=AUTOSCROLL_MS)
        self._autoscroll.timeout.connect(self._autoscroll_step)

    def reset(self) -> None:
        """The conversation changed under the pointer: forget what it held."""
        self.hover = self.pressed = self.selection = None
        self._selecting = False

    def set_selection(self, selection: TextSelection | None) -> None:
        if selection != self.selection:
            self.selection = selection
            self._view.viewport().update()

    # --- events ----------------------------------------------------------------------------

    def press(self, event: QMouseEvent) -> None:
        view = self._view
        found = view.row_under(event.position().toPoint())
        if found is None or event.button() != Qt.MouseButton.LeftButton:
            if event.button() == Qt.MouseButton.LeftButton:
                self.set_selection(None)
            return
        row_number, row, layout, local = found
        view.setCurrentIndex(view.model().index(row_number, 0))
        hit = layout.hit_at(local)
        self._press_point = event.position().toPoint()
        if hit is not None:
            self.pressed = (row.message.id, hit)
            view.viewport().update()
            return
        place = layout.text_at(local)
        if place is None:
            self.set_selection(None)
            return
        self.set_selection(TextSelection(row.message.id, place, place))
        self._selecting = True

    def double_click(self, event: QMouseEvent) -> None:
        found = self._view.row_under(event.position().toPoint())
        if found is None or event.button() != Qt.MouseButton.LeftButton:
            return
        _row_number, row, layout, local = found
        place = layout.text_at(local)
        if place is not None and layout.hit_at(local) is None:
            start, end = word_at(layout, place)
            self.set_selection(TextSelection(row.message.id, start, end))

    def move(self, event: QMouseEvent) -> None:
        view = self._view
        point = event.position().toPoint()
        if self._selecting and self.selection is not None:
            self._extend_selection(point)
            near_edge = point.y() < EDGE_PX or point.y() > view.viewport().height() - EDGE_PX
            if near_edge and not self._autoscroll.isActive():
                self._autoscroll.start()
            elif not near_edge:
                self._autoscroll.stop()
            return
        found = view.row_under(point)
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
        view.viewport().setCursor(cursor)
        if hover != self.hover:
            self.hover = hover
            view.viewport().update()

    def leave(self) -> None:
        if self.hover is not None:
            self.hover = None
            self._view.viewport().update()

    def release(self, event: QMouseEvent) -> None:
        view = self._view
        point = event.position().toPoint()
        self._autoscroll.stop()
        if self._selecting:
            self._selecting = False
            if self.selection is not None and self.selection.empty:
                self.set_selection(None)
                found = view.row_under(point)
                if found is not None and (point - self._press_point).manhattanLength() < CLICK_SLOP_PX:
                    link = found[2].link_at(found[3])
                    if link.startswith(PAGE_LINK):
                        view.page_requested.emit(found[1].message.id, int(link[len(PAGE_LINK) :]))
                    elif link:
                        open_link(QUrl(link))
            return
        pressed, self.pressed = self.pressed, None
        view.viewport().update()
        if pressed is None:
            return
        found = view.row_under(point)
        if (
            found is not None
            and found[1].message.id == pressed[0]
            and found[2].hit_at(found[3]) == pressed[1]
        ):
            view.trigger(pressed[0], pressed[1])

    # --- dragging --------------------------------------------------------------------------

    def _extend_selection(self, point: QPoint) -> None:
        assert self.selection is not None
        found = self._view.local_in(self.selection.message_id, point)
        if found is None:
            return
        layout, local = found
        place = layout.text_at(local, exact=False)
        if place is not None and place != self.selection.cursor:
            self.selection.cursor = place
            self._view.viewport().update()

    def _autoscroll_step(self) -> None:
        view = self._view
        point = view.viewport().mapFromGlobal(QCursor.pos())
        bar = view.verticalScrollBar()
        height = view.viewport().height()
        if point.y() < EDGE_PX:
            bar.setValue(bar.value() - max(4, (EDGE_PX - point.y()) // 2))
        elif point.y() > height - EDGE_PX:
            bar.setValue(bar.value() + max(4, (point.y() - height + EDGE_PX) // 2))
        if self.selection is not None:
            self._extend_selection(point)
