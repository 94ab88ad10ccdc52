"""Download jobs as the queue keeps them: what to fetch, where to, how far it got, and in words.

Qt-free, so the queue's bookkeeping can be read and tested alone. Jobs are stored as JSON in the
data folder (``job_store``); how many bytes a job already has is read from the files on disk, never
trusted from the JSON, so a restart (or a crash) shows the real progress.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from app.library.errors import format_size
from app.library.partial import PartialPaths
from app.library.retry import RetryNotice

log = logging.getLogger(__name__)


MODEL = "model"
ASSISTANT = "assistant"


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for the running job to end
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"  # stopped on an error; resuming tries again
    DONE = "done"  # downloaded, verified, installed


@dataclass(frozen=True)
class JobFile:
    name: str
    size: int | None = None
    sha256: str | None = None


@dataclass
class DownloadJob:
    """One model (and its projector) to download into ``dest_dir``. Mutated on the GUI thread only."""

    id: str
    title: str
    repo_id: str
    revision: str
    model: JobFile
    projector: JobFile | None
    dest_dir: Path
    entry_id: str = ""  # the catalog entry, for jobs started from the catalog
    role: str = MODEL  # or ASSISTANT: an MTP assistant for the model in ``dest_dir``
    state: JobState = JobState.QUEUED
    done: int = 0
    total: int = 0  # 0 until known (custom repos learn it when the download starts)
    speed: float = 0.0
    error: str = ""
    error_kind: str = ""
    installed_path: str = ""
    stalled: bool = False  # running, but no bytes for a while (the transfer is retrying)
    retry: RetryNotice | None = None  # running, and waiting to try again after a failed attempt

    @property
    def model_path(self) -> Path:
        return self.dest_dir / self.model.name

    @property
    def files(self) -> list[JobFile]:
        return [self.model] if self.projector is None else [self.model, self.projector]

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    @property
    def verifying(self) -> bool:
        """All bytes are in; the sha256 check runs (it takes a while on a big model)."""
        return self.state is JobState.RUNNING and self.total > 0 and self.done >= self.total

    def snapshot(self) -> DownloadJob:
        return replace(self)

    def to_dict(self) -> dict[str, Any]:
        def file(f: JobFile | None) -> dict[str, Any] | None:
            return None if f is None else {"name": f.name, "size": f.size, "sha256": f.sha256}

        return {
            "id": self.id,
            "title": self.title,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "model": file(self.model),
            "projector": file(self.projector),
            "dest_dir": str(self.dest_dir),
            "entry_id": self.entry_id,
            "role": self.role,
            "state": str(self.state),
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "error_kind": self.error_kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DownloadJob | None:
        """A stored job, or None when the record is damaged (it is then dropped, with a log line)."""
        try:
            model = _file(data["model"])
            if model is None:
                return None
            state = JobState(data.get("state", "paused"))
            return cls(
                id=str(data["id"]),
                title=str(data.get("title") or model.name),
                repo_id=str(data["repo_id"]),
                revision=str(data.get("revision") or "main"),
                model=model,
                projector=_file(data.get("projector")),
                dest_dir=Path(data["dest_dir"]),
                entry_id=str(data.get("entry_id", "")),
                role=ASSISTANT if data.get("role") == ASSISTANT else MODEL,
                state=state,
                done=int(data.get("done", 0)),
                total=int(data.get("total", 0)),
                error=str(data.get("error", "")),
                error_kind=str(data.get("error_kind", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("Dropping a damaged download record %r: %s", data, exc)
            return None


def _file(data: Any) -> JobFile | None:
    if not isinstance(data, dict) or not data.get("name"):
        return None
    size, sha = data.get("size"), data.get("sha256")
    return JobFile(str(data["name"]), int(size) if isinstance(size, int) else None, sha or None)


# --- ids and places ----------------------------------------------------------------------------


def catalog_job_id(entry_id: str) -> str:
    return f"catalog:{entry_id}"


def assistant_job_id(repo_id: str, model_name: str, assistant_name: str) -> str:
    """One job per assistant file per model folder (one assistant serves every model beside it)."""
    beside = PurePosixPath(model_name).parent / assistant_name
    return f"assistant:{repo_id}/{beside}"


def custom_job_id(repo_id: str, filename: str) -> str:
    return f"hf:{repo_id}/{filename}"


def repo_folder(models_dir: Path, repo_id: str) -> Path:
    """Where a repo's files go: ``<models>/<owner>/<name>``, so a projector is only ever paired
    with models of its own repo."""
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", part).strip(".") or "_" for part in repo_id.split("/")]
    return Path(models_dir).joinpath(*parts)


def assistant_folder(models_dir: Path, repo_id: str, model_name: str) -> Path:
    """Where a catalog model's MTP assistant goes: the folder its model file is downloaded to."""
    return (repo_folder(models_dir, repo_id) / model_name).parent


