"""Search results as a Qt list model and the delegate that paints them: the chat, the date and a
snippet with the matched words highlighted."""

from __future__ import annotations

import html
import time
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.storage.search import MATCH_END, MATCH_START, SearchHit
from app.ui.theme import colors_for

_Index = QModelIndex | QPersistentModelIndex
ROW_HEIGHT = 70
PAD = 8


class ResultRole(IntEnum):
    HIT = Qt.ItemDataRole.UserRole + 1


def describe_date(timestamp: float, now: float | None = None) -> str:
    now = now or time.time()
    if time.strftime("%Y%m%d", time.localtime(timestamp)) == time.strftime("%Y%m%d", time.localtime(now)):
        return time.strftime("%H:%M", time.localtime(timestamp))
    if time.localtime(timestamp).tm_year == time.localtime(now).tm_year:
        return time.strftime("%d %b", time.localtime(timestamp))
    return time.strftime("%d %b %Y", time.localtime(timestamp))


def plain_snippet(snippet: str) -> str:
    return " ".join(snippet.replace(MATCH_START, "").replace(MATCH_END, "").split())


class SearchResultsModel(QAbstractListModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def hit_at(self, row: int) -> SearchHit | None:
        return self._hits[row] if 0 <= row < len(self._hits) else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        hit = self.hit_at(index.row()) if index.isValid() else None
        if hit is None:
            return None
        if role == ResultRole.HIT:
            return hit
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.title
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            who = "you" if hit.role == "user" else "Hearth"
            return f"{hit.title}, {describe_date(hit.created_at)}, {who}: {plain_snippet(hit.snippet)}"
        return None


class SearchResultDelegate(QStyledItemDelegate):
    """Two lines: the chat's title and date, then the snippet with the matches marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._docs: dict[tuple[str, str], QTextDocument] = {}

    def sizeHint(self, option: QStyleOptionViewItem, _index: _Index) -> QSize:
        return QSize(option.rect.width(), ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        hit = index.data(ResultRole.HIT)
        if hit is None:
            return
        # The item's own palette may describe a transparent list: the app's says which theme is on.
        colors = colors_for(QGuiApplication.palette())
        rect = QRectF(option.rect).adjusted(2, 2, -2, -2)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colors.selection if selected else colors.hover))
            painter.drawRoundedRect(rect, 7, 7)
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QColor(colors.accent))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 7, 7)
        title_font = QFont(option.font)
        title_font.setWeight(QFont.Weight.DemiBold)
        metrics = QFontMetricsF(title_font)
        date = describe_date(hit.created_at)
        date_width = QFontMetricsF(option.font).horizontalAdvance(date) + 4
        top = QRectF(rect.left() + PAD, rect.top() + 4, rect.width() - 2 * PAD, metrics.height())
        painter.setFont(title_font)
        painter.setPen(QColor(colors.text))
        title = metrics.elidedText(hit.title, Qt.TextElideMode.ElideRight, top.width() - date_width - 6)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(option.font)
        painter.setPen(QColor(colors.muted))
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, date)
        doc = self._snippet(hit.snippet, colors.accent, option.font, top.width())
        painter.translate(QPointF(top.left(), top.bottom() + 2))
        painter.setClipRect(QRectF(0, 0, top.width(), rect.bottom() - top.bottom() - 4))
        palette = QPalette(option.palette)
        palette.setColor(QPalette.ColorRole.Text, QColor(colors.muted))
        context = doc.documentLayout().PaintContext()
        context.palette = palette
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def _snippet(self, snippet: str, accent: str, font: QFont, width: float) -> QTextDocument:
        key = (snippet, accent)
        doc = self._docs.get(key)
        if doc is None:
            if len(self._docs) > 400:
                self._docs.clear()
            marked = (
                html.escape(" ".join(snippet.split()))
                .replace(MATCH_START, f'<b style="color:{accent}">')
                .replace(MATCH_END, "</b>")
            )
            doc = self._docs[key] = QTextDocument()
            doc.setDocumentMargin(0)
            doc.setDefaultFont(font)
            doc.setHtml(marked)
        doc.setTextWidth(width)
        return doc
