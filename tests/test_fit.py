""" "Fits your machine": machine detection, memory estimates from real GGUF headers checked against
what llama.cpp itself allocates, the green/amber/red verdict and the recommendation."""

from __future__ import annotations

import math
import re
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.gguf.reader import read_gguf_info
from app.library import fit, machine
from app.library.catalog import parse_catalog
from app.library.fit import FitLevel, MemoryEstimate, assess, estimate, recommend, shape_from_gguf
from app.library.machine import GIB, MIB, GpuInfo, MachineInfo

# --- a tiny Gemma 4 -------------------------------------------------------------------------------

# Ten layers, four sliding then one global, twice; the last five reuse the KV of earlier layers
# (Gemma 4's shared-KV layers); head_count_kv is a per-layer array, and global layers have wider
# heads (64) than sliding ones (32), so V rows differ in width between layers.
TINY_LAYERS, TINY_SHARED = 10, 5
TINY_SLIDING = [layer % 5 != 4 for layer in range(TINY_LAYERS)]
TINY_KV_HEADS = [2] * TINY_LAYERS
TINY_EMBD, TINY_HEADS, TINY_FF, TINY_WINDOW = 64, 4, 128, 128
TINY_TOKENS = ["<unk>", "<s>", "</s>"] + [f"<0x{byte:02X}>" for byte in range(256)]

U32, I32, F32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def _gguf_value(kind: int, value: Any) -> bytes:
    if kind == STRING:
        return _gguf_string(str(value))
    if kind == ARRAY:
        item_kind, items = value
        return struct.pack("<IQ", item_kind, len(items)) + b"".join(_gguf_value(item_kind, i) for i in items)
    return struct.pack({U32: "<I", I32: "<i", F32: "<f", BOOL: "<?"}[kind], value)


def write_gguf(path: Path, metadata: list[tuple[str, int, object]], tensors: list[tuple[str, tuple]]) -> None:
    """A GGUF v3 file with f32 tensors of zeros: enough for llama.cpp to size its caches."""
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        header += _gguf_string(key) + struct.pack("<I", kind) + _gguf_value(kind, value)
    offset, blobs = 0, []
    for name, shape in tensors:
        header += _gguf_string(name) + struct.pack("<I", len(shape))
        header += b"".join(struct.pack("<Q", dim) for dim in shape) + struct.pack("<IQ", 0, offset)
        size = 4 * math.prod(shape)
        blobs.append(bytes(size) + bytes(-size % 32))
        offset += len(blobs[-1])
    path.write_bytes(header + bytes(-len(header) % 32) + b"".join(blobs))


