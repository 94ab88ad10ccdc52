"""Attachments on screen: a tile per image (its thumbnail) or sound clip (its name and length),
in a row above the message box while pending, and above the user's bubble once sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.ui.elided_label import ElidedLabel

if TYPE_CHECKING:
    from app.ui.chat.picture_cost import DetailBadge

TILE_HEIGHT = 64


class AttachmentTile(QFrame):
    """One attachment. ``removable`` tiles (not sent yet) have a × button."""

    remove_requested = Signal()
    """The user took this attachment off the message."""
    open_requested = Signal()
    """The user clicked the tile (to see the picture or hear the clip with the system's app)."""

    def __init__(
        self,
        kind: str,
        name: str,
        detail: str,
        removable: bool,
        parent: QWidget | None = None,
        warning: str = "",
    ) -> None:
        super().__init__(parent)
        self.kind, self.name = kind, name
        self.setObjectName("attachmentTile")
        self.setProperty("kind", kind)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("\n".join(filter(None, (name, detail, warning))))
        what = {"image": "Picture", "audio": "Sound"}.get(kind, "Document")
        self.setAccessibleName(f"{what}: {name}")
        self.warning = warning
        self.setFixedHeight(TILE_HEIGHT)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 10 if kind != "image" and not removable else 4, 4)
        row.setSpacing(8)
        self.preview = QLabel()
        self.preview.setObjectName("attachmentPreview")
        self.preview.setFixedSize(TILE_HEIGHT - 8, TILE_HEIGHT - 8)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if kind != "image":
            glyph = sound_glyph if kind == "audio" else document_glyph
            self.preview.setPixmap(glyph(TILE_HEIGHT - 8, self.palette().text().color()))
        row.addWidget(self.preview)
        if kind != "image":
            words = QVBoxLayout()
            words.setSpacing(0)
            title = ElidedLabel(name)
            title.setObjectName("attachmentName")
            title.setMinimumWidth(min(140, title.fontMetrics().horizontalAdvance(name) + 4))
            title.setMaximumWidth(160)
            words.addWidget(title)
            if detail:
                note = QLabel(f"⚠ {detail}" if warning else detail)
                note.setObjectName("attachmentWarning" if warning else "attachmentDetail")
                words.addWidget(note)
            row.addLayout(words)
        self.badge: DetailBadge | None = None  # a picture about to be sent: its cost, on the thumbnail
        self.remove_button: QToolButton | None = None
        if removable:
            self.remove_button = QToolButton()
            self.remove_button.setObjectName("attachmentRemove")
            self.remove_button.setText("×")
            self.remove_button.setToolTip(f"Remove {name}")
            self.remove_button.setAccessibleName(f"Remove {name}")
            self.remove_button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.remove_button.clicked.connect(self.remove_requested.emit)
            row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)

    def set_thumbnail(self, png: bytes) -> None:
        pixmap = QPixmap()
        if not pixmap.loadFromData(png):
            return
        side = self.preview.width()
        scaled = pixmap.scaled(
            QSize(side, side) * self.devicePixelRatioF(),
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        scaled.setDevicePixelRatio(self.devicePixelRatioF())
        self.preview.setPixmap(_rounded(scaled, side))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.open_requested.emit()
        super().mouseReleaseEvent(event)


class AttachmentStrip(QWidget):
    """A row of tiles; hidden while empty."""

    def __init__(self, align_right: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentStrip")
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(8)
        if align_right:
            self._row.addStretch(1)
        self._align_right = align_right
        if not align_right:
            self._row.addStretch(1)
        self.tiles: list[AttachmentTile] = []
        self.setVisible(False)

    def add(self, tile: AttachmentTile, position: int | None = None) -> None:
        """Add ``tile`` at ``position`` among the tiles (default: last)."""
        position = len(self.tiles) if position is None else max(0, min(position, len(self.tiles)))
        first = 1 if self._align_right else 0  # after the stretch that pushes tiles right
        self._row.insertWidget(first + position, tile)
        self.tiles.insert(position, tile)
        self.setVisible(True)

    def remove(self, tile: AttachmentTile) -> None:
        if tile in self.tiles:
            self.tiles.remove(tile)
            self._row.removeWidget(tile)
            tile.deleteLater()
        self.setVisible(bool(self.tiles))

    def clear(self) -> None:
        for tile in list(self.tiles):
            self.remove(tile)


def _rounded(pixmap: QPixmap, side: int) -> QPixmap:
    ratio = pixmap.devicePixelRatio()
    out = QPixmap(QSize(side, side) * ratio)
    out.setDevicePixelRatio(ratio)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, side, side), 8, 8)
    painter.setClipPath(path)
    x = (pixmap.width() / ratio - side) / 2
    y = (pixmap.height() / ratio - side) / 2
    painter.drawPixmap(QPointF(-x, -y), pixmap)
    painter.end()
    return out


