"""Images and audio through llama.cpp's mtmd: the projector, media decoding, tokenization into
text and media chunks, and evaluation that never encodes the same content twice."""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.gemma4 import MAX_IMAGE_TOKENS, SQUARE, grid
from app.engine.native_model import DecodeAborted
from app.engine.prompt_cache import MediaSegment, Segment, TextSegment

MAX_EXPANSIONS = 32  # preprocessed media kept per session (a few MB each), beyond those in use
MAX_EMBEDDING_BYTES = 512 * 1024**2  # a 1,120-token picture on the 31B model takes ~24 MB


class MediaError(ValueError):
    """An attachment the model cannot take, in words for the user."""


@dataclass(frozen=True)
class Attachment:
    """An image or sound on disk, known by the hash of its content."""

    kind: str  # "image" or "audio"
    path: str
    encoding: str  # "file" (PNG, JPEG, WAV, MP3, FLAC...) or "pcm" (raw mono float32 samples)
    media_id: str  # sha256 of the content, and the detail a picture is read at
    detail: int = 0  # a picture's visual tokens; 0: as many as its size gives, within Gemma 4's range

    def read(self) -> bytes:
        try:
            return Path(self.path).read_bytes()
        except OSError as exc:
            raise MediaError(
                f"The {self.kind} “{Path(self.path).name}” could not be read ({exc.strerror})."
            ) from None


