"""Checking files before they become attachments, with real pictures and sounds, and with the
same stb_image decoder the model's side uses (llama.cpp's mtmd library exports it)."""

from __future__ import annotations

import ctypes
import importlib.util
import io
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.media.attachments import MediaCheckError, check_media, kind_of, thumbnail_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: run `packaging/bootstrap.sh test`, which installs it.")


@pytest.fixture(scope="module")
def stb_decode():
    """Decode picture bytes the way the model's side does: an RGB array, or stb_image's reason
    for refusing them."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llama-cpp-python is missing: run `packaging/bootstrap.sh test`.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
    libraries = sorted(folder.glob("*mtmd*"))
    if not libraries:
        pytest.fail(f"llama-cpp-python has no mtmd library in {folder}.")
    stb = ctypes.CDLL(str(libraries[0]))
    stb.stbi_load_from_memory.restype = ctypes.POINTER(ctypes.c_ubyte)
    size = ctypes.POINTER(ctypes.c_int)
    stb.stbi_load_from_memory.argtypes = [ctypes.c_char_p, ctypes.c_int, size, size, size, ctypes.c_int]
    stb.stbi_failure_reason.restype = ctypes.c_char_p
    stb.stbi_image_free.argtypes = [ctypes.c_void_p]

    def decode(data: bytes) -> np.ndarray | str:
        width, height, channels = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        pixels = stb.stbi_load_from_memory(data, len(data), width, height, channels, 3)
        if not pixels:
            return stb.stbi_failure_reason().decode()
        try:
            return np.ctypeslib.as_array(pixels, shape=(height.value, width.value, 3)).copy()
        finally:
            stb.stbi_image_free(pixels)

    return decode


def model_bytes(checked, path: Path) -> bytes:
    """What reaches the model: the converted bytes, or else the file itself."""
    return checked.converted if checked.converted is not None else path.read_bytes()


def halves(size=(120, 80)) -> Image.Image:
    """Red on the left, blue on the right: shows which way up a picture is."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def close_to(pixel, color, tolerance=40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, color, strict=True))


def rle8_bmp(width: int, height: int) -> bytes:
    """A red BMP compressed with RLE8, which Pillow reads and stb_image refuses."""
    palette = bytes([255, 255, 255, 0, 0, 0, 255, 0])  # BGRA: white, red
    rows = (bytes([width, 1]) + b"\x00\x00") * height  # one run of colour 1, then end of line
    pixels = rows[:-2] + b"\x00\x01"  # end of bitmap instead of the last end of line
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 2, 0)
    offset = 14 + len(info) + len(palette)
    header = struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset)
    return header + info + palette + pixels


@pytest.mark.parametrize(
    ("name", "fmt"), [("photo.png", "PNG"), ("photo.jpg", "JPEG"), ("photo.JPEG", "JPEG")]
)
def test_png_and_jpeg_go_to_the_model_unchanged(tmp_path, stb_decode, name, fmt):
    path = tmp_path / name
    halves().save(path, fmt)

    checked = check_media(path)

    assert (checked.kind, checked.converted, checked.source) == ("image", None, path)
    assert checked.suffix == path.suffix.lower()
    assert (checked.width, checked.height, checked.duration_s) == (120, 80, None)
    pixels = stb_decode(path.read_bytes())
    assert pixels.shape == (80, 120, 3)


def test_gif_and_bmp_go_unchanged_but_an_rle_bmp_is_converted(tmp_path, stb_decode):
    for name in ("drawing.gif", "drawing.bmp"):
        halves().save(tmp_path / name)
        assert check_media(tmp_path / name).converted is None
        assert stb_decode((tmp_path / name).read_bytes()).shape == (80, 120, 3)

    rle = tmp_path / "old.bmp"
    rle.write_bytes(rle8_bmp(16, 8))
    assert "RLE" in stb_decode(rle.read_bytes())

    checked = check_media(rle)

    assert checked.converted is not None and checked.converted.startswith(PNG_SIGNATURE)
    assert checked.suffix == ".png"
    pixels = stb_decode(checked.converted)
    assert pixels.shape == (8, 16, 3)
    assert close_to(pixels[4, 8], RED, 0)


