"""Progress and buttons for one download: Download / Pause / Resume / Cancel / Use.

Pause, Resume and Cancel act on the queue directly (Cancel first asks whether to keep what was
downloaded); Download and Use are the owner's business and come out as signals. While a download
waits to try again the panel counts the seconds down itself: the job only says when the next
attempt is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.library.errors import ErrorKind, format_size
from app.library.jobs import DownloadJob, JobState, describe_job
from app.ui.library.download_queue import DownloadQueue

CancelChoice = Callable[[DownloadJob], bool | None]
"""Asks the user about cancelling a job: True deletes what was downloaded, False keeps it, None
changes nothing."""


def ask_how_to_cancel(parent: QWidget, job: DownloadJob) -> bool | None:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Cancel the download")
    box.setText(f"Cancel the download of {job.title}?")
    have = format_size(job.done)
    box.setInformativeText(
        f"{have} are already downloaded. Keep them to continue later, or delete them to free the space."
    )
    delete = box.addButton("Delete what was downloaded", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep it for later", QMessageBox.ButtonRole.AcceptRole)
    back = box.addButton("Continue downloading", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(back)
    box.exec()
    clicked = box.clickedButton()
    if clicked is delete:
        return True
    if clicked is keep:
        return False
    return None


class JobPanel(QWidget):
    download_requested = Signal()
    """The Download button was clicked."""
    use_requested = Signal(str)
    """The Use button was clicked: (path of the installed model)."""
    token_requested = Signal()
    """The download needs an access token and the user asked to give one."""

    def __init__(
        self,
        queue: DownloadQueue,
        parent: QWidget | None = None,
        *,
        usable: bool = True,
        installed_text: str = "Downloaded and verified. Click Use to load it and start chatting.",
        download_text: str = "Download",
    ) -> None:
        """``usable``: whether an installed download can be loaded with Use (an MTP assistant cannot:
        its model loads it); ``installed_text`` says what an installed download is for."""
        super().__init__(parent)
        self.queue = queue
        self._usable = usable
        self._installed_text = installed_text
        self.ask_cancel: CancelChoice = lambda job: ask_how_to_cancel(self, job)
        self._job_id: str | None = None
        self._installed: Path | None = None
        self._download_note = ""

        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Download progress")
        self.status = QLabel()
        self.status.setObjectName("jobStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setObjectName("errorNote")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_note = QLabel()  # the download list cannot be saved: said once, under any job
        self.save_note.setObjectName("errorNote")
        self.save_note.setWordWrap(True)
        self.countdown = QTimer(self, interval=250)  # a quarter second keeps the count from skipping
        self.countdown.timeout.connect(self._tick)
        self.token_button = QPushButton("Add an access token…")
        self.token_button.clicked.connect(self.token_requested)

        self.download_button = self._button(download_text, self.download_requested.emit, primary=True)
        self.use_button = self._button("Use", self._use, primary=True)
        self.use_button.setToolTip("Load this model and start chatting")
        self.pause_button = self._button("Pause", lambda: self._act(self.queue.pause))
        self.resume_button = self._button("Resume", lambda: self._act(self.queue.resume), primary=True)
        self.cancel_button = self._button("Cancel", self._cancel)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addStretch(1)
        for button in (self.cancel_button, self.pause_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.use_button)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_button)
        token_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.save_note)
        layout.addLayout(token_row)
        layout.addLayout(buttons)

        queue.job_changed.connect(self._on_job)
        queue.job_added.connect(self._on_job)
        queue.job_removed.connect(self._on_job)
        queue.save_problem_changed.connect(self._show_save_problem)
        self._show_save_problem(queue.save_problem)
        self.refresh()

    def _button(self, text: str, slot: Callable[[], None], primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        if primary:
            button.setObjectName("primaryButton")
        button.clicked.connect(slot)
        return button

    # --- what it shows -----------------------------------------------------------------------

    def show_job(self, job_id: str | None, installed: Path | None, download_note: str = "") -> None:
        """Follow ``job_id`` (which may not exist yet); ``installed`` enables Use."""
        self._job_id, self._installed, self._download_note = job_id, installed, download_note
        self.refresh()

    @property
    def job(self) -> DownloadJob | None:
        return self.queue.job(self._job_id) if self._job_id else None

    def refresh(self) -> None:
        job = self.job
        if job is not None and job.state is JobState.DONE:
            self._installed = Path(job.installed_path)
            job = None
        state = job.state if job else None
        active = state in (JobState.RUNNING, JobState.QUEUED)
        self.progress.setVisible(job is not None)
        if job is not None:
            fraction = job.done / job.total if job.total else 0.0
            self.progress.setValue(int(min(fraction, 1.0) * 1000))
            self.status.setText(describe_job(job) if state is not JobState.FAILED else self._stopped_at(job))
        elif self._installed is not None:
            self.status.setText(self._installed_text)
        else:
            self.status.setText(self._download_note)
        self.status.setVisible(bool(self.status.text()))
        failed = job is not None and state is JobState.FAILED
        self.error.setVisible(failed)
        self.error.setText(job.error if failed and job else "")
        self.token_button.setVisible(failed and job is not None and job.error_kind == ErrorKind.GATED)
        self.download_button.setVisible(job is None and self._installed is None)
        self.use_button.setVisible(self._usable and job is None and self._installed is not None)
        self.pause_button.setVisible(active)
        self.resume_button.setVisible(state in (JobState.PAUSED, JobState.FAILED))
        self.resume_button.setText("Try again" if state is JobState.FAILED else "Resume")
        self.cancel_button.setVisible(job is not None)
        waiting = job is not None and state is JobState.RUNNING and job.retry is not None
        if waiting and not self.countdown.isActive():
            self.countdown.start()
        elif not waiting:
            self.countdown.stop()

    def _tick(self) -> None:
        job = self.job
        if job is None or job.retry is None:
            self.countdown.stop()
            return
        text = describe_job(job)
        if text != self.status.text():
            self.status.setText(text)

    def _show_save_problem(self, problem: str) -> None:
        self.save_note.setText(problem)
        self.save_note.setVisible(bool(problem))

    @staticmethod
    def _stopped_at(job: DownloadJob) -> str:
        if not job.done:
            return ""
        return f"Stopped · {format_size(job.done)} of {format_size(job.total)} kept" if job.total else ""

    def set_download_enabled(self, enabled: bool, reason: str = "") -> None:
        self.download_button.setEnabled(enabled)
        self.download_button.setToolTip(reason)

    # --- actions -------------------------------------------------------------------------------

    def _act(self, action: Callable[[str], None]) -> None:
        if self._job_id:
            action(self._job_id)

    def _cancel(self) -> None:
        job = self.job
        if job is None:
            return
        delete = self.ask_cancel(job) if job.done else True
        if delete is not None:
            self.queue.cancel(job.id, delete_partial=delete)

    def _use(self) -> None:
        if self._installed is not None:
            self.use_requested.emit(str(self._installed))

    def _on_job(self, job_id: str) -> None:
        if job_id == self._job_id:
            self.refresh()