@pytest.fixture(scope="session")
def tiny_gemma4_path(tmp_path_factory) -> Path:
    arch = "gemma4"
    metadata: list[tuple[str, int, object]] = [
        ("general.architecture", STRING, arch),
        (f"{arch}.block_count", U32, TINY_LAYERS),
        (f"{arch}.context_length", U32, 4096),
        (f"{arch}.embedding_length", U32, TINY_EMBD),
        (f"{arch}.feed_forward_length", U32, TINY_FF),
        (f"{arch}.attention.head_count", U32, TINY_HEADS),
        (f"{arch}.attention.head_count_kv", ARRAY, (U32, TINY_KV_HEADS)),
        (f"{arch}.attention.key_length", U32, 64),
        (f"{arch}.attention.value_length", U32, 64),
        (f"{arch}.attention.key_length_swa", U32, 32),
        (f"{arch}.attention.value_length_swa", U32, 32),
        (f"{arch}.attention.sliding_window", U32, TINY_WINDOW),
        (f"{arch}.attention.sliding_window_pattern", ARRAY, (BOOL, TINY_SLIDING)),
        (f"{arch}.attention.shared_kv_layers", U32, TINY_SHARED),
        (f"{arch}.embedding_length_per_layer_input", U32, 0),
        (f"{arch}.attention.layer_norm_rms_epsilon", F32, 1e-6),
        (f"{arch}.rope.dimension_count", U32, 64),
        (f"{arch}.rope.dimension_count_swa", U32, 32),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, TINY_TOKENS)),
        ("tokenizer.ggml.scores", ARRAY, (F32, [0.0] * len(TINY_TOKENS))),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3] + [6] * 256)),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
    ]
    vocab = len(TINY_TOKENS)
    tensors: list[tuple[str, tuple]] = [
        ("token_embd.weight", (TINY_EMBD, vocab)),
        ("output_norm.weight", (TINY_EMBD,)),
        ("rope_freqs.weight", (32,)),
    ]
    for layer in range(TINY_LAYERS):
        head = 32 if TINY_SLIDING[layer] else 64
        kv = head * TINY_KV_HEADS[layer]
        blk = f"blk.{layer}."
        tensors += [
            (blk + "attn_norm.weight", (TINY_EMBD,)),
            (blk + "attn_q.weight", (TINY_EMBD, head * TINY_HEADS)),
            (blk + "attn_q_norm.weight", (head,)),
            (blk + "attn_output.weight", (head * TINY_HEADS, TINY_EMBD)),
            (blk + "post_attention_norm.weight", (TINY_EMBD,)),
            (blk + "ffn_norm.weight", (TINY_EMBD,)),
            (blk + "ffn_gate.weight", (TINY_EMBD, TINY_FF)),
            (blk + "ffn_up.weight", (TINY_EMBD, TINY_FF)),
            (blk + "ffn_down.weight", (TINY_FF, TINY_EMBD)),
            (blk + "post_ffw_norm.weight", (TINY_EMBD,)),
        ]
        if layer < TINY_LAYERS - TINY_SHARED:  # shared-KV layers have no K/V projections
            tensors += [
                (blk + "attn_k.weight", (TINY_EMBD, kv)),
                (blk + "attn_v.weight", (TINY_EMBD, kv)),
                (blk + "attn_k_norm.weight", (head,)),
            ]
    path = tmp_path_factory.mktemp("gguf") / "tiny-gemma4.gguf"
    write_gguf(path, metadata, tensors)
    return path


# --- what llama.cpp allocates -------------------------------------------------------------------

# Creates a context the way the worker does (low-level bindings, flash attention on "auto") and
# lets llama.cpp print its cache and buffer sizes.
PROBE = """
import logging, sys
import llama_cpp as L
logging.getLogger("llama-cpp-python").setLevel(logging.DEBUG)
path, n_ctx, batch, swa_full, flash = sys.argv[1:]
L.llama_backend_init()
model = L.llama_model_load_from_file(path.encode(), L.llama_model_default_params())
params = L.llama_context_default_params()
params.n_ctx, params.n_batch, params.n_ubatch = int(n_ctx), int(batch), int(batch)
params.swa_full = swa_full == "1"
if flash == "off":
    params.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
context = L.llama_init_from_model(model, params)
print("CONTEXT", bool(context), file=sys.stderr, flush=True)
"""


