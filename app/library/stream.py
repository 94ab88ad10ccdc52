"""One ranged GET of a file into its partial file: the part of a download that touches the network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
from huggingface_hub.utils import get_session, hf_raise_for_status

from app.library.disk import disk_error
from app.library.errors import DownloadError, NetworkError
from app.library.partial import PartialFile
from app.library.remote import ResolvedFile, request_headers, translate


def receive(
    resolved: ResolvedFile,
    sink: PartialFile,
    *,
    have: int,
    token: str | None,
    timeout: httpx2.Timeout,
    stopping: Callable[[], bool],
    on_data: Callable[[int, int], None],
) -> int:
    """Request bytes ``have``.. of the file and append them to ``sink`` until the file is complete,
    ``stopping()`` turns true, or the connection fails (raised as one of our errors).

    Returns the partial file's new length. ``on_data(new_bytes, done)`` follows every chunk.
    """
    headers = request_headers(token)
    if have:
        headers["Range"] = f"bytes={have}-"
    answered = False
    try:
        with get_session().stream("GET", resolved.url, headers=headers, timeout=timeout) as response:
            answered = True
            if response.status_code >= 400:
                hf_raise_for_status(response)
            if response.status_code not in (200, 206):
                raise NetworkError(
                    f"Hugging Face answered the download with an unexpected HTTP {response.status_code}.",
                    detail=f"GET {resolved.url}",
                )
            if have and response.status_code == 200:
                # The server (or a proxy) ignored the Range header and sends the whole file: keeping
                # the old bytes would put the new ones after them, so start over cleanly instead.
                _write(resolved, sink.restart)
                have = 0
            elif response.status_code == 206 and _range_start(response) != have:
                _write(resolved, sink.restart)
                raise NetworkError(
                    "Hugging Face sent the wrong part of the file; the download starts over.",
                    detail=f"asked for byte {have}, got {response.headers.get('Content-Range')!r}",
                    retryable=True,
                )
            # Unchunked, bytes are handed over as they arrive; a chunked iterator would hold back up
            # to a chunk that a dropped connection then takes with it.
            for chunk in response.iter_bytes():
                if stopping():
                    break
                room = resolved.size - have
                if len(chunk) > room:
                    chunk = chunk[:room]  # more than the Hub announced: the checksum will tell
                _write(resolved, sink.append, chunk)
                have += len(chunk)
                on_data(len(chunk), have)
                if have >= resolved.size:
                    break
    except DownloadError:
        raise
    except Exception as exc:
        raise translate(exc, resolved.file, token=token, answered=answered) from exc
    if have < resolved.size and not stopping():
        raise NetworkError(
            "The connection to Hugging Face ended before the file was complete.",
            detail=f"got {have} of {resolved.size} bytes",
            retryable=True,
        )
    return have


def _range_start(response: httpx2.Response) -> int | None:
    """Where a 206 response begins (``Content-Range: bytes 100-199/1000``); None for a 200."""
    if response.status_code != 206:
        return None
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _write(resolved: ResolvedFile, operation: Callable[..., None], *args: bytes) -> None:
    try:
        operation(*args)
    except OSError as exc:
        raise disk_error(exc, Path(resolved.file.filename).name) from exc
