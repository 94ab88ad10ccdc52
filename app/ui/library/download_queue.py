"""The download queue: model + projector bundles fetched one at a time on a background thread.

Jobs are kept in ``downloads.json`` in the data folder. After a restart every unfinished job comes
back with the bytes its partial files hold; the ones that were running or waiting start again by
themselves, paused ones wait for Resume. The transfer itself is ``app.library.bundle`` (resumable,
verified, retried); this class schedules it and turns its callbacks into signals. Worker threads
only emit signals; every job is changed on the GUI thread. When the list cannot be written (a full
disk), the queue works on from memory, says so (``save_problem``) and writes it again later.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.library.access_token import AccessToken
from app.library.errors import ErrorKind
from app.library.job_store import JobStore
from app.library.jobs import (
    ASSISTANT,
    DownloadJob,
    JobFile,
    JobState,
    assistant_folder,
    assistant_job_id,
    bytes_on_disk,
    catalog_job_id,
    custom_job_id,
    discard_partials,
    repo_folder,
)

if TYPE_CHECKING:
    from app.library.catalog import CatalogEntry
    from app.library.retry import RetryNotice
    from app.library.transfer import TransferOptions

log = logging.getLogger(__name__)

STATE_FILE = "downloads.json"
# No progress report for this long: the transfer is waiting on the network (a stall, or a retry
# after a dropped connection), so its last speed and time left are no longer true.
STALL_AFTER_S = 3.0
# How soon a download list that could not be written is tried again (besides after every change).
SAVE_RETRY_S = 30.0


@dataclass
class _Control:
    """How the GUI thread asks the running job to stop: polled by the transfer between chunks."""

    stop: threading.Event = field(default_factory=threading.Event)
    cancel: bool = False
    delete_partial: bool = False


@dataclass(frozen=True)
class _Finished:
    model: Path
    projector: Path | None


class DownloadQueue(QObject):
    job_added = Signal(str)
    """A job joined the queue (its id); read it with ``job(id)``."""
    job_changed = Signal(str)
    """A job's state, progress or error changed (its id)."""
    job_removed = Signal(str)
    """A job was cancelled and is gone (its id)."""
    progress = Signal(str, int, int, float)
    """A running job moved: (id, bytes done, bytes in all, bytes per second)."""
    finished = Signal(str, str)
    """A job was downloaded, verified and installed: (id, path of the model file)."""
    failed = Signal(str, str)
    """A job stopped on an error: (id, what happened, in words a user can act on)."""
    save_problem_changed = Signal(str)
    """Saving the download list failed, in words for the user; "" once it is saved again."""

    _progress_from_worker = Signal(str, int, int, float)
    _retry_from_worker = Signal(str, object)  # (id, RetryNotice, or None when connected again)
    _ended_in_worker = Signal(str, object)  # (id, _Finished or the exception that ended the run)

    def __init__(
        self,
        state_file: Path,
        *,
        endpoint: str | None = None,
        token: AccessToken | None = None,
        options: TransferOptions | None = None,
        save_retry_s: float = SAVE_RETRY_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = JobStore(Path(state_file))
        # huggingface_hub reads HF_ENDPOINT once, at import; it is read here and passed explicitly.
        self.endpoint = endpoint if endpoint is not None else os.environ.get("HF_ENDPOINT") or None
        self.token = token or AccessToken(use_keyring=False)
        self._options = options
        self._jobs: dict[str, DownloadJob] = {}
        self._running: str | None = None
        self._control: _Control | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._last_progress = 0.0
        self._watchdog = QTimer(self, interval=1000)
        self._watchdog.timeout.connect(self._check_stalled)
        self._save_again = QTimer(self, interval=round(save_retry_s * 1000), singleShot=True)
        self._save_again.timeout.connect(self._save)
        self._progress_from_worker.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._retry_from_worker.connect(self._on_retry, Qt.ConnectionType.QueuedConnection)
        self._ended_in_worker.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)
        self._restore()

    # --- reading -------------------------------------------------------------------------------

    def jobs(self) -> list[DownloadJob]:
        return list(self._jobs.values())

    def job(self, job_id: str) -> DownloadJob | None:
        return self._jobs.get(job_id)

    @property
    def running_job(self) -> DownloadJob | None:
        return self._jobs.get(self._running) if self._running else None

    @property
    def save_problem(self) -> str:
        """Why the download list could not be saved, in words; "" when it is saved."""
        return self.store.problem

    @property
    def busy(self) -> bool:
        """Whether a download thread is at work (also while a cancelled job winds down)."""
        return self._running is not None

    # --- adding ----------------------------------------------------------------------------------

    def add_catalog(self, entry: CatalogEntry, models_dir: Path) -> str:
        """Queue a catalog entry (model and projector); a paused or failed job for it resumes."""
        job_id = catalog_job_id(entry.id)

        def spec(file: Any) -> JobFile:
            return JobFile(file.name, file.size, file.sha256)

        job = DownloadJob(
            id=job_id,
            title=entry.display_name,
            repo_id=entry.repo_id,
            revision=entry.revision or "main",
            model=spec(entry.model),
            projector=spec(entry.projector) if entry.projector else None,
            dest_dir=repo_folder(models_dir, entry.repo_id),
            entry_id=entry.id,
            total=entry.download_size or 0,
        )
        return self._add(job)

    def add_assistant(self, entry: CatalogEntry, models_dir: Path) -> str:
        """Queue the MTP assistant the catalog pairs with ``entry``, into the folder of the entry's
        model, where the worker finds it; the model itself need not be downloaded yet."""
        assistant = entry.assistant
        if assistant is None:
            raise ValueError(f"{entry.id} has no assistant")
        file = assistant.file
        job = DownloadJob(
            id=assistant_job_id(entry.repo_id, entry.model.name, file.name),
            title=assistant.display_name,
            repo_id=assistant.repo_id,
            revision=assistant.revision or "main",
            model=JobFile(file.name, file.size, file.sha256),
            projector=None,
            dest_dir=assistant_folder(models_dir, entry.repo_id, entry.model.name),
            entry_id=entry.id,
            role=ASSISTANT,
            total=file.size or 0,
        )
        return self._add(job)

    def add_custom(
        self, repo_id: str, filename: str, projector: str | None, models_dir: Path, revision: str = "main"
    ) -> str:
        """Queue any file of any Hugging Face repo, with an optional projector from the same repo."""
        job = DownloadJob(
            id=custom_job_id(repo_id, filename),
            title=f"{Path(filename).name} ({repo_id})",
            repo_id=repo_id,
            revision=revision,
            model=JobFile(filename),
            projector=JobFile(projector) if projector else None,
            dest_dir=repo_folder(models_dir, repo_id),
        )
        return self._add(job)

    def _add(self, job: DownloadJob) -> str:
        existing = self._jobs.get(job.id)
        if existing is not None and existing.state is not JobState.DONE:
            self.resume(job.id)
            return job.id
        job.done = bytes_on_disk(job)  # a partial kept by an earlier cancel continues
        self._jobs[job.id] = job
        self._save()
        self.job_added.emit(job.id)
        self._start_next()
        return job.id

    # --- controlling -----------------------------------------------------------------------------

    def pause(self, job_id: str) -> None:
        """Stop a running or waiting job, keeping what it downloaded."""
        job = self._jobs.get(job_id)
        if job is None or not job.active:
            return
        if job_id == self._running and self._control is not None:
            self._control.stop.set()
        job.state, job.speed, job.retry = JobState.PAUSED, 0.0, None
        self._changed(job)

    def resume(self, job_id: str) -> None:
        """Queue a paused or failed job again; it continues from its partial files."""
        job = self._jobs.get(job_id)
        if job is None or job.state not in (JobState.PAUSED, JobState.FAILED):
            return
        job.state, job.error, job.error_kind = JobState.QUEUED, "", ""
        self._changed(job)
        self._start_next()

    def retry_failed(self, kind: ErrorKind | None = None) -> None:
        """Resume the jobs that failed (only those of ``kind`` if given), e.g. after a token is set."""
        for job in list(self._jobs.values()):
            if job.state is JobState.FAILED and (kind is None or job.error_kind == kind):
                self.resume(job.id)

    def cancel(self, job_id: str, delete_partial: bool) -> None:
        """Abandon a job. With ``delete_partial`` its downloaded bytes are deleted; without, they stay
        and a later download of the same files continues from them. Asking is the caller's job."""
        job = self._jobs.get(job_id)
        if job is None or job.state is JobState.DONE:
            return
        if job_id == self._running and self._control is not None:
            # The worker deletes the partial files itself once the transfer has let go of them.
            self._control.cancel, self._control.delete_partial = True, delete_partial
            self._control.stop.set()
        elif delete_partial:
            keep = self._files_of_other_jobs(job_id)
            snapshot = job.snapshot()
            threading.Thread(
                target=discard_partials, args=(snapshot, keep), name="discard-partials", daemon=True
            ).start()
        del self._jobs[job_id]
        self._save()
        self.job_removed.emit(job_id)

    def shutdown(self, wait: float = 10.0) -> None:
        """Stop for the app's exit: the running job is paused but stays marked as running, so it
        starts again by itself next time; the job list is saved."""
        self._save()
        with self._lock:
            self._closed = True
        if self._control is not None:
            self._control.stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    # --- scheduling ------------------------------------------------------------------------------

    def _restore(self) -> None:
        for job in self.store.load():
            job.done = bytes_on_disk(job)
            if job.state in (JobState.RUNNING, JobState.QUEUED):
                job.state = JobState.QUEUED
            elif job.state is JobState.DONE:
                continue
            self._jobs[job.id] = job
        if any(job.state is JobState.QUEUED for job in self._jobs.values()):
            # After the window is up: a restart shows Hearth first, then continues downloading.
            QTimer.singleShot(0, self._start_next)

    def _start_next(self) -> None:
        if self._running is not None or self._closed:
            return
        job = next((j for j in self._jobs.values() if j.state is JobState.QUEUED), None)
        if job is None:
            return
        job.state, job.speed, job.stalled = JobState.RUNNING, 0.0, False
        self._running, self._control = job.id, _Control()
        self._last_progress = time.monotonic()
        self._watchdog.start()
        log.info("Starting the download of %s (%s)", job.title, job.repo_id)
        self._thread = threading.Thread(
            target=self._work, args=(job.snapshot(), self._control), name="hearth-download", daemon=True
        )
        self._changed(job)
        self._thread.start()

    def _work(self, job: DownloadJob, control: _Control) -> None:
        """On the download thread: fetch, verify and install the job's files."""
        outcome: object
        try:
            # Imported here, not at the top: huggingface_hub and its HTTP stack stay out of start-up.
            from app.library.bundle import BundleDownload
            from app.library.hub_file import HubFile

            def hub(file: JobFile) -> HubFile:
                return HubFile(job.repo_id, file.name, job.revision, sha256=file.sha256, size=file.size)

            kwargs: dict[str, Any] = {"options": self._options} if self._options is not None else {}
            bundle = BundleDownload(
                hub(job.model),
                hub(job.projector) if job.projector else None,
                job.dest_dir,
                endpoint=self.endpoint,
                token=self.token.get(),
                on_progress=lambda done, total, speed: self._post(
                    self._progress_from_worker, job.id, done, total, speed
                ),
                should_stop=control.stop.is_set,
                title=job.title,
                on_retry=lambda notice: self._post(self._retry_from_worker, job.id, notice),
                **kwargs,
            )
            installed = bundle.run()
            outcome = _Finished(installed.model, installed.projector)
        except Exception as exc:
            outcome = exc
            if getattr(exc, "kind", None) is ErrorKind.PAUSED and control.cancel and control.delete_partial:
                discard_partials(job, set())
            elif getattr(exc, "kind", None) is None:
                log.exception("Download of %s failed unexpectedly", job.title)
        self._post(self._ended_in_worker, job.id, outcome)

    def _post(self, signal: Any, *args: Any) -> None:
        with self._lock:
            if not self._closed:
                signal.emit(*args)

    # --- results (GUI thread) ----------------------------------------------------------------

    def _on_progress(self, job_id: str, done: int, total: int, speed: float) -> None:
        job = self._jobs.get(job_id)
        if job is None or job.state is not JobState.RUNNING:
            return
        job.done, job.total, job.speed, job.stalled = done, total or job.total, speed, False
        self._last_progress = time.monotonic()
        self.progress.emit(job_id, done, job.total, speed)
        self.job_changed.emit(job_id)

    def _on_retry(self, job_id: str, notice: RetryNotice | None) -> None:
        job = self._jobs.get(job_id)
        if job is not None and job.state is JobState.RUNNING:
            job.retry = notice
            self.job_changed.emit(job_id)

    def _check_stalled(self) -> None:
        job = self.running_job
        if job is None:
            self._watchdog.stop()
        elif not job.stalled and not job.verifying and time.monotonic() - self._last_progress > STALL_AFTER_S:
            job.stalled, job.speed = True, 0.0
            self.job_changed.emit(job.id)

    def _on_ended(self, job_id: str, outcome: object) -> None:
        if job_id == self._running:
            self._running, self._control, self._thread = None, None, None
            self._watchdog.stop()
        job = self._jobs.get(job_id)
        if job is not None:
            self._settle(job, outcome)
        self._save()
        self._start_next()

    def _settle(self, job: DownloadJob, outcome: object) -> None:
        job.speed, job.stalled, job.retry = 0.0, False, None
        if isinstance(outcome, _Finished):
            log.info("Downloaded %s to %s", job.title, outcome.model)
            job.state, job.installed_path = JobState.DONE, str(outcome.model)
            job.done = job.total = max(job.total, job.done)
            self.job_changed.emit(job.id)
            self.finished.emit(job.id, job.installed_path)
            return
        kind = getattr(outcome, "kind", None)
        if kind in (ErrorKind.PAUSED, ErrorKind.CANCELLED):
            # Paused by the user (already shown), or resumed again while it was stopping.
            if job.state is JobState.RUNNING:
                job.state = JobState.PAUSED
            job.done = bytes_on_disk(job)
            self.job_changed.emit(job.id)
            return
        message = str(outcome) if kind is not None else f"The download failed unexpectedly: {outcome}"
        log.warning("The download of %s stopped: %s (%s)", job.title, message, getattr(outcome, "detail", ""))
        job.state, job.error, job.error_kind = JobState.FAILED, message, str(kind or "")
        job.done = bytes_on_disk(job)
        self.job_changed.emit(job.id)
        self.failed.emit(job.id, message)

    def _changed(self, job: DownloadJob) -> None:
        self._save()
        self.job_changed.emit(job.id)

    def _files_of_other_jobs(self, job_id: str) -> set[Path]:
        return {j.dest_dir / f.name for j in self._jobs.values() if j.id != job_id for f in j.files}

    def _save(self) -> None:
        before = self.store.problem
        if not self.store.save(list(self._jobs.values())):
            self._save_again.start()  # besides the next change, which saves anyway
        if self.store.problem != before:
            self.save_problem_changed.emit(self.store.problem)
