"""Will a model fit this computer? The memory llama.cpp needs for a GGUF model (weights, KV cache,
projector, compute buffers), judged against the machine as green, amber or red in plain words,
and the best catalog entry for a machine.

The KV cache is sized the way the bundled llama.cpp allocates it (``llama-kv-cache.cpp`` and
``llama-kv-cache-iswa.cpp``): per layer, K and V rows of ``head_count_kv * key/value_length`` for
every cell, sliding-window layers in their own cache, Gemma 3n/4's shared-KV layers without one,
and the context padded to 256 cells.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.core.gemma4 import MAX_IMAGE_TOKENS, TEXT_BATCH, batch_size
from app.gguf.reader import GGUFInfo, read_gguf_info
from app.library.catalog import CatalogEntry
from app.library.machine import GIB, MIB, MachineInfo

ModelSource = GGUFInfo | str | Path

CELL_PAD = 256  # llama.cpp rounds the context, and the sliding-window cache, up to 256 cells
# Scheduler and graph bookkeeping on top of the tensors counted below; measured leftovers are a
# few MiB on the fixture models.
COMPUTE_MARGIN = 32 * MIB
# The worker process itself: Python, llama.cpp and ggml's code and heaps (about 40 MiB measured
# after importing llama_cpp) plus image decoding and the chat's token lists.
RUNTIME_ALLOWANCE = 128 * MIB
# A 30-second audio chunk is 3000 mel frames; the encoder's first subsampling convolution holds
# 128 channels over 1500 x 64 in f32 (about 50 MB) next to its input; the conformer layers on 750
# positions need far less.
AUDIO_ENCODER_ALLOWANCE = 160 * MIB
# A projector whose size is not published: the largest Gemma 4 projector (f16, 26B/31B).
UNKNOWN_PROJECTOR_BYTES = 1_250_000_000

GREEN_SHARE = 0.70  # of free memory: room left for the OS, the app and other programs
AMBER_SHARE = 0.90  # beyond this the system swaps or other programs get squeezed out


class FitLevel(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True)
class ModelShape:
    """What sizes a model's KV cache and compute buffers, read from its GGUF metadata."""

    layers: int
    embedding: int
    vocab: int
    heads: tuple[int, ...]  # per layer
    kv_heads: tuple[int, ...]  # per layer
    sliding: tuple[bool, ...]  # per layer: a sliding-window (local attention) layer
    key_length: int
    value_length: int
    key_length_swa: int
    value_length_swa: int
    sliding_window: int = 0
    kv_layers: int = 0  # the first kv_layers layers own a KV cache; later ones reuse it (Gemma 3n/4)
    feed_forward: int = 0  # widest per-layer MLP
    expert_feed_forward: int = 0
    experts_used: int = 0
    per_layer_embedding: int = 0  # Gemma 3n/4 per-layer inputs
    context_train: int = 0

    def key_width(self, layer: int) -> int:
        return self.kv_heads[layer] * (self.key_length_swa if self.sliding[layer] else self.key_length)

    def value_width(self, layer: int) -> int:
        return self.kv_heads[layer] * (self.value_length_swa if self.sliding[layer] else self.value_length)


@dataclass(frozen=True)
class ProjectorShape:
    """The encoders in an mmproj file, for its compute allowance."""

    vision_embedding: int = 0  # 0: no vision encoder
    vision_feed_forward: int = 0
    merge: int = 3  # patches pooled into one image token per side (Gemma 4: 3 x 3)
    audio: bool = False


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    projector: int  # file plus its encoders' compute buffers
    kv_cache: int
    compute_overhead: int  # llama.cpp's compute buffers plus the worker process
    context_length: int  # cells the KV cache really holds (capped at training length, padded)

    @property
    def total(self) -> int:
        return self.weights + self.projector + self.kv_cache + self.compute_overhead


@dataclass(frozen=True)
class Fit:
    level: FitLevel
    needed: int
    available: int
    explanation: str


# --- Gemma 4 without a file at hand ------------------------------------------------------------


