"""Media are decoded and preprocessed once per session, yet a prompt splits into exactly the
tokens and media chunks that ``mtmd_tokenize`` gives for the whole prompt at once."""

from __future__ import annotations

import ctypes
import wave
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def engine():
    import llama_cpp
    from llama_cpp import mtmd_cpp

    from app.engine.multimodal import Projector
    from app.engine.native_model import NativeModel

    model = NativeModel(llama_cpp, str(FIXTURES / "tiny-gemma4.gguf"), 4096, 2, lambda _: None, batch=1152)
    projector = Projector(mtmd_cpp, llama_cpp, str(FIXTURES / "tiny-gemma4-mmproj.gguf"), model.model, 2)
    yield model, projector, mtmd_cpp
    projector.close()
    model.close()


def whole_prompt_reference(mtmd, projector, text: str, paths: list[Path]) -> list[tuple]:
    """What mtmd_tokenize makes of the whole prompt (decoding every medium again)."""
    bitmaps = []
    for path in paths:
        data = path.read_bytes()
        buffer = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        bitmaps.append(mtmd.mtmd_helper_bitmap_init_from_buf(projector.ctx, buffer, len(data), False))
    chunks = mtmd.mtmd_input_chunks_init()
    encoded = text.encode()
    prompt = mtmd.mtmd_input_text(text=encoded, text_len=len(encoded), add_special=True, parse_special=True)
    array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
    assert mtmd.mtmd_tokenize(projector.ctx, chunks, ctypes.byref(prompt), array, len(bitmaps)) == 0
    shape = []
    for index in range(mtmd.mtmd_input_chunks_size(chunks)):
        chunk = mtmd.mtmd_input_chunks_get(chunks, index)
        if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
            count = ctypes.c_size_t()
            tokens = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
            shape.append(("text", tuple(tokens[i] for i in range(count.value))))
        else:
            shape.append(("media", mtmd.mtmd_input_chunk_get_n_pos(chunk)))
    mtmd.mtmd_input_chunks_free(chunks)
    for bitmap in bitmaps:
        mtmd.mtmd_bitmap_free(bitmap)
    return shape


def shape_of(segments) -> list[tuple]:
    from app.engine.prompt_cache import TextSegment

    return [("text", s.tokens) if isinstance(s, TextSegment) else ("media", s.n_pos) for s in segments]


def test_per_medium_tokenization_matches_mtmd_on_the_whole_prompt(engine, tmp_path):
    from PIL import Image

    from app.engine.multimodal import AttachmentIndex

    model, projector, mtmd = engine
    photo, drawing = tmp_path / "photo.jpg", tmp_path / "drawing.png"
    Image.effect_noise((500, 300), 50).convert("RGB").save(photo)
    Image.new("RGB", (200, 400), "#3070d0").save(drawing)
    sound = tmp_path / "tone.wav"
    with wave.open(str(sound), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 16000 * 3))  # 3 s of silence, a real WAV all the same
    marker = projector.marker
    text = (
        f"<|turn>user\n{marker}\nWhat is this?<turn|>\n<|turn>model\nNoise.<turn|>\n"
        f"<|turn>user\n{marker}\n{marker}\nA drawing, a sound, and the first photo again:{marker}"
        "<turn|>\n<|turn>model\n"
    )
    paths = [photo, drawing, sound, photo]  # in marker order
    index = AttachmentIndex()
    kinds = ["image", "image", "audio", "image"]
    attachments = [index.identify(kind, str(path)) for kind, path in zip(kinds, paths, strict=True)]

    def tokenize_text(part: str) -> list[int]:
        return model.tokenize(part, add_bos=False)

    segments = projector.tokenize(text, attachments, add_bos=True, tokenize_text=tokenize_text)
    assert shape_of(segments) == whole_prompt_reference(mtmd, projector, text, paths)
    media = [s for s in segments if not hasattr(s, "tokens")]
    assert [m.kind for m in media] == kinds
    assert media[0].media_id == media[3].media_id  # the same photo twice: one set of embeddings

    again = projector.tokenize(text, attachments, add_bos=True, tokenize_text=tokenize_text)
    assert again == segments
    with pytest.raises(ValueError, match="marker"):
        projector.tokenize(text, attachments[:2], add_bos=True, tokenize_text=tokenize_text)


def test_an_attachment_is_read_again_only_when_its_file_changes(tmp_path):
    from app.engine.multimodal import AttachmentIndex, MediaError

    index = AttachmentIndex()
    path = tmp_path / "a.png"
    path.write_bytes(b"first")
    first = index.identify("image", str(path))
    assert index.identify("image", str(path)) is first
    path.write_bytes(b"second content")
    assert index.identify("image", str(path)).media_id != first.media_id
    path.unlink()
    with pytest.raises(MediaError, match="could not be read"):
        index.identify("image", str(path))


def test_a_long_session_keeps_only_recent_media_prepared(engine, tmp_path, monkeypatch):
    from PIL import Image

    from app.engine import multimodal
    from app.engine.multimodal import AttachmentIndex

    model, projector, _mtmd = engine
    monkeypatch.setattr(multimodal, "MAX_EXPANSIONS", 2)
    index = AttachmentIndex()
    pictures = []
    for number in range(4):
        path = tmp_path / f"p{number}.png"
        Image.new("RGB", (64 + 16 * number, 64), (40 * number, 90, 160)).save(path)
        pictures.append(index.identify("image", str(path)))

    def tokenize(attachment):
        return projector.tokenize(
            f"<|turn>user\n{projector.marker}?<turn|>\n",
            [attachment],
            add_bos=True,
            tokenize_text=lambda part: model.tokenize(part, add_bos=False),
        )

    first = tokenize(pictures[0])
    for picture in pictures[1:]:
        tokenize(picture)
    assert len(projector._expansions) <= 2 and pictures[0].media_id not in projector._expansions
    assert tokenize(pictures[0]) == first  # prepared again, the same
