"""Playing a sent sound back in place: the file is decoded once (FFmpeg, through PyAV, so any
format Hearth takes plays), then PortAudio pulls it from a callback on its own thread. Pause
keeps the position; the end of the clip stops it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.media.recorder import sound_system

PLAYBACK_RATE = 48_000  # what output devices take everywhere


class PlayerError(RuntimeError):
    """A sound that cannot be played, in words for the user."""


@dataclass(frozen=True)
class Clip:
    samples: Any  # mono float32 at PLAYBACK_RATE (a NumPy array)
    duration_s: float


def decode_clip(path: Path) -> Clip:
    """The sound at ``path``, ready to play (call it off the UI thread)."""
    import av
    import numpy as np

    parts = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise PlayerError(f"“{path.name}” holds no sound.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=PLAYBACK_RATE)
            for frame in container.decode(container.streams.audio[0]):
                parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except PlayerError:
        raise
    except Exception:  # FFmpeg's errors for a damaged or vanished file come in many types
        raise PlayerError(f"“{path.name}” cannot be played: it is missing or damaged.") from None
    samples = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    return Clip(samples, len(samples) / PLAYBACK_RATE)


class SoundPlayer:
    """One clip on the default output device. ``position_s`` and ``playing`` may be read from any
    thread; the device opens in ``play`` (tens of milliseconds: call it off the UI thread)."""

    def __init__(self, clip: Clip) -> None:
        self.clip = clip
        self._frame = 0
        self._lock = threading.Lock()
        self._stream: Any = None
        self.playing = False
        self.finished = False

    @property
    def position_s(self) -> float:
        return self._frame / PLAYBACK_RATE

    def play(self) -> None:
        sd = _open_audio()
        if self._stream is None:
            try:
                self._stream = sd.OutputStream(
                    samplerate=PLAYBACK_RATE, channels=1, dtype="float32", callback=self._fill
                )
            except (sd.PortAudioError, ValueError) as error:
                raise PlayerError(
                    f"The sound cannot be played: no speaker or headphones answer ({error})."
                ) from None
        if self.finished:  # played to the end: again from the start
            self._frame, self.finished = 0, False
        self.playing = True
        self._stream.start()

    def pause(self) -> None:
        self.playing = False
        if self._stream is not None:
            self._stream.abort()  # at once: stop() would wait for the queued buffers to play

    def close(self) -> None:
        self.playing = False
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _fill(self, out: Any, frames: int, _time: Any, _status: Any) -> None:
        samples = self.clip.samples
        with self._lock:
            start = self._frame
            chunk = samples[start : start + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk) :, 0] = 0.0
            self._frame = start + len(chunk)
        if len(chunk) < frames:
            self.playing = False
            self.finished = True
            raise sound_system().CallbackStop


def _open_audio() -> Any:
    from app.media.recorder import RecorderError

    try:
        return sound_system()
    except RecorderError as error:
        raise PlayerError(str(error).replace("Recording", "Playing sounds")) from None
