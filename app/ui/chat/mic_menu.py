"""The microphone's menu (right-click on it): what a recording is for (the model to hear, or
dictation into the message box), which input to record from, listed afresh each time it opens (a
headset plugged in since shows up), and whether a recording stops by itself after a moment
without speech."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from app.ui.background import BackgroundTasks
from app.ui.chat.mic_button import MicButton

SILENCE_STOP_S = 2.0


def _inputs(rescan: bool) -> list[str]:
    from app.media.recorder import input_names

    return input_names(rescan=rescan)


class MicMenu(QObject):
    def __init__(
        self,
        mic: MicButton,
        on_change: Callable[[str, float], None],
        can_rescan: Callable[[], bool],
        dictation: Callable[[], tuple[bool, bool]],
        on_dictation: Callable[[bool], None],
    ) -> None:
        super().__init__(mic)
        self._mic, self._on_change, self._can_rescan = mic, on_change, can_rescan
        # (whether the user chose dictation, whether the loaded model hears), and the choice
        self._dictation, self._on_dictation = dictation, on_dictation
        self.choose_push_to_talk: Callable[[], None] | None = None  # opens the keys' dialog
        self._tasks = BackgroundTasks(self)
        self.menu: QMenu | None = None
        mic.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        mic.customContextMenuRequested.connect(self.open_at)

    def open_at(self, point: QPoint) -> None:
        where = self._mic.mapToGlobal(point)
        rescan = self._can_rescan()  # not under a recording or a sound playing: it would end them
        self._tasks.run(lambda: _inputs(rescan), lambda names: self._show(names, where), name="mic-list")

    def _show(self, names: list[str], where: QPoint) -> None:
        menu = QMenu(self._mic)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        chosen, hears = self._dictation()
        modes = QActionGroup(menu)
        for label, dictate in (
            ("Ask by voice: the model hears the recording", False),
            ("Dictate: what you say is written into the message box", True),
        ):
            mode = menu.addAction(label if hears or dictate else f"{label} (needs a model that hears)")
            mode.setCheckable(True)
            mode.setChecked(dictate == (chosen or not hears))
            mode.setEnabled(hears or dictate)
            mode.triggered.connect(lambda _checked=False, d=dictate: self._on_dictation(d))
            modes.addAction(mode)
        menu.addSeparator()
        heading = menu.addAction("Record from")
        heading.setEnabled(False)
        group = QActionGroup(menu)
        for label, device in [("System default", ""), *((name, name) for name in names)]:
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(device == self._mic.device)
            action.triggered.connect(
                lambda _checked=False, d=device: self._choose(d, self._mic.silence_stop_s)
            )
            group.addAction(action)
        if self._mic.device and self._mic.device not in names:
            gone = menu.addAction(f"{self._mic.device} (not connected)")
            gone.setEnabled(False)
        menu.addSeparator()
        silence = QAction(f"Stop after {SILENCE_STOP_S:g} seconds of silence", menu)
        silence.setCheckable(True)
        silence.setChecked(bool(self._mic.silence_stop_s))
        silence.toggled.connect(lambda on: self._choose(self._mic.device, SILENCE_STOP_S if on else 0.0))
        menu.addAction(silence)
        if self.choose_push_to_talk is not None:
            keys = menu.addAction(f"Push-to-talk keys: {self._mic.push_to_talk_keys}…")
            keys.triggered.connect(self.choose_push_to_talk)
        self.menu = menu
        menu.popup(where)

    def _choose(self, device: str, silence_stop_s: float) -> None:
        self._mic.device, self._mic.silence_stop_s = device, silence_stop_s
        self._on_change(device, silence_stop_s)
