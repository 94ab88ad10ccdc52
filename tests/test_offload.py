"""GPU offload, by its logic: this machine has no GPU. GPUs come from recorded sysfs trees of
AMD and Intel cards, layer sizes from real GGUF headers, and the plan is checked against them.
The load path runs with offload forced off (test_worker.py), and with layers asked of a build
that has no GPU backend (llama.cpp then keeps them on the processor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import protocol as p
from app.gguf.reader import read_gguf_info
from app.library.fit import FitLevel, MemoryEstimate, assess, estimate
from app.library.machine import GIB, GpuInfo, MachineInfo, sysfs_gpus
from app.library.offload import AUTOMATIC, OFF, assess_split, plan_for_model, plan_offload

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_GEMMA4 = FIXTURES / "tiny-gemma4.gguf"


def card(root: Path, name: str, vendor: str, total: int | None, used: int = 0, product: str = "") -> None:
    device = root / "class" / "drm" / name / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    if total is not None:
        (device / "mem_info_vram_total").write_text(f"{total}\n")
        (device / "mem_info_vram_used").write_text(f"{used}\n")
    if product:
        (device / "product_name").write_text(product + "\n")


def test_amd_and_intel_cards_with_memory_of_their_own_are_found(tmp_path):
    card(tmp_path, "card0", "0x1002", 16 * GIB, 2 * GIB, "AMD Radeon RX 7800 XT")
    card(tmp_path, "card1", "0x8086", 12 * GIB, 0)  # Intel Arc on the xe driver, unnamed
    card(tmp_path, "card2", "0x1002", 512 * 1024**2)  # an APU's carve-out of system memory
    card(tmp_path, "card3", "0x8086", None)  # integrated Intel graphics: no memory of its own
    card(tmp_path, "card4", "0x10de", 24 * GIB)  # NVIDIA: read through its own tools instead
    (tmp_path / "class" / "drm" / "card0-HDMI-A-1").mkdir()
    gpus = sysfs_gpus(tmp_path)
    assert [(g.name, g.kind, g.total_memory, g.free_memory) for g in gpus] == [
        ("AMD Radeon RX 7800 XT", "amd", 16 * GIB, 14 * GIB),
        ("INTEL GPU (card1)", "intel", 12 * GIB, 12 * GIB),
    ]


def test_no_sysfs_no_gpus(tmp_path):
    assert sysfs_gpus(tmp_path) == []


def test_a_headers_layers_are_sized(smollm2_path):
    info = read_gguf_info(smollm2_path)
    assert len(info.layer_bytes) == 30 and len(set(info.layer_bytes.values())) == 1
    assert sum(info.layer_bytes.values()) + info.other_bytes < info.file_size
    assert info.output_bytes == 0  # SmolLM2 ties its output to the token embeddings


@pytest.fixture
def smollm2(smollm2_path):
    info = read_gguf_info(smollm2_path)
    return info, estimate(smollm2_path, None, 4096)


def test_automatic_takes_every_layer_that_fits_and_the_projector_when_there_is_room(smollm2):
    info, needed = smollm2
    layer = info.layer_bytes[0] + needed.kv_cache // 30
    roomy = plan_offload(info, needed, free_vram=8 * GIB, projector_bytes=300 * 1024**2)
    assert roomy.gpu_layers == 31 and roomy.output_on_gpu and roomy.projector_on_gpu
    assert roomy.words(8 * GIB).startswith("All layers on the GPU")
    # Room for the compute buffers and exactly ten layers, with the margin kept.
    free = int((needed.compute_overhead + 10 * layer + 1000) / 0.9) + 1
    ten = plan_offload(info, needed, free_vram=free, projector_bytes=300 * 1024**2)
    assert ten.gpu_layers == 10 and not ten.projector_on_gpu
    assert ten.vram_bytes == needed.compute_overhead + 10 * layer
    assert ten.ram_bytes == needed.total - 10 * layer
    assert ten.words(free).startswith("10 of 30 layers on the GPU")
    # Too little for even the compute buffers: all on the processor.
    assert plan_offload(info, needed, free_vram=needed.compute_overhead).gpu_layers == 0


def test_off_and_a_number_of_layers_are_the_users_to_choose(smollm2):
    info, needed = smollm2
    assert plan_offload(info, needed, 8 * GIB, OFF).gpu_layers == 0
    assert (
        plan_offload(info, needed, 0, AUTOMATIC).words(0)
        == f"On the processor: {needed.total / GIB:.1f} GB of RAM."
    )
    assert plan_offload(info, needed, 8 * GIB, 12).gpu_layers == 12
    assert plan_offload(info, needed, 8 * GIB, 99).gpu_layers == 31  # all of them and the output


def test_layers_asked_of_a_build_without_a_gpu_backend_stay_on_the_processor(qtbot):
    from app.ui.supervisor import WorkerSupervisor

    supervisor = WorkerSupervisor()
    try:
        with qtbot.waitSignal(supervisor.model_loaded, timeout=60_000) as loaded:
            supervisor.load_model(str(TINY_GEMMA4), 2048, "auto", gpu_layers=99)
        assert loaded.args[0].audio and loaded.args[0].vision
        with qtbot.waitSignal(supervisor.finished, timeout=60_000) as done:
            from app.core.generation import GenerationSettings
            from app.engine.protocol import ChatTurn, Role

            supervisor.generate("g", [ChatTurn(Role.USER, "Hi")], GenerationSettings(max_tokens=4))
        assert done.args[0].completion_tokens > 0
    finally:
        supervisor.stop()


# --- the fit, RAM and GPU memory apart -------------------------------------------------------------

RTX_4060 = GpuInfo("NVIDIA GeForce RTX 4060", 8 * GIB, int(7.5 * GIB), "nvidia")
RTX_4090 = GpuInfo("NVIDIA GeForce RTX 4090", 24 * GIB, 23 * GIB, "nvidia")


def laptop(*gpus: GpuInfo, free_ram: float = 20) -> MachineInfo:
    return MachineInfo(32 * GIB, int(free_ram * GIB), list(gpus))


def test_the_fit_says_what_goes_to_the_gpu_and_what_stays_in_ram():
    big = MemoryEstimate(
        weights=17 * GIB, projector=GIB, kv_cache=2 * GIB, compute_overhead=GIB, context_length=8192
    )
    small = MemoryEstimate(
        weights=5 * GIB, projector=GIB, kv_cache=GIB, compute_overhead=GIB, context_length=8192
    )
    whole = assess_split(small, laptop(RTX_4090))
    assert whole.level is FitLevel.GREEN
    assert whole.explanation.startswith("All of it runs on the GPU: on the GPU 8.0 GB of 23.0 GB free")
    assert "in RAM 1.0 GB of 20.0 GB free" in whole.explanation  # the engine process and its buffers
    part = assess_split(big, laptop(RTX_4060))
    assert part.explanation.startswith("About 30% of it runs on the GPU, the rest on the processor")
    assert (
        "NVIDIA GeForce RTX 4060" in part.explanation and "in RAM 15.2 GB of 20.0 GB free" in part.explanation
    )
    assert part.level is FitLevel.AMBER  # fits, but most of it on the processor: slow
    too_big = assess_split(big, laptop(RTX_4060, free_ram=8))
    assert too_big.level is FitLevel.RED and too_big.explanation.startswith(
        "Too big even with the GPU's help"
    )
    # Without a GPU, the plain RAM fit.
    assert assess_split(small, laptop()).explanation == assess(small, laptop()).explanation


def test_a_model_files_plan_counts_its_layers_and_projector():
    tiny = plan_for_model(
        TINY_GEMMA4, TINY_GEMMA4.with_name("tiny-gemma4-mmproj.gguf"), 4096, AUTOMATIC, laptop(RTX_4060)
    )
    assert tiny is not None and tiny.gpu_layers == tiny.layers + 1 and tiny.projector_on_gpu
    assert tiny.words(RTX_4060.free_memory).startswith("All layers on the GPU")
    assert plan_for_model(TINY_GEMMA4, None, 4096, AUTOMATIC, laptop()) is None  # no GPU: no plan


def test_the_window_plans_each_load_and_says_this_build_runs_on_the_processor(qtbot, start_app, monkeypatch):
    """The GPU itself is the boundary this machine cannot cross: the window is told it has an
    RTX 4060 (``detect_machine`` replaced); the plan, the load and the engine's answer are real."""
    import app.ui.gpu_offload as gpu_offload

    monkeypatch.setattr(gpu_offload, "detect_machine", lambda: laptop(RTX_4060))
    hearth = start_app(TINY_GEMMA4)
    window = hearth.window
    qtbot.waitUntil(lambda: window.gpu.has_gpu, timeout=10_000)
    window.reload_model()
    qtbot.waitUntil(
        lambda: (hearth.supervisor.loaded_model or p.ModelLoaded("", "", "", 0, 0, 0, False)).gpu_layers > 0,
        timeout=60_000,
    )
    loaded = hearth.supervisor.loaded_model
    assert loaded.gpu_layers == len(read_gguf_info(TINY_GEMMA4).layer_bytes) + 1 and not loaded.gpu_offload
    assert "this build of Hearth's engine has no GPU support" in window.model_button.toolTip()
    window.menus.gpu_menu.aboutToShow.emit()
    labels = [action.text() for action in window.menus.gpu_menu.actions()]
    assert labels[0] == "NVIDIA GeForce RTX 4060: 7.5 GB free" and "Off: run on the processor" in labels
    off = next(a for a in window.menus.gpu_menu.actions() if a.text().startswith("Off"))
    off.trigger()  # off for this model: it loads again, on the processor
    qtbot.waitUntil(
        lambda: hearth.supervisor.loaded_model is not None and hearth.supervisor.loaded_model.gpu_layers == 0,
        timeout=60_000,
    )
    assert window.settings.gpu_offload == {str(TINY_GEMMA4): OFF}
    assert "GPU offload is off for this model" in window.model_button.toolTip()
