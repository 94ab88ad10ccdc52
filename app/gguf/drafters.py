"""Which Gemma 4 MTP assistant belongs to a model: an assistant file (architecture
``gemma4-assistant``) in the model's folder or a folder just under it (publishers keep them in
e.g. ``MTP/``), the one whose name shares the longest start with the model's once words like
"assistant" and "mtp" and a trailing quantization are set aside."""

from __future__ import annotations

import re
from pathlib import Path

from app.gguf.reader import GGUFError, read_gguf_info

MTP_ARCHITECTURE = "gemma4-assistant"


def is_assistant(path: str | Path) -> bool:
    try:
        return read_gguf_info(path).architecture == MTP_ARCHITECTURE
    except (OSError, GGUFError):
        return False


def looks_like_assistant(name: str) -> bool:
    lowered = name.lower()
    return "assistant" in lowered or "mtp" in lowered


def _stem_words(name: str) -> str:
    name = name.lower().removesuffix(".gguf")
    name = re.sub(r"assistant|mtp|[-_.](?:f16|bf16|f32|q\d\w*)$", "", name)
    return re.sub(r"[-_.]+", "-", name).strip("-")


def assistant_for(model_path: str | Path) -> Path | None:
    """The MTP assistant installed beside a model file, if there is one."""
    model_path = Path(model_path)
    folder = model_path.parent
    try:
        candidates = [
            path
            for path in (*folder.glob("*.gguf"), *folder.glob("*/*.gguf"))
            if path != model_path
            and looks_like_assistant(path.relative_to(folder).as_posix())
            and is_assistant(path)
        ]
    except OSError:
        return None
    model_words = _stem_words(model_path.name)

    def closeness(path: Path) -> tuple[int, bool, str]:
        words = _stem_words(path.name)
        shared = 0
        for a, b in zip(model_words, words, strict=False):
            if a != b:
                break
            shared += 1
        return shared, path.parent == folder, path.name

    return max(candidates, key=closeness) if candidates else None
