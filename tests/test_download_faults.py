"""Downloads that meet a bad network or a full disk: they resume, retry, refuse damaged bytes and stop
cleanly, and never leave a file installed that is not exactly the one on the Hub."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.library.errors import ChecksumError, DiskFullError, ErrorKind, NetworkError, Paused
from app.library.hub_file import HubFile
from app.library.partial import PartialFile
from app.library.retry import RetryPolicy
from app.library.transfer import Transfer, TransferOptions
from tests.hub.server import HubServer

pytest_plugins = ["tests.hub.fixtures"]

REPO = "ggml-org/tiny-test-GGUF"
MODEL = "tiny-Q4_K_M.gguf"
SIZE = 3 * 1024 * 1024
FAST = TransferOptions(
    retry=RetryPolicy(initial_delay=0.01, max_delay=0.05, give_up_after=10.0),
    read_timeout=5.0,
    free_space_margin=0,
)


@pytest.fixture
def data(hub: HubServer) -> bytes:
    content = random.Random(20260402).randbytes(SIZE)
    hub.add_file(REPO, MODEL, content)
    return content


def transfer(hub: HubServer, dest: Path, **kwargs) -> Transfer:
    kwargs.setdefault("options", FAST)
    return Transfer(HubFile(REPO, MODEL), dest, endpoint=hub.url, **kwargs)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def range_starts(hub: HubServer) -> list[int]:
    return [int(r.range[len("bytes=") :].split("-")[0]) if r.range else 0 for r in hub.file_requests(MODEL)]


@pytest.mark.parametrize("trial", range(10))
def test_dropped_connections_resume_to_the_right_file(hub, tmp_path, data, trial):
    rng = random.Random(trial)
    # Each drop cuts one response after this many body bytes; the next request resumes from there.
    hub.faults.drop_after = [rng.randrange(1, SIZE // 3) for _ in range(3)]
    hub.faults.reset = trial % 2 == 1

    job = transfer(hub, tmp_path)
    path = job.run()

    assert sha256(path.read_bytes()) == sha256(data)
    assert job.bytes_received < 2 * SIZE
    starts = range_starts(hub)
    assert len(starts) == 4 and starts[0] == 0
    assert starts == sorted(set(starts)), "a retry started over instead of resuming"


def test_a_corrupted_byte_is_caught_and_never_installed(hub, tmp_path, data):
    hub.faults.corrupt_offset = SIZE // 2
    hub.faults.drop_after = [SIZE // 4]  # and resumed once on the way, as real downloads are

    with pytest.raises(ChecksumError) as damaged:
        transfer(hub, tmp_path).run()

    assert damaged.value.kind is ErrorKind.CHECKSUM and "damaged" in str(damaged.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []

    hub.faults.corrupt_offset = None
    assert sha256(transfer(hub, tmp_path).run().read_bytes()) == sha256(data)


def test_a_stalled_server_is_detected_and_the_retry_succeeds(hub, tmp_path, data):
    hub.faults.stall = [3.0]  # silence after the headers of the first response
    options = TransferOptions(retry=FAST.retry, read_timeout=0.5, free_space_margin=0)

    path = transfer(hub, tmp_path, options=options).run()

    assert sha256(path.read_bytes()) == sha256(data)
    assert len(hub.file_requests(MODEL)) == 2


def test_a_short_stall_within_the_read_timeout_is_waited_out(hub, tmp_path, data):
    hub.faults.stall = [0.3]
    path = transfer(hub, tmp_path).run()
    assert sha256(path.read_bytes()) == sha256(data)
    assert len(hub.file_requests(MODEL)) == 1


def test_503s_are_retried_with_backoff_then_succeed(hub, tmp_path, data):
    hub.faults.fail_next = 2  # for the metadata request
    hub.faults.drop_after = [SIZE // 3]

    armed = []

    def more_503s_after_the_drop(done: int, total: int, speed: float) -> None:
        if done == SIZE // 3 and not armed:
            armed.append(True)
            hub.faults.fail_next = 2  # for the resumed download

    options = TransferOptions(retry=FAST.retry, free_space_margin=0, progress_interval=0.0)
    path = transfer(hub, tmp_path, options=options, on_progress=more_503s_after_the_drop).run()

    assert sha256(path.read_bytes()) == sha256(data)
    assert [(r.method, r.status) for r in hub.requests] == [
        ("HEAD", 503),
        ("HEAD", 503),
        ("HEAD", 200),
        ("GET", 200),
        ("GET", 503),
        ("GET", 503),
        ("GET", 206),
    ]


def test_a_server_that_keeps_failing_is_given_up_on_and_can_be_resumed(hub, tmp_path, data):
    hub.faults.drop_after = [SIZE // 2]
    hub.faults.fail_next = 0
    retry = RetryPolicy(initial_delay=0.05, max_delay=0.1, give_up_after=0.5)
    options = TransferOptions(retry=retry, free_space_margin=0, progress_interval=0.0)

    def break_after_the_drop(done: int, total: int, speed: float) -> None:
        if done >= SIZE // 2:
            hub.faults.fail_next = 1_000

    with pytest.raises(NetworkError) as gave_up:
        transfer(hub, tmp_path, options=options, on_progress=break_after_the_drop).run()

    assert gave_up.value.resumable and "given up" in str(gave_up.value)
    assert (tmp_path / f"{MODEL}.part").stat().st_size == SIZE // 2
    hub.faults.fail_next = 0
    assert sha256(transfer(hub, tmp_path).run().read_bytes()) == sha256(data)
    assert range_starts(hub)[-1] == SIZE // 2


def test_a_server_that_ignores_range_restarts_cleanly(hub, tmp_path, data):
    part = tmp_path / f"{MODEL}.part"
    with pytest.raises(Paused):
        transfer(hub, tmp_path, should_stop=lambda: part.exists() and part.stat().st_size > 0).run()
    hub.faults.ignore_range = True

    path = transfer(hub, tmp_path).run()

    assert sha256(path.read_bytes()) == sha256(data)
    assert hub.file_requests(MODEL)[-1].status == 200


class FillingDisk(PartialFile):
    """A partial file on a disk with ``room`` bytes left, shared by every file opened on it."""

    room = 0

    def append(self, data: bytes) -> None:
        if len(data) > FillingDisk.room:
            super().append(data[: FillingDisk.room])
            FillingDisk.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        FillingDisk.room -= len(data)
        super().append(data)


def test_a_full_disk_stops_cleanly_and_the_download_resumes_after_space_is_freed(hub, tmp_path, data):
    FillingDisk.room = SIZE // 3

    with pytest.raises(DiskFullError) as full:
        transfer(hub, tmp_path, open_partial=FillingDisk).run()

    assert full.value.kind is ErrorKind.DISK_FULL and full.value.resumable
    assert "disk is full" in str(full.value)
    assert not (tmp_path / MODEL).exists()
    assert (tmp_path / f"{MODEL}.part").stat().st_size == SIZE // 3

    FillingDisk.room = SIZE
    job = transfer(hub, tmp_path, open_partial=FillingDisk)
    assert sha256(job.run().read_bytes()) == sha256(data)
    assert job.bytes_received == SIZE - SIZE // 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs), where mounting is allowed (root, with the capability)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the injected full disk above covers this")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_real_full_file_system(hub, small_disk):
    content = random.Random(5).randbytes(1536 * 1024)
    hub.add_file(REPO, MODEL, content)
    filler = small_disk / "someone-elses-file"

    def another_program_fills_the_disk(done: int, total: int, speed: float) -> None:
        if done and not filler.exists():
            filler.write_bytes(b"\0" * (1024 * 1024))

    options = TransferOptions(retry=FAST.retry, free_space_margin=0, progress_interval=0.0)
    with pytest.raises(DiskFullError):
        transfer(hub, small_disk, options=options, on_progress=another_program_fills_the_disk).run()
    assert not (small_disk / MODEL).exists()
    kept = (small_disk / f"{MODEL}.part").stat().st_size
    assert 0 < kept < len(content)

    filler.unlink()
    path = transfer(hub, small_disk).run()
    assert sha256(path.read_bytes()) == sha256(content)
    assert range_starts(hub)[-1] == kept

    # Too big to fit at all: refused before a single byte is requested.
    hub.add_file(REPO, "big.gguf", random.Random(6).randbytes(3 * 1024 * 1024))
    big = Transfer(HubFile(REPO, "big.gguf"), small_disk, endpoint=hub.url, options=FAST)
    with pytest.raises(DiskFullError) as refused:
        big.run()
    assert "Not enough free disk space" in str(refused.value)
    assert hub.file_requests("big.gguf") == []
