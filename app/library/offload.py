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

from app.gguf.reader import GGUFInfo
from app.library.fit import MemoryEstimate, gb

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