# --- the files on disk -------------------------------------------------------------------------


def bytes_on_disk(job: DownloadJob) -> int:
    """Bytes of the job already downloaded: finished files plus partial files. Reads file sizes
    only (a few ``stat`` calls)."""
    done = 0
    for file in job.files:
        final = job.dest_dir / file.name
        try:
            size = final.stat().st_size
            if file.size is None or size == file.size:
                done += size
                continue
        except OSError:
            pass
        done += PartialPaths(final).partial_size()
    return done


def discard_partials(job: DownloadJob, keep: set[Path]) -> None:
    """Delete the job's partial files, except those in ``keep`` (another job shares them)."""
    for file in job.files:
        final = job.dest_dir / file.name
        if final not in keep:
            PartialPaths(final).discard()


# --- words -------------------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """A rough time left: "about 40 s", "about 3 min", "about 1 h 20 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"about {max(seconds, 1)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


def describe_progress(done: int, total: int, speed: float) -> str:
    """ "1.20 GB of 3.46 GB · 12.4 MB/s · about 3 min left" (parts left out when unknown)."""
    parts = [f"{format_size(done)} of {format_size(total)}" if total else format_size(done)]
    if speed > 0:
        parts.append(f"{format_size(speed)}/s")
        if total > done:
            parts.append(f"{format_duration((total - done) / speed)} left")
    return " · ".join(parts)


def describe_retry(notice: RetryNotice, done: int, total: int, now: float | None = None) -> str:
    """ "No internet connection. Trying again in 8 s (attempt 3). The download will continue by itself
    from 1.20 GB of 3.46 GB." The seconds count down as ``now`` moves on."""
    left = notice.seconds_left(now)
    when = f"Trying again in {left} s" if left else "Trying again now"
    where = f" from {format_size(done)} of {format_size(total)}" if done and total else ""
    return f"{notice.reason} {when} (attempt {notice.attempt}). The download will continue by itself{where}."


def describe_job(job: DownloadJob, now: float | None = None) -> str:
    """One line on where a job stands, for a status label; ``now`` is a ``time.monotonic()`` reading."""
    if job.state is JobState.RUNNING:
        if job.verifying:
            return "Checking the download (sha256)…"
        if job.retry is not None:
            return describe_retry(job.retry, job.done, job.total, now)
        if job.stalled:
            sizes = f"{format_size(job.done)} of {format_size(job.total)}" if job.total else ""
            return " · ".join(p for p in (sizes, "waiting for the connection…") if p)
        if not job.done and not job.speed:
            return "Starting…"
        return describe_progress(job.done, job.total, job.speed)
    sizes = f"{format_size(job.done)} of {format_size(job.total)}" if job.total else format_size(job.done)
    if job.state is JobState.QUEUED:
        return f"Waiting for the other download to finish · {sizes}" if job.done else "Waiting in line"
    if job.state is JobState.PAUSED:
        return f"Paused · {sizes}"
    if job.state is JobState.FAILED:
        return job.error or "The download stopped."
    return "Downloaded and verified"
