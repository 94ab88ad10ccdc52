"""The on-disk state of an unfinished download: ``<name>.part`` and its JSON sidecar.

The sidecar says which upstream file the partial bytes belong to, so a download resumed after an
app restart or a reboot only continues when it is still the same file.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RECORD_VERSION = 1
# Some file systems show unsynced tail blocks as zeros after a power cut; a resume would build on
# them and fail its checksum only at the very end, so the bytes are pushed to disk now and then.
SYNC_EVERY = 64 * 1024 * 1024


@dataclass(frozen=True)
class PartialRecord:
    repo_id: str
    filename: str
    revision: str
    commit: str
    etag: str
    size: int
    sha256: str | None
    version: int = RECORD_VERSION

    def continues(self, other: PartialRecord) -> bool:
        """Whether bytes written for ``self`` are a valid beginning of ``other``.

        The etag names the content (the sha256 of an LFS file); the commit moves whenever any
        file in the repo changes, so it only decides when there is no etag.
        """
        same_file = (self.repo_id, self.filename, self.size, self.sha256) == (
            other.repo_id,
            other.filename,
            other.size,
            other.sha256,
        )
        if not same_file or self.version != other.version:
            return False
        if self.etag and other.etag:
            return self.etag == other.etag
        return self.commit == other.commit


@dataclass(frozen=True)
class PartialPaths:
    final: Path

    @property
    def partial(self) -> Path:
        return self.final.with_name(self.final.name + ".part")

    @property
    def sidecar(self) -> Path:
        return self.final.with_name(self.final.name + ".part.json")

    def load_record(self) -> PartialRecord | None:
        try:
            data: dict[str, Any] = json.loads(self.sidecar.read_text(encoding="utf-8"))
            return PartialRecord(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save_record(self, record: PartialRecord) -> None:
        # Written beside and renamed over, so a crash never leaves a half-written sidecar.
        scratch = self.sidecar.with_name(self.sidecar.name + ".tmp")
        scratch.write_text(json.dumps(asdict(record), indent=1), encoding="utf-8")
        os.replace(scratch, self.sidecar)

    def partial_size(self) -> int:
        try:
            return self.partial.stat().st_size
        except FileNotFoundError:
            return 0

    def discard(self) -> None:
        for path in (self.partial, self.sidecar):
            path.unlink(missing_ok=True)


class PartialFile:
    """Appends to the partial file. A separate object so tests can hand in one that fails like a full
    disk does, where mounting a small file system is not allowed."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("ab")
        self._unsynced = 0

    def append(self, data: bytes) -> None:
        self._file.write(data)
        self._unsynced += len(data)
        if self._unsynced >= SYNC_EVERY:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._unsynced = 0

    def restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    def close(self, *, sync: bool) -> None:
        """Flush and close; ``sync`` also asks the OS to put the bytes on disk, so a partial kept for
        resuming survives a power cut."""
        # Flushing after ENOSPC fails again; what reached the disk is still a valid prefix.
        with contextlib.suppress(OSError):
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
        with contextlib.suppress(OSError):
            self._file.close()
