"""The microphone recorder against real PortAudio capture, with no sound card: ALSA's ``file``
plugin plays a sound file into a capture device that PortAudio lists like any microphone.

PortAudio reads the ALSA configuration once, when ``sounddevice`` is imported, so every
recording runs in a child process whose HOME holds the ``.asoundrc`` for that test.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100

# The file plugin reads its input file in whatever format the stream asks for, so plug pins the
# format, rate and channel count to the raw file's. The file holds float32 at 44.1 kHz, what the
# recorder asks for (PortAudio reports plug's slave rate as the device's default), because with
# 16-bit samples that plug converted to float32 the file plugin skipped whole periods of its
# input. Its null slave is not paced, so capture runs far faster than real time.
DEVICE = """
pcm.{name} {{
    type plug
    slave {{
        pcm "{name}_file"
        format FLOAT_LE
        rate {rate}
        channels 1
    }}
}}
pcm.{name}_file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
"""

RECORD = """
import json, sys, time
from pathlib import Path
from typing import Any
from app.media.recorder import Recorder, input_available

device, max_seconds, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
recorder = Recorder(device=device, max_seconds=max_seconds)
recorder.start()
deadline = time.monotonic() + 30
while recorder.recording and time.monotonic() < deadline:  # the time limit ends it
    time.sleep(0.005)
report = {
    "available": input_available(),
    "rate": recorder.sample_rate,
    "seconds": recorder.seconds,
    "still_recording": recorder.recording,
    "level": recorder.level,
}
out.write_bytes(recorder.stop())
print(json.dumps(report))
"""

MISUSE = """
import json
from app.media.recorder import Recorder, RecorderError

report = {}
try:
    Recorder(device="nowhere").start()
except RecorderError as exc:
    report["unknown"] = str(exc)
recorder = Recorder(device="hearthmic")
recorder.start()
recorder.cancel()
report["after_cancel"] = [recorder.recording, recorder.seconds, recorder.level]
try:
    recorder.stop()
except RecorderError as exc:
    report["stop_after_cancel"] = str(exc)
print(json.dumps(report))
"""

NO_MICROPHONE = """
import json
import sounddevice
from app.media.recorder import Recorder, RecorderError, input_available

report = {
    "available": input_available(),
    "inputs": [d["name"] for d in sounddevice.query_devices() if d["max_input_channels"] > 0],
}
try:
    Recorder().start()
except RecorderError as exc:
    report["error"] = str(exc)
print(json.dumps(report))
"""


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: run `packaging/bootstrap.sh test`, which installs it.")


def float_raw(tmp_path: Path, name: str, source: str, effects: tuple[str, ...] = ()) -> Path:
    """Mono float32 samples at 44.1 kHz, as the capture device plays them."""
    need("sox")
    path = tmp_path / f"{name}.f32"
    output = ["-t", "raw", "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32", str(path)]
    subprocess.run(["sox", source, *output, *effects], check=True, capture_output=True)
    return path


@pytest.fixture
def speech_raw(tmp_path) -> Path:
    need("espeak-ng")
    wav = tmp_path / "speech.wav"
    text = "Hello from Hearth. This is a test of the microphone: one, two, three."
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    return float_raw(tmp_path, "speech", str(wav))


@pytest.fixture
def tone_raw(tmp_path) -> Path:
    return float_raw(tmp_path, "tone", "-n", ("synth", "3", "sine", "440", "vol", "0.5"))


def alsa_home(tmp_path: Path, devices: dict[str, Path]) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    config = "".join(DEVICE.format(name=name, rate=RATE, infile=infile) for name, infile in devices.items())
    (home / ".asoundrc").write_text(config, encoding="utf-8")
    return home


def run_in(home: Path, script: str, *args: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)  # ALSA reads ~/.asoundrc (and $XDG_CONFIG_HOME/alsa/asoundrc)
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def record(tmp_path: Path, raw: Path, max_seconds: float) -> tuple[dict, np.ndarray, Any]:
    """Record from ``raw`` until the time limit; the child's report, the samples, the WAV's header."""
    home = alsa_home(tmp_path, {"hearthmic": raw})
    out = tmp_path / "recording.wav"
    report = run_in(home, RECORD, "hearthmic", str(max_seconds), str(out))
    with wave.open(io.BytesIO(out.read_bytes())) as reader:
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        return report, samples, reader.getparams()


def test_records_what_the_microphone_hears_as_a_16_bit_wav(tmp_path, speech_raw):
    report, samples, header = record(tmp_path, speech_raw, max_seconds=1.0)

    assert report["available"] is True
    assert (header.nchannels, header.sampwidth) == (1, 2)
    assert header.framerate == report["rate"] == RATE  # the device's own rate, not 16 kHz
    # The time limit ended the recording by itself, at exactly one second.
    assert report["still_recording"] is False
    assert report["seconds"] == 1.0
    assert header.nframes == len(samples) == RATE

    source = np.fromfile(speech_raw, dtype="<f4")[:RATE]
    expected = np.clip(np.rint(source * 32768), -32768, 32767)
    assert np.abs(samples.astype(np.int32) - expected).max() <= 1
    assert np.sqrt(np.mean((samples / 32768) ** 2)) > 0.02  # speech, not silence


def test_a_tone_keeps_its_pitch_and_shows_on_the_level_meter(tmp_path, tone_raw):
    report, samples, _header = record(tmp_path, tone_raw, max_seconds=2.0)

    assert len(samples) == 2 * RATE
    spectrum = np.abs(np.fft.rfft(samples / 32768))
    frequencies = np.fft.rfftfreq(len(samples), 1 / RATE)
    assert abs(frequencies[spectrum.argmax()] - 440) < 1
    assert report["level"] == pytest.approx(0.5, abs=0.02)


def test_an_unknown_device_and_a_cancelled_recording(tmp_path, tone_raw):
    report = run_in(alsa_home(tmp_path, {"hearthmic": tone_raw}), MISUSE)

    assert report["unknown"] == "The microphone “nowhere” was not found."
    assert report["after_cancel"] == [False, 0.0, 0.0]
    assert report["stop_after_cancel"] == "Nothing is being recorded."


def test_without_any_microphone_recording_says_so(tmp_path):
    home = alsa_home(tmp_path, {})  # an .asoundrc that defines no device

    report = run_in(home, NO_MICROPHONE)

    if report["inputs"]:
        pytest.skip(f"this computer has sound inputs of its own: {', '.join(report['inputs'])}")
    assert report["available"] is False
    assert report["error"] == "No microphone was found. Connect one and try again."
