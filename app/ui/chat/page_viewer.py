"""A page of an attached PDF, shown where an answer cites it: rendered off the UI thread, with
the previous and next pages a click (or an arrow key) away."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.storage.document_text import render_page
from app.ui.background import BackgroundTasks

VIEW_DPI = 110


class PageViewer(QDialog):
    def __init__(self, pdf: Path, name: str, pages: int, page: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pdf, self.name, self.pages = pdf, name, pages
        self.page = max(1, min(page, pages))
        self._tasks = BackgroundTasks(self)
        self._asked = 0
        self.setWindowTitle(name)
        self.resize(760, 900)
        self.picture = QLabel("Rendering the page…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName("The page")
        self.page_area = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.picture)
        self.where = QLabel()
        self.previous = QPushButton("‹ Previous page")
        self.previous.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next = QPushButton("Next page ›")
        self.next.clicked.connect(lambda: self.show_page(self.page + 1))
        QShortcut(QKeySequence(Qt.Key.Key_Left), self, lambda: self.show_page(self.page - 1))
        QShortcut(QKeySequence(Qt.Key.Key_Right), self, lambda: self.show_page(self.page + 1))
        row = QHBoxLayout()
        row.addWidget(self.previous)
        row.addStretch(1)
        row.addWidget(self.where)
        row.addStretch(1)
        row.addWidget(self.next)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(row)
        self.show_page(self.page)

    def show_page(self, page: int) -> None:
        if not 1 <= page <= self.pages:
            return
        self.page = page
        self.where.setText(f"{self.name} — page {page:,} of {self.pages:,}")
        self.previous.setEnabled(page > 1)
        self.next.setEnabled(page < self.pages)
        self._asked += 1
        asked = self._asked

        def shown(png: bytes) -> None:
            if asked != self._asked:
                return  # another page was asked for meanwhile
            pixmap = QPixmap()
            pixmap.loadFromData(png)
            room = self.page_area.viewport().width() - 16  # the page fits the window's width
            if 0 < room < pixmap.width():
                pixmap = pixmap.scaledToWidth(room, Qt.TransformationMode.SmoothTransformation)
            self.picture.setPixmap(pixmap)

        def failed(error: BaseException) -> None:
            if asked == self._asked:
                self.picture.setText(str(error))

        self._tasks.run(lambda: render_page(self.pdf, page, VIEW_DPI), shown, failed, "page")

    def done(self, result: int) -> None:
        self._tasks.close()
        super().done(result)
