"""Reading the conversation a page at a time as the user scrolls: a page before the window when
the view nears its top, a page after it near its bottom, and far pages let go, all between frames,
with the message under the user's eyes kept exactly where it was."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, QTimer

from app.ui.chat.conversation_model import MAX_ROWS, ConversationModel, MessageRole

if TYPE_CHECKING:
    from app.ui.chat.conversation_view import ConversationView

Anchor = tuple[int, int]  # (message id, its top in the viewport)


class Paging(QObject):
    def __init__(self, view: ConversationView, model: ConversationModel) -> None:
        super().__init__(view)
        self._view, self._model = view, model
        self.busy = False  # reading or letting go of rows: scrolls it causes are not the user's
        # Pages are read between frames, never inside a scroll event; stopped when the view hides.
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._read_pages)

    def scrolled(self) -> None:
        if not self.busy:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def anchor(self) -> Anchor | None:
        """The message at the top of the view and how far its top is above the view's top."""
        view = self._view
        index = view.indexAt(QPoint(view.viewport().width() // 2, 1))
        if not index.isValid():
            return None
        return index.data(MessageRole.ID), view.visualRect(index).top()

    def restore(self, anchor: Anchor | None) -> None:
        """Scroll so that the anchored message is where it was."""
        if anchor is None:
            return
        row = self._model.row_of(anchor[0])
        if row < 0:
            return
        view = self._view
        view.executeDelayedItemsLayout()
        top = view.visualRect(self._model.index(row)).top()
        bar = view.verticalScrollBar()
        bar.setValue(bar.value() + top - anchor[1])

    def _read_pages(self) -> None:
        view = self._view
        if not view.isVisible():
            return
        bar, height = view.verticalScrollBar(), view.viewport().height()
        if bar.value() < height and self._model.can_load_older():
            self.load_older()
        elif bar.maximum() - bar.value() < height and self._model.can_load_newer():
            self.load_newer()

    def load_older(self) -> int:
        if self.busy or not self._model.can_load_older():
            return 0
        self.busy = True
        try:
            anchor = self.anchor()
            added = self._model.load_older()
            self.restore(anchor)
            excess = self._model.rowCount() - MAX_ROWS
            if excess > 0:
                self._model.drop_newer(excess)  # below the view: nothing moves
            return added
        finally:
            self.busy = False

    def load_newer(self) -> int:
        if self.busy or not self._model.can_load_newer():
            return 0
        self.busy = True
        try:
            anchor = self.anchor()  # before anything moves: one layout for the whole step
            added = self._model.load_newer()
            excess = self._model.rowCount() - MAX_ROWS
            if excess > 0:
                self._model.drop_older(excess)
            self.restore(anchor)
            return added
        finally:
            self.busy = False