class AttachmentIndex:
    """Hashes each attachment file once: a conversation sends all its attachments on every turn,
    and re-reading a dozen photos per question would grow the wait before every answer."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str, int, int], Attachment] = {}

    def identify(self, kind: str, path: str, encoding: str = "file", detail: int = 0) -> Attachment:
        if kind not in ("image", "audio") or encoding not in ("file", "pcm"):
            raise MediaError(f"Unsupported attachment: {kind} ({encoding}).")
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise MediaError(f"The {kind} “{Path(path).name}” could not be read ({exc.strerror}).") from None
        key = (kind, path, encoding, stat.st_size, stat.st_mtime_ns)
        known = self._known.get(key)
        if known is None:
            unhashed = Attachment(kind, path, encoding, "")
            known = Attachment(kind, path, encoding, hashlib.sha256(unhashed.read()).hexdigest())
            self._known[key] = known
        if kind != "image" or detail <= 0:
            return known
        detail = min(detail, MAX_IMAGE_TOKENS)  # more squares than Gemma 4 reads would be refused
        # Read at another detail, a picture is another medium: other embeddings, other positions.
        return dataclasses.replace(known, media_id=f"{known.media_id}@{detail}", detail=detail)


@dataclass
class _Expansion:
    """What one medium becomes in a prompt: its media chunks and the text tokens mtmd puts around
    them (``<|image>`` ... ``<image|>`` for Gemma 4), tokenized once."""

    chunks: Any  # the mtmd_input_chunks that own this medium's chunks
    segments: list[Segment]
    chunk_of: dict[str, Any]  # media segment id -> its chunk in ``chunks``


class Projector:
    """An mmproj file paired with its model. It reads pictures at Gemma 4's whole range of detail
    (70 to 1,120 tokens): a picture's own detail is the size it is scaled to (``_picture_at``)."""

    def __init__(
        self, mtmd: Any, llama_lib: Any, path: str, model: Any, threads: int, use_gpu: bool = False
    ) -> None:
        self._mtmd, self._lib = mtmd, llama_lib
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.print_timings = False
        params.n_threads = threads
        params.warmup = False
        self.ctx = mtmd.mtmd_init_from_file(path.encode("utf-8"), model, params)
        if not self.ctx:
            raise MediaError(f"The projector “{Path(path).name}” does not fit this model.")
        self.path = path
        self.vision = bool(mtmd.mtmd_support_vision(self.ctx))
        self.audio = bool(mtmd.mtmd_support_audio(self.ctx))
        self.sample_rate = int(mtmd.mtmd_get_audio_sample_rate(self.ctx)) if self.audio else 0
        self.marker = mtmd.mtmd_default_marker().decode("utf-8")
        self._n_embd = int(llama_lib.llama_model_n_embd_inp(model))
        vocab = llama_lib.llama_model_get_vocab(model)
        self._bos = (
            int(llama_lib.llama_vocab_bos(vocab)) if llama_lib.llama_vocab_get_add_bos(vocab) else None
        )
        self._eos = (
            int(llama_lib.llama_vocab_eos(vocab)) if llama_lib.llama_vocab_get_add_eos(vocab) else None
        )
        self._expansions: collections.OrderedDict[str, _Expansion] = collections.OrderedDict()
        self._embeddings: dict[str, tuple[Any, int]] = {}
        self.encodes = 0  # how many media chunks went through the encoder (for benchmarks)

    # --- media -----------------------------------------------------------------------------

    def _bitmap(self, attachment: Attachment) -> Any:
        if attachment.kind == "image" and not self.vision:
            raise MediaError("This model cannot see images.")
        if attachment.kind == "audio" and not self.audio:
            raise MediaError("This model cannot hear: its projector has no audio encoder.")
        mtmd, data = self._mtmd, attachment.read()
        if attachment.encoding == "pcm":
            samples = (ctypes.c_float * (len(data) // 4)).from_buffer_copy(data)
            bitmap = mtmd.mtmd_bitmap_init_from_audio(len(samples), samples)
        elif attachment.detail:
            bitmap = self._picture_at(data, attachment.detail)
        else:
            buffer = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
            bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self.ctx, buffer, len(data), False)
        if not bitmap:
            kind = "picture" if attachment.kind == "image" else "sound file"
            raise MediaError(f"This {kind} could not be decoded; the format may not be supported.")
        mtmd.mtmd_bitmap_set_id(bitmap, attachment.media_id.encode("ascii"))
        return bitmap

    def _picture_at(self, data: bytes, detail: int) -> Any:
        """A picture scaled to the grid of ``detail`` squares (``core.gemma4.grid``): mtmd,
        whose range is 70 to 1,120 tokens, then reads it at exactly that size."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                columns, rows = grid(image.width, image.height, detail)
                size = (columns * SQUARE, rows * SQUARE)
                image.draft("RGB", size)  # a large JPEG is decoded at a fraction of its size
                pixels = image.convert("RGB").resize(size, Image.Resampling.BICUBIC).tobytes()
        except Exception:  # decoders fail with any exception type on a damaged file
            return None
        buffer = (ctypes.c_ubyte * len(pixels)).from_buffer_copy(pixels)
        return self._mtmd.mtmd_bitmap_init(size[0], size[1], buffer)

    def _expand(self, attachment: Attachment) -> _Expansion:
        """Decode and preprocess a medium once per session (mtmd does both while tokenizing)."""
        known = self._expansions.get(attachment.media_id)
        if known is not None:
            self._expansions.move_to_end(attachment.media_id)
            return known
        mtmd = self._mtmd
        bitmap = self._bitmap(attachment)
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            marker = self.marker.encode("utf-8")
            prompt = mtmd.mtmd_input_text(
                text=marker, text_len=len(marker), add_special=False, parse_special=True
            )
            array = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
            if mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(prompt), array, 1) != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise MediaError(f"The {attachment.kind} could not be prepared for the model.")
        finally:
            mtmd.mtmd_bitmap_free(bitmap)
        expansion = _Expansion(chunks, [], {})
        for index in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, index)
            kind = mtmd.mtmd_input_chunk_get_type(chunk)
            if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                tokens = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                expansion.segments.append(TextSegment(tuple(tokens[i] for i in range(count.value))))
                continue
            # Long audio becomes several 30-second chunks of one medium: number them, or the
            # second chunk would be served the first one's embeddings.
            segment = MediaSegment(
                media_id=f"{attachment.media_id}#{len(expansion.chunk_of)}",
                n_pos=int(mtmd.mtmd_input_chunk_get_n_pos(chunk)),
                n_tokens=int(mtmd.mtmd_input_chunk_get_n_tokens(chunk)),
                kind="audio" if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_AUDIO else "image",
            )
            expansion.segments.append(segment)
            expansion.chunk_of[segment.media_id] = chunk
        self._expansions[attachment.media_id] = expansion
        return expansion

    def tokenize(
        self,
        text: str,
        attachments: list[Attachment],
        add_bos: bool,
        tokenize_text: Callable[[str], list[int]],
    ) -> list[Segment]:
        """Split the prompt into text and media segments (the text holds one marker per medium).

        The same result as ``mtmd_tokenize`` on the whole prompt, which tokenizes the text
        between markers piece by piece, but each medium is decoded and preprocessed only once
        per session rather than on every turn (that costs ~0.1 s per photo)."""
        parts = text.split(self.marker)
        if len(parts) - 1 != len(attachments):
            raise MediaError("The attachments do not match the message (a marker is missing or extra).")
        segments: list[Segment] = []
        pending: list[int] = []

        def flush() -> None:
            if pending:
                segments.append(TextSegment(tuple(pending)))
                pending.clear()

        for index, part in enumerate(parts):
            if part:
                pending.extend(tokenize_text(part))
            if index < len(attachments):
                for segment in self._expand(attachments[index]).segments:
                    if isinstance(segment, TextSegment):
                        pending.extend(segment.tokens)
                    else:
                        flush()
                        segments.append(segment)
        if add_bos and self._eos is not None:
            pending.append(self._eos)
        flush()
        if add_bos and self._bos is not None:
            first = segments[0] if segments else None
            if isinstance(first, TextSegment):
                segments[0] = TextSegment((self._bos, *first.tokens))
            else:
                segments.insert(0, TextSegment((self._bos,)))
        self._forget_unused({a.media_id for a in attachments})
        return segments

    def _forget_unused(self, in_use: set[str]) -> None:
        """Keep the preprocessed media and embeddings of a long session within bounds (the oldest
        unused first; one that comes back is prepared again)."""
        for media_id in list(self._expansions):
            too_many = len(self._expansions) > MAX_EXPANSIONS
            if not too_many and self._embedding_bytes() <= MAX_EMBEDDING_BYTES:
                break
            if media_id not in in_use:
                expansion = self._expansions.pop(media_id)
                for segment_id in expansion.chunk_of:
                    self._embeddings.pop(segment_id, None)
                self._mtmd.mtmd_input_chunks_free(expansion.chunks)

    def _embedding_bytes(self) -> int:
        return sum(size for _embeddings, size in self._embeddings.values()) * ctypes.sizeof(ctypes.c_float)

    def _chunk(self, segment: MediaSegment) -> Any:
        expansion = self._expansions.get(segment.media_id.rsplit("#", 1)[0])
        if expansion is None or segment.media_id not in expansion.chunk_of:
            raise MediaError(f"The {segment.kind} is no longer prepared; send the message again.")
        return expansion.chunk_of[segment.media_id]

    def evaluate(self, lctx: Any, segment: MediaSegment, n_past: int, n_batch: int) -> int:
        """Put a media chunk into the KV cache at ``n_past``, encoding it only the first time."""
        mtmd = self._mtmd
        chunk = self._chunk(segment)
        cached = self._embeddings.get(segment.media_id)
        if cached is None:
            if mtmd.mtmd_encode_chunk(self.ctx, chunk) != 0:
                raise MediaError(f"The {segment.kind} could not be encoded.")
            self.encodes += 1
            size = segment.n_tokens * self._n_embd
            output = mtmd.mtmd_get_output_embd(self.ctx)
            embeddings = (ctypes.c_float * size)()
            ctypes.memmove(embeddings, output, size * ctypes.sizeof(ctypes.c_float))
            cached = self._embeddings[segment.media_id] = (embeddings, size)
        new_n_past = self._lib.llama_pos(0)
        status = mtmd.mtmd_helper_decode_image_chunk(
            self.ctx,
            lctx,
            chunk,
            cached[0],
            n_past,
            0,
            n_batch,
            ctypes.byref(new_n_past),
            mtmd.mtmd_helper_post_decode_callback(),
            None,  # a NULL callback
        )
        if status == 2:  # llama_decode's "aborted": the user pressed Stop
            raise DecodeAborted()
        if status != 0:
            raise MediaError(f"The {segment.kind} could not be read by the model ({status}).")
        return int(new_n_past.value)

    def close(self) -> None:
        for expansion in self._expansions.values():
            self._mtmd.mtmd_input_chunks_free(expansion.chunks)
        self._expansions.clear()
        self._embeddings.clear()
        if self.ctx:
            self._mtmd.mtmd_free(self.ctx)
            self.ctx = None
