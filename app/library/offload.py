"""How much of a model goes to the GPU: a number of its repeating layers (llama.cpp offloads the
last ones first; one more than the model has moves the output layer too) and whether the
projector goes along.

"Automatic" takes the most layers whose weights and share of the KV cache fit in the GPU's free
memory, after room for the GPU's compute buffers and a margin for the driver and the desktop;
the projector goes to the GPU when there is room left. What stays is counted against RAM, so
the fit estimate can say where each part lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gguf.reader import GGUFInfo, read_gguf_info
from app.library.fit import Fit, FitLevel, MemoryEstimate, assess, gb
from app.library.fit import estimate as estimate_memory
from app.library.machine import MachineInfo

AUTOMATIC = -1
OFF = 0
VRAM_SHARE = 0.90  # of the free GPU memory: the rest is left to the driver and the desktop


@dataclass(frozen=True)
class OffloadPlan:
    gpu_layers: int  # llama.cpp's n_gpu_layers
    layers: int  # the model's repeating layers
    projector_on_gpu: bool
    vram_bytes: int  # what the GPU holds
    ram_bytes: int  # what stays in RAM

    @property
    def output_on_gpu(self) -> bool:
        return self.gpu_layers > self.layers

    def words(self, free_vram: int) -> str:
        if not self.gpu_layers:
            return f"On the processor: {gb(self.ram_bytes)} of RAM."
        shown = min(self.gpu_layers, self.layers)
        where = "all" if shown == self.layers else f"{shown} of {self.layers}"
        parts = [f"{where} layers on the GPU ({gb(self.vram_bytes)} of its {gb(free_vram)} free)"]
        if self.projector_on_gpu:
            parts.append("the projector too")
        text = ", ".join(parts)
        return f"{text[0].upper()}{text[1:]}; {gb(self.ram_bytes)} in RAM."


def _layer_costs(info: GGUFInfo, estimate: MemoryEstimate) -> list[int]:
    """Each layer's weights and share of the KV cache, from the last layer to the first."""
    layers = max(info.layer_bytes, default=-1) + 1
    kv_each = estimate.kv_cache // layers if layers else 0
    return [info.layer_bytes.get(i, 0) + kv_each for i in reversed(range(layers))]


def plan_offload(
    info: GGUFInfo,
    estimate: MemoryEstimate,
    free_vram: int,
    setting: int = AUTOMATIC,
    projector_bytes: int = 0,
) -> OffloadPlan:
    """Where the model (``info``, with ``estimate`` from ``fit.estimate``) runs on a GPU with
    ``free_vram`` bytes free: ``setting`` is AUTOMATIC, OFF or a number of layers."""
    costs = _layer_costs(info, estimate)
    layers = len(costs)
    if setting == OFF or free_vram <= 0 or not layers:
        return OffloadPlan(0, layers, False, 0, estimate.total)
    reserve = estimate.compute_overhead  # the GPU gets compute buffers of about the CPU's size
    budget = int(free_vram * VRAM_SHARE) - reserve
    if setting == AUTOMATIC:
        chosen, used = 0, 0
        for cost in costs:
            if used + cost > budget:
                break
            chosen, used = chosen + 1, used + cost
        if chosen == layers and used + info.output_bytes <= budget:
            chosen, used = layers + 1, used + info.output_bytes
    else:
        chosen = min(setting, layers + 1)
        used = sum(costs[: min(chosen, layers)]) + (info.output_bytes if chosen > layers else 0)
    if not chosen:
        return OffloadPlan(0, layers, False, 0, estimate.total)
    projector_on_gpu = 0 < projector_bytes <= budget - used
    vram = used + reserve + (projector_bytes if projector_on_gpu else 0)
    ram = max(0, estimate.total - used - (projector_bytes if projector_on_gpu else 0))
    return OffloadPlan(chosen, layers, projector_on_gpu, vram, ram)


def gpu_memory(machine: MachineInfo) -> tuple[int, int, str]:
    """(free, total, name) of the GPU memory llama.cpp would use: an Apple GPU's share of the
    unified memory, or every discrete card together (llama.cpp splits layers across them)."""
    apple = [gpu for gpu in machine.gpus if gpu.kind == "apple"]
    cards = apple[:1] or machine.gpus
    names = " and ".join(sorted({gpu.name for gpu in cards}))
    return sum(gpu.free_memory for gpu in cards), sum(gpu.total_memory for gpu in cards), names


def assess_split(estimate: MemoryEstimate, machine: MachineInfo) -> Fit:
    """The fit of a model run with GPU offload set to automatic, with RAM and GPU memory judged
    apart: what the GPU takes (its layers weigh about the same, so a share of the weights and the
    context), and what stays in RAM. On a computer without a GPU, the plain fit."""
    free_vram, total_vram, names = gpu_memory(machine)
    if not machine.gpus or free_vram <= 0 or machine.unified_memory:
        return assess(estimate, machine, offload_gpu=machine.unified_memory)
    budget = max(0, int(free_vram * VRAM_SHARE) - estimate.compute_overhead)
    layers_bytes = estimate.weights + estimate.kv_cache
    on_gpu = min(layers_bytes, budget)
    projector_on_gpu = 0 < estimate.projector <= budget - on_gpu
    vram = on_gpu + (estimate.projector if projector_on_gpu else 0)
    ram = estimate.total - vram
    gpu_words = f"on the GPU {gb(vram + estimate.compute_overhead)} of {gb(free_vram)} free ({names})"
    ram_words = f"in RAM {gb(ram)} of {gb(machine.available_ram)} free"
    ram_fit = assess(
        MemoryEstimate(ram, 0, 0, 0, estimate.context_length), machine
    )  # the processor's side alone
    if ram_fit.level is FitLevel.RED:
        return Fit(
            FitLevel.RED,
            ram,
            machine.available_ram,
            f"Too big even with the GPU's help: {gpu_words}, {ram_words}.",
        )
    level: FitLevel
    if on_gpu == layers_bytes:
        speed = "All of it runs on the GPU"
        level = ram_fit.level
    elif on_gpu == 0:
        speed = "The GPU has no room for it, so it runs on the processor"
        level = ram_fit.level
    else:
        share = on_gpu / layers_bytes
        speed = (
            f"About {share:.0%} of it runs on the GPU, the rest on the processor (slower than all on the GPU)"
        )
        level = FitLevel.AMBER if ram_fit.level is FitLevel.GREEN and share < 0.5 else ram_fit.level
    if total_vram and vram > total_vram:
        level = FitLevel.RED
    return Fit(
        level, estimate.total, free_vram + machine.available_ram, f"{speed}: {gpu_words}, {ram_words}."
    )


def plan_for_model(
    model: Path, projector: Path | None, context_length: int, setting: int, machine: MachineInfo
) -> OffloadPlan | None:
    """The offload plan for loading ``model`` on this machine (reads the GGUF headers: off the UI
    thread); None on a computer with no GPU to offload to."""
    free_vram, _total, _names = gpu_memory(machine)
    if not machine.gpus or free_vram <= 0:
        return None
    info = read_gguf_info(model)
    found = estimate_memory(model, projector, context_length)
    return plan_offload(info, found, free_vram, setting, found.projector)