def _gemma4(
    layers: int,
    embedding: int,
    heads: int,
    kv_heads_swa: int,
    kv_heads_full: int,
    window: int,
    full_every: int,
    shared_kv: int,
    feed_forward: int,
    context: int,
    per_layer: int = 0,
    expert_feed_forward: int = 0,
    experts_used: int = 0,
) -> ModelShape:
    sliding = tuple(layer % full_every != full_every - 1 for layer in range(layers))
    return ModelShape(
        layers=layers,
        embedding=embedding,
        vocab=262_144,
        heads=(heads,) * layers,
        kv_heads=tuple(kv_heads_swa if s else kv_heads_full for s in sliding),
        sliding=sliding,
        key_length=512,  # global_head_dim
        value_length=512,
        key_length_swa=256,  # head_dim
        value_length_swa=256,
        sliding_window=window,
        kv_layers=layers - shared_kv,
        feed_forward=feed_forward,
        expert_feed_forward=expert_feed_forward,
        experts_used=experts_used,
        per_layer_embedding=per_layer,
        context_train=context,
    )


# Gemma 4's text towers, from the models' published config.json "text_config" (as reproduced in
# ollama's x/models/gemma4/gemma4_test.go): num_hidden_layers, hidden_size, num_attention_heads,
# num_key_value_heads (sliding layers) and num_global_key_value_heads (full layers; absent in the
# E models, which use num_key_value_heads everywhere), head_dim 256 / global_head_dim 512,
# sliding_window, layer_types (E2B: 4 sliding + 1 full; others 5 + 1), num_kv_shared_layers,
# intermediate_size (E2B doubles it in its shared-KV layers: use_double_wide_mlp),
# hidden_size_per_layer_input, moe_intermediate_size and top_k_experts. The layer counts match
# llama.cpp's own table in src/models/gemma4.cpp (30: 26B A4B, 35: E2B, 42: E4B, 60: 31B); the
# training contexts are the catalog's (128K for E2B/E4B, 256K for 26B A4B and 31B).
GEMMA4_SHAPES: dict[str, ModelShape] = {
    "E2B": _gemma4(35, 1536, 8, 1, 1, 512, 5, 20, 2 * 6144, 131_072, per_layer=256),
    "E4B": _gemma4(42, 2560, 8, 2, 2, 512, 6, 18, 10240, 131_072, per_layer=256),
    # The 12B, from its config.json text_config (attention_k_eq_v: its full layers keep one head,
    # used as key and value; counted here as both, an upper bound).
    "12B": _gemma4(48, 3840, 16, 8, 1, 1024, 6, 0, 15360, 262_144),
    "26B A4B": _gemma4(
        30, 2816, 16, 8, 2, 1024, 6, 0, 2112, 262_144, expert_feed_forward=704, experts_used=8
    ),
    "31B": _gemma4(60, 5376, 32, 16, 4, 1024, 6, 0, 21504, 262_144),
}

# Their projectors: E2B/E4B's vision tower is 768 wide with a 3072 MLP (E2B config.json
# vision_config) and they carry the audio encoder; for 26B A4B and 31B the larger SigLIP size
# (1152, MLP 4304) is assumed, as an upper bound.
GEMMA4_PROJECTORS: dict[str, ProjectorShape] = {
    "E2B": ProjectorShape(768, 3072, 3, audio=True),
    "E4B": ProjectorShape(768, 3072, 3, audio=True),
    # The 12B's projector is "unified": one 48-pixel patch per token (merge 1), normalised and
    # projected to 3840 wide, with no encoder layers and so no MLP.
    "12B": ProjectorShape(3840, 0, 1, audio=True),
    "26B A4B": ProjectorShape(1152, 4304, 3),
    "31B": ProjectorShape(1152, 4304, 3),
}
UNKNOWN_PROJECTOR = ProjectorShape(1152, 4304, 3, audio=True)  # the largest of them


# --- reading the shape from a GGUF -------------------------------------------------------------

# Sliding-window layer patterns llama.cpp assumes when a GGUF gives a window but no per-layer
# pattern (load_swa_pattern's defaults in src/models/*.cpp): every n-th layer is global.
DEFAULT_SWA_PATTERN = {
    "gemma2": 2,
    "gemma3": 6,
    "gemma3n": 5,
    "gemma-embedding": 6,
    "cohere2": 4,
    "gpt-oss": 2,
}
GEMMA3N_KV_LAYERS = 20  # fixed in src/models/gemma3n.cpp