def llama_cpp_sizes(path: Path, n_ctx: int, swa_full: bool, flash: str = "auto") -> tuple[int, int]:
    """(KV cache, compute buffer) in bytes as llama.cpp reports them for a fresh context."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(n_ctx), "512", "1" if swa_full else "0", flash],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "CONTEXT True" in done.stderr, done.stderr[-3000:]
    kv = [float(mib) for mib in re.findall(r"llama_kv_cache: size =\s*([\d.]+) MiB", done.stderr)]
    compute = re.findall(r"CPU compute buffer size =\s*([\d.]+) MiB", done.stderr)
    assert kv and compute, done.stderr[-3000:]
    return round(sum(kv) * MIB), round(float(compute[0]) * MIB)


@pytest.mark.parametrize(
    ("model", "n_ctx", "swa_full", "flash"),
    [
        ("smollm2", 2048, True, "auto"),
        ("smollm2", 4096, True, "off"),
        ("gemma3", 2048, True, "auto"),
        ("gemma3", 4096, False, "auto"),
        ("gemma3", 4096, True, "off"),
        ("tiny_gemma4", 2048, True, "auto"),
        ("tiny_gemma4", 2048, False, "auto"),
        ("tiny_gemma4", 2048, True, "off"),
    ],
)
def test_estimate_matches_what_llama_cpp_allocates(request, model, n_ctx, swa_full, flash):
    path = request.getfixturevalue(f"{model}_path")
    shape = shape_from_gguf(read_gguf_info(path, keep_arrays=True))
    options = {"swa_full": swa_full, "flash_attn": flash != "off", "batch": 512}
    kv_estimate = fit.kv_cache_bytes(shape, n_ctx, **options)
    compute_estimate = fit.compute_buffer_bytes(shape, n_ctx, **options)

    kv, compute = llama_cpp_sizes(path, n_ctx, swa_full, flash)

    print(
        f"{model} ctx={n_ctx} swa_full={swa_full} flash={flash}: KV {kv / MIB:.2f} MiB, estimated "
        f"{kv_estimate / MIB:.2f}; compute {compute / MIB:.2f} MiB, estimated {compute_estimate / MIB:.2f}"
    )
    assert kv_estimate == pytest.approx(kv, rel=0.05)
    # The compute allowance is conservative, but not wildly so.
    assert compute <= compute_estimate <= 1.15 * compute + 48 * MIB


# --- the KV cache by hand ---------------------------------------------------------------------


def test_smollm2_kv_cache_by_hand(smollm2_path):
    info = read_gguf_info(smollm2_path, keep_arrays=True)
    shape = shape_from_gguf(info)
    assert (info.architecture, shape.layers, shape.kv_heads[0], shape.key_length) == ("llama", 30, 3, 64)
    for n_ctx in (2048, 8192):
        # K and V, 30 layers, 3 KV heads of 64 dimensions, every cell, 2 bytes (f16)
        assert fit.kv_cache_bytes(shape, n_ctx) == 2 * 30 * 3 * 64 * n_ctx * 2
    assert fit.kv_cache_bytes(shape, 1000) == 2 * 30 * 3 * 64 * 1024 * 2  # padded to 256 cells
    assert fit.kv_cache_bytes(shape, 100_000) == 2 * 30 * 3 * 64 * 8192 * 2  # capped at training length
    assert fit.kv_cache_bytes(shape, 2048, kv_type_bytes=34 / 32) == 30 * 3 * 64 * 2048 * 2 * 34 / 32


def test_gemma3_sliding_window_layers(gemma3_path):
    shape = shape_from_gguf(read_gguf_info(gemma3_path, keep_arrays=True))
    assert shape.layers == 18 and shape.sliding_window == 512
    assert [layer for layer in range(18) if not shape.sliding[layer]] == [5, 11, 17]  # every 6th global
    per_cell_layer = 2 * 1 * 256 * 2  # K+V, 1 KV head, 256 dims, f16
    full = fit.kv_cache_bytes(shape, 8192, swa_full=True)
    windowed = fit.kv_cache_bytes(shape, 8192, swa_full=False)
    assert full == 18 * per_cell_layer * 8192
    # Without a full-size SWA cache, sliding layers keep window + micro-batch cells (1024).
    assert windowed == 3 * per_cell_layer * 8192 + 15 * per_cell_layer * 1024
    assert windowed < full


def test_gemma4_shared_kv_and_per_layer_heads(tiny_gemma4_path):
    shape = shape_from_gguf(read_gguf_info(tiny_gemma4_path, keep_arrays=True))
    assert shape.kv_layers == 5 and shape.kv_heads == (2,) * 10
    assert (shape.key_length, shape.key_length_swa) == (64, 32)
    # Own caches: 4 sliding layers of 2 x 32 and 1 global of 2 x 64, K and V, f16.
    assert fit.kv_cache_bytes(shape, 2048) == (4 * 64 + 128) * 2 * 2 * 2048
    # Without flash attention V is stored transposed, padded to the widest layer (128).
    assert fit.kv_cache_bytes(shape, 2048, flash_attn=False) == (4 * (64 + 128) + 256) * 2 * 2048


def test_an_info_read_without_arrays_is_read_again(gemma3_path, tiny_gemma4_path):
    flat = read_gguf_info(tiny_gemma4_path)  # per-layer arrays come back as their lengths
    assert estimate(flat, None, 2048) == estimate(tiny_gemma4_path, None, 2048)
    full = estimate(gemma3_path, None, 4096)
    assert full.weights == gemma3_path.stat().st_size and full.projector == 0
    assert full.context_length == 4096
    assert full.total == full.weights + full.kv_cache + full.compute_overhead


def test_the_gemma4_table_matches_llama_cpp_layer_counts():
    # src/models/gemma4.cpp names the sizes by layer count: 35 E2B, 42 E4B, 30 26B A4B, 60 31B (its
    # table does not name the 12B's 48 layers yet; the 12B's config.json gives them).
    layers = {name: shape.layers for name, shape in fit.GEMMA4_SHAPES.items()}
    assert layers == {"E2B": 35, "E4B": 42, "12B": 48, "26B A4B": 30, "31B": 60}
    e2b = fit.GEMMA4_SHAPES["E2B"]
    assert [layer for layer in range(15) if not e2b.sliding[layer]] == [4, 9, 14]
    # 8K context, f16, full-size SWA: E2B keeps KV only for its first 15 layers.
    assert fit.kv_cache_bytes(e2b, 8192) == (3 * 512 + 12 * 256) * 2 * 2 * 8192


# --- the verdict --------------------------------------------------------------------------------


def _estimate(total_gib: float) -> MemoryEstimate:
    return MemoryEstimate(
        weights=int(total_gib * GIB) - 3 * GIB // 10,
        projector=GIB // 10,
        kv_cache=GIB // 10,
        compute_overhead=GIB // 10,
        context_length=8192,
    )


@pytest.mark.parametrize(
    ("needed", "free", "level"),
    [(7.0, 10, "green"), (7.1, 10, "amber"), (9.0, 10, "amber"), (9.1, 10, "red"), (12, 10, "red")],
)
def test_thresholds(needed, free, level):
    verdict = assess(_estimate(needed), MachineInfo(total_ram=16 * GIB, available_ram=free * GIB))
    assert verdict.level == level
    assert verdict.needed == _estimate(needed).total and verdict.available == free * GIB


def test_explanation_gives_the_numbers():
    needed = MemoryEstimate(
        weights=int(5.0 * GIB),
        projector=int(0.3 * GIB),
        kv_cache=int(0.8 * GIB),
        compute_overhead=0,
        context_length=8192,
    )
    machine_ = MachineInfo(total_ram=int(23.4 * GIB), available_ram=int(15.2 * GIB))
    text = assess(needed, machine_).explanation
    assert "needs about 6.1 GB (weights 5.0 GB, context 0.8 GB, projector 0.3 GB" in text
    assert "this computer has 15.2 GB free of 24 GB" in text
    red = assess(_estimate(30), machine_).explanation
    assert red.startswith("Too big") and "smaller model" in red


def test_unknown_free_memory_is_said_not_guessed():
    verdict = assess(_estimate(4), MachineInfo())
    assert verdict.level == "amber" and "could not be measured" in verdict.explanation


def test_offloading_judges_gpu_memory():
    cards = [
        GpuInfo("RTX 3060", 12 * GIB, 11 * GIB, "nvidia"),
        GpuInfo("RTX 3060", 12 * GIB, 11 * GIB, "nvidia"),
    ]
    two_cards = MachineInfo(total_ram=64 * GIB, available_ram=60 * GIB, gpus=cards)
    verdict = assess(_estimate(14), two_cards, offload_gpu=True)
    assert verdict.level == "green" and verdict.available == 22 * GIB  # layers split across both
    assert "graphics cards (RTX 3060)" in verdict.explanation
    assert assess(_estimate(18), two_cards, offload_gpu=True).level == "amber"
    mac = MachineInfo(16 * GIB, 12 * GIB, [GpuInfo("Apple M2", 10 * GIB, 10 * GIB, "apple")], True)
    assert assess(_estimate(8), mac).level == "green"  # 8 of 12 GB free RAM...
    assert assess(_estimate(8), mac, offload_gpu=True).level == "amber"  # ...but 8 of 10 for Metal


# --- the recommendation ---------------------------------------------------------------------------


def _entry(size: str, quant: str, model: int | None, projector: int | None) -> dict:
    slug = f"{size}-{quant}".lower().replace(" ", "-")
    return {
        "id": slug,
        "size": size,
        "quantization": quant,
        "repo_id": f"example/{slug}",
        "context_length": 131072,
        "files": {
            "model": {"name": f"{slug}.gguf", "size": model},
            "projector": {"name": "p", "size": projector},
        },
    }


# Sizes of published Gemma 4 builds (model, projector); None where unpublished.
CATALOG = parse_catalog(
    {
        "models": [
            _entry("E2B", "Q4_K_M", 3_462_680_032, None),
            _entry("E2B", "Q8_0", 4_967_497_152, 557_368_064),
            _entry("E2B", "QAT Q4_0", 3_349_516_256, 986_833_664),
            _entry("E4B", "Q4_K_M", 5_335_289_824, 559_874_528),
            _entry("E4B", "Q8_0", 8_031_240_160, 559_874_528),
            _entry("E4B", "QAT Q4_0", 5_154_941_280, 991_552_256),
            _entry("12B", "Q4_K_M", 7_381_382_944, None),
            _entry("12B", "Q8_0", None, 158_987_616),
            _entry("12B", "QAT Q4_0", 6_975_877_728, 175_115_264),
            _entry("26B A4B", "Q4_K_M", 16_796_015_136, None),
            _entry("26B A4B", "Q8_0", 26_859_860_992, 806_408_320),
            _entry("26B A4B", "QAT Q4_0", 14_439_363_584, 1_194_828_160),
            _entry("31B", "Q4_K_M", 18_687_061_792, None),
            _entry("31B", "Q8_0", None, None),
            _entry("31B", "QAT Q4_0", 17_651_001_568, 1_200_726_368),
        ]
    }
)


@pytest.mark.parametrize(
    ("total", "free", "size", "quantization"),
    [
        (8, 7.5, "E2B", "QAT Q4_0"),  # tight: amber, the smallest that fits at all
        (16, 13, "E4B", "QAT Q4_0"),  # the 12B with its full sliding-window cache needs 11 GB: amber
        (24, 20, "12B", "QAT Q4_0"),  # where it fits, the 12B beats E4B (the 26B A4B does not fit)
        (32, 27, "26B A4B", "QAT Q4_0"),
        (64, 56, "26B A4B", "Q8_0"),  # without a GPU the mixture of experts beats the dense 31B
    ],
)
def test_recommend_for_machine_sizes(total, free, size, quantization):
    pick = recommend(CATALOG, MachineInfo(total * GIB, int(free * GIB)), 8192)
    assert pick is not None
    assert (pick.entry.size, pick.entry.quantization) == (size, quantization)
    assert pick.fit.level in ("green", "amber")


def test_recommend_with_the_gpu_prefers_the_dense_31b():
    mac = MachineInfo(64 * GIB, 56 * GIB, [GpuInfo("Apple M3 Max", 48 * GIB, 48 * GIB, "apple")], True)
    pick = recommend(CATALOG, mac, 8192, offload_gpu=True)
    assert pick is not None and (pick.entry.size, pick.entry.quantization) == ("31B", "QAT Q4_0")
    assert pick.fit.level == FitLevel.GREEN


def test_recommend_nothing_when_nothing_fits():
    assert recommend(CATALOG, MachineInfo(4 * GIB, 3 * GIB), 8192) is None


def test_recommend_uses_the_header_of_a_local_file(smollm2_path):
    small_machine = MachineInfo(2 * GIB, int(1.5 * GIB))
    assert recommend(CATALOG, small_machine, 2048) is None
    e2b = next(e for e in CATALOG if e.size == "E2B" and e.quantization == "Q8_0")
    pick = recommend(CATALOG, small_machine, 2048, local={e2b.id: (smollm2_path, None)})
    assert pick is not None and pick.entry is e2b and pick.estimate.weights == smollm2_path.stat().st_size


# --- machine detection --------------------------------------------------------------------------


def test_detects_this_machine():
    started = time.monotonic()
    found = machine.detect_machine()
    assert time.monotonic() - started < 5
    assert found.total_ram > 0 and 0 < found.available_ram <= found.total_ram
    assert found.free_disk(Path.cwd()) > 0


def test_free_disk_of_a_folder_not_made_yet(tmp_path):
    assert machine.free_disk(tmp_path / "models" / "not-yet") > 0


def test_parse_meminfo():
    text = "MemTotal:       24684084 kB\nMemFree:        20000000 kB\nMemAvailable:   24189848 kB\n"
    assert machine.parse_meminfo(text) == (24684084 * 1024, 24189848 * 1024)
    old_kernel = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n"
    assert machine.parse_meminfo(old_kernel) == (1000 * 1024, 420 * 1024)
    assert machine.parse_meminfo("garbage") == (0, 0)


def test_parse_vm_stat():
    text = (
        "Mach Virtual Memory Statistics: (page size of 16384 bytes)\n"
        "Pages free:                               10000.\n"
        "Pages active:                            300000.\n"
        "Pages inactive:                          200000.\n"
        "Pages speculative:                         5000.\n"
        "Pages wired down:                        100000.\n"
    )
    assert machine.parse_vm_stat(text) == (10000 + 200000 + 5000) * 16384


def test_apple_gpu_budget():
    assert machine.apple_gpu_budget(16 * GIB) == 16 * GIB * 2 // 3  # about 10.7 GB, as Metal says
    assert machine.apple_gpu_budget(64 * GIB) == 48 * GIB
    assert machine.apple_gpu_budget(16 * GIB, wired_limit_mb=14336) == 14 * GIB  # user's setting


def test_nvidia_smi_output_and_its_absence():
    output = "NVIDIA GeForce RTX 3060, 12288, 11842\nNVIDIA A100-SXM4-80GB, [N/A], [N/A]\n"
    assert machine.parse_nvidia_smi(output) == [
        GpuInfo("NVIDIA GeForce RTX 3060", 12 * GIB, 11842 * MIB, "nvidia")
    ]
    calls = []

    def fake_run(args):
        calls.append(args)
        return output if args[0] == "nvidia-smi" else None

    assert machine.nvidia_smi_gpus(fake_run)[0].name == "NVIDIA GeForce RTX 3060"
    assert calls[0][1:] == ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
    assert machine.nvidia_smi_gpus(lambda args: None) is None
    assert machine.run_command(["hearth-no-such-program"]) is None  # absent binary: no exception


@pytest.mark.skipif(sys.platform != "linux", reason="Linux detection path")
def test_detect_machine_lists_nvidia_gpus_and_survives_their_absence():
    smi = "NVIDIA GeForce RTX 4090, 24564, 23000\n"
    found = machine.detect_machine(run=lambda args: smi if args[0] == "nvidia-smi" else None)
    assert found.gpus == [GpuInfo("NVIDIA GeForce RTX 4090", 24564 * MIB, 23000 * MIB, "nvidia")]
    assert not found.unified_memory
    none = machine.detect_machine(run=lambda args: None, nvml=lambda: None)
    assert none.gpus == [] and none.total_ram > 0


def test_a_hung_command_times_out(monkeypatch):
    monkeypatch.setattr(machine, "COMMAND_TIMEOUT", 0.2)
    started = time.monotonic()
    assert machine.run_command(["sleep", "5"]) is None
    assert time.monotonic() - started < 2


class FakeNvml:
    """NVML's C functions, answering through the ctypes objects they are given."""

    def __init__(self) -> None:
        self.shut_down = False

    def nvmlInit_v2(self):
        return 0

    def nvmlDeviceGetCount_v2(self, count):
        count._obj.value = 1
        return 0

    def nvmlDeviceGetHandleByIndex_v2(self, index, handle):
        handle._obj.value = 1234
        return 0

    def nvmlDeviceGetMemoryInfo(self, handle, memory):
        memory._obj.total, memory._obj.free = 8 * GIB, 6 * GIB
        return 0

    def nvmlDeviceGetName(self, handle, name, length):
        name.value = b"NVIDIA RTX A2000"
        return 0

    def nvmlShutdown(self):
        self.shut_down = True
        return 0


def test_nvml_through_ctypes():
    lib = FakeNvml()
    assert machine.nvml_gpus(lambda: lib) == [GpuInfo("NVIDIA RTX A2000", 8 * GIB, 6 * GIB, "nvidia")]
    assert lib.shut_down
    assert machine.nvml_gpus(lambda: None) is None
