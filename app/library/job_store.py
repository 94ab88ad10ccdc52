"""The download list on disk (``downloads.json``): read at start, written after every change.

A write that fails (a full disk, a read-only folder) is not the caller's error: the list lives on
in memory, ``JobStore.problem`` says in words what is wrong, and the next save tries again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from pathlib import Path

from app.library.disk import DISK_FULL_ERRNOS
from app.library.jobs import DownloadJob, JobState

log = logging.getLogger(__name__)

STATE_VERSION = 1


def load_jobs(path: Path) -> list[DownloadJob]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("Download list %s is unreadable (%s); starting empty", path, exc)
        return []
    items = data.get("jobs", []) if isinstance(data, dict) else []
    jobs = [DownloadJob.from_dict(item) for item in items if isinstance(item, dict)]
    return [job for job in jobs if job is not None]


def save_jobs(path: Path, jobs: list[DownloadJob]) -> None:
    """Write atomically, so a failed write leaves the last good list; finished jobs are not kept
    (the models folder shows them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": STATE_VERSION, "jobs": [j.to_dict() for j in jobs if j.state is not JobState.DONE]}
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        # A half-written scratch file on a full disk holds the very space the next try needs.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def save_problem(exc: OSError, folder: Path) -> str:
    """Why the download list could not be saved, and what that means, in words."""
    if exc.errno in DISK_FULL_ERRNOS:
        why = f"the disk is full ({folder})"
    elif exc.errno == errno.EROFS:
        why = f"{folder} is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = f"Hearth is not allowed to write to {folder}"
    else:
        why = f"{folder} cannot be written ({exc.strerror or exc})"
    return (
        f"The list of downloads cannot be saved: {why}. Downloads go on and Hearth keeps trying to save "
        "it; if Hearth is closed before it can, start unfinished downloads again (what they downloaded "
        "is kept)."
    )


class JobStore:
    """Saves the download list to ``path`` and remembers whether the last save worked."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.problem = ""  # why the last save failed, in words; "" when it worked

    def load(self) -> list[DownloadJob]:
        return load_jobs(self.path)

    def save(self, jobs: list[DownloadJob]) -> bool:
        """Write the list; False (with ``problem`` set) when it could not be written."""
        try:
            save_jobs(self.path, jobs)
        except OSError as exc:
            # Warned once when saving starts to fail; the retries after it are only noted.
            level = logging.INFO if self.problem else logging.WARNING
            log.log(level, "Could not save the download list %s: %s", self.path, exc)
            self.problem = save_problem(exc, self.path.parent)
            return False
        if self.problem:
            log.info("The download list is saved again (%s)", self.path)
            self.problem = ""
        return True
