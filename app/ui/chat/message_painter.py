"""Paints one message from its layout: the bubble of a question, the sections and code frames of an
answer, tiles, notes, buttons and the text selection. Only rows on screen are ever painted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
    QTextCharFormat,
    QTextCursor,
)

from app.ui.chat.attachment_tiles import document_glyph, sound_glyph
from app.ui.chat.message_layout import Action, Hit, MessageLayout, TextBox, Tile
from app.ui.chat.tool_cards import paint_card
from app.ui.theme import Colors

Selection = tuple[int, int, int, int]  # (first text box, position, last text box, position)


@dataclass
class PaintState:
    """What the view knows about a row beyond its layout."""

    hovered: bool = False
    hover_hit: Hit | None = None
    pressed_hit: Hit | None = None
    current: bool = False  # the message the keyboard is on
    focused: bool = False  # ...and the view has the keyboard focus
    highlighted: bool = False  # a search result being shown
    selection: Selection | None = None
    typing_frame: int = 0
    thumbnails: dict[Path, QPixmap] | None = None
    sounds: dict[Path, str] | None = None  # a sound tile's playback line ("▶ Playing 0:03 / 0:12")


class MessagePainter:
    def __init__(self, small_font: QFont, toggle_font: QFont) -> None:
        self.small_font = small_font
        self.small_metrics = QFontMetricsF(small_font)
        self.toggle_font = toggle_font
        self.bold_small_font = QFont(small_font)
        self.bold_small_font.setWeight(QFont.Weight.DemiBold)
        self._glyphs: dict[tuple[int, str, str], QPixmap] = {}

    def paint(
        self, painter: QPainter, layout: MessageLayout, origin: QPointF, colors: Colors, state: PaintState
    ) -> None:
        painter.save()
        painter.translate(origin)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = painter.clipBoundingRect()
        if state.highlighted:
            painter.fillRect(QRectF(-10, -6, layout.width + 20, layout.height - 10), QColor(colors.selection))
        if layout.divider is not None:
            self._divider(painter, *layout.divider, colors)
        if layout.bubble is not None:
            self._rounded(painter, layout.bubble, 16, QColor(colors.bubble))
        for frame in layout.codes:
            self._code_frame(painter, frame.rect, frame.header, frame.language, colors)
        if layout.note is not None:
            tone = next((box.tone for box in layout.texts if box.tone in ("error", "warning")), "warning")
            background = colors.error_bg if tone == "error" else colors.warning_bg
            self._rounded(painter, layout.note, 8, QColor(background))
        if layout.toggle is not None:
            self._toggle(painter, layout, colors, state)
        if layout.thinking_rule is not None:
            painter.fillRect(layout.thinking_rule, QColor(colors.scrollbar))
        for card in layout.cards:
            hovered = state.hover_hit == Hit(Action.TOOL_CARD, card.index)
            paint_card(painter, card, self.small_font, self.bold_small_font, colors, hovered)
        for tile in layout.tiles:
            self._tile(painter, tile, colors, state)
        for index, box in enumerate(layout.texts):
            self._text(painter, box, index, colors, state.selection, clip)
        if layout.typing is not None:
            self._typing(painter, layout.typing, colors, state.typing_frame)
        if not layout.actions_on_hover or state.hovered or state.current:
            self._buttons(painter, layout, colors, state)
        if layout.stats is not None:
            rect, text = layout.stats
            painter.setFont(self.small_font)
            painter.setPen(QColor(colors.muted))
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        if state.current and state.focused:
            pen = QPen(QColor(colors.accent), 2)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(-8, -4, layout.width + 16, layout.height - 14), 10, 10)
        painter.restore()

    # --- pieces ----------------------------------------------------------------------------

    @staticmethod
    def _rounded(
        painter: QPainter, rect: QRectF, radius: float, fill: QColor, border: QColor | None = None
    ) -> None:
        painter.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5) if border else rect, radius, radius)

    def _divider(self, painter: QPainter, rect: QRectF, text: str, colors: Colors) -> None:
        painter.setFont(self.small_font)
        width = self.small_metrics.horizontalAdvance(text) + 24
        middle = rect.center().y()
        painter.setPen(QPen(QColor(colors.border), 1))
        gap_left, gap_right = rect.center().x() - width / 2, rect.center().x() + width / 2
        painter.drawLine(QPointF(rect.left(), middle), QPointF(gap_left, middle))
        painter.drawLine(QPointF(gap_right, middle), QPointF(rect.right(), middle))
        painter.setPen(QColor(colors.muted))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _code_frame(
        self, painter: QPainter, rect: QRectF, header: QRectF, language: str, colors: Colors
    ) -> None:
        self._rounded(painter, rect, 10, QColor(colors.code), QColor(colors.border))
        path = QPainterPath()
        path.addRoundedRect(rect.adjusted(1, 1, -1, -1), 9, 9)
        painter.save()
        painter.setClipPath(path, Qt.ClipOperation.IntersectClip)
        painter.fillRect(header, QColor(colors.code_header))
        painter.restore()
        painter.setPen(QPen(QColor(colors.border), 1))
        painter.drawLine(
            QPointF(rect.left() + 1, header.bottom()), QPointF(rect.right() - 1, header.bottom())
        )
        painter.setFont(self.small_font)
        painter.setPen(QColor(colors.muted))
        painter.drawText(
            header.adjusted(12, 0, -80, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            language,
        )

    def _toggle(self, painter: QPainter, layout: MessageLayout, colors: Colors, state: PaintState) -> None:
        assert layout.toggle is not None
        rect = layout.toggle
        hovered = state.hover_hit == Hit(Action.THINKING)
        color = QColor(colors.text if hovered else colors.muted)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        cx, cy = rect.left() + 9, rect.center().y()
        if layout.toggle_open:
            arrow = QPolygonF([QPointF(cx - 4, cy - 2), QPointF(cx + 4, cy - 2), QPointF(cx, cy + 3)])
        else:
            arrow = QPolygonF([QPointF(cx - 2, cy - 4), QPointF(cx - 2, cy + 4), QPointF(cx + 3, cy)])
        painter.drawPolygon(arrow)
        painter.setFont(self.toggle_font)
        painter.setPen(color)
        painter.drawText(
            rect.adjusted(20, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            layout.toggle_text,
        )

    def _tile(self, painter: QPainter, tile: Tile, colors: Colors, state: PaintState) -> None:
        hovered = state.hover_hit == Hit(Action.OPEN_ATTACHMENT, tile.index)
        border = QColor(colors.muted if hovered else colors.border)
        self._rounded(painter, tile.rect, 12, QColor(colors.raised), border)
        preview = QRectF(
            tile.rect.left() + 4, tile.rect.top() + 4, tile.rect.height() - 8, tile.rect.height() - 8
        )
        thumbnail = (state.thumbnails or {}).get(tile.path)
        if tile.kind == "image" and thumbnail is not None:
            path = QPainterPath()
            path.addRoundedRect(preview, 8, 8)
            painter.save()
            painter.setClipPath(path, Qt.ClipOperation.IntersectClip)
            scaled = thumbnail.size().scaled(
                preview.size().toSize(), Qt.AspectRatioMode.KeepAspectRatioByExpanding
            )
            target = QRectF(QPointF(0, 0), scaled.toSizeF())
            target.moveCenter(preview.center())
            painter.drawPixmap(target, thumbnail, QRectF(thumbnail.rect()))
            painter.restore()
        elif tile.kind == "image":
            self._rounded(painter, preview, 8, QColor(colors.hover))
        else:
            key = (int(preview.height()), colors.text, tile.kind)
            glyph = self._glyphs.get(key)
            if glyph is None:
                draw = document_glyph if tile.kind == "document" else sound_glyph
                glyph = self._glyphs[key] = draw(key[0], QColor(colors.text))
            painter.drawPixmap(preview.topLeft(), glyph)
            painter.setFont(self.small_font)
            painter.setPen(QColor(colors.text))
            words = QRectF(
                preview.right() + 8,
                tile.rect.top(),
                tile.rect.right() - preview.right() - 16,
                tile.rect.height(),
            )
            name = self.small_metrics.elidedText(tile.name, Qt.TextElideMode.ElideMiddle, words.width())
            line = (state.sounds or {}).get(tile.path, "")
            if not line:
                painter.drawText(words, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
                return
            upper, lower = QRectF(words), QRectF(words)
            upper.setBottom(words.center().y())
            lower.setTop(words.center().y())
            painter.drawText(upper, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, name)
            painter.setPen(QColor(colors.accent))
            painter.drawText(
                lower.adjusted(0, 2, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, line
            )

    def _text(
        self,
        painter: QPainter,
        box: TextBox,
        index: int,
        colors: Colors,
        selection: Selection | None,
        clip: QRectF,
    ) -> None:
        rect = box.rect
        if not clip.isEmpty() and not clip.intersects(rect):
            return
        context = QAbstractTextDocumentLayout.PaintContext()
        palette = QPalette(context.palette)
        tone = {"muted": colors.muted, "error": colors.error, "warning": colors.warning}.get(
            box.tone, colors.text
        )
        palette.setColor(QPalette.ColorRole.Text, QColor(tone))
        context.palette = palette
        if not clip.isEmpty():
            context.clip = clip.translated(-box.origin.x(), -box.origin.y())
        if selection is not None:
            first, start, last, end = selection
            if first <= index <= last:
                cursor = QTextCursor(box.doc)
                limit = box.doc.characterCount() - 1
                cursor.setPosition(min(start, limit) if index == first else 0)
                cursor.setPosition(
                    min(end, limit) if index == last else limit, QTextCursor.MoveMode.KeepAnchor
                )
                fmt = QTextCharFormat()
                fmt.setBackground(QColor(colors.accent))
                fmt.setForeground(QColor(colors.accent_text))
                chosen = QAbstractTextDocumentLayout.Selection()
                chosen.cursor = cursor
                chosen.format = fmt
                context.selections = [chosen]
        painter.save()
        painter.translate(box.origin)
        box.doc.documentLayout().draw(painter, context)
        painter.restore()

    def _typing(self, painter: QPainter, rect: QRectF, colors: Colors, frame: int) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for dot in range(3):
            color = QColor(colors.muted)
            color.setAlphaF(0.9 if dot == frame % 3 else 0.35)
            painter.setBrush(color)
            painter.drawEllipse(QPointF(rect.left() + 5 + dot * 13, rect.center().y()), 4, 4)

    def _buttons(self, painter: QPainter, layout: MessageLayout, colors: Colors, state: PaintState) -> None:
        painter.setFont(self.small_font)
        for button in layout.buttons:
            hovered = button.hit is not None and button.hit == state.hover_hit and button.enabled
            pressed = button.hit is not None and button.hit == state.pressed_hit
            if hovered or pressed:
                self._rounded(painter, button.rect, 6, QColor(colors.border if pressed else colors.hover))
            color = QColor(colors.text if hovered else colors.muted)
            if not button.enabled:
                color.setAlphaF(0.45)
            painter.setPen(color)
            painter.drawText(button.rect, Qt.AlignmentFlag.AlignCenter, button.label)
