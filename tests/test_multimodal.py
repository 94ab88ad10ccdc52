"""Images and audio through the real worker and the real mtmd paths, with the tiny Gemma 4
fixture (random weights: it babbles, but every byte goes through the encoders)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, MediaEncoding, MediaKind, MediaRef, Role
from app.ui.supervisor import WorkerSupervisor

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = FIXTURES / "tiny-gemma4.gguf"
PROJECTOR = FIXTURES / "tiny-gemma4-mmproj.gguf"
TIMEOUT = 120_000


def user(text: str, *media: MediaRef) -> ChatTurn:
    return ChatTurn(Role.USER, text, list(media))


def assistant(text: str) -> ChatTurn:
    return ChatTurn(Role.ASSISTANT, text)


def image(path: Path) -> MediaRef:
    return MediaRef(MediaKind.IMAGE, str(path))


def audio(path: Path, encoding: MediaEncoding = MediaEncoding.FILE) -> MediaRef:
    return MediaRef(MediaKind.AUDIO, str(path), encoding)


@pytest.fixture
def picture(tmp_path):
    from PIL import Image, ImageDraw

    def make(name: str, color: str, size=(320, 240)) -> Path:
        canvas = Image.new("RGB", size, "white")
        ImageDraw.Draw(canvas).rectangle((40, 40, size[0] - 40, size[1] - 40), fill=color)
        path = tmp_path / name
        canvas.save(path)
        return path

    return make


@pytest.fixture
def speech(tmp_path):
    """Real speech from espeak-ng, as a 16 kHz mono WAV."""

    def make(text: str, name: str = "speech.wav") -> Path:
        if shutil.which("espeak-ng") is None:
            pytest.fail("espeak-ng is missing: run `packaging/bootstrap.sh test`, which installs it.")
        raw = tmp_path / f"raw-{name}"
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
        path = tmp_path / name
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
        return path

    return make


@pytest.fixture
def worker(qtbot):
    supervisor = WorkerSupervisor()
    with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
        supervisor.load_model(str(MODEL), 4096, "auto")
    supervisor.loaded = blocker.args[0]
    yield supervisor
    supervisor.stop()


def ask(qtbot, supervisor, request_id, messages, **settings):
    """Send one request; returns (Done, None) or (None, the error message)."""
    finished: list = []
    failures: list[str] = []
    supervisor.finished.connect(lambda done: finished.append(done) if done.request_id == request_id else None)
    supervisor.generation_failed.connect(lambda rid, msg: failures.append(msg) if rid == request_id else None)
    supervisor.generate(request_id, messages, GenerationSettings(temperature=0.0, max_tokens=8, **settings))
    qtbot.waitUntil(lambda: bool(finished or failures), timeout=TIMEOUT)
    return (finished[0], None) if finished else (None, failures[0])


def test_the_fixture_pairs_with_its_projector_and_reports_sight_and_hearing(worker):
    loaded = worker.loaded
    assert loaded.architecture == "gemma4"
    assert loaded.vision and loaded.audio
    assert Path(loaded.projector_path) == PROJECTOR


def test_png_and_jpeg_images_are_encoded_once_and_reused_on_follow_ups(qtbot, worker, picture, tmp_path):
    png = picture("red.png", "#d00000")
    from PIL import Image

    jpeg = tmp_path / "blue.jpg"
    Image.open(picture("blue.png", "#0030d0")).convert("RGB").save(jpeg, quality=90)
    history = [user("What is this?", image(png))]
    done, error = ask(qtbot, worker, "i1", history)
    assert error is None and done.media_encodes == 1 and done.completion_tokens > 0
    history += [assistant("A picture."), user("And this one?", image(jpeg))]
    done, error = ask(qtbot, worker, "i2", history)
    assert error is None and done.media_encodes == 1  # only the new JPEG
    assert done.prompt_tokens_evaluated < done.prompt_tokens  # the first image stayed in the cache
    history += [assistant("Another."), user("Compare them.")]
    done, error = ask(qtbot, worker, "i3", history)
    assert error is None and done.media_encodes == 0


def test_the_visual_token_budget_changes_what_an_image_costs(qtbot, worker, picture):
    picture_path = picture("green.png", "#00a040", size=(640, 480))
    messages = [user("Describe.", image(picture_path))]
    costs = {}
    for budget in (70, 280, 1120):  # 1120 image tokens do not fit a 512-token batch: it is raised
        done, error = ask(qtbot, worker, f"b{budget}", messages, image_budget=budget)
        assert error is None, error
        costs[budget] = done.prompt_tokens
    assert costs[70] < costs[280] < costs[1120]


def test_each_picture_takes_exactly_the_tokens_of_its_own_detail(qtbot, worker, picture):
    """Two pictures in one prompt, each at its own detail (the chat's setting covers the one
    without): the prompt grows by exactly the squares ``grid`` counts for each."""
    import dataclasses

    from app.core.gemma4 import tokens_at

    wide = picture("wide.png", "#a04000", size=(1000, 400))
    costs = {}
    for low, high in ((70, 70), (70, 1120), (560, 1120)):
        messages = [user("Compare.", dataclasses.replace(image(wide), detail=low), image(wide))]
        done, error = ask(qtbot, worker, f"d{low}-{high}", messages, image_budget=high)
        assert error is None, error
        costs[low, high] = done.prompt_tokens
    assert costs[70, 1120] - costs[70, 70] == tokens_at(1000, 400, 1120) - tokens_at(1000, 400, 70)
    assert costs[560, 1120] - costs[70, 1120] == tokens_at(1000, 400, 560) - tokens_at(1000, 400, 70)


def test_spoken_audio_reaches_the_model(qtbot, worker, speech):
    clip = speech("Hello Hearth, what is the weather like today?")
    messages = [user("Answer this.", audio(clip))]
    done, error = ask(qtbot, worker, "a1", messages)
    assert error is None and done.media_encodes >= 1 and done.completion_tokens > 0


def test_a_flac_file_is_heard_like_the_same_wav(qtbot, worker, speech, tmp_path):
    wav = speech("Please remind me to water the plants.")
    flac = tmp_path / "speech.flac"
    subprocess.run(["sox", str(wav), str(flac)], check=True)
    results = []
    for index, clip in enumerate((wav, flac)):
        done, error = ask(qtbot, worker, f"f{index}", [user("?", audio(clip))])
        assert error is None and done.completion_tokens > 0
        results.append(done)
    # Lossless: the same samples, hence as many audio positions (but a file of its own: encoded).
    assert results[0].prompt_tokens == results[1].prompt_tokens
    assert results[1].media_encodes >= 1


def test_raw_microphone_samples_reach_the_model(qtbot, worker, speech, tmp_path):
    with wave.open(str(speech("Testing the microphone."))) as clip:
        frames = clip.readframes(clip.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    pcm = tmp_path / "mic.f32"
    pcm.write_bytes(struct.pack(f"<{len(samples)}f", *(s / 32768 for s in samples)))
    messages = [user("", audio(pcm, MediaEncoding.PCM))]
    done, error = ask(qtbot, worker, "p1", messages)
    assert error is None and done.media_encodes >= 1


def test_long_audio_is_cut_into_30_second_chunks(qtbot, worker, tmp_path):
    rate, seconds = 16000, 65
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(
            b"".join(struct.pack("<h", int(8000 * ((i // 40) % 2 - 0.5))) for i in range(rate * seconds))
        )
    path = tmp_path / "long.wav"
    path.write_bytes(buffer.getvalue())
    messages = [user("Summarise.", audio(path))]
    done, error = ask(qtbot, worker, "l1", messages)
    assert error is None and done.media_encodes == 3  # 0-30 s, 30-60 s, 60-65 s
    messages += [assistant("Noise."), user("Again?")]
    done, error = ask(qtbot, worker, "l2", messages)
    assert error is None and done.media_encodes == 0


def test_a_text_only_model_refuses_attachments_in_words(qtbot, smollm2_path, picture):
    supervisor = WorkerSupervisor()
    try:
        with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT):
            supervisor.load_model(str(smollm2_path), 2048, "auto")
        messages = [user("?", image(picture("x.png", "#000000")))]
        _done, error = ask(qtbot, supervisor, "t1", messages)
        assert error and "cannot take images or audio" in error
    finally:
        supervisor.stop()


def test_a_broken_image_is_explained_not_crashing(qtbot, worker, tmp_path):
    bogus = tmp_path / "photo.png"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a picture")
    _done, error = ask(qtbot, worker, "x1", [user("?", image(bogus))])
    assert error and "could not be decoded" in error
    done, error = ask(qtbot, worker, "x2", [user("Still there?")])
    assert error is None and done.completion_tokens > 0


def without_audio_encoder(source: Path, target: Path) -> Path:
    """A copy of ``source`` without its audio encoder: the shape of the 26B and 31B projectors
    (vision only). Written with ``gguf``, llama.cpp's own GGUF library."""
    import gguf

    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(target, arch="clip", endianess=reader.endianess)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name.startswith("clip.audio."):
            continue
        value = False if name == "clip.has_audio_encoder" else field.contents()
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, kind, sub_type=sub_type)
    kept = [t for t in reader.tensors if not t.name.startswith(("a.", "mm.a."))]
    for tensor in kept:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in kept:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return target


def test_a_model_that_cannot_hear_says_so_and_still_sees(qtbot, tmp_path, picture, speech):
    folder = tmp_path / "vision-only"
    folder.mkdir()
    model = folder / MODEL.name
    shutil.copyfile(MODEL, model)
    without_audio_encoder(PROJECTOR, folder / PROJECTOR.name)
    supervisor = WorkerSupervisor()
    try:
        with qtbot.waitSignal(supervisor.model_loaded, timeout=TIMEOUT) as blocker:
            supervisor.load_model(str(model), 4096, "auto")
        loaded = blocker.args[0]
        assert loaded.vision and not loaded.audio
        clip = speech("Can you hear me?")
        _done, error = ask(qtbot, supervisor, "h1", [user("?", audio(clip))])
        assert error and "cannot hear" in error
        seen = picture("seen.png", "#3060c0")
        done, error = ask(qtbot, supervisor, "h2", [user("?", image(seen))])
        assert error is None and done.media_encodes == 1 and done.completion_tokens > 0
    finally:
        supervisor.stop()
