"""Record the microphone into a WAV file for a voice message.

Capture runs on PortAudio's own thread; the recorder only keeps the blocks it is handed and a
peak level for a live meter. ``start`` and ``stop`` talk to the sound system and may block for
a few milliseconds (much longer the first time, when PortAudio scans the devices), so a UI
calls them from a worker thread or accepts the pause.
"""

from __future__ import annotations

import io
import logging
import threading
import wave
from typing import Any

# A meter that follows every 10 ms block flickers, and one polled at 30 Hz misses short peaks:
# each block's peak is held and decays with this half-life instead.
log = logging.getLogger(__name__)
LEVEL_HALF_LIFE_S = 0.15
VOICE_FLOOR = 0.01  # RMS of full scale (-40 dBFS): quieter than this is never speech
VOICE_OVER_ROOM = 3.0  # speech is at least this much louder than the room's own noise

# PaErrorCode values worth their own words; any other error shows PortAudio's text.
_DEVICE_UNAVAILABLE = -9985
_INVALID_DEVICE = -9996


class RecorderError(RuntimeError):
    """Recording could not start or went wrong, in words for the user."""


def sound_system() -> Any:
    # Importing sounddevice initialises PortAudio, which scans every sound device: it is
    # deferred until the user wants to record so that it never delays the app's start.
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise RecorderError(
            f"Recording needs the PortAudio sound library, which is missing ({exc})."
        ) from None
    except Exception as exc:  # PortAudio failed to start; its error class is in the failed module
        raise RecorderError(f"The sound system could not be started: {exc}.") from None
    return sounddevice


NO_MICROPHONE = "No microphone was found. Plug one in: Hearth looks again when its window is next active."


def input_problem(rescan: bool = False) -> str:
    """Why the computer cannot record ("" if it has a microphone or other sound input).

    The first call initialises PortAudio (tens to hundreds of milliseconds); later calls are
    cheap. PortAudio scans the devices when it starts: ``rescan`` starts it again, to find a
    microphone plugged in since (never while recording).
    """
    try:
        sd = sound_system()
    except RecorderError as error:
        return str(error)
    try:
        if rescan:
            sd._terminate()
            sd._initialize()
        devices = sd.query_devices()
    except sd.PortAudioError as error:
        return f"The sound system could not list the microphones ({error})."
    if not any(device["max_input_channels"] > 0 for device in devices):
        return NO_MICROPHONE
    return ""


def input_names(rescan: bool = False) -> list[str]:
    """The names of the sound inputs (microphones) there are; ``rescan`` looks again (never while
    recording). Empty when there are none, or no sound system."""
    try:
        sd = sound_system()
        if rescan:
            sd._terminate()
            sd._initialize()
        devices = sd.query_devices()
    except (RecorderError, OSError) as error:
        log.info("No sound inputs listed: %s", error)
        return []
    except Exception:  # PortAudioError: the sound system could not list them
        return []
    return list(dict.fromkeys(str(d["name"]) for d in devices if d["max_input_channels"] > 0))


def input_available() -> bool:
    """Whether the computer has any microphone or other sound input (see ``input_problem``)."""
    return not input_problem()


def _find_input(sd: Any, device: int | str | None) -> dict[str, Any]:
    """The PortAudio description of the input to record from."""
    try:
        return dict(sd.query_devices(device, kind="input"))
    except (sd.PortAudioError, ValueError):
        if device is not None:
            raise RecorderError(f"The microphone “{device}” was not found.") from None
    # No default input: PortAudio leaves it unset on some systems that still have inputs.
    for info in sd.query_devices():
        if info["max_input_channels"] > 0:
            return dict(info)
    raise RecorderError("No microphone was found. Connect one and try again.")


def _open_error(sd: Any, exc: Exception) -> RecorderError:
    args: tuple[Any, ...] = exc.args if isinstance(exc, sd.PortAudioError) else ()
    code = args[1] if len(args) > 1 else None
    if code == _DEVICE_UNAVAILABLE:
        reason = "it is in use by another program or was unplugged"
    elif code == _INVALID_DEVICE:
        reason = "it is no longer connected"
    elif len(args) > 2 and args[2][2]:  # the sound system's own explanation
        reason = str(args[2][2])
    else:
        # PortAudio's text reads "Error opening InputStream: <reason>"; the reason is what matters.
        text = str(args[0] if args else exc).rsplit(": ", 1)[-1]
        reason = text[:1].lower() + text[1:]
    return RecorderError(f"The microphone could not be opened: {reason}.")


