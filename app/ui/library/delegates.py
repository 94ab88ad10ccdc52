"""Painting of the model tables' richer cells: a name with a second line (and a "Recommended" tag),
the fit badge, and a status with a thin progress bar."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.library.fit import Fit, FitLevel
from app.ui.library.style import colors_for, fit_tone, is_dark

_Index = QModelIndex | QPersistentModelIndex
ROW_HEIGHT = 52
PAD = 10


def _panel(painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> QStyleOptionViewItem:
    """Draw the cell's background (selection, hover) the normal way, without its text."""
    opt = QStyleOptionViewItem(option)
    QStyledItemDelegate().initStyleOption(opt, index)
    opt.text = ""
    widget = option.widget
    style = widget.style() if widget is not None else None
    if style is not None:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
    return opt


def _pill(painter: QPainter, rect: QRectF, text: str, fg: QColor, bg: QColor, font: QFont) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(bg)
    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    painter.setPen(fg)
    painter.setFont(font)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)


class _Base(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 2 * PAD, max(hint.height(), ROW_HEIGHT))

    @staticmethod
    def _owner(option: QStyleOptionViewItem) -> QWidget | None:
        return option.widget


class NameDelegate(_Base):
    """The name, and under it a muted second line; a "Recommended" tag after the name."""

    def __init__(
        self, subtitle_role: int, tag_role: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._subtitle_role = subtitle_role
        self._tag_role = tag_role

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        _panel(painter, option, index)
        owner = self._owner(option)
        if owner is None:
            return
        colors = colors_for(owner)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(PAD, 6, -PAD, -6)
        title_font = QFont(option.font)
        title_font.setWeight(QFont.Weight.DemiBold)
        small = QFont(option.font)
        small.setPointSizeF(max(small.pointSizeF() * 0.9, 7.0))
        title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        subtitle = str(index.data(self._subtitle_role) or "")
        tagged = bool(self._tag_role is not None and index.data(self._tag_role))
        title_metrics, small_metrics = QFontMetrics(title_font), QFontMetrics(small)
        top = rect.top() + (rect.height() - title_metrics.height() - small_metrics.height() - 2) // 2
        sub_top = top + title_metrics.height() + 2
        tag_text = "Recommended"
        tag_width = small_metrics.horizontalAdvance(tag_text) + 16 if tagged else 0
        # The tag goes after the name when both fit, else at the start of the second line.
        tag_on_title = tagged and title_metrics.horizontalAdvance(title) + tag_width + 8 <= rect.width()
        room = rect.width() - (tag_width + 8 if tag_on_title else 0)
        shown = title_metrics.elidedText(title, Qt.TextElideMode.ElideRight, max(room, 20))
        painter.setFont(title_font)
        painter.setPen(QColor(colors.text))
        left_middle = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        painter.drawText(QRect(rect.left(), top, max(room, 20), title_metrics.height()), left_middle, shown)
        sub_left = rect.left()
        if tagged:
            if tag_on_title:
                pill = QRectF(
                    rect.left() + title_metrics.horizontalAdvance(shown) + 8,
                    top + 1,
                    tag_width,
                    title_metrics.height() - 2,
                )
            else:
                pill = QRectF(rect.left(), sub_top, tag_width, small_metrics.height())
                sub_left += tag_width + 6
            _pill(painter, pill, tag_text, QColor(colors.accent_text), QColor(colors.accent), small)
        if subtitle:
            painter.setFont(small)
            painter.setPen(QColor(colors.muted))
            width = rect.right() - sub_left
            elided = small_metrics.elidedText(subtitle, Qt.TextElideMode.ElideRight, max(width, 0))
            painter.drawText(QRect(sub_left, sub_top, width, small_metrics.height()), left_middle, elided)
        painter.restore()


class FitDelegate(_Base):
    """A coloured badge: "Fits · needs 8.0 GB" in green, amber or red."""

    def __init__(self, fit_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit_role = fit_role

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        _panel(painter, option, index)
        owner = self._owner(option)
        if owner is None:
            return
        fit: Fit | None = index.data(self._fit_role)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        rect = option.rect.adjusted(PAD, 0, -PAD, 0)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(option.font)
        metrics = QFontMetrics(font)
        if fit is None:
            painter.setPen(owner.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
            painter.restore()
            return
        tone = fit_tone(fit.level, is_dark(owner))
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(rect.width() - 30, 10))
        height = metrics.height() + 8
        width = min(metrics.horizontalAdvance(text) + 30, rect.width())
        pill = QRectF(rect.left(), rect.center().y() - height / 2 + 1, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(tone.background))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setBrush(QColor(tone.text))
        dot = 8
        painter.drawEllipse(QRectF(pill.left() + 10, pill.center().y() - dot / 2, dot, dot))
        painter.setPen(QColor(tone.text))
        painter.setFont(font)
        text_rect = pill.adjusted(24, 0, -6, 0)
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()


class StatusDelegate(_Base):
    """The status text; with a download under way, a thin progress bar under it."""

    def __init__(self, kind_role: int, progress_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kind_role = kind_role
        self._progress_role = progress_role

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        _panel(painter, option, index)
        owner = self._owner(option)
        if owner is None:
            return
        colors = colors_for(owner)
        kind = str(index.data(self._kind_role) or "")
        progress = float(index.data(self._progress_role) or -1.0)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        rect = option.rect.adjusted(PAD, 0, -PAD, 0)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(option.font)
        color = {"installed": fit_tone_text(owner), "failed": colors.error}.get(kind, colors.muted)
        if kind == "running":
            color = colors.text
        painter.setPen(QColor(color))
        if kind == "installed":
            text = "✓ " + text
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        if progress >= 0:
            text_rect = QRect(
                rect.left(), rect.center().y() - metrics.height() + 1, rect.width(), metrics.height()
            )
            painter.drawText(
                text_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown
            )
            bar = QRectF(rect.left(), rect.center().y() + 5, min(rect.width(), 140), 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colors.hover))
            painter.drawRoundedRect(bar, 2, 2)
            filled = QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(progress, 1.0)), bar.height())
            painter.setBrush(QColor(colors.accent if kind == "running" else colors.muted))
            painter.drawRoundedRect(filled, 2, 2)
        else:
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)
        painter.restore()


def fit_tone_text(owner: QWidget) -> str:
    return fit_tone(FitLevel.GREEN, is_dark(owner)).text
