"""Check a model file before loading it and explain load failures in words a user understands."""

from __future__ import annotations

import logging
import os
import re
import sys
from enum import StrEnum
from pathlib import Path

from app.gguf.drafters import MTP_ARCHITECTURE
from app.gguf.reader import DamagedGGUFError, GGUFInfo, NotGGUFError, TruncatedGGUFError, read_gguf_info

log = logging.getLogger(__name__)

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
    BROKEN_CHAT_TEMPLATE = "broken_chat_template"
    PROJECTOR_MISMATCH = "projector_mismatch"
    LOAD_FAILED = "load_failed"


class ModelLoadError(Exception):
    """Why a model cannot be loaded: a stable code and a message for the user.

    A plain exception, not a frozen dataclass: Python itself writes to an exception on its way
    up (``__traceback__``, e.g. in ``contextlib``), which a frozen one refuses."""

    def __init__(self, problem: LoadProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


# llama.cpp stops the whole process (GGML_ASSERT) instead of failing the load on some impossible
# shapes; refusing them here keeps the engine alive and says why. LLAMA_MAX_LAYERS in llama.cpp.
MAX_LAYERS = 512
# llama.cpp hands the trained context length out as an int32: a larger one comes back negative.
MAX_CONTEXT = 2**31
# Gemma 4 shares the KV cache of its last layers with earlier ones; llama.cpp needs two of its own.
MIN_OWN_KV_LAYERS = {"gemma4": 2}


def preflight(path: str | Path, context_length: int) -> GGUFInfo:
    """Read the file's header and refuse early, with a reason, what cannot possibly load.

    Raises ``ModelLoadError`` and nothing else, whatever the file holds."""
    path = Path(path)
    try:
        info = _read(path)
        if info.is_truncated:
            raise _truncated(path)
        _check_shape(info)
        needed = estimate_memory_bytes(info, context_length)
    except ModelLoadError:
        raise
    except Exception:  # the file is foreign input: whatever it does, say so in words
        log.exception("unexpected failure checking %s", path)
        raise _damaged(path, "its header could not be understood") from None
    available = available_memory_bytes()
    if available and needed > available:
        raise ModelLoadError(
            LoadProblem.NOT_ENOUGH_MEMORY,
            f"“{info.name}” needs about {needed / 2**30:.1f} GB of memory but only "
            f"{available / 2**30:.1f} GB is free. Close other programs, lower the context "
            "length, or pick a smaller model.",
        )
    return info


def _read(path: Path) -> GGUFInfo:
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name the OS refuses, e.g. one with a NUL character
        found = False
    if not found:
        raise ModelLoadError(
            LoadProblem.FILE_MISSING,
            f"The model file “{path.name}” was not found. It may have been moved or deleted.",
        )
    try:
        return read_gguf_info(path)
    except NotGGUFError:
        raise ModelLoadError(
            LoadProblem.NOT_GGUF,
            f"“{path.name}” is not a GGUF model file. Hearth runs models in the GGUF format.",
        ) from None
    except TruncatedGGUFError:
        raise _truncated(path) from None
    except DamagedGGUFError as exc:
        raise _damaged(path, str(exc)) from None
    except OSError as exc:
        raise ModelLoadError(
            LoadProblem.NOT_GGUF, f"“{path.name}” could not be read ({exc.strerror or exc})."
        ) from None


def _check_shape(info: GGUFInfo) -> None:
    """Refuse the shapes that would stop llama.cpp itself rather than fail the load. A value of
    the wrong type is left to llama.cpp, which refuses it in words."""
    arch = info.architecture
    if not arch:
        raise _damaged(info.path, "it does not say which kind of model it holds")
    if arch == MTP_ARCHITECTURE:
        raise ModelLoadError(
            LoadProblem.UNSUPPORTED_ARCHITECTURE,
            f"“{info.path.name}” is a Gemma 4 MTP assistant: it guesses tokens for its model and cannot "
            "answer alone. In its model's folder, it drafts for that model whenever it is loaded.",
        )
    if info.duplicate_tokens:
        # Some publishers' files have this fault (Google's QAT builds of Gemma 4 among them), so
        # downloading the same file again does not help.
        raise ModelLoadError(
            LoadProblem.DAMAGED,
            f"“{info.path.name}” lists {info.duplicate_tokens:,} of its vocabulary's tokens twice, which "
            "llama.cpp cannot load. If it came like this from its publisher, downloading it again "
            "will not help: pick another build of this model.",
        )
    layers = _number(info, f"{arch}.block_count")
    if layers is not None and not 0 < layers <= MAX_LAYERS:
        raise _damaged(info.path, f"it claims {layers:,} layers")
    context = _number(info, f"{arch}.context_length")
    if context is not None and not 0 <= context < MAX_CONTEXT:
        raise _damaged(info.path, f"it claims a context of {context:,} tokens")
    shared = _number(info, f"{arch}.attention.shared_kv_layers") or 0
    if arch in MIN_OWN_KV_LAYERS and layers is not None and layers - shared < MIN_OWN_KV_LAYERS[arch]:
        raise _damaged(info.path, f"it claims {shared:,} of its {layers:,} layers share their memory")
    for suffix in ("", "_swa"):
        rotated = _number(info, f"{arch}.rope.dimension_count{suffix}") or 0
        head = (
            _number(info, f"{arch}.attention.key_length{suffix}")
            or _number(info, f"{arch}.attention.key_length")
            or _head_size(info)
        )
        if head > 0 and rotated > head:
            raise _damaged(info.path, f"it rotates {rotated:,} dimensions of {head:,}-wide heads")


def _number(info: GGUFInfo, key: str) -> int | None:
    """A whole number the file gives for ``key``; None when absent, an array or of another type."""
    value = info.metadata.get(key)
    if info.is_array(key) or not isinstance(value, int) or isinstance(value, bool):
        return None
    return value


def _head_size(info: GGUFInfo) -> int:
    heads = _number(info, f"{info.architecture}.attention.head_count") or 0
    embedding = _number(info, f"{info.architecture}.embedding_length") or 0
    return embedding // heads if heads > 0 else 0


def explain_load_failure(info: GGUFInfo, log_tail: str) -> ModelLoadError:
    """Turn llama.cpp's failure (and what it logged) into a user-facing reason."""
    text = log_tail.lower()
    if "unknown model architecture" in text or info.architecture not in KNOWN_ARCHITECTURES:
        return ModelLoadError(
            LoadProblem.UNSUPPORTED_ARCHITECTURE,
            f"“{info.name}” uses the “{shown(info.architecture) or 'unknown'}” architecture, which this "
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
    detail = shown(llama_reason(log_tail), 300)
    return ModelLoadError(
        LoadProblem.LOAD_FAILED, f"“{info.name}” could not be loaded ({detail or 'no details were given'})."
    )


def llama_reason(log_tail: str) -> str:
    """The line of llama.cpp's log that says why (the last one, or the one naming the error
    that stopped a model load), without the name of the function saying it."""
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error loading model:" in line:
            return re.sub(r"^\w+: ", "", line.split("error loading model:", 1)[1].strip())
    return lines[-1] if lines else ""


def _truncated(path: Path) -> ModelLoadError:
    return ModelLoadError(
        LoadProblem.TRUNCATED,
        f"“{path.name}” is incomplete: the file ends early, probably from an unfinished "
        "download or copy. Download it again.",
    )


def _damaged(path: Path, why: str) -> ModelLoadError:
    return ModelLoadError(
        LoadProblem.DAMAGED,
        f"“{path.name}” is damaged ({why}), so it cannot be loaded. Download it again.",
    )


def shown(text: str, limit: int = 40) -> str:
    """Text from a file or from llama.cpp, fit for a message: printable, on one line, short."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 2]).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def estimate_memory_bytes(info: GGUFInfo, context_length: int) -> int:
    """Weights (memory-mapped, but they end up resident) + KV cache in f16 + fixed overhead.

    Any metadata of the wrong type or out of range counts as absent: the estimate is a guard,
    and llama.cpp itself refuses what is really wrong."""
    arch = info.architecture
    layers = max(_number(info, f"{arch}.block_count") or 0, 0)
    heads = max(_number(info, f"{arch}.attention.head_count") or 0, 0)
    embedding = max(_number(info, f"{arch}.embedding_length") or 0, 0)
    head_dim = max(_number(info, f"{arch}.attention.key_length") or 0, 0) or (
        embedding // heads if heads else 0
    )
    kv_key = f"{arch}.attention.head_count_kv"
    per_layer = info.metadata.get(kv_key)
    if isinstance(per_layer, list):  # per-layer counts (read with keep_arrays)
        kv_heads = sum(h for h in per_layer if isinstance(h, int) and not isinstance(h, bool) and h > 0)
    elif info.is_array(kv_key):  # per-layer counts read as their number: at most one KV head per head
        kv_heads = layers * heads
    else:
        kv_heads = layers * max(_number(info, kv_key) or heads, 0)
    trained = info.context_length
    ctx = max(min(context_length, trained) if trained > 0 else context_length, 0)
    kv_cache = 2 * 2 * kv_heads * head_dim * ctx  # K and V, 2 bytes each
    return info.file_size + kv_cache + 256 * 2**20


def available_memory_bytes() -> int:
    """Memory the OS can give us now (0 when unknown, which skips the check)."""
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return 0
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0
