"""The app's model services, made once per running app: the download queue, the access token, the
record of imports and last use, and the Models window (created when first shown).

The window gets what it uses and nothing more: the worker's supervisor (what is loaded), a way to
load a model in the chat, and the context length to estimate fits for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.paths import AppPaths
from app.library.access_token import AccessToken
from app.library.catalog import CatalogEntry, load_catalog
from app.library.installed import InstalledModel, ModelRegistry, installed_assistant, scan_installed
from app.library.jobs import ASSISTANT, JobState, assistant_job_id, repo_folder
from app.ui.background import BackgroundTasks
from app.ui.drafter_menu import AssistantOffer
from app.ui.library.download_queue import STATE_FILE, DownloadQueue
from app.ui.library.servers import ServerBook, is_remote
from app.ui.supervisor import WorkerSupervisor

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.library.transfer import TransferOptions
    from app.ui.library.models_window import LoadModel, ModelsWindow


class ModelManager:
    def __init__(
        self,
        paths: AppPaths,
        supervisor: WorkerSupervisor,
        *,
        catalog_file: Path | None = None,
        token: AccessToken | None = None,
        endpoint: str | None = None,
        options: TransferOptions | None = None,
        include_hf_cache: bool = True,
    ) -> None:
        self.paths = paths
        self.catalog_file = Path(catalog_file) if catalog_file else None  # None: the built-in one
        self.token = token or AccessToken()
        self.registry = ModelRegistry(paths.data)
        self.downloads = DownloadQueue(
            paths.data / STATE_FILE, endpoint=endpoint, token=self.token, options=options
        )
        self.include_hf_cache = include_hf_cache
        self.supervisor = supervisor
        self.window: ModelsWindow | None = None
        self._parent: QWidget | None = None
        self._load_model: LoadModel | None = None
        self._default_context: Callable[[], int] = lambda: 8192
        self.tasks = BackgroundTasks()
        self.servers: ServerBook | None = None  # remote engines (set once the window's settings exist)
        self.catalog: list[CatalogEntry] = []  # read off the UI thread once bound

    def bind(self, parent: QWidget, load_model: LoadModel, default_context: Callable[[], int]) -> None:
        """Where the Models window opens, how it loads a model for the chat, and the context length
        it estimates fits for."""
        self._parent, self._load_model, self._default_context = parent, load_model, default_context
        catalog_file = self.catalog_file
        self.tasks.run(
            lambda: load_catalog(catalog_file) if catalog_file else load_catalog(),
            self._set_catalog,
            name="catalog",
        )

    def _set_catalog(self, entries: list[CatalogEntry]) -> None:
        self.catalog = entries

    def catalog_entry_for(self, model_path: str) -> CatalogEntry | None:
        """The catalog entry whose download is ``model_path`` (none until the catalog is read)."""
        path = os.path.normpath(model_path)
        for entry in self.catalog:
            if os.path.normpath(repo_folder(self.paths.models, entry.repo_id) / entry.model.name) == path:
                return entry
        return None

    def assistant_offer(self, model_path: str) -> AssistantOffer | None:
        """The MTP assistant the catalog pairs with the model at ``model_path``, if any, and where
        its download stands. One ``stat``: fine on the UI thread."""
        entry = self.catalog_entry_for(model_path)
        if entry is None or entry.assistant is None:
            return None
        assistant = entry.assistant
        job = self.downloads.job(assistant_job_id(entry.repo_id, entry.model.name, assistant.file.name))
        return AssistantOffer(
            name=assistant.display_name,
            size=assistant.file.size,
            job=job if job is not None and job.state is not JobState.DONE else None,
            installed=installed_assistant(entry, self.paths.models) is not None,
            download=lambda: self.downloads.add_assistant(entry, self.paths.models),
        )

    def show(self, *, tab: int | None = None, welcome: bool = False) -> ModelsWindow:
        """Open (or bring forward) the Models window."""
        from app.ui.library.models_window import DISCOVER, ModelsWindow

        if self.window is None:
            assert self._load_model is not None, "bind() the Models window first"
            self.window = ModelsWindow(
                self._parent,
                self.supervisor,
                self._load_model,
                self._default_context,
                self.downloads,
                self.registry,
                self.paths.models,
                self.catalog_file,
                include_hf_cache=self.include_hf_cache,
                servers=self.servers,
            )
        self.window.present(DISCOVER if tab is None else tab, welcome=welcome)
        return self.window

    def open_if_first_run(self) -> None:
        """Open the Models window with a welcome when no model is on this computer yet (checked off
        the UI thread: the scan reads file headers)."""
        models_dir, registry, include = self.paths.models, self.registry, self.include_hf_cache

        def wanted() -> bool:
            # Not if the user opened a model file meanwhile, or already has the window.
            return self.window is None and not self.supervisor.model_chosen

        def found(installed: list[InstalledModel]) -> None:
            if not installed and wanted():
                self.show(welcome=True)

        def work() -> list[InstalledModel]:
            # Also import the window's modules here, not in the UI thread's first paint.
            import app.ui.library.models_window  # noqa: F401

            return scan_installed(models_dir, registry, include)

        def failed(_error: BaseException) -> None:
            if wanted():
                self.show(welcome=True)

        self.tasks.run(work, found, failed, name="first-run")

    def connect_notices(self, show_notice: Callable[[str], None]) -> None:
        """Tell the user (in the main window) when a download ends, also with the Models window closed."""
        queue = self.downloads

        def title(job_id: str) -> str:
            job = queue.job(job_id)
            return job.title if job else "The model"

        def finished(job_id: str) -> str:
            job = queue.job(job_id)
            if job is not None and job.role == ASSISTANT:
                return f"{job.title} is downloaded: it drafts for its model whenever that is loaded."
            return f"{title(job_id)} is downloaded and ready to use (Ctrl+M)."

        queue.finished.connect(lambda job_id, _path: show_notice(finished(job_id)))
        queue.failed.connect(lambda job_id, message: show_notice(f"{title(job_id)}: {message}"))

    def record_use(self, loaded: Any) -> None:
        """Remember when a model was last loaded (a ``protocol.ModelLoaded``), for the Installed list."""
        if is_remote(loaded.model_path):
            return  # a server's model is not a file here
        registry, path = self.registry, Path(loaded.model_path)

        def written(_: object) -> None:
            if self.window is not None:
                self.window.refresh_installed()

        self.tasks.run(lambda: registry.record_use(path), written, name="record-use")

    def shutdown(self) -> None:
        """Stop background work for the app's exit; a running download resumes next time."""
        self.tasks.close()
        if self.window is not None:
            self.window.shutdown()
        self.downloads.shutdown()
