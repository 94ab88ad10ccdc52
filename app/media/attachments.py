"""Check a picture or sound file before it becomes an attachment, and make its thumbnail.

The engine decodes attachments with llama.cpp's mtmd helper: stb_image for pictures (PNG, JPEG,
GIF, BMP without RLE; not WebP) and miniaudio for sounds (WAV, MP3, FLAC), told apart by their
first bytes. A picture or sound it would misread or refuse (WebP, TIFF, AVIF and HEIC pictures;
OGG, Opus, M4A and WebM sounds) comes back with ``converted`` bytes to store instead. Everything
here reads and decodes whole files: call it off the UI thread.
"""

from __future__ import annotations

import io
import math
import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.gemma4 import MAX_IMAGE_TOKENS, SQUARE

IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".avif",
    ".heic",
    ".heif",
)
_HEIF_SUFFIXES = (".heic", ".heif")
# Gemma 4 reads a picture at up to 1,120 tokens of 48 × 48 pixels each (16-pixel patches pooled
# 3 × 3): anything larger is scaled down by the engine anyway. A picture is stored at up to a
# quarter more than that, so the engine never decodes a 24 MP photo, and the original is kept
# beside it for viewing.
MAX_STORED_PIXELS = int(MAX_IMAGE_TOKENS * SQUARE * SQUARE * 1.25)
THUMBNAIL_SIZE = 160  # pixels, the longer side
# Formats other than JPEG are decoded whole before they can be scaled: this bounds that memory.
MAX_DECODED_PIXELS = 64_000_000
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".weba")
# Sounds the engine's decoder (miniaudio) cannot read are converted to WAV at intake by FFmpeg
# (PyAV): mono, 16-bit, at the 16 kHz Gemma 4 hears at, so a long clip stays small.
CONVERTED_RATE = 16_000
MAX_CONVERTED_SECONDS = 30 * 60

# MPO is how Pillow reports the JPEG files of many phone cameras (a JPEG followed by more
# pictures); stb_image reads the first one like any JPEG.
_STORE_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "GIF": ".gif", "BMP": ".bmp"}
# What Image.open may identify a file as: a text file can pass for one of Pillow's rarer formats
# (XBM, XPM...), and a picture in any other format would be refused by its suffix anyway.
_OPEN_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "AVIF", "HEIF")
_CONVERTED_FORMATS = ("WEBP", "TIFF", "AVIF", "HEIF")  # the engine's stb_image cannot read these
_PHOTO_FORMATS = ("JPEG", "MPO", "HEIF", "AVIF")  # stored as JPEG when converted
_SUFFIX_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".bmp": "BMP"}
_BMP_RLE = (1, 2)  # BMP compression values stb_image refuses (RLE8, RLE4)
_ORIENTATION_TAG = 0x0112
_JPEG_QUALITY = 95

# WAV format tags miniaudio decodes, and whether a frame has a fixed size (ADPCM's does not).
_WAV_FORMATS = {1: True, 3: True, 6: True, 7: True, 2: False, 0x11: False}
_WAV_EXTENSIBLE = 0xFFFE


class MediaCheckError(ValueError):
    """A file that cannot become an attachment, in words for the user."""


@dataclass(frozen=True)
class PicturePreview:
    thumbnail: bytes  # PNG
    width: int
    height: int
    auto_detail: int  # the visual tokens "Automatic" gives it (app.media.picture_detail)


@dataclass(frozen=True)
class CheckedMedia:
    """A file that can be attached, and how to store it."""

    kind: str  # "image" or "audio"
    source: Path
    converted: bytes | None  # bytes to store instead of the file, when the model cannot take it as is
    suffix: str  # the suffix to store it under, matching its real format
    width: int | None
    height: int | None
    duration_s: float | None  # exact for WAV and FLAC; None when unknown (MP3)
    original_size: tuple[int, int] | None = None  # a picture scaled down to be stored: its own size
    note: str = ""  # what the user should know (only the first of several frames is sent)
    preview: PicturePreview | None = None  # a converted picture's, made while it was at hand


