"""Why a download stopped: a small exception hierarchy whose messages are written for users."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    NETWORK = "network"
    NO_CONNECTION = "no_connection"  # nothing reachable: this computer is most likely offline
    NOT_ANSWERING = "not_answering"  # the server took the connection but said nothing
    DISK_FULL = "disk_full"
    FILESYSTEM = "filesystem"
    CHECKSUM = "checksum"
    GATED = "gated"
    NOT_FOUND = "not_found"
    OFFLINE = "offline"
    CANCELLED = "cancelled"
    PAUSED = "paused"


class DownloadError(Exception):
    """A download that did not finish. ``str(error)`` is a sentence a user can act on;
    ``detail`` keeps the technical cause for logs."""

    kind: ClassVar[ErrorKind] = ErrorKind.NETWORK

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    @property
    def resumable(self) -> bool:
        """Whether the partial file was kept, so starting again continues where this stopped."""
        return self.kind in RESUMABLE_KINDS


class NetworkError(DownloadError):
    """The Hub could not be reached or answered with an error. ``retryable`` ones (dropped
    connections, timeouts, 5xx) are retried with backoff before they reach the user."""

    kind = ErrorKind.NETWORK

    def __init__(self, message: str, *, detail: str | None = None, retryable: bool = False) -> None:
        super().__init__(message, detail=detail)
        self.retryable = retryable


class NoConnectionError(NetworkError):
    """No connection to Hugging Face could be made: its name could not be looked up, the connection
    was refused, or nothing answered the attempt to connect. Retried for as long as the app runs,
    since it almost always means this computer is offline (a plane, a train, a dropped Wi-Fi)."""

    kind = ErrorKind.NO_CONNECTION

    def __init__(self, message: str = "No internet connection.", *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail, retryable=True)


class NotAnsweringError(NetworkError):
    """The server accepted the connection, then sent nothing: the network works, the server does not
    (or something between them, like a Wi-Fi that wants a sign-in first, holds the request)."""

    kind = ErrorKind.NOT_ANSWERING

    def __init__(self, message: str = "Hugging Face is not answering.", *, detail: str | None = None) -> None:
        super().__init__(message, detail=detail, retryable=True)


class DiskFullError(DownloadError):
    kind = ErrorKind.DISK_FULL


class FilesystemError(DownloadError):
    """The models folder cannot be written for another reason than space (permissions, a read-only
    or vanished drive)."""

    kind = ErrorKind.FILESYSTEM


class ChecksumError(DownloadError):
    kind = ErrorKind.CHECKSUM


class GatedError(DownloadError):
    kind = ErrorKind.GATED


class NotFoundError(DownloadError):
    kind = ErrorKind.NOT_FOUND


class OfflineError(DownloadError):
    kind = ErrorKind.OFFLINE


class Cancelled(DownloadError):
    kind = ErrorKind.CANCELLED


class Paused(DownloadError):
    kind = ErrorKind.PAUSED


RESUMABLE_KINDS = frozenset(
    {
        ErrorKind.NETWORK,
        ErrorKind.NO_CONNECTION,
        ErrorKind.NOT_ANSWERING,
        ErrorKind.DISK_FULL,
        ErrorKind.PAUSED,
        ErrorKind.OFFLINE,
    }
)


def format_size(num_bytes: float) -> str:
    """Bytes as people read them: "512 KB", "4.97 GB" (decimal units, as file managers show)."""
    value = float(num_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            break
        value /= 1000
    if unit == "bytes":
        return f"{int(value)} bytes"
    return (
        f"{value:.2f} {unit}"
        if value < 10
        else f"{value:.1f} {unit}"
        if value < 100
        else f"{value:.0f} {unit}"
    )
