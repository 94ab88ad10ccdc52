"""The Help menu's diagnostics: open the logs folder, and copy a summary a user can hand over
(versions, this computer, the loaded model, the engine), which never holds chat content."""

from __future__ import annotations

import logging
from pathlib import Path

import PySide6
from PySide6.QtCore import QObject, QUrl, Signal, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication

from app.core.paths import AppPaths
from app.library.diagnostics import AppFacts, ModelFacts, RecentProblems, SystemFacts, probe_system, summarize
from app.ui.background import BackgroundTasks
from app.ui.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)


class DiagnosticsReport(QObject):
    notice = Signal(str)
    """Something to tell the user in the status line."""
    copied = Signal(str)
    """The diagnostics were put on the clipboard: their text."""

    def __init__(
        self,
        paths: AppPaths,
        supervisor: WorkerSupervisor,
        recent: RecentProblems | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths = paths
        self._supervisor = supervisor
        self._recent = recent or RecentProblems()  # none: nothing logged is kept for the report
        self._tasks = BackgroundTasks(self)
        self._gathering = False

    def open_logs_folder(self) -> None:
        folder = self._paths.logs
        folder.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.notice.emit(f"The logs folder could not be opened; it is {folder}.")

    def copy_to_clipboard(self) -> None:
        """Gather the facts off the UI thread (``nvidia-smi`` can take seconds), then copy."""
        if self._gathering:
            return
        self._gathering = True
        self.notice.emit("Gathering diagnostics…")
        logs = self._paths.logs
        self._tasks.run(
            lambda: probe_system(logs), self._on_probed, self._on_probe_failed, name="diagnostics"
        )

    def shutdown(self) -> None:
        self._tasks.close()

    def _on_probed(self, system: SystemFacts) -> None:
        self._gathering = False
        text = summarize(system, self._app_facts())
        QGuiApplication.clipboard().setText(text)
        self.notice.emit("Diagnostics copied to the clipboard. They hold no chat content.")
        self.copied.emit(text)

    def _on_probe_failed(self, error: BaseException) -> None:
        self._gathering = False
        log.warning("Could not gather diagnostics: %s", type(error).__name__, exc_info=error)
        self.notice.emit("The diagnostics could not be gathered; the logs folder has the details.")

    def _app_facts(self) -> AppFacts:
        supervisor = self._supervisor
        loaded = supervisor.loaded_model
        model = None
        if loaded is not None:
            model = ModelFacts(
                file_name=Path(loaded.model_path).name,
                architecture=loaded.architecture,
                context_length=loaded.context_length,
                context_length_train=loaded.context_length_train,
                vision=loaded.vision,
                audio=loaded.audio,
                load_ms=loaded.load_ms,
                projector_file_name=Path(loaded.projector_path).name if loaded.projector_path else "",
            )
        platform_name = QGuiApplication.platformName()
        return AppFacts(
            qt=f"{qVersion()} (PySide6 {PySide6.__version__}, platform {platform_name})",
            data_folder=self._paths.data,
            logs_folder=self._paths.logs,
            worker_state=supervisor.state.value,
            worker_pid=supervisor.worker_pid,
            model=model,
            recent_problems=self._recent.lines(),
        )