def kind_of(path: Path) -> str | None:
    """``"image"`` or ``"audio"`` by the file's suffix, or None for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return None


def check_media(path: Path, max_bytes: int = 100 * 1024**2) -> CheckedMedia:
    """Check that ``path`` is a picture or sound the model can take; raise ``MediaCheckError``
    saying why not. Pictures are decoded in full, so this takes a moment for large photos."""
    path = Path(path)
    name = path.name
    kind = kind_of(path)
    if kind is None:
        raise MediaCheckError(
            f"“{name}” cannot be attached: Hearth takes PNG, JPEG, WebP, GIF, BMP, TIFF, AVIF and "
            "HEIC pictures and WAV, MP3, FLAC, OGG, Opus, M4A and WebM sounds."
        )
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise MediaCheckError(f"“{name}” could not be read ({exc.strerror or exc}).") from None
    if not data:
        raise MediaCheckError(f"“{name}” is empty.")
    if len(data) > max_bytes:
        raise MediaCheckError(
            f"“{name}” is too large to attach ({_size(max(size, len(data)))}; "
            f"the limit is {_size(max_bytes)} per file)."
        )
    if kind == "image":
        return _check_image(path, data)
    return _check_audio(path, data)


def _size(count: int) -> str:
    if count >= 1024**2:
        return f"{count / 1024**2:.0f} MB"
    return f"{count / 1024:.0f} KB" if count >= 1024 else f"{count} bytes"


def thumbnail_png(path_or_bytes: Path | bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """A PNG thumbnail that fits in ``size`` × ``size`` pixels, upright, keeping the aspect."""
    return _preview(path_or_bytes, size, judge=False).thumbnail


def picture_preview(path_or_bytes: Path | bytes, size: int = THUMBNAIL_SIZE) -> PicturePreview:
    """A thumbnail (as ``thumbnail_png``), and the detail "Automatic" gives the picture, from one
    decoding of it."""
    return _preview(path_or_bytes, size, judge=True)


def _preview(path_or_bytes: Path | bytes, size: int, judge: bool) -> PicturePreview:
    from PIL import Image

    from app.media.picture_detail import LOOK_SIZE

    if isinstance(path_or_bytes, bytes):
        data, what = path_or_bytes, "The picture"
    else:
        what = f"“{Path(path_or_bytes).name}”"
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as exc:
            raise MediaCheckError(f"{what} could not be read ({exc.strerror or exc}).") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            full_size = image.size
            if judge:
                # A JPEG is decoded at a fraction of its size: far faster than the whole photo.
                image.draft("RGB", (LOOK_SIZE, LOOK_SIZE))
            return _preview_of(image, size, judge, full_size)
    except Exception:  # any decoder error means the same to the user (see _check_image)
        raise MediaCheckError(f"{what} could not be read as a picture.") from None


def _preview_of(image: Any, size: int, judge: bool, full_size: tuple[int, int]) -> PicturePreview:
    """The preview of a picture already open; ``image`` is made small in the making."""
    from PIL import ImageOps

    from app.media.picture_detail import detail_for, look_of

    detail = detail_for(look_of(image), *full_size) if judge else 0
    image.thumbnail((size, size))
    small = ImageOps.exif_transpose(image)
    if small.mode not in ("RGB", "RGBA", "L", "LA"):
        small = _to_8bit(small).convert("RGBA" if _has_alpha_channel(small) else "RGB")
    out = io.BytesIO()
    small.save(out, "PNG")
    return PicturePreview(out.getvalue(), *full_size, detail)


def _register_heif() -> None:
    """HEIC and HEIF (most phone photos) through pillow-heif, loaded only when one is attached."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def _check_image(path: Path, data: bytes) -> CheckedMedia:
    from PIL import Image, ImageOps

    name = path.name
    unreadable = f"“{name}” is not a picture Hearth can read: it is damaged or not really a picture."
    if path.suffix.lower() in _HEIF_SUFFIXES or data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        _register_heif()
    note = ""
    original_size: tuple[int, int] | None = None
    try:
        with Image.open(io.BytesIO(data), formats=_OPEN_FORMATS) as probe:
            probe.verify()  # checksums and structure, which load() alone does not check for PNG
        image: Image.Image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1 and image.format != "GIF":  # the engine reads a GIF's first frame itself
            note = f"Only the first of its {frames} frames is sent."
        width, height = image.size
        if width * height > MAX_STORED_PIXELS:
            original_size = (width, height)
            scale = (MAX_STORED_PIXELS / (width * height)) ** 0.5
            if image.format in ("JPEG", "MPO"):
                # Decoded at a half, quarter or eighth of its size: a 24 MP photo never is whole.
                image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            elif width * height > MAX_DECODED_PIXELS:
                raise MediaCheckError(
                    f"“{name}” has too many pixels to attach ({width * height / 1e6:.0f} million; "
                    f"Hearth takes up to {MAX_DECODED_PIXELS // 1_000_000} million, or any size of JPEG)."
                )
        image.load()
    except MediaCheckError:
        raise
    except Image.DecompressionBombError:
        raise MediaCheckError(f"“{name}” has too many pixels to attach.") from None
    except Exception:
        # Decoders report broken files with nearly any exception type (SyntaxError, struct.error,
        # IndexError...); none of them is a bug here, so all mean "unreadable".
        raise MediaCheckError(unreadable) from None

    fmt = image.format or ""
    reasons = []
    if fmt in _CONVERTED_FORMATS or (fmt == "BMP" and image.info.get("compression") in _BMP_RLE):
        reasons.append("format")
    if note:
        reasons.append("frames")
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    turned_sideways = orientation in (5, 6, 7, 8)
    if orientation in range(2, 9):
        # stb_image ignores EXIF, so the model would see a phone photo lying on its side.
        image = ImageOps.exif_transpose(image)
        reasons.append("orientation")
    if _has_transparency(image):
        # stb_image drops the alpha channel and shows whatever colour hides under transparent
        # pixels, often black: black text on a transparent background would vanish.
        image = _flatten(image)
        reasons.append("transparency")
    if original_size is not None:
        reasons.append("size")
        width, height = image.size  # as decoded (a JPEG at a fraction already), and upright
        scale = min(1.0, (MAX_STORED_PIXELS / (width * height)) ** 0.5)
        factor = math.ceil(1 / scale)
        if scale < 1.0 and width * height / factor**2 >= MAX_IMAGE_TOKENS * SQUARE * SQUARE:
            # Averaging whole blocks of pixels is several times faster than resampling, and
            # still leaves the most the engine can use.
            image = image.reduce(factor)
        elif scale < 1.0:
            target = (max(1, int(width * scale)), max(1, int(height * scale)))
            image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
        if turned_sideways:
            original_size = (original_size[1], original_size[0])
    if not reasons:
        # A picture named after another format (a PNG saved as .jpg) is stored under its real one.
        suffix = path.suffix.lower()
        if _SUFFIX_FORMAT.get(suffix) != ("JPEG" if fmt == "MPO" else fmt):
            suffix = _STORE_SUFFIX[fmt]
        return CheckedMedia("image", path, None, suffix, image.width, image.height, None)

    image = _to_8bit(image)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    if fmt in _PHOTO_FORMATS and "transparency" not in reasons:
        # A rotated photo stays a JPEG: as PNG it would be several times larger.
        image.save(out, "JPEG", quality=_JPEG_QUALITY)
        suffix = ".jpg"
    else:
        # The lightest compression: several times faster to write than the default, for a file
        # a little larger (it is a copy for the model; an original scaled down is kept whole).
        image.save(out, "PNG", compress_level=1)
        suffix = ".png"
    stored_size = image.size
    # Previewed from the picture in hand: decoding the stored copy again would cost as much.
    preview = _preview_of(image, THUMBNAIL_SIZE, True, stored_size)
    return CheckedMedia(
        "image", path, out.getvalue(), suffix, *stored_size, None, original_size, note, preview
    )


