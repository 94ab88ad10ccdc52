"""The Models window: Discover (the catalog, what fits, downloads), Installed, and any Hugging Face
repo. Non-modal; every scan, header read, network call and fit estimate runs off the UI thread."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.library.catalog import CatalogEntry, load_catalog
from app.library.catalog_fits import CatalogFits, assess_catalog, describe_machine
from app.library.errors import ErrorKind
from app.library.importing import ImportCheck, check_import
from app.library.installed import (
    InstalledModel,
    ModelRegistry,
    delete_installed,
    installed_assistants,
    scan_installed,
)
from app.library.jobs import ASSISTANT, repo_folder
from app.library.repo_files import RepoListing, list_gguf_files
from app.ui.background import BackgroundTasks
from app.ui.library.catalog_table import CatalogTableModel
from app.ui.library.discover_tab import DiscoverTab
from app.ui.library.download_queue import DownloadQueue
from app.ui.library.hub_tab import HubTab
from app.ui.library.installed_tab import InstalledTab
from app.ui.library.installed_table import InstalledTableModel, same_file
from app.ui.library.servers import ServerBook
from app.ui.library.servers_tab import ServersTab
from app.ui.library.style import apply_models_style, is_dark
from app.ui.supervisor import WorkerSupervisor

WELCOME = "Pick a model to start. Everything runs on this computer."
OFFLINE_NOTE = (
    "Hearth is set to work offline (HF_HUB_OFFLINE), so it cannot download models. "
    "Models already on this computer still work."
)
DISCOVER, INSTALLED, HUB, SERVERS = 0, 1, 2, 3
HEADLESS_PLATFORMS = ("offscreen", "minimal")


@dataclass(frozen=True)
class Scan:
    """What a look at the disk found: the installed models, and the catalog's MTP assistants
    (entry id -> file) downloaded beside them."""

    models: list[InstalledModel]
    assistants: dict[str, Path]


class LoadModel(Protocol):
    """Load a model for the chat: its file, its projector ("auto": the one that belongs to it;
    "": none) and the name to show."""

    def __call__(self, path: str, projector: str = "auto", name: str = "") -> None: ...


def offline_switch_on() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


class ModelsWindow(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        supervisor: WorkerSupervisor,
        load_model: LoadModel,
        default_context: Callable[[], int],
        queue: DownloadQueue,
        registry: ModelRegistry,
        models_dir: Path,
        catalog_file: Path | None,
        *,
        include_hf_cache: bool = True,
        servers: ServerBook | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelsWindow")
        self.setWindowTitle(f"Models — {APP_NAME}")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self.setMinimumSize(720, 520)
        self.resize(1120, 720)
        self.supervisor = supervisor
        self._load_model = load_model
        self._default_context = default_context
        self.queue = queue
        self.registry = registry
        self.models_dir = Path(models_dir)
        self.catalog_file = catalog_file
        self.include_hf_cache = include_hf_cache
        self.servers_book = servers
        self.tasks = BackgroundTasks(self)
        self._select_recommended = False
        self._scanning = False
        self._scan_again = False
        self._pending_select = ""  # select this model in Installed after the next scan

        self.catalog_table = CatalogTableModel(queue, self)
        self.installed_table = InstalledTableModel(self)
        self._build()
        self._styled_dark = is_dark(self)
        apply_models_style(self)

        queue.finished.connect(self._on_download_finished)
        supervisor.model_loaded.connect(self._update_loaded)
        supervisor.model_unloaded.connect(self._update_loaded)
        QShortcut(QKeySequence("Ctrl+F"), self, self._focus_search)
        self._update_loaded()
        self.reload()
        # The keyring may hold a token from an earlier run; reading it can block, so not here.
        self.tasks.run(queue.token.get, lambda _: self._update_token_note(), name="token")

    # --- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        header = QFrame()
        header.setObjectName("modelsHeader")
        title = QLabel("Models")
        title.setObjectName("modelsTitle")
        self.welcome = QLabel(WELCOME)
        self.welcome.setObjectName("welcomeLine")
        self.welcome.setWordWrap(True)
        self.welcome.setVisible(False)
        self.offline_banner = QLabel(OFFLINE_NOTE)
        self.offline_banner.setObjectName("offlineBanner")
        self.offline_banner.setWordWrap(True)
        head = QVBoxLayout(header)
        head.setContentsMargins(20, 14, 20, 12)
        head.setSpacing(4)
        head.addWidget(title)
        head.addWidget(self.welcome)
        head.addWidget(self.offline_banner)

        self.discover = DiscoverTab(self.catalog_table, self.queue)
        self.discover.download_requested.connect(self.download_entry)
        self.discover.assistant_requested.connect(self.download_assistant)
        self.discover.use_requested.connect(self.use_model)
        self.discover.token_requested.connect(self.ask_for_token)
        self.installed = InstalledTab(self.installed_table)
        self.installed.use_requested.connect(self.use_installed)
        self.installed.reveal_requested.connect(self.reveal)
        self.installed.delete_requested.connect(self.delete_model)
        self.installed.import_requested.connect(self.choose_import)
        self.installed.refresh_requested.connect(self.refresh_installed)
        self.hub = HubTab(self.queue)
        self.hub.set_models_dir(self.models_dir)
        self.hub.list_requested.connect(self.list_repo)
        self.hub.download_requested.connect(self.download_custom)
        self.hub.use_requested.connect(self.use_model)
        self.hub.token_requested.connect(self.ask_for_token)
        self._update_token_note()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("modelsTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.discover, "Discover")
        self.tabs.addTab(self.installed, "Installed")
        self.tabs.addTab(self.hub, "From Hugging Face")
        self.servers_tab: ServersTab | None = None
        if self.servers_book is not None:
            self.servers_tab = ServersTab(self.servers_book)
            self.servers_tab.use_requested.connect(lambda path, name: self._load_model(path, "", name))
            self.tabs.addTab(self.servers_tab, "Servers")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.tabs, 1)

    def changeEvent(self, event: QEvent) -> None:
        # The theme switched (or followed the OS into dark mode): redo the colours. Only on a real
        # switch: setting the stylesheet sends change events of its own.
        palette_events = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in palette_events and is_dark(self) != self._styled_dark:
            self._styled_dark = is_dark(self)
            apply_models_style(self)
        super().changeEvent(event)

    # --- showing -------------------------------------------------------------------------------

    def present(self, tab: int = DISCOVER, welcome: bool = False) -> None:
        """Show and raise the window on ``tab``; ``welcome`` adds the first-run greeting and selects
        the recommended model once it is known."""
        self.welcome.setVisible(welcome)
        self.offline_banner.setVisible(offline_switch_on())
        self.tabs.setCurrentIndex(tab)
        if welcome:
            self._select_recommended = True
            self._apply_recommendation()
        was_visible = self.isVisible()
        self.show()
        if was_visible and QGuiApplication.platformName() not in HEADLESS_PLATFORMS:
            self.raise_()  # headless platforms cannot, and warn
        self.activateWindow()

    def _focus_search(self) -> None:
        if self.tabs.currentIndex() == DISCOVER:
            self.discover.search.setFocus()
        elif self.tabs.currentIndex() == HUB:
            self.hub.repo_field.setFocus()

    # --- loading data (off the UI thread) ------------------------------------------------------

    def reload(self) -> None:
        """Read the catalog and scan the models folder, then estimate the fits."""
        catalog_file, models_dir = self.catalog_file, self.models_dir
        registry, include = self.registry, self.include_hf_cache

        def work() -> tuple[list[CatalogEntry], Scan]:
            entries = load_catalog(catalog_file) if catalog_file else load_catalog()
            return entries, Scan(
                scan_installed(models_dir, registry, include), installed_assistants(entries, models_dir)
            )

        self._scanning = True
        self.tasks.run(work, self._on_loaded, self._on_scan_failed, name="catalog")

    def refresh_installed(self) -> None:
        if self._scanning:
            self._scan_again = True  # one scan at a time; the newest state wins
            return
        self._scanning = True
        models_dir, registry, include = self.models_dir, self.registry, self.include_hf_cache
        entries = self.catalog_table.entries
        self.tasks.run(
            lambda: Scan(
                scan_installed(models_dir, registry, include), installed_assistants(entries, models_dir)
            ),
            self._on_scanned,
            self._on_scan_failed,
            name="scan",
        )

    def _on_loaded(self, result: tuple[list[CatalogEntry], Scan]) -> None:
        entries, scan = result
        self.catalog_table.set_entries(entries)
        self._on_scanned(scan)
        self._apply_recommendation()

    def _on_scanned(self, scan: Scan) -> None:
        self._scanning = False
        installed = scan.models
        self.installed_table.set_models(installed)
        if self._pending_select and self.installed.select_path(self._pending_select):
            self._pending_select = ""
        self.tabs.setTabText(INSTALLED, f"Installed ({len(installed)})" if installed else "Installed")
        self.catalog_table.set_installed(self._catalog_installed(installed), scan.assistants)
        self._estimate_fits()
        if self._scan_again:
            self._scan_again = False
            self.refresh_installed()

    def _on_scan_failed(self, error: BaseException) -> None:
        self._scanning = False
        if not self.installed_table.scanned:
            self.installed_table.set_models([])
        self.installed.set_note(f"The models folder could not be read: {error}")

    def _catalog_installed(self, installed: list[InstalledModel]) -> dict[str, Path]:
        found: dict[str, Path] = {}
        on_disk = {m.path.resolve(): m for m in installed}
        for entry in self.catalog_table.entries:
            path = (repo_folder(self.models_dir, entry.repo_id) / entry.model.name).resolve()
            if path in on_disk:
                found[entry.id] = on_disk[path].path
        return found

    def _estimate_fits(self) -> None:
        entries = self.catalog_table.entries
        if not entries:
            return
        context = self._default_context()
        local: dict[str, tuple[Path, Path | None]] = {}
        by_path = {m.path: m for m in self.installed_table.models}
        for entry in entries:
            path = self.catalog_table.installed_path(entry.id)
            if path is not None and path in by_path:
                local[entry.id] = (path, by_path[path].projector)
        models_dir = self.models_dir
        self.tasks.run(
            lambda: assess_catalog(entries, context, models_dir, local=local), self._on_fits, name="fits"
        )

    def _on_fits(self, fits: CatalogFits) -> None:
        self.catalog_table.set_fits(fits)
        self.discover.machine_line.setText(
            f"{describe_machine(fits.machine, fits.free_disk)} · estimates for a "
            f"{fits.context_length:,}-token context"
        )
        self._apply_recommendation()

    def _apply_recommendation(self) -> None:
        """Select the recommended entry (first run), or at least some entry, once data is in."""
        if not self.catalog_table.rowCount():
            return
        fits = self.catalog_table.fits
        if self._select_recommended and fits is not None:
            self._select_recommended = False
            if fits.recommended and self.discover.select_entry(fits.recommended):
                return
        if self.discover.current_entry() is None:
            self.discover.table.selectRow(0)

    # --- downloads -----------------------------------------------------------------------------

    def download_entry(self, entry: CatalogEntry) -> None:
        self.queue.add_catalog(entry, self.models_dir)

    def download_assistant(self, entry: CatalogEntry) -> None:
        self.queue.add_assistant(entry, self.models_dir)

    def download_custom(self, repo_id: str, filename: str, projector: str) -> None:
        self.queue.add_custom(repo_id, filename, projector or None, self.models_dir)

    def _on_download_finished(self, job_id: str, model_path: str) -> None:
        job = self.queue.job(job_id)
        if job is not None and job.role == ASSISTANT:
            self.refresh_installed()  # it is listed with its model, not selected as one
            return
        self._pending_select = model_path
        self.refresh_installed()
        if self.welcome.isVisible():  # the first-run greeting turns into the next step
            name = job.title if job else Path(model_path).name
            self.welcome.setText(f"{name} is ready. Press Use to start chatting.")

    def list_repo(self, repo_id: str) -> None:
        self.hub.set_busy(f"Asking Hugging Face about {repo_id}…")
        endpoint, token = self.queue.endpoint, self.queue.token

        def work() -> RepoListing:
            return list_gguf_files(repo_id, endpoint=endpoint, token=token.get())

        self.tasks.run(work, self.hub.show_listing, lambda exc: self.hub.show_error(str(exc)), name="list")

    def ask_for_token(self) -> None:
        token = self.queue.token
        text, ok = QInputDialog.getText(
            self,
            "Hugging Face access token",
            "Gated models (those whose license must be accepted on Hugging Face first) need an access "
            "token of the account that accepted it.\nCreate one at huggingface.co/settings/tokens "
            f"(read access is enough).\n\n{token.note}\n\nToken:",
            QLineEdit.EchoMode.Password,
        )
        if ok:
            self.set_token(text)

    def set_token(self, text: str) -> None:
        self.queue.token.set(text)
        self._update_token_note()
        if text.strip():
            self.queue.retry_failed(ErrorKind.GATED)

    def _update_token_note(self) -> None:
        token = self.queue.token
        if token.known():
            where = "in the keyring" if token.persistent else "until Hearth closes"
            self.hub.set_token_note(f"An access token is set (kept {where}).")
        else:
            self.hub.set_token_note("No access token: only public models can be downloaded.")

    # --- installed models ----------------------------------------------------------------------

    def use_model(self, path: str, projector: str = "auto", name: str = "") -> None:
        """Load the model in the engine and go back to the chat."""
        self._load_model(path, projector, name)
        self.hide()
        parent = self.parentWidget()
        if parent is not None:
            parent.activateWindow()

    def use_installed(self, model: InstalledModel) -> None:
        """An installed model goes with the projector it is listed with (one picked by hand at
        import included) and under the name it is listed as."""
        self.use_model(str(model.path), str(model.projector) if model.projector else "", model.name)

    def reveal(self, model: InstalledModel) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(model.path.parent)))

    def delete_model(self, model: InstalledModel) -> None:
        loaded = self.supervisor.loaded_model
        if loaded is not None and same_file(loaded.model_path, model.path):
            self.inform("This model is in use", "Switch to another model or unload it before deleting it.")
            return
        if model.source == "downloaded":
            question = (
                f"Delete {model.name}?",
                f"Its files ({model.path.name}"
                f"{' and its projector' if model.projector else ''}) are removed from this computer. "
                "You can download it again later.",
                "Delete",
            )
        else:
            question = (
                f"Remove {model.name} from the list?",
                f"The file itself stays where it is:\n{model.path}",
                "Remove",
            )
        if not self.confirm(*question):
            return
        others = self.installed_table.models
        registry = self.registry

        def work() -> None:
            if model.source == "downloaded":
                delete_installed(model, others)
            registry.forget(model.path)

        self.tasks.run(work, lambda _: self.refresh_installed(), self._show_failure, name="delete")

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "GGUF models (*.gguf)")
        if path:
            self.import_model(Path(path))

    def import_model(self, model: Path, projector: Path | None = None) -> None:
        """Check ``model`` off the UI thread, pair its projector, then list it under Installed."""
        self.installed.set_note(f"Checking {model.name}…")
        self.tasks.run(
            lambda: check_import(model, projector), self._on_import_checked, self._show_failure, name="import"
        )

    def _on_import_checked(self, check: ImportCheck) -> None:
        projector = check.projector
        if projector is None:
            projector = self.choose_projector(check)
            if projector is not None:
                self.tasks.run(
                    lambda: check_import(check.model, projector, pair=False),
                    self._register_import,
                    self._show_failure,
                    name="import",
                )
                return
        self._register_import(ImportCheck(check.model, check.name, projector))

    def choose_projector(self, check: ImportCheck) -> Path | None:
        """Offer to pick a projector by hand when none sits next to the model (None: text only)."""
        answer = QMessageBox.question(
            self,
            "No projector found",
            f"No projector was found next to {check.model.name}. A projector (mmproj file) lets the "
            "model see images, and for Gemma 4 E2B/E4B hear audio.\n\nChoose one now?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the projector", str(check.model.parent), "GGUF projectors (*.gguf)"
        )
        return Path(path) if path else None

    def _register_import(self, check: ImportCheck) -> None:
        registry = self.registry
        self.tasks.run(
            lambda: registry.add_import(check.model, check.projector),
            lambda _: self._after_import(check),
            self._show_failure,
            name="import",
        )

    def _after_import(self, check: ImportCheck) -> None:
        with_projector = f" with its projector {check.projector.name}" if check.projector else " (text only)"
        self.installed.set_note(f"Imported {check.name}{with_projector}.")
        self._pending_select = str(check.model)
        self.refresh_installed()

    def _show_failure(self, error: BaseException) -> None:
        self.installed.set_note("")
        self.inform("That did not work", str(error))

    # --- the engine ----------------------------------------------------------------------------

    def _update_loaded(self, *_args: Any) -> None:
        loaded = self.supervisor.loaded_model
        self.installed_table.set_loaded(loaded.model_path if loaded else None)

    # --- questions (methods, so tests can answer them) -----------------------------------------

    def confirm(self, title: str, text: str, action: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self)
        yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is yes

    def inform(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    def shutdown(self) -> None:
        self.tasks.close()
