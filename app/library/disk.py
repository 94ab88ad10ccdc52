"""The models folder's disk: enough room before a download starts, and clear errors when writing fails."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from app.library.errors import DiskFullError, DownloadError, FilesystemError, format_size

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


def check_free_space(folder: Path, needed: int, margin: int, what: str) -> None:
    """Refuse to start when ``needed`` more bytes (plus ``margin``) do not fit in ``folder``."""
    free = shutil.disk_usage(folder).free
    if free < needed + margin:
        raise DiskFullError(
            f"Not enough free disk space for {what}: it needs {format_size(needed + margin)} and "
            f"{folder} has {format_size(free)} free.",
            detail=f"free={free} needed={needed} margin={margin}",
        )


def disk_error(exc: OSError, name: str) -> DownloadError:
    """A failed write of ``name``, told as a full disk when it is one."""
    folder = Path(exc.filename).parent if exc.filename else None
    where = f" in {folder}" if folder else ""
    if exc.errno in DISK_FULL_ERRNOS:
        return DiskFullError(
            f"The disk is full, so {name} could not be saved. Free some space{where}, then resume the "
            "download: what was already downloaded is kept.",
            detail=str(exc),
        )
    return FilesystemError(f"{name} could not be saved{where}: {exc.strerror or exc}.", detail=str(exc))