def _has_alpha_channel(image: Any) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _has_transparency(image: Any) -> bool:
    """Whether any pixel is at least partly transparent (many PNGs carry a fully opaque alpha)."""
    if not _has_alpha_channel(image):
        return False
    alpha = image.convert("RGBA").getchannel("A")
    return bool(alpha.getextrema()[0] < 255)


def _flatten(image: Any) -> Any:
    """The picture over a white background, as most viewers show it."""
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_8bit(image: Any) -> Any:
    # Pillow clips 16-bit greyscale to 255 when converting to 8 bits instead of scaling it.
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image


def _check_audio(path: Path, data: bytes) -> CheckedMedia:
    name = path.name
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return CheckedMedia("audio", path, None, ".wav", None, None, _wav_duration(name, data))
    if data[:4] == b"fLaC":
        return CheckedMedia("audio", path, None, ".flac", None, None, _flac_duration(name, data))
    if len(data) >= 12 and (
        data[:3] == b"ID3" or (data[0] == 0xFF and (data[1] & 0xE0) == 0xE0 and data[1] & 0x06)
    ):
        return CheckedMedia("audio", path, None, ".mp3", None, None, None)
    if _container_sound(data):
        wav, seconds = _convert_sound(name, data)
        return CheckedMedia("audio", path, wav, ".wav", None, None, seconds)
    # The same first-bytes test the engine uses: anything else it would try as a picture.
    raise MediaCheckError(
        f"“{name}” is not a sound Hearth can read: it is damaged or not really a WAV, MP3, FLAC, "
        "OGG, Opus, M4A or WebM file."
    )