def test_webp_is_converted_to_png(tmp_path, stb_decode):
    path = tmp_path / "sticker.webp"
    halves().save(path, "WEBP", lossless=True)
    assert stb_decode(path.read_bytes()) == "unknown image type"

    checked = check_media(path)

    assert checked.converted is not None and checked.converted.startswith(PNG_SIGNATURE)
    assert (checked.suffix, checked.width, checked.height) == (".png", 120, 80)
    pixels = stb_decode(checked.converted)
    assert np.array_equal(pixels, np.asarray(halves()))


def test_a_photo_taken_sideways_is_turned_upright(tmp_path, stb_decode):
    # Phones store the sensor's pixels and an EXIF tag saying how to turn them; 6 means "turn
    # 90° clockwise to view", so the red left half must end up on top.
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    halves().save(path, "JPEG", exif=exif, quality=95)
    assert stb_decode(path.read_bytes()).shape == (80, 120, 3)  # lying on its side as stored

    checked = check_media(path)

    assert checked.converted is not None and checked.converted[:2] == b"\xff\xd8"  # still a JPEG
    assert (checked.suffix, checked.width, checked.height) == (".jpg", 80, 120)
    pixels = stb_decode(checked.converted)
    assert pixels.shape == (120, 80, 3)
    assert close_to(pixels[10, 40], RED)
    assert close_to(pixels[110, 40], BLUE)
    assert Image.open(io.BytesIO(checked.converted)).getexif().get(0x0112, 1) == 1


def test_transparency_is_flattened_onto_white(tmp_path, stb_decode):
    # stb_image drops alpha: the black square on a transparent (black) ground would vanish.
    logo = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    logo.paste((0, 0, 0, 255), (10, 10, 30, 30))
    path = tmp_path / "logo.png"
    logo.save(path)
    assert close_to(stb_decode(path.read_bytes())[2, 2], (0, 0, 0), 0)

    checked = check_media(path)

    assert checked.converted is not None and checked.suffix == ".png"
    pixels = stb_decode(checked.converted)
    assert close_to(pixels[2, 2], WHITE, 0)
    assert close_to(pixels[20, 20], (0, 0, 0), 0)

    opaque = tmp_path / "opaque.png"
    halves().convert("RGBA").save(opaque)
    assert check_media(opaque).converted is None  # an alpha channel that hides nothing is fine


def test_a_picture_with_the_wrong_suffix_is_stored_under_its_real_one(tmp_path):
    path = tmp_path / "screenshot.jpg"
    halves().save(path, "PNG")

    checked = check_media(path)

    assert (checked.converted, checked.suffix) == (None, ".png")


def test_a_text_file_named_png_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("eggs\nmilk\nbread\n", encoding="utf-8")

    with pytest.raises(MediaCheckError, match=r"“notes.png” is not a picture Hearth can read"):
        check_media(path)


def test_a_truncated_picture_is_refused(tmp_path):
    whole = io.BytesIO()
    halves((400, 300)).save(whole, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])

    with pytest.raises(MediaCheckError, match=r"“cut.png” is not a picture Hearth can read"):
        check_media(path)


def test_empty_unknown_missing_and_too_large_files_are_refused(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(MediaCheckError, match=r"“empty.jpg” is empty"):
        check_media(empty)

    unknown = tmp_path / "holiday.jxl"
    unknown.write_bytes(b"\x00" * 64)
    with pytest.raises(MediaCheckError, match=r"“holiday.jxl” cannot be attached: Hearth takes PNG, JPEG"):
        check_media(unknown)

    with pytest.raises(MediaCheckError, match=r"“gone.png” could not be read"):
        check_media(tmp_path / "gone.png")

    big = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(big)
    size = big.stat().st_size // 1024
    with pytest.raises(
        MediaCheckError, match=rf"“big.png” is too large to attach \({size} KB; the limit is 100 KB per"
    ):
        check_media(big, max_bytes=100 * 1024)


def test_kind_of_goes_by_suffix_whatever_its_case():
    assert kind_of(Path("a.PNG")) == kind_of(Path("b.webp")) == "image"
    assert kind_of(Path("c.Wav")) == kind_of(Path("d.flac")) == kind_of(Path("e.mp3")) == "audio"
    assert kind_of(Path("f.txt")) is kind_of(Path("png")) is None


def test_wav_durations_are_exact_for_speech_and_float_files(tmp_path):
    need("espeak-ng")
    need("sox")
    speech = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(speech), "Hello there."], check=True, capture_output=True)
    with wave.open(str(speech)) as reader:
        expected = reader.getnframes() / reader.getframerate()

    checked = check_media(speech)

    assert (checked.kind, checked.converted, checked.suffix) == ("audio", None, ".wav")
    assert checked.duration_s == pytest.approx(expected, abs=1e-9)
    assert checked.width is checked.height is None

    # 32-bit float WAV (format 3), which miniaudio plays and Python's wave module cannot read.
    floats = tmp_path / "floats.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "48000",
            "-c",
            "2",
            "-e",
            "floating-point",
            "-b",
            "32",
            str(floats),
            "synth",
            "1.25",
            "sine",
            "300",
        ],
        check=True,
        capture_output=True,
    )
    assert check_media(floats).duration_s == pytest.approx(1.25, abs=1e-9)


