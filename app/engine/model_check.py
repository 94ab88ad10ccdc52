"""Check a model file before loading it and explain load failures in words a user understands."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.gguf.reader import DamagedGGUFError, GGUFInfo, NotGGUFError, TruncatedGGUFError, read_gguf_info

# Architectures the bundled llama.cpp can run that people realistically pick for chat. A file
# naming another architecture may still load; this list only sharpens the error when it does not.
KNOWN_ARCHITECTURES = frozenset(
    [
        "gemma",
        "gemma2",
        "gemma3",
        "gemma3n",
        "gemma4",
        "llama",
        "llama4",
        "mistral3",
        "qwen2",
        "qwen3",
        "qwen3moe",
        "phi3",
        "phi4",
        "granite",
        "granitemoe",
        "olmo2",
        "deepseek2",
        "command-r",
        "cohere2",
        "exaone",
        "smollm3",
        "gpt-oss",
        "glm4",
        "falcon-h1",
    ]
)


class LoadProblem(StrEnum):
    FILE_MISSING = "file_missing"
    NOT_GGUF = "not_gguf"
    TRUNCATED = "truncated"
    DAMAGED = "damaged"
    UNSUPPORTED_ARCHITECTURE = "unsupported_architecture"
    NOT_ENOUGH_MEMORY = "not_enough_memory"
    NO_CHAT_TEMPLATE = "no_chat_template"
    PROJECTOR_MISMATCH = "projector_mismatch"
    LOAD_FAILED = "load_failed"


@dataclass(frozen=True)
class ModelLoadError(Exception):
    problem: LoadProblem
    message: str

    def __str__(self) -> str:
        return self.message


def preflight(path: str | Path, context_length: int) -> GGUFInfo:
    """Read the file's header and refuse early, with a reason, what cannot possibly load."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(
            LoadProblem.FILE_MISSING,
            f"The model file “{path.name}” was not found. It may have been moved or deleted.",
        )
    try:
        info = read_gguf_info(path)
    except NotGGUFError:
        raise ModelLoadError(
            LoadProblem.NOT_GGUF,
            f"“{path.name}” is not a GGUF model file. Hearth runs models in the GGUF format.",
        ) from None
    except TruncatedGGUFError:
        raise _truncated(path) from None
    except DamagedGGUFError as exc:
        raise ModelLoadError(
            LoadProblem.DAMAGED,
            f"“{path.name}” is damaged ({exc}), so it cannot be loaded. Download it again.",
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(LoadProblem.NOT_GGUF, f"“{path.name}” could not be read: {exc}") from None
    if info.is_truncated:
        raise _truncated(path)
    needed = estimate_memory_bytes(info, context_length)
    available = available_memory_bytes()
    if available and needed > available:
        raise ModelLoadError(
            LoadProblem.NOT_ENOUGH_MEMORY,
            f"“{info.name}” needs about {needed / 2**30:.1f} GB of memory but only "
            f"{available / 2**30:.1f} GB is free. Close other programs, lower the context "
            "length, or pick a smaller model.",
        )
    return info


def explain_load_failure(info: GGUFInfo, log_tail: str) -> ModelLoadError:
    """Turn llama.cpp's failure (and what it logged) into a user-facing reason."""
    text = log_tail.lower()
    if "unknown model architecture" in text or info.architecture not in KNOWN_ARCHITECTURES:
        return ModelLoadError(
            LoadProblem.UNSUPPORTED_ARCHITECTURE,
            f"“{info.name}” uses the “{info.architecture or 'unknown'}” architecture, which this "
            "version of Hearth cannot run.",
        )
    if "not within the file bounds" in text or "failed to read" in text:
        return _truncated(info.path)
    if "failed to allocate" in text or "out of memory" in text or "unable to allocate" in text:
        return ModelLoadError(
            LoadProblem.NOT_ENOUGH_MEMORY,
            f"There is not enough memory to load “{info.name}”. Lower the context length or "
            "pick a smaller model.",
        )
    detail = log_tail.strip().splitlines()[-1] if log_tail.strip() else "no details were given"
    return ModelLoadError(LoadProblem.LOAD_FAILED, f"“{info.name}” could not be loaded ({detail}).")


def _truncated(path: Path) -> ModelLoadError:
    return ModelLoadError(
        LoadProblem.TRUNCATED,
        f"“{path.name}” is incomplete: the file ends early, probably from an unfinished "
        "download or copy. Download it again.",
    )


def estimate_memory_bytes(info: GGUFInfo, context_length: int) -> int:
    """Weights (memory-mapped, but they end up resident) + KV cache in f16 + fixed overhead."""
    arch = info.architecture
    meta = info.metadata
    layers = int(meta.get(f"{arch}.block_count", 0) or 0)
    heads_kv = meta.get(f"{arch}.attention.head_count_kv", meta.get(f"{arch}.attention.head_count", 0))
    heads = int(meta.get(f"{arch}.attention.head_count", 0) or 0)
    embedding = int(meta.get(f"{arch}.embedding_length", 0) or 0)
    head_dim = int(meta.get(f"{arch}.attention.key_length", 0) or (embedding // heads if heads else 0))
    if isinstance(heads_kv, list):  # per-layer counts
        kv_width = sum(int(h) for h in heads_kv) * head_dim
    else:
        kv_width = layers * int(heads_kv or 0) * head_dim
    ctx = min(context_length, info.context_length or context_length)
    kv_cache = 2 * 2 * kv_width * ctx  # K and V, 2 bytes each
    return info.file_size + kv_cache + 256 * 2**20


def available_memory_bytes() -> int:
    """Memory the OS can give us now (0 when unknown, which skips the check)."""
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return 0
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
