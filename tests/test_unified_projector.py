"""A "unified" projector, the encoder-free kind Gemma 4 12B ships (``gemma4uv`` pictures,
``gemma4ua`` sound), through the real worker and mtmd: the tiny fixture's random weights babble,
but pictures and sound take their real paths, at the detail asked for, and stay in the cache."""

from __future__ import annotations

import dataclasses
import math
import struct
import wave
from pathlib import Path

import pytest

from app.core.gemma4 import tokens_at
from app.gguf.projectors import projector_info
from app.ui.supervisor import WorkerSupervisor
from tests.test_multimodal import MODEL, TIMEOUT, ask, assistant, audio, image, user

UNIFIED = Path(__file__).resolve().parent / "fixtures" / "tiny-gemma4-unified-mmproj.gguf"


@pytest.fixture
def unified_worker(qtbot):
    supervisor = WorkerSupervisor()
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(MODEL), 4096, str(UNIFIED))
    supervisor.loaded = blocker.args[0]
    yield supervisor
    supervisor.stop()


def drawing(folder: Path, name: str, size: tuple[int, int]) -> Path:
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", size, "white")
    ImageDraw.Draw(canvas).ellipse((20, 20, size[0] - 20, size[1] - 20), fill="#2060c0")
    path = folder / name
    canvas.save(path)
    return path


def tone(folder: Path, seconds: float) -> Path:
    path = folder / "tone.wav"
    with wave.open(str(path), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(16000)
        samples = int(16000 * seconds)
        clip.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 8))) for i in range(samples)))
    return path


def test_a_unified_projector_is_read_as_sight_and_hearing():
    info = projector_info(UNIFIED)
    assert info is not None and info.vision and info.audio


def test_a_picture_and_a_sound_are_read_once_and_stay_in_the_cache(qtbot, unified_worker, tmp_path):
    loaded = unified_worker.loaded
    assert loaded.vision and loaded.audio and Path(loaded.projector_path) == UNIFIED
    history = [user("What is this, and what is that sound?", image(drawing(tmp_path, "a.png", (320, 240))))]
    history[0].attachments.append(audio(tone(tmp_path, 2.0)))
    done, error = ask(qtbot, unified_worker, "u1", history)
    assert error is None, error
    assert done.media_encodes == 2 and done.completion_tokens > 0
    # 2 s of sound at 25 tokens a second, and the picture at its automatic detail.
    assert done.prompt_tokens > 50 + tokens_at(320, 240, 70)
    history += [assistant("A circle, and a hum."), user("Which colour?")]
    done, error = ask(qtbot, unified_worker, "u2", history)
    assert error is None and done.media_encodes == 0
    assert done.prompt_tokens - done.prompt_tokens_evaluated > 50 + tokens_at(320, 240, 70)  # both kept


def test_each_picture_takes_exactly_the_tokens_of_its_detail(qtbot, unified_worker, tmp_path):
    wide = image(drawing(tmp_path, "wide.png", (1000, 400)))
    costs = {}
    for detail in (70, 280, 1120):
        done, error = ask(
            qtbot, unified_worker, f"d{detail}", [user("Describe.", dataclasses.replace(wide, detail=detail))]
        )
        assert error is None, error
        costs[detail] = done.prompt_tokens
    assert costs[280] - costs[70] == tokens_at(1000, 400, 280) - tokens_at(1000, 400, 70)
    assert costs[1120] - costs[280] == tokens_at(1000, 400, 1120) - tokens_at(1000, 400, 280)