def test_a_wav_without_samples_is_refused(tmp_path):
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)

    with pytest.raises(MediaCheckError, match=r"“silence.wav” holds no sound"):
        check_media(path)


def test_flac_is_taken_with_its_duration(tmp_path):
    need("sox")
    path = tmp_path / "song.flac"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "1", str(path), "synth", "2.5", "sine", "440"], check=True
    )

    checked = check_media(path)

    assert (checked.kind, checked.converted, checked.suffix) == ("audio", None, ".flac")
    assert checked.duration_s == pytest.approx(2.5, abs=1e-9)


def test_mp3_is_recognised_by_its_first_bytes(tmp_path):
    # Debian's sox cannot write MP3, so these are hand-made MPEG-1 Layer III frames (128 kbit/s,
    # 44.1 kHz, 417 bytes each) whose all-zero side information decodes as silence.
    frames = (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 40
    bare = tmp_path / "bare.mp3"
    bare.write_bytes(frames)
    tagged = tmp_path / "tagged.MP3"
    tagged.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + frames)

    for path in (bare, tagged):
        checked = check_media(path)
        assert (checked.kind, checked.converted, checked.suffix, checked.duration_s) == (
            "audio",
            None,
            ".mp3",
            None,
        )

    fake = tmp_path / "fake.mp3"
    fake.write_text("not a song, just words in a file", encoding="utf-8")
    with pytest.raises(MediaCheckError, match=r"“fake.mp3” is not a sound Hearth can read"):
        check_media(fake)


def test_a_wav_named_mp3_is_stored_as_wav(tmp_path):
    path = tmp_path / "voice.mp3"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x01\x00" * 4000)

    checked = check_media(path)

    assert (checked.suffix, checked.duration_s) == (".wav", 0.5)


@pytest.mark.parametrize(
    ("size", "expected"), [((640, 320), (160, 80)), ((90, 300), (48, 160)), ((50, 40), (50, 40))]
)
def test_thumbnails_fit_the_box_and_keep_the_aspect(tmp_path, size, expected):
    path = tmp_path / "picture.jpg"
    halves(size).save(path)

    for source in (path, path.read_bytes()):
        png = thumbnail_png(source)
        assert png.startswith(PNG_SIGNATURE)
        assert Image.open(io.BytesIO(png)).size == expected


def test_thumbnails_are_upright_and_keep_transparency(tmp_path):
    sideways = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    halves((640, 320)).save(sideways, exif=exif)
    upright = Image.open(io.BytesIO(thumbnail_png(sideways, size=100)))
    assert upright.size == (50, 100)
    assert close_to(upright.convert("RGB").getpixel((25, 5)), RED)

    logo = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    buffer = io.BytesIO()
    logo.save(buffer, "PNG")
    small = Image.open(io.BytesIO(thumbnail_png(buffer.getvalue())))
    assert small.mode == "RGBA" and small.getchannel("A").getpixel((0, 0)) == 0


