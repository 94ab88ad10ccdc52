"""Which installed model writes down dictation when the chat's model cannot hear, and whether it
fits in memory beside the chat's model. Reads model headers: call it off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gguf.reader import GGUFError
from app.library.fit import AMBER_SHARE, MemoryEstimate, estimate, gb
from app.library.installed import InstalledModel
from app.library.machine import MachineInfo

# The longest recording (300 s at 25 tokens a second: 7,500), and the room the worker keeps for
# the answer (a quarter of the context at most), for the words written down.
EARS_CONTEXT = 12288
# The catalog's hearing model to offer when none is installed: the smallest, and enough to
# write down speech.
EARS_CATALOG_ID = "gemma-4-e2b-it-q4_k_m"


@dataclass(frozen=True)
class LoadedModel:
    """The chat's model as the worker has it loaded."""

    path: Path
    projector: Path | None
    context_length: int


def choose_ears(installed: list[InstalledModel]) -> InstalledModel | None:
    """The smallest installed model that hears (E2B before E4B): it loads soonest and leaves the
    most room for the chat's model."""
    hearing = [m for m in installed if m.audio and m.projector is not None]
    return min(hearing, key=lambda m: m.size_bytes, default=None)


def _need(path: Path, projector: Path | None, context: int) -> MemoryEstimate | None:
    try:
        return estimate(path, projector, context)
    except (OSError, GGUFError, ValueError):
        return None


def fit_beside(ears: InstalledModel, loaded: LoadedModel | None, machine: MachineInfo) -> str:
    """Why ``ears`` cannot be loaded beside the chat's model ("" when both fit).

    Both are counted in full: a model's weights are a mapped file, which the system reports as
    free memory even while the model uses it."""
    needed = _need(ears.path, ears.projector, EARS_CONTEXT)
    if needed is None or not machine.total_ram:
        return ""  # not measurable: try, and let a failed load speak for itself
    beside = _need(loaded.path, loaded.projector, loaded.context_length) if loaded else None
    both = needed.total + (beside.total if beside else 0)
    if both <= AMBER_SHARE * machine.total_ram and needed.total <= machine.available_ram:
        return ""
    name = ears.name or ears.path.name
    if beside is None:
        return (
            f"Dictation needs {name}, which needs about {gb(needed.total)}; this computer has "
            f"{gb(machine.available_ram)} free. Close other programs and try again."
        )
    return (
        f"Dictation needs {name} loaded beside the chat's model: together about {gb(both)}, more "
        f"than this computer can spare ({gb(machine.available_ram)} free of "
        f"{gb(machine.total_ram, whole=True)}). Load a model that hears for the chat (Gemma 4 E2B or E4B), "
        "or a smaller one."
    )