def _container_sound(data: bytes) -> bool:
    """OGG (Vorbis, Opus), MP4 (M4A, AAC), Matroska (WebM) or raw AAC (ADTS), by first bytes."""
    return (
        data[:4] == b"OggS"
        or data[4:8] == b"ftyp"
        or data[:4] == b"\x1a\x45\xdf\xa3"
        or (len(data) > 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0)
    )


def _pcm(frame: Any) -> bytes:
    """A mono 16-bit frame's samples (its buffer may be padded past them)."""
    return bytes(frame.planes[0])[: frame.samples * 2]


def _convert_sound(name: str, data: bytes) -> tuple[bytes, float]:
    """The first audio stream of ``data`` as a mono 16-bit WAV at ``CONVERTED_RATE``."""
    import av

    unreadable = MediaCheckError(f"“{name}” is not a sound Hearth can read: it is damaged or holds no audio.")
    chunks = []
    samples = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise unreadable
            resampler = av.AudioResampler(format="s16", layout="mono", rate=CONVERTED_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for converted in resampler.resample(frame):
                    chunks.append(_pcm(converted))
                    samples += converted.samples
                if samples > MAX_CONVERTED_SECONDS * CONVERTED_RATE:
                    raise MediaCheckError(
                        f"“{name}” is longer than {MAX_CONVERTED_SECONDS // 60} minutes, more than "
                        "any model's context holds: cut it to the part that matters."
                    )
            for converted in resampler.resample(None):
                chunks.append(_pcm(converted))
                samples += converted.samples
    except MediaCheckError:
        raise
    except Exception:  # FFmpeg's errors for broken input come in many types
        raise unreadable from None
    if not samples:
        raise MediaCheckError(f"“{name}” holds no sound.")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(CONVERTED_RATE)
        wav.writeframes(b"".join(chunks))
    return out.getvalue(), samples / CONVERTED_RATE


def _wav_duration(name: str, data: bytes) -> float | None:
    """The length of a WAV file, from its ``fmt `` and ``data`` chunks."""
    damaged = MediaCheckError(f"“{name}” is a damaged WAV file.")
    fmt: tuple[int, int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise damaged
            tag, channels, rate, _, block_align = struct.unpack_from("<HHIIH", data, body)
            if tag == _WAV_EXTENSIBLE and size >= 40 and body + 26 <= len(data):
                (tag,) = struct.unpack_from("<H", data, body + 24)  # the sub-format GUID's first field
            fmt = (tag, channels, rate, block_align)
        elif chunk_id == b"data":
            if fmt is None:
                raise damaged
            tag, channels, rate, block_align = fmt
            if tag not in _WAV_FORMATS:
                raise MediaCheckError(
                    f"“{name}” uses a WAV encoding Hearth cannot play (format {tag:#x}); "
                    "save it as ordinary PCM WAV, MP3 or FLAC."
                )
            if channels == 0 or rate == 0 or block_align == 0:
                raise damaged
            # Streamed WAVs leave the size unset (0 or 0xFFFFFFFF): the data runs to the end.
            available = len(data) - body
            frames = (available if size in (0, 0xFFFFFFFF) else min(size, available)) // block_align
            if frames == 0:
                raise MediaCheckError(f"“{name}” holds no sound.")
            return frames / rate if _WAV_FORMATS[tag] else None
        offset = body + size + (size & 1)  # chunks are padded to an even size
    raise damaged


def _flac_duration(name: str, data: bytes) -> float | None:
    """The length of a FLAC file, from its STREAMINFO block (always the first one)."""
    if len(data) < 8 + 34 or data[4] & 0x7F != 0:
        raise MediaCheckError(f"“{name}” is a damaged FLAC file.")
    # Bytes 10..17 of STREAMINFO: sample rate (20 bits), channels (3), bits (5), samples (36).
    (packed,) = struct.unpack_from(">Q", data, 8 + 10)
    rate = packed >> 44
    samples = packed & ((1 << 36) - 1)
    if rate == 0:
        raise MediaCheckError(f"“{name}” is a damaged FLAC file.")
    return samples / rate if samples else None