def test_a_thumbnail_of_something_else_says_what_went_wrong(tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture", encoding="utf-8")

    with pytest.raises(MediaCheckError, match=r"“notes.png” could not be read as a picture"):
        thumbnail_png(notes)
    with pytest.raises(MediaCheckError, match=r"The picture could not be read as a picture"):
        thumbnail_png(b"not a picture either")


@pytest.mark.parametrize(("suffix", "fmt"), [(".heic", "HEIF"), (".avif", "AVIF"), (".tiff", "TIFF")])
def test_phone_and_scanner_formats_become_pictures_the_model_reads(tmp_path, stb_decode, suffix, fmt):
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    path = tmp_path / f"photo{suffix}"
    halves((320, 200)).save(path, fmt)
    checked = check_media(path)
    assert checked.converted is not None and checked.suffix == (".png" if fmt == "TIFF" else ".jpg")
    pixels = stb_decode(checked.converted)
    assert pixels.shape == (200, 320, 3)
    assert pixels[100, 40, 0] > 200 and pixels[100, 280, 2] > 200  # red left, blue right


def test_a_multi_page_tiff_sends_its_first_page_and_says_so(tmp_path, stb_decode):
    path = tmp_path / "scan.tiff"
    first, second = halves((200, 100)), Image.new("RGB", (200, 100), WHITE)
    first.save(path, "TIFF", save_all=True, append_images=[second, second])
    checked = check_media(path)
    assert checked.note == "Only the first of its 3 frames is sent."
    assert stb_decode(checked.converted)[50, 20, 0] > 200


def test_a_24_megapixel_photo_is_stored_small_enough_for_the_model(tmp_path, stb_decode):
    from app.media.attachments import MAX_STORED_PIXELS

    path = tmp_path / "camera.jpg"
    halves((6000, 4000)).save(path, "JPEG", quality=90)
    checked = check_media(path)
    assert checked.original_size == (6000, 4000) and checked.suffix == ".jpg"
    assert checked.width * checked.height <= MAX_STORED_PIXELS
    assert abs(checked.width / checked.height - 1.5) < 0.01
    pixels = stb_decode(checked.converted)
    assert pixels.shape == (checked.height, checked.width, 3) and pixels[10, 10, 0] > 200


def test_a_picture_with_too_many_pixels_to_decode_is_refused_before_it_is(tmp_path):
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # A 9000 × 9000 PNG header over a few bytes of data: decoding it would take 243 MB.
    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    data = (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    path = tmp_path / "poster.png"
    path.write_bytes(data)
    with pytest.raises(MediaCheckError, match=r"“poster.png” has too many pixels to attach \(81 million"):
        check_media(path)


def encoded_tone(path: Path, container: str, codec: str, seconds: float = 1.0, rate: int = 48_000) -> Path:
    """A 440 Hz stereo tone encoded by FFmpeg (PyAV) as a phone or browser would save it (Vorbis,
    whose FFmpeg encoder is experimental, by SoX)."""
    import av

    if codec == "vorbis":
        need("sox")
        synth = ["synth", str(seconds), "sine", "440", "vol", "0.3"]
        subprocess.run(["sox", "-n", "-r", str(rate), "-c", "2", str(path), *synth], check=True)
        return path

    samples = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 0.3).astype(np.float32)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        block = 960 if codec == "libopus" else 1024
        for start in range(0, len(samples), block):
            part = samples[start : start + block]
            frame = av.AudioFrame.from_ndarray(
                np.stack([part, part]).reshape(1, -1), format="flt", layout="stereo"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("name", "container", "codec"),
    [
        ("voice.ogg", "ogg", "vorbis"),
        ("voice.opus", "ogg", "libopus"),
        ("memo.m4a", "ipod", "aac"),
        ("clip.webm", "webm", "libopus"),
    ],
)
def test_phone_and_browser_sounds_become_wav_the_model_hears(tmp_path, name, container, codec):
    checked = check_media(encoded_tone(tmp_path / name, container, codec))
    assert checked.kind == "audio" and checked.suffix == ".wav" and checked.converted is not None
    assert checked.duration_s == pytest.approx(1.0, abs=0.1)
    with wave.open(io.BytesIO(checked.converted)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert np.abs(samples[4000:12000]).max() > 3000  # the tone, not silence


def test_a_sound_file_that_is_broken_or_silent_about_its_audio_is_refused(tmp_path):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + bytes(400))
    with pytest.raises(MediaCheckError, match=r"“broken.ogg” is not a sound Hearth can read"):
        check_media(broken)
