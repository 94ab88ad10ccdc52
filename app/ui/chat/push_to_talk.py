"""Push-to-talk: hold a key (Ctrl+Space unless the settings say otherwise) anywhere in the window
to record, let go to attach the recording to the message. The key goes to no widget meanwhile,
so the message box does not fill with spaces."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.chat.mic_button import MicButton


class PushToTalk(QObject):
    def __init__(self, window: QWidget, mic: MicButton, keys: str = "Ctrl+Space") -> None:
        super().__init__(window)
        self._window, self._mic = window, mic
        self.holding = False
        sequence = QKeySequence(keys)
        combination = sequence[0] if sequence.count() else None  # type: ignore[index]
        self._key = combination.key() if combination is not None else None
        self._modifiers = (
            combination.keyboardModifiers() if combination is not None else Qt.KeyboardModifier(0)
        )
        app = QApplication.instance()
        if app is not None and self._key is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        assert isinstance(event, QKeyEvent)
        if not self._window.isActiveWindow():
            return False
        if kind == QEvent.Type.KeyRelease and self.holding and self._ends(event):
            if not event.isAutoRepeat():
                self.holding = False
                self._mic.release()
            return True
        if not self._is_ours(event):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # ours: no shortcut of the window's gets it
            return True
        mic = self._mic
        can_start = mic.isEnabled() and not mic.recording and not mic.busy
        if kind == QEvent.Type.KeyPress and not event.isAutoRepeat() and not self.holding and can_start:
            self.holding = True
            mic.start()
        return True  # autorepeats too: nothing types spaces while the key is held

    def _is_ours(self, event: QKeyEvent) -> bool:
        wanted = self._modifiers & ~Qt.KeyboardModifier.KeypadModifier
        return (
            event.key() == self._key and (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier) == wanted
        )

    def _ends(self, event: QKeyEvent) -> bool:
        """Letting go of the key, or of one of its modifiers, ends the recording."""
        modifier_keys = {
            Qt.Key.Key_Control: Qt.KeyboardModifier.ControlModifier,
            Qt.Key.Key_Shift: Qt.KeyboardModifier.ShiftModifier,
            Qt.Key.Key_Alt: Qt.KeyboardModifier.AltModifier,
            Qt.Key.Key_Meta: Qt.KeyboardModifier.MetaModifier,
        }
        key = Qt.Key(event.key())
        return key == self._key or bool(self._modifiers & modifier_keys.get(key, Qt.KeyboardModifier(0)))
