"""The microphone button: click to record, click again to attach the recording. Opening and
closing the audio device can take a moment, so both happen off the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QToolButton, QWidget

from app.ui.background import BackgroundTasks
from app.ui.chat.attachment_tiles import microphone_icon, recording_icon
from app.ui.chat.intake import clock

if TYPE_CHECKING:
    from app.media.recorder import Recorder

METER_INTERVAL_MS = 50
MAX_RECORDING_S = 300.0


class MicButton(QToolButton):
    recorded = Signal(bytes, float)
    """A recording for the model to hear ended: (a WAV file's bytes, its length in seconds)."""
    dictated = Signal(bytes, float)
    """A recording to write down in the message box ended (``dictates``): as ``recorded``."""
    failed = Signal(str)
    """The microphone could not be used; the words say why."""
    recording_changed = Signal(bool)
    """Recording started (True) or ended (False)."""
    level_changed = Signal(float, float)
    """While recording: (the peak level, 0 to 1 of full scale; how much of the longest recording
    the chat has room for is used, 0 to 1, or 0 when nothing but the usual limit applies)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("micButton")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setCheckable(True)
        self.setIconSize(QSize(20, 20))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self._recorder: Recorder | None = None
        self._tasks = BackgroundTasks(self)
        self._meter = QTimer(self, interval=METER_INTERVAL_MS)
        self._meter.timeout.connect(self._update_meter)
        self._reason = ""  # why it cannot be used now
        self._busy = False  # the device is opening or closing
        self._cancel_when_open = False  # cancel() came while the device was still opening
        self._stop_when_open = False  # release() came while the device was still opening
        # How long a recording may be: where the chat's context would be full (set by the chat).
        self.max_seconds_of: Callable[[], float] = lambda: MAX_RECORDING_S
        self._limit = MAX_RECORDING_S
        self.device = ""  # the input to record from, by name; "": the system's default
        self.silence_stop_s = 0.0  # stop after this long without speech; 0: never
        self._dictates = False  # what is said is written into the message box, not attached
        self._recording_dictates = False  # ...for the recording under way
        self._writing = False  # words said are being written down
        self.push_to_talk_keys = "Ctrl+Space"  # as the user sees them
        self.chat_model_hears = False
        self.clicked.connect(self._toggle)
        self._show_idle()

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    @property
    def busy(self) -> bool:
        """The microphone is opening, or closing with a recording on its way."""
        return self._busy

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if not self.recording:
            self.setIcon(microphone_icon(20, self.palette().buttonText().color()))

    def _show_idle(self) -> None:
        self.setChecked(False)
        self.setText("")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.setIcon(microphone_icon(20, self.palette().buttonText().color()))
        if self._writing:
            self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.setText("Writing…")
        how = f"click, or Ctrl+Shift+R; or hold {self.push_to_talk_keys} and let go"
        if self._dictates:
            tip, name = f"Dictate: what you say is written into the message box ({how})", "Dictate"
        else:
            tip, name = f"Record a voice message for the model to hear ({how})", "Record a voice message"
        self.setToolTip(self._reason or f"{tip}. Right-click for the microphone and the mode.")
        self.setAccessibleName(name)
        self.setAccessibleDescription(self._reason)

    @property
    def dictates(self) -> bool:
        return self._dictates

    def set_dictates(self, dictates: bool) -> None:
        """Whether the next recording is written into the message box (or attached for the model)."""
        self._dictates = dictates
        if not self.recording:
            self._show_idle()

    def set_writing(self, writing: bool) -> None:
        """Words said are being written down: the button says so meanwhile."""
        self._writing = writing
        if not self.recording:
            self._show_idle()

    @property
    def reason(self) -> str:
        return self._reason

    def set_reason(self, reason: str) -> None:
        """Why the microphone cannot be used now ("" when it can): its tooltip says so."""
        self._reason = reason
        if not self.recording:
            self._show_idle()

    def _toggle(self) -> None:
        if self._busy:
            self.setChecked(self.recording)
            return
        if self.recording:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        from app.media.recorder import Recorder

        self._recording_dictates = self._dictates
        # The chat's model hears what is recorded (asked by voice, or writing down dictation) within
        # the chat's context; dictation for a model that cannot hear goes to a model of its own.
        limit = self.max_seconds_of() if self.chat_model_hears else MAX_RECORDING_S
        self._limit = max(1.0, min(MAX_RECORDING_S, limit))
        recorder = Recorder(
            device=self.device or None, max_seconds=self._limit, stop_after_silence_s=self.silence_stop_s
        )
        self._busy = True
        self.setChecked(True)

        def started(_: object) -> None:
            self._busy = False
            if self._cancel_when_open:
                self._cancel_when_open = False
                self._show_idle()
                self._tasks.run(recorder.cancel, lambda _: None, name="mic-cancel")
                return
            self._recorder = recorder
            if self._stop_when_open:  # push-to-talk let go before the device was open
                self._stop_when_open = False
                self.stop()
                return
            self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.setToolTip(
                "Stop, and write down what was said"
                if self._recording_dictates
                else "Stop and attach the recording"
            )
            self.setAccessibleName("Stop recording")
            self._update_meter()
            self._meter.start()
            self.recording_changed.emit(True)

        def refused(error: BaseException) -> None:
            self._busy = False
            self._cancel_when_open = False
            self._show_idle()
            self.failed.emit(str(error))

        self._tasks.run(recorder.start, started, refused, "mic-start")

    def stop(self) -> None:
        """Stop and emit ``recorded``."""
        recorder = self._end()
        if recorder is None:
            return
        seconds = recorder.seconds
        self._busy = True
        self._tasks.run(recorder.stop, lambda wav: self._stopped(wav, seconds), self._stop_failed, "mic-stop")

    def release(self) -> None:
        """Stop and attach (push-to-talk let go), also once a device still opening is open."""
        if self._busy and self._recorder is None:
            self._stop_when_open = True
            return
        self.stop()

    def cancel(self) -> None:
        """Stop and throw the recording away (also one whose device is still opening)."""
        if self._busy and self._recorder is None:
            self._cancel_when_open = True
            return
        recorder = self._end()
        if recorder is not None:
            self._tasks.run(recorder.cancel, lambda _: None, name="mic-cancel")

    def _end(self) -> Recorder | None:
        recorder, self._recorder = self._recorder, None
        self._meter.stop()
        self._show_idle()
        if recorder is not None:
            self.recording_changed.emit(False)
        return recorder

    def _stopped(self, wav: bytes, seconds: float) -> None:
        self._busy = False
        if seconds < 0.3:
            self.failed.emit("The recording was too short; hold on a little longer.")
            return
        (self.dictated if self._recording_dictates else self.recorded).emit(wav, seconds)

    def _stop_failed(self, error: BaseException) -> None:
        self._busy = False
        self.failed.emit(str(error))

    def _update_meter(self) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        if not recorder.recording and recorder.stopped_by_silence:
            if recorder.heard_voice:
                self.stop()
            else:
                self.cancel()
                self.failed.emit("Nothing was heard: the microphone picked up only silence.")
            return
        if recorder.device_lost:
            seconds = recorder.seconds
            self.stop()  # what was recorded is kept
            self.failed.emit(
                f"The microphone stopped at {clock(seconds)}: it was unplugged or taken by another "
                "program. What was recorded until then is kept."
            )
            return
        if not recorder.recording:  # it reached its time limit
            self.stop()
            if self._limit >= MAX_RECORDING_S:
                self.failed.emit(f"The recording stopped at {clock(self._limit)}, the longest one can be.")
                return
            self.failed.emit(
                f"The recording stopped at {clock(self._limit)}: the chat's context would be full "
                "(a second of sound takes about 25 tokens, and room is kept for the answer)."
            )
            return
        seconds = recorder.seconds
        # The last half minute before the context is full counts down to it.
        near = self._limit - seconds < 30 and self._limit < MAX_RECORDING_S
        self.setText(f"{clock(seconds)} / {clock(self._limit)}" if near else clock(seconds))
        self.setIcon(recording_icon(20, recorder.level))
        limited = self._limit < MAX_RECORDING_S
        self.level_changed.emit(recorder.level, seconds / self._limit if limited else 0.0)

    def shutdown(self) -> None:
        self.cancel()
        self._tasks.close()
