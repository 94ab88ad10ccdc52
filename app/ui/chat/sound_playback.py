"""Sent sounds play and pause in place: a click on a sound's tile plays it (decoded and the
output device opened off the UI thread), another click pauses it, and the tile shows where it is
(``line``). One sound plays at a time."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.media.player import PlayerError, SoundPlayer
from app.ui.background import BackgroundTasks
from app.ui.chat.intake import clock

TICK_MS = 100


def _started(path: Path) -> SoundPlayer:
    from app.media.player import decode_clip

    player = SoundPlayer(decode_clip(path))
    player.play()
    return player


class SoundPlayback(QObject):
    changed = Signal()
    """What a sound tile shows changed (playing, paused, further along)."""
    failed = Signal(str)
    """A sound could not be played; the words say why."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = BackgroundTasks(self)
        self._player: SoundPlayer | None = None
        self._path: Path | None = None
        self._opening = False
        self._timer = QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._player is not None and self._player.playing

    @property
    def opening(self) -> bool:
        return self._opening

    def line(self, path: Path) -> str:
        """What the tile of the sound at ``path`` shows under its name ("" when it is not playing)."""
        if path != self._path:
            return ""
        if self._opening or self._player is None:
            return "Opening…"
        player = self._player
        if player.finished:
            return f"▶ Play again · {clock(player.clip.duration_s)}"
        where = f"{clock(player.position_s)} / {clock(player.clip.duration_s)}"
        return f"▶ Playing {where}" if player.playing else f"❚❚ Paused {where}"

    def toggle(self, path: Path) -> None:
        """Play the sound at ``path``, or pause or resume it if it is the one playing."""
        if path == self._path and self._player is not None:
            if self._player.playing:
                self._player.pause()
                self._timer.stop()
            else:
                self._resume(self._player)
            self.changed.emit()
            return
        if path == self._path and self._opening:
            return
        self.stop()
        self._path, self._opening = path, True
        self.changed.emit()

        def started(player: SoundPlayer) -> None:
            if self._path != path:  # another sound was asked for meanwhile
                player.close()
                return
            self._player, self._opening = player, False
            self._timer.start()
            self.changed.emit()

        self._tasks.run(lambda: _started(path), started, self._failed, "play")

    def _resume(self, player: SoundPlayer) -> None:
        try:
            player.play()
        except PlayerError as error:
            self._failed(error)
            return
        self._timer.start()

    def _tick(self) -> None:
        if self._player is not None and not self._player.playing:
            self._timer.stop()  # played to its end
        self.changed.emit()

    def _failed(self, error: BaseException) -> None:
        self._path, self._opening, self._player = None, False, None
        self._timer.stop()
        self.changed.emit()
        self.failed.emit(str(error))

    def stop(self) -> None:
        if self._player is not None:
            self._player.close()
        self._player, self._path, self._opening = None, None, False
        self._timer.stop()

    def close(self) -> None:
        self.stop()
        self._tasks.close()
