"""Push-to-talk: hold a key (Ctrl+Space unless the settings say otherwise) anywhere in the window
to record, let go to attach the recording to the message.

The press is a window shortcut; while it is held the microphone button takes the keyboard, so it
alone hears the key's repeats (no spaces in the message box) and its release. (An application-
wide event filter would see the release too, but a Python one runs for every event of every
object, objects being destroyed included, and PySide can crash wrapping those.)"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from app.ui.chat.mic_button import MicButton

_MODIFIER_KEYS = {
    Qt.Key.Key_Control: Qt.KeyboardModifier.ControlModifier,
    Qt.Key.Key_Shift: Qt.KeyboardModifier.ShiftModifier,
    Qt.Key.Key_Alt: Qt.KeyboardModifier.AltModifier,
    Qt.Key.Key_Meta: Qt.KeyboardModifier.MetaModifier,
}


class PushToTalk(QObject):
    def __init__(self, window: QWidget, mic: MicButton, keys: str = "Ctrl+Space") -> None:
        super().__init__(window)
        self._mic = mic
        self.holding = False
        self.shortcut = QShortcut(window)
        self.shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.shortcut.setAutoRepeat(False)
        self.shortcut.activated.connect(self._pressed)
        self.set_keys(keys)
        mic.installEventFilter(self)

    @property
    def keys(self) -> str:
        return self.shortcut.key().toString(QKeySequence.SequenceFormat.PortableText)

    def set_keys(self, keys: str) -> None:
        """Hold these keys (a Qt key sequence, one combination) to record."""
        sequence = QKeySequence(keys)
        combination = sequence[0] if sequence.count() else None  # type: ignore[index]
        self._key = combination.key() if combination is not None else None
        self._modifiers = (
            combination.keyboardModifiers() if combination is not None else Qt.KeyboardModifier(0)
        )
        self.shortcut.setKey(sequence)
        self._mic.push_to_talk_keys = sequence.toString(QKeySequence.SequenceFormat.NativeText)
        self._mic.set_reason(self._mic.reason)  # its tooltip names the keys

    def _pressed(self) -> None:
        mic = self._mic
        if self.holding or not mic.isEnabled() or mic.recording or mic.busy:
            return
        self.holding = True
        mic.grabKeyboard()  # the key's repeats and its release come to the button now
        mic.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if not self.holding or kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        if kind == QEvent.Type.KeyRelease and not event.isAutoRepeat() and self._ends(event):
            self.holding = False
            self._mic.releaseKeyboard()
            self._mic.release()
        return True  # while held, the keyboard types nothing

    def _ends(self, event: QKeyEvent) -> bool:
        """Letting go of the key, or of one of its modifiers, ends the recording."""
        key = Qt.Key(event.key())
        return key == self._key or bool(self._modifiers & _MODIFIER_KEYS.get(key, Qt.KeyboardModifier(0)))
