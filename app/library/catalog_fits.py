"""The catalog judged against this computer: a green/amber/red fit for every entry and the one to
recommend. Qt-free and slow (it runs ``nvidia-smi`` and may read GGUF headers): call it off the
UI thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.library import fit as fitting
from app.library.catalog import CatalogEntry
from app.library.fit import Fit
from app.library.machine import GIB, MachineInfo, detect_machine, free_disk
from app.library.offload import assess_split

LocalFiles = Mapping[str, tuple[Path, Path | None]]


@dataclass(frozen=True)
class CatalogFits:
    machine: MachineInfo
    free_disk: int  # bytes free where models are saved
    context_length: int
    fits: dict[str, Fit]  # entry id -> fit, for the entries that could be estimated
    recommended: str | None  # entry id


def assess_catalog(
    entries: Sequence[CatalogEntry],
    context_length: int,
    models_dir: Path,
    *,
    local: LocalFiles | None = None,
    machine: MachineInfo | None = None,
) -> CatalogFits:
    """Fits of every entry at ``context_length``; entries already on disk (``local``: entry id ->
    model and projector files) are estimated from their own headers."""
    machine = machine or detect_machine()
    local = local or {}
    fits: dict[str, Fit] = {}
    for entry in entries:
        found = fitting.estimate_entry(entry, entries, context_length, local.get(entry.id))
        if found is not None:
            fits[entry.id] = assess_split(found, machine)
    best = fitting.recommend(entries, machine, context_length, local=dict(local))
    return CatalogFits(
        machine, free_disk(models_dir), context_length, fits, best.entry.id if best is not None else None
    )


def gigabytes(num_bytes: int) -> str:
    """Memory and model sizes in binary GB, as ``fit`` words them."""
    return f"{num_bytes / GIB:.1f} GB"


def describe_machine(machine: MachineInfo, free: int) -> str:
    """ "This computer: 16 GB memory, 9.8 GB free · 120 GB free for models · NVIDIA RTX 4060 (8 GB)"."""
    parts = []
    if machine.total_ram:
        memory = f"{round(machine.total_ram / GIB)} GB memory"
        if machine.available_ram:
            memory += f", {gigabytes(machine.available_ram)} free"
        parts.append(memory)
    else:
        parts.append("memory unknown")
    if free:
        parts.append(f"{gigabytes(free)} free for models")
    parts.extend(f"{gpu.name} ({round(gpu.total_memory / GIB)} GB)" for gpu in machine.gpus)
    return "This computer: " + " · ".join(parts)