def shape_from_gguf(info: GGUFInfo) -> ModelShape:
    """The KV-relevant shape of a model, with llama.cpp's defaults for missing keys. ``info`` must
    be read with ``keep_arrays=True``: per-layer values are arrays."""
    meta, arch = info.metadata, info.architecture

    def key(name: str) -> Any:
        return meta.get(f"{arch}.{name}")

    layers = _int(key("block_count"))
    embedding = _int(key("embedding_length"))
    heads = _per_layer(key("attention.head_count"), layers, (0,) * layers)
    kv_heads = _per_layer(key("attention.head_count_kv"), layers, heads)
    default_head = embedding // heads[0] if heads and heads[0] else 0
    key_length = _int(key("attention.key_length")) or default_head
    value_length = _int(key("attention.value_length")) or default_head
    window = _int(key("attention.sliding_window"))
    kv_layers = layers
    if arch == "gemma4":
        kv_layers = layers - _int(key("attention.shared_kv_layers"))
    elif arch == "gemma3n" and layers > GEMMA3N_KV_LAYERS:
        kv_layers = GEMMA3N_KV_LAYERS
    tokens = meta.get("tokenizer.ggml.tokens")
    vocab = _int(key("vocab_size")) or (len(tokens) if isinstance(tokens, list) else _int(tokens))
    return ModelShape(
        layers=layers,
        embedding=embedding,
        vocab=vocab,
        heads=heads,
        kv_heads=kv_heads,
        sliding=_sliding_layers(arch, key("attention.sliding_window_pattern"), window, layers),
        key_length=key_length,
        value_length=value_length,
        key_length_swa=_int(key("attention.key_length_swa")) or key_length,
        value_length_swa=_int(key("attention.value_length_swa")) or value_length,
        sliding_window=window,
        kv_layers=max(kv_layers, 0),
        feed_forward=max(_per_layer(key("feed_forward_length"), layers, (0,))),
        expert_feed_forward=_int(key("expert_feed_forward_length")),
        experts_used=_int(key("expert_used_count")),
        per_layer_embedding=_int(key("embedding_length_per_layer_input")),
        context_train=info.context_length,
    )


def projector_shape_from_gguf(info: GGUFInfo) -> ProjectorShape:
    meta = info.metadata
    vision = bool(meta.get("clip.has_vision_encoder", "clip.vision.embedding_length" in meta))
    return ProjectorShape(
        vision_embedding=_int(meta.get("clip.vision.embedding_length")) if vision else 0,
        vision_feed_forward=_int(meta.get("clip.vision.feed_forward_length")) if vision else 0,
        merge=_int(meta.get("clip.vision.projector.scale_factor")) or 3,
        audio=bool(meta.get("clip.has_audio_encoder", False)),
    )


def _sliding_layers(arch: str, pattern: Any, window: int, layers: int) -> tuple[bool, ...]:
    if isinstance(pattern, list):  # Gemma 4: one flag per layer
        flags = [bool(flag) for flag in pattern[:layers]]
        return tuple(flags + [False] * (layers - len(flags)))
    every = _int(pattern) or DEFAULT_SWA_PATTERN.get(arch, 0)
    if not window or not every:
        return (False,) * layers  # unknown: count every layer as global, the larger cache
    return tuple(layer % every < every - 1 for layer in range(layers))