def _drawn(side: int, draw: Callable[[QPainter], None]) -> QPixmap:
    """A transparent ``side``-pixel square with ``draw`` painted on it, antialiased."""
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    draw(painter)
    painter.end()
    return pixmap


def _round_pen(color: QColor, width: float) -> QPen:
    return QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)


def sound_glyph(side: int, color: QColor) -> QPixmap:
    """Bars of a level meter: reads as "sound" at any size, in the theme's colours."""

    def draw(painter: QPainter) -> None:
        painter.setPen(_round_pen(color, max(2.0, side / 14)))
        centre = side / 2
        for offset, height in ((-0.22, 0.22), (-0.11, 0.4), (0.0, 0.28), (0.11, 0.46), (0.22, 0.18)):
            x = centre + offset * side
            painter.drawLine(QPointF(x, centre - height * side / 2), QPointF(x, centre + height * side / 2))

    return _drawn(side, draw)


def document_glyph(side: int, color: QColor) -> QPixmap:
    """A page with a folded corner and lines of text."""

    def draw(painter: QPainter) -> None:
        painter.setPen(_round_pen(color, max(1.2, side / 30)))
        left, right, top, bottom, fold = side * 0.3, side * 0.7, side * 0.2, side * 0.8, side * 0.13
        outline = QPolygonF(
            [
                QPointF(left, top),
                QPointF(right - fold, top),
                QPointF(right, top + fold),
                QPointF(right, bottom),
                QPointF(left, bottom),
            ]
        )
        painter.drawPolygon(outline)
        painter.drawPolyline(
            QPolygonF(
                [QPointF(right - fold, top), QPointF(right - fold, top + fold), QPointF(right, top + fold)]
            )
        )
        for n in range(4):
            y = top + fold + side * 0.1 + n * side * 0.12
            painter.drawLine(
                QPointF(left + side * 0.09, y), QPointF(right - side * (0.09 if n < 3 else 0.2), y)
            )

    return _drawn(side, draw)


def microphone_icon(side: int, color: QColor) -> QIcon:
    def draw(painter: QPainter) -> None:
        painter.setPen(_round_pen(color, max(1.5, side / 12)))
        w = side * 0.3
        painter.drawRoundedRect(QRectF((side - w) / 2, side * 0.1, w, side * 0.48), w / 2, w / 2)
        painter.drawArc(QRectF(side * 0.25, side * 0.22, side * 0.5, side * 0.5), 200 * 16, 140 * 16)
        painter.drawLine(QPointF(side / 2, side * 0.72), QPointF(side / 2, side * 0.88))
        painter.drawLine(QPointF(side * 0.36, side * 0.88), QPointF(side * 0.64, side * 0.88))

    return QIcon(_drawn(side, draw))


def plus_icon(side: int, color: QColor) -> QIcon:
    def draw(painter: QPainter) -> None:
        painter.setPen(_round_pen(color, max(1.5, side / 10)))
        painter.drawLine(QPointF(side / 2, side * 0.2), QPointF(side / 2, side * 0.8))
        painter.drawLine(QPointF(side * 0.2, side / 2), QPointF(side * 0.8, side / 2))

    return QIcon(_drawn(side, draw))


def recording_icon(side: int, level: float) -> QIcon:
    """A red dot that swells with the sound it hears: proof that the microphone works."""

    def draw(painter: QPainter) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#d93025"))
        radius = side * (0.22 + 0.26 * min(1.0, max(0.0, level)) ** 0.5)
        painter.drawEllipse(QPointF(side / 2, side / 2), radius, radius)

    return QIcon(_drawn(side, draw))
