"""A private PulseAudio server whose one microphone can be unplugged: its source reads a pipe
that a thread feeds with sound at the pace of real time, and ``unplug()`` removes the source, as
the sound server does when a USB headset is pulled out. Applications reach it through ALSA's
pulse plugin, set up in a temporary HOME's .asoundrc (PortAudio rescans on the way in and out)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

RATE = 44100
BLOCK_S = 0.05


class PulseMicrophone:
    def __init__(self, folder: Path, samples: np.ndarray) -> None:
        self.socket = folder / "native"
        self._fifo = folder / "mic.fifo"
        self._samples = samples.astype("<f4")
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None
        env = {**os.environ, "XDG_RUNTIME_DIR": str(folder), "HOME": str(folder)}
        self._env = env
        self._server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",  # no default configuration: nothing but what is loaded here
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--log-target=stderr",
                "-L",
                f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The PulseAudio test server did not start.")
            time.sleep(0.05)
        self._pactl(
            "load-module",
            "module-pipe-source",
            "source_name=hearthmic",
            f"file={self._fifo}",
            "format=float32le",
            f"rate={RATE}",
            "channels=1",
        )
        self._feeder = threading.Thread(target=self._feed, name="pulse-mic", daemon=True)
        self._feeder.start()

    def _pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", "-s", f"unix:{self.socket}", *args],
            env=self._env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def _feed(self) -> None:
        """The sound, then quiet, one block at a time at the pace it would be spoken."""
        block = round(RATE * BLOCK_S)
        with open(self._fifo, "wb") as pipe:
            position = 0
            while not self._stop.is_set():
                chunk = self._samples[position : position + block]
                position += block
                if len(chunk) < block:
                    chunk = np.concatenate([chunk, np.zeros(block - len(chunk), "<f4")])
                try:
                    pipe.write(chunk.tobytes())
                    pipe.flush()
                except (BrokenPipeError, OSError):
                    return  # the source was unplugged
                time.sleep(BLOCK_S)

    def asoundrc(self) -> str:
        return "".join(
            f'{kind}.!default {{\n    type pulse\n    server "unix:{self.socket}"\n}}\n'
            for kind in ("pcm", "ctl")
        )

    def unplug(self) -> None:
        self._pactl("unload-module", "module-pipe-source")

    def close(self) -> None:
        self._stop.set()
        self._server.terminate()
        try:
            self._server.wait(5)
        except subprocess.TimeoutExpired:
            self._server.kill()


@contextmanager
def pulse_microphone(samples: np.ndarray) -> Iterator[PulseMicrophone]:
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail("pulseaudio is missing: run `packaging/bootstrap.sh test`, which installs it.")
    # A folder of its own with a short path: a socket's path may not pass 107 bytes.
    with tempfile.TemporaryDirectory(prefix="hearth-pa-") as folder:
        microphone = PulseMicrophone(Path(folder), samples)
        try:
            yield microphone
        finally:
            microphone.close()