def _per_layer(value: Any, layers: int, default: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(value, list) and value:
        values = [_int(v) for v in value[:layers]]
        return tuple(values + [values[-1]] * (layers - len(values)))
    if value is None or isinstance(value, bool):
        return default
    return (_int(value),) * max(layers, 1)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# --- sizes -------------------------------------------------------------------------------------


def kv_cells(shape: ModelShape, context_length: int) -> int:
    """Cells the main KV cache gets: the worker caps the context at the training length and
    llama.cpp pads it to 256."""
    context = max(context_length, 1)
    if shape.context_train:
        context = min(context, shape.context_train)
    return _pad(context)


def kv_cache_bytes(
    shape: ModelShape,
    context_length: int,
    *,
    kv_type_bytes: float = 2,
    swa_full: bool = True,
    flash_attn: bool = True,
    batch: int = TEXT_BATCH,
) -> int:
    """Bytes of K and V for all layers that own a cache.

    ``swa_full``: Hearth gives sliding-window layers a full-size cache (exact prefix reuse needs
    it), so they cost the whole context like global layers; without it llama.cpp keeps
    ``window + micro-batch`` cells, padded to 256. ``flash_attn``: llama.cpp stores V transposed
    without flash attention and then pads every layer's V row to the widest layer's; Hearth leaves
    flash attention on "auto", which llama.cpp counts as on when it sizes the cache.
    ``kv_type_bytes``: 2 for f16, 34/32 for q8_0, 18/32 for q4_0.
    """
    cells = kv_cells(shape, context_length)
    swa_cells = _swa_cells(shape, cells, swa_full, batch)
    widest_value = max((shape.value_width(layer) for layer in range(shape.layers)), default=0)
    elements = 0
    for layer in range(min(shape.kv_layers, shape.layers)):
        value = shape.value_width(layer) if flash_attn else widest_value
        rows = swa_cells if shape.sliding[layer] else cells
        elements += (shape.key_width(layer) + value) * rows
    return round(elements * kv_type_bytes)


def compute_buffer_bytes(
    shape: ModelShape,
    context_length: int,
    *,
    swa_full: bool = True,
    flash_attn: bool = True,
    batch: int = TEXT_BATCH,
    outputs: int | None = None,
) -> int:
    """llama.cpp's compute buffer for one micro-batch, which it reserves at load time.

    The peak is the larger of the logits (f32 over the vocabulary for every output row: by
    default llama.cpp reserves a whole micro-batch of outputs, ``outputs`` lowers that as
    ``n_outputs_max`` does) and, without flash attention, the f32 attention scores; add the
    attention masks (one per cache, f16 with flash attention), the activations of the widest
    layer, Gemma's per-layer inputs and a margin. On the test models this lands 10 to 60 MiB above
    what llama.cpp reports.
    """
    cells = kv_cells(shape, context_length)
    micro = min(batch, cells)
    rows = micro if outputs is None else max(min(outputs, micro), 1)
    logits = 4 * shape.vocab * rows
    scores = 0 if flash_attn else 4 * micro * cells * max(shape.heads, default=0)
    mask_cells = cells + (_swa_cells(shape, cells, swa_full, batch) if any(shape.sliding) else 0)
    mask = (2 if flash_attn else 4) * micro * mask_cells
    widest = max(shape.feed_forward, shape.expert_feed_forward * shape.experts_used)
    activations = (
        4 * micro * (6 * shape.embedding + 3 * widest + 2 * shape.per_layer_embedding * shape.layers)
    )
    return max(logits, scores) + mask + activations + COMPUTE_MARGIN


def projector_compute_bytes(projector: ProjectorShape) -> int:
    """The encoders' compute buffers, for the largest image Gemma 4 takes (1120 tokens, each
    pooled from merge x merge patches): the peak of a vision layer is its attention (residual,
    norm, q, k, v, their copies, output: about 8 rows of the width per patch) or its MLP
    (residual, norm and two rows of the MLP width), in f32; plus the audio encoder's allowance."""
    vision = 0
    if projector.vision_embedding:
        patches = MAX_IMAGE_TOKENS * projector.merge**2
        width, mlp = projector.vision_embedding, projector.vision_feed_forward
        vision = 4 * patches * max(8 * width, 2 * width + 2 * mlp) + COMPUTE_MARGIN
    return vision + (AUDIO_ENCODER_ALLOWANCE if projector.audio else 0)


def _swa_cells(shape: ModelShape, cells: int, swa_full: bool, batch: int) -> int:
    if swa_full or not shape.sliding_window:
        return cells
    return _pad(min(cells, shape.sliding_window + min(batch, cells)))


def _pad(cells: int) -> int:
    return -(-cells // CELL_PAD) * CELL_PAD


# --- estimates ---------------------------------------------------------------------------------


def estimate_for_shape(
    shape: ModelShape,
    model_bytes: int,
    projector_bytes: int,
    context_length: int,
    *,
    projector: ProjectorShape | None = None,
    kv_type_bytes: float = 2,
    swa_full: bool = True,
    flash_attn: bool = True,
    batch: int | None = None,
    outputs: int | None = None,
) -> MemoryEstimate:
    """Memory for a model of known shape and file sizes. Weights count the whole file, which
    llama.cpp maps; ``batch`` defaults to the worker's micro-batch."""
    with_projector = projector_bytes > 0
    batch = batch or batch_size(with_projector)
    projector_compute = projector_compute_bytes(projector or UNKNOWN_PROJECTOR) if with_projector else 0
    kv_cache = kv_cache_bytes(
        shape,
        context_length,
        kv_type_bytes=kv_type_bytes,
        swa_full=swa_full,
        flash_attn=flash_attn,
        batch=batch,
    )
    compute = compute_buffer_bytes(
        shape, context_length, swa_full=swa_full, flash_attn=flash_attn, batch=batch, outputs=outputs
    )
    return MemoryEstimate(
        weights=model_bytes,
        projector=projector_bytes + projector_compute,
        kv_cache=kv_cache,
        compute_overhead=compute + RUNTIME_ALLOWANCE,
        context_length=kv_cells(shape, context_length),
    )


def estimate(
    model: ModelSource,
    projector: ModelSource | None,
    context_length: int,
    *,
    kv_type_bytes: float = 2,
    swa_full: bool = True,
    flash_attn: bool = True,
    batch: int | None = None,
    outputs: int | None = None,
) -> MemoryEstimate:
    """Memory llama.cpp needs for ``model`` (and its projector) at ``context_length``, from the
    GGUF headers. Reads files: call it off the UI thread. Raises what ``read_gguf_info`` raises
    for a file that is missing or not a GGUF."""
    info = _with_arrays(model)
    projector_info = _with_arrays(projector) if projector is not None else None
    return estimate_for_shape(
        shape_from_gguf(info),
        info.file_size,
        projector_info.file_size if projector_info else 0,
        context_length,
        projector=projector_shape_from_gguf(projector_info) if projector_info else None,
        kv_type_bytes=kv_type_bytes,
        swa_full=swa_full,
        flash_attn=flash_attn,
        batch=batch,
        outputs=outputs,
    )


def _with_arrays(source: ModelSource) -> GGUFInfo:
    if not isinstance(source, GGUFInfo):
        return read_gguf_info(source, keep_arrays=True)
    # Read without arrays, per-layer values are only their lengths: read the header again.
    if isinstance(source.metadata.get("tokenizer.ggml.tokens"), int) and source.path.is_file():
        return read_gguf_info(source.path, keep_arrays=True)
    return source


# --- judging against the machine -----------------------------------------------------------------


def assess(estimate: MemoryEstimate, machine: MachineInfo, *, offload_gpu: bool = False) -> Fit:
    """Green when the model needs at most 70% of the free memory (RAM, or GPU memory when its
    layers are offloaded), amber up to 90%, red beyond."""
    needed = estimate.total
    available, total, where = _capacity(machine, offload_gpu)
    parts = [f"weights {gb(estimate.weights)}", f"context {gb(estimate.kv_cache)}"]
    if estimate.projector:
        parts.append(f"projector {gb(estimate.projector)}")
    parts.append(f"working memory {gb(estimate.compute_overhead)}")
    need = f"needs about {gb(needed)} ({', '.join(parts)})"
    if not available:
        return Fit(
            FitLevel.AMBER,
            needed,
            0,
            f"It {need}; how much memory {where} has free could not be measured, so it may or may not fit.",
        )
    has = f"{where} has {gb(available)} free of {gb(total, whole=True)}"
    share = needed / available
    if share <= GREEN_SHARE:
        return Fit(FitLevel.GREEN, needed, available, f"Fits comfortably: it {need}; {has}.")
    if share <= AMBER_SHARE:
        return Fit(
            FitLevel.AMBER,
            needed,
            available,
            f"Fits, but tightly: it {need}; {has}. Other programs may slow down while it runs; "
            "a shorter context or a smaller model leaves more room.",
        )
    advice = (
        "Close other programs, choose a shorter context, or pick a smaller model."
        if needed <= AMBER_SHARE * total
        else "Choose a shorter context or a smaller model."
    )
    return Fit(
        FitLevel.RED, needed, available, f"Too big for this computer right now: it {need}; {has}. {advice}"
    )


def _capacity(machine: MachineInfo, offload_gpu: bool) -> tuple[int, int, str]:
    """(free, total, how to name it) of the memory the model would live in."""
    if offload_gpu and machine.gpus:
        apple = [gpu for gpu in machine.gpus if gpu.kind == "apple"]
        if apple:
            gpu = apple[0]
            return gpu.free_memory, gpu.total_memory, f"the graphics share of this Mac's memory ({gpu.name})"
        # llama.cpp splits the layers across all NVIDIA cards.
        free = sum(gpu.free_memory for gpu in machine.gpus)
        total = sum(gpu.total_memory for gpu in machine.gpus)
        names = " and ".join(sorted({gpu.name for gpu in machine.gpus}))
        return free, total, f"the graphics card{'s' if len(machine.gpus) > 1 else ''} ({names})"
    return machine.available_ram, machine.total_ram, "this computer"


def gb(num_bytes: int, whole: bool = False) -> str:
    """A memory size in words, as every estimate says it."""
    # Memory is sized in binary units (an "8 GB" laptop has 8 GiB), so GB here means 2**30 bytes.
    value = num_bytes / GIB
    if whole and value >= 4:
        # The OS reports installed RAM minus what firmware and kernel reserve: round up to it.
        return f"{math.ceil(value - 0.05)} GB"
    return f"{value:.1f} GB"


# --- recommending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    entry: CatalogEntry
    estimate: MemoryEstimate
    fit: Fit


# Quality order of the sizes. Without a GPU the dense 31B runs at a few tokens per second (it
# reads all its weights for every token), while the 26B A4B reads about 4B per token: on the CPU
# the mixture of experts is the better pick. The 12B, made for 16 GB laptops, comes after E4B.
SIZE_RANK = {"E2B": 0, "E4B": 1, "12B": 2, "26B A4B": 3, "31B": 4}
CPU_SIZE_RANK = {"E2B": 0, "E4B": 1, "12B": 2, "31B": 3, "26B A4B": 4}


def quantization_rank(name: str) -> float:
    """More bits is better; Google's quantization-aware Q4_0 beats a post-hoc 4-bit quant."""
    bits = re.search(r"(?:^|[^A-Z0-9])(?:I?Q|BF|F)(\d+)", name.upper())
    value = float(bits.group(1)) if bits else 0.0
    return value + (0.5 if "QAT" in name.upper() else 0.0)


def recommend(
    entries: Iterable[CatalogEntry],
    machine: MachineInfo,
    context_length: int,
    *,
    local: Mapping[str, tuple[ModelSource, ModelSource | None]] | None = None,
    offload_gpu: bool = False,
    swa_full: bool = True,
    outputs: int | None = None,
) -> Recommendation | None:
    """The best entry for this machine: the largest, highest-quality one that fits green; if none
    does, the one needing least among those that fit amber; None when nothing fits.

    Entries on disk (``local``: entry id -> model and projector paths or headers) are estimated
    from their headers; the others from their published sizes and the Gemma 4 shapes above.
    Entries of unknown size or shape are skipped. Reads files: call it off the UI thread.
    """
    entries = list(entries)
    ranks = SIZE_RANK if offload_gpu else CPU_SIZE_RANK
    options: dict[str, Any] = {"swa_full": swa_full, "outputs": outputs}
    scored: list[Recommendation] = []
    for entry in entries:
        found = estimate_entry(entry, entries, context_length, (local or {}).get(entry.id), **options)
        if found is not None:
            scored.append(Recommendation(entry, found, assess(found, machine, offload_gpu=offload_gpu)))
    green = [r for r in scored if r.fit.level is FitLevel.GREEN]
    if green:
        return max(
            green,
            key=lambda r: (
                ranks.get(r.entry.size, -1),
                quantization_rank(r.entry.quantization),
                -r.fit.needed,
            ),
        )
    amber = [r for r in scored if r.fit.level is FitLevel.AMBER]
    return min(amber, key=lambda r: r.fit.needed) if amber else None


def estimate_entry(
    entry: CatalogEntry,
    entries: Sequence[CatalogEntry],
    context_length: int,
    files: tuple[ModelSource, ModelSource | None] | None = None,
    **options: Any,
) -> MemoryEstimate | None:
    """Memory for one catalog entry: from its files when on disk, else from its published sizes
    and the Gemma 4 shapes; None when neither is known."""
    if files is not None:
        try:
            return estimate(files[0], files[1], context_length, **options)
        except (OSError, ValueError):
            pass  # a damaged local file: fall back to the published sizes
    shape = GEMMA4_SHAPES.get(entry.size)
    if shape is None or not entry.model.size:
        return None
    projector_bytes = 0
    if entry.projector is not None:
        # Unpublished: the largest projector of the same model in the catalog, else an upper bound.
        known = [
            e.projector.size for e in entries if e.size == entry.size and e.projector and e.projector.size
        ]
        projector_bytes = entry.projector.size or max(known, default=UNKNOWN_PROJECTOR_BYTES)
    return estimate_for_shape(
        shape,
        entry.model.size,
        projector_bytes,
        context_length,
        projector=GEMMA4_PROJECTORS.get(entry.size),
        **options,
    )
