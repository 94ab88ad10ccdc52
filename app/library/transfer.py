"""A resumable, verified download of one file from the Hugging Face Hub into a models folder.

Built on huggingface_hub's metadata (size, sha256, commit), auth headers and HTTP session, but not on
``hf_hub_download``: in huggingface_hub 2.4.0 each call writes to a uniquely named temporary file and
deletes it when the call fails, so after any interruption it can only start again at byte 0, and it
has no way to cancel. (Its own retries within a call do not help much: a connection reset is not
retried at all, and bytes still buffered in its 10 MB read chunks are lost on a drop.) Here the bytes
go to a persistent ``<name>.part`` that later runs continue with ``Range`` requests, which is what
makes a 17 GB model practical on a flaky connection.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx2

from app.library.disk import check_free_space, disk_error
from app.library.errors import ChecksumError, ErrorKind, NetworkError
from app.library.hub_file import HubFile
from app.library.partial import PartialFile, PartialPaths
from app.library.progress import ProgressCallback, ProgressMeter
from app.library.remote import ResolvedFile, resolve
from app.library.retry import Backoff, RetryCallback, RetryNotice, RetryPolicy
from app.library.stop import StopCheck, StopControl
from app.library.stream import receive
from app.library.verify import HashInterrupted, file_digest

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferOptions:
    # With no connection a user is told so within 15 s: a name lookup or a refusal fails at once,
    # and an attempt to connect that nothing answers is abandoned after this long.
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 10.0
    # No byte for this long means the connection is dead even if the socket still looks open. Kept
    # as short as the connect timeout, so a silent server is also told within 15 s; cutting a merely
    # slow connection costs no more than a ranged request that continues it.
    read_timeout: float = 10.0
    # Left free beyond the file itself, so the system and the rename have room to work.
    free_space_margin: int = 64 * 1024 * 1024
    progress_interval: float = 0.1


class Transfer:
    """Downloads ``file`` to ``dest_dir / file.filename``; ``run()`` blocks, so call it off the UI thread.

    ``pause()`` and ``cancel()`` may be called from any thread; ``should_stop()``, if given, is polled
    between chunks and stops like ``pause()``. A later ``Transfer`` for the same file (after an app
    restart, say) continues from the partial file. ``on_retry`` hears of every wait before another
    attempt (and of the connection working again), from the thread that runs the transfer.
    """

    def __init__(
        self,
        file: HubFile,
        dest_dir: Path,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        options: TransferOptions | None = None,
        open_partial: Callable[[Path], PartialFile] = PartialFile,
        on_retry: RetryCallback | None = None,
    ) -> None:
        if Path(file.filename).is_absolute() or ".." in Path(file.filename).parts:
            raise ValueError(f"refusing a file name outside the models folder: {file.filename!r}")
        self.file = file
        self.dest_dir = Path(dest_dir)
        self.paths = PartialPaths(self.dest_dir / file.filename)
        self.options = options or TransferOptions()
        self.bytes_received = 0
        self._endpoint = endpoint
        self._token = token
        self.on_progress = on_progress
        self.on_retry = on_retry
        self._open_partial = open_partial
        self._waiting: RetryNotice | None = None  # the last failure, until the connection works again
        self._warned: set[ErrorKind] = set()  # failures logged as warnings since it last worked
        self._resolved: ResolvedFile | None = None
        self._stop = StopControl(should_stop)
        self._already_installed = False

    @property
    def final_path(self) -> Path:
        return self.paths.final

    def pause(self) -> None:
        """Stop soon (after the current chunk), keeping the partial file for a later resume."""
        self._stop.pause()

    def cancel(self, *, delete_partial: bool = False) -> None:
        """Stop soon; with ``delete_partial`` the downloaded bytes are removed too, also when the
        transfer is not running (a paused download being abandoned)."""
        self._stop.cancel(delete_partial=delete_partial, discard=self.discard)

    def discard(self) -> None:
        self.paths.discard()

    def run(self) -> Path:
        """Download, verify and install the file; returns its final path."""
        self.fetch()
        return self.install()

    def resolve(self) -> ResolvedFile:
        """The Hub's metadata for the file, asked once per transfer (with retries)."""
        if self._resolved is None:
            self._resolved = self._retrying(
                lambda: resolve(
                    self.file,
                    endpoint=self._endpoint,
                    token=self._token,
                    timeout=self.options.connect_timeout,
                ),
                Backoff(self.options.retry),
                lambda: "asking Hugging Face for its size and checksum",
            )
            self._connected()
        return self._resolved

    def remaining_bytes(self) -> int:
        """Bytes still to download, counting a partial file only if it belongs to this upstream file."""
        resolved = self.resolve()
        if self.paths.final.is_file() and self.paths.final.stat().st_size == resolved.size:
            return 0  # most likely installed already; fetch() checks its digest
        record = self.paths.load_record()
        if record is None or not record.continues(resolved.record()):
            return resolved.size
        return max(resolved.size - self.paths.partial_size(), 0)

    def fetch(self, *, check_space: bool = True) -> Path:
        """Download into the partial file and verify it; returns where the verified bytes are (the
        final path if that file is already installed and identical)."""
        self._stop.set_running(True)
        self._already_installed = False
        try:
            resolved = self.resolve()
            if self._final_is_current(resolved):
                self._already_installed = True
                return self.paths.final
            self.paths.final.parent.mkdir(parents=True, exist_ok=True)
            if check_space:
                margin = self.options.free_space_margin
                check_free_space(self.paths.final.parent, self.remaining_bytes(), margin, self.file.filename)
            self._prepare_partial(resolved)
            self._download(resolved)
            self._verify(resolved)
            return self.paths.partial
        finally:
            self._stop.set_running(False)

    def install(self) -> Path:
        """Move the verified partial file to its final name; atomic on one file system."""
        if self._already_installed:
            return self.paths.final
        try:
            os.replace(self.paths.partial, self.paths.final)
            self.paths.sidecar.unlink(missing_ok=True)
        except OSError as exc:
            raise disk_error(exc, self.paths.final.name) from exc
        return self.paths.final

    def _final_is_current(self, resolved: ResolvedFile) -> bool:
        """Whether the file is already installed with exactly these bytes (a projector shared by two
        quantizations of one model, or a download finished before a crash)."""
        try:
            if self.paths.final.stat().st_size != resolved.size:
                return False
            digest = file_digest(self.paths.final, resolved.digest.algorithm, should_stop=self._stop.stopping)
        except FileNotFoundError:
            return False
        except HashInterrupted:
            self._stop.raise_stopped(self.discard)
        return digest == resolved.digest.value

    def _prepare_partial(self, resolved: ResolvedFile) -> None:
        record = resolved.record()
        existing = self.paths.load_record()
        stale = existing is None or not existing.continues(record)
        if stale or self.paths.partial_size() > resolved.size:
            self.paths.discard()
        try:
            self.paths.save_record(record)
        except OSError as exc:
            raise disk_error(exc, self.paths.final.name) from exc

    def _download(self, resolved: ResolvedFile) -> None:
        backoff = Backoff(self.options.retry)
        meter = ProgressMeter(self.on_progress, resolved.size, interval=self.options.progress_interval)
        timeout = httpx2.Timeout(self.options.read_timeout, connect=self.options.connect_timeout)

        def counted(new_bytes: int, done: int) -> None:
            self.bytes_received += new_bytes
            self._connected()
            meter.update(done)

        def attempt() -> None:
            have = self.paths.partial_size()
            meter.start(have)
            try:
                sink = self._open_partial(self.paths.partial)
            except OSError as exc:
                raise disk_error(exc, self.paths.final.name) from exc
            received_before = self.bytes_received
            try:
                receive(
                    resolved,
                    sink,
                    have=have,
                    token=self._token,
                    timeout=timeout,
                    stopping=self._stop.stopping,
                    on_data=counted,
                )
            finally:
                sink.close(sync=True)
                if self.bytes_received > received_before:
                    backoff.progressed()

        def what() -> str:
            have = self.paths.partial_size()
            return f"downloading from byte {have} of {resolved.size}" if have else "downloading"

        while self.paths.partial_size() < resolved.size:
            if self._stop.stopping():
                self._stop.raise_stopped(self.discard)
            self._retrying(attempt, backoff, what)
        meter.report(force=True)

    def _verify(self, resolved: ResolvedFile) -> None:
        expected = resolved.digest
        try:
            actual = file_digest(self.paths.partial, expected.algorithm, should_stop=self._stop.stopping)
        except HashInterrupted:
            self._stop.raise_stopped(self.discard)
        if actual != expected.value:
            self.paths.discard()
            raise ChecksumError(
                f"The downloaded {self.paths.final.name} is damaged (its checksum does not match), so it "
                "was deleted. Download it again.",
                detail=f"{expected.algorithm} expected {expected.value}, got {actual}",
            )

    def _retrying(self, attempt: Callable[[], T], backoff: Backoff, what: Callable[[], str]) -> T:
        name = self.file.filename
        while True:
            number = backoff.next_attempt
            log.info("%s: %s (attempt %d)", name, what(), number)
            try:
                return attempt()
            except NetworkError as error:
                if not error.retryable:
                    log.warning("%s: %s (%s)", name, error.message, error.detail)
                    raise
                offline = error.kind is ErrorKind.NO_CONNECTION
                delay = backoff.next_delay(offline=offline)
                # The first failure of a kind is worth a warning; its repeats while it lasts are not.
                level = logging.INFO if error.kind in self._warned else logging.WARNING
                self._warned.add(error.kind)
                if delay is None:
                    log.warning(
                        "%s: attempt %d failed, giving up: %s (%s)", name, number, error, error.detail
                    )
                    raise NetworkError(
                        f"{error.message} Hearth kept retrying and has given up for now; resuming the "
                        "download continues where it stopped.",
                        detail=error.detail,
                    ) from error
                log.log(
                    level,
                    "%s: attempt %d failed: %s (%s); next in %.1f s",
                    name,
                    number,
                    error,
                    error.detail,
                    delay,
                )
                self._report(
                    RetryNotice(error.kind, error.message, backoff.next_attempt, time.monotonic() + delay)
                )
            if self._stop.wait(delay):
                self._stop.raise_stopped(self.discard)

    def _report(self, notice: RetryNotice) -> None:
        self._waiting = notice
        if self.on_retry is not None:
            self.on_retry(notice)

    def _connected(self) -> None:
        """An answer or bytes came after failures: the wait is over."""
        if self._waiting is None:
            return
        log.info(
            "%s: connected again after %d failed attempts", self.file.filename, self._waiting.attempt - 1
        )
        self._waiting = None
        self._warned.clear()
        if self.on_retry is not None:
            self.on_retry(None)
