"""Images and audio through llama.cpp's mtmd: the projector, media decoding, tokenization into
text and media chunks, and evaluation that never encodes the same content twice."""

from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.prompt_cache import MediaSegment, Segment, TextSegment

IMAGE_BUDGETS = (70, 140, 280, 560, 1120)  # Gemma 4's visual token budgets; 0 means "auto"
MAX_IMAGE_TOKENS = max(IMAGE_BUDGETS)


class MediaError(ValueError):
    """An attachment the model cannot take, in words for the user."""


@dataclass(frozen=True)
class Media:
    kind: str  # "image" or "audio"
    data: bytes  # an encoded file (PNG, JPEG, WAV, MP3, FLAC...) or raw float32 PCM ("pcm")
    encoding: str = "file"  # "file" or "pcm"

    @property
    def media_id(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def from_path(cls, kind: str, path: str, encoding: str = "file") -> Media:
        """Read an attachment: an encoded file, or (``encoding="pcm"``) raw mono float32 samples
        at the projector's sample rate, as the microphone records them."""
        if kind not in ("image", "audio") or encoding not in ("file", "pcm"):
            raise MediaError(f"Unsupported attachment: {kind} ({encoding}).")
        try:
            return cls(kind, Path(path).read_bytes(), encoding)
        except OSError as exc:
            raise MediaError(f"The {kind} “{Path(path).name}” could not be read ({exc.strerror}).") from None


class Projector:
    """An mmproj file paired with its model, for one visual token budget."""

    def __init__(
        self, mtmd: Any, llama_lib: Any, path: str, model: Any, threads: int, image_budget: int
    ) -> None:
        self._mtmd, self._lib = mtmd, llama_lib
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = threads
        params.warmup = False
        if image_budget:
            params.image_min_tokens = image_budget
            params.image_max_tokens = image_budget
        self.ctx = mtmd.mtmd_init_from_file(path.encode("utf-8"), model, params)
        if not self.ctx:
            raise MediaError(f"The projector “{Path(path).name}” does not fit this model.")
        self.image_budget = image_budget
        self.path = path
        self.vision = bool(mtmd.mtmd_support_vision(self.ctx))
        self.audio = bool(mtmd.mtmd_support_audio(self.ctx))
        self.sample_rate = int(mtmd.mtmd_get_audio_sample_rate(self.ctx)) if self.audio else 0
        self.marker = mtmd.mtmd_default_marker().decode("utf-8")
        self._n_embd = int(llama_lib.llama_model_n_embd_inp(model))
        self._bitmaps: dict[str, Any] = {}
        self._embeddings: dict[str, tuple[Any, int]] = {}
        self.encodes = 0  # how many media chunks went through the encoder (for benchmarks)

    # --- media -----------------------------------------------------------------------------

    def bitmap(self, media: Media) -> Any:
        """Decode an attachment once per session; the bitmap is named by its content hash."""
        media_id = media.media_id
        cached = self._bitmaps.get(media_id)
        if cached is not None:
            return cached
        if media.kind == "image" and not self.vision:
            raise MediaError("This model cannot see images.")
        if media.kind == "audio" and not self.audio:
            raise MediaError("This model cannot hear: its projector has no audio encoder.")
        mtmd = self._mtmd
        if media.encoding == "pcm":
            samples = (ctypes.c_float * (len(media.data) // 4)).from_buffer_copy(media.data)
            bitmap = mtmd.mtmd_bitmap_init_from_audio(len(samples), samples)
        else:
            buffer = (ctypes.c_ubyte * len(media.data)).from_buffer_copy(media.data)
            bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self.ctx, buffer, len(media.data), False)
        if not bitmap:
            kind = "picture" if media.kind == "image" else "sound file"
            raise MediaError(f"This {kind} could not be decoded; the format may not be supported.")
        mtmd.mtmd_bitmap_set_id(bitmap, media_id.encode("ascii"))
        self._bitmaps[media_id] = bitmap
        return bitmap

    def tokenize(self, text: str, media: list[Media], add_bos: bool) -> tuple[Any, list[Segment]]:
        """Split the prompt into text and media chunks (the text holds one marker per medium)."""
        mtmd = self._mtmd
        bitmaps = [self.bitmap(item) for item in media]
        chunks = mtmd.mtmd_input_chunks_init()
        encoded = text.encode("utf-8")
        prompt = mtmd.mtmd_input_text(
            text=encoded, text_len=len(encoded), add_special=add_bos, parse_special=True
        )
        array = (mtmd.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
        status = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(prompt), array, len(bitmaps))
        if status != 0:
            mtmd.mtmd_input_chunks_free(chunks)
            raise MediaError("The attachments do not match the message (a marker is missing or extra).")
        segments: list[Segment] = []
        seen: dict[str, int] = {}
        for index in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, index)
            kind = mtmd.mtmd_input_chunk_get_type(chunk)
            if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                tokens = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                segments.append(TextSegment(tuple(tokens[i] for i in range(count.value))))
            else:
                # Long audio becomes several 30-second chunks that share the medium's id: number
                # them, or the second chunk would be served the first one's embeddings.
                content_id = (mtmd.mtmd_input_chunk_get_id(chunk) or b"").decode("ascii")
                part = seen[content_id] = seen.get(content_id, -1) + 1
                segments.append(
                    MediaSegment(
                        media_id=f"{content_id}#{part}",
                        n_pos=int(mtmd.mtmd_input_chunk_get_n_pos(chunk)),
                        n_tokens=int(mtmd.mtmd_input_chunk_get_n_tokens(chunk)),
                        kind="audio" if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_AUDIO else "image",
                    )
                )
        return chunks, segments

    def chunk(self, chunks: Any, index: int) -> Any:
        return self._mtmd.mtmd_input_chunks_get(chunks, index)

    def free_chunks(self, chunks: Any) -> None:
        self._mtmd.mtmd_input_chunks_free(chunks)

    def evaluate(self, lctx: Any, chunk: Any, segment: MediaSegment, n_past: int, n_batch: int) -> int:
        """Put a media chunk into the KV cache at ``n_past``, encoding it only the first time."""
        mtmd = self._mtmd
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
        if status != 0:
            raise MediaError(f"The {segment.kind} could not be read by the model ({status}).")
        return int(new_n_past.value)

    def close(self) -> None:
        for bitmap in self._bitmaps.values():
            self._mtmd.mtmd_bitmap_free(bitmap)
        self._bitmaps.clear()
        self._embeddings.clear()
        if self.ctx:
            self._mtmd.mtmd_free(self.ctx)
            self.ctx = None
