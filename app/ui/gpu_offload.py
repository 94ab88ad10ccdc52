"""GPU offload in the window: the per-model setting (File › GPU offload: automatic, off, or a
number of layers), and the plan made for each load (app.library.offload) from the GPU's free
memory at that moment.

Finding GPUs and reading a model's header take a moment (``nvidia-smi``, the disk), so both run
off the UI thread. On a computer where no GPU was found a model loads at once, on the processor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from app.core.settings import Settings
from app.engine import protocol as p
from app.gguf.projectors import projector_for
from app.library.fit import gb
from app.library.machine import MachineInfo, detect_machine
from app.library.offload import AUTOMATIC, OFF, OffloadPlan, gpu_memory, plan_for_model
from app.ui.background import BackgroundTasks

NO_GPU = "No GPU with memory of its own was found: models run on the processor."

# (path, projector, name, gpu_layers, projector_gpu): load with this plan.
Load = Callable[[str, str, str, int, bool], None]


class GpuOffload(QObject):
    def __init__(
        self,
        settings: Callable[[], Settings],
        save: Callable[[Settings], None],
        tasks: BackgroundTasks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings, self._save, self._tasks = settings, save, tasks
        self.machine: MachineInfo | None = None  # None until detected
        self.plans: dict[str, str] = {}  # model path -> where its last load put it, in words
        tasks.run(detect_machine, self._detected, lambda _error: self._detected(MachineInfo()), name="gpus")

    def _detected(self, machine: MachineInfo) -> None:
        self.machine = machine

    @property
    def has_gpu(self) -> bool:
        return bool(self.machine and self.machine.gpus and gpu_memory(self.machine)[0] > 0)

    def setting(self, path: str) -> int:
        return self._settings().gpu_offload.get(path, AUTOMATIC)

    def load(self, path: str, projector: str, name: str, context: int, load: Load) -> None:
        """Load ``path`` with the plan its setting and the GPU's free memory give (at once, on the
        processor, where there is no GPU)."""
        setting = self.setting(path)
        known_without_gpu = self.machine is not None and not self.has_gpu
        if known_without_gpu or setting == OFF:
            load(path, projector, name, 0, False)
            return

        def plan() -> tuple[OffloadPlan | None, int]:
            machine = detect_machine()  # the free memory now, not at start
            found = Path(projector) if projector not in ("", "auto") else None
            if projector == "auto":
                found = projector_for(path)
            return plan_for_model(Path(path), found, context, setting, machine), gpu_memory(machine)[0]

        def planned(result: tuple[OffloadPlan | None, int]) -> None:
            offload, free = result
            if offload is None:
                load(path, projector, name, 0, False)
                return
            self.plans[path] = offload.words(free)
            load(path, projector, name, offload.gpu_layers, offload.projector_on_gpu)

        def failed(error: BaseException) -> None:  # an unreadable header: the load says why
            load(path, projector, name, 0, False)

        self._tasks.run(plan, planned, failed, name="offload-plan")

    def describe(self, loaded: p.ModelLoaded) -> str:
        """Where the loaded model runs, for its tooltip."""
        if loaded.architecture == "remote":
            return "Runs on the server"
        if loaded.gpu_layers and not loaded.gpu_offload:
            return "On the processor: this build of Hearth's engine has no GPU support"
        if loaded.gpu_layers:
            return self.plans.get(loaded.model_path, f"{loaded.gpu_layers} layers on the GPU")
        if self.has_gpu and self.setting(loaded.model_path) == OFF:
            return "On the processor (GPU offload is off for this model)"
        return "On the processor"

    # --- the menu --------------------------------------------------------------------------

    def fill_menu(self, menu: QMenu, model_path: str, reload: Callable[[], None], parent: QWidget) -> None:
        """File › GPU offload, for the loaded model (filled as the menu opens)."""
        menu.clear()
        if not model_path:
            menu.addAction("Load a model first").setEnabled(False)
            return
        if not self.has_gpu:
            menu.addAction(NO_GPU if self.machine is not None else "Looking for GPUs…").setEnabled(False)
            return
        setting = self.setting(model_path)
        free, _total, names = gpu_memory(self.machine) if self.machine else (0, 0, "")
        menu.addAction(f"{names}: {gb(free)} free").setEnabled(False)
        menu.addSeparator()
        group = QActionGroup(menu)
        choices: list[tuple[int, str]] = [
            (AUTOMATIC, "Automatic: as many layers as fit"),
            (OFF, "Off: run on the processor"),
        ]
        if setting > 0:
            choices.append((setting, f"{setting} layers"))
        for value, label in choices:
            action = QAction(label, menu, checkable=True, checked=value == setting)
            action.setData(value)
            group.addAction(action)
            menu.addAction(action)
        group.triggered.connect(lambda chosen: self.choose(model_path, int(chosen.data()), reload))
        menu.addAction("A number of layers…", lambda: self._ask_layers(model_path, reload, parent))

    def _ask_layers(self, model_path: str, reload: Callable[[], None], parent: QWidget) -> None:
        current = max(1, self.setting(model_path))
        layers, ok = QInputDialog.getInt(
            parent,
            "GPU offload",
            "Layers to put on the GPU (the rest stay on the processor):",
            current,
            1,
            999,
        )
        if ok:
            self.choose(model_path, layers, reload)

    def choose(self, model_path: str, setting: int, reload: Callable[[], None]) -> None:
        settings = self._settings()
        chosen = {**settings.gpu_offload, model_path: setting}
        if setting == AUTOMATIC:
            chosen.pop(model_path)
        if chosen != settings.gpu_offload:
            self._save(replace(settings, gpu_offload=chosen))
            reload()
