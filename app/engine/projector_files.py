"""Find the projector (mmproj) that belongs to a model file, and read what it can do.

A projector is a GGUF of architecture ``clip``; its metadata says whether it holds a vision
encoder, an audio encoder, or both (Gemma 4 E2B/E4B have both, 26B and 31B only vision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.engine.gguf_info import NotGGUFError, TruncatedGGUFError, read_gguf_info


@dataclass(frozen=True)
class ProjectorInfo:
    path: Path
    vision: bool
    audio: bool


def projector_info(path: str | Path) -> ProjectorInfo | None:
    """What the projector at ``path`` can do; None if it is not a projector at all."""
    try:
        info = read_gguf_info(path)
    except (OSError, NotGGUFError, TruncatedGGUFError, ValueError):
        return None
    if info.architecture != "clip":
        return None
    meta = info.metadata
    return ProjectorInfo(
        Path(path),
        vision=bool(meta.get("clip.has_vision_encoder", False)),
        audio=bool(meta.get("clip.has_audio_encoder", False)),
    )


def _stem_words(name: str) -> str:
    name = name.lower().removesuffix(".gguf")
    name = re.sub(r"mmproj|projector|[-_.](?:f16|bf16|f32|q\d\w*)$", "", name)
    return re.sub(r"[-_.]+", "-", name).strip("-")


def find_projector(model_path: str | Path) -> Path | None:
    """The projector next to a model: the one whose name matches the model's best, or the only one."""
    model_path = Path(model_path)
    folder = model_path.parent
    try:
        candidates = [p for p in folder.glob("*.gguf") if "mmproj" in p.name.lower() and p != model_path]
    except OSError:
        return None
    candidates = [p for p in candidates if projector_info(p) is not None]
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    model_words = _stem_words(model_path.name)

    def shared_prefix(candidate: Path) -> int:
        words = _stem_words(candidate.name)
        size = 0
        for a, b in zip(model_words, words, strict=False):
            if a != b:
                break
            size += 1
        return size

    return max(candidates, key=shared_prefix)
