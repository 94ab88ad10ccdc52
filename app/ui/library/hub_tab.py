"""The "From Hugging Face" tab: any repo id, its GGUF files, a projector, and the access token."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gguf.drafters import looks_like_assistant
from app.library.errors import format_size
from app.library.jobs import custom_job_id, repo_folder
from app.library.repo_files import RepoListing, best_projector
from app.ui.library.download_queue import DownloadQueue
from app.ui.library.job_panel import JobPanel

NO_PROJECTOR = "None: text only"


class HubTab(QWidget):
    list_requested = Signal(str)
    """List the GGUF files of this repo id."""
    download_requested = Signal(str, str, str)
    """Download (repo id, model file, projector file or "")."""
    use_requested = Signal(str)
    """Load the model at this path."""
    token_requested = Signal()
    """Set or change the access token."""

    def __init__(self, queue: DownloadQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.listing: RepoListing | None = None
        self._models_dir: Path | None = None

        intro = QLabel(
            "Any GGUF model on Hugging Face can be downloaded here. Models other than Gemma 4 may not "
            "know how to see or hear, and Hearth cannot tell in advance whether they fit this computer."
        )
        intro.setObjectName("mutedNote")
        intro.setWordWrap(True)
        self.repo_field = QLineEdit()
        self.repo_field.setObjectName("repoField")
        self.repo_field.setPlaceholderText("owner/name, e.g. ggml-org/gemma-4-E4B-it-GGUF")
        self.repo_field.setAccessibleName("Hugging Face repository")
        self.repo_field.returnPressed.connect(self._list)
        self.list_button = QPushButton("List files")
        self.list_button.clicked.connect(self._list)
        self.status = QLabel()
        self.status.setObjectName("mutedNote")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.files = QListWidget()
        self.files.setObjectName("fileList")
        self.files.setAccessibleName("Model files")
        self.files.currentItemChanged.connect(self._on_file)
        self.projector = QComboBox()
        self.projector.setAccessibleName("Projector")
        self.projector.currentIndexChanged.connect(self._update_job)
        self.job_panel = JobPanel(queue)
        self.job_panel.download_requested.connect(self._download)
        self.job_panel.use_requested.connect(self.use_requested)
        self.job_panel.token_requested.connect(self.token_requested)

        self.token_state = QLabel()
        self.token_state.setObjectName("mutedNote")
        self.token_state.setWordWrap(True)
        self.token_button = QPushButton("Access token…")
        self.token_button.setToolTip("Gated and private models need a Hugging Face access token")
        self.token_button.clicked.connect(self.token_requested)

        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo_field, 1)
        repo_row.addWidget(self.list_button)
        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.addRow("Projector", self.projector)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_state, 1)
        token_row.addWidget(self.token_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 14)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(repo_row)
        layout.addWidget(self.status)
        layout.addWidget(self.files, 1)
        layout.addLayout(form)
        layout.addWidget(self.job_panel)
        layout.addLayout(token_row)
        self.show_listing(None)

    def set_models_dir(self, folder: Path) -> None:
        self._models_dir = folder
        self._update_job()

    def set_token_note(self, text: str) -> None:
        self.token_state.setText(text)

    def set_busy(self, text: str) -> None:
        self.status.setText(text)
        self.status.setObjectName("mutedNote")
        self._restyle(self.status)
        self.list_button.setEnabled(False)

    def show_error(self, text: str) -> None:
        self.list_button.setEnabled(True)
        self.status.setText(text)
        self.status.setObjectName("errorNote")
        self._restyle(self.status)

    def show_listing(self, listing: RepoListing | None) -> None:
        self.listing = listing
        self.list_button.setEnabled(True)
        self.files.clear()
        self.projector.clear()
        enabled = listing is not None and bool(listing.models)
        self.files.setEnabled(enabled)
        self.projector.setEnabled(enabled)
        self.job_panel.setVisible(enabled)
        if listing is None:
            self.status.setText("")
            return
        count = len(listing.models)
        self.status.setText(f"{listing.repo_id}: {count} model file{'s' if count != 1 else ''}. Pick one.")
        self.status.setObjectName("mutedNote")
        self._restyle(self.status)
        # A repo's MTP assistants go last: they only draft for the models downloaded beside them.
        for file in sorted(listing.models, key=lambda f: looks_like_assistant(f.name)):
            size = f"  ·  {format_size(file.size)}" if file.size else ""
            role = (
                "  ·  MTP assistant: drafts for the models beside it"
                if looks_like_assistant(file.name)
                else ""
            )
            item = QListWidgetItem(f"{file.name}{size}{role}")
            item.setData(Qt.ItemDataRole.UserRole, file.name)
            self.files.addItem(item)
        self.projector.addItem(NO_PROJECTOR, "")
        for file in listing.projectors:
            size = f"  ·  {format_size(file.size)}" if file.size else ""
            self.projector.addItem(f"{file.name}{size}", file.name)
        if self.files.count():
            self.files.setCurrentRow(0)

    def selected_model(self) -> str:
        item = self.files.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else ""

    def selected_projector(self) -> str:
        return str(self.projector.currentData() or "")

    def _on_file(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if self.listing is not None and current is not None:
            best = best_projector(self.selected_model(), self.listing.projectors)
            index = self.projector.findData(best.name) if best else 0
            self.projector.setCurrentIndex(max(index, 0))
        self._update_job()

    def _update_job(self) -> None:
        model = self.selected_model()
        if self.listing is None or not model:
            self.job_panel.show_job(None, None)
            return
        installed = None
        if self._models_dir is not None:
            candidate = repo_folder(self._models_dir, self.listing.repo_id) / model
            installed = candidate if candidate.is_file() else None
        self.job_panel.show_job(custom_job_id(self.listing.repo_id, model), installed)

    def _list(self) -> None:
        repo_id = self.repo_field.text().strip().strip("/")
        if repo_id:
            self.list_requested.emit(repo_id)

    def _download(self) -> None:
        if self.listing is not None and self.selected_model():
            self.download_requested.emit(
                self.listing.repo_id, self.selected_model(), self.selected_projector()
            )

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
