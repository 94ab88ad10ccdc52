"""The search box above the chat list, and its results: every chat (Ctrl+Shift+F) or the chat on
show (Ctrl+F). Searches run off the UI thread on a connection of their own, a moment after the
user stops typing; an answer that arrives after a newer question is dropped."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListView, QToolButton, QVBoxLayout, QWidget

from app.storage.search import SearchHit, search
from app.ui.background import BackgroundTasks
from app.ui.chat.search_results import ResultRole, SearchResultDelegate, SearchResultsModel

TYPING_PAUSE_MS = 150
MAX_RESULTS = 100


def search_database(database: Path, text: str, conversation_id: int | None) -> list[SearchHit]:
    """Search with a read-only connection of this thread's own (SQLite connections stay in the
    thread that made them)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return search(conn, text, conversation_id, MAX_RESULTS)
    finally:
        conn.close()


class SearchPanel(QWidget):
    result_chosen = Signal(int, int)
    """The user picked a result: (conversation id, message id)."""
    active_changed = Signal(bool)
    """Results are shown (True) or the search was closed (False)."""

    def __init__(
        self,
        database: Path,
        current_chat: Callable[[], int | None],
        parent: QWidget | None = None,
        run_search: Callable[[Path, str, int | None], list[SearchHit]] = search_database,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._current_chat = current_chat
        self._run_search = run_search
        self._scope: int | None = None  # a conversation id, or None for every chat
        self._asked = 0
        self._tasks = BackgroundTasks(self)
        self._pause = QTimer(self, singleShot=True, interval=TYPING_PAUSE_MS)
        self._pause.timeout.connect(self._search_now)

        self.field = QLineEdit()
        self.field.setObjectName("searchField")
        self.field.setClearButtonEnabled(True)
        for button in self.field.findChildren(QToolButton):  # Qt's clear button has no name of its own
            button.setAccessibleName("Clear the search")
            button.setToolTip("Clear the search (Escape)")
        self.field.setAccessibleName("Search chats")
        self.field.textChanged.connect(self._typed)
        self.field.installEventFilter(self)
        self.scope_button = QToolButton()
        self.scope_button.setObjectName("searchScope")
        self.scope_button.setCheckable(True)
        self.scope_button.setAccessibleName("Search only this chat")
        self.scope_button.setToolTip("Search only the chat on show (Ctrl+F), or every chat (Ctrl+Shift+F)")
        self.scope_button.toggled.connect(self._scope_toggled)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.field, 1)
        row.addWidget(self.scope_button)

        self.status = QLabel()
        self.status.setObjectName("searchStatus")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Search status")
        self.status.setVisible(False)
        self.model = SearchResultsModel(self)
        self.results = QListView()
        self.results.setObjectName("searchResults")
        self.results.setAccessibleName("Search results")
        self.results.setModel(self.model)
        self.results.setItemDelegate(SearchResultDelegate(self.results))
        self.results.setMouseTracking(True)
        self.results.setUniformItemSizes(True)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.activated.connect(self._choose)
        self.results.clicked.connect(self._choose)
        self.results.installEventFilter(self)
        self.results.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        self._update_scope_words()

    # --- API -------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool(self.field.text().strip())

    def start(self, this_chat: bool) -> None:
        """Focus the box, searching the chat on show or every chat."""
        self.scope_button.setChecked(this_chat and self._current_chat() is not None)
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def close_search(self) -> None:
        self.field.clear()

    def shutdown(self) -> None:
        """Drop any search still running (the app is closing)."""
        self._tasks.close()

    # --- searching -------------------------------------------------------------------------

    def _typed(self, text: str) -> None:
        active = bool(text.strip())
        self.results.setVisible(active)
        self.status.setVisible(active)
        if not active:
            self._asked += 1  # whatever is still running is for a question nobody asks now
            self.model.set_hits([])
            self._pause.stop()
        else:
            self.status.setText("Searching…")
            self._pause.start()
        self.active_changed.emit(active)

    def _scope_toggled(self, this_chat: bool) -> None:
        self._scope = self._current_chat() if this_chat else None
        self._update_scope_words()
        if self.active:
            self._pause.start()

    def _update_scope_words(self) -> None:
        this_chat = self.scope_button.isChecked()
        self.scope_button.setText("This chat" if this_chat else "All")
        self.field.setPlaceholderText("Search this chat" if this_chat else "Search all chats")

    def _search_now(self) -> None:
        text = self.field.text()
        if not text.strip():
            return
        self._asked += 1
        asked, database, scope, run = self._asked, self._database, self._scope, self._run_search
        self._tasks.run(
            lambda: run(database, text, scope),
            lambda hits: self._show(asked, hits),
            lambda error: self._failed(asked, error),
            name="search",
        )

    def _show(self, asked: int, hits: list[SearchHit]) -> None:
        if asked != self._asked:
            return  # the user typed on
        self.model.set_hits(hits)
        where = "in this chat" if self._scope is not None else "in your chats"
        if not hits:
            self.status.setText(f"Nothing found {where}.")
        else:
            more = " (the best first)" if len(hits) >= MAX_RESULTS else ""
            self.status.setText(f"{len(hits)} message{'s' if len(hits) != 1 else ''} found {where}{more}.")
        if hits:
            self.results.setCurrentIndex(self.model.index(0))

    def _failed(self, asked: int, error: BaseException) -> None:
        if asked == self._asked:
            self.model.set_hits([])
            self.status.setText(f"The search did not work: {error}")

    def _choose(self, index: QModelIndex) -> None:
        hit = index.data(ResultRole.HIT)
        if hit is not None:
            self.result_chosen.emit(hit.conversation_id, hit.message_id)

    # --- keys ------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.close_search()
                return True
            choosing = key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter)
            if watched is self.field and choosing and self.model.rowCount():
                if key == Qt.Key.Key_Down:
                    self.results.setFocus()
                else:
                    self._choose(self.results.currentIndex())
                return True
        return super().eventFilter(watched, event)