def _wav_bytes(samples: Any, sample_rate: int) -> bytes:
    """A 16-bit PCM mono WAV file holding float samples in -1..1 (louder ones are clipped)."""
    import numpy as np

    # Scaled by 32768 (not 32767) so that samples that came from 16-bit audio map back exactly.
    pcm = np.clip(np.rint(np.asarray(samples, dtype=np.float32) * 32768.0), -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return out.getvalue()


class Recorder:
    """Records mono audio from the default (or given) input device until ``stop()``.

    It records at the device's own default sample rate: many devices and sound servers refuse
    16 kHz, and the engine resamples WAV files to what the model needs anyway.
    """

    def __init__(
        self, device: int | str | None = None, max_seconds: float = 300.0, stop_after_silence_s: float = 0.0
    ) -> None:
        self._device = device
        self._max_seconds = max_seconds
        self._stop_after_silence_s = stop_after_silence_s  # 0: never
        self.stopped_by_silence = False
        self._reached_limit = False
        self._lock = threading.Lock()
        self._stream: Any = None
        self._blocks: list[Any] = []
        self._frames = 0
        self._max_frames = 0
        self._rate = 0
        self._peak = 0.0
        self._falloff_per_frame = 1.0
        self._floor = float("inf")  # the quietest block's energy: the room's own noise
        self._silence_frames = 0  # how long it has been quiet, at the end of the recording
        self.heard_voice = False  # something louder than the room was recorded
        self._active = False
        self._callback_stop: type[Exception] = Exception  # sounddevice's, once it is imported

    @property
    def level(self) -> float:
        """The recent peak level, 0 (silence) to 1 (full scale)."""
        return min(self._peak, 1.0)

    @property
    def trailing_silence_s(self) -> float:
        """How long the end of the recording has been quiet (energy-based, in audio time)."""
        return self._silence_frames / self._rate if self._rate else 0.0

    @property
    def seconds(self) -> float:
        """How long the recording is so far."""
        with self._lock:
            return self._frames / self._rate if self._rate else 0.0

    @property
    def recording(self) -> bool:
        """True from ``start()`` until ``stop()``, ``cancel()``, the time limit or a device error."""
        return self._active

    @property
    def device_lost(self) -> bool:
        """The sound system ended the recording by itself: the microphone was unplugged, or taken
        by another program. What was recorded until then is still there for ``stop()``."""
        return (
            self._stream is not None
            and not self._active
            and not self._reached_limit
            and not self.stopped_by_silence
        )

    @property
    def sample_rate(self) -> int:
        """The rate the device records at, known once ``start()`` has returned."""
        return self._rate

    def start(self) -> None:
        """Open the microphone and start recording; raises ``RecorderError`` in plain words."""
        if self._stream is not None:
            raise RecorderError("A recording is already running.")
        sd = sound_system()
        info = _find_input(sd, self._device)
        rate = round(info["default_samplerate"])
        with self._lock:
            self._blocks = []
            self._frames = 0
            self._rate = rate
            self._max_frames = max(1, round(self._max_seconds * rate))
            self._peak = 0.0
            self._falloff_per_frame = 0.5 ** (1.0 / (LEVEL_HALF_LIFE_S * rate))
        self._callback_stop = sd.CallbackStop
        try:
            stream = sd.InputStream(
                device=info["index"],
                samplerate=rate,
                channels=1,
                dtype="float32",
                callback=self._on_block,
                finished_callback=self._on_finished,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise _open_error(sd, exc) from None
        self._active = True
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self._active = False
            stream.close(ignore_errors=True)
            raise _open_error(sd, exc) from None
        self._stream = stream

    def stop(self) -> bytes:
        """Stop recording and return it as a complete 16-bit PCM mono WAV file.

        The file may hold no samples at all when ``stop()`` follows ``start()`` at once.
        """
        if self._stream is None:
            raise RecorderError("Nothing is being recorded.")
        self._close()
        with self._lock:
            blocks, self._blocks = self._blocks, []
            rate = self._rate
        import numpy as np

        samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
        return _wav_bytes(samples, rate)

    def cancel(self) -> None:
        """Stop recording and throw the recording away."""
        if self._stream is not None:
            self._close()
        with self._lock:
            self._blocks = []
            self._frames = 0

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        # Closing aborts the stream rather than waiting for its queued buffers, which for input only
        # hold the last few milliseconds; the samples already received are kept even if the
        # device fails while closing. Once it returns, the callback can no longer run.
        stream.close(ignore_errors=True)
        self._active = False
        self._peak = 0.0

    def _on_block(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread, every few milliseconds. Only this callback changes ``_frames`` while
        # the stream runs, so the lock just guards what the UI reads; the copy is required
        # because PortAudio reuses ``indata`` for the next block.
        block = indata[: self._max_frames - self._frames, 0].copy()
        peak = float(abs(block).max()) if len(block) else 0.0
        if len(block):
            self._hear(float((block * block).mean()) ** 0.5, len(block))
        with self._lock:
            self._blocks.append(block)
            self._frames += len(block)
            full = self._frames >= self._max_frames
        self._peak = max(peak, self._peak * self._falloff_per_frame**frames)
        limit = self._stop_after_silence_s
        if limit and self._silence_frames >= limit * self._rate:
            self.stopped_by_silence = True  # judged in audio time, block by block
            full = True
        if full:
            self._reached_limit = True
            raise self._callback_stop

    def _hear(self, energy: float, frames: int) -> None:
        """Voice or silence, by the block's energy against the room's: speech is several times
        louder than the quietest moments of a recording, and never below ``VOICE_FLOOR``."""
        self._floor = min(self._floor, energy)
        if energy > max(VOICE_FLOOR, VOICE_OVER_ROOM * self._floor):
            self._silence_frames = 0
            self.heard_voice = True
        else:
            self._silence_frames += frames

    def _on_finished(self) -> None:
        self._active = False
