"""The live input level beside the microphone while it records: segments lit by the sound's peak
in decibels (green, amber near full scale, red where it clips) with a peak that falls slowly, and
under them, when the chat's context limits the recording, a line filling towards that limit."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from app.ui.theme import colors_for

FLOOR_DB = -50.0  # quieter than this shows nothing: a room's own noise
SEGMENTS = 12
HOLD_FALL_DB = 1.5  # per update: the held peak falls 30 dB a second at 20 updates a second
LOUD_DB = -9.0
CLIPPING_DB = -1.0
GREEN, AMBER, RED = "#1e8e3e", "#f29900", "#d93025"


def level_db(level: float) -> float:
    """A peak level (0 to 1 of full scale) in decibels, no lower than ``FLOOR_DB``."""
    return max(FLOOR_DB, 20 * math.log10(level)) if level > 0 else FLOOR_DB


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelMeter")
        self.setAccessibleName("Microphone level")
        self.setFixedSize(QSize(SEGMENTS * 5 + 2, 20))
        self.db = FLOOR_DB
        self.held_db = FLOOR_DB
        self.used = 0.0  # of the longest recording the context takes; 0: no such limit
        self.setVisible(False)

    def set_level(self, level: float, used: float = 0.0) -> None:
        self.db = level_db(level)
        self.held_db = max(self.db, self.held_db - HOLD_FALL_DB)
        self.used = min(1.0, max(0.0, used))
        words = "silence" if self.db <= FLOOR_DB else f"{self.db:.0f} dB"
        if self.used:
            words += f"; {self.used:.0%} of the longest recording the chat has room for"
        self.setAccessibleDescription(words)
        self.update()

    def reset(self) -> None:
        self.db = self.held_db = FLOOR_DB
        self.used = 0.0
        self.update()

    def lit(self, db: float) -> int:
        """How many segments a level lights."""
        return round(SEGMENTS * (db - FLOOR_DB) / -FLOOR_DB)

    def paintEvent(self, _event: QPaintEvent) -> None:
        colors = colors_for(self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        lit, held = self.lit(self.db), self.lit(self.held_db)
        top, height = 4.0, 9.0
        for index in range(SEGMENTS):
            db_here = FLOOR_DB * (1 - (index + 1) / SEGMENTS)
            tone = RED if db_here >= CLIPPING_DB else AMBER if db_here >= LOUD_DB else GREEN
            color = QColor(tone if index < lit or index == held - 1 else colors.border)
            painter.fillRect(QRectF(1 + index * 5, top, 4, height), color)
        if self.used:
            track = QRectF(1, top + height + 3, SEGMENTS * 5 - 1, 2)
            painter.fillRect(track, QColor(colors.border))
            track.setWidth(track.width() * self.used)
            painter.fillRect(track, QColor(RED if self.used > 0.9 else colors.accent))
        painter.end()
