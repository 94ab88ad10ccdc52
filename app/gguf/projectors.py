"""Which projector (mmproj) belongs to a model, and what a projector can do.

A projector is a GGUF of architecture ``clip``; its metadata says whether it holds a vision
encoder, an audio encoder, or both (Gemma 4 E2B/E4B have both, 26B and 31B only vision). The one
rule for pairing, used for files on disk and for files in a Hugging Face repo alike: the projector
a download recorded, else the candidate whose name shares the longest start with the model's
(after words like "mmproj" and a trailing quantization are set aside), same folder first.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.gguf.manifest import read_manifest
from app.gguf.reader import GGUFError, read_gguf_info


@dataclass(frozen=True)
class ProjectorInfo:
    path: Path
    vision: bool
    audio: bool


def projector_info(path: str | Path) -> ProjectorInfo | None:
    """What the projector at ``path`` can do; None if it is not a projector at all."""
    try:
        info = read_gguf_info(path)
    except (OSError, GGUFError):
        return None
    if info.architecture != "clip":
        return None
    meta = info.metadata
    return ProjectorInfo(
        Path(path),
        vision=bool(meta.get("clip.has_vision_encoder", False)),
        audio=bool(meta.get("clip.has_audio_encoder", False)),
    )


def looks_like_projector(name: str) -> bool:
    lowered = posixpath.basename(name.replace("\\", "/")).lower()
    return "mmproj" in lowered or "projector" in lowered


def _stem_words(name: str) -> str:
    name = posixpath.basename(name.replace("\\", "/")).lower().removesuffix(".gguf")
    name = re.sub(r"mmproj|projector|[-_.](?:f16|bf16|f32|q\d\w*)$", "", name)
    return re.sub(r"[-_.]+", "-", name).strip("-")


def best_projector_name(model: str, candidates: Sequence[str]) -> str | None:
    """Of ``candidates`` (names or relative paths), the one that belongs to ``model``."""
    if not candidates:
        return None
    model_words = _stem_words(model)
    model_folder = posixpath.dirname(model.replace("\\", "/"))

    def closeness(candidate: str) -> tuple[int, bool]:
        words = _stem_words(candidate)
        shared = 0
        for a, b in zip(model_words, words, strict=False):
            if a != b:
                break
            shared += 1
        return shared, posixpath.dirname(candidate.replace("\\", "/")) == model_folder

    return max(candidates, key=closeness)


def find_projector(model_path: str | Path) -> Path | None:
    """The projector next to a model file, by name (see ``best_projector_name``)."""
    model_path = Path(model_path)
    try:
        candidates = [
            p for p in model_path.parent.glob("*.gguf") if looks_like_projector(p.name) and p != model_path
        ]
    except OSError:
        return None
    by_name = {p.name: p for p in candidates if projector_info(p) is not None}
    best = best_projector_name(model_path.name, sorted(by_name))
    return by_name[best] if best is not None else None


def projector_for(model_path: str | Path) -> Path | None:
    """The projector that belongs to a model file: the one its download recorded, else by name."""
    model_path = Path(model_path)
    recorded = read_manifest(model_path)
    if recorded is not None and recorded.projector is not None and recorded.projector.is_file():
        return recorded.projector
    return find_projector(model_path)
